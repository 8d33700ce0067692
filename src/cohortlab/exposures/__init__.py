"""Model outputs turned into analysis exposures, with their definitions kept."""

from .from_score import (
    ExposureDefinition,
    cutpoint_exposure,
    quantile_exposure,
    spline_basis,
    standardized_exposure,
    threshold_exposure,
)

__all__ = [
    "ExposureDefinition",
    "threshold_exposure",
    "quantile_exposure",
    "cutpoint_exposure",
    "standardized_exposure",
    "spline_basis",
]
