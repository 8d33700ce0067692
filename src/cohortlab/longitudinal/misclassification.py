"""``corrected_prevalence``: per-period prevalence of a misclassified time-varying exposure.

The exposure is a flag (a wearable notification, a model's monthly label) with known
sensitivity and specificity.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._validation import (
    check_binary,
    check_columns,
    check_conf_level,
    check_frame,
    verb,
    verb_name,
)
from ..exceptions import DataValidationError
from ..results._format import Renderable, fmt_num
from ..results.estimate import Estimate, EstimateTable
from ._misclassification import corrected_prevalence as _correct
from .exposure import TimeVaryingExposure
from .weights import _check_order

__all__ = ["CorrectedPrevalence", "corrected_prevalence"]

_COLS = ("period", "n", "flagged", "naive", "corrected", "std_error", "conf_low", "conf_high",
         "sensitivity", "specificity", "ppv", "npv")


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class CorrectedPrevalence(Renderable):
    """Per-period prevalence of the true exposure behind a misclassified flag.

    Attributes
    ----------
    table : EstimateTable
        One row per period (``term`` "period k", ``labels["period"]``): the corrected
        prevalence with its Wald interval (``effect_measure`` "prevalence").
    by_period : pandas.DataFrame
        ``period``, ``n`` (person-periods), ``flagged``, ``naive`` (the flag's prevalence),
        ``corrected``, ``std_error``, ``conf_low``, ``conf_high``, ``sensitivity``,
        ``specificity``, ``ppv`` and ``npv`` (the probability that a flagged / unflagged
        person-period is truly exposed / unexposed).
    """

    table: EstimateTable
    by_period: pd.DataFrame
    flag: str
    notes: tuple[str, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """The tidy per-period estimates (``table.to_frame()``; ``by_period`` has the rest)."""
        return self.table.to_frame()

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        out = self.by_period.copy()
        for c in out.columns:
            if c not in ("period", "n", "flagged"):
                out[c] = [fmt_num(float(v), digits) for v in out[c]]
        for c in ("n", "flagged"):
            out[c] = [f"{int(v):,}" for v in out[c]]
        return out

    def _title(self) -> str:
        return f"Exposure prevalence by period, corrected for misclassification of {self.flag}"

    def _footer(self) -> list[str]:
        return list(self.notes)


def _rates(value: float | Sequence[float], name: str, n_periods: int) -> np.ndarray:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        arr = np.full(n_periods, float(value))
    else:
        try:
            arr = np.asarray(value, dtype=float).ravel()
        except (TypeError, ValueError):
            arr = np.array([np.nan])
        if arr.size != n_periods:
            raise DataValidationError(
                f"{verb_name()}(): {name} must be one number or one per period ({n_periods} "
                f"periods); got {arr.size} values. Pass e.g. {name}=0.85.")
    if not np.all((arr > 0) & (arr <= 1)):
        raise DataValidationError(f"{verb_name()}(): {name} must lie in (0, 1]; got "
                                  f"{arr.tolist()}.")
    return arr


@verb
def corrected_prevalence(
    data: pd.DataFrame,
    *,
    id: str,
    period: str,
    flag: str | TimeVaryingExposure,
    sensitivity: float | Sequence[float],
    specificity: float | Sequence[float],
    conf_level: float = 0.95,
) -> CorrectedPrevalence:
    """Per-period prevalence of the true exposure behind a misclassified time-varying flag.

    A model output turned into a time-varying exposure (:func:`time_varying_exposure`: a
    wearable's irregular-rhythm notification, a monthly predicted label) is a flag for the
    true exposure. Given its sensitivity and specificity in each period (from a validation
    study), this corrects the share of person-periods truly exposed in each period.

    Estimand: ``P(A_k = 1)`` among the persons under follow-up in period ``k``, for the true
    exposure ``A_k`` behind the flag ``A*_k``.

    Method: the Rogan-Gladen correction in each period, ``p_k = (p*_k + Sp_k - 1) / (Se_k +
    Sp_k - 1)`` with ``p*_k`` the flag's prevalence, and the predictive values ``PPV_k = Se_k
    p_k / p*_k`` and ``NPV_k = Sp_k (1 - p_k) / (1 - p*_k)`` (the inputs of a record-level
    imputation of the true exposure). Nothing is clipped: a corrected prevalence outside
    [0, 1] (named in the notes) means the rates do not fit this cohort.

    Assumptions: the flag's errors are non-differential (the sensitivity and specificity of
    period ``k`` are the same whatever the person's outcome, covariates or history) and the
    rates transport from the validation study; nothing is assumed about how errors in
    different periods of a person relate (each period is corrected on its own), so the
    per-period margins are corrected, not the persons' treatment paths. It does not correct an
    effect estimate: an MSM fitted on the flag (:func:`msm`, :func:`strategy_curves`) still
    estimates the effect of the flag.

    Variance: binomial within period (one row per person and period), ``p*_k (1 - p*_k) /
    (n_k (Se_k + Sp_k - 1)^2)``, Wald interval; the rates are treated as known (their
    uncertainty is not propagated).

    Parameters
    ----------
    data : pandas.DataFrame
        Person-period rows sorted by ``id`` and ``period`` (periods +1 within person).
    id, period : str
        Person identifier and period columns.
    flag : str or TimeVaryingExposure
        The 0/1 flag column, or the result of :func:`time_varying_exposure` on ``data``.
    sensitivity, specificity : float or list of float
        One value, or one per period (in period order, first to last), each in (0, 1] with
        ``Se + Sp > 1``.
    conf_level : float
        Confidence level.

    Returns
    -------
    CorrectedPrevalence
        ``.table`` (EstimateTable, one row per period) and ``.by_period``.

    References
    ----------
    Rogan WJ, Gladen B (1978). Estimating prevalence from the results of a screening test.
    Am J Epidemiol 107:71-76.

    Examples
    --------
    >>> import cohortlab as cl
    >>> df = cl.simulate_longitudinal(n=2_000, n_periods=4, random_state=1, n_truth=2_000)
    >>> flag = cl.time_varying_exposure(df, "score", id="id", period="period", threshold=0.5)
    >>> res = cl.corrected_prevalence(df, id="id", period="period", flag=flag,
    ...                               sensitivity=0.9, specificity=0.8)
    >>> res.by_period["period"].tolist()
    [0, 1, 2, 3]
    >>> bool((res.by_period["corrected"] < res.by_period["naive"]).all())
    True
    """
    check_frame(data)
    conf_level = check_conf_level(conf_level)
    check_columns(data, id=id, period=period)
    _, per = _check_order(data, id, period)
    if isinstance(flag, TimeVaryingExposure):
        if len(flag.values) != len(data):
            raise DataValidationError(
                f"{verb_name()}(): flag has {len(flag.values):,} values for {len(data):,} rows; "
                "pass the TimeVaryingExposure built on this data.")
        name = flag.name
        f = check_binary(pd.DataFrame({name: flag.values.to_numpy()}), name, "flag")
    else:
        check_columns(data, flag=flag)
        name = flag
        f = check_binary(data, flag, "flag")
    p0 = int(per.min())
    n_per = int(per.max()) - p0 + 1
    se = _rates(sensitivity, "sensitivity", n_per)
    sp = _rates(specificity, "specificity", n_per)
    if np.any(se + sp <= 1):
        raise DataValidationError(
            f"{verb_name()}(): sensitivity + specificity must exceed 1 in every period (a flag no "
            "better than chance cannot be corrected); got "
            f"{(se + sp).round(3).tolist()}.")
    k = (per - p0).astype(np.int64)
    pc = _correct(f, k, n_per, se, sp, conf_level)
    by = pd.DataFrame({"period": np.arange(n_per) + p0, "n": pc.n.astype(int),
                       "flagged": pc.flagged.astype(int), "naive": pc.naive,
                       "corrected": pc.corrected, "std_error": pc.std_error,
                       "conf_low": pc.conf_low, "conf_high": pc.conf_high, "sensitivity": se,
                       "specificity": sp, "ppv": pc.ppv, "npv": pc.npv})[list(_COLS)]
    notes = ["Rogan-Gladen correction within each period; non-differential misclassification, "
             "rates known (not propagated); binomial Wald intervals"]
    bad = by.loc[(by["corrected"] < 0) | (by["corrected"] > 1), "period"].tolist()
    if bad:
        notes.append(f"corrected prevalence outside [0, 1] in periods {bad}: the sensitivity "
                     "and specificity do not fit the flag's prevalence there (not clipped)")
    rows = tuple(
        Estimate(term=f"period {int(r.period)}", estimate=float(r.corrected),
                 std_error=float(r.std_error), conf_low=float(r.conf_low),
                 conf_high=float(r.conf_high), conf_level=conf_level,
                 effect_measure="prevalence", method="rogan_gladen", ci_method="wald",
                 n=int(r.n), labels={"period": int(r.period)})
        for r in by.itertuples())
    table = EstimateTable(rows=rows, title=f"Corrected prevalence of {name} by period",
                          notes=tuple(notes))
    return CorrectedPrevalence(table=table, by_period=by, flag=name, notes=tuple(notes))
