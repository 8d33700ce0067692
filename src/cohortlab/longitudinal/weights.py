"""``tv_weights``: stabilised time-varying inverse probability (treatment, censoring) weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np
import pandas as pd

from .._design import Design, build_design, covariate_columns
from .._glm import GLMFit
from .._validation import (
    check_binary,
    check_columns,
    check_frame,
    check_numeric,
    check_option,
    check_truncate,
    verb,
    verb_name,
)
from ..exceptions import DataValidationError, MissingDataError
from ..results._format import Renderable, fmt_num
from ..results.estimate import Estimate, EstimateTable
from ..results.model import ModelResult
from ._plots import WeightPlotKind, plot_weights
from ._weights import (
    Prepared,
    WeightFit,
    compute,
    lag_within,
    positions,
    truncate_weights,
    weight_summary,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["TimeVaryingWeights", "tv_weights"]

TreatmentRows: TypeAlias = Literal["all", "untreated_before"]
CensorTiming: TypeAlias = Literal["before_outcome", "after_outcome"]


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class TimeVaryingWeights(Renderable):
    """Stabilised time-varying weights, the models behind them and their diagnostics.

    Attributes
    ----------
    weights : numpy.ndarray
        One weight per row of the data (treatment x censoring, after any truncation); 0 on
        censored rows whose outcome is unobserved.
    treatment_weights, censoring_weights : numpy.ndarray
        The two cumulative products separately (before truncation).
    table : EstimateTable
        Overall diagnostics: mean, SD, min, max and Kish ESS of the weights of the rows used.
    by_period : pandas.DataFrame
        Per period: rows, mean, SD, min, 1/25/50/75/99th percentiles, max, ESS.
    models : mapping of str to ModelResult
        The pooled logistic numerator and denominator models (coefficients as log odds
        ratios, model-based SEs).
    formulas : mapping of str to str
        Each model's right-hand side.
    """

    weights: np.ndarray
    treatment_weights: np.ndarray
    censoring_weights: np.ndarray
    table: EstimateTable
    by_period: pd.DataFrame
    models: Mapping[str, ModelResult]
    formulas: Mapping[str, str]
    n: int
    n_persons: int
    treatment_rows: str = "all"
    notes: tuple[str, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """The by-period diagnostics (a copy)."""
        return self.by_period.copy()

    def plot(self, kind: WeightPlotKind = "ribbon", *, log: bool = True,
             ax: Axes | None = None) -> Axes:
        """Distribution of the stabilised weights by period (from ``by_period``).

        ``kind="ribbon"`` (default): bands of the 1st-99th and 25th-75th percentiles, the
        median, the mean (dashed) and the range (dotted); ``kind="box"``: a box per period
        with whiskers at the 1st and 99th percentiles and min/max as points. A line marks 1.
        Censored rows (weight 0) are left out, as in ``by_period``. ``log`` puts the weights
        on a log scale (where 1/2 and 2 are equally far from 1). Returns the Axes.
        """
        return plot_weights(self.by_period, kind=kind, log=log, ax=ax)

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        out = self.by_period.copy()
        for c in out.columns:
            if c not in ("period", "n"):
                out[c] = [fmt_num(float(v), digits) for v in out[c]]
        return out

    def _title(self) -> str:
        return "Stabilised time-varying weights by period"

    def _footer(self) -> list[str]:
        t = {r.term: r.estimate for r in self.table}
        line = (f"{self.n:,} person-periods of {self.n_persons:,} persons · mean "
                f"{fmt_num(t['mean'])}, min {fmt_num(t['min'])}, max {fmt_num(t['max'])}, "
                f"ESS {fmt_num(t['ess'], 1)}")
        forms = [f"{k.replace('_', ' ')}: {v}" for k, v in self.formulas.items()]
        return [line, *forms, *self.notes]


# ---------------------------------------------------------------------- preparation
def _rhs(*parts: str | Sequence[str] | None) -> str:
    out: list[str] = []
    for p in parts:
        if p is None:
            continue
        if isinstance(p, str):
            rhs = p.split("~", 1)[1] if "~" in p else p
            if rhs.strip():
                out.append(rhs.strip())
        else:
            out += [c if c.isidentifier() else f"`{c}`" for c in p]
    return " + ".join(out) if out else "1"


def _check_order(frame: pd.DataFrame, id: str, period: str) -> tuple[np.ndarray, np.ndarray]:
    func = verb_name()
    ids = frame[id]
    if ids.isna().any():
        raise MissingDataError(f"{func}(): column {id!r} (id) has {int(ids.isna().sum()):,} "
                               "missing values; every person-period needs its person's id.")
    codes = pd.factorize(ids)[0]
    per = check_numeric(frame, period, "period", func)
    if np.isnan(per).any() or not np.all(per == np.round(per)):
        raise DataValidationError(f"{func}(): column {period!r} (period) must hold whole "
                                  "numbers 0, 1, 2, ... without missing values.")
    start = np.ones(codes.size, dtype=bool)
    start[1:] = codes[1:] != codes[:-1]
    n_persons = int(codes.max()) + 1
    if int(start.sum()) != n_persons:
        raise DataValidationError(
            f"{func}(): the rows of a person must be contiguous; got {int(start.sum()):,} runs "
            f"of {id!r} for {n_persons:,} persons. Sort first: "
            f"data.sort_values([{id!r}, {period!r}]).")
    step = np.diff(per)[~start[1:]]
    if step.size and not np.all(step == 1):
        bad = frame[id].to_numpy()[1:][~start[1:]][step != 1]
        raise DataValidationError(
            f"{func}(): column {period!r} (period) must increase by 1 within each person "
            f"(sorted by {id!r}, {period!r}, no gaps or duplicates); got other steps for "
            f"{len(set(bad.tolist())):,} persons, e.g. ids {list(dict.fromkeys(bad.tolist()))[:5]}."
            " Sort the data, or build complete person-period rows first.")
    return codes, per


def _complete(frame: pd.DataFrame, cols: Sequence[str]) -> None:
    func = verb_name()
    for col in cols:
        na = frame[col].isna().to_numpy()
        if na.any():
            raise MissingDataError(
                f"{func}(): column {col!r} has {int(na.sum()):,} missing values in "
                f"{frame.shape[0]:,} person-periods. Impute or carry forward first; a "
                "person-period cannot be dropped without breaking its person's weight product.")


def prepare(
    data: pd.DataFrame, *, id: str, period: str, treatment: str, covariates: str | Sequence[str],
    numerator: str | Sequence[str] | None, period_terms: str | None, censor: str | None,
    censor_covariates: str | Sequence[str] | None, treatment_rows: str, censor_timing: str,
    extra_cols: Sequence[str] = (),
) -> Prepared:
    """Validate the frame and build the four weight-model designs."""
    func = verb_name()
    check_frame(data, func)
    check_columns(data, func, id=id, period=period, treatment=treatment, censor=censor)
    check_option(treatment_rows, TreatmentRows, "treatment_rows", func)
    check_option(censor_timing, CensorTiming, "censor_timing", func)
    codes, per = _check_order(data, id, period)
    cov_cols = covariate_columns(covariates, data, func)
    num_cols = covariate_columns(numerator, data, func) if numerator else []
    cen_cols = covariate_columns(censor_covariates, data, func) if censor_covariates else []
    used = list(dict.fromkeys([id, period, treatment, *cov_cols, *num_cols, *cen_cols,
                               *([censor] if censor else []), *extra_cols]))
    frame = data[used].reset_index(drop=True)
    _complete(frame, [c for c in used if c not in extra_cols])
    a = check_binary(frame, treatment, "treatment", func).astype(float)
    c = check_binary(frame, censor, "censor", func).astype(float) if censor else None
    pos = positions(codes)
    prev = f"prev_{treatment}" if f"prev_{treatment}".isidentifier() else "prev_treatment"
    while prev in frame.columns:
        prev = f"{prev}_"
    frame[prev] = lag_within(a, pos)
    pterms = period_terms if period_terms is not None else f"{period} + I({period}**2)"
    lag = [] if treatment_rows == "untreated_before" else [prev]
    forms = {"treatment_denominator": _rhs(lag, pterms, covariates),
             "treatment_numerator": _rhs(lag, pterms, numerator)}
    treat_mask = (np.ones(a.size, dtype=bool) if treatment_rows == "all"
                  else frame[prev].to_numpy() < 0.5)
    if censor:
        forms["censoring_denominator"] = _rhs([treatment, prev], pterms,
                                              censor_covariates or covariates)
        forms["censoring_numerator"] = _rhs([treatment, prev], pterms, numerator)
    designs = {}
    for key, rhs in forms.items():
        sub = frame if key.startswith("censoring") or treatment_rows == "all" else \
            frame[treat_mask]
        # only the formula's columns: a data column named like a formula function (a censor
        # column "C" next to C(period)) would shadow it
        cols = covariate_columns(rhs, sub, func, check_text=False) or [period]
        d = build_design(sub[cols], rhs, func)
        designs[key] = d if sub is frame else Design(
            X=d.matrix(frame), names=d.names, spec=d.spec, formula=d.formula)
    return Prepared(frame=frame, codes=codes, pos=pos, period=per, a=a, c=c, prev=prev,
                    designs=designs, treat_mask=treat_mask,
                    censor_after_outcome=censor_timing == "after_outcome",
                    treatment_rows=treatment_rows, n_persons=int(codes.max()) + 1)


def _model_result(key: str, design: Design, fit: GLMFit, n_rows: int) -> ModelResult:
    vcov = np.linalg.inv(fit.information) / n_rows
    return ModelResult(terms=design.names, params=fit.coef, vcov=vcov,
                       effect_measure="odds_ratio", method="logistic_glm",
                       ci_method="wald_model", n=n_rows,
                       notes=(f"{key.replace('_', ' ')} model: {design.formula}",))


def finish(prep: Prepared, wf: WeightFit,
           truncate: tuple[float, float] | None) -> TimeVaryingWeights:
    """Truncate, summarise and describe the weights of ``prep``."""
    notes: list[str] = []
    w = wf.weights
    if truncate is not None:
        w, lo, hi, k = truncate_weights(w, wf.used, truncate)
        notes.append(f"weights truncated at the {truncate[0]:g} and {truncate[1]:g} quantiles "
                     f"({lo:.4g}, {hi:.4g}): {k:,} of {int(wf.used.sum()):,} person-periods "
                     "changed")
    if prep.treatment_rows == "untreated_before":
        notes.append("treatment models fitted on person-periods not treated before "
                      "(initiation); once treated, later periods get treatment factor 1")
    n_cens = int((~wf.used).sum())
    if n_cens:
        notes.append(f"{n_cens:,} censored person-periods (outcome unobserved) get weight 0")
    total, by = weight_summary(w, prep.period, wf.used)
    rows = tuple(Estimate(term=k, estimate=total[k], effect_measure="mean", method="tv_weights",
                          ci_method="none", n=int(total["n"]))
                 for k in ("mean", "sd", "min", "max", "ess"))
    models = {}
    for key, fit in wf.fits.items():
        models[key] = _model_result(key, prep.designs[key], fit, int(wf.masks[
            "treatment" if key.startswith("treatment") else "censoring"].sum()))
    by_frame = pd.DataFrame(by)
    by_frame["period"] = by_frame["period"].astype(int)
    return TimeVaryingWeights(
        weights=w, treatment_weights=wf.treatment, censoring_weights=wf.censoring,
        table=EstimateTable(rows=rows, title="Weight diagnostics", notes=tuple(notes)),
        by_period=by_frame, models=models,
        formulas={k: v.formula for k, v in prep.designs.items()}, n=int(w.size),
        n_persons=prep.n_persons, treatment_rows=prep.treatment_rows, notes=tuple(notes))


# ---------------------------------------------------------------------- the verb
@verb
def tv_weights(
    data: pd.DataFrame,
    *,
    id: str,
    period: str,
    treatment: str,
    covariates: str | Sequence[str],
    numerator: str | Sequence[str] | None = None,
    period_terms: str | None = None,
    censor: str | None = None,
    censor_covariates: str | Sequence[str] | None = None,
    treatment_rows: TreatmentRows = "all",
    censor_timing: CensorTiming = "before_outcome",
    truncate: tuple[float, float] | None = None,
) -> TimeVaryingWeights:
    """Stabilised time-varying inverse probability of treatment (and censoring) weights.

    For person ``i`` at period ``k`` the stabilised treatment weight is
    ``SW_ik = prod_{j<=k} P(A_j = a_ij | A_{j-1}, V) / P(A_j = a_ij | A_{j-1}, L_j, V)``, both
    probabilities from pooled logistic models over all person-periods (Robins, Hernán &
    Brumback 2000; Hernán & Robins, *What If*, ch. 21): the numerator model on the previous
    treatment, ``period_terms`` and the baseline ``numerator`` covariates, the denominator
    model on the previous treatment, ``period_terms`` and ``covariates`` (time-varying and
    baseline). With ``censor`` the censoring weights ``prod_{j<=k} P(C_j = 0 | A_j,
    A_{j-1}, V) / P(C_j = 0 | A_j, A_{j-1}, L_j, V)`` multiply in. The cumulative products run
    within person, in period order.

    Identifying assumptions (for an MSM weighted with these): sequential exchangeability of
    treatment (and of censoring) given the denominator covariates, positivity of every
    treatment value at every history, consistency, and correctly specified denominator
    models. The numerator models only stabilise; the MSM must condition on the numerator's
    baseline covariates.

    Variance: the weight models' coefficients carry model-based (inverse information) SEs in
    ``.models``; the weights are estimates without a variance of their own (:func:`msm`
    gives the MSM's cluster-robust and bootstrap variances).

    Parameters
    ----------
    data : pandas.DataFrame
        Long format, one row per person-period, sorted by ``id`` then ``period``; periods
        increase by 1 within person. No missing values in the columns used (a dropped
        person-period would break its person's product).
    id, period, treatment : str
        Columns: person id, period (0, 1, 2, ...), treatment in that period (0/1).
    covariates : str or list of str
        Denominator covariates (time-varying and baseline): columns or a formula.
    numerator : str or list of str, optional
        Baseline covariates of the numerator model (the MSM must include them). Default: none,
        i.e. the numerator has only the period terms and the previous treatment.
    period_terms : str, optional
        Formula of the time terms in every model; default ``"period + I(period**2)"`` (with
        the ``period`` column's name).
    censor : str, optional
        Column (0/1): censored at the end of that period.
    censor_covariates : str or list of str, optional
        Denominator covariates of the censoring model; default ``covariates``.
    treatment_rows : {"all", "untreated_before"}
        ``"all"`` (standard): the treatment models use every person-period. ``"untreated_before"``
        (initiation / "once treated, always treated"): they use the person-periods with no
        treatment before, and a person's later periods get treatment factor 1.
    censor_timing : {"before_outcome", "after_outcome"}
        ``"before_outcome"`` (default): a censored row's outcome is unobserved (NaN or
        ignored) and its weight is 0; the censoring factor of period ``k`` is in the weight of
        period ``k``. ``"after_outcome"``: the censored row's outcome is observed; the factor
        of period ``k`` enters from period ``k + 1``.
    truncate : (float, float), optional
        Quantiles ``(low, high)`` of the final weights (over the rows used) at which to clip,
        e.g. ``(0.01, 0.99)`` (as in :func:`propensity_score`); recorded in the notes.

    Returns
    -------
    TimeVaryingWeights
        ``.weights`` aligned with the rows of ``data``; ``.table`` (mean, SD, min, max, ESS);
        ``.by_period``; ``.models`` (numerator and denominator models as ModelResult);
        ``.formulas``.

    Examples
    --------
    >>> from cohortlab.longitudinal.weights import tv_weights
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"id": np.repeat(np.arange(200), 3), "t": np.tile([0, 1, 2], 200),
    ...                    "L": rng.normal(size=600)})
    >>> df["A"] = rng.binomial(1, 1 / (1 + np.exp(-df["L"])))
    >>> w = tv_weights(df, id="id", period="t", treatment="A", covariates=["L"])
    >>> w.weights.shape, round(float(w.table["mean"].estimate), 2)
    ((600,), 1.03)
    >>> list(w.models)
    ['treatment_denominator', 'treatment_numerator']
    """
    truncate = check_truncate(truncate)
    prep = prepare(data, id=id, period=period, treatment=treatment, covariates=covariates,
                   numerator=numerator, period_terms=period_terms, censor=censor,
                   censor_covariates=censor_covariates, treatment_rows=treatment_rows,
                   censor_timing=censor_timing)
    return finish(prep, compute(prep), truncate)
