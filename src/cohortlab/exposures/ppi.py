"""Prediction-powered inference (PPI++) for an outcome a model predicts for everyone.

``outcome`` holds a model's prediction for every row (a predicted probability for a binary
outcome); ``outcome_validation`` the gold-standard label on a random (or stratified random)
labelled subset and missing elsewhere. :func:`ppi_mean` (a mean, means by group, or a
difference between exposure arms) and :func:`ppi_effect` (the IPW or AIPW effect) return
three rows side by side: ``naive`` (the predictions taken as the truth: biased when the model
is), ``labelled_only`` (the labelled rows alone, weighted by ``1 / P(labelled)``: valid but
noisy) and ``ppi`` (the power-tuned prediction-powered estimate of Angelopoulos, Duchi &
Zrnic 2023: valid, and narrower than ``labelled_only`` when the predictions are informative).

The numbers happen in :mod:`cohortlab.exposures._ppi` (arrays only) and the input checks in
:mod:`cohortlab.exposures._ppi_checks`; this module holds the public functions
(:func:`ppi_mean`, :func:`ppi_effect`): it validates through the checks, fits the
propensity and outcome models with the causal module's helpers, and builds the
:class:`~cohortlab.results.estimate.EstimateTable`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from .._design import covariate_columns
from .._typing import CIMethod, EffectMeasure, Estimand, Measure, Missing
from .._validation import check_binary, check_columns, check_frame, check_option, verb, verb_name
from ..causal._aipw import aipw_means
from ..causal._contrast import MEASURE_NAMES
from ..causal._ipw import ipw_arm_means, realized_weights
from ..causal._outcome import check_means, fit_outcome, if_se, outcome_design
from ..causal._propensity import check_arms, fit_propensity
from ..exceptions import DataValidationError
from ..results.estimate import Estimate, EstimateTable
from ._ppi import (
    Pieces,
    choose_lambda,
    hajek_mean,
    labelling_correction,
    ppi_means,
    ppi_rows,
)
from ._ppi_checks import _check_labelled_groups, _Labelled, _prepare

__all__ = ["ppi_mean", "ppi_effect"]

Lam: TypeAlias = Literal["tuned"] | float
EffectEstimator: TypeAlias = Literal["ipw", "aipw"]
ANALYSES = ("naive", "labelled_only", "ppi")


# ---------------------------------------------------------------------- pieces
def _with_correction(phi: np.ndarray, phi_known: np.ndarray, d: _Labelled) -> np.ndarray:
    return phi + labelling_correction(phi_known, d.r, d.pi, d.codes)


def _group_pieces(d: _Labelled, masks: Sequence[np.ndarray]) -> Pieces:
    """Hajek means of the label and the prediction within each group (the K masks)."""
    w_lab = d.r / d.pi
    cols: dict[str, list[Any]] = {k: [] for k in ("my", "mfw", "mf", "py", "pfw", "pf")}
    for m in masks:
        for g, key_mu, key_phi, w in ((d.y, "my", "py", w_lab), (d.f, "mfw", "pfw", w_lab),
                                      (d.f, "mf", "pf", np.ones_like(w_lab))):
            mu, phi = hajek_mean(g, w * m)
            if w is w_lab:
                phi = _with_correction(phi, phi, d)
            cols[key_mu].append(mu)
            cols[key_phi].append(phi)
    return Pieces(*(np.array(cols[k]) for k in ("my", "mfw", "mf")),
                  *(np.column_stack(cols[k]) for k in ("py", "pfw", "pf")))


def _ipw_pieces(d: _Labelled, a: np.ndarray, ps: Any) -> Pieces:
    """Hajek IPW arm means; the propensity score fitted on everyone, stacked (M-estimation)."""
    e = ps.scores.to_numpy()
    w, dw = realized_weights(np.clip(e, 1e-12, 1 - 1e-12), a, ps.estimand)
    common: dict[str, Any] = dict(ps_fit=ps._fit, X=ps._design.X)
    s = np.ones(a.size)
    lab_y = ipw_arm_means(d.y, a, e, s, w, dw, r=d.r, c=d.pi, **common)
    lab_f = ipw_arm_means(d.f, a, e, s, w, dw, r=d.r, c=d.pi, **common)
    all_f = ipw_arm_means(d.f, a, e, s, w, dw, **common)

    def stack(m: Any, labelled: bool) -> tuple[np.ndarray, np.ndarray]:
        phi = np.column_stack([m.phi1, m.phi0])
        if labelled:
            phi = _with_correction(phi, np.column_stack([m.phi1_known, m.phi0_known]), d)
        return np.array([m.mu1, m.mu0]), phi

    (my, py), (mfw, pfw), (mf, pf) = stack(lab_y, True), stack(lab_f, True), stack(all_f, False)
    return Pieces(my, mfw, mf, py, pfw, pf)


def _aipw_pieces(d: _Labelled, a: np.ndarray, e: np.ndarray, exposure: str, out_cov: Any,
                 estimand: str, func: str, outcome: str) -> tuple[Pieces, tuple[str, ...]]:
    """AIPW arm means: Q_y fitted on the labelled rows (weights 1 / pi), Q_f on everyone."""
    every = np.ones(a.size, dtype=bool)
    od = outcome_design(d.frame, a, every, exposure, out_cov, func, intercept=True)
    w_lab = d.r / d.pi
    lab = d.r > 0
    y0 = np.where(lab, d.y, 0.0)
    fit_y = fit_outcome(od, y0, w_lab, lab, d.binary, None, None, func, outcome)
    fit_f = fit_outcome(od, d.f, np.ones(a.size), every, d.binary, None, None, func, outcome)
    out = []
    for g, fit, s in ((y0, fit_y, w_lab), (d.f, fit_f, w_lab), (d.f, fit_f, np.ones(a.size))):
        mu1, mu0, phi1, phi0 = aipw_means(g, a, fit.q1, fit.q0, e, s, estimand)
        phi = np.column_stack([phi1, phi0])
        if s is w_lab:
            phi = _with_correction(phi, phi, d)
        out.append((np.array([mu1, mu0]), phi))
    notes = (f"outcome model of the label: {fit_y.description}, fitted on the labelled rows "
             "(weights 1 / P(labelled))",
             f"outcome model of the prediction: {fit_f.description}, fitted on all rows")
    return Pieces(out[0][0], out[1][0], out[2][0], out[0][1], out[1][1], out[2][1]), notes


# ---------------------------------------------------------------------- results
def _table(pieces: Pieces, d: _Labelled, *, measure: str | None, lam: Any, clip: bool,
           conf_level: float, effect_measure: EffectMeasure,
           method: str, ci_method: CIMethod, labels: Mapping[str, Any], estimand: str | None,
           aipw_se: bool, outcome_label: str,
           extra_notes: tuple[str, ...] = ()) -> list[Estimate]:
    lam_v = choose_lambda(pieces, measure, lam, clip)
    mus = {"naive": pieces.mu_f, "labelled_only": pieces.mu_y, "ppi": ppi_means(pieces, lam_v)}
    if measure is not None:
        for mu in mus.values():
            check_means(float(mu[0]), float(mu[1]), measure, method, outcome_label)
    rows = ppi_rows(pieces, measure, lam_v)
    n_all, n_lab = int(d.r.size), int(d.r.sum())
    events = int(np.nansum(d.y)) if d.binary else None
    se_lab = _se(rows["labelled_only"][1], aipw_se)
    out = []
    for name in ANALYSES:
        est, phi = rows[name]
        se = _se(phi, aipw_se)
        extra: dict[str, float] = {"n_labelled": float(n_lab)}
        if measure is not None:
            extra.update(mean_1=float(mus[name][0]), mean_0=float(mus[name][1]))
        if name == "ppi":
            extra.update(lam=lam_v, variance_ratio_vs_labelled=(se / se_lab) ** 2
                         if se_lab > 0 else float("nan"))
        out.append(Estimate.from_model_scale(
            name, est, se, conf_level=conf_level,
            effect_measure=effect_measure, ci_method=ci_method, method=method,
            estimand=estimand, n=n_lab if name == "labelled_only" else n_all,
            n_events=None if name == "naive" else events, dropped=d.dropped,
            labels=dict(labels), extra=extra, influence=phi,
            notes=_notes(name, lam_v, lam, d) + extra_notes))
    return out


def _se(phi: np.ndarray, aipw_se: bool) -> float:
    if aipw_se:
        return if_se(phi, None)
    return float(np.sqrt(np.dot(phi, phi)) / phi.size)


def _notes(name: str, lam_v: float, lam: Any, d: _Labelled) -> tuple[str, ...]:
    if name == "naive":
        return ("naive: the predictions taken as the true outcome (biased if the model is)",)
    if name == "labelled_only":
        return ("labelled_only: the labelled rows alone, weighted by 1 / P(labelled)",
                *d.notes)
    how = "power-tuned (PPI++)" if lam == "tuned" else "fixed"
    return (f"ppi: prediction-powered, lambda = {lam_v:.3f} ({how})", *d.notes)


def _measure_of(binary: bool) -> EffectMeasure:
    return "risk" if binary else "mean"


# ---------------------------------------------------------------------- ppi_mean
@verb
def ppi_mean(
    data: pd.DataFrame,
    *,
    outcome: str,
    outcome_validation: str,
    by: str | None = None,
    exposure: str | None = None,
    lam: Lam = "tuned",
    clip_lam: bool = True,
    strata: str | None = None,
    labelled_fraction: str | float | Mapping[Any, float] | None = None,
    reference: Any = None,
    conf_level: float = 0.95,
    missing: Missing = "raise",
) -> EstimateTable:
    """Prediction-powered (PPI++) mean of an outcome predicted for everyone, labelled on a subset.

    Estimand: the population mean (risk, for a binary label) of the gold-standard outcome
    ``E[Y]``; with ``by``, ``E[Y | by = k]`` for each level; with ``exposure``, the difference
    ``E[Y | A = 1] - E[Y | A = 0]`` (risk or mean difference; associational, unadjusted: use
    :func:`ppi_effect` for a confounder-adjusted effect).

    Estimator (Angelopoulos, Duchi & Zrnic 2023, "PPI++", arXiv 2311.01453): with the
    labelled-only (Hajek, weights ``1 / pi``) estimator ``T_w`` and the all-rows estimator
    ``T``, ``theta = T_w(Y) - lambda (T_w(f) - T(f))``; for one mean without strata
    ``lambda mean_N(f) + mean_n(Y - lambda f)``. ``lam="tuned"`` picks ``lambda`` minimising
    the estimated variance (clipped to [0, 1] with ``clip_lam``); ``lam=1`` is classical PPI,
    ``lam=0`` the labelled-only estimate. Three rows: ``naive`` (predictions as the truth),
    ``labelled_only`` and ``ppi``.

    Assumptions: the labelled rows are a random sample of the rows (within ``strata``, with
    probabilities ``labelled_fraction`` or the labelled share of each stratum), so labelling
    is independent of the outcome given the stratum. No assumption on the model: a poor
    prediction only makes ``lambda`` small and the interval as wide as the labelled-only one.

    Variance: influence function of the stacked estimating equations (the labelled shares
    estimated within strata are accounted for; known ``labelled_fraction`` are not
    estimated), ``SE = sqrt(sum phi^2) / N``; the tuned ``lambda`` does not change the
    first-order variance. Wald interval.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject; never modified.
    outcome : str
        The model's prediction for every row (a probability in [0, 1] for a 0/1 label).
    outcome_validation : str
        The gold-standard label, present on the labelled rows and missing on the others. A
        binary label is coded 0/1.
    by : str, optional
        A mean per level of this column.
    exposure : str, optional
        Binary column: the difference in means between exposure groups (1 minus 0), a risk
        difference for a 0/1 label, otherwise a mean difference. It is associational; for a
        confounder-adjusted effect use :func:`ppi_effect`. Cannot be combined with ``by``.
    lam : "tuned" or float
        The power-tuning parameter λ. ``"tuned"`` is PPI++, ``1`` is classical PPI, ``0`` uses
        the labelled rows only.
    clip_lam : bool
        Keep a tuned ``lambda`` in [0, 1].
    strata : str, optional
        The strata the labelled subset was sampled within. Unless you pass
        ``labelled_fraction``, the labelling probability is estimated as the labelled share of
        each stratum.
    labelled_fraction : str, float or mapping, optional
        Known labelling probabilities: a column of P(labelled), one number, or a mapping from
        stratum to probability (this form needs ``strata``).
    reference : optional
        The label of the unexposed group, when ``exposure`` is not coded 0/1.
    conf_level : float
    missing : {"raise", "drop"}
        Missing values in the prediction, ``by``, ``exposure``, ``strata`` and
        ``labelled_fraction`` columns raise, or with ``"drop"`` those rows are dropped and
        counted. A labelled row with no prediction always raises, because dropping it would
        make the labelled subset non-random.

    Returns
    -------
    EstimateTable
        Rows with terms ``naive``, ``labelled_only``, ``ppi`` (per ``by`` level, the level in
        a ``by``-named label column). ``extra`` holds ``n_labelled``, the arm means
        (``mean_1``, ``mean_0``) with ``exposure``, and for ``ppi`` ``lam`` and
        ``variance_ratio_vs_labelled``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=2000)
    >>> p = 1 / (1 + np.exp(-(3 * x - 1)))
    >>> d = pd.DataFrame({"pred": p ** 0.7, "y": rng.binomial(1, p) * 1.0})
    >>> d.loc[rng.random(2000) > 0.2, "y"] = np.nan   # about 400 labelled at random
    >>> tab = ppi_mean(d, outcome="pred", outcome_validation="y")
    >>> tab.to_frame()[["term", "estimate", "std_error"]].round(3)
                term  estimate  std_error
    0          naive     0.451      0.008
    1  labelled_only     0.431      0.025
    2            ppi     0.407      0.019
    """
    func = verb_name()
    if by is not None and exposure is not None:
        raise DataValidationError(
            f"{func}(): pass by or exposure, not both; got by={by!r}, exposure={exposure!r}. "
            "For a difference within subgroups, subset the data per level.")
    check_columns(check_frame(data, func), func, by=by, exposure=exposure)
    d, conf_level = _prepare(data, func, outcome=outcome, outcome_validation=outcome_validation,
                             columns=[c for c in (by, exposure) if c], strata=strata,
                             labelled_fraction=labelled_fraction, missing=missing, lam=lam,
                             conf_level=conf_level)
    common: dict[str, Any] = dict(lam=lam, clip=clip_lam, conf_level=conf_level,
                  method="ppi_mean", ci_method="influence_function", estimand=None,
                  aipw_se=False, outcome_label=outcome_validation)
    if exposure is not None:
        a = check_binary(d.frame, exposure, "exposure", func, reference=reference)
        check_arms(a, exposure, func)
        _check_labelled_groups(d.r, a, [1, 0], func, exposure, "exposure group")
        pieces = _group_pieces(d, [(a == 1) * 1.0, (a == 0) * 1.0])
        rows = _table(pieces, d, measure="difference", labels={},
                      effect_measure=MEASURE_NAMES[("difference", d.binary)], **common)
        title = f"Prediction-powered difference in {outcome_validation!r} by {exposure!r}"
        return EstimateTable(rows=tuple(rows), title=title, dropped=d.dropped)
    if by is None:
        rows = _table(_group_pieces(d, [np.ones(d.r.size)]), d, measure=None, labels={},
                      effect_measure=_measure_of(d.binary), **common)
        title = f"Prediction-powered mean of {outcome_validation!r}"
        return EstimateTable(rows=tuple(rows), title=title, dropped=d.dropped)
    g = d.frame[by].to_numpy()
    levels = sorted(pd.unique(g).tolist(), key=lambda v: (str(type(v)), v))
    _check_labelled_groups(d.r, g, levels, func, by, "group")
    out: list[Estimate] = []
    for lev in levels:  # levels, not rows
        out += _table(_group_pieces(d, [(g == lev) * 1.0]), d, measure=None,
                      labels={by: lev}, effect_measure=_measure_of(d.binary), **common)
    title = f"Prediction-powered mean of {outcome_validation!r} by {by!r}"
    return EstimateTable(rows=tuple(out), title=title, dropped=d.dropped)


# ---------------------------------------------------------------------- ppi_effect
@verb
def ppi_effect(
    estimator: Callable[..., Any],
    data: pd.DataFrame,
    *,
    outcome_validation: str,
    lam: Lam = "tuned",
    clip_lam: bool = True,
    strata: str | None = None,
    labelled_fraction: str | float | Mapping[Any, float] | None = None,
    exposure: str,
    outcome: str,
    covariates: str | Sequence[str],
    estimand: Estimand = "ATE",
    effect_measure: Measure = "difference",
    outcome_covariates: str | Sequence[str] | None = None,
    reference: Any = None,
    conf_level: float = 0.95,
    missing: Missing = "raise",
    **estimator_kwargs: Any,
) -> EstimateTable:
    """Prediction-powered (PPI++) IPW or AIPW effect of an exposure on a predicted outcome.

    ``ppi_effect(cl.ipw, data, outcome_validation=..., exposure=..., outcome=...,
    covariates=...)``: the effect :func:`~cohortlab.ipw` (or :func:`~cohortlab.aipw`) would
    estimate on the gold-standard outcome. Estimand: the ``estimand`` population's contrast
    of ``E[Y^1]`` and ``E[Y^0]`` (difference, ratio or odds ratio) of the gold-standard
    outcome ``Y``, labelled on a random subset; ``outcome`` holds a model's prediction ``f``
    for everyone. Exposure and covariates are observed for all rows, so the propensity score
    is fitted on everyone.

    Each arm mean is ``T_w(Y) - lambda (T_w(f) - T(f))``: ``T`` the estimator on all rows
    with the prediction as outcome, ``T_w`` the estimator on the labelled rows weighted by
    ``1 / P(labelled)`` (Angelopoulos, Duchi & Zrnic 2023, generalised to estimators linear
    in the outcome); one ``lambda`` for the contrast, tuned to minimise its variance.

    - ``cl.ipw``: Hajek IPW with the weights of :func:`~cohortlab.propensity_score` (ATE,
      ATT, ATC, ATO, ATM).
    - ``cl.aipw``: AIPW (ATE, ATT, ATC). The label's outcome model ``Q_Y`` is fitted on the
      labelled rows (weights ``1 / P(labelled)``), the prediction's ``Q_f`` on everyone.
      Fitting one outcome model to the predictions of everyone and using it for the label
      term too would be valid only if the propensity model is right (``Q_f`` models
      ``E[f | A, L]``, not ``E[Y | A, L]``, so double robustness is lost); with ``Q_Y`` the
      label term keeps AIPW's double robustness, and ``T_w(f) - T(f)`` converges to 0
      whatever ``Q_f`` and the propensity model are.

    Assumptions: conditional exchangeability given ``covariates``, positivity and
    consistency; labelling at random (within ``strata``, with probabilities
    ``labelled_fraction`` or the labelled share per stratum). Nothing is assumed about the
    prediction model.

    Variance: ``ipw``: the sandwich of the stacked estimating equations (propensity score
    score equations, the labelled shares within strata, the weighted means), so the estimated
    propensity score is accounted for (``ci_method="sandwich_mestimation"``). ``aipw``:
    the efficient influence function with the nuisance models treated as known (as
    :func:`~cohortlab.aipw`; valid when both are correctly specified; the prediction term
    ``T_w(f) - T(f)`` is insensitive to both), SE with ``n - 1``. Ratios on the log scale.

    Parameters
    ----------
    estimator : callable
        The verb whose effect is made prediction-powered: ``cl.ipw`` or ``cl.aipw`` (any
        other is refused).
    data : pandas.DataFrame
        One row per subject; never modified.
    outcome_validation : str
        The gold-standard label on the labelled rows, missing elsewhere.
    lam : "tuned" or float
        The power-tuning parameter, as in :func:`ppi_mean`.
    clip_lam : bool
    strata, labelled_fraction
        The labelling design, as in :func:`ppi_mean`.
    exposure : str
        A binary exposure, observed for every row.
    outcome : str
        The model's prediction for every row (a probability in [0, 1] for a 0/1 label).
    covariates : list of str or str
        The confounders, as column names or a formula right-hand side. They are used in the
        propensity model, and in the AIPW outcome models unless ``outcome_covariates`` is given.
    estimand : {"ATE", "ATT", "ATC", "ATO", "ATM"}
        AIPW: ATE, ATT or ATC.
    effect_measure : {"difference", "ratio", "odds_ratio"}
        The contrast. Ratios are estimated on the log scale. ``"odds_ratio"`` requires a 0/1
        label.
    outcome_covariates : list of str or str, optional
        AIPW outcome models' right-hand side (default ``covariates``).
    reference : optional
        Exposure label of the unexposed group.
    conf_level : float
    missing : {"raise", "drop"}
        As in :func:`ipw`. A labelled row without a prediction always raises an error.
    **estimator_kwargs
        Other arguments of ``estimator`` are refused (a machine-learning model, trimming,
        weights, clusters, bootstrap): the prediction-powered estimator fits a logistic
        propensity model on all rows and does not honour them.

    Returns
    -------
    EstimateTable
        Rows ``naive``, ``labelled_only``, ``ppi``; ``extra`` holds the arm means
        ``mean_1``, ``mean_0``, ``n_labelled``, and for ``ppi`` ``lam`` and
        ``variance_ratio_vs_labelled``; ``method`` is ``"ipw"`` or ``"aipw"``.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> n = 3000
    >>> x, u = rng.normal(size=n), rng.normal(size=n)
    >>> a = rng.binomial(1, 1 / (1 + np.exp(-x)))
    >>> p = 1 / (1 + np.exp(-(-1 + 0.8 * a + x + 2 * u)))
    >>> d = pd.DataFrame({"a": a, "x": x, "pred": p ** 0.8, "y": rng.binomial(1, p) * 1.0})
    >>> d.loc[rng.random(n) > 0.25, "y"] = np.nan
    >>> import cohortlab as cl
    >>> tab = ppi_effect(cl.ipw, d, outcome_validation="y", exposure="a", outcome="pred",
    ...                  covariates=["x"])
    >>> tab.to_frame()[["term", "estimate", "std_error"]].round(3)
                term  estimate  std_error
    0          naive     0.111      0.012
    1  labelled_only     0.110      0.042
    2            ppi     0.112      0.031
    """
    estimator_name = _effect_estimator(estimator)
    func = estimator_name
    if estimator_kwargs:
        unknown = sorted(estimator_kwargs)
        raise DataValidationError(
            f"ppi_effect(): {', '.join(f'{k}=' for k in unknown)} of {func}() cannot be "
            f"combined with prediction-powered inference; got {len(unknown)} such "
            f"argument(s). ppi_effect({func}, ...) supports {', '.join(_PASSED)} (logistic "
            "propensity model fitted on all rows, no trimming, weights, clusters or "
            "bootstrap).")
    allowed = Estimand if estimator_name == "ipw" else Literal["ATE", "ATT", "ATC"]
    check_option(estimand, allowed, "estimand", func)
    frame0 = check_frame(data, func)
    check_columns(frame0, func, exposure=exposure)
    out_cov = covariates if outcome_covariates is None else outcome_covariates
    cols = covariate_columns(covariates, frame0, func)
    if estimator_name == "aipw":
        cols += covariate_columns(out_cov, frame0, func)
    d, conf_level = _prepare(data, func, outcome=outcome, outcome_validation=outcome_validation,
                             columns=[exposure, *cols], strata=strata,
                             labelled_fraction=labelled_fraction, missing=missing, lam=lam,
                             conf_level=conf_level)
    if effect_measure == "odds_ratio" and not d.binary:
        raise DataValidationError(
            f"{func}(): effect_measure=\"odds_ratio\" needs a binary 0/1 label; column "
            f"{outcome_validation!r} (outcome_validation) is not binary. Use \"difference\" "
            "or \"ratio\".")
    a = check_binary(d.frame, exposure, "exposure", func, reference=reference)
    check_arms(a, exposure, func)
    _check_labelled_groups(d.r, a, [1, 0], func, exposure, "exposure group")
    ps = fit_propensity(d.frame, a, np.ones(len(d.frame)), covariates, func=func,
                        exposure=exposure, estimand=estimand)
    notes: tuple[str, ...] = (f"propensity model: {ps.model_description}, fitted on all rows",
                              *ps.notes)
    if estimator_name == "ipw":
        pieces = _ipw_pieces(d, a, ps)
        ci: CIMethod = "sandwich_mestimation"
    else:
        pieces, more = _aipw_pieces(d, a, ps.scores.to_numpy(), exposure, out_cov, estimand,
                                    func, outcome)
        notes += more
        ci = "influence_function"
    rows = _table(pieces, d, measure=effect_measure, lam=lam, clip=clip_lam,
                  conf_level=conf_level,
                  effect_measure=MEASURE_NAMES[(effect_measure, d.binary)],
                  method=estimator_name, ci_method=ci, labels={}, estimand=estimand,
                  aipw_se=estimator_name == "aipw", outcome_label=outcome_validation,
                  extra_notes=notes)
    title = (f"Prediction-powered {estimator_name.upper()} · {estimand} of {exposure!r} on "
             f"{outcome_validation!r}")
    return EstimateTable(rows=tuple(rows), title=title, dropped=d.dropped)


#: Arguments of ipw / aipw that ppi_effect honours (anything else is refused, not ignored).
_PASSED = ("estimand", "effect_measure", "outcome_covariates", "reference", "conf_level",
           "missing", "lam", "clip_lam", "strata", "labelled_fraction")


def _effect_estimator(estimator: Any) -> EffectEstimator:
    """``"ipw"`` or ``"aipw"`` for the verbs :func:`ppi_effect` supports; refuse the rest."""
    from ..causal.aipw import aipw
    from ..causal.ipw import ipw

    if estimator is ipw:
        return "ipw"
    if estimator is aipw:
        return "aipw"
    if isinstance(estimator, str):
        raise DataValidationError(
            f"ppi_effect(): estimator must be the verb, not its name; got {estimator!r}. "
            f"Pass cl.{estimator} (supported: cl.ipw, cl.aipw)." if estimator in ("ipw", "aipw")
            else f"ppi_effect(): estimator must be cl.ipw or cl.aipw; got {estimator!r}.")
    name = getattr(estimator, "__name__", type(estimator).__name__)
    raise DataValidationError(
        f"ppi_effect(): prediction-powered inference is available for the estimators ipw "
        f"and aipw; got {name}. Pass cl.ipw or cl.aipw; for a mean, risk or difference in "
        "means use cl.ppi_mean.")
