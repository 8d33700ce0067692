"""Longitudinal cohorts: person-period data, time-varying weights, MSMs, the g-formula."""

from .weights import TimeVaryingWeights, tv_weights

__all__ = ["TimeVaryingWeights", "tv_weights"]
