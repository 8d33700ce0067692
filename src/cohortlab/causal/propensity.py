"""``propensity_score``: the exposure model, balancing weights and their diagnostics.

The public verb validates its input and calls the one private fitter,
:func:`cohortlab.causal._propensity.fit_propensity`, which the weighting verbs call too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._design import covariate_columns
from .._typing import Estimand, Missing, RandomState
from .._validation import (
    apply_missing,
    check_binary,
    check_columns,
    check_weights,
    verb,
    verb_name,
)
from ._propensity import PropensityScore, check_arms, fit_propensity

__all__ = ["propensity_score", "PropensityScore"]


@verb
def propensity_score(
    data: pd.DataFrame,
    *,
    exposure: str,
    covariates: str | Sequence[str],
    model: Any = None,
    estimand: Estimand = "ATE",
    stabilize: bool = False,
    trim: tuple[float, float] | str | None = None,
    truncate: tuple[float, float] | None = None,
    weights: str | None = None,
    cross_fit: int | None = None,
    reference: Any = None,
    random_state: RandomState = None,
    missing: Missing = "raise",
) -> PropensityScore:
    """Fit the exposure (propensity score) model and derive balancing weights.

    The propensity score ``e(L) = P(A = 1 | L)`` is estimated by logistic regression on
    ``covariates`` (a column list or a formula right-hand side) or by any scikit-learn
    classifier (``model=``), optionally cross-fitted (``cross_fit=K``, out-of-fold scores).
    Weights target the ``estimand``: ATE ``1/e``, ``1/(1-e)``; ATT ``1``, ``e/(1-e)``; ATC
    ``(1-e)/e``, ``1``; ATO (overlap) ``1-e``, ``e``; ATM (matching weights)
    ``min(e, 1-e)/e``, ``min(e, 1-e)/(1-e)``. ``stabilize=True`` multiplies the ATE weights by
    the marginal probability of the arm received (the Hajek estimators are unchanged).

    Identification of an effect with these weights needs conditional exchangeability given
    ``covariates``, positivity (scores away from 0 and 1) and consistency; the diagnostics
    here check positivity and balance, not exchangeability.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject; never modified.
    exposure : str
        Binary exposure column (0/1, bool, or two labels with ``reference``).
    covariates : list of str or str
        The confounders: column names, or a formula right-hand side such as
        ``"age + I(age**2) + C(education)"`` (formulaic syntax; ``C()`` marks a numeric column
        as categorical).
    model : scikit-learn classifier, optional
        Any estimator with ``fit()`` and ``predict_proba()``. Default: maximum-likelihood
        logistic regression with an intercept.
    estimand : {"ATE", "ATT", "ATC", "ATO", "ATM"}
        The target population of the weights.
    stabilize : bool
        Multiply the weights by the marginal probability of the arm received (the Hajek
        estimators of :func:`ipw` are unchanged).
    trim : (float, float) or "crump", optional
        Remove subjects whose score is outside ``[low, high]``, or outside Crump et al.'s (2009)
        optimal bounds. They get weight 0, the estimand becomes the trimmed population, and a
        note says so; the scores are not re-estimated.
    truncate : (float, float), optional
        Truncate (winsorise) the weights at these quantiles of the kept rows' weights, e.g.
        ``(0.01, 0.99)``; recorded in the notes.
    weights : str, optional
        Sampling weights, used in the score model and multiplied into the weights.
    cross_fit : int, optional
        Number of folds for out-of-fold scores with ``model``.
    reference : optional
        Exposure label of the unexposed group (when the exposure is not 0/1).
    random_state : int or numpy.random.Generator, optional
        Seeds the cross-fitting folds.
    missing : {"raise", "drop"}
        Missing values in the exposure, covariates or weights raise, or the rows are dropped and
        counted in ``result.dropped``.

    Returns
    -------
    PropensityScore

    Examples
    --------
    >>> import cohortlab as cl
    >>> d = cl.datasets.load_nhefs().dropna(subset=["wt82"])
    >>> ps = cl.propensity_score(d, exposure="qsmk", covariates="sex + race + age + I(age**2)"
    ...     " + C(education) + smokeintensity + I(smokeintensity**2) + smokeyrs"
    ...     " + I(smokeyrs**2) + C(exercise) + C(active) + wt71 + I(wt71**2)")
    >>> round(float(ps.weights.max()), 2), round(ps.ess()[1], 1)
    (16.7, 326.0)
    """
    check_columns(data, exposure=exposure, weights=weights)
    cov_cols = covariate_columns(covariates, data, verb_name())
    used = [exposure, *cov_cols] + ([weights] if weights else [])
    frame, dropped = apply_missing(data, used, missing)
    a = check_binary(frame, exposure, "exposure", reference=reference)
    s = check_weights(frame, weights) if weights else np.ones(len(frame))
    check_arms(a, exposure, verb_name())
    return fit_propensity(frame, a, s, covariates, func=verb_name(), exposure=exposure,
                          estimand=estimand, model=model, cross_fit=cross_fit,
                          random_state=random_state, trim=trim, truncate=truncate,
                          stabilize=stabilize, weighted=weights is not None, dropped=dropped)
