"""Array-only numbers of empirical calibration (no pandas).

The likelihoods and their maximisers: the empirical null ``y_i ~ N(mu, sigma^2 + s_i^2)``
(``_fit_null``, ``_null_mean_se``, ``_sd_profile_ci``), calibrated p-values
(``_calibrated_p``), the systematic error model ``y_i ~ N(a + b x_i, sd(x_i)^2 + s_i^2)``
(``_fit_error_model``) and calibrated interval limits (``_calibrated_bounds``), plus the
injection probability of synthetic positive controls (``_injection_probability``). The public
functions in :mod:`cohortlab.sensitivity.calibration` validate, call these and build results.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize, stats


def _null_nll(mu: float, sigma: float, y: np.ndarray, s: np.ndarray) -> float:
    v = sigma * sigma + s * s
    return float(0.5 * np.sum(np.log(2 * np.pi * v) + (y - mu) ** 2 / v))


def _profile_mu(sigma: float, y: np.ndarray, s: np.ndarray) -> float:
    """The mean maximising the likelihood at fixed ``sigma``: a precision-weighted mean."""
    w = 1.0 / (sigma * sigma + s * s)
    return float(np.sum(w * y) / np.sum(w))


def _profile_nll(sigma: float, y: np.ndarray, s: np.ndarray) -> float:
    return _null_nll(_profile_mu(sigma, y, s), sigma, y, s)


def _fit_null(y: np.ndarray, s: np.ndarray) -> tuple[float, float, float]:
    """MLE ``(mu, sigma, loglik)`` of ``y_i ~ N(mu, sigma^2 + s_i^2)``.

    ``mu`` is profiled out (closed form at fixed ``sigma``), leaving a one-dimensional bounded
    search over ``sigma >= 0``, so a fit at the boundary ``sigma = 0`` is found exactly.

    Examples
    --------
    >>> mu, sigma, ll = _fit_null(np.array([1.0, 2.0]), np.array([1e-8, 1e-8]))
    >>> round(mu, 6), round(sigma, 6)
    (1.5, 0.5)
    """
    upper = float(np.ptp(y) + np.max(s) + 1.0)
    res = optimize.minimize_scalar(_profile_nll, bounds=(0.0, upper), args=(y, s),
                                   method="bounded", options={"xatol": 1e-12, "maxiter": 1000})
    sigma = float(res.x)
    if _profile_nll(0.0, y, s) <= _profile_nll(sigma, y, s):
        sigma = 0.0
    mu = _profile_mu(sigma, y, s)
    return mu, sigma, -_null_nll(mu, sigma, y, s)


def _null_mean_se(mu: float, sigma: float, y: np.ndarray, s: np.ndarray) -> float:
    """SE of ``mu`` from the observed information in ``(mu, log sigma)``; ``sigma = 0``: fixed."""
    v = sigma * sigma + s * s
    r = y - mu
    i_mm = np.sum(1 / v)
    if sigma <= 1e-8:
        return float(1 / math.sqrt(i_mm))
    q = 2 * sigma * sigma
    i_mt = np.sum(r / v**2) * q
    i_tt = -np.sum((1 / (2 * v**2) - r**2 / v**3) * q * q + (-1 / (2 * v) + r**2 / (2 * v**2))
                   * 2 * q)
    det = i_mm * i_tt - i_mt * i_mt
    if det <= 0 or i_tt <= 0:
        return float(1 / math.sqrt(i_mm))
    return float(math.sqrt(i_tt / det))


def _sd_profile_ci(sigma: float, y: np.ndarray, s: np.ndarray,
                   conf_level: float) -> tuple[float, float]:
    """Profile-likelihood interval of ``sigma`` (lower limit 0 when the boundary is inside)."""
    target = _profile_nll(sigma, y, s) + 0.5 * float(stats.chi2.ppf(conf_level, 1))

    def g(x: float) -> float:
        return _profile_nll(x, y, s) - target

    lo = 0.0 if g(0.0) <= 0 else optimize.brentq(g, 0.0, sigma, xtol=1e-12)
    hi_b = max(2 * sigma, float(np.max(s)), 1e-3)
    for _ in range(60):
        if g(hi_b) > 0:
            break
        hi_b *= 2
    hi = optimize.brentq(g, sigma, hi_b, xtol=1e-12)
    return float(lo), float(hi)


def _calibrated_z(y: np.ndarray, s: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """The calibrated statistic ``(y - mu) / sqrt(sigma^2 + s^2)``."""
    return (y - mu) / np.sqrt(sigma * sigma + s * s)


def _calibrated_p(y: np.ndarray, s: np.ndarray, mu: float, sigma: float,
                  alternative: str) -> np.ndarray:
    """Calibrated p-values: ``z = (y - mu) / sqrt(sigma^2 + s^2)`` against N(0, 1)."""
    z = _calibrated_z(y, s, mu, sigma)
    if alternative == "greater":
        return stats.norm.sf(z)
    if alternative == "less":
        return stats.norm.cdf(z)
    return 2 * stats.norm.sf(np.abs(z))


def _err_mean(p: np.ndarray, x: np.ndarray) -> np.ndarray:
    return p[0] + p[1] * x


def _err_sd(p: np.ndarray, x: np.ndarray, sd_model: str) -> np.ndarray:
    return np.exp(p[2] + p[3] * x) if sd_model == "log_linear" else p[2] + p[3] * np.abs(x)


def _error_nll(p: np.ndarray, y: np.ndarray, s: np.ndarray, x: np.ndarray, sd_model: str) -> float:
    sd = _err_sd(p, x, sd_model)
    if sd_model == "linear" and np.any(sd < 0):
        return 1e10
    v = sd * sd + s * s
    return float(0.5 * np.sum(np.log(2 * np.pi * v) + (y - _err_mean(p, x)) ** 2 / v))


def _num_hessian(f: Any, p: np.ndarray, h: float = 1e-4) -> np.ndarray:
    k = p.size
    e = np.eye(k) * h
    out = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            out[i, j] = out[j, i] = (f(p + e[i] + e[j]) - f(p + e[i] - e[j])
                                     - f(p - e[i] + e[j]) + f(p - e[i] - e[j])) / (4 * h * h)
    return out


def _error_nll_grad(q: np.ndarray, y: np.ndarray, s: np.ndarray, x: np.ndarray, sd_model: str,
                    xmax: float) -> tuple[float, np.ndarray]:
    """Negative log-likelihood and gradient in the optimisation parameters ``q``.

    ``"log_linear"``: ``q = (a, b, c, d)``, ``sd = exp(c + d x)``. ``"linear"``:
    ``q = (a, b, sd(0), sd(xmax))`` with ``sd`` interpolated linearly in ``|x|``, so the
    constraint ``sd >= 0`` at every control is the box ``q[2:] >= 0``.
    """
    ax = np.abs(x) / xmax if sd_model == "linear" else x
    if sd_model == "linear":
        sd = q[2] + (q[3] - q[2]) * ax
        dsd = (1 - ax, ax)
    else:
        sd = np.exp(q[2] + q[3] * x)
        dsd = (sd, sd * x)
    v = sd * sd + s * s
    r = y - q[0] - q[1] * x
    nll = 0.5 * np.sum(np.log(2 * np.pi * v) + r * r / v)
    k = (1 / v - r * r / v**2) * sd
    grad = np.array([-np.sum(r / v), -np.sum(r * x / v), np.sum(k * dsd[0]),
                     np.sum(k * dsd[1])])
    return float(nll), grad


def _fit_error_model(y: np.ndarray, s: np.ndarray, x: np.ndarray, sd_model: str,
                     start: np.ndarray | None = None) -> tuple[np.ndarray, float, np.ndarray]:
    """MLE of the systematic error model: parameters, log-likelihood and their SEs.

    ``y_i ~ N(a + b x_i, sd(x_i)^2 + s_i^2)``. L-BFGS-B with the analytic gradient from R's
    start values (or ``start``); the linear SD is kept >= 0 at every control through a box
    constraint (R returns an infinite objective there).
    """
    xmax = float(np.max(np.abs(x)))
    if start is None:
        start = np.array([0.0, 1.0, -2.0, 0.0] if sd_model == "log_linear"
                         else [0.0, 1.0, 0.1, 0.0])
    q0 = np.array(start, dtype=float)
    bounds: list[tuple[float | None, float | None]] = [(None, None)] * 4
    if sd_model == "linear":
        q0[2:] = np.maximum([q0[2], q0[2] + q0[3] * xmax], 1e-3)
        bounds = [(None, None), (None, None), (0.0, None), (0.0, None)]
    res = optimize.minimize(_error_nll_grad, q0, args=(y, s, x, sd_model, xmax), jac=True,
                            method="L-BFGS-B", bounds=bounds,
                            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000})
    q = np.asarray(res.x, dtype=float)
    par = q.copy()
    if sd_model == "linear":
        par[3] = (q[3] - q[2]) / xmax

    def f(p: np.ndarray) -> float:
        return _error_nll(p, y, s, x, sd_model)

    se = np.full(4, np.nan)
    with np.errstate(all="ignore"):
        try:
            d = np.diag(np.linalg.inv(_num_hessian(f, par)))
            se = np.where(d > 0, np.sqrt(np.abs(d)), np.nan)
        except np.linalg.LinAlgError:
            pass
    return par, -f(par), se


def _calibrated_bounds(y: np.ndarray, s: np.ndarray, p: np.ndarray, sd_model: str,
                       z: float) -> np.ndarray:
    """Solve ``z + (mean(x) - y) / sqrt(sd(x)^2 + s^2) = 0`` for ``x`` in [-100, 100].

    Vectorised bisection over all estimates at once (as R's ``uniroot`` per estimate); NaN
    where the function has the same sign at both ends.
    """
    def g(xv: np.ndarray) -> np.ndarray:
        return z + (_err_mean(p, xv) - y) / np.sqrt(_err_sd(p, xv, sd_model) ** 2 + s * s)

    lo = np.full(y.shape, -100.0)
    hi = np.full(y.shape, 100.0)
    with np.errstate(over="ignore", invalid="ignore"):
        g_lo = g(lo)
        ok = np.sign(g_lo) != np.sign(g(hi))
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            g_mid = g(mid)
            same = np.sign(g_mid) == np.sign(g_lo)
            lo = np.where(same, mid, lo)
            g_lo = np.where(same, g_mid, g_lo)
            hi = np.where(same, hi, mid)
    return np.where(ok, 0.5 * (lo + hi), np.nan)


def _loo_coverage(y: np.ndarray, s: np.ndarray, x: np.ndarray, fold: np.ndarray, n_folds: int,
                  z: np.ndarray, sd_model: str, has_positive: bool
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-group-out coverage of calibrated and uncalibrated intervals (rows x levels).

    Each ``fold`` value is left out in turn: the error model (the null alone when no positive
    control is left to fit it) is refitted on the others, and the left-out controls'
    calibrated intervals at the normal quantiles ``z`` are checked against their true log
    effects ``x``. The uncalibrated intervals are ``y -+ z s``.
    """
    full = _fit_error_model(y, s, x, sd_model)[0] if has_positive and (x != 0).any() else None
    cover_cal = np.zeros((y.size, z.size), dtype=bool)
    for k in range(n_folds):  # loop over cross-validation folds (controls), not data rows
        out = fold == k
        train = ~out
        if not has_positive or not (x[train] != 0).any():
            mu, sigma, _ = _fit_null(y[train & (x == 0)], s[train & (x == 0)])
            par, model = np.array([mu, 1.0, sigma, 0.0]), "linear"
        else:
            par, _, _ = _fit_error_model(y[train], s[train], x[train], sd_model, start=full)
            model = sd_model
        for j, zj in enumerate(z):
            lo = _calibrated_bounds(y[out], s[out], par, model, zj)
            hi = _calibrated_bounds(y[out], s[out], par, model, -zj)
            cover_cal[out, j] = (lo <= x[out]) & (x[out] <= hi)
    cover_unc = np.abs(y[:, None] - x[:, None]) <= z[None, :] * s[:, None]
    return cover_cal, cover_unc


def _injection_probability(risk: np.ndarray, effect: float) -> tuple[np.ndarray, int]:
    """Per non-case probability of an injected outcome: ``(effect - 1) r / (1 - r)``.

    It turns each exposed subject's outcome risk ``r`` into ``effect * r``; clipped to [0, 1]
    where ``effect * r > 1`` (the count of clipped subjects is returned).

    Examples
    --------
    >>> q, n_clip = _injection_probability(np.array([0.1, 0.2, 0.6]), 2.0)
    >>> np.round(q, 4).tolist(), n_clip
    ([0.1111, 0.25, 1.0], 1)
    """
    q = (effect - 1.0) * risk / (1.0 - risk)
    n_clip = int((q > 1).sum())
    return np.clip(q, 0.0, 1.0), n_clip
