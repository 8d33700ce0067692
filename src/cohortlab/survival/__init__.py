"""Survival and competing-risks estimators.

Kaplan-Meier, log-rank, Cox, RMST, Aalen-Johansen, Gray's test, Fine-Gray, cause-specific Cox.
Public functions validate and build results; the numbers happen in the private, vectorised
kernels (``_counts``, ``_km``, ``_cox``, ``_aalen_johansen``).
"""

from .adjusted import AdjustedCurves, adjusted_survival
from .competing import cumulative_incidence, gray_test
from .competing_regression import cause_specific_cox, fine_gray
from .cox import CoxResult, cox
from .kaplan_meier import kaplan_meier, logrank
from .rmst import rmst

__all__ = [
    "kaplan_meier", "logrank", "rmst", "cox", "CoxResult", "cumulative_incidence", "gray_test",
    "fine_gray", "cause_specific_cox", "adjusted_survival", "AdjustedCurves",
]
