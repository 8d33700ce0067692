"""Rubin's rules: pooling estimates over multiply imputed data sets (arrays only).

For ``m`` completed-data estimates ``Q_j`` with variances ``U_j`` (Rubin 1987, ch. 3):

- pooled estimate ``qbar = mean(Q_j)``; within variance ``ubar = mean(U_j)``; between
  variance ``b = var(Q_j)`` (divisor ``m - 1``); total variance ``t = ubar + (1 + 1/m) b``;
- relative increase in variance ``riv = (1 + 1/m) b / ubar``, ``lambda = (1 + 1/m) b / t``;
- degrees of freedom of the t reference: Rubin's ``(m - 1) / lambda^2`` and, with a finite
  complete-data ``dfcom``, the Barnard & Rubin (1999) small-sample version
  ``df = dfold dfobs / (dfold + dfobs)``, ``dfobs = (dfcom + 1) / (dfcom + 3) dfcom (1 -
  lambda)`` (``lambda`` floored at 1e-4, as R's ``mice``);
- fraction of missing information ``fmi = (riv + 2 / (df + 3)) / (riv + 1)``.

These are exactly R ``mice::pool`` / ``mice::pool.scalar`` (mice >= 3.0).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from ..exceptions import DataValidationError

__all__ = ["RubinResult", "pool_rubin", "rubin_interval"]


class RubinResult(NamedTuple):
    """Pooled estimates and their variance components; arrays of the parameters' shape."""

    pooled: np.ndarray
    total_var: np.ndarray
    df: np.ndarray
    fmi: np.ndarray
    within: np.ndarray
    between: np.ndarray
    riv: np.ndarray
    lambda_: np.ndarray
    m: int


def pool_rubin(
    estimates: ArrayLike, variances: ArrayLike, dfcom: float | ArrayLike = math.inf
) -> RubinResult:
    """Pool ``m`` completed-data estimates by Rubin's rules (R ``mice::pool``).

    Parameters
    ----------
    estimates : array_like, shape (m,) or (m, k)
        One row per imputation, one column per parameter, on the scale where normality is
        assumed (the log scale for ratio measures).
    variances : array_like, same shape
        The completed-data variances (squared standard errors) on the same scale.
    dfcom : float or array_like
        Complete-data degrees of freedom (``n - k``); ``inf`` (default) gives Rubin's
        large-sample ``df = (m - 1) / lambda^2``.

    Returns
    -------
    RubinResult
        ``pooled``, ``total_var``, ``df``, ``fmi`` and the components ``within`` (ubar),
        ``between`` (b), ``riv``, ``lambda_`` and ``m``.

    Examples
    --------
    >>> r = pool_rubin([1.0, 1.2, 0.9], [0.04, 0.05, 0.045])
    >>> float(r.pooled), round(float(r.total_var), 5), round(float(r.fmi), 4)
    (1.0333333333333334, 0.07611, 0.4877)
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    if q.shape != u.shape or q.ndim not in (1, 2):
        raise DataValidationError(
            f"pool_rubin(): estimates and variances must have the same shape (m,) or (m, k); "
            f"got {q.shape} and {u.shape}."
        )
    m = q.shape[0]
    if m < 2:
        raise DataValidationError(
            f"pool_rubin(): at least 2 imputations are needed; got {m}. Raise n_imputations."
        )
    if np.any(~np.isfinite(q)) or np.any(~np.isfinite(u)) or np.any(u < 0):
        raise DataValidationError(
            "pool_rubin(): estimates and variances must be finite, variances >= 0; got "
            f"{int((~np.isfinite(q)).sum())} non-finite estimates and "
            f"{int((~np.isfinite(u) | (u < 0)).sum())} invalid variances."
        )
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1.0 + 1.0 / m) * b
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = np.where(ubar > 0, (1.0 + 1.0 / m) * b / ubar, np.inf)
        lam = np.where(t > 0, (1.0 + 1.0 / m) * b / t, 0.0)
    df = _barnard_rubin(m, lam, np.broadcast_to(np.asarray(dfcom, dtype=float), qbar.shape))
    with np.errstate(invalid="ignore"):
        fmi = np.where(np.isfinite(riv), (riv + 2.0 / (df + 3.0)) / (riv + 1.0), 1.0)
    return RubinResult(pooled=qbar, total_var=t, df=df, fmi=fmi, within=ubar, between=b,
                       riv=riv, lambda_=lam, m=m)


def _barnard_rubin(m: int, lam: np.ndarray, dfcom: np.ndarray) -> np.ndarray:
    """Barnard-Rubin degrees of freedom (Rubin's when ``dfcom`` is infinite)."""
    lam = np.maximum(lam, 1e-4)
    dfold = (m - 1) / lam**2
    finite = np.isfinite(dfcom)
    dc = np.where(finite, dfcom, 1.0)
    dfobs = (dc + 1.0) / (dc + 3.0) * dc * (1.0 - lam)
    return np.where(finite, dfold * dfobs / (dfold + dfobs), dfold)


def rubin_interval(
    pooled: ArrayLike, total_var: ArrayLike, df: ArrayLike, conf_level: float = 0.95,
    null: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The t statistic, two-sided p-value and interval of pooled estimates (mice's summary).

    Examples
    --------
    >>> stat, p, lo, hi = rubin_interval(1.0, 0.04, 10.0)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.5544, 1.4456)
    """
    est = np.asarray(pooled, dtype=float)
    se = np.sqrt(np.asarray(total_var, dtype=float))
    d = np.asarray(df, dtype=float)
    q = stats.t.ppf(0.5 + conf_level / 2.0, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = (est - null) / se
    p = 2.0 * stats.t.sf(np.abs(stat), d)
    return stat, p, est - q * se, est + q * se
