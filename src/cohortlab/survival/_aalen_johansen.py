"""Array kernels for competing risks: Aalen-Johansen CIFs, their variances, Gray's test.

Arrays in, arrays out; no pandas. Every kernel sorts once (inside :func:`risk_counts`) and
works with cumulative sums over the distinct times, ``np.searchsorted`` and ``np.bincount``:
no Python loop over rows or over times (loops over causes and groups only).

Notation at the sorted distinct exit times ``u_1 < ... < u_m`` of one curve: ``Y_j``
(weighted) number at risk, ``d_kj`` events of cause ``k``, ``d_j`` events of any cause,
``S_j = prod_{l <= j} (1 - d_l / Y_l)`` the Kaplan-Meier estimate of being event-free and
``F_k(u_J) = sum_{j <= J} S_{j-1} d_kj / Y_j`` the Aalen-Johansen cumulative incidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ._counts import RiskCounts, risk_counts
from ._km import km_conf_int

__all__ = [
    "AalenJohansen",
    "aalen_johansen",
    "ij_variance",
    "IJTerms",
    "ij_terms",
    "aalen_variance",
    "GrayResult",
    "gray_score",
    "cif_conf_int",
]


@dataclass(frozen=True)
class AalenJohansen:
    """The estimate at the distinct times of ``counts``.

    ``survival`` is ``S_j`` (event-free), ``cif`` has one column per cause and ``increment``
    the jumps ``S_{j-1} d_kj / Y_j`` of each CIF.
    """

    counts: RiskCounts
    survival: np.ndarray
    cif: np.ndarray
    increment: np.ndarray

    @property
    def survival_before(self) -> np.ndarray:
        """``S_{j-1}``: the event-free probability just before each time."""
        return np.concatenate([[1.0], self.survival[:-1]])


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den > 0``, else 0 (no warnings)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _shift(x: np.ndarray, first: float = 0.0) -> np.ndarray:
    """``x[j-1]`` at position ``j`` (``first`` at position 0), along the first axis."""
    pad = np.full((1,) + x.shape[1:], first)
    return np.concatenate([pad, x[:-1]])


def aalen_johansen(counts: RiskCounts) -> AalenJohansen:
    """Aalen-Johansen cumulative incidence of every cause from risk-set counts.

    Examples
    --------
    >>> rc = risk_counts(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 2, 0, 1]))
    >>> aj = aalen_johansen(rc)
    >>> aj.cif[:, 0].tolist(), aj.cif[:, 1].tolist()
    ([0.25, 0.25, 0.25, 0.75], [0.0, 0.25, 0.25, 0.25])
    """
    y = counts.n_risk
    hazard = _safe_div(counts.n_event_any, y)
    surv = np.cumprod(1.0 - hazard)
    inc = _shift(surv, 1.0)[:, None] * _safe_div(counts.n_event, y[:, None])
    return AalenJohansen(counts=counts, survival=surv, cif=np.cumsum(inc, axis=0),
                         increment=inc)


def _range_sum(start: np.ndarray, stop: np.ndarray, values: np.ndarray, m: int) -> np.ndarray:
    """At each time index ``J``: the sum of ``values[i]`` over subjects with start <= J < stop."""
    diff = np.bincount(start, weights=values, minlength=m + 1)
    diff -= np.bincount(stop, weights=values, minlength=m + 1)
    return np.cumsum(diff[:m])


def ij_variance(
    aj: AalenJohansen,
    exit_index: np.ndarray,
    event: np.ndarray,
    weights: np.ndarray,
    entry_index: np.ndarray | None = None,
) -> np.ndarray:
    """Infinitesimal-jackknife variance of every CIF at every time (R ``survfit``'s std.err).

    ``Var F_k(u_J) = sum_i (w_i D_ik(J))^2`` with ``D_ik(J) = dF_k(u_J) / dw_i`` the exact
    derivative of the estimate with respect to subject ``i``'s case weight. With
    ``c_l = d_l / (Y_l (Y_l - d_l))``, ``C(J) = sum_{l <= J} c_l``, ``U(J) = sum_{j <= J}
    dF_kj (C(j-1) - 1 / Y_j)`` and a subject at risk over the time indices ``a_i..b_i``:

    - for ``a_i <= J < b_i``: ``D(J) = U(J) - U(a_i-1) - C(a_i-1) (F(J) - F(a_i-1))``;
    - for ``J >= b_i``: ``D(J) = D(b_i) + K_i (F(J) - F(b_i))`` with ``K_i = C(b_i) -
      C(a_i-1) - [e_i > 0] / (Y_{b_i} - d_{b_i})`` and ``D(b_i)`` the first form plus
      ``[e_i = k] S_{b_i - 1} / Y_{b_i}``.

    So ``D`` is affine in ``(F(J), U(J))`` on two index ranges per subject, and the sum of
    squares is a quadratic in ``F(J), U(J)`` whose coefficients are range sums (difference
    arrays + ``cumsum``): O(n + m) per cause, without the n x m matrix.

    Parameters
    ----------
    aj : the estimate (its ``counts`` weighted as ``weights``).
    exit_index : index of each subject's exit time in ``aj.counts.time``.
    event : event codes (0 censored, 1..K).
    weights : case weights.
    entry_index : index of the first time each subject is at risk (left truncation).

    Returns
    -------
    numpy.ndarray
        Variances, shape ``(m, K)``.

    Examples
    --------
    >>> t, e = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 2, 0, 1])
    >>> aj = aalen_johansen(risk_counts(t, e))
    >>> v = ij_variance(aj, np.arange(4), e, np.ones(4))
    >>> np.round(np.sqrt(v[:, 0]), 4).tolist()
    [0.2165, 0.2165, 0.2165, 0.2165]
    """
    t = ij_terms(aj, exit_index, event, entry_index)
    a, b, m, k_i = t.a, t.b, t.m, t.k_i
    w2 = np.asarray(weights, dtype=float) ** 2
    end = np.full_like(b, m)
    at_risk_w2 = _range_sum(a, b, w2, m)  # sum of w^2 over rows with a_i <= J < b_i
    w2k = w2 * k_i
    from_exit_kk = _range_sum(b, end, w2k * k_i, m)
    out = np.empty((m, t.n_causes))
    for k, (f, u, alpha1, beta1, alpha2) in enumerate(t.causes()):
        var = (_range_sum(b, end, w2 * alpha2**2, m)
               + 2.0 * f * _range_sum(b, end, w2k * alpha2, m)
               + f**2 * from_exit_kk
               + u**2 * at_risk_w2)
        if t.truncated:
            var += (_range_sum(a, b, w2 * alpha1**2, m)
                    + 2.0 * f * _range_sum(a, b, w2 * alpha1 * beta1, m)
                    + 2.0 * u * _range_sum(a, b, w2 * alpha1, m)
                    + f**2 * _range_sum(a, b, w2 * beta1**2, m)
                    + 2.0 * f * u * _range_sum(a, b, w2 * beta1, m))
        out[:, k] = np.maximum(var, 0.0)
    return out


@dataclass(frozen=True)
class IJTerms:
    """The per-subject coefficients of the exact weight derivatives ``D_ik(J)`` of the AJ CIF.

    ``D`` is affine in ``(F(J), U(J))``: ``alpha1 + beta1 F + U`` on ``[a_i, b_i)`` (with
    ``alpha1 = beta1 = 0`` without left truncation) and ``alpha2 + K_i F`` on ``[b_i, m)``;
    :func:`ij_variance` sums their squares, ``_psvar_curves.aj_linear`` their linear forms.
    """

    aj: AalenJohansen
    a: np.ndarray
    b: np.ndarray
    event: np.ndarray
    truncated: bool
    k_i: np.ndarray
    cum_c_prev: np.ndarray
    inv_y: np.ndarray

    @property
    def m(self) -> int:
        return int(self.aj.cif.shape[0])

    @property
    def n_causes(self) -> int:
        return int(self.aj.cif.shape[1])

    def causes(self) -> Iterator[tuple[np.ndarray, ...]]:
        """Per cause ``k``: ``(F, U, alpha1, beta1, alpha2)`` (time- and subject-indexed)."""
        a, b, s_prev = self.a, self.b, self.aj.survival_before
        for k in range(self.n_causes):
            f, df = self.aj.cif[:, k], self.aj.increment[:, k]
            u = np.cumsum(df * (self.cum_c_prev - self.inv_y))
            jump = np.where(self.event == k + 1, s_prev[b] * self.inv_y[b], 0.0)
            if self.truncated:  # D = alpha1 + beta1 F + U on [a, b)
                u_prev, f_prev = _shift(u), _shift(f)
                beta1 = -self.cum_c_prev[a]
                alpha1 = -beta1 * f_prev[a] - u_prev[a]
                d_b = alpha1 + beta1 * f[b] + u[b] + jump
            else:
                alpha1 = beta1 = np.zeros(b.size)
                d_b = u[b] + jump
            alpha2 = d_b - self.k_i * f[b]  # D = alpha2 + K F on [b, m)
            yield f, u, alpha1, beta1, alpha2


def ij_terms(aj: AalenJohansen, exit_index: np.ndarray, event: np.ndarray,
             entry_index: np.ndarray | None = None) -> IJTerms:
    """The coefficients of the weight derivatives of ``aj`` (see :class:`IJTerms`)."""
    rc = aj.counts
    y, d = rc.n_risk, rc.n_event_any
    m = aj.cif.shape[0]
    b = np.asarray(exit_index, dtype=np.int64)
    truncated = entry_index is not None
    a = np.asarray(entry_index, dtype=np.int64) if truncated else np.zeros_like(b)
    # an interval where everyone at risk fails (Y = d) sets S to 0 for good: its terms vanish
    c = _safe_div(d, y * (y - d))
    g = _safe_div(np.ones(m), y - d)
    cum_c = np.cumsum(c)
    cum_c_prev = _shift(cum_c)  # C(j-1)
    k_i = cum_c[b] - np.where(event > 0, g[b], 0.0)
    if truncated:
        k_i -= cum_c_prev[a]
    return IJTerms(aj=aj, a=a, b=b, event=np.asarray(event), truncated=truncated, k_i=k_i,
                   cum_c_prev=cum_c_prev, inv_y=_safe_div(np.ones(m), y))


def aalen_variance(aj: AalenJohansen) -> np.ndarray:
    """The variance of ``cmprsk::cuminc`` (Aalen-type delta method, with its tie correction).

    At each time ``j`` with events, for the events of cause ``k`` (``d1``) and of the other
    causes (``d2``), with ``S^-`` and ``S`` the event-free probability before and at ``u_j``,
    ``F = F_k(u_j)`` and the tie factor ``t(d) = 1 - (d - 1) / (Y - 1)``:

    - ``v6(d) = (S^-)^2 t(d) d / Y^2``;
    - cause ``k``: ``a = 1 + F / S``, ``b = 1 / S``; other causes: ``a = F / S``, ``b = 1 / S``
      (only where ``S > 0``; for cause ``k`` ``b = 0`` where ``S = 0``);
    - ``v1 += a^2 v6``, ``v2 += a b v6``, ``v3 += b^2 v6`` (cumulative sums over times);
    - ``Var = v1 + F^2 v3 - 2 F v2``, updated only at times with an event of cause ``k``
      (cmprsk reports its variance at those jumps and carries it forward, so later
      competing events enter at the next cause-``k`` event).

    Unweighted data only (``aj`` from unweighted counts).

    Examples
    --------
    >>> t, e = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 2, 0, 1])
    >>> v = aalen_variance(aalen_johansen(risk_counts(t, e)))
    >>> np.round(v[:, 0], 4).tolist()
    [0.0625, 0.0625, 0.0625, 0.3194]
    """
    rc = aj.counts
    y, d_any = rc.n_risk, rc.n_event_any
    s_prev, s = aj.survival_before, aj.survival
    m, k_causes = aj.cif.shape
    inv_s = _safe_div(np.ones(m), s)
    idx = np.arange(m)

    def v6(dd: np.ndarray) -> np.ndarray:
        tie = np.where(dd > 1, 1.0 - _safe_div(dd - 1.0, y - 1.0), 1.0)
        return s_prev**2 * tie * _safe_div(dd, y**2)

    out = np.empty((m, k_causes))
    for k in range(k_causes):
        f = aj.cif[:, k]
        d1 = rc.n_event[:, k]
        d2 = d_any - d1
        v6_1 = v6(d1)
        v6_2 = np.where((d2 > 0) & (s > 0), v6(d2), 0.0)
        a1, a2 = 1.0 + inv_s * f, f * inv_s
        v1 = np.cumsum(a1**2 * v6_1 + a2**2 * v6_2)
        v2 = np.cumsum(inv_s * a1 * v6_1 + inv_s * a2 * v6_2)
        v3 = np.cumsum(inv_s**2 * (v6_1 + v6_2))
        var = v1 + f**2 * v3 - 2.0 * f * v2
        last = np.maximum.accumulate(np.where(d1 > 0, idx, -1))
        out[:, k] = np.where(last >= 0, np.maximum(var[np.maximum(last, 0)], 0.0), 0.0)
    return out


# ---------------------------------------------------------------------- Gray's test
@dataclass(frozen=True)
class GrayResult:
    """Gray's statistic for one cause, with the score (all groups) and its covariance."""

    cause: int
    statistic: float
    score: np.ndarray
    covariance: np.ndarray


def _stratum_counts(
    time: np.ndarray, event: np.ndarray, group: np.ndarray, n_groups: int, n_codes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group numbers at risk ``(m, G)`` and events per cause ``(m, G, K)``.

    Only at the event times of the pooled data: a time with censorings only changes nothing
    but the risk sets, which the next event time sees.
    """
    pooled = risk_counts(time, event, n_causes=n_codes)
    grid = pooled.time[pooled.n_event_any > 0]
    rs = np.zeros((grid.size, n_groups))
    d = np.zeros((grid.size, n_groups, n_codes))
    order = np.lexsort((time, group))  # by group, then time: each group a sorted slice
    t, e = time[order], event[order]
    bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    for j in range(n_groups):
        sel = slice(bounds[j], bounds[j + 1])
        if bounds[j] == bounds[j + 1]:
            continue
        rc = risk_counts(t[sel], e[sel], n_causes=n_codes)
        nxt = np.searchsorted(rc.time, grid, side="left")  # the group's first time >= u
        inside = nxt < rc.time.size
        rs[inside, j] = rc.n_risk[nxt[inside]]
        has = rc.n_event_any > 0
        d[np.searchsorted(grid, rc.time[has]), j, :] = rc.n_event[has]
    return rs, d


def _gray_parts(
    rs: np.ndarray, d1: np.ndarray, d2: np.ndarray, rho: float
) -> tuple[np.ndarray, np.ndarray]:
    """Gray's score (all groups) and its covariance from per-group counts at event times.

    ``rs``, ``d1`` (events of the cause) and ``d2`` (of the other causes) have shape
    ``(m, G)``. Vectorised over times: every running quantity is a cumulative sum or
    product, and the covariance sums products over times (one matrix product per group).
    """
    n_groups = rs.shape[1]
    nd1 = d1.sum(axis=1)
    at_risk = rs > 0
    # group-wise KM (any event) and CIF of the cause, left- (m) and right-continuous
    skm = np.cumprod(1.0 - _safe_div(d1 + d2, rs), axis=0)
    skmm = _shift(skm, 1.0)
    f1m = _shift(np.cumsum(skmm * _safe_div(d1, rs), axis=0))
    t1 = _safe_div(rs, skmm)  # n_g / S_g^-: the group's subdistribution risk set / (1 - F_g^-)
    tr = t1.sum(axis=1)
    tq = (t1 * (1.0 - f1m)).sum(axis=1)
    f = np.cumsum(_safe_div(nd1, tr))  # pooled CIF at (f) and before (fm) each time
    fm = _shift(f)
    fb = (1.0 - fm) ** rho
    # score: observed minus expected events of the cause, per group
    expected = nd1[:, None] * _safe_div(t1 * (1.0 - f1m), tq[:, None])
    score = (fb[:, None] * (d1 - expected)).sum(axis=0)
    # a_t = fb (diag(t1) - t1 t1' / tr); c = cumulative sum of a_t nd1 / (tr (1 - fm))
    a_t = fb[:, None, None] * (t1[:, :, None] * np.eye(n_groups)
                               - t1[:, :, None] * _safe_div(t1, tr[:, None])[:, None, :])
    c_t = np.cumsum(a_t * _safe_div(nd1, tr * (1.0 - fm))[:, None, None], axis=0)
    # events of the cause (times with nd1 > 0, groups at risk)
    t4 = np.where(skm > 0, 1.0 - _safe_div(1.0 - f[:, None], skm), 1.0)
    tie1 = np.where((nd1 > 1)[:, None],
                    1.0 - _safe_div((nd1 - 1.0)[:, None], tr[:, None] * skmm - 1.0), 1.0)
    t3 = np.where((nd1 > 0)[:, None] & at_risk,
                  tie1 * skmm * _safe_div(nd1[:, None], tr[:, None] * rs), 0.0)
    # events of the other causes (groups with S > 0 and such events)
    has2 = (skm > 0) & (d2 > 0)
    t4b = np.where(has2, _safe_div(1.0 - f[:, None], skm), 0.0)
    tie2 = np.where(d2 > 1, 1.0 - _safe_div(d2 - 1.0, rs - 1.0), 1.0)
    wb = t4b**2 * np.where(has2, tie2 * skmm**2 * _safe_div(d2, rs**2), 0.0)
    v = np.zeros((n_groups, n_groups))
    v2 = np.zeros((n_groups, n_groups))
    v3 = (t4**2 * t3 + wb).sum(axis=0)
    for k in range(n_groups):  # loop over groups; each term a product over all times
        big = a_t[:, :, k] - t4[:, k, None] * c_t[:, :, k]
        ck = c_t[:, :, k]
        v += (big * t3[:, k, None]).T @ big + (ck * wb[:, k, None]).T @ ck
        v2[:, k] = big.T @ (t4[:, k] * t3[:, k]) - ck.T @ wb[:, k]
    c_end = c_t[-1] if c_t.shape[0] else np.zeros((n_groups, n_groups))
    v += (c_end * v3) @ c_end.T + c_end @ v2.T + v2 @ c_end.T
    return score, v


def gray_score(
    time: np.ndarray,
    event: np.ndarray,
    causes: list[int],
    group: np.ndarray,
    n_groups: int,
    strata: np.ndarray | None = None,
    rho: float = 0.0,
) -> list[GrayResult]:
    """Gray's (1988) K-sample statistic for the CIF of each cause (``cmprsk::cuminc``'s test).

    Per stratum, the score of group ``g`` is ``sum_t w(t) [d1_g(t) - d1(t) R_g(t) / R(t)]``
    with ``R_g(t) = n_g(t) (1 - F_g(t-)) / S_g(t-)`` (the group's subdistribution risk set),
    ``d1`` the events of the cause and ``w = (1 - F(t-))^rho``; its covariance is Gray's
    (Theorem 1) estimate with cmprsk's tie corrections. Scores and covariances add over
    strata; the statistic is ``s' V^{-1} s`` on the first ``G - 1`` groups.

    Parameters
    ----------
    time, event : follow-up times and codes (0 censored, 1..K).
    causes : the causes whose CIFs are compared (events of the other codes compete).
    group : integer group codes ``0..G-1``.
    n_groups : ``G``.
    strata : integer stratum codes (default: one stratum).
    rho : power of the weight function (cmprsk's ``rho``; 0 by default).

    Returns
    -------
    list of GrayResult
        One per cause; the statistic is NaN when the covariance is singular (e.g. no events
        of the cause), where cmprsk reports -1.

    Examples
    --------
    >>> t = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    >>> e = np.array([1, 2, 1, 0, 2, 1, 0, 1])
    >>> g = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> [round(r.statistic, 6) for r in gray_score(t, e, [1, 2], g, 2)]
    [2.232308, 0.972973]
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=np.int64)
    n_codes = max(int(event.max(initial=0)), max(causes), 1)
    strata = np.zeros(time.size, dtype=np.int64) if strata is None else np.asarray(strata)
    scores = np.zeros((len(causes), n_groups))
    covs = np.zeros((len(causes), n_groups, n_groups))
    for s in np.unique(strata):
        sel = strata == s
        rs, d = _stratum_counts(time[sel], event[sel], group[sel], n_groups, n_codes)
        d_any = d.sum(axis=2)
        for i, k in enumerate(causes):
            sc, v = _gray_parts(rs, d[:, :, k - 1], d_any - d[:, :, k - 1], rho)
            scores[i] += sc
            covs[i] += v
    out = []
    for i, k in enumerate(causes):
        s1, v1 = scores[i, :-1], covs[i, :-1, :-1]
        stat = (float(s1 @ np.linalg.solve(v1, s1))
                if np.linalg.matrix_rank(v1) == n_groups - 1 else float("nan"))
        out.append(GrayResult(cause=k, statistic=stat, score=scores[i], covariance=covs[i]))
    return out


# ---------------------------------------------------------------------- intervals
def cif_conf_int(
    cif: np.ndarray, se: np.ndarray, conf_type: str, conf_level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise interval for a CIF from its SE, the transform applied to ``F`` itself.

    As R's ``survfit_confint`` for multi-state probabilities (:func:`km_conf_int` on ``F``):
    ``"log"`` ``F exp(-/+ z se/F)`` (upper capped at 1); ``"log-log"`` ``F^exp(-/+ z se /
    (F log F))`` (Choudhury 2002, Pintilie 2006); ``"plain"`` ``F -/+ z se`` clipped to
    [0, 1]. Where the SE is 0 the interval is the point (also at ``F = 0``, before the first
    event of the cause); where the transform is undefined (``F = 0`` for log, ``F`` 0 or 1
    for log-log, with a positive SE) the limits are NaN (R: NA).

    Examples
    --------
    >>> lo, hi = cif_conf_int(np.array([0.04]), np.array([0.008]), "log", 0.95)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.027, 0.0592)
    """
    return km_conf_int(cif, se, conf_type, conf_level, point_at_zero=True)
