"""``kaplan_meier`` (product-limit curves) and ``logrank`` (the stratified log-rank test)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._typing import CIMethod, ConfType, KMVariance, Missing
from .._validation import verb, verb_name
from ..causal._propensity import PropensityScore
from ..exceptions import DataValidationError
from ..results.curve import Curve
from ..results.dropped import Dropped
from ..results.testresult import TestResult
from ._curves import km_estimates
from ._km import greenwood_curve
from ._km_counts import group_risk_counts, time_group_counts
from ._km_inputs import QuickInputs, quick_inputs
from ._logrank import LogrankParts, logrank_chisq, logrank_strata
from ._prepare import (
    GroupArrays,
    Prepared,
    curve_columns,
    positive_weight_counts,
    prepare,
)
from ._psvar import CURVE_NOTE, PSNuisance, check_curve_variance, ps_weights
from ._psvar_curves import groups_with_rows

__all__ = ["kaplan_meier", "logrank"]

# ---------------------------------------------------------------------- kaplan_meier
@verb
def kaplan_meier(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    by: str | None = None,
    weights: str | PropensityScore | None = None,
    entry: str | None = None,
    conf_type: ConfType = "log-log",
    conf_level: float = 0.95,
    variance: KMVariance | None = None,
    missing: Missing = "raise",
) -> Curve:
    """Kaplan-Meier (product-limit) survival curves, one per level of ``by``.

    Estimand: the survival function ``S(t) = P(T > t)`` of the (weighted) population, in each
    group, at every distinct follow-up time, ``S(t) = prod_{t_j <= t} (1 - d_j / Y_j)`` with
    ``Y_j`` and ``d_j`` the (weighted) numbers at risk and of events at ``t_j``.

    Assumptions: censoring (and, with ``entry``, left truncation) independent of the event
    time given the group (non-informative, "quasi-independent" truncation); with
    a weights column, the weights are known (e.g. sampling or inverse-probability weights that
    are treated as fixed); with ``weights=<PropensityScore>`` they come from its fitted
    propensity model, whose estimation the default variance accounts for. An event at time 0
    lowers the curve at time 0, as in R.

    Variance (``variance=``): ``"greenwood"`` (default without weights), Greenwood's formula
    ``S^2 sum d_j / (Y_j (Y_j - d_j))`` on the weighted counts; with integer weights this is
    exactly the Greenwood variance of the data with each row replicated ``w`` times (R's
    ``survfit`` with integer weights, whose default is ``robust=FALSE``).
    ``"infinitesimal_jackknife"`` (default with weights): ``sum_i w_i^2 U_i(t)^2`` with
    ``U_i`` the influence of row ``i`` on the product-limit estimate; this is R's
    ``survfit(..., weights=, robust=TRUE)`` (its default for non-integer weights) with every
    row its own cluster. Without weights or ``entry`` it equals Greenwood. Computed in
    O(n log n). ``std_error`` is the SE of ``S(t)`` (R's ``summary.survfit`` ``std.err``).
    ``"mestimation"`` (default with ``weights=<PropensityScore>``, logistic model): the IJ
    influence values stacked with the propensity model's score equations, so the SE accounts
    for the estimated propensity score; it is the default because the weights-known IJ
    variance is conservative for ATE-weighted curves. Computed with the same prefix sums as
    the IJ variance (one extra pass over the rows, with a column per propensity coefficient).

    Intervals (``conf_type``, as R's ``conf.type``): ``"log-log"`` (default, lifelines'
    "exponential Greenwood"; R's default is ``"log"``): ``S^exp(+-z se / (S log S))``;
    ``"log"``: ``S exp(+-z se / S)`` capped at 1; ``"plain"``: ``S +- z se`` clipped to [0, 1].
    Where the curve has dropped to 0 the log and log-log limits are NaN (R: NA); there the
    Greenwood ``std_error`` is NaN (an infinite sum times 0, as R) and the IJ one is 0.

    Parameters
    ----------
    data : pandas.DataFrame
    time, event : str
        Follow-up (exit) time, >= 0; event indicator (1 = event, 0 = censored).
    by : str, optional
        Grouping column: one curve per level (sorted); without it one curve labelled "all".
    weights : str or PropensityScore, optional
        Non-negative case weights; weighted counts are kept in ``n_risk_weighted``,
        ``n_event_weighted``, ``n_censor_weighted`` beside the unweighted ``n_risk``,
        ``n_event``, ``n_censor``. Or a :class:`~cohortlab.PropensityScore` fitted on the same
        rows (matched by index): its weights are used (e.g. ``by`` the exposure).
    entry : str, optional
        Entry time (left truncation): a row is at risk at ``t`` when ``entry < t <= time``.
    conf_type : {"log-log", "log", "plain"}
        ``"log-log"`` (default, lifelines' and SAS's), ``"log"`` (R's default) or ``"plain"``.
    conf_level : float
    variance : {"greenwood", "infinitesimal_jackknife", "mestimation"}, optional
        ``"greenwood"`` (default without weights), ``"infinitesimal_jackknife"`` (default with
        a weights column: R ``survfit(..., robust = TRUE)``) or ``"mestimation"`` (default
        with a logistic PropensityScore).
    missing : {"raise", "drop"}

    Returns
    -------
    Curve
        One row per distinct time (events and censorings) per group. ``n_risk``,
        ``n_event``, ``n_censor`` are row counts; with weights the weighted sums are the extra
        columns ``n_risk_weighted``, ``n_event_weighted`` and ``n_censor_weighted``.

    References
    ----------
    Kaplan & Meier (1958), JASA 53:457-481. Greenwood (1926). Therneau, survival package
    vignette "survfitkm" (robust variance).

    Examples
    --------
    >>> d = pd.DataFrame({"t": [1, 2, 2, 3, 4, 5], "e": [1, 1, 0, 1, 0, 1]})
    >>> km = kaplan_meier(d, time="t", event="e")
    >>> f = km.to_frame()
    >>> f["n_risk"].tolist(), f["estimate"].round(4).tolist()
    ([6, 5, 3, 2, 1], [0.8333, 0.6667, 0.4444, 0.4444, 0.0])
    >>> km.median().to_frame()["estimate"].tolist()
    [3.0]
    """
    func = verb_name()
    data, weights, nuis = ps_weights(data, weights, func)
    if variance is None:
        variance = ("greenwood" if weights is None else "mestimation"
                    if nuis is not None and nuis.logistic else "infinitesimal_jackknife")
    check_curve_variance(variance, nuis, func)
    if weights is None and entry is None and variance == "greenwood":
        return _greenwood_curves(data, func, time, event, by, conf_type, conf_level, missing)
    p = prepare(data, func, time=time, event=event, by=by, weights=weights, entry=entry,
                missing=missing)
    if variance == "mestimation" and nuis is not None:
        pos = nuis.positions(p.frame.index, func)
        parts = [_curve_frame(g, variance, conf_type, conf_level, (nuis, pos[rows]))
                 for g, rows in groups_with_rows(p)]
    else:
        parts = [_curve_frame(g, variance, conf_type, conf_level) for g in p.by_group()]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    n, n_events, zero = positive_weight_counts(p.weights, weights, p.event > 0)
    notes = _km_notes(p, variance) + zero + (CURVE_NOTE,) * (variance == "mestimation")
    ci: CIMethod = "sandwich_mestimation" if variance == "mestimation" else variance
    return Curve(
        data=frame, measure="survival", method="kaplan_meier", conf_type=conf_type,
        conf_level=conf_level, ci_method=ci, n=n, n_events=n_events,
        weighted=p.weights is not None, dropped=p.dropped, notes=notes,
    )


def _greenwood_curves(data: pd.DataFrame, func: str, time: str, event: str, by: str | None,
                      conf_type: ConfType, conf_level: float, missing: Missing) -> Curve:
    """Unweighted curves without entry times: counts per distinct time from sorted values.

    Clean inputs skip ``prepare`` (see :func:`~cohortlab.survival._km_inputs.quick_inputs`);
    the rows are never put in time order, only each group's event and censoring times are
    counted (:func:`~cohortlab.survival._km_counts.time_group_counts`).
    """
    q = quick_inputs(data, time, event, by, func)
    if q is None:
        p = prepare(data, func, time=time, event=event, by=by, weights=None, entry=None,
                    missing=missing)
        q = QuickInputs(p.time, p.event > 0, p.codes, p.levels, p.dropped)
    t, is_ev, codes, levels, dropped = q
    grid, exits, events = time_group_counts(t, is_ev, codes, len(levels))
    cols = []
    for g, level in enumerate(levels):  # loop over groups, never over times
        rc = group_risk_counts(grid, exits[g], events[g])
        est = greenwood_curve(rc.n_risk, rc.n_event[:, 0], conf_type, conf_level)
        cols.append(curve_columns(rc, rc, level, None, est, conf_level, weighted=False))
    frame = pd.DataFrame({k: np.concatenate([c[k] for c in cols]) for k in cols[0]})
    return Curve(
        data=frame, measure="survival", method="kaplan_meier", conf_type=conf_type,
        conf_level=conf_level, ci_method="greenwood", n=int(t.size),
        n_events=int(np.count_nonzero(is_ev)), weighted=False, dropped=dropped,
    )


def _curve_frame(g: GroupArrays, variance: str, conf_type: str, conf_level: float,
                 ps: tuple[PSNuisance, np.ndarray] | None = None) -> pd.DataFrame:
    """One group's curve in long format (``ps``: the stacked-variance nuisance, rows)."""
    rc, plain, est = km_estimates(g, variance, conf_type, conf_level, ps)
    return pd.DataFrame(curve_columns(rc, plain, g.level, None, est, conf_level,
                                      weighted=g.weights is not None))


def _km_notes(p: Prepared, variance: str) -> tuple[str, ...]:
    notes = []
    if p.weights is not None and variance == "greenwood":
        notes.append("Greenwood variance on weighted counts: the weights are treated as "
                     "frequency weights (replicated rows)")
    if p.entry is not None:
        notes.append("left truncation: each row is at risk only after its entry time")
    return tuple(notes)


# ---------------------------------------------------------------------- logrank
@verb
def logrank(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    by: str,
    strata: str | Sequence[str] | None = None,
    weights: str | None = None,
    missing: Missing = "raise",
) -> TestResult:
    """Log-rank test of equal survival across the levels of ``by`` (R's ``survdiff``).

    Null hypothesis: the survival (hazard) functions of the ``G`` groups are equal (within
    each stratum). Statistic: per group the observed events ``O_g`` and the expected
    ``E_g = sum_j d_j Y_gj / Y_j`` under the null, with covariance ``V_gh = sum_j d_j (Y_j -
    d_j) / (Y_j - 1) (Y_gj / Y_j)(1{g=h} - Y_hj / Y_j)`` (hypergeometric, exact for ties);
    with ``strata`` the ``O - E`` and ``V`` are summed over strata. The chi-square
    ``(O - E)' V^- (O - E)`` has ``G - 1`` degrees of freedom (groups with no expected events
    are left out, as R does). Assumptions: independent censoring within each group (and
    stratum); the test is most powerful against proportional hazards.

    With ``weights`` the counts are weighted sums, i.e. the weights are frequency weights:
    integer weights give the test on replicated rows. The chi-square then depends on the
    scale of the weights, so it is not a valid test for inverse-probability or sampling
    weights (use a weighted Cox model with a robust variance for those); a note says so when
    the weights are not integers.

    Parameters
    ----------
    data : pandas.DataFrame
    time, event : str
        Follow-up time and event indicator (1 = event, 0 = censored).
    by : str
        The groups compared (at least two levels).
    strata : str or list of str, optional
        Stratification columns.
    weights : str, optional
        Frequency weights.
    missing : {"raise", "drop"}

    Returns
    -------
    TestResult
        ``statistic`` is the chi-square, ``df`` its degrees of freedom; ``diagnostics`` a
        frame with, per group, ``n``, ``observed``, ``expected``,
        ``o_minus_e``, ``variance`` (the diagonal of V) and, with weights, the weighted
        variants (``n_weighted``, ``observed_weighted``, ``expected_weighted``). With weights
        ``observed``/``expected`` are the unweighted counts and the test uses the weighted.

    Examples
    --------
    >>> d = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6, 7, 8], "e": [1, 1, 1, 0, 1, 1, 0, 1],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1]})
    >>> lr = logrank(d, time="t", event="e", by="arm")
    >>> round(lr.statistic, 4), lr.df
    (0.4476, 1.0)
    """
    func = verb_name()
    if weights is None and not strata and by is not None:
        q = quick_inputs(data, time, event, by, func)
        if q is not None and q.codes is not None and len(q.levels) >= 2:
            return _logrank_quick(q, q.codes, by, event, func)
    p = prepare(data, func, time=time, event=event, by=by, weights=weights, entry=None,
                missing=missing, strata=strata, compare=True)
    n_events = int((p.event > 0).sum())
    _no_events(n_events, len(p.frame), event, func)
    strata_codes = p.strata_codes()
    if strata_codes is None:
        strata_codes = np.zeros(len(p.frame), dtype=np.intp)
    n_groups = len(p.levels)
    plain = logrank_strata(p.time, p.event, p.codes, strata_codes if p.strata else None,
                            None, n_groups)
    test = plain if p.weights is None else logrank_strata(
        p.time, p.event, p.codes, strata_codes, p.weights, n_groups)
    chisq, df, singular = logrank_chisq(test)
    notes = _logrank_notes(p.strata, strata_codes, p.weights, singular)
    table = _logrank_table(p.levels, np.bincount(p.codes, minlength=n_groups), p.weights,
                           p.codes, test, plain)
    return _logrank_result(by, chisq, df, len(p.frame), n_events, p.dropped, notes, table)


def _logrank_quick(q: QuickInputs, codes: np.ndarray, by: str, event: str,
                   func: str) -> TestResult:
    """Unweighted, unstratified log-rank of clean inputs (``quick_inputs``: no ``prepare``)."""
    n_groups, n_events = len(q.levels), int(np.count_nonzero(q.event))
    _no_events(n_events, q.time.size, event, func)
    test = logrank_strata(q.time, q.event, codes, None, None, n_groups)
    chisq, df, singular = logrank_chisq(test)
    table = _logrank_table(q.levels, np.bincount(codes, minlength=n_groups), None, codes,
                           test, test)
    return _logrank_result(by, chisq, df, q.time.size, n_events, q.dropped,
                           _logrank_notes([], None, None, singular), table)


def _no_events(n_events: int, n: int, event: str, func: str) -> None:
    if n_events == 0:
        raise DataValidationError(
            f"{func}(): column {event!r} (event) has no events among the {n:,} "
            "rows; got only 0 (censored). The test compares event rates and needs events; "
            "check the event coding."
        )


def _logrank_result(by: str, chisq: float, df: int, n: int, n_events: int, dropped: Dropped,
                    notes: tuple[str, ...], table: pd.DataFrame) -> TestResult:
    return TestResult(
        term=f"log-rank: {by}", statistic=chisq, df=df,
        p_value=float(stats.chi2.sf(chisq, df)) if df > 0 else math.nan,
        method="logrank", n=n, n_events=n_events, dropped=dropped, notes=notes,
        diagnostics=table,
    )


def _logrank_table(levels: list[Any], n: np.ndarray, weights: np.ndarray | None,
                   codes: np.ndarray, test: LogrankParts, plain: LogrankParts) -> pd.DataFrame:
    table = pd.DataFrame({
        "group": levels, "n": n, "observed": plain.observed, "expected": plain.expected,
    })
    if weights is not None:
        table["n_weighted"] = np.bincount(codes, weights=weights, minlength=len(levels))
        table["observed_weighted"] = test.observed
        table["expected_weighted"] = test.expected
    table["o_minus_e"] = test.observed - test.expected
    table["variance"] = np.diag(test.variance)
    return table


def _logrank_notes(strata: list[str], strata_codes: np.ndarray | None,
                   weights: np.ndarray | None, singular: bool) -> tuple[str, ...]:
    notes = []
    if strata and strata_codes is not None:
        k = int(np.unique(strata_codes).size)
        notes.append(f"stratified by {', '.join(strata)} ({k} strata)")
    if weights is not None and np.any(weights != np.round(weights)):
        notes.append("non-integer weights used as frequency weights: the chi-square depends "
                     "on their scale and is not a valid test for inverse-probability or "
                     "sampling weights")
    if singular:
        notes.append("the covariance of O - E is singular; a generalised inverse was used")
    return tuple(notes)
