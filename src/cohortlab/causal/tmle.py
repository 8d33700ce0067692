"""``tmle``: targeted maximum likelihood estimation of the average effect of an exposure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._typing import EffectVariance, Measure, Missing, RandomState, StandardEstimand
from .._validation import (
    verb,
    verb_name,
)
from ..results.estimate import Estimate
from ._outcome import (
    fit_nuisances,
    nuisance_estimate,
)
from ._tmle import Q_BOUND, outcome_bounds, targeted_means

__all__ = ["tmle"]


@verb(hints={"estimand": 'estimand="ATO" and "ATM" are not implemented for TMLE; use '
                          'ipw(..., estimand="ATO").'})
def tmle(
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
    bounds: tuple[float, float] | None = None,
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
    """Targeted maximum likelihood estimate (TMLE) of the average effect of a binary exposure.

    Estimand: the contrast (difference, ratio or odds ratio) of ``E[Y^1]`` and ``E[Y^0]`` in
    the whole population (ATE), the exposed (ATT) or the unexposed (ATC); ATO / ATM are not
    implemented (use :func:`ipw`). TMLE (van der Laan & Rubin 2006; van der Laan & Rose
    2011) updates the initial outcome model ``Q(a, L)`` along the logistic fluctuation

        ``logit Q*(a, L) = logit Q(a, L) + eps_1 H_1(a, L) + eps_0 H_0(a, L)``

    with no intercept and ``eps`` fitted by maximum likelihood with offset ``logit Q``. The
    clever covariates are ``H_1 = A / e(L)``, ``H_0 = -(1 - A) / (1 - e(L))`` for the ATE;
    ``H_1 = A / p``, ``H_0 = -(1 - A) e(L) / ((1 - e(L)) p)`` with ``p = P(A = 1)`` for the
    ATT; ``H_1 = A (1 - e(L)) / (e(L) q)``, ``H_0 = -(1 - A) / q`` with ``q = P(A = 0)`` for
    the ATC. One step solves the efficient score equations exactly (the two covariates have
    disjoint supports), so the plug-in (``mean Q*(a, L)`` over everyone, the exposed or the
    unexposed) is doubly robust and respects the outcome's bounds; for the ATT, ``mean_1``
    is the exposed's observed mean. A continuous outcome is first scaled to [0, 1] by
    ``bounds`` (default: its observed minimum and maximum), and the initial predictions are
    bounded to [0.0005, 0.9995] on that scale.

    The nuisance models are those of :func:`aipw`: the propensity model ``e(L)`` a logistic
    regression on ``covariates`` or any scikit-learn classifier (``ps_model``); the initial
    outcome model a linear (continuous outcome) or logistic (binary 0/1 outcome) regression
    on ``outcome_covariates`` (default ``covariates``) or any scikit-learn regressor /
    classifier (``outcome_model``), with the exposure added as a main effect unless the
    formula already has it as a term of its own. ``cross_fit=K`` fits each nuisance model on
    K - 1 folds and predicts the held-out fold (Chernozhukov et al. 2018); both models share
    the folds, drawn (stratified by exposure) from ``random_state``: the same folds as
    :func:`aipw` with the same ``random_state``. With both default models, both GLMs are
    cross-fitted (as in :func:`aipw`); when only one model is a scikit-learn estimator, the
    parametric default one is fitted on all rows. The fluctuation and the influence curve
    then use the out-of-fold ``e(L)``, ``Q(1, L)`` and ``Q(0, L)``; ``eps`` is fitted once on
    all rows.

    Identifying assumptions: conditional exchangeability given the covariates, positivity
    and consistency (for the ATT only ``Y^0`` exchangeability and ``e(L) < 1`` are needed;
    for the ATC ``Y^1`` and ``e(L) > 0``).

    Variance (``variance=``): ``"influence_function"`` (default), the efficient influence
    curve, ``D_a = 1{A=a} / P(A=a | L) (Y - Q*(a, L)) + Q*(a, L) - mu_a`` for the ATE and,
    for the ATT, ``D = A / p (Y - Q*(0, L) - psi) - (1 - A) e(L) / ((1 - e(L)) p) (Y - Q*(0,
    L))`` (ATC symmetric); SE ``sd(D) / sqrt(n)`` (``n - 1`` in ``sd``, as R's tmle) over all
    ``n`` analysed rows, cluster-robust with ``cluster``; or ``"bootstrap"`` (below). Ratios
    on the log scale.

    Parameters
    ----------
    data : pandas.DataFrame
    exposure, outcome : str
        Binary exposure; binary 0/1 or bounded continuous outcome.
    covariates : list of str or str
        Confounders for the propensity model (and the outcome model by default).
    estimand : {"ATE", "ATT", "ATC"}
        ``"ATO"`` and ``"ATM"`` raise :class:`~cohortlab.exceptions.DataValidationError`
        (use :func:`ipw`).
    effect_measure : {"difference", "ratio", "odds_ratio"}
    outcome_covariates : list of str or str, optional
    ps_model, outcome_model : scikit-learn estimators, optional
    cross_fit : int, optional
        K-fold cross-fitting of the nuisance models (each fitted on K - 1 folds, predicting
        the held-out one); both models share the folds, stratified by exposure and drawn
        from ``random_state``. Both default GLMs are cross-fitted when neither model is
        given; a default GLM next to a scikit-learn model is fitted on all rows. The
        targeting step uses the out-of-fold predictions.
    trim : (float, float) or "crump", optional
    bounds : (float, float), optional
        Known bounds of a continuous outcome, used to scale it to [0, 1] (default: its
        observed minimum and maximum). They must contain every value of the outcome.
    weights : str, optional
        Sampling weights.
    cluster : str, optional
    conf_level : float
    reference : optional
    variance : {"influence_function", "bootstrap"}
        ``"bootstrap"``: ``n_boot`` resamples of rows (clusters with ``cluster``), both default
        models refitted and the fluctuation redone in each; a percentile interval (the same
        numbers for any ``n_jobs``). It needs the default models.
    n_boot, n_jobs : int
        Bootstrap replicates and parallel jobs.
    random_state : int or numpy.random.Generator, optional
        Seeds the cross-fitting folds and the bootstrap.
    missing : {"raise", "drop"}

    Returns
    -------
    Estimate
        ``extra``: ``mean_1``, ``mean_0``, ``se_mean_1``, ``se_mean_0``, ``epsilon_1`` and
        ``epsilon_0``; ``diagnostics``: the :class:`PropensityScore`.

    Examples
    --------
    >>> import cohortlab as cl
    >>> d = cl.datasets.load_nhefs().dropna(subset=["wt82"])
    >>> L = ("sex + race + age + I(age**2) + C(education) + smokeintensity"
    ...      " + I(smokeintensity**2) + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active)"
    ...      " + wt71 + I(wt71**2)")
    >>> est = cl.tmle(d, exposure="qsmk", outcome="wt82_71", covariates=L,
    ...               outcome_covariates=L + " + I(qsmk*smokeintensity)")
    >>> round(est.estimate, 4), round(est.std_error, 4)
    (3.4567, 0.4885)
    """
    nu = fit_nuisances(
        data, verb_name(), exposure=exposure, outcome=outcome, covariates=covariates,
        outcome_covariates=outcome_covariates, ps_model=ps_model, outcome_model=outcome_model,
        cross_fit=cross_fit, trim=trim, weights=weights, cluster=cluster, reference=reference,
        random_state=random_state, missing=missing, estimand=estimand,
        effect_measure=effect_measure)
    lo, hi = (0.0, 1.0) if nu.binary else outcome_bounds(nu.y, bounds, outcome)
    mu1, mu0, phi1, phi0, eps, n_bounded = targeted_means(nu.y, nu.a, nu.q1, nu.q0, nu.e,
                                                           nu.s, lo=lo, hi=hi, estimand=estimand)
    notes: tuple[str, ...] = (f"logistic fluctuation: epsilon = ({eps[0]:.4g}, {eps[1]:.4g})",)
    if not nu.binary:
        notes += (f"outcome scaled to [0, 1] by its bounds [{lo:.6g}, {hi:.6g}]",)
    if cross_fit:
        notes += (f"{cross_fit}-fold cross-fitting (folds shared by both models)",)
    if n_bounded:
        notes += (f"{n_bounded:,} initial predictions bounded to [{Q_BOUND}, {1 - Q_BOUND}] "
                  "(outcome scale [0, 1])",)

    def means(*arrays: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
        return targeted_means(*arrays, lo=lo, hi=hi, estimand=estimand)[:4]

    return nuisance_estimate(
        nu, (mu1, mu0, phi1, phi0), means, term=exposure, outcome=outcome, estimand=estimand,
        effect_measure=effect_measure, method="tmle", conf_level=conf_level, variance=variance,
        n_boot=n_boot, n_jobs=n_jobs, random_state=random_state,
        extra={"epsilon_1": eps[0], "epsilon_0": eps[1]}, notes=notes)

