"""Longitudinal cohorts: person-period data, time-varying treatments, g-methods."""

from .gformula import gformula_tv
from .gformula_result import GFormulaTVResult

__all__ = ["GFormulaTVResult", "gformula_tv"]
