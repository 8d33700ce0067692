"""Risk-set counts at every distinct follow-up time: the kernel under KM, AJ and log-rank.

Sort once, then cumulative sums and ``searchsorted``: no loop over rows or times. A subject
with entry time ``s`` and exit time ``t`` is at risk at time ``u`` when ``s < u <= t`` (R's
counting-process convention); without entry times every subject enters at ``-inf``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RiskCounts", "risk_counts"]


@dataclass(frozen=True)
class RiskCounts:
    """Counts at the sorted distinct times ``time`` (events and censorings alike).

    ``n_event`` has one column per cause (column ``k-1`` for code ``k``); for a two-state
    survival outcome it has one column. All counts are weighted sums (weights 1 give the
    plain counts).
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    n_enter: np.ndarray

    @property
    def n_event_any(self) -> np.ndarray:
        """Events of any cause at each time."""
        return self.n_event.sum(axis=1)


def risk_counts(
    time: np.ndarray,
    event: np.ndarray,
    weights: np.ndarray | None = None,
    entry: np.ndarray | None = None,
    n_causes: int | None = None,
) -> RiskCounts:
    """Weighted numbers at risk, with events (per cause) and censorings, at each distinct time.

    Parameters
    ----------
    time : exit times (float, any order).
    event : integer codes, 0 = censored, 1..K = cause.
    weights : case weights (default 1).
    entry : entry times (left truncation), each < its exit time; default: none.
    n_causes : K; default ``event.max()`` (at least 1).

    Examples
    --------
    >>> rc = risk_counts(np.array([2.0, 1.0, 2.0, 3.0]), np.array([1, 0, 1, 0]))
    >>> rc.time.tolist(), rc.n_risk.tolist(), rc.n_event[:, 0].tolist()
    ([1.0, 2.0, 3.0], [4.0, 3.0, 1.0], [0.0, 2.0, 0.0])
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=np.int64)
    w = None if weights is None else np.asarray(weights, dtype=float)
    k = max(int(event.max(initial=0)), 1) if n_causes is None else int(n_causes)
    if event.size and int(event.max()) > k:
        raise ValueError(f"risk_counts(): n_causes={k} but the event codes go up to "
                         f"{int(event.max())}; pass n_causes >= the largest code.")
    uniq, inv = _distinct(time)
    m = uniq.size
    # events per (time, cause) in one bincount over a flattened index; censorings separately
    is_ev = event > 0
    # without weights: integer counts (exact, and a plain bincount is faster than a weighted one)
    n_event = _count(inv[is_ev] * k + (event[is_ev] - 1), None if w is None else w[is_ev],
                     m * k).reshape(m, k)
    n_censor = _count(inv[~is_ev], None if w is None else w[~is_ev], m)
    n_exit = _count(inv, w, m)
    if w is None:
        w = np.ones(time.size)
    # at risk at u_j: exits at or after u_j, minus those not yet entered (entry >= u_j)
    n_risk = np.cumsum(n_exit[::-1])[::-1]
    n_enter: np.ndarray = np.zeros(m)
    if entry is not None:
        entry = np.asarray(entry, dtype=float)
        order = np.argsort(entry, kind="stable")
        cw = np.concatenate([[0.0], np.cumsum(w[order])])
        # weight with entry >= u_j  =  total - weight with entry < u_j
        below = cw[np.searchsorted(entry[order], uniq, side="left")]
        n_risk = n_risk - (cw[-1] - below)
        # entries in [u_{j-1}, u_j): not needed by the estimators, kept for the risk table
        idx = np.searchsorted(uniq, entry[order], side="right")  # sorted queries: fast
        inside = idx < m
        n_enter = np.bincount(idx[inside], weights=w[order][inside], minlength=m)
    return RiskCounts(time=uniq, n_risk=n_risk, n_event=n_event, n_censor=n_censor,
                      n_enter=n_enter)


def _distinct(time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(time, return_inverse=True)``; in one linear pass when ``time`` is sorted.

    The verbs hand over each group's rows already sorted by time (one sort for all groups),
    so sorting them again is skipped.

    Examples
    --------
    >>> u, inv = _distinct(np.array([1.0, 1.0, 2.5, 4.0, 4.0]))
    >>> u.tolist(), inv.tolist()
    ([1.0, 2.5, 4.0], [0, 0, 1, 2, 2])
    """
    n = time.size
    if n < 2 or np.any(time[1:] < time[:-1]) or np.isnan(time[-1]):
        uniq, inv = np.unique(time, return_inverse=True)
        return uniq, inv.reshape(-1)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(time[1:], time[:-1], out=new[1:])
    return time[new], np.cumsum(new) - 1


def _count(idx: np.ndarray, w: np.ndarray | None, m: int) -> np.ndarray:
    """``np.bincount`` as floats; unweighted counts without a weight vector of ones."""
    if w is None:
        return np.bincount(idx, minlength=m).astype(float)
    return np.bincount(idx, weights=w, minlength=m)
