"""Longitudinal cohorts: person-period data, time-varying weights, MSMs, the g-formula."""

from .msm import msm
from .msm_result import MSMResult
from .weights import TimeVaryingWeights, tv_weights

__all__ = ["MSMResult", "TimeVaryingWeights", "msm", "tv_weights"]
