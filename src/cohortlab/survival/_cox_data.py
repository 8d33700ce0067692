"""Cox risk-set data: one sort of the rows and the beta-free bookkeeping of every stratum.

:func:`prepare` sorts the rows once (:func:`group_order`: by stratum, time and deaths first,
one SIMD argsort of a combined key), stores the centred design
covariate-major (``p x rows``, C-contiguous; :class:`CoxData` ``x`` is its ``rows x p`` view)
and precomputes per stratum everything that does not depend on the coefficients. The
likelihood, score residuals and tests on top of it are in :mod:`._cox`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["CoxData", "Extension", "Stratum", "group_order", "prepare", "sort_order"]


@dataclass(frozen=True)
class Extension:
    """Rows kept in the risk set after their exit with a decaying weight (Fine-Gray).

    A subject with a competing event at ``T`` stays at risk for the event of interest at every
    later time ``t`` with weight ``w G(t-) / G(T-)`` (``G`` the censoring survival). ``sl``
    slices the stratum's rows sorted by ``T`` (``CoxData.x`` order); ``ginv`` is
    ``1 / G(T-)``; ``pos[j]``: how many of them exited before event time ``j``; ``lo``: per
    row, the first event time after its exit; ``g``: ``G(t_j-)`` per event time.
    """

    idx: np.ndarray
    ginv: np.ndarray
    pos: np.ndarray
    lo: np.ndarray
    g: np.ndarray
    # their centred covariates, covariate-major (p x len(idx)), gathered once (None: on use)
    x: np.ndarray | None = None


@dataclass(frozen=True)
class Stratum:
    """One stratum's rows sorted by exit time: ``CoxData.x[sl]``.

    ``rows`` are their positions in the caller's arrays.
    """

    sl: slice
    rows: np.ndarray
    time: np.ndarray
    status: np.ndarray
    weight: np.ndarray
    entry: np.ndarray | None
    # distinct event times and, per row, the prefix-sum bounds of its risk interval
    event_times: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    death_j: np.ndarray          # event-time index of each death (len = deaths in stratum)
    death_rows: np.ndarray       # positions (within the stratum) of the deaths
    d_count: np.ndarray          # unweighted deaths per event time
    d_weight: np.ndarray         # weighted deaths per event time
    exit_pos: np.ndarray         # per event time: first sorted row with time >= t_j
    entry_order: np.ndarray | None
    entry_pos: np.ndarray | None  # per event time: first entry-sorted row with entry >= t_j
    ext: Extension | None = None
    # beta-free terms computed once (None: computed on use): the deaths' weighted covariate
    # sum ``sum w x`` (centred), and Efron's sub-steps (time index, fraction, mean weight)
    death_xsum: np.ndarray | None = None
    efron_steps: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    # per row, its column in a (prefix sums, prefix sums less a death's own-time share) table:
    # ``hi`` for a non-death, ``m + 1 + death_j`` for a death (m event times)
    acc_idx: np.ndarray | None = None
    unit_weight: bool = False    # every weight is 1 (no weights given)


@dataclass(frozen=True)
class CoxData:
    """Design matrix (centred, rows sorted by stratum then time) prepared once.

    ``x`` (rows x p) is a view of a covariate-major ``(p, rows)`` C-contiguous array, so each
    covariate's sorted values are contiguous: the risk-set sums run along that axis (block
    sums along rows of a C-ordered ``rows x p`` array are ~20 times slower in numpy).
    """

    x: np.ndarray
    center: np.ndarray
    strata: tuple[Stratum, ...]
    n: int


def sort_order(time: np.ndarray, status: np.ndarray,
               codes: np.ndarray | None = None) -> np.ndarray:
    """``np.lexsort((-status, time, codes))`` for 0/1 ``status``, in linear passes.

    A stable sort of the times, a stable pass on the (few) stratum codes, then each run of
    equal (code, time) is stably partitioned into its deaths then the rest by prefix counts,
    so the order is the lexsort's exactly (ties keep the input order) at about half its cost.
    """
    n = time.size
    st = np.asarray(status)
    if n == 0 or not ((st == 0) | (st == 1)).all():
        keys = (-st, time) if codes is None else (-st, time, codes)
        return np.lexsort(keys)
    order = np.argsort(time, kind="stable")
    new = np.zeros(n, dtype=bool)
    new[0] = True
    if codes is not None:
        c = np.asarray(codes)[order]
        if c[0] != c[-1] or (c != c[0]).any():
            by = np.argsort(c, kind="stable")
            order, c = order[by], c[by]
        np.not_equal(c[1:], c[:-1], out=new[1:])
    ts = time[order]
    new[1:] |= ts[1:] != ts[:-1]
    dead = st[order].astype(bool)
    starts = np.flatnonzero(new)
    block = np.cumsum(new) - 1
    cum = np.cumsum(dead)
    before = cum[starts] - dead[starts]          # deaths before each run
    n_dead = np.diff(np.append(before, cum[-1]))  # deaths in each run
    i = np.arange(n)
    k = cum - before[block]                      # deaths in the run up to i (inclusive)
    start = starts[block]
    pos = np.where(dead, start + k - 1, start + n_dead[block] + (i - start + 1 - k) - 1)
    out = np.empty_like(order)
    out[pos] = order
    return out


def group_order(time: np.ndarray, status: np.ndarray,
                codes: np.ndarray | None = None) -> np.ndarray:
    """An order by (stratum, time, deaths first), ties otherwise in no particular order.

    The risk-set sums need each (stratum, time) run with its deaths first, not the input
    order within a run (that is :func:`sort_order`'s lexsort). One default-kind (SIMD)
    argsort of the key ``time`` for deaths and ``nextafter(time, inf)`` for the rest, then a
    stable pass on the (few) stratum codes. A censored time one ulp below an event time
    would collide with it: the sorted runs are checked (one pass) and such data fall back to
    :func:`sort_order`.
    """
    return _group_order(time, status, codes)[0]


def _group_order(time: np.ndarray, status: np.ndarray, codes: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`group_order` and the sorted times and death flags it checked."""
    st = np.asarray(status)
    if time.size < 2 or time.dtype != np.float64 or not ((st == 0) | (st == 1)).all():
        order = sort_order(time, status, codes)
        return order, time[order], st[order].astype(bool)
    dead = st.astype(bool)
    key = np.nextafter(time, np.inf)
    np.copyto(key, time, where=dead)
    order = np.argsort(key)
    if codes is not None:
        c = np.asarray(codes)[order]
        if c[0] != c[-1] or (c != c[0]).any():
            order = order[np.argsort(c, kind="stable")]
    ts = time[order]
    ds = dead[order]
    # within a stratum: times must not decrease, nor a censored row precede a death of the
    # same time (both only from the key collision above)
    bad = (ts[1:] < ts[:-1]) | (~ds[:-1] & ds[1:] & (ts[1:] == ts[:-1]))
    if codes is not None:  # a new stratum restarts the times
        cs = np.asarray(codes)[order]
        bad &= cs[1:] == cs[:-1]
    if bad.any():
        order = sort_order(time, status, codes)
        return order, time[order], dead[order]
    return order, ts, ds


def _sorted_covariates(x: np.ndarray, order: np.ndarray, center: np.ndarray) -> np.ndarray:
    """``(x[order] - center).T`` as a C-contiguous (p x rows) array, in as few passes as x allows.

    A column-major ``x`` (a DataFrame's ``to_numpy``) is gathered one covariate at a time
    straight into its row of the result and centred while that row is in cache (2x faster than
    ``np.take(x.T, order, axis=1)``); a row-major one row-wise, then transposed.
    """
    n, p = x.shape
    if not x.flags.f_contiguous or x.flags.c_contiguous:
        xt = np.ascontiguousarray(np.take(x, order, axis=0).T)
        xt -= center[:, None]
        return xt
    xt = np.empty((p, n))
    for k in range(p):  # p covariates, each one gather of every row
        np.take(x[:, k], order, out=xt[k])
        xt[k] -= center[k]
    return xt


def prepare(
    x: np.ndarray,
    time: np.ndarray,
    status: np.ndarray,
    weight: np.ndarray,
    entry: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    extend: np.ndarray | None = None,
    censoring_survival: Callable[[np.ndarray], np.ndarray] | None = None,
) -> CoxData:
    """Sort once and precompute the risk-set bookkeeping of every stratum.

    ``extend`` (bool per row) and ``censoring_survival`` (``t -> G(t-)``) add the Fine-Gray
    extension: those rows stay at risk after their exit with weight ``G(t-)/G(T-)``.
    """
    n = time.size
    x = np.asarray(x, dtype=float)
    p = x.shape[1]
    center = (weight @ x) / weight.sum() if p else np.zeros(0)
    codes = None if strata is None else np.asarray(strata)
    # deaths before censorings within a tied time: each time's deaths are one contiguous block
    order, ts, ds = _group_order(time, status, codes)
    xt = _sorted_covariates(x, order, center) if p else np.zeros((0, n))
    # unit weights (no weights given) need no gather
    ws = weight.copy() if n and weight.min() == 1.0 == weight.max() else weight[order]
    ss = None if entry is None else entry[order]
    if codes is None:
        bounds = np.zeros(0, dtype=np.int64)
    else:
        cs = codes[order]
        bounds = np.flatnonzero(cs[1:] != cs[:-1]) + 1
    parts = []
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [n]])
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        rows = order[a:b]
        t, d, w = ts[a:b], ds[a:b], ws[a:b]
        s = None if ss is None else ss[a:b]
        death_rows = np.flatnonzero(d)
        td = t[death_rows]
        first_d = np.empty(td.size, dtype=bool)
        first_d[:1] = True
        np.not_equal(td[1:], td[:-1], out=first_d[1:])
        ut = td[first_d]                         # t is sorted: the deaths' times are too
        death_j = np.cumsum(first_d) - 1
        e_order = e_pos = None
        if s is not None:
            e_order = np.argsort(s, kind="stable")
            e_pos = np.searchsorted(s[e_order], ut, side="left")
        ext = None
        if extend is not None and censoring_survival is not None:
            # rows are sorted by time, so the extended rows (positions in the stratum) are too
            e_idx = np.flatnonzero(extend[rows])
            te = t[e_idx]
            ext = Extension(idx=e_idx, ginv=1.0 / censoring_survival(te),
                            pos=np.searchsorted(te, ut, side="left"),
                            lo=np.searchsorted(ut, te, side="right"),
                            g=censoring_survival(ut), x=np.take(xt[:, a:b], e_idx, axis=1))
        d_count = np.bincount(death_j, minlength=ut.size)
        d_weight = np.bincount(death_j, weights=w[death_rows], minlength=ut.size)
        exit_pos = np.searchsorted(t, ut, side="left")
        # hi: how many event times are <= the row's time (t is sorted: count the exit_pos)
        hi = np.cumsum(np.bincount(exit_pos, minlength=t.size))
        acc_idx = hi.copy()
        acc_idx[death_rows] = ut.size + 1 + death_j
        parts.append(Stratum(
            ext=ext, sl=slice(a, b), rows=rows, time=t, status=d,
            weight=w, entry=s, event_times=ut,
            lo=(np.zeros(t.size, dtype=np.int64) if s is None
                else np.searchsorted(ut, s, side="right")),
            hi=hi,
            death_j=death_j, death_rows=death_rows, d_count=d_count, d_weight=d_weight,
            exit_pos=exit_pos, entry_order=e_order, entry_pos=e_pos,
            death_xsum=xt[:, a:b] @ np.where(d, w, 0.0),
            efron_steps=_efron_steps(d_count, d_weight), acc_idx=acc_idx,
            unit_weight=bool(w.size) and w.min() == 1.0 == w.max(),
        ))
    return CoxData(x=xt.T, center=center, strata=tuple(parts), n=n)


def _efron_steps(d_count: np.ndarray, d_weight: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Efron's sub-steps: event-time index ``j``, fraction ``f = k/d`` and mean weight."""
    m = d_count.size
    first = np.cumsum(d_count) - d_count
    j = np.repeat(np.arange(m), d_count)
    d_j = np.repeat(d_count, d_count)  # per-time values repeated: d_count[j] without a gather
    f = (np.arange(j.size) - np.repeat(first, d_count)) / d_j
    return j, f, np.repeat(d_weight, d_count) / d_j


def _ext_x(e: Extension, xt: np.ndarray) -> np.ndarray:
    """The extended rows' covariates (p x rows), cached by :func:`prepare`."""
    return e.x if e.x is not None else np.take(xt, e.idx, axis=1)


def _rows_last(xs: np.ndarray) -> np.ndarray:
    """``xs.T`` (covariates x rows) with rows along a unit-stride axis (a view when it can)."""
    xt = xs.T
    if xt.ndim == 2 and xt.shape[1] > 1 and xt.strides[1] != xt.itemsize:
        xt = np.ascontiguousarray(xt)
    return xt
