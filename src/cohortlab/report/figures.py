"""Figures that take a result and return the matplotlib Axes.

All figures share one look (:func:`cohortlab.report.style.style`); none changes global settings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError
from ..results._hooks import register
from .style import COLORS, axes, style

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..results.labels import Labels

__all__ = ["forest_plot", "curve_plot", "numbers_at_risk", "smd_plot", "attrition_plot",
           "overlap_plot", "plain_log_axis", "legend_label"]

_LINESTYLES = ["-", "--", ":", "-."]  # one per cause of a competing-risks curve


#: Candidate ticks of a log axis (1-2-5 and a few clinical favourites: 0.25, 0.75, 1.5).
_LOG_TICKS = np.array(sorted({m * 10.0 ** e for e in range(-3, 4)
                              for m in (1.0, 2.0, 5.0)} | {0.25, 0.75, 1.5}))


def plain_log_axis(ax: Axes, axis: str = "x") -> Axes:
    """Plain tick labels on a log axis: 0.5, 1, 2 (never 6x10^-1 or 10^0).

    Picks ticks from 1-2-5 steps (plus 0.25, 0.75 and 1.5 on a narrow axis) inside the
    current limits, always including 1 when it is in range, and prints them with ``%g``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax.set_xscale("log")
    >>> _ = ax.set_xlim(0.4, 2.5)
    >>> _ = plain_log_axis(ax)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['0.5', '0.75', '1', '1.5', '2']
    >>> plt.close(fig)
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    lo, hi = ax.get_xlim() if axis == "x" else ax.get_ylim()
    lo, hi = min(lo, hi), max(lo, hi)
    inside = _LOG_TICKS[(_LOG_TICKS >= lo * (1 - 1e-9)) & (_LOG_TICKS <= hi * (1 + 1e-9))]
    if hi / max(lo, 1e-12) > 8:  # wide axis: 1-2-5 only
        inside = inside[~np.isin(inside, [0.25, 0.75, 1.5])]
    if inside.size > 7:
        keep = np.isclose(inside / 10.0 ** np.floor(np.log10(inside) + 1e-9), 1.0) | np.isclose(
            inside, 1.0)
        inside = inside[keep] if keep.sum() >= 2 else inside[:: int(np.ceil(inside.size / 7))]
    if inside.size < 2:
        inside = np.unique(np.round([lo, hi] if inside.size == 0 else [lo, *inside, hi],
                                    2 - int(np.floor(np.log10(max(lo, 1e-12))))))
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(inside.tolist()))
    target.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    target.set_minor_locator(NullLocator())
    target.set_minor_formatter(NullFormatter())
    return ax


def legend_label(key: Any, labels: Labels | None = None, column: str | None = None) -> str:
    """The display name of a curve group: ``"hormon=1"`` or ``1`` -> the exposure arm's name.

    A group written ``"<column>=<level>"`` (as adjusted curves name theirs) or a bare level of
    ``column`` (default: the labels' exposure) is looked up in the labels' arms and value
    labels; anything else is shown as it is.

    Examples
    --------
    >>> from cohortlab.results.labels import Labels
    >>> lab = Labels.from_dict({"exposure": {"column": "hormon",
    ...                         "arms": {0: "No hormonal therapy", 1: "Hormonal therapy"}}})
    >>> legend_label("hormon=1", lab), legend_label(0, lab), legend_label("hormon=1")
    ('Hormonal therapy', 'No hormonal therapy', 'hormon=1')
    """
    import re

    from ..results.labels import as_labels

    text = "all" if key is None else str(key)
    if labels is None:
        return text
    lab = as_labels(labels)
    m = re.fullmatch(r"\s*([A-Za-z_][\w.]*)\s*=\s*(.+?)\s*", text)
    if m and (lab.has_values(m.group(1)) or m.group(1) == lab.exposure):
        var, level = m.group(1), m.group(2)
        return lab.arm(level, var)
    col = column or lab.exposure
    if col is not None and lab.has_values(col):
        from ..results.labels import code_key

        known = lab.values.get(col, {}) or (lab.arms if col == lab.exposure else {})
        if code_key(key) in known or (col == lab.exposure and code_key(key) in lab.arms):
            return lab.arm(key, col)
    return text


@register("forest_plot")
def forest_plot(frame: pd.DataFrame, ax: Axes | None = None, *, label: str = "term",
                labels: Labels | Any = None, reference: Any = None) -> Axes:
    """Point estimates with intervals, one row each; log axis when all rows are ratios.

    Log axes have plain ticks (0.5, 1, 2; see :func:`plain_log_axis`).

    Parameters
    ----------
    frame : pandas.DataFrame
        A tidy frame (``cl.tidy(...)`` or a result's ``to_frame()``).
    ax : matplotlib Axes, optional
    label : str
        Column used for the row labels (with ``method`` appended when methods differ).
    labels : Labels or mapping, optional
        Display labels: terms are rendered by :func:`cohortlab.results.labels.format_term`
        (``C(size)[T.>50]`` -> ``"Tumour size: >50 vs <=20"``); without labels the terms
        lose their formula syntax only.
    reference : mapping, optional
        Reference levels of categorical factors (see
        :func:`cohortlab.results.labels.reference_levels`).
    """
    from .._typing import RATIO_MEASURES
    from ..results._format import measure_label

    d = frame.reset_index(drop=True)
    ax = axes(ax, (6.0, 0.45 * len(d) + 1.2))
    if label == "term" and "term" in d:
        from ..results.labels import format_terms

        d = d.assign(term=format_terms(d["term"].astype(str).tolist(), labels,
                                       reference=reference))
    labels = _row_labels(d, label)
    y = np.arange(len(d))[::-1]
    ratio = d["effect_measure"].isin(RATIO_MEASURES).all() if "effect_measure" in d else False
    est = d["estimate"].to_numpy(dtype=float)
    ax.errorbar(est, y,
                xerr=[est - d["conf_low"].to_numpy(dtype=float),
                      d["conf_high"].to_numpy(dtype=float) - est],
                fmt="o", color=COLORS[0], ecolor=COLORS[0], capsize=3, markersize=5)
    ax.axvline(1.0 if ratio else 0.0, color="#888", lw=0.8, ls="--")
    if ratio:
        ax.set_xscale("log")
        plain_log_axis(ax, "x")
    ax.set_yticks(y, labels)
    level = d["conf_level"].iloc[0] if "conf_level" in d and len(d) else 0.95
    measures = list(dict.fromkeys(d["effect_measure"])) if "effect_measure" in d else []
    what = measure_label(measures[0]) if len(measures) == 1 else "estimate"
    ax.set_xlabel(f"{what[:1].upper()}{what[1:]} ({100 * level:g}% CI)")
    style(ax)
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


@register("curve_plot")
def curve_plot(
    curve: Any,
    ax: Axes | None = None,
    *,
    ci: bool = True,
    risk_table: bool = False,
    times: Sequence[float] | np.ndarray | None = None,
    censor_marks: bool = True,
    ylim: tuple[float, float] | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    labels: Labels | Any = None,
) -> Axes:
    """Step curves of a :class:`~cohortlab.results.Curve`, optionally with numbers at risk.

    Each curve is a right-continuous step function (``where="post"``) starting at time 0 from
    1 (``measure="survival"``) or 0 (any other measure, e.g. ``"cumulative_incidence"``). Each
    group gets one colour and each cause one line style; confidence bands are drawn as steps
    too, and censoring times (rows with ``n_censor > 0``) get a ``"|"`` tick on the curve at
    its value there, as R's ``plot.survfit(mark.time = TRUE)``.

    Parameters
    ----------
    curve : Curve
        Survival or cumulative incidence curves in long format.
    ax : matplotlib Axes, optional
        Where to draw. Default: a new figure (taller when ``risk_table``).
    ci : bool
        Shade the pointwise confidence band (``conf_low`` to ``conf_high``).
    risk_table : bool
        Add a numbers-at-risk table under the plot, one row per group, in a second Axes that
        shares the x axis. With ``ax=None`` the figure is built with a grid of two rows; with
        a given ``ax``, the table Axes is carved out of the bottom of ``ax`` (which shrinks).
        The table Axes is returned as ``ax.risk_table_ax`` (``None`` without a table).
    times : sequence of float, optional
        Times of the table's columns (they also become the x ticks). Default: the major x
        ticks from 0 to the last time of the curves.
    censor_marks : bool
        Mark censoring times.
    ylim : (float, float), optional
        The y-axis limits; default ``(0, 1.02)``.
    xlabel, ylabel, title : str, optional
        Axis labels (default ``"time"`` and the measure) and a title.
    labels : Labels or mapping, optional
        Display labels: group names become arm names (``"hormon=1"`` -> "Hormonal
        therapy", see :func:`legend_label`); with ``time_unit`` and ``report_time_unit``
        the times are drawn in the report's unit (days -> years; ``times`` are then in that
        unit too) and the x axis says so.

    Returns
    -------
    matplotlib.axes.Axes
        The curves' Axes, with the attribute ``risk_table_ax``.

    Notes
    -----
    The number at risk at time ``t`` is ``n_risk`` of the curve's first row with time ``>= t``
    (the subjects still at risk just before ``t``, as R's ``summary(survfit, times = t,
    extend = TRUE)``), and 0 after the last time. The counts are the unweighted ``n_risk``
    column even for weighted curves (whose weighted counts live in extra columns such as
    ``n_risk_weighted``). An unknown ``n_risk`` (e.g. of an adjusted curve) shows as ``NA``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from cohortlab.results import Curve
    >>> data = pd.DataFrame({"time": [1.0, 2.0, 4.0], "group": "all", "cause": None,
    ...     "n_risk": [4, 3, 2], "n_event": [1, 1, 1], "n_censor": [0, 0, 1],
    ...     "estimate": [0.75, 0.5, 0.25], "std_error": [0.2, 0.25, 0.2],
    ...     "conf_low": [0.3, 0.15, 0.02], "conf_high": [0.95, 0.8, 0.6], "conf_level": 0.95})
    >>> km = Curve(data=data, measure="survival", method="kaplan_meier", n=4, n_events=3)
    >>> ax = curve_plot(km, risk_table=True, times=[0, 2, 3, 5])
    >>> [t.get_text() for t in ax.risk_table_ax.texts]
    ['4', '3', '2', '0']
    """
    func = "curve_plot"
    if len(curve.data) == 0:
        raise DataValidationError(
            f"{func}(): the curve has no rows; got an empty Curve. Estimate it on data with at "
            "least one subject."
        )
    lab = None
    if labels is not None:
        from dataclasses import replace

        from ..results.labels import as_labels

        lab = as_labels(labels)
        if lab.time_factor != 1.0:
            curve = replace(curve, data=curve.data.assign(
                time=lab.to_report_time(_floats(curve.data["time"]))))
        if xlabel is None and lab.report_unit:
            xlabel = lab.time_axis_label()
    at = _check_times(times, func)
    ylim = _check_limits(ylim, "ylim", func)
    group_keys = _group_keys(curve.data["group"])
    table_ax: Axes | None
    if risk_table and ax is None:
        ax, table_ax = _axes_with_table(len(group_keys))
    else:
        ax = axes(ax, (6.0, 4.0))
        table_ax = _table_axes_below(ax, len(group_keys)) if risk_table else None
    color_of = {k: COLORS[i % len(COLORS)] for i, k in enumerate(group_keys)}
    cause_keys = _group_keys(curve.data["cause"])
    style_of = {k: _LINESTYLES[i % len(_LINESTYLES)] for i, k in enumerate(cause_keys)}
    start = curve._start_value()
    t_max = 0.0
    for g, c, d in curve._curves():
        color, linestyle = color_of[_key(g)], style_of[_key(c)]
        t_data, est_data = _floats(d["time"]), _floats(d["estimate"])
        t = np.concatenate([[0.0], t_data])
        est = np.concatenate([[start], est_data])
        ax.step(t, est, where="post", color=color, ls=linestyle, label=_curve_label(g, c, lab),
                lw=1.6)
        if ci:
            lo = np.concatenate([[start], _floats(d["conf_low"])])
            hi = np.concatenate([[start], _floats(d["conf_high"])])
            ax.fill_between(t, lo, hi, step="post", color=color, alpha=0.18, lw=0)
        if censor_marks:
            cens = np.nan_to_num(_floats(d["n_censor"])) > 0
            ax.plot(t_data[cens], est_data[cens], ls="none", marker="|", ms=7, mew=1.1,
                    color=color)
        if t_data.size:
            t_max = max(t_max, float(np.nanmax(t_data)))
    ax.set_ylim(*(ylim if ylim is not None else (0.0, 1.02)))
    ax.set_xlabel("time" if xlabel is None else xlabel)
    ax.set_ylabel(curve.measure.replace("_", " ") if ylabel is None else ylabel)
    if title is not None:
        ax.set_title(title)
    if len(group_keys) > 1 or group_keys[0] is not None or cause_keys != [None]:
        ax.legend(frameon=False, fontsize=9)
    style(ax)
    ax.risk_table_ax = table_ax  # type: ignore[attr-defined]
    if table_ax is not None:
        _draw_risk_table(curve, ax, table_ax, at, t_max, group_keys, color_of, lab)
    return ax


def numbers_at_risk(curve: Any, times: Sequence[float] | np.ndarray) -> pd.DataFrame:
    """The numbers at risk of each group of a :class:`~cohortlab.results.Curve` at ``times``.

    Parameters
    ----------
    curve : Curve
    times : sequence of float
        Non-negative times.

    Returns
    -------
    pandas.DataFrame
        One row per group (index ``group``, in the curve's order), one float column per time:
        ``n_risk`` of the group's first row with time ``>= t`` (the subjects at risk just
        before ``t``), 0 after the group's last time, NaN where ``n_risk`` is unknown. The
        counts are the unweighted ``n_risk`` column; with several causes the group's risk set
        is the same for every cause.

    Examples
    --------
    >>> from cohortlab.results import Curve
    >>> data = pd.DataFrame({"time": [1.0, 2.0, 4.0, 1.5, 3.0], "group": ["a"] * 3 + ["b"] * 2,
    ...     "cause": None, "n_risk": [4, 3, 2, 5, 4], "n_event": 1, "n_censor": 0,
    ...     "estimate": [0.75, 0.5, 0.25, 0.8, 0.6], "std_error": 0.2, "conf_low": 0.1,
    ...     "conf_high": 0.9, "conf_level": 0.95})
    >>> numbers_at_risk(Curve(data=data), [0, 2, 3.5]).to_numpy().tolist()
    [[4.0, 3.0, 2.0], [5.0, 4.0, 0.0]]
    """
    at = _check_times(times, "numbers_at_risk")
    if at is None:
        raise DataValidationError(
            "numbers_at_risk(): times must be given; got None. Pass e.g. times=[0, 1, 2].")
    keys = _group_keys(curve.data["group"])
    rows = {k: _group_counts(d, at) for k, d in _by_group(curve.data)}
    labels = [_group_label(k) for k in keys]
    return pd.DataFrame([rows[k] for k in keys], index=pd.Index(labels, name="group"),
                        columns=pd.Index(at, name="time"))


# ---------------------------------------------------------------------- curve helpers
def _floats(s: pd.Series) -> np.ndarray:
    """A column as float64 (nullable <NA> and None become NaN)."""
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _key(value: Any) -> Any:
    """A hashable label, with every missing value (None, NaN, <NA>) as ``None``."""
    return None if pd.api.types.is_scalar(value) and pd.isna(value) else value


def _group_keys(col: pd.Series) -> list[Any]:
    """The distinct labels of a column in order of appearance, missing as ``None``."""
    return list(dict.fromkeys(_key(v) for v in col.unique()))


def _group_label(key: Any) -> str:
    return "all" if key is None else str(key)


def _curve_label(g: Any, c: Any, labels: Labels | None = None) -> str | None:
    g, c = _key(g), _key(c)
    gl = None if g is None else legend_label(g, labels)
    if c is None:
        return gl
    return f"cause {c}" if g is None else f"{gl}, cause {c}"


def _by_group(data: pd.DataFrame) -> list[tuple[Any, pd.DataFrame]]:
    return [(_key(g), d) for g, d in data.groupby("group", sort=False, dropna=False, observed=True)]


def _group_counts(d: pd.DataFrame, at: np.ndarray) -> np.ndarray:
    """One group's numbers at risk at ``at`` (its causes share the risk set)."""
    rows = pd.DataFrame({"time": _floats(d["time"]), "n_risk": _floats(d["n_risk"])})
    rows = rows.sort_values("time", kind="stable").drop_duplicates("time")
    return _risk_at(rows["time"].to_numpy(), rows["n_risk"].to_numpy(), at)


def _risk_at(time: np.ndarray, n_risk: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``n_risk`` of the first ``time >= t`` for each ``t`` in ``at``; 0 after the last time.

    ``time`` is sorted ascending.
    """
    idx = np.searchsorted(time, at, side="left")
    inside = idx < time.size
    out = np.zeros(at.size)
    out[inside] = n_risk[idx[inside]]
    return out


def _check_times(times: Any, func: str) -> np.ndarray | None:
    if times is None:
        return None
    try:
        if isinstance(times, str):
            raise TypeError
        at = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError):
        raise DataValidationError(
            f"{func}(): times must be numbers; got {times!r}. Pass e.g. times=[0, 1, 2]."
        ) from None
    if at.ndim != 1 or at.size == 0 or not np.all(np.isfinite(at)) or np.any(at < 0):
        raise DataValidationError(
            f"{func}(): times must be a non-empty list of finite numbers >= 0; got "
            f"{times!r}. Pass e.g. times=[0, 1, 2]."
        )
    return at


def _check_limits(lim: Any, name: str, func: str) -> tuple[float, float] | None:
    if lim is None:
        return None
    try:
        lo, hi = (math.nan, math.nan) if isinstance(lim, str) else (float(x) for x in lim)
    except (TypeError, ValueError):
        lo, hi = math.nan, math.nan
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise DataValidationError(
            f"{func}(): {name} must be a (low, high) pair of finite numbers with low < high; "
            f"got {lim!r}. Pass e.g. {name}=(0, 1)."
        )
    return lo, hi


# ---------------------------------------------------------------------- numbers at risk
_ROW_INCHES = 0.22  # height of one row of the numbers-at-risk table


def _axes_with_table(n_rows: int) -> tuple[Axes, Axes]:
    """A new figure: the curves on top, the numbers-at-risk table below (shared x axis)."""
    import matplotlib.pyplot as plt

    table_h = _ROW_INCHES * n_rows + 0.45
    fig = plt.figure(figsize=(6.0, 4.0 + table_h), layout="constrained")
    grid = fig.add_gridspec(2, 1, height_ratios=[4.0, table_h])
    ax = fig.add_subplot(grid[0])
    return ax, fig.add_subplot(grid[1], sharex=ax)


def _table_axes_below(ax: Axes, n_rows: int) -> Axes:
    """Carve the numbers-at-risk Axes out of the bottom of a given ``ax``."""
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    divider = make_axes_locatable(ax)
    return divider.append_axes("bottom", size=_ROW_INCHES * n_rows + 0.2, pad=0.75, sharex=ax)


def _draw_risk_table(curve: Any, ax: Axes, table_ax: Axes, at: np.ndarray | None,
                     t_max: float, group_keys: list[Any], color_of: dict[Any, str],
                     labels: Labels | None = None) -> None:
    from ..results._format import fmt_int, fmt_num

    if at is None:
        lo, hi = ax.get_xlim()
        ticks = ax.get_xticks()
        tol = 1e-9 * max(1.0, abs(t_max))
        at = ticks[(ticks >= max(0.0, lo) - tol) & (ticks <= min(t_max, hi) + tol)]
    else:
        lo, hi = ax.get_xlim()
        ax.set_xlim(min(lo, float(at.min())), max(hi, float(at.max())))
    ax.set_xticks(at)
    counts = dict(_by_group(curve.data))
    n = len(group_keys)
    for row, key in enumerate(group_keys):
        values = _group_counts(counts[key], at)
        color = color_of[key]
        for x, v in zip(at, values, strict=True):
            text = ("NA" if np.isnan(v) else
                    fmt_int(v) if float(v).is_integer() else fmt_num(float(v), 1))
            table_ax.text(x, row, text, ha="center", va="center", fontsize=9, color=color)
    table_ax.set_ylim(n - 0.5, -0.5)
    table_ax.set_yticks(np.arange(n), [legend_label(k, labels) if k is not None else "all"
                                       for k in group_keys])
    for label, key in zip(table_ax.get_yticklabels(), group_keys, strict=True):
        label.set_color(color_of[key])
    table_ax.tick_params(axis="y", length=0, labelsize=9)
    table_ax.tick_params(axis="x", which="both", bottom=False, labelbottom=False)
    for side in ("top", "right", "bottom", "left"):
        table_ax.spines[side].set_visible(False)
    table_ax.set_title("Number at risk", loc="left", fontsize=9)


@register("smd_plot")
def smd_plot(table: Any, ax: Axes | None = None, *, threshold: float = 0.1) -> Axes:
    """Absolute standardised mean differences per variable (a love plot) from a Table 1."""
    bal = table.balance[table.balance["level"] == ""].reset_index(drop=True)
    if bal["smd"].isna().all():
        raise ValueError("smd_plot(): the table has no SMDs; build it with by=<two groups>.")
    ax = axes(ax, (5.5, 0.32 * len(bal) + 1.3))
    y = np.arange(len(bal))[::-1]
    names = [table.labels.variable(v) for v in bal["variable"]]
    weighted = table.weights is not None
    if weighted:
        ax.scatter(bal["smd_unweighted"].abs(), y, marker="o", facecolors="none",
                   edgecolors=COLORS[1], label="unweighted", zorder=3)
    ax.scatter(bal["smd"].abs(), y, color=COLORS[0], label="weighted" if weighted else "SMD",
               zorder=3)
    ax.axvline(threshold, color="#888", lw=0.8, ls="--")
    ax.set_yticks(y, names)
    ax.set_xlabel("absolute standardised mean difference")
    ax.set_xlim(left=0)
    if weighted:
        ax.legend(frameon=False, fontsize=9)
    ax.grid(axis="y", color="#eee", lw=0.6)
    style(ax)
    return ax


@register("attrition_plot")
def attrition_plot(flow: Any, ax: Axes | None = None) -> Axes:
    """A vertical flow diagram: remaining rows per step, exclusions to the right."""
    d = flow.steps
    ax = axes(ax, (6.5, 1.1 * (len(d) + 1)))
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
                 bins: int = 40, label: str = "exposure", labels: Labels | Any = None) -> Axes:
    """Mirrored histograms of propensity scores: exposed above the axis, unexposed below.

    ``labels`` (a :class:`~cohortlab.results.labels.Labels` or mapping) names the two arms
    (its exposure arms, or the value labels of ``label``); default ``"<label> = 1"``/``0``.
    """
    from ..results.labels import as_labels

    lab = as_labels(labels)
    col = label if lab.has_values(label) or lab.exposure is None else lab.exposure
    arm1 = lab.arm(1, col) if labels is not None else f"{label} = 1"
    arm0 = lab.arm(0, col) if labels is not None else f"{label} = 0"
    ax = axes(ax, (6.0, 3.8))
    edges = np.linspace(0.0, 1.0, bins + 1)
    h1, _ = np.histogram(scores[exposure == 1], bins=edges)
    h0, _ = np.histogram(scores[exposure == 0], bins=edges)
    width = edges[1] - edges[0]
    ax.bar(edges[:-1], h1, width=width, align="edge", color=COLORS[0], alpha=0.8,
           label=arm1)
    ax.bar(edges[:-1], -h0, width=width, align="edge", color=COLORS[1], alpha=0.8,
           label=arm0)
    ax.axhline(0, color="#444", lw=0.8)
    ax.set_xlabel("propensity score")
    ax.set_ylabel("count")
    ax.set_yticks(ax.get_yticks(), [f"{abs(int(t))}" for t in ax.get_yticks()])
    ax.legend(frameon=False, fontsize=9)
    style(ax)
    return ax
