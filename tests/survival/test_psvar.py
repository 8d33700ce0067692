"""Estimated-propensity-score variance of the IPT-weighted survival verbs (issue 16, item 1).

``weights=<PropensityScore>`` makes ``variance="mestimation"`` the default of cox, fine_gray,
cause_specific_cox, kaplan_meier and cumulative_incidence. Checked here:

- numerically: the stacked sandwich equals ``A^-1 B A^-T`` with ``A`` the finite-difference
  Jacobian of the full stacked estimating equations (the verb's score in ``beta`` and the
  logistic score in ``alpha``, plus ``p1`` when stabilised) and ``B`` the outer products of
  the per-row contributions, to 1e-6 relative; for the curves, the influence values are the
  finite-difference derivatives in each row's weight plus the finite-difference gradient in
  ``theta`` times its influence values;
- the API: defaults, errors, the weights-known variance unchanged.
The coverage studies are in test_psvar_coverage.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import cohortlab as cl
from cohortlab.causal._weights import arm_weights
from cohortlab.exceptions import DataValidationError
from cohortlab.survival import _cox
from cohortlab.survival._aalen_johansen import aalen_johansen
from cohortlab.survival._counts import risk_counts
from cohortlab.survival._km import censoring_survival, product_limit

RTOL = 1e-6


def _data(seed: int = 1, n: int = 240, competing: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    l1, l2 = rng.normal(size=n), rng.binomial(1, 0.4, n)
    a = rng.binomial(1, expit(-0.3 + 0.8 * l1 + 0.5 * l2))
    t = rng.exponential(1 / np.exp(-0.5 * a + 0.5 * l1 + 0.3 * l2))
    c = rng.uniform(0, 2, n)
    ev = (t <= c).astype(int) * (rng.binomial(1, 0.4, n) + 1 if competing else 1)
    d = pd.DataFrame({"time": np.round(np.minimum(t, c), 2) + 0.01, "ev": ev, "a": a,
                      "l1": l1, "l2": l2})
    d["ent"] = np.where(rng.uniform(size=n) < 0.3, d["time"] * rng.uniform(size=n), 0.0)
    return d


class _Stack:
    """The propensity model's weights as a function of ``theta = (alpha[, p1])``."""

    def __init__(self, d: pd.DataFrame, estimand: str, stabilize: bool) -> None:
        self.ps = cl.propensity_score(d, exposure="a", covariates=["l1", "l2"],
                                      estimand=estimand, stabilize=stabilize)
        self.X, self.a = self.ps._design.X, d["a"].to_numpy()
        self.est, self.stab = estimand, stabilize
        p1 = float(self.a.mean())
        self.theta0 = np.concatenate([self.ps._fit.coef] + ([[p1]] if stabilize else []))

    def weights(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e = expit(self.X @ theta[:3])
        w1, w0 = arm_weights(e, self.est)
        w = np.where(self.a == 1, w1, w0)
        if self.stab:
            w = w * np.where(self.a == 1, theta[3], 1 - theta[3])
        return w, e

    def equations(self, theta: np.ndarray) -> np.ndarray:
        """The propensity model's estimating equations (summed)."""
        _, e = self.weights(theta)
        eqs = [self.X.T @ (self.a - e)]
        if self.stab:
            eqs.append(np.array([np.sum(self.a - theta[3])]))
        return np.concatenate(eqs)

    def rows(self, theta: np.ndarray) -> np.ndarray:
        _, e = self.weights(theta)
        cols = [self.X * (self.a - e)[:, None]]
        if self.stab:
            cols.append((self.a - theta[3])[:, None])
        return np.column_stack(cols)

    def influence(self) -> np.ndarray:
        """theta's influence values from the finite-difference Jacobian of its equations."""
        jac = _jacobian(self.equations, self.theta0)
        return -self.rows(self.theta0) @ np.linalg.inv(jac).T


def _jacobian(f, x0: np.ndarray, h: float = 1e-6) -> np.ndarray:
    cols = []
    for j in range(x0.size):
        step = np.zeros(x0.size)
        step[j] = h
        cols.append((f(x0 + step) - f(x0 - step)) / (2 * h))
    return np.stack(cols, axis=-1)


def _model_sandwich(stack: _Stack, score, resid, beta: np.ndarray) -> np.ndarray:
    """``A^-1 B A^-T`` of the stacked (beta, theta) equations; the beta block's SEs."""
    p = beta.size

    def full(theta_all: np.ndarray) -> np.ndarray:
        w, _ = stack.weights(theta_all[p:])
        return np.concatenate([score(w, theta_all[:p]), stack.equations(theta_all[p:])])

    x0 = np.concatenate([beta, stack.theta0])
    jac = _jacobian(full, x0)
    w, _ = stack.weights(stack.theta0)
    psi = np.column_stack([resid(w, beta) * w[:, None], stack.rows(stack.theta0)])
    inv = np.linalg.inv(jac)
    return np.sqrt(np.diag(inv @ psi.T @ psi @ inv.T)[:p])


@pytest.mark.parametrize(("ties", "estimand", "stabilize"), [
    ("breslow", "ATE", False), ("efron", "ATE", False), ("efron", "ATT", False),
    ("breslow", "ATO", False), ("efron", "ATM", False), ("efron", "ATE", True),
    ("breslow", "ATC", True)])
def test_cox_stacked_sandwich_matches_finite_differences(ties, estimand, stabilize):
    d = _data()
    stack = _Stack(d, estimand, stabilize)
    fit = cl.cox(d, time="time", event="ev", covariates=["a", "l1"], weights=stack.ps,
                 ties=ties)
    assert fit.ci_method == "sandwich_mestimation"
    Z = d[["a", "l1"]].to_numpy(float)
    t, ev = d["time"].to_numpy(float), d["ev"].to_numpy(float)
    efron = ties == "efron"

    def score(w, beta):
        return _cox.evaluate(_cox.prepare(Z, t, ev, w), beta, efron).score

    def resid(w, beta):
        return _cox.score_residuals(_cox.prepare(Z, t, ev, w), beta, efron)

    want = _model_sandwich(stack, score, resid, fit.params)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), want, rtol=RTOL)


@pytest.mark.parametrize(("censoring", "estimand", "ties"), [
    ("unweighted", "ATE", "efron"), ("unweighted", "ATT", "breslow")])
def test_fine_gray_stacked_sandwich_matches_finite_differences(censoring, estimand, ties):
    d = _data(4, competing=True)
    stack = _Stack(d, estimand, False)
    fit = cl.fine_gray(d, time="time", event="ev", cause=1, covariates=["a", "l1"],
                       weights=stack.ps, censoring=censoring, ties=ties)
    Z = d[["a", "l1"]].to_numpy(float)
    t, codes = d["time"].to_numpy(float), d["ev"].to_numpy()
    efron = ties == "efron"

    def cdata(w):
        g = censoring_survival(t, codes, None)
        return _cox.prepare(Z, t, (codes == 1).astype(float), w, extend=codes == 2,
                            censoring_survival=g)

    want = _model_sandwich(stack, lambda w, b: _cox.evaluate(cdata(w), b, efron).score,
                           lambda w, b: _cox.score_residuals(cdata(w), b, efron), fit.params)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), want, rtol=RTOL)


def test_fine_gray_weighted_censoring_close_to_finite_differences():
    """With the weighted censoring curve ``G`` (the default) the propensity correction leaves
    out ``G``'s dependence on the weights: measured 2e-5 relative on this data."""
    d = _data(4, competing=True)
    stack = _Stack(d, "ATE", False)
    fit = cl.fine_gray(d, time="time", event="ev", cause=1, covariates=["a", "l1"],
                       weights=stack.ps)
    Z = d[["a", "l1"]].to_numpy(float)
    t, codes = d["time"].to_numpy(float), d["ev"].to_numpy()

    def cdata(w):
        return _cox.prepare(Z, t, (codes == 1).astype(float), w, extend=codes == 2,
                            censoring_survival=censoring_survival(t, codes, w))

    want = _model_sandwich(stack, lambda w, b: _cox.evaluate(cdata(w), b, True).score,
                           lambda w, b: _cox.score_residuals(cdata(w), b, True), fit.params)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), want, rtol=1e-4)


def _curve_se(stack: _Stack, d: pd.DataFrame, arm: int, curve) -> np.ndarray:
    """SE from finite differences: each row's weight derivative, plus the theta gradient."""
    w0, _ = stack.weights(stack.theta0)
    idx = np.flatnonzero(stack.a == arm)
    deriv = np.zeros((d.shape[0],) + curve(w0).shape)
    for i in idx:
        up, down = w0.copy(), w0.copy()
        up[i] += 1e-6
        down[i] -= 1e-6
        deriv[i] = w0[i] * (curve(up) - curve(down)) / 2e-6
    grad = _jacobian(lambda th: curve(stack.weights(th)[0]), stack.theta0)
    phi = deriv + np.tensordot(stack.influence(), np.moveaxis(grad, -1, 0), axes=1)
    return np.sqrt((phi ** 2).sum(axis=0))


@pytest.mark.parametrize(("estimand", "entry", "stabilize"), [
    ("ATE", False, False), ("ATT", True, False), ("ATO", True, True)])
def test_kaplan_meier_stacked_variance_matches_finite_differences(estimand, entry, stabilize):
    d = _data(2, n=150)
    stack = _Stack(d, estimand, stabilize)
    kw = {"entry": "ent"} if entry else {}
    km = cl.kaplan_meier(d, time="time", event="ev", by="a", weights=stack.ps, **kw).data
    t, ev = d["time"].to_numpy(), d["ev"].to_numpy()
    s0 = d["ent"].to_numpy() if entry else None
    for arm in (0, 1):
        m = stack.a == arm

        def curve(w, m=m):
            rc = risk_counts(t[m], ev[m], w[m], entry=None if s0 is None else s0[m])
            return product_limit(rc.n_risk, rc.n_event[:, 0])

        want = _curve_se(stack, d, arm, curve)
        got = km[km["group"] == arm]["std_error"].to_numpy()
        ok = curve(stack.weights(stack.theta0)[0]) > 0
        np.testing.assert_allclose(got[ok], want[ok], rtol=RTOL, atol=1e-9)


@pytest.mark.parametrize(("estimand", "entry", "stabilize"), [
    ("ATE", False, False), ("ATT", True, True)])
def test_cumulative_incidence_stacked_variance_matches_finite_differences(estimand, entry,
                                                                          stabilize):
    d = _data(3, n=150, competing=True)
    stack = _Stack(d, estimand, stabilize)
    kw = {"entry": "ent"} if entry else {}
    cif = cl.cumulative_incidence(d, time="time", event="ev", by="a", weights=stack.ps,
                                  **kw).data
    t, ev = d["time"].to_numpy(), d["ev"].to_numpy()
    s0 = d["ent"].to_numpy() if entry else None
    for arm in (0, 1):
        m = stack.a == arm

        def curve(w, m=m):
            rc = risk_counts(t[m], ev[m], w[m], entry=None if s0 is None else s0[m],
                             n_causes=2)
            return aalen_johansen(rc).cif

        want = _curve_se(stack, d, arm, curve)
        for k in (1, 2):
            got = cif[(cif["group"] == arm) & (cif["cause"] == k)]["std_error"].to_numpy()
            np.testing.assert_allclose(got, want[:, k - 1], rtol=RTOL, atol=1e-9)


# ---------------------------------------------------------------------------- the API
@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, object]:
    d = _data(7, n=400, competing=True)
    d["ev1"] = (d["ev"] == 1).astype(int)
    return d, cl.propensity_score(d, exposure="a", covariates=["l1", "l2"])


def test_defaults_and_weights_known_variance_unchanged(cohort):
    d, ps = cohort
    dw = d.assign(w=ps.weights)
    d1 = dw
    for verb, kw in ((cl.cox, dict(covariates=["a"], event="ev1")),
                     (cl.cause_specific_cox, dict(covariates=["a"], event="ev"))):
        data = d1 if verb is cl.cox else dw
        known = verb(data, time="time", weights="w", robust=True, **kw)
        as_ps = verb(data, time="time", weights=ps, variance="robust", **kw)
        mest = verb(data, time="time", weights=ps, **kw)
        np.testing.assert_allclose(as_ps.params, known.params, rtol=1e-12)
        np.testing.assert_allclose(as_ps.vcov, known.vcov, rtol=1e-10)
        assert mest.ci_method == "sandwich_mestimation" and known.ci_method == "wald_sandwich"
        assert np.all(np.diag(mest.vcov) < np.diag(known.vcov))  # ATE: smaller
    fg_known = cl.fine_gray(dw, time="time", event="ev", cause=1, covariates=["a"], weights="w")
    fg_ps = cl.fine_gray(dw, time="time", event="ev", cause=1, covariates=["a"], weights=ps,
                         variance="robust")
    np.testing.assert_allclose(fg_ps.vcov, fg_known.vcov, rtol=1e-10)
    assert cl.fine_gray(dw, time="time", event="ev", cause=1, covariates=["a"],
                        weights=ps).ci_method == "sandwich_mestimation"
    km = cl.kaplan_meier(d1, time="time", event="ev1", by="a", weights=ps)
    assert km.ci_method == "sandwich_mestimation"
    assert any("estimated propensity score" in n for n in km.notes)
    km_known = cl.kaplan_meier(d1, time="time", event="ev1", by="a", weights="w")
    km_ps = cl.kaplan_meier(d1, time="time", event="ev1", by="a", weights=ps,
                            variance="infinitesimal_jackknife")
    np.testing.assert_allclose(km_ps.data["std_error"], km_known.data["std_error"], rtol=1e-12)
    cif = cl.cumulative_incidence(dw, time="time", event="ev", by="a", weights=ps)
    assert cif.ci_method == "sandwich_mestimation"


def test_mestimation_needs_a_logistic_propensity_score(cohort):
    d, ps = cohort
    dw = d.assign(w=ps.weights)
    with pytest.raises(DataValidationError, match="PropensityScore"):
        cl.cox(dw, time="time", event="ev1", covariates=["a"], weights="w",
               variance="mestimation")
    with pytest.raises(DataValidationError, match="infinitesimal_jackknife"):
        cl.kaplan_meier(dw, time="time", event="ev1", by="a", weights="w",
                        variance="mestimation")
    with pytest.raises(DataValidationError, match="contradicts robust=True"):
        cl.cox(dw, time="time", event="ev1", covariates=["a"], robust=True, variance="model")
    from sklearn.linear_model import LogisticRegression

    ml = cl.propensity_score(d, exposure="a", covariates=["l1", "l2"],
                             model=LogisticRegression())
    fit = cl.cox(d, time="time", event="ev1", covariates=["a"], weights=ml)
    assert fit.ci_method == "wald_sandwich"  # weights known: the only sandwich available
    with pytest.raises(DataValidationError, match="logistic propensity model"):
        cl.cox(d, time="time", event="ev1", covariates=["a"], weights=ml,
               variance="mestimation")


def test_rows_are_matched_by_index(cohort):
    d, ps = cohort
    shuffled = d.sample(frac=1.0, random_state=3)
    a = cl.cox(d, time="time", event="ev1", covariates=["a"], weights=ps)
    b = cl.cox(shuffled, time="time", event="ev1", covariates=["a"], weights=ps)
    np.testing.assert_allclose(b.vcov, a.vcov, rtol=1e-10)
    # a subset of the scored rows: the others still carry their propensity-score equations
    sub = cl.cox(d.iloc[:300], time="time", event="ev1", covariates=["a"], weights=ps)
    assert np.isfinite(sub.vcov).all()
    other = d.set_axis(np.arange(1000, 1000 + len(d)))
    with pytest.raises(DataValidationError, match="not among its rows"):
        cl.cox(other, time="time", event="ev1", covariates=["a"], weights=ps)


def test_trimmed_and_truncated_weights(cohort):
    d, _ = cohort
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ps = cl.propensity_score(d, exposure="a", covariates=["l1", "l2"], trim=(0.1, 0.9),
                                 truncate=(0.0, 0.95))
    fit = cl.cox(d, time="time", event="ev1", covariates=["a"], weights=ps)
    known = cl.cox(d, time="time", event="ev1", covariates=["a"], weights=ps,
                   variance="robust")
    assert np.isfinite(fit.vcov).all() and fit.n == known.n
    km = cl.kaplan_meier(d, time="time", event="ev1", by="a", weights=ps)
    assert np.isfinite(km.data["std_error"]).all()


def test_cox_with_strata_and_entry_matches_finite_differences():
    d = _data(5)
    d["site"] = np.arange(len(d)) % 3
    stack = _Stack(d, "ATE", False)
    fit = cl.cox(d, time="time", event="ev", covariates=["a", "l1"], weights=stack.ps,
                 strata="site", entry="ent")
    Z = d[["a", "l1"]].to_numpy(float)
    t, ev, s0 = (d[c].to_numpy(float) for c in ("time", "ev", "ent"))
    codes = d["site"].to_numpy()

    def cdata(w):
        return _cox.prepare(Z, t, ev, w, entry=s0, strata=codes)

    want = _model_sandwich(stack, lambda w, b: _cox.evaluate(cdata(w), b, True).score,
                           lambda w, b: _cox.score_residuals(cdata(w), b, True), fit.params)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), want, rtol=RTOL)


def test_cluster_and_missing_rows(cohort):
    d, ps = cohort
    d = d.assign(pid=np.arange(len(d)), l3=np.where(np.arange(len(d)) % 10 == 0, np.nan, d["l1"] ** 2))
    ps = cl.propensity_score(d, exposure="a", covariates=["l1", "l2"])
    one = cl.cox(d, time="time", event="ev1", covariates=["a"], weights=ps)
    per_row = cl.cox(d, time="time", event="ev1", covariates=["a"], weights=ps, cluster="pid")
    np.testing.assert_allclose(per_row.vcov, one.vcov, rtol=1e-10)
    assert per_row.ci_method == "sandwich_mestimation"
    # rows dropped from the survival model (missing l3) keep their propensity-score equations
    dropped = cl.cox(d, time="time", event="ev1", covariates=["a", "l3"], weights=ps,
                     missing="drop")
    assert dropped.n == int((d["l3"].notna()).sum()) and np.isfinite(dropped.vcov).all()
    with pytest.raises(DataValidationError, match="no column 'grp'"):
        cl.cox(d.assign(grp=1), time="time", event="ev1", covariates=["a"], weights=ps,
               cluster="grp")


def test_cox_with_sampling_weights_matches_finite_differences():
    """A PropensityScore fitted with sampling weights ``s``: the Cox weights are ``s W(e)``
    and the logistic score equations are weighted by ``s``."""
    d = _data(6)
    d["s"] = np.random.default_rng(0).uniform(0.5, 2.0, len(d))
    ps = cl.propensity_score(d, exposure="a", covariates=["l1", "l2"], weights="s")
    fit = cl.cox(d, time="time", event="ev", covariates=["a", "l1"], weights=ps)
    X, a, s = ps._design.X, d["a"].to_numpy(), d["s"].to_numpy()
    Z = d[["a", "l1"]].to_numpy(float)
    t, ev = d["time"].to_numpy(float), d["ev"].to_numpy(float)

    def parts(theta):
        e = expit(X @ theta[2:])
        w1, w0 = arm_weights(e, "ATE")
        return s * np.where(a == 1, w1, w0), e

    def full(theta):
        w, e = parts(theta)
        u = _cox.evaluate(_cox.prepare(Z, t, ev, w), theta[:2], True).score
        return np.concatenate([u, X.T @ (s * (a - e))])

    x0 = np.concatenate([fit.params, ps._fit.coef])
    inv = np.linalg.inv(_jacobian(full, x0))
    w, e = parts(x0)
    resid = _cox.score_residuals(_cox.prepare(Z, t, ev, w), fit.params, True)
    psi = np.column_stack([resid * w[:, None], X * (s * (a - e))[:, None]])
    want = np.sqrt(np.diag(inv @ psi.T @ psi @ inv.T)[:2])
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), want, rtol=RTOL)


def test_duplicated_index_labels_raise(cohort):
    d, _ = cohort
    dup = d.set_axis(np.arange(len(d)) // 2)
    ps = cl.propensity_score(dup, exposure="a", covariates=["l1", "l2"])
    with pytest.raises(DataValidationError, match="duplicated"):
        cl.cox(dup, time="time", event="ev1", covariates=["a"], weights=ps)
