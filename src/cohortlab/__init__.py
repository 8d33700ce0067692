"""cohortlab: causal and survival analysis of observational health cohorts.

Import it as ``import cohortlab as cl``. Every verb takes a DataFrame and column names and
returns a result (``Estimate``, ``EstimateTable``, ``Curve``, ``ModelResult``, or a descriptive
table) that renders to text, a DataFrame, Markdown, LaTeX and HTML.
"""

from __future__ import annotations

from . import datasets, evaluation, exceptions, inference, longitudinal, report, sensitivity
from .causal import (
    DoseResponse,
    MatchResult,
    PropensityScore,
    aipw,
    crude_effect,
    dose_response,
    gformula,
    ipw,
    match,
    propensity_score,
    tmle,
)
from .datasets import simulate_cohort, simulate_longitudinal
from .describe import Attrition, Table1, attrition, table1
from .evaluation import (
    ClassifierEvaluation,
    SurvivalModelEvaluation,
    compare_classifiers,
    compare_survival_models,
    evaluate_classifier,
    evaluate_survival_model,
)
from .exceptions import (  # noqa: F401 (exported through exceptions.__all__)
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
    MICorrection,
    bias_analysis,
    correct_exposure,
    cutpoint_exposure,
    ppi_effect,
    ppi_mean,
    quantile_exposure,
    spline_basis,
    standardized_exposure,
    threshold_exposure,
)
from .longitudinal import (  # noqa: F401 (exported through longitudinal.__all__)
    ByPeriodTable,
    GFormulaTVResult,
    MSMResult,
    TimeVaryingExposure,
    TimeVaryingWeights,
    by_period_table,
    cumulative_exposure,
    ever_treated,
    expand_intervals,
    gformula_tv,
    lag,
    msm,
    person_period,
    time_since_initiation,
    time_varying_exposure,
    tv_weights,
    validate_person_period,
)
from .missing import ImputedData, impute, with_imputations
from .report import Report, Table2, table2
from .results import (
    Curve,
    Dropped,
    Estimate,
    EstimateTable,
    Labels,
    ModelResult,
    TestResult,
    TestTable,
    tidy,
)
from .sensitivity import (
    calibrate_ci,
    calibrate_p,
    empirical_null,
    evalue,
    refute,
    systematic_error_model,
)
from .subgroups import SubgroupResult, cate, subgroups
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
from .trials import TrialsResult, sequential_trials

__version__ = "0.1.0.dev0"

__all__ = [
    "crude_effect",
    "propensity_score",
    "ipw",
    "match",
    "gformula",
    "aipw",
    "tmle",
    "dose_response",
    "DoseResponse",
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
    "correct_exposure",
    "MICorrection",
    "ErrorRates",
    "BetaRate",
    "BiasAnalysis",
    "ppi_mean",
    "impute",
    "with_imputations",
    "ImputedData",
    "ppi_effect",
    "threshold_exposure",
    "quantile_exposure",
    "cutpoint_exposure",
    "standardized_exposure",
    "spline_basis",
    "ExposureDefinition",
    "evaluate_classifier",
    "evaluate_survival_model",
    "SurvivalModelEvaluation",
    "compare_classifiers",
    "compare_survival_models",
    "subgroups",
    "SubgroupResult",
    "evalue",
    "empirical_null",
    "calibrate_p",
    "systematic_error_model",
    "calibrate_ci",
    "refute",
    "cate",
    "ClassifierEvaluation",
    "table1",
    "attrition",
    "simulate_cohort",
    "simulate_longitudinal",
    "sequential_trials",
    "TrialsResult",
    "tidy",
    "table2",
    "Table2",
    "Report",
    "Table1",
    "Attrition",
    "Estimate",
    "Labels",
    "EstimateTable",
    "Curve",
    "ModelResult",
    "TestResult",
    "TestTable",
    "Dropped",
    "datasets",
    "evaluation",
    "sensitivity",
    "inference",
    "report",
]
# the longitudinal verbs and every error / warning class, as their modules list them
__all__ += longitudinal.__all__
__all__ += exceptions.__all__
