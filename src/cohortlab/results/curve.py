"""``Curve``: survival or cumulative incidence curves in long format."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._typing import CIMethod, ConfType, EffectMeasure
from ._format import Renderable, ci_label, count_bits, fmt_int, fmt_num, measure_label, method_label
from ._hooks import hook
from ._schema import CURVE_COLUMNS
from .dropped import Dropped
from .estimate import Estimate, EstimateTable

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Curve"]

_TOL = math.sqrt(np.finfo(float).eps)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Curve(Renderable):
    """Step-function estimates over time, one curve per group (and cause).

    ``data`` holds one row per distinct time per curve with the columns of
    :data:`~cohortlab.results._schema.CURVE_COLUMNS`: ``time, group, cause, n_risk, n_event,
    n_censor, estimate, std_error, conf_low, conf_high, conf_level``. ``std_error`` is the
    standard error of ``estimate`` on its natural scale; the interval was computed on the
    ``conf_type`` scale.

    Examples
    --------
    >>> data = pd.DataFrame({"time": [1.0, 2.0, 4.0], "group": "all", "cause": None,
    ...     "n_risk": [4, 3, 2], "n_event": [1, 1, 1], "n_censor": [0, 0, 1],
    ...     "estimate": [0.75, 0.5, 0.25], "std_error": [0.2, 0.25, 0.2],
    ...     "conf_low": [0.3, 0.15, 0.02], "conf_high": [0.95, 0.8, 0.6], "conf_level": 0.95})
    >>> km = Curve(data=data, measure="survival", method="kaplan_meier", n=4, n_events=3)
    >>> km.at([3.0]).to_frame()["estimate"].tolist()
    [0.5]
    >>> km.median().to_frame()[["estimate", "conf_low", "conf_high"]].values.tolist()
    [[3.0, 1.0, nan]]
    """

    data: pd.DataFrame
    measure: EffectMeasure = "survival"
    method: str = ""
    conf_type: ConfType = "log-log"
    conf_level: float = 0.95
    ci_method: CIMethod = "wald"
    n: int | None = None
    n_events: int | None = None
    estimand: str | None = None
    weighted: bool = False
    dropped: Dropped = field(default_factory=Dropped)
    notes: tuple[str, ...] = ()
    diagnostics: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        missing = [c for c in CURVE_COLUMNS if c not in self.data.columns]
        if missing:
            raise ValueError(f"Curve(): data lacks the columns {missing}.")
        extra = [c for c in self.data.columns if c not in CURVE_COLUMNS]
        frame = self.data[list(CURVE_COLUMNS) + extra]
        keys = ["group", "cause", "time"]
        # the estimators build their frames in this order: when every pair of adjacent rows
        # is already ordered by the keys, the stable sort would change nothing (O(n) check)
        in_order, tied = True, np.ones(max(len(frame) - 1, 0), dtype=bool)
        try:
            for key in keys:
                col = frame[key]
                if isinstance(col.dtype, pd.CategoricalDtype):
                    col = col.cat.codes  # the sort follows the category order
                v = col.to_numpy()
                eq = np.asarray(v[:-1] == v[1:], dtype=bool)
                at = np.flatnonzero(tied & ~eq)  # the adjacent pairs this key orders
                in_order = bool(np.all(v[at] < v[at + 1]))  # NaN: False, so sorted below
                if not in_order:
                    break
                tied &= eq
        except TypeError:  # None or mixed types next to other values: the sort decides
            in_order = False
        if not in_order:
            frame = frame.sort_values(keys, kind="stable", na_position="first")
        object.__setattr__(self, "data", frame.reset_index(drop=True))

    # ------------------------------------------------------------------ access
    @property
    def groups(self) -> list[Any]:
        """The curve labels, in order of appearance."""
        return list(dict.fromkeys(self.data["group"].tolist()))

    def _curves(self) -> list[tuple[Any, Any, pd.DataFrame]]:
        grouped = self.data.groupby(["group", "cause"], sort=False, dropna=False, observed=True)
        return [(g, c, d) for (g, c), d in grouped]

    def _start_value(self) -> float:
        return 1.0 if self.measure == "survival" else 0.0

    def to_frame(self) -> pd.DataFrame:
        """The curves in long format (a copy)."""
        return self.data.copy()

    def at(self, times: Sequence[float] | float) -> EstimateTable:
        """The curves' values at given times (last step at or before each time).

        Before the first time the value is the starting value (1 for survival, 0 for
        incidence) with zero SE; after the last follow-up time of a curve it is NaN and noted.
        """
        grid = np.atleast_1d(np.asarray(times, dtype=float))
        rows, notes = [], []
        start = self._start_value()
        for g, c, d in self._curves():
            t = d["time"].to_numpy()
            pos = np.searchsorted(t, grid, side="right") - 1
            for tt, p in zip(grid, pos, strict=True):
                labels = {"group": g, "time": float(tt)}
                if pd.notna(c):
                    labels["cause"] = c
                if tt > t[-1] + _TOL:
                    notes.append(f"time {tt:g} is after the last follow-up ({t[-1]:g}) of {g}")
                    vals: dict[str, Any] = dict(estimate=math.nan, std_error=math.nan,
                                                conf_low=math.nan,
                                conf_high=math.nan)
                elif p < 0:
                    vals = dict(estimate=start, std_error=0.0, conf_low=start, conf_high=start)
                else:
                    r = d.iloc[p]
                    keys = ("estimate", "std_error", "conf_low", "conf_high")
                    vals = {k: float(r[k]) for k in keys}
                rows.append(Estimate(
                    term=f"{measure_label(self.measure)} at {tt:g}", conf_level=self.conf_level,
                    effect_measure=self.measure, method=self.method, ci_method=self.ci_method,
                    ci_scale=self.conf_type, estimand=self.estimand, n=self.n,
                    n_events=self.n_events, labels=labels, **vals,
                ))
        return EstimateTable(rows=tuple(rows), title=self._title(), dropped=self.dropped,
                             notes=self.notes + tuple(notes))

    def quantile(self, p: float = 0.5) -> EstimateTable:
        """Time at which the curve first reaches ``1 - p`` (survival) or ``p`` (incidence).

        The interval is the same crossing read off the confidence band (as R's
        ``quantile.survfit``): the lower limit where ``conf_low`` crosses for survival. Where
        the curve is exactly at the level over an interval, the midpoint of that interval is
        used, as R does. Times never reached are NaN.
        """
        rows = []
        for g, c, d in self._curves():
            t = d["time"].to_numpy()
            if self.measure == "survival":
                level = 1.0 - p
                est = _crossing(t, d["estimate"].to_numpy(), level, below=True)
                lo = _crossing(t, d["conf_low"].to_numpy(), level, below=True)
                hi = _crossing(t, d["conf_high"].to_numpy(), level, below=True)
            else:
                level = p
                est = _crossing(t, d["estimate"].to_numpy(), level, below=False)
                lo = _crossing(t, d["conf_high"].to_numpy(), level, below=False)
                hi = _crossing(t, d["conf_low"].to_numpy(), level, below=False)
            labels = {"group": g}
            if pd.notna(c):
                labels["cause"] = c
            rows.append(Estimate(
                term="median" if p == 0.5 else f"quantile {p:g}", estimate=est, conf_low=lo,
                conf_high=hi, conf_level=self.conf_level, effect_measure="quantile",
                method=self.method, ci_method="curve_band",
                estimand=self.estimand, n=self.n, n_events=self.n_events, labels=labels,
            ))
        return EstimateTable(rows=tuple(rows), title=f"{self._title()}: time to {p:g}",
                             dropped=self.dropped, notes=self.notes)

    def median(self) -> EstimateTable:
        """Median time with its interval; see :meth:`quantile`."""
        return self.quantile(0.5)

    # ------------------------------------------------------------------ rendering
    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        d = self.data
        keep = ["time", "group", "n_risk", "n_event", "n_censor", "estimate", "std_error",
                "conf_low", "conf_high"]
        if d["cause"].notna().any():
            keep.insert(2, "cause")
        out = d[keep].copy().astype(object)
        for col in ("n_risk", "n_event", "n_censor"):
            out[col] = [fmt_num(float(v), 1) if self.weighted else fmt_int(v) for v in d[col]]
        for col in ("time", "estimate", "std_error", "conf_low", "conf_high"):
            out[col] = [fmt_num(float(v), digits) for v in d[col]]
        return out.reset_index(drop=True)

    def summary(self, digits: int | None = None, max_rows: int = 20) -> str:
        """Title, the first and last rows of each curve, and provenance."""
        text = super().summary(digits)
        lines = text.splitlines()
        if len(lines) > max_rows + 4:
            head = lines[: max_rows // 2 + 2]
            tail = lines[-(max_rows // 2 + len(self._footer())):]
            lines = [*head, f"... ({len(self.data):,} rows; see to_frame())", *tail]
        return "\n".join(lines)

    def _title(self) -> str:
        bits = [method_label(self.method),
                measure_label(self.measure), f"{len(self.groups)} curve(s)"]
        return " · ".join(b for b in bits if b)

    def _footer(self) -> list[str]:
        bits = [*count_bits(self.n, self.dropped, self.n_events),
                f"{100 * self.conf_level:g}% CI, {ci_label(self.ci_method)}, {self.conf_type}"]
        if self.weighted:
            bits.append("weighted estimates (n_risk/n_event/n_censor unweighted; weighted "
                        "counts in n_*_weighted)")
        return [" · ".join(b for b in bits if b), *self.notes]

    def to_docx(self, path: Any = None, *, title: str | None = None, caption: str | None = None,
                digits: int | None = None, times: Sequence[float] | None = None) -> Any:
        """The curves read off at ``times`` (default: about five round times) as a Word table.

        See :func:`cohortlab.report.docx.to_docx`; returns the path, or the Document if None.
        """
        return hook("to_docx")(self, path, title=title, caption=caption, digits=digits, times=times)

    def to_excel(self, path: Any, *, digits: int | None = None,
                 times: Sequence[float] | None = None) -> Any:
        """The curves read off at ``times`` in an .xlsx workbook; see ``report.excel.to_excel``."""
        return hook("to_excel")(self, path, digits=digits, times=times)

    def plot(self, ax: Axes | None = None, *, ci: bool = True, risk_table: bool = False,
             **kwargs: Any) -> Axes:
        """Step curves with confidence bands, optionally a numbers-at-risk table; the Axes.

        Forwards to :func:`cohortlab.report.figures.curve_plot`; ``kwargs`` are its other
        keywords (``times``, ``censor_marks``, ``ylim``, ``xlabel``, ``ylabel``, ``title``).
        With ``risk_table=True`` the table's Axes is ``ax.risk_table_ax``.
        """
        return hook("curve_plot")(self, ax=ax, ci=ci, risk_table=risk_table, **kwargs)


def _crossing(t: np.ndarray, y: np.ndarray, level: float, *, below: bool) -> float:
    """First time the step function ``y`` reaches ``level`` (R's midpoint rule on a flat hit)."""
    t_last, y_last = t[-1], y[-1]
    ok = np.isfinite(y)
    t, y = t[ok], y[ok]
    hit = (y <= level + _TOL) if below else (y >= level - _TOL)
    idx = np.flatnonzero(hit)
    if idx.size == 0:
        return math.nan
    i = idx[0]
    if abs(y[i] - level) < _TOL:
        nxt = np.flatnonzero(np.abs(y[i:] - level) >= _TOL)
        if nxt.size:
            return float((t[i] + t[i + nxt[0]]) / 2.0)
        # flat at the level to the end of the curve: R takes the midpoint with the last time
        return float((t[i] + t_last) / 2.0) if np.isfinite(y_last) else math.nan
    return float(t[i])
