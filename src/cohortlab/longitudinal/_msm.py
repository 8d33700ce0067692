"""Weighted pooled logistic MSM: fit, cluster sandwich, standardised risks (arrays only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from .._glm import GLMFit, fit_logistic
from ._weights import warm_start

__all__ = ["ClusterFit", "cluster_sums", "fit_msm", "standardised_risks", "risk_influence"]


def cluster_sums(u: np.ndarray, cluster: np.ndarray, n_clusters: int) -> np.ndarray:
    """Row-sum of ``u`` (n x p) within clusters coded ``0..n_clusters-1`` (R ``rowsum``)."""
    return np.column_stack([np.bincount(cluster, weights=u[:, k], minlength=n_clusters)
                            for k in range(u.shape[1])])


@dataclass(frozen=True, eq=False)
class ClusterFit:
    """A weighted logistic fit with its cluster-robust (sandwich) covariance.

    ``bread_inv`` is ``(X' diag(w mu (1 - mu)) X)^-1``; ``scores`` the per-cluster sums of
    ``w x (y - mu)``; ``vcov = adj * bread_inv scores' scores bread_inv`` with ``adj`` the
    small-sample factor ``G / (G - 1)`` or 1.
    """

    fit: GLMFit
    vcov: np.ndarray
    bread_inv: np.ndarray
    scores: np.ndarray
    adjustment: float


def fit_msm(X: np.ndarray, y: np.ndarray, w: np.ndarray, cluster: np.ndarray, n_clusters: int,
            *, adjust: bool = True, names: tuple[str, ...] | None = None,
            func: str = "msm") -> ClusterFit:
    """Weighted pooled logistic regression with the cluster sandwich (vcovCL HC0).

    Matches R ``sandwich::vcovCL(glm(..., weights = w), cluster = ~id, type = "HC0")``:
    ``cadjust = TRUE`` (``adjust=True``) multiplies by ``G / (G - 1)``; ``adjust=False``
    is geepack's independence-GEE robust variance.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(400), rng.normal(size=400)])
    >>> y = rng.binomial(1, expit(X[:, 1])).astype(float)
    >>> cf = fit_msm(X, y, np.ones(400), np.repeat(np.arange(200), 2), 200)
    >>> cf.vcov.shape, round(cf.adjustment, 4)
    ((2, 2), 1.005)
    """
    fit = fit_logistic(X, y, w, names=names, func=func, response="the outcome",
                       start=warm_start(X, y, w))
    bread = fit.information * X.shape[0]
    bread_inv = np.linalg.inv(bread)
    u = cluster_sums(X * (w * (y - fit.fitted))[:, None], cluster, n_clusters)
    g = int(np.count_nonzero(np.bincount(cluster, minlength=n_clusters)))
    adj = g / (g - 1.0) if adjust and g > 1 else 1.0
    vcov = adj * bread_inv @ (u.T @ u) @ bread_inv
    return ClusterFit(fit=fit, vcov=vcov, bread_inv=bread_inv, scores=u, adjustment=adj)


def standardised_risks(beta: np.ndarray, xs: np.ndarray, n_persons: int, n_periods: int,
                       counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative risk by the end of each period under one strategy, averaged over persons.

    ``xs`` is the MSM design of the strategy on the grid persons x periods (person-major).
    Hazards ``h_ik = expit(x_ik beta)``; ``risk_ik = 1 - prod_{j<=k} (1 - h_ij)``; the
    standardised risk is the (``counts``-weighted) mean over persons. Returns it and the
    per-person risks (n_persons x n_periods).

    Examples
    --------
    >>> xs = np.ones((2, 1))  # one person, two periods, intercept only
    >>> r, _ = standardised_risks(np.array([0.0]), xs, 1, 2)
    >>> r.tolist()
    [0.5, 0.75]
    """
    h = expit(xs @ beta).reshape(n_persons, n_periods)
    risk = 1.0 - np.cumprod(1.0 - h, axis=1)
    if counts is None:
        return risk.mean(axis=0), risk
    return counts @ risk / counts.sum(), risk


def risk_influence(beta: np.ndarray, xs: np.ndarray, n_persons: int, n_periods: int,
                   beta_influence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-person influence values of the standardised risks (weights treated as known).

    ``IF_ik = (risk_ik - R_k) / N + g_k' IF_beta,i`` with ``g_k = mean_i d risk_ik / d beta =
    mean_i S_ik sum_{j<=k} h_ij x_ij`` (delta method) and ``IF_beta,i`` the person's row of
    ``scores @ bread_inv`` (so ``sum_i IF_beta,i IF_beta,i'`` is the sandwich). Returns the
    risks (n_periods,) and the influence values (n_persons x n_periods).
    """
    p = beta.size
    h = expit(xs @ beta).reshape(n_persons, n_periods)
    surv = np.cumprod(1.0 - h, axis=1)
    risk = 1.0 - surv
    r_mean = risk.mean(axis=0)
    # g_k = mean_i S_ik cumsum_j (h_ij x_ij): loop over periods keeps memory at n x p
    hx = xs.reshape(n_persons, n_periods, p) * h[:, :, None]
    cum = np.zeros((n_persons, p))
    grad = np.empty((n_periods, p))
    for k in range(n_periods):
        cum += hx[:, k, :]
        grad[k] = (surv[:, k, None] * cum).mean(axis=0)
    infl = (risk - r_mean) / n_persons + beta_influence @ grad.T
    return r_mean, infl
