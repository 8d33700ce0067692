"""Array-only kernels of the paired model comparisons (numpy, no pandas).

Two (or more) scores evaluated on the same rows give correlated estimates; their difference
needs the covariance, which comes from the same per-subject components as each variance:

- AUROC: the DeLong structural components (placements). With ``V10`` the placements of the
  positives (one column per score) and ``V01`` those of the negatives, the covariance matrix
  of the AUROCs is ``S10 / n1 + S01 / n0`` with ``S10``, ``S01`` their sample covariance
  matrices (denominator ``n - 1``): DeLong, DeLong & Clarke-Pearson (1988), as R pROC
  ``roc.test(method = "delong", paired = TRUE)``.
- survival metrics: the per-subject influence values (infinitesimal jackknife for the
  C-indices, the IPCW influence functions for AUC(t) and Brier(t)); the variance of a
  difference is that of the difference of the influence values.
"""

from __future__ import annotations

import numpy as np

from . import _metrics as km

__all__ = ["row_placements", "delong_cov"]


def row_placements(score: np.ndarray, label: np.ndarray) -> tuple[float, np.ndarray]:
    """AUROC and each row's DeLong placement (positives: ``V10``, negatives: ``V01``).

    A positive's placement is the share of negatives scored below it (ties half), a
    negative's the share of positives scored above it. They are computed once per distinct
    score (:func:`cohortlab.evaluation._metrics.placements`) and gathered to the rows by
    ``searchsorted``: O(n log n), no loop over rows.

    Examples
    --------
    >>> auc, v = row_placements(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    >>> auc, v.tolist()
    (0.75, [1.0, 0.5, 0.5, 1.0])
    """
    sc = km.score_counts(score, label)
    v10, v01 = km.placements(sc)
    idx = np.searchsorted(sc.values, np.asarray(score, dtype=np.float64) + 0.0)
    pos = label == 1
    v = np.where(pos, v10[idx], v01[idx])
    auc = float(np.dot(sc.pos, v10) / sc.n_pos)
    return auc, v


def delong_cov(scores: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs of the columns of ``scores`` (n, k) and their DeLong covariance matrix (k, k).

    The diagonal equals :func:`cohortlab.evaluation._metrics.delong_auc`'s variance; the
    covariance is NaN with fewer than two positives or negatives.

    Examples
    --------
    >>> y = np.array([0, 0, 0, 1, 1, 1])
    >>> s = np.column_stack([[0.1, 0.5, 0.3, 0.4, 0.9, 0.8], [1.0, 2, 1, 3, 2, 3]])
    >>> auc, cov = delong_cov(s, y)
    >>> np.round(auc, 4).tolist(), round(float(cov[0, 1]), 5)
    ([0.8889, 0.9444], 0.00309)
    """
    label = np.asarray(label)
    k = scores.shape[1]
    pos = label == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    auc = np.empty(k)
    v = np.empty((label.size, k))
    for j in range(k):  # a few scores, not rows
        auc[j], v[:, j] = row_placements(scores[:, j], label)
    if n1 < 2 or n0 < 2:
        return auc, np.full((k, k), np.nan)
    d10 = v[pos] - auc
    d01 = v[~pos] - auc
    s10 = d10.T @ d10 / (n1 - 1)
    s01 = d01.T @ d01 / (n0 - 1)
    return auc, s10 / n1 + s01 / n0


def contrast_var(cov: np.ndarray, i: int, j: int) -> float:
    """Variance of ``theta_i - theta_j`` from their covariance matrix (never below 0).

    Examples
    --------
    >>> contrast_var(np.array([[2.0, 1.0], [1.0, 3.0]]), 0, 1)
    3.0
    """
    return float(max(cov[i, i] + cov[j, j] - 2.0 * cov[i, j], 0.0))
