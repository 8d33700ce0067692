"""Greedy nearest-neighbour matching on a scalar distance (arrays only, no pandas).

The rules follow MatchIt's ``method = "nearest"`` on a distance vector (``nn_matchC_vec``):

- all units are sorted once by distance (stable, so ties keep data order); a focal unit's
  *left* candidate is the nearest available control before it in that order, its *right*
  candidate the nearest available control after it; the left one wins ties in distance;
- a candidate further than the caliper ``width`` (``|d_focal - d_control| > width``) is not
  a match;
- without replacement, focal units are matched one at a time in ``order`` and a matched
  control is removed; with ``ratio = k`` this runs ``k`` rounds, each giving every still
  eligible focal unit at most one more control (a unit with no match in round 1 drops out);
- with replacement, each focal unit simply takes its ``k`` nearest controls (merge of the
  left and right runs, left first on ties), independently of the others.

Complexity (``n`` units, ``n1`` focal, ``n0`` controls, ``k = ratio``):

- one ``O(n log n)`` sort;
- with replacement: ``k`` vectorised passes over the focal units, ``O(n1 k)``, no Python
  loop over units;
- without replacement: a Python loop over the ``n1 k`` (focal unit, round) steps. The next
  available control to the right and left of any position is found in two union-find
  ("next available") arrays over the sorted controls: removing a control links it to its
  neighbour, and finds compress their paths, so each step costs amortised ``O(log n0)``
  (in practice a few list look-ups), never a scan over removed controls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["NNMatch", "match_order", "merge_nearest", "nearest_neighbours",
           "nearest_distance", "nearest_same_arm", "pool_insertion"]

#: Reasons a focal unit has no match.
MATCHED, OUTSIDE_CALIPER, NO_CONTROL = 0, 1, 2


@dataclass(frozen=True, eq=False)
class NNMatch:
    """The matches of each focal unit.

    Attributes
    ----------
    focal : numpy.ndarray of int, shape (n1,)
        Positions (in the input arrays) of the focal units, in data order.
    controls : numpy.ndarray of int, shape (n1, ratio)
        Positions of each focal unit's controls in the order they were matched; -1 where
        there is none.
    reason : numpy.ndarray of int, shape (n1,)
        0 if the focal unit has at least one control, 1 if its nearest available control
        was outside the caliper, 2 if no control was available (or it was not eligible).
    """

    focal: np.ndarray
    controls: np.ndarray
    reason: np.ndarray


def match_order(d_focal: np.ndarray, order: str, rng: np.random.Generator | None) -> np.ndarray:
    """Positions among the focal units in the order they are matched.

    ``"largest"``/``"smallest"`` sort the distance (stably: ties keep data order, as R's
    ``order()``), ``"data"`` keeps data order and ``"random"`` permutes with ``rng``.

    Examples
    --------
    >>> match_order(np.array([0.2, 0.9, 0.2]), "largest", None).tolist()
    [1, 0, 2]
    """
    if order == "largest":
        return np.argsort(-d_focal, kind="stable")
    if order == "smallest":
        return np.argsort(d_focal, kind="stable")
    if order == "random":
        if rng is None:
            raise ValueError("match_order(): order=\"random\" needs a numpy Generator")
        return rng.permutation(d_focal.size)
    return np.arange(d_focal.size)


def _sorted_controls(distance: np.ndarray, is_focal: np.ndarray,
                     eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eligible controls sorted by distance, and each focal unit's insertion point among them.

    The insertion point counts the controls before the focal unit in the stable sort of all
    units, so a control with the same distance comes before a focal unit iff it comes first
    in the data (MatchIt's left/right sides).
    """
    srt = np.argsort(distance, kind="stable")
    is_ctrl = (~is_focal & eligible)[srt]
    before = np.cumsum(is_ctrl) - is_ctrl
    ins = np.empty(distance.size, dtype=np.int64)
    ins[srt] = before
    ctrl = srt[is_ctrl]
    return ctrl, distance[ctrl], ins[np.flatnonzero(is_focal)]


def nearest_distance(distance: np.ndarray, is_focal: np.ndarray,
                     eligible: np.ndarray | None = None) -> np.ndarray:
    """Distance from each focal unit (data order) to its nearest eligible control (inf if none).

    Examples
    --------
    >>> nearest_distance(np.array([0.0, 1.0, 5.0]), np.array([True, False, True])).tolist()
    [1.0, 4.0]
    """
    eligible = np.ones(distance.size, dtype=bool) if eligible is None else eligible
    _, cd, ins = _sorted_controls(distance, is_focal, eligible)
    d = distance[is_focal]
    return _nearest(d, cd, ins - 1, ins)[0]


def _nearest(d: np.ndarray, cd: np.ndarray, left: np.ndarray,
             right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the nearer of the left/right candidates and whether it is the left one."""
    m = cd.size
    if m == 0:
        return np.full(d.size, np.inf), np.ones(d.size, dtype=bool)
    dl = np.where(left >= 0, d - cd[np.clip(left, 0, m - 1)], np.inf)
    dr = np.where(right < m, cd[np.clip(right, 0, m - 1)] - d, np.inf)
    take_left = dl <= dr
    return np.where(take_left, dl, dr), take_left


def nearest_neighbours(
    distance: np.ndarray,
    is_focal: np.ndarray,
    *,
    ratio: int = 1,
    width: float = np.inf,
    replace: bool = False,
    order: np.ndarray | None = None,
    eligible: np.ndarray | None = None,
    ties: bool = False,
) -> NNMatch:
    """Greedy nearest-neighbour matching of focal units to controls on ``distance``.

    Parameters
    ----------
    distance : numpy.ndarray of float, shape (n,)
    is_focal : numpy.ndarray of bool, shape (n,)
        True for the units that receive matches (the exposed for the ATT).
    ratio : int
        Controls per focal unit (at most).
    width : float
        Caliper in distance units (``inf`` for none); a pair is allowed when
        ``|d_focal - d_control| <= width``.
    replace : bool
        Whether a control may be matched to several focal units.
    order : numpy.ndarray of int, optional
        Positions among the focal units (see :func:`match_order`) giving the matching order
        without replacement; default data order.
    eligible : numpy.ndarray of bool, optional
        False for units excluded beforehand (e.g. trimmed); they are neither matched nor used.
    ties : bool
        With replacement only: also keep every control at exactly the distance of the
        ``ratio``-th nearest (rows may then hold more than ``ratio`` controls).

    Returns
    -------
    NNMatch

    Examples
    --------
    >>> d = np.array([0.50, 0.10, 0.45, 0.62, 0.30])
    >>> a = np.array([True, False, False, True, False])
    >>> nearest_neighbours(d, a, order=np.array([1, 0])).controls.ravel().tolist()
    [4, 2]
    >>> nearest_neighbours(d, a, replace=True).controls.ravel().tolist()
    [2, 2]
    """
    n = distance.size
    eligible = np.ones(n, dtype=bool) if eligible is None else eligible
    ctrl, cd, ins = _sorted_controls(distance, is_focal, eligible)
    focal = np.flatnonzero(is_focal)
    d = distance[focal]
    ok_focal = eligible[focal]
    if replace:
        pos, reason = _with_replacement(d, cd, ins, ratio, width, ties)
    else:
        order = np.arange(focal.size) if order is None else order
        pos, reason = _without_replacement(d, cd, ins, ratio, width, order, ok_focal)
    reason = np.where(ok_focal, reason, NO_CONTROL)
    controls = np.full(pos.shape, -1, dtype=np.int64)
    hit = (pos >= 0) & ok_focal[:, None]
    controls[hit] = ctrl[pos[hit]]
    return NNMatch(focal=focal, controls=controls, reason=reason)


def _with_replacement(d: np.ndarray, cd: np.ndarray, ins: np.ndarray, ratio: int,
                      width: float, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Each focal unit's ``ratio`` nearest controls: vectorised two-pointer merge."""
    out, first = merge_nearest(d, cd, ins - 1, ins.copy(), ratio, width, ties)
    reason = np.where(np.isfinite(first) & (first <= width), MATCHED,
                      np.where(np.isfinite(first), OUTSIDE_CALIPER, NO_CONTROL))
    return out, reason


def merge_nearest(d: np.ndarray, cd: np.ndarray, left: np.ndarray, right: np.ndarray, k: int,
                  width: float = np.inf, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest sorted candidates of each query, from its left/right starting points.

    ``cd`` is sorted; query ``t`` (value ``d[t]``) starts with the candidates ``left[t]``
    (walking down) and ``right[t]`` (walking up). Each of the ``k`` vectorised passes takes
    the nearer of the two (left first on ties) if it is within ``width``. With ``ties``, every
    further candidate at exactly the distance of the last one taken is added too (as the
    Matching package's ``ties = TRUE`` and Abadie-Imbens' ``J_M(i)``), so rows may hold more
    than ``k`` matches. Returns the candidate positions (``-1`` padded, one row per query)
    and the distance of each query's nearest candidate (``inf`` if none).

    Examples
    --------
    >>> cd = np.array([0.0, 1.0, 3.0, 3.0])
    >>> merge_nearest(np.array([2.0]), cd, np.array([1]), np.array([2]), 1, ties=True)[0]
    array([[1, 2, 3]])
    """
    left, right = left.copy(), right.copy()
    cols = []
    last = np.full(d.size, np.inf)
    first = np.full(d.size, np.inf)
    for r in range(k):  # k passes over all queries, not a loop over units
        best, take_left = _nearest(d, cd, left, right)
        if r == 0:
            first = best
        ok = np.isfinite(best) & (best <= width)
        cols.append(np.where(ok, np.where(take_left, left, right), -1))
        left = np.where(ok & take_left, left - 1, left)
        right = np.where(ok & ~take_left, right + 1, right)
        last = np.where(ok, best, last)
    while ties:  # one pass per extra tied candidate (rarely more than one or two)
        best, take_left = _nearest(d, cd, left, right)
        ok = np.isfinite(last) & (best == last)
        if not ok.any():
            break
        cols.append(np.where(ok, np.where(take_left, left, right), -1))
        left = np.where(ok & take_left, left - 1, left)
        right = np.where(ok & ~take_left, right + 1, right)
    # a query that misses once (caliper, no candidate, no tie) never matches again, so each
    # row's -1 entries are all after its matches
    out = np.column_stack(cols) if cols else np.full((d.size, 0), -1, dtype=np.int64)
    return out.astype(np.int64, copy=False), first


def pool_insertion(distance: np.ndarray, pool: np.ndarray,
                   order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool positions sorted by distance, and each unit's insertion point among them.

    ``order`` is the stable argsort of ``distance`` (computed once and shared); a unit's
    insertion point counts the pool units before it in that order (itself excluded), so a
    pool unit's is its own sorted position. O(n), no search.

    Examples
    --------
    >>> d = np.array([0.3, 0.1, 0.2, 0.4])
    >>> srt, ins = pool_insertion(d, np.array([True, True, False, False]), np.argsort(d))
    >>> srt.tolist(), ins.tolist()
    ([1, 0], [1, 0, 1, 2])
    """
    in_pool = pool[order]
    before = np.cumsum(in_pool) - in_pool
    ins = np.empty(distance.size, dtype=np.int64)
    ins[order] = before
    return order[in_pool], ins


def nearest_same_arm(distance: np.ndarray, members: np.ndarray, k: int = 1,
                     ties: bool = True, order: np.ndarray | None = None) -> np.ndarray:
    """Each member's ``k`` nearest other members on ``distance`` (itself excluded).

    Used for the conditional outcome variance of Abadie & Imbens (2006), which matches
    within the treatment arm. Returns positions in the input arrays, shape
    ``(members.sum(), width)``, ``-1`` padded, rows in data order of the members.

    Examples
    --------
    >>> nearest_same_arm(np.array([0.0, 5.0, 1.0, 1.5]), np.array([True, False, True, True]))
    array([[2],
           [3],
           [2]])
    """
    idx = np.flatnonzero(members)
    if idx.size < 2:
        return np.full((idx.size, 0), -1, dtype=np.int64)
    order = np.argsort(distance, kind="stable") if order is None else order
    srt, ins = pool_insertion(distance, members, order)
    p = ins[idx]  # each member's own position among the sorted members
    pos, _ = merge_nearest(distance[idx], distance[srt], p - 1, p + 1, min(k, idx.size - 1),
                           ties=ties)
    return np.where(pos >= 0, srt[np.clip(pos, 0, None)], -1)


def _without_replacement(d: np.ndarray, cd: np.ndarray, ins: np.ndarray, ratio: int,
                         width: float, order: np.ndarray,
                         ok_focal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching in ``order``; removed controls are skipped through union-find arrays.

    ``nxt[p]`` leads to the first available sorted position ``>= p`` (``m`` = none) and
    ``prv[p + 1]`` to the last available position ``<= p`` (stored shifted by one, ``0`` =
    none). Removing position ``c`` links ``nxt[c] = c + 1`` and ``prv[c + 1] = c``.
    """
    m = cd.size
    nxt = list(range(m + 1))
    prv = list(range(m + 1))
    cdl, dl_, insl = cd.tolist(), d.tolist(), ins.tolist()
    out = np.full((d.size, ratio), -1, dtype=np.int64)
    reason = np.full(d.size, NO_CONTROL, dtype=np.int64)
    active = ok_focal.copy()
    inf = float("inf")
    for r in range(ratio):
        col = out[:, r]
        for t in order.tolist():  # n1 steps per round, each amortised O(log n0)
            if not active[t]:
                continue
            p = insl[t]
            # right: first available position >= p (path halving)
            q = p
            while nxt[q] != q:
                nxt[q] = nxt[nxt[q]]
                q = nxt[q]
            # left: last available position <= p - 1, stored at index position + 1
            s = p
            while prv[s] != s:
                prv[s] = prv[prv[s]]
                s = prv[s]
            di = dl_[t]
            dist_r = cdl[q] - di if q < m else inf
            dist_l = di - cdl[s - 1] if s > 0 else inf
            if dist_l <= dist_r:
                best, c = dist_l, s - 1
            else:
                best, c = dist_r, q
            if best == inf or best > width:
                if r == 0:
                    active[t] = False
                    reason[t] = OUTSIDE_CALIPER if best != inf else NO_CONTROL
                continue
            col[t] = c
            reason[t] = MATCHED
            nxt[c] = c + 1
            prv[c + 1] = c
    return out, reason
