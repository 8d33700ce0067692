"""propensity_score() and ipw() against R on NHEFS (What If ch. 12) and simulated truth.

References (tests/reference/, R 4.2.2 with geepack/sandwich; What If Programs 12.2-12.7):
nhefs_ipw_ate_msm.json, nhefs_ipw_att_overlap.json, nhefs_ipw_censoring_weights.json.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from helpers import load_reference

import cohortlab as cl
from cohortlab.exceptions import ConvergenceError, DataValidationError, PositivityWarning

PS = ("sex + race + age + I(age**2) + C(education) + smokeintensity + I(smokeintensity**2)"
      " + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active) + wt71 + I(wt71**2)")
ABS_EST = 1e-4  # JSON tolerance for point estimates
REL_HC0 = 1e-3  # robust (weights known) SE: closed form on both sides
REL_MEST = 5e-3  # M-estimation SE: JSON tolerance


@pytest.fixture(scope="module")
def nhefs() -> pd.DataFrame:
    return cl.datasets.load_nhefs()


@pytest.fixture(scope="module")
def uncensored(nhefs) -> pd.DataFrame:
    return nhefs.dropna(subset=["wt82"])


def test_ps_model_and_weights_match_what_if_program_12_2(uncensored):
    ref = load_reference("nhefs_ipw_ate_msm")["estimates"]["weights_summary"]
    ps = cl.propensity_score(uncensored, exposure="qsmk", covariates=PS)
    w = ps.weights
    assert ps.coef["Intercept"] == pytest.approx(-2.242519, abs=1e-5)  # Program 12.2
    assert (w.min(), w.mean(), w.max()) == pytest.approx(
        (ref["W_min"], ref["W_mean"], ref["W_max"]), abs=1e-4)
    assert w.std() == pytest.approx(ref["W_sd"], rel=1e-5)
    sw = cl.propensity_score(uncensored, exposure="qsmk", covariates=PS, stabilize=True).weights
    assert (sw.min(), sw.mean(), sw.max()) == pytest.approx(
        (ref["SW_min"], ref["SW_mean"], ref["SW_max"]), abs=1e-4)


def test_ipw_ate_both_variance_conventions_match_r(uncensored):
    ref = load_reference("nhefs_ipw_ate_msm")["estimates"]
    mest = cl.ipw(uncensored, exposure="qsmk", outcome="wt82_71", covariates=PS)
    robust = cl.ipw(uncensored, exposure="qsmk", outcome="wt82_71", covariates=PS,
                    variance="robust")
    assert mest.estimate == pytest.approx(ref["ate"], abs=ABS_EST)
    assert mest.std_error == pytest.approx(ref["se_mestimation_ps_estimated"], rel=REL_MEST)
    assert (mest.conf_low, mest.conf_high) == pytest.approx(ref["ci_mestimation"], abs=1e-3)
    assert robust.std_error == pytest.approx(ref["se_robust_HC0"], rel=REL_HC0)
    assert (robust.conf_low, robust.conf_high) == pytest.approx(ref["ci_robust"], abs=1e-3)
    assert mest.extra["mean_1"] == pytest.approx(ref["E_Y1_hajek"], abs=ABS_EST)
    assert mest.extra["mean_0"] == pytest.approx(ref["E_Y0_hajek"], abs=ABS_EST)
    assert mest.ci_method == "sandwich_mestimation"
    assert robust.ci_method == "sandwich_known_weights"
    assert abs(mest.estimate - 3.4) < 0.05  # What If 12.2: 3.4 kg (2.4, 4.5)


def test_ipw_binary_outcome_log_or_and_rd_match_r(uncensored):
    ref = load_reference("nhefs_ipw_ate_msm")["estimates"]
    lor = cl.ipw(uncensored, exposure="qsmk", outcome="death", covariates=PS,
                 effect_measure="odds_ratio", variance="robust")
    assert np.log(lor.estimate) == pytest.approx(ref["msm_logistic_death_stabilized_log_or"]["est"],
                                                 abs=ABS_EST)
    assert lor.std_error == pytest.approx(ref["msm_logistic_death_stabilized_log_or"]["se"],
                                          rel=REL_HC0)
    rd = cl.ipw(uncensored, exposure="qsmk", outcome="death", covariates=PS, variance="robust")
    assert rd.estimate == pytest.approx(ref["ipw_risk_difference_death"]["est"], abs=1e-6)
    assert rd.std_error == pytest.approx(ref["ipw_risk_difference_death"]["se"], rel=REL_HC0)
    assert rd.effect_measure == "risk_difference" and lor.effect_measure == "odds_ratio"


@pytest.mark.parametrize("estimand", ["ATT", "ATO"])
def test_ipw_att_and_overlap_match_r(uncensored, estimand):
    ref = load_reference("nhefs_ipw_att_overlap")["estimates"][estimand.lower()]
    mest = cl.ipw(uncensored, exposure="qsmk", outcome="wt82_71", covariates=PS, estimand=estimand)
    robust = cl.ipw(uncensored, exposure="qsmk", outcome="wt82_71", covariates=PS,
                    estimand=estimand, variance="robust")
    assert mest.estimate == pytest.approx(ref["est"], abs=ABS_EST)
    assert mest.std_error == pytest.approx(ref["se_mestimation"], rel=REL_MEST)
    assert robust.std_error == pytest.approx(ref["se_HC0_fixed_weights"], rel=REL_MEST)
    assert mest.extra["mean_1"] == pytest.approx(ref["E_Y1"], abs=ABS_EST)
    assert mest.extra["mean_0"] == pytest.approx(ref["E_Y0"], abs=ABS_EST)


def test_overlap_weights_balance_ps_terms_exactly(uncensored):
    """Li, Morgan & Zaslavsky (2018): overlap weights give identical weighted means."""
    ref = load_reference("nhefs_ipw_att_overlap")["estimates"]["ato"]["exact_balance_property"]
    ps = cl.propensity_score(uncensored, exposure="qsmk", covariates=PS, estimand="ATO")
    bal = ps.table1(["age", "wt71", "smokeintensity", "smokeyrs"]).stats
    for var, val in [("age", 45.17613866), ("wt71", 71.71658312),
                     ("smokeintensity", 19.42723207), ("smokeyrs", 25.61059319)]:
        means = bal[(bal.variable == var) & (bal.group != "Overall")]["mean"]
        assert means.to_numpy() == pytest.approx([val, val], abs=1e-6), (var, ref)


def test_ipw_with_censoring_weights_matches_program_12_7(nhefs):
    ref = load_reference("nhefs_ipw_censoring_weights")["estimates"]
    est = cl.ipw(nhefs, exposure="qsmk", outcome="wt82_71", covariates=PS,
                 censoring_covariates=PS, variance="robust")
    assert est.estimate == pytest.approx(ref["ate"], abs=ABS_EST)
    assert est.std_error == pytest.approx(ref["se_robust"], rel=REL_HC0)
    assert est.n == 1629 and "63 subjects with missing outcome" in est.summary()
    mest = cl.ipw(nhefs, exposure="qsmk", outcome="wt82_71", covariates=PS,
                  censoring_covariates=PS)
    assert mest.estimate == est.estimate and mest.std_error < est.std_error


def test_mestimation_se_matches_bootstrap_that_refits_the_ps(uncensored):
    """No R number for this one: the PS-refitting bootstrap SE agrees with the sandwich."""
    boot = cl.ipw(uncensored, exposure="qsmk", outcome="wt82_71", covariates=PS,
                  variance="bootstrap", n_boot=300, random_state=3, n_jobs=2)
    mest = cl.ipw(uncensored, exposure="qsmk", outcome="wt82_71", covariates=PS)
    assert boot.std_error == pytest.approx(mest.std_error, rel=0.15)
    assert boot.ci_method == "bootstrap_percentile"


def _coverage(n_rep: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    hits = {"ATE": 0, "ATT": 0}
    truth = None
    for _ in range(n_rep):
        d = cl.simulate_cohort(1500, random_state=int(rng.integers(2**31)))
        truth = d.attrs["truth"]["continuous"]
        for estimand in hits:
            e = cl.ipw(d, exposure="treated", outcome="sbp_12m", estimand=estimand,
                       covariates="age + female + bmi + diabetes + C(smoking) + af_flag + C(site)")
            hits[estimand] += e.conf_low <= truth[estimand] <= e.conf_high
    return {k: v / n_rep for k, v in hits.items()}


def test_coverage_on_simulated_cohort_reduced():
    """Reduced CI version (100 cohorts): M-estimation CIs cover simulate_cohort's true ATE/ATT."""
    cov = _coverage(100, 101)
    assert all(0.88 <= v <= 1.0 for v in cov.values()), cov


@pytest.mark.slow
def test_coverage_on_simulated_cohort_full():
    """500 cohorts: coverage within 3 MC SEs (0.03) of 0.95."""
    cov = _coverage(500, 102)
    assert all(abs(v - 0.95) < 0.03 for v in cov.values()), cov


def test_trim_and_truncate_are_recorded(uncensored):
    est = cl.ipw(uncensored, exposure="qsmk", outcome="wt82_71", covariates=PS,
                 trim=(0.1, 0.9), truncate=(0.01, 0.99))
    text = " ".join(est.notes)
    assert "trimmed with propensity score outside [0.100, 0.900]" in text
    assert "weights truncated at the [0.01, 0.99] quantiles" in text
    n_out = int(((est.diagnostics.scores < 0.1) | (est.diagnostics.scores > 0.9)).sum())
    assert est.n == len(uncensored) - n_out
    crump = cl.propensity_score(uncensored, exposure="qsmk", covariates=PS, trim="crump")
    assert "Crump" in " ".join(crump.notes)


def test_ml_model_needs_an_explicit_variance(uncensored):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with pytest.raises(DataValidationError, match="variance=\"mestimation\" needs the logistic"):
        cl.ipw(uncensored, exposure="qsmk", outcome="wt82_71", covariates=PS,
               model=LogisticRegression(max_iter=1000), variance="mestimation")
    est = cl.ipw(uncensored, exposure="qsmk", outcome="wt82_71", covariates=PS,
                 model=make_pipeline(StandardScaler(), LogisticRegression(C=1e6, max_iter=5000)))
    assert est.ci_method == "sandwich_known_weights"
    assert est.estimate == pytest.approx(3.4405, abs=0.02)  # ~unpenalised logistic


def _sim(n=400, seed=0):
    return cl.simulate_cohort(n, random_state=seed)


@pytest.mark.parametrize(
    ("mutate", "kwargs", "error", "match"),
    [
        (lambda d: d.assign(treated=d.site % 3), {}, DataValidationError,
         r"column 'treated' \(exposure\) must be binary .* got 3 distinct values"),
        (lambda d: d.assign(const=1.0), {"covariates": "age + const"}, DataValidationError,
         r"covariate column\(s\) \['const'\] are constant"),
        (lambda d: d.assign(sep=d.treated * 2.0 + 1.0), {"covariates": "age + sep"},
         ConvergenceError, r"'sep'\) perfectly predicts the exposure 'treated'"),
        # constant within one arm (every exposed subject has x = 1): quasi-complete separation
        (lambda d: d.assign(x=np.where(d.treated == 1, 1.0, d.female)), {"covariates": "age + x"},
         ConvergenceError, r"'x'\) perfectly predicts the exposure 'treated'"),
        (lambda d: d.assign(treated=0), {}, DataValidationError,
         r"must be binary|exposure group 'treated' = 1 has no rows"),
        (lambda d: d.assign(mace_1y=0), {}, DataValidationError, r"has no events among"),
        (lambda d: d, {"estimand": "ATX"}, DataValidationError, r"estimand must be one of"),
        (lambda d: d, {"covariates": "age + bmii"}, DataValidationError, "Did you mean 'bmi'"),
    ],
)
def test_bad_input(mutate, kwargs, error, match):
    d = mutate(_sim())
    args = dict(exposure="treated", outcome="mace_1y", covariates="age + female + bmi")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        cl.ipw(d, **args)


def test_ps_near_zero_warns_with_counts():
    d = _sim(2000, 1)
    d = d.assign(strong=np.where(d.treated == 1, d.age / 10, -d.age / 10)
                 + np.random.default_rng(5).normal(0, 3.2, len(d)))
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ps = cl.propensity_score(d, exposure="treated", covariates="strong")
    pos = [w for w in caught if isinstance(w.message, PositivityWarning)]
    assert pos and re.search(r"\d+ subjects have propensity score < 0.01", str(pos[0].message))
    assert any("propensity score < 0.01" in n for n in ps.notes)


def test_propensity_score_renders_and_plots(uncensored):
    ps = cl.propensity_score(uncensored, exposure="qsmk", covariates=PS, estimand="ATT")
    assert "Propensity score · ATT weights" in ps.summary()
    bal = ps.balance()
    assert {"smd_unweighted", "smd_weighted", "var_ratio_weighted"} <= set(bal.columns)
    assert (bal.loc[bal.level == "", "smd_weighted"].abs() < 0.1).all()
    assert ps.plot_overlap() is not None and ps.plot_balance() is not None
    ess = ps.ess()
    assert ess[1] == pytest.approx(403.0)  # ATT: exposed weights are all 1


@pytest.mark.parametrize("kwargs", [{}, {"trim": (0.1, 0.9), "truncate": (0.02, 0.98)},
                                    {"estimand": "ATT"}])
def test_bootstrap_replicate_equals_refit_on_the_resampled_rows(uncensored, monkeypatch, kwargs):
    """Replicates use frequency weights instead of gathering rows: the numbers are identical."""
    import sys

    module = sys.modules["cohortlab.causal.ipw"]
    idx = np.random.default_rng(5).integers(0, len(uncensored), len(uncensored))
    captured = {}

    def fake_bootstrap(stat, n, **_):
        captured["value"] = stat(idx)
        raise KeyboardInterrupt  # stop after one replicate

    monkeypatch.setattr(module, "bootstrap", fake_bootstrap)
    with pytest.raises(KeyboardInterrupt):
        cl.ipw(uncensored, exposure="qsmk", outcome="wt82_71", covariates=PS,
               variance="bootstrap", **kwargs)
    resampled = uncensored.iloc[idx].reset_index(drop=True)
    direct = cl.ipw(resampled, exposure="qsmk", outcome="wt82_71", covariates=PS, **kwargs)
    assert captured["value"] == pytest.approx(direct.estimate, abs=1e-12)


def test_extreme_weights_and_low_ess_warn_with_counts_and_are_noted():
    """One exposed subject with a tiny score dominates the ATE weights of its arm."""
    import warnings

    from cohortlab.exceptions import (
        ExtremeWeightWarning,
        LowEffectiveSampleSizeWarning,
        PositivityWarning,
    )

    rng = np.random.default_rng(7)
    n = 400
    x = rng.normal(size=n)
    x[0] = -6.0
    a = rng.binomial(1, 1 / (1 + np.exp(-(0.5 + 1.2 * x))))
    a[0] = 1
    d = pd.DataFrame({"a": a, "x": x, "y": rng.normal(size=n)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = cl.ipw(d, exposure="a", outcome="y", covariates=["x"])
    kinds = {type(w.message) for w in caught}
    assert kinds == {PositivityWarning, ExtremeWeightWarning, LowEffectiveSampleSizeWarning}
    assert any("one subject with 'a' = 1 carries" in note for note in est.notes)
    assert any("effective sample size of 'a' = 1" in note for note in est.notes)
    with warnings.catch_warnings():  # without the outlier: none of the fragility warnings
        warnings.simplefilter("error")
        cl.ipw(d.iloc[1:], exposure="a", outcome="y", covariates=["x"])


def test_logistic_fit_halves_steps_where_plain_newton_diverges():
    # a rare binary covariate (2%) with log OR 5 and an intercept start at logit(ybar): plain
    # Newton jumps to a coefficient of -2e6 and never returns (checked when this test was
    # written); with step halving the fit converges to statsmodels' maximum
    import statsmodels.api as sm

    from cohortlab._glm import fit_logistic

    rng = np.random.default_rng(0)
    n = 300
    x = rng.binomial(1, 0.02, n).astype(float)
    z = rng.normal(size=n)
    y = rng.binomial(1, 1 / (1 + np.exp(-(-4.0 + 5.0 * x + 0.3 * z)))).astype(float)
    X = np.column_stack([np.ones(n), x, z])
    ours = fit_logistic(X, y, names=["Intercept", "x", "z"])
    ref = sm.Logit(y, X).fit(disp=0)
    assert ours.coef == pytest.approx(ref.params, abs=1e-7)
    assert ours.coef[1] == pytest.approx(5.306, abs=1e-3)
