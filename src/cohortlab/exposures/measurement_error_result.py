"""``MICorrection``: the result of :func:`~cohortlab.exposures.measurement_error.correct_exposure`.

Also how an estimator's result becomes parameter rows (``_result_rows``, shared with
:func:`cohortlab.with_imputations`) and how the pooled result is built (``_build``).
Importable from :mod:`cohortlab.exposures.measurement_error` and :mod:`cohortlab` as before.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .._validation import verb_name
from ..exceptions import CohortError, DataValidationError
from ..inference.rubin import pool_rubin, rubin_interval
from ..results.estimate import Estimate, EstimateTable
from ..results.model import ModelResult
from ._imputation import _Spec

__all__ = ["MICorrection"]

#: Measures that are levels, not contrasts: no test of a null value.
_LEVELS = frozenset({"survival", "cumulative_incidence", "risk", "mean", "rmst", "quantile"})
_NUMBER = re.compile(r"\d[\d,.]*(e[+-]?\d+)?")


# ------------------------------------------------------------------------- the result


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class MICorrection(EstimateTable):
    """Naive and multiple-imputation-corrected estimates, side by side (an ``EstimateTable``).

    Rows come in pairs, one per parameter of the estimator's result: ``analysis="naive"``
    (the estimator on the flag, its own interval) then ``analysis="corrected"`` (Rubin's
    rules over the imputations, t interval with the Barnard-Rubin ``df``). ``to_frame()``
    has the tidy columns, then the result's own labels (``group``, ``time``, ...), then
    ``analysis``, ``fmi`` (fraction of missing information), ``df`` and ``riv`` (relative
    increase in variance); the last three are NaN on naive rows.

    Attributes
    ----------
    imputations : pandas.DataFrame
        One row per imputation and parameter: ``imputation``, ``term``, ``estimate`` and
        ``variance`` on the model scale (log scale for ratios).
    imputation_model : ModelResult
        The logistic model of the true exposure fitted on the validated rows (log odds).
    n_validated : dict
        Validated rows by flag value (``flag=0``, ``flag=1``) and in total.
    n_imputations : int
    """

    imputations: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    imputation_model: ModelResult | None = field(default=None, repr=False)
    n_validated: Mapping[str, int] = field(default_factory=dict)
    n_imputations: int = 0

    @property
    def naive(self) -> EstimateTable:
        """The naive rows (estimator on the flag)."""
        return self._subset("naive")

    @property
    def corrected(self) -> EstimateTable:
        """The corrected rows (Rubin's rules over the imputations)."""
        return self._subset("corrected")

    def _subset(self, which: str) -> EstimateTable:
        rows = tuple(r for r in self.rows if r.labels.get("analysis") == which)
        return EstimateTable(rows=rows, title=f"{self.title.split(':')[0]}: {which}",
                             dropped=self.dropped, notes=self.notes)


# ----------------------------------------------------------- results -> parameter rows


def _result_rows(result: Any, times: Sequence[float] | None) -> list[Estimate]:
    """Every parameter of a result as an :class:`Estimate` row."""
    from ..causal.match_result import MatchResult
    from ..results.curve import Curve
    from ..survival.adjusted import AdjustedCurves

    if isinstance(result, MatchResult):
        if result.estimate is None:
            raise DataValidationError(
                f"{verb_name()}(): match() without outcome= returns a matched cohort, not an "
                "estimate; got outcome=None. Pass outcome= so that each imputed cohort is "
                "matched and its effect pooled."
            )
        return [result.estimate]
    if isinstance(result, Estimate):
        return [result]
    if isinstance(result, ModelResult):
        return list(result.coef_table().rows)
    if isinstance(result, EstimateTable):
        return list(result.rows)
    if isinstance(result, Curve):
        if times is None:
            raise DataValidationError(
                f"{verb_name()}(): the estimator returns curves; pooling needs the times at which "
                "to "
                "compare them; got times=None. Pass e.g. times=[1, 2, 5]."
            )
        rows = list(result.at(list(times)).rows)
        if isinstance(result, AdjustedCurves):
            rows += list(result.contrast(list(times)).rows)
        return rows
    raise DataValidationError(
        f"{verb_name()}(): the estimator returned a {type(result).__name__}; expected an Estimate, "
        "EstimateTable, ModelResult or Curve. Wrap it in a function that returns one."
    )


def _model_scale(rows: Sequence[Estimate]) -> tuple[np.ndarray, np.ndarray]:
    theta = np.array([math.log(r.estimate) if r.is_ratio and r.estimate > 0 else
                      (math.nan if r.is_ratio else r.estimate) for r in rows], dtype=float)
    var = np.array([r.std_error ** 2 for r in rows], dtype=float)
    return theta, var


def _row_key(r: Estimate) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in r.labels.items())
    return f"{r.term} [{labels}]" if labels else r.term


# ------------------------------------------------------------------------------ build


def _count_warnings(call: Callable[[], Any]) -> tuple[Any, dict[str, int]]:
    """Run ``call`` recording its warnings; return its result and a count per kind of warning.

    Messages that differ only in their numbers are one kind.
    """
    seen: dict[str, int] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    for w in caught:
        msg = _NUMBER.sub("#", str(w.message).split(". ")[0])[:100]
        key = f"{w.category.__name__} ({msg})"
        seen[key] = seen.get(key, 0) + 1
    return result, seen


def _rubin_fields(r: Estimate, pooled: Any, i: int | None, conf_level: float
                  ) -> tuple[dict[str, Any], dict[str, float]]:
    """Row ``r`` pooled by Rubin's rules: its estimate fields and (fmi, df, riv).

    ``i`` is the row's column in ``pooled``; None (a parameter not estimable in every
    imputation) gives NaN. Ratios are pooled on the log scale and transformed back; a level
    (survival, risk, mean) gets no test of a null value.
    """
    if i is None:
        return (dict(estimate=math.nan, std_error=math.nan, conf_low=math.nan,
                     conf_high=math.nan, statistic=math.nan, p_value=math.nan),
                dict(fmi=math.nan, df=math.nan, riv=math.nan))
    q, t, d = pooled.pooled[i], pooled.total_var[i], pooled.df[i]
    t_stat, t_p, lo, hi = rubin_interval(q, t, d, conf_level)
    stat, p = ((math.nan, math.nan) if r.effect_measure in _LEVELS
               else (float(t_stat), float(t_p)))
    tr = math.exp if r.is_ratio else float
    return (dict(estimate=tr(float(q)), std_error=math.sqrt(float(t)),
                 conf_low=tr(float(lo)), conf_high=tr(float(hi)), statistic=float(stat),
                 p_value=float(p)),
            dict(fmi=float(pooled.fmi[i]), df=float(d), riv=float(pooled.riv[i])))


def _build(naive: list[Estimate], out: list, model: ModelResult, counts: dict[str, int],
           exposure: str, validation: str, spec: _Spec, conf_level: float, dropped: Any,
           draw: str, extra_notes: tuple[str, ...] = ()) -> MICorrection:
    keys = [_row_key(r) for r in naive]
    for k, (_, _, kk, _) in enumerate(out):
        if kk != keys:
            raise CohortError(
                f"{verb_name()}(): imputation {k + 1} gave different parameters than the naive "
                "run; "
                f"got {kk[:4]} vs {keys[:4]}. Both exposure arms must stay present."
            )
    theta = np.vstack([o[0] for o in out])
    var = np.vstack([o[1] for o in out])
    seen: dict[str, int] = {}
    for o in out:
        for k, v in o[3].items():
            seen[k] = seen.get(k, 0) + v
    m = theta.shape[0]
    ok = np.all(np.isfinite(theta) & np.isfinite(var), axis=0)
    n = naive[0].n if naive and naive[0].n is not None else None
    dfcom = (n - len(naive)) if n is not None and n > len(naive) else math.inf
    rows: list[Estimate] = []
    notes: list[str] = []
    pooled = pool_rubin(theta[:, ok], var[:, ok], dfcom) if ok.any() else None
    idx = np.cumsum(ok) - 1
    for j, r in enumerate(naive):
        base_labels = dict(r.labels)
        rows.append(replace(r, labels={**base_labels, "analysis": "naive", "fmi": math.nan,
                                       "df": math.nan, "riv": math.nan}))
        estimable = ok[j] and pooled is not None
        if not estimable:
            notes.append(f"{_row_key(r)}: not pooled (not estimable in some imputations)")
        est, stats_ = _rubin_fields(r, pooled, int(idx[j]) if estimable else None, conf_level)
        rows.append(replace(
            r, **est, conf_level=conf_level, ci_method="multiple_imputation_rubin",
            ci_scale="plain", labels={**base_labels, "analysis": "corrected", **stats_},
            influence=None, replicates=None, diagnostics=None, notes=(),
            extra={"n_imputations": float(m)},
        ))
    frame = pd.DataFrame({
        "imputation": np.repeat(np.arange(1, m + 1), len(keys)),
        "term": np.tile(np.array(keys, dtype=object), m),
        "estimate": theta.ravel(), "variance": var.ravel(),
    })
    notes_t = (
        f"exposure {exposure!r} corrected by multiple imputation ({m} imputations, "
        f"{'normal coefficient draws' if draw == 'normal' else 'bootstrap of validated rows'})"
        f" from {validation!r}: {counts['total']:,} validated rows ({counts['flag=1']:,} "
        f"flagged, {counts['flag=0']:,} not)",
        f"imputation model: {spec.description}",
        *extra_notes,
        "corrected: Rubin's rules on the model scale (log for ratios), t interval with "
        "Barnard-Rubin df",
        *notes,
        *(f"{v:,} of {m:,} imputed runs emitted {k}" for k, v in sorted(seen.items())),
    )
    title = f"Multiple imputation for misclassified {exposure}: naive vs corrected"
    return MICorrection(rows=tuple(rows), title=title, dropped=dropped, notes=notes_t,
                        imputations=frame, imputation_model=model, n_validated=counts,
                        n_imputations=m)
