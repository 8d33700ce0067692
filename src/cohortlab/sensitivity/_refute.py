"""The arithmetic of :func:`cohortlab.refute` (arrays only): DoWhy's p-value and subsets."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["dowhy_p_value", "subset_rows"]


def dowhy_p_value(value: float, sims: np.ndarray, test: str) -> float:
    """DoWhy's ``test_significance`` of ``value`` against the simulated estimates.

    ``"bootstrap"``: two-sided percentile p-value ``2 min(q, 1 - q)`` with
    ``q = mean(sims > value) + 0.5 mean(sims == value)``. ``"normal"``: one tail,
    ``Phi(-|z|)`` with ``z = (value - mean) / sd`` (population SD, ``ddof=0``), as DoWhy.

    Examples
    --------
    >>> sims = np.array([-1.0, 0.0, 1.0, 2.0])
    >>> dowhy_p_value(0.0, sims, "bootstrap")
    0.75
    >>> round(dowhy_p_value(0.5, sims, "normal"), 6)
    0.5
    """
    if test == "bootstrap":
        q = float(np.mean(sims > value) + 0.5 * np.mean(sims == value))
        return 2 * min(q, 1 - q)
    sd = float(np.std(sims))
    if sd == 0:
        return 0.5 if value == float(np.mean(sims)) else 0.0
    z = (value - float(np.mean(sims))) / sd
    return float(stats.norm.cdf(-abs(z)))


def subset_rows(rng: np.random.Generator, n: int, fraction: float) -> np.ndarray:
    """A sorted random subset of ``round(fraction n)`` (at least one) of ``n`` row positions."""
    k = max(1, int(round(fraction * n)))
    return np.sort(rng.choice(n, size=k, replace=False))
