"""The arithmetic of :func:`cohortlab.bias_analysis` (arrays only).

Predictive values of a misclassified flag from sensitivity, specificity and the observed
prevalence (per stratum cell or per record), and the record-level imputation of the true
exposure (Fox, MacLehose & Lash 2021, ch. 6).
"""

from __future__ import annotations

import numpy as np

__all__ = ["CLIP_EPS", "cell_prevalence", "impute_exposure", "predictive_values",
           "record_predictive_values"]

#: record-level prevalence model: implied true prevalences outside (0, 1) are clipped to
#: [CLIP_EPS, 1 - CLIP_EPS]
CLIP_EPS = 1e-6


def predictive_values(
    se: np.ndarray, sp: np.ndarray, p_obs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(true = 1 | flag = 1), P(true = 1 | flag = 0) and the true prevalence, per cell.

    ``se``, ``sp`` and the observed flag prevalence ``p_obs`` are per stratum cell. The true
    prevalence is ``(p_obs + sp - 1) / (se + sp - 1)``; predictive values follow from Bayes.
    """
    p_true = (p_obs + sp - 1.0) / (se + sp - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        q1 = np.where(p_obs > 0, se * p_true / p_obs, 0.0)
        q0 = np.where(p_obs < 1, (1.0 - se) * p_true / (1.0 - p_obs), 1.0)
    return np.clip(q1, 0.0, 1.0), np.clip(q0, 0.0, 1.0), p_true


def record_predictive_values(
    se: np.ndarray, sp: np.ndarray, p_obs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-record predictive values from per-record ``p_obs``, ``se`` and ``sp``.

    The implied true prevalence ``(p_obs + sp - 1) / (se + sp - 1)`` is clipped to
    ``[eps, 1 - eps]`` where it leaves (0, 1); the number of clipped records is returned.

    Examples
    --------
    >>> q1, q0, n = record_predictive_values(np.full(2, 0.9), np.full(2, 0.95),
    ...                                      np.array([0.135, 0.02]))
    >>> q1.round(4).tolist(), n
    ([0.6667, 0.0], 1)
    """
    p_true = (p_obs + sp - 1.0) / (se + sp - 1.0)
    out = (p_true <= 0.0) | (p_true >= 1.0)
    p_true = np.clip(p_true, CLIP_EPS, 1.0 - CLIP_EPS)
    q1 = se * p_true / p_obs  # p_obs is a fitted logistic probability: in (0, 1)
    q0 = (1.0 - se) * p_true / (1.0 - p_obs)
    return np.clip(q1, 0.0, 1.0), np.clip(q0, 0.0, 1.0), int(out.sum())


def impute_exposure(rng: np.random.Generator, flag: np.ndarray, cell: np.ndarray, q1: np.ndarray,
            q0: np.ndarray) -> np.ndarray:
    """One Bernoulli draw of the true exposure per record."""
    q = np.where(flag == 1, q1[cell], q0[cell])
    return (rng.random(flag.size) < q).astype(np.int64)


def cell_prevalence(flag: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """The observed flag prevalence of each stratum cell (0 in an empty cell)."""
    counts = np.bincount(cell, minlength=n_cells)
    return np.bincount(cell, weights=flag, minlength=n_cells) / np.maximum(counts, 1)
