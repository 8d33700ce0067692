"""AIPW arm means and their influence values (arrays only: numpy in, numpy out).

``aipw()`` validates the data and fits the nuisance models; the estimating equations live
here. With the estimand population indicator ``m`` (1, A or 1 - A) and the balancing weights
``W_a`` of :func:`~cohortlab.causal._weights.arm_weights`,

    ``mu_a = sum s [m Q_a + 1{A=a} W_a (Y - Q_a)] / sum s m``

and ``phi_a = s [m Q_a + 1{A=a} W_a (Y - Q_a) - m mu_a] / mean(s m)``.
"""

from __future__ import annotations

import numpy as np

from ._weights import arm_weights

__all__ = ["aipw_means"]


def aipw_means(y: np.ndarray, a: np.ndarray, q1: np.ndarray, q0: np.ndarray, e: np.ndarray,
               s: np.ndarray, estimand: str) -> tuple[float, float, np.ndarray, np.ndarray]:
    """AIPW arm means ``mu1, mu0`` and their influence values ``phi1, phi0``.

    ``W_a`` is ``1/e``, ``1/(1-e)`` for the ATE; ``1``, ``e/(1-e)`` for the ATT;
    ``(1-e)/e``, ``1`` for the ATC.

    Examples
    --------
    >>> y, a = np.array([1.0, 0, 1, 0]), np.array([1, 1, 0, 0])
    >>> q, e = np.full(4, 0.5), np.full(4, 0.5)
    >>> mu1, mu0, _, _ = aipw_means(y, a, q, q, e, np.ones(4), "ATE")
    >>> mu1, mu0
    (0.5, 0.5)
    """
    w1, w0 = arm_weights(e, estimand)
    pop = {"ATE": np.ones(a.size), "ATT": (a == 1) * 1.0, "ATC": (a == 0) * 1.0}[estimand]
    sm = s * pop
    scale = sm.mean()
    out = []
    for arm, q, w in ((1, q1, w1), (0, q0, w0)):  # two arms, not rows
        u = s * (pop * q + (a == arm) * w * (y - q))
        mu = float(u.sum() / sm.sum())
        out.append((mu, (u - sm * mu) / scale))
    (mu1, phi1), (mu0, phi0) = out
    return mu1, mu0, phi1, phi0
