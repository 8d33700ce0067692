"""cohortlab: causal and survival analysis of observational health cohorts.

Import it as ``import cohortlab as cl``. Every verb takes a DataFrame and column names and
returns a result (``Estimate``, ``EstimateTable``, ``Curve``, ``ModelResult``, or a descriptive
table) that renders to text, a DataFrame, Markdown, LaTeX and HTML.
"""

from __future__ import annotations

from . import datasets, evaluation, inference, sensitivity
from .causal import (
    MatchResult,
    PropensityScore,
    aipw,
    crude_effect,
    gformula,
    ipw,
    match,
    propensity_score,
    tmle,
)
from .datasets import simulate_cohort
from .describe import Attrition, Table1, attrition, table1
from .evaluation import (
    ClassifierEvaluation,
    SurvivalModelEvaluation,
    evaluate_classifier,
    evaluate_survival_model,
)
from .exceptions import (
    CohortError,
    CohortWarning,
    ConvergenceError,
    DataValidationError,
    ExtremeWeightWarning,
    FewEventsWarning,
    LowEffectiveSampleSizeWarning,
    MissingDataError,
    MonotoneLikelihoodWarning,
    PositivityWarning,
    ZeroTimeWarning,
)
from .exposures import (
    BetaRate,
    BiasAnalysis,
    ErrorRates,
    ExposureDefinition,
    bias_analysis,
    cutpoint_exposure,
    quantile_exposure,
    spline_basis,
    standardized_exposure,
    threshold_exposure,
)
from .results import Curve, Dropped, Estimate, EstimateTable, ModelResult, tidy
from .sensitivity import evalue
from .subgroups import SubgroupResult, subgroups
from .survival import (
    AdjustedCurves,
    CoxResult,
    adjusted_survival,
    cause_specific_cox,
    cox,
    cumulative_incidence,
    fine_gray,
    gray_test,
    kaplan_meier,
    logrank,
    rmst,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "crude_effect",
    "propensity_score",
    "ipw",
    "match",
    "gformula",
    "aipw",
    "tmle",
    "kaplan_meier",
    "adjusted_survival",
    "AdjustedCurves",
    "logrank",
    "rmst",
    "cox",
    "cumulative_incidence",
    "gray_test",
    "fine_gray",
    "cause_specific_cox",
    "CoxResult",
    "PropensityScore",
    "MatchResult",
    "bias_analysis",
    "ErrorRates",
    "BetaRate",
    "BiasAnalysis",
    "threshold_exposure",
    "quantile_exposure",
    "cutpoint_exposure",
    "standardized_exposure",
    "spline_basis",
    "ExposureDefinition",
    "evaluate_classifier",
    "evaluate_survival_model",
    "SurvivalModelEvaluation",
    "subgroups",
    "SubgroupResult",
    "evalue",
    "ClassifierEvaluation",
    "table1",
    "attrition",
    "simulate_cohort",
    "tidy",
    "Table1",
    "Attrition",
    "Estimate",
    "EstimateTable",
    "Curve",
    "ModelResult",
    "Dropped",
    "datasets",
    "evaluation",
    "sensitivity",
    "inference",
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
