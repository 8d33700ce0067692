"""``rmst``: restricted mean survival time up to ``tau``, per group and contrasted."""

from __future__ import annotations

import math
import numbers
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from .._typing import CIMethod, Missing
from .._validation import verb, verb_name
from ..exceptions import DataValidationError
from ..results.estimate import Estimate, EstimateTable
from ._prepare import group_time_order, prepare
from ._rmst import group_rmst, rmst_contrasts

__all__ = ["rmst"]


@verb
def rmst(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    tau: float,
    by: str | None = None,
    weights: str | None = None,
    reference: Any = None,
    conf_level: float = 0.95,
    missing: Missing = "raise",
) -> EstimateTable:
    """Restricted mean survival time (RMST) up to ``tau``, per group, with contrasts.

    Estimand: ``RMST(tau) = E[min(T, tau)] = integral_0^tau S(t) dt``, the mean event-free
    time over the first ``tau`` time units, estimated as the area under the Kaplan-Meier
    step function (see :func:`~cohortlab.survival.kaplan_meier.kaplan_meier`). With ``by``
    (two or more levels) every level is compared with ``reference``: the difference
    ``RMST_g - RMST_ref``, the ratio ``RMST_g / RMST_ref`` and the ratio of restricted mean
    times lost ``(tau - RMST_g) / (tau - RMST_ref)``.

    Assumptions: independent censoring given the group, and follow-up reaching ``tau`` in
    every group (``tau`` may not exceed the largest follow-up time of any group).

    Variance: without weights, the Greenwood plug-in ``sum_{t_j <= tau} A_j^2 d_j / (Y_j (Y_j
    - d_j))`` with ``A_j`` the area under the curve from ``t_j`` to ``tau`` (survRM2 and R's
    ``print(survfit, rmean=tau)``); with weights, the infinitesimal jackknife ``sum_i w_i^2
    psi_i^2`` with ``psi_i`` the influence of row ``i`` on the area (the integral of its
    influence on the KM curve; R's ``residuals(survfit, type="rmst")``), which treats the
    weights as known. Groups are independent: the difference has SE ``sqrt(v_g + v_ref)``;
    the ratios have intervals from the log scale by the delta method (``se(log RMST_g) =
    sqrt(v_g) / RMST_g``). Intervals and p-values are Wald; the per-group rows carry no
    p-value.

    Parameters
    ----------
    data : pandas.DataFrame
    time, event : str
        Follow-up time (>= 0) and event indicator (1 = event, 0 = censored).
    tau : float
        Truncation time, > 0 and at most the largest follow-up time in every group.
    by : str, optional
        Grouping column.
    weights : str, optional
        Non-negative case weights.
    reference : optional
        Level of ``by`` the others are compared with; default the lowest level in sorted
        order (so with a 0/1 arm the contrasts are arm 1 - arm 0).
    conf_level : float
    missing : {"raise", "drop"}

    Returns
    -------
    EstimateTable
        Rows ``"RMST {by}={level}"`` (``effect_measure="rmst"``; ``"RMST"`` without ``by``),
        then for each non-reference level ``"RMST difference {by}={level} vs {reference}"``
        (``"rmst_difference"``), ``"RMST ratio ..."`` (``"rmst_ratio"``) and ``"RMTL ratio
        ..."`` (``"rmtl_ratio"``). ``labels`` hold ``group`` (and ``reference``) and ``tau``.

    References
    ----------
    Uno et al. (2014), J Clin Oncol 32:2380-2385; Royston & Parmar (2013), BMC Med Res
    Methodol 13:152.

    Examples
    --------
    >>> d = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6, 7, 8], "e": [1, 1, 1, 0, 1, 1, 0, 1],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1]})
    >>> tab = rmst(d, time="t", event="e", tau=6, by="arm")
    >>> tab.to_frame()[["term", "estimate"]].round(3).values.tolist()[:3]
    [['RMST arm=0', 3.75], ['RMST arm=1', 5.0], ['RMST difference arm=1 vs 0', 1.25]]
    """
    tau = _check_tau(tau)
    p = prepare(data, verb_name(), time=time, event=event, by=by, weights=weights, entry=None,
                missing=missing)
    ref = _reference(reference, p.levels, by)
    ci_method: CIMethod = "greenwood" if p.weights is None else "infinitesimal_jackknife"
    _check_follow_up(p.time, p.codes, p.levels, tau, by)
    per_group: dict[Any, tuple[float, float, int, int]] = {}
    rows = []
    for level, sel in zip(p.levels, group_time_order(p.codes, p.time, len(p.levels)),
                          strict=True):
        t, e = p.time[sel], p.event[sel]
        w = p.weights[sel] if p.weights is not None else None
        area, var = group_rmst(t, e, w, tau)
        n_g, ev_g = int(sel.size), int((e > 0).sum())
        per_group[level] = (area, var, n_g, ev_g)
        term = "RMST" if by is None else f"RMST {by}={level}"
        est = Estimate.from_model_scale(
            term, area, math.sqrt(var), conf_level=conf_level, effect_measure="rmst",
            ci_method=ci_method, method="rmst", n=n_g, n_events=ev_g,
            labels={"group": level, "tau": tau}, dropped=p.dropped)
        rows.append(replace(est, statistic=math.nan, p_value=math.nan))
    notes: list[str] = []
    for level in p.levels:
        if by is not None and level != ref:
            rows.extend(_contrasts(per_group[level], per_group[ref], by, level, ref, tau,
                                   conf_level, ci_method, p.dropped, notes))
    title = f"Restricted mean survival time up to tau = {tau:g}"
    return EstimateTable(rows=tuple(rows), title=title, dropped=p.dropped, notes=tuple(notes))


def _check_tau(tau: Any) -> float:
    ok = isinstance(tau, numbers.Real) and not isinstance(tau, bool)
    if not ok or not math.isfinite(float(tau)) or float(tau) <= 0:
        raise DataValidationError(
            f"{verb_name()}(): tau must be a finite number > 0 (the truncation time); got {tau!r}. "
            "Pass a time within the follow-up of every group, e.g. tau=365."
        )
    return float(tau)


def _reference(reference: Any, levels: list[Any], by: str | None) -> Any:
    if by is None:
        if reference is not None:
            raise DataValidationError(
                f"{verb_name()}(): reference={reference!r} needs by=; got by=None. Name the "
                "grouping "
                "column, or drop reference."
            )
        return None
    if len(levels) < 2:
        raise DataValidationError(
            f"{verb_name()}(): column {by!r} (by) must have at least two levels to compare; got "
            f"{levels!r}. Drop by= for a single RMST."
        )
    if reference is None:
        return levels[0]
    if reference not in levels:
        raise DataValidationError(
            f"{verb_name()}(): reference={reference!r} is not a level of column {by!r} (by); got "
            f"levels {levels!r}. Pass one of them."
        )
    return reference


def _check_follow_up(time: np.ndarray, codes: np.ndarray, levels: list[Any], tau: float,
                     by: str | None) -> None:
    """Raise when tau is after the largest follow-up time of any group, naming the groups."""
    t_max = np.full(len(levels), -np.inf)
    np.maximum.at(t_max, codes, time)
    bad = np.flatnonzero(tau > t_max)
    if not bad.size:
        return
    where = "" if by is None else (
        f" in group{'s' if bad.size > 1 else ''} "
        + ", ".join(f"{by}={levels[i]}" for i in bad))
    got = ", ".join(f"{t_max[i]:g}" for i in bad)
    raise DataValidationError(
        f"{verb_name()}(): tau={tau:g} is beyond the largest follow-up time{where}; got max time "
        f"{got}. The curve is unknown after it: choose tau <= {t_max.min():g} (the smallest "
        "of the groups' maximum follow-up times)."
    )


def _contrasts(
    one: tuple[float, float, int, int],
    ref: tuple[float, float, int, int],
    by: str,
    level: Any,
    ref_level: Any,
    tau: float,
    conf_level: float,
    ci_method: str,
    dropped: Any,
    notes: list[str],
) -> list[Estimate]:
    (r1, v1, n1, e1), (r0, v0, n0, e0) = one, ref
    common = dict(conf_level=conf_level, ci_method=ci_method, method="rmst", n=n1 + n0,
                  n_events=e1 + e0, dropped=dropped,
                  labels={"group": level, "reference": ref_level, "tau": tau})
    vs = f"{by}={level} vs {ref_level}"
    diff, ratio, rmtl = rmst_contrasts((r1, v1), (r0, v0), tau)
    out = [Estimate.from_model_scale(f"RMST difference {vs}", *diff,
                                     effect_measure="rmst_difference", **common)]
    out.append(Estimate.from_model_scale(f"RMST ratio {vs}", *ratio, effect_measure="rmst_ratio",
                                         **common))
    if rmtl is not None:
        out.append(Estimate.from_model_scale(f"RMTL ratio {vs}", *rmtl,
                                             effect_measure="rmtl_ratio", **common))
    else:
        notes.append(f"RMTL ratio {vs} not estimable: no time lost before tau in a group")
        out.append(Estimate(term=f"RMTL ratio {vs}", estimate=math.nan,
                            effect_measure="rmtl_ratio", **common))
    return out
