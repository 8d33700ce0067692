"""Array kernels of ``logrank`` (numpy only, no pandas): observed, expected, covariance, chi-square.

:func:`logrank_strata` sums, over strata, the per-group observed and expected events and the
hypergeometric covariance of their difference (R's ``survdiff``). One stratum's counts come
from one :func:`~cohortlab.survival._km_counts.time_group_counts` without weights
(:func:`plain_parts`) or from :func:`~cohortlab.survival._counts.risk_counts` per group with
case weights (:func:`weighted_parts`); :func:`logrank_parts` turns counts on a common time
grid into the pieces, :func:`logrank_chisq` the pieces into the statistic. Loops run over
strata and groups, never over rows or times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._counts import risk_counts
from ._km_counts import time_group_counts

__all__ = ["LogrankParts", "logrank_parts", "logrank_chisq", "logrank_strata", "plain_parts",
           "weighted_parts"]


@dataclass(frozen=True)
class LogrankParts:
    """Observed and expected events per group (summed over strata) and the covariance.

    ``observed``/``expected`` are weighted (frequency-weight) sums; ``variance`` is the
    ``G x G`` hypergeometric covariance of ``observed - expected``.
    """

    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray


def logrank_parts(
    grid: np.ndarray,
    n_risk: np.ndarray,
    n_event: np.ndarray,
) -> LogrankParts:
    """Log-rank pieces in one stratum from per-group counts on a common time grid.

    ``n_risk`` and ``n_event`` are ``(m, G)``: numbers at risk and events of each group at the
    stratum's distinct times. With ``Y = sum_g Y_g`` and ``d = sum_g d_g``:
    ``E_g = sum d Y_g / Y`` and ``V_gh = sum d (Y - d) / (Y - 1) (Y_g / Y)(1{g=h} - Y_h / Y)``
    (R's ``survdiff``: the hypergeometric tie correction, no variance where ``Y <= 1``).

    Examples
    --------
    >>> y = np.array([[2.0, 2.0], [1.0, 1.0]]); d = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> p = logrank_parts(np.array([1.0, 2.0]), y, d)
    >>> p.observed.tolist(), p.expected.tolist()
    ([1.0, 1.0], [1.0, 1.0])
    """
    tot_y = _row_sums(n_risk)
    tot_d = _row_sums(n_event)
    use = np.flatnonzero((tot_d > 0) & (tot_y > 0))
    y, d, yg = tot_y[use], tot_d[use], n_risk[use]
    share = yg / y[:, None]
    expected = _column_sums(d[:, None] * share)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(y > 1, d * (y - d) / (y - 1), 0.0)
    weighted = share * corr[:, None]
    variance = np.diag(_column_sums(weighted)) - weighted.T @ share
    return LogrankParts(observed=_column_sums(n_event), expected=expected, variance=variance)


def _row_sums(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=1)`` of an ``(m, G)`` array, bit for bit, a column at a time.

    numpy adds a row of fewer than 8 numbers in order (its pairwise sum starts blocking at
    8), as the loop over columns does; summing many short rows costs a call each (~14 ms for
    a million rows of 2), the loop a few vector additions.
    """
    if not 0 < a.shape[1] < 8:
        return a.sum(axis=1)
    out = a[:, 0].copy()
    for g in range(1, a.shape[1]):  # columns (groups), never rows
        out += a[:, g]
    return out


def _column_sums(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=0)`` of a C-ordered ``(m, G)`` array, bit for bit, a column at a time.

    numpy adds the rows of a C-ordered array in order into one accumulator row; a
    cumulative sum down each column adds in the same order (a plain ``sum`` of a column
    would sum pairwise and round differently).
    """
    if a.shape[0] == 0 or a.shape[1] < 2 or not a.flags.c_contiguous:
        return a.sum(axis=0)  # (a single column is contiguous: numpy sums it pairwise)
    return np.array([np.cumsum(a[:, g])[-1] for g in range(a.shape[1])], dtype=a.dtype)


def logrank_chisq(parts: LogrankParts) -> tuple[float, int, bool]:
    """Chi-square ``(O - E)' V^- (O - E)`` and its degrees of freedom, as R's ``survdiff``.

    Groups with no expected events are dropped, then the first remaining group (the
    differences sum to 0); the reduced system is solved, or a pseudo-inverse is used when it
    is singular (the flag says so). ``df`` is the number of groups with expected events - 1.

    Examples
    --------
    >>> p = LogrankParts(np.array([3.0, 1.0]), np.array([2.0, 2.0]),
    ...                  np.array([[1.0, -1.0], [-1.0, 1.0]]))
    >>> logrank_chisq(p)
    (1.0, 1, False)
    """
    keep = parts.expected > 0
    df = int(keep.sum()) - 1
    if df < 1:
        return 0.0, max(df, 0), False
    diff = (parts.observed - parts.expected)[keep][1:]
    v = parts.variance[np.ix_(keep, keep)][1:, 1:]
    try:
        sol = np.linalg.solve(v, diff)
        singular = False
    except np.linalg.LinAlgError:
        sol = np.linalg.pinv(v) @ diff
        singular = True
    return float(sol @ diff), df, singular


def logrank_strata(
    t: np.ndarray,
    e: np.ndarray,
    codes: np.ndarray,
    strata_codes: np.ndarray | None,
    w: np.ndarray | None,
    n_groups: int,
) -> LogrankParts:
    """Observed, expected and covariance summed over strata (``w`` None: unweighted)."""
    obs, exp_, var = np.zeros(n_groups), np.zeros(n_groups), np.zeros((n_groups, n_groups))
    levels = [None] if strata_codes is None else np.unique(strata_codes)
    for s in levels:  # loop over strata and groups, never over times
        if s is None:
            ts, es, gs, ws = t, e, codes, w
        else:
            in_s = strata_codes == s
            ts, es, gs = t[in_s], e[in_s], codes[in_s]
            ws = None if w is None else w[in_s]
        part = (plain_parts(ts, es, gs, n_groups) if ws is None
                else weighted_parts(ts, es, gs, ws, n_groups))
        obs += part.observed
        exp_ += part.expected
        var += part.variance
    return LogrankParts(observed=obs, expected=exp_, variance=var)


def plain_parts(t: np.ndarray, e: np.ndarray, codes: np.ndarray,
                 n_groups: int) -> LogrankParts:
    """One stratum, unweighted: counts of exits and events per distinct time and group.

    One :func:`~cohortlab.survival._km_counts.time_group_counts`; the numbers at risk are
    reverse cumulative sums of the exits.
    """
    grid, exits, events = time_group_counts(t, e, codes, n_groups)
    y = np.cumsum(exits[:, ::-1], axis=1)[:, ::-1]
    # (m, G) in C order, as logrank_parts sums along its rows (same rounding as before)
    return logrank_parts(grid, np.ascontiguousarray(y.T, dtype=float),
                         np.ascontiguousarray(events.T, dtype=float))


def weighted_parts(t: np.ndarray, e: np.ndarray, codes: np.ndarray, w: np.ndarray,
                    n_groups: int) -> LogrankParts:
    """One stratum with case weights: weighted risk counts per group on the stratum's grid."""
    grid = np.unique(t)
    y = np.zeros((grid.size, n_groups))
    d = np.zeros((grid.size, n_groups))
    for g in np.unique(codes):  # groups, never times
        rows = codes == g
        rc = risk_counts(t[rows], e[rows], w[rows], n_causes=1)
        # at risk at u: the group's count at its first own time >= u (0 after its last)
        pos = np.searchsorted(rc.time, grid, side="left")
        y[:, g] = np.concatenate([rc.n_risk, [0.0]])[pos]
        d[np.searchsorted(grid, rc.time), g] = rc.n_event[:, 0]
    return logrank_parts(grid, y, d)
