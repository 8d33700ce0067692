"""The Cox outcome model of ``adjusted_survival``: predicted curves, g-formula and AIPW.

Every row's predicted survival (or incidence of ``cause``) under a = 1 and a = 0 from a Cox
model of the outcome on exposure and covariates (:func:`cox_predictions`, in blocks of rows
so memory stays bounded), their standardised average (:func:`gformula_curves`) and the
augmented IPW curves with censoring augmentation (:func:`aipw_curves`), with the sums that
give their influence-function covariance (:class:`Moments`).

Arrays in, arrays out; no validation (the verb has done it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _cox
from ._adjusted_arms import read_on_grid
from ._aipw import augmented_outcome, censoring_km

__all__ = ["ArmArrays", "CHUNK_ELEMENTS", "Moments", "aipw_curves", "cox_predictions",
           "gformula_curves"]

#: Subjects x times evaluated at once by the g-formula (bounds its memory at ~16 MB a block).
CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class ArmArrays:
    """The arrays of ``adjusted_survival``: times, events, exposure, case weights, covariates.

    ``d`` is the event indicator (survival) or the event code (with ``cause``); ``X`` the
    outcome model's covariates; ``grid`` the times the curves are evaluated at.
    """

    t: np.ndarray
    d: np.ndarray
    a: np.ndarray
    s: np.ndarray
    X: np.ndarray
    cause: int | None
    grid: np.ndarray


def cox_predictions(arr: ArmArrays, rows: np.ndarray, times: np.ndarray | None = None,
                    with_survival: bool = False):  # noqa: ANN202 (a generator)
    """Yield ``(chunk_rows, pred[, surv])``: each row's predicted curves under a = 1, 0.

    ``pred[arm, i, k]`` is the survival (or incidence of ``cause``) at ``times[k]`` (default
    the grid) under a = 1 (arm 0) and a = 0 (arm 1), from a Cox model of the outcome
    (cause-specific Cox models with ``cause``) on exposure and covariates; with
    ``with_survival`` also the all-cause survival ``surv`` at ``times``. Rows come in blocks
    so memory stays bounded.
    """
    times = arr.grid if times is None else times
    Z = np.column_stack([arr.a.astype(float), arr.X])
    causes = [None] if arr.cause is None else sorted(int(c) for c in np.unique(arr.d) if c > 0)
    fits = []
    for k in causes:
        dk = (arr.d > 0) if k is None else (arr.d == k)
        cd = _cox.prepare(Z, arr.t, dk.astype(np.int64), arr.s)
        fit = _cox.fit_cox(cd, efron=True)
        st = cd.strata[0]
        tt = _cox.time_terms(st, cd.x[st.sl], st.weight * np.exp(cd.x[st.sl] @ fit.beta), True)
        fits.append((k, fit.beta, cd.center, st.event_times, tt.q01))
    # survival needs the cumulative hazards only at `times`; an incidence integrates over
    # every event time of any cause
    union = (times if arr.cause is None
             else np.unique(np.concatenate([f[3] for f in fits])))
    pos = np.searchsorted(union, times, side="right") - 1
    width = union.size * (2 if with_survival else 1)
    n_chunks = max(1, int(np.ceil(2 * rows.size * width / CHUNK_ELEMENTS)))
    for chunk in np.array_split(rows, n_chunks):
        pred = np.empty((2, chunk.size, times.size))
        surv = np.empty((2, chunk.size, times.size)) if with_survival else None
        for row, arm in enumerate((1, 0)):
            za = np.column_stack([np.full(chunk.size, float(arm)), arr.X[chunk]])
            cum_all = np.zeros((chunk.size, union.size))
            step_k = None
            for k, beta, center, ev_t, dh in fits:
                r = np.exp((za - center) @ beta)
                if arr.cause is None:
                    cum_h = read_on_grid(ev_t, np.cumsum(dh), union, 0.0)
                    cum_all += r[:, None] * cum_h[None, :]
                    continue
                inc = np.zeros(union.size)
                inc[np.searchsorted(union, ev_t)] = dh
                h = r[:, None] * inc[None, :]
                cum_all += np.cumsum(h, axis=1)
                if k == arr.cause:
                    step_k = h
            if arr.cause is None:
                pred[row] = np.exp(-cum_all)
                if surv is not None:
                    surv[row] = pred[row]
                continue
            s_all = np.exp(-cum_all)
            s_prev = np.concatenate([np.ones((chunk.size, 1)), s_all[:, :-1]], axis=1)
            curve = np.cumsum(s_prev * step_k, axis=1)
            pred[row] = np.where(pos >= 0, curve[:, np.maximum(pos, 0)], 0.0)
            if surv is not None:
                surv[row] = np.where(pos >= 0, s_all[:, np.maximum(pos, 0)], 1.0)
        yield (chunk, pred, surv) if with_survival else (chunk, pred)


def gformula_curves(arr: ArmArrays, population: np.ndarray) -> np.ndarray:
    """Standardised Cox predictions under a = 1 and a = 0, averaged over the population.

    ``population`` is 1 for the rows the estimand averages over (ATE: all; ATT: the exposed;
    ATC: the unexposed), 0 otherwise; it multiplies the case weights.
    """
    wpop = arr.s * population
    acc = np.zeros((2, arr.grid.size))
    for rows, pred in cox_predictions(arr, np.flatnonzero(wpop > 0)):
        acc += np.einsum("aik,i->ak", pred, wpop[rows])
    return acc / wpop.sum()


@dataclass(frozen=True)
class Moments:
    """Sums that give the influence-function covariance of any linear contrast on the grid.

    ``mean[arm]`` is the estimate; ``cross[(a, b)] = sum_i s_i^2 psi_a,i psi_b,i'`` (grid x
    grid) and ``lin[arm] = sum_i s_i^2 psi_arm,i``; ``s2 = sum s_i^2``, ``total = sum s_i``.
    """

    mean: np.ndarray
    cross: dict
    lin: np.ndarray
    s2: float
    total: float
    n: int

    def cov(self, a: int, b: int) -> np.ndarray:
        """Covariance matrix (grid x grid) of the estimates of arms ``a`` and ``b``."""
        m_a, m_b = self.mean[a], self.mean[b]
        c = (self.cross[(a, b)] - np.outer(m_a, self.lin[b]) - np.outer(self.lin[a], m_b)
             + self.s2 * np.outer(m_a, m_b))
        return c / self.total**2 * self.n / max(self.n - 1, 1)

    def cov_diag(self, a: int, b: int) -> np.ndarray:
        """Covariance of the arms' estimates at each grid time."""
        return np.diag(self.cov(a, b))

    def quad(self, vec: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """2 x 2 covariance of ``vec @ theta_a[cols]`` for the two arms."""
        sub = np.ix_(cols, cols)
        return np.array([[vec @ self.cov(a, b)[sub] @ vec for b in (0, 1)] for a in (0, 1)])


def aipw_curves(arr: ArmArrays, w: np.ndarray, with_moments: bool
                ) -> tuple[np.ndarray, Moments | None]:
    """Augmented IPW curves with censoring augmentation (see ``_aipw``), per arm on the grid.

    ``w`` are the ATE weights times the case weights (``1 / e`` in arm 1, ``1 / (1 - e)`` in
    arm 0); the outcome model is :func:`cox_predictions`' Cox model, censoring a Kaplan-Meier
    curve per arm. With ``with_moments`` also the sums of the influence-function covariance.
    """
    kms = [censoring_km(arr.t[arr.a == arm], arr.d[arr.a == arm], arr.s[arr.a == arm])
           for arm in (1, 0)]
    times = np.unique(np.concatenate([arr.grid, kms[0].jumps, kms[1].jumps]))
    at_grid = np.searchsorted(times, arr.grid)
    at_jumps = [np.searchsorted(times, km.jumps) for km in kms]
    k = arr.grid.size
    total = float(arr.s.sum())
    acc = np.zeros((2, k))
    cross = {(0, 0): np.zeros((k, k)), (1, 1): np.zeros((k, k)), (0, 1): np.zeros((k, k))}
    lin = np.zeros((2, k))
    rows = np.flatnonzero(arr.s > 0)
    for chunk, pred, surv in cox_predictions(arr, rows, times, with_survival=True):
        psi = pred[:, :, at_grid].copy()              # m_a on the grid, for everyone
        for row, arm in enumerate((1, 0)):
            mine = arr.a[chunk] == arm
            sub = chunk[mine]
            m = psi[row][mine]
            z = augmented_outcome(
                arr.t[sub], arr.d[sub], arr.cause, arr.grid, kms[row], m,
                surv[row][mine][:, at_jumps[row]],
                None if arr.cause is None else pred[row][mine][:, at_jumps[row]])
            wt = (w[sub] / arr.s[sub])[:, None]          # 1 / e_a for the arm's own rows
            psi[row][mine] = m + wt * (z - m)
        s = arr.s[chunk]
        acc += np.einsum("aik,i->ak", psi, s)
        if with_moments:
            s2 = s**2
            for a_, b_ in cross:
                cross[(a_, b_)] += (psi[a_] * s2[:, None]).T @ psi[b_]
            lin += np.einsum("aik,i->ak", psi, s2)
    values = acc / total
    moments = None
    if with_moments:
        cross[(1, 0)] = cross[(0, 1)].T
        moments = Moments(mean=values, cross=cross, lin=lin, s2=float((arr.s**2).sum()),
                          total=total, n=int((arr.s > 0).sum()))
    return values, moments
