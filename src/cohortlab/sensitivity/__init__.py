"""Sensitivity analyses: E-values, negative controls with empirical calibration, refutation."""

from .calibration import (
    EmpiricalNull,
    FewControlsWarning,
    InjectionClippedWarning,
    SystematicErrorModel,
    calibrate_ci,
    calibrate_p,
    calibration_coverage,
    calibration_plot,
    empirical_null,
    funnel_plot,
    synthetic_positive_controls,
    systematic_error_model,
)
from .evalue import evalue
from .refute import refute

__all__ = [
    "evalue",
    "empirical_null",
    "EmpiricalNull",
    "calibrate_p",
    "systematic_error_model",
    "SystematicErrorModel",
    "calibrate_ci",
    "calibration_coverage",
    "synthetic_positive_controls",
    "funnel_plot",
    "calibration_plot",
    "FewControlsWarning",
    "InjectionClippedWarning",
    "refute",
]
