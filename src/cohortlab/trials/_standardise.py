"""Cumulative incidence under each arm by standardisation, with person-level influence values.

For trial entry ``e`` (a person-trial at follow-up 0) with entry block ``E_e`` and arm set
to ``a``, the discrete hazard at follow-up ``k`` is ``h_aek = expit(E_e b_E + T_ak b_T)``
(``T_ak`` the time block) and the risk by the end of follow-up ``k`` is
``r_aek = 1 - prod_{j<=k} (1 - h_aej)``. The standardised risk ``R_a(k)`` is the mean of
``r_aek`` over all entries (both arms: the population of eligible person-trials).

Influence (person ``i``, summed over its entries, so the variance is clustered by person):
``IF_i = sum_{e in i} (r_aek - R_a(k)) / n_E + g_ak' IF_beta_i``, with
``g_ak = dR_a(k)/d beta = mean_e S_aek sum_{j<=k} h_aej x_aej`` and ``IF_beta_i`` the
person's row of ``bread @ score`` (the CR0 sandwich). The variance is ``sum_i IF_i^2``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

__all__ = ["standardised_risks"]


def standardised_risks(coef: np.ndarray, n_time: int, time_rows: np.ndarray,
                       entry: np.ndarray, entry_person: np.ndarray,
                       infl_beta: np.ndarray | None, infl_person: np.ndarray | None
                       ) -> tuple[np.ndarray, np.ndarray | None]:
    """Risks ``R[a, k]`` and, if ``infl_beta`` is given, influence ``IF[i, a, k]``.

    ``time_rows[a]`` is the ``(K, n_time)`` time block for arm ``a`` at follow-up 0..K-1;
    ``entry`` the ``(n_E, p_E)`` entry block with each entry's person code in
    ``entry_person``; ``infl_beta`` the per-person influence of the coefficients, its person
    codes in ``infl_person``.

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
    n_arm, K = time_rows.shape[0], time_rows.shape[1]
    R = np.zeros((n_arm, K))
    want_if = infl_beta is not None
    if want_if:
        persons, pos = np.unique(entry_person, return_inverse=True)
        # map the coefficient-influence rows (persons with outcome-model rows) to ``persons``
        ib = np.zeros((persons.size, coef.size))
        loc = np.searchsorted(persons, infl_person)
        ok = (loc < persons.size) & (persons[np.minimum(loc, persons.size - 1)] == infl_person)
        ib[loc[ok]] = infl_beta[ok]
        IF = np.zeros((persons.size, n_arm, K))
        order = np.argsort(pos, kind="stable")
        heads = np.flatnonzero(np.r_[True, pos[order][1:] != pos[order][:-1]])
    for a in range(n_arm):
        S = np.ones(n_e)
        H_t = np.zeros((n_e, n_time))  # sum_j h_aej T_aj
        H_e = np.zeros(n_e)  # sum_j h_aej
        rk = np.empty((n_e, K)) if want_if else None
        G = np.zeros((K, coef.size))
        for k in range(K):
            h = expit(base + time_rows[a, k] @ b_t)
            S = S * (1.0 - h)
            r = 1.0 - S
            R[a, k] = r.mean()
            if not want_if:
                continue
            H_t += np.outer(h, time_rows[a, k])
            H_e += h
            G[k] = np.concatenate([S @ H_t, (S * H_e) @ entry]) / n_e
            rk[:, k] = r
        if want_if:  # per person: sum of (r - R) / n_E, plus the coefficients' part
            emp = np.add.reduceat(rk[order] - R[a][None, :], heads, axis=0) / n_e
            IF[:, a, :] = emp + ib @ G.T
    return R, (IF if want_if else None)
