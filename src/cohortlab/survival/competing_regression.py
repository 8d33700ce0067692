"""Regression for competing risks: Fine-Gray subdistribution hazards and cause-specific Cox."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from .._design import build_design, covariate_columns
from .._validation import (
    apply_missing,
    check_columns,
    check_conf_level,
    check_time_event,
    check_weights,
    verb,
    verb_name,
)
from ..causal._propensity import PropensityScore
from ..exceptions import DataValidationError
from ..results.dropped import Dropped
from ..results.model import ModelResult
from . import _cox
from ._cox_stats import wald_statistic
from ._km import censoring_survival
from ._prepare import check_cause_codes, positive_weight_counts
from ._psvar import (
    CoxVariance,
    FineGrayVariance,
    cluster_codes,
    ps_weights,
    resolve_variance,
    stacked_model_vcov,
)
from .cox import Ties, _monotone_notes, cox

__all__ = ["fine_gray", "cause_specific_cox"]


@verb
def fine_gray(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    cause: int,
    covariates: str | Sequence[str],
    weights: str | PropensityScore | None = None,
    cluster: str | None = None,
    ties: Ties = "efron",
    censoring: Literal["weighted", "unweighted"] = "weighted",
    causes: Sequence[int] | None = None,
    conf_level: float = 0.95,
    missing: str = "raise",
    max_iter: int = 30,
    variance: FineGrayVariance | None = None,
) -> ModelResult:
    """Fine-Gray regression of the subdistribution hazard of one cause.

    Estimand: the log subdistribution hazard ratios ``beta`` in ``h1*(t | x) = h10*(t)
    exp(x'beta)``, where ``h1*`` is the hazard of the cumulative incidence ``F1(t | x)`` (a
    subject with a competing event stays in the risk set). ``exp(beta)`` describes how ``x``
    shifts the cumulative incidence, not the cause-specific event rate (for that see
    :func:`cause_specific_cox`). With case weights (e.g. IPTW) it is the weighted
    population's.

    Assumptions: proportional subdistribution hazards; censoring independent of the event
    process and of ``x`` (the censoring distribution ``G`` is one Kaplan-Meier curve, as in R's
    ``finegray`` and ``cmprsk::crr``).

    Estimation: the weighted partial likelihood of Fine & Gray (1999). A subject with a
    competing event at ``T`` stays at risk at later times ``t`` with weight ``G(t-)/G(T-)``;
    cohortlab carries that weight with prefix sums instead of expanding the data (R's
    ``finegray`` writes one row per censoring time), so a million rows take seconds. Ties:
    Efron (as ``finegray`` + ``coxph``) or Breslow (as ``crr``). ``G`` is the Kaplan-Meier
    curve of the censoring times; with case weights it is by default the weighted curve (the
    censoring distribution of the weighted population, so that integer weights give exactly
    the estimates of replicated rows); ``censoring="unweighted"`` reproduces R's ``finegray``,
    which multiplies the user's weights into its own but estimates ``G`` unweighted.

    Variance: the robust (dfbeta) sandwich over subjects, as ``coxph(..., cluster = id)`` on
    ``finegray`` data: it treats ``G`` as known (``crr``'s variance adds the estimation of
    ``G``; the two agree to about 1-2% in practice). ``cluster`` sums it by cluster. The
    model-based SE is kept in ``vcov_model`` but is not a valid Fine-Gray variance.

    With ``weights=<PropensityScore>`` (from :func:`cohortlab.propensity_score`, logistic
    model) the default is ``variance="mestimation"``: the dfbeta sandwich stacked with the
    propensity model's score equations (the derivative of the weighted score in each weight
    is its score residual), so the SE accounts for the estimated propensity score rather than
    treating the weights as known (``variance="robust"``, conservative for ATE weights). ``G``
    is still treated as known in both; with ``censoring="weighted"`` its dependence on the
    weights is left out of the propensity correction too (exact with
    ``censoring="unweighted"``).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject; never modified.
    time, event : str
        Follow-up time and event code (0 censored, 1..K causes).
    cause : int
        The code of the cause of interest; a code with no events raises, listing the codes
        present.
    causes : sequence of int, optional
        The event codes that are causes, needed only for codes outside 1..K without gaps
        (e.g. ``causes=[1, 2, 7]``); an undeclared code there raises.
    covariates : list of str or str
        Column names or a formula right-hand side.
    weights, cluster : str, optional
        Case weights (e.g. inverse probability of treatment weights) and a cluster column:
        the sandwich is summed by cluster (default: by subject). ``weights`` may be a
        :class:`~cohortlab.PropensityScore` fitted on the same rows (matched by index).
    ties : {"efron", "breslow"}
        ``"efron"`` (as ``finegray`` + ``coxph``) or ``"breslow"`` (as ``cmprsk::crr``).
    censoring : {"weighted", "unweighted"}
        How the censoring distribution ``G`` is estimated when weights are given: the weighted
        population's (default; integer weights then equal replicated rows) or unweighted (R
        ``finegray``'s choice). Without weights both are the same.
    variance : {"robust", "mestimation"}, optional
        ``"robust"`` (weights known; the default with a weights column) or ``"mestimation"``
        (only, and by default, with a logistic PropensityScore as ``weights``).

    Examples
    --------
    >>> import cohortlab as cl
    >>> mgus = cl.datasets.load_mgus2()
    >>> fg = cl.fine_gray(mgus, time="etime", event="event", cause=1, covariates=["sex"])
    >>> fg.to_frame()[["term", "estimate", "std_error"]].round(4)
           term  estimate  std_error
    0  sex[T.M]    0.7953     0.1858
    """
    func = verb_name()
    data, weights, nuis = ps_weights(data, weights, func)
    kind = resolve_variance(variance, True, cluster, nuis, func)
    frame, dropped, t, codes, cols = _competing_rows(data, time, event, covariates, weights,
                                                     cluster, missing, causes)
    _check_cause(codes, cause, event, func)
    w = check_weights(frame, weights, func) if weights else np.ones(len(frame))
    design = build_design(frame, covariates, func, drop_intercept=True)
    d = (codes == cause).astype(np.int64)
    compete = (codes > 0) & (codes != cause)
    g_minus = censoring_survival(t, codes, w if censoring == "weighted" else None)
    cd = _cox.prepare(design.X, t, d, w, extend=compete, censoring_survival=g_minus)
    efron = ties == "efron"
    fit = _cox.fit_cox(cd, efron, max_iter=max_iter)
    notes = _monotone_notes(fit, design.names, cols)
    cl_ids = frame[cluster].to_numpy() if cluster else None
    if kind == "mestimation" and nuis is not None:
        resid = _cox.score_residuals(cd, fit.beta, efron)
        vcov, _ = stacked_model_vcov(resid, w, fit.vcov, nuis.positions(frame.index, func),
                                     nuis, cluster_codes(nuis, cluster, func))
        notes += ("variance: stacked M-estimation sandwich (Fine-Gray score + logistic "
                  "propensity score equations), accounting for the estimated propensity "
                  "score; G treated as known",)
    else:
        vcov, _ = _cox.robust_vcov(cd, fit.beta, fit.vcov, efron, cluster=cl_ids, weights=w)
    n_pos, n_events, zero = positive_weight_counts(w if weights else None, weights, d > 0)
    p = fit.beta.size
    wald = wald_statistic(fit.beta, vcov)
    fstats = {"loglik_null": fit.loglik_null, "loglik": fit.loglik,
              "wald_statistic": wald, "wald_df": float(p),
              "wald_p_value": float(stats.chi2.sf(wald, p)),
              "n_competing": float(compete.sum()), "iterations": float(fit.iterations)}
    return ModelResult(
        terms=design.names, params=fit.beta, vcov=vcov, vcov_model=fit.vcov,
        effect_measure="subdistribution_hazard_ratio", method="fine_gray",
        ci_method="sandwich_mestimation" if kind == "mestimation" else
        "wald_cluster" if cluster else "wald_sandwich", conf_level=conf_level,
        n=n_pos, n_events=n_events, fit_stats=fstats, dropped=dropped,
        notes=(f"cause of interest: {cause}; competing events: {int(compete.sum()):,}; "
               f"ties: {ties}", f"censoring distribution: Kaplan-Meier, "
               f"{'weighted' if weights and censoring == 'weighted' else 'unweighted'}")
        + notes + zero,
    )


@verb
def cause_specific_cox(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    covariates: str | Sequence[str],
    causes: Sequence[int] | None = None,
    weights: str | PropensityScore | None = None,
    robust: bool = False,
    cluster: str | None = None,
    ties: Ties = "efron",
    conf_level: float = 0.95,
    missing: str = "raise",
    variance: CoxVariance | None = None,
) -> ModelResult:
    """One Cox model per cause, the other causes censored, returned as one result.

    Estimand: for each cause ``k``, the log cause-specific hazard ratios in ``h_k(t | x) =
    h_k0(t) exp(x'beta_k)``: the effect of ``x`` on the rate of cause ``k`` among those still
    event-free. It does not by itself say how ``x`` changes the cumulative incidence of ``k``
    (that also depends on the other causes' hazards; see :func:`fine_gray`).

    ``causes`` (default: every code with events) are the causes fitted; it also declares
    codes outside 1..K without gaps (e.g. ``causes=[1, 2, 7]``), which otherwise raise.

    Assumptions: proportional cause-specific hazards; independent censoring given ``x``.
    Variance: model-based, or the dfbeta sandwich with ``robust=True``/``cluster`` (as
    :func:`cox`; R's multi-state ``coxph(..., id = id)`` reports the robust SE). With
    ``weights=<PropensityScore>`` (logistic model) the default is ``variance="mestimation"``,
    each cause's Cox score stacked with the propensity model's score equations (as
    :func:`cox`), because the weights-known sandwich is conservative for ATE weights;
    ``variance="robust"`` treats the weights as known. The blocks stay separate (the
    covariance across causes is not reported).

    Returns a :class:`ModelResult` whose terms are ``"<term> [cause k]"`` with a
    block-diagonal covariance (the causes' fits are separate likelihoods) and per-cause fit
    statistics prefixed ``cause_k_``.

    Examples
    --------
    >>> import cohortlab as cl
    >>> mgus = cl.datasets.load_mgus2()
    >>> cs = cl.cause_specific_cox(mgus, time="etime", event="event",
    ...                            covariates=["age", "sex", "mspike"], missing="drop")
    >>> cs.to_frame(exponentiate=False)[["term", "estimate"]].round(4).head(3)
                     term  estimate
    0       age [cause 1]    0.0164
    1  sex[T.M] [cause 1]   -0.0050
    2    mspike [cause 1]    0.8841
    """
    func = verb_name()
    ps_arg = weights
    data, weights, nuis = ps_weights(data, weights, func)
    variance = resolve_variance(variance, robust, cluster, nuis, func)
    frame, dropped, _, codes, _ = _competing_rows(data, time, event, covariates, weights,
                                                  cluster, missing, causes)
    present = sorted(int(c) for c in np.unique(codes) if c > 0)
    causes = present if causes is None else list(causes)
    for k in causes:
        _check_cause(codes, k, event, func)
    w = check_weights(frame, weights, func) if weights else None
    n_pos, n_events, zero = positive_weight_counts(w, weights, np.isin(codes, causes))
    terms, params, blocks, fstats, notes, vmodel = [], [], [], {}, [], []
    for k in causes:
        sub = frame.assign(**{event: (codes == k).astype(np.int64)})
        fit = cox(sub, time=time, event=event, covariates=covariates,
                  weights=ps_arg if nuis is not None else weights, variance=variance,
                  cluster=cluster, ties=ties, conf_level=conf_level)
        terms += [f"{t} [cause {k}]" for t in fit.terms]
        params.append(fit.params)
        blocks.append(fit.vcov)
        vmodel.append(fit.vcov_model)
        fstats.update({f"cause_{k}_{s}": v for s, v in fit.fit_stats.items()
                       if s in ("loglik", "lr_statistic", "concordance")})
        notes += [f"cause {k}: {n}" for n in fit.notes if "monotone" in n]
    from scipy.linalg import block_diag

    return ModelResult(
        terms=tuple(terms), params=np.concatenate(params), vcov=block_diag(*blocks),
        vcov_model=block_diag(*vmodel), effect_measure="hazard_ratio",
        method="cause_specific_cox",
        ci_method="sandwich_mestimation" if variance == "mestimation" else
        ("wald_cluster" if cluster else "wald_sandwich") if variance == "robust"
        else "wald_model",
        conf_level=check_conf_level(conf_level, func), n=n_pos, n_events=n_events,
        fit_stats=fstats, dropped=dropped,
        notes=(f"causes: {causes}; other causes censored; ties: {ties}", *notes, *zero),
    )


def _competing_rows(data: pd.DataFrame, time: str, event: str, covariates: Any,
                    weights: str | None, cluster: str | None, missing: str, causes: Any
                    ) -> tuple[pd.DataFrame, Dropped, np.ndarray, np.ndarray, list[str]]:
    """The rows with complete analysis columns, times, event codes (0, 1..K), covariates."""
    cols = covariate_columns(covariates, data, verb_name())
    check_columns(data, time=time, event=event, weights=weights, cluster=cluster)
    used = [time, event, *cols] + [c for c in (weights, cluster) if c]
    frame, dropped = apply_missing(data, used, missing)
    t, codes = check_time_event(frame, time, event, competing=True)
    check_cause_codes(codes, causes, event, verb_name())
    return frame, dropped, t, codes, cols


def _check_cause(codes: np.ndarray, cause: int, event: str, func: str) -> None:
    present = sorted(int(c) for c in np.unique(codes) if c > 0)
    if int(cause) != cause or cause not in present:
        raise DataValidationError(
            f"{func}(): cause {cause!r} has no events in column {event!r}; the event codes "
            f"present are {present} (0 = censored). Pass one of them as cause.")
