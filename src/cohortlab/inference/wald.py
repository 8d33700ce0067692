"""Wald intervals and p-values from an estimate and its standard error."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["WaldResult", "z_critical", "wald"]


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
