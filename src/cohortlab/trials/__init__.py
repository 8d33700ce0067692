"""Target trial emulation: specification, sequential trials, clone-censor-weight."""

from .ccw import clone_censor_weight
from .emulate import emulate_target_trial
from .result import TrialsResult
from .sequential import sequential_trials
from .spec import Strategy, TargetTrial, TargetTrialError

__all__ = ["clone_censor_weight", "emulate_target_trial", "sequential_trials", "Strategy",
           "TargetTrial", "TargetTrialError", "TrialsResult"]
