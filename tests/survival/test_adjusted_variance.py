"""adjusted_survival's variances with the nuisance models estimated.

- ``method="gformula"``: the influence-function SE against R riskRegression ``ate()``
  (``tests/reference/adjusted_survival/melanoma_ate.R``) on Melanoma, and the analytic
  derivatives against numerical ones.
- ``method="ipw"``, ``variance="mestimation"``: the stacked (propensity score + weighted
  Kaplan-Meier) influence values against numerical derivatives of the whole estimator in each
  subject's case weight (no R package computes this variance), and ``"robust"`` against the
  weighted Kaplan-Meier's IJ variance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab._glm import fit_logistic
from cohortlab.causal._ipw import realized_weights
from cohortlab.survival import _adjusted_if
from cohortlab.survival._adjusted_arms import arm_variance

HERE = Path(__file__).resolve().parents[1] / "reference" / "adjusted_survival"
REF = json.loads((HERE / "melanoma_ate.json").read_text())
TIMES = REF["times"]
COV = "age + male + logthick"
# one Melanoma subject has a propensity score under 0.01 (the warning is checked elsewhere)
pytestmark = pytest.mark.filterwarnings("ignore::cohortlab.exceptions.CohortWarning")


@pytest.fixture(scope="module")
def melanoma() -> pd.DataFrame:
    return pd.read_csv(HERE / "melanoma.csv")


def _arms(ref: dict, key: str) -> dict[int, np.ndarray]:
    arms = np.array(ref["risk_arm"])
    return {a: np.array(ref[key])[arms == str(a)] for a in (0, 1)}


def _gformula(d: pd.DataFrame) -> cl.AdjustedCurves:
    return cl.adjusted_survival(d, time="time", event="dead", exposure="ulcer", covariates=COV,
                                method="gformula", times=TIMES)


def test_gformula_influence_function_matches_riskregression_without_ties(melanoma):
    # tied times broken as in the R script: riskRegression's IF is then the exact derivative
    d = melanoma.assign(time=melanoma["time"] + np.arange(1, len(melanoma) + 1) * 1e-4)
    curves = _gformula(d)
    assert curves.ci_method == "influence_function"
    f = curves.to_frame()
    for key in ("gformula_untied_efron", "gformula_untied_breslow"):
        ref = REF[key]
        risk, se = _arms(ref, "risk"), _arms(ref, "risk_se")
        for arm in (0, 1):
            mine = f[f["group"] == f"ulcer={arm}"]
            assert 1 - mine["estimate"].to_numpy() == pytest.approx(risk[arm], abs=1e-8)
            assert mine["std_error"].to_numpy() == pytest.approx(se[arm], abs=1e-6)
        diff = curves.contrast(TIMES, scale="risk").to_frame()
        assert diff["estimate"].to_numpy() == pytest.approx(ref["diff"], abs=1e-8)
        assert diff["std_error"].to_numpy() == pytest.approx(ref["diff_se"], abs=1e-6)


def test_gformula_with_tied_deaths_agrees_with_riskregression_to_its_tie_convention(melanoma):
    # Melanoma has tied death times: the point estimates (Efron) agree to 1e-10; the SEs to
    # 0.15%, because riskRegression's influence function of the baseline hazard is not the
    # exact derivative at tied deaths, while ours is (test_influence_is_the_derivative)
    curves = _gformula(melanoma)
    ref = REF["gformula_efron"]
    f = curves.to_frame()
    risk, se = _arms(ref, "risk"), _arms(ref, "risk_se")
    for arm in (0, 1):
        mine = f[f["group"] == f"ulcer={arm}"]
        assert 1 - mine["estimate"].to_numpy() == pytest.approx(risk[arm], abs=1e-10)
        assert mine["std_error"].to_numpy() == pytest.approx(se[arm], rel=2e-3)
    diff = curves.contrast(TIMES, scale="risk").to_frame()
    assert diff["std_error"].to_numpy() == pytest.approx(ref["diff_se"], rel=2e-3)
    # at 5 years: risk difference 0.164 (SE 0.0570); the bootstrap is close
    assert diff["std_error"].iloc[3] == pytest.approx(0.05699, abs=5e-5)


def _influence(moments) -> np.ndarray:
    """The influence values D (arm, subject, time) from the moments' blocks."""
    return np.concatenate(list(moments.blocks()), axis=1)


@pytest.mark.parametrize("efron", [True, False])
def test_gformula_influence_is_the_derivative(melanoma, efron):
    t, e, a = (melanoma[c].to_numpy() for c in ("time", "dead", "ulcer"))
    t = t.astype(float)
    X = melanoma[["age", "male", "logthick"]].to_numpy(float)
    n, grid = len(t), np.array([365.25, 1826.25])
    pop = (a == 1).astype(float)   # ATT: the standardisation over the exposed
    base, mom = _adjusted_if.gformula_influence(t, e, a, np.ones(n), X, pop, grid, efron)
    infl = _influence(mom)
    for i in (0, 8, 50, 204):            # 8: a death at a tied time
        s = np.ones(n)
        s[i] += 1e-6
        moved, _ = _adjusted_if.gformula_influence(t, e, a, s, X, pop, grid, efron)
        assert (moved - base) / 1e-6 == pytest.approx(infl[:, i], abs=2e-7)


@pytest.mark.parametrize(("estimand", "cause"), [("ATE", None), ("ATT", None), ("ATE", 1),
                                                ("ATT", 2)])
def test_ipw_mestimation_influence_is_the_derivative(melanoma, estimand, cause):
    # cause: the Aalen-Johansen incidence of death from melanoma (1) or other causes (2)
    t, a = melanoma["time"].to_numpy(), melanoma["ulcer"].to_numpy()
    e = melanoma["dead" if cause is None else "status"].to_numpy().astype(int)
    t = t.astype(float)
    n = len(t)
    X = np.column_stack([np.ones(n), melanoma[["age", "male", "logthick"]].to_numpy(float)])
    grid = np.array([365.25, 1000.0, 1826.25, 3000.0])

    def fit(s, with_ps=True):
        ps = fit_logistic(X, a, s)
        w, dw = realized_weights(ps.fitted, a, estimand)
        return _adjusted_if.ipw_influence(t, e, a, s, w * s, dw, ps.fitted,
                                          ps if with_ps else None, X, grid, cause)

    # weights known: the weighted KM's IJ variance of each arm
    _, known = fit(np.ones(n), with_ps=False)
    w, _ = realized_weights(fit_logistic(X, a, np.ones(n)).fitted, a, estimand)
    ij = np.vstack([arm_variance(t[a == k], e[a == k], w[a == k], cause, grid)
                    for k in (1, 0)])
    assert known.variance() == pytest.approx(ij, rel=1e-10, abs=1e-15)
    base, mom = fit(np.ones(n))
    infl = _influence(mom)
    # the derivative kernels reproduce the known-weights IJ variance of kaplan_meier /
    # cumulative_incidence (R's robust survfit)
    _, known_mom = fit(np.ones(n), with_ps=False)
    assert (_influence(known_mom) ** 2).sum(axis=1) == pytest.approx(ij, rel=1e-9, abs=1e-15)
    for i in (0, 7, 60, 150):
        s = np.ones(n)
        s[i] += 1e-6
        moved, _ = fit(s)
        assert (moved - base) / 1e-6 == pytest.approx(infl[:, i], abs=1e-7)
    assert mom.variance() == pytest.approx((infl**2).sum(axis=1), rel=1e-10)
    assert mom.cov_diag(0, 1) == pytest.approx((infl[0] * infl[1]).sum(axis=0), rel=1e-10)
    vec = np.array([1.0, -2.0, 0.5])
    lin = infl[:, :, :3] @ vec
    assert mom.quad(vec, np.arange(3)) == pytest.approx(lin @ lin.T, rel=1e-10)


def test_ipw_default_is_mestimation_and_differs_from_known_weights(melanoma):
    kw = dict(time="time", event="dead", exposure="ulcer", covariates=COV, times=TIMES)
    mest = cl.adjusted_survival(melanoma, **kw)
    robust = cl.adjusted_survival(melanoma, **kw, variance="robust")
    alias = cl.adjusted_survival(melanoma, **kw, variance="influence_function")
    assert mest.ci_method == alias.ci_method == "sandwich_mestimation"
    assert robust.ci_method == "infinitesimal_jackknife"
    fm, fr = mest.to_frame(), robust.to_frame()
    assert fm["estimate"].to_numpy() == pytest.approx(fr["estimate"].to_numpy(), abs=1e-12)
    # the ATE: estimating the PS makes the curves more precise (Lunceford & Davidian 2004)
    assert np.all(fm["std_error"].to_numpy() <= fr["std_error"].to_numpy() * (1 + 1e-9))
    cm, cr = mest.contrast(TIMES).to_frame(), robust.contrast(TIMES).to_frame()
    assert np.all(cm["std_error"] < cr["std_error"])
    # cumulative incidence: the same default
    cif = cl.adjusted_survival(melanoma.assign(cause=melanoma["status"].astype(int)),
                               time="time", event="cause", exposure="ulcer", covariates=COV,
                               cause=1, times=TIMES)
    assert cif.ci_method == "sandwich_mestimation"


def test_aipw_known_nuisance_is_close_to_riskregression(melanoma):
    # riskRegression's AIPTW-AIPCW estimator with known.nuisance = TRUE. Before bounding, the
    # curves agree to 3e-6 up to 3 years; later they drift apart (5e-4 at 5 years, 0.007 at 8)
    # because riskRegression's censoring survival is exp(-cumulative hazard) of the stratified
    # Cox model, ours the product-limit Kaplan-Meier. riskRegression's curve of the unexposed
    # is not monotone (risk 0.0090 at 1 year, 0.0020 at 2); ours is projected onto monotone
    # curves (see the notes), so only the exposed arm's estimates are compared; the SEs agree
    # to 2% (to 1e-4 relative up to 3 years).
    curves = cl.adjusted_survival(melanoma, time="time", event="dead", exposure="ulcer",
                                  covariates=COV, method="aipw", times=TIMES)
    f = curves.to_frame()
    ref = REF["aipw_known_true"]
    risk, se = _arms(ref, "risk"), _arms(ref, "risk_se")
    n = len(melanoma)
    for arm in (0, 1):
        mine = f[f["group"] == f"ulcer={arm}"]
        if arm == 1:
            assert 1 - mine["estimate"].to_numpy() == pytest.approx(risk[arm], abs=5e-4)
        # cohortlab's AIPW SE has the n - 1 denominator, riskRegression's n
        assert mine["std_error"].to_numpy() * np.sqrt((n - 1) / n) == pytest.approx(
            se[arm], rel=0.02)


def test_ipw_mestimation_rmst_is_exact_on_any_grid(melanoma):
    kw = dict(time="time", event="dead", exposure="ulcer", covariates=COV)
    full = cl.adjusted_survival(melanoma, **kw)               # grid: every event time
    coarse = cl.adjusted_survival(melanoma, **kw, times=[500, 1000, 2000])
    exact = coarse.rmst(2000).to_frame()
    # the same as the grid-linear form on a grid holding every event time
    on_grid = full._rmst_from_moments(2000.0).to_frame()
    assert exact["estimate"].iloc[:3].to_numpy() == pytest.approx(
        on_grid["estimate"].to_numpy(), rel=1e-12)
    assert exact["std_error"].iloc[:3].to_numpy() == pytest.approx(
        on_grid["std_error"].to_numpy(), rel=1e-10)
    # and the weighted RMST of cl.rmst for the points and ratios
    robust = cl.adjusted_survival(melanoma, **kw, variance="robust").rmst(2000).to_frame()
    assert exact["estimate"].to_numpy() == pytest.approx(
        robust["estimate"].to_numpy()[[1, 0, 2, 3, 4]], rel=1e-10)
    assert (exact["ci_method"] == "sandwich_mestimation").all()
