"""Effect contrasts of two arm means and their influence functions (arrays only).

Every point-exposure estimator (crude, IPW, g-formula, AIPW) ends with two arm means
``mu1, mu0`` and their per-subject influence values ``phi1, phi0`` (scaled so that
``mu - truth ~ mean(phi)``). This module turns them into the effect on the model scale
(difference; log ratio; log odds ratio) with its influence values by the delta method.
"""

from __future__ import annotations

import numpy as np

from .._typing import EffectMeasure

__all__ = ["contrast", "MEASURE_NAMES"]

#: Argument value -> the effect measure recorded in the result (binary / continuous outcome).
MEASURE_NAMES: dict[tuple[str, bool], EffectMeasure] = {
    ("difference", True): "risk_difference",
    ("difference", False): "mean_difference",
    ("ratio", True): "risk_ratio",
    ("ratio", False): "ratio",
    ("odds_ratio", True): "odds_ratio",
}


def contrast(
    mu1: float, mu0: float, phi1: np.ndarray, phi0: np.ndarray, measure: str
) -> tuple[float, np.ndarray]:
    """Effect on the model scale and its influence values.

    ``difference``: ``mu1 - mu0``; ``ratio``: ``log(mu1 / mu0)``; ``odds_ratio``:
    ``logit(mu1) - logit(mu0)``.

    Examples
    --------
    >>> est, phi = contrast(0.3, 0.2, np.array([0.1, -0.1]), np.array([0.0, 0.0]), "ratio")
    >>> round(float(np.exp(est)), 3), phi.round(3).tolist()
    (1.5, [0.333, -0.333])
    """
    if measure == "difference":
        return mu1 - mu0, phi1 - phi0
    if measure == "ratio":
        return float(np.log(mu1 / mu0)), phi1 / mu1 - phi0 / mu0
    if measure == "odds_ratio":
        est = float(np.log(mu1 / (1 - mu1)) - np.log(mu0 / (1 - mu0)))
        return est, phi1 / (mu1 * (1 - mu1)) - phi0 / (mu0 * (1 - mu0))
    raise ValueError(f"contrast(): unknown measure {measure!r}")  # pragma: no cover
