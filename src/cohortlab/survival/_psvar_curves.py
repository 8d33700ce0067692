"""Estimated-propensity-score terms of the weighted KM and Aalen-Johansen variances (private).

The infinitesimal-jackknife variance of a weighted curve is ``sum_i (w_i D_i(t))^2`` with
``D_i(t) = d estimate(t) / d w_i``. With weights ``w(theta)`` from a fitted propensity model
the stacked M-estimation influence value of row ``i`` (over the propensity-score rows, the
curve's rows being one group of them) is

    phi_i(t) = 1{i in group} w_i D_i(t) + IF_theta_i' M(t),   M(t) = sum_{k in group} D_k(t) G_k

with ``G = d w / d theta``, so ``Var = V_IJ(t) + 2 M(t)' C(t) + M(t)' Sigma M(t)`` where
``C(t) = sum_{i in group} w_i D_i(t) IF_theta_i`` and ``Sigma = sum_i IF_theta_i IF_theta_i'``.
``M`` and ``C`` are sums over rows of ``D_i(t)`` times a row vector: the same prefix sums as the
IJ variance with the squared weights replaced by a vector per row, O((n + m) q), never the
n x m matrix of ``D``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from ._aalen_johansen import AalenJohansen, ij_terms
from ._km import _subject_terms
from ._prepare import GroupArrays, Prepared, group_time_order
from ._psvar import PSNuisance

__all__ = ["km_linear", "aj_linear", "ps_extra_variance", "ps_curve_variance",
           "groups_with_rows"]


def km_linear(grid: np.ndarray, n_risk: np.ndarray, n_event: np.ndarray, surv: np.ndarray,
              time: np.ndarray, event: np.ndarray, entry: np.ndarray | None,
              f: np.ndarray) -> np.ndarray:
    """``sum_i f_i U_i(t_j)`` (m x q) with ``U_i`` the KM influence of :func:`km_ij_variance`.

    ``U_i(t) = S(t) [A(min(t, T_i)) - A(E_i) - delta_i 1{T_i <= t} b(T_i)]``: rows already out
    contribute their fixed bracket ``c_i``, rows at risk ``A(t) - A(E_i)``.
    """
    m = grid.size
    a_cum, c_entry, c_i, (exit_idx, n_le_entry) = _subject_terms(
        grid, n_risk, n_event, time, event, entry)
    done = _from(exit_idx, f * c_i[:, None], m)           # rows out by t_j: fixed bracket
    if entry is None:
        alive = (f.sum(axis=0) - _from(exit_idx, f, m)) * a_cum[:, None]
    else:  # entered before t_j and not yet out: A(t_j) - A(E_i)
        fe = f * c_entry[:, None]
        alive = (a_cum[:, None] * (_from(n_le_entry, f, m) - _from(exit_idx, f, m))
                 - (_from(n_le_entry, fe, m) - _from(exit_idx, fe, m)))
    return surv[:, None] * (done + alive)


def _binned(idx: np.ndarray, f: np.ndarray, m: int) -> np.ndarray:
    """Per index ``0..m-1``: the column sums of ``f`` (n x q) over rows with that index."""
    q = f.shape[1]
    flat = (idx[:, None] * q + np.arange(q)).ravel()
    return np.bincount(flat, weights=f.ravel(), minlength=(m + 1) * q).reshape(m + 1, q)[:m]


def _from(start: np.ndarray, f: np.ndarray, m: int) -> np.ndarray:
    """At each ``J``: column sums of ``f`` over rows with ``start <= J`` (m x q)."""
    return np.cumsum(_binned(start, f, m), axis=0)


def aj_linear(aj: AalenJohansen, exit_index: np.ndarray, event: np.ndarray, f: np.ndarray,
              entry_index: np.ndarray | None = None) -> np.ndarray:
    """``sum_i f_i D_ik(J)`` (m x K x q) with ``D`` the exact derivatives of :func:`ij_variance`.

    ``D`` is affine in ``(F(J), U(J))`` on ``[a_i, b_i)`` and on ``[b_i, m)``, so the sum is
    ``F(J)`` and ``U(J)`` times range sums of ``f`` times per-row coefficients.
    """
    t = ij_terms(aj, exit_index, event, entry_index)
    a, b, m, k_i = t.a, t.b, t.m, t.k_i
    at_risk = _from(a, f, m) - _from(b, f, m)        # rows with a_i <= J < b_i
    from_exit_k = _from(b, f * k_i[:, None], m)
    out = np.empty((m, t.n_causes, f.shape[1]))
    for k, (fk, u, alpha1, beta1, alpha2) in enumerate(t.causes()):
        val = (_from(b, f * alpha2[:, None], m) + fk[:, None] * from_exit_k
               + u[:, None] * at_risk)
        if t.truncated:
            fa, fb = f * alpha1[:, None], f * beta1[:, None]
            val += (_from(a, fa, m) - _from(b, fa, m)
                    + fk[:, None] * (_from(a, fb, m) - _from(b, fb, m)))
        out[:, k, :] = val
    return out


def groups_with_rows(p: Prepared) -> Iterator[tuple[GroupArrays, np.ndarray]]:
    """:meth:`Prepared.by_group`'s groups with their rows (positions in ``p.frame``): one sort."""
    order = group_time_order(p.codes, p.time, len(p.levels))
    for level, rows in zip(p.levels, order, strict=True):
        yield GroupArrays(level, p.time[rows], p.event[rows],
                          None if p.weights is None else p.weights[rows],
                          None if p.entry is None else p.entry[rows]), rows


def ps_curve_variance(linear: Callable[[np.ndarray], np.ndarray], nuis: PSNuisance,
                      pos: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The propensity terms of a curve's variance; ``linear(f)`` is ``sum_i f_i D_i(t)``.

    ``M`` and ``C`` come from one call on ``[G, w IF_theta]`` (one gather, one pass).
    """
    q = nuis.grad.shape[1]
    lin = linear(nuis.gathered(pos, w))
    return ps_extra_variance(lin[..., :q], lin[..., q:], nuis)


def ps_extra_variance(m_lin: np.ndarray, c_lin: np.ndarray, nuis: PSNuisance) -> np.ndarray:
    """``2 M' C + M' Sigma M`` at every time (last axis of ``m_lin``/``c_lin`` is ``theta``)."""
    sigma = nuis.sigma()
    return 2.0 * np.einsum("...q,...q->...", m_lin, c_lin) + np.einsum(
        "...q,qr,...r->...", m_lin, sigma, m_lin)
