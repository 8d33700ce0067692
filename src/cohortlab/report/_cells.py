"""Cell text of publication tables: measure abbreviations and ``"0.82 (0.70 to 0.96)"``.

Shared by :mod:`cohortlab.report.tables` (which re-exports :func:`ci_text` and
``MEASURE_ABBREVIATIONS``) and :mod:`cohortlab.report.table2`.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..results._format import format_estimate_ci

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


def ci_text(estimate: float, low: float, high: float, digits: int | None = 2, *,
            measure: str | None = None, p_value: float | None = None) -> str:
    """``"0.82 (0.70 to 0.96)"``; the interval part is left out when it is missing.

    ``digits`` decimals (``None``: chosen per ``measure``, see
    :func:`cohortlab.results._format.effect_decimals`); a decimal is added while a bound
    would round onto the null value although ``p_value`` < 0.05 (or, without a p-value, the
    interval excludes the null), so 0.996 never prints as 1.00 beside p = 0.047. Without a
    ``measure`` the null is 0 (a difference).

    Examples
    --------
    >>> ci_text(0.8234, 0.7012, 0.9611)
    '0.82 (0.70 to 0.96)'
    >>> ci_text(-0.031, float("nan"), float("nan"), digits=3)
    '-0.031'
    >>> ci_text(-0.001, -0.04, 0.03)
    '0.00 (-0.04 to 0.03)'
    >>> ci_text(0.68, 0.47, 0.996, measure="hazard_ratio", p_value=0.047)
    '0.680 (0.470 to 0.996)'
    """
    return format_estimate_ci(estimate, low, high, measure=measure, p_value=p_value,
                              digits=digits)


def _missing(x: Any) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))
