"""``ipw``: inverse probability weighting (Hajek) for a point exposure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from .._design import build_design, covariate_columns
from .._glm import fit_logistic
from .._typing import CIMethod, Estimand, IPWVariance, Measure, Missing, RandomState
from .._validation import (
    check_columns,
    verb,
    verb_name,
)
from ..exceptions import DataValidationError
from ..inference.bootstrap import bootstrap
from ..results.estimate import Estimate
from ._contrast import MEASURE_NAMES, contrast
from ._ipw import bootstrap_statistic, ipw_arm_means, realized_weights
from ._outcome import check_outcome_variation, point_arrays, zero_weight_notes
from ._propensity import fit_propensity

__all__ = ["ipw"]


@verb
def ipw(
    data: pd.DataFrame,
    *,
    exposure: str,
    outcome: str,
    covariates: str | Sequence[str],
    estimand: Estimand = "ATE",
    effect_measure: Measure = "difference",
    model: Any = None,
    trim: tuple[float, float] | str | None = None,
    truncate: tuple[float, float] | None = None,
    censoring_covariates: str | Sequence[str] | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    variance: IPWVariance | None = None,
    n_boot: int = 1000,
    n_jobs: int = 1,
    conf_level: float = 0.95,
    reference: Any = None,
    random_state: RandomState = None,
    missing: Missing = "raise",
) -> Estimate:
    """Inverse probability weighted (Hajek) effect of a binary exposure.

    Estimand: the ``estimand`` population's (ATE, ATT, ATC, overlap ATO, matching ATM)
    contrast of mean potential outcomes ``E[Y^1]`` vs ``E[Y^0]`` as a difference, ratio or odds
    ratio. Each arm mean is the weighted mean of the outcome with the balancing weights of
    :func:`propensity_score` (normalised within arm, i.e. Hajek; the same as the weighted
    least-squares marginal structural model ``Y ~ A``).

    Identifying assumptions: conditional exchangeability given ``covariates``, positivity and
    consistency; with ``censoring_covariates``, outcomes missing at random given exposure and
    those covariates (the uncensored are reweighted by ``1 / P(uncensored | A, L)``).

    Variance (``variance=``):

    - ``"mestimation"`` (default with the logistic model): the sandwich of the stacked
      estimating equations (score equations of the propensity and censoring models and the
      two weighted means), accounting for the estimated scores (Lunceford & Davidian 2004).
      Usually smaller than the known-weights variance for the ATE.
    - ``"robust"`` (default with a machine-learning ``model``): sandwich treating the weights
      as known, as R's ``geeglm``/``lm`` + ``sandwich`` HC0; conservative for the ATE.
    - ``"bootstrap"``: ``n_boot`` resamples (of clusters with ``cluster``), refitting the
      propensity (and censoring) model in each; percentile interval.

    With ``cluster`` the influence values are summed within clusters (``G / (G-1)``).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject; never modified.
    exposure, outcome : str
        Binary exposure; numeric outcome (binary 0/1 outcomes give risks). With
        ``censoring_covariates``, a missing outcome means censored.
    covariates : list of str or str
        Confounders for the propensity model (column list or formula right-hand side).
    estimand : {"ATE", "ATT", "ATC", "ATO", "ATM"}
        The target population; the weights are those of :func:`propensity_score`.
    effect_measure : {"difference", "ratio", "odds_ratio"}
        The contrast of the two weighted means.
    model : scikit-learn classifier, optional
        Propensity model; default logistic regression.
    trim, truncate
        As in :func:`propensity_score`; recorded in ``notes``.
    censoring_covariates : list of str or str, optional
        Covariates of a logistic censoring model ``P(outcome observed given exposure and these
        covariates)``: the uncensored are reweighted by its inverse.
    weights : str, optional
        Sampling weights.
    cluster : str, optional
        A cluster identifier: the influence values are summed within clusters (with
        ``G / (G - 1)``), or whole clusters are resampled by the bootstrap.
    variance : {"mestimation", "robust", "bootstrap"}, optional
        How the standard error is computed. Default: ``"mestimation"`` with the logistic model,
        ``"robust"`` with a ``model=``.
    n_boot, n_jobs, random_state
        Bootstrap settings (same seed, same numbers whatever ``n_jobs``).
    conf_level : float
        The interval's level.
    reference : optional
        Exposure label of the unexposed group.
    missing : {"raise", "drop"}
        Missing values in the analysis columns raise, or the rows are dropped and counted
        (missing outcomes are kept as censored when ``censoring_covariates`` is given).

    Returns
    -------
    Estimate
        ``extra`` holds the arm means (``mean_1``, ``mean_0``) and effective sample sizes;
        ``diagnostics`` the :class:`PropensityScore` (balance, overlap, weights).

    Examples
    --------
    >>> import cohortlab as cl
    >>> d = cl.datasets.load_nhefs().dropna(subset=["wt82"])
    >>> est = cl.ipw(d, exposure="qsmk", outcome="wt82_71", covariates="sex + race + age"
    ...     " + I(age**2) + C(education) + smokeintensity + I(smokeintensity**2) + smokeyrs"
    ...     " + I(smokeyrs**2) + C(exercise) + C(active) + wt71 + I(wt71**2)")
    >>> round(est.estimate, 4), round(est.std_error, 4)
    (3.4405, 0.4871)
    """
    check_columns(data, exposure=exposure, outcome=outcome, weights=weights,
                  cluster=cluster)
    variance = _resolve_variance(variance, model, censoring_covariates)
    cov_cols = covariate_columns(covariates, data, verb_name())
    cens_cols = (covariate_columns(censoring_covariates, data, verb_name())
                 if censoring_covariates is not None else [])
    used = [exposure, *cov_cols, *cens_cols] + [c for c in (weights, cluster) if c]
    if censoring_covariates is None:
        used.append(outcome)
    pa = point_arrays(data, used, exposure=exposure, outcome=outcome, weights=weights,
                      missing=missing, reference=reference)
    frame, dropped, a, y, s = pa.frame, pa.dropped, pa.a, pa.y, pa.s
    ps = fit_propensity(frame, a, s, covariates, func=verb_name(), exposure=exposure,
                        estimand=estimand, model=model, random_state=random_state, trim=trim,
                        truncate=truncate, weighted=weights is not None)
    e = ps.scores.to_numpy()
    keep = ps.kept.to_numpy()
    r = ~np.isnan(y)
    binary = bool(np.isin(np.unique(y[r]), [0.0, 1.0]).all())
    used_rows = keep & (s > 0)  # trimmed and zero-weight rows do not enter the estimate
    _check_outcome(y, a, r & used_rows, binary, effect_measure, exposure, outcome)
    w_raw, dw = realized_weights(np.clip(e, 1e-12, 1 - 1e-12), a, estimand)
    w = ps.weights.to_numpy()
    dw = np.where(np.isclose(w, w_raw, rtol=1e-12, atol=0) & keep, dw, 0.0)
    cens = _censoring_model(frame, r, s, exposure, censoring_covariates)
    means = ipw_arm_means(
        y, a, e, s, w, dw, r=r.astype(float), c=cens[0], ps_fit=ps._fit, X=ps._design.X,
        cens_fit=cens[1], Z=cens[2])
    est, phi = contrast(means.mu1, means.mu0, means.phi1, means.phi0, effect_measure)
    _, phi_known = contrast(means.mu1, means.mu0, means.phi1_known, means.phi0_known,
                            effect_measure)
    ess = ps.ess()
    common: dict[str, Any] = dict(
        estimand=estimand, effect_measure=MEASURE_NAMES[(effect_measure, binary)],
        method="ipw", n=int(used_rows.sum()),
        n_events=int(y[r & used_rows].sum()) if binary else None,
        dropped=dropped, conf_level=conf_level, diagnostics=ps,
        extra={"mean_1": means.mu1, "mean_0": means.mu0, "ess_1": ess[1], "ess_0": ess[0]},
        notes=ps.notes + zero_weight_notes(s, weights) + _cens_notes(r, censoring_covariates),
    )
    cl_ids = frame[cluster].to_numpy() if cluster else None
    if variance == "bootstrap":
        stat = bootstrap_statistic(
            ps._design.X, y, a, s, r, estimand=estimand, measure=effect_measure, model=model,
            trim=trim, truncate=truncate, random_state=random_state,
            ps_start=ps._fit.coef if model is None else None, Z=cens[2],
            cens_start=cens[1].coef if cens[1] is not None else None)
        # the logistic refits are numpy calls that release the GIL: threads, not processes
        boot = bootstrap(stat, len(frame), n_boot=n_boot, random_state=random_state,
                         n_jobs=n_jobs, cluster=cl_ids,
                         prefer="threads" if model is None else None)
        if boot.execution != "in this process":
            common["notes"] += (f"bootstrap replicates: {boot.execution}",)
        return Estimate.from_bootstrap(exposure, est, boot.valid[:, 0], n_failed=boot.n_failed,
                                       **common)
    chosen = phi if variance == "mestimation" else phi_known
    res = Estimate.from_influence(exposure, est, chosen, cluster=cl_ids, **common)
    label: CIMethod = ("sandwich_mestimation" if variance == "mestimation"
                       else "sandwich_known_weights")
    return replace(res, ci_method=label)


def _resolve_variance(variance: IPWVariance | None, model: Any, censoring: Any) -> IPWVariance:
    if variance is None:
        return "mestimation" if model is None else "robust"
    if variance == "mestimation" and model is not None:
        raise DataValidationError(
            f"{verb_name()}(): variance=\"mestimation\" needs the logistic propensity model; with "
            f"model={type(model).__name__} use variance=\"robust\" (weights treated as known) "
            "or variance=\"bootstrap\" (refits the model in every replicate)."
        )
    return variance


def _censoring_model(frame: pd.DataFrame, r: np.ndarray, s: np.ndarray, exposure: str,
                     covariates: Any) -> tuple[Any, Any, Any]:
    if covariates is None:
        return None, None, None
    design = build_design(frame, covariates, verb_name(), extra=exposure)
    fit = fit_logistic(design.X, r.astype(float), s, names=design.names, func=verb_name())
    return fit.fitted, fit, design.X


def _cens_notes(r: np.ndarray, covariates: Any) -> tuple[str, ...]:
    if covariates is None:
        return ()
    return (f"{int((~r).sum()):,} subjects with missing outcome reweighted by inverse "
            "probability of censoring weights",)


def _check_outcome(y: np.ndarray, a: np.ndarray, obs: np.ndarray, binary: bool, measure: str,
                   exposure: str, outcome: str) -> None:
    if np.isnan(y).all():
        raise DataValidationError(
            f"{verb_name()}(): column {outcome!r} (outcome) is missing for all rows.")
    for arm in (1, 0):
        if not (obs & (a == arm)).any():
            raise DataValidationError(
                f"{verb_name()}(): no observed outcome in exposure group {exposure!r} = {arm}.")
    if measure == "odds_ratio" and not binary:
        raise DataValidationError(
            f"{verb_name()}(): effect_measure=\"odds_ratio\" needs a binary 0/1 outcome; column "
            f"{outcome!r} (outcome) has non-binary values. Use \"difference\" or \"ratio\".")
    check_outcome_variation(y, obs, binary, verb_name(), outcome)
