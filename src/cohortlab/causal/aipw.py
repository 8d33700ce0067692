"""``aipw``: augmented inverse probability weighting (doubly robust) for a point exposure."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import pandas as pd

from .._typing import EffectVariance, Measure, Missing, RandomState, StandardEstimand
from .._validation import (
    verb,
    verb_name,
)
from ..results.estimate import Estimate
from ._aipw import aipw_means
from ._outcome import (
    fit_nuisances,
    nuisance_estimate,
)

__all__ = ["aipw"]


@verb
def aipw(
    data: pd.DataFrame,
    *,
    exposure: str,
    outcome: str,
    covariates: str | Sequence[str],
    estimand: StandardEstimand = "ATE",
    effect_measure: Measure = "difference",
    outcome_covariates: str | Sequence[str] | None = None,
    ps_model: Any = None,
    outcome_model: Any = None,
    cross_fit: int | None = None,
    trim: tuple[float, float] | str | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    conf_level: float = 0.95,
    reference: Any = None,
    variance: EffectVariance = "influence_function",
    n_boot: int = 1000,
    n_jobs: int = 1,
    random_state: RandomState = None,
    missing: Missing = "raise",
) -> Estimate:
    """Augmented inverse probability weighted (doubly robust) effect of a binary exposure.

    Estimand: ``E[Y^1]`` vs ``E[Y^0]`` in the ``estimand`` population (everyone, the exposed or
    the unexposed) as a difference, ratio or odds ratio. With the propensity score ``e(L)``
    and the outcome model ``Q(a, L)``, the ATE arm means are (Robins, Rotnitzky & Zhao 1994;
    Bang & Robins 2005)

        ``mu_a = mean[ Q(a, L) + 1{A = a} / P(A = a | L) (Y - Q(a, L)) ]``

    and the ATT / ATC ones standardise over the exposed / unexposed (Hahn 1998; Mercatanti &
    Li 2014): for the ATT ``mu_1`` is the exposed mean and ``mu_0 = sum[A Q(0, L) + (1 - A)
    e / (1 - e) (Y - Q(0, L))] / sum A`` (symmetrically for the ATC). The estimate is
    consistent if either nuisance model is correct (double robustness) and efficient when
    both are.

    The propensity model is a logistic regression on ``covariates`` or any scikit-learn
    classifier (``ps_model``); the outcome model a linear (continuous outcome) or logistic
    (binary 0/1 outcome) regression on ``outcome_covariates`` (default ``covariates``) or any
    scikit-learn regressor / classifier (``outcome_model``). The exposure is added to the
    outcome model as a main effect unless the formula already has it as a term of its own
    (see :func:`gformula`). ``cross_fit=K`` fits each nuisance model on K - 1 folds and
    predicts the held-out fold (Chernozhukov et al. 2018); both models share the folds, drawn
    (stratified by exposure) from ``random_state``. With both default models, both GLMs are
    cross-fitted (K logistic and K linear / logistic fits, computed together: see
    ``causal/_crossfit.py``); when only one model is a scikit-learn estimator, the
    parametric default one is fitted on all rows.

    Identifying assumptions: conditional exchangeability given the covariates, positivity
    and consistency.

    Variance (``variance=``): ``"influence_function"`` (default), the efficient influence
    function ``phi_a`` of each arm mean (its nuisance-model terms vanish at the truth), SE
    ``sd(phi) / sqrt(n)`` with ``sd`` using ``n - 1``, the convention of R's AIPW and tmle
    packages; with ``cluster``, influence values are summed within clusters
    (``G / (G - 1)``). ``"bootstrap"``: ``n_boot`` resamples of rows (clusters with
    ``cluster``) refitting both default models, a percentile interval (the same numbers for
    any ``n_jobs``). Ratios use the log scale.

    Parameters
    ----------
    data : pandas.DataFrame
    exposure, outcome : str
        Binary exposure; numeric outcome (binary 0/1 outcomes give risks).
    covariates : list of str or str
        Confounders for the propensity model (and the outcome model by default).
    estimand : {"ATE", "ATT", "ATC"}
    effect_measure : {"difference", "ratio", "odds_ratio"}
        The contrast of the two arm means.
    outcome_covariates : list of str or str, optional
        The outcome model's right-hand side; the exposure is added as a main effect unless
        already a term.
    ps_model : scikit-learn classifier, optional
        The propensity model; default logistic regression on ``covariates``.
    outcome_model : scikit-learn regressor or classifier, optional
        The outcome model; default linear or logistic regression.
    cross_fit : int, optional
        K-fold cross-fitting of the nuisance models (each fitted on K - 1 folds, predicting
        the held-out one); both models share the folds, stratified by exposure and drawn
        from ``random_state``. Both default GLMs are cross-fitted when neither model is
        given; a default GLM next to a scikit-learn model is fitted on all rows.
    trim : (float, float) or "crump", optional
        Remove subjects with propensity scores outside the bounds (as in
        :func:`propensity_score`); the estimand becomes the trimmed population's.
    weights : str, optional
        Sampling weights.
    cluster : str, optional
        Cluster identifier for cluster-robust standard errors.
    conf_level : float
    reference : optional
        Exposure label of the unexposed group.
    variance : {"influence_function", "bootstrap"}
        How the standard error is computed (above); the bootstrap needs the default models.
    n_boot, n_jobs : int
        Bootstrap replicates and parallel jobs.
    random_state : int or numpy.random.Generator, optional
        Seeds the cross-fitting folds and the bootstrap.
    missing : {"raise", "drop"}

    Returns
    -------
    Estimate
        ``extra`` holds ``mean_1``, ``mean_0`` and their standard errors ``se_mean_1``,
        ``se_mean_0``; ``diagnostics`` the :class:`PropensityScore`.

    Examples
    --------
    >>> import cohortlab as cl
    >>> d = cl.datasets.load_nhefs().dropna(subset=["wt82"])
    >>> L = ("sex + race + age + I(age**2) + C(education) + smokeintensity"
    ...      " + I(smokeintensity**2) + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active)"
    ...      " + wt71 + I(wt71**2)")
    >>> est = cl.aipw(d, exposure="qsmk", outcome="wt82_71", covariates=L,
    ...               outcome_covariates=L + " + I(qsmk*smokeintensity)")
    >>> round(est.estimate, 4), round(est.std_error, 4)
    (3.4573, 0.4888)
    """
    nu = fit_nuisances(
        data, verb_name(), exposure=exposure, outcome=outcome, covariates=covariates,
        outcome_covariates=outcome_covariates, ps_model=ps_model, outcome_model=outcome_model,
        cross_fit=cross_fit, trim=trim, weights=weights, cluster=cluster, reference=reference,
        random_state=random_state, missing=missing, estimand=estimand,
        effect_measure=effect_measure)
    means = functools.partial(aipw_means, estimand=estimand)
    cf = (f"{cross_fit}-fold cross-fitting (folds shared by both models)",) if cross_fit else ()
    return nuisance_estimate(
        nu, means(nu.y, nu.a, nu.q1, nu.q0, nu.e, nu.s), means, term=exposure, outcome=outcome,
        estimand=estimand, effect_measure=effect_measure, method="aipw", conf_level=conf_level,
        variance=variance, n_boot=n_boot, n_jobs=n_jobs, random_state=random_state, notes=cf)

