"""Target trial emulation: sequential trials with pooled logistic outcome models."""

from .ccw import clone_censor_weight
from .result import TrialsResult
from .sequential import sequential_trials

__all__ = ["clone_censor_weight", "sequential_trials", "TrialsResult"]
