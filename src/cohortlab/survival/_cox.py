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

The sort and the beta-free bookkeeping (:func:`prepare`, :class:`CoxData`) are in
:mod:`._cox_data` and re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._cox_data import (  # noqa: F401 (re-exported: callers use _cox.prepare, _cox.CoxData)
    CoxData,
    Extension,
    Stratum,
    _efron_steps,
    _ext_x,
    _rows_last,
    prepare,
    sort_order,
)

__all__ = ["CoxData", "Stratum", "TimeTerms", "fit_cox", "CoxFit", "evaluate", "prepare",
           "sort_order"]


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
    return _terms_from_sums(st, sums, e_all, efron)


def _terms_from_sums(st: Stratum, sums: np.ndarray, e_all: np.ndarray, efron: bool
                     ) -> TimeTerms:
    """:class:`TimeTerms` from the risk-set and deaths' sums ((p + 1) x event times)."""
    m = st.event_times.size
    if efron and m and st.d_count.max() > 1:
        steps = st.efron_steps or _efron_steps(st.d_count, st.d_weight)
        j, f, wt = steps
        first = np.cumsum(st.d_count) - st.d_count
        # rows of v: a = wt/den, f a, a/den, f a/den, f^2 a/den, wt log(den), filled in place
        v = np.empty((6, j.size))
        den = v[5]
        np.multiply(f, np.repeat(e_all[0], st.d_count), out=den)
        np.subtract(np.repeat(sums[0], st.d_count), den, out=den)
        np.divide(1.0, den, out=v[2])
        np.multiply(wt, v[2], out=v[0])
        np.multiply(f, v[0], out=v[1])
        np.multiply(v[0], v[2], out=v[2])
        np.multiply(f, v[2], out=v[3])
        np.multiply(f, v[3], out=v[4])
        np.log(den, out=den)
        den *= wt
        parts = np.add.reduceat(v, first, axis=1)
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

    ``work``: an optional ((p + 1) x n) buffer reused across calls (see :func:`fit_cox`) by
    strata with delayed entry or a Fine-Gray extension; the others run in cache blocks
    (:func:`_chunked_sums`). The information's ``X' diag(c) X`` is :func:`_scaled_gram`.
    """
    p = cd.x.shape[1]
    ll, u, imat = 0.0, np.zeros(p), np.zeros((p, p))
    for st in cd.strata:
        xt = _rows_last(cd.x[st.sl])
        rv = None if work is None else work[:, st.sl]
        if st.entry is None and st.ext is None and p and st.event_times.size:
            eta, risk, sums, e_all = _chunked_sums(st, xt, beta)
            tt = _terms_from_sums(st, sums, e_all, efron)
            rv = None
        else:
            eta = beta @ xt
            risk = st.weight * np.exp(eta)
            tt = _time_terms_t(st, xt, risk, efron, rv)
        dr = st.death_rows
        wd = st.weight[dr]
        xsum = st.death_xsum if st.death_xsum is not None else xt[:, dr] @ wd
        ll += float(wd @ eta[dr]) - tt.log_term
        u += xsum - tt.weighted_xbar().sum(axis=0)
        if info:
            c_row = _accumulated(st, tt)
            c_row *= risk
            imat += _scaled_gram(xt, c_row)
            imat -= tt.xbar_outer()
            if st.ext is not None:
                e = st.ext
                c_ext = _suffix(e.g * tt.q01, e.lo)
                xe = _ext_x(e, xt)
                imat += (xe * (risk[e.idx] * e.ginv * c_ext)) @ xe.T
    return Evaluation(loglik=ll, score=u, info=imat)


#: Rows per cache block of the fused Newton-step passes: (p + 1) x 4096 doubles (~400 kB at
#: p = 11) stay in L2 between the product, the exponential, the scaling and the block sums.
_CHUNK = 4096


def _chunked_sums(st: Stratum, xt: np.ndarray, beta: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``eta``, ``risk = w exp(eta)`` and :func:`_risk_sums_t` of ``risk * (1, x)`` in one pass.

    The rows are cut into runs of whole event-time blocks of about :data:`_CHUNK` rows; each
    run's ``eta``, risk, ``risk * (1, x)`` and block sums are computed while it is in cache,
    so the (p + 1) x rows product is never stored. The block sums are those of
    :func:`_risk_sums_t` (each block is summed whole, in the same order). Strata without
    delayed entry or Fine-Gray extension.
    """
    p, n = xt.shape
    m = st.event_times.size
    pos = np.empty(2 * m, dtype=np.int64)
    pos[0::2] = st.exit_pos
    pos[1::2] = st.exit_pos + st.d_count
    # cut before the block holding each multiple of _CHUNK rows (a cut never splits a block;
    # among equal positions the first, so no block inside a run starts at its end)
    inner = np.searchsorted(pos, np.arange(_CHUNK, n, _CHUNK), side="right") - 1
    inner = np.searchsorted(pos, pos[inner[inner > 0]], side="left")
    cuts = np.unique(np.concatenate([[0], inner[inner > 0], [2 * m]]))
    rows = np.append(pos[cuts[:-1]], n)
    rows[0] = 0
    # empty blocks get reduceat's v[pos] (a repeated position), zeroed after the loop, or are
    # left out of it (blocks starting at the last row's end)
    empty = np.append(pos[1:] == pos[:-1], pos[-1] >= n)
    local = pos - np.repeat(rows[:-1], np.diff(cuts))
    inside = int(np.searchsorted(pos, n, side="left"))
    eta = np.empty(n)
    risk = np.empty(n)
    blocks = np.empty((p + 1, 2 * m))
    buf = np.empty((p + 1, int(np.diff(rows).max())))
    w = None if st.unit_weight else st.weight
    null = not beta.any()  # beta = 0 (the null model): eta = 0, exp(eta) = 1
    if null:
        eta.fill(0.0)
    for a, b, r0, r1 in zip(cuts[:-1].tolist(), cuts[1:].tolist(), rows[:-1].tolist(),
                            rows[1:].tolist(), strict=True):
        xc = xt[:, r0:r1]
        b_in = min(b, inside)
        if null and w is None:  # risk 1: x itself is risk * x
            blocks[1:, a:b_in] = np.add.reduceat(xc, local[a:b_in], axis=1)
            blocks[0, a:b_in] = np.diff(np.append(local[a:b_in], r1 - r0))
            continue
        v = buf[:, :r1 - r0]
        np.dot(beta, xc, out=eta[r0:r1])
        np.exp(eta[r0:r1], out=v[0])
        if w is not None:
            v[0] *= w[r0:r1]
        risk[r0:r1] = v[0]
        np.multiply(xc, v[0], out=v[1:])
        blocks[:, a:b_in] = np.add.reduceat(v, local[a:b_in], axis=1)
    if null and w is None:
        risk.fill(1.0)
    blocks[:, empty] = 0.0
    deaths = blocks[:, 0::2]
    sums = np.cumsum((deaths + blocks[:, 1::2])[:, ::-1], axis=1)[:, ::-1]
    return eta, risk, sums, deaths


def _scaled_gram(xt: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``(xt * c) @ xt.T`` (p x p, symmetrised) by cache blocks of rows.

    Per block one scaling and one general product (BLAS gemm) of the block, still in cache,
    with itself: at p ~ 10 this is faster than ``Z Z'`` with ``Z = X sqrt(c)`` (syrk is weak
    for so few columns) and needs no square root.
    """
    p, n = xt.shape
    out = np.zeros((p, p))
    buf = np.empty((p, min(n, _CHUNK)))
    for r0 in range(0, n, _CHUNK):  # row blocks (n / 4096 of them), not rows
        r1 = min(r0 + _CHUNK, n)
        z = buf[:, :r1 - r0]
        np.multiply(xt[:, r0:r1], c[r0:r1], out=z)
        out += z @ xt[:, r0:r1].T
    out += out.T
    out *= 0.5
    return out


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
    if st.entry is not None or st.acc_idx is None:
        acc = _interval_sum(st, (g * tt.q01)[:, None])[:, 0]
        acc[st.death_rows] -= (g * tt.q11)[st.death_j]
        return acc
    # no delayed entry: one gather from (0, prefix sums, prefix sums less the death's share)
    m = tt.q01.size
    tab = np.zeros(2 * m + 1)
    np.cumsum(g * tt.q01, out=tab[1:m + 1])
    np.subtract(tab[1:m + 1], g * tt.q11, out=tab[m + 1:])
    return np.take(tab, st.acc_idx)


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
    if st.acc_idx is None:
        idx = st.hi.copy()
        idx[dr] = m + 1 + dj
    else:
        idx = st.acc_idx
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
