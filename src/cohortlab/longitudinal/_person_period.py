"""Array kernels of the person-period verbs: grouping, checks, expansion and running sums.

Everything works on rows already grouped by person (each person's rows contiguous, in time
order) through two arrays: ``first`` (True on a person's first row) and ``grp`` (the person's
block number, 0, 1, ...). No Python loop over rows or persons.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "blocks",
    "position",
    "shift",
    "cumsum",
    "cummax",
    "running_total",
    "periods_since_first",
    "persistent_exposure",
    "first_true_position",
    "after_flag",
    "run_length",
    "expand_counts",
]


def blocks(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``first`` (a new block starts) and ``grp`` (block number) of a code array in row order."""
    first = np.ones(codes.shape[0], dtype=bool)
    if codes.shape[0] > 1:
        first[1:] = codes[1:] != codes[:-1]
    grp = np.cumsum(first) - 1
    return first, grp


def position(first: np.ndarray, grp: np.ndarray) -> np.ndarray:
    """0-based position of each row within its block."""
    starts = np.flatnonzero(first)
    return np.arange(first.shape[0]) - starts[grp]


def shift(x: np.ndarray, k: int, pos: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """``x`` lagged by ``k`` rows within blocks (``fill`` where the block has no row k back)."""
    out = np.full(x.shape[0], fill, dtype=np.result_type(x.dtype, np.asarray(fill).dtype))
    if k == 0:
        out[:] = x
        return out
    ok = pos >= k
    idx = np.flatnonzero(ok)
    out[idx] = x[idx - k]
    return out


def cumsum(x: np.ndarray, first: np.ndarray, grp: np.ndarray) -> np.ndarray:
    """Running sum of ``x`` within blocks (inclusive of the current row)."""
    c = np.cumsum(x, dtype=float)
    before = (c - x)[first]  # running total just before each block's first row
    return c - before[grp]


def cummax(x: np.ndarray, first: np.ndarray, grp: np.ndarray) -> np.ndarray:
    """Running maximum of a 0/1 array within blocks (inclusive)."""
    return (cumsum(x, first, grp) > 0).astype(np.int64)


def running_total(x: np.ndarray, first: np.ndarray, grp: np.ndarray,
                  include_current: bool) -> np.ndarray:
    """Running sum of ``x`` within blocks up to this row, or up to the row before it."""
    c = cumsum(x, first, grp)
    return c if include_current else c - x


def periods_since_first(flag: np.ndarray, first: np.ndarray, grp: np.ndarray) -> np.ndarray:
    """Rows since the block's first True row (0 on it; NaN before it or with none)."""
    pos = position(first, grp)
    n_groups = int(first.sum())
    start = first_true_position(flag, pos, grp, n_groups)[grp]
    return np.where((start >= 0) & (pos >= start), (pos - start).astype(float), np.nan)


def persistent_exposure(positive: np.ndarray, first: np.ndarray, grp: np.ndarray,
                        consecutive: int, monotone: bool, delay: int) -> np.ndarray:
    """0/1 exposure from a persistence rule on positive windows, within blocks.

    On after ``consecutive`` positive rows in a run (then on for good if ``monotone``),
    shifted ``delay`` rows later within the block (0 before).

    Examples
    --------
    >>> pos = np.array([True, False, True, True, False, False])
    >>> first, grp = np.r_[True, np.zeros(5, bool)], np.zeros(6, np.int64)
    >>> persistent_exposure(pos, first, grp, 2, True, 0).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    on = run_length(positive, first) >= consecutive
    if monotone:
        on = cumsum(on.astype(float), first, grp) > 0
    if not delay:
        return on.astype(np.int64)
    return shift(on.astype(np.int64), delay, position(first, grp), 0).astype(np.int64)


def first_true_position(flag: np.ndarray, pos: np.ndarray, grp: np.ndarray,
                        n_groups: int) -> np.ndarray:
    """Per block, the position of the first True row (``-1`` when none)."""
    out = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, grp[flag], pos[flag])
    out[out == np.iinfo(np.int64).max] = -1
    return out


def after_flag(flag: np.ndarray, first: np.ndarray, grp: np.ndarray) -> np.ndarray:
    """True on rows that come after an earlier row of the same block with ``flag`` True."""
    f = flag.astype(float)
    return (cumsum(f, first, grp) - f) > 0


def run_length(flag: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Length of the current run of consecutive True rows ending at each row (0 if False)."""
    idx = np.arange(flag.shape[0])
    # the last "break" at or before each row: a False row, or the row before a block start
    marker = np.where(~flag, idx, -1)
    marker = np.where(first & flag, idx - 1, marker)
    last_break = np.maximum.accumulate(marker)
    return np.where(flag, idx - last_break, 0)


def expand_counts(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row index repeated ``counts`` times and the 0-based offset within each repeat."""
    counts = counts.astype(np.int64)
    rows = np.repeat(np.arange(counts.shape[0]), counts)
    ends = np.cumsum(counts)
    offset = np.arange(rows.shape[0]) - np.repeat(ends - counts, counts)
    return rows, offset
