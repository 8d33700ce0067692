"""TMLE fluctuation, targeted arm means and influence curves (arrays only).

``tmle()`` validates the data, fits the nuisance models and scales a continuous outcome to
[0, 1]; the targeting step lives here. The initial predictions ``Q(a, L)`` are bounded to
``[Q_BOUND, 1 - Q_BOUND]`` and updated along ``logit Q*(a, L) = logit Q(a, L) + eps_1 H_1 +
eps_0 H_0`` with ``H_1 = A / e`` and ``H_0 = -(1 - A) / (1 - e)``; each ``eps`` is the
no-intercept logistic MLE with offset ``logit Q`` on its arm (disjoint supports).
:func:`tmle_means_treated` does the same for the ATT / ATC with their clever covariates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, logit

from .._validation import verb_name
from ..exceptions import ConvergenceError, DataValidationError
from ._propensity import number_pair

__all__ = ["Q_BOUND", "fluctuate", "outcome_bounds", "targeted_means", "tmle_means",
           "tmle_means_treated"]

#: Initial predictions are bounded to [Q_BOUND, 1 - Q_BOUND] on the [0, 1] outcome scale
#: before the logistic fluctuation (R tmle's ``alpha = 0.9995``).
Q_BOUND = 5e-4


def fluctuate(y: np.ndarray, off: np.ndarray, h: np.ndarray, s: np.ndarray,
              max_iter: int = 100, tol: float = 1e-12, func: str = "tmle") -> float:
    """MLE of ``eps`` in ``logit P(Y=1) = off + eps h`` (no intercept): damped Newton.

    ``y`` may be fractional (quasi-binomial); the log-likelihood is concave in ``eps``.
    A failure to converge raises :class:`ConvergenceError` naming ``func``.

    Examples
    --------
    >>> y, h = np.array([1.0, 0, 1, 1]), np.ones(4)
    >>> round(float(expit(fluctuate(y, np.zeros(4), h, np.ones(4)))), 6)
    0.75
    """
    def loglik(eps: float) -> float:
        eta = off + eps * h
        return float(np.sum(s * (y * eta - np.logaddexp(0.0, eta))))

    eps, ll = 0.0, loglik(0.0)
    for _ in range(max_iter):  # Newton iterations, not rows
        p = expit(off + eps * h)
        grad = float(np.sum(s * h * (y - p)))
        info = float(np.sum(s * h * h * p * (1 - p)))
        if info <= 0:
            break
        step = grad / info
        while loglik(eps + step) < ll - 1e-12 and abs(step) > tol:
            step /= 2  # halve an overshooting step
        eps, ll = eps + step, loglik(eps + step)
        if abs(step) < tol * (1 + abs(eps)):
            return eps
    raise ConvergenceError(
        f"{func}(): the logistic fluctuation did not converge ({max_iter} Newton steps, epsilon "
        f"= {eps:.4g}). The clever covariates are extreme; check positivity (trim=...).")


def tmle_means(y: np.ndarray, a: np.ndarray, q1: np.ndarray, q0: np.ndarray, e: np.ndarray,
               s: np.ndarray, func: str = "tmle"
               ) -> tuple[float, float, np.ndarray, np.ndarray, tuple[float, float], int]:
    """Targeted arm means and influence curves on the [0, 1] outcome scale.

    Returns ``mu1, mu0, D1, D0, (eps_1, eps_0)`` and the number of bounded predictions, with
    ``D_a = s [1{A=a} / P(A=a | L) (Y - Q*(a, L)) + Q*(a, L) - mu_a] / mean(s)``.

    Examples
    --------
    >>> y, a = np.array([1.0, 0, 1, 0]), np.array([1, 1, 0, 0])
    >>> mu1, mu0, *_ = tmle_means(y, a, np.full(4, 0.5), np.full(4, 0.5), np.full(4, 0.5),
    ...                           np.ones(4))
    >>> round(mu1, 6), round(mu0, 6)
    (0.5, 0.5)
    """
    n_bounded = int(((q1 < Q_BOUND) | (q1 > 1 - Q_BOUND)).sum()
                    + ((q0 < Q_BOUND) | (q0 > 1 - Q_BOUND)).sum())
    q1, q0 = np.clip(q1, Q_BOUND, 1 - Q_BOUND), np.clip(q0, Q_BOUND, 1 - Q_BOUND)
    g1, g0 = e, 1 - e
    t1, t0 = a == 1, a == 0
    eps1 = fluctuate(y[t1], logit(q1[t1]), 1 / g1[t1], s[t1], func=func)
    eps0 = fluctuate(y[t0], logit(q0[t0]), -1 / g0[t0], s[t0], func=func)
    q1s, q0s = expit(logit(q1) + eps1 / g1), expit(logit(q0) - eps0 / g0)
    scale = s.mean()
    mu1, mu0 = float(s @ q1s / s.sum()), float(s @ q0s / s.sum())
    d1 = s * (t1 / g1 * (y - q1s) + q1s - mu1) / scale
    d0 = s * (t0 / g0 * (y - q0s) + q0s - mu0) / scale
    return mu1, mu0, d1, d0, (eps1, eps0), n_bounded


def tmle_means_treated(y: np.ndarray, a: np.ndarray, q1: np.ndarray, q0: np.ndarray,
                       e: np.ndarray, s: np.ndarray, estimand: str, func: str = "tmle"
                       ) -> tuple[float, float, np.ndarray, np.ndarray, tuple[float, float], int]:
    """Targeted arm means of the ATT (``estimand="ATT"``) or ATC on the [0, 1] outcome scale.

    For the ATT, with ``p = P(A = 1)`` (weighted), the clever covariates are ``H_1 = A / p``
    and ``H_0 = -(1 - A) e / ((1 - e) p)``; the ATC mirrors them (``q = P(A = 0)``,
    ``H_1 = A (1 - e) / (e q)``, ``H_0 = -(1 - A) / q``). Each ``eps`` is the no-intercept
    logistic MLE with offset ``logit Q`` on its arm, and the plug-in means average ``Q*`` over
    the estimand population ``m`` (``A`` or ``1 - A``): ``mu_a = sum s m Q*(a, L) / sum s m``.
    One step solves the efficient score equation exactly. The influence values, scaled as in
    :func:`~cohortlab.causal._aipw.aipw_means`, are

        ``phi_a = s [m Q*(a, L) + 1{A=a} W_a (Y - Q*(a, L)) - m mu_a] / mean(s m)``

    (``W`` = ``1``, ``e / (1 - e)`` for the ATT; ``(1 - e) / e``, ``1`` for the ATC), so that
    ``phi_1 - phi_0`` is the efficient influence function of the ATT,
    ``D = A / p (Y - Q*(0, L) - psi) - (1 - A) e / ((1 - e) p) (Y - Q*(0, L))``.

    Examples
    --------
    >>> y, a = np.array([1.0, 0, 1, 0]), np.array([1, 1, 0, 0])
    >>> mu1, mu0, *_ = tmle_means_treated(y, a, np.full(4, 0.5), np.full(4, 0.5),
    ...                                   np.full(4, 0.5), np.ones(4), "ATT")
    >>> round(mu1, 6), round(mu0, 6)
    (0.5, 0.5)
    """
    n_bounded = int(((q1 < Q_BOUND) | (q1 > 1 - Q_BOUND)).sum()
                    + ((q0 < Q_BOUND) | (q0 > 1 - Q_BOUND)).sum())
    q1, q0 = np.clip(q1, Q_BOUND, 1 - Q_BOUND), np.clip(q0, Q_BOUND, 1 - Q_BOUND)
    t1, t0 = a == 1, a == 0
    pop = (t1 if estimand == "ATT" else t0) * 1.0
    p = float(s @ pop / s.sum())
    w1, w0 = (np.ones_like(e), e / (1 - e)) if estimand == "ATT" else ((1 - e) / e,
                                                                       np.ones_like(e))
    h1, h0 = w1 / p, -w0 / p
    eps1 = fluctuate(y[t1], logit(q1[t1]), h1[t1], s[t1], func=func)
    eps0 = fluctuate(y[t0], logit(q0[t0]), h0[t0], s[t0], func=func)
    q1s, q0s = expit(logit(q1) + eps1 * h1), expit(logit(q0) + eps0 * h0)
    sm = s * pop
    scale = sm.mean()
    mu1, mu0 = float(sm @ q1s / sm.sum()), float(sm @ q0s / sm.sum())
    d1 = s * (pop * q1s + t1 * w1 * (y - q1s) - pop * mu1) / scale
    d0 = s * (pop * q0s + t0 * w0 * (y - q0s) - pop * mu0) / scale
    return mu1, mu0, d1, d0, (eps1, eps0), n_bounded


def targeted_means(y: np.ndarray, a: np.ndarray, q1: np.ndarray, q0: np.ndarray,
                   e: np.ndarray, s: np.ndarray, *, lo: float, hi: float, estimand: str
                   ) -> tuple[float, float, np.ndarray, np.ndarray, tuple[float, float], int]:
    """TMLE arm means and influence curves on the outcome's scale (``[lo, hi]`` -> [0, 1]).

    The outcome and both initial predictions are scaled to [0, 1] by ``[lo, hi]``, targeted
    by :func:`tmle_means` (ATE) or :func:`tmle_means_treated` (ATT / ATC), and the means and
    influence values scaled back. Returns ``mu1, mu0, D1, D0, (eps_1, eps_0)`` and the
    number of bounded predictions.
    """
    width = hi - lo
    scaled = ((y - lo) / width, a, (q1 - lo) / width, (q0 - lo) / width, e, s)
    if estimand == "ATE":
        mu1, mu0, phi1, phi0, eps, n_bounded = tmle_means(*scaled, func=verb_name())
    else:
        mu1, mu0, phi1, phi0, eps, n_bounded = tmle_means_treated(*scaled, estimand,
                                                                  func=verb_name())
    return (lo + width * mu1, lo + width * mu0, width * phi1, width * phi0, eps, n_bounded)


def outcome_bounds(y: np.ndarray, bounds: Any, outcome: str) -> tuple[float, float]:
    """The ``[lo, hi]`` scaling a continuous outcome: ``bounds`` checked, or its range."""
    if bounds is None:
        return float(y.min()), float(y.max())
    lo, hi = number_pair(bounds, "bounds", verb_name(), "a (low, high) pair of numbers")
    if not (lo < hi and lo <= y.min() and y.max() <= hi):
        raise DataValidationError(
            f"{verb_name()}(): bounds {bounds!r} must satisfy low < high and contain every value "
            "of "
            f"{outcome!r} (outcome); got values in [{y.min():g}, {y.max():g}].")
    return lo, hi

