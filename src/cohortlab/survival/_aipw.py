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

The estimator is not a probability: with propensity scores near 0 or 1 the augmentation
term ``1{A=a}/e_a (Z - m_a)`` can push a curve outside [0, 1] or make it rise.
:func:`bound_curve` projects each arm's curve onto the monotone curves within [0, 1] (the
least-squares projection: isotonic regression by pool-adjacent-violators, then clipping; R
``adjustedCurves`` offers the same two steps as ``iso_reg=`` and ``force_bounds=``) and
reports what it changed; a curve that is already monotone and within [0, 1] is returned
unchanged, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._counts import risk_counts

__all__ = ["CensoringKM", "censoring_km", "augmented_outcome", "Bounding", "bound_curve",
           "isotonic"]


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
    assert inc_u is not None  # given with cause
    f_own = inc_u[rows, p] if u.size else np.zeros(t.size)
    jump = np.where(hit, _safe_div(m_grid - f_own[:, None], denom[:, None]), 0.0)
    return z + jump - (m_grid * a - b)


def _safe_div(a: np.ndarray | float, b: np.ndarray) -> np.ndarray:
    """``a / b`` with 0 where ``b`` is 0."""
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, np.asarray(a, dtype=float) / np.where(b > 0, b, 1.0), 0.0)


@dataclass(frozen=True)
class Bounding:
    """What :func:`bound_curve` changed in one curve.

    ``n_out_of_range`` grid points lay outside [0, 1] (by at most ``max_out_of_range``);
    ``n_non_monotone`` steps went the wrong way (by at most ``max_non_monotone``); the
    projection moved ``n_changed`` points, by at most ``max_change``.
    """

    values: np.ndarray
    n_points: int
    n_out_of_range: int
    max_out_of_range: float
    n_non_monotone: int
    max_non_monotone: float
    n_changed: int
    max_change: float

    @property
    def changed(self) -> bool:
        """Whether any point was moved."""
        return self.n_changed > 0


def isotonic(y: np.ndarray, increasing: bool = True) -> np.ndarray:
    """Least-squares monotone fit of ``y`` (pool adjacent violators, equal weights).

    The loop runs over grid points (at most a few hundred), never over subjects.

    Examples
    --------
    >>> isotonic(np.array([1.0, 3, 2, 4])).tolist()
    [1.0, 2.5, 2.5, 4.0]
    >>> isotonic(np.array([1.0, 0.8, 0.9, 0.5]), increasing=False).tolist()
    [1.0, 0.85, 0.85, 0.5]
    """
    x = np.asarray(y, dtype=float) if increasing else -np.asarray(y, dtype=float)
    means: list[float] = []
    sizes: list[int] = []
    for v in x.tolist():
        m, n = v, 1
        while means and means[-1] > m:
            m0, n0 = means.pop(), sizes.pop()
            m, n = (m0 * n0 + m * n) / (n0 + n), n0 + n
        means.append(m)
        sizes.append(n)
    out = np.repeat(np.array(means), np.array(sizes, dtype=np.int64))
    return out if increasing else -out


def bound_curve(values: np.ndarray, increasing: bool) -> Bounding:
    """Project a curve on the grid onto the monotone curves within [0, 1].

    ``increasing``: ``False`` for a survival curve (non-increasing), ``True`` for a
    cumulative incidence. NaN points (not estimable: a trailing run) are left as they are.
    The projection is the isotonic regression clipped to [0, 1] (the Euclidean projection
    onto monotone functions bounded by [0, 1]). A curve with no violation is returned as is.

    Examples
    --------
    >>> b = bound_curve(np.array([0.9, 1.06, 0.7, 0.75, -0.03]), increasing=False)
    >>> b.values.round(3).tolist(), b.n_out_of_range, b.n_non_monotone
    ([0.98, 0.98, 0.725, 0.725, 0.0], 2, 2)
    >>> bound_curve(np.array([1.0, 0.9, 0.9, 0.2]), increasing=False).changed
    False
    """
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    x = v[ok]
    out_low, out_high = np.maximum(-x, 0.0), np.maximum(x - 1, 0.0)
    out = np.maximum(out_low, out_high)
    step = np.diff(x) if x.size > 1 else np.zeros(0)
    wrong = -step if increasing else step            # > 0 where the curve goes the wrong way
    n_out, n_wrong = int((out > 0).sum()), int((wrong > 0).sum())
    if n_out == 0 and n_wrong == 0:
        return Bounding(values=v, n_points=int(x.size), n_out_of_range=0,
                        max_out_of_range=0.0, n_non_monotone=0, max_non_monotone=0.0,
                        n_changed=0, max_change=0.0)
    fixed = np.clip(isotonic(x, increasing) if n_wrong else x, 0.0, 1.0)
    new = v.copy()
    new[ok] = fixed
    delta = np.abs(fixed - x)
    return Bounding(values=new, n_points=int(x.size), n_out_of_range=n_out,
                    max_out_of_range=float(out.max()), n_non_monotone=n_wrong,
                    max_non_monotone=float(wrong.max()) if n_wrong else 0.0,
                    n_changed=int((delta > 0).sum()), max_change=float(delta.max()))
