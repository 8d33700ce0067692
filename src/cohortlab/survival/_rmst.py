"""Array kernels of ``rmst`` (numpy only, no pandas).

One group's area under the Kaplan-Meier curve up to ``tau`` and its variance, the numbers of
the contrasts between two groups, the area under a step curve known on a grid, and the RMSTs
of ``adjusted_survival``'s two arms with their contrasts (the arms' covariance included).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..inference.wald import delta_contrast
from ._counts import risk_counts
from ._km import product_limit, rmst_from_curve, rmst_greenwood_var, rmst_ij_variance

__all__ = ["group_rmst", "rmst_contrasts", "step_area", "paired_rmst_contrasts", "grid_rmst"]


def group_rmst(
    t: np.ndarray, e: np.ndarray, w: np.ndarray | None, tau: float
) -> tuple[float, float]:
    """``(RMST, variance)`` of one group up to ``tau``: Greenwood without weights, else IJ.

    Examples
    --------
    >>> group_rmst(np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1]), None, 2.0)
    (1.6666666666666667, 0.0740740740740741)
    """
    rc = risk_counts(t, e, w, None, n_causes=1)
    y, d = rc.n_risk, rc.n_event[:, 0]
    area, tail = rmst_from_curve(rc.time, product_limit(y, d), tau)
    if w is None:
        return area, rmst_greenwood_var(rc.time, y, d, tail, tau)
    return area, rmst_ij_variance(rc.time, y, d, tail, tau, t, e, w)


def rmst_contrasts(one: tuple[float, float], ref: tuple[float, float], tau: float
                   ) -> tuple[tuple[float, float], tuple[float, float],
                              tuple[float, float] | None]:
    """Difference, log RMST ratio and log RMTL ratio of two independent groups, with SEs.

    ``one`` and ``ref`` are ``(RMST, variance)``. The difference has SE ``sqrt(v1 + v0)``;
    the log ratios the delta-method SEs ``sqrt(v1 / r1^2 + v0 / r0^2)`` (of the times lost,
    ``tau - r``, for the RMTL ratio, which is None when a group loses no time before tau).

    Examples
    --------
    >>> rmst_contrasts((3.0, 0.25), (2.0, 0.25), 4.0)[0]
    (1.0, 0.7071067811865476)
    """
    (r1, v1), (r0, v0) = one, ref
    diff = delta_contrast(r1, r0, v1, v0, 0.0, "difference")
    ratio = delta_contrast(r1, r0, v1, v0, 0.0, "ratio")
    lost1, lost0 = tau - r1, tau - r0
    if not (lost1 > 0 and lost0 > 0):
        return diff, ratio, None
    return diff, ratio, delta_contrast(lost1, lost0, v1, v0, 0.0, "ratio")


def step_area(grid: np.ndarray, values: np.ndarray, tau: float) -> float:
    """Area under a step function starting at 1 at time 0, known on ``grid``, up to ``tau``.

    Examples
    --------
    >>> step_area(np.array([1.0, 2.0]), np.array([0.5, 0.25]), 3.0)
    1.75
    """
    knots = np.concatenate([[0.0], grid[grid < tau], [tau]])
    vals = np.concatenate([[1.0], values[grid < tau]])
    return float(np.sum(np.diff(knots) * vals))


def paired_rmst_contrasts(est: np.ndarray, cov: np.ndarray, tau: float
                          ) -> list[tuple[Any, Any]]:
    """``(estimate, SE)`` of RMST arm 1, arm 0, their difference, log RMST and log RMTL ratio.

    ``est`` holds the arms' RMSTs ``(r1, r0)`` and ``cov`` their 2 x 2 covariance (arms
    that share subjects or fitted models are correlated); the ratios' SEs by the delta method.

    Examples
    --------
    >>> out = paired_rmst_contrasts(np.array([3.0, 2.0]), np.diag([0.25, 0.25]), 4.0)
    >>> [round(float(p), 4) for p, _ in out]
    [3.0, 2.0, 1.0, 0.4055, -0.6931]
    """
    (r1, r0), (v1, v0, c10) = est, (cov[0, 0], cov[1, 1], cov[0, 1])
    return [
        (r1, np.sqrt(v1)),
        (r0, np.sqrt(v0)),
        delta_contrast(r1, r0, v1, v0, c10, "difference"),
        delta_contrast(r1, r0, v1, v0, c10, "ratio"),
        delta_contrast(tau - r1, tau - r0, v1, v0, c10, "ratio"),
    ]


def grid_rmst(grid: np.ndarray, arm_values: np.ndarray, tau: float,
              quad: Callable[[np.ndarray, np.ndarray], np.ndarray]
              ) -> tuple[list[Any], list[Any]]:
    """RMST of arm 1, arm 0 and their difference from curves known on ``grid``, with SEs.

    ``RMST = 1 * (t_1 - 0) + sum_k S(t_k) * (t_{k+1} - t_k)`` up to ``tau``, linear in ``S``;
    ``quad(vec, cols)`` gives the 2 x 2 covariance of ``vec @ S_arm[cols]`` (the influence
    moments). Only grid times before ``tau`` enter (later ones may be NaN: not estimable).
    """
    inside = grid < tau
    knots = np.concatenate([grid[inside], [tau]])
    a = np.zeros(grid.size)
    a[inside] = np.diff(knots)
    base = float(min(grid[0], tau))
    a = a[inside]
    vals = arm_values[:, inside]
    est = [base + a @ vals[0], base + a @ vals[1]]
    q = quad(a, np.flatnonzero(inside))
    var, cov10 = [q[0, 0], q[1, 1]], q[0, 1]
    pts = [est[0], est[1], est[0] - est[1]]
    ses = [np.sqrt(var[0]), np.sqrt(var[1]), np.sqrt(var[0] + var[1] - 2 * cov10)]
    return pts, ses
