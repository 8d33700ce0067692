"""Model outputs turned into analysis exposures, with their definitions kept."""

from .definition import ExposureDefinition
from .from_score import (
    cutpoint_exposure,
    quantile_exposure,
    spline_basis,
    standardized_exposure,
    threshold_exposure,
)
from .measurement_error import MICorrection, correct_exposure
from .misclassification import BetaRate, BiasAnalysis, ErrorRates, bias_analysis
from .ppi import ppi_effect, ppi_mean

__all__ = [
    "bias_analysis",
    "correct_exposure",
    "MICorrection",
    "ppi_mean",
    "ppi_effect",
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

