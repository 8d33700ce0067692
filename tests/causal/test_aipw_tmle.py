"""aipw() and tmle() against R on NHEFS and against simulated truth (incl. double robustness).

Reference: tests/reference/nhefs_aipw_tmle.json (R 4.2.2, hand-coded estimators in
nhefs_cases.R; no published AIPW/TMLE number exists for these data). Specification: PS and
outcome models fitted on the 1,566 uncensored; outcome model for wt82_71 with
I(qsmk*smokeintensity), for death without interaction; SE = sd(phi)/sqrt(n), sd with n - 1;
TMLE with Y scaled by its observed range, clever covariates H1 = A/g, H0 = -(1-A)/(1-g),
no intercept, offset qlogis(Q).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import load_reference

import cohortlab as cl
from cohortlab.causal._propensity import fit_scores
from cohortlab.causal.aipw import aipw
from cohortlab.causal.gformula import gformula
from cohortlab.causal.tmle import tmle
from cohortlab.exceptions import DataValidationError

L = ("sex + race + age + I(age**2) + C(education) + smokeintensity + I(smokeintensity**2)"
     " + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active) + wt71 + I(wt71**2)")
L_INT = L + " + I(qsmk*smokeintensity)"
ABS_EST = 1e-4  # JSON tolerance (AIPW, and TMLE with the same fluctuation specification)
REL_SE = 1e-3  # JSON tolerance for the influence-function SEs

# simulate_cohort: treatment depends on age, female, bmi, diabetes, smoking, af_flag, site;
# sbp_12m on sbp, age, bmi, diabetes, current smoking, af_true (+ treated x diabetes).
SIM_PS = "age + female + bmi + diabetes + C(smoking) + af_flag + C(site)"
SIM_OUT = "sbp + age + bmi + diabetes + C(smoking) + af_true + I(treated*diabetes)"
SIM_OUT_BIN = "sbp + age + female + bmi + diabetes + C(smoking) + af_true"
SIM = dict(exposure="treated", outcome="sbp_12m")


@pytest.fixture(scope="module")
def uncensored() -> pd.DataFrame:
    return cl.datasets.load_nhefs().dropna(subset=["wt82"])


def _nh(f, d, outcome="wt82_71", **kw):
    cov = dict(outcome_covariates=L_INT) if outcome == "wt82_71" else {}
    return f(d, exposure="qsmk", outcome=outcome, covariates=L, **cov, **kw)


# ----------------------------------------------------------------------- NHEFS vs R
def test_aipw_ate_matches_r(uncensored):
    ref = load_reference("nhefs_aipw_tmle")["estimates"]["aipw_ate"]
    est = _nh(aipw, uncensored)
    assert est.estimate == pytest.approx(ref["est"], abs=ABS_EST)
    assert est.std_error == pytest.approx(ref["se"], rel=REL_SE)
    assert (est.conf_low, est.conf_high) == pytest.approx(ref["ci"], abs=ABS_EST)
    assert est.extra["mean_1"] == pytest.approx(ref["E_Y1"], abs=ABS_EST)
    assert est.extra["mean_0"] == pytest.approx(ref["E_Y0"], abs=ABS_EST)
    assert est.extra["se_mean_1"] == pytest.approx(ref["se_E_Y1"], rel=REL_SE)
    assert est.extra["se_mean_0"] == pytest.approx(ref["se_E_Y0"], rel=REL_SE)
    assert est.method == "aipw" and est.ci_method == "influence_function" and est.n == 1566


def test_se_convention_is_sd_with_n_minus_1(uncensored):
    """sd(phi)/sqrt(n) reproduces R's 0.488807 to 1e-6; sqrt(sum phi^2)/n would give 0.48865."""
    est = _nh(aipw, uncensored)
    phi = est.influence
    assert abs(phi.mean()) < 1e-10
    assert est.std_error == pytest.approx(0.488807, abs=1e-6)
    assert np.sqrt((phi**2).sum()) / phi.size == pytest.approx(0.488651, abs=1e-6)


def test_aipw_binary_death_rd_and_rr_match_r(uncensored):
    ref = load_reference("nhefs_aipw_tmle")["estimates"]
    rd = _nh(aipw, uncensored, "death")
    assert rd.estimate == pytest.approx(ref["death_aipw_rd"]["est"], abs=1e-6)
    assert rd.std_error == pytest.approx(ref["death_aipw_rd"]["se"], rel=REL_SE)
    assert (rd.extra["mean_1"], rd.extra["mean_0"]) == pytest.approx(
        (ref["death_aipw_rd"]["R1"], ref["death_aipw_rd"]["R0"]), abs=1e-6)
    rr = _nh(aipw, uncensored, "death", effect_measure="ratio")
    assert rr.estimate == pytest.approx(ref["death_aipw_rr"]["est"], abs=1e-5)
    assert rr.std_error == pytest.approx(ref["death_aipw_rr"]["se_log"], rel=REL_SE)
    assert (rr.conf_low, rr.conf_high) == pytest.approx(ref["death_aipw_rr"]["ci"], abs=1e-4)
    assert rd.effect_measure == "risk_difference" and rr.effect_measure == "risk_ratio"


def test_tmle_matches_r_same_fluctuation(uncensored):
    ref = load_reference("nhefs_aipw_tmle")["estimates"]
    est = _nh(tmle, uncensored)
    assert est.estimate == pytest.approx(ref["tmle_ate"]["est"], abs=ABS_EST)
    assert est.std_error == pytest.approx(ref["tmle_ate"]["se"], rel=REL_SE)
    assert (est.conf_low, est.conf_high) == pytest.approx(ref["tmle_ate"]["ci"], abs=ABS_EST)
    assert "outcome scaled to [0, 1] by its bounds [-41.2805, 48.5384]" in est.summary()
    death = _nh(tmle, uncensored, "death")
    assert death.estimate == pytest.approx(ref["death_tmle_rd"]["est"], abs=1e-6)
    assert death.std_error == pytest.approx(ref["death_tmle_rd"]["se"], rel=REL_SE)
    assert (death.extra["mean_1"], death.extra["mean_0"]) == pytest.approx(
        (ref["death_tmle_rd"]["R1"], ref["death_tmle_rd"]["R0"]), abs=1e-6)


def test_tmle_one_step_solves_the_efficient_score_equation(uncensored):
    """The fluctuation makes mean(D1) = mean(D0) = 0, so the plug-in needs no correction."""
    est = _nh(tmle, uncensored, "death")
    assert abs(est.influence.mean()) < 1e-10
    assert abs(est.extra["epsilon_1"]) < 0.05  # the initial fit was nearly targeted


def test_plugin_with_the_same_outcome_model(uncensored):
    ref = load_reference("nhefs_aipw_tmle")["estimates"]["plugin_gformula_same_outcome_model_1566"]
    assert _nh(gformula, uncensored).estimate == pytest.approx(ref, abs=1e-6)


@pytest.mark.parametrize(("estimand", "arm"), [("ATT", 1), ("ATC", 0)])
def test_aipw_att_atc_factual_arm_is_the_observed_mean(uncensored, estimand, arm):
    """Hahn form: for the ATT, mu_1 is the exposed's observed mean whatever the models."""
    est = _nh(aipw, uncensored, estimand=estimand)
    y = uncensored.loc[uncensored.qsmk == arm, "wt82_71"]
    assert est.extra[f"mean_{arm}"] == pytest.approx(y.mean(), abs=1e-9)
    ipw = cl.ipw(uncensored, exposure="qsmk", outcome="wt82_71", covariates=L, estimand=estimand)
    assert est.estimate == pytest.approx(ipw.estimate, abs=0.1)  # no R number: close to IPW


# ----------------------------------------------------------------------- options
def test_cross_fitting_shares_folds_and_is_reproducible(uncensored):
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ml = dict(ps_model=make_pipeline(StandardScaler(), LogisticRegression(C=1e6, max_iter=5000)),
              outcome_model=LinearRegression(), cross_fit=5)
    a = _nh(aipw, uncensored, **ml, random_state=7)
    b = _nh(aipw, uncensored, **ml, random_state=7)
    c = _nh(aipw, uncensored, **ml, random_state=8)
    assert a.estimate == b.estimate and a.std_error == b.std_error and a.estimate != c.estimate
    assert a.estimate == pytest.approx(3.457, abs=0.1)  # ~ the parametric AIPW
    assert "5-fold cross-fitted" in a.summary()
    from cohortlab.causal._outcome import fold_seed

    seed = fold_seed(7, "t")  # what aipw draws; fit_scores with it gives the same PS folds
    e, _, _ = fit_scores(uncensored, uncensored.qsmk.to_numpy(), L, ml["ps_model"],
                         np.ones(len(uncensored)), 5, seed, "t")
    np.testing.assert_allclose(a.diagnostics.scores.to_numpy(), e)
    t = _nh(tmle, uncensored, **ml, random_state=7)
    assert t.estimate == pytest.approx(a.estimate, abs=0.05)


def test_cluster_of_singletons_equals_the_plain_se(uncensored):
    d = uncensored.assign(row=np.arange(len(uncensored)), site=np.arange(len(uncensored)) % 40)
    for f in (aipw, tmle):
        plain, single = _nh(f, d), _nh(f, d, cluster="row")
        assert single.std_error == pytest.approx(plain.std_error, rel=1e-9)
        assert _nh(f, d, cluster="site").std_error != plain.std_error


def test_integer_weights_equal_duplicated_rows(uncensored):
    d = uncensored.assign(w=np.where(np.arange(len(uncensored)) % 3 == 0, 2.0, 1.0))
    dup = pd.concat([d, d[d.w == 2]], ignore_index=True)
    for f in (aipw, tmle):
        assert _nh(f, d, weights="w").estimate == pytest.approx(_nh(f, dup).estimate, abs=1e-9)


def test_trim_is_recorded(uncensored):
    est = _nh(aipw, uncensored, trim=(0.1, 0.9))
    n_out = int(((est.diagnostics.scores < 0.1) | (est.diagnostics.scores > 0.9)).sum())
    assert est.n == 1566 - n_out > 0 and n_out > 0
    assert "trimmed with propensity score outside [0.100, 0.900]" in " ".join(est.notes)


# ----------------------------------------------------------------------- simulated truth
@pytest.fixture(scope="module")
def big():
    """100,000 people with confounding x 1.5 (PS in [0.04, 0.98] for this seed)."""
    return cl.simulate_cohort(100_000, random_state=1, confounding=1.5)


PS_BAD = "age + female + bmi + C(smoking) + C(site)"  # drops diabetes and af_flag
OUT_BAD = "sbp + age + bmi + C(smoking)"  # drops diabetes (and its interaction) and af_true


def _z(est, truth):
    return (est.estimate - truth) / est.std_error


def test_double_robustness_ps_misspecified(big):
    """Wrong PS, right outcome model: IPW is biased by > 4 SE, AIPW and TMLE are not."""
    truth = big.attrs["truth"]["continuous"]["ATE"]
    assert abs(_z(cl.ipw(big, covariates=PS_BAD, **SIM), truth)) > 4
    for f in (aipw, tmle):
        assert abs(_z(f(big, covariates=PS_BAD, outcome_covariates=SIM_OUT, **SIM), truth)) < 4


def test_double_robustness_outcome_misspecified(big):
    """Right PS, wrong outcome model: the g-formula is biased by > 4 SE, AIPW and TMLE not."""
    truth = big.attrs["truth"]["continuous"]["ATE"]
    assert abs(_z(gformula(big, covariates=OUT_BAD, **SIM), truth)) > 4
    for f in (aipw, tmle):
        assert abs(_z(f(big, covariates=SIM_PS, outcome_covariates=OUT_BAD, **SIM), truth)) < 4


def test_double_robustness_fails_when_both_are_wrong(big):
    """The check has power: with both models wrong AIPW is biased too."""
    truth = big.attrs["truth"]["continuous"]
    est = aipw(big, covariates=PS_BAD, outcome_covariates=OUT_BAD, **SIM)
    assert abs(_z(est, truth["ATE"])) > 4
    att = aipw(big, covariates=PS_BAD, outcome_covariates=SIM_OUT, estimand="ATT", **SIM)
    assert abs(_z(att, truth["ATT"])) < 4  # ATT form: doubly robust as well


def _coverage(n_rep: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(["aipw", "tmle", "aipw_att", "aipw_rd", "tmle_rd"], 0)
    for _ in range(n_rep):
        d = cl.simulate_cohort(1500, random_state=int(rng.integers(2**31)))
        t = d.attrs["truth"]
        rd = t["binary"]["ATE"]["risk_difference"]
        b = dict(exposure="treated", outcome="mace_1y", covariates=SIM_PS,
                 outcome_covariates=SIM_OUT_BIN)
        res = {"aipw": (aipw(d, covariates=SIM_PS, outcome_covariates=SIM_OUT, **SIM),
                        t["continuous"]["ATE"]),
               "tmle": (tmle(d, covariates=SIM_PS, outcome_covariates=SIM_OUT, **SIM),
                        t["continuous"]["ATE"]),
               "aipw_att": (aipw(d, covariates=SIM_PS, outcome_covariates=SIM_OUT,
                                 estimand="ATT", **SIM), t["continuous"]["ATT"]),
               "aipw_rd": (aipw(d, **b), rd), "tmle_rd": (tmle(d, **b), rd)}
        for k, (e, truth) in res.items():
            hits[k] += e.conf_low <= truth <= e.conf_high
    return {k: v / n_rep for k, v in hits.items()}


def test_coverage_on_simulated_cohort_reduced():
    """Reduced CI version (80 cohorts of 1,500): IF intervals cover the true effects."""
    cov = _coverage(80, 401)
    assert all(0.86 <= v <= 1.0 for v in cov.values()), cov


@pytest.mark.slow
def test_coverage_on_simulated_cohort_full():
    """500 cohorts: coverage within 3 Monte Carlo SEs (0.029) of 0.95."""
    cov = _coverage(500, 402)
    assert all(abs(v - 0.95) < 0.029 for v in cov.values()), cov


# ----------------------------------------------------------------------- bad input
def _sim(n=400, seed=0):
    return cl.simulate_cohort(n, random_state=seed)


@pytest.mark.parametrize("f", [aipw, tmle], ids=["aipw", "tmle"])
@pytest.mark.parametrize(
    ("mutate", "kwargs", "match"),
    [
        (lambda d: d.assign(mace_1y=0), {}, r"column 'mace_1y' \(outcome\) has no events among"),
        (lambda d: d.assign(treated=d.site % 3), {},
         r"column 'treated' \(exposure\) must be binary .* got 3 distinct values"),
        (lambda d: d, {"trim": (0.95, 1.0)},
         r"exposure group 'treated' = 1 has no rows after trimming"),
        (lambda d: d, {"effect_measure": "RD"}, r"effect_measure must be one of"),
        (lambda d: d, {"estimand": "ATO"}, r"estimand"),
        (lambda d: d, {"outcome": "sbp_12m", "effect_measure": "odds_ratio"},
         r"odds_ratio\" needs a binary 0/1 outcome"),
        (lambda d: d, {"covariates": "age + bmii"}, r"Did you mean 'bmi'"),
    ],
)
def test_bad_input(f, mutate, kwargs, match):
    args = dict(exposure="treated", outcome="mace_1y", covariates="age + female + bmi")
    args.update(kwargs)
    with pytest.raises(DataValidationError, match=match):
        f(mutate(_sim()), **args)


@pytest.mark.parametrize("f", [aipw, tmle], ids=["aipw", "tmle"])
def test_hard_zero_one_propensity_scores_raise(f):
    """A fully grown tree outputs probabilities of exactly 0 and 1: positivity error."""
    from sklearn.tree import DecisionTreeClassifier

    with pytest.raises(DataValidationError, match=r"propensity scores for 'treated' are exactly"):
        f(_sim(), exposure="treated", outcome="sbp_12m", covariates="age + bmi",
          ps_model=DecisionTreeClassifier(random_state=0))


def test_estimand_messages():
    args = dict(exposure="treated", outcome="sbp_12m", covariates="age + bmi")
    with pytest.raises(DataValidationError, match=r"estimand must be one of \{\"ATE\", \"ATT\", "
                                                  r"\"ATC\"\}; got 'ATO'"):
        aipw(_sim(), estimand="ATO", **args)
    with pytest.raises(DataValidationError, match=r"got 'ATO'\. estimand=\"ATO\" and \"ATM\" are not implemented for TMLE"):
        tmle(_sim(), estimand="ATO", **args)
    with pytest.raises(DataValidationError, match=r"cross_fit must be an int >= 2"):
        from sklearn.linear_model import LinearRegression

        aipw(_sim(), outcome_model=LinearRegression(), cross_fit=1, **args)
    with pytest.raises(DataValidationError, match=r"bounds .* must satisfy low < high and contain"):
        tmle(_sim(), bounds=(100, 120), **args)


@pytest.mark.parametrize("f", [aipw, tmle], ids=["aipw", "tmle"])
def test_bootstrap_variance_close_to_influence_function(f):
    """variance="bootstrap" refits both models per resample; its SE is near the IF SE (the
    two estimate the same sampling variance), same seed gives the same numbers for any n_jobs."""
    d = _sim(600, seed=3)
    args = dict(exposure="treated", outcome="sbp_12m", covariates="age + bmi + diabetes")
    ref = f(d, **args)
    boot = f(d, **args, variance="bootstrap", n_boot=120, random_state=11)
    assert boot.estimate == pytest.approx(ref.estimate, rel=1e-12)
    assert boot.ci_method == "bootstrap_percentile"
    assert boot.std_error == pytest.approx(ref.std_error, rel=0.2)
    again = f(d, **args, variance="bootstrap", n_boot=120, random_state=11, n_jobs=2)
    assert again.std_error == boot.std_error


@pytest.mark.parametrize("f", [aipw, tmle], ids=["aipw", "tmle"])
def test_bootstrap_needs_the_default_models(f):
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(DataValidationError, match=r'variance="bootstrap" refits the default'):
        f(_sim(), exposure="treated", outcome="sbp_12m", covariates="age + bmi",
          ps_model=LogisticRegression(), variance="bootstrap", n_boot=20)
    with pytest.raises(DataValidationError, match=r"variance must be one of"):
        f(_sim(), exposure="treated", outcome="sbp_12m", covariates="age + bmi",
          variance="robust")
