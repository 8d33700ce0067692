"""Model performance with confidence intervals: discrimination, calibration, net benefit."""

from .classifier import ClassifierEvaluation, evaluate_classifier

__all__ = ["evaluate_classifier", "ClassifierEvaluation"]
