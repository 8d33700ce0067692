"""Probabilistic bias analysis for a misclassified binary exposure: ``bias_analysis``.

A model's flag (``af_flag``) stands in for the true exposure (``af_true``); an external
validation study gives its sensitivity and specificity with their uncertainty
(:class:`ErrorRates`). :func:`bias_analysis` runs any cohortlab estimator many times on data
where the true exposure is imputed record by record (Fox, MacLehose & Lash 2021, ch. 6) and
summarises the bias-corrected estimates (:class:`BiasAnalysis`).

The numbers happen in the private array functions (rate draws, predictive values,
imputation); the public verb validates, runs the simulations through joblib with one spawned
seed per simulation, and builds the result.
"""

from __future__ import annotations

import functools
import keyword
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from .._design import build_design, covariate_columns
from .._glm import fit_logistic
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
from ..exceptions import CohortError, DataValidationError
from ..inference.bootstrap import seed_batches, seed_sequence
from ..results.estimate import Estimate
from ._misclassification import (
    cell_prevalence,
    impute_exposure,
    predictive_values,
    record_predictive_values,
)
from ._rerun import RerunSetup, flag_labels, naive_kwargs, refuse_person_period
from .error_rates import BetaRate, ErrorRates, _draw_rate
from .misclassification_result import BiasAnalysis, _build

__all__ = ["BetaRate", "ErrorRates", "BiasAnalysis", "bias_analysis"]

_MAX_STRATUM_LEVELS = 20
# record-level prevalence model: a draw whose implied true prevalence must be clipped
# (_misclassification.CLIP_EPS) for more than _MAX_CLIP_FRACTION of the records is rejected
# like an impossible-prevalence draw of the cell method
_MAX_CLIP_FRACTION = 0.05
Counter_t: TypeAlias = dict[str, int]



# ----------------------------------------------------------------------- simulations


@dataclass(frozen=True)
class _Setup(RerunSetup):
    """The flag, its stratum cells and the error rates on top of the re-run setup."""

    flag: np.ndarray
    cell: np.ndarray  # stratum cell of each row
    cell_level: np.ndarray  # index into the rate levels of each cell
    p_obs: np.ndarray
    se_rates: tuple[Any, ...]
    sp_rates: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    seed_estimator: bool = False  # pass each run its own random_state
    records: bool = False  # p_obs per record (prevalence model), not per cell


def _one_sim(setup: _Setup, seed: np.random.SeedSequence) -> tuple[np.ndarray, Counter_t]:
    """Draw rates, impute, re-estimate, add random error; a row of the draws table."""
    rng = np.random.default_rng(seed)
    n_lv = len(setup.se_rates)
    se = np.array([_draw_rate(rng, r) for r in setup.se_rates])
    sp = np.array([_draw_rate(rng, r) for r in setup.sp_rates])
    row = np.full(2 * n_lv + 4, np.nan)
    row[:n_lv], row[n_lv:2 * n_lv] = se, sp
    status = row[2 * n_lv:2 * n_lv + 1]
    if setup.records:
        row = np.append(row, np.nan)  # last slot: records whose true prevalence was clipped
        status = row[2 * n_lv:2 * n_lv + 1]
    if np.any(se + sp <= 1.0):
        status[0] = 1  # rejected: Se + Sp <= 1
        return row, {}
    if setup.records:
        q1, q0, n_clip = record_predictive_values(se[setup.cell_level], sp[setup.cell_level],
                                                   setup.p_obs)
        row[-1] = n_clip
        if n_clip > _MAX_CLIP_FRACTION * setup.p_obs.size:
            status[0] = 2  # rejected: implied true prevalence outside (0, 1) too often
            return row, {}
    else:
        q1, q0, p_true = predictive_values(se[setup.cell_level], sp[setup.cell_level],
                                            setup.p_obs)
        if np.any((p_true < 0) | (p_true > 1)):
            status[0] = 2  # rejected: implied true prevalence outside [0, 1] in some cell
            return row, {}
    x = impute_exposure(rng, setup.flag, setup.cell, q1, q0)
    d = setup.frame.copy(deep=False)
    d[setup.exposure] = x if setup.labels is None else np.where(x == 1, *setup.labels[::-1])
    kwargs = dict(setup.kwargs)
    if setup.seed_estimator:
        kwargs["random_state"] = int(rng.integers(2**32))
    seen: dict[str, int] = {}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = setup.estimator(d, exposure=setup.exposure, **kwargs)
        for w in caught:
            seen[w.category.__name__] = 1
    except (CohortError, ArithmeticError, np.linalg.LinAlgError):
        status[0] = 3  # the estimator failed on this imputed data set
        return row, seen
    theta = math.log(est.estimate) if est.is_ratio and est.estimate > 0 else est.estimate
    status[0] = 0
    row[2 * n_lv + 1] = theta
    row[2 * n_lv + 2] = est.std_error
    row[2 * n_lv + 3] = theta + rng.standard_normal() * est.std_error
    return row, seen


def _run_batch(setup: _Setup, seeds: list) -> tuple[np.ndarray, Counter_t]:
    rows: list[np.ndarray] = []
    seen: Counter_t = {}
    for s in seeds:
        row, w = _one_sim(setup, s)
        rows.append(row)
        for k, v in w.items():
            seen[k] = seen.get(k, 0) + v
    return np.vstack(rows), seen


# -------------------------------------------------------------------------- public verb


@verb
def bias_analysis(
    estimator: Callable[..., Estimate],
    data: pd.DataFrame,
    *,
    exposure: str,
    error: ErrorRates,
    n_sims: int = 1000,
    strata: str | Sequence[str] | None = None,
    prevalence_covariates: str | Sequence[str] | None = None,
    conf_level: float = 0.95,
    random_state: RandomState = None,
    n_jobs: int = 1,
    missing: Missing = "raise",
    **estimator_kwargs: Any,
) -> BiasAnalysis:
    """Record-level probabilistic bias analysis for a misclassified binary exposure.

    Estimand: whatever ``estimator`` estimates (a crude association, an ATE, ...), with the
    true exposure in place of the misclassified flag ``exposure``.

    Method (Fox, MacLehose & Lash 2021, *Applying Quantitative Bias Analysis to
    Epidemiologic Data*, 2nd ed., ch. 6). In each of ``n_sims`` simulations: draw the
    sensitivity and specificity (per level of ``error.by``) from their distributions
    (:class:`ErrorRates`); reject the draw if ``Se + Sp <= 1`` or if the implied true
    prevalence ``(p* + Sp - 1) / (Se + Sp - 1)`` leaves [0, 1] in some stratum (Fox et al.'s
    negative corrected cell counts); otherwise give each record its probability of being
    truly exposed, ``PPV = Se p / p*`` if flagged and ``1 - NPV = (1 - Se) p / (1 - p*)`` if
    not (``p*`` the observed flag prevalence, ``p`` the true one, both within the record's
    stratum), draw the true exposure from it, run ``estimator`` on the imputed data, and add
    random error by drawing from the estimate's normal sampling distribution on the model
    scale (``theta + z * std_error``, log scale for ratios). Report the median and the
    ``conf_level`` percentiles of the corrected estimates (systematic error) and of the
    corrected estimates plus random error (total error).

    Strata: the predictive values are computed within the cells of ``strata`` (by default
    the outcome, ``estimator_kwargs["outcome"]`` or ``["event"]``) crossed with ``error.by``.
    Stratifying by the outcome is what lets the imputed exposure carry its association with
    the outcome; without it the corrected association is biased towards the null. Add
    discrete confounders to ``strata`` for adjusted estimators; a continuous outcome must be
    binned into a column and passed as ``strata``.

    Record-level prevalence model (``prevalence_covariates``): cells cannot hold continuous
    confounders, and an imputed exposure that ignores them loses its association with them
    (an adjusted estimate drifts towards the crude one). With ``prevalence_covariates`` the
    observed flag prevalence of each record, ``p*_i``, is instead the fitted value of a
    logistic regression of the flag on the ``strata`` columns (as categories), the
    ``prevalence_covariates`` and the levels of ``error.by``, fitted once on the data (the
    idea of Lyles & Lin 2010, predictive value weighting; Fox et al. 2021, ch. 6). In each
    simulation the record's true prevalence ``p_i = (p*_i + Sp_i - 1) / (Se_i + Sp_i - 1)``
    (rates of its ``error.by`` level) gives ``PPV_i = Se p_i / p*_i`` and
    ``1 - NPV_i = (1 - Se) p_i / (1 - p*_i)``. Records whose ``p_i`` leaves (0, 1) are clipped
    to [1e-6, 1 - 1e-6] and counted (``draws["n_clipped"]``); a draw that needs clipping for
    more than 5% of the records is rejected (status "rejected_prevalence", as an impossible
    prevalence in a cell). With a saturated model (one parameter per cell) this is the cell
    method. The model must be right for ``P(flag | outcome, covariates)``: add the terms
    (splines, interactions) the flag needs.

    Assumptions: the validation rates transport to this cohort (within ``error.by``
    levels); misclassification is non-differential given the strata (rates do not depend on
    the outcome unless ``by`` is the outcome); the estimator's own assumptions.

    Variance: simulation intervals; the total interval combines the rate uncertainty, the
    imputation and the estimator's sampling error (its ``std_error``).

    Parameters
    ----------
    estimator : callable
        A cohortlab verb ``estimator(data, *, exposure=..., **estimator_kwargs) -> Estimate``
        (``cl.crude_effect``, ``cl.ipw``, ``cl.aipw``, ``cl.tmle``, ``cl.gformula``,
        ``cl.match`` with ``outcome=``, or your own function); or a Cox model (``cl.cox``,
        ``cl.fine_gray``, ``cl.cause_specific_cox`` with one cause in ``causes=``) with the
        flag among ``covariates``, whose coefficient (hazard ratio) is the estimate. Curve
        estimators (``kaplan_meier``, ``cumulative_incidence``, ``adjusted_survival``) are
        refused: use :func:`~cohortlab.correct_exposure` with ``times=``.
    data : pandas.DataFrame
    exposure : str
        The misclassified binary flag (0/1 or bool, or two labels with ``reference=`` in
        ``estimator_kwargs``).
    error : ErrorRates
        Sensitivity and specificity of the flag for the true exposure.
    n_sims : int
        Simulations (rejected draws count in it).
    strata : str or list of str, optional
        Discrete columns within which predictive values are computed (see above).
    prevalence_covariates : str or list of str, optional
        Columns (or a right-hand-side formula, ``"age + bs(bmi, 4) + diabetes"``) of the
        record-level model of the flag prevalence, added to ``strata`` and ``error.by``
        (see above). ``None`` (default): prevalences within cells.
    conf_level : float
        Level of the simulation intervals; passed on to ``estimator`` when it takes it.
    random_state : int, numpy.random.Generator or None
        Seed: one child seed per simulation (``SeedSequence.spawn``), so the same seed gives
        the same numbers whatever ``n_jobs``. When ``estimator`` takes ``random_state`` (and
        ``estimator_kwargs`` does not set it), each run gets its own seed drawn from its
        simulation's child, so seeded estimators (cross-fitting, bootstrap) stay reproducible.
    n_jobs : int
        Parallel joblib jobs.
    missing : {"raise", "drop"}
        Missing values in ``exposure``, ``error.by``, ``strata`` and
        ``prevalence_covariates``; passed on to
        ``estimator`` when it takes it.
    **estimator_kwargs
        Passed to ``estimator`` (``outcome=``, ``covariates=``, ...).

    Returns
    -------
    BiasAnalysis

    Examples
    --------
    >>> import cohortlab as cl
    >>> from cohortlab.exposures.misclassification import ErrorRates, bias_analysis
    >>> df = cl.simulate_cohort(5_000, random_state=7)
    >>> res = bias_analysis(cl.crude_effect, df, exposure="af_flag", outcome="mace_1y",
    ...                     error=ErrorRates(sensitivity=(0.80, 0.92), specificity=(0.96, 0.985)),
    ...                     n_sims=50, random_state=1)
    >>> res.to_frame()["term"].tolist()
    ['naive', 'corrected (systematic)', 'corrected (total)']
    >>> res.systematic.estimate > res.naive.estimate
    True
    """
    estimator, params = _check_estimator(estimator, estimator_kwargs)
    if not isinstance(error, ErrorRates):
        raise DataValidationError(
            f"{verb_name()}(): error must be an ErrorRates; got {type(error).__name__}. Pass e.g. "
            "error=ErrorRates(sensitivity=(0.80, 0.92), specificity=0.97)."
        )
    check_int(n_sims, "n_sims", 2)
    strata_cols = _strata_columns(strata, estimator_kwargs)
    check_columns(data, exposure=exposure, by=error.by, strata=strata_cols)
    prev_cols = ([] if prevalence_covariates is None else
                 covariate_columns(prevalence_covariates, data, verb_name()))
    if exposure in prev_cols:
        raise DataValidationError(
            f"{verb_name()}(): prevalence_covariates models the flag {exposure!r} and cannot "
            "contain "
            f"it; got {prevalence_covariates!r}. Remove {exposure!r} from it."
        )
    kwargs = dict(estimator_kwargs)
    for name, value in (("conf_level", conf_level), ("missing", missing)):
        if name in params or "**" in params:
            kwargs.setdefault(name, value)
    used = list(dict.fromkeys([exposure, *([error.by] if error.by else []), *strata_cols,
                               *prev_cols]))
    frame, dropped = apply_missing(data, used, missing)
    flag = check_binary(frame, exposure, "exposure", reference=kwargs.get("reference"))
    labels = flag_labels(frame, exposure, kwargs.get("reference"))
    seeds = seed_sequence(random_state, verb_name()).spawn(int(n_sims) + 1)
    seed_estimator, naive_kw = naive_kwargs(params, kwargs, seeds[-1])
    naive = estimator(frame, exposure=exposure, **naive_kw)
    cell, cell_level, n_cells, rates = _cells(frame, error, strata_cols)
    prev_model = None
    if prevalence_covariates is None:
        p_obs = cell_prevalence(flag, cell, n_cells)
    else:  # one "cell" per record: its level of error.by and its fitted flag prevalence
        cell_level = cell_level[cell]
        cell = np.arange(len(frame), dtype=np.int64)
        p_obs, prev_model = _prevalence_model(frame, flag, exposure, error.by, strata_cols,
                                              prevalence_covariates, prev_cols)
    frame = frame.copy(deep=False)
    frame.attrs = {}  # attrs are deep-copied by every pandas op: drop them for speed
    setup = _Setup(
        estimator=estimator, frame=frame, exposure=exposure, labels=labels, flag=flag,
        cell=cell, cell_level=cell_level, p_obs=p_obs,
        se_rates=tuple(r[0] for r in rates), sp_rates=tuple(r[1] for r in rates),
        kwargs=kwargs, seed_estimator=seed_estimator, records=prev_model is not None,
    )
    rows, seen = _simulate(setup, seeds[:-1], n_jobs)
    return _build(naive, rows, seen, error, rates, exposure, strata_cols, int(n_sims),
                  conf_level, dropped, prev_model)


def _prevalence_model(frame: pd.DataFrame, flag: np.ndarray, exposure: str, by: str | None,
                      strata: list[str], covariates: str | Sequence[str],
                      cov_cols: list[str]) -> tuple[np.ndarray, str]:
    """Fitted P(flag = 1) per record: logistic on strata, covariates and the by levels.

    Strata and ``by`` columns enter as categories (``C(col)``) unless the covariates already
    have them as a main term (``col`` or ``C(col)``).
    """
    def cat(c: str) -> str:
        return f"C({c})" if c.isidentifier() and not keyword.iskeyword(c) else f"C(`{c}`)"

    if isinstance(covariates, str):
        from formulaic import Formula

        rhs = covariates.split("~", 1)[1] if "~" in covariates else covariates
        main = {str(t).strip("`") for t in Formula(rhs)}
    else:
        main = set(cov_cols)
    extra = [cat(c) for c in dict.fromkeys([*strata, *([by] if by else [])])
             if c not in main and cat(c) not in main and f"C({c})" not in main]
    design = build_design(frame, covariates, verb_name(), extra=" + ".join(extra) or None)
    fit = fit_logistic(design.X, flag.astype(float), names=design.names, func=verb_name(),
                       response=f"the flag {exposure!r}", information=False)
    return fit.fitted, design.formula


def _check_estimator(estimator: Any, kwargs: Mapping[str, Any]
                     ) -> tuple[Callable[..., Estimate], dict[str, Any]]:
    """The function run in each simulation and the estimator's parameters.

    The function is called ``f(data, exposure=..., **kw)`` and returns an Estimate. Verbs
    that take ``exposure=`` run as they are (``match`` through its ``estimate``); Cox models
    (``cox``, ``fine_gray``, ``cause_specific_cox``, the flag among ``covariates``) through
    the flag's coefficient; curve estimators are refused.
    """
    params = check_estimator(estimator, "cl.crude_effect")
    refuse_person_period(estimator, params)
    name = getattr(estimator, "__name__", type(estimator).__name__)
    if _is_curve_verb(estimator):
        raise DataValidationError(
            f"{verb_name()}(): {name}() returns curves, not one effect estimate; bias analysis "
            f"summarises one estimate per simulation. Use cl.correct_exposure(cl.{name}, ..., "
            "times=[...]) (multiple imputation from validation data), or pass a function "
            "that returns one Estimate (e.g. a contrast of the curves at a time)."
        )
    if "**" in params:
        return estimator, params
    if _is_match(estimator):
        if kwargs.get("outcome") is None:
            raise DataValidationError(
                f"{verb_name()}(): match() without outcome= returns a matched cohort, not an "
                "estimate; got outcome=None. Pass outcome= so that each simulation matches "
                "on the imputed exposure and estimates the effect."
            )
        return functools.partial(_estimate_of, estimator), params
    if "exposure" in params:
        return estimator, params
    if "by" in params:  # rmst, logrank, gray_test: several rows or a test, not one estimate
        raise DataValidationError(
            f"{verb_name()}(): {name}() takes the flag as by= and returns one row per group "
            "and contrast (or a test), not one effect estimate; bias analysis summarises one "
            f"estimate per simulation. Pass a function that returns the row you want, e.g. "
            f"lambda d, exposure, **kw: cl.{name}(d, by=exposure, **kw)[<row>], or use "
            f"cl.correct_exposure(cl.{name}, ...) (multiple imputation from validation data)."
        )
    if "covariates" in params:  # Cox models: the flag is one of the covariates
        return functools.partial(_coefficient_of, estimator), {"**": True}
    raise DataValidationError(
        f"{verb_name()}(): estimator {name}() has no exposure argument; got parameters "
        f"{list(params)[:6]}. Pass a verb called as estimator(data, exposure=..., "
        "...) that returns an Estimate, or wrap yours in a function that does."
    )


def _is_curve_verb(estimator: Any) -> bool:
    from ..survival.adjusted import adjusted_survival
    from ..survival.competing import cumulative_incidence
    from ..survival.kaplan_meier import kaplan_meier

    return any(estimator is f for f in (kaplan_meier, cumulative_incidence, adjusted_survival))


def _is_match(estimator: Any) -> bool:
    from ..causal.matching import match

    return estimator is match


def _estimate_of(estimator: Callable[..., Any], data: pd.DataFrame, **kwargs: Any
                 ) -> Estimate:
    """The effect of a ``match(outcome=...)`` run (its ``estimate``)."""
    return estimator(data, **kwargs).estimate


def _coefficient_of(estimator: Callable[..., Any], data: pd.DataFrame, *, exposure: str,
                    **kwargs: Any) -> Estimate:
    """The flag's row of a Cox / Fine-Gray / cause-specific Cox fit, as an Estimate."""
    name = getattr(estimator, "__name__", "estimator")
    kwargs.pop("random_state", None)
    table = estimator(data, **kwargs).coef_table()
    hits = [r for r in table.rows
            if r.term == exposure or r.term.startswith(f"{exposure} [cause ")]
    if len(hits) != 1:
        raise DataValidationError(
            f"{verb_name()}(): {name}() needs the flag {exposure!r} as one plain term of "
            "covariates "
            f"(and one cause, e.g. causes=[1], for cause_specific_cox); got terms "
            f"{[r.term for r in table.rows][:6]}. Pass covariates=[{exposure!r}, ...]."
        )
    return hits[0]


def _strata_columns(strata: Any, kwargs: Mapping[str, Any]) -> list[str]:
    if strata is None:
        for key in ("outcome", "event"):
            if isinstance(kwargs.get(key), str):
                return [kwargs[key]]
        return []
    return [strata] if isinstance(strata, str) else list(strata)


def _cells(frame: pd.DataFrame, error: ErrorRates, strata: list[str]
           ) -> tuple[np.ndarray, np.ndarray, int, list[tuple[Any, Any]]]:
    """Stratum cell of each row, the rate level of each cell, and the rates per level."""
    if error.by is None:
        level_idx = np.zeros(len(frame), dtype=np.int64)
        rates = [(error.sensitivity, error.specificity)]
    else:
        levels = error.levels() or []
        present = pd.unique(frame[error.by])
        missing_lv = [lv for lv in present if lv not in levels]
        if missing_lv:
            raise DataValidationError(
                f"{verb_name()}(): levels {_fmt_values(sorted(missing_lv, key=str))} of column "
                f"{error.by!r} (error.by) have no sensitivity/specificity; got rates for "
                f"{_fmt_values(sorted(levels, key=str))}. Give rates for every level (both "
                "rates), or recode the column."
            )
        lookup = {lv: i for i, lv in enumerate(levels)}
        level_idx = frame[error.by].map(lookup).to_numpy(dtype=np.int64)
        rates = [(error.sensitivity[lv], error.specificity[lv])  # type: ignore[index]
                 for lv in levels]
    codes = [level_idx]
    for col in strata:
        c, uniq = pd.factorize(frame[col], sort=True)
        if uniq.size > _MAX_STRATUM_LEVELS:
            raise DataValidationError(
                f"{verb_name()}(): column {col!r} (strata) has {uniq.size:,} distinct values; the "
                "exposure is imputed within strata of the outcome, which must be discrete. Bin "
                f"it into a new column (e.g. pd.qcut(data[{col!r}], 5, labels=False)) and pass "
                "strata=<that column>."
            )
        codes.append(c.astype(np.int64))
    cell_key = np.stack(codes, axis=1)
    uniq_cells, cell = np.unique(cell_key, axis=0, return_inverse=True)
    return cell.ravel(), uniq_cells[:, 0], uniq_cells.shape[0], rates


def _simulate(setup: _Setup, seeds: list, n_jobs: int) -> tuple[np.ndarray, Counter_t]:
    batches = seed_batches(seeds, n_jobs)
    out = Parallel(n_jobs=n_jobs)(delayed(_run_batch)(setup, b) for b in batches)
    seen: Counter_t = {}
    for _, w in out:
        for k, v in w.items():
            seen[k] = seen.get(k, 0) + v
    return np.vstack([r for r, _ in out]), seen
