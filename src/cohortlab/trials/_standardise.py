"""Cumulative incidence under each arm by standardisation, with person-level influence values.

For trial entry ``e`` (a person-trial at follow-up 0) with entry block ``E_e`` and arm set
to ``a``, the discrete hazard at follow-up ``k`` is ``h_aek = expit(E_e b_E + T_ak b_T)``
(``T_ak`` the time block) and the risk by the end of follow-up ``k`` is
``r_aek = 1 - S_aek``, ``S_aek = prod_{j<=k} (1 - h_aej)``. The standardised risk
``R_a(k)`` is the mean of ``r_aek`` over all entries (both arms: the population of eligible
person-trials).

Influence (person ``i``, summed over its entries, so the variance is clustered by person):
``IF_i = sum_{e in i} (r_aek - R_a(k)) / n_E + g_ak' IF_beta_i``, with
``g_ak = dR_a(k)/d beta = mean_e S_aek sum_{j<=k} h_aej x_aej`` and ``IF_beta_i`` the
person's row of ``bread @ score`` (the CR0 sandwich). The variance is ``sum_i IF_i^2``.
The gradient is assembled with two matrix products per block of entries: the time part
``sum_{j<=k} (mean_e S_aek h_aej) T_aj`` from ``S' H`` (a K x K matrix, lower triangle) and
the entry part ``mean_e S_aek (sum_{j<=k} h_aej) E_e`` from ``(S * cumsum(H))' E``.

**Competing event** (``coef_d``: a second hazard model ``d_aek`` with the same design). Within
a period the competing event comes first, so the cumulative incidence of the outcome is
``F_aek = sum_{j<=k} f_aej``, ``f_aej = h_aej (1 - d_aej) S_ae(j-1)``, with
``S_aej = prod_{m<=j} (1 - h_aem)(1 - d_aem)`` (free of both events). Its derivatives in the
linear predictors at period ``m <= k`` are ``f_aem - h_aem (F_aek - F_ae(m-1))`` (outcome) and
``-d_aem (F_aek - F_ae(m-1))`` (competing event), zero for ``m > k``; with ``d = 0`` the first
is ``h_aem S_aek`` as above. The two models' influence values add (separate estimating
equations, person-clustered): ``IF_i = sum_e (F_aek - R_a(k)) / n_E + g_ak' IF_beta_i +
gd_ak' IF_betad_i``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

__all__ = ["standardised_risks"]

_BLOCK = 100_000  # entries per block (a few n_block x K matrices in memory at a time)


def standardised_risks(coef: np.ndarray, n_time: int, time_rows: np.ndarray,
                       entry: np.ndarray, entry_person: np.ndarray,
                       infl_beta: np.ndarray | None, infl_person: np.ndarray | None,
                       coef_d: np.ndarray | None = None,
                       infl_d: np.ndarray | None = None,
                       infl_d_person: np.ndarray | None = None,
                       ) -> tuple[np.ndarray, np.ndarray | None]:
    """Risks ``R[a, k]`` and, if ``infl_beta`` is given, influence ``IF[i, a, k]``.

    ``time_rows[a]`` is the ``(K, n_time)`` time block for arm ``a`` at follow-up 0..K-1;
    ``entry`` the ``(n_E, p_E)`` entry block with each entry's person code in
    ``entry_person`` (entries of a person contiguous); ``infl_beta`` the per-person
    influence of the coefficients, its person codes in ``infl_person``. ``coef_d``: the
    competing-event model (cumulative incidence of the outcome with the competing event not
    prevented), its influence ``infl_d`` with person codes ``infl_d_person``.

    Examples
    --------
    >>> coef = np.array([-2.0, 0.0, 0.0])  # intercept, arm | one entry covariate
    >>> tr = np.stack([np.column_stack([np.ones(3), np.full(3, a)]) for a in (0, 1)])
    >>> R, _ = standardised_risks(coef, 2, tr, np.zeros((4, 1)), np.arange(4), None, None)
    >>> bool(np.allclose(R[0], 1 - (1 - 1 / (1 + np.exp(2.0))) ** np.arange(1, 4)))
    True
    """
    b_t, b_e = coef[:n_time], coef[n_time:]
    n_e = entry.shape[0]
    base = entry @ b_e
    comp = coef_d is not None
    base_d = entry @ coef_d[n_time:] if coef_d is not None else None
    n_arm, K = time_rows.shape[0], time_rows.shape[1]
    want_if = infl_beta is not None
    new = np.r_[True, entry_person[1:] != entry_person[:-1]]
    pos = np.cumsum(new) - 1  # person index of each entry (0..n_persons-1)
    persons = entry_person[new]
    n_p = persons.size
    sum_r = np.zeros((n_arm, n_p, K))  # per person, sum over its entries of r_aek
    R = np.zeros((n_arm, K))
    G = np.zeros((n_arm, K, coef.size))
    Gd = np.zeros((n_arm, K, coef.size))
    tri = np.tril(np.ones((K, K)))
    hi = 0
    while hi < n_e:
        lo, hi = hi, min(hi + _BLOCK, n_e)
        while hi < n_e and not new[hi]:  # end blocks at a person boundary
            hi += 1
        sl = slice(lo, hi)
        heads = np.flatnonzero(new[sl])
        for a in range(n_arm):
            h = expit(base[sl, None] + (time_rows[a] @ b_t)[None, :])
            if coef_d is None or base_d is None:
                S = np.cumprod(1.0 - h, axis=1)
                r = 1.0 - S
            else:
                d = expit(base_d[sl, None] + (time_rows[a] @ coef_d[:n_time])[None, :])
                S = np.cumprod((1.0 - h) * (1.0 - d), axis=1)
                f = h * (1.0 - d) * np.column_stack([np.ones(hi - lo), S[:, :-1]])
                r = np.cumsum(f, axis=1)
            R[a] += r.sum(axis=0)
            if want_if:
                sum_r[a, pos[lo] + np.arange(heads.size)] += np.add.reduceat(r, heads, axis=0)
                if not comp:
                    G[a, :, :n_time] += ((S.T @ h) * tri) @ time_rows[a]
                    G[a, :, n_time:] += (S * np.cumsum(h, axis=1)).T @ entry[sl]
                    continue
                # d F_k / d eta_m = [m <= k] (f_m + h_m F_(m-1) - h_m F_k) (outcome),
                # [m <= k] (d_m F_(m-1) - d_m F_k) (competing event)
                prev = np.column_stack([np.zeros(hi - lo), r[:, :-1]])
                for GG, x, own in ((G, h, f), (Gd, d, None)):
                    lead = x * prev if own is None else own + x * prev
                    M = (lead.sum(axis=0)[None, :] - r.T @ x) * tri
                    GG[a, :, :n_time] += M @ time_rows[a]
                    tot = np.cumsum(lead, axis=1) - r * np.cumsum(x, axis=1)
                    GG[a, :, n_time:] += tot.T @ entry[sl]
    R /= n_e
    if infl_beta is None or infl_person is None:
        return R, None
    G /= n_e
    Gd /= n_e
    ib = _by_person(persons, infl_person, infl_beta, coef.size)
    idd = (_by_person(persons, infl_d_person, infl_d, coef.size)
           if comp and infl_d is not None and infl_d_person is not None else None)
    n_i = np.bincount(pos, minlength=n_p).astype(float)
    IF = np.empty((n_p, n_arm, K))
    for a in range(n_arm):
        IF[:, a, :] = (sum_r[a] - n_i[:, None] * R[a][None, :]) / n_e + ib @ G[a].T
        if idd is not None:
            IF[:, a, :] += idd @ Gd[a].T
    return R, IF


def _by_person(persons: np.ndarray, labels: np.ndarray, values: np.ndarray, p: int
               ) -> np.ndarray:
    """Rows of ``values`` (labelled by person code) aligned to ``persons`` (zeros if absent)."""
    n_p = persons.size
    out = np.zeros((n_p, p))
    loc = np.searchsorted(persons, labels)
    ok = (loc < n_p) & (persons[np.minimum(loc, n_p - 1)] == labels)
    out[loc[ok]] = values[ok]
    return out
