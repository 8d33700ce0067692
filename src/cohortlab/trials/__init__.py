"""Target trial emulation: sequential trials with pooled logistic outcome models."""

from .result import TrialsResult
from .sequential import sequential_trials

__all__ = ["sequential_trials", "TrialsResult"]
