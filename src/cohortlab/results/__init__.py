"""The one result family: Estimate, EstimateTable, Curve, ModelResult, TestResult, TestTable."""

from ._schema import CURVE_COLUMNS, ESTIMATE_COLUMNS, META_COLUMNS, TIDY_COLUMNS, check_schema
from .curve import Curve
from .dropped import Dropped
from .estimate import Estimate, EstimateTable
from .labels import Labels, format_term
from .model import ModelResult
from .testresult import TestResult, TestTable
from .tidy import tidy

__all__ = [
    "Estimate",
    "EstimateTable",
    "Curve",
    "ModelResult",
    "TestResult",
    "TestTable",
    "Dropped",
    "tidy",
    "Labels",
    "format_term",
    "check_schema",
    "TIDY_COLUMNS",
    "META_COLUMNS",
    "ESTIMATE_COLUMNS",
    "CURVE_COLUMNS",
]
