"""``cl.adjusted_survival()``: counterfactual survival or cumulative incidence curves per arm.

The chain from the propensity score to the risk difference at ``t``: inverse probability
weighted Kaplan-Meier / Aalen-Johansen curves, or the g-formula (standardised Cox models),
with contrasts and restricted mean survival, each with a confidence interval.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._design import build_design, covariate_columns
from .._typing import AdjustedVariance, CIMethod, EffectMeasure, Estimand, RandomState
from .._validation import (
    apply_missing,
    check_binary,
    check_columns,
    check_random_state,
    check_time_event,
    check_weights,
    verb,
    verb_name,
)
from ..causal._outcome import overlap_notes
from ..causal._propensity import check_arms, fit_propensity
from ..exceptions import DataValidationError, LowEffectiveSampleSizeWarning
from ..inference.bootstrap import bootstrap
from ..results.estimate import EstimateTable
from ._adjusted_aipw import (
    AIPW_MIN_ESS,
    AIPW_MIN_ESS_FRACTION,
    bound_aipw,
    low_ess_arms,
    mask_unestimable,
    warn_low_ess,
)
from ._adjusted_arms import (
    at_risk_on_grid,
    bootstrap_ci,
    event_grid,
    ipw_curves,
    log_log_ci,
    plain_ci,
)
from ._adjusted_cox import ArmArrays, Moments, aipw_curves, gformula_curves
from ._adjusted_if import gformula_influence, held_weight_derivative, ipw_influence
from ._aipw import bound_curve
from .adjusted_curves import AdjustedCurves

__all__ = ["adjusted_survival", "AdjustedCurves", "AIPW_MIN_ESS", "AIPW_MIN_ESS_FRACTION"]

Method = Literal["ipw", "gformula", "aipw"]
#: Largest number of distinct event times used as the evaluation grid by default.
MAX_GRID = 500
_REFIT = {"ipw": "propensity", "gformula": "Cox",
          "aipw": "propensity, Cox outcome and Kaplan-Meier censoring"}


@verb
def adjusted_survival(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    exposure: str,
    covariates: str | Sequence[str],
    method: Method = "ipw",
    outcome_covariates: str | Sequence[str] | None = None,
    cause: int | None = None,
    estimand: Estimand = "ATE",
    times: Sequence[float] | None = None,
    variance: AdjustedVariance | None = None,
    n_boot: int = 200,
    weights: str | None = None,
    trim: Any = None,
    truncate: tuple[float, float] | None = None,
    conf_level: float = 0.95,
    random_state: RandomState = None,
    n_jobs: int = 1,
    missing: str = "raise",
) -> AdjustedCurves:
    """Counterfactual survival (or cumulative incidence) curves under each exposure level.

    Estimand: ``S_a(t) = P(T^a > t)`` for ``a = 1, 0`` in the ``estimand`` population (ATE:
    everyone; ATT: the exposed; ...), or the cumulative incidence ``F_a,k(t) = P(T^a <= t,
    cause k)`` when ``cause`` is given; contrasts ``S_1(t) - S_0(t)`` (or the ratio) and
    ``RMST_1(tau) - RMST_0(tau)``.

    Assumptions: conditional exchangeability given ``covariates``, positivity, consistency,
    and censoring independent of the outcome given exposure (``ipw``) or given exposure and
    covariates (``gformula``). ``ipw`` also needs a correct propensity model; ``gformula`` a
    correct Cox model (proportional hazards, log-linear effects; cause-specific Cox models with
    ``cause``).

    Methods: ``"ipw"``: Kaplan-Meier (Aalen-Johansen with ``cause``) per arm weighted by the
    propensity weights of :func:`cohortlab.propensity_score` (times any case ``weights``).
    ``"gformula"``: a Cox model with the exposure and covariates (one cause-specific Cox
    model per cause with ``cause``), each subject's predicted curve under ``a = 1`` and ``a =
    0``, averaged over the estimand population (R ``riskRegression::ate(treatment=...)`` with
    a Cox outcome model). ``"aipw"`` (ATE): the augmented IPW estimator with inverse
    probability of censoring weights, ``psi_a = m_a(X) + 1{A=a}/e_a(X) (Z - m_a(X))`` with
    ``m_a`` the Cox model's predicted curve, ``e_a`` the propensity score and ``Z`` the observed
    outcome ``1{T > t}/G_a(t)`` (or ``1{T <= t, cause}/G_a(T-)``), ``G_a`` the Kaplan-Meier
    curve of censoring in arm ``a``, augmented for censoring with the outcome model's
    ``E[Y | T > u, X]`` (the
    AIPTW-AIPCW estimator of Bai, Tsiatis & O'Brien 2013): consistent if the censoring curve
    is right and either the propensity or the outcome model is (doubly robust in those two).
    Times at which everyone left has been censored (``G = 0``) are not estimable; their
    censoring terms are set to 0.

    Variance (``variance=``; every analytic one is ``sum_i D_i(t)^2`` over the subjects'
    influence values ``D_i``, ``n`` in the denominator, except ``aipw``'s ``n - 1``):

    - ``ipw``: ``"mestimation"`` (default): the stacked estimating equations of the logistic
      propensity model and the weighted Kaplan-Meier (Aalen-Johansen with ``cause``), so the
      estimation of the propensity score is accounted for (trimming bounds and truncation
      caps held fixed). ``"robust"``: the weighted curves' infinitesimal jackknife with the
      weights treated as known (R ``survfit(..., weights = w, robust = TRUE)``); for the ATE
      it is conservative (SE/SD about 1.1), for other estimands it may err either way.
      ``"influence_function"`` means the full influence function, ``"mestimation"``
      (recorded in the notes).
    - ``gformula``: ``"influence_function"`` (default for survival curves): the
      standardisation term plus the delta-method terms through the Cox coefficients and the
      Breslow/Efron baseline hazard (R ``riskRegression::ate(se = TRUE)``), nothing treated as
      known; ``"bootstrap"`` (default with ``cause``).
    - ``aipw``: ``"influence_function"`` (default; one pass, no refits): the empirical
      variance of ``psi`` with the propensity, outcome and censoring models treated as known
      (riskRegression's ``known.nuisance = TRUE``); valid to first order when the propensity
      and outcome models are both correct. ``"bootstrap"``: persons resampled and all three
      nuisance models refitted in every replicate, so their estimation is accounted for also
      when one of the two is misspecified (the role of riskRegression's default
      ``known.nuisance = FALSE``, an analytic correction not offered here); ``n_boot`` times
      the cost.
    - ``"bootstrap"`` (all methods): ``n_boot`` replicates that refit every fitted model
      (propensity, Cox, censoring), seeded by ``random_state``, identical for any
      ``n_jobs``; percentile intervals (the ``(B + 1) p`` order statistics).

    Contrasts and RMST of the analytic variances use the arms' covariance (the fitted models
    share subjects across arms; ``ipw`` with ``"robust"`` has independent arms).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject; never modified.
    time, event : str
        Follow-up time and event (0/1; 0..K with ``cause``).
    exposure : str
        Binary exposure column.
    covariates : list of str or str
        Confounders (column names or a formula right-hand side): the propensity model's, and
        the outcome model's unless ``outcome_covariates`` is given.
    method : {"ipw", "gformula", "aipw"}
        ``"ipw"``: Kaplan-Meier (Aalen-Johansen with ``cause``) per arm weighted by
        :func:`propensity_score` weights; ``"gformula"``: a Cox model (cause-specific Cox
        models with ``cause``) of the outcome on exposure and covariates, each subject's
        predicted curve under both exposures, averaged over the estimand population;
        ``"aipw"`` (ATE only): augmented IPW with inverse probability of censoring weights
        (see Methods above).
    outcome_covariates : list of str or str, optional
        The Cox outcome model's covariates (``gformula``, ``aipw``); default ``covariates``.
    cause : int, optional
        The cause (event code 1..K) whose cumulative incidence replaces survival.
    estimand : {"ATE", "ATT", "ATC", "ATO", "ATM"}
        The target population; ``"ATO"`` and ``"ATM"`` with ``ipw`` only.
    times : sequence of float, optional
        The evaluation grid (default: every distinct event time if there are at most 500,
        else 500 quantiles of them); bootstrap intervals exist only on this grid.
    variance : {"mestimation", "robust", "influence_function", "bootstrap"}, optional
        See Variance above. Default: ``"mestimation"`` for ``ipw``, ``"influence_function"``
        for ``gformula`` (``"bootstrap"`` with ``cause``) and ``aipw``.
    weights, trim, truncate : optional
        Case weights; the trimming and weight truncation of :func:`propensity_score`.

    Examples
    --------
    >>> import cohortlab as cl
    >>> d = cl.simulate_cohort(2000, random_state=1).assign(
    ...     dead=lambda x: (x["event"] > 0).astype(int))
    >>> curves = cl.adjusted_survival(d, time="time", event="dead", exposure="treated",
    ...                               covariates="age + female + bmi + diabetes + C(smoking)")
    >>> curves.contrast([2.0]).to_frame()["term"].tolist()
    ['survival difference at 2']
    """
    vchoice, var_note = _resolve_variance(method, variance, cause)
    rng = check_random_state(random_state)
    cols = covariate_columns(covariates, data, verb_name())
    if outcome_covariates is not None:
        cols += covariate_columns(outcome_covariates, data, verb_name())
    check_columns(data, time=time, event=event, exposure=exposure, weights=weights)
    used = [time, event, exposure, *cols] + ([weights] if weights else [])
    frame, dropped = apply_missing(data, used, missing)
    t, e = check_time_event(frame, time, event, competing=cause is not None)
    if cause is not None and not (e == cause).any():
        raise DataValidationError(
            f"{verb_name()}(): cause {cause!r} has no events in column {event!r}; codes present: "
            f"{sorted(int(c) for c in np.unique(e) if c > 0)}.")
    a = check_binary(frame, exposure, "exposure")
    check_arms(a, exposure, verb_name())
    s = check_weights(frame, weights) if weights else np.ones(len(frame))
    d = e if cause is not None else (e > 0).astype(np.int64)
    grid = _grid(t, d, times)
    out_cov = covariates if outcome_covariates is None else outcome_covariates
    design = build_design(frame, out_cov, verb_name(), drop_intercept=True)
    spec = _Spec(t=t, d=d, a=a, s=s, X=design.X, cause=cause, estimand=estimand, grid=grid,
                 frame=frame, exposure=exposure, covariates=covariates, trim=trim,
                 truncate=truncate, weights_col=weights)
    moments: Any = None
    if method == "ipw" and vchoice == "mestimation":
        ps = _ipw_ps(spec)
        w, notes = _ipw_notes(spec, ps)
        values, moments = ipw_influence(spec.t, spec.d, spec.a, spec.s, w, *_ps_terms(spec, ps),
                                        spec.grid, cause)
        var = moments.variance()
    elif method == "ipw":
        w, notes = _ipw_weights(spec)
        values, var = ipw_curves(spec.t, spec.d, spec.a, w, cause, grid,
                                 with_variance=vchoice == "robust")
    elif method == "aipw":
        values, moments, notes, low_ess = _aipw_curves(spec, vchoice == "influence_function")
        var = (np.vstack([np.diag(moments.cov(a_, a_)) for a_ in (0, 1)])
               if moments is not None else None)
    else:
        notes = ("g-formula: Cox model of the outcome on exposure + covariates",)
        if vchoice == "influence_function":
            values, moments = gformula_influence(spec.t, spec.d, spec.a, spec.s, spec.X,
                                                 _population(spec), grid)
            var = moments.variance()
        else:
            values = _gformula_curves(spec)
            var = None
        # positivity is not needed to compute the curves, but without it they extrapolate
        notes += overlap_notes(frame, a, s, covariates, estimand, verb_name(), exposure)
    reps = None
    if vchoice == "bootstrap":
        boot = bootstrap(lambda idx: _replicate(spec, method, idx), len(frame), n_boot=n_boot,
                         random_state=rng, n_jobs=n_jobs)
        reps = boot.valid.reshape(-1, 2, grid.size)
        se, lo, hi = bootstrap_ci(values, reps, conf_level)
        ci_method: CIMethod = "bootstrap_percentile"
    elif method == "ipw":
        assert var is not None
        se = np.sqrt(var)
        lo, hi = log_log_ci(values, se, conf_level, cause is not None)
        ci_method = ("sandwich_mestimation" if vchoice == "mestimation"
                     else "infinitesimal_jackknife")
    else:
        assert var is not None
        se = np.sqrt(var)
        lo, hi = plain_ci(values, se, conf_level)
        ci_method = "influence_function"
    measure: EffectMeasure = "survival" if cause is None else "cumulative_incidence"
    notes += ("estimates weighted or standardised; n_risk is the unweighted number at risk "
              "in each arm",) + var_note
    if method == "aipw":
        values, se, lo, hi, notes = mask_unestimable(spec, values, se, lo, hi, notes)
        values, lo, hi, bound_notes = bound_aipw(spec, values, lo, hi,
                                                 move_intervals=vchoice != "bootstrap")
        notes += bound_notes
        notes += warn_low_ess(spec, low_ess, bound_notes)
    frame_out = _long_frame(spec, values, se, lo, hi, conf_level)
    rmst_source = None
    if method == "ipw" and cause is None and vchoice == "robust":
        rmst_source = _ipw_rmst_source(spec, w, conf_level)
    return AdjustedCurves(
        data=frame_out, measure=measure, method=f"{method}_{'km' if cause is None else 'aj'}"
        if method == "ipw" else ("gformula_cox" if method == "gformula" else "aipw_ipcw"),
        conf_type="log-log" if method == "ipw" and vchoice != "bootstrap" else "plain",
        conf_level=conf_level, ci_method=ci_method,
        n=len(frame), n_events=int((d > 0).sum() if cause is None else (d == cause).sum()),
        estimand=estimand, weighted=False, dropped=dropped,
        notes=notes + ((f"bootstrap: {reps.shape[0]} replicates refitting the "
                        f"{_REFIT[method]} model(s)",) if reps is not None else ()),
        grid=grid, arm_values=values, arm_variance=var, replicates=reps,
        exposure_name=exposure, rmst_source=rmst_source, moments=moments,
    )


@dataclass(frozen=True)
class _Spec:
    t: np.ndarray
    d: np.ndarray
    a: np.ndarray
    s: np.ndarray
    X: np.ndarray   # the outcome model's covariates
    cause: int | None
    estimand: str
    grid: np.ndarray
    frame: pd.DataFrame
    exposure: str
    covariates: Any
    trim: Any
    truncate: Any
    weights_col: str | None = None

    def arrays(self) -> ArmArrays:
        """The arrays the kernels read (no copy)."""
        return ArmArrays(t=self.t, d=self.d, a=self.a, s=self.s, X=self.X, cause=self.cause,
                         grid=self.grid)

    def take(self, idx: np.ndarray) -> _Spec:
        from dataclasses import replace

        return replace(self, t=self.t[idx], d=self.d[idx], a=self.a[idx], s=self.s[idx],
                       X=self.X[idx], frame=self.frame.iloc[idx].reset_index(drop=True))


def _grid(t: np.ndarray, d: np.ndarray, times: Sequence[float] | None) -> np.ndarray:
    if times is not None:
        g = np.unique(np.asarray(times, dtype=float))
        if g.size == 0 or g[0] < 0:
            raise DataValidationError(f"{verb_name()}(): times must be >= 0; got {list(times)}.")
        return g
    return event_grid(t, d, MAX_GRID)


def _resolve_variance(method: str, variance: str | None, cause: int | None
                      ) -> tuple[str, tuple[str, ...]]:
    """The variance to use (the default of ``method``) and a note when the choice was mapped."""
    accepted = {"ipw": ("mestimation", "robust", "influence_function", "bootstrap"),
                "gformula": ("influence_function", "bootstrap"),
                "aipw": ("influence_function", "bootstrap")}[method]
    if variance is None:
        variance = {"ipw": "mestimation",
                    "gformula": "bootstrap" if cause is not None else "influence_function",
                    "aipw": "influence_function"}[method]
    if variance not in accepted:
        raise DataValidationError(
            f"{verb_name()}(): method=\"{method}\" accepts variance in {list(accepted)}; got "
            f"{variance!r}.")
    if method == "ipw" and variance == "influence_function":  # the estimator's full IF
        return "mestimation", ("variance=\"influence_function\" with ipw: the M-estimation "
                               "variance (estimated propensity score accounted for)",)
    if cause is not None and method == "gformula" and variance == "influence_function":
        raise DataValidationError(
            f"{verb_name()}(): variance=\"influence_function\" with method=\"gformula\" is "
            "available for survival curves only, not yet with cause=; use "
            "variance=\"bootstrap\".")
    return variance, ()


def _ipw_ps(sp: _Spec) -> Any:
    check_arms(sp.a, sp.exposure, verb_name())  # a bootstrap replicate may lose an arm
    return fit_propensity(sp.frame, sp.a, sp.s, sp.covariates, func=verb_name(),
                          exposure=sp.exposure, estimand=sp.estimand, trim=sp.trim,
                          truncate=sp.truncate, weighted=sp.weights_col is not None)


def _ipw_notes(sp: _Spec, ps: Any) -> tuple[np.ndarray, tuple[str, ...]]:
    notes = (f"IPW: {ps.model_description}; {sp.estimand} weights",) + tuple(ps.notes)
    return ps.weights.to_numpy() * sp.s, notes


def _ipw_weights(sp: _Spec) -> tuple[np.ndarray, tuple[str, ...]]:
    return _ipw_notes(sp, _ipw_ps(sp))


def _ps_terms(sp: _Spec, ps: Any) -> tuple[np.ndarray, np.ndarray, Any, np.ndarray]:
    """``(dW/de, e, fit, X)``: dW/de is 0 where a weight was trimmed or truncated (held fixed)."""
    e = ps.scores.to_numpy()
    dw = held_weight_derivative(e, sp.a, sp.estimand, ps.weights.to_numpy(), ps.kept.to_numpy())
    return dw, e, ps._fit, ps._design.X


def _gformula_curves(sp: _Spec) -> np.ndarray:
    """Standardised Cox predictions under a = 1 and a = 0, averaged over the population."""
    return gformula_curves(sp.arrays(), _population(sp))


def _aipw_curves(sp: _Spec, with_moments: bool
                 ) -> tuple[np.ndarray, Moments | None, tuple, list[tuple[int, float, int]]]:
    """Augmented IPW with censoring augmentation (see ``_aipw`` and adjusted_survival).

    Also returns the arms whose effective sample size is too small for the curves
    (``(arm, ess, n)``, see :data:`AIPW_MIN_ESS_FRACTION`); for those the propensity
    model's generic low-ESS warning is replaced by the one :func:`_warn_low_ess` emits.
    """
    if sp.estimand != "ATE":
        raise DataValidationError(f"{verb_name()}(): method=\"aipw\" estimates the ATE only; got "
                                  f"estimand={sp.estimand!r} (use ipw or gformula).")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        w, notes = _ipw_weights(sp)  # ATE weights 1/e (arm 1), 1/(1-e) (arm 0), x s
    low_ess = low_ess_arms(sp, w)
    for c in caught:  # re-emit, except the generic low-ESS warning replaced by AIPW's own
        if not (low_ess and issubclass(c.category, LowEffectiveSampleSizeWarning)):
            warnings.warn_explicit(c.message, c.category, c.filename, c.lineno,
                                   source=c.source)
    values, moments = aipw_curves(sp.arrays(), w, with_moments)
    return values, moments, notes + ("AIPW: Cox outcome model on exposure + covariates; "
                                     "censoring: Kaplan-Meier per arm, augmented (AIPCW)",
                                     ), low_ess


def _population(sp: _Spec) -> np.ndarray:
    if sp.estimand == "ATE":
        return np.ones(sp.a.size)
    if sp.estimand == "ATT":
        return (sp.a == 1).astype(float)
    if sp.estimand == "ATC":
        return (sp.a == 0).astype(float)
    raise DataValidationError(f"{verb_name()}(): method=\"gformula\" supports estimand ATE, ATT or "
                              f"ATC; got {sp.estimand!r} (use method=\"ipw\").")


def _replicate(sp: _Spec, method: str, idx: np.ndarray) -> np.ndarray:
    rep = sp.take(idx)
    with warnings.catch_warnings():  # fragility warnings were raised on the full data
        warnings.simplefilter("ignore")
        if method == "ipw":
            w, _ = _ipw_weights(rep)
            values, _ = ipw_curves(rep.t, rep.d, rep.a, w, rep.cause, rep.grid,
                                   with_variance=False)
        elif method == "aipw":
            values, _, _, _ = _aipw_curves(rep, with_moments=False)
            increasing = rep.cause is not None
            values = np.vstack([bound_curve(v, increasing).values for v in values])
        else:
            values = _gformula_curves(rep)
    return values.ravel()


def _long_frame(sp: _Spec, values: np.ndarray, se: np.ndarray, lo: np.ndarray,
                hi: np.ndarray, conf_level: float) -> pd.DataFrame:
    parts = []
    for row, arm in enumerate((1, 0)):
        n_risk = at_risk_on_grid(sp.t[sp.a == arm], sp.grid)
        parts.append(pd.DataFrame({
            "time": sp.grid, "group": f"{sp.exposure}={arm}", "cause": sp.cause,
            "n_risk": n_risk, "n_event": np.nan, "n_censor": np.nan, "estimate": values[row],
            "std_error": se[row], "conf_low": lo[row], "conf_high": hi[row],
            "conf_level": conf_level}))
    return pd.concat(parts, ignore_index=True)


def _ipw_rmst_source(sp: _Spec, w: np.ndarray, conf_level: float) -> Any:
    """``tau -> cl.rmst`` of the weighted Kaplan-Meier curves (infinitesimal jackknife)."""
    def rmst_of(tau: float) -> EstimateTable:
        from .rmst import rmst

        df = pd.DataFrame({"__time": sp.t, "__event": sp.d, sp.exposure: sp.a, "__w": w})
        return rmst(df[w > 0], time="__time", event="__event", tau=tau, by=sp.exposure,
                    weights="__w", reference=0, conf_level=conf_level)

    return rmst_of
