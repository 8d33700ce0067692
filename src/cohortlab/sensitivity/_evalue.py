"""The E-value arithmetic of :func:`cohortlab.evalue` (arrays only; VanderWeele & Ding 2017).

The numbers reproduce R's EValue package (``toRR``, ``evalues.RR``, ``evalues.OR``,
``evalues.HR``, ``evalues.MD``).

Examples
--------
>>> import numpy as np
>>> evalue_rr(to_rr(np.array([0.56]), "HR", False)).round(4).tolist()
[2.3495]
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["evalue_ci", "evalue_rr", "smd_rr_interval", "to_rr"]


def to_rr(values: np.ndarray, measure: str, rare: bool | None) -> np.ndarray:
    """Approximate risk ratios from OR, HR or SMD values (EValue's ``toRR``).

    OR and HR with a rare outcome are read as risk ratios; a common outcome uses
    ``sqrt(OR)`` and ``(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))``; an SMD ``d`` gives
    ``exp(0.91 d)``.

    Examples
    --------
    >>> to_rr(np.array([0.56, 1.0]), "HR", False).round(6).tolist()
    [0.670084, 1.0]
    """
    v = np.asarray(values, dtype=float)
    if measure == "SMD":
        return np.exp(0.91 * v)
    if measure == "RR" or rare:
        return v
    if measure == "OR":
        return np.sqrt(v)
    return (1.0 - 0.5 ** np.sqrt(v)) / (1.0 - 0.5 ** np.sqrt(1.0 / v))


def evalue_rr(rr: np.ndarray, true: float = 1.0) -> np.ndarray:
    """E-values of risk ratios shifted to ``true``: ``r + sqrt(r (r - 1))``, ``r = RR / true``.

    Ratios below 1 are inverted first (the E-value is symmetric: ``E(r) == E(1/r)``).

    Examples
    --------
    >>> evalue_rr(np.array([2.5, 0.4, 1.0])).round(6).tolist()
    [4.436492, 4.436492, 1.0]
    """
    r = np.asarray(rr, dtype=float) / true
    r = np.where(r < 1.0, 1.0 / r, r)
    return r + np.sqrt(r * (r - 1.0))


def evalue_ci(rr: float, low: float, high: float, true: float) -> float:
    """E-value of the interval: from the limit nearer ``true``, 1 if the interval reaches it.

    A missing (NaN) limit on the side of ``true`` gives NaN.
    """
    if rr == true:
        return 1.0
    limit = low if rr > true else high
    if math.isnan(limit):
        return math.nan
    if (rr > true and limit <= true) or (rr < true and limit >= true):
        return 1.0
    return float(evalue_rr(np.array([limit]), true)[0])


def smd_rr_interval(d: float, se: float) -> tuple[float, float]:
    """The risk-ratio interval of a standardised mean difference ``d`` (EValue's ``evalues.MD``).

    ``exp(0.91 d -+ 1.78 se)``, as R's EValue writes it (1.78 is about 0.91 x 1.96).

    Examples
    --------
    >>> [round(v, 4) for v in smd_rr_interval(0.5, 0.1)]
    [1.3192, 1.8833]
    """
    low, high = np.exp(0.91 * d + np.array([-1.78, 1.78]) * se)
    return float(low), float(high)
