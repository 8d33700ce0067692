"""``Estimate`` (one effect) and ``EstimateTable`` (rows of them)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from .._typing import (
    RATIO_MEASURES,
    BootstrapCI,
    CIMethod,
    ConfType,
    EffectMeasure,
    EvaluationMetric,
)
from ..exceptions import CohortError
from ._format import ci_label, fmt_num, fmt_p, measure_label, method_label
from ._hooks import hook
from ._rows import ResultRow, RowKind, RowTable, row_counts
from ._schema import ESTIMATE_COLUMNS
from .dropped import Dropped

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Estimate", "EstimateTable", "WALD_CI_METHODS"]


def _is_ratio(measure: str | None) -> bool:
    return (measure or "") in RATIO_MEASURES


def _exp(x: float) -> float:
    """``math.exp`` that returns ``inf`` on overflow (as R's ``exp``) instead of raising."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


#: Intervals that ``conf_int`` may recompute at another level from ``std_error``: Wald
#: intervals (on the log scale for ratios, on ``ci_scale`` otherwise).
WALD_CI_METHODS: frozenset[str] = frozenset({
    "wald", "wald_model", "wald_sandwich", "wald_cluster", "sandwich_mestimation",
    "sandwich_known_weights", "influence_function", "bootstrap_normal", "greenwood",
    "infinitesimal_jackknife", "aalen",
})
#: The range of measures whose Wald interval is bounded (with a note) when it goes beyond.
_BOUNDS: dict[str, tuple[float, float]] = {"risk": (0.0, 1.0), "risk_difference": (-1.0, 1.0)}


# ------------------------------------------------------- rendering (one row or a table)
def _frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return pd.DataFrame(columns=list(ESTIMATE_COLUMNS))
    extra = [c for c in frame.columns if c not in ESTIMATE_COLUMNS]
    frame = frame[list(ESTIMATE_COLUMNS) + extra]
    for col in ("n", "n_events"):
        frame[col] = frame[col].astype("Int64")
    return frame


def _display(rows: Sequence[Estimate], digits: int) -> pd.DataFrame:
    label_keys = list(dict.fromkeys(k for r in rows for k in r.labels))
    # rows from different estimators (a Table 2) say which is which
    show_method = len({r.method for r in rows}) > 1 or len({r.ci_method for r in rows}) > 1
    show_estimand = len({r.estimand for r in rows}) > 1
    recs = []
    for r in rows:
        rec: dict[str, str] = {"term": r.term}
        if show_method:
            rec["method"] = method_label(r.method)
            rec["CI"] = ci_label(r.ci_method)
        if show_estimand:
            rec["estimand"] = r.estimand or ""
        for k in label_keys:
            v = r.labels.get(k, "")
            rec[k] = fmt_num(v, digits) if isinstance(v, float) else str(v)
        rec.update(
            estimate=fmt_num(r.estimate, digits),
            std_error=fmt_num(r.std_error, digits),
            conf_low=fmt_num(r.conf_low, digits),
            conf_high=fmt_num(r.conf_high, digits),
            p_value=fmt_p(r.p_value, digits),
        )
        recs.append(rec)
    return pd.DataFrame(recs)


def _provenance(rows: Sequence[Estimate], dropped: Dropped, notes: Sequence[str]) -> list[str]:
    if not rows:
        return list(notes)
    first = rows[0]
    bits = row_counts(rows, dropped)
    levels = {r.conf_level for r in rows}
    methods = {ci_label(r.ci_method) for r in rows}
    if len(levels) == 1:
        bits.append(f"{100 * first.conf_level:g}% CI, {', '.join(sorted(methods))}")
    if first.is_ratio:
        bits.append("SE on the log scale")
    return [" · ".join(bits), *notes]


#: How estimate rows render, alone or as a table.
_ESTIMATE_ROWS = RowKind(_frame, _display, _provenance)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Estimate(ResultRow):
    """One effect estimate, its uncertainty, and how it was obtained.

    Ratio measures (risk, odds, hazard ratios) hold ``estimate``, ``conf_low`` and
    ``conf_high`` on the natural scale and ``std_error`` on the log scale, where the interval
    was computed (broom's convention). ``statistic`` and ``p_value`` test ``null_value``.
    Other measures keep ``std_error`` on the natural scale; ``ci_scale`` ("plain", "log" or
    "log-log", as R's ``conf.type``) names where their Wald interval is symmetric, so
    :meth:`conf_int` recomputes it the same way at another level.

    Build one with :meth:`from_model_scale` (Wald), :meth:`from_influence` or
    :meth:`from_bootstrap` rather than by hand.

    Examples
    --------
    >>> est = Estimate.from_model_scale(
    ...     "statin", np.log(0.8), 0.1, effect_measure="hazard_ratio", method="cox", n=500
    ... )
    >>> round(est.estimate, 3), round(est.conf_low, 3), round(est.conf_high, 3)
    (0.8, 0.658, 0.973)
    >>> float(est.to_frame().loc[0, "std_error"])
    0.1
    """

    estimate: float
    std_error: float = math.nan
    conf_low: float = math.nan
    conf_high: float = math.nan
    conf_level: float = 0.95
    statistic: float = math.nan
    p_value: float = math.nan
    estimand: str | None = None
    effect_measure: EffectMeasure | EvaluationMetric = "difference"
    method: str = ""
    ci_method: CIMethod = "wald"
    ci_scale: ConfType = "plain"
    extra: Mapping[str, float] = field(default_factory=dict)
    influence: np.ndarray | None = field(default=None, repr=False)
    replicates: np.ndarray | None = field(default=None, repr=False)

    _kind = _ESTIMATE_ROWS

    def __post_init__(self) -> None:
        lo, hi, note = _bound(self.effect_measure, self.conf_low, self.conf_high)
        if note is not None:
            object.__setattr__(self, "conf_low", lo)
            object.__setattr__(self, "conf_high", hi)
            object.__setattr__(self, "notes", (*tuple(self.notes), note))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_model_scale(
        cls,
        term: str,
        estimate: float,
        std_error: float,
        *,
        conf_level: float = 0.95,
        effect_measure: EffectMeasure | EvaluationMetric = "difference",
        ci_method: CIMethod = "wald",
        **fields: Any,
    ) -> Estimate:
        """Wald estimate from a point and SE on the model scale (log scale for ratios)."""
        from ..inference.wald import wald

        r = wald(estimate, std_error, conf_level)
        tr = _exp if _is_ratio(effect_measure) else float
        return cls(
            term=term,
            estimate=tr(float(estimate)),
            std_error=float(std_error),
            conf_low=tr(float(r.conf_low)) if np.isfinite(r.conf_low) else math.nan,
            conf_high=tr(float(r.conf_high)) if np.isfinite(r.conf_high) else math.nan,
            conf_level=conf_level,
            statistic=float(r.statistic),
            p_value=float(r.p_value),
            effect_measure=effect_measure,
            ci_method=ci_method,
            **fields,
        )

    @classmethod
    def from_influence(
        cls,
        term: str,
        estimate: float,
        influence: np.ndarray,
        *,
        cluster: np.ndarray | None = None,
        conf_level: float = 0.95,
        effect_measure: EffectMeasure | EvaluationMetric = "difference",
        **fields: Any,
    ) -> Estimate:
        """Wald estimate with the SE from per-subject influence values (model scale)."""
        from ..inference.influence import se_from_influence

        se = float(se_from_influence(influence, cluster))
        return cls.from_model_scale(
            term, estimate, se, conf_level=conf_level, effect_measure=effect_measure,
            ci_method="influence_function", influence=np.asarray(influence), **fields,
        )

    @classmethod
    def from_bootstrap(
        cls,
        term: str,
        estimate: float,
        replicates: np.ndarray,
        *,
        conf_level: float = 0.95,
        interval: BootstrapCI = "percentile",
        effect_measure: EffectMeasure | EvaluationMetric = "difference",
        n_failed: int = 0,
        **fields: Any,
    ) -> Estimate:
        """Estimate with a bootstrap interval; replicates on the model scale (log for ratios).

        The p-value uses the Wald statistic with the bootstrap standard error.
        """
        from ..inference.bootstrap import bootstrap_interval
        from ..inference.wald import wald

        reps = np.asarray(replicates, dtype=float).ravel()
        reps = reps[np.isfinite(reps)]
        se, lo, hi = bootstrap_interval([estimate], reps[:, None], conf_level, interval)
        r = wald(estimate, se[0], conf_level)
        tr = _exp if _is_ratio(effect_measure) else float
        notes = tuple(fields.pop("notes", ()))
        if n_failed:
            notes += (f"{n_failed:,} of {reps.size + n_failed:,} bootstrap replicates failed and "
                      "were excluded",)
        return cls(
            term=term, estimate=tr(float(estimate)), std_error=float(se[0]),
            conf_low=tr(float(lo[0])), conf_high=tr(float(hi[0])), conf_level=conf_level,
            statistic=float(r.statistic), p_value=float(r.p_value),
            effect_measure=effect_measure, ci_method=cast(CIMethod, f"bootstrap_{interval}"),
            replicates=reps, notes=notes, **fields,
        )

    # ------------------------------------------------------------------ properties
    @property
    def null_value(self) -> float:
        """The no-effect value on the reported scale: 1 for ratios, 0 otherwise."""
        return 1.0 if _is_ratio(self.effect_measure) else 0.0

    @property
    def is_ratio(self) -> bool:
        """Whether the measure is reported on the ratio scale."""
        return _is_ratio(self.effect_measure)

    def conf_int(self, conf_level: float | None = None) -> pd.DataFrame:
        """The interval on the reported scale: a frame indexed by term, ``conf_low, conf_high``.

        With ``conf_level=None`` (or the estimate's own level) the stored interval. At another
        level it is recomputed by the same method: a Wald interval from ``std_error`` (on the
        log scale for ratios, on ``ci_scale`` otherwise) when the interval is a Wald one (see
        ``WALD_CI_METHODS``), or a bootstrap percentile/basic interval from the stored
        ``replicates``. Any other interval (exact, Wilson, DeLong clipped to [0, 1], Rubin's
        rules, a curve's band, ...) raises :class:`~cohortlab.CohortError` naming the method.

        Examples
        --------
        >>> est = Estimate.from_model_scale("statin", np.log(0.8), 0.1,
        ...                                 effect_measure="hazard_ratio")
        >>> est.conf_int(0.90).round(3)
                conf_low  conf_high
        term
        statin     0.679      0.943
        """
        lo, hi, _ = _bound(self.effect_measure, *self._interval(conf_level))
        return _ci_frame([self.term], [lo], [hi])

    def _interval(self, conf_level: float | None) -> tuple[float, float]:
        from .._validation import check_conf_level
        from ..inference.bootstrap import bootstrap_interval
        from ..inference.wald import transformed_interval, wald

        if conf_level is None:
            return self.conf_low, self.conf_high
        check_conf_level(conf_level, "Estimate.conf_int")
        if conf_level == self.conf_level:
            return self.conf_low, self.conf_high
        tr = _exp if self.is_ratio else float
        if self.replicates is not None and self.ci_method in (
                "bootstrap_percentile", "bootstrap_basic"):
            point = math.log(self.estimate) if self.is_ratio else self.estimate
            _, lo, hi = bootstrap_interval(
                [point], self.replicates[:, None], conf_level,
                self.ci_method.removeprefix("bootstrap_"),  # type: ignore[arg-type]
            )
            return tr(float(lo[0])), tr(float(hi[0]))
        if self.ci_method not in WALD_CI_METHODS:
            why = ("it was read off a curve's confidence band; recompute the curve"
                   if self.ci_method == "curve_band" else
                   "its replicates are not stored; rerun the estimator"
                   if self.ci_method.startswith("bootstrap_") else
                   "it is not a Wald interval; rerun the estimator")
            raise CohortError(
                f"Estimate.conf_int(): the {self.term!r} interval has ci_method="
                f"{self.ci_method!r}, which cannot be recomputed from its standard error at "
                f"another level: {why} at conf_level={conf_level:g}."
            )
        if self.is_ratio:
            r = wald(math.log(self.estimate), self.std_error, conf_level)
            return tr(float(r.conf_low)), tr(float(r.conf_high))
        lo, hi = transformed_interval(self.estimate, self.std_error, conf_level, self.ci_scale)
        return float(lo), float(hi)

    def with_conf_level(self, conf_level: float) -> Estimate:
        """A copy with the interval recomputed at ``conf_level`` (see :meth:`conf_int`).

        A risk's or risk difference's interval is bounded as at construction, with a note.
        """
        lo, hi = self._interval(conf_level)
        return replace(self, conf_low=lo, conf_high=hi, conf_level=conf_level)

    def evalue(self, *, rare: bool | None = None, true: float | None = None) -> Estimate:
        """The E-value of this ratio estimate and its interval; see :func:`cohortlab.evalue`.

        ``rare`` is required for odds and (subdistribution) hazard ratios.

        Examples
        --------
        >>> est = Estimate.from_model_scale("statin", np.log(0.8), 0.1,
        ...                                 effect_measure="risk_ratio")
        >>> round(est.evalue().estimate, 3), round(est.evalue().extra["evalue_ci"], 3)
        (1.809, 1.196)
        """
        return hook("evalue")(self, rare=rare, true=true)

    # ------------------------------------------------------------------ output
    def _row(self) -> dict[str, Any]:
        row = {c: getattr(self, c) for c in ESTIMATE_COLUMNS}
        row.update(self.labels)
        return row

    def _title(self) -> str:
        bits = [method_label(self.method), self.estimand or "",
                measure_label(self.effect_measure)]
        return " · ".join(b for b in bits if b)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Point estimate and interval (log axis for ratios)."""
        return hook("forest_plot")(self.to_frame(), ax=ax)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class EstimateTable(RowTable[Estimate]):
    """An immutable sequence of :class:`Estimate` rows (coefficients, subgroups, horizons).

    Examples
    --------
    >>> rows = [Estimate.from_model_scale(t, v, 0.1) for t, v in [("a", 0.1), ("b", 0.3)]]
    >>> tab = EstimateTable(rows=tuple(rows), title="two effects")
    >>> tab["b"].estimate, len(tab)
    (0.3, 2)
    """

    _kind = _ESTIMATE_ROWS

    def conf_int(self, conf_level: float | None = None) -> pd.DataFrame:
        """Every row's interval on the reported scale, indexed by term.

        See :meth:`Estimate.conf_int`; a table of rows from several subgroups repeats terms.
        """
        ivs = [_bound(r.effect_measure, *r._interval(conf_level))[:2] for r in self.rows]
        return _ci_frame([r.term for r in self.rows], [i[0] for i in ivs], [i[1] for i in ivs])

    def with_conf_level(self, conf_level: float) -> EstimateTable:
        """A copy with every interval recomputed at ``conf_level``."""
        return replace(self, rows=tuple(r.with_conf_level(conf_level) for r in self.rows))

    def evalue(self, *, rare: bool | None = None, true: float | None = None) -> EstimateTable:
        """The E-value of every row (all ratio estimates); see :meth:`Estimate.evalue`."""
        rows = tuple(r.evalue(rare=rare, true=true) for r in self.rows)
        title = f"E-values: {self.title}" if self.title else "E-values"
        return replace(self, rows=rows, title=title)

    def plot(self, ax: Axes | None = None) -> Axes:
        """A forest plot of the rows."""
        return hook("forest_plot")(self.to_frame(), ax=ax)


# ---------------------------------------------------------------------- helpers
def _ci_frame(terms: Sequence[str], low: Sequence[float], high: Sequence[float]
              ) -> pd.DataFrame:
    """The one ``conf_int()`` shape: ``conf_low, conf_high`` indexed by ``term``."""
    return pd.DataFrame({"conf_low": np.asarray(low, dtype=float),
                         "conf_high": np.asarray(high, dtype=float)},
                        index=pd.Index(list(terms), name="term"))


def _bound(measure: str, lo: float, hi: float) -> tuple[float, float, str | None]:
    """A risk's interval bounded to [0, 1], a risk difference's to [-1, 1], and why."""
    limits = _BOUNDS.get(measure)
    if limits is None:
        return lo, hi, None
    a, b = limits
    new_lo = max(lo, a) if not math.isnan(lo) else lo
    new_hi = min(hi, b) if not math.isnan(hi) else hi
    if (new_lo, new_hi) == (lo, hi) or (math.isnan(lo) and math.isnan(hi)):
        return lo, hi, None
    what = "risk" if measure == "risk" else "risk difference"
    note = (f"the interval ({fmt_num(lo, 4)} to {fmt_num(hi, 4)}) went beyond the range "
            f"of a {what}, [{a:g}, {b:g}]; it is bounded to ({fmt_num(new_lo, 4)} to "
            f"{fmt_num(new_hi, 4)})")
    return new_lo, new_hi, note
