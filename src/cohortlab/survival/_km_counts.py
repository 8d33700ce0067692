"""Unweighted exit and event counts per distinct time and group (``kaplan_meier``, ``logrank``).

The unweighted Kaplan-Meier curve and log-rank test need only, per group, the number of rows
leaving (by an event or censoring) and of events at each distinct time: the rows never have
to be put in time order (an argsort), only values sorted. :func:`time_group_counts` sorts
one packed integer key per row (time, group and event in one ``int64``, see
:func:`_packed_counts`) and run-length counts it: one SIMD sort of a million integers takes
a few milliseconds, an argsort of the times several times that. When the keys do not fit
(times spanning too many binary orders of magnitude, time 0 with large times, very many
groups) each group's event and censoring times are sorted apart (:func:`group_exit_times`)
and counted by binary searches of the distinct times.

Counts are exact integers, so every estimate built on them is the same to the last bit as
from :func:`~cohortlab.survival._counts.risk_counts` without weights.
"""

from __future__ import annotations

import numpy as np

from ._counts import RiskCounts

__all__ = ["time_group_counts", "group_risk_counts", "group_exit_times", "exit_counts"]

# a loop over groups with a mask each reads the rows G times: beyond this many groups the
# rows are first put in group order by one radix pass
_MASKED_GROUPS = 8


def time_group_counts(
    time: np.ndarray, event: np.ndarray, codes: np.ndarray | None, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(grid, exits, events)``: the distinct times, and per group and time the counts.

    ``grid`` holds the sorted distinct values of ``time`` (>= 0, finite); ``exits[g, j]`` is
    the number of rows of group ``g`` with time ``grid[j]``, ``events[g, j]`` those with an
    event (``event > 0``); shape ``(G, m)``, one contiguous row per group. ``codes`` are the
    groups 0..G-1 (None: one group). The number at risk of group ``g`` at ``grid[j]`` is the
    sum of ``exits[g, j:]``.

    Examples
    --------
    >>> grid, exits, events = time_group_counts(np.array([2.0, 1.0, 2.0, 1.0]),
    ...                                         np.array([1, 0, 1, 1]), np.array([0, 0, 1, 1]), 2)
    >>> grid.tolist(), exits.tolist(), events.tolist()
    ([1.0, 2.0], [[1, 1], [1, 1]], [[0, 1], [1, 1]])
    >>> time_group_counts(np.array([3.0, 3.0]), np.array([1, 0]), None, 1)[1].tolist()
    [[2]]
    """
    time = np.ascontiguousarray(time, dtype=np.float64)
    is_ev = np.asarray(event) > 0
    packed = _packed_counts(time, is_ev, codes, n_groups)
    if packed is not None:
        return packed
    per_group = group_exit_times(time, is_ev, codes, n_groups)
    grid = np.unique(np.concatenate([np.concatenate(pair) for pair in per_group]))
    exits = np.zeros((n_groups, grid.size), dtype=np.int64)
    events = np.zeros((n_groups, grid.size), dtype=np.int64)
    for g, (ev_t, cen_t) in enumerate(per_group):  # groups, never rows or times
        _, _, events[g], n_censor = exit_counts(ev_t, cen_t, grid)
        exits[g] = events[g] + n_censor
    return grid, exits, events


def group_risk_counts(grid: np.ndarray, exits: np.ndarray, events: np.ndarray) -> RiskCounts:
    """One group's :class:`~cohortlab.survival._counts.RiskCounts` at its own distinct times.

    ``exits`` and ``events`` are the group's row of :func:`time_group_counts`; the number at
    risk at a time is the group's rows less those out before it (integers: exact).

    Examples
    --------
    >>> rc = group_risk_counts(np.array([1.0, 2.0, 3.0]), np.array([2, 0, 1]),
    ...                        np.array([1, 0, 1]))
    >>> rc.time.tolist(), rc.n_risk.tolist(), rc.n_censor.tolist()
    ([1.0, 3.0], [3.0, 1.0], [1.0, 0.0])
    """
    own = np.flatnonzero(exits)  # the group's own distinct times
    n_exit, n_event = exits[own], events[own]
    y = (int(n_exit.sum()) - (np.cumsum(n_exit) - n_exit)).astype(float)
    return RiskCounts(time=grid[own], n_risk=y, n_event=n_event.astype(float)[:, None],
                      n_censor=(n_exit - n_event).astype(float), n_enter=np.zeros(y.size))


def _packed_counts(
    time: np.ndarray, is_ev: np.ndarray, codes: np.ndarray | None, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The counts of :func:`time_group_counts` by one sort of packed keys; None if no fit.

    The bit pattern of a non-negative double, read as an ``int64``, orders as the double
    does. Less the smallest pattern it spans ``hi - lo`` (under ``2**56`` when the times lie
    within 16 binary orders of magnitude, e.g. 0.001 to 60), which leaves the low bits free
    for ``2 * group + event``: ``key = (bits - lo) << k | 2 g | e``. Sorting the keys sorts by
    time, then group, then event; equal keys are equal (time, group, event) triples, so
    run lengths are the counts, and ``(key >> k) + lo`` gives back the exact times.
    """
    n = time.size
    k = max(n_groups - 1, 0).bit_length() + 1  # bits for 2 * group + event
    if n == 0 or k > 16:
        return None
    bits = time.view(np.int64)
    lo, hi = int(bits.min()), int(bits.max())
    if lo < 0 or hi - lo >= 2 ** (63 - k):  # -0.0 (sign bit) or too wide a span
        return None
    key = bits - np.int64(lo)  # the one array of n keys: every later step is in place
    if codes is not None and n_groups > 1:
        key <<= k - 1
        key += codes
        key <<= 1
    else:
        key <<= k
    key |= is_ev
    key.sort()
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    start = np.flatnonzero(new)
    run = np.diff(np.append(start, n))
    value = key[start]
    t_key = value >> k
    new_t = np.empty(value.size, dtype=bool)
    new_t[0] = True
    np.not_equal(t_key[1:], t_key[:-1], out=new_t[1:])
    grid = (t_key[new_t] + np.int64(lo)).view(np.float64)
    row = np.cumsum(new_t) - 1
    counts = np.zeros((2 * n_groups, grid.size), dtype=np.int64)  # rows: 2 g + event
    counts[value & ((1 << k) - 1), row] = run
    events = counts[1::2]
    return grid, counts[0::2] + events, events


def group_exit_times(
    time: np.ndarray, event: np.ndarray, codes: np.ndarray | None, n_groups: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each group's event times and censoring times, each sorted.

    ``event`` is the 0/1 (or bool) indicator, ``codes`` the group of each row (0..G-1;
    None: one group). Values are sorted (numpy's SIMD sort of floats), rows never ordered.

    Examples
    --------
    >>> ev, cen = group_exit_times(np.array([3.0, 1.0, 2.0, 1.0]), np.array([1, 0, 1, 1]),
    ...                            None, 1)[0]
    >>> ev.tolist(), cen.tolist()
    ([1.0, 2.0, 3.0], [1.0])
    """
    is_ev = np.asarray(event) > 0
    if codes is None or n_groups == 1:
        return [(np.sort(time[is_ev]), np.sort(time[~is_ev]))]
    if n_groups <= _MASKED_GROUPS:
        out = []
        for g in range(n_groups):
            rows = codes == g
            out.append((np.sort(time[rows & is_ev]), np.sort(time[rows & ~is_ev])))
        return out
    small = codes.astype(np.int16 if n_groups < 2**15 else np.int64)
    order = np.argsort(small, kind="stable")  # a radix pass on small codes
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_groups))])
    t_ord, ev_ord = time[order], is_ev[order]
    out = []
    for g in range(n_groups):
        t_g, ev_g = t_ord[bounds[g]:bounds[g + 1]], ev_ord[bounds[g]:bounds[g + 1]]
        out.append((np.sort(t_g[ev_g]), np.sort(t_g[~ev_g])))
    return out


def _distinct_sorted(x: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array (one linear pass)."""
    if x.size < 2:
        return x
    new = np.empty(x.size, dtype=bool)
    new[0] = True
    np.not_equal(x[1:], x[:-1], out=new[1:])
    return x[new]


def exit_counts(
    event_times: np.ndarray, censor_times: np.ndarray, grid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(grid, n_risk, n_event, n_censor)`` (integers) from sorted event and censoring times.

    ``grid`` defaults to the distinct times of the two; on another grid ``n_risk`` is the
    number with exit time ``>= u`` and the other counts are 0 at times of no exit. Binary
    searches of the (few) grid times in the sorted times: O(m log n) after the sorts.

    Examples
    --------
    >>> g, y, d, c = exit_counts(np.array([1.0, 2.0, 2.0]), np.array([1.0, 3.0]))
    >>> g.tolist(), y.tolist(), d.tolist(), c.tolist()
    ([1.0, 2.0, 3.0], [5, 3, 1], [1, 2, 0], [1, 0, 1])
    """
    if grid is None:
        grid = np.union1d(_distinct_sorted(event_times), _distinct_sorted(censor_times))
    ev_lo = np.searchsorted(event_times, grid, side="left")
    cen_lo = np.searchsorted(censor_times, grid, side="left")
    n_event = np.searchsorted(event_times, grid, side="right") - ev_lo
    n_censor = np.searchsorted(censor_times, grid, side="right") - cen_lo
    n_risk = (event_times.size - ev_lo) + (censor_times.size - cen_lo)
    return grid, n_risk, n_event, n_censor
