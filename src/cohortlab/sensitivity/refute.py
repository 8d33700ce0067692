"""``refute``: DoWhy-style refutation tests run natively on any cohortlab estimator.

Each test re-runs the estimator ``n_sims`` times on altered data and compares the estimates
with what an unbiased, stable estimator should give: ~no effect when the exposure is a
permuted placebo; the original estimate when a random (irrelevant) covariate is added or
when the estimate is refitted on random subsets. The definitions follow DoWhy 0.14's
``placebo_treatment_refuter`` (``placebo_type="permute"``), ``random_common_cause`` and
``data_subset_refuter``, and the p-value its ``test_significance``.

These are falsification checks of the analysis code and its stability, not of
unmeasured confounding: passing them does not make the estimate causal.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from .._typing import RandomState
from .._validation import check_columns, check_estimator, check_int, check_option, verb, verb_name
from ..exceptions import CohortError, DataValidationError
from ..inference.bootstrap import seed_batches, seed_sequence
from ..results.estimate import Estimate, EstimateTable
from ._refute import dowhy_p_value, subset_rows

__all__ = ["refute"]

RefuteTest: TypeAlias = Literal["placebo_exposure", "random_common_cause", "data_subset"]
SignificanceTest: TypeAlias = Literal["auto", "bootstrap", "normal"]
ALL_TESTS: tuple[str, ...] = get_args(RefuteTest)
#: What each test's simulated estimates should look like if the estimate is sound.
EXPECTED = {"placebo_exposure": "null", "random_common_cause": "unchanged",
            "data_subset": "unchanged"}


# ---------------------------------------------------------------------- one replicate
def _altered(test: str, data: pd.DataFrame, exposure: str, rng: np.random.Generator,
             kwargs: dict[str, Any], fraction: float, random_col: str
             ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The replicate's data and estimator arguments."""
    if test == "placebo_exposure":
        values = data[exposure].to_numpy()
        return data.assign(**{exposure: values[rng.permutation(len(data))]}), kwargs
    if test == "random_common_cause":
        cov = kwargs["covariates"]
        new = f"{cov} + {random_col}" if isinstance(cov, str) else [*cov, random_col]
        return (data.assign(**{random_col: rng.standard_normal(len(data))}),
                {**kwargs, "covariates": new})
    return data.iloc[subset_rows(rng, len(data), fraction)], kwargs


def _run_batch(estimator: Callable[..., Any], data: pd.DataFrame, exposure: str, test: str,
               seeds: list, kwargs: dict[str, Any], fraction: float, random_col: str,
               ratio: bool) -> tuple[np.ndarray, list[str], list[str]]:
    out = np.full(len(seeds), np.nan)
    errors: list[str] = []
    warned: list[str] = []
    for i, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        d, kw = _altered(test, data, exposure, rng, kwargs, fraction, random_col)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                est = _as_estimate(estimator(d, exposure=exposure, **kw))
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
        if caught:
            warned.append(f"{caught[0].category.__name__}: {caught[0].message}")
        out[i] = _model_scale(est.estimate, ratio)
    return out, errors, warned


# ---------------------------------------------------------------------- helpers
def _as_estimate(result: Any) -> Estimate:
    if isinstance(result, EstimateTable) and len(result) == 1:
        return result[0]
    if not isinstance(result, Estimate):
        raise DataValidationError(
            f"{verb_name()}(): the estimator must return an Estimate (or a one-row EstimateTable); "
            f"got {type(result).__name__}. Wrap it, e.g. lambda d, **kw: my_fit(d, **kw)[0].")
    return result


def _model_scale(value: float, ratio: bool) -> float:
    if not ratio:
        return float(value)
    return math.log(value) if value > 0 else math.nan


def _natural(value: float, ratio: bool) -> float:
    return math.exp(value) if ratio and np.isfinite(value) else float(value)


def _check_args(estimator: Any, tests: Any, n_sims: Any, subset_fraction: Any,
                estimator_kwargs: dict[str, Any]) -> tuple[RefuteTest, ...]:
    check_estimator(estimator)
    tests = (tests,) if isinstance(tests, str) else tuple(tests)
    if not tests:
        raise DataValidationError(f"{verb_name()}(): tests is empty; name at least one of "
                                  f"{ALL_TESTS}.")
    for t in tests:
        check_option(t, RefuteTest, "tests")
    if len(set(tests)) != len(tests):
        raise DataValidationError(f"{verb_name()}(): tests has duplicates; got {list(tests)}.")
    check_int(n_sims, "n_sims", 2, hint="DoWhy uses 100.")
    if not (isinstance(subset_fraction, float | int) and 0 < subset_fraction < 1):
        raise DataValidationError(
            f"{verb_name()}(): subset_fraction must be in (0, 1); got {subset_fraction!r}. "
            "DoWhy uses 0.8.")
    if "random_common_cause" in tests and "covariates" not in estimator_kwargs:
        raise DataValidationError(
            f"{verb_name()}(): the random_common_cause test adds a column to covariates=, but no "
            "covariates were given. Pass covariates= (the estimator's argument) or drop "
            "this test.")
    return tests


def _random_column(data: pd.DataFrame) -> str:
    name = "w_random"
    while name in data.columns:
        name = f"_{name}"
    return name


# ---------------------------------------------------------------------- public
@verb
def refute(
    estimator: Callable[..., Any],
    data: pd.DataFrame,
    *,
    exposure: str,
    tests: Sequence[RefuteTest] | RefuteTest = ("placebo_exposure", "random_common_cause",
                                                "data_subset"),
    n_sims: int = 100,
    subset_fraction: float = 0.8,
    significance_test: SignificanceTest = "auto",
    conf_level: float = 0.95,
    random_state: RandomState = None,
    n_jobs: int = 1,
    **estimator_kwargs: Any,
) -> EstimateTable:
    """Refutation tests of an effect estimate (DoWhy's refuters, run natively).

    Estimand: for each test, the distribution of the estimator's output over ``n_sims``
    altered data sets, summarised by its mean, spread and a p-value for the value a sound
    estimate should give:

    - ``"placebo_exposure"``: the exposure column permuted across rows, which severs any
      effect: the estimates should centre on the null (0, or 1 for ratios); the p-value tests
      the null value against them (DoWhy's placebo refuter with ``placebo_type="permute"``).
    - ``"random_common_cause"``: an independent standard normal column added to
      ``covariates``: the estimates should stay at the original; the p-value tests the
      original against them.
    - ``"data_subset"``: refits on random ``subset_fraction`` subsets (without replacement):
      the estimates should centre on the original.

    Assumptions: none beyond the estimator's; these are falsification checks of the analysis
    (coding errors, instability, overfitting), not tests of unmeasured confounding.

    Variance: the simulated estimates' own spread. ``std_error`` is their standard deviation
    (on the log scale for ratios), ``conf_low``/``conf_high`` their ``conf_level`` percentile
    interval. The p-value is DoWhy's ``test_significance``: with ``"auto"``, the two-sided
    percentile ("bootstrap") p-value when at least 100 simulations succeeded, else the normal
    one-tail ``Phi(-|z|)``. Ratios are summarised on the log scale (DoWhy works on the
    estimate's own scale). Each simulation draws from its own spawned seed, so the same
    ``random_state`` gives the same numbers whatever ``n_jobs``.

    Parameters
    ----------
    estimator : callable
        A cohortlab estimator called as ``estimator(data, exposure=..., **estimator_kwargs)``
        that returns an :class:`Estimate` (e.g. :func:`cohortlab.ipw`, ``aipw``, ``tmle``,
        ``gformula``, ``crude_effect``).
    data : pandas.DataFrame
    exposure : str
        The exposure column (permuted by the placebo test).
    tests : sequence of {"placebo_exposure", "random_common_cause", "data_subset"}
        Any of ``"placebo_exposure"``, ``"random_common_cause"``, ``"data_subset"``.
    n_sims : int
        Simulations per test (DoWhy's ``num_simulations``, 100).
    subset_fraction : float
        Fraction of rows kept by ``"data_subset"`` (DoWhy's default 0.8).
    significance_test : {"auto", "bootstrap", "normal"}
    conf_level : float
        Level of the percentile interval; a test is flagged ``refuted`` when its p-value is
        at most ``1 - conf_level``.
    random_state : int, numpy.random.Generator or None
        The seed; the same seed gives the same numbers whatever ``n_jobs``, and whichever
        tests are run.
    n_jobs : int
        joblib workers.
    **estimator_kwargs
        Passed to the estimator (``outcome=``, ``covariates=``, ...).

    Returns
    -------
    EstimateTable
        One row per test (``term`` the test's name, ``method`` ``refute_<test>``,
        ``ci_method="refutation_simulations"``), ``estimate`` the mean simulated estimate
        (natural scale), labels ``original`` (the estimate on the data), ``expected``
        (``"null"`` or ``"unchanged"``), ``n_sims`` (successful simulations) and ``refuted``;
        ``extra`` holds ``tested_value`` and ``n_failed``; ``replicates`` the simulated
        estimates (model scale). Failed simulations (estimator errors) are excluded and
        counted in the notes, as are simulations that emitted warnings.

    References
    ----------
    Sharma A, Kiciman E. DoWhy: an end-to-end library for causal inference. arXiv:2011.04216.
    Sharma A, Syrgkanis V, Zhang C, Kiciman E. DoWhy: addressing challenges in expressing and
    validating causal assumptions. arXiv:2108.13518.

    Examples
    --------
    >>> import cohortlab as cl
    >>> d = cl.datasets.load_nhefs().dropna(subset=["wt82_71"])
    >>> res = refute(cl.crude_effect, d, exposure="qsmk", outcome="wt82_71",
    ...              tests=["placebo_exposure", "data_subset"], n_sims=20, random_state=1)
    >>> res.to_frame()[["term", "original", "estimate", "p_value"]].round(3)
                   term  original  estimate  p_value
    0  placebo_exposure     2.541     0.043    0.447
    1       data_subset     2.541     2.569    0.457
    """
    check_columns(data, exposure=exposure)
    tests = _check_args(estimator, tests, n_sims, subset_fraction, estimator_kwargs)
    original = _as_estimate(estimator(data, exposure=exposure, **estimator_kwargs))
    ratio = original.is_ratio
    point = _model_scale(original.estimate, ratio)
    children = seed_sequence(random_state, verb_name()).spawn(len(ALL_TESTS))
    random_col = _random_column(data)
    rows = []
    for test in tests:
        seeds = children[ALL_TESTS.index(test)].spawn(int(n_sims))
        results = Parallel(n_jobs=n_jobs)(
            delayed(_run_batch)(estimator, data, exposure, test, batch,
                                estimator_kwargs, float(subset_fraction), random_col, ratio)
            for batch in seed_batches(seeds, n_jobs))
        sims = np.concatenate([r[0] for r in results])
        errors = [e for r in results for e in r[1]]
        warned = [w for r in results for w in r[2]]
        rows.append(_summarise(test, original, point, sims, errors, warned, ratio,
                               significance_test, conf_level))
    title = f"Refutation tests: {exposure} ({original.method or 'estimator'})"
    return EstimateTable(rows=tuple(rows), title=title, dropped=original.dropped)


def _summarise(test: str, original: Estimate, point: float, sims: np.ndarray,
               errors: list[str], warned: list[str], ratio: bool, significance_test: str,
               conf_level: float) -> Estimate:
    valid = sims[np.isfinite(sims)]
    n_sims = sims.size
    if valid.size < 2:
        first = errors[0] if errors else "non-finite estimates"
        raise CohortError(
            f"{verb_name()}(): the {test} test failed in {n_sims - valid.size} of {n_sims} "
            f"simulations (first: {first}). The estimator cannot be refitted on the altered "
            "data; check it runs on a permuted exposure or a subset.")
    tested = 0.0 if test == "placebo_exposure" else point
    kind = significance_test
    if kind == "auto":
        kind = "bootstrap" if valid.size >= 100 else "normal"
    p = dowhy_p_value(tested, valid, kind)
    alpha = 1 - conf_level
    lo, hi = np.quantile(valid, [alpha / 2, 1 - alpha / 2])
    mean = float(valid.mean())
    notes = [f"{test}: {valid.size} of {n_sims} simulations; p-value by the {kind} test of "
             f"DoWhy (tested value {_natural(tested, ratio):.4g})"]
    n_failed = n_sims - valid.size
    if n_failed:
        notes.append(f"{test}: {n_failed} simulations failed and were excluded "
                     f"(first: {(errors or ['non-finite estimate'])[0]})")
    if warned:
        notes.append(f"{test}: {len(warned)} simulations emitted warnings (first: {warned[0]})")
    return Estimate(
        term=test,
        estimate=_natural(mean, ratio),
        std_error=float(valid.std(ddof=1)),
        conf_low=_natural(float(lo), ratio),
        conf_high=_natural(float(hi), ratio),
        conf_level=conf_level,
        p_value=p,
        estimand=original.estimand,
        effect_measure=original.effect_measure,
        method=f"refute_{test}",
        ci_method="refutation_simulations",
        n=original.n,
        n_events=original.n_events,
        notes=tuple(notes),
        labels={"original": original.estimate, "expected": EXPECTED[test],
                "n_sims": int(valid.size), "refuted": bool(p <= alpha)},
        extra={"tested_value": _natural(tested, ratio), "n_failed": float(n_failed),
               "original": original.estimate},
        replicates=valid,
    )
