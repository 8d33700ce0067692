"""Hajek IPW arm means and their influence functions (arrays only).

For arm ``a`` the estimating equation is ``sum_i s_i W_a(e_i) 1{A_i=a} R_i / c_i (Y_i - mu_a)``
with ``s`` sampling weights, ``W_a`` the balancing weight of the estimand, ``R`` the
uncensored indicator and ``c = P(R = 1 | A, L)`` the censoring model (1 without censoring).
Stacking it with the logistic score equations of the propensity (and censoring) models gives
the M-estimation (sandwich) influence function

    phi_a = [psi_a + D_beta' IF_beta + D_gamma' IF_gamma] / E[s W_a 1{A=a} R / c]

where ``D`` are the derivatives of ``psi_a`` in the nuisance coefficients. Dropping the ``D``
terms gives the robust variance that treats the weights as known (R's ``geeglm`` / ``lm`` +
``sandwich`` HC0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._glm import GLMFit, fit_logistic
from .._refit import LogisticRefit
from .._validation import verb_name
from ._contrast import contrast
from ._propensity import fit_sklearn, trim_mask, truncate_weights
from ._weights import arm_weight_derivatives, arm_weights, crump_threshold

__all__ = ["ArmMeans", "bootstrap_statistic", "fixed_trim", "hajek_means", "ipw_arm_means",
           "realized_weights"]


@dataclass(frozen=True, eq=False)
class ArmMeans:
    """Arm means with M-estimation (``phi``) and weights-known (``phi_known``) influence values."""

    mu1: float
    mu0: float
    phi1: np.ndarray
    phi0: np.ndarray
    phi1_known: np.ndarray
    phi0_known: np.ndarray
    weights: np.ndarray  # the per-row weight used (0 for censored or trimmed rows)


def realized_weights(e: np.ndarray, a: np.ndarray, estimand: str) -> tuple[np.ndarray, np.ndarray]:
    """Each row's weight for the arm it received, and its derivative in ``e``."""
    w1, w0 = arm_weights(e, estimand)
    dw1, dw0 = arm_weight_derivatives(e, estimand)
    return np.where(a == 1, w1, w0), np.where(a == 1, dw1, dw0)


def hajek_means(y: np.ndarray, a: np.ndarray, s: np.ndarray, w: np.ndarray, *,
                r: np.ndarray | None = None, c: np.ndarray | None = None) -> tuple[float, float]:
    """The two Hajek arm means of :func:`ipw_arm_means`, without influence values.

    The same arithmetic (a bootstrap replicate's estimate); ``y`` may hold anything where
    ``r == 0``.

    Examples
    --------
    >>> hajek_means(np.array([1.0, 3.0, 2.0]), np.array([1, 1, 0]), np.ones(3),
    ...             np.array([1.0, 3.0, 2.0]))
    (2.5, 2.0)
    """
    base = s if r is None else s * r
    base = base if c is None else base / c
    y0 = y if r is None else np.where(r > 0, y, 0.0)
    mu = []
    for arm in (1, 0):
        wt = ((a == arm) * base) * w
        mu.append(float(np.dot(wt, y0) / wt.sum()))
    return mu[0], mu[1]


def ipw_arm_means(
    y: np.ndarray,
    a: np.ndarray,
    e: np.ndarray,
    s: np.ndarray,
    w: np.ndarray,
    dw: np.ndarray,
    *,
    r: np.ndarray | None = None,
    c: np.ndarray | None = None,
    ps_fit: GLMFit | None = None,
    X: np.ndarray | None = None,
    cens_fit: GLMFit | None = None,
    Z: np.ndarray | None = None,
) -> ArmMeans:
    """Hajek arm means with weights ``w`` (0 for trimmed rows) and ``dw = dw/de``.

    ``dw`` is 0 where a weight was truncated (the truncation point treated as fixed).
    ``y`` may hold anything (e.g. NaN) where ``r == 0``.
    """
    n = y.size
    r = np.ones(n) if r is None else r.astype(float)
    c = np.ones(n) if c is None else c
    y0 = np.where(r > 0, y, 0.0)
    base = s * r / c
    out = {}
    for arm in (1, 0):
        ind = (a == arm) * base
        wt = ind * w
        mu = float(np.dot(wt, y0) / wt.sum())
        resid = y0 - mu
        psi = wt * resid
        ew = wt.mean()
        corr = np.zeros(n)
        if ps_fit is not None and X is not None:
            d_beta = X.T @ (ind * dw * e * (1 - e) * resid) / n
            corr = corr + ps_fit.influence_dot(X, a, s, d_beta)
        if cens_fit is not None and Z is not None:
            d_gamma = -(Z.T @ (wt * (1 - c) * resid)) / n
            corr = corr + cens_fit.influence_dot(Z, r, s, d_gamma)
        out[arm] = (mu, (psi + corr) / ew, psi / ew, wt)
    (mu1, phi1, k1, wt1), (mu0, phi0, k0, wt0) = out[1], out[0]
    return ArmMeans(mu1=mu1, mu0=mu0, phi1=phi1, phi0=phi0, phi1_known=k1, phi0_known=k0,
                    weights=wt1 + wt0)


def bootstrap_statistic(X: np.ndarray, y: np.ndarray, a: np.ndarray, s: np.ndarray,
                        r: np.ndarray, *, estimand: str, measure: str, model: Any, trim: Any,
                        truncate: Any, random_state: Any, ps_start: np.ndarray | None,
                        Z: np.ndarray | None, cens_start: np.ndarray | None
                        ) -> Callable[[np.ndarray], float]:
    """A replicate: refit the propensity (and censoring) model on the resample, re-weight.

    ``X`` is the propensity design (``ps_start`` its full-data logistic coefficients, None
    with a scikit-learn ``model``), ``Z`` the censoring design (None without censoring) and
    ``cens_start`` its coefficients. The statistic maps resampled row indices to the
    contrast of the two Hajek means (:func:`hajek_means`).
    """
    # warm-started refits on a design prepared once (fit_logistic as fallback)
    ps_refit = (LogisticRefit(X, a.astype(float), ps_start, weights=s, func=verb_name())
                if ps_start is not None else None)
    cens_refit = (LogisticRefit(Z, r.astype(float), cens_start, weights=s, func=verb_name())
                  if Z is not None and cens_start is not None else None)
    rf = r.astype(float)
    cols = np.vstack([s, a, y, rf])  # gathered together: one pass of random reads

    def stat(idx: np.ndarray) -> float:
        # A resample is the full data with frequency weights (the counts); the rows it leaves
        # out add nothing to any sum, so everything below runs on the rows it keeps.
        cnt = np.bincount(idx, minlength=a.size)
        rows = np.flatnonzero(cnt > 0)
        freq = cnt[rows].astype(float)
        sk, ak, yk, rk = np.take(cols, rows, axis=1)
        sk = sk * freq
        if ps_refit is not None:
            e = ps_refit.fitted_at(rows, sk, ak)
        else:
            e = np.empty(a.size)
            e[idx] = fit_sklearn(X[idx], a[idx], s[idx], model, None, random_state, verb_name())
            e = e[rows]
        e = np.clip(e, 1e-12, 1 - 1e-12)
        w1, w0 = arm_weights(e, estimand)   # realized_weights without the derivative
        w = np.where(ak == 1, w1, w0)
        if trim is not None or truncate is not None:
            resampled = np.repeat(e, cnt[rows]) if isinstance(trim, str) else e
            keep, _ = trim_mask(e, fixed_trim(trim, resampled), verb_name())
            w, _ = truncate_weights(np.where(keep, w, 0.0), keep, truncate, verb_name(),
                                    freq=freq)
        if cens_refit is not None:
            c = cens_refit.fitted_at(rows, sk, rk)
        elif Z is not None:
            c = fit_logistic(Z, rf, s * cnt, func=verb_name(), start=cens_start,
                             information=False).fitted[rows]
        else:
            c = None
        mu1, mu0 = hajek_means(yk, ak, sk, w, r=rk, c=c)
        return contrast(mu1, mu0, np.zeros(1), np.zeros(1), measure)[0]

    return stat


def fixed_trim(trim: Any, e: np.ndarray) -> Any:
    """``trim`` with ``"crump"`` replaced by the bounds of the Crump threshold of ``e``."""
    if isinstance(trim, str):
        alpha = crump_threshold(e)
        return (alpha, 1 - alpha)
    return trim
