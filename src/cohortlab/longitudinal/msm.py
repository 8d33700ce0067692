"""``msm``: marginal structural models with time-varying inverse probability weights."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

from .._design import build_design, covariate_columns
from .._glm import fit_logistic
from .._typing import RandomState
from .._validation import check_conf_level, check_option
from ..exceptions import ConvergenceError, DataValidationError
from ..inference.bootstrap import bootstrap
from ..inference.wald import z_critical
from ..results._format import Renderable
from ..results.curve import Curve
from ..results.estimate import Estimate, EstimateTable
from ..results.model import ModelResult
from ..survival import _cox
from ._msm import fit_msm, risk_influence, standardised_risks
from ._weights import truncate_weights
from .weights import (
    CensorTiming,
    Prepared,
    TimeVaryingWeights,
    TreatmentRows,
    compute,
    finish,
    prepare,
)

__all__ = ["MSMResult", "msm"]

FUNC = "msm"
OutcomeModel: TypeAlias = Literal["pooled_logistic", "cox"]
RiskCI: TypeAlias = Literal["bootstrap", "sandwich"]
STRATEGIES = (("always", 1.0), ("never", 0.0))


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class MSMResult(Renderable):
    """A fitted marginal structural model, its weights and (pooled logistic) standardised risks.

    Attributes
    ----------
    model : ModelResult
        MSM coefficients (odds ratios for the pooled logistic model, hazard ratios for Cox)
        with cluster-robust (by person) standard errors.
    risks : Curve or None
        Standardised cumulative risk by the end of each period under "always" and "never"
        treated (pooled logistic only).
    contrasts : EstimateTable or None
        Risks, risk difference and risk ratio (always vs never) at the horizons.
    weights : TimeVaryingWeights or None
        The weights (None when the caller supplied them as a column or array).
    """

    model: ModelResult
    risks: Curve | None
    contrasts: EstimateTable | None
    weights: TimeVaryingWeights | None
    notes: tuple[str, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """The contrasts at the horizons (pooled logistic), else the coefficient table."""
        return self.contrasts.to_frame() if self.contrasts is not None else self.model.tidy()

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        if self.contrasts is not None:
            return self.contrasts._display_frame(digits)
        return self.model._display_frame(digits)

    def _title(self) -> str:
        if self.contrasts is not None:
            return "Marginal structural model (IPW) · always vs never treated"
        return self.model._title()

    def _footer(self) -> list[str]:
        src = self.contrasts if self.contrasts is not None else self.model
        return [*src._footer(), *[n for n in self.notes if n not in src.notes]]


# ---------------------------------------------------------------------- history columns
def _history_names(treatment: str, frame_cols: Sequence[str]) -> dict[str, str]:
    names = {"cum": f"cum_{treatment}", "ever": f"ever_{treatment}"}
    return {k: (v if v.isidentifier() else f"{k}_treatment") for k, v in names.items()}


def _history(a: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative count and ever-treated indicator within person (loop over periods)."""
    cum = a.astype(float).copy()
    for k in range(1, int(pos.max()) + 1 if pos.size else 1):
        rows = np.flatnonzero(pos == k)
        cum[rows] += cum[rows - 1]
    return cum, (cum > 0).astype(float)


def _grid(prep: Prepared, baseline_cols: Sequence[str], period: str, treatment: str,
          hist: dict[str, str], value: float) -> pd.DataFrame:
    """Persons x periods under a static strategy, with each person's baseline values."""
    first = np.flatnonzero(prep.pos == 0)
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
                f"{FUNC}(): column {c!r} (baseline) must be constant within person; it changes "
                f"for {len(set(prep.codes[bad].tolist())):,} persons, e.g. ids {ids}. An MSM "
                "adjusts only for baseline covariates: move time-varying ones to covariates= "
                "(the weights' denominator), or use the value at the first period.")


def _outcome(prep: Prepared, outcome: str, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = prep.frame[outcome].to_numpy(dtype=float, na_value=np.nan)
    used = w > 0
    bad = ~np.isin(y[used], (0.0, 1.0))
    if bad.any():
        vals = pd.unique(y[used][bad])[:5].tolist()
        raise DataValidationError(
            f"{FUNC}(): column {outcome!r} (outcome) must be 0/1 on every uncensored "
            f"person-period; got {int(bad.sum()):,} other values (e.g. {vals}). Only censored "
            "rows may hold NaN.")
    last = np.ones(y.size, dtype=bool)
    last[:-1] = prep.codes[1:] != prep.codes[:-1]
    after = used & (y == 1) & ~last
    if after.any():
        raise DataValidationError(
            f"{FUNC}(): {int(after.sum()):,} persons have rows after their event in "
            f"{outcome!r} (e.g. ids {prep.frame.iloc[np.flatnonzero(after)[:5], 0].tolist()}). "
            "Drop the person-periods after each person's first event.")
    return np.where(used, y, 0.0), used


# ---------------------------------------------------------------------- the verb
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
    censor: str | None = None,
    censor_covariates: str | Sequence[str] | None = None,
    treatment_rows: TreatmentRows = "all",
    censor_timing: CensorTiming = "before_outcome",
    truncate: tuple[float, float] | None = None,
    horizons: Sequence[int] | None = None,
    ci: RiskCI = "bootstrap",
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
    ``(period, period + 1]`` and the estimand is the marginal hazard ratio of ``msm_terms``.

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
    weights as known (they ignore that the weights were estimated). Risks and contrasts: ``ci="bootstrap"`` (default)
    resamples persons, re-estimates the weights (unless supplied) and the MSM in each of
    ``n_boot`` replicates (percentile intervals; seeded, the same for any ``n_jobs``);
    ``ci="sandwich"`` uses the delta method on the same sandwich plus the variability of the
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
    censor, censor_covariates, treatment_rows, censor_timing, truncate
        As in :func:`tv_weights`.
    horizons : list of int, optional
        Periods at which to report the contrasts; default the last period.
    ci : {"bootstrap", "sandwich"}
        Interval of the risks and contrasts (pooled logistic).
    n_boot, n_jobs, random_state : int, int, int or Generator
        Bootstrap replicates, parallel jobs, seed.
    conf_level : float
        Confidence level.
    small_sample : bool
        Multiply the cluster sandwich by ``G / (G - 1)`` (R ``vcovCL``'s default).

    Returns
    -------
    MSMResult
        ``.model`` (ModelResult), ``.risks`` (Curve), ``.contrasts`` (EstimateTable),
        ``.weights``.

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
    ...           ci="sandwich")
    >>> res.model.terms
    ('Intercept', 'A', 't', 'I(t ** 2)')
    >>> res.contrasts.to_frame()["term"].tolist()
    ['always', 'never', 'risk difference', 'risk ratio']
    """
    check_option(model, OutcomeModel, "model", FUNC)
    check_option(ci, RiskCI, "ci", FUNC)
    conf_level = check_conf_level(conf_level, FUNC)
    if weights is None and covariates is None:
        raise DataValidationError(f"{FUNC}(): pass covariates= (the weight models' "
                                  "denominator covariates) or weights=.")
    base_cols = covariate_columns(baseline, data, FUNC) if baseline else []
    hist = _history_names(treatment, list(data.columns))
    wcol = [weights] if isinstance(weights, str) else []
    prep = prepare(data, id=id, period=period, treatment=treatment,
                   covariates=covariates if covariates is not None else "1",
                   numerator=baseline, period_terms=period_terms, censor=censor,
                   censor_covariates=censor_covariates, treatment_rows=treatment_rows,
                   censor_timing=censor_timing, func=FUNC, extra_cols=[outcome, *wcol])
    _check_baseline(prep, base_cols, id)
    cum, ever = _history(prep.a, prep.pos)
    frame = prep.frame.assign(**{hist["cum"]: cum, hist["ever"]: ever})
    notes: list[str] = []
    wres: TimeVaryingWeights | None = None
    if weights is None:
        wfit = compute(prep, func=FUNC)
        wres = finish(prep, wfit, truncate, FUNC)
        w = wres.weights
    else:
        w = _supplied_weights(weights, frame, prep)
        notes.append("weights supplied by the caller (not re-estimated in bootstrap replicates)")
    y, used = _outcome(prep, outcome, w)
    pterms = period_terms if period_terms is not None else f"{period} + I({period}**2)"
    base_rhs = " + ".join(c if c.isidentifier() else f"`{c}`" for c in base_cols)
    default = " + ".join(t for t in (treatment, pterms if model == "pooled_logistic" else "",
                                     base_rhs) if t)
    rhs = msm_terms if msm_terms is not None else default
    allowed = {treatment, hist["cum"], hist["ever"], prep.prev, period, *base_cols}
    used_cols = covariate_columns(rhs, frame, FUNC)
    extra = [c for c in used_cols if c not in allowed]
    if extra:
        raise DataValidationError(
            f"{FUNC}(): msm_terms may use the treatment history "
            f"({sorted(allowed - set(base_cols))}), the period and baseline columns; got {extra}. "
            "Time-varying confounders belong in covariates= (the weights), baseline ones in "
            "baseline=.")
    sub = frame.loc[used, used_cols]  # only the MSM's columns (a column "C" shadows C())
    design = build_design(sub, rhs, FUNC, drop_intercept=model == "cox")
    n_events = int(y[used].sum())
    notes += [f"MSM: {design.formula}"]
    if model == "cox":
        mres = _fit_cox(design.X, prep, y, w, used, design.names, conf_level, n_events,
                        notes, wres)
        return MSMResult(model=mres, risks=None, contrasts=None, weights=wres,
                         notes=tuple(notes))
    cf = fit_msm(design.X, y[used], w[used], prep.codes[used], prep.n_persons,
                 adjust=small_sample, names=design.names, func=FUNC)
    adj = (f"cluster-robust SE by {id} (HC0" + (", x G/(G-1)" if small_sample else "")
           + f"; {prep.n_persons:,} clusters)")
    mres = ModelResult(
        terms=design.names, params=cf.fit.coef, vcov=cf.vcov, vcov_model=cf.bread_inv,
        effect_measure="odds_ratio", method="msm_pooled_logistic", ci_method="wald_cluster",
        conf_level=conf_level, n=int(used.sum()), n_events=n_events,
        notes=(adj, *notes, *(wres.notes if wres else ())))
    grids = [design.matrix(_grid(prep, base_cols, period, treatment, hist, v))
             for _, v in STRATEGIES]
    n_per = int(prep.period.max() - prep.period.min()) + 1
    hz = _horizons(horizons, prep, n_per)
    if ci == "sandwich":
        ifl = cf.scores @ cf.bread_inv
        r_inf = [risk_influence(cf.fit.coef, g, prep.n_persons, n_per, ifl) for g in grids]
        curve, table = _sandwich_results(r_inf, hz, prep, cf.adjustment, conf_level,
                                         n_events, used)
    else:
        stat = _bootstrap_statistic(prep, design.X, y, w, used, grids, n_per, cf.fit.coef,
                                    truncate, weights is None)
        point = stat(np.arange(y.size))
        boot = bootstrap(stat, y.size, n_boot=n_boot, random_state=random_state,
                         n_jobs=n_jobs, cluster=prep.codes)
        curve, table = _bootstrap_results(point, boot.valid, boot.n_failed, hz, prep,
                                          n_per, conf_level, n_events, used)
    return MSMResult(model=mres, risks=curve, contrasts=table, weights=wres,
                     notes=tuple(dict.fromkeys(mres.notes)))


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
            f"{FUNC}(): weights must be finite, non-negative and one per row ({prep.a.size:,}"
            f" rows); got shape {w.shape}. Pass tv_weights(...).weights of the same data.")
    return w


def _horizons(horizons: Sequence[int] | None, prep: Prepared, n_per: int) -> list[int]:
    p0 = int(prep.period.min())
    if horizons is None:
        return [p0 + n_per - 1]
    out = [int(h) for h in horizons]
    bad = [h for h in out if not p0 <= h < p0 + n_per]
    if bad:
        raise DataValidationError(f"{FUNC}(): horizons must be periods in [{p0}, "
                                  f"{p0 + n_per - 1}]; got {bad}.")
    return out


def _fit_cox(X: np.ndarray, prep: Prepared, y: np.ndarray, w: np.ndarray, used: np.ndarray,
             names: tuple[str, ...], conf_level: float, n_events: int, notes: list[str],
             wres: TimeVaryingWeights | None) -> ModelResult:
    start = prep.period[used]
    cd = _cox.prepare(X, start + 1.0, y[used], w[used], entry=start)
    fit = _cox.fit_cox(cd, True)
    if not fit.converged or not np.all(np.isfinite(fit.beta)):
        raise ConvergenceError(f"{FUNC}(): the weighted Cox MSM did not converge; check for "
                               "a treatment history term with all or none of the events.")
    vcov, _ = _cox.robust_vcov(cd, fit.beta, fit.vcov, True, cluster=prep.codes[used],
                               weights=w[used])
    return ModelResult(
        terms=names, params=fit.beta, vcov=vcov, vcov_model=fit.vcov,
        effect_measure="hazard_ratio", method="msm_cox", ci_method="wald_cluster",
        conf_level=conf_level, n=int(used.sum()), n_events=n_events,
        notes=("weighted Cox on (period, period + 1], Efron ties; robust SE clustered by "
               f"person ({prep.n_persons:,} clusters, no small-sample factor, as coxph)",
               *notes, *(wres.notes if wres else ())))


def _bootstrap_statistic(prep: Prepared, X: np.ndarray, y: np.ndarray, w_full: np.ndarray,
                         used: np.ndarray, grids: list[np.ndarray], n_per: int,
                         beta: np.ndarray, truncate: tuple[float, float] | None,
                         reweight: bool):  # noqa: ANN202
    row_of_used = np.cumsum(used) - 1

    def stat(idx: np.ndarray) -> np.ndarray:
        if reweight:
            wf = compute(prep, idx, information=False, func=FUNC)
            w, keep = wf.weights, wf.used
            if truncate is not None:
                w = truncate_weights(w, keep, truncate)[0]
        else:
            w = w_full[idx]
            keep = used[idx]
        keep = keep & (w > 0)
        rows = row_of_used[idx[keep]]
        fit = fit_logistic(X[rows], y[idx[keep]], w[keep], start=beta, information=False,
                           func=FUNC)
        first = prep.pos[idx] == 0
        counts = np.bincount(prep.codes[idx[first]], minlength=prep.n_persons).astype(float)
        return np.concatenate([standardised_risks(fit.coef, g, prep.n_persons, n_per,
                                                  counts)[0] for g in grids])
    return stat


def _counts(prep: Prepared, used: np.ndarray, y: np.ndarray | None = None) -> pd.DataFrame:
    per = prep.period
    levels = np.arange(int(per.min()), int(per.max()) + 1)
    at_risk = np.bincount((per - per.min()).astype(int), minlength=levels.size)
    cens = np.bincount((per[~used] - per.min()).astype(int), minlength=levels.size)
    return pd.DataFrame({"time": levels.astype(float), "n_risk": at_risk, "n_censor": cens})


def _curve(est: np.ndarray, se: np.ndarray, lo: np.ndarray, hi: np.ndarray, prep: Prepared,
           used: np.ndarray, n_per: int, conf_level: float, ci_method: str,
           n_events: int) -> Curve:
    frames = []
    base = _counts(prep, used)
    for s, (name, _) in enumerate(STRATEGIES):
        sl = slice(s * n_per, (s + 1) * n_per)
        f = base.copy()
        f["group"], f["cause"], f["n_event"] = name, None, pd.NA
        f["estimate"], f["std_error"] = est[sl], se[sl]
        f["conf_low"], f["conf_high"], f["conf_level"] = lo[sl], hi[sl], conf_level
        frames.append(f)
    return Curve(data=pd.concat(frames, ignore_index=True), measure="risk",
                 method="msm_pooled_logistic", conf_type="plain", conf_level=conf_level,
                 ci_method=ci_method, n=prep.n_persons, n_events=n_events, weighted=True,
                 notes=("time = period; risk by the end of that period; n_risk and n_censor "
                        "are the observed person-periods",))


def _contrast_rows(hz: list[int], p0: int, n_per: int, make) -> tuple[Estimate, ...]:  # noqa: ANN001
    rows: list[Estimate] = []
    for h in hz:
        k = h - p0
        rows += make(k, n_per, {"period": h})
    return tuple(rows)


def _sandwich_results(r_inf, hz, prep, adj, conf_level, n_events, used):  # noqa: ANN001, ANN202
    (r1, i1), (r0, i0) = r_inf
    n_per = r1.size
    z = z_critical(conf_level)
    est = np.concatenate([r1, r0])
    se = np.sqrt(adj * (np.concatenate([i1, i0], axis=1) ** 2).sum(axis=0))
    curve = _curve(est, se, est - z * se, est + z * se, prep, used, n_per, conf_level,
                   "wald_sandwich", n_events)
    p0 = int(prep.period.min())

    def make(k, n_per, lab):  # noqa: ANN001, ANN202
        common = dict(conf_level=conf_level, method="msm_pooled_logistic", n=prep.n_persons,
                      n_events=n_events, labels=lab, estimand="ATE")
        sd = lambda v: float(np.sqrt(adj * (v ** 2).sum()))  # noqa: E731
        return [
            Estimate.from_model_scale("always", r1[k], se[k], effect_measure="risk",
                                      ci_method="wald_sandwich", **common),
            Estimate.from_model_scale("never", r0[k], se[n_per + k], effect_measure="risk",
                                      ci_method="wald_sandwich", **common),
            Estimate.from_model_scale("risk difference", r1[k] - r0[k],
                                      sd(i1[:, k] - i0[:, k]), effect_measure="risk_difference",
                                      ci_method="wald_sandwich", **common),
            Estimate.from_model_scale("risk ratio", np.log(r1[k] / r0[k]),
                                      sd(i1[:, k] / r1[k] - i0[:, k] / r0[k]),
                                      effect_measure="risk_ratio", ci_method="wald_sandwich",
                                      **common),
        ]
    rows = _contrast_rows(hz, p0, n_per, make)
    return curve, EstimateTable(rows=rows, title="MSM standardised risks · always vs never",
                                notes=("delta-method sandwich by person (weights treated as "
                                       "known)",))


def _bootstrap_results(point, reps, n_failed, hz, prep, n_per, conf_level, n_events,  # noqa: ANN001, ANN202, E501
                       used):
    from ..inference.bootstrap import bootstrap_interval

    se, lo, hi = bootstrap_interval(point, reps, conf_level, "percentile")
    curve = _curve(point, se, lo, hi, prep, used, n_per, conf_level, "bootstrap_percentile",
                   n_events)
    p0 = int(prep.period.min())
    r1, r0 = reps[:, :n_per], reps[:, n_per:]

    def make(k, n_per, lab):  # noqa: ANN001, ANN202
        common = dict(conf_level=conf_level, method="msm_pooled_logistic", n=prep.n_persons,
                      n_events=n_events, labels=lab, estimand="ATE", n_failed=n_failed)
        a, b = point[k], point[n_per + k]
        return [
            Estimate.from_bootstrap("always", a, r1[:, k], effect_measure="risk", **common),
            Estimate.from_bootstrap("never", b, r0[:, k], effect_measure="risk", **common),
            Estimate.from_bootstrap("risk difference", a - b, r1[:, k] - r0[:, k],
                                    effect_measure="risk_difference", **common),
            Estimate.from_bootstrap("risk ratio", np.log(a / b), np.log(r1[:, k] / r0[:, k]),
                                    effect_measure="risk_ratio", **common),
        ]
    rows = _contrast_rows(hz, p0, n_per, make)
    return curve, EstimateTable(
        rows=rows, title="MSM standardised risks · always vs never",
        notes=(f"person-level bootstrap ({reps.shape[0]:,} valid replicates; weights and MSM "
               "re-estimated in each)",))
