"""Causal effects of a point exposure (crude contrasts now; IPW, g-formula, AIPW, TMLE next)."""

from .crude import crude_effect
from .ipw import ipw
from .matching import MatchResult, match
from .propensity import PropensityScore, propensity_score

__all__ = ["crude_effect", "propensity_score", "PropensityScore", "ipw", "match",
           "MatchResult"]
