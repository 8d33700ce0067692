"""Causal effects of a point exposure: propensity scores, IPW, matching, g-formula, AIPW, TMLE."""

from .aipw import aipw
from .crude import crude_effect
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
]
