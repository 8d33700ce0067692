"""Competing risks: ``cumulative_incidence`` (Aalen-Johansen) and ``gray_test`` (Gray 1988)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .._typing import CIFVariance, CIMethod, ConfType, Missing
from .._validation import verb, verb_name
from ..causal._propensity import PropensityScore
from ..exceptions import DataValidationError
from ..results.curve import Curve
from ..results.testresult import TestResult, TestTable
from ._aalen_johansen import gray_score
from ._curves import cif_estimates
from ._prepare import (
    GroupArrays,
    curve_columns,
    positive_weight_counts,
    prepare,
)
from ._psvar import CURVE_NOTE, PSNuisance, check_curve_variance, ps_weights
from ._psvar_curves import groups_with_rows

__all__ = ["cumulative_incidence", "gray_test"]


# ---------------------------------------------------------------------- cumulative_incidence
@verb
def cumulative_incidence(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    cause: int | None = None,
    by: str | None = None,
    weights: str | PropensityScore | None = None,
    entry: str | None = None,
    causes: Sequence[int] | None = None,
    conf_type: ConfType = "log-log",
    conf_level: float = 0.95,
    variance: CIFVariance | None = None,
    missing: Missing = "raise",
) -> Curve:
    """Aalen-Johansen cumulative incidence curves of competing causes, one per group and cause.

    Estimand: the cumulative incidence function (CIF, subdistribution) of cause ``k``,
    ``F_k(t) = P(T <= t, cause = k)``, in the (weighted) population of each group, estimated
    at every distinct follow-up time by ``F_k(t) = sum_{t_j <= t} S(t_j-) d_kj / Y_j``, with
    ``S`` the Kaplan-Meier estimate of being free of every cause and ``Y_j``, ``d_kj`` the
    (weighted) numbers at risk and of cause-``k`` events (R's ``survfit`` multi-state
    estimate and ``cmprsk::cuminc``). The CIFs of all causes and ``S`` add to 1.

    Assumptions: censoring (and, with ``entry``, left truncation) independent of the event
    time and cause given the group; the causes are mutually exclusive first events (a
    subject leaves the risk set at its first event of any cause); with a weights column, the
    weights are known; with ``weights=<PropensityScore>`` they come from its fitted
    propensity model, whose estimation the default variance accounts for.

    Variance (``variance=``):

    - ``"infinitesimal_jackknife"`` (default, also with a weights column or ``entry``):
      ``sum_i w_i^2 D_i(t)^2`` with ``D_i`` the exact derivative of ``F_k(t)`` with respect to
      row ``i``'s weight, every row its own cluster; R's ``survfit(..., id=)`` multi-state
      ``std.err``. Computed in closed form from cumulative sums over the sorted times,
      O(n log n), never an n x times matrix. With integer weights this is not the variance
      of the replicated rows (replicated copies count as independent subjects there).
    - ``"aalen"``: ``cmprsk::cuminc``'s delta-method variance (Aalen 1978 type, with its
      correction for tied events). As in cmprsk it changes only at times with an event of
      the cause and is carried forward in between. Unweighted data without ``entry`` only.
    - ``"mestimation"`` (default with ``weights=<PropensityScore>``, logistic model): the IJ
      influence values stacked with the propensity model's score equations, so the SE
      accounts for the estimated propensity score (the weights-known IJ variance is
      conservative for ATE weights); the same cumulative sums, one extra pass over the
      rows with a column per propensity coefficient.

    Intervals (``conf_type``): the transform is applied to ``F_k`` itself, as R's
    ``survfit(conf.type=)`` does for multi-state probabilities: ``"log-log"`` (default)
    ``F^exp(+-z se / (F log F))`` (the interval recommended by Choudhury 2002 and Pintilie
    2006); ``"log"`` ``F exp(+-z se / F)`` capped at 1, which is R ``survfit``'s default for
    multi-state curves (pass ``conf_type="log"`` to reproduce its ``lower``/``upper``);
    ``"plain"`` ``F +- z se`` clipped to [0, 1]. Where the SE is 0 (before the first event of
    the cause) the interval is the point; R gives NA there.

    Parameters
    ----------
    data : pandas.DataFrame
    time : str
        Follow-up (exit) time, >= 0.
    event : str
        0 = censored, 1..K = cause of the first event. Codes outside the consecutive run
        1..K (a gap, as 7 in {0, 1, 2, 7}) raise unless declared with ``causes``.
    cause : int, optional
        The cause whose CIF is returned; default: every cause with events.
    by : str, optional
        Grouping column: one curve per level (sorted) and cause; without it, group "all".
    weights : str or PropensityScore, optional
        Non-negative case weights, or a :class:`~cohortlab.PropensityScore` fitted on the same
        rows (matched by index): its weights are used (e.g. ``by`` the exposure).
    entry : str, optional
        Entry time (left truncation): a row is at risk at ``t`` when ``entry < t <= time``.
    causes : list of int, optional
        Declares the event codes that are causes, e.g. ``causes=[1, 2, 7]``: needed only for
        codes that do not follow 1..K without gaps.
    conf_type : {"log-log", "log", "plain"}
    conf_level : float
    variance : {"infinitesimal_jackknife", "aalen", "mestimation"}, optional
        ``"mestimation"`` (the default with a logistic PropensityScore as ``weights``) adds
        the estimation of the propensity score to the IJ variance.
    missing : {"raise", "drop"}

    Returns
    -------
    Curve
        ``measure="cumulative_incidence"``, ``method="aalen_johansen"``, ``ci_method`` the
        variance. One row per distinct time (events and censorings of any cause) per group
        and cause, ``cause`` holding the event code. ``n_risk`` and ``n_censor`` are row
        counts, ``n_event`` the rows with an event of that cause at that time; with weights
        the weighted sums are the extra columns ``n_risk_weighted``, ``n_event_weighted`` and
        ``n_censor_weighted``.

    References
    ----------
    Aalen & Johansen (1978), Scand J Stat 5:141-150. Gray (1988), Ann Stat 16:1141-1154
    (cmprsk). Therneau, Crowson & Atkinson, "Multi-state models and competing risks"
    (survival package vignette).

    Examples
    --------
    >>> d = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6, 7, 8], "e": [1, 2, 1, 0, 2, 1, 0, 1]})
    >>> cif = cumulative_incidence(d, time="t", event="e", cause=1)
    >>> cif.to_frame()[["time", "estimate", "std_error"]].round(4).values.tolist()[:4]
    [[1.0, 0.125, 0.1169], [2.0, 0.125, 0.1169], [3.0, 0.25, 0.1531], [4.0, 0.25, 0.1531]]
    >>> cif.at([8]).to_frame()["estimate"].round(4).tolist()
    [0.7188]
    """
    func = verb_name()
    data, weights, nuis = ps_weights(data, weights, func)
    if variance is None and nuis is not None and nuis.logistic:
        variance = "mestimation"
    variance = _resolve_variance(variance, weights, entry, func)
    check_curve_variance(variance, nuis, func)
    p = prepare(data, func, time=time, event=event, by=by, weights=weights, entry=entry,
                missing=missing, competing=True, cause=cause, causes=causes)
    parts: list[dict[str, np.ndarray]] = []
    stacked = variance == "mestimation" and nuis is not None
    if stacked and nuis is not None:
        pos = nuis.positions(p.frame.index, func)
        for g, rows in groups_with_rows(p):
            parts += _group_columns(g, p.causes, variance, conf_type, conf_level,
                                    (nuis, pos[rows]))
    else:
        for g in p.by_group():
            parts += _group_columns(g, p.causes, variance, conf_type, conf_level)
    frame = pd.DataFrame({c: np.concatenate([part[c] for part in parts]) for c in parts[0]})
    notes = []
    if p.entry is not None:
        notes.append("left truncation: each row is at risk only after its entry time")
    if p.weights is not None:
        notes.append("n_risk/n_event/n_censor count rows; the weighted sums are in "
                     "n_risk_weighted/n_event_weighted/n_censor_weighted")
    if stacked:
        notes.append(CURVE_NOTE)
    n, n_events, zero = positive_weight_counts(p.weights, weights, np.isin(p.event, p.causes))
    ci: CIMethod = "sandwich_mestimation" if variance == "mestimation" else variance
    return Curve(
        data=frame, measure="cumulative_incidence", method="aalen_johansen",
        conf_type=conf_type, conf_level=conf_level, ci_method=ci, n=n,
        n_events=n_events,
        estimand="cumulative incidence F_k(t) = P(T <= t, cause = k)",
        weighted=p.weights is not None, dropped=p.dropped, notes=tuple(notes) + zero,
    )


def _resolve_variance(variance: CIFVariance | None, weights: str | None, entry: str | None,
                      func: str) -> CIFVariance:
    if variance is None:
        return "infinitesimal_jackknife"
    if variance == "aalen" and (weights is not None or entry is not None):
        got = f"weights={weights!r}" if weights is not None else f"entry={entry!r}"
        raise DataValidationError(
            f"{func}(): variance=\"aalen\" (cmprsk::cuminc's variance) is defined for "
            f"unweighted data without left truncation; got {got}. Use "
            "variance=\"infinitesimal_jackknife\"."
        )
    return variance


def _group_columns(
    g: GroupArrays, causes: list[int], variance: str, conf_type: str, conf_level: float,
    ps: tuple[PSNuisance, np.ndarray] | None = None,
) -> list[dict[str, np.ndarray]]:
    """One group's curves, one dict of columns per cause."""
    rc, plain, per_cause = cif_estimates(g, causes, variance, conf_type, conf_level, ps)
    return [curve_columns(rc, plain, g.level, k, est, conf_level, weighted=g.weights is not None)
            for k, est in zip(causes, per_cause, strict=True)]


# ---------------------------------------------------------------------- gray_test
@verb
def gray_test(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    by: str,
    cause: int | None = None,
    strata: str | Sequence[str] | None = None,
    causes: Sequence[int] | None = None,
    missing: Missing = "raise",
) -> TestTable:
    """Gray's K-sample test of equal cumulative incidence across groups, one row per cause.

    Null hypothesis: the cumulative incidence functions ``F_k`` of cause ``k`` are equal in
    the ``G`` levels of ``by`` (within each stratum). Gray's (1988) statistic compares each
    group's subdistribution hazard ``dF_k / (1 - F_k(t-))`` with the pooled one: the score of
    group ``g`` sums, over the event times of cause ``k``, the observed minus the expected
    events of cause ``k``, the expectation taken with the group's subdistribution risk set
    ``n_g(t) (1 - F_gk(t-)) / S_g(t-)`` (weight function ``(1 - F(t-))^rho`` with
    ``rho = 0``); its covariance is Gray's asymptotic estimate (with cmprsk's correction for
    ties). With ``strata`` the scores and covariances are summed over strata. The statistic
    ``s' V^{-1} s`` over the first ``G - 1`` groups is referred to chi-square with ``G - 1``
    degrees of freedom. This is ``cmprsk::cuminc``'s ``Tests`` table (events of the other
    causes are the competing events). Assumptions: censoring independent of the event time
    and cause within each group and stratum. There is no weighted version.

    Parameters
    ----------
    data : pandas.DataFrame
    time, event : str
        Follow-up time; 0 = censored, 1..K = cause.
    by : str
        The groups compared (at least two levels).
    cause : int, optional
        Test only this cause; default: every cause with events.
    strata : str or list of str, optional
        Stratification columns (cmprsk's ``strata``).
    causes : list of int, optional
        Declares event codes outside 1..K without gaps (as :func:`cumulative_incidence`).
    missing : {"raise", "drop"}

    Returns
    -------
    TestTable
        One :class:`~cohortlab.TestResult` per cause, term ``"Gray: cause k"``, with
        ``statistic`` the chi-square, ``p_value`` and ``df = G - 1``. Where the
        covariance is singular (e.g. no events of the cause in one group and stratum mix)
        the statistic is NaN and a note says so (cmprsk reports -1).

    References
    ----------
    Gray RJ (1988). A class of K-sample tests for comparing the cumulative incidence of a
    competing risk. Ann Stat 16:1141-1154.

    Examples
    --------
    >>> d = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6, 7, 8], "e": [1, 2, 1, 0, 2, 1, 0, 1],
    ...                   "arm": [0, 0, 0, 0, 1, 1, 1, 1]})
    >>> tab = gray_test(d, time="t", event="e", by="arm")
    >>> tab.to_frame()[["term", "statistic"]].round(4).values.tolist()
    [['Gray: cause 1', 2.2323], ['Gray: cause 2', 0.973]]
    """
    func = verb_name()
    p = prepare(data, func, time=time, event=event, by=by, strata=strata, missing=missing,
                competing=True, cause=cause, causes=causes, compare=True)
    df = len(p.levels) - 1
    rows = []
    for res in gray_score(p.time, p.event, p.causes, p.codes, len(p.levels), p.strata_codes()):
        k, stat = res.cause, res.statistic
        notes: tuple[str, ...] = ()
        if not np.isfinite(stat):
            notes = (f"cause {k}: the score covariance is singular, so the statistic is not "
                     "defined (cmprsk reports -1)",)
        rows.append(TestResult(
            term=f"Gray: cause {k}", statistic=stat, df=df,
            p_value=float(stats.chi2.sf(stat, df)) if np.isfinite(stat) else float("nan"),
            method="gray_test", n=len(p.frame), n_events=int((p.event == k).sum()),
            labels={"cause": k}, dropped=p.dropped, notes=notes,
        ))
    title = f"Gray's test of equal cumulative incidence across {by}"
    if p.strata:
        title += f", stratified by {', '.join(p.strata)}"
    return TestTable(rows=tuple(rows), title=title, dropped=p.dropped)
