"""Balancing weights from propensity scores (arrays only).

Every estimand is a tilting function ``h(e)`` of the propensity score ``e`` (Li, Morgan &
Zaslavsky 2018): the exposed get ``h(e) / e`` and the unexposed ``h(e) / (1 - e)``.

======== ============ ======================================
estimand ``h(e)``     target population
======== ============ ======================================
ATE      1            everyone
ATT      e            the exposed
ATC      1 - e        the unexposed
ATO      e (1 - e)    overlap population (overlap weights)
ATM      min(e, 1-e)  matching-like population (matching weights)
======== ============ ======================================

The derivatives ``dW/de`` feed the M-estimation variance that accounts for the estimated
propensity score.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["tilt", "arm_weights", "arm_weight_derivatives", "crump_threshold", "ess",
           "warn_weights"]


def tilt(e: np.ndarray, estimand: str) -> tuple[np.ndarray, np.ndarray]:
    """The tilting function ``h(e)`` and its derivative ``h'(e)``."""
    one = np.ones_like(e)
    if estimand == "ATE":
        return one, np.zeros_like(e)
    if estimand == "ATT":
        return e, one
    if estimand == "ATC":
        return 1.0 - e, -one
    if estimand == "ATO":
        return e * (1.0 - e), 1.0 - 2.0 * e
    if estimand == "ATM":
        low = e < 0.5
        return np.where(low, e, 1.0 - e), np.where(low, 1.0, -1.0)
    raise ValueError(f"tilt(): unknown estimand {estimand!r}")  # pragma: no cover


def arm_weights(e: np.ndarray, estimand: str) -> tuple[np.ndarray, np.ndarray]:
    """``(W1, W0)``: the weight a subject would get if exposed, and if unexposed.

    Examples
    --------
    >>> w1, w0 = arm_weights(np.array([0.2, 0.5]), "ATT")
    >>> w1.tolist(), w0.round(3).tolist()
    ([1.0, 1.0], [0.25, 1.0])
    """
    h, _ = tilt(e, estimand)
    return h / e, h / (1.0 - e)


def arm_weight_derivatives(e: np.ndarray, estimand: str) -> tuple[np.ndarray, np.ndarray]:
    """``(dW1/de, dW0/de)`` for the weights of :func:`arm_weights`."""
    h, dh = tilt(e, estimand)
    return (dh * e - h) / e**2, (dh * (1.0 - e) + h) / (1.0 - e) ** 2


def crump_threshold(e: np.ndarray) -> float:
    """Crump et al. (2009) optimal trimming bound ``alpha``: keep ``alpha <= e <= 1 - alpha``.

    ``alpha = 0`` when ``max g <= 2 mean(g)`` with ``g = 1 / (e (1 - e))``; otherwise
    ``1 / (alpha (1 - alpha)) = gamma`` where ``gamma = 2 E[g | g <= gamma]``.

    Examples
    --------
    >>> crump_threshold(np.full(10, 0.5))
    0.0
    """
    g = np.sort(1.0 / (e * (1.0 - e)))
    if g[-1] <= 2.0 * g.mean():
        return 0.0
    cmean = np.cumsum(g) / np.arange(1, g.size + 1)
    # gamma = 2 * mean of the g's at or below it: the last k with g_k <= 2 * cmean_k
    k = int(np.flatnonzero(g <= 2.0 * cmean)[-1])
    gamma = 2.0 * cmean[k]
    return float((1.0 - np.sqrt(max(1.0 - 4.0 / gamma, 0.0))) / 2.0)


def ess(w: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``."""
    s2 = float(np.dot(w, w))
    return float(w.sum() ** 2 / s2) if s2 > 0 else 0.0


def warn_weights(notes: list[str], msg: str, category: type[Warning]) -> None:
    """Warn ``msg`` (``"<func>(): ..."``) at the verb's caller and record it in ``notes``.

    >>> notes: list[str] = []
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     warn_weights(notes, "ipw(): one subject carries 90% of the weight.", UserWarning)
    >>> notes
    ['one subject carries 90% of the weight.']
    """
    warnings.warn(msg, category, stacklevel=4)  # as stacklevel=3 in the check that calls it
    notes.append(msg.split("(): ", 1)[1])
