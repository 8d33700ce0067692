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
    ([10.0, 0.0], [20.0, 10.0], "not increasing"),
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
    df = cl.simulate_longitudinal(n=300, n_periods=5, seed=3, n_truth=2_000)
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
