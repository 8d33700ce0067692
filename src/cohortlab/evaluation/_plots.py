"""Figures shared by the evaluation results: ROC, calibration, decision curve, drift.

They take arrays / frames from a result, draw on one Axes with the look of
:mod:`cohortlab.report.style` (``axes``, ``style``, ``COLORS``) and return it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError
from ..report.style import COLORS, axes, style
from ._levels import OVERALL, level_str, trend_line

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["new_axes", "level_name", "roc_plot", "calibration_plot", "drift_plot"]


def new_axes(ax: Axes | None) -> Axes:
    """The given Axes, or a new 5 x 4.5 in figure's, in the report style."""
    ax = axes(ax, (5, 4.5))
    style(ax)
    return ax


def level_name(column: str | None, g: Any) -> str:
    """Legend label of a level: ``"overall"`` or ``"<column> = <level>"``."""
    if g is OVERALL or g == OVERALL or column is None:
        return "overall"
    return f"{column} = {level_str(g)}"


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def roc_plot(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], ax: Axes | None) -> Axes:
    """ROC curves ``(label, fpr, tpr)``, one per level, on one Axes."""
    ax = new_axes(ax)
    for i, (lab, fpr, tpr) in enumerate(curves):
        ax.plot(fpr, tpr, color=_color(i), label=lab)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(frameon=False, loc="lower right", fontsize=8)
    return ax


def calibration_plot(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], ax: Axes | None,
                     xlabel: str, ylabel: str) -> Axes:
    """Calibration curves ``(label, mean predicted, observed)``, one per level."""
    ax = new_axes(ax)
    for i, (lab, x, y) in enumerate(curves):
        ax.plot(x, y, marker="o", ms=3.5, color=_color(i), label=lab)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(xlabel=xlabel, ylabel=ylabel, xlim=(0, 1), ylim=(0, 1))
    ax.legend(frameon=False, loc="upper left", fontsize=8)
    return ax


def drift_plot(metrics: pd.DataFrame, drift: pd.DataFrame, *, metric: str, column: str,
               keys: Sequence[Any], ordered: bool, time: float | None, func: str,
               ax: Axes | None) -> Axes:
    """A metric with its CI per shift level, the overall value and the weighted trend line."""
    f = metrics[metrics["term"] == metric]
    if f.empty:
        known = sorted(set(metrics["term"]))
        raise DataValidationError(
            f"{func}(): no metric {metric!r} to plot in metric; got metrics {known}. "
            "Pass one of them.")
    if "time" in f and f["time"].notna().any():
        times = sorted(set(f["time"].dropna()))
        t = float(times[0]) if time is None else float(time)
        if not np.isclose(times, t).any():
            raise DataValidationError(
                f"{func}(): no {metric} at time {t:g} in t; got times {times}. Pass one.")
        f = f[np.isclose(f["time"].astype(float), t)]
        drift = drift[np.isclose(drift["time"].astype(float), t)] if "time" in drift else drift
    else:
        t = None
    per = {g: r for g, r in zip(f["group"], f.itertuples(), strict=True)}
    x = np.arange(len(keys), dtype=float)
    est = np.array([per[g].estimate if g in per else math.nan for g in keys], dtype=float)
    lo = np.array([per[g].conf_low if g in per else math.nan for g in keys], dtype=float)
    hi = np.array([per[g].conf_high if g in per else math.nan for g in keys], dtype=float)
    se = np.array([per[g].std_error if g in per else math.nan for g in keys], dtype=float)
    ratio = bool((f["effect_measure"] == "ratio").any())
    ax = new_axes(ax)
    yerr = np.vstack([est - lo, hi - est])
    ax.errorbar(x, est, yerr=np.where(np.isfinite(yerr), yerr, 0.0), fmt="o", capsize=3,
                color=_color(0), label=f"{metric} per level ({_ci(f)})")
    if OVERALL in per:
        ax.axhline(per[OVERALL].estimate, color="grey", lw=0.8, ls="--", label="overall")
    line = trend_line(est, se, x, ratio) if ordered else None
    if line is not None:
        xx = np.linspace(0, len(keys) - 1, 50)
        yy = line[0] + line[1] * xx
        tr = drift[(drift["metric"] == metric) & (drift["contrast"] == "trend")]
        p = f", p = {float(tr['p_value'].iloc[0]):.2g}" if len(tr) else ""
        ax.plot(xx, np.exp(yy) if ratio else yy, color=_color(1), lw=1.2,
                label=f"weighted trend{p}")
    ax.set_xticks(x, [level_str(k) for k in keys], rotation=30 if len(keys) > 6 else 0)
    ylab = metric if t is None else f"{metric} at t = {t:g}"
    ax.set(xlabel=column, ylabel=ylab)
    ax.legend(frameon=False, fontsize=8)
    return ax


def _ci(f: pd.DataFrame) -> str:
    lev = f["conf_level"].dropna()
    return f"{100 * float(lev.iloc[0]):g}% CI" if len(lev) else "CI"


def roc_curves(counts: Mapping[Any, Any], keys: Sequence[Any], column: str | None,
               auc_of: Any) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(label, fpr, tpr)`` of each level from its score counts."""
    out = []
    for g in keys:
        sc = counts[g]
        tpr = np.concatenate([[0.0], np.cumsum(sc.pos[::-1]) / sc.n_pos])
        fpr = np.concatenate([[0.0], np.cumsum(sc.neg[::-1]) / sc.n_neg])
        out.append((f"{level_name(column, g)} (AUROC {auc_of(sc):.3f})", fpr, tpr))
    return out
