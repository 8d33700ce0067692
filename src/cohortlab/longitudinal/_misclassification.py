"""Per-period exposure prevalence corrected for a misclassified flag (arrays only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["PeriodCorrection", "corrected_prevalence"]


@dataclass(frozen=True)
class PeriodCorrection:
    """Per period: counts, the flag's prevalence and the corrected one with its Wald SE."""

    n: np.ndarray
    flagged: np.ndarray
    naive: np.ndarray
    corrected: np.ndarray
    std_error: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    ppv: np.ndarray
    npv: np.ndarray


def corrected_prevalence(flag: np.ndarray, k: np.ndarray, n_periods: int, se: np.ndarray,
                         sp: np.ndarray, conf_level: float = 0.95) -> PeriodCorrection:
    """Rogan-Gladen corrected prevalence of the true exposure in each period.

    With the flag's prevalence ``p*_k`` in period ``k`` and its sensitivity ``Se_k`` and
    specificity ``Sp_k`` (non-differential, known), the true prevalence is ``p_k = (p*_k +
    Sp_k - 1) / (Se_k + Sp_k - 1)`` (Rogan & Gladen 1978), its variance ``p*_k (1 - p*_k) /
    (n_k (Se_k + Sp_k - 1)^2)`` (binomial, one row per person and period; the rates treated
    as known), and the predictive values ``PPV_k = Se_k p_k / p*_k``, ``NPV_k = Sp_k (1 -
    p_k) / (1 - p*_k)``. Nothing is clipped: a corrected value outside [0, 1] says that the
    rates do not fit the data.

    Examples
    --------
    >>> flag = np.array([1, 0, 0, 0, 1, 1, 0, 0])
    >>> k = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> pc = corrected_prevalence(flag, k, 2, np.full(2, 0.9), np.full(2, 0.95))
    >>> pc.naive.tolist(), np.round(pc.corrected, 4).tolist()
    ([0.25, 0.5], [0.2353, 0.5294])
    """
    n = np.bincount(k, minlength=n_periods).astype(float)
    x = np.bincount(k, weights=flag.astype(float), minlength=n_periods)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_obs = x / n
        j = se + sp - 1.0
        p = (p_obs + sp - 1.0) / j
        sd = np.sqrt(p_obs * (1.0 - p_obs) / n) / j
        ppv = se * p / p_obs
        npv = sp * (1.0 - p) / (1.0 - p_obs)
    z = float(stats.norm.ppf(0.5 + conf_level / 2.0))
    return PeriodCorrection(n=n, flagged=x, naive=p_obs, corrected=p, std_error=sd,
                            conf_low=p - z * sd, conf_high=p + z * sd, ppv=ppv, npv=npv)
