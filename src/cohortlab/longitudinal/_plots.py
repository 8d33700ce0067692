"""The weights figure of ``TimeVaryingWeights.plot()``: stabilised weights by period.

It draws from the by-period diagnostics (percentiles 1/25/50/75/99, min, max, mean), so it
needs no row-level data, on one Axes with the look of :mod:`cohortlab.report.style`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError
from ..report.style import COLORS, axes, style

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["WeightPlotKind", "plot_weights"]

WeightPlotKind: TypeAlias = Literal["ribbon", "box"]
_NEEDED = ("period", "mean", "min", "p1", "p25", "p50", "p75", "p99", "max")


def plot_weights(by_period: pd.DataFrame, *, kind: str = "ribbon", log: bool = True,
                 ax: Axes | None = None, func: str = "TimeVaryingWeights.plot") -> Axes:
    """Distribution of the weights by period: quantile ribbons or boxes, mean, reference 1.

    ``kind="ribbon"``: a light band from the 1st to the 99th percentile, a darker band from
    the 25th to the 75th, the median as a line, the mean as a dashed line and the range
    (min, max) as thin dotted lines. ``kind="box"``: one box per period (25th-75th, median),
    whiskers at the 1st and 99th percentiles, min and max as points, the mean as a diamond.
    A horizontal line marks 1 (the mean of correctly specified stabilised weights).
    """
    if kind not in ("ribbon", "box"):
        raise DataValidationError(f"{func}(): kind must be 'ribbon' or 'box'; got {kind!r}.")
    missing = [c for c in _NEEDED if c not in by_period.columns]
    if missing:
        raise DataValidationError(f"{func}(): the by-period table lacks the columns {missing}; "
                                  "it must come from tv_weights().")
    ax = axes(ax, (6, 3.6))
    style(ax)
    t = by_period["period"].to_numpy(dtype=float)
    q = {c: by_period[c].to_numpy(dtype=float) for c in _NEEDED[1:]}
    blue, red = COLORS[0], COLORS[1]
    if kind == "ribbon":
        ax.fill_between(t, q["p1"], q["p99"], color=blue, alpha=0.18, lw=0,
                        label="1st-99th percentile")
        ax.fill_between(t, q["p25"], q["p75"], color=blue, alpha=0.40, lw=0,
                        label="25th-75th percentile")
        ax.plot(t, q["p50"], color=blue, lw=1.5, label="median")
        ax.plot(t, q["min"], color=blue, lw=0.7, ls=":", label="min, max")
        ax.plot(t, q["max"], color=blue, lw=0.7, ls=":")
        ax.plot(t, q["mean"], color=red, lw=1.3, ls="--", label="mean")
    else:
        stats = [{"med": q["p50"][i], "q1": q["p25"][i], "q3": q["p75"][i],
                  "whislo": q["p1"][i], "whishi": q["p99"][i],
                  "fliers": np.array([q["min"][i], q["max"][i]])} for i in range(t.size)]
        width = 0.6 * (float(np.min(np.diff(t))) if t.size > 1 else 1.0)
        ax.bxp(stats, positions=t, widths=width, showfliers=True, patch_artist=True,
               boxprops={"facecolor": blue, "alpha": 0.45, "lw": 0.8},
               medianprops={"color": blue, "lw": 1.5},
               whiskerprops={"color": blue, "lw": 0.8}, capprops={"color": blue, "lw": 0.8},
               flierprops={"marker": ".", "markersize": 3, "markeredgecolor": blue})
        ax.plot(t, q["mean"], ls="none", marker="D", ms=3.5, color=red, label="mean")
        ax.set_xticks(t, [f"{v:g}" for v in t])
    ax.axhline(1.0, color="grey", lw=0.8, ls="-", zorder=0)
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="period", ylabel="stabilised weight" + (" (log scale)" if log else ""),
           title="Stabilised weights by period")
    ax.legend(frameon=False, fontsize=8, loc="upper left", ncol=2 if kind == "ribbon" else 1)
    return ax
