"""Model performance with confidence intervals: discrimination, calibration, net benefit."""

from .classifier import ClassifierEvaluation, evaluate_classifier
from .compare import compare_classifiers, compare_survival_models
from .survival_model import SurvivalModelEvaluation, evaluate_survival_model

__all__ = [
    "evaluate_classifier",
    "ClassifierEvaluation",
    "evaluate_survival_model",
    "SurvivalModelEvaluation",
    "compare_classifiers",
    "compare_survival_models",
]
