"""``tidy()``: stack any results into one frame."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._schema import ESTIMATE_COLUMNS
from .curve import Curve
from .estimate import Estimate, EstimateTable
from .model import ModelResult
from .testresult import TestResult, TestTable

__all__ = ["tidy"]

_RESULTS = (Estimate, EstimateTable, ModelResult, Curve, TestResult, TestTable)


def tidy(*results: Any) -> pd.DataFrame:
    """Stack the ``to_frame()`` of any cohortlab results into one tidy frame.

    Schema columns come first in schema order; columns that only some results have (labels
    such as ``group`` or ``time``) follow and are empty where a result lacks them.

    Parameters
    ----------
    *results : Estimate, EstimateTable, ModelResult, Curve, TestResult or TestTable
        Results to stack, in order. Any other result that exposes its numbers as ``.table``
        (an :class:`EstimateTable`, e.g. ``PropensityScore``, ``MatchResult``,
        ``SubgroupResult``) contributes that table. At least one is required
        (``ValueError`` otherwise); anything else raises ``TypeError``.

    Examples
    --------
    >>> import cohortlab as cl
    >>> a = cl.Estimate.from_model_scale("ATE", 0.1, 0.02, method="ipw")
    >>> b = cl.Estimate.from_model_scale("ATE", 0.12, 0.03, method="aipw")
    >>> cl.tidy(a, b)[["method", "estimate"]]
      method  estimate
    0    ipw      0.10
    1   aipw      0.12
    """
    if not results:
        raise ValueError("tidy(): pass at least one result; got none.")
    frames = []
    for i, res in enumerate(results):
        if not isinstance(res, _RESULTS) and isinstance(getattr(res, "table", None),
                                                        EstimateTable):
            res = res.table
        if not isinstance(res, _RESULTS):
            raise TypeError(
                f"tidy(): argument {i} is a {type(res).__name__}, not a cohortlab result; "
                "pass Estimate, EstimateTable, ModelResult, Curve, TestResult or TestTable "
                "objects, or a result with a .table (descriptive tables such as Table1 have "
                "their own to_frame())."
            )
        frames.append(res.to_frame())
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=list(ESTIMATE_COLUMNS))
    out = pd.concat(frames, ignore_index=True, sort=False)
    first = [c for c in ESTIMATE_COLUMNS if c in out.columns]
    return out[first + [c for c in out.columns if c not in first]]
