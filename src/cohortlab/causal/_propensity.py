"""The propensity-score fit shared by every weighting and matching verb (private).

:func:`fit_propensity` takes rows that the calling verb has already validated (the exposure
coded 0/1, sampling weights as an array) and returns the :class:`PropensityScore` that the
verb keeps as its diagnostics: scores (out of fold with a cross-fitted classifier), the
positivity checks, trimming, balancing weights (optionally stabilised and truncated) and
the weight-fragility checks. Every error, warning and note names the *calling* verb
(``func``), so ``ipw()`` reports ``"ipw(): ..."``, not ``"propensity_score(): ..."``.
``propensity_score()`` is one such caller; no verb calls it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._design import categorical_columns, covariate_columns
from ._weights import arm_weights
from .propensity import (
    PropensityScore,
    _model_description,
    check_arms,
    fit_scores,
    positivity_notes,
    trim_mask,
    truncate_weights,
    weight_notes,
)

__all__ = ["fit_propensity"]


def fit_propensity(
    frame: pd.DataFrame, a: np.ndarray, s: np.ndarray, covariates: Any, *, func: str,
    exposure: str, estimand: str = "ATE", model: Any = None, cross_fit: int | None = None,
    random_state: Any = None, trim: Any = None, truncate: Any = None, stabilize: bool = False,
    weighted: bool = False, dropped: Any = None, weight_checks: bool = True,
) -> PropensityScore:
    """Fit the exposure model on validated rows and derive the balancing weights.

    Parameters
    ----------
    frame : pandas.DataFrame
        The analysed rows (covariates are read from it by ``covariates``).
    a, s : numpy.ndarray
        The exposure coded 0/1 and the sampling weights (ones when unweighted).
    func : str
        The calling verb, named in every error, warning and note.
    weighted : bool
        Whether ``s`` came from a weights column (kept as ``sampling_weights``).
    weight_checks : bool
        Warn when a few subjects dominate an arm's weights (the weighting verbs).
    """
    e, design, fit = fit_scores(frame, a, covariates, model, s, cross_fit, random_state, func,
                                exposure)
    keep, trim_note = trim_mask(e, trim, func)
    notes = positivity_notes(e, a, func, exposure, keep=keep, trim=trim, estimand=estimand,
                             s=s)
    if trim_note:
        check_arms(a[keep], exposure, func, after="trimming")
    w1, w0 = arm_weights(np.clip(e, 1e-12, 1 - 1e-12), estimand)
    w = np.where(a == 1, w1, w0)
    if stabilize:
        p1 = float(np.dot(s, a) / s.sum())
        w = w * np.where(a == 1, p1, 1 - p1)
    w = np.where(keep, w, 0.0)
    w, trunc_note = truncate_weights(w, keep, truncate, func)
    notes += tuple(n for n in (trim_note, trunc_note) if n)
    if weight_checks:
        notes += weight_notes(w * s, a, func, exposure)
    idx = frame.index
    extra = {} if dropped is None else {"dropped": dropped}
    return PropensityScore(
        scores=pd.Series(e, index=idx, name="propensity_score"),
        weights=pd.Series(w, index=idx, name=f"{estimand.lower()}_weight"),
        exposure=pd.Series(a, index=idx, name=exposure), kept=pd.Series(keep, index=idx),
        estimand=estimand, exposure_name=exposure, covariates=covariates,
        covariate_columns=tuple(covariate_columns(covariates, frame, func)),
        categorical=tuple(categorical_columns(covariates, frame)),
        model_description=_model_description(model, design, cross_fit), data=frame,
        sampling_weights=pd.Series(s, index=idx) if weighted else None,
        coef=pd.Series(fit.coef, index=design.names) if fit is not None else None,
        notes=notes, _fit=fit, _design=design, **extra,
    )
