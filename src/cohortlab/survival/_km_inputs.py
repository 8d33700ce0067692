"""Quick input checks of the unweighted ``kaplan_meier`` and ``logrank`` (no entry times).

:func:`~cohortlab.survival._prepare.prepare` checks every input in full (missing and infinite
values per column, event codes, zero times, ...), at a cost of tens of milliseconds on a
million rows. For the common clean input (numeric time column with all times > 0 and finite,
0/1 or bool event column, integer, bool or complete grouping column) the same checks reduce to
a few reductions (min and max), which :func:`quick_inputs` does. Anything else returns None,
and the caller runs ``prepare``, which raises or warns with its usual messages: the quick path
never decides an error, so the messages cannot differ.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..results.dropped import Dropped
from ._prepare import factorize

__all__ = ["QuickInputs", "quick_inputs"]

# an integer grouping column is coded by a table of its value range unless the range is
# much wider than the data (then pandas' factorize)
_SPAN_PER_ROW = 4


class QuickInputs(NamedTuple):
    """The arrays ``prepare`` would give for an unweighted analysis without entry times."""

    time: np.ndarray
    event: np.ndarray  # bool
    codes: np.ndarray | None  # None: one group
    levels: list[Any]
    dropped: Dropped


def _numpy_kind(s: pd.Series, kinds: str) -> bool:
    """A plain numpy dtype (not a pandas extension or nullable dtype) of one of ``kinds``."""
    return isinstance(s.dtype, np.dtype) and s.dtype.kind in kinds


def quick_inputs(data: pd.DataFrame, time: str, event: str, by: str | None,
                 func: str) -> QuickInputs | None:
    """Arrays of a clean input, or None when ``prepare`` must check it in full.

    Clean: the columns exist; ``time`` is an int or float column with all values > 0 and
    finite (time 0 gets a warning from ``prepare``); ``event`` an int, bool or float column
    of 0/1; ``by`` absent, an int or bool column, a float column without missing or infinite
    values, or another column without missing values. Missing values never pass (NaN fails
    every comparison), so ``missing=`` has nothing to do and ``dropped`` is empty.

    Examples
    --------
    >>> d = pd.DataFrame({"t": [2.0, 1.0, 3.0], "e": [1, 0, 1], "arm": [5, 7, 5]})
    >>> q = quick_inputs(d, "t", "e", "arm", "f")
    >>> q.codes.tolist(), q.levels, q.event.tolist()
    ([0, 1, 0], [5, 7], [True, False, True])
    >>> quick_inputs(d.assign(t=[0.0, 1.0, 3.0]), "t", "e", "arm", "f") is None
    True
    """
    try:
        if any(c is not None and c not in data.columns for c in (time, event, by)):
            return None
    except TypeError:  # an unhashable column argument: prepare says what is wrong
        return None
    ts, es = data[time], data[event]
    if not (_numpy_kind(ts, "iuf") and _numpy_kind(es, "iubf")) or len(data) == 0:
        return None
    t = ts.to_numpy(dtype=float)
    if not (t.min() > 0 and t.max() < np.inf):
        return None
    e = es.to_numpy()
    if e.dtype.kind == "b":
        is_ev = e
    elif e.dtype.kind == "f":
        is_ev = e == 1
        if not bool(np.all(is_ev | (e == 0))):
            return None
    else:  # as unsigned, negative codes are huge: one max checks 0 <= e <= 1
        if e.view(e.dtype.str.replace("i", "u")).max() > 1:
            return None
        is_ev = e > 0
    if by is None:
        codes, levels = None, ["all"]
    else:
        found = _group_codes(data[by], by, func)
        if found is None:
            return None
        codes, levels = found
    return QuickInputs(time=t, event=is_ev, codes=codes, levels=levels,
                       dropped=Dropped(n_rows=0, by_column={}, n_input=len(data)))


def _group_codes(col: pd.Series, name: str,
                 func: str) -> tuple[np.ndarray, list[Any]] | None:
    """Codes 0..G-1 and sorted levels of a grouping column (as ``factorize``), or None.

    Integer and bool columns are coded by a table over their value range (one pass, no
    hashing); other columns by :func:`~cohortlab.survival._prepare.factorize` once they are
    known to have no missing (or, for floats, infinite) values.
    """
    if _numpy_kind(col, "b"):
        g = col.to_numpy().view(np.uint8)
        present = np.bincount(g, minlength=2) > 0
        lookup = np.cumsum(present) - 1
        levels: list[Any] = [v for v in (False, True) if present[int(v)]]
        return lookup[g].astype(np.intp), levels
    if _numpy_kind(col, "i") or (_numpy_kind(col, "u") and col.dtype.itemsize < 8):
        g = col.to_numpy().astype(np.intp, copy=False)
        lo, hi = int(g.min()), int(g.max())
        if hi - lo <= _SPAN_PER_ROW * g.size + 1024:
            offset = g if lo == 0 else g - lo
            present = np.bincount(offset, minlength=hi - lo + 1) > 0
            levels = (np.flatnonzero(present) + lo).tolist()
            if len(levels) == hi - lo + 1:  # no gaps (e.g. codes 0..G-1): the codes as given
                return offset, levels
            return (np.cumsum(present, dtype=np.intp) - 1)[offset], levels
    elif _numpy_kind(col, "f"):
        v = col.to_numpy()
        if not (np.isfinite(v.min()) and np.isfinite(v.max())):
            return None
    elif bool(col.isna().any()):
        return None
    return factorize(col, name, func)
