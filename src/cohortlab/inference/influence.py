"""Standard errors from influence functions, plain or cluster-robust."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..exceptions import CohortError

__all__ = ["se_from_influence", "vcov_from_influence"]


def check_cluster(cluster: ArrayLike, n: int, func: str, rows: str = "rows") -> np.ndarray:
    """Cluster labels as an array, one per row, or a :class:`CohortError` saying otherwise.

    >>> check_cluster([1, 1, 2], 3, "demo").tolist()
    [1, 1, 2]
    """
    labels = np.asarray(cluster)
    if labels.shape[0] != n:
        raise CohortError(
            f"{func}(): cluster has {labels.shape[0]:,} labels for {n:,} {rows}; "
            "pass one label per row."
        )
    return labels


def vcov_from_influence(
    influence: ArrayLike, cluster: ArrayLike | None = None, *, small_sample: bool = True
) -> np.ndarray:
    """Variance-covariance matrix of an estimator from its per-subject influence values.

    Parameters
    ----------
    influence : array_like, shape (n,) or (n, k)
        Influence function values scaled so that ``estimate - truth ~ mean(influence)``, i.e.
        ``phi_i`` with ``sum(phi_i) = 0``.
    cluster : array_like, shape (n,), optional
        Cluster labels; the influence values are summed within clusters first.
    small_sample : bool
        With clusters, multiply by ``G / (G - 1)`` (G clusters), as R's ``sandwich::vcovCL``.

    Returns
    -------
    numpy.ndarray, shape (k, k)
        ``sum_i phi_i phi_i' / n**2`` (or its cluster version).

    Examples
    --------
    >>> phi = np.array([1.0, -1.0, 2.0, -2.0])
    >>> float(vcov_from_influence(phi)[0, 0])
    0.625
    """
    phi = np.asarray(influence, dtype=float)
    if phi.ndim == 1:
        phi = phi[:, None]
    n = phi.shape[0]
    if cluster is not None:
        cluster = check_cluster(cluster, n, "vcov_from_influence", "influence values")
        _, inv = np.unique(cluster, return_inverse=True)
        g = int(inv.max()) + 1
        summed = np.zeros((g, phi.shape[1]))
        np.add.at(summed, inv, phi)
        adj = g / (g - 1) if (small_sample and g > 1) else 1.0
        return adj * (summed.T @ summed) / n**2
    return (phi.T @ phi) / n**2


def se_from_influence(
    influence: ArrayLike, cluster: ArrayLike | None = None, *, small_sample: bool = True
) -> np.ndarray | float:
    """Standard error(s) from influence values; see :func:`vcov_from_influence`.

    Examples
    --------
    >>> round(float(se_from_influence([1.0, -1.0, 2.0, -2.0])), 4)
    0.7906
    """
    v = np.sqrt(np.diag(vcov_from_influence(influence, cluster, small_sample=small_sample)))
    return float(v[0]) if v.shape[0] == 1 else v
