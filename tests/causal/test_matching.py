"""match(): LaLonde against MatchIt, a brute-force reference, and simulated truth.

References
----------
- Before matching: tests/reference/lalonde_table1_smd_matchit.json (MatchIt 4.5.1,
  ``summary(m.out0)``).
- After matching: the MatchIt vignette "MatchIt: Getting Started" (the same numbers are
  printed by MatchIt 4.5 to 4.7), with ``m.out1 <- matchit(treat ~ age + educ + race + married
  + nodegree + re74 + re75, data = lalonde, method = "nearest", distance = "glm")`` and
  ``summary(m.out1, un = FALSE)``: 1:1 greedy nearest neighbour without replacement on the
  propensity score (``m.order = "largest"``), no caliper; 185 matched pairs, 244 controls
  unmatched. Printed to 4 decimals, hence ``ABS_PRINTED``.
- Pairs: a brute-force O(n^2) implementation of MatchIt's rules written below.
- Effect: ``simulate_cohort()``'s true ATT of ``treated`` on ``sbp_12m``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import load_reference

import cohortlab as cl
from cohortlab.causal._nn import match_order, nearest_neighbours
from cohortlab.causal.matching import MatchResult, match
from cohortlab.exceptions import DataValidationError, MissingDataError, PositivityWarning

ABS_PRINTED = 5.1e-5  # MatchIt prints 4 decimals
LALONDE_PS = "age + educ + race + married + nodegree + re74 + re75"
SIM_PS = "age + female + bmi + diabetes + C(smoking) + af_flag + C(site)"

#: summary(m.out1, un = FALSE), "Summary of Balance for Matched Data":
#: variable -> (Means Control, Std. Mean Diff., Var. Ratio or None).
MATCHIT_M_OUT1 = {
    ("distance", ""): (0.3629, 0.9739, 0.7566),
    ("age", ""): (25.3027, 0.0718, 0.4568),
    ("educ", ""): (10.6054, -0.1290, 0.5721),
    ("race", "black"): (0.4703, 1.0259, None),
    ("race", "hispan"): (0.2162, -0.6629, None),
    ("race", "white"): (0.3135, -0.7296, None),
    ("married", ""): (0.2108, -0.0552, None),
    ("nodegree", ""): (0.6378, 0.1546, None),
    ("re74", ""): (2342.1076, -0.0505, 1.3289),
    ("re75", ""): (1614.7451, -0.0257, 1.4956),
}


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return cl.datasets.load_lalonde()


@pytest.fixture(scope="module")
def m_out1(lalonde) -> MatchResult:
    return match(lalonde, exposure="treat", covariates=LALONDE_PS, distance="ps", caliper=None,
                 outcome="re78")


# ---------------------------------------------------------------------- (a) MatchIt
def test_lalonde_counts_match_matchit_vignette(m_out1):
    c = m_out1.counts
    assert (c["n_sets"], c["exposed_matched"], c["unexposed_matched"]) == (185, 185, 185)
    assert (c["exposed_unmatched"], c["unexposed_unmatched"]) == (0, 244)
    assert len(m_out1.data) == 370 and m_out1.data["match_weight"].eq(1.0).all()
    assert m_out1.order == "largest" and m_out1.caliper_width is None


def test_lalonde_balance_after_matching_matches_matchit_getting_started(m_out1):
    bal = m_out1.balance().set_index(["variable", "level"])
    d = m_out1.data
    ctrl = d[d["treat"] == 0]
    for (var, level), (mean_c, smd, vr) in MATCHIT_M_OUT1.items():
        row = bal.loc[(var, level)]
        assert row["smd_after"] == pytest.approx(smd, abs=ABS_PRINTED), (var, level)
        if vr is not None:
            assert row["var_ratio_after"] == pytest.approx(vr, abs=ABS_PRINTED), var
        col = ctrl[var] if level == "" else ctrl[var].eq(level).astype(float)
        assert col.mean() == pytest.approx(mean_c, abs=ABS_PRINTED), (var, level)


def test_lalonde_balance_before_matching_matches_matchit_summary_m_out0(m_out1):
    ref = load_reference("lalonde_table1_smd_matchit")["estimates"]["before_matching"]
    bal = m_out1.balance().set_index(["variable", "level"])
    names = {"raceblack": ("race", "black"), "racehispan": ("race", "hispan"),
             "racewhite": ("race", "white")}
    for r in ref:
        key = names.get(r["var"], (r["var"], ""))
        assert bal.loc[key, "smd_before"] == pytest.approx(r["smd"], abs=1e-4), key
        if "var_ratio" in r:
            assert bal.loc[key, "var_ratio_before"] == pytest.approx(r["var_ratio"], abs=1e-4)


def test_lalonde_effect_se_equals_cluster_robust_wls_on_match_id(m_out1):
    """No published number: statsmodels' WLS re78 ~ treat, cluster = match_id.

    statsmodels' cluster correction is G/(G-1) * (N-1)/(N-K) (R's vcovCL type="HC1"); ours is
    G/(G-1) only (type="HC0"), so the variances differ by exactly (N-1)/(N-2).
    """
    import statsmodels.api as sm

    d = m_out1.data
    X = sm.add_constant(d["treat"].astype(float))
    fit = sm.WLS(d["re78"], X, weights=d["match_weight"]).fit(
        cov_type="cluster", cov_kwds={"groups": d["match_id"]})
    est = m_out1.estimate
    n = len(d)
    assert est.estimate == pytest.approx(fit.params["treat"], rel=1e-10)
    assert est.std_error * math.sqrt((n - 1) / (n - 2)) == pytest.approx(fit.bse["treat"],
                                                                          rel=1e-10)
    assert (est.method, est.estimand, est.ci_method) == ("matching", "ATT", "wald_cluster")
    assert est.effect_measure == "mean_difference" and est.n == 370


def test_lalonde_default_logit_caliper_matches_fewer_treated(lalonde):
    """No MatchIt number printed for this specification: internal consistency only."""
    m = match(lalonde, exposure="treat", covariates=LALONDE_PS)
    with pytest.warns(PositivityWarning):  # one control with score 0.009: no issue for ATT
        ps = cl.propensity_score(lalonde, exposure="treat", covariates=LALONDE_PS)
    eta = np.log(ps.scores / (1 - ps.scores))
    assert m.caliper_width == pytest.approx(0.2 * eta.std(ddof=1), rel=1e-9)
    pairs = m.pairs()
    assert (pairs["abs_distance"] <= m.caliper_width).all()
    c = m.counts
    assert c["exposed_unmatched"] == c["unmatched_caliper"] > 0
    assert c["exposed_matched"] + c["exposed_unmatched"] == 185
    assert f"{c['exposed_unmatched']} exposed subjects unmatched" in " ".join(m.notes)
    assert "not of all 185" in m.summary()


# ---------------------------------------------------------------------- (b) brute force
def _brute(d, focal, *, ratio=1, width=math.inf, replace=False, order="data"):
    """O(n^2) reference of MatchIt's nearest-neighbour rules, from their definition.

    All units are ranked by (distance, row); a control's preference for focal unit i is
    (|d_i - d_j|, left of i before right of i, nearer in rank first). Without replacement,
    focal units take turns in ``order`` (round by round for ratio > 1; a unit with no match
    in round 1 drops out); with replacement each takes its ``ratio`` most preferred.
    """
    n = len(d)
    rank = {i: p for p, i in enumerate(sorted(range(n), key=lambda i: (d[i], i)))}
    F = [i for i in range(n) if focal[i]]
    C = [j for j in range(n) if not focal[j]]

    def pref(i, j):
        return (abs(d[i] - d[j]), 0 if rank[j] < rank[i] else 1, abs(rank[j] - rank[i]))

    out = {i: [] for i in F}
    if replace:
        for i in F:
            best = sorted(C, key=lambda j: pref(i, j))[:ratio]
            out[i] = [j for j in best if abs(d[i] - d[j]) <= width]
        return out
    seq = {"data": sorted(range(len(F))),
           "largest": sorted(range(len(F)), key=lambda t: (-d[F[t]], t)),
           "smallest": sorted(range(len(F)), key=lambda t: (d[F[t]], t))}[order]
    avail, dead = set(C), set()
    for r in range(ratio):
        for t in seq:
            i = F[t]
            if i in dead:
                continue
            j = min(avail, key=lambda j: pref(i, j)) if avail else None
            if j is None or abs(d[i] - d[j]) > width:
                if r == 0:
                    dead.add(i)
                continue
            out[i].append(j)
            avail.remove(j)
    return out


def _kernel_pairs(d, focal, **kw):
    order = kw.pop("order", "data")
    seq = match_order(d[focal], order, None)
    nn = nearest_neighbours(d, focal, order=seq, **kw)
    return {int(i): [int(j) for j in row if j >= 0] for i, row in zip(nn.focal, nn.controls,
                                                                       strict=True)}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("replace", [False, True])
@pytest.mark.parametrize("ratio", [1, 3])
@pytest.mark.parametrize("order", ["largest", "smallest", "data"])
@pytest.mark.parametrize("ties", [True, False])
def test_kernel_pairs_identical_to_brute_force(seed, replace, ratio, order, ties):
    rng = np.random.default_rng(seed)
    n = 70
    d = rng.integers(0, 15, n) / 10 if ties else rng.normal(size=n)
    focal = rng.random(n) < 0.35
    for width in (math.inf, 0.1, 0.25):
        got = _kernel_pairs(d, focal, ratio=ratio, width=width, replace=replace, order=order)
        ref = _brute(d, focal, ratio=ratio, width=width, replace=replace, order=order)
        assert got == ref, (width, {k: (got[k], ref[k]) for k in got if got[k] != ref[k]})


@pytest.mark.parametrize("replace", [False, True])
def test_match_pairs_identical_to_brute_force_through_the_public_verb(replace):
    rng = np.random.default_rng(7)
    n = 120
    df = pd.DataFrame({"a": (rng.random(n) < 0.3).astype(int),
                       "p": rng.integers(1, 40, n) / 40, "y": rng.normal(size=n)})
    m = match(df, exposure="a", ps="p", distance="ps", caliper=0.25, ratio=2, replace=replace)
    assert m.caliper_width == pytest.approx(0.25 * df["p"].std(ddof=1), rel=1e-12)
    ref = _brute(df["p"].to_numpy(), df["a"].eq(1).to_numpy(), ratio=2, replace=replace,
                 width=m.caliper_width, order="largest")
    pairs = m.pairs()
    got = {i: pairs.loc[pairs["focal"] == i, "control"].tolist() for i in ref}
    assert got == ref
    assert m.counts["exposed_matched"] == sum(bool(v) for v in ref.values())


def test_atc_is_att_with_the_labels_swapped():
    rng = np.random.default_rng(11)
    n = 300
    p = rng.choice(2**30, n, replace=False) / 2**30  # exact 1 - p, no equidistant pairs
    df = pd.DataFrame({"a": (rng.random(n) < p).astype(int), "p": p,
                       "y": rng.normal(size=n) + p})
    atc = match(df, exposure="a", ps="p", distance="ps", caliper=None, estimand="ATC",
                outcome="y")
    flip = df.assign(a=1 - df["a"], p=1 - df["p"])
    att = match(flip, exposure="a", ps="p", distance="ps", caliper=None, outcome="y")
    pd.testing.assert_frame_equal(atc.pairs().drop(columns="abs_distance"),
                                  att.pairs().drop(columns="abs_distance"))
    assert atc.estimate.estimate == pytest.approx(-att.estimate.estimate, rel=1e-12)
    assert atc.estimate.std_error == pytest.approx(att.estimate.std_error, rel=1e-12)
    assert atc.order == "smallest" and atc.estimate.estimand == "ATC"
    assert atc.balance()["smd_after"].notna().all()


def test_with_replacement_weights_sum_as_matchit_and_se_note():
    d = cl.simulate_cohort(1500, random_state=5)
    m = match(d, exposure="treated", covariates=SIM_PS, ratio=3, replace=True, caliper=0.1,
              outcome="sbp_12m")
    rows = m.data
    ctrl_sum = rows[rows["treated"] == 0].groupby("match_id")["match_weight"].sum()
    assert np.allclose(ctrl_sum, 1.0) and len(ctrl_sum) == m.counts["n_sets"]
    # MatchIt's (unnormalised) control weight: sum over the control's sets of 1 / k_set
    ctrl = rows[rows["treated"] == 0]
    unit_w = ctrl.groupby(level=0)["match_weight"].sum()
    k = rows[rows["treated"] == 0].groupby("match_id").size()
    expect = ctrl.assign(inv=1.0 / ctrl["match_id"].map(k)).groupby(level=0)["inv"].sum()
    pd.testing.assert_series_equal(unit_w, expect, check_names=False)
    assert m.counts["controls_reused"] > 0 and unit_w.index.is_unique
    assert (rows.index.duplicated() & (rows["treated"] == 0)).sum() > 0
    assert "ignores the dependence from that reuse" in " ".join(m.estimate.notes)
    assert m.order == "data"


def test_ratio_two_without_replacement_weights_and_incomplete_sets():
    d = cl.simulate_cohort(800, random_state=9)
    m = match(d, exposure="treated", covariates=SIM_PS, ratio=2, caliper=0.05)
    k = m.data[m.data["treated"] == 0].groupby("match_id").size()
    w = m.data[m.data["treated"] == 0].groupby("match_id")["match_weight"].first()
    assert np.allclose(w, 1.0 / k) and set(k.unique()) <= {1, 2}
    assert m.counts["incomplete_sets"] == int((k == 1).sum()) > 0
    assert not m.data.index.duplicated().any()
    assert "fewer than 2 unexposed subjects" in " ".join(m.notes)


# ---------------------------------------------------------------------- (c) coverage
def _coverage(n_rep: int, seed: int, n: int = 2000) -> tuple[float, float, float]:
    """Share of 95% CIs covering the true ATT; mean estimate minus truth; SD of estimates.

    ``confounding=0.5``: at the default (1.0) about 8% of the treated have no control within
    0.2 SD, the matched-treated effect differs from the ATT (the effect varies with diabetes)
    and the estimate is biased by ~0.35 mmHg (coverage ~0.91 at n = 2000, falling with n).
    """
    rng = np.random.default_rng(seed)
    hits, errs, truth = [], [], math.nan
    for _ in range(n_rep):
        d = cl.simulate_cohort(n, random_state=int(rng.integers(2**31)), confounding=0.5)
        truth = d.attrs["truth"]["continuous"]["ATT"]
        e = match(d, exposure="treated", covariates=SIM_PS, outcome="sbp_12m").estimate
        hits.append(e.conf_low <= truth <= e.conf_high)
        errs.append(e.estimate - truth)
    return float(np.mean(hits)), float(np.mean(errs)), float(np.std(errs))


def test_coverage_of_true_att_on_simulated_cohort_reduced():
    """100 cohorts of 2,000 (about 2 s): the clustered CI covers the true ATT."""
    cov, bias, sd = _coverage(100, 301)
    assert cov >= 0.90, (cov, bias, sd)
    assert abs(bias) < 3 * sd / math.sqrt(100), (cov, bias, sd)


@pytest.mark.slow
def test_coverage_of_true_att_on_simulated_cohort_full():
    """600 cohorts: coverage near 0.95 (pair-clustered SEs are slightly conservative)."""
    cov, bias, sd = _coverage(600, 302)
    assert 0.93 <= cov <= 0.99, (cov, bias, sd)
    assert abs(bias) < 0.2 * sd, (cov, bias, sd)


# ---------------------------------------------------------------------- (d) bad input
def _sim(n=400, seed=0):
    return cl.simulate_cohort(n, random_state=seed)


@pytest.mark.parametrize(
    ("mutate", "kwargs", "match_"),
    [
        (lambda d: d.assign(treated=d.site % 3), {},
         r"column 'treated' \(exposure\) must be binary .* got 3 distinct values"),
        (lambda d: d, {"caliper": 0}, r"caliper must be a positive number .* got 0"),
        (lambda d: d, {"caliper": -0.1}, r"caliper must be a positive number"),
        (lambda d: d, {"ratio": 0}, r"ratio must be an int >= 1; got 0\. It is the number of controls"),
        (lambda d: d, {"ratio": 1.5}, r"ratio must be an int >= 1; got 1\.5"),
        (lambda d: d.assign(treated=1), {}, r"exposure group 'treated' = 0 has no rows"),
        (lambda d: d.assign(treated=0), {}, r"exposure group 'treated' = 1 has no rows"),
        (lambda d: d, {"estimand": "ATE"}, r"estimand must be one of .*got 'ATE'\. .*for the ATE, ATO or ATM use ipw\("),
        (lambda d: d, {"estimand": "ATX"}, r"estimand must be one of"),
        (lambda d: d, {"order": "biggest"}, r"order must be one of"),
        (lambda d: d, {"distance": "mahalanobis"}, r"distance must be one of"),
        (lambda d: d, {"ps": "af_score"}, r"covariates=\.\.\. or precomputed .* got both"),
        (lambda d: d, {"covariates": None}, r"got neither"),
        (lambda d: d.assign(score=d.age), {"covariates": None, "ps": "score"},
         r"values of 'score' \(ps\) are not probabilities"),
        (lambda d: d.assign(match_id=1), {}, r"already has column\(s\) \['match_id'\]"),
        (lambda d: d, {"covariates": "age + bmii"}, "Did you mean 'bmi'"),
    ],
)
def test_bad_input(mutate, kwargs, match_):
    args = dict(exposure="treated", covariates="age + female + bmi", outcome="sbp_12m")
    args.update(kwargs)
    with pytest.raises(DataValidationError, match=match_):
        match(mutate(_sim()), **args)


def test_no_match_within_caliper_names_it_and_suggests_a_wider_one():
    rng = np.random.default_rng(3)
    a = np.r_[np.ones(20, dtype=int), np.zeros(80, dtype=int)]
    p = np.where(a == 1, rng.uniform(0.90, 0.95, 100), rng.uniform(0.05, 0.10, 100))
    df = pd.DataFrame({"a": a, "p": p})
    with pytest.raises(DataValidationError,
                       match=r"no focal subject has a control within the caliper \(caliper=0.01 "
                             r"SD of the logit .* Widen the caliper \(e\.g\. caliper=\d"):
        match(df, exposure="a", ps="p", caliper=0.01)
    ok = match(df, exposure="a", ps="p", caliper=None)
    assert ok.counts["n_sets"] == 20


def test_missing_values_raise_or_are_dropped_and_counted():
    d = _sim()
    d.loc[d.index[:3], "bmi"] = np.nan
    with pytest.raises(MissingDataError, match=r"3 of 400 rows .* bmi \(3\)"):
        match(d, exposure="treated", covariates="age + bmi")
    m = match(d, exposure="treated", covariates="age + bmi", missing="drop", outcome="sbp_12m")
    assert m.dropped.n_rows == 3 and m.counts["n"] == 397
    assert m.estimate.dropped.by_column == {"bmi": 3}


def test_effect_on_outcome_with_missing_values_in_the_matched_cohort_raises():
    d = _sim()
    d["y"] = d["sbp_12m"].where(d.index % 7 != 0)
    m = match(d, exposure="treated", covariates="age + bmi")
    with pytest.raises(MissingDataError, match=r"missing values among the .* matched cohort"):
        m.effect("y")


# ---------------------------------------------------------------------- (e) no silent loss
def test_input_frame_unchanged_and_every_unit_counted():
    d = _sim(1000, 4)
    before = pd.util.hash_pandas_object(d, index=True).sum()
    cols = list(d.columns)
    for kw in ({}, {"replace": True, "ratio": 2}, {"caliper": 0.05, "ratio": 3}):
        m = match(d, exposure="treated", covariates=SIM_PS, outcome="mace_1y", **kw)
        c = m.counts
        assert c["exposed_matched"] + c["exposed_unmatched"] == c["n_exposed"]
        assert c["unexposed_matched"] + c["unexposed_unmatched"] == c["n_unexposed"]
        assert c["n_exposed"] + c["n_unexposed"] == len(d) == c["n"]
        assert c["exposed_unmatched"] == c["unmatched_caliper"] + c["unmatched_no_control"]
        assert c["n_rows"] == len(m.data) and c["n_sets"] == m.data["match_id"].nunique()
        frame = m.to_frame()
        assert frame["n_matched"].tolist() == [c["exposed_matched"], c["unexposed_matched"]]
        assert frame["sum_weights"].tolist() == pytest.approx([c["n_sets"]] * 2)
        assert f"{c['exposed_matched']:,} of {c['n_exposed']:,} exposed subjects matched" \
            in m.notes[0]
        assert m.data is not d and list(m.data.columns) == cols + ["match_id", "match_weight",
                                                                    "distance"]
    assert pd.util.hash_pandas_object(d, index=True).sum() == before and list(d.columns) == cols


# ---------------------------------------------------------------------- other options
def test_ps_from_a_propensity_score_result_with_trimming_counts_discarded():
    d = _sim(1000, 6)
    ps = cl.propensity_score(d, exposure="treated", covariates=SIM_PS, trim=(0.1, 0.9))
    m = match(d, exposure="treated", ps=ps, outcome="sbp_12m")
    n_trim = int((~ps.kept).sum())
    assert n_trim > 0
    assert m.counts["discarded_exposed"] + m.counts["discarded_unexposed"] == n_trim
    assert not m.data.index.isin(ps.kept[~ps.kept].index).any()
    assert f"{n_trim:,} subjects excluded before matching" in " ".join(m.notes)
    direct = match(d, exposure="treated", covariates=SIM_PS)
    assert set(m.covariate_columns) == set(direct.covariate_columns)


def test_random_order_is_reproducible_and_binary_outcomes_give_risks():
    d = _sim(1000, 8)
    kw = dict(exposure="treated", covariates=SIM_PS, order="random", caliper=0.1,
              outcome="mace_1y", effect_measure="ratio")
    a, b = match(d, random_state=5, **kw), match(d, random_state=5, **kw)
    pd.testing.assert_frame_equal(a.data, b.data)
    assert a.estimate.effect_measure == "risk_ratio" and a.estimate.n_events >= 0
    assert a.estimate.conf_low < a.estimate.estimate < a.estimate.conf_high
    narrow = a.effect("mace_1y", effect_measure="ratio", conf_level=0.9)
    assert narrow.conf_high - narrow.conf_low < a.estimate.conf_high - a.estimate.conf_low


def test_sampling_weights_enter_the_effect():
    d = _sim(800, 10).assign(sw=lambda x: 1.0 + (x["site"] % 2))
    m = match(d, exposure="treated", covariates="age + bmi", weights="sw", outcome="sbp_12m")
    rows = m.data
    w = rows["match_weight"] * rows["sw"]
    t = rows["treated"] == 1
    diff = (np.average(rows.loc[t, "sbp_12m"], weights=w[t])
            - np.average(rows.loc[~t, "sbp_12m"], weights=w[~t]))
    assert m.estimate.estimate == pytest.approx(diff, rel=1e-12)


def test_rendering_and_balance_plot(m_out1):
    text = m_out1.summary()
    assert text.startswith("Nearest-neighbour matching · ATT · 1:1 without replacement")
    assert "treat = 1 (focal)" in text and "no caliper" in text
    assert "| arm |" in m_out1.to_markdown() and "<table" in m_out1._repr_html_()
    ax = m_out1.plot_balance()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["before matching", "after matching"]
    assert "race" in m_out1.table1().kinds
