"""The parametric g-formula's standardised means and influence values (arrays only).

``gformula()`` validates the data, builds the outcome design and fits the outcome model
``Q(a, L)``; the numbers live here. Over the estimand population ``m`` (everyone, the
exposed or the unexposed; :func:`population`) with sampling weights ``s``, the standardised
means are ``mu_a = sum s m Q(a, L) / sum s m`` (:func:`standardize`, with their influence
values for a fixed outcome model); :func:`chain_rule` adds the outcome-model estimation
``D_a' IF_beta``; :func:`bootstrap_statistic` is a bootstrap replicate refitting the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from .._validation import verb_name
from ._contrast import contrast
from ._crossfit import OutcomeDesign
from ._outcome import OutcomeFit, coef_influence, fit_glm, sklearn_fitter

__all__ = ["bootstrap_statistic", "chain_rule", "population", "standardize"]


def population(a: np.ndarray, estimand: str) -> np.ndarray:
    """Indicator of the population standardised over: everyone, the exposed, the unexposed."""
    return {"ATE": np.ones(a.size), "ATT": (a == 1) * 1.0, "ATC": (a == 0) * 1.0}[estimand]


def standardize(q1: np.ndarray, q0: np.ndarray, pop: np.ndarray,
                s: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Standardised means and their influence values with the outcome model held fixed."""
    sm = s * pop
    den = sm.sum()
    mu1, mu0 = float(sm @ q1 / den), float(sm @ q0 / den)
    scale = den / pop.size
    return mu1, mu0, sm * (q1 - mu1) / scale, sm * (q0 - mu0) / scale


def chain_rule(fit: OutcomeFit, od: OutcomeDesign, y: np.ndarray, s: np.ndarray, r: np.ndarray,
               pop: np.ndarray, binary: bool, phi1: np.ndarray,
               phi0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add ``D_a' IF_beta``, the outcome-model estimation, to the standardised means' IF.

    ``fit`` is the parametric (linear / logistic) outcome model's: ``gformula()`` refuses
    ``variance="influence_function"`` with a machine-learning ``outcome_model``.
    """
    assert fit.glm is not None  # the parametric model (checked by gformula())
    if_beta = coef_influence(fit.glm, od.X, y, s, r, binary)
    sm = s * pop
    out = []
    for q, X, phi in ((fit.q1, od.X1, phi1), (fit.q0, od.X0, phi0)):
        dq = q * (1 - q) if binary else np.ones_like(q)
        d = X.T @ (sm * dq) / sm.sum()
        out.append(phi + if_beta @ d)
    return out[0], out[1]


def bootstrap_statistic(od: OutcomeDesign, y: np.ndarray, s: np.ndarray, r: np.ndarray,
                         pop: np.ndarray, binary: bool, model: Any, measure: str,
                         outcome: str) -> Any:
    """A replicate: refit the outcome model on the resample's observed rows, standardise."""
    fitter = sklearn_fitter(model, binary, verb_name()) if model is not None else None

    def stat(idx: np.ndarray) -> np.ndarray:
        ri, si = r[idx], s[idx]
        X, X1, X0 = od.X[idx][ri], od.X1[idx], od.X0[idx]
        if fitter is None:
            coef = fit_glm(X, y[idx][ri], si[ri], binary, od.design.names, verb_name(),
                           outcome).coef
            q1, q0 = X1 @ coef, X0 @ coef
            if binary:
                q1, q0 = expit(q1), expit(q0)
        else:
            q1, q0 = fitter(X, y[idx][ri], si[ri], X1, X0)
        mu1, mu0, phi1, phi0 = standardize(q1, q0, pop[idx], si)
        return np.array([contrast(mu1, mu0, phi1, phi0, measure)[0], mu1, mu0])

    return stat
