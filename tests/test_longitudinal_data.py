"""Person-period data: building (wide, intervals, dated records), validation, features, exposures.

Every expectation is hand-checkable on a few rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.exceptions import CohortError

# ------------------------------------------------------------------------ person_period


def _wide() -> pd.DataFrame:
    return pd.DataFrame({
        "pid": ["a", "b", "c"], "sex": [0, 1, 1],
        "sbp_0": [140.0, 150.0, 120.0], "sbp_1": [135.0, 155.0, np.nan],
        "sbp_2": [130.0, 160.0, np.nan], "on_0": [0, 1, 0], "on_1": [1, 1, 0],
        "on_2": [1, 0, 0], "last": [2, 1, 0],
    })


def test_person_period_reshapes_and_respects_last_period():
    long = cl.person_period(_wide(), id="pid", time_varying=["sbp", "on"], baseline="sex",
                            last_period="last")
    assert list(long.columns) == ["pid", "period", "sex", "sbp", "on"]
    assert long["pid"].tolist() == ["a", "a", "a", "b", "b", "c"]
    assert long["period"].tolist() == [0, 1, 2, 0, 1, 0]
    assert long["sbp"].tolist() == [140.0, 135.0, 130.0, 150.0, 155.0, 120.0]
    assert long["on"].tolist() == [0, 1, 1, 1, 1, 0]
    assert long["on"].dtype == np.int64
    info = long.attrs["person_period"]
    # b loses period 2 (sbp 160, on 0: 2 values), c loses 1 and 2 (sbp NaN x2, on 0 x2)
    assert info["rows_not_created"] == 3
    assert info["values_after_last_period"] == 4
    cl.validate_person_period(long, id="pid", period="period", treatment="on")


def test_person_period_all_periods_without_last_period():
    long = cl.person_period(_wide(), id="pid", time_varying="sbp")
    assert len(long) == 9 and long["sbp"].isna().sum() == 2


def test_person_period_errors():
    w = _wide()
    with pytest.raises(CohortError, match=r"lacks the columns \['sbp_1'\]"):
        cl.person_period(w.drop(columns="sbp_1"), id="pid", time_varying="sbp")
    with pytest.raises(CohortError, match="no columns named dbp_"):
        cl.person_period(w, id="pid", time_varying="dbp")
    with pytest.raises(CohortError, match="unique"):
        cl.person_period(pd.concat([w, w.iloc[:1]]), id="pid", time_varying="sbp")
    with pytest.raises(CohortError, match="last_period"):
        cl.person_period(w.assign(last=[2, -1, 0]), id="pid", time_varying="sbp",
                         last_period="last")


# ----------------------------------------------------------------- expand_intervals


def test_expand_intervals_episodes_to_periods():
    ep = pd.DataFrame({"pid": [1, 1, 1, 2], "s": [0.0, 30.0, 45.0, 10.0],
                       "e": [30.0, 45.0, 70.0, 40.0], "drug": [0, 1, 1, 0],
                       "bmi": [30.0, 31.0, 32.0, 25.0], "event": [0, 0, 1, 0]})
    pp = cl.expand_intervals(ep, id="pid", start="s", stop="e", width=30, values="bmi",
                             treatment="drug", event="event")
    # person 1: (0,30] -> period 0; (30,45] and (45,70] -> period 1 (merged), (45,70] -> 2
    assert pp["pid"].tolist() == [1, 1, 1, 2, 2]
    assert pp["period"].tolist() == [0, 1, 2, 0, 1]
    assert pp["drug"].tolist() == [0, 1, 1, 0, 0]
    assert pp["bmi"].tolist() == [30.0, 31.0, 32.0, 25.0, 25.0]  # period 1 takes the first
    assert pp["event"].tolist() == [0, 0, 1, 0, 0]
    assert pp["start"].tolist() == [0.0, 30.0, 60.0, 10.0, 30.0]  # late entry at 10
    assert pp["stop"].tolist() == [30.0, 60.0, 70.0, 30.0, 40.0]
    info = pp.attrs["expand_intervals"]
    assert info["merged_rows"] == 1
    assert info["value_changes_inside_period"] == {"bmi": 1, "drug": 0}


def test_expand_intervals_treatment_change_inside_period_raises():
    ep = pd.DataFrame({"pid": [7, 7], "s": [0.0, 15.0], "e": [15.0, 30.0], "drug": [0, 1]})
    with pytest.raises(CohortError, match=r"drug changes inside a period.*id 7"):
        cl.expand_intervals(ep, id="pid", start="s", stop="e", width=30, treatment="drug")
    ok = cl.expand_intervals(ep, id="pid", start="s", stop="e", width=15, treatment="drug")
    assert ok["drug"].tolist() == [0, 1]


@pytest.mark.parametrize(("s", "e", "what"), [
    ([0.0, 20.0], [30.0, 40.0], "overlapping intervals"),
    ([0.0, 35.0], [30.0, 40.0], "gaps between intervals"),
    ([10.0, 0.0], [20.0, 15.0], "overlapping intervals"),  # sorted by start first
    ([0.0, 30.0], [30.0, 30.0], "empty or reversed"),
])
def test_expand_intervals_bad_intervals(s, e, what):
    ep = pd.DataFrame({"pid": [3, 3], "s": s, "e": e})
    with pytest.raises(CohortError, match=what + r".*1 id \(1 row\), e\.g\. id 3"):
        cl.expand_intervals(ep, id="pid", start="s", stop="e", width=10)


def test_expand_dated_records_with_followup_end():
    rec = pd.DataFrame({
        "pid": [1, 1, 1, 1, 2],
        "day": [0.0, 10.0, 20.0, 95.0, 40.0],  # person 1: two records in period 0; one after end
        "sbp": [140.0, 138.0, 150.0, 999.0, 120.0],
        "end": [70.0, 70.0, 70.0, 70.0, 60.0],
        "dead": [1, 1, 1, 1, 0],
    })
    pp = cl.expand_intervals(rec, id="pid", time="day", end="end", width=30, values="sbp",
                             event="dead")
    assert pp["pid"].tolist() == [1, 1, 1, 2, 2]
    assert pp["period"].tolist() == [0, 1, 2, 0, 1]
    # last record of period 0 (day 20 -> 150), carried to 1 and 2; person 2 nothing before day 40
    assert pp["sbp"].tolist()[:3] == [150.0, 150.0, 150.0]
    assert np.isnan(pp["sbp"].iloc[3]) and pp["sbp"].iloc[4] == 120.0
    assert pp["dead"].tolist() == [0, 0, 1, 0, 0]
    assert pp["stop"].tolist() == [30.0, 60.0, 70.0, 30.0, 60.0]
    info = pp.attrs["expand_intervals"]
    assert info["records_after_end"] == 1
    assert info["records_superseded"] == 2
    assert info["carried_forward"] == {"sbp": 2}


def test_expand_records_end_must_be_constant():
    rec = pd.DataFrame({"pid": [1, 1], "day": [0.0, 5.0], "end": [10.0, 12.0]})
    with pytest.raises(CohortError, match="constant within a person"):
        cl.expand_intervals(rec, id="pid", time="day", end="end")


def test_expand_intervals_needs_one_form():
    with pytest.raises(CohortError, match="give start= and stop="):
        cl.expand_intervals(pd.DataFrame({"pid": [1], "s": [0.0]}), id="pid", start="s")


# ------------------------------------------------------------ validate_person_period


def test_validate_clean_simulated_data_passes():
    df = cl.simulate_longitudinal(n=300, n_periods=5, random_state=3, n_truth=2_000)
    out = cl.validate_person_period(df, id="id", period="period", treatment="A", outcome="Y",
                                    censor="C", competing="D")
    assert out is df


def test_validate_lists_every_problem_with_ids_and_counts():
    df = pd.DataFrame({
        "pid": [1, 1, 1, 2, 2, 2, 3, 3, 4, 4],
        "t": [0, 1, 1, 0, 2, 3, 1, 0, 0, 1],
        "a": [0, 0, 0, 1, 1, 1, 0, 0, 0.5, 1],
        "y": [0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
    })
    with pytest.raises(CohortError) as err:
        cl.validate_person_period(df, id="pid", period="t", treatment="a", outcome="y")
    msg = str(err.value)
    assert msg.startswith("validate_person_period(): 5 problems")
    assert "duplicated (id, t): 1 id (1 row), e.g. id 1 (at 1)" in msg
    assert "non-monotone time): 1 id (1 row), e.g. id 3 (at 0)" in msg
    assert "missing visits): 1 id (1 row), e.g. id 2 (at 2)" in msg
    assert "changes inside an interval): 1 id (1 row), e.g. id 4" in msg
    assert "rows after y = 1" in msg and "e.g. id 4" in msg


def test_validate_unsorted_ids_and_many_ids_are_summarised():
    n = 12
    df = pd.DataFrame({"pid": np.r_[np.arange(n), np.arange(n)],
                       "t": np.r_[np.zeros(n), np.ones(n)]})
    with pytest.raises(CohortError, match=r"not together.*12 ids \(24 rows\), e\.g\. id 0, 1, "
                                          r"2, 3, 4 and 7 more"):
        cl.validate_person_period(df, id="pid", period="t")
    # sorted, it is clean
    cl.validate_person_period(df.sort_values(["pid", "t"]), id="pid", period="t")


def test_validate_rows_after_censoring_and_bad_codes():
    df = pd.DataFrame({"pid": [1, 1, 2], "t": [0, 1, 0], "c": [1, 0, 2]})
    with pytest.raises(CohortError, match=r"(?s)c not 0/1: 1 id.*id 2.*rows after c = 1.*id 1"):
        cl.validate_person_period(df, id="pid", period="t", censor="c")


def test_validate_argument_errors():
    df = pd.DataFrame({"pid": [1], "t": [0.5], "s": [0.0], "e": [1.0]})
    with pytest.raises(CohortError, match="either period="):
        cl.validate_person_period(df, id="pid")
    with pytest.raises(CohortError, match="either period="):
        cl.validate_person_period(df, id="pid", period="t", start="s", stop="e")
    with pytest.raises(CohortError, match="not a non-negative integer"):
        cl.validate_person_period(df, id="pid", period="t")
    with pytest.raises(CohortError, match="missing values"):
        cl.validate_person_period(pd.DataFrame({"pid": [1, None], "t": [0, 1]}), id="pid",
                                  period="t")


# --------------------------------------------------------------------------- features


def _treat() -> pd.DataFrame:
    # person 1: 0 1 1 0 1 ; person 2: 0 0 ; person 3: 1 ; rows of 2 and 1 shuffled order of ids
    return pd.DataFrame({
        "pid": [2, 2, 1, 1, 1, 1, 1, 3],
        "t": [0, 1, 0, 1, 2, 3, 4, 0],
        "a": [0, 0, 0, 1, 1, 0, 1, 1],
        "x": [5.0, 6.0, 1.0, 2.0, 3.0, 4.0, 5.0, 9.0],
    }, index=[10, 11, 12, 13, 14, 15, 16, 17])


def test_lag_by_hand():
    d = _treat()
    s = cl.lag(d, "x", id="pid", period="t")
    assert s.name == "x_lag1" and list(s.index) == list(d.index)
    np.testing.assert_array_equal(s.to_numpy(), [np.nan, 5, np.nan, 1, 2, 3, 4, np.nan])
    np.testing.assert_array_equal(cl.lag(d, "a", id="pid", period="t", k=2, fill=0).to_numpy(),
                                  [0, 0, 0, 0, 0, 1, 1, 0])
    np.testing.assert_array_equal(cl.lag(d, "x", id="pid", period="t", k=0), d["x"])


def test_cumulative_exposure_by_hand():
    d = _treat()
    np.testing.assert_array_equal(cl.cumulative_exposure(d, "a", id="pid", period="t"),
                                  [0, 0, 0, 0, 1, 2, 2, 0])
    np.testing.assert_array_equal(
        cl.cumulative_exposure(d, "a", id="pid", period="t", include_current=True),
        [0, 0, 0, 1, 2, 2, 3, 1])
    # equals a groupby-cumsum written the slow way
    slow = d.groupby("pid")["x"].cumsum() - d["x"]
    np.testing.assert_allclose(cl.cumulative_exposure(d, "x", id="pid", period="t"), slow)


def test_time_since_initiation_and_ever_treated_by_hand():
    d = _treat()
    np.testing.assert_array_equal(cl.time_since_initiation(d, "a", id="pid", period="t"),
                                  [np.nan, np.nan, np.nan, 0, 1, 2, 3, 0])
    assert cl.ever_treated(d, "a", id="pid", period="t").tolist() == [0, 0, 0, 1, 1, 1, 1, 1]
    assert cl.ever_treated(d, "a", id="pid", period="t", include_current=False).tolist() == [
        0, 0, 0, 0, 1, 1, 1, 0]


def test_features_refuse_ids_whose_rows_are_apart():
    d = _treat()
    shuffled = d.iloc[[2, 3, 0, 4, 5, 1, 6, 7]]  # person 2's rows split by person 1's
    with pytest.raises(CohortError, match="not together"):
        cl.lag(shuffled, "x", id="pid", period="t")


def test_features_errors():
    d = _treat()
    with pytest.raises(CohortError, match="must be 0/1"):
        cl.ever_treated(d, "x", id="pid", period="t")
    with pytest.raises(CohortError, match="missing values"):
        cl.cumulative_exposure(d.assign(a=[0, np.nan, 0, 1, 1, 0, 1, 1]), "a", id="pid",
                               period="t")
    with pytest.raises(CohortError, match="missing visits"):
        cl.lag(d.assign(t=[0, 2, 0, 1, 2, 3, 4, 0]), "x", id="pid", period="t")
    with pytest.raises(CohortError, match="k must be"):
        cl.lag(d, "x", id="pid", period="t", k=-1)


def test_features_match_pandas_groupby_on_simulated_data():
    df = cl.simulate_longitudinal(n=500, n_periods=6, random_state=4, n_truth=2_000)
    g = df.groupby("id")
    np.testing.assert_allclose(cl.lag(df, "L", id="id", period="period"), g["L"].shift())
    np.testing.assert_allclose(
        cl.cumulative_exposure(df, "A", id="id", period="period", include_current=True),
        g["A"].cumsum())
    np.testing.assert_array_equal(cl.ever_treated(df, "A", id="id", period="period"),
                                  g["A"].cummax())


# ------------------------------------------------------------------- time_varying_exposure


def test_time_varying_exposure_rules_by_hand():
    d = pd.DataFrame({"pid": [1] * 7 + [2] * 3, "m": list(range(7)) + [0, 1, 2],
                      "s": [0.6, 0.4, 0.6, 0.7, 0.8, 0.2, 0.6, 0.9, 0.9, 0.1]})
    kw = {"id": "pid", "period": "m", "threshold": 0.6}
    assert cl.time_varying_exposure(d, "s", **kw).values.tolist() == [
        1, 0, 1, 1, 1, 0, 1, 1, 1, 0]
    assert cl.time_varying_exposure(d, "s", operator=">", **kw).values.tolist() == [
        0, 0, 0, 1, 1, 0, 0, 1, 1, 0]
    two = cl.time_varying_exposure(d, "s", consecutive=2, **kw)
    assert two.values.tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 1, 0]
    # a run does not continue across persons: person 2's first window starts a new run
    assert two.counts["positive_not_exposed"] == 4
    mono = cl.time_varying_exposure(d, "s", consecutive=2, monotone=True, **kw)
    assert mono.values.tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 1, 1]
    late = cl.time_varying_exposure(d, "s", consecutive=2, monotone=True, delay=1,
                                    name="treated", **kw)
    assert late.values.tolist() == [0, 0, 0, 0, 1, 1, 1, 0, 0, 1]
    assert late.values.name == "treated"
    assert late.rule == {"threshold": 0.6, "operator": ">=", "consecutive": 2,
                         "monotone": True, "delay": 1}
    assert late.counts["exposed_persons"] == 2 and late.counts["exposed_rows"] == 4
    assert "acted on 1 period later" in late.describe()


def test_time_varying_exposure_on_simulated_score_tracks_l():
    df = cl.simulate_longitudinal(n=2_000, n_periods=6, random_state=8, n_truth=2_000)
    flag = cl.time_varying_exposure(df, "score", id="id", period="period", threshold=0.5)
    # score = expit(2 (L - 0.5) + N(0, 1)): the flag agrees with L > 0.5 in most periods
    agree = (flag.values == (df["L"] > 0.5)).mean()
    assert 0.75 < agree < 0.95


def test_time_varying_exposure_errors():
    d = pd.DataFrame({"pid": [1, 1], "m": [0, 1], "s": [0.1, np.nan]})
    with pytest.raises(CohortError, match="missing values"):
        cl.time_varying_exposure(d, "s", id="pid", period="m", threshold=0.5)
    d = d.fillna(0.0)
    with pytest.raises(CohortError, match="consecutive must be"):
        cl.time_varying_exposure(d, "s", id="pid", period="m", threshold=0.5, consecutive=0)
    with pytest.raises(CohortError, match="operator"):
        cl.time_varying_exposure(d, "s", id="pid", period="m", threshold=0.5, operator="<")


# ------------------------------------------------------------------------ by_period_table


def test_by_period_table_by_hand_and_rendering():
    d = pd.DataFrame({"pid": [1, 1, 2, 2, 3, 4], "t": [0, 1, 0, 1, 0, 0],
                      "a": [0, 1, 1, 1, 0, 1], "y": [0, 1, 0, np.nan, 1, np.nan],
                      "c": [0, 0, 0, 1, 0, 0], "d": [0, 0, 0, np.nan, 0, 1],
                      "sbp": [140.0, 130.0, 150.0, np.nan, 120.0, 110.0]})
    tab = cl.by_period_table(d, id="pid", period="t", treatment="a", outcome="y", censor="c",
                             competing="d", covariates=["sbp"], labels={"sbp": "SBP, mmHg"})
    t = tab.to_frame()
    assert t["n_at_risk"].tolist() == [4, 2]
    assert t["n_treated"].tolist() == [2, 2]
    assert t["pct_treated"].tolist() == [50.0, 100.0]
    assert t["n_events"].tolist() == [1, 1]
    # period 0: 1 event among 3 with y observed; period 1: 1 of 1
    np.testing.assert_allclose(t["pct_events"], [100 / 3, 100.0])
    assert t["n_outcome_missing"].tolist() == [1, 1]
    assert t["n_censored"].tolist() == [0, 1] and t["n_competing"].tolist() == [1, 0]
    np.testing.assert_allclose(t["sbp_mean"], [130.0, 130.0])
    np.testing.assert_allclose(t["sbp_sd"].iloc[0], np.std([140, 150, 120, 110], ddof=1))
    assert np.isnan(t["sbp_sd"].iloc[1])  # one value
    assert t["sbp_n_missing"].tolist() == [0, 1]
    text = str(tab)
    assert "SBP, mmHg, mean (SD)" in text and "2 (50.0)" in text
    assert "missing: SBP, mmHg 1" in text
    assert "| Period |" in tab.to_markdown() and "<table" in tab.to_html()


def test_by_period_table_matches_groupby_on_simulated_data():
    df = cl.simulate_longitudinal(n=1_000, n_periods=5, random_state=9, n_truth=2_000)
    t = cl.by_period_table(df, id="id", period="period", treatment="A", outcome="Y",
                           censor="C", competing="D", covariates=["L", "V"]).to_frame()
    g = df.groupby("period")
    assert t["n_at_risk"].tolist() == g.size().tolist()
    assert t["n_events"].tolist() == g["Y"].sum().astype(int).tolist()
    np.testing.assert_allclose(t["pct_events"], 100 * g["Y"].mean())
    np.testing.assert_allclose(t["L_mean"], g["L"].mean())
    np.testing.assert_allclose(t["L_sd"], g["L"].std())
    # at risk at period t+1 = at risk at t minus those whose follow-up ended in t
    ended = (t["n_events"] + t["n_censored"] + t["n_competing"]).to_numpy()
    np.testing.assert_array_equal(t["n_at_risk"].to_numpy()[1:], (t["n_at_risk"] - ended)[:-1])


def test_by_period_table_errors():
    d = pd.DataFrame({"pid": [1, 2], "t": [0, 0], "a": [0, 2]})
    with pytest.raises(CohortError, match="'a' \\(treatment\\) must be 0/1"):
        cl.by_period_table(d, id="pid", period="t", treatment="a")


def test_builders_sort_unsorted_input_by_id_and_time():
    w = _wide().iloc[[2, 0, 1]]
    long = cl.person_period(w, id="pid", time_varying="sbp")
    assert long["pid"].tolist() == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    ep = pd.DataFrame({"pid": [2, 1, 2, 1], "s": [10.0, 30.0, 0.0, 0.0],
                       "e": [20.0, 40.0, 10.0, 30.0], "drug": [1, 1, 0, 0]})
    pp = cl.expand_intervals(ep, id="pid", start="s", stop="e", width=10, treatment="drug")
    assert pp["pid"].tolist() == [1, 1, 1, 1, 2, 2]
    assert pp["period"].tolist() == [0, 1, 2, 3, 0, 1]
    assert pp["drug"].tolist() == [0, 0, 0, 1, 0, 1]
    rec = pd.DataFrame({"pid": ["z", "y", "z"], "day": [5.0, 0.0, 0.0], "v": [2.0, 7.0, 1.0],
                        "end": [10.0, 5.0, 10.0]})
    pr = cl.expand_intervals(rec, id="pid", time="day", end="end", width=5, values="v")
    assert pr["pid"].tolist() == ["y", "z", "z"] and pr["v"].tolist() == [7.0, 1.0, 2.0]


def test_validate_baseline_constant_within_id():
    df = pd.DataFrame({"pid": [1, 1, 2, 2], "t": [0, 1, 0, 1], "sex": ["f", "f", "m", "f"],
                       "age": [50.0, 50.0, np.nan, np.nan]})
    with pytest.raises(CohortError, match=r"baseline covariate sex changes within id: 1 id "
                                          r"\(1 row\), e\.g\. id 2"):
        cl.validate_person_period(df, id="pid", period="t", baseline=["sex", "age"])
    cl.validate_person_period(df, id="pid", period="t", baseline="age")


def test_person_period_round_trips_a_pivoted_simulated_cohort():
    df = cl.simulate_longitudinal(n=400, n_periods=6, random_state=12, n_truth=2_000)
    wide = df.pivot(index="id", columns="period", values=["L", "A"])
    wide.columns = [f"{v}_{p}" for v, p in wide.columns]
    wide = wide.reset_index()
    wide["V"] = df.groupby("id")["V"].first().to_numpy()
    wide["last"] = df.groupby("id")["period"].max().to_numpy()
    wide = wide.sample(frac=1.0, random_state=1)  # persons in any order
    long = cl.person_period(wide, id="id", time_varying=["L", "A"], baseline="V",
                            last_period="last")
    expected = df[["id", "period", "V", "L", "A"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(long, expected, check_dtype=False)
    assert long.attrs["person_period"]["rows_not_created"] == 400 * 6 - len(df)
    assert long.attrs["person_period"]["values_after_last_period"] == 0  # NaN after the end


def test_expand_intervals_round_trips_treatment_episodes_and_visits():
    df = cl.simulate_longitudinal(n=400, n_periods=6, random_state=13, n_truth=2_000)
    y = df["Y"].fillna(0).astype(int)
    # treatment episodes: runs of equal A within a person, as (start, stop] records
    new_run = (df["A"] != df.groupby("id")["A"].shift()) | (df["period"] == 0)
    run = new_run.cumsum()
    ep = df.assign(y=y, run=run).groupby("run").agg(
        pid=("id", "first"), s=("period", "min"), e=("period", "max"), a=("A", "first"),
        y=("y", "max"))
    ep["e"] += 1
    pp = cl.expand_intervals(ep.sample(frac=1.0, random_state=2), id="pid", start="s",
                             stop="e", treatment="a", event="y")
    assert pp["pid"].tolist() == df["id"].tolist()
    assert pp["period"].tolist() == df["period"].tolist()
    assert pp["a"].tolist() == df["A"].tolist()
    assert pp["y"].tolist() == y.tolist()
    # visits: L recorded at the start of some periods; LOCF between them
    keep = (df["period"] == 0) | (np.random.default_rng(5).random(len(df)) < 0.6)
    visits = df.loc[keep, ["id", "period", "L"]].assign(
        end=df.groupby("id")["period"].transform("max")[keep] + 1.0)
    pr = cl.expand_intervals(visits, id="id", time="period", end="end", values="L")
    locf = df["L"].where(keep).groupby(df["id"]).ffill()
    np.testing.assert_allclose(pr["L"].to_numpy(float), locf.to_numpy())
    assert pr.attrs["expand_intervals"]["carried_forward"]["L"] == int((~keep).sum())
