"""Missing covariates: multiple imputation by chained equations and pooled analyses."""

from .impute import ImputedData, impute
from .pooled import with_imputations

__all__ = ["ImputedData", "impute", "with_imputations"]
