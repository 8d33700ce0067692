"""MSM kernels (arrays only): pooled logistic and Cox fits, standardised risks, bootstrap.

The weighted pooled logistic and Cox MSMs, the cluster sandwich, the standardised risks
under a strategy and the person-bootstrap statistics of :func:`cohortlab.msm`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from .._glm import GLMFit
from ..exceptions import ConvergenceError
from ..survival import _cox
from ._strategy_curves import cox_baseline, cox_standardised_risks
from ._weights import Prepared, compute, fit_logistic_rows, position_rows, truncate_weights

__all__ = ["ClusterFit", "bootstrap_statistic", "cluster_sums", "cox_bootstrap_statistic",
           "cox_strategy_risks", "fit_cox_msm", "fit_msm", "replicate_weights",
           "risk_influence", "standardised_risks", "treatment_history"]


def treatment_history(a: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative count and ever-treated indicator within person (loop over periods)."""
    cum = a.astype(float).copy()
    for rows in position_rows(pos):
        cum[rows] += cum[rows - 1]
    return cum, (cum > 0).astype(float)


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


# ---------------------------------------------------------------------- Cox MSM
def fit_cox_msm(X: np.ndarray, start: np.ndarray, y: np.ndarray, w: np.ndarray,
                cluster: np.ndarray, *, func: str = "msm"
                ) -> tuple[_cox.CoxData, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted Cox MSM on the intervals ``(start, start + 1]`` (Efron ties).

    Returns the Cox data, the coefficients, their cluster-robust covariance (by ``cluster``,
    no small-sample factor, as ``coxph``) and the model-based covariance.
    """
    cd = _cox.prepare(X, start + 1.0, y, w, entry=start)
    fit = _cox.fit_cox(cd, True)
    if not fit.converged or not np.all(np.isfinite(fit.beta)):
        raise ConvergenceError(f"{func}(): the weighted Cox MSM did not converge; check for "
                               "a treatment history term with all or none of the events.")
    vcov, _ = _cox.robust_vcov(cd, fit.beta, fit.vcov, True, cluster=cluster, weights=w)
    return cd, fit.beta, vcov, fit.vcov


def cox_strategy_risks(cd: _cox.CoxData, beta: np.ndarray, grids: list[np.ndarray],
                       counts: np.ndarray, p0: int, n_per: int) -> np.ndarray:
    """Standardised risks per period under each strategy's grid (concatenated), Cox MSM.

    From the MSM's weighted Breslow (Efron) baseline hazard, ``counts`` persons per grid row.
    """
    times, dh = cox_baseline(cd, beta)
    return np.concatenate([cox_standardised_risks(beta, cd.center, times, dh, g, counts, p0,
                                                  n_per) for g in grids])


# ---------------------------------------------------------------------- bootstrap
def replicate_weights(prep: Prepared, idx: np.ndarray, w_full: np.ndarray,
                      truncate: tuple[float, float] | None, reweight: bool,
                      func: str) -> np.ndarray:
    """A person-bootstrap resample's weights: re-estimated (and truncated) or the fixed ones."""
    if not reweight:
        return w_full[idx]
    wf = compute(prep, idx, information=False, func=func)
    return wf.weights if truncate is None else truncate_weights(wf.weights, wf.used, truncate)[0]


def bootstrap_statistic(prep: Prepared, X: np.ndarray, y: np.ndarray, d: np.ndarray | None,
                        w_full: np.ndarray, used: np.ndarray, yrows: np.ndarray,
                        grids: list[np.ndarray], groups: np.ndarray, n_per: int,
                        start: tuple[np.ndarray, np.ndarray | None],
                        truncate: tuple[float, float] | None, reweight: bool,
                        func: str) -> Callable[[np.ndarray], np.ndarray]:
    """Pooled logistic MSM risks under each strategy on a person-bootstrap resample.

    The statistic takes the resample's rows ``idx``. ``func``: the verb's name, taken in the
    calling process (a replicate may run in a worker process).
    """
    row_in_design = np.cumsum(used) - 1
    no_comp = np.ones(y.size, dtype=bool) if d is None else d < 0.5

    def stat(idx: np.ndarray) -> np.ndarray:
        w = replicate_weights(prep, idx, w_full, truncate, reweight, func)
        keep = (w > 0) & used[idx]
        ykeep = keep & no_comp[idx]
        by = fit_logistic_rows(X[row_in_design[idx[ykeep]]], y[idx[ykeep]], w[ykeep],
                               start=start[0], information=False, func=func).coef
        bd = None
        if d is not None:
            bd = fit_logistic_rows(X[row_in_design[idx[keep]]], d[idx[keep]], w[keep],
                                   start=start[1], information=False, func=func).coef
        first = prep.pos[idx] == 0
        counts = np.bincount(prep.codes[idx[first]], minlength=prep.n_persons).astype(float)
        return np.concatenate([standardised_risks(by, g, prep.n_persons, n_per, counts,
                                                  beta_d=bd, groups=groups)[0]
                               for g in grids])
    return stat


def cox_bootstrap_statistic(prep: Prepared, X: np.ndarray, used: np.ndarray,
                            ystat: np.ndarray, grids: list[np.ndarray], groups: np.ndarray,
                            p0: int, n_per: int, beta0: np.ndarray, w_full: np.ndarray,
                            truncate: tuple[float, float] | None, reweight: bool,
                            func: str) -> Callable[[np.ndarray], np.ndarray]:
    """Cox MSM risks under each strategy on a person-bootstrap resample (rows ``idx``).

    The weights (if ``reweight``), the Cox MSM (from ``beta0``) and its baseline hazard are
    re-estimated. ``X`` and ``ystat`` are on the rows ``used``.
    """
    n_groups = np.bincount(groups).size
    row_in_design = np.cumsum(used) - 1
    ys = np.zeros(used.size)
    ys[used] = ystat

    def stat(idx: np.ndarray) -> np.ndarray:
        w = replicate_weights(prep, idx, w_full, truncate, reweight, func)
        keep = (w > 0) & used[idx]
        rows = idx[keep]
        cdb = _cox.prepare(X[row_in_design[rows]], prep.period[rows] + 1.0, ys[rows],
                           w[keep], entry=prep.period[rows])
        fit = _cox.fit_cox(cdb, True, init=beta0)
        first = prep.pos[idx] == 0
        per_person = np.bincount(prep.codes[idx[first]], minlength=prep.n_persons)
        return cox_strategy_risks(cdb, fit.beta, grids,
                                  np.bincount(groups, weights=per_person, minlength=n_groups),
                                  p0, n_per)
    return stat
