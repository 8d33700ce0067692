"""Weight arithmetic shared by the trial emulations (arrays only): truncation, diagnostics."""

from __future__ import annotations

import numpy as np

__all__ = ["quantile_bounds", "weight_stats"]


def quantile_bounds(w: np.ndarray, quantiles: tuple[float, float]) -> tuple[float, float, int]:
    """The ``(low, high)`` quantiles of ``w`` and how many weights lie outside them.

    Examples
    --------
    >>> quantile_bounds(np.arange(1.0, 12.0), (0.1, 0.9))
    (2.0, 10.0, 2)
    """
    lo, hi = np.quantile(w, quantiles)
    return float(lo), float(hi), int(((w < lo) | (w > hi)).sum())


def weight_stats(w: np.ndarray, n_trunc: int) -> dict[str, float]:
    """Size, mean, SD, min, 1st / 50th / 99th percentiles, max, Kish ESS and truncations.

    Empty ``w``: only ``n`` (0).

    Examples
    --------
    >>> weight_stats(np.array([1.0, 1.0, 2.0]), 0)["ess"]
    2.6666666666666665
    """
    if w.size == 0:
        return {"n": 0.0}
    q = np.quantile(w, [0.01, 0.5, 0.99])
    ess = float(w.sum() ** 2 / (w * w).sum())
    stats = {"n": w.size, "mean": w.mean(), "sd": w.std(ddof=1) if w.size > 1 else 0.0,
             "min": w.min(), "p01": q[0], "median": q[1], "p99": q[2], "max": w.max(),
             "ess": ess, "n_truncated": n_trunc}
    return {k: float(v) for k, v in stats.items()}
