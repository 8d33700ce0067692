"""What the re-estimating exposure corrections share: the flag's labels, the seeds, the setup.

:func:`~cohortlab.exposures.measurement_error.correct_exposure` (multiple imputation) and
:func:`~cohortlab.exposures.misclassification.bias_analysis` (probabilistic bias analysis)
both impute a true exposure and re-run the user's estimator on every imputed copy.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import verb_name
from ..exceptions import DataValidationError

__all__ = ["RerunSetup", "flag_labels", "naive_kwargs", "refuse_person_period"]


@dataclass(frozen=True)
class RerunSetup:
    """Everything a worker needs to re-run the estimator, picklable (extended per method)."""

    estimator: Callable[..., Any]
    frame: pd.DataFrame
    exposure: str
    labels: tuple[Any, Any] | None  # (reference label, other label) when not 0/1


def flag_labels(frame: pd.DataFrame, exposure: str, reference: Any) -> tuple[Any, Any] | None:
    """``(reference, other)`` labels of a non-0/1 flag; None when no ``reference`` is given.

    >>> flag_labels(pd.DataFrame({"f": ["no", "yes", "no"]}), "f", "no")
    ('no', 'yes')
    """
    if reference is None:
        return None
    other = next(v for v in pd.unique(frame[exposure]) if v != reference)
    return reference, other


def naive_kwargs(params: Collection[str], kwargs: Mapping[str, Any],
                 seed: np.random.SeedSequence) -> tuple[bool, dict[str, Any]]:
    """Whether each re-run gets its own ``random_state``, and the naive run's arguments.

    The estimator is seeded per run when it takes ``random_state`` and the user did not fix
    one; the naive (uncorrected) run is then seeded from ``seed``.

    >>> naive_kwargs(["data", "random_state"], {}, np.random.SeedSequence(1))[0]
    True
    """
    seed_estimator = "random_state" in params and "random_state" not in kwargs
    naive_kw = dict(kwargs)
    if seed_estimator:
        naive_kw["random_state"] = int(np.random.default_rng(seed).integers(2**32))
    return seed_estimator, naive_kw


def refuse_person_period(estimator: Any, params: Collection[str]) -> None:
    """Refuse a person-period verb: of longitudinal/ or trials/, or taking period= and treatment=.

    The corrections impute one true exposure per row of one-row-per-person data and re-run the
    estimator with ``exposure=``; a time-varying treatment has one value per person-period,
    whose errors and history the imputation model does not describe.

    >>> refuse_person_period(len, ["data", "exposure"])  # a point-exposure verb passes
    """
    module = getattr(estimator, "__module__", None) or ""
    if (module.startswith(("cohortlab.longitudinal", "cohortlab.trials"))
            or ("period" in params and "treatment" in params)):
        name = getattr(estimator, "__name__", type(estimator).__name__)
        raise DataValidationError(
            f"{verb_name()}(): {name}() analyses person-period data with a time-varying "
            f"treatment (treatment=); {verb_name()}() corrects a misclassified point exposure "
            "(one row per person, exposure=). For a misclassified time-varying flag, "
            "cl.corrected_prevalence corrects its prevalence in each period from the "
            "sensitivity and specificity; an effect estimate on the flag is not corrected."
        )
