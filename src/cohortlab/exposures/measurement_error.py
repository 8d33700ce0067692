"""Multiple imputation for a misclassified binary exposure with internal validation.

``correct_exposure`` corrects any cohortlab estimator for a misclassified binary exposure
flag when the true exposure is known on a validation subset of the cohort (Cole, Chu &
Greenland 2006, IJE 35:1074; Edwards et al. 2013, AJE 177:904): the true exposure is imputed
for the non-validated rows from a logistic model fitted on the validated rows, the estimator
runs on each completed cohort and the results are pooled by Rubin's rules
(:func:`cohortlab.inference.rubin.pool_rubin`).

The numbers happen in array-only functions (design of the imputation model, the Nelson-Aalen
cumulative hazard, the proper draws); the public verb validates, runs the imputations
through joblib with one spawned seed each and builds an :class:`MICorrection`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from .._design import covariate_columns
from .._pooling import count_warnings, model_scale, result_rows, row_key
from .._typing import Missing, RandomState
from .._validation import (
    _fmt_values,
    apply_missing,
    check_binary,
    check_columns,
    check_estimator,
    check_int,
    verb,
    verb_name,
)
from ..exceptions import CohortWarning, DataValidationError
from ..inference.bootstrap import seed_batches, seed_sequence
from ..results.model import ModelResult
from ._imputation import (
    WeightRefit,
    _draw_coef,
    _fit_imputation,
    _imputation_design,
    _imputation_spec,
    _impute_exposure,
    refit_weights_spec,
)
from ._imputation import refit_weights as _refit_weights
from ._rerun import RerunSetup, flag_labels, naive_kwargs, refuse_person_period
from .measurement_error_result import MICorrection, _build

__all__ = ["correct_exposure", "MICorrection"]

ImputationDraw: TypeAlias = Literal["normal", "bootstrap"]
#: Validated rows per flag arm below which a warning is raised.
MIN_VALIDATED_PER_ARM = 10


# ------------------------------------------------------------------------ imputations


@dataclass(frozen=True)
class _Setup(RerunSetup):
    """The imputation model's design, fit and draw method on top of the re-run setup."""

    X: np.ndarray
    validated: np.ndarray
    truth: np.ndarray
    coef: np.ndarray
    vcov: np.ndarray
    draw: str
    kwargs: Mapping[str, Any]
    times: tuple[float, ...] | None
    seed_estimator: bool
    refit: WeightRefit | None = None


def _one_imputation(setup: _Setup, seed: np.random.SeedSequence
                    ) -> tuple[np.ndarray, np.ndarray, list[str], dict[str, int]]:
    rng = np.random.default_rng(seed)
    coef = setup.coef
    if setup.draw == "bootstrap":
        vidx = np.flatnonzero(setup.validated)
        pick = vidx[rng.integers(0, vidx.size, size=vidx.size)]
        coef, _ = _fit_imputation(setup.X[pick], setup.truth[pick], [])
    else:
        coef = _draw_coef(rng, coef, setup.vcov)
    a = _impute_exposure(rng, setup.X, coef, setup.validated, setup.truth)
    frame = setup.frame.copy(deep=False)
    if setup.labels is None:
        frame[setup.exposure] = a
    else:
        frame[setup.exposure] = np.where(a == 1, setup.labels[1], setup.labels[0])
    kw = dict(setup.kwargs)
    if setup.seed_estimator:
        kw["random_state"] = int(rng.integers(2**32))
    def run() -> Any:
        f = frame
        if setup.refit is not None:  # weights of the imputed exposure, not of the flag
            f = _refit_weights(f, setup.exposure, setup.refit, kw.get("reference"))
        return setup.estimator(f, **kw)

    result, seen = count_warnings(run)
    rows = result_rows(result, setup.times)
    theta, var = model_scale(rows)
    return theta, var, [row_key(r) for r in rows], seen


def _run_batch(setup: _Setup, seeds: list) -> list:
    return [_one_imputation(setup, s) for s in seeds]


def _impute_all(setup: _Setup, seeds: list, n_jobs: int) -> list:
    batches = seed_batches(seeds, n_jobs)
    out = Parallel(n_jobs=n_jobs)(delayed(_run_batch)(setup, b) for b in batches)
    return [r for batch in out for r in batch]


# ------------------------------------------------------------------------- public verb


@verb
def correct_exposure(
    estimator: Callable[..., Any],
    data: pd.DataFrame,
    *,
    exposure: str,
    validation: str,
    n_imputations: int = 20,
    imputation_covariates: str | Sequence[str] | None = None,
    flag_interactions: bool = False,
    imputation_draw: ImputationDraw = "normal",
    refit_weights: Any = None,
    times: Sequence[float] | None = None,
    conf_level: float = 0.95,
    random_state: RandomState = None,
    n_jobs: int = 1,
    missing: Missing = "raise",
    **estimator_kwargs: Any,
) -> MICorrection:
    """Correct any estimator for a misclassified binary exposure by multiple imputation.

    Estimand: whatever ``estimator`` estimates (a crude association, an ATE, Cox hazard
    ratios, survival curves, ...), with the true exposure in place of the misclassified flag
    ``exposure``.

    Method: multiple imputation for measurement error (Cole, Chu & Greenland 2006; Edwards
    et al. 2013). ``validation`` holds the true exposure on a validation subset
    (missing elsewhere). A logistic model of the true exposure is fitted on the validated
    rows, with the flag, the outcome and the estimator's covariates as predictors:

    - the outcome: ``outcome=`` (binary or continuous) as it is; for time-to-event
      estimators (``time=``, ``event=``) the event indicator and the Nelson-Aalen cumulative
      hazard of any event at the subject's time (White & Royston 2009); with competing
      risks (event codes 1..K, or ``cause=``) one indicator per cause and the cumulative
      hazard of any event;
    - the estimator's ``covariates`` and ``outcome_covariates`` (column lists or formulas;
      Cox and Fine-Gray covariates contain the flag itself, which enters once), plus
      ``imputation_covariates`` (auxiliary predictors of the true exposure, e.g. what the
      flag's errors depend on, or interactions such as ``"af_flag:bmi"``);
    - with ``flag_interactions=True``, the flag times each outcome term.

    Each of ``n_imputations`` completed cohorts draws the coefficients from their asymptotic
    normal distribution (``imputation_draw="normal"``) or refits the model on a bootstrap
    resample of the validated rows (``"bootstrap"``), draws the true exposure of every
    non-validated row from the model (validated rows keep their true value) and runs
    ``estimator`` on it. Each parameter of the result is pooled by Rubin's rules on the
    estimator's model scale (log scale for ratios; survival and incidence on their natural
    scale) with the Barnard-Rubin degrees of freedom (complete-data ``df = n - k``, ``k``
    the number of parameters); the interval uses the t distribution.

    Assumptions: the validated rows are a random sample, or validation depends only on
    variables in the imputation model (missing at random); the imputation model is correct
    (in particular it contains the outcome and every variable the flag's errors depend on);
    the estimator's own assumptions.

    Variance: Rubin's total variance ``ubar + (1 + 1/m) b`` of the estimator's own
    variances (``ubar``) and the between-imputation variance (``b``).

    Parameters
    ----------
    estimator : callable
        A cohortlab verb: ``crude_effect``, ``ipw``, ``aipw``, ``gformula``, ``tmle``,
        ``match`` (with ``outcome=``), ``adjusted_survival`` (these take ``exposure=``),
        ``cox``, ``fine_gray``, ``cause_specific_cox`` (the flag is one of ``covariates``),
        ``kaplan_meier``, ``cumulative_incidence`` (the flag is ``by``), or your own
        function returning an ``Estimate``, ``EstimateTable``, ``ModelResult`` or ``Curve``.
    data : pandas.DataFrame
    exposure : str
        The misclassified binary flag (0/1 or bool; two labels with ``reference=``); also
        the estimator's ``exposure=`` when it takes one, otherwise it must be its ``by=`` or
        one of its ``covariates``.
    validation : str
        The true exposure (0/1, or the flag's labels) on validated rows, missing elsewhere.
    n_imputations : int
        Completed cohorts (>= 2; 20 or more for a stable ``df``).
    imputation_covariates : list of str or str, optional
        Extra predictors (or formula terms) of the imputation model.
    flag_interactions : bool
        Add flag x outcome-term interactions to the imputation model.
    imputation_draw : {"normal", "bootstrap"}
        How the imputation model's uncertainty is propagated.
    refit_weights : str, list of str, dict or False, optional
        Inverse probability of treatment weights that depend on the exposure are refitted on
        every completed cohort: the propensity model's covariates (a formula or a column
        list), or a dict of :func:`cohortlab.propensity_score` options (``covariates``,
        ``estimand``, ``stabilize``, ``trim``, ``truncate``, ``model``). The estimator's
        ``weights=`` column (created when not given) is overwritten with the weights of the
        flag in the naive run and of the imputed exposure in each imputation, and the
        covariates join the imputation model. Needed when ``weights=`` is given to an
        estimator that does not model the exposure itself (``cox``, ``fine_gray``,
        ``kaplan_meier``, ``cumulative_incidence``, ``crude_effect``): IPT weights of the
        flag reused in every imputation weight the corrected exposure for the wrong
        exposure (a Fine-Gray sHR inflated from ~2.3 to ~2.5-3.5 in ``simulate_cohort``).
        ``False`` declares that the weights do not depend on the exposure (case or sampling
        weights) and keeps them. Estimators with their own propensity model (``ipw``,
        ``aipw``, ``tmle``, ``adjusted_survival``) refit it in each imputation anyway.
    times : list of float, optional
        Times at which curves are pooled (required for ``Curve`` results); also passed to
        estimators that take ``times`` (``adjusted_survival``'s evaluation grid).
    conf_level : float
        Level of the intervals; passed to ``estimator``.
    random_state : int, numpy.random.Generator or None
        Seed: one child seed per imputation (``SeedSequence.spawn``), so the same seed gives
        the same numbers whatever ``n_jobs``. Estimators that take ``random_state`` get one
        seed per imputation drawn from it.
    n_jobs : int
        Parallel joblib jobs over imputations.
    missing : {"raise", "drop"}
        Missing values in the flag and the imputation model's columns (the validation
        column is missing by design); passed to ``estimator``.
    **estimator_kwargs
        Passed to ``estimator`` (``outcome=``, ``covariates=``, ``time=``, ...).

    Returns
    -------
    MICorrection
        An :class:`~cohortlab.EstimateTable` with a ``naive`` and a ``corrected`` row per
        parameter, and the columns ``analysis``, ``fmi``, ``df`` and ``riv``.

    Examples
    --------
    >>> import cohortlab as cl
    >>> from cohortlab.exposures.measurement_error import correct_exposure
    >>> df = cl.simulate_cohort(4_000, random_state=3)
    >>> rng = np.random.default_rng(3)
    >>> df["af_valid"] = df["af_true"].where(rng.random(len(df)) < 0.25)
    >>> res = correct_exposure(cl.crude_effect, df, exposure="af_flag",
    ...                        validation="af_valid", outcome="mace_1y",
    ...                        imputation_covariates=["bmi", "age"], n_imputations=10,
    ...                        random_state=1)
    >>> res.to_frame()["analysis"].tolist()
    ['naive', 'corrected']
    >>> res.corrected[0].estimate > res.naive[0].estimate
    True
    """
    params = check_estimator(estimator)
    refuse_person_period(estimator, params)
    check_int(n_imputations, "n_imputations", 2)
    if not isinstance(validation, str):
        raise DataValidationError(
            f"{verb_name()}(): validation must be a column name (str); got "
            f"{validation!r}. Pass the column holding the true exposure."
        )
    check_columns(data, exposure=exposure, validation=validation)
    if validation == exposure:
        raise DataValidationError(
            f"{verb_name()}(): validation must differ from the flag column; got "
            f"{exposure!r} for both. Pass the column with the true exposure."
        )
    kwargs = dict(estimator_kwargs)
    pass_exposure = "exposure" in params
    if pass_exposure:
        kwargs["exposure"] = exposure
    else:
        _check_exposure_used(exposure, kwargs, data)
    for name, value in (("conf_level", conf_level), ("missing", missing), ("times", times)):
        if value is not None and (name in params or "**" in params):
            kwargs.setdefault(name, value)
    refit = refit_weights_spec(refit_weights, kwargs, data,
                               getattr(estimator, "__name__", "estimator"),
                               models_exposure=pass_exposure and "covariates" in params)
    if refit is not None and not ("weights" in params or "**" in params):
        raise DataValidationError(
            f"{verb_name()}(): refit_weights needs an estimator that takes weights=; got "
            f"{getattr(estimator, '__name__', estimator)!r}. Drop refit_weights.")
    spec_kw = kwargs if refit is None else {**kwargs,
                                            "propensity_covariates": refit.options["covariates"]}
    spec = _imputation_spec(data, exposure, spec_kw, imputation_covariates)
    used = [exposure, *spec.columns]
    frame, dropped = apply_missing(data, used, missing)
    flag = check_binary(frame, exposure, "exposure", reference=kwargs.get("reference"))
    labels = flag_labels(frame, exposure, kwargs.get("reference"))
    validated, truth = _check_validation(frame, validation, flag, labels)
    X, names = _imputation_design(frame, exposure, flag, spec, flag_interactions)
    coef, vcov = _fit_imputation(X[validated], truth[validated], names)
    seeds = seed_sequence(random_state, verb_name()).spawn(int(n_imputations) + 1)
    seed_estimator, naive_kw = naive_kwargs(params, kwargs, seeds[-1])
    naive_frame = frame if refit is None else _refit_weights(frame, exposure, refit,
                                                            kwargs.get("reference"))
    naive = result_rows(estimator(naive_frame, **naive_kw), times)
    work = frame.copy(deep=False)
    work.attrs = {}  # attrs are deep-copied by every pandas op: drop them for speed
    setup = _Setup(estimator=estimator, frame=work, exposure=exposure, labels=labels, X=X,
                   validated=validated, truth=truth, coef=coef, vcov=vcov,
                   draw=imputation_draw, kwargs=kwargs,
                   times=tuple(float(t) for t in times) if times is not None else None,
                   seed_estimator=seed_estimator, refit=refit)
    out = _impute_all(setup, seeds[:-1], n_jobs)
    counts = {"flag=0": int((validated & (flag == 0)).sum()),
              "flag=1": int((validated & (flag == 1)).sum()), "total": int(validated.sum())}
    model = ModelResult(terms=tuple(names), params=coef, vcov=vcov, effect_measure="odds_ratio",
                        method="imputation_logistic", n=counts["total"],
                        notes=("logistic model of the true exposure on the validated rows",))
    return _build(naive, out, model, counts, exposure, validation, spec, conf_level,
                  dropped, imputation_draw,
                  extra_notes=(refit.description,) if refit is not None else ())


# ------------------------------------------------------------------------- validation


def _check_exposure_used(exposure: str, kwargs: Mapping[str, Any], data: pd.DataFrame
                         ) -> None:
    if kwargs.get("by") == exposure:
        return
    cov = kwargs.get("covariates")
    if cov is not None and exposure in covariate_columns(cov, data, verb_name()):
        return
    raise DataValidationError(
        f"{verb_name()}(): the estimator does not use the flag {exposure!r} (exposure); got "
        f"by={kwargs.get('by')!r} and covariates={cov!r}. Pass it as by= (kaplan_meier, "
        "cumulative_incidence) or among covariates= (cox, fine_gray)."
    )


def _check_validation(frame: pd.DataFrame, column: str, flag: np.ndarray,
                      labels: tuple[Any, Any] | None) -> tuple[np.ndarray, np.ndarray]:
    """Validated rows and the true exposure coded 0/1 (0 where not validated)."""
    s = frame[column]
    validated = s.notna().to_numpy()
    if not validated.any():
        raise DataValidationError(
            f"{verb_name()}(): column {column!r} (validation) is never observed; got "
            f"{len(s):,} missing values. It must hold the true exposure on a validation "
            "subset (missing elsewhere)."
        )
    vals = pd.unique(s[validated])
    allowed = {0, 1} if labels is None else set(labels)
    bad = [v for v in vals if not _in(v, allowed)]
    if bad:
        raise DataValidationError(
            f"{verb_name()}(): column {column!r} (validation) must be coded like the flag "
            f"({_fmt_values(sorted(allowed, key=str))}); got values "
            f"{_fmt_values(sorted(bad, key=str))}. Recode it, e.g. data[{column!r}].eq(1) "
            "where observed."
        )
    obs = s[validated]
    truth_v = (obs != labels[0]).to_numpy(dtype=np.int64) if labels is not None else \
        obs.astype(float).to_numpy().astype(np.int64)
    if np.unique(truth_v).size < 2:
        raise DataValidationError(
            f"{verb_name()}(): column {column!r} (validation) takes only the value "
            f"{truth_v[0]} among its {validated.sum():,} observed rows; the imputation model "
            "needs both exposed and unexposed validated rows. Validate more rows."
        )
    fv = flag[validated]
    arms = {0: int((fv == 0).sum()), 1: int((fv == 1).sum())}
    if min(arms.values()) == 0:
        missing_arm = 0 if arms[0] == 0 else 1
        raise DataValidationError(
            f"{verb_name()}(): column {column!r} (validation) is observed only where the "
            f"flag is {1 - missing_arm}; got {arms[missing_arm]} validated rows with flag = "
            f"{missing_arm}. Validate rows in both flag arms (e.g. a random sample)."
        )
    if min(arms.values()) < MIN_VALIDATED_PER_ARM:
        warnings.warn(
            f"{verb_name()}(): few validated rows in column {column!r} (validation); got "
            f"{arms[0]} with flag = 0 and {arms[1]} with flag = 1 (< "
            f"{MIN_VALIDATED_PER_ARM} in an arm). The imputation model is fragile; validate "
            "more rows.", CohortWarning, stacklevel=3,
        )
    truth = np.zeros(len(s), dtype=np.int64)
    truth[validated] = truth_v
    return validated, truth


def _in(v: Any, allowed: set) -> bool:
    try:
        return any(bool(v == a) for a in allowed)
    except (TypeError, ValueError):
        return False
