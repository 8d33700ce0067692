"""Describing a cohort: Table 1 (weighted or not, with SMDs) and the attrition table."""

from .attrition import Attrition, attrition
from .table1 import Table1, table1

__all__ = ["table1", "Table1", "attrition", "Attrition"]
