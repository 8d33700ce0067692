"""Influence-function variances of ``adjusted_survival`` with the nuisance models estimated.

Arrays in, arrays out; no validation (the verb has done it). Every variance here is the
infinitesimal jackknife of the whole procedure: ``D_i(t) = s_i d theta(t) / d s_i``, the
derivative of the estimate in subject ``i``'s case weight ``s_i`` *through every fitted
model*, and ``Var theta(t) = sum_i D_i(t)^2`` (``n`` in the denominator, as R's robust
``survfit`` and riskRegression's ``ate()``). With unit weights ``D_i = IF_i / n``.

``gformula_influence`` -- the standardised Cox model (R ``riskRegression::ate(se = TRUE)``):
``theta_a(t) = sum_j p_j S(t | a, X_j) / P`` with ``S(t | a, x) = exp(-Lambda_0(t) r)``,
``r = exp(z' beta)``. ``D_i`` is the standardisation term ``p_i (S_i - theta) / P`` plus the
delta-method terms through the Cox coefficients (``d beta / d s_i = V L_i``, ``L_i`` the score
residual, ``V`` the inverse information) and through the baseline hazard (Breslow, or Efron's
with tied deaths, at fixed ``beta`` and through ``beta``).

``ipw_influence`` -- the inverse-probability-weighted Kaplan-Meier with an estimated logistic
propensity score (stacked M-estimation): ``D_i = w_i U_i(t) + J(t)' d gamma / d s_i`` with
``U_i`` the KM's derivative in subject ``i``'s weight (see ``_km.km_ij_variance``),
``J(t) = sum_j U_j(t) d w_j / d gamma`` and ``d gamma / d s_i`` the logistic fit's influence
value over ``n``. Dropping the ``J`` term gives the known-weights (``"robust"``) variance.

The arms' influence values share subjects (the fitted models use both arms), so the
covariance of the two curves is kept (``IJMoments.cov_diag``, ``IJMoments.quad``) for
contrasts and RMST. The cost is one pass over subjects x grid times for the curves' variances
and one more for each RMST: the grid x grid covariance is never formed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from .._glm import GLMFit
from ..causal._ipw import realized_weights
from . import _cox
from ._adjusted_arms import arm_variance, read_on_grid
from ._counts import risk_counts
from ._km import product_limit

__all__ = ["IJMoments", "gformula_influence", "held_weight_derivative", "ipw_influence"]

#: Subjects x grid times processed at once (bounds memory at ~16 MB a block).
CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class IJMoments:
    """Variances of the arms' curves from their influence values ``D`` (arm, subject, time).

    Arm index 0 is exposure level 1, index 1 exposure level 0 (the order of the curves).
    ``diag[(a, b)] = sum_i D_a,i(t) D_b,i(t)`` per grid time is computed at once (one pass);
    a linear functional of the curves (the RMST) re-runs ``blocks`` for its own variance, so
    the grid x grid covariance is never formed.
    """

    diag: dict
    blocks: Callable[[], Iterator[np.ndarray]] = field(repr=False)
    #: ``tau -> (rmst per arm, 2 x 2 covariance)`` on every event time (``ipw``), or None
    rmst_exact: Callable[[float], tuple[np.ndarray, np.ndarray]] | None = field(
        default=None, repr=False)

    def variance(self) -> np.ndarray:
        """Per-arm variances on the grid (2 x grid)."""
        return np.vstack([self.diag[(0, 0)], self.diag[(1, 1)]])

    def cov_diag(self, a: int, b: int) -> np.ndarray:
        """``Cov(theta_a(t), theta_b(t))`` at each grid time."""
        return self.diag[(min(a, b), max(a, b))]

    def quad(self, vec: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """2 x 2 covariance of ``vec @ theta_a[cols]`` for the two arms (one more pass)."""
        out = np.zeros((2, 2))
        for dv in self.blocks():
            proj = dv[:, :, cols] @ vec
            out += proj @ proj.T
        return out


def _moments(blocks: Callable[[], Iterator[np.ndarray]], k: int) -> IJMoments:
    diag = {key: np.zeros(k) for key in ((0, 0), (1, 1), (0, 1))}
    for dv in blocks():
        for (a, b), acc in diag.items():
            acc += np.einsum("ik,ik->k", dv[a], dv[b])
    return IJMoments(diag=diag, blocks=blocks)


def _chunks(rows: np.ndarray, width: int) -> list[np.ndarray]:
    n_chunks = max(1, int(np.ceil(2 * rows.size * max(width, 1) / CHUNK_ELEMENTS)))
    return np.array_split(rows, n_chunks)


# ---------------------------------------------------------------------------- g-formula


def gformula_influence(t: np.ndarray, d: np.ndarray, a: np.ndarray, s: np.ndarray,
                       X: np.ndarray, pop: np.ndarray, grid: np.ndarray, efron: bool = True
                       ) -> tuple[np.ndarray, IJMoments]:
    """Standardised Cox survival under a = 1, 0 on ``grid`` and its IJ moments.

    ``d`` is 0/1 (any event), ``s`` the case weights, ``pop`` 1 for the rows of the target
    population (everyone for the ATE, the exposed for the ATT, ...).
    """
    Z = np.column_stack([a.astype(float), X])
    cd = _cox.prepare(Z, t, d.astype(np.int64), s)
    fit = _cox.fit_cox(cd, efron=efron)
    beta, center = fit.beta, cd.center
    st = cd.strata[0]
    xs = cd.x[st.sl]
    tt = _cox.time_terms(st, xs, st.weight * np.exp(xs @ beta), efron)
    ev = st.event_times
    cum_h = read_on_grid(ev, np.cumsum(tt.q01), grid, 0.0)                  # Lambda_0(t)
    dcum_dbeta = -np.vstack([np.zeros((1, beta.size)),
                             np.cumsum(tt.hazard_xbar()[0], axis=0)])[
        np.searchsorted(ev, grid, side="right")]                             # grid x p
    dl = s * pop                                                             # p_j
    total = float(dl.sum())
    rows = np.flatnonzero(dl > 0)
    k, p = grid.size, beta.size
    theta, g_lam, h = np.zeros((2, k)), np.zeros((2, k)), np.zeros((2, k, p))
    for chunk in _chunks(rows, k):
        for row, arm in enumerate((1, 0)):
            zc = np.column_stack([np.full(chunk.size, float(arm)), X[chunk]]) - center
            r = np.exp(zc @ beta)
            surv = np.exp(-r[:, None] * cum_h[None, :])
            pw = dl[chunk][:, None] * surv
            theta[row] += pw.sum(axis=0)
            g_lam[row] -= (pw * r[:, None]).sum(axis=0)
            h[row] -= (pw * r[:, None]).T @ zc
    theta, g_lam, h = theta / total, g_lam / total, h / total
    # d theta / d beta at fixed Lambda_0, plus through Lambda_0(t; beta)
    g_beta = h * cum_h[None, :, None] + g_lam[:, :, None] * dcum_dbeta[None, :, :]
    dbeta = _cox.score_residuals(cd, beta, efron) @ fit.vcov                 # d beta / d s_i
    # d Lambda_0(t) / d s_i at fixed beta: the jump at an own event, minus exposure
    q02c = np.concatenate([[0.0], np.cumsum(tt.q02)])
    at_grid = np.searchsorted(ev, grid, side="right")
    jump = tt.q01 / np.where(st.d_weight > 0, st.d_weight, 1.0)
    r_obs = np.exp((Z - center) @ beta)
    own_j = np.minimum(np.searchsorted(ev, t, side="left"), max(ev.size - 1, 0))
    own_jump = np.where(d > 0, jump[own_j] + r_obs * tt.q12[own_j], 0.0) if ev.size else \
        np.zeros(t.size)
    def blocks() -> Iterator[np.ndarray]:
        for chunk in _chunks(np.flatnonzero(s > 0), k):
            yield _gformula_block(chunk)

    def _gformula_block(chunk: np.ndarray) -> np.ndarray:
        ti = t[chunk]
        upto = np.minimum(at_grid[None, :], np.searchsorted(ev, ti, side="right")[:, None])
        m_lam = (np.where((d[chunk] > 0)[:, None] & (ti[:, None] <= grid[None, :]),
                          own_jump[chunk][:, None], 0.0)
                 - r_obs[chunk][:, None] * q02c[upto])
        dv = np.empty((2, chunk.size, k))
        for row, arm in enumerate((1, 0)):
            zc = np.column_stack([np.full(chunk.size, float(arm)), X[chunk]]) - center
            surv = np.exp(-np.exp(zc @ beta)[:, None] * cum_h[None, :])
            std = (dl[chunk] / total)[:, None] * (surv - theta[row][None, :])
            dv[row] = std + s[chunk][:, None] * (g_lam[row][None, :] * m_lam
                                                  + dbeta[chunk] @ g_beta[row].T)
        return dv

    return theta, _moments(blocks, k)


# ---------------------------------------------------------------------------- IPW


@dataclass(frozen=True)
class KMDerivative:
    """A weighted KM on a grid and its derivatives ``U_i(t) = dS(t) / dw_i`` (one arm).

    ``U_i(t) = S(t) [sum_{t_j <= min(t, T_i)} a_j - delta_i 1{T_i <= t} b(T_i)]`` with
    ``a_j = d_j / (Y_j (Y_j - d_j))`` and ``b_j = 1 / (Y_j - d_j)`` (0 where ``Y = d``: the
    curve is 0 from there on), as in ``_km.km_ij_variance``. Rows with ``w = 0`` are not at
    risk; their ``U`` is the derivative in a weight increased from 0, the same formula.
    """

    t: np.ndarray
    d: np.ndarray
    time: np.ndarray        # distinct times of the positive-weight rows
    s_grid: np.ndarray      # S on the grid
    a_cum: np.ndarray       # [0, cumsum(a_j)]
    bj: np.ndarray
    at_grid: np.ndarray     # number of distinct times <= each grid time
    grid: np.ndarray

    def _bracket(self, rows: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ti, di = self.t[rows], self.d[rows] > 0
        own = np.searchsorted(self.time, ti, side="right")
        pos = np.clip(own - 1, 0, max(self.time.size - 1, 0))
        event_here = di & (own > 0) & (self.time[pos] == ti) if self.time.size else di & False
        bt = np.where(event_here, self.bj[pos], 0.0) if self.time.size else np.zeros(ti.size)
        return ti, own, bt

    def derivative(self, rows: np.ndarray) -> np.ndarray:
        """``U`` for ``rows`` (rows x grid)."""
        ti, own, bt = self._bracket(rows)
        upto = np.minimum(self.at_grid[None, :], own[:, None])
        hit = ti[:, None] <= self.grid[None, :]
        return self.s_grid[None, :] * (self.a_cum[upto] - np.where(hit, bt[:, None], 0.0))

    def linear(self, vec: np.ndarray) -> np.ndarray:
        """``sum_k vec_k U_i(t_k)`` for every row, in O(n log n)."""
        ti, own, bt = self._bracket(slice(None))
        c = self.a_cum[own] - bt
        before = np.concatenate([[0.0], np.cumsum(vec * self.s_grid
                                                  * self.a_cum[self.at_grid])])
        after = np.concatenate([np.cumsum((vec * self.s_grid)[::-1])[::-1], [0.0]])
        m = np.searchsorted(self.grid, ti, side="left")   # grid times before T_i
        return before[m] + c * after[m]

    def weighted_sum(self, v: np.ndarray) -> np.ndarray:
        """``sum_i U_i(t) v_i`` (grid x q) for ``v`` (rows x q), in O(n log n)."""
        ti, own, bt = self._bracket(slice(None))
        c = self.a_cum[own] - bt                     # the bracket of a row with T_i <= t
        order = np.argsort(ti, kind="stable")
        n_le = np.searchsorted(ti[order], self.grid, side="right")
        pad = np.zeros((1, v.shape[1]))
        done = np.concatenate([pad, np.cumsum(c[order, None] * v[order], axis=0)])[n_le]
        seen = np.concatenate([pad, np.cumsum(v[order], axis=0)])[n_le]
        alive = v.sum(axis=0)[None, :] - seen
        return self.s_grid[:, None] * (self.a_cum[self.at_grid][:, None] * alive + done)


def km_weight_derivative(t: np.ndarray, d: np.ndarray, w: np.ndarray, grid: np.ndarray
                         ) -> KMDerivative:
    """The weighted KM of one arm on ``grid`` with its weight derivatives."""
    keep = w > 0
    rc = risk_counts(t[keep], d[keep], w[keep], n_causes=1)
    y, dk = rc.n_risk, rc.n_event[:, 0]
    left = y - dk
    with np.errstate(divide="ignore", invalid="ignore"):
        aj = np.where(left > 0, dk / (y * left), 0.0)
        bj = np.where(left > 0, 1.0 / left, 0.0)
    return KMDerivative(t=t, d=d, time=rc.time,
                        s_grid=read_on_grid(rc.time, product_limit(y, dk), grid, 1.0),
                        a_cum=np.concatenate([[0.0], np.cumsum(aj)]), bj=bj,
                        at_grid=np.searchsorted(rc.time, grid, side="right"), grid=grid)


@dataclass(frozen=True)
class AJDerivative:
    """A weighted Aalen-Johansen CIF of ``cause`` on a grid and its weight derivatives.

    ``D_i(J) = dF_k(u_J) / dw_i`` in the form of ``_aalen_johansen.ij_variance`` (no left
    truncation): ``U(J)`` before the subject's exit index ``b_i``; from ``b_i`` on
    ``U(b_i) + [e_i = k] S_{b_i - 1} / Y_{b_i} + K_i (F(J) - F(b_i))`` with ``K_i = C(b_i) -
    [e_i > 0] / (Y_{b_i} - d_{b_i})``, ``C(J) = sum_{l <= J} d_l / (Y_l (Y_l - d_l))`` and
    ``U(J) = sum_{j <= J} dF_kj (C(j - 1) - 1 / Y_j)``.
    """

    t: np.ndarray
    d: np.ndarray
    cause: int
    time: np.ndarray
    s_grid: np.ndarray      # F_k on the grid
    f: np.ndarray
    u: np.ndarray
    c: np.ndarray
    own_jump: np.ndarray    # S_{j-1} / Y_j
    k_left: np.ndarray      # 1 / (Y_j - d_j), 0 where Y = d
    at_grid: np.ndarray     # index of the last distinct time <= each grid time (-1: none)

    def derivative(self, rows: np.ndarray) -> np.ndarray:
        """``D`` for ``rows`` (rows x grid)."""
        if self.time.size == 0:
            return np.zeros((np.size(rows), self.at_grid.size))
        ti, ei = self.t[rows], self.d[rows]
        b = np.clip(np.searchsorted(self.time, ti, side="left"), 0, self.time.size - 1)
        jg = self.at_grid[None, :]
        safe = np.maximum(self.at_grid, 0)
        d_b = self.u[b] + np.where(ei == self.cause, self.own_jump[b], 0.0)
        k_i = self.c[b] - np.where(ei > 0, self.k_left[b], 0.0)
        after = d_b[:, None] + k_i[:, None] * (self.f[safe][None, :] - self.f[b][:, None])
        out = np.where(jg < b[:, None], self.u[safe][None, :], after)
        return np.where(jg < 0, 0.0, out)

    def weighted_sum(self, v: np.ndarray) -> np.ndarray:
        """``sum_i D_i(t) v_i`` (grid x q), in blocks of rows."""
        acc = np.zeros((self.at_grid.size, v.shape[1]))
        for part in _chunks(np.arange(self.t.size), self.at_grid.size):
            acc += self.derivative(part).T @ v[part]
        return acc


def aj_weight_derivative(t: np.ndarray, d: np.ndarray, w: np.ndarray, cause: int,
                         grid: np.ndarray) -> AJDerivative:
    """The weighted CIF of ``cause`` of one arm on ``grid`` with its weight derivatives."""
    keep = w > 0
    rc = risk_counts(t[keep], d[keep], w[keep], n_causes=max(int(d.max(initial=0)), cause))
    y, dd, dk = rc.n_risk, rc.n_event_any, rc.n_event[:, cause - 1]
    left = y - dd
    with np.errstate(divide="ignore", invalid="ignore"):
        haz = np.where(y > 0, dd / y, 0.0)
        c = np.where(left > 0, dd / (y * left), 0.0)
        inv_y = np.where(y > 0, 1.0 / y, 0.0)
        k_left = np.where(left > 0, 1.0 / left, 0.0)
    s_prev = np.concatenate([[1.0], np.cumprod(1 - haz)[:-1]])
    df = s_prev * dk * inv_y
    f = np.cumsum(df)
    c_cum = np.cumsum(c)
    u = np.cumsum(df * (np.concatenate([[0.0], c_cum[:-1]]) - inv_y))
    at_grid = np.searchsorted(rc.time, grid, side="right") - 1
    return AJDerivative(t=t, d=d, cause=cause, time=rc.time,
                        s_grid=read_on_grid(rc.time, f, grid, 0.0), f=f, u=u, c=c_cum,
                        own_jump=s_prev * inv_y, k_left=k_left, at_grid=at_grid)


def held_weight_derivative(e: np.ndarray, a: np.ndarray, estimand: str, weights: np.ndarray,
                           kept: np.ndarray) -> np.ndarray:
    """``dW/de`` of each row's weight, 0 where it was trimmed or truncated (held fixed).

    ``e`` are the propensity scores, ``weights`` the weights used and ``kept`` the rows kept
    by trimming; a weight that differs from ``W(e)`` was truncated.
    """
    w_raw, dw = realized_weights(np.clip(e, 1e-12, 1 - 1e-12), a, estimand)
    kept = kept & np.isclose(weights, w_raw, rtol=1e-12, atol=0)
    return np.where(kept, dw, 0.0)


def ipw_influence(t: np.ndarray, d: np.ndarray, a: np.ndarray, s: np.ndarray,
                  w: np.ndarray, dw: np.ndarray, e: np.ndarray, ps_fit: GLMFit | None,
                  X_ps: np.ndarray | None, grid: np.ndarray, cause: int | None = None
                  ) -> tuple[np.ndarray, IJMoments]:
    """IPW curves (arm 1, arm 0) on ``grid`` and their IJ moments.

    Kaplan-Meier survival, or with ``cause`` the Aalen-Johansen incidence of that cause.

    ``w`` is the total weight (balancing weight x case weight, 0 for trimmed rows), ``dw`` the
    balancing weight's derivative in the score ``e`` (0 where it was truncated or trimmed).
    Without ``ps_fit`` the weights are treated as known.

    With ``D_a,i(t) = w_i U_i(t) 1{A_i = a} + J_a(t)' h_i`` (``h_i = s_i d gamma / d s_i``):
    ``Var_a = IJ_a + 2 J_a . K_a + J_a' H J_a`` and ``Cov_10 = J_1 . K_0 + J_0 . K_1 + J_1' H
    J_0``, with ``IJ_a`` the known-weights variance (``_km.km_ij_variance``), ``K_a(t) =
    sum_{A_i = a} w_i U_i(t) h_i`` and ``H = sum_i h_i h_i'``: sums over time-sorted subjects,
    O(n log n) like the known-weights variance.
    """
    k = grid.size
    arms = [np.flatnonzero(a == arm) for arm in (1, 0)]
    kms: list = ([km_weight_derivative(t[m], d[m], w[m], grid) for m in arms] if cause is None
                 else [aj_weight_derivative(t[m], d[m], w[m], cause, grid) for m in arms])
    ij = [arm_variance(t[m], d[m], w[m], cause, grid) for m in arms]
    diag = {(0, 0): ij[0], (1, 1): ij[1], (0, 1): np.zeros(k)}
    jac: list[np.ndarray] = []
    h = big_h = None
    if ps_fit is not None and X_ps is not None:
        # J_a(t) = sum_j U_j(t) dw_j/dgamma, dw_j/dgamma = s_j W'(e_j) e_j (1 - e_j) x_j
        g = s * dw * e * (1 - e)
        jac = [km.weighted_sum(X_ps[m] * g[m][:, None]) for km, m in zip(kms, arms, strict=True)]
        # d gamma / d s_i = I^-1 x_i (A_i - e_i) / n (the fit's information is X'VX / n)
        h = s[:, None] * np.linalg.solve(ps_fit.information,
                                         (X_ps * (a - e)[:, None]).T).T / a.size
        big_h = h.T @ h
        kk = [km.weighted_sum(h[m] * w[m][:, None]) for km, m in zip(kms, arms, strict=True)]
        for row in (0, 1):
            diag[(row, row)] = (ij[row] + 2 * np.sum(jac[row] * kk[row], axis=1)
                                + np.einsum("kp,pq,kq->k", jac[row], big_h, jac[row]))
        diag[(0, 1)] = (np.sum(jac[0] * kk[1], axis=1) + np.sum(jac[1] * kk[0], axis=1)
                        + np.einsum("kp,pq,kq->k", jac[0], big_h, jac[1]))

    def blocks() -> Iterator[np.ndarray]:
        for chunk in _chunks(np.arange(a.size), k):
            dv = np.zeros((2, chunk.size, k))
            for row, (mine, km) in enumerate(zip(arms, kms, strict=True)):
                loc = np.flatnonzero(a[chunk] == 1 - row)
                if loc.size:
                    pos = np.searchsorted(mine, chunk[loc])
                    dv[row, loc] = w[chunk[loc]][:, None] * km.derivative(pos)
                if h is not None:
                    dv[row] += h[chunk] @ jac[row].T
            yield dv

    def rmst_exact(tau: float) -> tuple[np.ndarray, np.ndarray]:
        """RMST to ``tau`` per arm (the area of the step functions) and its covariance."""
        ev = np.unique(t[(d > 0) & (w > 0)])
        knots = np.concatenate([[0.0], ev[ev < tau], [tau]])
        left, width = knots[:-1], np.diff(knots)
        parts = [km_weight_derivative(t[m], d[m], w[m], left) for m in arms]
        est = np.array([width @ km.s_grid for km in parts])
        lin = [w[m] * km.linear(width) for km, m in zip(parts, arms, strict=True)]
        cov = np.diag([float(v @ v) for v in lin])
        if h is not None and X_ps is not None:
            g = s * dw * e * (1 - e)
            aj = [width @ km.weighted_sum(X_ps[m] * g[m][:, None])
                  for km, m in zip(parts, arms, strict=True)]
            ak = [v @ h[m] for v, m in zip(lin, arms, strict=True)]
            for r in (0, 1):
                cov[r, r] += 2 * aj[r] @ ak[r] + aj[r] @ big_h @ aj[r]
            cov[0, 1] = cov[1, 0] = aj[0] @ ak[1] + aj[1] @ ak[0] + aj[0] @ big_h @ aj[1]
        return est, cov

    return np.vstack([km.s_grid for km in kms]), IJMoments(
        diag=diag, blocks=blocks, rmst_exact=rmst_exact if cause is None else None)
