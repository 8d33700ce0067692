"""Model outputs turned into analysis exposures, with their definitions kept."""

from .definition import ExposureDefinition
from .from_score import (
    cutpoint_exposure,
    quantile_exposure,
    spline_basis,
    standardized_exposure,
    threshold_exposure,
)
from .misclassification import BetaRate, BiasAnalysis, ErrorRates, bias_analysis

__all__ = [
    "bias_analysis",
    "ErrorRates",
    "BetaRate",
    "BiasAnalysis",
    "ExposureDefinition",
    "threshold_exposure",
    "quantile_exposure",
    "cutpoint_exposure",
    "standardized_exposure",
    "spline_basis",
]
