"""msm(): weighted pooled logistic / Cox MSMs against R, standardised risks, bootstrap, truth.

Reference: tests/reference/msm/msm_reference.R on tests/reference/msm/data.csv:
``glm(Y ~ A + cum_A + period + I(period^2) + V, family = quasibinomial, weights = sw)`` on the
uncensored person-periods, ``sandwich::vcovCL(fit, cluster = ~id, type = "HC0")`` (cadjust
TRUE and FALSE), ``geepack::geeglm(..., corstr = "independence")``, and
``coxph(Surv(period, period + 1, Y) ~ A + cum_A + V, weights = sw, cluster = id)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_msm_dgp import simulate_msm_data, true_risks

from cohortlab.exceptions import CohortError
from cohortlab.longitudinal._msm import standardised_risks
from cohortlab.longitudinal.msm import msm
from cohortlab.longitudinal.weights import tv_weights

REF = Path(__file__).parent / "reference" / "msm"
RTOL_COEF = 1e-6   # both sides iterate the same likelihood to convergence (observed ~1e-14)
RTOL_SE = 1e-6     # observed ~1e-13 (R glm run with epsilon = 1e-14; at glm's default 1e-8
#                    vcovCL's bread uses working weights ~1e-6 from the converged fit)
TERMS = "A + cum_A + period + I(period**2) + V"
COMMON = dict(id="id", period="period", treatment="A", outcome="Y", covariates=["L", "V"],
              baseline=["V"], censor="C")


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REF / "data.csv").drop(columns="cum_A")


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((REF / "expected.json").read_text())


@pytest.fixture(scope="module")
def fit(data):
    return msm(data, **COMMON, msm_terms=TERMS, variance="robust", horizons=[3, 7])


def test_msm_coefficients_and_cluster_se_match_r(fit, expected):
    ref = expected["msm"]
    assert fit.model.terms == ("Intercept", "A", "cum_A", "period", "I(period ** 2)", "V")
    np.testing.assert_allclose(fit.model.params, ref["coef"], rtol=RTOL_COEF)
    np.testing.assert_allclose(fit.model.std_errors, ref["se_vcovCL_HC0"], rtol=RTOL_SE)
    np.testing.assert_allclose(fit.model.vcov, np.array(ref["vcov_vcovCL_HC0"]), rtol=1e-5,
                               atol=1e-10)
    assert fit.model.effect_measure == "odds_ratio"
    assert fit.model.n == expected["n_rows"] - 145 and fit.model.n_events == 138


def test_no_small_sample_factor_matches_vcovcl_noadj_and_geepack(data, expected):
    res = msm(data, **COMMON, msm_terms=TERMS, variance="robust", small_sample=False)
    np.testing.assert_allclose(res.model.std_errors, expected["msm"]["se_vcovCL_HC0_noadj"],
                               rtol=RTOL_SE)
    # geepack iterates to its own tolerance (observed ~1e-13 here)
    np.testing.assert_allclose(res.model.std_errors, expected["msm"]["se_geeglm"], rtol=1e-6)


def test_truncated_weights_msm_matches_r(data, expected):
    res = msm(data, **COMMON, msm_terms="A + period + V", truncate=(0.01, 0.99), variance="robust")
    np.testing.assert_allclose(res.model.params, expected["msm_truncated"]["coef"],
                               rtol=RTOL_COEF)
    np.testing.assert_allclose(res.model.std_errors, expected["msm_truncated"]["se_vcovCL_HC0"],
                               rtol=RTOL_SE)
    assert any("truncated at the 0.01 and 0.99 quantiles" in n for n in res.notes)


def test_weighted_cox_msm_matches_coxph(data, expected):
    res = msm(data, **COMMON, msm_terms="A + cum_A + V", model="cox")
    np.testing.assert_allclose(res.model.params, expected["cox"]["coef"], rtol=1e-6)
    np.testing.assert_allclose(res.model.std_errors, expected["cox"]["se_robust"], rtol=1e-6)
    assert res.model.effect_measure == "hazard_ratio" and res.risks is None


def test_standardised_risks_match_r(fit, expected):
    curve = fit.risks.to_frame()
    for name in ("always", "never"):
        got = curve.loc[curve["group"] == name, "estimate"].to_numpy()
        np.testing.assert_allclose(got, expected["risks"][name], rtol=1e-6)
    tab = fit.contrasts
    rd = [r for r in tab if r.term == "risk difference" and r.labels["period"] == 7][0]
    assert rd.estimate == pytest.approx(expected["risks"]["always"][7]
                                        - expected["risks"]["never"][7], rel=1e-6)


def test_supplied_weights_give_the_same_fit(data, fit):
    w = tv_weights(data, id="id", period="period", treatment="A", covariates=["L", "V"],
                   numerator=["V"], censor="C")
    res = msm(data, **{k: v for k, v in COMMON.items() if k != "covariates"}, weights=w,
              msm_terms=TERMS, variance="robust", horizons=[3, 7])
    np.testing.assert_allclose(res.model.params, fit.model.params, rtol=1e-12)
    np.testing.assert_allclose(res.contrasts.to_frame()["std_error"],
                               fit.contrasts.to_frame()["std_error"], rtol=1e-12)
    assert any("supplied" in n for n in res.notes)


def test_sandwich_risk_se_is_the_delta_method(data, fit):
    """Independent check: finite-difference gradient of the standardised risks + person term."""
    beta, vcov = fit.model.params, fit.model.vcov
    base = data.loc[data["period"] == 0, "V"].to_numpy()
    n, k = base.size, 8
    per = np.tile(np.arange(k, dtype=float), n)
    vv = np.repeat(base, k)

    def grid(a):
        return np.column_stack([np.ones(n * k), np.full(n * k, a), a * (per + 1), per,
                                per ** 2, vv])

    def rd(b):
        return (standardised_risks(b, grid(1.0), n, k)[0]
                - standardised_risks(b, grid(0.0), n, k)[0])[7]

    eps = 1e-6
    g = np.array([(rd(beta + eps * e) - rd(beta - eps * e)) / (2 * eps) for e in np.eye(6)])
    per_person = (standardised_risks(beta, grid(1.0), n, k)[1]
                  - standardised_risks(beta, grid(0.0), n, k)[1])[:, 7]
    var_v = ((per_person - per_person.mean()) ** 2).sum() / n ** 2 * n / (n - 1)
    # the cross term between the person term and the MSM score is small; allow 2%
    se = np.sqrt(g @ vcov @ g + var_v)
    got = [r for r in fit.contrasts if r.term == "risk difference"
           and r.labels["period"] == 7][0].std_error
    assert got == pytest.approx(se, rel=0.02)


def test_bootstrap_is_seeded_and_independent_of_n_jobs(data):
    kw = dict(**COMMON, msm_terms="A + period + V", n_boot=12, random_state=5)
    small = data[data["id"] < 120]
    a = msm(small, **kw, n_jobs=1)
    b = msm(small, **kw, n_jobs=2)
    fa, fb = a.contrasts.to_frame(), b.contrasts.to_frame()
    np.testing.assert_array_equal(fa["conf_low"], fb["conf_low"])
    np.testing.assert_array_equal(fa["std_error"], fb["std_error"])
    assert (fa["conf_low"] <= fa["estimate"]).all() and (fa["estimate"] <= fa["conf_high"]).all()
    assert set(fa["ci_method"]) == {"bootstrap_percentile"}
    assert a.risks.ci_method == "bootstrap_percentile"


def test_result_renders(fit):
    text = fit.summary()
    assert "always vs never" in text and "risk difference" in text
    assert "vcov" not in text and "G/(G-1)" in text
    assert fit.to_frame().shape[0] == 8
    assert fit.model.tidy().shape[0] == 6


def test_errors_name_the_problem(data):
    with pytest.raises(CohortError, match="msm_terms may use"):
        msm(data, **COMMON, msm_terms="A + L", variance="robust")
    with pytest.raises(CohortError, match="constant within person"):
        msm(data, **{**COMMON, "baseline": ["L"]}, variance="robust")
    with pytest.raises(CohortError, match="covariates="):
        msm(data, **{**COMMON, "covariates": None}, variance="robust")
    bad = data.copy()
    first = bad.index[(bad["period"] == 0) & (bad["Y"] == 0) & (bad["C"] == 0)
                      & bad["id"].duplicated(keep=False)][0]
    bad.loc[first, "Y"] = 1
    with pytest.raises(CohortError, match="after their event"):
        msm(bad, **COMMON, variance="robust")
    with pytest.raises(CohortError, match="horizons"):
        msm(data, **COMMON, horizons=[12], variance="robust")



def test_errors_raised_in_private_helpers_name_the_verb_called(data):
    """Checks inside msm's private helpers (and the ones strategy_curves shares) name the
    public verb the user called (issue 13)."""
    import cohortlab as cl

    with pytest.raises(CohortError, match=r"^msm\(\): column 'L' \(baseline\) must be "):
        msm(data, **{**COMMON, "baseline": ["L"]}, variance="robust")  # _check_baseline
    with pytest.raises(CohortError, match=r"^msm\(\): weights must be finite"):
        msm(data, **COMMON, weights=np.ones(3), variance="robust")  # _supplied_weights
    with pytest.raises(CohortError, match=r"^msm\(\): horizons must be periods"):
        msm(data, **COMMON, horizons=[12], variance="robust")  # _horizons
    with pytest.raises(CohortError, match=r"^msm\(\): truncate quantiles must satisfy"):
        msm(data, **COMMON, truncate=(0.99, 0.01), variance="robust")
    # percentiles (the convention before truncate had one vocabulary) are refused, not read
    # as the 0.01st and 0.99th quantiles
    with pytest.raises(CohortError, match=r"^msm\(\): truncate takes quantiles in \[0, 1\], "
                                          r"not percentiles; got \(1, 99\)\. Write "
                                          r"truncate=\(0\.01, 0\.99\)"):
        msm(data, **COMMON, truncate=(1, 99), variance="robust")
    # msm's _horizons run by strategy_curves names strategy_curves
    with pytest.raises(CohortError, match=r"^strategy_curves\(\): horizons must be periods"):
        cl.strategy_curves(data, id="id", period="period", treatment="A", outcome="Y",
                           covariates=["L", "V"], censor="C", horizons=[12], n_boot=2)


def test_known_truth_large_sample():
    """One large replicate of the feedback DGP: the MSM risk difference is within 3 SE."""
    truth = true_risks(n_periods=6, n=200_000)
    true_rd = truth["always"].iloc[-1] - truth["never"].iloc[-1]
    d = simulate_msm_data(n=6000, n_periods=6, seed=11)
    res = msm(d, **COMMON, msm_terms=TERMS, variance="robust")
    rd = res.contrasts["risk difference"]
    assert abs(rd.estimate - true_rd) < 3 * rd.std_error
    # baseline-only adjustment (no time-varying weights) is biased on the same data
    crude = msm(d, **COMMON, msm_terms=TERMS, variance="robust", weights=np.where(
        d["C"].to_numpy() == 1, 0.0, 1.0))
    assert abs(crude.contrasts["risk difference"].estimate - true_rd) > 3 * rd.std_error


def _coverage(n_rep: int, n: int, seed: int, n_truth: int = 400_000) -> tuple[float, float]:
    truth = true_risks(n_periods=6, n=n_truth)
    true_rd = truth["always"].iloc[-1] - truth["never"].iloc[-1]
    hits, err = 0, []
    for r in range(n_rep):
        d = simulate_msm_data(n=n, n_periods=6, seed=seed + r)
        rd = msm(d, **COMMON, msm_terms=TERMS, variance="robust").contrasts["risk difference"]
        hits += rd.conf_low <= true_rd <= rd.conf_high
        err.append(rd.estimate - true_rd)
    return hits / n_rep, float(np.mean(err))


def _coverage_simulate_longitudinal(n_rep: int, n: int, seed: int) -> tuple[float, float]:
    import cohortlab as cl

    hits, err = 0, []
    for r in range(n_rep):
        d = cl.simulate_longitudinal(n=n, n_periods=6, random_state=seed + r)
        truth = d.attrs["truth"]
        last = truth[truth["period"] == 5].set_index("strategy")["risk"]
        true_rd = last["always"] - last["never"]
        rd = msm(d, **COMMON, competing="D", msm_terms=TERMS,
                 variance="robust").contrasts["risk difference"]
        hits += rd.conf_low <= true_rd <= rd.conf_high
        err.append(rd.estimate - true_rd)
    return hits / n_rep, float(np.mean(err))


def test_coverage_reduced():
    cov, _ = _coverage(10, 800, 100, n_truth=100_000)
    assert cov >= 0.7


@pytest.mark.slow
def test_coverage_500_replicates():
    cov, bias = _coverage(500, 1000, 1000)
    # within Monte Carlo error of 95% (binomial SE 0.0097); measured 0.942, bias +0.002
    assert abs(cov - 0.95) <= 3 * 0.0097, (cov, bias)


@pytest.mark.slow
def test_coverage_simulate_longitudinal_500_replicates():
    """MSM-IPTW (+ IPCW, competing event) on simulate_longitudinal covers its true RD."""
    cov, bias = _coverage_simulate_longitudinal(500, 1000, 5000)
    assert abs(cov - 0.95) <= 3 * 0.0097, (cov, bias)


# ---------------------------------------------------------------------- competing event
@pytest.fixture(scope="module")
def competing_data() -> pd.DataFrame:
    return pd.read_csv(REF / "data_competing.csv").drop(columns="cum_A")


def test_competing_event_msms_and_cif_match_r(competing_data):
    """Reference: msm_reference.R, second part (data from simulate_longitudinal)."""
    ref = json.loads((REF / "expected_competing.json").read_text())
    res = msm(competing_data, **COMMON, competing="D", msm_terms=TERMS, variance="robust")
    np.testing.assert_allclose(res.weights.weights[competing_data["C"].to_numpy() == 0],
                               np.array(ref["sw"])[competing_data["C"].to_numpy() == 0],
                               rtol=1e-6)
    np.testing.assert_allclose(res.model.params, ref["outcome"]["coef"], rtol=RTOL_COEF)
    np.testing.assert_allclose(res.model.std_errors, ref["outcome"]["se_vcovCL_HC0"],
                               rtol=RTOL_SE)
    np.testing.assert_allclose(res.competing_model.params, ref["competing"]["coef"],
                               rtol=RTOL_COEF)
    np.testing.assert_allclose(res.competing_model.std_errors,
                               ref["competing"]["se_vcovCL_HC0"], rtol=RTOL_SE)
    curve = res.risks.to_frame()
    for name in ("always", "never"):
        np.testing.assert_allclose(curve.loc[curve["group"] == name, "estimate"],
                                   ref["cif"][name], rtol=1e-6)
    cox = msm(competing_data, **COMMON, competing="D", msm_terms="A + cum_A + V", model="cox")
    np.testing.assert_allclose(cox.model.params, ref["cox"]["coef"], rtol=1e-6)
    np.testing.assert_allclose(cox.model.std_errors, ref["cox"]["se_robust"], rtol=1e-6)


def test_competing_sandwich_se_is_the_delta_method(competing_data):
    """Finite-difference gradient of the standardised CIF in both MSMs' coefficients."""
    res = msm(competing_data, **COMMON, competing="D", msm_terms=TERMS, variance="robust")
    by, bd = res.model.params, res.competing_model.params
    base = competing_data.loc[competing_data["period"] == 0, "V"].to_numpy()
    n, k = base.size, 6
    per = np.tile(np.arange(k, dtype=float), n)
    vv = np.repeat(base, k)

    def grid(a):
        return np.column_stack([np.ones(n * k), np.full(n * k, a), a * (per + 1), per,
                                per ** 2, vv])

    def rd(theta):
        b1, b2 = theta[:6], theta[6:]
        return (standardised_risks(b1, grid(1.0), n, k, beta_d=b2)[0]
                - standardised_risks(b1, grid(0.0), n, k, beta_d=b2)[0])[-1]

    theta = np.concatenate([by, bd])
    eps = 1e-6
    g = np.array([(rd(theta + eps * e) - rd(theta - eps * e)) / (2 * eps) for e in np.eye(12)])
    # the two MSMs' scores are correlated within person; the joint sandwich is not block
    # diagonal, so compare only the gradient-driven part with each block and allow 10%
    se_blocks = np.sqrt(g[:6] @ res.model.vcov @ g[:6] + g[6:] @ res.competing_model.vcov
                        @ g[6:])
    got = res.contrasts["risk difference"].std_error
    assert got == pytest.approx(se_blocks, rel=0.10)


def test_simulate_longitudinal_truth_large_sample():
    """simulate_longitudinal (censoring + competing event): RD at the last period within 3 SE."""
    import cohortlab as cl

    df = cl.simulate_longitudinal(n=8000, n_periods=8, random_state=21, n_truth=100_000)
    truth = df.attrs["truth"]
    last = truth[truth["period"] == 7].set_index("strategy")["risk"]
    true_rd = last["always"] - last["never"]
    res = msm(df, **COMMON, competing="D", msm_terms=TERMS, variance="robust")
    rd = res.contrasts["risk difference"]
    assert abs(rd.estimate - true_rd) < 3 * rd.std_error
    # without the time-varying weights (baseline adjustment only) the estimate is biased
    naive = msm(df, **COMMON, competing="D", msm_terms=TERMS, variance="robust",
                weights=(df["C"].to_numpy() == 0).astype(float))
    assert abs(naive.contrasts["risk difference"].estimate - true_rd) > 3 * rd.std_error


def test_collapsed_fits_give_the_same_numbers(data, expected, monkeypatch):
    """Large designs with few distinct rows are fitted on them: the same MLE and sandwich."""
    from cohortlab.longitudinal import _weights

    monkeypatch.setattr(_weights, "COLLAPSE_MIN_ROWS", 100)
    monkeypatch.setattr(_weights, "COLLAPSE_MAX_SHARE", 0.5)
    res = msm(data, **COMMON, msm_terms=TERMS, variance="robust")
    np.testing.assert_allclose(res.model.params, expected["msm"]["coef"], rtol=RTOL_COEF)
    np.testing.assert_allclose(res.model.std_errors, expected["msm"]["se_vcovCL_HC0"],
                               rtol=RTOL_SE)
    ref = expected["models"]["treatment_numerator"]
    np.testing.assert_allclose(res.weights.models["treatment_numerator"].params,
                               list(ref.values()), rtol=RTOL_COEF, atol=1e-9)
    assert _weights._distinct_rows(np.ones((200, 2))) is not None


def test_risk_influence_closed_form_equals_the_recursion():
    """Without a competing event the gradient is closed-form; with a vanishing competing
    hazard the general recursion must give the same influence values."""
    from cohortlab.longitudinal._msm import risk_influence

    rng = np.random.default_rng(4)
    n, k, p = 50, 5, 3
    xs = np.column_stack([np.ones(n * k), rng.integers(0, 2, n * k), rng.normal(size=n * k)])
    beta = np.array([-2.0, 0.4, 0.3])
    ifl = rng.normal(size=(n, p))
    r_a, i_a = risk_influence(beta, xs, n, k, ifl)
    r_b, i_b = risk_influence(beta, xs, n, k, np.hstack([ifl, np.zeros((n, p))]),
                              np.array([-60.0, 0.0, 0.0]))
    np.testing.assert_allclose(r_a, r_b, rtol=1e-12)
    np.testing.assert_allclose(i_a, i_b, rtol=1e-10, atol=1e-14)


def test_censor_after_outcome_keeps_censored_rows_and_initiation_bootstraps(data):
    d = data.assign(Y=data["Y"].fillna(0.0))  # the censored rows' outcomes observed (0)
    res = msm(d, **COMMON, censor_timing="after_outcome", variance="robust")
    assert res.model.n == len(d)
    assert not any("get weight 0" in n for n in res.notes)
    small = data[data["id"] < 80]
    boot = msm(small, **COMMON, treatment_rows="untreated_before", n_boot=5, random_state=1)
    assert any("initiation" in n for n in boot.notes)
    assert np.isfinite(boot.contrasts["risk difference"].std_error)
