"""Causal effects: propensity scores, IPW, matching, g-formula, AIPW, TMLE, dose-response."""

from .aipw import aipw
from .crude import crude_effect
from .dose_response import DoseResponse, dose_response
from .gformula import gformula
from .ipw import ipw
from .matching import MatchResult, match
from .propensity import PropensityScore, propensity_score
from .tmle import tmle

__all__ = [
    "crude_effect",
    "propensity_score",
    "PropensityScore",
    "ipw",
    "match",
    "MatchResult",
    "gformula",
    "aipw",
    "tmle",
    "dose_response",
    "DoseResponse",
]
