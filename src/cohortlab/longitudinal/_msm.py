"""Weighted pooled logistic MSM: fit, cluster sandwich, standardised risks (arrays only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from .._glm import GLMFit
from ._weights import fit_logistic_rows

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
    fit = fit_logistic_rows(X, y, w, names=names, func=func, response="the outcome")
    bread = fit.information * X.shape[0]
    bread_inv = np.linalg.inv(bread)
    u = cluster_sums(X * (w * (y - fit.fitted))[:, None], cluster, n_clusters)
    g = int(np.count_nonzero(np.bincount(cluster, minlength=n_clusters)))
    adj = g / (g - 1.0) if adjust and g > 1 else 1.0
    vcov = adj * bread_inv @ (u.T @ u) @ bread_inv
    return ClusterFit(fit=fit, vcov=vcov, bread_inv=bread_inv, scores=u, adjustment=adj)


def _hazards(beta: np.ndarray, xs: np.ndarray, n_persons: int, n_periods: int,
             beta_d: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    hy = expit(xs @ beta).reshape(n_persons, n_periods)
    hd = (np.zeros_like(hy) if beta_d is None
          else expit(xs @ beta_d).reshape(n_persons, n_periods))
    return hy, hd


def _cif(hy: np.ndarray, hd: np.ndarray) -> np.ndarray:
    """Cumulative incidence of the outcome; the competing event comes first in a period."""
    q = (1.0 - hd) * (1.0 - hy)
    s_prev = np.ones_like(hy)
    s_prev[:, 1:] = np.cumprod(q, axis=1)[:, :-1]
    return np.cumsum(s_prev * (1.0 - hd) * hy, axis=1)


def standardised_risks(beta: np.ndarray, xs: np.ndarray, n_persons: int, n_periods: int,
                       counts: np.ndarray | None = None, beta_d: np.ndarray | None = None,
                       groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative risk by the end of each period under one strategy, averaged over persons.

    ``xs`` is the MSM design of the strategy on the grid persons x periods (person-major).
    Hazards ``h_ik = expit(x_ik beta)``; ``risk_ik = sum_{j<=k} S_i,j-1 (1 - d_ij) h_ij``
    with ``d_ij = expit(x_ij beta_d)`` the competing-event hazard (0 without one, when
    ``risk_ik = 1 - prod_{j<=k} (1 - h_ij)``) and ``S`` the probability of being free of
    both; the standardised risk is the (``counts``-weighted) mean over persons. Returns it
    and the per-person risks (n_persons x n_periods).

    ``groups`` (one code per person, ``0..m-1``) says that ``xs`` holds the grid of ``m``
    distinct baseline rows instead (persons with the same baseline covariates have the same
    risks): the mean weights each by its persons' (``counts``) total, the same number at a
    fraction of the work, and the second value is then the ``m`` groups' risks.

    Examples
    --------
    >>> xs = np.ones((2, 1))  # one person, two periods, intercept only
    >>> r, _ = standardised_risks(np.array([0.0]), xs, 1, 2)
    >>> r.tolist()
    [0.5, 0.75]
    >>> standardised_risks(np.array([0.0]), xs, 1, 2, beta_d=np.array([0.0]))[0].tolist()
    [0.25, 0.3125]
    >>> standardised_risks(np.array([0.0]), xs, 3, 2, groups=np.zeros(3, int))[0].tolist()
    [0.5, 0.75]
    """
    if groups is not None:
        m = xs.shape[0] // n_periods
        risk = _cif(*_hazards(beta, xs, m, n_periods, beta_d))
        cnt = np.bincount(groups, weights=counts, minlength=m).astype(float)
        return cnt @ risk / cnt.sum(), risk
    risk = _cif(*_hazards(beta, xs, n_persons, n_periods, beta_d))
    if counts is None:
        return risk.mean(axis=0), risk
    return counts @ risk / counts.sum(), risk


def risk_influence(beta: np.ndarray, xs: np.ndarray, n_persons: int, n_periods: int,
                   beta_influence: np.ndarray, beta_d: np.ndarray | None = None,
                   groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-person influence values of the standardised risks (weights treated as known).

    ``IF_ik = (risk_ik - R_k) / N + g_k' IF_theta,i`` with ``theta = beta`` (and ``beta_d``
    stacked after it with a competing event), ``g_k = mean_i d risk_ik / d theta`` (delta
    method, by a recursion over periods) and ``IF_theta,i`` the person's row of ``scores @
    bread_inv`` of each model (``beta_influence``, n_persons x len(theta)), so that ``sum_i
    IF_theta,i IF_theta,i'`` is the cluster sandwich. Returns the risks (n_periods,) and the
    influence values (n_persons x n_periods).

    ``groups`` (one code per person): ``xs`` is the grid of the distinct baseline rows, as in
    :func:`standardised_risks`; the risks and their gradient are computed once per group and
    weighted by its number of persons (the same numbers).
    """
    p = beta.size
    comp = beta_d is not None
    m = n_persons if groups is None else xs.shape[0] // n_periods
    cnt = np.ones(m) if groups is None else np.bincount(groups, minlength=m).astype(float)
    hy, hd = _hazards(beta, xs, m, n_periods, beta_d)
    risk = _cif(hy, hd)
    x3 = xs.reshape(m, n_periods, p)
    r_mean = risk.mean(axis=0) if groups is None else cnt @ risk / n_persons
    per_person = risk if groups is None else risk[groups]
    if not comp:
        # d risk_k / d beta = S_k sum_{j<=k} h_j x_j, in closed form
        surv = np.cumprod(1.0 - hy, axis=1)
        cum = np.zeros((m, p))
        grad = np.empty((n_periods, p))
        for k in range(n_periods):  # periods, each a matrix-vector product over persons
            cum += hy[:, k, None] * x3[:, k, :]
            grad[k] = (surv[:, k] * cnt) @ cum
        grad /= n_persons
        return r_mean, (per_person - r_mean) / n_persons + beta_influence @ grad.T
    width = 2 * p
    d_s = np.zeros((m, width))   # d S_{k-1} / d theta
    d_f = np.zeros((m, width))   # d risk_k / d theta
    s_prev = np.ones(m)
    grad = np.empty((n_periods, width))
    for k in range(n_periods):  # a loop over periods, vectorised over persons
        x, y, d = x3[:, k, :], hy[:, k], hd[:, k]
        a = (y * (1.0 - y))[:, None] * x
        b = (d * (1.0 - d))[:, None] * x
        d_e = np.hstack([(1.0 - d)[:, None] * a, -y[:, None] * b])
        d_q = np.hstack([-(1.0 - d)[:, None] * a, -(1.0 - y)[:, None] * b])
        e, q = (1.0 - d) * y, (1.0 - d) * (1.0 - y)
        d_f += d_s * e[:, None] + s_prev[:, None] * d_e
        d_s = d_s * q[:, None] + s_prev[:, None] * d_q
        s_prev = s_prev * q
        grad[k] = d_f.mean(axis=0) if groups is None else cnt @ d_f / n_persons
    infl = (per_person - r_mean) / n_persons + beta_influence @ grad.T
    return r_mean, infl
