"""Array-only kernels of ``evaluate_survival_model``: C-indices, IPCW AUC(t) and Brier(t).

Everything is sort once, cumulative sums and ``searchsorted`` (the pair counts reuse the
prefix-dominance sums of :mod:`cohortlab.survival._concordance`): no loop over rows or times.

Conventions (R ``survival::concordance`` and ``riskRegression::Score``):

- a pair is comparable when the shorter time is an event; an event and a censoring at the same
  time are comparable (the censoring counts as later), two events at the same time are not;
- the censoring distribution ``G(u) = P(C > u)`` is the Kaplan-Meier of censoring with events
  before censorings at tied times (:func:`cohortlab.survival._aipw.censoring_km`);
- cases of the cumulative/dynamic AUC and Brier score at ``t`` are the events with
  ``T <= t`` (weight ``1 / G(T-)``), controls the subjects with ``T > t`` (weight
  ``1 / G(t)``); censored rows with ``T <= t`` get weight 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..survival._aipw import CensoringKM, censoring_km

__all__ = ["CIndex", "c_index", "c_indices", "ipcw_auc", "ipcw_brier", "km_risk", "censoring_if"]


@dataclass(frozen=True)
class CIndex:
    """A C-index with its infinitesimal-jackknife variance and the weighted pair counts.

    ``influence`` holds each subject's infinitesimal-jackknife value (the derivative of C
    with respect to its case weight, in row order): ``variance == sum(influence ** 2)``, and
    the covariance of two C-indices of the same rows is ``sum(influence_1 * influence_2)``.
    """

    estimate: float
    variance: float
    concordant: float
    discordant: float
    tied_risk: float
    influence: np.ndarray | None = field(default=None, repr=False, compare=False)


def c_index(time: np.ndarray, status: np.ndarray, risk: np.ndarray,
            tau: float | None = None, uno: bool = False) -> CIndex:
    """Harrell's (``uno=False``) or Uno's (``uno=True``: pairs weighted ``1 / G(T_i-)^2``) C.

    Events after ``tau`` are not counted as events (R ``ymax``). The variance is the
    infinitesimal jackknife of R ``concordance()``: ``sum_k D_k^2`` with ``D_k`` the derivative
    of C with respect to subject ``k``'s case weight, the time weights held fixed.

    Examples
    --------
    >>> r = c_index(np.array([1.0, 2, 3, 4]), np.array([1, 1, 0, 1]), np.array([4.0, 1, 3, 2]))
    >>> r.estimate, r.concordant, r.discordant
    (0.6, 3.0, 2.0)
    """
    return c_indices(time, status, risk, [(tau, uno)])[0]


def c_indices(time: np.ndarray, status: np.ndarray, risk: np.ndarray,
              specs: list[tuple[float | None, bool]]) -> list[CIndex]:
    """Several C-indices ``(tau, uno)`` of one score, sharing one pass of pair counting."""
    n = time.size
    order = np.lexsort((-status, time))
    t, d, x = time[order], status[order].astype(np.int64), risk[order]
    rank = np.unique(x, return_inverse=True)[1].astype(np.int64).ravel()
    ev = d == 1
    g = censoring_km(t, d, np.ones(n)) if any(u for _, u in specs) else None
    tw = np.zeros((n, len(specs)))
    for k, (tau, uno) in enumerate(specs):  # a few specs, not rows
        tw[ev, k] = 1.0 / g.before(t[ev]) ** 2 if (uno and g is not None) else 1.0
        if tau is not None:
            tw[t > tau, k] = 0.0
    new = np.concatenate([[0], (t[1:] != t[:-1]).astype(np.int64)])
    code = 2 * np.cumsum(new) + (1 - d)
    # pairs (event j, partner i) need code_j < code_i: the partner is later, or censored at
    # the event's time. Per row: weights of the rows with a lower code, by rank below / tied
    w = np.column_stack([np.ones(n), tw])
    less_lt = _less_before_code(code, rank, w)
    eq_lt = _run_prefix(rank, code, w)[0]          # same rank, lower code
    same_less, same_leq = _run_prefix(code, rank, w)  # same code, rank below / not above
    cw = np.vstack([np.zeros((1, w.shape[1])), np.cumsum(w, axis=0)])
    tot_lt = cw[np.searchsorted(code, code, side="left")]
    by_rank = np.bincount(rank, minlength=int(rank.max()) + 1)
    below_all = np.concatenate([[0], np.cumsum(by_rank)])
    # role 1, row i is the event: partners have code > code_i (weight 1 each)
    s_less = below_all[rank] - less_lt[:, 0] - same_less[:, 0]
    s_leq = below_all[rank + 1] - less_lt[:, 0] - eq_lt[:, 0] - same_leq[:, 0]
    s_tot = n - np.searchsorted(code, code, side="right")
    out = []
    for k in range(len(specs)):  # role 2, row i is the partner of events weighted tw_j
        twk = tw[:, k]
        conc1, disc1, tie1 = twk * s_less, twk * (s_tot - s_leq), twk * (s_leq - s_less)
        less2, leq2 = less_lt[:, k + 1], less_lt[:, k + 1] + eq_lt[:, k + 1]
        conc = conc1 + tot_lt[:, k + 1] - leq2
        disc = disc1 + less2
        tie = tie1 + leq2 - less2
        ci = _ij(conc1.sum(), disc1.sum(), tie1.sum(), conc, disc, tie)
        if ci.influence is not None:  # back to row order
            inf = np.empty(n)
            inf[order] = ci.influence
            ci = CIndex(ci.estimate, ci.variance, ci.concordant, ci.discordant, ci.tied_risk,
                        influence=inf)
        out.append(ci)
    return out


def _ij(c_pairs: float, d_pairs: float, t_pairs: float, conc: np.ndarray, disc: np.ndarray,
        tie: np.ndarray) -> CIndex:
    npair = c_pairs + d_pairs + t_pairs
    if npair <= 0:
        return CIndex(np.nan, np.nan, c_pairs, d_pairs, t_pairs)
    somer = (c_pairs - d_pairs) / npair
    dfbeta = (conc - disc) / npair - somer / npair * (conc + disc + tie)
    return CIndex(estimate=float((somer + 1) / 2), variance=float(np.sum(dfbeta ** 2) / 4),
                  concordant=float(c_pairs), discordant=float(d_pairs), tied_risk=float(t_pairs),
                  influence=dfbeta / 2)


def _run_prefix(primary: np.ndarray, secondary: np.ndarray, w: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per row, weights of rows with the same ``primary`` and ``secondary`` below / not above."""
    n = primary.size
    # one argsort of a combined int64 key (both are non-negative integer codes < 2n + 2)
    # instead of a two-key lexsort; the order within ties does not change the run sums
    order = np.argsort(primary.astype(np.int64) * (int(secondary.max()) + 1) + secondary)
    p, s = primary[order], secondary[order]
    cw = np.vstack([np.zeros((1, w.shape[1])), np.cumsum(w[order], axis=0)])
    idx = np.arange(n)
    p_new = np.concatenate([[True], p[1:] != p[:-1]])
    ps_new = p_new | np.concatenate([[True], s[1:] != s[:-1]])
    p_start = np.maximum.accumulate(np.where(p_new, idx, 0))
    ps_start = np.maximum.accumulate(np.where(ps_new, idx, 0))
    ps_end = np.concatenate([np.flatnonzero(ps_new)[1:], [n]])[np.cumsum(ps_new) - 1]
    below = np.empty_like(w)
    upto = np.empty_like(w)
    below[order] = cw[ps_start] - cw[p_start]
    upto[order] = cw[ps_end] - cw[p_start]
    return below, upto


def _less_before_code(code: np.ndarray, rank: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per row, weights of rows with ``code_j < code_i`` and ``rank_j < rank_i``.

    Rows in (code, descending rank) order make "earlier position" the same as "lower code"
    for these pairs; the strict dominance counts of the positions come from a bottom-up merge
    sort: at level ``L`` each row of a right half-block counts the rows of its left
    half-block with a lower rank. The rows are carried in merged order from level to level,
    so each level's sort key is two ascending runs per block (a stable sort merges them) and
    the gathers stay within blocks; the counts accumulate in that order and are put back in
    row order once at the end.
    """
    n, k = w.shape
    nr = int(rank.max()) + 1
    order = np.argsort(code * nr + (nr - 1 - rank))
    r = rank[order]
    ww = np.ascontiguousarray(w[order].T)
    pos = np.arange(n, dtype=np.int64)  # the position held by each slot
    res = np.zeros((k, n))
    cl = np.zeros((k, n + 1))
    level = 0
    while (1 << level) < n:
        # at equal rank the right rows sort first: only strictly lower left ranks are counted
        key = ((pos >> (level + 1)) * nr + r) * 2 + (1 - ((pos >> level) & 1))
        srt = np.argsort(key, kind="stable")
        pos, r, ww, res = pos[srt], r[srt], ww[:, srt], res[:, srt]
        is_r = ((pos >> level) & 1).astype(bool)
        np.cumsum(np.where(is_r, 0.0, ww), axis=1, out=cl[:, 1:])
        j = np.flatnonzero(is_r)
        start = (pos[j] >> (level + 1)) << (level + 1)  # first slot of the pair block
        res[:, j] += cl[:, j + 1] - cl[:, start]
        level += 1
    out = np.empty((n, k))
    out[order[pos]] = res.T
    return out


def censoring_if(t: np.ndarray, d: np.ndarray, g: CensoringKM, a: np.ndarray,
                 n_jumps_in: np.ndarray) -> np.ndarray:
    """Influence of the censoring KM on ``mean_i a_i / G(s_i)``, per subject (times ``n``).

    ``a_i`` are the already-weighted terms ``Z_i / G(s_i)`` and ``n_jumps_in[i]`` the number
    of censoring jump times that enter ``G(s_i)``. With ``y(u)`` the proportion at risk and
    ``dL(u)`` the censoring hazard, subject ``k`` contributes
    ``mean_i a_i [1{k censored at jump j_k, j_k in G(s_i)} / y(u_jk)
    - sum_{jumps u in G(s_i), u <= T_k} dL(u) / y(u)]``.
    """
    n = t.size
    m = g.jumps.size
    if m == 0:
        return np.zeros(n)
    # at risk at u_j: T >= u_j (riskRegression's KM influence function counts the events at
    # u_j in the risk set, and the censoring hazard as censorings / that risk set)
    ts = np.sort(t)
    y = (n - np.searchsorted(ts, g.jumps, side="left")) / n
    n_cens = np.bincount(np.searchsorted(g.jumps, t[d == 0], side="left"), minlength=m + 1)[:m]
    dlam = n_cens / (n * y)
    # A(j) = sum_i a_i 1{jump j enters G(s_i)}: the rows with n_jumps_in[i] > j
    a_by = np.bincount(n_jumps_in, weights=a, minlength=m + 1)
    big_a = a_by.sum() - np.cumsum(a_by)[:m]
    # subject k's own censoring jump, and the jumps while k is at risk of censoring
    jk = np.searchsorted(g.jumps, t, side="left")
    is_jump = (d == 0) & (jk < m)
    is_jump[is_jump] = g.jumps[jk[is_jump]] == t[is_jump]
    term1 = np.zeros(n)
    term1[is_jump] = big_a[jk[is_jump]] / y[jk[is_jump]]
    cum = np.concatenate([[0.0], np.cumsum(dlam / y * big_a)])
    term2 = cum[np.searchsorted(g.jumps, t, side="right")]
    return (term1 - term2) / n


def _case_control(t: np.ndarray, d: np.ndarray, horizon: float, g: CensoringKM
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    case = (t <= horizon) & (d == 1)
    control = t > horizon
    wc = np.zeros(t.size)
    wc[case] = 1.0 / g.before(t[case])
    g_t = float(g.after(np.array([horizon]))[0])
    n_in = np.where(case, np.searchsorted(g.jumps, t, side="left"),
                    np.searchsorted(g.jumps, horizon, side="right"))
    return case, control, wc, n_in, g_t


def ipcw_brier(t: np.ndarray, d: np.ndarray, p: np.ndarray, horizon: float,
               g: CensoringKM | None = None) -> tuple[float, np.ndarray]:
    """IPCW Brier score at ``horizon`` and its influence function (censoring KM included).

    Examples
    --------
    >>> b, psi = ipcw_brier(np.array([1.0, 2, 3, 4]), np.array([1, 0, 1, 0]),
    ...                     np.array([0.9, 0.5, 0.4, 0.1]), 2.5)
    >>> round(b, 4)
    0.0663
    """
    n = t.size
    g = censoring_km(t, d, np.ones(n)) if g is None else g
    case, control, wc, n_in, g_t = _case_control(t, d, horizon, g)
    a = np.where(case, (1.0 - p) ** 2 * wc, 0.0) + np.where(control, p ** 2 / g_t, 0.0)
    brier = float(a.mean())
    psi = a - brier + censoring_if(t, d, g, a, n_in)
    return brier, psi


def ipcw_auc(t: np.ndarray, d: np.ndarray, p: np.ndarray, horizon: float,
             g: CensoringKM | None = None) -> tuple[float, np.ndarray]:
    """Cumulative/dynamic IPCW AUC at ``horizon`` and its influence function.

    ``AUC = sum_{i case, j control} w_i [1{p_i > p_j} + 1{p_i = p_j} / 2] / (sum w_i n_0)``
    with ``w_i = 1 / G(T_i-)`` (the control weights ``1 / G(t)`` cancel).

    Examples
    --------
    >>> auc, psi = ipcw_auc(np.array([1.0, 2, 3, 4]), np.array([1, 0, 1, 0]),
    ...                     np.array([0.9, 0.5, 0.4, 0.1]), 3.5)
    >>> auc
    1.0
    """
    n = t.size
    g = censoring_km(t, d, np.ones(n)) if g is None else g
    case, control, wc, n_in, g_t = _case_control(t, d, horizon, g)
    b = np.where(control, 1.0 / g_t, 0.0)
    if not case.any() or not control.any():
        return float("nan"), np.full(n, np.nan)
    # for every subject: weight of controls below / tied in p, and of cases above / tied
    rank = np.unique(p, return_inverse=True)[1].ravel()
    m = int(rank.max()) + 1
    n_c = np.bincount(rank, weights=control.astype(float), minlength=m)
    w_c = np.bincount(rank, weights=wc, minlength=m)
    below_c = (np.cumsum(n_c) - n_c)[rank]
    k_case = (below_c + n_c[rank] / 2) / g_t            # n * (1/n) sum_j b_j K_ij
    above_w = (w_c.sum() - np.cumsum(w_c))[rank]
    k_ctrl = above_w + w_c[rank] / 2                    # sum_i a_i K_ij for control j
    num_i = wc * k_case                                 # n * (1/n^2) row sums
    nbar = num_i.sum() / n ** 2
    abar, bbar = wc.mean(), b.mean()
    auc = float(nbar / (abar * bbar))
    if_n = (num_i + np.where(control, k_ctrl / g_t, 0.0)) / n - 2 * nbar
    if_d = (wc - abar) * bbar + abar * (b - bbar)
    # censoring part: only the case weights 1 / G(T_i-) matter (G(t) cancels in the ratio)
    c = wc * k_case / n - auc * wc * bbar
    if_c = censoring_if(t, d, g, c, n_in)
    psi = (if_n - auc * if_d + if_c) / (abar * bbar)
    return auc, psi


def km_risk(t: np.ndarray, d: np.ndarray, horizon: float) -> tuple[float, float]:
    """Kaplan-Meier risk ``1 - S(horizon)`` and its Greenwood standard error."""
    from ..survival._counts import risk_counts

    rc = risk_counts(t, d.astype(np.int64), n_causes=1)
    keep = rc.time <= horizon
    nr, ne = rc.n_risk[keep], rc.n_event[keep, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = float(np.prod(1.0 - ne / nr))
        gw = float(np.sum(np.where(nr > ne, ne / (nr * (nr - ne)), 0.0)))
    return 1.0 - surv, surv * np.sqrt(gw)
