"""Array kernels of the person-period verbs: grouping, checks, expansion and running sums.

Everything works on rows already grouped by person (each person's rows contiguous, in time
order) through two arrays: ``first`` (True on a person's first row) and ``grp`` (the person's
block number, 0, 1, ...). No Python loop over rows or persons.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    "interval_periods",
    "interval_bounds",
    "RecordPeriods",
    "record_periods",
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


# ---------------------------------------------------------------------- expand_intervals
def interval_periods(s0: np.ndarray, s1: np.ndarray, w: float, codes: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Periods of width ``w`` touched by each interval ``(s0, s1]`` (rows sorted by person).

    Returns the interval of each expanded row, its period, each interval's last period and
    the expanded rows that repeat the previous row's (person, period): one row per (person,
    period), intervals sharing a period merge into the first one.

    Examples
    --------
    >>> rows, per, last, dup = interval_periods(np.array([0.0, 5.0]), np.array([5.0, 12.0]),
    ...                                         10.0, np.array([0, 0]))
    >>> rows.tolist(), per.tolist(), last.tolist(), dup.tolist()
    ([0, 1, 1], [0, 0, 1], [0, 1], [False, True, False])
    """
    first_p = np.floor(s0 / w).astype(np.int64)
    last_p = np.ceil(s1 / w).astype(np.int64) - 1
    rows, offset = expand_counts(last_p - first_p + 1)
    per = first_p[rows] + offset
    c = codes[rows]
    dup = np.zeros(rows.shape[0], dtype=bool)
    dup[1:] = (c[1:] == c[:-1]) & (per[1:] == per[:-1])
    return rows, per, last_p, dup


def interval_bounds(s0: np.ndarray, s1: np.ndarray, first: np.ndarray, grp: np.ndarray,
                    rows: np.ndarray, per: np.ndarray, w: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop of each period row: the period clipped to its person's follow-up."""
    starts = np.flatnonzero(first)
    last_stop = np.maximum.reduceat(s1, starts)[grp][rows]
    start = np.maximum(per * w, np.minimum.reduceat(s0, starts)[grp][rows])
    return start, np.minimum((per + 1) * w, last_stop)


@dataclass(frozen=True, eq=False)
class RecordPeriods:
    """Period rows built from dated records (see :func:`record_periods`)."""

    rows: np.ndarray  # person (block) of each period row
    period: np.ndarray
    slot: np.ndarray  # the record placed in each period row (-1: none)
    src_slot: np.ndarray  # the record carried forward into it (-1: none yet)
    n_after_end: int
    n_superseded: int


def record_periods(t: np.ndarray, end: np.ndarray, c: np.ndarray, grp: np.ndarray,
                   w: float) -> RecordPeriods:
    """Periods ``0..ceil(end / w) - 1`` of each person and the record in force in each.

    ``t`` are the record times (rows sorted by person, then time), ``end`` each person's end
    of follow-up; a record at or after the end is dropped, the last record of a (person,
    period) wins, and a period without one carries the latest earlier record forward.
    """
    n_p = np.ceil(end / w).astype(np.int64)  # periods per person
    rec_p = np.floor(t / w).astype(np.int64)
    after = rec_p >= n_p[grp]
    # the last record of each (person, period) wins
    nxt_same = np.zeros(c.shape[0], dtype=bool)
    nxt_same[:-1] = (c[1:] == c[:-1]) & (rec_p[1:] == rec_p[:-1])
    use = ~after & ~nxt_same
    rows, per = expand_counts(n_p)
    offsets = np.r_[0, np.cumsum(n_p)[:-1]]
    slot = np.full(rows.shape[0], -1, dtype=np.int64)
    slot[offsets[c[use]] + rec_p[use]] = np.flatnonzero(use)
    # carry forward: the latest slot at or before each period of the same person
    filled = np.maximum.accumulate(np.where(slot >= 0, np.arange(slot.size), -1))
    ok = filled >= offsets[rows]
    src_slot = np.where(ok, slot[np.maximum(filled, 0)], -1)
    return RecordPeriods(rows=rows, period=per, slot=slot, src_slot=src_slot,
                         n_after_end=int(after.sum()),
                         n_superseded=int((~after & nxt_same).sum()))
