"""``msm``: marginal structural models with time-varying inverse probability weights."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

from .._design import Design, build_design, covariate_columns
from .._typing import RandomState
from .._validation import (
    check_binary,
    check_conf_level,
    check_option,
    check_truncate,
    verb,
    verb_name,
)
from ..exceptions import DataValidationError
from ..inference.bootstrap import bootstrap
from ..results.model import ModelResult
from ..survival import _cox
from ._msm import (
    ClusterFit,
    bootstrap_statistic,
    cox_bootstrap_statistic,
    cox_strategy_risks,
    fit_cox_msm,
    fit_msm,
    risk_influence,
    standardised_risks,
    treatment_history,
)
from ._weights import Prepared, compute
from .msm_result import STRATEGIES, CurveInfo, MSMResult, bootstrap_results, sandwich_results
from .weights import CensorTiming, TimeVaryingWeights, TreatmentRows, finish, prepare

__all__ = ["MSMResult", "msm"]

OutcomeModel: TypeAlias = Literal["pooled_logistic", "cox"]
MSMVariance: TypeAlias = Literal["bootstrap", "robust"]


# ---------------------------------------------------------------------- history columns
def _history_names(treatment: str) -> dict[str, str]:
    names = {"cum": f"cum_{treatment}", "ever": f"ever_{treatment}"}
    return {k: (v if v.isidentifier() else f"{k}_treatment") for k, v in names.items()}


def _baseline_groups(prep: Prepared, baseline_cols: Sequence[str]) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    """First row of one person per distinct baseline row, and each person's group code.

    Persons with the same baseline values have the same MSM design on the strategy grid, so
    the grid (and the risks) are built once per group (hash-based grouping, O(persons)).
    """
    first = np.flatnonzero(prep.pos == 0)
    code = np.zeros(first.size, dtype=np.int64)
    for c in baseline_cols:
        k, uniq = pd.factorize(prep.frame[c].to_numpy()[first], use_na_sentinel=False)
        code = pd.factorize(code * len(uniq) + k)[0]
    group, rep = pd.factorize(code)
    rep_row = np.empty(rep.size, dtype=np.int64)
    rep_row[group[::-1]] = first[::-1]  # the last write per group is its first person
    return rep_row, group


def _grid(prep: Prepared, baseline_cols: Sequence[str], period: str, treatment: str,
          hist: dict[str, str], value: float, first: np.ndarray) -> pd.DataFrame:
    """Persons (first rows ``first``) x periods under a static strategy, with baselines."""
    p0, p1 = int(prep.period.min()), int(prep.period.max())
    k = p1 - p0 + 1
    n = first.size
    g = {c: np.repeat(prep.frame[c].to_numpy()[first], k) for c in baseline_cols}
    kk = np.tile(np.arange(k, dtype=float), n)
    g[period] = kk + p0
    g[treatment] = np.full(n * k, value)
    g[hist["cum"]] = value * (kk + 1)
    g[hist["ever"]] = np.full(n * k, value)
    g[prep.prev] = np.where(kk > 0, value, 0.0)
    out = pd.DataFrame(g)
    for c in baseline_cols:  # keep categories / dtypes of the data for the design's levels
        out[c] = out[c].astype(prep.frame[c].dtype)
    return out


def _check_baseline(prep: Prepared, cols: Sequence[str], id: str) -> None:
    first_row = np.flatnonzero(prep.pos == 0)[prep.codes]
    for c in cols:
        v = prep.frame[c].to_numpy()
        bad = v != v[first_row]
        if bad.any():
            ids = list(dict.fromkeys(prep.frame[id].to_numpy()[bad].tolist()))[:5]
            raise DataValidationError(
                f"{verb_name()}(): column {c!r} (baseline) must be constant within person; it "
                f"changes for {len(set(prep.codes[bad].tolist())):,} persons, e.g. ids {ids}. "
                "An MSM adjusts only for baseline covariates: move time-varying ones to "
                "covariates= (the weights' denominator), or use the value at the first period.")


def _events(prep: Prepared, outcome: str, competing: str | None,
            w: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Outcome (and competing event) as 0/1 on the rows they are modelled on.

    Returns ``y``, ``d`` (or None), the rows of the competing-event model (weight > 0) and the
    rows of the outcome model (weight > 0 and no competing event).
    """
    func = verb_name()
    used = w > 0
    d = None
    yrows = used
    if competing is not None:
        d = np.zeros(used.size)
        d[used] = check_binary(prep.frame.loc[used], competing, "competing", func)
        yrows = used & (d < 0.5)
    y = prep.frame[outcome].to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isin(y[yrows], (0.0, 1.0))
    if bad.any():
        vals = pd.unique(y[yrows][bad])[:5].tolist()
        raise DataValidationError(
            f"{func}(): column {outcome!r} (outcome) must be 0/1 on every uncensored "
            f"person-period without a competing event; got {int(bad.sum()):,} other values "
            f"(e.g. {vals}). Only censored (or competing-event) rows may hold NaN.")
    y = np.where(yrows, y, 0.0)
    ev = (y == 1) | (d == 1 if d is not None else False)
    last = np.ones(y.size, dtype=bool)
    last[:-1] = prep.codes[1:] != prep.codes[:-1]
    after = ev & ~last
    if after.any():
        ids = prep.frame.iloc[np.flatnonzero(after)[:5], 0].tolist()
        raise DataValidationError(
            f"{func}(): {len(set(prep.codes[after].tolist())):,} persons have rows after "
            "their event in "
            f"{outcome!r}{' or ' + repr(competing) if competing else ''} (e.g. ids {ids}). "
            "Drop the person-periods after each person's first event.")
    return y, d, used, yrows


# ---------------------------------------------------------------------- the verb
@verb
def msm(
    data: pd.DataFrame,
    *,
    id: str,
    period: str,
    treatment: str,
    outcome: str,
    covariates: str | Sequence[str] | None = None,
    baseline: str | Sequence[str] | None = None,
    msm_terms: str | None = None,
    period_terms: str | None = None,
    model: OutcomeModel = "pooled_logistic",
    weights: str | np.ndarray | TimeVaryingWeights | None = None,
    competing: str | None = None,
    censor: str | None = None,
    censor_covariates: str | Sequence[str] | None = None,
    treatment_rows: TreatmentRows = "all",
    censor_timing: CensorTiming = "before_outcome",
    truncate: tuple[float, float] | None = None,
    horizons: Sequence[int] | None = None,
    variance: MSMVariance = "bootstrap",
    cox_risks: bool = False,
    n_boot: int = 200,
    n_jobs: int = 1,
    random_state: RandomState = None,
    conf_level: float = 0.95,
    small_sample: bool = True,
) -> MSMResult:
    """Marginal structural model for a time-varying treatment, fitted by weighting.

    Estimand: the marginal (baseline-``V``-conditional) discrete-time hazard of the outcome
    as a function of treatment history, ``logit P(Y_k = 1 | Y_{k-1} = 0, abar_k, V) = msm_terms``
    (default ``beta_1 a_k + f(k) + beta_V V``), and from it the standardised cumulative risk
    by the end of each period under the static strategies "always treat" and "never treat",
    ``E_V[1 - prod_{j<=k} (1 - h_j(abar = 1 or 0, V))]``, with their difference and ratio at
    ``horizons``. With ``model="cox"`` the MSM is a weighted Cox model on the intervals
    ``(period, period + 1]`` and the estimand is the marginal hazard ratio of ``msm_terms``;
    with ``cox_risks=True`` also the standardised risks under always / never from it,
    ``1 - E_V[exp(-sum_{j<=k} dH0_j exp(x_j(abar, V) beta))]`` with ``dH0`` the weighted
    Breslow baseline hazard (Efron-adjusted for ties, as R ``survfit.coxph``).

    Identifying assumptions: sequential exchangeability (no unmeasured confounding of each
    period's treatment given past treatment and ``covariates``) and of censoring,
    positivity, consistency, correctly specified weight models, and a correct MSM.

    Weights: stabilised IPT (x IPC) weights of :func:`tv_weights` with numerator covariates
    ``baseline``, or the caller's (``weights=``: a column name, an array aligned with the
    rows, or a :class:`TimeVaryingWeights`). Rows with weight 0 (censored before the
    outcome) are not in the outcome model.

    Variance: coefficients use the cluster-robust sandwich by person, R
    ``sandwich::vcovCL(glm(...), cluster = ~id, type = "HC0")``, whose default small-sample
    factor ``G / (G - 1)`` (G persons) is applied when ``small_sample=True``;
    ``small_sample=False`` gives geepack's independence-GEE robust variance. Both treat the
    weights as known (they ignore that the weights were estimated). Risks and contrasts:
    ``variance="bootstrap"`` (default) resamples persons, re-estimates the weights (unless
    supplied) and the MSM in each of ``n_boot`` replicates (percentile intervals; seeded,
    the same for any ``n_jobs``; with ``cox_risks`` the Cox MSM and its baseline hazard are
    re-fitted in each replicate);
    ``variance="robust"`` uses the delta method on the same sandwich plus the variability of the
    baseline distribution (weights known).

    Parameters
    ----------
    data : pandas.DataFrame
        Long format, one row per person-period, sorted by ``id``, ``period``.
    id, period, treatment, outcome : str
        Person id; period (0, 1, ...; +1 within person); treatment (0/1) in that period;
        outcome (0/1 event at the end of that period; no rows after an event; NaN allowed on
        censored rows).
    covariates : str or list of str, optional
        Denominator covariates of the weight models (time-varying and baseline); required
        unless ``weights`` is given.
    baseline : str or list of str, optional
        Baseline covariates (constant within person): in the numerator models and the MSM.
    msm_terms : str, optional
        Right-hand side of the MSM. It may use the treatment column, ``cum_<treatment>``
        (treated periods so far, this one included), ``ever_<treatment>``,
        ``prev_<treatment>``, the period column and ``baseline`` columns. Default
        ``"<treatment> + <period_terms> + <baseline>"`` (Cox: without the period terms).
    period_terms : str, optional
        Time terms of the weight models (and of the default MSM); default
        ``"period + I(period**2)"``.
    model : {"pooled_logistic", "cox"}
        Outcome model.
    weights : str, array or TimeVaryingWeights, optional
        Use these weights instead of estimating them.
    competing : str, optional
        Column (0/1): competing event in that period (it comes before the outcome: the
        outcome of such a row is NaN or 0). A second MSM, with the same terms and weights,
        models its hazard; the risks are then cumulative incidences (the competing event
        is not censored: a total effect), and the Cox model is cause-specific.
    censor, censor_covariates, treatment_rows, censor_timing, truncate
        As in :func:`tv_weights`.
    horizons : list of int, optional
        Periods at which to report the contrasts; default the last period.
    variance : {"bootstrap", "robust"}
        Interval of the risks and contrasts (pooled logistic; Cox: bootstrap only).
    cox_risks : bool
        With ``model="cox"``: also the standardised risk curves and contrasts under always /
        never (needs ``variance="bootstrap"``; not with ``competing``).
    n_boot, n_jobs, random_state : int, int, int or Generator
        Bootstrap replicates, parallel jobs, seed.
    conf_level : float
        Confidence level.
    small_sample : bool
        Multiply the cluster sandwich by ``G / (G - 1)`` (R ``vcovCL``'s default).

    Returns
    -------
    MSMResult
        ``.model`` (ModelResult), ``.competing_model``, ``.risks`` (Curve), ``.contrasts``
        (EstimateTable; Cox: with ``cox_risks=True``), ``.weights``.

    References
    ----------
    Robins JM, Hernán MA, Brumback B (2000). Marginal structural models and causal inference
    in epidemiology. Epidemiology 11:550-560. Hernán MA, Robins JM. Causal Inference: What
    If, ch. 21.

    Examples
    --------
    >>> from cohortlab.longitudinal.msm import msm
    >>> rng = np.random.default_rng(3)
    >>> n, k = 300, 4
    >>> df = pd.DataFrame({"id": np.repeat(np.arange(n), k), "t": np.tile(np.arange(k), n),
    ...                    "L": rng.normal(size=n * k)})
    >>> df["A"] = rng.binomial(1, 1 / (1 + np.exp(-df["L"])))
    >>> df["Y"] = rng.binomial(1, 1 / (1 + np.exp(3 - 0.5 * df["L"] + 0.5 * df["A"])))
    >>> df = df[df.groupby("id")["Y"].cumsum().groupby(df["id"]).shift(fill_value=0) == 0]
    >>> res = msm(df, id="id", period="t", treatment="A", outcome="Y", covariates=["L"],
    ...           variance="robust")
    >>> res.model.terms
    ('Intercept', 'A', 't', 'I(t ** 2)')
    >>> res.contrasts.to_frame()["term"].tolist()
    ['always', 'never', 'risk difference', 'risk ratio']
    """
    truncate = check_truncate(truncate)
    check_option(model, OutcomeModel, "model")
    if cox_risks and (model != "cox" or variance != "bootstrap" or competing is not None):
        raise DataValidationError(
            f"{verb_name()}(): cox_risks=True needs model='cox', variance='bootstrap' and no "
            f"competing event; got model={model!r}, variance={variance!r}, competing="
            f"{competing!r}. The pooled logistic MSM gives risks (with a competing event too).")
    conf_level = check_conf_level(conf_level)
    if weights is None and covariates is None:
        raise DataValidationError(f"{verb_name()}(): pass covariates= (the weight models' "
                                  "denominator covariates) or weights=.")
    base_cols = covariate_columns(baseline, data, verb_name()) if baseline else []
    hist = _history_names(treatment)
    extra = [outcome, *([competing] if competing else []),
             *([weights] if isinstance(weights, str) else [])]
    prep = prepare(data, id=id, period=period, treatment=treatment,
                   covariates=covariates if covariates is not None else "1",
                   numerator=baseline, period_terms=period_terms, censor=censor,
                   censor_covariates=censor_covariates, treatment_rows=treatment_rows,
                   censor_timing=censor_timing, extra_cols=extra)
    _check_baseline(prep, base_cols, id)
    cum, ever = treatment_history(prep.a, prep.pos)
    # a shallow copy plus two columns (assign() would copy every column of the frame)
    frame = prep.frame.copy(deep=False)
    frame[hist["cum"]], frame[hist["ever"]] = cum, ever
    notes: list[str] = []
    wres: TimeVaryingWeights | None = None
    if weights is None:
        wres = finish(prep, compute(prep), truncate)
        w = wres.weights
    else:
        w = _supplied_weights(weights, frame, prep)
        notes.append("weights supplied by the caller (not re-estimated in bootstrap replicates)")
    y, d, used, yrows = _events(prep, outcome, competing, w)
    rhs = msm_terms if msm_terms is not None else _default_terms(
        treatment, period, period_terms, base_cols, model)
    allowed = {treatment, hist["cum"], hist["ever"], prep.prev, period, *base_cols}
    used_cols = covariate_columns(rhs, frame, verb_name())
    bad = [c for c in used_cols if c not in allowed]
    if bad:
        raise DataValidationError(
            f"{verb_name()}(): msm_terms may use the treatment history "
            f"({sorted(allowed - set(base_cols))}), the period and baseline columns; got {bad}. "
            "Time-varying confounders belong in covariates= (the weights), baseline ones in "
            "baseline=.")
    # only the MSM's columns (a data column named "C" would shadow formulaic's C())
    design = build_design(frame.loc[used, used_cols], rhs, verb_name(),
                          drop_intercept=model == "cox")
    ysel = yrows[used]  # outcome-model rows among the design's rows
    n_events = int(y[yrows].sum())
    notes.append(f"MSM: {design.formula}")
    if competing:
        notes.append(f"competing event {competing!r}: a second MSM for its hazard; risks are "
                     "cumulative incidences (the competing event is not censored)")
    wnotes = wres.notes if wres else ()
    if model == "cox":
        ystat = np.where(yrows, y, 0.0)[used]  # cause-specific: competing events end follow-up
        mres, cd = _cox_model(design.X, prep.period[used], ystat, w[used], prep.codes[used],
                              design.names, conf_level, n_events, (*notes, *wnotes),
                              prep.n_persons)
        if not cox_risks:
            return MSMResult(model=mres, weights=wres, notes=tuple(mres.notes))
        return _cox_risks(prep, design, frame, base_cols, used_cols, period, treatment, hist,
                          horizons, used, ystat, cd, mres, wres, w, truncate, weights is None,
                          n_boot, n_jobs, random_state, n_events, conf_level)
    cf = fit_msm(design.X[ysel], y[yrows], w[yrows], prep.codes[yrows], prep.n_persons,
                 adjust=small_sample, names=design.names, func=verb_name())
    cfd = None if d is None else fit_msm(design.X, d[used], w[used], prep.codes[used],
                                         prep.n_persons, adjust=small_sample,
                                         names=design.names, func=verb_name())
    se_note = (f"cluster-robust SE by {id} (HC0" + (", x G/(G-1)" if small_sample else "")
               + f"; {prep.n_persons:,} clusters)")
    mres = _model_result(cf, design.names, conf_level, int(yrows.sum()), n_events,
                         (se_note, *notes, *wnotes))
    dres = None
    if cfd is not None and d is not None:
        dres = _model_result(cfd, design.names, conf_level, int(used.sum()),
                             int(d[used].sum()), (se_note, f"competing event {competing!r}"))
    rep_rows, groups = _baseline_groups(prep, base_cols)
    grids = [design.matrix(_grid(prep, base_cols, period, treatment, hist, v, rep_rows)[
        used_cols]) for _, v in STRATEGIES]
    n_per = int(prep.period.max() - prep.period.min()) + 1
    hz = _horizons(horizons, prep, n_per)
    info = _curve_info(prep, used, n_per, n_events, conf_level)
    bd = None if cfd is None else cfd.fit.coef
    if variance == "robust":
        ifl = cf.scores @ cf.bread_inv
        if cfd is not None:
            ifl = np.hstack([ifl, cfd.scores @ cfd.bread_inv])
        (r1, i1), (r0, i0) = (risk_influence(cf.fit.coef, g, prep.n_persons, n_per, ifl, bd,
                                             groups=groups) for g in grids)
        curve, table = sandwich_results(info, hz, r1, i1, r0, i0, cf.adjustment)
    else:
        stat = bootstrap_statistic(prep, design.X, y, d, w, used, yrows, grids, groups,
                                   n_per, (cf.fit.coef, bd), truncate, weights is None,
                                   verb_name())
        point = np.concatenate([standardised_risks(cf.fit.coef, g, prep.n_persons, n_per,
                                                   beta_d=bd, groups=groups)[0]
                                for g in grids])
        boot = bootstrap(stat, y.size, n_boot=n_boot, random_state=random_state,
                         n_jobs=n_jobs, cluster=prep.codes)
        curve, table = bootstrap_results(info, hz, point, boot.valid, boot.n_failed,
                                         weights is None)
    return MSMResult(model=mres, competing_model=dres, risks=curve, contrasts=table,
                     weights=wres, notes=tuple(dict.fromkeys(mres.notes)))


def _default_terms(treatment: str, period: str, period_terms: str | None,
                   base_cols: Sequence[str], model: str) -> str:
    pterms = period_terms if period_terms is not None else f"{period} + I({period}**2)"
    base = [c if c.isidentifier() else f"`{c}`" for c in base_cols]
    return " + ".join([treatment, *([pterms] if model == "pooled_logistic" else []), *base])


def _model_result(cf: ClusterFit, names: tuple[str, ...], conf_level: float, n: int,
                  n_events: int, notes: tuple[str, ...]) -> ModelResult:
    return ModelResult(
        terms=names, params=cf.fit.coef, vcov=cf.vcov, vcov_model=cf.bread_inv,
        effect_measure="odds_ratio", method="msm_pooled_logistic", ci_method="wald_cluster",
        conf_level=conf_level, n=n, n_events=n_events, notes=notes)


def _curve_info(prep: Prepared, used: np.ndarray, n_per: int, n_events: int,
                conf_level: float) -> CurveInfo:
    k = (prep.period - prep.period.min()).astype(int)
    return CurveInfo(periods=np.arange(n_per) + int(prep.period.min()),
                     n_risk=np.bincount(k, minlength=n_per),
                     n_censor=np.bincount(k[~used], minlength=n_per),
                     n_persons=prep.n_persons, n_events=n_events, conf_level=conf_level)


def _supplied_weights(weights: str | np.ndarray | TimeVaryingWeights, frame: pd.DataFrame,
                      prep: Prepared) -> np.ndarray:
    if isinstance(weights, TimeVaryingWeights):
        w = np.asarray(weights.weights, dtype=float)
    elif isinstance(weights, str):
        w = frame[weights].to_numpy(dtype=float, na_value=np.nan)
    else:
        w = np.asarray(weights, dtype=float)
    if w.shape != (prep.a.size,) or not np.all(np.isfinite(w)) or (w < 0).any():
        raise DataValidationError(
            f"{verb_name()}(): weights must be finite, non-negative and one per row "
            f"({prep.a.size:,} rows); got shape {w.shape}. Pass tv_weights(...).weights of "
            "the same data.")
    return w


def _horizons(horizons: Sequence[int] | None, prep: Prepared, n_per: int) -> list[int]:
    p0 = int(prep.period.min())
    if horizons is None:
        return [p0 + n_per - 1]
    out = [int(h) for h in horizons]
    bad = [h for h in out if not p0 <= h < p0 + n_per]
    if bad:
        raise DataValidationError(f"{verb_name()}(): horizons must be periods in [{p0}, "
                                  f"{p0 + n_per - 1}]; got {bad}.")
    return out


def _cox_model(X: np.ndarray, start: np.ndarray, y: np.ndarray, w: np.ndarray,
               cluster: np.ndarray, names: tuple[str, ...], conf_level: float, n_events: int,
               notes: tuple[str, ...], n_persons: int) -> tuple[ModelResult, _cox.CoxData]:
    """The weighted Cox MSM (:func:`fit_cox_msm`) as a ModelResult, and its Cox data."""
    cd, beta, vcov, vcov_model = fit_cox_msm(X, start, y, w, cluster, func=verb_name())
    mres = ModelResult(
        terms=names, params=beta, vcov=vcov, vcov_model=vcov_model,
        effect_measure="hazard_ratio", method="msm_cox", ci_method="wald_cluster",
        conf_level=conf_level, n=int(y.size), n_events=n_events,
        notes=("weighted Cox on (period, period + 1], Efron ties; robust SE clustered by "
               f"person ({n_persons:,} clusters, no small-sample factor, as coxph)", *notes))
    return mres, cd


def _cox_risks(prep: Prepared, design: Design, frame: pd.DataFrame, base_cols: Sequence[str],
               used_cols: Sequence[str], period: str, treatment: str, hist: dict[str, str],
               horizons: Sequence[int] | None, used: np.ndarray, ystat: np.ndarray,
               cd: _cox.CoxData, mres: ModelResult, wres: TimeVaryingWeights | None,
               w_full: np.ndarray, truncate: tuple[float, float] | None, reweight: bool,
               n_boot: int, n_jobs: int, random_state: RandomState, n_events: int,
               conf_level: float) -> MSMResult:
    """Standardised always / never risks from the weighted Cox MSM, person bootstrap."""
    rep_rows, groups = _baseline_groups(prep, base_cols)
    grids = [design.matrix(_grid(prep, base_cols, period, treatment, hist, v, rep_rows)[
        list(used_cols)]) for _, v in STRATEGIES]
    p0 = int(prep.period.min())
    n_per = int(prep.period.max()) - p0 + 1
    hz = _horizons(horizons, prep, n_per)
    counts = np.bincount(groups).astype(float)
    beta0 = mres.params
    point = cox_strategy_risks(cd, beta0, grids, counts, p0, n_per)
    stat = cox_bootstrap_statistic(prep, design.X, used, ystat, grids, groups, p0, n_per,
                                   beta0, w_full, truncate, reweight, verb_name())
    boot = bootstrap(stat, used.size, n_boot=n_boot, random_state=random_state,
                     n_jobs=n_jobs, cluster=prep.codes)
    info = _curve_info(prep, used, n_per, n_events, conf_level)
    info = replace(info, method="msm_cox", title="Cox MSM standardised risks · always vs never")
    curve, table = bootstrap_results(
        info, hz, point, boot.valid, boot.n_failed, reweight,
        what=("weights, Cox MSM and baseline hazard re-estimated" if reweight
              else "Cox MSM and baseline hazard re-estimated, weights fixed"))
    note = ("risks: 1 - mean over persons of exp(-cumulative hazard) under each strategy, "
            "weighted Breslow (Efron) baseline hazard, baseline covariates standardised")
    return MSMResult(model=mres, risks=curve, contrasts=table, weights=wres,
                     notes=tuple(dict.fromkeys((*mres.notes, note))))
