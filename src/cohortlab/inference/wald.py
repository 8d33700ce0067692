"""Wald intervals and p-values from an estimate and its standard error."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["WaldResult", "z_critical", "wald", "transformed_interval", "inverse_variance_q",
           "delta_contrast"]


class WaldResult(NamedTuple):
    """Wald statistic, two-sided p-value and interval (all on the scale of the input)."""

    statistic: np.ndarray
    p_value: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray


def z_critical(conf_level: float) -> float:
    """The standard normal quantile for a two-sided interval of level ``conf_level``.

    Examples
    --------
    >>> round(z_critical(0.95), 6)
    1.959964
    """
    from .._validation import check_conf_level

    check_conf_level(conf_level, "z_critical")
    return float(stats.norm.ppf(0.5 + conf_level / 2.0))


def wald(
    estimate: ArrayLike, std_error: ArrayLike, conf_level: float = 0.95, null: ArrayLike = 0.0
) -> WaldResult:
    """Wald z statistic, two-sided p-value and ``conf_level`` interval.

    Parameters
    ----------
    estimate, std_error : array_like
        Point estimates and standard errors on the scale where normality is assumed (the log
        scale for ratio measures).
    conf_level : float
        Interval level in (0, 1).
    null : array_like
        Value under the null hypothesis, on the same scale.

    Returns
    -------
    WaldResult
        Arrays of the input's shape; NaN where the standard error is NaN, zero or infinite.

    Examples
    --------
    >>> r = wald(0.5, 0.1)
    >>> float(r.statistic), round(float(r.conf_low), 4), round(float(r.conf_high), 4)
    (5.0, 0.304, 0.696)
    """
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    ok = np.isfinite(se) & (se > 0)
    safe_se = np.where(ok, se, 1.0)
    z = np.where(ok, (est - np.asarray(null, dtype=float)) / safe_se, np.nan)
    p = np.where(ok, 2.0 * stats.norm.sf(np.abs(z)), np.nan)
    q = z_critical(conf_level)
    lo = np.where(ok, est - q * safe_se, np.nan)
    hi = np.where(ok, est + q * safe_se, np.nan)
    return WaldResult(z, p, lo, hi)


def transformed_interval(
    estimate: ArrayLike, std_error: ArrayLike, conf_level: float = 0.95, scale: str = "plain"
) -> tuple[np.ndarray, np.ndarray]:
    """Interval for a probability-like estimate from its natural-scale SE, on a chosen scale.

    The delta method moves the SE to the ``scale`` where the interval is symmetric, as R's
    ``survfit(conf.type=)``: ``"plain"`` (``est -/+ z se``), ``"log"`` (``est * exp(-/+ z se /
    est)``) or ``"log-log"`` (symmetric in ``log(-log(est))``, with SE ``se / (est |log est|)``).
    Where the SE is 0 the interval is the point itself.

    Examples
    --------
    >>> lo, hi = transformed_interval(0.5, 0.1, 0.95, "log-log")
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.2952, 0.6745)
    """
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    q = z_critical(conf_level)
    with np.errstate(divide="ignore", invalid="ignore"):
        if scale == "plain":
            lo, hi = est - q * se, est + q * se
        elif scale == "log":
            lo, hi = est * np.exp(-q * se / est), est * np.exp(q * se / est)
        elif scale == "log-log":
            lg = np.log(est)
            se_t = se / (est * np.abs(lg))
            theta = np.log(-lg)
            lo, hi = np.exp(-np.exp(theta + q * se_t)), np.exp(-np.exp(theta - q * se_t))
        else:
            raise ValueError(
                f'transformed_interval(): scale must be one of {{"plain", "log", "log-log"}}; '
                f"got {scale!r}."
            )
    zero = se == 0
    return np.where(zero, est, lo), np.where(zero, est, hi)


def inverse_variance_q(est: np.ndarray, var: np.ndarray) -> tuple[float, float, float, int, float]:
    """Wald chi-square of equal effects across independent estimates (Cochran's Q).

    Entries with a non-finite estimate or variance, or a variance of 0, are left out. Returns
    the inverse-variance pooled estimate, its variance ``1 / sum(w)``,
    ``Q = sum_g w_g (est_g - pooled)^2`` with ``w_g = 1 / var_g``, ``df = G - 1`` and the
    chi-square p-value; NaNs and ``df = 0`` with fewer than two usable estimates.

    Examples
    --------
    >>> pooled, v, q, df, p = inverse_variance_q(np.array([0.1, 0.5]), np.array([0.04, 0.01]))
    >>> round(q, 4), df, round(p, 4)
    (3.2, 1, 0.0736)
    """
    est, var = np.asarray(est, dtype=float), np.asarray(var, dtype=float)
    ok = np.isfinite(est) & np.isfinite(var) & (var > 0)
    est, var = est[ok], var[ok]
    if est.size < 2:
        return np.nan, np.nan, np.nan, 0, np.nan
    w = 1.0 / var
    pooled = float(np.dot(w, est) / w.sum())
    q = float(np.dot(w, (est - pooled) ** 2))
    df = int(est.size - 1)
    return pooled, float(1.0 / w.sum()), q, df, float(stats.chi2.sf(q, df))


def delta_contrast(v1: Any, v0: Any, var1: Any, var0: Any, cov10: Any = 0.0,
                   measure: str = "difference") -> tuple[float, float]:
    """``v1 - v0`` (``"difference"``) or ``log(v1 / v0)`` (``"ratio"``), and its SE.

    ``var1``, ``var0`` are the two estimates' variances and ``cov10`` their covariance (0 for
    independent groups); the log ratio's SE by the delta method,
    ``sqrt(var1 / v1^2 + var0 / v0^2 - 2 cov10 / (v1 v0))``.

    Examples
    --------
    >>> delta_contrast(0.5, 0.4, 0.01, 0.01, 0.0, "difference")
    (0.09999999999999998, 0.1414213562373095)
    >>> [round(x, 4) for x in delta_contrast(3.0, 2.0, 0.25, 0.25, 0.0, "ratio")]
    [0.4055, 0.3005]
    """
    if measure == "difference":
        return float(v1 - v0), float(np.sqrt(var1 + var0 - 2 * cov10))
    se_log = np.sqrt(var1 / v1 ** 2 + var0 / v0 ** 2 - 2 * cov10 / (v1 * v0))
    return float(np.log(v1 / v0)), float(se_log)
