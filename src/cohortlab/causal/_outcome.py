"""Nuisance models shared by ``gformula``, ``aipw`` and ``tmle`` (private).

The outcome model ``Q(a, L) = E[Y | A = a, L]`` is a linear (continuous outcome) or logistic
(binary 0/1 outcome) regression, or any scikit-learn regressor / classifier, optionally
K-fold cross-fitted. Its design is built once on the rows it is fitted on; the counterfactual
designs ``X1``, ``X0`` are the same design (same spline knots, category levels) rebuilt by
:meth:`Design.matrix` on copies of the frame with the exposure set to 1 and to 0, or, when
the formula does not use the exposure (it is then a column of its own), that column set to
1 and 0 (:class:`._crossfit.OutcomeDesign`). With both default models and ``cross_fit``,
``aipw`` and ``tmle`` fit them in :func:`._crossfit.crossfit_glms`.

The exposure enters the outcome model as a main effect unless the formula already has the
exposure as a term of its own (``qsmk``, ``C(qsmk)``, or ``qsmk * x``, which expands to one);
interactions such as ``I(qsmk * smokeintensity)`` alone do not count, so
``"age + I(qsmk * smokeintensity)"`` gets ``qsmk`` added.

The propensity score helper calls the shared fitter :func:`._propensity.fit_propensity`
(scores, positivity checks, trimming) and returns the :class:`PropensityScore` kept as a
result's diagnostics.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from .._design import Design, build_design, covariate_columns, quote_name
from .._glm import GLMFit, fit_linear, fit_logistic
from .._validation import (
    apply_missing,
    check_binary,
    check_columns,
    check_frame,
    check_int,
    check_numeric,
    check_random_state,
    check_weights,
    verb_name,
)
from ..exceptions import ConvergenceError, DataValidationError, PositivityWarning
from ..inference.bootstrap import bootstrap
from ..inference.influence import se_from_influence
from ..results.estimate import Estimate
from ._contrast import MEASURE_NAMES, contrast
from ._crossfit import OutcomeDesign, crossfit_glms
from ._propensity import (
    POSITIVITY_BOUND,
    PropensityScore,
    check_arms,
    fit_scores,
)
from ._propensity import fit_propensity as _fit_ps

__all__ = ["OutcomeDesign", "OutcomeFit", "outcome_design", "fit_outcome", "coef_influence",
           "crossfit_folds", "fold_seed", "fit_propensity", "check_outcome", "overlap_notes",
           "check_outcome_variation", "zero_weight_notes",
           "estimate_from_if", "Nuisances", "fit_nuisances", "sklearn_fitter"]

Folds = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True, eq=False)
class OutcomeFit:
    """Predictions ``Q(1, L)``, ``Q(0, L)`` for every row, and the GLM fit if parametric."""

    q1: np.ndarray
    q0: np.ndarray
    glm: GLMFit | None
    description: str


def _has_main_effect(covariates: Any, exposure: str, func: str) -> bool:
    if not isinstance(covariates, str):
        return exposure in list(covariates)
    from formulaic import Formula

    from .._design import _formula, _names_in

    for term in Formula(_formula(covariates, func)):
        factors = list(term.factors)
        if len(factors) == 1 and _names_in(str(factors[0].expr)) == [exposure]:
            return True
    return False


def outcome_design(frame: pd.DataFrame, a: np.ndarray, fit_rows: np.ndarray, exposure: str,
                   covariates: Any, func: str, *, intercept: bool) -> OutcomeDesign:
    """Build the outcome design on the ``fit_rows`` and rebuild it with A = 1 and A = 0.

    When the formula does not use the exposure (it is then added as a main effect of its
    own) and the design is built on all rows, ``X1`` and ``X0`` are that design with the
    exposure's column set to 1 and to 0: what rebuilding it on copies of the frame gives,
    without the two copies and the two formulaic passes.
    """
    added = not _has_main_effect(covariates, exposure, func)
    if added and fit_rows.all():
        cols = covariate_columns(covariates, frame, func, check_text=False)
        if exposure not in cols:
            coded = frame[cols].assign(**{exposure: a})
            design = build_design(coded, covariates, func, intercept=intercept,
                                  extra=quote_name(exposure))
            if exposure in design.names:
                return OutcomeDesign(design=design, X=design.X, exposure_added=True,
                                     exposure_col=design.names.index(exposure))
    coded = frame.assign(**{exposure: a})  # labels / bool -> 0/1, so A = 1, 0 is meaningful
    design = build_design(coded.loc[fit_rows], covariates, func, intercept=intercept,
                          extra=quote_name(exposure) if added else None)
    X1 = design.matrix(coded.assign(**{exposure: np.ones(a.size, dtype=int)}))
    X0 = design.matrix(coded.assign(**{exposure: np.zeros(a.size, dtype=int)}))
    X = np.where((a == 1)[:, None], X1, X0)  # each row's design depends on that row only
    return OutcomeDesign(design=design, X=X, exposure_added=added, given=(X1, X0))


# ---------------------------------------------------------------------- outcome model
def sklearn_fitter(model: Any, binary: bool, func: str) -> Any:
    """``fit_predict(X_train, y_train, s_train, X_new...)`` for a scikit-learn estimator."""
    from sklearn.base import clone, is_classifier

    if not (hasattr(model, "fit") and hasattr(model, "predict")):
        raise DataValidationError(
            f"{func}(): outcome_model must be a scikit-learn style estimator with fit() and "
            f"predict(); got {type(model).__name__}."
        )
    classifier = is_classifier(model)
    if classifier and not binary:
        raise DataValidationError(
            f"{func}(): outcome_model {type(model).__name__} is a classifier but the outcome is "
            "not binary 0/1; pass a regressor (e.g. HistGradientBoostingRegressor)."
        )

    def fit_predict(X: np.ndarray, y: np.ndarray, s: np.ndarray,
                    *new: np.ndarray) -> list[np.ndarray]:
        kw = {} if np.all(s == 1) else {"sample_weight": s}
        m = clone(model).fit(X, y.astype(int) if classifier else y, **kw)
        if classifier:
            return [m.predict_proba(x)[:, list(m.classes_).index(1)] for x in new]
        return [np.asarray(m.predict(x), dtype=float) for x in new]

    return fit_predict


def fit_glm(X: np.ndarray, y: np.ndarray, s: np.ndarray, binary: bool, names: Any,
            func: str, outcome: str) -> GLMFit:
    """Logistic (binary outcome) or linear regression of the outcome."""
    if binary:
        return fit_logistic(X, y, s, names=names, func=func,
                            response=f"the outcome {outcome!r}")
    return fit_linear(X, y, s)


def fit_outcome(od: OutcomeDesign, y: np.ndarray, s: np.ndarray, fit_rows: np.ndarray,
                binary: bool, model: Any, folds: Folds | None, func: str,
                outcome: str) -> OutcomeFit:
    """Fit Q on the ``fit_rows`` (out of fold with ``folds``) and predict Q(1, L), Q(0, L)."""
    if model is None:
        fit = fit_glm(od.X[fit_rows], y[fit_rows], s[fit_rows], binary, od.design.names, func,
                      outcome)
        link = expit if binary else (lambda x: x)
        kind = "logistic" if binary else "linear"
        eta1, eta0 = od.linear_arms(fit.coef)
        return OutcomeFit(q1=link(eta1), q0=link(eta0), glm=fit,
                          description=f"{kind} regression on {od.design.formula}")
    fit_predict = sklearn_fitter(model, binary, func)
    name = type(model).__name__
    if not folds:
        q1, q0 = fit_predict(od.X[fit_rows], y[fit_rows], s[fit_rows], od.X1, od.X0)
        return OutcomeFit(q1=q1, q0=q0, glm=None, description=name)
    q1, q0 = np.empty(y.size), np.empty(y.size)
    for train, test in folds:  # K folds, not rows
        tr = train[fit_rows[train]]
        q1[test], q0[test] = fit_predict(od.X[tr], y[tr], s[tr], *od.arms(test))
    return OutcomeFit(q1=q1, q0=q0, glm=None, description=f"{name}, {len(folds)}-fold cross-fitted")


def coef_influence(glm: GLMFit, X: np.ndarray, y: np.ndarray, s: np.ndarray,
                   fit_rows: np.ndarray, binary: bool) -> np.ndarray:
    """Influence values (n_all, p) of the outcome-model coefficients; 0 for unfitted rows.

    ``beta_hat - beta ~ mean_i IF_i`` over all ``n`` rows, with ``IF_i = B^-1 r_i s_i x_i
    (y_i - mu_i)`` and the bread ``B = sum_i r_i s_i v_i x_i x_i' / n``.
    """
    eta = X @ glm.coef
    mu = expit(eta) if binary else eta
    v = mu * (1 - mu) if binary else np.ones_like(mu)
    r = fit_rows.astype(float) * s
    bread = (X * (r * v)[:, None]).T @ X / y.size
    score = X * (r * np.where(fit_rows, y - mu, 0.0))[:, None]
    return np.linalg.solve(bread, score.T).T


# ---------------------------------------------------------------------- cross-fitting
def fold_seed(random_state: Any, func: str) -> int:
    """One int seed, so the propensity and outcome models share their folds."""
    return int(check_random_state(random_state, func).integers(0, 2**31 - 1))


def crossfit_folds(a: np.ndarray, k: int, seed: int, func: str) -> Folds:
    """Stratified folds, identical to those :func:`fit_scores` draws from the same ``seed``."""
    from sklearn.model_selection import StratifiedKFold

    check_int(k, "cross_fit", 2, func, hint="It is the number of folds.")
    smallest = int(min((a == 1).sum(), (a == 0).sum()))
    if k > smallest:
        raise DataValidationError(
            f"{func}(): cross_fit={k} folds but the smaller exposure group has {smallest} rows; "
            "each fold needs both groups. Use fewer folds."
        )
    rng = np.random.default_rng(seed)
    skf = StratifiedKFold(n_splits=int(k), shuffle=True,
                          random_state=int(rng.integers(0, 2**31 - 1)))
    return list(skf.split(np.zeros(a.size), a))


# ---------------------------------------------------------------------- propensity score
def fit_propensity(frame: pd.DataFrame, a: np.ndarray, s: np.ndarray, covariates: Any,
                   model: Any, cross_fit: int | None, seed: int | None, trim: Any,
                   estimand: str, func: str, exposure: str, weighted: bool,
                   dropped: Any) -> PropensityScore:
    """Scores (out of fold for a cross-fitted ``model``), positivity checks and trimming."""
    cf = cross_fit if model is not None else None
    return _fit_ps(frame, a, s, covariates, func=func, exposure=exposure, estimand=estimand,
                   model=model, cross_fit=cf, random_state=seed, trim=trim, weighted=weighted,
                   dropped=dropped, weight_checks=False)


def _confounders_only(covariates: Any, exposure: str, func: str) -> Any:
    """The covariate set without any term that involves the exposure (None if nothing is left).

    An outcome model's right-hand side may hold exposure terms (``"age + I(qsmk*age)"``);
    the propensity model of the exposure must not.
    """
    from .._design import _formula, _names_in

    if not isinstance(covariates, str):
        cols = [c for c in covariates if c != exposure]
        return cols or None
    from formulaic import Formula

    keep = []
    for term in Formula(_formula(covariates, func)):
        exprs = [str(f.expr) for f in term.factors]
        if not any(exposure in _names_in(x) for x in exprs):
            keep.append(":".join(exprs) or "1")
    rhs = [t for t in keep if t != "1"]
    return " + ".join(rhs) if rhs else None


def overlap_notes(frame: pd.DataFrame, a: np.ndarray, s: np.ndarray, covariates: Any,
                  estimand: str, func: str, exposure: str) -> tuple[str, ...]:
    """Positivity diagnostics of an outcome-model estimator (g-formula), as a warning and note.

    The weighting verbs refuse data whose propensity scores reach 0 or 1; an outcome-model
    estimate is still computable there, but for those subjects it is the outcome model's
    extrapolation. This fits the weighting verbs' default propensity model (logistic
    regression by :func:`fit_scores`) on the confounders and, on positivity problems, warns
    (:class:`PositivityWarning`) with the counts and returns the note. Scores < 0.01 and
    > 0.99 count for the ATE; only those > 0.99 for the ATT (exposed subjects without
    comparable unexposed ones) and < 0.01 for the ATC. Complete separation of the exposure
    groups by the covariates (no overlap at all) is reported the same way. Only rows with a
    positive weight count.
    """
    pos = s > 0
    n, n1 = int(pos.sum()), int((pos & (a == 1)).sum())
    arms = f"{n1:,} of {n:,} rows have {exposure!r} = 1"
    conf = _confounders_only(covariates, exposure, func)
    if conf is None:
        return ()
    try:
        e = fit_scores(frame, a, conf, None, s, None, None, func, exposure)[0]
    except ConvergenceError as err:
        found = re.search(r"\(([^()]*probabilit[^()]*)\)", str(err))
        detail = found.group(1) if found else str(err).split("(): ", 1)[-1]
        msg = (f"{func}(): no overlap between the exposure groups ({arms}): the covariates "
               "separate them completely or quasi-completely (logistic regression of "
               f"{exposure!r} on the covariates: {detail}). The estimate compares groups with "
               "no covariate values in common: it is the outcome model's extrapolation, not "
               "supported by the data, and its interval does not reflect that. Restrict the "
               "cohort to where both groups occur.")
        warnings.warn(msg, PositivityWarning, stacklevel=3)
        return (msg.split("(): ", 1)[1],)
    low = int(((e < POSITIVITY_BOUND) & pos).sum()) if estimand != "ATT" else 0
    high = int(((e > 1 - POSITIVITY_BOUND) & pos).sum()) if estimand != "ATC" else 0
    if not (low or high):
        return ()
    counts = {"ATE": f"{low:,} rows have propensity score < {POSITIVITY_BOUND} and {high:,} "
                     f"> {1 - POSITIVITY_BOUND}",
              "ATT": f"{high:,} rows have propensity score > {1 - POSITIVITY_BOUND} (exposed-"
                     "like subjects with hardly any comparable unexposed ones)",
              "ATC": f"{low:,} rows have propensity score < {POSITIVITY_BOUND} (unexposed-like "
                     "subjects with hardly any comparable exposed ones)"}[estimand]
    ep = e[pos]
    msg = (f"{func}(): limited overlap ({estimand}): {arms}; {counts} (min {ep.min():.3g}, max "
           f"{ep.max():.3g}; logistic regression of {exposure!r} on the covariates). For them the "
           "estimate rests on the outcome model's extrapolation rather than on comparable "
           "subjects, and the interval does not reflect that. Check the overlap "
           "(cl.propensity_score(...).plot_overlap()), restrict the cohort to where both groups "
           "occur, or compare with aipw() / ipw() with trimming.")
    warnings.warn(msg, PositivityWarning, stacklevel=3)
    return (msg.split("(): ", 1)[1],)


# ---------------------------------------------------------------------- checks and results
def check_outcome(y: np.ndarray, a: np.ndarray, obs: np.ndarray, binary: bool, measure: str,
                  func: str, exposure: str, outcome: str) -> None:
    """Observed outcomes in both arms; events and non-events for a binary outcome."""
    for arm in (1, 0):
        if not (obs & (a == arm)).any():
            raise DataValidationError(
                f"{func}(): no observed outcome {outcome!r} in exposure group {exposure!r} = "
                f"{arm}; the outcome model cannot be fitted there.")
    if measure == "odds_ratio" and not binary:
        raise DataValidationError(
            f"{func}(): effect_measure=\"odds_ratio\" needs a binary 0/1 outcome; column "
            f"{outcome!r} (outcome) has non-binary values. Use \"difference\" or \"ratio\".")
    check_outcome_variation(y, obs, binary, func, outcome)


def check_outcome_variation(y: np.ndarray, obs: np.ndarray, binary: bool, func: str,
                            outcome: str) -> None:
    """Raise when the analysed outcome is constant: no events, only events, or one value.

    As R's ``glm`` reports separation for an outcome without events, a risk (or any effect)
    cannot be estimated from a constant outcome: its standard error would be 0 and the
    interval undefined. ``obs`` marks the analysed rows (observed, kept, positive weight).
    """
    vals = y[obs]
    if vals.size == 0 or vals.min() != vals.max():
        return
    n = f"{vals.size:,} analysed rows"
    if binary:
        what = (f"no events among the {n} (all 0)" if vals[0] == 0
                else f"only events among the {n} (all 1)")
        raise DataValidationError(
            f"{func}(): column {outcome!r} (outcome) has {what}; a risk or effect cannot be "
            "estimated (its standard error would be 0). Check the outcome coding and the rows "
            "kept.")
    raise DataValidationError(
        f"{func}(): column {outcome!r} (outcome) takes one value ({vals[0]:g} in all {n}); "
        "there is no variation to estimate an effect from. Check the outcome column.")


def zero_weight_notes(s: np.ndarray, weights: str | None) -> tuple[str, ...]:
    """A note counting the rows with weight 0 (they are not counted in ``n``)."""
    k = int((s == 0).sum()) if weights else 0
    if not k:
        return ()
    return (f"{k:,} rows with weight 0 in {weights!r} do not enter the estimate and are not "
            "counted in n",)


def check_means(mu1: float, mu0: float, measure: str, func: str, outcome: str) -> None:
    """Ratios need positive arm means; odds ratios means in (0, 1)."""
    if measure == "difference":
        return
    for arm, mu in ((1, mu1), (0, mu0)):
        if not mu > 0 or (measure == "odds_ratio" and not mu < 1):
            raise DataValidationError(
                f"{func}(): the {measure.replace('_', ' ')} is undefined: the estimated mean of "
                f"{outcome!r} (outcome) under exposure = {arm} is {mu:g}. Use "
                "effect_measure=\"difference\".")


def if_se(phi: np.ndarray, cluster: np.ndarray | None) -> float:
    """``sd(phi) / sqrt(n)`` (sd with ``n - 1``, as R's AIPW and tmle), or cluster-robust."""
    if cluster is not None:
        return float(se_from_influence(phi, cluster))
    return float(np.std(phi, ddof=1) / np.sqrt(phi.size))


def estimate_from_if(term: str, est: float, phi: np.ndarray, cluster: np.ndarray | None,
                     **common: Any) -> Estimate:
    """Wald estimate with the ``sd(phi) / sqrt(n)`` convention of :func:`if_se`."""
    return Estimate.from_model_scale(term, est, if_se(phi, cluster), influence=phi,
                                     ci_method="influence_function", **common)


# ---------------------------------------------------------------------- analysed rows
@dataclass(frozen=True, eq=False)
class PointArrays:
    """The analysed rows of a point-exposure verb: exposure 0/1, outcome, case weights."""

    frame: pd.DataFrame
    dropped: Any
    a: np.ndarray
    y: np.ndarray
    s: np.ndarray
    binary: bool  # the observed outcome values are all 0/1


def point_arrays(data: pd.DataFrame, used: list[str], *, exposure: str, outcome: str,
                 weights: str | None, missing: str, reference: Any,
                 arms: bool = True) -> PointArrays:
    """Missing values in ``used`` handled, then the exposure, outcome and weights checked."""
    frame, dropped = apply_missing(data, used, missing)
    a = check_binary(frame, exposure, "exposure", reference=reference)
    if arms:
        check_arms(a, exposure, verb_name())
    y = check_numeric(frame, outcome, "outcome")
    s = check_weights(frame, weights) if weights else np.ones(len(frame))
    binary = bool(np.isin(np.unique(y[~np.isnan(y)]), [0.0, 1.0]).all())
    return PointArrays(frame=frame, dropped=dropped, a=a, y=y, s=s, binary=binary)


# ---------------------------------------------------------------------- AIPW / TMLE inputs
@dataclass(frozen=True, eq=False)
class Nuisances:
    """Exposure, outcome, weights, ``e``, ``Q(1, L)``, ``Q(0, L)`` of the kept rows."""

    a: np.ndarray
    y: np.ndarray
    s: np.ndarray
    e: np.ndarray
    q1: np.ndarray
    q0: np.ndarray
    binary: bool
    cluster: np.ndarray | None
    ps: PropensityScore
    dropped: Any
    notes: tuple[str, ...]
    #: ``refit(counts) -> (e, q1, q0)``: both parametric models refitted with frequency
    #: weights ``s * counts`` (a bootstrap resample); None with machine-learning models or trim.
    refit: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None


def fit_nuisances(data: pd.DataFrame, func: str, *, exposure: str, outcome: str,
                  covariates: Any, outcome_covariates: Any, ps_model: Any, outcome_model: Any,
                  cross_fit: int | None, trim: Any, weights: str | None, cluster: str | None,
                  reference: Any, random_state: Any, missing: str, estimand: str,
                  effect_measure: str) -> Nuisances:
    """Validate the data and fit both nuisance models (sharing folds when cross-fitted).

    With ``cross_fit`` and neither model given, both default GLMs are cross-fitted
    (:func:`._crossfit.crossfit_glms`); a default GLM beside a scikit-learn model is fitted
    on all rows.
    """
    data = check_frame(data)
    check_columns(data, exposure=exposure, outcome=outcome, weights=weights, cluster=cluster)
    out_cov = covariates if outcome_covariates is None else outcome_covariates
    cols = covariate_columns(covariates, data, func) + covariate_columns(out_cov, data, func)
    used = [exposure, outcome, *cols] + [c for c in (weights, cluster) if c]
    pa = point_arrays(data, used, exposure=exposure, outcome=outcome, weights=weights,
                      missing=missing, reference=reference)
    frame, dropped, a, y, s, binary = pa.frame, pa.dropped, pa.a, pa.y, pa.s, pa.binary
    every = np.ones(a.size, dtype=bool)
    check_outcome(y, a, s > 0, binary, effect_measure, func, exposure, outcome)
    seed = folds = None
    glm_cf = cross_fit is not None and ps_model is None and outcome_model is None
    if cross_fit is not None:
        seed = fold_seed(random_state, func)
        folds = crossfit_folds(a, cross_fit, seed, func)
    refit: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]] | None
    if glm_cf and folds is not None:
        def general() -> tuple[np.ndarray, np.ndarray, np.ndarray, Design]:
            od = outcome_design(frame, a, every, exposure, out_cov, func, intercept=True)
            return od.X, od.X1, od.X0, od.design

        cf = crossfit_glms(frame, a, y, s, covariates, out_cov, [t for _, t in folds],
                           exposure=exposure, binary=binary, func=func, outcome=outcome,
                           general=general)
        ps = _fit_ps(frame, a, s, covariates, func=func, exposure=exposure, estimand=estimand,
                     cross_fit=cross_fit, trim=trim, weighted=weights is not None,
                     dropped=dropped, weight_checks=False, scores=(cf.e, cf.ps_design))
        kind = "logistic" if binary else "linear"
        fit = OutcomeFit(q1=cf.q1, q0=cf.q0, glm=None, description=(
            f"{kind} regression on {cf.outcome_formula}, {cross_fit}-fold cross-fitted"))
        refit = None
    else:
        ps = fit_propensity(frame, a, s, covariates, ps_model, cross_fit, seed, trim,
                            estimand, func, exposure, weights is not None, dropped)
        od = outcome_design(frame, a, every, exposure, out_cov, func,
                            intercept=outcome_model is None)
        fit = fit_outcome(od, y, s, every, binary, outcome_model,
                          folds if outcome_model is not None else None, func, outcome)
        refit = (_parametric_refit(ps, od, y, a, s, binary, outcome)
                 if fit.glm is not None and ps_model is None and trim is None else None)
    k = ps.kept.to_numpy()
    notes = (f"propensity model: {ps.model_description}",
             f"outcome model: {fit.description}") + ps.notes + zero_weight_notes(s, weights)
    return Nuisances(a=a[k], y=y[k], s=s[k], e=ps.scores.to_numpy()[k], q1=fit.q1[k],
                     q0=fit.q0[k], binary=binary,
                     cluster=frame[cluster].to_numpy()[k] if cluster else None, ps=ps,
                     dropped=dropped, notes=notes, refit=refit)


def _parametric_refit(ps: PropensityScore, od: OutcomeDesign, y: np.ndarray, a: np.ndarray,
                      s: np.ndarray, binary: bool, outcome: str
                      ) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Both default models refitted on a resample given as frequency counts per row."""
    X, start, link = ps._design.X, ps._fit.coef, expit if binary else (lambda x: x)

    def refit(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        si = s * counts
        e = fit_logistic(X, a.astype(float), si, func=verb_name(), start=start,
                         information=False).fitted
        coef = fit_glm(od.X, y, si, binary, od.design.names, verb_name(), outcome).coef
        eta1, eta0 = od.linear_arms(coef)
        return np.clip(e, 1e-12, 1 - 1e-12), link(eta1), link(eta0)

    return refit


ArmMeans = Callable[..., tuple[float, float, np.ndarray, np.ndarray]]


def nuisance_estimate(nu: Nuisances, means: tuple[float, float, np.ndarray, np.ndarray],
                      arm_means: ArmMeans, *, term: str, outcome: str, estimand: str,
                      effect_measure: str, method: str, conf_level: float, variance: str,
                      n_boot: int, n_jobs: int, random_state: Any,
                      extra: dict[str, float] | None = None, notes: tuple[str, ...] = ()
                      ) -> Estimate:
    """The Estimate of AIPW / TMLE from their arm means, influence-function or bootstrap SE.

    ``means`` are ``mu1, mu0, phi1, phi0`` on the analysed rows; ``arm_means(y, a, q1, q0, e,
    s)`` recomputes them in a bootstrap resample.
    """
    mu1, mu0, phi1, phi0 = means
    check_means(mu1, mu0, effect_measure, verb_name(), outcome)
    est, phi = contrast(mu1, mu0, phi1, phi0, effect_measure)
    extra = {"mean_1": mu1, "mean_0": mu0, "se_mean_1": if_se(phi1, nu.cluster),
             "se_mean_0": if_se(phi0, nu.cluster), **(extra or {})}
    common = dict(
        estimand=estimand, effect_measure=MEASURE_NAMES[(effect_measure, nu.binary)],
        method=method, n=int((nu.s > 0).sum()),
        n_events=int(nu.y[nu.s > 0].sum()) if nu.binary else None, dropped=nu.dropped,
        conf_level=conf_level, diagnostics=nu.ps, extra=extra, notes=nu.notes + notes)
    if variance == "bootstrap":
        return _bootstrap_nuisances(nu, arm_means, term, est, effect_measure, n_boot=n_boot,
                                    n_jobs=n_jobs, random_state=random_state, **common)
    return estimate_from_if(term, est, phi, nu.cluster, **common)


def _bootstrap_nuisances(nu: Nuisances, arm_means: ArmMeans, term: str, est: float,
                         measure: str, *, n_boot: int, n_jobs: int,
                         random_state: Any, **common: Any) -> Estimate:
    """Percentile bootstrap refitting both nuisance models in every resample (of clusters)."""
    if nu.refit is None:
        raise DataValidationError(
            f"{verb_name()}(): variance=\"bootstrap\" refits the default logistic and "
            "linear/logistic models in every resample; it is not available with ps_model=, "
            "outcome_model=, cross_fit= or trim=. Use variance=\"influence_function\".")
    refit = nu.refit

    def stat(idx: np.ndarray) -> float:
        counts = np.bincount(idx, minlength=nu.a.size).astype(float)
        e, q1, q0 = refit(counts)
        mu1, mu0, phi1, phi0 = arm_means(nu.y, nu.a, q1, q0, e, nu.s * counts)
        return contrast(mu1, mu0, phi1, phi0, measure)[0]

    boot = bootstrap(stat, int(nu.a.size), n_boot=n_boot, random_state=random_state,
                     n_jobs=n_jobs, cluster=nu.cluster)
    return Estimate.from_bootstrap(term, est, boot.valid[:, 0], n_failed=boot.n_failed,
                                   **common)
