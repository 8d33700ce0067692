"""table1(): checked against R (tableone / MatchIt / cobalt conventions) on NHEFS and LaLonde.

Reference values: tests/reference/nhefs_table1_smd.json and lalonde_table1_smd_matchit.json
(R 4.2.2; MatchIt 4.5.1; generating script nhefs_cases.R / lalonde_cases.R in shared/reference).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from helpers import REFERENCE, load_reference

import cohortlab as cl
from cohortlab.exceptions import CohortError, DataValidationError, MissingDataError

ABS_MEANS = 1e-6  # closed-form means: exact up to the JSON's 6 printed decimals
ABS_SMD = 1e-5  # SMDs printed to 6 decimals
ABS_IPW_SMD = 1e-4  # depends on the PS fit's convergence (JSON tolerance)
ABS_MATCHIT = 1e-4  # MatchIt vignette prints 4 decimals

NHEFS_PS = (
    "qsmk ~ sex + race + age + I(age**2) + C(education) + smokeintensity + I(smokeintensity**2)"
    " + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active) + wt71 + I(wt71**2)"
)
NHEFS_COLS = ["age", "male", "white", "university", "wt71", "smokeintensity", "smokeyrs",
              "littleexercise", "inactive", "education", "exercise", "active"]
NHEFS_CAT = ["education", "exercise", "active"]


@pytest.fixture(scope="module")
def nhefs() -> pd.DataFrame:
    d = cl.datasets.load_nhefs()
    d = d[d["wt82"].notna()].copy()
    d["male"] = (d["sex"] == 0).astype(int)
    d["white"] = (d["race"] == 0).astype(int)
    d["university"] = (d["education"] == 5).astype(int)
    d["littleexercise"] = (d["exercise"] == 2).astype(int)
    d["inactive"] = (d["active"] == 2).astype(int)
    ps = smf.glm(NHEFS_PS, d, family=sm.families.Binomial()).fit().fittedvalues
    d["ipw"] = np.where(d["qsmk"] == 1, 1 / ps, 1 / (1 - ps))
    return d


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "lalonde.csv")
    ps = smf.glm("treat ~ age + educ + race + married + nodegree + re74 + re75", d,
                 family=sm.families.Binomial()).fit().fittedvalues
    d["distance"] = ps
    d["att_w"] = np.where(d["treat"] == 1, 1.0, ps / (1 - ps))
    return d


def _row(table: cl.Table1, var: str, group) -> pd.Series:
    st = table.stats
    return st[(st.variable == var) & (st.level == "") & (st.group == group)].iloc[0]


def test_nhefs_means_sds_smds_match_r():
    """Means, SDs and SMDs (continuous, binary, Yang-Dalton multi-level) vs R / tableone."""
    ref = load_reference("nhefs_table1_smd")
    d = cl.datasets.load_nhefs()
    d = d[d["wt82"].notna()].assign(
        male=lambda x: (x.sex == 0).astype(int), white=lambda x: (x.race == 0).astype(int),
        university=lambda x: (x.education == 5).astype(int),
        littleexercise=lambda x: (x.exercise == 2).astype(int),
        inactive=lambda x: (x.active == 2).astype(int))
    t = cl.table1(d, by="qsmk", columns=NHEFS_COLS, categorical=NHEFS_CAT)
    smd = t.smd()
    assert t.group_n == {"Overall": 1566, 0.0: 1163, 1.0: 403}
    for r in ref["estimates"]["rows"]:
        var = r["var"].split(" ")[0]
        assert smd[var] == pytest.approx(r["smd"], abs=ABS_SMD), var
        if "mean_t" in r:
            assert _row(t, var, 1.0)["mean"] == pytest.approx(r["mean_t"], abs=ABS_MEANS), var
            assert _row(t, var, 0.0)["mean"] == pytest.approx(r["mean_c"], abs=ABS_MEANS), var
        if "sd_t" in r:
            assert _row(t, var, 1.0)["sd"] == pytest.approx(r["sd_t"], abs=ABS_MEANS), var
            assert _row(t, var, 0.0)["sd"] == pytest.approx(r["sd_c"], abs=ABS_MEANS), var


def test_nhefs_ipw_weighted_smds_match_r_both_denominators(nhefs):
    """Weighted SMDs: weighted SD denominator (tableone svy) and unweighted SD (cobalt)."""
    ref = load_reference("nhefs_table1_smd")
    tw = cl.table1(nhefs, by="qsmk", columns=NHEFS_COLS, categorical=NHEFS_CAT, weights="ipw")
    tc = cl.table1(nhefs, by="qsmk", columns=NHEFS_COLS, categorical=NHEFS_CAT, weights="ipw",
                   smd_weighted_sd=False)
    checked = 0
    for r in ref["estimates"]["rows"]:
        if "ipw_smd" not in r:
            continue
        var = r["var"]
        assert tw.smd()[var] == pytest.approx(r["ipw_smd"], abs=ABS_IPW_SMD), var
        assert tc.smd()[var] == pytest.approx(r["ipw_smd_unweighted_sd"], abs=ABS_IPW_SMD), var
        assert _row(tw, var, 1.0)["mean"] == pytest.approx(r["ipw_mean_t"], abs=ABS_IPW_SMD)
        assert _row(tw, var, 0.0)["mean"] == pytest.approx(r["ipw_mean_c"], abs=ABS_IPW_SMD)
        checked += 1
    assert checked == 9
    # the same table also carries the unweighted (before-weighting) SMD
    bal = tw.balance.set_index(["variable", "level"])
    assert bal.loc[("age", ""), "smd_unweighted"] == pytest.approx(0.281981, abs=ABS_SMD)


def test_nhefs_matches_what_if_table_12_1(nhefs):
    """Published What If Table 12.1: the formatted cells read as the book prints them."""
    t = cl.table1(nhefs, by="qsmk", columns=["age", "male", "wt71", "smokeintensity"])
    tab = t.table()
    age = tab[tab.Variable.str.startswith("age")].iloc[0]
    assert age["qsmk = 0"].startswith("42.8") and age["qsmk = 1"].startswith("46.2")
    male = tab[tab.Variable.str.startswith("male")].iloc[0]
    assert male["qsmk = 0"] == "542 (46.6)" and male["qsmk = 1"] == "220 (54.6)"


def test_lalonde_att_smds_and_variance_ratios_match_matchit(lalonde):
    """MatchIt summary(): SMD with the treated SD, per-level race SMDs, variance ratios."""
    ref = load_reference("lalonde_table1_smd_matchit")
    cols = ["distance", "age", "educ", "race", "married", "nodegree", "re74", "re75"]
    t = cl.table1(lalonde, by="treat", columns=cols, smd_denominator="treated")
    bal = t.balance.set_index(["variable", "level"])
    for r in ref["estimates"]["before_matching"]:
        key = ("race", r["var"][4:]) if r["var"].startswith("race") else (r["var"], "")
        assert bal.loc[key, "smd"] == pytest.approx(r["smd"], abs=ABS_MATCHIT), r["var"]
        if "var_ratio" in r:
            assert bal.loc[key, "var_ratio"] == pytest.approx(r["var_ratio"], abs=ABS_MATCHIT)
        assert _row(t, key[0], 1)["mean"] == pytest.approx(r["mean_t"], abs=ABS_MATCHIT) \
            if key[1] == "" else True


def test_lalonde_att_weighted_balance_matches_r(lalonde):
    """ATT odds weights, unweighted treated SD as denominator (R run in the reference JSON)."""
    expected = {"age": 0.1188, "educ": -0.0284, ("race", "black"): -0.0062,
                ("race", "hispan"): 0.0007, ("race", "white"): 0.0070, "married": 0.0475,
                "nodegree": 0.0405, "re74": -0.0021, "re75": 0.0110}
    t = cl.table1(lalonde, by="treat", columns=["age", "educ", "race", "married", "nodegree",
                                                "re74", "re75"],
                  weights="att_w", smd_denominator="treated", smd_weighted_sd=False)
    bal = t.balance.set_index(["variable", "level"])
    for key, val in expected.items():
        k = key if isinstance(key, tuple) else (key, "")
        assert bal.loc[k, "smd"] == pytest.approx(val, abs=ABS_MATCHIT), key


def test_nonnormal_quantiles_match_numpy_type7_and_tableone(nhefs):
    """median [Q1, Q3] unweighted = R's default quantile type 7 (as tableone via pandas)."""
    t = cl.table1(nhefs, by="qsmk", columns=["smokeintensity"], nonnormal=["smokeintensity"])
    r = _row(t, "smokeintensity", 1.0)
    x = nhefs.loc[nhefs.qsmk == 1, "smokeintensity"]
    assert (r["q1"], r["median"], r["q3"]) == tuple(np.quantile(x, [0.25, 0.5, 0.75]))
    state = np.random.get_state()  # tableone seeds numpy's global RNG (on import); restore it
    try:
        from tableone import TableOne

        tab = TableOne(nhefs, columns=["smokeintensity"], groupby="qsmk",
                       nonnormal=["smokeintensity"], pval=False)
    finally:
        np.random.set_state(state)
    cell = tab.tableone.loc[("smokeintensity, median [Q1,Q3]", ""), ("Grouped by qsmk", "1.0")]
    assert cell == f"{r['median']:.1f} [{r['q1']:.1f},{r['q3']:.1f}]"


def test_integer_weights_equal_replicated_rows_for_means_and_counts(rng):
    """Integer weights give the means, counts and percentages of replicated rows.

    SDs (and so SMDs of continuous variables) deliberately differ: the weighted variance is
    the reliability-weights formula of tableone/cobalt, ``sum(w) / (sum(w)^2 - sum(w^2))``,
    not the frequency-weights ``1 / (sum(w) - 1)``. The test pins that difference too.
    """
    n = 300
    d = pd.DataFrame({"g": rng.integers(0, 2, n), "x": rng.normal(size=n),
                      "b": rng.integers(0, 2, n), "c": rng.choice(["a", "b", "c"], n),
                      "w": rng.integers(1, 4, n)})
    tw = cl.table1(d, by="g", columns=["x", "b", "c"], weights="w")
    rep = d.loc[d.index.repeat(d["w"])].reset_index(drop=True)
    tr = cl.table1(rep, by="g", columns=["x", "b", "c"])
    cols = ["n", "mean", "count", "percent"]
    pd.testing.assert_frame_equal(tw.stats[cols], tr.stats[cols], check_dtype=False, rtol=1e-12)
    # binary and categorical SMDs use p(1 - p), so they match replication exactly
    assert tw.smd()[["b", "c"]].to_numpy() == pytest.approx(tr.smd()[["b", "c"]].to_numpy(),
                                                            rel=1e-12)
    x = d.loc[d.g == 1, "x"].to_numpy()
    w = d.loc[d.g == 1, "w"].to_numpy().astype(float)
    m = np.average(x, weights=w)
    reliability = w.sum() / (w.sum() ** 2 - (w**2).sum()) * (w * (x - m) ** 2).sum()
    sd_w = tw.stats[(tw.stats.variable == "x") & (tw.stats.group == 1)]["sd"].item()
    assert sd_w == pytest.approx(np.sqrt(reliability), rel=1e-12)
    assert sd_w != pytest.approx(np.sqrt((w * (x - m) ** 2).sum() / (w.sum() - 1)), rel=1e-6)


def test_missing_values_are_counted_not_dropped(rng):
    n = 200
    d = pd.DataFrame({"g": rng.integers(0, 2, n), "x": rng.normal(size=n),
                      "c": rng.choice(["a", "b"], n).astype(object)})
    d.loc[:9, "x"] = np.nan
    d.loc[5:14, "c"] = None
    t = cl.table1(d, by="g", columns=["x", "c"])
    overall = t.stats[t.stats.group == "Overall"].set_index(["variable", "level"])
    assert overall.loc[("x", ""), "n_missing"] == 10
    assert overall.loc[("x", ""), "n"] == 190
    assert overall.loc[("c", "a"), "n_missing"] == 10
    # percentages among non-missing values
    pct = overall.xs("c", level=0)["percent"]
    assert pct.sum() == pytest.approx(100.0)
    tab = t.table()
    assert tab.loc[tab.Variable.str.startswith("x"), "Missing"].item() == "10"


def test_input_frame_unchanged(nhefs):
    before = pd.util.hash_pandas_object(nhefs, index=True).sum()
    cl.table1(nhefs, by="qsmk", columns=["age", "education"], categorical=["education"],
              weights="ipw")
    assert pd.util.hash_pandas_object(nhefs, index=True).sum() == before


def test_reference_level_flips_smd_sign(nhefs):
    a = cl.table1(nhefs, by="qsmk", columns=["age"])
    b = cl.table1(nhefs, by="qsmk", columns=["age"], reference=1.0)
    assert b.smd()["age"] == pytest.approx(-a.smd()["age"])
    assert b.groups == (1.0, 0.0)


def test_three_groups_table_without_smd(rng):
    d = pd.DataFrame({"g": rng.choice(["a", "b", "c"], 90), "x": rng.normal(size=90)})
    t = cl.table1(d, by="g")
    assert "SMD" not in t.table().columns
    assert set(t.table().columns) >= {"g = a", "g = b", "g = c", "Overall"}


def test_no_by_describes_overall_only(rng):
    d = pd.DataFrame({"x": rng.normal(size=50), "s": rng.choice(["u", "v"], 50)})
    t = cl.table1(d)
    assert list(t.table().columns[:3]) == ["Variable", "Level", "Overall"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(by="qsmkk", columns=["age"]), r"table1\(\): column 'qsmkk' not found \(by\)\. Did you mean 'qsmk'"),
        (dict(by="qsmk", columns=["agee"]), r"column 'agee' not found \(columns\)\. Did you mean 'age'"),
        (dict(by="education", columns=["age"], smd=True),
         r"column 'education' \(by\) must have exactly two groups for SMDs; got 5 levels"),
        (dict(by="qsmk", columns=["age"], weights="neg"), r"column 'neg' \(weights\) has 1 negative"),
        (dict(by="qsmk", columns=["age"], weights="nan_w"), r"column 'nan_w' \(weights\) has 1 missing"),
        (dict(by="qsmk", columns=["age", "allnan"]), r"missing for every one of the"),
        (dict(by="qsmk", columns=["age"], smd_denominator="both"), r'smd_denominator must be one of \{"pooled", "treated", "control"\}'),
        (dict(by="qsmk", columns=["age"], nonnormal=["wt71"]), r"'wt71' is listed in categorical/nonnormal but not described"),
    ],
)
def test_bad_input_raises_clear_errors(nhefs, kwargs, match):
    d = nhefs.assign(neg=1.0, nan_w=1.0, allnan=np.nan)
    d.iloc[0, d.columns.get_loc("neg")] = -1.0
    d.iloc[0, d.columns.get_loc("nan_w")] = np.nan
    with pytest.raises(DataValidationError, match=match) as exc:
        cl.table1(d, **kwargs)
    assert isinstance(exc.value, CohortError) and isinstance(exc.value, ValueError)


def test_empty_frame_and_not_a_frame():
    with pytest.raises(DataValidationError, match=r"table1\(\): data has no rows"):
        cl.table1(pd.DataFrame({"x": []}))
    with pytest.raises(DataValidationError, match="must be a pandas DataFrame; got dict"):
        cl.table1({"x": [1, 2]})


def test_missing_by_raises_then_drop_counts(nhefs):
    d = nhefs[["qsmk", "age"]].copy()
    d.loc[d.index[:7], "qsmk"] = np.nan
    with pytest.raises(MissingDataError, match=r"7 of 1,566 rows have missing values .*qsmk \(7\)"):
        cl.table1(d, by="qsmk")
    t = cl.table1(d, by="qsmk", missing="drop")
    assert t.n == 1559 and t.dropped.n_rows == 7 and t.dropped.by_column == {"qsmk": 7}
    assert "7 dropped: qsmk 7" in t.summary()


def test_renders_to_every_format(nhefs):
    t = cl.table1(nhefs, by="qsmk", columns=["age", "male", "education"],
                  categorical=["education"], weights="ipw", labels={"age": "Age, years"})
    text = t.summary()
    assert text.startswith("Table 1 by qsmk, weighted by ipw") and "Age, years, mean (SD)" in text
    assert repr(t) == text
    md = t.to_markdown()
    assert "| Variable | Level | Overall | qsmk = 0 | qsmk = 1 | SMD | SMD (unweighted) |" in md
    assert "\\toprule" in t.to_latex() and "<table" in t._repr_html_()
    frame = t.to_frame()
    assert {"variable", "level", "group", "mean", "smd", "smd_unweighted"} <= set(frame.columns)
    ax = t.plot()
    assert len(ax.collections) == 2  # weighted and unweighted points


def test_missing_column_counts_every_group_without_overall(nhefs):
    """Missing counts cover all analysed rows even when the Overall column is hidden."""
    t = cl.table1(cl.datasets.load_nhefs(), by="qsmk", columns=["sbp"], overall=False)
    tab = t.table()
    total = int(cl.datasets.load_nhefs()["sbp"].isna().sum())
    assert tab.loc[tab.Variable.str.startswith("sbp"), "Missing"].item() == f"{total:,}"


def test_overall_group_is_labelled_overall_in_to_frame():
    d = cl.simulate_cohort(300, random_state=2)
    f = cl.table1(d, by="treated", columns=["age"]).to_frame()
    assert sorted(map(str, f["group"].unique())) == ["0", "1", "Overall"]


def test_level_named_overall_collides_with_the_overall_column():
    d = cl.simulate_cohort(200, random_state=2)
    d["arm"] = np.where(d["treated"] == 1, "Overall", "Control")
    with pytest.raises(DataValidationError, match="level named 'Overall'.*overall=False"):
        cl.table1(d, by="arm", columns=["age"])
    assert cl.table1(d, by="arm", columns=["age"], overall=False).n == 200
