"""Cell text of publication tables: measure abbreviations and ``"0.82 (0.70 to 0.96)"``.

Shared by :mod:`cohortlab.report.tables` (which re-exports :func:`ci_text` and
``MEASURE_ABBREVIATIONS``) and :mod:`cohortlab.report.table2`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..results._format import fmt_num

__all__ = ["MEASURE_ABBREVIATIONS", "ci_text"]

#: Short labels of effect measures used in clinical cells ("HR 0.82 (0.70 to 0.96)").
MEASURE_ABBREVIATIONS: dict[str, str] = {
    "hazard_ratio": "HR",
    "subdistribution_hazard_ratio": "sHR",
    "risk_ratio": "RR",
    "odds_ratio": "OR",
    "risk_difference": "RD",
    "mean_difference": "MD",
    "rmst_difference": "RMST difference",
    "rmst_ratio": "RMST ratio",
    "rmtl_ratio": "RMTL ratio",
}


def ci_text(estimate: float, low: float, high: float, digits: int = 2) -> str:
    """``"0.82 (0.70 to 0.96)"``; the interval part is left out when it is missing.

    Examples
    --------
    >>> ci_text(0.8234, 0.7012, 0.9611)
    '0.82 (0.70 to 0.96)'
    >>> ci_text(-0.031, float("nan"), float("nan"), digits=3)
    '-0.031'
    >>> ci_text(-0.001, -0.04, 0.03)
    '0.00 (-0.04 to 0.03)'
    """
    est = _fmt(estimate, digits)
    if not est:
        return ""
    if _missing(low) or _missing(high):
        return est
    return f"{est} ({_fmt(low, digits)} to {_fmt(high, digits)})"


def _fmt(x: float, digits: int) -> str:
    """``fmt_num`` without the sign of a value that rounds to zero ("-0.00" -> "0.00")."""
    text = fmt_num(x, digits)
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


def _missing(x: Any) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))
