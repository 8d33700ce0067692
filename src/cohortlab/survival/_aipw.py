"""Augmented IPW with censoring augmentation (AIPTW-AIPCW) for survival and incidence.

For arm ``a`` and time ``t`` the estimating function of subject ``i`` is

    psi_a,i(t) = m_a(t | X_i) + 1{A_i = a} / e_a(X_i) * (Z_i(t) - m_a(t | X_i))

with ``m_a`` the outcome model's predicted curve, ``e_a`` the propensity score and ``Z_i``
the censoring-augmented outcome (Tsiatis 2006, ch. 9-10; Bai, Tsiatis & O'Brien 2013):

    Z_i(t) = Delta_i Y_i(t) / G(.) + sum_u Q_i(u; t) dM_C,i(u) / G(u),

``Y = 1{T > t}`` (survival) or ``1{T <= t, cause}`` (incidence), ``G`` the arm's Kaplan-Meier
curve of censoring (``G(u) = P(C > u)``; events precede censorings at tied times), ``dM_C``
the censoring martingale and ``Q_i(u; t) = E[Y | T > u, X_i]`` from the outcome model. The
estimator is consistent if ``G`` is, and either the propensity or the outcome model is.

Every per-subject sum over censoring times is a cumulative sum along the censoring jump
times, read at each grid time with one ``take_along_axis``: no loop over rows or times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._counts import risk_counts

__all__ = ["CensoringKM", "censoring_km", "augmented_outcome"]


@dataclass(frozen=True)
class CensoringKM:
    """Kaplan-Meier of censoring: jump times ``u``, hazards and ``G(u) = P(C > u)``."""

    jumps: np.ndarray
    hazard: np.ndarray
    g_after: np.ndarray

    def after(self, x: np.ndarray) -> np.ndarray:
        """``G(x) = P(C > x)``."""
        return np.concatenate([[1.0], self.g_after])[np.searchsorted(self.jumps, x, "right")]

    def before(self, x: np.ndarray) -> np.ndarray:
        """``G(x-) = P(C >= x)``."""
        return np.concatenate([[1.0], self.g_after])[np.searchsorted(self.jumps, x, "left")]


def censoring_km(t: np.ndarray, d: np.ndarray, w: np.ndarray) -> CensoringKM:
    """Censoring curve with events before censorings at tied times (``d``: 0 = censored).

    Examples
    --------
    >>> km = censoring_km(np.array([1.0, 2, 3, 4]), np.array([0, 1, 0, 1]), np.ones(4))
    >>> km.jumps.tolist(), km.g_after.round(3).tolist()
    ([1.0, 3.0], [0.75, 0.375])
    """
    cens = risk_counts(t, (d == 0).astype(np.int64), w, n_causes=1)
    events = risk_counts(t, (d > 0).astype(np.int64), w, n_causes=1).n_event[:, 0]
    at_risk = cens.n_risk - events
    with np.errstate(divide="ignore", invalid="ignore"):
        haz = np.where(at_risk > 0, cens.n_event[:, 0] / at_risk, 0.0)
    keep = haz > 0
    return CensoringKM(jumps=cens.time[keep], hazard=haz[keep],
                       g_after=np.cumprod(1 - haz)[keep])


def augmented_outcome(
    t: np.ndarray,
    d: np.ndarray,
    cause: int | None,
    grid: np.ndarray,
    km: CensoringKM,
    m_grid: np.ndarray,
    surv_u: np.ndarray,
    inc_u: np.ndarray | None,
) -> np.ndarray:
    """``Z_i(t_k)`` for rows ``i`` (one arm) and grid times ``t_k`` (rows x grid).

    ``m_grid``: the model's curve at the grid (survival, or incidence of ``cause``);
    ``surv_u`` / ``inc_u``: the model's all-cause survival / incidence at ``km.jumps``.
    """
    u = km.jumps
    censored = d == 0
    # where G reaches 0 (everyone left censored, e.g. administrative end of follow-up) no one
    # is observed beyond: those terms are 0 (the times are not estimable, see the docstring)
    c = _safe_div(km.hazard, km.g_after)                         # dLambda_C(u) / G(u)
    ratio = _safe_div(c[None, :], surv_u)
    cum_a = np.concatenate([np.zeros((t.size, 1)), np.cumsum(ratio, axis=1)], axis=1)
    # censoring jumps each row was at risk for, up to t_k: u <= min(t_k, T) if censored,
    # u < T (and u <= t_k) after an event
    upto_t = np.searchsorted(u, grid, side="right")[None, :]
    own = np.where(censored, np.searchsorted(u, t, side="right"),
                   np.searchsorted(u, t, side="left"))[:, None]
    idx = np.minimum(upto_t, own)
    a = np.take_along_axis(cum_a, idx, axis=1)
    p = np.minimum(np.searchsorted(u, t, side="left"), max(u.size - 1, 0))
    rows = np.arange(t.size)
    hit = censored[:, None] & (t[:, None] <= grid[None, :])
    if u.size:
        denom = surv_u[rows, p] * km.g_after[p]
    else:
        denom = np.ones(t.size)
    if cause is None:
        z = np.where(t[:, None] > grid[None, :], _safe_div(1.0, km.after(grid))[None, :], 0.0)
        jump = np.where(hit, _safe_div(m_grid, denom[:, None]), 0.0)
        return z + jump - m_grid * a
    cum_b = np.concatenate([np.zeros((t.size, 1)), np.cumsum(ratio * inc_u, axis=1)], axis=1)
    b = np.take_along_axis(cum_b, idx, axis=1)
    z = np.where((t[:, None] <= grid[None, :]) & (d == cause)[:, None],
                 _safe_div(1.0, km.before(t))[:, None], 0.0)
    f_own = inc_u[rows, p] if u.size else np.zeros(t.size)
    jump = np.where(hit, _safe_div(m_grid - f_own[:, None], denom[:, None]), 0.0)
    return z + jump - (m_grid * a - b)


def _safe_div(a: np.ndarray | float, b: np.ndarray) -> np.ndarray:
    """``a / b`` with 0 where ``b`` is 0."""
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, np.asarray(a, dtype=float) / np.where(b > 0, b, 1.0), 0.0)
