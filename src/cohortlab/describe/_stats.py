"""Weighted summaries and standardised mean differences (arrays only, no pandas).

Conventions (as R's tableone / cobalt, and checked against them in tests):

- weighted mean ``m = sum(w x) / sum(w)``;
- weighted variance ``sum(w) / (sum(w)**2 - sum(w**2)) * sum(w (x - m)**2)``, which is the
  sample variance (``n - 1`` denominator) when all weights are 1;
- binary variance ``p (1 - p)``;
- SMD ``(m1 - m0) / sd`` with ``sd`` pooled ``sqrt((s1**2 + s0**2) / 2)``, or the treated or
  control SD (ATT / ATC conventions);
- multi-level categorical SMD (Yang & Dalton 2012): ``sqrt(T' S^-1 T)`` with ``T = p1 - p0``
  over the non-reference levels and ``S`` the average of the two groups' multinomial
  covariance matrices.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "weighted_mean_var",
    "weighted_quantiles",
    "pooled_sd",
    "smd_from_moments",
    "smd_categorical",
]


def weighted_mean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted mean and (reliability-weighted) variance; NaN variance with < 2 effective rows."""
    # elementwise sums, not 1-d np.dot: BLAS threading on dot products stalls under load
    sw = w.sum()
    if sw <= 0:
        return math.nan, math.nan
    m = float((w * x).sum() / sw)
    denom = sw**2 - (w * w).sum()
    if denom <= 0:
        return m, math.nan
    return m, float(sw / denom * (w * (x - m) ** 2).sum())


def weighted_quantiles(x: np.ndarray, w: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Quantiles of ``x``; R's type 7 when all weights are equal, else the weighted inverse CDF.

    With unequal weights the quantile is the smallest ``x`` whose cumulative weight share
    reaches ``p``, averaging the two neighbours when the share equals ``p`` exactly (type 2).
    """
    if x.size == 0:
        return np.full(len(probs), np.nan)
    if np.all(w == w[0]):
        return np.quantile(x, probs)
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[order]
    keep = ws > 0
    xs, ws = xs[keep], ws[keep]
    cw = np.cumsum(ws) / ws.sum()
    out = np.empty(len(probs))
    for i, p in enumerate(probs):  # len(probs) is 2-3: not a loop over rows
        j = int(np.searchsorted(cw, p - 1e-12, side="left"))
        j = min(j, xs.size - 1)
        if abs(cw[j] - p) < 1e-12 and j + 1 < xs.size:
            out[i] = (xs[j] + xs[j + 1]) / 2.0
        else:
            out[i] = xs[j]
    return out


def pooled_sd(v1: float, v0: float, denominator: str) -> float:
    """The SMD denominator from the two group variances."""
    if denominator == "treated":
        return math.sqrt(v1)
    if denominator == "control":
        return math.sqrt(v0)
    return math.sqrt((v1 + v0) / 2.0)


def smd_from_moments(m1: float, m0: float, sd: float) -> float:
    """``(m1 - m0) / sd``; 0 when both means are equal, NaN when ``sd`` is 0 otherwise."""
    if m1 == m0:
        return 0.0
    if not sd > 0:
        return math.nan
    return (m1 - m0) / sd


def smd_categorical(p1: np.ndarray, p0: np.ndarray, v1: np.ndarray | None = None,
                    v0: np.ndarray | None = None, denominator: str = "pooled") -> float:
    """Yang-Dalton SMD for a K-level categorical variable from the level proportions.

    ``p1``, ``p0`` are the K proportions in each group; the first level is the reference and
    is dropped. ``v1``, ``v0`` are the proportions used for the covariance matrices (defaults to
    ``p1``, ``p0``; pass the unweighted proportions for the cobalt-style denominator).
    """
    v1 = p1 if v1 is None else v1
    v0 = p0 if v0 is None else v0
    t = (p1 - p0)[1:]
    if not np.any(np.abs(t) > 0):
        return 0.0

    def cov(p: np.ndarray) -> np.ndarray:
        q = p[1:]
        return np.diag(q) - np.outer(q, q)

    s = {"treated": cov(v1), "control": cov(v0)}.get(denominator, (cov(v1) + cov(v0)) / 2.0)
    sol, *_ = np.linalg.lstsq(s, t, rcond=None)
    val = float(t @ sol)
    return math.sqrt(val) if val >= 0 else math.nan
