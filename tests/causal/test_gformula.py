"""gformula() against R on NHEFS (What If ch. 13 and 15) and against simulated truth.

References (tests/reference/, R 4.2.2; What If Programs 13.1-13.4 and 15.1-15.4):
nhefs_gformula_standardization.json (point estimates reproduce the cibookex-r output
1.660267 / 5.178841; bootstrap SE from boot::boot, R = 1000, seed 20240501),
nhefs_ps_outcome_regression_ch15.json, nhefs_aipw_tmle.json ("death_gformula").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import load_reference

import cohortlab as cl
from cohortlab.causal._outcome import outcome_design
from cohortlab.causal.gformula import gformula
from cohortlab.exceptions import DataValidationError, MissingDataError

L = ("sex + race + age + I(age**2) + C(education) + smokeintensity + I(smokeintensity**2)"
     " + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active) + wt71 + I(wt71**2)")
L_INT = L + " + I(qsmk*smokeintensity)"  # qsmk is added as a main effect (see the rule)
ABS_POINT = 1e-5  # JSON tolerance for the closed-form standardised means
ABS_CH15 = 1e-4  # JSON tolerance of the ch. 15 file
REL_BOOT_CI = 0.15  # bootstrap SE with 300 replicates in CI (Monte Carlo error ~4%, R's own ~2%)
REL_BOOT_FULL = 0.10  # JSON tolerance with 1000 replicates

SIM_OUT = "sbp + age + bmi + diabetes + C(smoking) + af_true + I(treated*diabetes)"
SIM_OUT_BIN = "sbp + age + female + bmi + diabetes + C(smoking) + af_true"


@pytest.fixture(scope="module")
def nhefs() -> pd.DataFrame:
    return cl.datasets.load_nhefs()


@pytest.fixture(scope="module")
def uncensored(nhefs) -> pd.DataFrame:
    return nhefs.dropna(subset=["wt82"])


def test_program_13_standardised_over_all_1629(nhefs):
    """What If 13.3: fit on the 1,566 uncensored, standardise over all 1,629."""
    ref = load_reference("nhefs_gformula_standardization")["estimates"]
    est = gformula(nhefs, exposure="qsmk", outcome="wt82_71", covariates=L,
                   outcome_covariates=L_INT, standardize_over="all")
    assert est.extra["mean_0"] == pytest.approx(ref["E_Y0"], abs=ABS_POINT)
    assert est.extra["mean_1"] == pytest.approx(ref["E_Y1"], abs=ABS_POINT)
    assert est.estimate == pytest.approx(ref["ate"], abs=ABS_POINT)
    assert est.n == 1629 and est.method == "gformula" and est.effect_measure == "mean_difference"
    text = " ".join(est.notes)
    assert "fitted on 1,566 rows" in text and "including 63 with missing outcome" in text
    assert est.ci_method == "influence_function"


def test_standardised_over_the_1566_analysed(uncensored):
    ref = load_reference("nhefs_gformula_standardization")["estimates"]["standardized_over_1566_only"]
    est = gformula(uncensored, exposure="qsmk", outcome="wt82_71", covariates=L,
                   outcome_covariates="qsmk + " + L_INT)  # exposure given explicitly: same model
    assert (est.extra["mean_1"], est.extra["mean_0"], est.estimate) == pytest.approx(
        (ref["E_Y1"], ref["E_Y0"], ref["ate"]), abs=ABS_POINT)
    assert est.n == 1566


def test_missing_outcome_needs_standardize_over_all_or_drop(nhefs):
    with pytest.raises(MissingDataError, match=r"63 of 1,629 rows .* wt82_71 \(63\)"):
        gformula(nhefs, exposure="qsmk", outcome="wt82_71", covariates=L)
    dropped = gformula(nhefs, exposure="qsmk", outcome="wt82_71", covariates=L_INT,
                       missing="drop")
    assert dropped.n == 1566 and dropped.dropped.by_column == {"wt82_71": 63}
    bad = nhefs.assign(age=nhefs["age"].where(nhefs.index != 3))
    with pytest.raises(MissingDataError, match=r"age \(1\)"):  # only the outcome may be missing
        gformula(bad, exposure="qsmk", outcome="wt82_71", covariates=L, standardize_over="all")


def test_no_product_term_gives_the_coefficient_and_its_hc0_se(uncensored):
    """A linear model without interaction: the standardised difference is the coefficient.

    Reference: What If Program 15.1 (3.462622). The influence-function SE (chain rule through
    the outcome model) must then equal the HC0 sandwich SE of that coefficient exactly.
    """
    import statsmodels.formula.api as smf

    ref = load_reference("nhefs_ps_outcome_regression_ch15")["estimates"]
    est = gformula(uncensored, exposure="qsmk", outcome="wt82_71", covariates=L)
    assert est.estimate == pytest.approx(ref["outcome_regression_no_interaction"]["est"],
                                         abs=ABS_CH15)
    ols = smf.ols("wt82_71 ~ qsmk + " + L, data=uncensored).fit(cov_type="HC0")
    assert est.estimate == pytest.approx(ols.params["qsmk"], abs=1e-8)
    assert est.std_error == pytest.approx(ols.bse["qsmk"], rel=1e-8)


def test_ps_standardization_program_15_4(nhefs):
    """PS fitted on all 1,629; outcome model qsmk * ps on the 1,566; standardised over 1,629."""
    ref = load_reference("nhefs_ps_outcome_regression_ch15")["estimates"]["ps_standardization"]
    ps = cl.propensity_score(nhefs, exposure="qsmk", covariates=L).scores
    d = nhefs.assign(ps=ps)
    assert ps.min() == pytest.approx(0.052981, abs=1e-6)
    est = gformula(d, exposure="qsmk", outcome="wt82_71", covariates=["ps"],
                   outcome_covariates="qsmk * ps", standardize_over="all")
    assert est.estimate == pytest.approx(ref["est"], abs=ABS_CH15)
    assert est.extra["mean_0"] == pytest.approx(ref["E_Y0"], abs=ABS_CH15)
    assert est.extra["mean_1"] == pytest.approx(ref["E_Y1"], abs=ABS_CH15)


def _boot(nhefs, n_boot):
    return gformula(nhefs, exposure="qsmk", outcome="wt82_71", covariates=L,
                    outcome_covariates=L_INT, standardize_over="all", variance="bootstrap",
                    n_boot=n_boot, random_state=20240501, n_jobs=2)


def test_bootstrap_se_reduced_300_replicates_looser_tolerance(nhefs):
    """CI version: 300 replicates (not R's 1000), SE within 15% of R's 0.458 (JSON: 10%)."""
    ref = load_reference("nhefs_gformula_standardization")["estimates"]
    est = _boot(nhefs, 300)
    assert est.ci_method == "bootstrap_percentile"
    assert est.estimate == pytest.approx(ref["ate"], abs=ABS_POINT)
    assert est.std_error == pytest.approx(ref["bootstrap_run_here"]["se"], rel=REL_BOOT_CI)
    assert est.extra["se_mean_1"] == pytest.approx(ref["bootstrap_run_here"]["se_E_Y1"],
                                                   rel=REL_BOOT_CI)
    assert est.extra["se_mean_0"] == pytest.approx(ref["bootstrap_run_here"]["se_E_Y0"],
                                                   rel=REL_BOOT_CI)
    assert (est.conf_low, est.conf_high) == pytest.approx((2.6, 4.5), abs=0.15)  # book 13.3


@pytest.mark.slow
def test_bootstrap_se_full_1000_replicates(nhefs):
    ref = load_reference("nhefs_gformula_standardization")["estimates"]["bootstrap_run_here"]
    est = _boot(nhefs, 1000)
    assert est.std_error == pytest.approx(ref["se"], rel=REL_BOOT_FULL)
    assert (est.conf_low, est.conf_high) == pytest.approx(ref["ci_percentile"], abs=0.15)


def test_influence_function_se_agrees_with_the_bootstrap(nhefs):
    """No R number for the IF SE: it agrees with the refitting bootstrap (300 replicates)."""
    est = gformula(nhefs, exposure="qsmk", outcome="wt82_71", covariates=L,
                   outcome_covariates=L_INT, standardize_over="all")
    assert est.std_error == pytest.approx(_boot(nhefs, 300).std_error, rel=0.15)


def test_logistic_outcome_model_death(uncensored):
    """Binary outcome: logistic outcome model, risks as in nhefs_aipw_tmle "death_gformula"."""
    ref = load_reference("nhefs_aipw_tmle")["estimates"]["death_gformula"]
    rd = gformula(uncensored, exposure="qsmk", outcome="death", covariates=L)
    rr = gformula(uncensored, exposure="qsmk", outcome="death", covariates=L,
                  effect_measure="ratio")
    assert (rd.extra["mean_1"], rd.extra["mean_0"]) == pytest.approx((ref["R1"], ref["R0"]),
                                                                     abs=1e-6)
    assert rd.estimate == pytest.approx(ref["RD"], abs=1e-6)
    assert rr.estimate == pytest.approx(ref["RR"], abs=1e-6)
    assert rd.effect_measure == "risk_difference" and rr.effect_measure == "risk_ratio"
    assert rd.n_events == int(uncensored["death"].sum())
    boot = gformula(uncensored, exposure="qsmk", outcome="death", covariates=L,
                    variance="bootstrap", n_boot=300, random_state=4, n_jobs=2)
    assert rd.std_error == pytest.approx(boot.std_error, rel=0.15)  # no R number: vs bootstrap


@pytest.mark.parametrize(("estimand", "arm"), [("ATT", 1), ("ATC", 0)])
def test_att_atc_standardise_over_the_exposed_or_unexposed(uncensored, estimand, arm):
    """OLS residuals sum to 0 within arms, so the factual arm's mean is its observed mean."""
    est = gformula(uncensored, exposure="qsmk", outcome="wt82_71", covariates=L_INT,
                   estimand=estimand)
    y = uncensored.loc[uncensored.qsmk == arm, "wt82_71"]
    assert est.extra[f"mean_{arm}"] == pytest.approx(y.mean(), abs=1e-9)
    assert est.estimand == estimand


def test_exposure_term_rule(uncensored):
    d = uncensored
    r = np.ones(len(d), dtype=bool)
    a = d["qsmk"].to_numpy()
    for rhs, added in [("age + I(qsmk*smokeintensity)", True), ("qsmk + age", False),
                       ("qsmk * smokeintensity", False), ("C(qsmk) + age", False),
                       (["age", "sex"], True), (["qsmk", "age"], False)]:
        od = outcome_design(d, a, r, "qsmk", rhs, "t", intercept=True)
        assert od.exposure_added is added, rhs
        if added:
            j = list(od.design.names).index("qsmk")
            assert (od.X1[:, j] == 1).all() and (od.X0[:, j] == 0).all()


def test_exposure_labels_with_reference(uncensored):
    base = gformula(uncensored, exposure="qsmk", outcome="wt82_71", covariates=L_INT)
    d = uncensored.assign(qsmk=np.where(uncensored.qsmk == 1, "quit", "smoker"))
    lab = gformula(d, exposure="qsmk", outcome="wt82_71", covariates=L_INT, reference="smoker")
    assert lab.estimate == pytest.approx(base.estimate, abs=1e-10)


def test_machine_learning_outcome_model_needs_the_bootstrap(uncensored):
    from sklearn.linear_model import LinearRegression

    with pytest.raises(DataValidationError, match=r"use variance=\"bootstrap\""):
        gformula(uncensored, exposure="qsmk", outcome="wt82_71", covariates=L,
                 outcome_model=LinearRegression())
    est = gformula(uncensored, exposure="qsmk", outcome="wt82_71", covariates=L_INT,
                   outcome_model=LinearRegression(), variance="bootstrap", n_boot=50,
                   random_state=1)
    ref = load_reference("nhefs_aipw_tmle")["estimates"]["plugin_gformula_same_outcome_model_1566"]
    assert est.estimate == pytest.approx(ref, abs=1e-6)  # OLS either way
    assert "LinearRegression" in " ".join(est.notes)


def test_cluster_and_weights(uncensored):
    d = uncensored.assign(w=2.0, cl=np.arange(len(uncensored)) // 4)
    base = gformula(d, exposure="qsmk", outcome="wt82_71", covariates=L_INT)
    wtd = gformula(d, exposure="qsmk", outcome="wt82_71", covariates=L_INT, weights="w")
    assert wtd.estimate == pytest.approx(base.estimate, abs=1e-10)
    assert wtd.std_error == pytest.approx(base.std_error, rel=1e-10)  # constant weights
    clus = gformula(d, exposure="qsmk", outcome="wt82_71", covariates=L_INT, cluster="cl")
    phi = base.influence
    g = pd.Series(phi).groupby(d["cl"].to_numpy()).sum().to_numpy()
    n, k = len(phi), len(g)
    assert clus.std_error == pytest.approx(np.sqrt(k / (k - 1) * (g**2).sum()) / n, rel=1e-10)


# ----------------------------------------------------------------------- simulated truth
def _coverage(n_rep: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    hits = {"ATE": 0, "ATT": 0, "RD": 0}
    for _ in range(n_rep):
        d = cl.simulate_cohort(1500, random_state=int(rng.integers(2**31)))
        truth = d.attrs["truth"]
        for estimand in ("ATE", "ATT"):
            e = gformula(d, exposure="treated", outcome="sbp_12m", covariates=SIM_OUT,
                         estimand=estimand)
            hits[estimand] += e.conf_low <= truth["continuous"][estimand] <= e.conf_high
        e = gformula(d, exposure="treated", outcome="mace_1y", covariates=SIM_OUT_BIN)
        hits["RD"] += e.conf_low <= truth["binary"]["ATE"]["risk_difference"] <= e.conf_high
    return {k: v / n_rep for k, v in hits.items()}


def test_coverage_on_simulated_cohort_reduced():
    """Reduced CI version (100 cohorts of 1,500): IF intervals cover the true ATE/ATT/RD.

    The outcome models are the DGP's (sbp_12m: linear in sbp, age, bmi, diabetes, current
    smoking, af_true and treated x diabetes; mace_1y: logistic, no interaction).
    """
    cov = _coverage(100, 301)
    assert all(0.88 <= v <= 1.0 for v in cov.values()), cov


@pytest.mark.slow
def test_coverage_on_simulated_cohort_full():
    """500 cohorts: coverage within 3 Monte Carlo SEs (0.029) of 0.95."""
    cov = _coverage(500, 302)
    assert all(abs(v - 0.95) < 0.029 for v in cov.values()), cov


# ----------------------------------------------------------------------- bad input
def _sim(n=400, seed=0):
    return cl.simulate_cohort(n, random_state=seed)


@pytest.mark.parametrize(
    ("mutate", "kwargs", "match"),
    [
        (lambda d: d.assign(mace_1y=0), {}, r"column 'mace_1y' \(outcome\) has no events among"),
        (lambda d: d.assign(treated=d.site % 3), {},
         r"column 'treated' \(exposure\) must be binary .* got 3 distinct values"),
        (lambda d: d.assign(treated=0), {}, r"'treated' \(exposure\) must be binary .* 1 distinct"),
        (lambda d: d, {"estimand": "ATO"}, r"estimand must be one of \{\"ATE\", \"ATT\", \"ATC\"\}"),
        (lambda d: d, {"effect_measure": "RD"}, r"effect_measure must be one of"),
        (lambda d: d, {"variance": "sandwich"}, r"variance must be one of"),
        (lambda d: d, {"standardize_over": "everyone"}, r"standardize_over must be one of"),
        (lambda d: d, {"outcome": "sbp_12m", "effect_measure": "odds_ratio"},
         r"odds_ratio\" needs a binary 0/1 outcome"),
        (lambda d: d, {"outcome_covariates": "age + bmii"}, r"Did you mean 'bmi'"),
        (lambda d: d.assign(sbp_12m=d.sbp_12m - 500), {"outcome": "sbp_12m",
                                                       "effect_measure": "ratio"},
         r"the ratio is undefined"),
    ],
)
def test_bad_input(mutate, kwargs, match):
    args = dict(exposure="treated", outcome="mace_1y", covariates="age + female + bmi")
    args.update(kwargs)
    with pytest.raises(DataValidationError, match=match):
        gformula(mutate(_sim()), **args)


def test_classifier_for_a_continuous_outcome_is_refused():
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(DataValidationError, match=r"is a classifier but the outcome is not"):
        gformula(_sim(), exposure="treated", outcome="sbp_12m", covariates="age + bmi",
                 outcome_model=LogisticRegression(), variance="bootstrap", n_boot=10)
