"""Crude (unadjusted) weighted arm means and their influence values (arrays only).

``crude_effect()`` validates the data and builds the result; :func:`arm_means` gives the two
weighted (Hajek) arm means ``mu_a = sum_{A=a} w y / sum_{A=a} w`` with the influence values
``phi_a = 1{A=a} w (y - mu_a) n / sum_{A=a} w`` (weights treated as known), which
``MatchResult.effect`` also uses on the matched cohort.
"""

from __future__ import annotations

import numpy as np

from ._contrast import contrast

__all__ = ["arm_means", "crude_estimate"]


def arm_means(
    y: np.ndarray, a: np.ndarray, w: np.ndarray
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Weighted arm means and their influence values (weights treated as known)."""
    n = y.size
    out = []
    for arm in (1, 0):
        m = a == arm
        sw = w[m].sum()
        mu = float(np.dot(w[m], y[m]) / sw)
        phi = np.where(m, w * (y - mu) * n / sw, 0.0)
        out.append((mu, phi))
    (mu1, phi1), (mu0, phi0) = out
    return mu1, mu0, phi1, phi0


def crude_estimate(
    y: np.ndarray, a: np.ndarray, w: np.ndarray, measure: str
) -> tuple[float, np.ndarray, float, float]:
    """The contrast of :func:`arm_means`, its influence values and the two arm means."""
    mu1, mu0, phi1, phi0 = arm_means(y, a, w)
    est, phi = contrast(mu1, mu0, phi1, phi0, measure)
    return est, phi, mu1, mu0
