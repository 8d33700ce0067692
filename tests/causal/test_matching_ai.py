"""match(replace=True): Abadie-Imbens SEs, bias correction, ties; against R Matching and truth.

- R reference: tests/reference/matching_ai/lalonde_matching.json, written by
  tests/reference/matching_ai/lalonde_matching.R (R 4.2.2, Matching 4.10-8): ``Match(Y = re78,
  Tr = treat, X = ps, M, replace = TRUE, ties = TRUE, distance.tolerance = 0, Var.calc = 1,
  BiasAdjust)``. With ``ties=True`` cohortlab keeps the same matched sets (LaLonde has 11
  duplicated control rows, so 24 treated units have tied nearest controls) and agrees to
  1e-6 relative on the estimate and the SE with the propensity score treated as known
  (Matching does not implement the Abadie-Imbens 2016 term; ``extra["std_error_ps_known"]``).
- Truth: ``simulate_cohort(potential_outcomes=True)`` gives each person's potential outcomes,
  so the effect in the matched exposed is known exactly in every replicate.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import load_reference

import cohortlab as cl
from cohortlab.causal._abadie_imbens import (
    MatchedPairs,
    abadie_imbens,
    abadie_imbens_ate,
    conditional_variance,
)
from cohortlab.causal._nn import nearest_neighbours, nearest_same_arm
from cohortlab.causal.matching import match
from cohortlab.exceptions import DataValidationError, MissingDataError

LALONDE_PS = "age + educ + race + married + nodegree + re74 + re75"
SIM_PS = "age + female + bmi + diabetes + C(smoking) + af_flag + C(site)"
REL = 1e-6


@pytest.fixture(scope="module")
def ref() -> dict:
    return load_reference("matching_ai/lalonde_matching")["cases"]


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    return cl.datasets.load_lalonde()


def _m(d, **kw):
    base = dict(exposure="treat", covariates=LALONDE_PS, outcome="re78", distance="ps",
                caliper=None, replace=True, ties=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return match(d, **{**base, **kw})


# ---------------------------------------------------------------------- (a) R Matching
@pytest.mark.parametrize("case, kw", [
    ("ps_att_m1", {}),
    ("ps_att_m1_biasadj_cov", {"bias_adjust": True}),
    ("ps_att_m3", {"ratio": 3}),
    ("ps_att_m3_biasadj_cov", {"ratio": 3, "bias_adjust": True}),
    ("ps_atc_m1", {"estimand": "ATC"}),
    ("ps_atc_m1_biasadj_cov", {"estimand": "ATC", "bias_adjust": True}),
    ("ps_ate_m1", {"estimand": "ATE"}),
    ("ps_ate_m1_biasadj_cov", {"estimand": "ATE", "bias_adjust": True}),
])
def test_lalonde_estimate_and_ai_se_match_r_matching(lalonde, ref, case, kw):
    r = ref[case]
    m = _m(lalonde, **kw)
    e = m.estimate
    assert e.ci_method == "abadie_imbens" and m.variance == "abadie_imbens"
    assert e.estimate == pytest.approx(r["est"], rel=REL)
    assert e.extra["std_error_ps_known"] == pytest.approx(r["se"], rel=REL)
    assert len(m.data) - m.counts["n_sets"] == r["n_match_rows"]
    # the estimated-score term is applied on top and recorded
    assert e.std_error != e.extra["std_error_ps_known"]
    assert "Abadie & Imbens (2016)" in " ".join(e.notes)


@pytest.mark.parametrize("case", ["ps_ate_m1", "ps_ate_m1_biasadj_cov"])
def test_lalonde_ate_kernel_matches_r_matching(lalonde, ref, case):
    """The ATE (every unit matched to the other arm; kernel only, match() targets ATT/ATC)."""
    r = ref[case]
    m = _m(lalonde)
    p, a, y = m.propensity.scores.to_numpy(), m._a, lalonde["re78"].to_numpy()
    sets = [nearest_neighbours(p, a == arm, replace=True, ties=True) for arm in (1, 0)]
    both = [MatchedPairs.from_sets(s.focal, s.controls) for s in sets]
    pairs = MatchedPairs(*(np.r_[getattr(both[0], f), getattr(both[1], f)]
                           for f in ("focal", "control", "weight")))
    z = m.propensity._design.X[:, 1:] if r["bias_adjust"] else None
    res = abadie_imbens_ate(y, a, pairs, conditional_variance(p, a, y), z)
    assert pairs.focal.size == r["n_match_rows"]
    assert res.estimate == pytest.approx(r["est"], rel=REL)
    assert math.sqrt(res.variance) == pytest.approx(r["se"], rel=REL)


def test_ate_matches_both_arms_and_its_weights_sum_to_n_per_arm(lalonde):
    m = _m(lalonde, estimand="ATE")
    assert m.counts["n_sets"] == len(lalonde)
    f = m.to_frame().set_index("arm")
    assert f["focal"].all() and np.allclose(f["sum_weights"], len(lalonde))
    assert "each to the other arm" in m.notes[0]
    # the estimated-score term lowers the ATE's variance (Abadie & Imbens 2016, Theorem 1)
    assert m.estimate.std_error < m.estimate.extra["std_error_ps_known"]


def test_lalonde_precomputed_scores_bias_adjust_on_the_distance(lalonde, ref):
    """ps given as a column: regression on the score (Match's default Z = X), score known."""
    m0 = _m(lalonde)
    d = lalonde.assign(ps=m0.propensity.scores.to_numpy())
    r = ref["ps_att_m1_biasadj_ps"]
    e = _m(d, covariates=None, ps="ps", bias_adjust=True).estimate
    assert e.estimate == pytest.approx(r["est"], rel=REL)
    assert e.std_error == pytest.approx(r["se"], rel=REL)
    assert e.std_error == e.extra["std_error_ps_known"]
    assert "treated as known" in " ".join(e.notes)


def test_lalonde_logit_distance_near_ties_differ_from_r_only_slightly(lalonde, ref):
    """On the logit Matching's internal tolerance (1e-10 on the squared standardised
    distance) also ties two near-equal pairs (211 rows vs 209): 2e-4 relative."""
    r = ref["logit_att_m1"]
    e = _m(lalonde, distance="logit").estimate
    assert e.estimate == pytest.approx(r["est"], rel=1e-3)
    assert e.extra["std_error_ps_known"] == pytest.approx(r["se"], rel=1e-3)


def test_ai_se_is_larger_than_the_pair_clustered_se_that_ignores_reuse(lalonde, ref):
    ai = _m(lalonde).estimate
    cl_ = _m(lalonde, variance="cluster").estimate
    assert ai.estimate == cl_.estimate
    assert cl_.ci_method == "wald_cluster"
    assert ai.extra["std_error_ps_known"] > 1.5 * cl_.std_error


# ---------------------------------------------------------------------- (b) kernels
def _brute_ties(d, focal, k):
    out = []
    ctrl = np.flatnonzero(~focal)
    for i in np.flatnonzero(focal):
        dist = np.abs(d[ctrl] - d[i])
        kth = np.sort(dist)[min(k, ctrl.size) - 1]
        out.append(sorted(ctrl[dist <= kth].tolist()))
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_tied_matching_keeps_every_control_as_near_as_the_kth(seed, k):
    rng = np.random.default_rng(seed)
    n = 60
    d = rng.integers(0, 25, n).astype(float) / 4  # many exact ties, equidistant pairs too
    focal = rng.random(n) < 0.35
    nn = nearest_neighbours(d, focal, ratio=k, replace=True, ties=True)
    got = [sorted(r[r >= 0].tolist()) for r in nn.controls]
    assert got == _brute_ties(d, focal, k)


def test_within_arm_variance_matches_its_definition():
    rng = np.random.default_rng(3)
    n = 50
    d = rng.integers(0, 15, n).astype(float)
    a = (rng.random(n) < 0.5).astype(int)
    y = rng.normal(size=n)
    got = conditional_variance(d, a, y)
    for i in range(n):
        same = np.flatnonzero((a == a[i]) & (np.arange(n) != i))
        dist = np.abs(d[same] - d[i])
        grp = np.r_[y[i], y[same[dist <= dist.min()]]]
        assert got[i] == pytest.approx(np.var(grp, ddof=1), rel=1e-12)
    assert nearest_same_arm(d, a == 1).shape[0] == int(a.sum())


def test_ai_variance_by_a_dense_weight_matrix():
    """Abadie-Imbens (2006) eq. (ATT, population): from the n1 x n0 matrix of w_ij."""
    rng = np.random.default_rng(8)
    n = 80
    d = rng.random(n)
    a = (rng.random(n) < 0.4).astype(int)
    y = rng.normal(size=n) + a
    s2 = rng.random(n)
    nn = nearest_neighbours(d, a == 1, ratio=2, replace=True)
    r = abadie_imbens(y, MatchedPairs.from_sets(nn.focal, nn.controls), s2)
    W = np.zeros((n, n))
    for i, row in zip(nn.focal, nn.controls, strict=True):
        W[i, row] = 1.0 / 2
    t = np.flatnonzero(a == 1)
    diff = y[t] - W[t] @ y
    K, KK = W.sum(axis=0), (W ** 2).sum(axis=0)
    tau = diff.mean()
    v = (np.sum((diff - tau) ** 2) + np.sum(s2 * (K ** 2 - KK))) / t.size ** 2
    assert r.estimate == pytest.approx(tau, rel=1e-12)
    assert r.variance == pytest.approx(v, rel=1e-12)


# ---------------------------------------------------------------------- (c) options
def test_default_variance_follows_replace_and_bias_adjust():
    d = cl.simulate_cohort(600, random_state=1)
    kw = dict(exposure="treated", covariates=SIM_PS, outcome="sbp_12m")
    assert match(d, **kw).estimate.ci_method == "wald_cluster"
    m = match(d, replace=True, **kw)
    assert m.variance == "abadie_imbens" and m.estimate.ci_method == "abadie_imbens"
    assert "Abadie-Imbens SE" in str(m)
    b = match(d, bias_adjust=True, **kw)
    assert b.estimate.ci_method == "abadie_imbens" and "bias-corrected" in " ".join(
        b.estimate.notes)
    # effect() can switch either way after matching
    assert m.effect("sbp_12m", variance="cluster").ci_method == "wald_cluster"
    assert m.effect("sbp_12m", bias_adjust=True).estimate != m.estimate.estimate


def test_ratio_measures_and_weights_fall_back_to_the_cluster_se_with_a_note():
    d = cl.simulate_cohort(800, random_state=2)
    kw = dict(exposure="treated", covariates=SIM_PS, replace=True)
    e = match(d, outcome="mace_1y", effect_measure="ratio", **kw).estimate
    assert e.ci_method == "wald_cluster"
    assert "Abadie-Imbens SE not available with effect_measure='ratio'" in " ".join(e.notes)
    dw = d.assign(w=np.random.default_rng(0).uniform(0.5, 2, len(d)))
    e = match(dw, outcome="sbp_12m", weights="w", **kw).estimate
    assert e.ci_method == "wald_cluster" and "sampling weights" in " ".join(e.notes)
    with pytest.raises(DataValidationError, match="mean differences without sampling"):
        match(d, outcome="mace_1y", effect_measure="ratio", variance="abadie_imbens", **kw)


@pytest.mark.parametrize("kwargs, msg", [
    ({"ties": True}, "ties=True .* needs matching with replacement"),
    ({"bias_adjust": True, "variance": "cluster"}, "bias_adjust=True needs"),
    ({"variance": "bootstrap"}, "variance"),
    ({"bias_adjust": "yes"}, "bias_adjust must be True or False"),
])
def test_bad_variance_options(kwargs, msg):
    d = cl.simulate_cohort(300, random_state=0)
    with pytest.raises(DataValidationError, match=msg):
        match(d, exposure="treated", covariates=SIM_PS, outcome="sbp_12m", **kwargs)


def test_missing_outcome_outside_the_matched_cohort_is_named():
    d = cl.simulate_cohort(600, random_state=4)
    m = match(d, exposure="treated", covariates=SIM_PS, replace=True)
    unused = d.index[~d.index.isin(m.data.index)][:3]
    m2 = match(d.assign(y=d["sbp_12m"].where(~d.index.isin(unused))), exposure="treated",
               covariates=SIM_PS, replace=True)
    with pytest.raises(MissingDataError, match="3 missing values among the analysed"):
        m2.effect("y")
    assert m2.effect("y", variance="cluster").estimate == pytest.approx(
        m.effect("sbp_12m").estimate)


# ---------------------------------------------------------------------- (d) truth
def _study(n_rep: int, seed: int, *, n: int = 1000, confounding: float = 0.5,
           caliper: float | None = None, outcome: str = "sbp_12m",
           bias_adjust: bool = False, estimand: str = "ATT") -> dict[str, float]:
    """Replicates of matching with replacement: coverage of the truth in the matched focal
    subjects (the exposed for the ATT, everyone for the ATE)."""
    rng = np.random.default_rng(seed)
    po = {"sbp_12m": ("sbp_12m_a1", "sbp_12m_a0"), "mace_1y": ("mace_1y_p1", "mace_1y_p0")}
    hits, errs, ses = [], [], []
    for _ in range(n_rep):
        d = cl.simulate_cohort(n, random_state=int(rng.integers(2**31)),
                               confounding=confounding, potential_outcomes=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = match(d, exposure="treated", covariates=SIM_PS, outcome=outcome,
                      replace=True, caliper=caliper, bias_adjust=bias_adjust,
                      estimand=estimand)
        ids = m.data["match_id"].to_numpy()
        t = m.data[np.r_[True, ids[1:] != ids[:-1]]]  # the focal subject of each set
        truth = float((t[po[outcome][0]] - t[po[outcome][1]]).mean())
        e = m.estimate
        hits.append(e.conf_low <= truth <= e.conf_high)
        errs.append(e.estimate - truth)
        ses.append(e.std_error)
    errs_ = np.asarray(errs)
    return {"coverage": float(np.mean(hits)), "bias": float(errs_.mean()),
            "mcse": float(errs_.std() / math.sqrt(n_rep)), "sd": float(errs_.std()),
            "mean_se": float(np.mean(ses))}


def test_coverage_of_the_matched_exposed_effect_reduced():
    """100 cohorts of 1,000 (replace=True, no caliper, AI SE with the estimated-PS term)."""
    r = _study(100, 501)
    assert r["coverage"] >= 0.88, r
    assert abs(r["bias"]) < 3 * r["mcse"], r


@pytest.mark.slow
def test_coverage_of_the_matched_exposed_effect_full():
    """1,000 cohorts of 2,000: nominal 95% coverage."""
    r = _study(1000, 502, n=2000)
    assert 0.935 <= r["coverage"] <= 0.965, r
    assert abs(r["bias"]) < 3 * r["mcse"], r


def test_ate_coverage_reduced():
    r = _study(100, 511, estimand="ATE")
    assert r["coverage"] >= 0.88, r
    assert abs(r["bias"]) < 3 * r["mcse"], r


@pytest.mark.slow
def test_ate_coverage_full():
    r = _study(1000, 512, n=2000, estimand="ATE")
    assert 0.935 <= r["coverage"] <= 0.965, r
    assert abs(r["bias"]) < 3 * r["mcse"], r


def _two_covariate_study(n_rep: int, seed: int, n: int = 1000) -> dict[str, float]:
    """A design where the estimated-score term matters: the outcome varies along the level
    sets of the score (so matching on the estimated score differs from the true one) and the
    effect varies with the score (so the ATT's weighting by the score is estimated too)."""
    rng = np.random.default_rng(seed)
    est, se, se_known = [], [], []
    for _ in range(n_rep):
        x1, x2 = rng.normal(size=n), rng.normal(size=n)
        a = (rng.random(n) < 1 / (1 + np.exp(0.5 - 0.8 * x1 - 0.8 * x2))).astype(int)
        y = 2 * x1 - 2 * x2 + a * (1 + x1 + x2) + rng.normal(size=n)
        e = match(pd.DataFrame({"a": a, "x1": x1, "x2": x2, "y": y}), exposure="a",
                  covariates="x1 + x2", outcome="y", replace=True, caliper=None).estimate
        est.append(e.estimate)
        se.append(e.std_error)
        se_known.append(e.extra["std_error_ps_known"])
    # ATT = E[p(X) (1 + x1 + x2)] / E[p(X)], by numerical integration over x1 + x2 ~ N(0, 2)
    s = np.linspace(-10, 10, 20001)
    dens = np.exp(-s ** 2 / 4)
    p = 1 / (1 + np.exp(0.5 - 0.8 * s))
    truth = float(np.sum(dens * p * (1 + s)) / np.sum(dens * p))
    err = np.asarray(est) - truth
    return {"sd": float(np.std(est)), "se": float(np.mean(se)),
            "se_known": float(np.mean(se_known)), "bias": float(err.mean()),
            "coverage": float(np.mean(np.abs(err) <= 1.96 * np.asarray(se))),
            "coverage_known": float(np.mean(np.abs(err) <= 1.96 * np.asarray(se_known)))}


def test_estimated_score_term_brings_the_se_to_the_sd_reduced():
    r = _two_covariate_study(60, 601)
    assert r["se_known"] > 1.15 * r["se"], r  # treating the score as known: too wide here
    assert 0.8 < r["se"] / r["sd"] < 1.25, r


@pytest.mark.slow
def test_estimated_score_term_coverage_full():
    """1,000 replicates of 2,000: with the term 0.950 (SE 0.187, SD 0.184); treating the
    score as known 0.986 (SE 0.235). At n = 1,000 the term's SE is 4% small (0.934)."""
    r = _two_covariate_study(1000, 602, n=2000)
    assert 0.935 <= r["coverage"] <= 0.965, r
    assert r["coverage_known"] > 0.975, r


# ---------------------------------------------------------------------- (e) bias correction
def _conditional_bias(m) -> float:
    """Exact bias of the matched risk difference given the matches: the mean over the matched
    exposed of their risk had they been unexposed minus their controls' (weighted)."""
    rows = m.data
    p0, w = rows["mace_1y_p0"].to_numpy(), rows["match_weight"].to_numpy()
    a = rows["treated"].to_numpy()
    return float((p0[a == 1].sum() - (w * p0)[a == 0].sum()) / (a == 1).sum())


def test_bias_correction_removes_the_default_caliper_bias_reduced():
    """One cohort of 50,000, default matching (1:1, no replacement, caliper 0.2 SD): the
    matched controls are a little less sick than their exposed (greedy matching runs short
    of controls where scores are high), a bias of ~+0.0035 in the risk difference; the
    logistic bias correction moves the estimate by that amount."""
    d = cl.simulate_cohort(50_000, random_state=11, potential_outcomes=True)
    m = match(d, exposure="treated", covariates=SIM_PS, outcome="mace_1y")
    bias = _conditional_bias(m)
    adj = m.effect("mace_1y", bias_adjust=True)
    correction = m.estimate.estimate - adj.estimate
    assert bias > 0.002, bias
    assert abs(correction - bias) < 0.25 * bias, (correction, bias)
    assert "logistic regression" in " ".join(adj.notes)
    assert adj.ci_method == "abadie_imbens"


@pytest.mark.slow
def test_bias_correction_removes_the_default_caliper_bias_full():
    """1,000 cohorts of 2,000: the default-caliper bias against the truth in the matched
    exposed (> 3 Monte Carlo SEs) disappears with bias_adjust=True."""
    rng = np.random.default_rng(701)
    plain, adj = [], []
    for _ in range(1000):
        d = cl.simulate_cohort(2000, random_state=int(rng.integers(2**31)),
                               potential_outcomes=True)
        m = match(d, exposure="treated", covariates=SIM_PS, outcome="mace_1y")
        t = m.data[m.data["treated"] == 1]
        truth = float((t["mace_1y_p1"] - t["mace_1y_p0"]).mean())
        plain.append(m.estimate.estimate - truth)
        adj.append(m.effect("mace_1y", bias_adjust=True).estimate - truth)
    for errs, label in ((plain, "plain"), (adj, "adjusted")):
        e = np.asarray(errs)
        mcse = e.std() / math.sqrt(e.size)
        if label == "plain":
            assert e.mean() > 3 * mcse, (label, e.mean(), mcse)
        else:
            assert abs(e.mean()) < 2.5 * mcse, (label, e.mean(), mcse)
