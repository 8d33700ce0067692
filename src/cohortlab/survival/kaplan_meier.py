"""``kaplan_meier`` (product-limit curves) and ``logrank`` (the stratified log-rank test)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from scipy import stats

from .._typing import ConfType, Missing
from .._validation import (
    apply_missing,
    check_columns,
    check_conf_level,
    check_frame,
    check_numeric,
    check_option,
    check_time_event,
    check_weights,
)
from ..exceptions import DataValidationError
from ..results.curve import Curve
from ..results.dropped import Dropped
from ..results.estimate import Estimate
from ._counts import RiskCounts, risk_counts
from ._km import (
    LogrankParts,
    greenwood_log_var,
    km_conf_int,
    km_ij_variance,
    logrank_chisq,
    logrank_parts,
    product_limit,
)

__all__ = ["kaplan_meier", "logrank"]

KMVariance: TypeAlias = Literal["greenwood", "infinitesimal_jackknife"]


# ---------------------------------------------------------------------- shared preparation
@dataclass(frozen=True)
class _Prepared:
    """Validated arrays of one analysis (shared by kaplan_meier, logrank and rmst)."""

    frame: pd.DataFrame
    dropped: Dropped
    time: np.ndarray
    event: np.ndarray
    weights: np.ndarray | None
    entry: np.ndarray | None
    codes: np.ndarray  # group code of each row, 0..G-1
    levels: list[Any]  # group labels, sorted


def _prepare(
    data: Any,
    func: str,
    *,
    time: str,
    event: str,
    by: str | None,
    weights: str | None,
    entry: str | None,
    missing: str,
    extra: Sequence[str] = (),
) -> _Prepared:
    """Frame, columns, missing values, time/event domain, weights and group codes."""
    data = check_frame(data, func)
    check_columns(data, func, time=time, event=event, by=by, weights=weights, entry=entry,
                  strata=list(extra) or None)
    used = [c for c in (time, event, by, weights, entry, *extra) if c is not None]
    frame, dropped = apply_missing(data, used, missing, func)
    t, e = check_time_event(frame, time, event, func, entry=entry)
    w = check_weights(frame, weights, func) if weights is not None else None
    t0 = check_numeric(frame, entry, "entry", func) if entry is not None else None
    if by is None:
        codes, levels = np.zeros(len(frame), dtype=np.intp), ["all"]
    else:
        codes, levels = _factorize(frame[by], by, func)
    return _Prepared(frame=frame, dropped=dropped, time=t, event=np.asarray(e, dtype=np.int64),
                     weights=w, entry=t0, codes=codes, levels=levels)


def _factorize(col: pd.Series, name: str, func: str) -> tuple[np.ndarray, list[Any]]:
    """Integer codes of a grouping column, levels in sorted order (as R's factor levels)."""
    try:
        codes, uniques = pd.factorize(col, sort=True)
    except TypeError as err:  # mixed types that cannot be ordered
        raise DataValidationError(
            f"{func}(): column {name!r} (by) mixes values that cannot be sorted; got dtype "
            f"{col.dtype}. Convert it to one type, e.g. data[{name!r}].astype(str)."
        ) from err
    levels = [v.item() if isinstance(v, np.generic) else v for v in np.asarray(uniques)]
    return np.asarray(codes, dtype=np.intp), levels


def _group_time_order(codes: np.ndarray, time: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """Row indices of each group, sorted by time: one sort of the times, one radix pass.

    Sorted inputs make the later ``np.unique``/``np.searchsorted`` passes cache-friendly
    (several times faster on a million rows than on shuffled rows).
    """
    order = np.argsort(time)
    if n_groups > 1:
        small = codes[order].astype(np.int16 if n_groups < 2**15 else np.int64)
        order = order[np.argsort(small, kind="stable")]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_groups))])
    return [order[bounds[g]:bounds[g + 1]] for g in range(n_groups)]


def _counts(
    t: np.ndarray, e: np.ndarray, w: np.ndarray | None, t0: np.ndarray | None
) -> tuple[RiskCounts, RiskCounts]:
    """Weighted and unweighted risk-set counts (the same object twice without weights)."""
    plain = risk_counts(t, e, None, t0, n_causes=1)
    weighted = plain if w is None else risk_counts(t, e, w, t0, n_causes=1)
    return weighted, plain


# ---------------------------------------------------------------------- kaplan_meier
def kaplan_meier(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    by: str | None = None,
    weights: str | None = None,
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
    ``weights``, the weights are known (e.g. sampling or inverse-probability weights that are
    treated as fixed). An event at time 0 lowers the curve at time 0, as in R.

    Variance (``variance=``): ``"greenwood"`` (default without weights), Greenwood's formula
    ``S^2 sum d_j / (Y_j (Y_j - d_j))`` on the weighted counts; with integer weights this is
    exactly the Greenwood variance of the data with each row replicated ``w`` times (R's
    ``survfit`` with integer weights, whose default is ``robust=FALSE``).
    ``"infinitesimal_jackknife"`` (default with weights): ``sum_i w_i^2 U_i(t)^2`` with
    ``U_i`` the influence of row ``i`` on the product-limit estimate; this is R's
    ``survfit(..., weights=, robust=TRUE)`` (its default for non-integer weights) with every
    row its own cluster. Without weights or ``entry`` it equals Greenwood. Computed in
    O(n log n). ``std_error`` is the SE of ``S(t)`` (R's ``summary.survfit`` ``std.err``).

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
    weights : str, optional
        Non-negative case weights.
    entry : str, optional
        Entry time (left truncation): a row is at risk at ``t`` when ``entry < t <= time``.
    conf_type : {"log-log", "log", "plain"}
    conf_level : float
    variance : {"greenwood", "infinitesimal_jackknife"}, optional
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
    func = "kaplan_meier"
    check_option(conf_type, ConfType, "conf_type", func)
    conf_level = check_conf_level(conf_level, func)
    if variance is None:
        variance = "greenwood" if weights is None else "infinitesimal_jackknife"
    check_option(variance, KMVariance, "variance", func)
    p = _prepare(data, func, time=time, event=event, by=by, weights=weights, entry=entry,
                 missing=missing)
    parts = []
    for level, rows in zip(p.levels, _group_time_order(p.codes, p.time, len(p.levels)),
                           strict=True):
        w = p.weights[rows] if p.weights is not None else None
        t0 = p.entry[rows] if p.entry is not None else None
        parts.append(_curve_frame(p.time[rows], p.event[rows], w, t0, level, variance,
                                  conf_type, conf_level))
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    notes = _km_notes(p, variance)
    return Curve(
        data=frame, measure="survival", method="kaplan_meier", conf_type=conf_type,
        conf_level=conf_level, ci_method=variance, n=len(p.frame),
        n_events=int((p.event > 0).sum()), weighted=p.weights is not None, dropped=p.dropped,
        notes=notes,
    )


def _curve_frame(
    t: np.ndarray,
    e: np.ndarray,
    w: np.ndarray | None,
    t0: np.ndarray | None,
    level: Any,
    variance: str,
    conf_type: str,
    conf_level: float,
) -> pd.DataFrame:
    """One group's curve in long format."""
    rc, plain = _counts(t, e, w, t0)
    y, d = rc.n_risk, rc.n_event[:, 0]
    surv = product_limit(y, d)
    if variance == "greenwood":
        with np.errstate(invalid="ignore"):
            se = np.where(surv > 0, surv * np.sqrt(greenwood_log_var(y, d)), np.nan)
        se = np.where(np.isfinite(se), se, np.nan)
    else:
        ww = np.ones(t.size) if w is None else w
        se = np.sqrt(km_ij_variance(rc.time, y, d, surv, t, e, ww, t0))
    lo, hi = km_conf_int(surv, se, conf_type, conf_level)
    m = rc.time.size
    cols: dict[str, Any] = {
        "time": rc.time,
        "group": np.full(m, level, dtype=object) if m else np.empty(0, dtype=object),
        "cause": np.full(m, None, dtype=object),
        "n_risk": np.rint(plain.n_risk).astype(np.int64),
        "n_event": np.rint(plain.n_event[:, 0]).astype(np.int64),
        "n_censor": np.rint(plain.n_censor).astype(np.int64),
        "estimate": surv,
        "std_error": se,
        "conf_low": lo,
        "conf_high": hi,
        "conf_level": np.full(m, conf_level),
    }
    if w is not None:
        cols.update(n_risk_weighted=y, n_event_weighted=d, n_censor_weighted=rc.n_censor)
    return pd.DataFrame(cols)


def _km_notes(p: _Prepared, variance: str) -> tuple[str, ...]:
    notes = []
    if p.weights is not None and variance == "greenwood":
        notes.append("Greenwood variance on weighted counts: the weights are treated as "
                     "frequency weights (replicated rows)")
    if p.entry is not None:
        notes.append("left truncation: each row is at risk only after its entry time")
    return tuple(notes)


# ---------------------------------------------------------------------- logrank
def logrank(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    by: str,
    strata: str | Sequence[str] | None = None,
    weights: str | None = None,
    missing: Missing = "raise",
) -> Estimate:
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
    Estimate
        ``estimate`` and ``statistic`` are the chi-square; ``extra["df"]`` its degrees of
        freedom; ``diagnostics`` a frame with, per group, ``n``, ``observed``, ``expected``,
        ``o_minus_e``, ``variance`` (the diagonal of V) and, with weights, the weighted
        variants (``n_weighted``, ``observed_weighted``, ``expected_weighted``). With weights
        ``observed``/``expected`` are the unweighted counts and the test uses the weighted.

    Examples
    --------
    >>> d = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6, 7, 8], "e": [1, 1, 1, 0, 1, 1, 0, 1],
    ...                   "arm": [0, 1, 0, 1, 0, 1, 0, 1]})
    >>> lr = logrank(d, time="t", event="e", by="arm")
    >>> round(lr.statistic, 4), lr.extra["df"]
    (0.4476, 1)
    """
    func = "logrank"
    strata_cols = [strata] if isinstance(strata, str) else list(strata or [])
    if by is None:
        raise DataValidationError(f"{func}(): by is required; got None. Name the column of "
                                  "the groups to compare, e.g. by=\"arm\".")
    p = _prepare(data, func, time=time, event=event, by=by, weights=weights, entry=None,
                 missing=missing, extra=strata_cols)
    if len(p.levels) < 2:
        raise DataValidationError(
            f"{func}(): column {by!r} (by) must have at least two levels to compare; got "
            f"{len(p.levels)} level {p.levels!r}. Check the column or the rows kept."
        )
    n_events = int((p.event > 0).sum())
    if n_events == 0:
        raise DataValidationError(
            f"{func}(): column {event!r} (event) has no events among the {len(p.frame):,} "
            "rows; got only 0 (censored). The test compares event rates and needs events; "
            "check the event coding."
        )
    strata_codes = (p.frame.groupby(strata_cols, sort=True, observed=True).ngroup().to_numpy()
                    if strata_cols else np.zeros(len(p.frame), dtype=np.intp))
    n_groups = len(p.levels)
    test = _logrank_sum(p.time, p.event, p.codes, strata_codes, p.weights, n_groups)
    plain = test if p.weights is None else _logrank_sum(
        p.time, p.event, p.codes, strata_codes, None, n_groups)
    chisq, df, singular = logrank_chisq(test)
    notes = _logrank_notes(p, strata_cols, strata_codes, singular)
    return Estimate(
        term=f"log-rank: {by}", estimate=chisq, statistic=chisq,
        p_value=float(stats.chi2.sf(chisq, df)) if df > 0 else math.nan,
        effect_measure="chi_square", method="logrank", ci_method="none", n=len(p.frame),
        n_events=n_events, extra={"df": df}, dropped=p.dropped, notes=notes,
        diagnostics=_logrank_table(p, test, plain),
    )


def _logrank_sum(
    t: np.ndarray,
    e: np.ndarray,
    codes: np.ndarray,
    strata_codes: np.ndarray,
    w: np.ndarray | None,
    n_groups: int,
) -> LogrankParts:
    """Observed, expected and covariance summed over strata."""
    obs, exp_, var = np.zeros(n_groups), np.zeros(n_groups), np.zeros((n_groups, n_groups))
    for s in np.unique(strata_codes):  # loop over strata and groups, never over times
        in_s = strata_codes == s
        ts, es, gs = t[in_s], e[in_s], codes[in_s]
        ws = w[in_s] if w is not None else None
        grid = np.unique(ts)
        y = np.zeros((grid.size, n_groups))
        d = np.zeros((grid.size, n_groups))
        for g in np.unique(gs):
            rows = gs == g
            rc = risk_counts(ts[rows], es[rows], ws[rows] if ws is not None else None,
                             n_causes=1)
            # at risk at u: the group's count at its first own time >= u (0 after its last)
            pos = np.searchsorted(rc.time, grid, side="left")
            y[:, g] = np.concatenate([rc.n_risk, [0.0]])[pos]
            d[np.searchsorted(grid, rc.time), g] = rc.n_event[:, 0]
        part = logrank_parts(grid, y, d)
        obs += part.observed
        exp_ += part.expected
        var += part.variance
    return LogrankParts(observed=obs, expected=exp_, variance=var)


def _logrank_table(p: _Prepared, test: LogrankParts, plain: LogrankParts) -> pd.DataFrame:
    n = np.bincount(p.codes, minlength=len(p.levels))
    table = pd.DataFrame({
        "group": p.levels, "n": n, "observed": plain.observed, "expected": plain.expected,
    })
    if p.weights is not None:
        table["n_weighted"] = np.bincount(p.codes, weights=p.weights, minlength=len(p.levels))
        table["observed_weighted"] = test.observed
        table["expected_weighted"] = test.expected
    table["o_minus_e"] = test.observed - test.expected
    table["variance"] = np.diag(test.variance)
    return table


def _logrank_notes(p: _Prepared, strata_cols: list[str], strata_codes: np.ndarray,
                   singular: bool) -> tuple[str, ...]:
    notes = []
    if strata_cols:
        k = int(np.unique(strata_codes).size)
        notes.append(f"stratified by {', '.join(strata_cols)} ({k} strata)")
    if p.weights is not None and np.any(p.weights != np.round(p.weights)):
        notes.append("non-integer weights used as frequency weights: the chi-square depends "
                     "on their scale and is not a valid test for inverse-probability or "
                     "sampling weights")
    if singular:
        notes.append("the covariance of O - E is singular; a generalised inverse was used")
    return tuple(notes)
