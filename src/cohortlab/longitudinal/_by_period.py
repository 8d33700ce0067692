"""Per-period sums of person-period rows (arrays only): counts, event shares, means and SDs.

``code`` is each row's period index (``0..k-1``, from ``np.unique(..., return_inverse=True)``);
every sum is one ``np.bincount`` over the rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["covariate_summary", "event_summary", "period_count"]


def period_count(code: np.ndarray, k: int, x: np.ndarray) -> np.ndarray:
    """Sum of ``x`` over the rows of each period.

    Examples
    --------
    >>> period_count(np.array([0, 0, 1]), 2, np.array([1.0, 2.0, 5.0])).tolist()
    [3.0, 5.0]
    """
    return np.bincount(code, weights=x, minlength=k)


def event_summary(y: np.ndarray, code: np.ndarray, k: int,
                  n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events, percent of the rows with an observed outcome, and missing outcomes per period.

    ``y`` is 0/1 or NaN (unobserved); ``n`` the rows per period.
    """
    seen = ~np.isnan(y)
    n_events = period_count(code, k, np.nan_to_num(y)).astype(np.int64)
    n_seen = period_count(code, k, seen.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(n_seen > 0, 100.0 * n_events / n_seen, np.nan)
    return n_events, pct, (n - n_seen).astype(np.int64)


def covariate_summary(x: np.ndarray, code: np.ndarray, k: int,
                      n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, SD (n - 1) and missing values of ``x`` per period (NaN: missing).

    Examples
    --------
    >>> m, s, miss = covariate_summary(np.array([1.0, 3.0, np.nan]), np.array([0, 0, 1]), 2,
    ...                                np.array([2.0, 1.0]))
    >>> m.tolist(), s.tolist(), miss.tolist()
    ([2.0, nan], [1.4142135623730951, nan], [0, 1])
    """
    ok = ~np.isnan(x)
    m = period_count(code, k, ok.astype(float))
    s1 = period_count(code, k, np.where(ok, x, 0.0))
    s2 = period_count(code, k, np.where(ok, x * x, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / m
        var = (s2 - m * mean**2) / (m - 1)
    return (np.where(m > 0, mean, np.nan), np.where(m > 1, np.sqrt(np.maximum(var, 0.0)), np.nan),
            (n - m).astype(np.int64))
