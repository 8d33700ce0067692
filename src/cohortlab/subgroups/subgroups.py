"""``subgroups``: an effect estimated within subgroups, with interaction (heterogeneity) tests."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from .._typing import PAdjust
from .._validation import (
    apply_missing,
    check_columns,
    check_estimator,
    check_option,
    verb,
    verb_name,
)
from ..exceptions import CohortError, DataValidationError
from ..inference.multiplicity import adjust_pvalues
from ..inference.wald import inverse_variance_q
from ..results._format import (
    fmt_int,
    fmt_num,
    fmt_p,
    measure_label,
    method_label,
)
from ..results._schema import ESTIMATE_COLUMNS
from ..results.dropped import Dropped
from ..results.estimate import Estimate, EstimateTable
from ..results.model import ModelResult
from ..results.testresult import TestResult, TestTable
from ..survival.adjusted_curves import AdjustedCurves

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["subgroups", "SubgroupResult"]

OVERALL = "overall"
#: Keyword arguments of the estimators that hold covariate sets; the subgroup variable is
#: removed from them within its own levels (it is constant there).
_COVARIATE_KWARGS = ("covariates", "outcome_covariates", "censoring_covariates")
#: Extra columns of :meth:`SubgroupResult.to_frame`, after the tidy schema.
SUBGROUP_COLUMNS = ("subgroup", "level", "n_1", "n_0", "n_events_1", "n_events_0", "note")


# ---------------------------------------------------------------------- result
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class SubgroupResult(EstimateTable):
    """Effects overall and within the levels of subgroup variables, with interaction tests.

    An :class:`~cohortlab.EstimateTable` (its rows are the effects) that also carries the
    interaction tests.

    Attributes
    ----------
    rows : tuple of Estimate
        The overall estimate first, then one per level of each ``by`` variable (in ``by``
        order, levels sorted). Each carries ``labels`` ``subgroup`` and ``level`` (and per-arm
        counts ``n_1, n_0, n_events_1, n_events_0`` where known). Levels that could not be
        estimated, or had fewer than ``min_events`` events, have NaN statistics and a note.
    interaction : TestTable
        One :class:`~cohortlab.TestResult` per ``by`` variable (term: the variable) with
        ``statistic, df, p_value`` and labels ``variable`` and one adjusted p-value
        ``p_<method>`` per ``p_adjust`` method (``p_holm``, ``p_fdr_bh``).
    by : tuple of str
        The subgroup variables.
    p_adjust : tuple of str
        The multiplicity adjustments applied across the interaction p-values.
    """

    interaction: TestTable = field(default_factory=lambda: TestTable(rows=()))
    by: tuple[str, ...] = ()
    p_adjust: tuple[str, ...] = ("holm", "fdr_bh")
    min_events: int | None = None

    @property
    def overall(self) -> Estimate:
        """The estimate in the whole cohort."""
        return self.rows[0]

    @property
    def is_ratio(self) -> bool:
        """Whether the effects are ratios (interaction tested on the log scale)."""
        return self.overall.is_ratio

    def level(self, variable: str, level: Any) -> Estimate:
        """The estimate in one level of one subgroup variable."""
        for r in self.rows[1:]:
            if r.labels.get("subgroup") == variable and r.labels.get("level") == level:
                return r
        known = [(r.labels.get("subgroup"), r.labels.get("level")) for r in self.rows[1:]]
        raise KeyError(f"no level {level!r} of {variable!r}; rows are {known}")

    def to_frame(self) -> pd.DataFrame:
        """Tidy rows: the estimate schema, then ``subgroup, level``, per-arm counts and note."""
        frame = pd.DataFrame([_tidy_row(r) for r in self.rows])
        cols = list(ESTIMATE_COLUMNS) + list(SUBGROUP_COLUMNS)
        frame = frame.reindex(columns=cols)
        for col in ("n", "n_events", "n_1", "n_0", "n_events_1", "n_events_0"):
            frame[col] = frame[col].astype("Int64")
        return frame

    # -------------------------------------------------------------- rendering
    def _p_interaction(self) -> dict[str, float]:
        return {t.term: t.p_value for t in self.interaction}

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        p_int = self._p_interaction()
        recs = []
        for i, r in enumerate(self.rows):
            var = r.labels.get("subgroup", OVERALL)
            first = i > 0 and self.rows[i - 1].labels.get("subgroup") != var
            recs.append({
                "subgroup": var if (i == 0 or first) else "",
                "level": str(r.labels.get("level", "")),
                "n": fmt_int(r.n),
                "events": fmt_int(r.n_events),
                "estimate": fmt_num(r.estimate, digits),
                "conf_low": fmt_num(r.conf_low, digits),
                "conf_high": fmt_num(r.conf_high, digits),
                "p_value": fmt_p(r.p_value, digits),
                "p_interaction": fmt_p(p_int.get(var), digits) if first else "",
            })
        return pd.DataFrame(recs)

    def _title(self) -> str:
        o = self.overall
        bits = ["Subgroup analysis", method_label(o.method), o.estimand or "",
                measure_label(o.effect_measure)]
        return " · ".join(b for b in bits if b)

    def _footer(self) -> list[str]:
        o = self.overall
        scale = "log scale" if self.is_ratio else "estimate scale"
        lines = [f"{100 * o.conf_level:g}% CI · interaction: Wald chi-square of equal effects "
                 f"across levels ({scale}); p adjusted across {len(self.by)} variable(s) by "
                 f"{', '.join(self.p_adjust)}"]
        for t in self.interaction:
            extra = ", ".join(f"{k.removeprefix('p_')} {fmt_p(v)}" for k, v in t.labels.items()
                              if k.startswith("p_"))
            lines.append(f"{t.term}: chi-square {fmt_num(t.statistic, 2)} on "
                         f"{t.df:g} df, p = {fmt_p(t.p_value)}"
                         + (f" ({extra})" if extra else ""))
        if o.dropped:
            lines.append(f"overall n = {fmt_int(o.n)} ({o.dropped})")
        row_notes = [n for r in self.rows for n in r.notes]
        lines += list(dict.fromkeys((*self.notes, *row_notes)))
        return lines

    def forest_plot(self, ax: Axes | None = None) -> Axes:
        """A clinical forest plot: levels grouped under each variable, interaction p-values.

        The left labels name the variable (bold) and its levels; the right labels give the
        estimate with its interval (and the interaction p-value on each variable's line). A
        dashed line marks the null (1 for ratios, on a log axis; 0 otherwise).
        """
        return _forest(self, ax)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Same as :meth:`forest_plot`."""
        return self.forest_plot(ax)


def _tidy_row(r: Estimate) -> dict[str, Any]:
    row = {c: getattr(r, c) for c in ESTIMATE_COLUMNS}
    row.update(r.labels)
    row["note"] = "; ".join(n for n in r.notes if n.startswith("not estimated")) or None
    return row


# ---------------------------------------------------------------------- the verb
@verb
def subgroups(
    estimator: Callable[..., Any],
    data: pd.DataFrame,
    *,
    by: str | Sequence[str],
    min_events: int | None = None,
    p_adjust: PAdjust | Sequence[PAdjust] = ("holm", "fdr_bh"),
    term: str | None = None,
    at: float | None = None,
    contrast: Literal["difference", "ratio"] = "difference",
    scale: Literal["survival", "risk"] | None = None,
    **estimator_kwargs: Any,
) -> SubgroupResult:
    """Run an effect estimator overall and within each level of subgroup variables.

    Estimand: the estimator's own estimand (e.g. the ATE of :func:`~cohortlab.ipw`) in the
    whole cohort and in each subgroup level, i.e. conditional on the subgroup variable. The
    interaction (heterogeneity) test of each variable tests equal effects across its levels,
    on the estimator's model scale (the log scale for ratio measures: risk, odds and hazard
    ratios), so effect modification is judged on the measure's own scale.

    Assumptions: those of the estimator within every level (for IPW, AIPW, TMLE, g-formula:
    exchangeability, positivity and consistency within each level); levels are disjoint
    samples, so their estimates are independent.

    Variance: each level's standard error and interval come from the estimator (its own
    variance method, recorded in ``ci_method``). The interaction statistic is the Wald
    chi-square ``sum_g (b_g - b_pooled)**2 / se_g**2`` with the inverse-variance pooled
    ``b_pooled`` on ``levels - 1`` degrees of freedom (Cochran's Q); with the crude odds ratio
    it equals the Wald test of the exposure-by-subgroup product terms of a logistic regression
    ``outcome ~ exposure * C(subgroup)``. The interaction p-values of all ``by`` variables are
    adjusted for multiplicity (Holm; Benjamini-Hochberg) with
    :func:`~cohortlab.inference.adjust_pvalues`.

    Parameters
    ----------
    estimator : callable
        A cohortlab verb returning an :class:`~cohortlab.Estimate` (``crude_effect``, ``ipw``,
        ``aipw``, ``gformula``, ``tmle``), or a :class:`~cohortlab.ModelResult` (``cox``) with
        ``term=`` naming the coefficient.
    data : pandas.DataFrame
        One row per subject; never modified.
    by : str or sequence of str
        Subgroup variables (any dtype; levels sorted, categorical order kept). Within a
        variable's levels that variable is removed from ``covariates``,
        ``outcome_covariates`` and ``censoring_covariates`` (lists, or ``+``-separated terms
        equal to ``var`` or ``C(var)``), as it is constant there.
    min_events : int, optional
        Levels whose estimate counts fewer events (``n_events``) are reported with NaN
        statistics and a note, and left out of the interaction test.
    p_adjust : str or sequence of {"holm", "bonferroni", "fdr_bh", "none"}
        Adjustments of the interaction p-values across the ``by`` variables; one label
        ``p_<method>`` each on the tests of :attr:`SubgroupResult.interaction`.
    term : str, optional
        The coefficient to report when ``estimator`` returns a ModelResult (e.g. ``cox``).
    at : float, optional
        With an estimator that returns adjusted curves (``adjusted_survival``): the time at
        which the arms are contrasted in every level (pass it in ``times=`` too, so that it is
        on the curves' grid), e.g. effect modification of the 5-year risk difference.
    contrast : {"difference", "ratio"}, default "difference"
        The curve contrast at ``at``.
    scale : {"survival", "risk"}, optional
        The curve scale contrasted at ``at``: ``"risk"`` contrasts ``1 - S(t)`` of survival
        curves (risk difference or ratio); default the curves' own (survival, or the
        cumulative incidence with ``cause``).
    **estimator_kwargs
        Passed to ``estimator`` unchanged (``exposure=``, ``outcome=``, ``covariates=``,
        ``effect_measure=``, ``conf_level=``, ``missing=``, ...). ``missing="drop"`` also lets
        rows with a missing subgroup value be left out of that variable's levels (counted in a
        note); by default they raise.

    Returns
    -------
    SubgroupResult
        ``to_frame()`` (tidy rows with ``subgroup``, ``level``, ``n``, ``n_events`` and the
        per-arm counts ``n_1, n_0, n_events_1, n_events_0``), ``interaction``, ``summary()``,
        ``to_markdown()``, ``to_latex()``, ``to_html()`` and ``forest_plot()``.

    Notes
    -----
    A level where the estimator fails on the data (one exposure arm only, no events, a
    constant covariate...) is reported with NaN statistics and the estimator's message in
    a note, never dropped. Subgroup effects are many comparisons: read the interaction
    tests (adjusted), not the per-level p-values (Wang et al. 2007, NEJM 357:2189).

    Examples
    --------
    >>> import cohortlab as cl
    >>> df = cl.simulate_cohort(4000, random_state=1)
    >>> res = subgroups(cl.crude_effect, df, by=["diabetes", "female"], exposure="treated",
    ...                 outcome="mace_1y", effect_measure="odds_ratio")
    >>> res.to_frame()[["subgroup", "level", "n", "n_events"]].head(3)
       subgroup level     n  n_events
    0   overall   all  4000       244
    1  diabetes     0  3498       182
    2  diabetes     1   502        62
    >>> [(t.term, t.df) for t in res.interaction]
    [('diabetes', 1.0), ('female', 1.0)]
    """
    check_estimator(estimator)
    by_cols = [by] if isinstance(by, str) else list(by)
    if not by_cols:
        raise DataValidationError(f"{verb_name()}(): by must name at least one column; got {by!r}.")
    check_columns(data, by=by_cols)
    if len(set(by_cols)) != len(by_cols):
        raise DataValidationError(f"{verb_name()}(): by names a column twice; got {by_cols}.")
    methods = (p_adjust,) if isinstance(p_adjust, str) else tuple(p_adjust)
    for m in methods:
        check_option(m, PAdjust, "p_adjust")
    if min_events is not None and (isinstance(min_events, bool) or not isinstance(
            min_events, (int, np.integer)) or min_events < 1):
        raise DataValidationError(
            f"{verb_name()}(): min_events must be a positive int or None; got {min_events!r}. "
            "Pass e.g. min_events=10."
        )
    missing = estimator_kwargs.get("missing", "raise")
    name = getattr(estimator, "__name__", type(estimator).__name__)
    pick = _Pick(term=term, at=at, contrast=contrast, scale=scale)

    overall = _run(estimator, data, estimator_kwargs, pick, name)
    overall = _finish(overall, data, estimator_kwargs, term, OVERALL, "all")
    rows: list[Estimate] = [overall]
    notes: list[str] = []
    tests = []
    by_missing: dict[str, int] = {}
    for var in by_cols:
        frame, dropped = apply_missing(data, [var], missing)
        if dropped:
            by_missing[var] = dropped.n_rows
            notes.append(f"{var}: {dropped.n_rows:,} rows with a missing value are in no level")
        kwargs, removed = _without(estimator_kwargs, var)
        if removed:
            notes.append(f"{var} removed from {', '.join(removed)} within its levels "
                         "(constant there)")
        level_rows = [
            _level(estimator, frame.iloc[idx], kwargs, pick, name, var, lvl, min_events,
                   overall)
            for lvl, idx in _levels(frame, var)
        ]
        rows += level_rows
        b = np.array([_model_scale(r) for r in level_rows])
        se = np.array([r.std_error for r in level_rows])
        stat, df, p = inverse_variance_q(b, se**2)[2:]
        n_ok = int(np.isfinite(b).sum())
        if n_ok < len(level_rows):
            notes.append(f"{var}: interaction test over {n_ok} of {len(level_rows)} levels "
                         "(the others were not estimated)")
        tests.append((var, stat, df, p))
    p_all = np.array([t[3] for t in tests], dtype=float)
    adjusted = {f"p_{m}": adjust_pvalues(p_all, m) for m in methods}
    interaction = TestTable(rows=tuple(
        TestResult(term=var, statistic=stat, df=df, p_value=p, method="wald_heterogeneity",
                   n=overall.n, labels={"variable": var,
                                        **{k: float(v[i]) for k, v in adjusted.items()}})
        for i, (var, stat, df, p) in enumerate(tests)
    ), title="Interaction tests: equal effects across levels")
    return SubgroupResult(rows=tuple(rows), interaction=interaction, by=tuple(by_cols),
                          p_adjust=methods, min_events=min_events,
                          dropped=_with_subgroup_missing(overall.dropped, by_missing, len(data)),
                          notes=tuple(notes))


def _with_subgroup_missing(dropped: Dropped, by_missing: dict[str, int], n_input: int
                           ) -> Dropped:
    """The overall estimate's drops plus the rows left out of the subgroup levels."""
    if not by_missing:
        return dropped
    by_column = dict(dropped.by_column)
    for var, n in by_missing.items():
        by_column[var] = max(by_column.get(var, 0), n)
    return Dropped(n_rows=max(dropped.n_rows, max(by_missing.values())), by_column=by_column,
                   n_input=n_input)


# ---------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class _Pick:
    """Which number of the estimator's result is the subgroup effect."""

    term: str | None
    at: float | None
    contrast: Literal["difference", "ratio"]
    scale: Literal["survival", "risk"] | None


def _run(estimator: Callable[..., Any], data: pd.DataFrame, kwargs: Mapping[str, Any],
         pick: _Pick, name: str) -> Estimate:
    """The subgroup effect: an Estimate, a ModelResult's ``term`` row, or a curve contrast."""
    res = estimator(data, **kwargs)
    term = pick.term
    if isinstance(res, Estimate):
        return res
    if isinstance(res, AdjustedCurves):
        if pick.at is None:
            raise DataValidationError(
                f"{verb_name()}(): {name}() returns adjusted curves; at= must name the time at "
                "which "
                "the arms are contrasted in every subgroup; got at=None. Pass e.g. at=5.0 "
                "(and times=[5.0]).")
        table = res.contrast([float(pick.at)], pick.contrast, scale=pick.scale)
        return table.rows[0]
    if isinstance(res, ModelResult):
        if term is None or term not in res.terms:
            close = difflib.get_close_matches(str(term), list(res.terms), n=2, cutoff=0.6)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close and term else ""
            raise DataValidationError(
                f"{verb_name()}(): {name}() returns a model; term must name one of its "
                "coefficients "
                f"{list(res.terms)}; got {term!r}.{hint} Pass e.g. term={res.terms[0]!r}."
            )
        return res.coef_table()[term]
    raise DataValidationError(
        f"{verb_name()}(): estimator {name}() must return an Estimate (or a ModelResult with "
        f"term=, or adjusted curves with at=); got {type(res).__name__}. Pass an effect "
        "estimator such as cl.crude_effect, cl.ipw, cl.aipw, cl.gformula, cl.tmle, cl.cox "
        "with term=, or cl.adjusted_survival with at=."
    )


def _levels(frame: pd.DataFrame, var: str) -> list[tuple[Any, np.ndarray]]:
    """The levels of ``var`` (sorted; categorical order) and their row positions."""
    codes, uniques = pd.factorize(frame[var], sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    out = []
    for k, lvl in enumerate(uniques):
        lvl = lvl.item() if isinstance(lvl, np.generic) else lvl
        out.append((lvl, order[bounds[k]:bounds[k + 1]]))
    return out


def _without(kwargs: Mapping[str, Any], var: str) -> tuple[dict[str, Any], list[str]]:
    """Copy of the estimator kwargs with ``var`` removed from the covariate sets."""
    out, removed = dict(kwargs), []
    for key in _COVARIATE_KWARGS:
        cov = out.get(key)
        if cov is None:
            continue
        if isinstance(cov, str):
            terms = [t.strip() for t in cov.split("+")]
            kept = [t for t in terms if t.replace(" ", "") not in (var, f"C({var})")]
            if len(kept) < len(terms):
                out[key] = " + ".join(kept) if kept else []
                removed.append(key)
        elif var in list(cov):
            out[key] = [c for c in cov if c != var]
            removed.append(key)
    return out, removed


def _level(estimator: Callable[..., Any], frame: pd.DataFrame, kwargs: Mapping[str, Any],
           pick: _Pick, name: str, var: str, lvl: Any, min_events: int | None,
           overall: Estimate) -> Estimate:
    """The estimate in one level, or a NaN row with the reason in a note."""
    term = pick.term
    try:
        est = _run(estimator, frame, kwargs, pick, name)
    except CohortError as err:
        blank = _blank(overall, len(frame), None, f"not estimated in {var} = {lvl}: {err}")
        return _finish(blank, frame, kwargs, term, var, lvl)
    if min_events is not None and est.n_events is not None and est.n_events < min_events:
        est = _blank(est, est.n, est.n_events,
                     f"not estimated in {var} = {lvl}: {est.n_events} events < "
                     f"min_events={min_events}")
    return _finish(est, frame, kwargs, term, var, lvl)


def _blank(like: Estimate, n: int | None, n_events: int | None, note: str) -> Estimate:
    return Estimate(term=like.term, estimate=math.nan, conf_level=like.conf_level,
                    estimand=like.estimand, effect_measure=like.effect_measure,
                    method=like.method, ci_method=like.ci_method, n=n, n_events=n_events,
                    notes=(note,))


def _finish(est: Estimate, frame: pd.DataFrame, kwargs: Mapping[str, Any], term: str | None,
            var: str, lvl: Any) -> Estimate:
    """Attach the subgroup labels and per-arm counts."""
    labels = {"subgroup": var, "level": lvl, **_arm_counts(frame, kwargs, term)}
    return replace(est, labels=labels, influence=None, replicates=None)


def _arm_counts(frame: pd.DataFrame, kwargs: Mapping[str, Any],
                term: str | None) -> dict[str, int]:
    """Rows and events per exposure arm, where the exposure and a 0/1 outcome are known."""
    exposure = kwargs.get("exposure") or (term if term in frame.columns else None)
    if not isinstance(exposure, str) or exposure not in frame.columns:
        return {}
    a = frame[exposure]
    ref = kwargs.get("reference")
    labels = pd.unique(a.dropna())
    if ref is None and not set(labels.tolist()) <= {0, 1}:  # bools compare equal to 0/1
        return {}
    arm1 = (a != ref) if ref is not None else a.astype("boolean").fillna(False)
    ok = a.notna()
    outcome = kwargs.get("outcome") or kwargs.get("event")
    out = {"n_1": int((ok & arm1).sum()), "n_0": int((ok & ~arm1).sum())}
    if isinstance(outcome, str) and outcome in frame.columns:
        y = pd.to_numeric(frame[outcome], errors="coerce") if not isinstance(
            frame[outcome].dtype, pd.CategoricalDtype) else None
        if y is None:
            return out
        if "event" in kwargs and outcome == kwargs["event"]:
            y = (y == kwargs.get("cause", 1)).astype(float).where(y.notna())
        if bool(y.dropna().isin([0.0, 1.0]).all()):
            ok = ok & y.notna()
            out = {"n_1": int((ok & arm1).sum()), "n_0": int((ok & ~arm1).sum()),
                   "n_events_1": int(y[ok & arm1].sum()), "n_events_0": int(y[ok & ~arm1].sum())}
    return out


def _model_scale(r: Estimate) -> float:
    if not np.isfinite(r.estimate) or not np.isfinite(r.std_error):
        return math.nan
    if r.is_ratio:
        return math.log(r.estimate) if r.estimate > 0 else math.nan
    return float(r.estimate)


# ---------------------------------------------------------------------- forest plot
def _forest(res: SubgroupResult, ax: Axes | None) -> Axes:
    import matplotlib.pyplot as plt

    p_int = res._p_interaction()
    lines: list[tuple[str, Estimate | None, str, bool]] = []  # label, row, right text, bold
    lines.append(("Overall", res.overall, _ci_text(res.overall), True))
    prev = None
    for r in res.rows[1:]:
        var = r.labels["subgroup"]
        if var != prev:
            lines.append((str(var), None, f"p-interaction {fmt_p(p_int[var])}", True))
            prev = var
        lines.append((f"   {r.labels['level']}", r, _ci_text(r), False))
    n = len(lines)
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, 0.32 * n + 1.3), layout="constrained")
    y = np.arange(n)[::-1].astype(float)
    pts = [(yy, r) for yy, (_, r, _, _) in zip(y, lines, strict=True)
           if r is not None and np.isfinite(r.estimate)]
    if pts:
        ys = np.array([p[0] for p in pts])
        est = np.array([p[1].estimate for p in pts])
        lo = np.array([p[1].conf_low for p in pts])
        hi = np.array([p[1].conf_high for p in pts])
        ax.errorbar(est, ys, xerr=[est - lo, hi - est], fmt="s", color="#1b6ca8",
                    ecolor="#1b6ca8", capsize=2, markersize=5)
    null = 1.0 if res.is_ratio else 0.0
    ax.axvline(null, color="#888", lw=0.8, ls="--")
    if res.is_ratio:
        from ..report.figures import plain_log_axis

        ax.set_xscale("log")
        plain_log_axis(ax, "x")
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks(y, [ln[0] for ln in lines])
    right = ax.twinx()
    right.set_ylim(ax.get_ylim())
    right.set_yticks(y, [ln[2] for ln in lines])
    for axis in (ax, right):
        for tick, ln in zip(axis.get_yticklabels(), lines, strict=True):
            if ln[3]:
                tick.set_fontweight("bold")
        axis.tick_params(axis="y", length=0, labelsize=9)
        for side in ("top", "right", "left"):
            axis.spines[side].set_visible(False)
    o = res.overall
    ax.set_xlabel(f"{measure_label(o.effect_measure)} ({100 * o.conf_level:g}% CI)")
    return ax


def _ci_text(r: Estimate) -> str:
    if not np.isfinite(r.estimate):
        return "not estimated"
    from ..results._format import format_estimate_ci

    return format_estimate_ci(r.estimate, r.conf_low, r.conf_high, measure=r.effect_measure,
                              p_value=r.p_value, digits=2 if r.is_ratio else None)
