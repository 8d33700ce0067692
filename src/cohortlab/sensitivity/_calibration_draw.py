"""Drawing of the funnel plot from arrays (no result classes, so nothing imports back)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from ..report.style import axes, style

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def draw_funnel(ax: Axes | None, mean: float, sd: float, log_estimate: np.ndarray,
                std_error: np.ndarray, est_log: np.ndarray | None, est_se: np.ndarray | None,
                alpha: float) -> Axes:
    """Controls (and estimates) as ratio vs standard error with the p = ``alpha`` boundaries."""
    ax = axes(ax, (6.0, 4.5))
    se_max = float(max(np.max(std_error), 0.1)) * 1.3
    se_grid = np.linspace(1e-4, se_max, 200)
    z = float(stats.norm.ppf(1 - alpha / 2))
    half = z * np.sqrt(sd**2 + se_grid**2)
    ax.fill_betweenx(se_grid, np.exp(mean - half), np.exp(mean + half),
                     color="#edae49", alpha=0.35, lw=0,
                     label=f"calibrated p >= {alpha:g}")
    ax.plot(np.exp(-z * se_grid), se_grid, ls="--", color="#555", lw=0.9)
    ax.plot(np.exp(z * se_grid), se_grid, ls="--", color="#555", lw=0.9,
            label=f"traditional p = {alpha:g}")
    ax.scatter(np.exp(log_estimate), std_error, s=18, color="#1b6ca8",
               alpha=0.7, label="negative controls")
    if est_log is not None and est_se is not None:
        ax.scatter(np.exp(est_log), est_se, marker="D", s=40, color="#d1495b",
                   label="estimates", zorder=3)
    ax.axvline(1.0, color="#888", lw=0.8)
    ax.set_xscale("log")
    ax.set_ylim(se_max, 0)
    ax.set_xlabel("ratio (log scale)")
    ax.set_ylabel("standard error (log scale)")
    ax.legend(fontsize=8, frameon=False)
    style(ax)
    return ax
