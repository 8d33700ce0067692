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
import inspect
import math
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from .._typing import Missing, RandomState
from .._validation import (
    _fmt_values,
    apply_missing,
    check_binary,
    check_columns,
    check_conf_level,
    check_frame,
)
from ..exceptions import CohortError, DataValidationError
from ..inference.bootstrap import _seed_sequence, seed_batches
from ..results._format import Renderable, fmt_int, fmt_num, fmt_p
from ..results.dropped import Dropped
from ..results.estimate import Estimate, EstimateTable

__all__ = ["BetaRate", "ErrorRates", "BiasAnalysis", "bias_analysis"]

FUNC = "bias_analysis"
_MAX_STRATUM_LEVELS = 20
Counter_t: TypeAlias = dict[str, int]


@dataclass(frozen=True)
class BetaRate:
    """A Beta(alpha, beta) distribution for a sensitivity or specificity.

    Examples
    --------
    >>> BetaRate(91, 11).mean
    0.892...
    """

    alpha: float
    beta: float

    def __post_init__(self) -> None:
        for name in ("alpha", "beta"):
            v = getattr(self, name)
            if not (isinstance(v, numbers.Real) and math.isfinite(v) and v > 0):
                raise DataValidationError(
                    f"ErrorRates(): the Beta {name} must be a positive finite number; got "
                    f"{v!r}. Pass counts with ErrorRates.from_counts(tp, fn, tn, fp)."
                )

    @property
    def mean(self) -> float:
        """The mean ``alpha / (alpha + beta)``."""
        return self.alpha / (self.alpha + self.beta)


Rate: TypeAlias = "float | tuple[float, float] | BetaRate"


@dataclass(frozen=True)
class ErrorRates:
    """Sensitivity and specificity of a binary exposure flag, from an external validation.

    Each rate is a point value in (0, 1] (fixed in every simulation), a ``(low, high)`` 95%
    interval (drawn from the Beta distribution whose 2.5% and 97.5% quantiles are ``low`` and
    ``high``), or a :class:`BetaRate` (``from_counts`` builds ``Beta(tp + 1, fn + 1)`` and
    ``Beta(tn + 1, fp + 1)``: the posterior of a uniform prior given the validation counts).
    With ``by``, each rate is a mapping ``level of data[by] -> rate``; for rates that
    differ by outcome (differential misclassification) pass ``by=<the outcome column>``.

    Examples
    --------
    >>> er = ErrorRates(sensitivity=(0.80, 0.92), specificity=0.97)
    >>> er.levels() is None
    True
    >>> ErrorRates.from_counts(tp=90, fn=10, tn=485, fp=15).sensitivity
    BetaRate(alpha=91, beta=11)
    """

    sensitivity: Rate | Mapping[Any, Rate]
    specificity: Rate | Mapping[Any, Rate]
    by: str | None = None

    def __post_init__(self) -> None:
        if self.by is not None and not isinstance(self.by, str):
            raise DataValidationError(
                f"ErrorRates(): by must be a column name (str) or None; got {self.by!r}."
            )
        for name in ("sensitivity", "specificity"):
            value = getattr(self, name)
            if self.by is None:
                if isinstance(value, Mapping):
                    raise DataValidationError(
                        f"ErrorRates(): {name} is a mapping of levels but by is None; got "
                        f"keys {list(value)[:5]}. Pass by=<the column whose levels these are>."
                    )
                _check_rate(value, name)
            else:
                if not isinstance(value, Mapping):
                    raise DataValidationError(
                        f"ErrorRates(): with by={self.by!r}, {name} must be a mapping "
                        f"level -> rate; got {value!r}. Pass e.g. {{0: 0.9, 1: 0.7}}."
                    )
                for level, rate in value.items():
                    _check_rate(rate, f"{name}[{level!r}]")
        if self.by is None:
            _check_point_sum(self.sensitivity, self.specificity, "")
        else:
            for level in set(self.sensitivity) & set(self.specificity):  # type: ignore[arg-type]
                _check_point_sum(self.sensitivity[level], self.specificity[level],  # type: ignore[index]
                                 f" at {self.by}={level!r}")

    @classmethod
    def from_counts(
        cls,
        tp: int | Mapping[Any, int],
        fn: int | Mapping[Any, int],
        tn: int | Mapping[Any, int],
        fp: int | Mapping[Any, int],
        *,
        by: str | None = None,
    ) -> ErrorRates:
        """Rates from validation counts: ``Se ~ Beta(tp+1, fn+1)``, ``Sp ~ Beta(tn+1, fp+1)``.

        With ``by``, each count is a mapping ``level -> count`` (same levels in all four).
        """
        if by is None:
            _check_counts(tp, fn, tn, fp)
            return cls(BetaRate(tp + 1, fn + 1), BetaRate(tn + 1, fp + 1))  # type: ignore[operator]
        maps = {"tp": tp, "fn": fn, "tn": tn, "fp": fp}
        if not all(isinstance(m, Mapping) for m in maps.values()):
            raise DataValidationError(
                f"ErrorRates.from_counts(): with by={by!r} every count must be a mapping "
                "level -> count. Pass e.g. tp={0: 90, 1: 40}."
            )
        levels = set(tp)  # type: ignore[arg-type]
        if any(set(m) != levels for m in maps.values()):  # type: ignore[arg-type]
            raise DataValidationError(
                "ErrorRates.from_counts(): tp, fn, tn and fp must have the same levels; got "
                f"{ {k: sorted(m, key=str) for k, m in maps.items()} }."  # type: ignore[arg-type]
            )
        se, sp = {}, {}
        for lv in levels:
            _check_counts(tp[lv], fn[lv], tn[lv], fp[lv])  # type: ignore[index]
            se[lv] = BetaRate(tp[lv] + 1, fn[lv] + 1)  # type: ignore[index]
            sp[lv] = BetaRate(tn[lv] + 1, fp[lv] + 1)  # type: ignore[index]
        return cls(se, sp, by=by)

    def levels(self) -> list[Any] | None:
        """Levels with both rates (``None`` without ``by``)."""
        if self.by is None:
            return None
        return [lv for lv in self.sensitivity if lv in self.specificity]  # type: ignore[union-attr]


def _check_rate(rate: Any, name: str) -> None:
    if isinstance(rate, BetaRate):
        return
    if isinstance(rate, tuple):
        ok = len(rate) == 2 and all(_is_real(v) for v in rate)
        if not ok or not 0.0 < rate[0] < rate[1] < 1.0:
            raise DataValidationError(
                f"ErrorRates(): {name} as an interval must be (low, high) with "
                f"0 < low < high < 1; got {rate!r}. Pass e.g. (0.80, 0.92), or a point value."
            )
        return
    if not _is_real(rate) or not 0.0 < float(rate) <= 1.0:
        raise DataValidationError(
            f"ErrorRates(): {name} must be in (0, 1]; got {rate!r}. Pass a proportion "
            "(e.g. 0.86, not 86), a (low, high) interval or a BetaRate."
        )


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _check_point_sum(se: Any, sp: Any, where: str) -> None:
    if _is_real(se) and _is_real(sp) and float(se) + float(sp) <= 1.0:
        raise DataValidationError(
            f"ErrorRates(): sensitivity + specificity must exceed 1{where}; got "
            f"{float(se):g} + {float(sp):g} = {float(se) + float(sp):g}. A flag this poor is "
            "no better than chance; check that the rates are not swapped or reversed "
            "(1 - sensitivity is the false-negative rate)."
        )


def _check_counts(*counts: Any) -> None:
    if not all(isinstance(c, numbers.Integral) and not isinstance(c, bool) and c >= 0
               for c in counts):
        raise DataValidationError(
            "ErrorRates.from_counts(): tp, fn, tn and fp must be non-negative integers; got "
            f"{counts!r}."
        )


# ----------------------------------------------------------------- array-only numbers


@functools.lru_cache(maxsize=256)
def _beta_from_interval(low: float, high: float) -> tuple[float, float]:
    """Beta(a, b) whose 2.5% and 97.5% quantiles are ``low`` and ``high``."""
    from scipy.optimize import least_squares
    from scipy.special import logit
    from scipy.stats import beta

    m, sd = (low + high) / 2, (high - low) / 3.919927969080108
    k = max(m * (1 - m) / sd**2 - 1.0, 2.0)
    target = logit([low, high])

    def resid(p: np.ndarray) -> np.ndarray:
        a, b = np.exp(p)
        return logit(np.clip(beta.ppf([0.025, 0.975], a, b), 1e-300, 1 - 1e-16)) - target

    sol = least_squares(resid, np.log([m * k, (1 - m) * k]), xtol=1e-14, ftol=1e-14,
                        gtol=1e-14)
    if np.max(np.abs(sol.fun)) > 1e-6:
        raise DataValidationError(
            f"ErrorRates(): no Beta distribution has 95% interval ({low:g}, {high:g}). "
            "Pass the validation counts with ErrorRates.from_counts() or a BetaRate instead."
        )
    a, b = np.exp(sol.x)
    return float(a), float(b)


def _draw_rate(rng: np.random.Generator, rate: Any) -> float:
    if isinstance(rate, BetaRate):
        return float(rng.beta(rate.alpha, rate.beta))
    if isinstance(rate, tuple):
        return float(rng.beta(*_beta_from_interval(float(rate[0]), float(rate[1]))))
    return float(rate)


def _predictive_values(
    se: np.ndarray, sp: np.ndarray, p_obs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(true = 1 | flag = 1), P(true = 1 | flag = 0) and the true prevalence, per cell.

    ``se``, ``sp`` and the observed flag prevalence ``p_obs`` are per stratum cell. The true
    prevalence is ``(p_obs + sp - 1) / (se + sp - 1)``; predictive values follow from Bayes.
    """
    p_true = (p_obs + sp - 1.0) / (se + sp - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        q1 = np.where(p_obs > 0, se * p_true / p_obs, 0.0)
        q0 = np.where(p_obs < 1, (1.0 - se) * p_true / (1.0 - p_obs), 1.0)
    return np.clip(q1, 0.0, 1.0), np.clip(q0, 0.0, 1.0), p_true


def _impute(rng: np.random.Generator, flag: np.ndarray, cell: np.ndarray, q1: np.ndarray,
            q0: np.ndarray) -> np.ndarray:
    """One Bernoulli draw of the true exposure per record."""
    q = np.where(flag == 1, q1[cell], q0[cell])
    return (rng.random(flag.size) < q).astype(np.int64)


def _cell_prevalence(flag: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    counts = np.bincount(cell, minlength=n_cells)
    return np.bincount(cell, weights=flag, minlength=n_cells) / np.maximum(counts, 1)


# ----------------------------------------------------------------------- simulations


@dataclass(frozen=True)
class _Setup:
    """Everything a worker needs, picklable."""

    estimator: Callable[..., Estimate]
    frame: pd.DataFrame
    exposure: str
    labels: tuple[Any, Any] | None  # (reference label, other label) when not 0/1
    flag: np.ndarray
    cell: np.ndarray  # stratum cell of each row
    cell_level: np.ndarray  # index into the rate levels of each cell
    p_obs: np.ndarray
    se_rates: tuple[Any, ...]
    sp_rates: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    seed_estimator: bool = False  # pass each run its own random_state


def _one_sim(setup: _Setup, seed: np.random.SeedSequence) -> tuple[np.ndarray, Counter_t]:
    """Draw rates, impute, re-estimate, add random error; a row of the draws table."""
    rng = np.random.default_rng(seed)
    n_lv = len(setup.se_rates)
    se = np.array([_draw_rate(rng, r) for r in setup.se_rates])
    sp = np.array([_draw_rate(rng, r) for r in setup.sp_rates])
    row = np.full(2 * n_lv + 4, np.nan)
    row[:n_lv], row[n_lv:2 * n_lv] = se, sp
    status = row[2 * n_lv:2 * n_lv + 1]
    if np.any(se + sp <= 1.0):
        status[0] = 1  # rejected: Se + Sp <= 1
        return row, {}
    q1, q0, p_true = _predictive_values(se[setup.cell_level], sp[setup.cell_level], setup.p_obs)
    if np.any((p_true < 0) | (p_true > 1)):
        status[0] = 2  # rejected: implied true prevalence outside [0, 1] in some cell
        return row, {}
    x = _impute(rng, setup.flag, setup.cell, q1, q0)
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
    rows, seen = [], {}
    for s in seeds:
        row, w = _one_sim(setup, s)
        rows.append(row)
        for k, v in w.items():
            seen[k] = seen.get(k, 0) + v
    return np.vstack(rows), seen


# ------------------------------------------------------------------------------ result


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class BiasAnalysis(Renderable):
    """Result of :func:`bias_analysis`: the naive and the bias-corrected estimates.

    Attributes
    ----------
    naive : Estimate
        The estimator on the observed (misclassified) exposure.
    systematic, total : Estimate
        Median of the corrected estimates and the simulation interval (the ``conf_level``
        percentiles) for systematic error only, and for systematic plus random error.
        ``std_error`` is the SD of the draws on the model scale (log for ratios).
    draws : pandas.DataFrame
        One row per simulation: the drawn rates, ``status`` ("ok", "rejected_se_sp",
        "rejected_prevalence", "failed"), ``estimate`` and ``std_error`` (model scale), and
        the corrected values on the reported scale, ``systematic`` and ``total``.
    n_sims, n_rejected, n_failed : int
        Simulations run; rejected rate draws (Se + Sp <= 1, or an implied true prevalence
        outside [0, 1] in some stratum); failed estimator runs.
    """

    naive: Estimate
    systematic: Estimate
    total: Estimate
    draws: pd.DataFrame = field(repr=False)
    error: ErrorRates
    n_sims: int
    n_rejected: int
    n_rejected_se_sp: int
    n_failed: int
    strata: tuple[str, ...] = ()
    dropped: Dropped = field(default_factory=Dropped)
    notes: tuple[str, ...] = ()

    def table(self) -> EstimateTable:
        """The three rows as an :class:`EstimateTable`."""
        return EstimateTable(rows=(self.naive, self.systematic, self.total),
                             title=self._title(), dropped=self.dropped, notes=self.notes)

    def to_frame(self) -> pd.DataFrame:
        """Tidy rows ``naive``, ``corrected (systematic)``, ``corrected (total)``."""
        return self.table().to_frame()

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        recs = []
        for r in (self.naive, self.systematic, self.total):
            recs.append({
                "term": r.term, "estimate": fmt_num(r.estimate, digits),
                "std_error": fmt_num(r.std_error, digits),
                "conf_low": fmt_num(r.conf_low, digits),
                "conf_high": fmt_num(r.conf_high, digits), "p_value": fmt_p(r.p_value, digits),
            })
        return pd.DataFrame(recs)

    def _title(self) -> str:
        return f"Probabilistic bias analysis · misclassified {self.naive.labels['exposure']!s}"

    def _footer(self) -> list[str]:
        ok = self.n_sims - self.n_rejected - self.n_failed
        lvl = f"{100 * self.naive.conf_level:g}%"
        line = (f"{fmt_int(ok)} of {fmt_int(self.n_sims)} simulations used "
                f"({fmt_int(self.n_rejected)} rejected rate draws, {fmt_int(self.n_failed)} "
                f"failed) · naive: {lvl} CI; corrected: median and {lvl} simulation interval")
        if self.naive.is_ratio:
            line += " · SE on the log scale"
        strata = (f"imputation within strata of {', '.join(self.strata)}" if self.strata
                  else "imputation not stratified")
        return [line, strata, *self.notes]


# -------------------------------------------------------------------------- public verb


def bias_analysis(
    estimator: Callable[..., Estimate],
    data: pd.DataFrame,
    *,
    exposure: str,
    error: ErrorRates,
    n_sims: int = 1000,
    strata: str | Sequence[str] | None = None,
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

    Assumptions: the validation rates transport to this cohort (within ``error.by``
    levels); misclassification is non-differential given the strata (rates do not depend on
    the outcome unless ``by`` is the outcome); the estimator's own assumptions.

    Variance: simulation intervals; the total interval combines the rate uncertainty, the
    imputation and the estimator's sampling error (its ``std_error``).

    Parameters
    ----------
    estimator : callable
        A cohortlab verb ``estimator(data, *, exposure=..., **estimator_kwargs) -> Estimate``
        (``cl.crude_effect``, ``cl.ipw``, ``cl.aipw``, ``cl.gformula``, ...).
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
        Missing values in ``exposure``, ``error.by`` and ``strata``; passed on to
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
    data = check_frame(data, FUNC)
    params = _check_estimator(estimator)
    if not isinstance(error, ErrorRates):
        raise DataValidationError(
            f"{FUNC}(): error must be an ErrorRates; got {type(error).__name__}. Pass e.g. "
            "error=ErrorRates(sensitivity=(0.80, 0.92), specificity=0.97)."
        )
    if not (isinstance(n_sims, numbers.Integral) and not isinstance(n_sims, bool)
            and n_sims >= 2):
        raise DataValidationError(f"{FUNC}(): n_sims must be an int >= 2; got {n_sims!r}.")
    conf_level = check_conf_level(conf_level, FUNC)
    strata_cols = _strata_columns(strata, estimator_kwargs)
    check_columns(data, FUNC, exposure=exposure, by=error.by, strata=strata_cols)
    kwargs = dict(estimator_kwargs)
    for name, value in (("conf_level", conf_level), ("missing", missing)):
        if name in params or "**" in params:
            kwargs.setdefault(name, value)
    used = [exposure, *([error.by] if error.by else []), *strata_cols]
    frame, dropped = apply_missing(data, used, missing, FUNC)
    flag = check_binary(frame, exposure, "exposure", FUNC, reference=kwargs.get("reference"))
    labels = _labels(frame, exposure, kwargs.get("reference"))
    seeds = _seed_sequence(random_state, FUNC).spawn(int(n_sims) + 1)
    seed_estimator = "random_state" in params and "random_state" not in kwargs
    naive_kw = dict(kwargs)
    if seed_estimator:
        naive_kw["random_state"] = int(np.random.default_rng(seeds[-1]).integers(2**32))
    naive = estimator(frame, exposure=exposure, **naive_kw)
    cell, cell_level, n_cells, rates = _cells(frame, error, strata_cols)
    frame = frame.copy(deep=False)
    frame.attrs = {}  # attrs are deep-copied by every pandas op: drop them for speed
    setup = _Setup(
        estimator=estimator, frame=frame, exposure=exposure, labels=labels, flag=flag,
        cell=cell, cell_level=cell_level, p_obs=_cell_prevalence(flag, cell, n_cells),
        se_rates=tuple(r[0] for r in rates), sp_rates=tuple(r[1] for r in rates),
        kwargs=kwargs, seed_estimator=seed_estimator,
    )
    rows, seen = _simulate(setup, seeds[:-1], n_jobs)
    return _build(naive, rows, seen, error, rates, exposure, strata_cols, int(n_sims),
                  conf_level, dropped)


def _check_estimator(estimator: Any) -> dict[str, Any]:
    if not callable(estimator):
        raise DataValidationError(
            f"{FUNC}(): estimator must be a cohortlab verb (a function); got "
            f"{type(estimator).__name__}. Pass e.g. cl.crude_effect (not cl.crude_effect(...))."
        )
    try:
        sig = inspect.signature(estimator)
    except (TypeError, ValueError):
        return {"**": True}
    params = {k: p for k, p in sig.parameters.items()}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        params["**"] = True
    elif "exposure" not in params:
        name = getattr(estimator, "__name__", type(estimator).__name__)
        raise DataValidationError(
            f"{FUNC}(): estimator {name}() has no exposure argument; got parameters "
            f"{list(sig.parameters)[:6]}. Pass a verb called as estimator(data, exposure=..., "
            "...) that returns an Estimate, or wrap yours in a function that does."
        )
    return params


def _strata_columns(strata: Any, kwargs: Mapping[str, Any]) -> list[str]:
    if strata is None:
        for key in ("outcome", "event"):
            if isinstance(kwargs.get(key), str):
                return [kwargs[key]]
        return []
    return [strata] if isinstance(strata, str) else list(strata)


def _labels(frame: pd.DataFrame, exposure: str, reference: Any) -> tuple[Any, Any] | None:
    if reference is None:
        return None
    other = next(v for v in pd.unique(frame[exposure]) if v != reference)
    return reference, other


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
                f"{FUNC}(): levels {_fmt_values(sorted(missing_lv, key=str))} of column "
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
                f"{FUNC}(): column {col!r} (strata) has {uniq.size:,} distinct values; the "
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


_STATUS = np.array(["ok", "rejected_se_sp", "rejected_prevalence", "failed"])


def _build(naive: Estimate, rows: np.ndarray, seen: Counter_t, error: ErrorRates,
           rates: list, exposure: str, strata: list[str], n_sims: int, conf_level: float,
           dropped: Dropped) -> BiasAnalysis:
    n_lv = len(rates)
    status = rows[:, 2 * n_lv].astype(int)
    theta, se_, tot = rows[:, 2 * n_lv + 1], rows[:, 2 * n_lv + 2], rows[:, 2 * n_lv + 3]
    ok = status == 0
    if ok.sum() < 2:
        raise CohortError(
            f"{FUNC}(): only {int(ok.sum())} of {n_sims:,} simulations gave an estimate "
            f"({int((status == 1).sum())} with Se + Sp <= 1, {int((status == 2).sum())} with an "
            f"impossible true prevalence, {int((status == 3).sum())} estimator failures). The "
            "rates are incompatible with the observed flag prevalence; check them."
        )
    names = (["sensitivity", "specificity"] if error.by is None else
             [f"{r}[{lv}]" for r in ("sensitivity", "specificity") for lv in error.levels()])  # type: ignore[union-attr]
    tr = np.exp if naive.is_ratio else (lambda v: v)
    draws = pd.DataFrame(rows[:, :2 * n_lv], columns=names)
    draws.insert(0, "sim", np.arange(n_sims))
    draws["status"] = _STATUS[status]
    draws["estimate"], draws["std_error"] = theta, se_
    draws["systematic"], draws["total"] = tr(theta), tr(tot)
    labels = {"exposure": exposure}
    common = dict(estimand=naive.estimand, effect_measure=naive.effect_measure,
                  method=naive.method, n=naive.n, n_events=naive.n_events,
                  conf_level=conf_level, labels=labels, ci_method="simulation_percentile")
    from dataclasses import replace

    naive_row = replace(naive, term="naive", labels=labels)
    n_rej_sesp = int((status == 1).sum())
    n_rej = n_rej_sesp + int((status == 2).sum())
    n_failed = int((status == 3).sum())
    notes = tuple(f"{v:,} of {int(ok.sum()):,} estimator runs emitted {k}"
                  for k, v in sorted(seen.items()))
    if n_rej:
        notes += (f"{n_rej:,} of {n_sims:,} rate draws rejected ({n_rej_sesp:,} with Se + Sp "
                  f"<= 1, {n_rej - n_rej_sesp:,} implying a true prevalence outside [0, 1])",)
    return BiasAnalysis(
        naive=naive_row,
        systematic=_summary_row("corrected (systematic)", theta[ok], tr, conf_level, common),
        total=_summary_row("corrected (total)", tot[ok], tr, conf_level, common),
        draws=draws, error=error, n_sims=n_sims, n_rejected=n_rej,
        n_rejected_se_sp=n_rej_sesp, n_failed=n_failed, strata=tuple(strata),
        dropped=dropped, notes=notes,
    )


def _summary_row(term: str, values: np.ndarray, tr: Callable, conf_level: float,
                 common: Mapping[str, Any]) -> Estimate:
    alpha = 1.0 - conf_level
    med, lo, hi = np.quantile(values, [0.5, alpha / 2, 1 - alpha / 2])
    return Estimate(term=term, estimate=float(tr(med)), std_error=float(values.std(ddof=1)),
                    conf_low=float(tr(lo)), conf_high=float(tr(hi)), replicates=values,
                    **common)
