"""Figures that take a result and return the matplotlib Axes.

All figures share one look (``_style``); none changes matplotlib's global settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["forest_plot", "curve_plot", "smd_plot", "attrition_plot", "overlap_plot"]

_COLORS = ["#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6c4f8c", "#00798c", "#8d6a9f"]


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _style(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)


def forest_plot(frame: pd.DataFrame, ax: Axes | None = None, *, label: str = "term") -> Axes:
    """Point estimates with intervals, one row each; log axis when all rows are ratios.

    Parameters
    ----------
    frame : pandas.DataFrame
        A tidy frame (``cl.tidy(...)`` or a result's ``to_frame()``).
    ax : matplotlib Axes, optional
    label : str
        Column used for the row labels (with ``method`` appended when methods differ).
    """
    from .._typing import RATIO_MEASURES

    d = frame.reset_index(drop=True)
    ax = _axes(ax, (6.0, 0.45 * len(d) + 1.2))
    labels = _row_labels(d, label)
    y = np.arange(len(d))[::-1]
    ratio = d["effect_measure"].isin(RATIO_MEASURES).all() if "effect_measure" in d else False
    est = d["estimate"].to_numpy(dtype=float)
    ax.errorbar(est, y,
                xerr=[est - d["conf_low"].to_numpy(dtype=float),
                      d["conf_high"].to_numpy(dtype=float) - est],
                fmt="o", color=_COLORS[0], ecolor=_COLORS[0], capsize=3, markersize=5)
    ax.axvline(1.0 if ratio else 0.0, color="#888", lw=0.8, ls="--")
    if ratio:
        ax.set_xscale("log")
    ax.set_yticks(y, labels)
    level = d["conf_level"].iloc[0] if "conf_level" in d and len(d) else 0.95
    ax.set_xlabel(f"estimate ({100 * level:g}% CI)")
    _style(ax)
    return ax


def _row_labels(d: pd.DataFrame, label: str) -> pd.Series:
    """Row labels that tell the rows apart: the term, then the method, then the CI method."""
    from ..results._format import ci_label, method_label

    labels = d[label].astype(str)
    if "method" in d and d["method"].nunique() > 1:
        methods = d["method"].map(method_label)
        labels = methods if labels.nunique() == 1 else labels + " (" + methods + ")"
    dup = labels.duplicated(keep=False)
    if dup.any() and "ci_method" in d:
        labels = labels.where(~dup, labels + ", " + d["ci_method"].map(ci_label))
    return labels


def curve_plot(curve: Any, ax: Axes | None = None, *, ci: bool = True) -> Axes:
    """Step curves with shaded confidence bands for a :class:`~cohortlab.results.Curve`."""
    ax = _axes(ax, (6.0, 4.0))
    start = curve._start_value()
    for i, (g, c, d) in enumerate(curve._curves()):
        color = _COLORS[i % len(_COLORS)]
        t = np.concatenate([[0.0], d["time"].to_numpy()])
        est = np.concatenate([[start], d["estimate"].to_numpy()])
        name = str(g) if pd.isna(c) else f"{g}, cause {c}"
        ax.step(t, est, where="post", color=color, label=name, lw=1.6)
        if ci:
            lo = np.concatenate([[start], d["conf_low"].to_numpy()])
            hi = np.concatenate([[start], d["conf_high"].to_numpy()])
            ax.fill_between(t, lo, hi, step="post", color=color, alpha=0.18, lw=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("time")
    ax.set_ylabel(curve.measure.replace("_", " "))
    if len(curve.groups) > 1 or not pd.isna(curve.groups[0]):
        ax.legend(frameon=False, fontsize=9)
    _style(ax)
    return ax


def smd_plot(table: Any, ax: Axes | None = None, *, threshold: float = 0.1) -> Axes:
    """Absolute standardised mean differences per variable (a love plot) from a Table 1."""
    bal = table.balance[table.balance["level"] == ""].reset_index(drop=True)
    if bal["smd"].isna().all():
        raise ValueError("smd_plot(): the table has no SMDs; build it with by=<two groups>.")
    ax = _axes(ax, (5.5, 0.32 * len(bal) + 1.3))
    y = np.arange(len(bal))[::-1]
    names = [table.labels.get(v, v) for v in bal["variable"]]
    weighted = table.weights is not None
    if weighted:
        ax.scatter(bal["smd_unweighted"].abs(), y, marker="o", facecolors="none",
                   edgecolors=_COLORS[1], label="unweighted", zorder=3)
    ax.scatter(bal["smd"].abs(), y, color=_COLORS[0], label="weighted" if weighted else "SMD",
               zorder=3)
    ax.axvline(threshold, color="#888", lw=0.8, ls="--")
    ax.set_yticks(y, names)
    ax.set_xlabel("absolute standardised mean difference")
    ax.set_xlim(left=0)
    if weighted:
        ax.legend(frameon=False, fontsize=9)
    ax.grid(axis="y", color="#eee", lw=0.6)
    _style(ax)
    return ax


def attrition_plot(flow: Any, ax: Axes | None = None) -> Axes:
    """A vertical flow diagram: remaining rows per step, exclusions to the right."""
    d = flow.steps
    ax = _axes(ax, (6.5, 1.1 * (len(d) + 1)))
    box = dict(boxstyle="round,pad=0.4", fc="white", ec="#444")
    ybox = np.arange(len(d) + 1)[::-1].astype(float)
    ax.text(0.3, ybox[0], f"{flow.n_initial:,} rows", ha="center", va="center", bbox=box,
            fontsize=9)
    for i, r in enumerate(d.itertuples(index=False), start=1):
        ax.annotate("", xy=(0.3, ybox[i] + 0.25), xytext=(0.3, ybox[i - 1] - 0.25),
                    arrowprops=dict(arrowstyle="->", color="#444"))
        ax.text(0.3, ybox[i], f"{r.n_after:,} remaining", ha="center", va="center", bbox=box,
                fontsize=9)
        ax.text(0.62, (ybox[i] + ybox[i - 1]) / 2, f"excluded {r.n_excluded:,}: {r.criterion}",
                ha="left", va="center", fontsize=8, bbox=dict(boxstyle="round,pad=0.3",
                                                                fc="#f6f6f6", ec="#999"))
    ax.set_xlim(0, 1.4)
    ax.set_ylim(-0.6, len(d) + 0.6)
    ax.axis("off")
    return ax


def overlap_plot(scores: np.ndarray, exposure: np.ndarray, ax: Axes | None = None, *,
                 bins: int = 40, label: str = "exposure") -> Axes:
    """Mirrored histograms of propensity scores: exposed above the axis, unexposed below."""
    ax = _axes(ax, (6.0, 3.8))
    edges = np.linspace(0.0, 1.0, bins + 1)
    h1, _ = np.histogram(scores[exposure == 1], bins=edges)
    h0, _ = np.histogram(scores[exposure == 0], bins=edges)
    width = edges[1] - edges[0]
    ax.bar(edges[:-1], h1, width=width, align="edge", color=_COLORS[0], alpha=0.8,
           label=f"{label} = 1")
    ax.bar(edges[:-1], -h0, width=width, align="edge", color=_COLORS[1], alpha=0.8,
           label=f"{label} = 0")
    ax.axhline(0, color="#444", lw=0.8)
    ax.set_xlabel("propensity score")
    ax.set_ylabel("count")
    ax.set_yticks(ax.get_yticks(), [f"{abs(int(t))}" for t in ax.get_yticks()])
    ax.legend(frameon=False, fontsize=9)
    _style(ax)
    return ax
