"""Adjusting p-values for multiple comparisons."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._typing import PAdjust
from .._validation import check_option

__all__ = ["adjust_pvalues"]


def adjust_pvalues(p_values: ArrayLike, method: PAdjust = "holm") -> np.ndarray:
    """Adjust p-values for multiplicity, as R's ``p.adjust``.

    Parameters
    ----------
    p_values : array_like
        Unadjusted p-values; NaN stays NaN and is not counted.
    method : {"holm", "bonferroni", "fdr_bh", "none"}
        Holm step-down (family-wise error), Bonferroni, or Benjamini-Hochberg (false discovery
        rate).

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.03], "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> adjust_pvalues([0.01, 0.04, 0.03], "fdr_bh").round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    check_option(method, PAdjust, "method", "adjust_pvalues")
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m == 0 or method == "none":
        out[ok] = q
        return out
    order = np.argsort(q, kind="stable")
    ranked = q[order]
    if method == "bonferroni":
        adj = np.minimum(q * m, 1.0)
    elif method == "holm":
        step = np.maximum.accumulate((m - np.arange(m)) * ranked)
        adj = np.empty(m)
        adj[order] = np.minimum(step, 1.0)
    else:  # fdr_bh
        step = np.minimum.accumulate((m / np.arange(m, 0, -1)) * ranked[::-1])[::-1]
        adj = np.empty(m)
        adj[order] = np.minimum(step, 1.0)
    out[ok] = adj
    return out
