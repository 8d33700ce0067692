"""DoWhy adapter: a ``CausalModel`` from cohortlab-style arguments, and DoWhy's refuters.

``dowhy`` is imported inside the functions only (``import cohortlab`` never imports it);
install it with ``pip install "cohortlab[causal-ml]"`` (or ``pip install dowhy``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._design import covariate_columns
from .._typing import Missing, RandomState
from .._validation import apply_missing, check_binary, check_columns, check_frame, check_option
from ..exceptions import DataValidationError
from ..inference.bootstrap import seed_sequence
from ..results.estimate import Estimate, EstimateTable
from ..sensitivity.refute import ALL_TESTS, EXPECTED, RefuteTest
from ._optional import import_optional

__all__ = ["to_dowhy", "refute_with_dowhy"]

#: Our refutation test names -> DoWhy's refuter method names.
DOWHY_REFUTERS = {"placebo_exposure": "placebo_treatment_refuter",
                  "random_common_cause": "random_common_cause",
                  "data_subset": "data_subset_refuter"}


def _prepare(data: pd.DataFrame, exposure: str, outcome: str, covariates: Any,
             effect_modifiers: Sequence[str] | None, reference: Any, missing: str,
             func: str) -> tuple[pd.DataFrame, list[str], list[str]]:
    data = check_frame(data, func)
    check_columns(data, func, exposure=exposure, outcome=outcome,
                  effect_modifiers=effect_modifiers)
    cov = covariate_columns(covariates, data, func)
    mods = list(effect_modifiers or [])
    frame, _ = apply_missing(data, [exposure, outcome, *cov, *mods], missing, func)
    a = check_binary(frame, exposure, "exposure", func, reference=reference).astype(bool)
    cols = list(dict.fromkeys([outcome, *cov, *mods]))
    out = frame[cols].copy()
    out.insert(0, exposure, a)
    return out, cov, mods


def to_dowhy(
    data: pd.DataFrame,
    *,
    exposure: str,
    outcome: str,
    covariates: str | Sequence[str],
    effect_modifiers: Sequence[str] | None = None,
    reference: Any = None,
    missing: Missing = "raise",
) -> Any:
    """A DoWhy ``CausalModel`` for a binary exposure with ``covariates`` as common causes.

    The exposure is recoded to bool (DoWhy's propensity-score estimators need it);
    ``covariates`` may be a list or a formula, of which only the column names are passed
    (DoWhy builds its own design, one-hot encoding categorical columns). Rows with missing
    values raise, or with ``missing="drop"`` are dropped before the model is built.

    Parameters
    ----------
    data : pandas.DataFrame
    exposure, outcome : str
        The exposure must be binary (0/1, bool, or two labels with ``reference=``).
    covariates : list of str or str
        A list of columns or a formula; only the column names reach DoWhy (it builds its own
        design and one-hot encodes categorical columns), so formula transformations such as
        ``I(age**2)`` are not passed.
    effect_modifiers : list of str, optional
    reference : optional
        Exposure label of the unexposed group, for exposures not coded 0/1.
    missing : {"raise", "drop"}
        ``"raise"`` or ``"drop"`` (incomplete rows removed before the model is built).

    Returns
    -------
    dowhy.CausalModel

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"a": [0, 1, 0, 1], "y": [1.0, 2.0, 1.5, 2.5], "x": [0, 1, 1, 0]})
    >>> model = to_dowhy(d, exposure="a", outcome="y", covariates=["x"])  # doctest: +SKIP
    """
    func = "to_dowhy"
    check_option(missing, Missing, "missing", func)
    dowhy = import_optional("dowhy", func)
    frame, cov, mods = _prepare(data, exposure, outcome, covariates, effect_modifiers,
                                reference, missing, func)
    return dowhy.CausalModel(data=frame, treatment=exposure, outcome=outcome,
                             common_causes=cov, effect_modifiers=mods or None)


def refute_with_dowhy(
    data: pd.DataFrame,
    *,
    exposure: str,
    outcome: str,
    covariates: str | Sequence[str],
    method: str = "backdoor.propensity_score_weighting",
    method_params: dict[str, Any] | None = None,
    tests: Sequence[RefuteTest] | RefuteTest = ("placebo_exposure", "random_common_cause",
                                                "data_subset"),
    n_sims: int = 100,
    subset_fraction: float = 0.8,
    random_state: RandomState = None,
    n_jobs: int = 1,
    reference: Any = None,
    missing: Missing = "raise",
) -> EstimateTable:
    """Run DoWhy's refuters on a DoWhy estimate built from cohortlab-style arguments.

    Estimand: the average treatment effect of DoWhy's ``method`` (backdoor adjustment for
    ``covariates``), then DoWhy's ``placebo_treatment_refuter`` (``placebo_type="permute"``),
    ``random_common_cause`` and ``data_subset_refuter`` — the same tests as the native
    :func:`cohortlab.sensitivity.refute.refute`, computed by DoWhy.

    Assumptions: those of the DoWhy estimator (no unmeasured confounding given
    ``covariates``, positivity, consistency); the refuters are falsification checks.

    Note (DoWhy 0.14): DoWhy's propensity-score methods store the fitted score as a
    ``propensity_score`` column of the model's data and its refuters then reuse it instead
    of refitting, so with ``method="backdoor.propensity_score_weighting"`` the random common
    cause never enters the model and subsets reuse the full-data scores. The native
    :func:`~cohortlab.sensitivity.refute.refute` refits everything.

    Variance: DoWhy reports no interval for the refuted estimate: ``std_error``, ``conf_low``
    and ``conf_high`` are NaN and ``ci_method="none"``; ``p_value`` is DoWhy's
    ``refutation_result["p_value"]`` (NaN when DoWhy's simulated estimates have no spread).
    Each test gets its own ``numpy.random.RandomState`` seeded from ``random_state`` (an int
    seed would make DoWhy 0.14's data-subset refuter draw the same subset every time); with
    ``n_jobs > 1`` DoWhy copies that state into each worker, so prefer ``n_jobs=1``.

    Parameters
    ----------
    data : pandas.DataFrame
    exposure, outcome : str
    covariates : list of str or str
    method : str
        A DoWhy ``estimate_effect`` method name (e.g. ``"backdoor.linear_regression"``).
    method_params : dict, optional
        Passed to DoWhy's ``estimate_effect``.
    tests : sequence of {"placebo_exposure", "random_common_cause", "data_subset"}
    n_sims : int
        DoWhy's ``num_simulations``.
    subset_fraction : float
    random_state : int, numpy.random.Generator or None
        Each test gets its own ``numpy.random.RandomState`` from this seed.
    n_jobs : int
        DoWhy's joblib workers (DoWhy copies the RandomState into each worker: prefer 1).
    reference : optional
    missing : {"raise", "drop"}

    Returns
    -------
    EstimateTable
        One row per test: ``estimate`` DoWhy's ``new_effect``, labels ``original`` (DoWhy's
        estimate), ``expected`` and ``refuted`` (DoWhy's ``is_statistically_significant``),
        ``method="dowhy_<refuter>"``.

    Examples
    --------
    >>> import cohortlab as cl
    >>> d = cl.datasets.load_nhefs().dropna(subset=["wt82_71"])
    >>> res = refute_with_dowhy(d, exposure="qsmk", outcome="wt82_71",
    ...                         covariates=["sex", "age", "wt71"], n_sims=20,
    ...                         random_state=1)  # doctest: +SKIP
    """
    func = "refute_with_dowhy"
    tests = (tests,) if isinstance(tests, str) else tuple(tests)
    for t in tests:
        check_option(t, RefuteTest, "tests", func)
    if not (isinstance(n_sims, int) and n_sims >= 2):
        raise DataValidationError(f"{func}(): n_sims must be an int >= 2; got {n_sims!r}.")
    model = to_dowhy(data, exposure=exposure, outcome=outcome, covariates=covariates,
                     reference=reference, missing=missing)
    estimand = model.identify_effect(proceed_when_unidentifiable=True)
    est = model.estimate_effect(estimand, method_name=method, target_units="ate",
                                method_params=method_params or {})
    original = float(est.value)
    seeds = seed_sequence(random_state, func).spawn(len(ALL_TESTS))
    rows = []
    for test in tests:
        seed = int(seeds[ALL_TESTS.index(test)].generate_state(1)[0])
        # a RandomState, not an int: DoWhy 0.14's data_subset_refuter hands an int seed to
        # DataFrame.sample in every simulation, which would draw the same subset each time
        kwargs: dict[str, Any] = {"num_simulations": int(n_sims),
                                  "random_state": np.random.RandomState(seed), "n_jobs": n_jobs}
        if test == "placebo_exposure":
            kwargs["placebo_type"] = "permute"
        if test == "data_subset":
            kwargs["subset_fraction"] = float(subset_fraction)
        with np.errstate(divide="ignore", invalid="ignore"):  # DoWhy's z with zero spread
            ref = model.refute_estimate(estimand, est, method_name=DOWHY_REFUTERS[test],
                                        **kwargs)
        result = ref.refutation_result or {}
        rows.append(Estimate(
            term=test, estimate=float(ref.new_effect), conf_level=0.95,
            p_value=float(result.get("p_value", np.nan)), estimand="ATE",
            effect_measure="difference", method=f"dowhy_{DOWHY_REFUTERS[test]}",
            ci_method="none", n=len(model._data),
            labels={"original": original, "expected": EXPECTED[test],
                    "refuted": bool(result.get("is_statistically_significant", False))},
            extra={"original": original},
            notes=(f"DoWhy {import_optional('dowhy', func).__version__}: {method}, "
                   f"{DOWHY_REFUTERS[test]} with {n_sims} simulations",)))
    return EstimateTable(rows=tuple(rows), title=f"DoWhy refutation tests: {exposure} ({method})")
