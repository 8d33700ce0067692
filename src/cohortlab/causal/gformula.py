"""``gformula``: the parametric g-formula (standardisation) for a point exposure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from .._design import covariate_columns
from .._typing import EffectVariance, Measure, Missing, RandomState, StandardEstimand
from .._validation import (
    check_columns,
    verb,
    verb_name,
)
from ..exceptions import DataValidationError
from ..inference.bootstrap import bootstrap
from ..inference.influence import se_from_influence
from ..results.estimate import Estimate
from ._contrast import MEASURE_NAMES, contrast
from ._gformula import bootstrap_statistic, chain_rule, population, standardize
from ._outcome import (
    check_means,
    check_outcome,
    fit_outcome,
    outcome_design,
    overlap_notes,
    point_arrays,
    zero_weight_notes,
)

__all__ = ["gformula"]

StandardizeOver: TypeAlias = Literal["analysed", "all"]


@verb
def gformula(
    data: pd.DataFrame,
    *,
    exposure: str,
    outcome: str,
    covariates: str | Sequence[str],
    estimand: StandardEstimand = "ATE",
    effect_measure: Measure = "difference",
    outcome_covariates: str | Sequence[str] | None = None,
    outcome_model: Any = None,
    standardize_over: StandardizeOver = "analysed",
    weights: str | None = None,
    cluster: str | None = None,
    variance: EffectVariance = "influence_function",
    n_boot: int = 1000,
    n_jobs: int = 1,
    conf_level: float = 0.95,
    reference: Any = None,
    random_state: RandomState = None,
    missing: Missing = "raise",
) -> Estimate:
    """Parametric g-formula (standardisation) effect of a binary exposure.

    Estimand: ``E[Y^1]`` vs ``E[Y^0]`` in the ``estimand`` population, the average over everyone
    (ATE), the exposed (ATT) or the unexposed (ATC) of the outcome model's predictions
    ``Q(1, L)`` and ``Q(0, L)`` (Robins 1986; What If ch. 13), as a difference, ratio or odds
    ratio. The outcome model ``Q(a, L) = E[Y | A = a, L]`` is a linear (continuous outcome) or
    logistic (binary 0/1 outcome) regression on ``outcome_covariates``, or any scikit-learn
    regressor / classifier (``outcome_model``). The exposure is added to its right-hand side as
    a main effect unless the formula already has it as a term of its own (``"qsmk + ... +
    I(qsmk*smokeintensity)"`` is used as given; ``"age + I(qsmk*age)"`` gets ``qsmk`` added).

    Identifying assumptions: conditional exchangeability given the outcome model's
    covariates, positivity, consistency, and a correctly specified outcome model.

    Positivity is checked as in the weighting verbs: a logistic propensity model of the
    exposure on ``covariates`` (terms involving the exposure left out) is fitted, and scores
    below 0.01 or above 0.99 (for the ATT only those above 0.99, for the ATC only those
    below 0.01), or complete separation of the groups, give a :class:`PositivityWarning`
    with the counts, recorded in ``notes``. Unlike :func:`ipw` the g-formula still returns
    an estimate there, but it is the outcome model's extrapolation. A binary outcome without
    events (or with only events), or a constant outcome, raises. ``n`` counts the rows with a
    positive weight.

    ``standardize_over="all"`` fits the outcome model on the rows with an observed outcome and
    averages the predictions over every row, including those whose outcome is missing (only
    the outcome may be missing for them; What If Program 13.2 standardises its 1,566-row fit
    over all 1,629). This assumes the outcome is missing at random given exposure and the
    outcome model's covariates. The counts go into ``notes``; ``n`` is the number of rows
    standardised over. With ``"analysed"`` (default) a missing outcome is a missing value like
    any other (``missing=``).

    Variance (``variance=``):

    - ``"influence_function"`` (default; parametric outcome model only): influence function
      of the standardised means including the estimation of the outcome-model coefficients
      by the M-estimation chain rule, ``phi_a = s m (Q(a, L) - mu_a) / E[s m] + D_a' IF_beta``
      with ``m`` the estimand population indicator and ``D_a = d mu_a / d beta``; SE
      ``sqrt(sum phi^2) / n`` (as :func:`ipw`), cluster-robust with ``cluster``.
    - ``"bootstrap"``: ``n_boot`` resamples (of clusters with ``cluster``) refitting the outcome
      model in each; percentile interval (needed with a machine-learning ``outcome_model``).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject; never modified.
    exposure, outcome : str
        Binary exposure; numeric outcome (binary 0/1 outcomes give risks).
    covariates : list of str or str
        Confounders: the outcome model's right-hand side unless ``outcome_covariates``.
    estimand : {"ATE", "ATT", "ATC"}
        Average the predictions over everyone, the exposed or the unexposed.
    effect_measure : {"difference", "ratio", "odds_ratio"}
        The contrast of the standardised means.
    outcome_covariates : list of str or str, optional
        The outcome model's right-hand side, e.g. with exposure interactions. The exposure is
        added as a main effect unless the formula already has it as a term of its own.
    outcome_model : scikit-learn regressor or classifier, optional
        Default: linear or logistic regression (maximum likelihood).
    standardize_over : {"analysed", "all"}
        ``"all"`` fits the outcome model on the rows with an observed outcome and averages the
        predictions over every row, including those whose outcome is missing (What If
        Program 13.2); this assumes the outcome is missing at random given the exposure and
        the model's covariates. With ``"analysed"`` a missing outcome is a missing value like
        any other.
    weights : str, optional
        Sampling weights (in the fit and in the standardisation).
    cluster : str, optional
    variance : {"influence_function", "bootstrap"}
        How the standard error is computed; a machine-learning ``outcome_model`` needs
        ``"bootstrap"``.
    n_boot, n_jobs, random_state
        Bootstrap settings (same seed, same numbers whatever ``n_jobs``).
    conf_level : float
    reference : optional
        Exposure label of the unexposed group.
    missing : {"raise", "drop"}

    Returns
    -------
    Estimate
        ``extra`` holds the standardised means ``mean_1``, ``mean_0`` and their standard
        errors ``se_mean_1``, ``se_mean_0``.

    Examples
    --------
    >>> import cohortlab as cl
    >>> nhefs = cl.datasets.load_nhefs()
    >>> L = ("sex + race + age + I(age**2) + C(education) + smokeintensity"
    ...      " + I(smokeintensity**2) + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active)"
    ...      " + wt71 + I(wt71**2)")
    >>> est = cl.gformula(nhefs, exposure="qsmk", outcome="wt82_71", covariates=L,
    ...     outcome_covariates=L + " + I(qsmk*smokeintensity)", standardize_over="all")
    >>> round(est.extra["mean_1"], 4), round(est.extra["mean_0"], 4), round(est.estimate, 4)
    (5.1788, 1.6603, 3.5186)
    """
    check_columns(data, exposure=exposure, outcome=outcome, weights=weights,
                  cluster=cluster)
    if outcome_model is not None and variance == "influence_function":
        raise DataValidationError(
            f"{verb_name()}(): variance=\"influence_function\" needs the parametric (linear or "
            f"logistic) outcome model; with outcome_model={type(outcome_model).__name__} use "
            "variance=\"bootstrap\" (refits the model in every replicate).")
    out_cov = covariates if outcome_covariates is None else outcome_covariates
    cols = (covariate_columns(covariates, data, verb_name())
            + covariate_columns(out_cov, data, verb_name()))
    used = [exposure, *cols] + [c for c in (weights, cluster) if c]
    if standardize_over == "analysed":
        used.append(outcome)
    pa = point_arrays(data, used, exposure=exposure, outcome=outcome, weights=weights,
                      missing=missing, reference=reference)
    frame, dropped, a, y, s, binary = pa.frame, pa.dropped, pa.a, pa.y, pa.s, pa.binary
    r = ~np.isnan(y)
    check_outcome(y, a, r & (s > 0), binary, effect_measure, verb_name(), exposure, outcome)
    od = outcome_design(frame, a, r, exposure, out_cov, verb_name(),
                        intercept=outcome_model is None)
    fit = fit_outcome(od, y, s, r, binary, outcome_model, None, verb_name(), outcome)
    positivity = overlap_notes(frame, a, s, covariates, estimand, verb_name(), exposure)
    pop = population(a, estimand)
    mu1, mu0, phi1, phi0 = standardize(fit.q1, fit.q0, pop, s)
    check_means(mu1, mu0, effect_measure, verb_name(), outcome)
    common: dict[str, Any] = dict(
        estimand=estimand, effect_measure=MEASURE_NAMES[(effect_measure, binary)],
        method="gformula", n=int((s > 0).sum()),
        n_events=int(y[r & (s > 0)].sum()) if binary else None,
        dropped=dropped, conf_level=conf_level,
        notes=_notes(fit.description, r, standardize_over, pop, estimand) + positivity
        + zero_weight_notes(s, weights),
    )
    cl_ids = frame[cluster].to_numpy() if cluster else None
    est, _ = contrast(mu1, mu0, phi1, phi0, effect_measure)
    if variance == "bootstrap":
        stat = bootstrap_statistic(od, y, s, r, pop, binary, outcome_model, effect_measure,
                                    outcome)
        boot = bootstrap(stat, len(frame), n_boot=n_boot, random_state=random_state,
                         n_jobs=n_jobs, cluster=cl_ids)
        sd = boot.valid[:, 1:].std(axis=0, ddof=1)
        extra = {"mean_1": mu1, "mean_0": mu0, "se_mean_1": float(sd[0]),
                 "se_mean_0": float(sd[1])}
        return Estimate.from_bootstrap(exposure, est, boot.valid[:, 0], n_failed=boot.n_failed,
                                       extra=extra, **common)
    phi1, phi0 = chain_rule(fit, od, y, s, r, pop, binary, phi1, phi0)
    est, phi = contrast(mu1, mu0, phi1, phi0, effect_measure)
    extra = {"mean_1": mu1, "mean_0": mu0, "se_mean_1": float(se_from_influence(phi1, cl_ids)),
             "se_mean_0": float(se_from_influence(phi0, cl_ids))}
    return Estimate.from_influence(exposure, est, phi, cluster=cl_ids, extra=extra, **common)


def _notes(description: str, r: np.ndarray, over: str, pop: np.ndarray,
           estimand: str) -> tuple[str, ...]:
    notes: tuple[str, ...] = (f"outcome model: {description}, fitted on {int(r.sum()):,} rows",)
    if estimand != "ATE":
        who = "exposed" if estimand == "ATT" else "unexposed"
        notes += (f"standardised over the {int(pop.sum()):,} {who} ({estimand})",)
    if over == "all" and (~r).any():
        notes += (f"standardised over all {r.size:,} rows, including {int((~r).sum()):,} "
                  "with missing outcome (not used in the outcome model fit)",)
    return notes
