"""The array kernels of ``adjusted_survival(method="ipw")``, one arm at a time.

One arm's weighted Kaplan-Meier (or Aalen-Johansen) curve and its infinitesimal-jackknife
variance, read on a time grid (both arms: :func:`ipw_curves`); the pointwise intervals of
the arms' curves (log-log, Wald, bootstrap percentile) for every method.

Arrays in, arrays out; no validation (the verb has done it).
"""

from __future__ import annotations

import numpy as np

from ..inference.bootstrap import bootstrap_interval
from ..inference.wald import z_critical
from ._aalen_johansen import aalen_johansen, ij_variance
from ._counts import risk_counts
from ._km import km_ij_variance, product_limit

__all__ = ["arm_curve", "arm_variance", "at_risk_on_grid", "event_grid",
           "ipw_curves", "read_on_grid", "log_log_ci", "plain_ci", "bootstrap_ci"]


def event_grid(t: np.ndarray, d: np.ndarray, max_grid: int) -> np.ndarray:
    """The default evaluation grid: the event times and the end of follow-up.

    Beyond ``max_grid`` distinct event times, ``max_grid`` quantiles of them.

    Examples
    --------
    >>> event_grid(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 0, 1, 0]), 500).tolist()
    [1.0, 3.0, 4.0]
    """
    ev = np.unique(t[d > 0])
    if ev.size > max_grid:
        ev = np.unique(np.quantile(ev, np.linspace(0, 1, max_grid), method="lower"))
    # the curves are flat after the last event: include the end of follow-up so that
    # at()/contrast() reach it
    return np.unique(np.append(ev, t.max()))


def at_risk_on_grid(t: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Unweighted number at risk (time ``>= u``) of the rows ``t`` at each grid time ``u``.

    Examples
    --------
    >>> at_risk_on_grid(np.array([1.0, 2.0, 2.0, 5.0]), np.array([0.5, 2.0, 3.0])).tolist()
    [4, 3, 1]
    """
    return t.size - np.searchsorted(np.sort(t), grid, side="left")


def arm_curve(t: np.ndarray, d: np.ndarray, w: np.ndarray, cause: int | None,
               grid: np.ndarray) -> np.ndarray:
    """Weighted KM survival (or AJ incidence of ``cause``) read on ``grid``."""
    keep = w > 0
    t, d, w = t[keep], d[keep], w[keep]
    if cause is None:
        rc = risk_counts(t, d, w, n_causes=1)
        surv = product_limit(rc.n_risk, rc.n_event[:, 0])
        return read_on_grid(rc.time, surv, grid, 1.0)
    k = max(int(d.max()), cause)
    rc = risk_counts(t, d, w, n_causes=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        haz_all = np.where(rc.n_risk > 0, rc.n_event_any / rc.n_risk, 0.0)
        haz_k = np.where(rc.n_risk > 0, rc.n_event[:, cause - 1] / rc.n_risk, 0.0)
    s_prev = np.concatenate([[1.0], np.cumprod(1 - haz_all)[:-1]])
    return read_on_grid(rc.time, np.cumsum(s_prev * haz_k), grid, 0.0)


def read_on_grid(times: np.ndarray, values: np.ndarray, grid: np.ndarray, start: float
                 ) -> np.ndarray:
    """A step function (``values`` from ``times`` on) read at ``grid``; ``start`` before."""
    pos = np.searchsorted(times, grid, side="right") - 1
    return np.where(pos >= 0, values[np.maximum(pos, 0)], start)


def arm_variance(t: np.ndarray, d: np.ndarray, w: np.ndarray, cause: int | None,
                  grid: np.ndarray) -> np.ndarray:
    """Infinitesimal-jackknife variance of the weighted KM (or AJ of ``cause``) on ``grid``.

    The kernels of ``kaplan_meier(variance="infinitesimal_jackknife")`` and
    ``cumulative_incidence()`` (R's robust ``survfit``) on the positive-weight rows, weights
    treated as known.
    """
    keep = w > 0
    order = np.argsort(t[keep], kind="stable")
    t, d, w = t[keep][order], d[keep][order], w[keep][order]
    if cause is None:
        rc = risk_counts(t, d, w, n_causes=1)
        y, dk = rc.n_risk, rc.n_event[:, 0]
        var = km_ij_variance(rc.time, y, dk, product_limit(y, dk), t, d, w)
    else:
        rc = risk_counts(t, d, w, n_causes=max(int(d.max(initial=0)), cause))
        exit_idx = np.concatenate([[0], np.cumsum(t[1:] != t[:-1])])
        var = ij_variance(aalen_johansen(rc), exit_idx, d, w)[:, cause - 1]
    se = np.sqrt(var)  # as the curves' std_error column (NaN read as 0)
    return read_on_grid(rc.time, np.nan_to_num(se) ** 2, grid, 0.0)


def ipw_curves(t: np.ndarray, d: np.ndarray, a: np.ndarray, w: np.ndarray, cause: int | None,
               grid: np.ndarray, with_variance: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """The weighted curves of arms 1 and 0 on ``grid`` (rows), and their IJ variances."""
    values = np.vstack([arm_curve(t[a == arm], d[a == arm], w[a == arm], cause, grid)
                        for arm in (1, 0)])
    if not with_variance:
        return values, None
    var = np.vstack([arm_variance(t[a == arm], d[a == arm], w[a == arm], cause, grid)
                     for arm in (1, 0)])
    return values, var


def log_log_ci(values: np.ndarray, se: np.ndarray, conf_level: float, incidence: bool
                ) -> tuple[np.ndarray, np.ndarray]:
    from ._km import km_conf_int

    lo, hi = np.empty_like(values), np.empty_like(values)
    for arm in (0, 1):
        s = 1 - values[arm] if incidence else values[arm]
        lo_s, hi_s = km_conf_int(s, se[arm], "log-log", conf_level)
        lo[arm], hi[arm] = (1 - hi_s, 1 - lo_s) if incidence else (lo_s, hi_s)
    return lo, hi


def plain_ci(values: np.ndarray, se: np.ndarray, conf_level: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Wald limits ``values -/+ z se`` of both arms (not clipped to [0, 1])."""
    z = z_critical(conf_level)
    return values - z * se, values + z * se


def bootstrap_ci(values: np.ndarray, reps: np.ndarray, conf_level: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SE (replicates' SD) and percentile limits of both arms' curves from ``(B, 2, k)`` reps."""
    se = reps.std(axis=0, ddof=1)
    lo, hi = np.empty_like(values), np.empty_like(values)
    for arm in (0, 1):
        _, lo[arm], hi[arm] = bootstrap_interval(values[arm], reps[:, arm], conf_level)
    return se, lo, hi
