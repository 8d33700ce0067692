"""Causal effects of a point exposure (crude contrasts now; IPW, g-formula, AIPW, TMLE next)."""

from .crude import crude_effect

__all__ = ["crude_effect"]
