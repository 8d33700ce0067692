"""Cox partial likelihood kernels: vectorised risk sets, Efron/Breslow ties, weights, entry.

Everything here is arrays. One stratum's rows are sorted by exit time once; at-risk sums at
the distinct event times come from reverse cumulative sums (minus the rows not yet entered,
found with ``searchsorted`` on the sorted entry times), and every per-subject quantity that
sums over the event times in a subject's risk interval ``(entry, exit]`` is a difference of
prefix sums. Nothing loops over rows or event times, and nothing forms an (event times x p x
p) array: the information matrix is ``X' diag(r * c) X - Xbar' diag(wt) Xbar`` where ``c`` is
each subject's accumulated ``sum 1/S0`` (Efron-adjusted).

Efron's approximation splits the ``d`` tied deaths at a time into ``d`` sub-steps ``k =
0..d-1`` with the deaths' risk scaled by ``1 - k/d`` and the deaths' weights averaged (R's
``coxph`` with case weights does the same). Breslow is the one-sub-step special case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["CoxData", "Stratum", "TimeTerms", "fit_cox", "CoxFit", "evaluate", "sort_order"]


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
    order = sort_order(time, status, codes)
    xt = np.ascontiguousarray(np.take(x, order, axis=0).T) if p else np.zeros((0, n))
    xt -= center[:, None]
    ts = time[order]
    ds = np.asarray(status)[order].astype(bool)
    ws = weight[order]
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
        parts.append(Stratum(
            ext=ext, sl=slice(a, b), rows=rows, time=t, status=d,
            weight=w, entry=s, event_times=ut,
            lo=(np.zeros(t.size, dtype=np.int64) if s is None
                else np.searchsorted(ut, s, side="right")),
            hi=np.searchsorted(ut, t, side="right"),
            death_j=death_j, death_rows=death_rows, d_count=d_count, d_weight=d_weight,
            exit_pos=np.searchsorted(t, ut, side="left"), entry_order=e_order, entry_pos=e_pos,
            death_xsum=xt[:, a:b] @ np.where(d, w, 0.0),
            efron_steps=_efron_steps(d_count, d_weight),
        ))
    return CoxData(x=xt.T, center=center, strata=tuple(parts), n=n)


def _efron_steps(d_count: np.ndarray, d_weight: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Efron's sub-steps: event-time index ``j``, fraction ``f = k/d`` and mean weight."""
    m = d_count.size
    first = np.cumsum(d_count) - d_count
    j = np.repeat(np.arange(m), d_count)
    f = (np.arange(j.size) - first[j]) / d_count[j]
    return j, f, d_weight[j] / d_count[j]


def _ext_x(e: Extension, xt: np.ndarray) -> np.ndarray:
    """The extended rows' covariates (p x rows), cached by :func:`prepare`."""
    return e.x if e.x is not None else np.take(xt, e.idx, axis=1)


def _rows_last(xs: np.ndarray) -> np.ndarray:
    """``xs.T`` (covariates x rows) with rows along a unit-stride axis (a view when it can)."""
    xt = xs.T
    if xt.ndim == 2 and xt.shape[1] > 1 and xt.strides[1] != xt.itemsize:
        xt = np.ascontiguousarray(xt)
    return xt


def _risk_sums(st: Stratum, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``v`` (rows x k) over the risk set, and over the deaths, at each event time."""
    out, deaths = _risk_sums_t(st, _rows_last(v))
    return out.T, deaths.T


def _risk_sums_t(st: Stratum, vt: np.ndarray, ext_v: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``vt`` (k x rows) over the risk set, and over the deaths: (k x event times).

    ``ext_v``: ``vt`` at the extended rows (Fine-Gray), if the caller has it already.

    Rows are sorted by time with each time's deaths first, so one ``reduceat`` over the
    positions (first death, first non-death) of every event time gives both block sums.
    """
    m = st.event_times.size
    k = vt.shape[0]
    if not m:
        return np.zeros((k, 0)), np.zeros((k, 0))
    pos = np.empty(2 * m, dtype=np.int64)
    pos[0::2] = st.exit_pos
    pos[1::2] = st.exit_pos + st.d_count
    blocks = _block_sums_t(vt, pos)
    deaths = blocks[:, 0::2]
    out = np.cumsum((deaths + blocks[:, 1::2])[:, ::-1], axis=1)[:, ::-1]
    if st.entry is not None:
        assert st.entry_order is not None and st.entry_pos is not None  # set with entry
        late = _block_sums_t(np.take(vt, st.entry_order, axis=1), st.entry_pos)
        out = out - np.cumsum(late[:, ::-1], axis=1)[:, ::-1]
    if st.ext is not None:
        ve = (np.take(vt, st.ext.idx, axis=1) if ext_v is None else ext_v) * st.ext.ginv
        pre = np.concatenate([np.zeros((k, 1)), np.cumsum(ve, axis=1)], axis=1)
        out = out + st.ext.g * pre[:, st.ext.pos]
    return out, deaths


def _block_sums(v: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``v[pos[j]:pos[j+1]].sum(0)`` (the last block to the end) for non-decreasing ``pos``."""
    return _block_sums_t(_rows_last(v), pos).T


def _block_sums_t(vt: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``vt[:, pos[j]:pos[j+1]].sum(1)`` (k x blocks), the last block to the end."""
    out = np.zeros((vt.shape[0], pos.size))
    inside = pos < vt.shape[1]
    if inside.any():
        p_in = pos[inside]
        blocks = np.add.reduceat(vt, p_in, axis=1)
        # reduceat gives v[p] for an empty block (a repeated position): zero those
        blocks[:, np.concatenate([p_in[1:] == p_in[:-1], [False]])] = 0.0
        out[:, inside] = blocks
    return out


def _interval_sum(st: Stratum, per_time: np.ndarray) -> np.ndarray:
    """Per row, the sum of ``per_time`` (event times x k) over its risk interval."""
    pre = np.concatenate([np.zeros((1, per_time.shape[1])), np.cumsum(per_time, axis=0)])
    return pre[st.hi] - pre[st.lo]


@dataclass(frozen=True)
class TimeTerms:
    """Per distinct event time of one stratum, at the current coefficients.

    With Efron's sub-steps ``k = 0..d-1`` (``f = k/d``, ``den_k = S0 - f E0``, weight ``wt``
    the mean death weight; Breslow: one sub-step, ``f = 0``, ``wt`` all the death weight),
    ``q[a][b] = sum_k wt f^a / den_k^b``. Every p-dimensional quantity the likelihood needs is
    ``S1`` and ``E1`` (risk-set and deaths' sums of ``w exp(eta) x``) times these scalars, so
    the work in p is per event time, never per tied death.
    """

    s1: np.ndarray
    e1: np.ndarray
    q01: np.ndarray
    q11: np.ndarray
    q02: np.ndarray
    q12: np.ndarray
    q22: np.ndarray
    log_term: float   # sum_k wt log den_k over all event times

    def weighted_xbar(self) -> np.ndarray:
        """``sum_k wt xbar_k`` per event time (``xbar_k = (S1 - f E1) / den_k``)."""
        return self.s1 * self.q01[:, None] - self.e1 * self.q11[:, None]

    def hazard_xbar(self) -> tuple[np.ndarray, np.ndarray]:
        """``sum_k h_k xbar_k`` and ``sum_k f h_k xbar_k`` per event time (``h = wt/den``)."""
        return (self.s1 * self.q02[:, None] - self.e1 * self.q12[:, None],
                self.s1 * self.q12[:, None] - self.e1 * self.q22[:, None])

    def xbar_outer(self, g: np.ndarray | None = None) -> np.ndarray:
        """``sum_j g_j sum_k wt xbar_k xbar_k'`` (p x p)."""
        g = np.ones(self.q02.size) if g is None else g
        a = (self.s1 * (g * self.q02)[:, None]).T @ self.s1
        c = (self.s1 * (g * self.q12)[:, None]).T @ self.e1
        e = (self.e1 * (g * self.q22)[:, None]).T @ self.e1
        return a - c - c.T + e


def time_terms(st: Stratum, xs: np.ndarray, risk: np.ndarray, efron: bool) -> TimeTerms:
    """Risk-set sums and Efron scalars of one stratum (``risk = w exp(eta)``)."""
    return _time_terms_t(st, _rows_last(xs), risk, efron)


def _time_terms_t(st: Stratum, xt: np.ndarray, risk: np.ndarray, efron: bool,
                  rv: np.ndarray | None = None) -> TimeTerms:
    """:func:`time_terms` with the covariates as ``xt`` (p x rows).

    ``rv`` is an optional ((p + 1) x rows) work buffer for ``risk * (1, x)`` (reused across
    Newton steps: a fresh 100 MB array costs its page faults every time).
    """
    m = st.event_times.size
    p = xt.shape[0]
    if rv is None or rv.shape != (p + 1, xt.shape[1]):
        rv = np.empty((p + 1, xt.shape[1]))
    rv[0] = risk
    np.multiply(xt, risk, out=rv[1:])
    ext_v = None
    if st.ext is not None and st.ext.x is not None:
        ext_v = np.empty((p + 1, st.ext.idx.size))
        ext_v[0] = risk[st.ext.idx]
        np.multiply(st.ext.x, ext_v[0], out=ext_v[1:])
    sums, e_all = _risk_sums_t(st, rv, ext_v)
    if efron and m and st.d_count.max() > 1:
        steps = st.efron_steps or _efron_steps(st.d_count, st.d_weight)
        j, f, wt = steps
        first = np.cumsum(st.d_count) - st.d_count
        den = sums[0, j] - f * e_all[0, j]
        inv = 1.0 / den
        a = wt * inv
        b = f * a
        inv2 = a * inv
        fb = f * inv2
        parts = np.stack([np.add.reduceat(v, first)
                          for v in (a, b, inv2, fb, f * fb, wt * np.log(den))])
    else:
        den = sums[0]
        wt = st.d_weight
        zero = np.zeros(m)
        parts = np.stack([wt / den, zero, wt / den**2, zero, zero, wt * np.log(den)])
    return TimeTerms(s1=sums[1:].T, e1=e_all[1:].T, q01=parts[0], q11=parts[1],
                     q02=parts[2], q12=parts[3], q22=parts[4],
                     log_term=float(parts[5].sum()))


@dataclass(frozen=True)
class Evaluation:
    """Log partial likelihood, score and information at one coefficient vector."""

    loglik: float
    score: np.ndarray
    info: np.ndarray


def evaluate(cd: CoxData, beta: np.ndarray, efron: bool, *, info: bool = True,
             work: np.ndarray | None = None) -> Evaluation:
    """Log partial likelihood, score vector and information matrix at ``beta``.

    ``work``: an optional ((p + 1) x n) buffer reused across calls (see :func:`fit_cox`). The
    information's ``X' diag(c) X`` is a symmetric rank-k product ``Z Z'`` with ``Z = X
    sqrt(c)`` (BLAS syrk: half a general product's work; ``c >= 0``).
    """
    p = cd.x.shape[1]
    ll, u, imat = 0.0, np.zeros(p), np.zeros((p, p))
    for st in cd.strata:
        xt = _rows_last(cd.x[st.sl])
        eta = beta @ xt
        risk = st.weight * np.exp(eta)
        rv = None if work is None else work[:, st.sl]
        tt = _time_terms_t(st, xt, risk, efron, rv)
        dr = st.death_rows
        wd = st.weight[dr]
        xsum = st.death_xsum if st.death_xsum is not None else xt[:, dr] @ wd
        ll += float(wd @ eta[dr]) - tt.log_term
        u += xsum - tt.weighted_xbar().sum(axis=0)
        if info:
            c_row = _accumulated(st, tt)
            c_row *= risk
            np.sqrt(np.maximum(c_row, 0.0, out=c_row), out=c_row)
            z = (np.empty_like(xt) if rv is None or rv.shape[1] != xt.shape[1]
                 or not rv.flags.c_contiguous else rv[1:])
            np.multiply(xt, c_row, out=z)
            imat += z @ z.T
            imat -= tt.xbar_outer()
            if st.ext is not None:
                e = st.ext
                c_ext = _suffix(e.g * tt.q01, e.lo)
                xe = _ext_x(e, xt)
                imat += (xe * (risk[e.idx] * e.ginv * c_ext)) @ xe.T
    return Evaluation(loglik=ll, score=u, info=imat)


def _suffix(per_time: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Per row: the sum of ``per_time`` (1-D or times x k) from index ``lo`` to the end."""
    tail = np.cumsum(per_time[::-1], axis=0)[::-1]
    pad = np.zeros((1,) + per_time.shape[1:])
    return np.concatenate([tail, pad])[lo]


def _accumulated(st: Stratum, tt: TimeTerms, g: np.ndarray | None = None) -> np.ndarray:
    """Per row: the hazard it was exposed to, ``sum h`` over its risk interval.

    Efron: a death is exposed to ``(1 - f) h`` at its own time. ``g`` weights each time.
    """
    g = np.ones(tt.q01.size) if g is None else g
    acc = _interval_sum(st, (g * tt.q01)[:, None])[:, 0]
    acc[st.death_rows] -= (g * tt.q11)[st.death_j]
    return acc


def score_residuals(cd: CoxData, beta: np.ndarray, efron: bool) -> np.ndarray:
    """Score residuals (n x p, caller's row order, unweighted) as R's ``residuals(type="score")``.

    ``L_i = delta_i (x_i - xbar*_i) - exp(eta_i) [x_i A_i - B_i]`` with ``A_i`` the hazard the
    row was exposed to and ``B_i`` the same integral of ``xbar``; ``sum_i w_i L_i`` is the score.
    Computed covariate-major (p x rows) in the sorted order with dense gathers from small
    per-event-time tables (a death's own-time Efron correction is a second block of the same
    table, rows of other kinds index a zero pad), then put back in the caller's order by one
    gather of whole rows (an inverse permutation).
    """
    p = cd.x.shape[1]
    srt = np.empty((p, cd.n))
    for st in cd.strata:
        srt[:, st.sl] = _stratum_residuals(st, _rows_last(cd.x[st.sl]), beta, efron)
    order = (np.concatenate([st.rows for st in cd.strata]) if len(cd.strata) > 1
             else cd.strata[0].rows)
    inv = np.empty(cd.n, dtype=np.int64)
    inv[order] = np.arange(cd.n)
    return np.take(srt.T, inv, axis=0)


def _stratum_residuals(st: Stratum, xt: np.ndarray, beta: np.ndarray, efron: bool
                       ) -> np.ndarray:
    """One stratum's score residuals, (p x rows) in its sorted order."""
    p, n_s = xt.shape
    ee = np.exp(beta @ xt)
    tt = _time_terms_t(st, xt, st.weight * ee, efron)
    m = tt.q01.size
    cx, cfx = tt.hazard_xbar()
    dr, dj = st.death_rows, st.death_j
    # columns 0..m: prefix sums of (h, h xbar); m+1+j: the same at t_j less a death's share
    tab = np.zeros((p + 1, 2 * m + 1))
    np.cumsum(tt.q01, out=tab[0, 1:m + 1])
    np.cumsum(cx.T, axis=1, out=tab[1:, 1:m + 1])
    tab[0, m + 1:] = tab[0, 1:m + 1] - tt.q11
    tab[1:, m + 1:] = tab[1:, 1:m + 1] - cfx.T
    idx = st.hi.copy()
    idx[dr] = m + 1 + dj
    acc = np.take(tab, idx, axis=1)
    if st.entry is not None:
        acc -= np.take(tab, st.lo, axis=1)
    if st.ext is not None:
        e = st.ext
        sfx = np.zeros((p + 1, m + 1))
        sfx[0, :m] = np.cumsum((e.g * tt.q01)[::-1])[::-1]
        sfx[1:, :m] = np.cumsum((e.g * cx.T)[:, ::-1], axis=1)[:, ::-1]
        lo_e = np.full(n_s, m)
        lo_e[e.idx] = e.lo
        gi = np.zeros(n_s)
        gi[e.idx] = e.ginv
        acc += gi * np.take(sfx, lo_e, axis=1)
    acc *= ee
    coef = st.status - acc[0]
    xstar = np.zeros((p, m + 1))
    xstar[:, :m] = (tt.weighted_xbar() / st.d_weight[:, None]).T
    jd = np.full(n_s, m)
    jd[dr] = dj
    res = xt * coef
    res += acc[1:]
    res -= np.take(xstar, jd, axis=1)
    return res


@dataclass(frozen=True)
class CoxFit:
    """Converged coefficients (on the uncentred scale) and the statistics of the fit."""

    beta: np.ndarray
    vcov: np.ndarray
    loglik: float
    loglik_null: float
    score_null: np.ndarray
    info_null: np.ndarray
    iterations: int
    converged: bool
    infinite: np.ndarray     # coefficients that look infinite (monotone likelihood)


def fit_cox(
    cd: CoxData,
    efron: bool,
    *,
    max_iter: int = 30,
    eps: float = 1e-9,
    init: np.ndarray | None = None,
) -> CoxFit:
    """Newton-Raphson with step halving, R ``coxph``'s convergence rule on the log-likelihood."""
    p = cd.x.shape[1]
    beta = np.zeros(p) if init is None else np.asarray(init, dtype=float)
    # one work buffer for every Newton step (strata are column slices of it)
    work = np.empty((p + 1, cd.n)) if p else None
    ev = evaluate(cd, beta, efron, work=work)
    ev0 = ev
    it, converged = 0, p == 0
    while not converged and it < max_iter:
        it += 1
        step = _solve(ev.info, ev.score)
        new = beta + step
        ev_new = evaluate(cd, new, efron, work=work)
        halvings = 0
        while (not np.isfinite(ev_new.loglik) or ev_new.loglik < ev.loglik - 1e-12) \
                and halvings < 30:
            new = (beta + new) / 2
            ev_new = evaluate(cd, new, efron, work=work)
            halvings += 1
        converged = abs(1 - ev.loglik / ev_new.loglik) <= eps if ev_new.loglik != 0 else True
        beta, ev = new, ev_new
    vcov = np.linalg.pinv(ev.info) if p else np.zeros((0, 0))
    last_step = vcov @ ev.score if p else np.zeros(0)
    tol_inf = np.sqrt(eps)
    infinite = (np.abs(last_step) > eps) & (np.abs(last_step) > tol_inf * np.abs(beta))
    return CoxFit(beta=beta, vcov=vcov, loglik=ev.loglik, loglik_null=ev0.loglik,
                  score_null=ev0.score, info_null=ev0.info, iterations=it,
                  converged=converged, infinite=infinite)


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(a) @ b


def robust_vcov(
    cd: CoxData, beta: np.ndarray, vcov: np.ndarray, efron: bool,
    cluster: np.ndarray | None = None, weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Dfbeta sandwich ``D' D`` (R ``coxph(robust=TRUE)``) and the weighted dfbeta rows.

    ``D_i = w_i L_i V``; with clusters the rows of each cluster are summed first.
    """
    resid = score_residuals(cd, beta, efron)
    w = np.ones(cd.n) if weights is None else weights
    dfb = (resid * w[:, None]) @ vcov
    if cluster is not None:
        _, inv = np.unique(cluster, return_inverse=True)
        dfb = np.column_stack([np.bincount(inv, weights=dfb[:, k]) for k in range(dfb.shape[1])])
    return dfb.T @ dfb, dfb


def zph_test(
    cd: CoxData, beta: np.ndarray, efron: bool, g_of_time: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Score test of ``beta_k * g(t)`` time interactions at the fitted ``beta`` (R ``cox.zph``).

    ``g_of_time`` lists one value per stratum's event time, concatenated in stratum order.
    Returns (u_gamma, the full (2p x 2p) information of (beta, gamma)).
    """
    p = cd.x.shape[1]
    u = np.zeros(p)
    ibb, ibg, igg = (np.zeros((p, p)) for _ in range(3))
    offset = 0
    for st in cd.strata:
        m = st.event_times.size
        g = g_of_time[offset:offset + m]
        offset += m
        xs = cd.x[st.sl]
        risk = st.weight * np.exp(xs @ beta)
        tt = time_terms(st, xs, risk, efron)
        dr = st.death_rows
        u += (st.weight[dr] * g[st.death_j]) @ xs[dr] - (g[:, None] * tt.weighted_xbar()).sum(0)
        for target, power in ((ibb, 0), (ibg, 1), (igg, 2)):
            gp = g ** power
            c_row = _accumulated(st, tt, gp)
            target += (xs * (risk * c_row)[:, None]).T @ xs
            target -= tt.xbar_outer(gp)
    full = np.block([[ibb, ibg], [ibg.T, igg]])
    return u, full
