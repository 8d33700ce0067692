"""Errors and warnings raised by cohortlab.

Every validation error subclasses both :class:`CohortError` and :class:`ValueError`, so a
generic ``except ValueError`` keeps working. Warnings have their own classes so they can be
filtered; each warning an estimator emits is also recorded in the result's ``notes``.

Messages follow one template::

    <function>(): <what is wrong> in <argument/column>; got <value or summary>. <How to fix>.
"""

from __future__ import annotations

__all__ = [
    "CohortError",
    "DataValidationError",
    "MissingDataError",
    "ConvergenceError",
    "CohortWarning",
    "PositivityWarning",
    "ExtremeWeightWarning",
    "LowEffectiveSampleSizeWarning",
    "FewEventsWarning",
    "ZeroTimeWarning",
    "MonotoneLikelihoodWarning",
]


class CohortError(ValueError):
    """Base class of every error cohortlab raises about its input or a fit."""


class DataValidationError(CohortError):
    """The data or an argument does not meet a requirement (column, dtype, domain)."""


class MissingDataError(DataValidationError):
    """Missing values in an analysis column while ``missing="raise"``."""


class ConvergenceError(CohortError):
    """An iterative fit did not converge; the message carries the diagnostics."""


class CohortWarning(UserWarning):
    """Base class of cohortlab's warnings: the estimate is valid but fragile."""


class PositivityWarning(CohortWarning):
    """Propensity scores near 0 or 1: estimates may be unstable."""


class ExtremeWeightWarning(CohortWarning):
    """Some weights are very large relative to the rest."""


class LowEffectiveSampleSizeWarning(CohortWarning):
    """The effective sample size after weighting is small."""


class FewEventsWarning(CohortWarning):
    """Few events per estimated parameter."""


class ZeroTimeWarning(CohortWarning):
    """Rows with follow-up time 0 (or events tied at time 0): kept, but usually a data error."""


class MonotoneLikelihoodWarning(CohortWarning):
    """A coefficient runs to +-infinity (separation): its estimate and SE are meaningless."""
