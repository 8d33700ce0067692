"""Empirical calibration of p-values and confidence intervals with negative and positive controls.

Negative controls are exposure-outcome pairs believed to have no causal effect (true ratio 1);
their estimates, run through the same study design, show the design's systematic error. The
empirical null (Schuemie et al. 2014) models each control's log estimate as
``N(mu, sigma^2 + se_i^2)``: the systematic error ``N(mu, sigma^2)`` plus the control's own
random error. A systematic error model (Schuemie et al. 2018) adds positive controls with known
true effects and lets the error's mean and spread depend on the true log effect, which
calibrates confidence intervals. The numbers match R's EmpiricalCalibration (fitNull,
calibrateP, fitSystematicErrorModel, calibrateConfidenceInterval), except that we maximise the
likelihoods to convergence where R's optimisers stop a little earlier.

This module holds the public functions (:func:`empirical_null`, :func:`calibrate_p`,
:func:`systematic_error_model`, :func:`calibrate_ci`, :func:`calibration_coverage`) and
:class:`FewControlsWarning`. They validate and read the control estimates
(:mod:`._calibration_checks`), call private array-only functions (:mod:`._calibration`:
``_fit_null``, ``_fit_error_model``, ``_calibrated_bounds``) and build the results. It also
re-exports, so that every public name of empirical calibration imports from here, the result
classes :class:`EmpiricalNull` and :class:`SystematicErrorModel`
(:mod:`.calibration_results`), :func:`synthetic_positive_controls` and
:class:`InjectionClippedWarning` (:mod:`.positive_controls`) and :func:`funnel_plot` and
:func:`calibration_plot` (:mod:`.calibration_plots`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd
from scipy import stats

from .._typing import Missing
from .._validation import check_conf_level, verb, verb_name
from ..exceptions import CohortWarning, DataValidationError
from ..inference.wald import z_critical
from ..results.dropped import Dropped
from ..results.estimate import Estimate, EstimateTable  # noqa: F401 (Estimate: doctests)
from ._calibration import (
    _calibrated_bounds,
    _calibrated_p,
    _calibrated_z,
    _err_sd,
    _fit_error_model,
    _fit_null,
    _loo_coverage,
    _null_mean_se,
    _sd_profile_ci,
)
from ._calibration_checks import _read, _rows_like, _true_log_effects
from .calibration_plots import calibration_plot, funnel_plot
from .calibration_results import (
    CalibrationCoverage,
    EmpiricalNull,
    Estimates,
    SDModel,
    SystematicErrorModel,
    _check_null,
)
from .positive_controls import InjectionClippedWarning, synthetic_positive_controls

__all__ = [
    "EmpiricalNull",
    "SystematicErrorModel",
    "FewControlsWarning",
    "InjectionClippedWarning",
    "empirical_null",
    "calibrate_p",
    "systematic_error_model",
    "calibrate_ci",
    "calibration_coverage",
    "synthetic_positive_controls",
    "funnel_plot",
    "calibration_plot",
]

Alternative: TypeAlias = Literal["two-sided", "greater", "less"]

#: Fewer negative controls than this gives a FewControlsWarning (OHDSI calibrates from 5 on).
MIN_CONTROLS = 5


class FewControlsWarning(CohortWarning):
    """Fewer than 5 control estimates: the fitted systematic error is very uncertain."""


def _check_n(n: int, func: str, role: str) -> None:
    if n < 2:
        raise DataValidationError(
            f"{func}(): at least 2 {role} are needed to fit the systematic error; got {n}. "
            f"Add negative controls (at least {MIN_CONTROLS}, ideally 30 or more).")
    if n < MIN_CONTROLS:
        warnings.warn(
            f"{func}(): only {n} {role}; the fitted systematic error is very uncertain with "
            f"fewer than {MIN_CONTROLS} (OHDSI calibrates from {MIN_CONTROLS} on). Add "
            "negative controls, or report the calibration as exploratory.",
            FewControlsWarning, stacklevel=3)


@verb
def empirical_null(
    estimates: Estimates,
    *,
    log_estimate: str | None = None,
    std_error: str | None = None,
    conf_level: float = 0.95,
    missing: Missing = "raise",
) -> EmpiricalNull:
    """Fit the empirical null distribution from negative-control estimates.

    Estimand: the distribution of systematic error of the study design on the log ratio scale,
    ``N(mean, sd^2)``: the log estimate a design produces for an exposure-outcome pair with no
    causal effect, minus its random error (Schuemie et al. 2014).

    Assumptions: the negative controls have a true ratio of 1; their systematic error is
    exchangeable with that of the estimate to be calibrated (same design, data, confounding
    structure); each log estimate is ``N(mean, sd^2 + se_i^2)`` with ``se_i`` its reported
    standard error.

    Variance: ``mean`` and ``sd`` by maximum likelihood (``mean`` profiled out in closed form,
    a bounded search for ``sd >= 0``, so the boundary ``sd = 0`` is allowed); a Wald interval
    for ``mean`` from the observed information, a profile-likelihood interval for ``sd``.
    R's ``fitNull`` maximises the same likelihood with Nelder-Mead (agreement to ~1e-4).

    Parameters
    ----------
    estimates : EstimateTable, Estimate or pandas.DataFrame
        Negative-control ratio estimates (their log is used, with ``std_error`` on the log
        scale), or a frame with a log estimate and a standard error column (names from a
        ``term`` column when there is one, else the index).
    log_estimate, std_error : str, optional
        Column names, for a DataFrame.
    conf_level : float
        Level of the intervals of ``mean`` and ``sd``.
    missing : {"raise", "drop"}
        Controls with a missing estimate or SE raise, or are dropped and counted.

    Returns
    -------
    EmpiricalNull

    References
    ----------
    Schuemie MJ, Ryan PB, DuMouchel W, Suchard MA, Madigan D. Interpreting observational
    studies: why empirical calibration is needed to correct p-values. Stat Med
    2014;33:209-218.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> se = rng.uniform(0.05, 0.3, 50)
    >>> d = pd.DataFrame({"log_rr": rng.normal(0.2, np.sqrt(0.15**2 + se**2)), "se": se})
    >>> null = empirical_null(d, log_estimate="log_rr", std_error="se")
    >>> round(null.mean, 3), round(null.sd, 3), null.n
    (0.177, 0.108, 50)
    """
    func = verb_name()
    frame, dropped = _read(estimates, log_estimate, std_error, func, missing, "negative controls")
    y, s = frame["y"].to_numpy(float), frame["s"].to_numpy(float)
    _check_n(y.size, func, "negative controls")
    mu, sigma, ll = _fit_null(y, s)
    se_mu = _null_mean_se(mu, sigma, y, s)
    zc = z_critical(conf_level)
    notes = ("sd at the boundary 0: no systematic error beyond random error detected",) \
        if sigma == 0.0 else ()
    return EmpiricalNull(
        mean=mu, sd=sigma, mean_se=se_mu, mean_ci=(mu - zc * se_mu, mu + zc * se_mu),
        sd_ci=_sd_profile_ci(sigma, y, s, conf_level), conf_level=conf_level, n=int(y.size),
        loglik=ll, log_estimate=y, std_error=s, terms=tuple(frame["term"].astype(str)),
        dropped=dropped, notes=notes)


@verb
def calibrate_p(
    null: EmpiricalNull,
    estimates: Estimates,
    *,
    log_estimate: str | None = None,
    std_error: str | None = None,
    alternative: Alternative = "two-sided",
    missing: Missing = "raise",
) -> EstimateTable:
    """Calibrated p-values of ratio estimates against an empirical null.

    Estimand: the p-value of the null hypothesis "no causal effect" allowing for the design's
    systematic error: ``z = (log RR - mean) / sqrt(sd^2 + se^2)`` referred to N(0, 1), two-sided
    ``2 min(Phi(z), 1 - Phi(z))`` as R's ``calibrateP`` (Schuemie et al. 2014).

    Assumptions: those of :func:`empirical_null`; the estimate's systematic error is a draw
    from the null distribution, independent of its random error.

    Variance: none added; the null's own estimation uncertainty is not propagated (as R's
    ``calibrateP`` with a maximum likelihood null).

    Parameters
    ----------
    null : EmpiricalNull
    estimates : EstimateTable, Estimate or pandas.DataFrame
        Ratio estimates to calibrate (or a frame, with ``log_estimate`` and ``std_error``).
    log_estimate, std_error : str, optional
        Column names, for a DataFrame.
    alternative : {"two-sided", "greater", "less"}
        ``"greater"`` tests a harmful (ratio > 1) effect, R's ``twoSided = FALSE, upper = TRUE``.
    missing : {"raise", "drop"}

    Returns
    -------
    EstimateTable
        The estimates with ``p_value`` (and ``statistic``) replaced by the calibrated p-value
        (and ``z``) and the uncalibrated p-value in the ``p_uncalibrated`` label; the
        intervals are not calibrated (use :func:`calibrate_ci`).

    Examples
    --------
    >>> null = EmpiricalNull(mean=0.2, sd=0.15, mean_se=0.02, mean_ci=(0.16, 0.24),
    ...                      sd_ci=(0.1, 0.2), n=40, loglik=0.0, log_estimate=np.zeros(1),
    ...                      std_error=np.ones(1))
    >>> est = Estimate.from_model_scale("statin", np.log(1.5), 0.1, effect_measure="risk_ratio")
    >>> round(est.p_value, 5), round(calibrate_p(null, est)[0].p_value, 4)
    (5e-05, 0.2544)
    """
    func = verb_name()
    _check_null(null, func)
    frame, dropped = _read(estimates, log_estimate, std_error, func, missing, "estimates")
    y, s = frame["y"].to_numpy(float), frame["s"].to_numpy(float)
    p_cal = _calibrated_p(y, s, null.mean, null.sd, alternative)
    z_cal = _calibrated_z(y, s, null.mean, null.sd)
    rows = _rows_like(estimates, frame)
    note = (f"p-values calibrated against the empirical null N({null.mean:.3f}, "
            f"{null.sd:.3f}^2) of {null.n} negative controls ({alternative}); intervals not "
            "calibrated")
    out = tuple(
        replace(r, p_value=float(p), statistic=float(z),
                labels={**r.labels, "p_uncalibrated": r.p_value}, notes=r.notes + (note,))
        for r, p, z in zip(rows, p_cal, z_cal, strict=True))
    return EstimateTable(rows=out, title="Calibrated p-values", dropped=dropped)


@verb
def systematic_error_model(
    negative: Estimates,
    positive: Estimates | None = None,
    true_effects: Sequence[float] | np.ndarray | str | None = None,
    *,
    log_estimate: str | None = None,
    std_error: str | None = None,
    sd_model: SDModel = "linear",
    missing: Missing = "raise",
) -> SystematicErrorModel:
    """Fit a systematic error model from negative and positive controls.

    Estimand: the distribution of the log estimate given the true log effect ``x``:
    ``N(a + b x, sd(x)^2 + se^2)`` with ``sd(x) = c + d |x|`` (``sd_model="linear"``, R's
    ``fitSystematicErrorModel`` default) or ``exp(c + d x)`` (``"log_linear"``, Schuemie et
    al. 2018, R's ``legacy = TRUE``).

    Assumptions: negative controls have true ratio 1 and positive controls the ratios in
    ``true_effects``; the systematic error of the estimate to calibrate follows the same
    model. Positive controls are supplied by the user (real ones, or synthetic ones made by
    injecting outcomes, as in OHDSI's MethodEvaluation); cohortlab does not synthesise them.

    Variance: maximum likelihood (L-BFGS-B with the analytic gradient, to convergence; R
    uses BFGS with its default tolerance);
    parameter standard errors from the numerical observed information (R's
    ``estimateCovarianceMatrix = TRUE``).

    Parameters
    ----------
    negative : EstimateTable, Estimate or pandas.DataFrame
        Negative-control estimates (true ratio 1).
    positive : EstimateTable, Estimate or pandas.DataFrame, optional
        Positive-control estimates. Without them the model is the empirical null with slope 1
        (R's ``convertNullToErrorModel``).
    true_effects : sequence of float or str, optional
        True ratios (natural scale, > 0) of the positive controls, one per row, or the name
        of a column of the ``positive`` DataFrame holding them.
    log_estimate, std_error : str, optional
        Column names, for DataFrames (the same in both).
    sd_model : {"linear", "log_linear"}
        ``sd(x) = c + d |x|`` (R's default since version 2) or ``exp(c + d x)`` (the 2018
        paper; R's ``legacy = TRUE``).
    missing : {"raise", "drop"}

    Returns
    -------
    SystematicErrorModel

    References
    ----------
    Schuemie MJ, Hripcsak G, Ryan PB, Madigan D, Suchard MA. Empirical confidence interval
    calibration for population-level effect estimation studies in observational healthcare
    data. PNAS 2018;115:2571-2577.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> x = np.repeat(np.log([1.0, 2.0, 4.0]), 40)
    >>> se = rng.uniform(0.05, 0.2, x.size)
    >>> y = rng.normal(0.1 + x, np.sqrt(0.2**2 + se**2))
    >>> d = pd.DataFrame({"y": y, "se": se, "true_rr": np.exp(x)})
    >>> m = systematic_error_model(d[d.true_rr == 1], d[d.true_rr > 1], "true_rr",
    ...                            log_estimate="y", std_error="se")
    >>> np.round(m.params, 2).tolist()
    [0.09, 1.02, 0.15, 0.07]
    """
    func = verb_name()
    neg, d_neg = _read(negative, log_estimate, std_error, func, missing, "negative controls")
    _check_n(len(neg), func, "negative controls")
    if positive is None:
        if true_effects is not None:
            raise DataValidationError(
                f"{func}(): true_effects belong to positive controls; got true_effects without "
                "positive. Pass the positive-control estimates too.")
        y0, s0 = neg["y"].to_numpy(float), neg["s"].to_numpy(float)
        mu, sigma, ll = _fit_null(y0, s0)
        log_lin = sd_model == "log_linear"
        return SystematicErrorModel(
            mean_intercept=mu, mean_slope=1.0,
            sd_intercept=(math.log(sigma) if sigma > 0 else -math.inf) if log_lin else sigma,
            sd_slope=0.0, sd_model=sd_model, n_negative=len(neg), n_positive=0, loglik=ll,
            std_errors=(_null_mean_se(mu, sigma, y0, s0), math.nan, math.nan, math.nan),
            dropped=d_neg,
            notes=("no positive controls: the empirical null with slope 1 (same bias at every "
                   "effect size)",))
    extra = [true_effects] if isinstance(true_effects, str) else []
    pos, d_pos = _read(positive, log_estimate, std_error, func, missing, "positive controls",
                       extra=extra)
    x_pos = _true_log_effects(pos, true_effects, func)
    y = np.concatenate([neg["y"].to_numpy(float), pos["y"].to_numpy(float)])
    s = np.concatenate([neg["s"].to_numpy(float), pos["s"].to_numpy(float)])
    x = np.concatenate([np.zeros(len(neg)), x_pos])
    par, ll, se = _fit_error_model(y, s, x, sd_model)
    dropped = Dropped(n_rows=d_neg.n_rows + d_pos.n_rows,
                      by_column={k: d_neg.by_column.get(k, 0) + d_pos.by_column.get(k, 0)
                                 for k in {**d_neg.by_column, **d_pos.by_column}},
                      n_input=(d_neg.n_input or 0) + (d_pos.n_input or 0))
    return SystematicErrorModel(
        mean_intercept=float(par[0]), mean_slope=float(par[1]), sd_intercept=float(par[2]),
        sd_slope=float(par[3]), sd_model=sd_model, n_negative=len(neg), n_positive=len(pos),
        loglik=ll, std_errors=tuple(float(v) for v in se), dropped=dropped)  # type: ignore[arg-type]


@verb
def calibrate_ci(
    model: SystematicErrorModel | EmpiricalNull,
    estimates: Estimates,
    *,
    log_estimate: str | None = None,
    std_error: str | None = None,
    conf_level: float | None = None,
    missing: Missing = "raise",
) -> EstimateTable:
    """Calibrated point estimates, confidence intervals and p-values.

    Estimand: the true ratio consistent with the observed estimate under the systematic error
    model: the limits are the true log effects ``x`` solving
    ``z + (mean(x) - log RR) / sqrt(sd(x)^2 + se^2) = 0`` for ``z = -+ z_{(1+level)/2}``, and
    the point estimate the ``x`` with ``z = 0`` (R's ``calibrateConfidenceInterval``). The
    p-value is the calibrated p-value against the model's null (``x = 0``), so it agrees with
    the interval.

    Assumptions: those of :func:`systematic_error_model`.

    Variance: the standard error is recovered from the interval width,
    ``(upper - lower) / (2 z)`` on the log scale, as R does; the model's own estimation
    uncertainty is not propagated. Limits outside ``[-100, 100]`` on the log scale are NaN.

    Parameters
    ----------
    model : SystematicErrorModel or EmpiricalNull
        An :class:`EmpiricalNull` is converted with :meth:`EmpiricalNull.to_error_model`:
        slope 1, the same bias at every effect size.
    estimates : EstimateTable, Estimate or pandas.DataFrame
    log_estimate, std_error : str, optional
        Column names, for a DataFrame.
    conf_level : float, optional
        Defaults to the estimates' level (0.95 for a DataFrame).
    missing : {"raise", "drop"}

    Returns
    -------
    EstimateTable
        Calibrated rows (``ci_method="empirical_calibration"``), with the uncalibrated
        estimate, limits and p-value in the labels ``uncalibrated``, ``uncalibrated_low``,
        ``uncalibrated_high`` and ``p_uncalibrated``.

    Examples
    --------
    >>> m = SystematicErrorModel(mean_intercept=0.1, mean_slope=1.0, sd_intercept=0.2,
    ...                          sd_slope=0.0, n_negative=30)
    >>> est = Estimate.from_model_scale("statin", np.log(1.5), 0.1, effect_measure="risk_ratio")
    >>> c = calibrate_ci(m, est)[0]
    >>> round(c.estimate, 4), round(c.conf_low, 4), round(c.conf_high, 4)
    (1.3573, 0.8756, 2.1038)
    """
    func = verb_name()
    if isinstance(model, EmpiricalNull):
        model = model.to_error_model()
    if not isinstance(model, SystematicErrorModel):
        raise DataValidationError(
            f"{func}(): model must be a SystematicErrorModel or an EmpiricalNull; got "
            f"{type(model).__name__}. Fit one with systematic_error_model() or "
            "empirical_null().")
    frame, dropped = _read(estimates, log_estimate, std_error, func, missing, "estimates")
    rows = _rows_like(estimates, frame)
    level = check_conf_level(conf_level, func) if conf_level is not None else rows[0].conf_level
    y, s = frame["y"].to_numpy(float), frame["s"].to_numpy(float)
    zc = z_critical(level)
    p = model.params
    point = _calibrated_bounds(y, s, p, model.sd_model, 0.0)
    low = _calibrated_bounds(y, s, p, model.sd_model, zc)
    high = _calibrated_bounds(y, s, p, model.sd_model, -zc)
    se = (high - low) / (2 * zc)
    sd0 = float(_err_sd(p, np.zeros(1), model.sd_model)[0])
    p0 = _calibrated_p(y, s, float(p[0]), sd0, "two-sided")
    z0 = _calibrated_z(y, s, float(p[0]), sd0)
    note = (f"empirically calibrated ({model.sd_model} SD error model from "
            f"{model.n_negative} negative and {model.n_positive} positive controls)")
    out = []
    for i, r in enumerate(rows):
        labels = {**r.labels, "uncalibrated": r.estimate, "uncalibrated_low": r.conf_low,
                  "uncalibrated_high": r.conf_high, "p_uncalibrated": r.p_value}
        out.append(replace(
            r, estimate=float(np.exp(point[i])), std_error=float(se[i]),
            conf_low=float(np.exp(low[i])), conf_high=float(np.exp(high[i])),
            conf_level=level, statistic=float(z0[i]), p_value=float(p0[i]),
            ci_method="empirical_calibration", labels=labels, notes=r.notes + (note,)))
    return EstimateTable(rows=tuple(out), title="Calibrated estimates", dropped=dropped)


@verb
def calibration_coverage(
    negative: Estimates,
    positive: Estimates | None = None,
    true_effects: Sequence[float] | np.ndarray | str | None = None,
    *,
    log_estimate: str | None = None,
    std_error: str | None = None,
    sd_model: SDModel = "linear",
    conf_levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95, 0.99),
    groups: str | None = None,
) -> CalibrationCoverage:
    """Leave-one-out coverage of uncalibrated and calibrated intervals of the controls.

    Each control (or each ``groups`` value, e.g. a negative control and its synthetic
    positive controls together, as R's ``crossValidationGroup``) is left out, the error model
    is refitted on the others and the left-out controls' intervals are calibrated; coverage is
    the share whose interval holds the true effect, per true effect and level (R's
    ``plotCiCoverage``). For negative controls, ``1 - coverage`` at level ``1 - alpha`` is the
    type I error of the (calibrated) p-value at ``alpha`` (R's ``plotCalibration``).

    Parameters
    ----------
    negative, positive, true_effects, log_estimate, std_error, sd_model
        As in :func:`systematic_error_model`.
    conf_levels : sequence of float
    groups : str, optional
        A column of the DataFrames naming cross-validation groups.

    Returns
    -------
    CalibrationCoverage
        ``.coverage``: a frame with the columns ``true_effect, conf_level, n,
        coverage_uncalibrated, coverage_calibrated``; ``.table`` / ``to_frame()``: the same
        coverages as tidy rows (``estimate`` the coverage, labels ``true_effect``,
        ``nominal_level``, ``calibrated``).

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> se = rng.uniform(0.05, 0.3, 30)
    >>> d = pd.DataFrame({"y": rng.normal(0.3, np.sqrt(0.1**2 + se**2)), "se": se})
    >>> cov = calibration_coverage(d, log_estimate="y", std_error="se", conf_levels=[0.95])
    >>> cov.coverage[["coverage_uncalibrated", "coverage_calibrated"]].round(2).values.tolist()
    [[0.43, 0.9]]
    """
    func = verb_name()
    levels = np.array([check_conf_level(c, func) for c in conf_levels])
    extra_n = [groups] if groups else []
    neg, _ = _read(negative, log_estimate, std_error, func, "raise", "negative controls",
                   extra=extra_n)
    neg["x"] = 0.0
    if positive is not None:
        extra_p = extra_n + ([true_effects] if isinstance(true_effects, str) else [])
        pos, _ = _read(positive, log_estimate, std_error, func, "raise", "positive controls",
                       extra=extra_p)
        pos["x"] = _true_log_effects(pos, true_effects, func)
        allc = pd.concat([neg, pos], ignore_index=True)
    else:
        allc = neg
    _check_n(len(neg), func, "negative controls")
    y, s, x = (allc[c].to_numpy(float) for c in ("y", "s", "x"))
    g = allc[groups].to_numpy() if groups else np.arange(len(allc))
    keys, inv = np.unique(g, return_inverse=True)
    z = stats.norm.ppf(0.5 + levels / 2)
    cover_cal, cover_unc = _loo_coverage(y, s, x, inv, keys.size, z, sd_model,
                                         positive is not None)
    recs = []
    for xv in np.unique(x):
        m = x == xv
        for j, lv in enumerate(levels):
            recs.append({"true_effect": float(np.exp(xv)), "conf_level": float(lv),
                         "n": int(m.sum()),
                         "coverage_uncalibrated": float(cover_unc[m, j].mean()),
                         "coverage_calibrated": float(cover_cal[m, j].mean())})
    fitted = positive is not None and bool((x != 0).any())  # else the null model alone
    return CalibrationCoverage(coverage=pd.DataFrame(recs),
                               sd_model=sd_model if fitted else "null")
