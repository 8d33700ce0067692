"""Model outputs turned into analysis exposures, with their definitions kept."""

from . import from_score
from .definition import ExposureDefinition  # noqa: F401 (in from_score.__all__)
from .from_score import (  # noqa: F401 (exported through from_score.__all__)
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
]
__all__ += from_score.__all__  # ExposureDefinition and the score -> exposure verbs

