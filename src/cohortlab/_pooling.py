"""How any estimator's result becomes parameter rows, and how those rows pool by Rubin's rules.

Shared by the two verbs that re-run an estimator on completed data sets and pool the runs:
:func:`cohortlab.correct_exposure` (imputed true exposure) and
:func:`cohortlab.with_imputations` (imputed covariates). ``result_rows`` turns an
``Estimate``, ``EstimateTable``, ``ModelResult``, ``MatchResult`` or a curve (at ``times``)
into :class:`~cohortlab.results.Estimate` rows, ``model_scale`` puts them on the scale they
pool on (log for ratios), and ``rubin_fields`` gives a row's pooled estimate fields.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._validation import verb_name
from .exceptions import DataValidationError
from .inference.rubin import rubin_interval
from .results.estimate import Estimate, EstimateTable
from .results.model import ModelResult

__all__ = ["count_warnings", "model_scale", "result_rows", "row_key", "rubin_fields"]

#: Measures that are levels, not contrasts: no test of a null value.
_LEVELS = frozenset({"survival", "cumulative_incidence", "risk", "mean", "rmst", "quantile"})
_NUMBER = re.compile(r"\d[\d,.]*(e[+-]?\d+)?")


def result_rows(result: Any, times: Sequence[float] | None) -> list[Estimate]:
    """Every parameter of a result as an :class:`Estimate` row."""
    from .causal.match_result import MatchResult
    from .results.curve import Curve
    from .survival.adjusted import AdjustedCurves

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


def model_scale(rows: Sequence[Estimate]) -> tuple[np.ndarray, np.ndarray]:
    theta = np.array([math.log(r.estimate) if r.is_ratio and r.estimate > 0 else
                      (math.nan if r.is_ratio else r.estimate) for r in rows], dtype=float)
    var = np.array([r.std_error ** 2 for r in rows], dtype=float)
    return theta, var


def row_key(r: Estimate) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in r.labels.items())
    return f"{r.term} [{labels}]" if labels else r.term


def count_warnings(call: Callable[[], Any]) -> tuple[Any, dict[str, int]]:
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


def rubin_fields(r: Estimate, pooled: Any, i: int | None, conf_level: float
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
