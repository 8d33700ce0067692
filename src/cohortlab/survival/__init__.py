"""Survival and competing-risks estimators: Kaplan-Meier, log-rank, Cox, RMST, Aalen-Johansen,
Gray's test, Fine-Gray, cause-specific Cox. Public functions validate and build results;
the numbers happen in the private, vectorised kernels (``_counts``, ``_cox``, ...)."""

from .competing_regression import cause_specific_cox, fine_gray
from .cox import CoxResult, cox

__all__ = ["cox", "CoxResult", "fine_gray", "cause_specific_cox"]
