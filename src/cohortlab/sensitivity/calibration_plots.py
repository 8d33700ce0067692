"""Plots of empirical calibration: the funnel plot and the interval coverage plot.

:func:`funnel_plot` draws negative controls (and estimates) with the traditional and the
calibrated p-value boundaries; :func:`calibration_plot` draws the leave-one-out coverage of
:func:`~cohortlab.sensitivity.calibration.calibration_coverage`. Both are importable from
:mod:`cohortlab.sensitivity.calibration` too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .._validation import verb
from ..exceptions import DataValidationError
from .calibration_results import CalibrationCoverage, EmpiricalNull, _funnel

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .calibration_results import Estimates

__all__ = ["funnel_plot", "calibration_plot"]


@verb
def funnel_plot(null: EmpiricalNull, estimates: Estimates | None = None,
                ax: Axes | None = None, *, conf_level: float = 0.95,
                log_estimate: str | None = None, std_error: str | None = None) -> Axes:
    """Estimates against their standard errors with the p = ``1 - conf_level`` boundaries.

    The negative controls (and, optionally, ``estimates`` of interest, as diamonds) are drawn
    as ratio (log axis) vs standard error. Dashed lines: the traditional boundary
    ``|log RR| = z se``; the shaded region: where the calibrated p-value is >= ``alpha = 1 -
    conf_level``, ``|log RR - mean| < z sqrt(sd^2 + se^2)`` (R's ``plotCalibrationEffect``).

    Parameters
    ----------
    null : EmpiricalNull
        The fitted null; its controls are drawn as dots.
    estimates : Estimate, EstimateTable or pandas.DataFrame, optional
        Estimates of interest (a frame with ``log_estimate``/``std_error`` columns), drawn as
        diamonds.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure otherwise.
    alpha : float
        Significance level of the boundaries.
    log_estimate, std_error : str, optional
        The columns of ``estimates`` when it is a DataFrame.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> null = EmpiricalNull(mean=0.2, sd=0.15, mean_se=0.02, mean_ci=(0.16, 0.24),
    ...                      sd_ci=(0.1, 0.2), n=3, loglik=0.0,
    ...                      log_estimate=np.array([0.1, 0.3, 0.2]),
    ...                      std_error=np.array([0.1, 0.2, 0.3]))
    >>> funnel_plot(null).get_xlabel()
    'ratio (log scale)'
    """
    return _funnel(null, estimates, ax, conf_level=conf_level, log_estimate=log_estimate,
                   std_error=std_error)


@verb
def calibration_plot(coverage: CalibrationCoverage | pd.DataFrame, ax: Axes | None = None
                     ) -> Axes:
    """Coverage against nominal level, uncalibrated (dashed) and calibrated (solid).

    Takes the result of :func:`calibration_coverage` (or its ``.coverage`` frame); one
    colour per true effect size.

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
    from ..report.style import COLORS, axes, style

    if isinstance(coverage, CalibrationCoverage):
        coverage = coverage.coverage
    need = {"true_effect", "conf_level", "coverage_uncalibrated", "coverage_calibrated"}
    if not isinstance(coverage, pd.DataFrame) or not need <= set(coverage.columns):
        raise DataValidationError(
            "calibration_plot(): coverage must be the DataFrame of calibration_coverage(); "
            f"got {type(coverage).__name__}. Compute it first.")
    ax = axes(ax, (5.0, 4.5))
    for i, (te, d) in enumerate(coverage.groupby("true_effect")):
        c = COLORS[i % len(COLORS)]
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
    style(ax)
    return ax
