"""Longitudinal cohorts: person-period data, time-varying exposures and confounders, MSMs.

The long-format contract: one row per person-period, sorted by ``(id, period)`` (or by
``(id, start)`` for ``(start, stop]`` intervals), with the treatment, time-varying and baseline
covariates, and 0/1 outcome, censoring and competing-event indicators at the end of each
period (no rows after the event). Verbs take the column names as keyword arguments.
"""

from __future__ import annotations

from .by_period import ByPeriodTable, by_period_table
from .exposure import TimeVaryingExposure, time_varying_exposure
from .features import cumulative_exposure, ever_treated, lag, time_since_initiation
from .gformula import gformula_tv
from .gformula_result import GFormulaTVResult
from .misclassification import CorrectedPrevalence, corrected_prevalence
from .msm import msm
from .msm_result import MSMResult
from .person_period import expand_intervals, person_period
from .strategy_curves import StrategyCurvesResult, strategy_curves
from .validate import validate_person_period
from .weights import TimeVaryingWeights, tv_weights

__all__ = [
    "person_period",
    "expand_intervals",
    "validate_person_period",
    "lag",
    "cumulative_exposure",
    "time_since_initiation",
    "ever_treated",
    "time_varying_exposure",
    "TimeVaryingExposure",
    "corrected_prevalence",
    "CorrectedPrevalence",
    "by_period_table",
    "ByPeriodTable",
    "tv_weights",
    "TimeVaryingWeights",
    "msm",
    "MSMResult",
    "strategy_curves",
    "StrategyCurvesResult",
    "gformula_tv",
    "GFormulaTVResult",
]
