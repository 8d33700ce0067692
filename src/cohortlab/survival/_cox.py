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

__all__ = ["CoxData", "Stratum", "TimeTerms", "fit_cox", "CoxFit", "evaluate"]


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


@dataclass(frozen=True)
class CoxData:
    """Design matrix (centred, rows sorted by stratum then time) prepared once."""

    x: np.ndarray
    center: np.ndarray
    strata: tuple[Stratum, ...]
    n: int


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
    center = (weight @ x) / weight.sum() if x.shape[1] else np.zeros(0)
    codes = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata)
    # deaths before censorings within a tied time: each time's deaths are one contiguous block
    order = np.lexsort((-status, time, codes))
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    parts = []
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [n]])
    for a, b, rows in zip(starts, stops, np.split(order, bounds), strict=True):
        t, d = time[rows], status[rows].astype(bool)
        s = None if entry is None else entry[rows]
        ut = np.unique(t[d])
        death_rows = np.flatnonzero(d)
        death_j = np.searchsorted(ut, t[d])
        e_order = e_pos = None
        if s is not None:
            e_order = np.argsort(s, kind="stable")
            e_pos = np.searchsorted(s[e_order], ut, side="left")
        ext = None
        if extend is not None and censoring_survival is not None:
            # rows are sorted by time, so the extended rows (positions in the stratum) are too
            e_idx = np.flatnonzero(extend[rows])
            ext = Extension(idx=e_idx, ginv=1.0 / censoring_survival(t[e_idx]),
                            pos=np.searchsorted(t[e_idx], ut, side="left"),
                            lo=np.searchsorted(ut, t[e_idx], side="right"),
                            g=censoring_survival(ut))
        parts.append(Stratum(
            ext=ext, sl=slice(int(a), int(b)), rows=rows, time=t, status=d,
            weight=weight[rows], entry=s, event_times=ut,
            lo=(np.zeros(t.size, dtype=np.int64) if s is None
                else np.searchsorted(ut, s, side="right")),
            hi=np.searchsorted(ut, t, side="right"),
            death_j=death_j, death_rows=death_rows,
            d_count=np.bincount(death_j, minlength=ut.size),
            d_weight=np.bincount(death_j, weights=weight[rows][d], minlength=ut.size),
            exit_pos=np.searchsorted(t, ut, side="left"), entry_order=e_order, entry_pos=e_pos,
        ))
    return CoxData(x=x[order] - center, center=center, strata=tuple(parts), n=n)


def _risk_sums(st: Stratum, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``v`` (rows x k) over the risk set, and over the deaths, at each event time.

    Rows are sorted by time with each time's deaths first, so one ``reduceat`` over the
    positions (first death, first non-death) of every event time gives both block sums.
    """
    m = st.event_times.size
    k = v.shape[1]
    if not m:
        return np.zeros((0, k)), np.zeros((0, k))
    pos = np.empty(2 * m, dtype=np.int64)
    pos[0::2] = st.exit_pos
    pos[1::2] = st.exit_pos + st.d_count
    blocks = _block_sums(v, pos)
    deaths = blocks[0::2]
    out = np.cumsum((deaths + blocks[1::2])[::-1], axis=0)[::-1]
    if st.entry is not None:
        assert st.entry_order is not None and st.entry_pos is not None  # set with entry
        out = out - np.cumsum(_block_sums(v[st.entry_order], st.entry_pos)[::-1], axis=0)[::-1]
    if st.ext is not None:
        ve = v[st.ext.idx] * st.ext.ginv[:, None]
        pre = np.concatenate([np.zeros((1, v.shape[1])), np.cumsum(ve, axis=0)])
        out = out + st.ext.g[:, None] * pre[st.ext.pos]
    return out, deaths


def _block_sums(v: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``v[pos[j]:pos[j+1]].sum(0)`` (the last block to the end) for non-decreasing ``pos``."""
    out = np.zeros((pos.size, v.shape[1]))
    inside = pos < v.shape[0]
    if inside.any():
        p_in = pos[inside]
        blocks = np.add.reduceat(v, p_in, axis=0)
        # reduceat gives v[p] for an empty block (a repeated position): zero those
        blocks[np.concatenate([p_in[1:] == p_in[:-1], [False]])] = 0.0
        out[inside] = blocks
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
    m = st.event_times.size
    p = xs.shape[1]
    rv = np.empty((xs.shape[0], p + 1))
    rv[:, 0] = risk
    np.multiply(xs, risk[:, None], out=rv[:, 1:])
    sums, e_all = _risk_sums(st, rv)
    first = np.cumsum(st.d_count) - st.d_count
    if efron and m and st.d_count.max() > 1:
        dc = st.d_count
        j = np.repeat(np.arange(m), dc)
        f = (np.arange(j.size) - first[j]) / dc[j]
        wt = st.d_weight[j] / dc[j]
        den = sums[j, 0] - f * e_all[j, 0]
        fw = f * wt
        parts = np.add.reduceat(
            np.column_stack([wt / den, fw / den, wt / den**2, fw / den**2, f * fw / den**2,
                             wt * np.log(den)]), first, axis=0)
    else:
        den = sums[:, 0]
        wt = st.d_weight
        zero = np.zeros(m)
        parts = np.column_stack([wt / den, zero, wt / den**2, zero, zero, wt * np.log(den)])
    return TimeTerms(s1=sums[:, 1:], e1=e_all[:, 1:], q01=parts[:, 0], q11=parts[:, 1],
                     q02=parts[:, 2], q12=parts[:, 3], q22=parts[:, 4],
                     log_term=float(parts[:, 5].sum()))


@dataclass(frozen=True)
class Evaluation:
    """Log partial likelihood, score and information at one coefficient vector."""

    loglik: float
    score: np.ndarray
    info: np.ndarray


def evaluate(cd: CoxData, beta: np.ndarray, efron: bool, *, info: bool = True) -> Evaluation:
    """Log partial likelihood, score vector and information matrix at ``beta``."""
    p = cd.x.shape[1]
    ll, u, imat = 0.0, np.zeros(p), np.zeros((p, p))
    for st in cd.strata:
        xs = cd.x[st.sl]
        eta = xs @ beta
        risk = st.weight * np.exp(eta)
        tt = time_terms(st, xs, risk, efron)
        dr = st.death_rows
        wd = st.weight[dr]
        ll += float(wd @ eta[dr]) - tt.log_term
        u += wd @ xs[dr] - tt.weighted_xbar().sum(axis=0)
        if info:
            c_row = _accumulated(st, tt)
            imat += (xs * (risk * c_row)[:, None]).T @ xs
            imat -= tt.xbar_outer()
            if st.ext is not None:
                e = st.ext
                c_ext = _suffix(e.g * tt.q01, e.lo)
                xe = xs[e.idx]
                imat += (xe * (risk[e.idx] * e.ginv * c_ext)[:, None]).T @ xe
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
    """
    p = cd.x.shape[1]
    out = np.zeros((cd.n, p))
    for st in cd.strata:
        xs = cd.x[st.sl]
        eta = xs @ beta
        risk = st.weight * np.exp(eta)
        tt = time_terms(st, xs, risk, efron)
        cx, cfx = tt.hazard_xbar()
        acc = _interval_sum(st, np.column_stack([tt.q01, cx]))
        a, b = acc[:, 0], acc[:, 1:]
        dr, dj = st.death_rows, st.death_j
        a[dr] -= tt.q11[dj]
        b[dr] -= cfx[dj]
        res = -np.exp(eta)[:, None] * (xs * a[:, None] - b)
        xstar = tt.weighted_xbar() / st.d_weight[:, None]
        res[dr] += xs[dr] - xstar[dj]
        if st.ext is not None:
            e = st.ext
            a_e = _suffix(e.g * tt.q01, e.lo)
            b_e = _suffix(e.g[:, None] * cx, e.lo)
            xe = xs[e.idx]
            res[e.idx] -= (np.exp(eta[e.idx]) * e.ginv)[:, None] * (xe * a_e[:, None] - b_e)
        out[st.rows] = res
    return out


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
    ev = evaluate(cd, beta, efron)
    ev0 = ev
    it, converged = 0, p == 0
    while not converged and it < max_iter:
        it += 1
        step = _solve(ev.info, ev.score)
        new = beta + step
        ev_new = evaluate(cd, new, efron)
        halvings = 0
        while (not np.isfinite(ev_new.loglik) or ev_new.loglik < ev.loglik - 1e-12) \
                and halvings < 30:
            new = (beta + new) / 2
            ev_new = evaluate(cd, new, efron)
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
