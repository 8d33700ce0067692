"""Plots of empirical calibration: the funnel plot and the interval coverage plot.

:func:`funnel_plot` draws negative controls (and estimates) with the traditional and the
calibrated p-value boundaries; :func:`calibration_plot` draws the leave-one-out coverage of
:func:`~cohortlab.sensitivity.calibration.calibration_coverage`. Both are importable from
:mod:`cohortlab.sensitivity.calibration` too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import DataValidationError
from ._calibration_checks import _check_null, _read
from .calibration_results import EmpiricalNull, Estimates

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["funnel_plot", "calibration_plot"]


def funnel_plot(null: EmpiricalNull, estimates: Estimates | None = None,
                ax: Axes | None = None, *, alpha: float = 0.05,
                log_estimate: str | None = None, std_error: str | None = None) -> Axes:
    """Estimates against their standard errors with the p = ``alpha`` boundaries.

    The negative controls (and, optionally, ``estimates`` of interest, as diamonds) are drawn
    as ratio (log axis) vs standard error. Dashed lines: the traditional boundary
    ``|log RR| = z se``; the shaded region: where the calibrated p-value is >= ``alpha``,
    ``|log RR - mean| < z sqrt(sd^2 + se^2)`` (R's ``plotCalibrationEffect``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> null = EmpiricalNull(mean=0.2, sd=0.15, mean_se=0.02, mean_ci=(0.16, 0.24),
    ...                      sd_ci=(0.1, 0.2), n=3, loglik=0.0,
    ...                      log_estimate=np.array([0.1, 0.3, 0.2]),
    ...                      std_error=np.array([0.1, 0.2, 0.3]))
    >>> funnel_plot(null).get_xlabel()
    'ratio (log scale)'
    """
    from ..report.figures import _axes, _style

    _check_null(null, "funnel_plot")
    if not 0 < alpha < 1:
        raise DataValidationError(f"funnel_plot(): alpha must be in (0, 1); got {alpha!r}.")
    ax = _axes(ax, (6.0, 4.5))
    se_max = float(max(np.max(null.std_error), 0.1)) * 1.3
    se_grid = np.linspace(1e-4, se_max, 200)
    z = float(stats.norm.ppf(1 - alpha / 2))
    half = z * np.sqrt(null.sd**2 + se_grid**2)
    ax.fill_betweenx(se_grid, np.exp(null.mean - half), np.exp(null.mean + half),
                     color="#edae49", alpha=0.35, lw=0,
                     label=f"calibrated p >= {alpha:g}")
    ax.plot(np.exp(-z * se_grid), se_grid, ls="--", color="#555", lw=0.9)
    ax.plot(np.exp(z * se_grid), se_grid, ls="--", color="#555", lw=0.9,
            label=f"traditional p = {alpha:g}")
    ax.scatter(np.exp(null.log_estimate), null.std_error, s=18, color="#1b6ca8",
               alpha=0.7, label="negative controls")
    if estimates is not None:
        f, _ = _read(estimates, log_estimate, std_error, "funnel_plot", "raise", "estimates")
        ax.scatter(np.exp(f["y"]), f["s"], marker="D", s=40, color="#d1495b",
                   label="estimates", zorder=3)
    ax.axvline(1.0, color="#888", lw=0.8)
    ax.set_xscale("log")
    ax.set_ylim(se_max, 0)
    ax.set_xlabel("ratio (log scale)")
    ax.set_ylabel("standard error (log scale)")
    ax.legend(fontsize=8, frameon=False)
    _style(ax)
    return ax


def calibration_plot(coverage: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Coverage against nominal level, uncalibrated (dashed) and calibrated (solid).

    Takes the frame of :func:`calibration_coverage`; one colour per true effect size.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> cov = pd.DataFrame({"true_effect": [1.0, 1.0], "conf_level": [0.9, 0.95], "n": [30, 30],
    ...                     "coverage_uncalibrated": [0.5, 0.6],
    ...                     "coverage_calibrated": [0.9, 0.93]})
    >>> calibration_plot(cov).get_ylabel()
    'coverage'
    """
    from ..report.figures import _COLORS, _axes, _style

    need = {"true_effect", "conf_level", "coverage_uncalibrated", "coverage_calibrated"}
    if not isinstance(coverage, pd.DataFrame) or not need <= set(coverage.columns):
        raise DataValidationError(
            "calibration_plot(): coverage must be the DataFrame of calibration_coverage(); "
            f"got {type(coverage).__name__}. Compute it first.")
    ax = _axes(ax, (5.0, 4.5))
    for i, (te, d) in enumerate(coverage.groupby("true_effect")):
        c = _COLORS[i % len(_COLORS)]
        ax.plot(d["conf_level"], d["coverage_calibrated"], "-o", color=c, ms=4,
                label=f"true ratio {te:g}, calibrated")
        ax.plot(d["conf_level"], d["coverage_uncalibrated"], "--o", color=c, ms=3, alpha=0.6,
                label=f"true ratio {te:g}, uncalibrated")
    ax.plot([0, 1], [0, 1], color="#888", lw=0.8)
    ax.set_xlim(coverage["conf_level"].min() - 0.05, 1.0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("nominal confidence level")
    ax.set_ylabel("coverage")
    ax.legend(fontsize=7, frameon=False)
    _style(ax)
    return ax
