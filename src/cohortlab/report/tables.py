"""Publication tables: any result as a clinical table, and Table 1 before/after weighting.

:func:`table_parts` turns any result (``Estimate``, ``EstimateTable``, ``ModelResult``,
``Curve`` at chosen times, ``Table1``, ``Attrition``, ``Table2``, other cohortlab results, or a
DataFrame) into one :class:`TableParts`: a title, the formatted table as printed (strings,
with effects as ``"0.82 (0.70 to 0.96)"``), the numbers behind it (a numeric frame) and the
footnotes. The Word, Excel and HTML writers all start from it, so every format shows the
same table. :func:`table1_before_after` puts two Table 1s (before and after weighting or
matching) side by side.

Table 2 (effects across methods) lives in :mod:`cohortlab.report.table2` and the cell text
(:func:`ci_text`, ``MEASURE_ABBREVIATIONS``) in :mod:`cohortlab.report._cells`; both are
re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError
from ..results._format import (
    Renderable,
    ci_label,
    fmt_num,
    format_p,
    measure_label,
    method_label,
)
from ..results.curve import Curve
from ..results.estimate import Estimate, EstimateTable
from ..results.labels import Labels, as_labels, format_term, reference_levels
from ..results.model import ModelResult
from ..results.testresult import TestResult, TestTable
from ._cells import MEASURE_ABBREVIATIONS, _missing, ci_text
from .figures import legend_label
from .table2 import Table2, table2

__all__ = ["table2", "Table2", "TableParts", "table_parts", "table1_before_after",
           "MEASURE_ABBREVIATIONS"]

_TEXT_COLUMN = "estimate_ci"


@dataclass(frozen=True)
class TableParts:
    """One table ready to be written: title, formatted cells, numbers and footnotes.

    Attributes
    ----------
    title : str
        The table's title (the result's own title unless one was given).
    display : pandas.DataFrame
        The table as printed: every cell a string.
    numbers : pandas.DataFrame
        The numbers behind the table (the result's ``to_frame()``, numbers as numbers), with
        the formatted ``estimate_ci`` text column for effect tables.
    notes : tuple of str
        Footnotes: provenance (n, CI level and method), estimand, method, the result's notes.
    caption : str
        An optional caption written under the title.
    """

    title: str
    display: pd.DataFrame
    numbers: pd.DataFrame
    notes: tuple[str, ...] = ()
    caption: str = ""


# ---------------------------------------------------------------------- any result -> parts
def table_parts(
    obj: Any,
    *,
    title: str | None = None,
    caption: str | None = None,
    digits: int | None = None,
    times: Sequence[float] | None = None,
    labels: Labels | Mapping[str, Any] | None = None,
) -> TableParts:
    """Any cohortlab result (or a DataFrame) as a :class:`TableParts`.

    Parameters
    ----------
    obj : Estimate, EstimateTable, ModelResult, Curve, TestResult, TestTable, Table1, ...
        What to tabulate (also Attrition, Table2 or a DataFrame); tests show as Term,
        Chi-square, df, p-value. Any other cohortlab result with ``to_frame()`` works too. A
        curve is summarised at ``times`` (default: about five round times over its follow-up).
    title, caption : str, optional
        Replace the result's own title; add a caption.
    digits : int, optional
        Decimals (default: 2 for ratios, else the result's own: 3 for effects, 1 for
        Table 1).
    times : sequence of float, optional
        For a ``Curve``: the times at which to read the curves off.
    labels : Labels or mapping, optional
        Display labels (:class:`cohortlab.Labels`): effect terms are shown through
        :func:`cohortlab.results.labels.format_term` (always without formula syntax; with
        variable and value labels when given), curve groups as arm names, a DataFrame's
        column names and coded values are labelled, and a Table 1 or Table 2 gets these
        (its own labels win). The numbers are never changed.

    Examples
    --------
    >>> est = Estimate.from_model_scale("statin", np.log(0.8), 0.1,
    ...     effect_measure="hazard_ratio", method="cox", n=500)
    >>> parts = table_parts(est)
    >>> parts.display.iloc[0].tolist()
    ['statin', '0.80 (0.66 to 0.97)', '0.026']
    >>> list(parts.display.columns)
    ['Term', 'HR (95% CI)', 'p-value']
    """
    lab = None if labels is None else as_labels(labels)
    if lab is not None and isinstance(getattr(obj, "labels", None), Labels):
        obj = replace(obj, labels=lab.merge(obj.labels))
    if isinstance(obj, Curve):
        parts = _curve_parts(obj, digits, times, lab)
    elif isinstance(obj, ModelResult):
        tab = obj.coef_table()
        parts = _effect_parts(tab.rows, obj._title(), list(obj._footer()),
                              _effect_digits(tab.rows, obj._digits, digits), lab,
                              model_references(obj))
    elif isinstance(obj, Estimate) or (
            # a table subclass with its own layout (SubgroupResult) renders as itself below
            isinstance(obj, EstimateTable)
            and type(obj)._display_frame is EstimateTable._display_frame):
        rows = (obj,) if isinstance(obj, Estimate) else obj.rows
        parts = _effect_parts(rows, obj._title(), list(obj._footer()),
                              _effect_digits(rows, obj._digits, digits), lab)
    elif isinstance(obj, (TestResult, TestTable)):
        parts = _test_parts(obj)
    elif isinstance(obj, pd.DataFrame):
        parts = _frame_parts(obj, 3 if digits is None else digits, lab)
    elif isinstance(obj, Renderable):
        d = obj._digits if digits is None else digits
        numbers = obj.to_frame() if hasattr(obj, "to_frame") else pd.DataFrame()
        parts = TableParts(title=obj._title(), display=obj._display_frame(d).astype(str),
                           numbers=numbers, notes=tuple(obj._footer()))
    else:
        raise TypeError(
            f"table_parts(): cannot make a table of a {type(obj).__name__}; pass a cohortlab "
            "result (Estimate, EstimateTable, ModelResult, Curve, Table1, Attrition, Table2) "
            "or a pandas DataFrame."
        )
    return TableParts(
        title=parts.title if title is None else title,
        display=parts.display.reset_index(drop=True),
        numbers=parts.numbers.reset_index(drop=True),
        notes=tuple(n for n in parts.notes if n),
        caption=caption or "",
    )



def _test_parts(obj: TestResult | TestTable) -> TableParts:
    """Tests as Term, Chi-square, df, p-value: a test has no estimate and no interval."""
    rows = (obj,) if isinstance(obj, TestResult) else obj.rows
    display = pd.DataFrame({
        "Term": ["Global test" if r.term == "GLOBAL" else r.term for r in rows],
        "Chi-square": [f"{r.statistic:.2f}" for r in rows],
        "df": [f"{r.df:g}" for r in rows],
        "p-value": [format_p(r.p_value) for r in rows],
    })
    return TableParts(title=obj._title(), display=display, numbers=obj.to_frame(),
                      notes=tuple(obj._footer()))

def _effect_digits(rows: Sequence[Estimate], default: int, digits: int | None) -> int:
    """Decimals: as asked; else 2 when every row is a ratio (clinical style), else the default."""
    if digits is not None:
        return digits
    return 2 if rows and all(r.is_ratio for r in rows) else default


def _effect_header(rows: Sequence[Estimate]) -> str:
    measures = {r.effect_measure for r in rows}
    levels = {r.conf_level for r in rows}
    level = f"{100 * next(iter(levels)):g}% CI" if len(levels) == 1 else "CI"
    if len(measures) == 1:
        abbr = MEASURE_ABBREVIATIONS.get(next(iter(measures)), "")
        if abbr:
            return f"{abbr} ({level})"
    return f"Estimate ({level})"


def model_references(model: ModelResult) -> dict[str, Any]:
    """Reference levels of a model's categorical factors, when its design is at hand."""
    state = getattr(model, "state", None)
    try:
        state = state() if callable(state) else state
    except Exception:  # noqa: BLE001 - display only: no reference levels then
        return {}
    design = getattr(state, "design", None) or getattr(model, "design", None)
    spec = getattr(design, "spec", None)
    return reference_levels(spec) if spec is not None else {}


def _effect_parts(rows: Sequence[Estimate], title: str, footer: list[str],
                  digits: int, labels: Labels | None = None,
                  reference: Mapping[str, Any] | None = None) -> TableParts:
    """Clinical layout: labels, one ``estimate (low to high)`` column, the p-value."""
    rows = list(rows)
    label_keys = list(dict.fromkeys(k for r in rows for k in r.labels))
    show_method = len({r.method for r in rows}) > 1
    show_ci = len({r.ci_method for r in rows}) > 1
    show_estimand = len({r.estimand for r in rows}) > 1
    show_measure = len({r.effect_measure for r in rows}) > 1
    header = _effect_header(rows)
    recs = []
    for r in rows:
        rec: dict[str, str] = {"Term": format_term(r.term, labels, reference=reference)}
        for k in label_keys:
            v = r.labels.get(k, "")
            if isinstance(v, float):
                v = f"{v:g}" if k == "time" else fmt_num(v, 3 if digits is None else digits)
            elif k == "group" and labels is not None:
                v = legend_label(v, labels)
            rec[k.replace("_", " ").capitalize()] = str(v)
        if show_method:
            rec["Method"] = method_label(r.method)
        if show_estimand:
            rec["Estimand"] = r.estimand or ""
        if show_measure:
            rec["Measure"] = measure_label(r.effect_measure)
        if show_ci:
            rec["CI method"] = ci_label(r.ci_method)
        rec[header] = ci_text(r.estimate, r.conf_low, r.conf_high, digits,
                              measure=r.effect_measure, p_value=r.p_value)
        rec["p-value"] = format_p(r.p_value)
        recs.append(rec)
    display = pd.DataFrame(recs, columns=list(recs[0]) if recs else ["Term", header, "p-value"])
    if display["p-value"].eq("").all():
        display = display.drop(columns="p-value")
    numbers = EstimateTable(rows=tuple(rows)).to_frame()
    numbers[_TEXT_COLUMN] = display[header].to_numpy() if len(rows) else []
    notes = list(footer)
    if rows:
        desc = []
        if not show_method and rows[0].method:
            desc.append(f"Method: {method_label(rows[0].method)}")
        if not show_estimand and rows[0].estimand:
            desc.append(f"estimand: {rows[0].estimand}")
        if not show_measure:
            m = measure_label(rows[0].effect_measure)
            if rows[0].is_ratio:
                m += " (natural scale; CI computed on the log scale)"
            desc.append(f"effect measure: {m}")
        if desc:
            notes.insert(0, "; ".join(desc) + ".")
        if display.columns[-1] == "p-value":
            notes.append("p-values test no effect (0 for differences, 1 for ratios).")
    return TableParts(title=title, display=display, numbers=numbers, notes=tuple(notes))


def default_times(curve: Curve, n: int = 5) -> list[float]:
    """About ``n`` round times within a curve's follow-up (the pretty axis ticks).

    Examples
    --------
    >>> data = pd.DataFrame({"time": [3.0, 47.0], "group": "all", "cause": None,
    ...     "n_risk": [2, 1], "n_event": [1, 1], "n_censor": [0, 0], "estimate": [0.5, 0.0],
    ...     "std_error": [0.3, 0.0], "conf_low": [0.1, 0.0], "conf_high": [0.9, 0.0],
    ...     "conf_level": 0.95})
    >>> default_times(Curve(data=data))
    [10.0, 20.0, 30.0, 40.0]
    """
    tmax = float(np.nanmax(curve.data["time"].to_numpy(dtype=float)))
    if not np.isfinite(tmax) or tmax <= 0:
        return [tmax] if np.isfinite(tmax) else []
    raw = tmax / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    k = np.arange(1, int(math.floor(tmax / step + 1e-9)) + 1)
    return [float(v) for v in np.round(k * step, 10)]


def _curve_parts(curve: Curve, digits: int | None, times: Sequence[float] | None,
                 labels: Labels | None = None) -> TableParts:
    at = list(times) if times is not None else default_times(curve)
    tab = curve.at(at)
    d = curve._digits if digits is None else digits
    parts = _effect_parts(tab.rows, f"{curve._title()} at times {', '.join(f'{t:g}' for t in at)}",
                          list(curve._footer()), d, labels)
    # the effect columns of a curve are the curve values, not effects: no p-values
    display = parts.display.drop(columns=[c for c in ("p-value", "Term")
                                          if c in parts.display.columns])
    display = display.rename(columns={display.columns[-1]: f"{measure_label(curve.measure)} "
                                      f"({100 * curve.conf_level:g}% CI)"})
    notes = tuple(n for n in parts.notes if not n.startswith("p-values test"))
    return TableParts(title=parts.title, display=display, numbers=parts.numbers, notes=notes)


def _frame_parts(frame: pd.DataFrame, digits: int, labels: Labels | None = None) -> TableParts:
    cols = set(frame.columns)
    if {"term", "estimate", "conf_low", "conf_high"} <= cols:  # a tidy frame
        rows = []
        for rec in frame.to_dict("records"):
            kw = {k: rec[k] for k in ("estimate", "std_error", "conf_low", "conf_high",
                                      "conf_level", "p_value", "statistic")
                  if k in rec and not _missing(rec[k])}
            for k in ("estimand", "effect_measure", "method", "ci_method"):
                if k in rec and isinstance(rec[k], str):
                    kw[k] = rec[k]
            rows.append(Estimate(term=str(rec["term"]), **kw))
        parts = _effect_parts(rows, "", [], digits, labels)
        numbers = frame.copy()
        numbers[_TEXT_COLUMN] = parts.numbers[_TEXT_COLUMN].to_numpy()
        return TableParts(title="", display=parts.display, numbers=numbers, notes=parts.notes)
    display = frame.copy()
    for c in display.columns:
        col = display[c]
        if pd.api.types.is_bool_dtype(col):
            display[c] = col.astype(str)
        elif pd.api.types.is_integer_dtype(col):
            display[c] = [fmt_num(int(v)) if not _missing(v) else "" for v in col]
        elif pd.api.types.is_float_dtype(col):
            display[c] = [fmt_num(float(v), digits) for v in col]
        else:
            display[c] = ["" if _missing(v) else str(v) for v in col]
        if labels is not None and labels.has_values(c):
            display[c] = [labels.value(c, v) if not _missing(v) else ""
                          for v in frame[c].tolist()]
    display.columns = [labels.variable(c) if labels is not None else str(c)
                       for c in display.columns]
    return TableParts(title="", display=display.reset_index(drop=True), numbers=frame.copy())


# ---------------------------------------------------------------------- Table 1 before/after
def _row_keys(display: pd.DataFrame) -> list[tuple[str, str]]:
    """(variable heading, level) of each printed Table 1 row; level rows carry their heading."""
    keys, current = [], ""
    for var, level in zip(display["Variable"], display["Level"], strict=True):
        if var:
            current = "n" if var in ("n", "n (weighted)") else var
        keys.append((current, level))
    return keys


def table1_before_after(
    before: Any,
    after: Any,
    *,
    labels: tuple[str, str] = ("Unweighted", "Weighted"),
    title: str | None = None,
    digits: int | None = None,
) -> TableParts:
    """Two Table 1s side by side: the cohort before and after weighting (or matching).

    The group columns of each table are prefixed by its label and the SMDs of both are shown;
    the rows are matched by variable and level (the ``n`` row of the weighted columns is the
    sum of the weights). The result is a :class:`TableParts` that
    ``Report.add_table``, ``to_docx`` and ``to_excel`` accept; its numbers stack both
    tables' ``to_frame()`` with a ``weighting`` column.

    Parameters
    ----------
    before, after : Table1
        The same variables described without and with weights (same ``by``).
    labels : (str, str)
        Prefixes of the two sets of columns.
    title : str, optional
        Default: ``"Table 1 by <by>, <labels[0]> and <labels[1]>"``.
    digits : int, optional
        Decimals (default 1).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from cohortlab.describe.table1 import table1
    >>> d = pd.DataFrame({"x": [0, 0, 1, 1], "age": [40.0, 50, 60, 70], "w": [1, 2, 2, 1]})
    >>> both = table1_before_after(table1(d, by="x", columns=["age"]),
    ...                            table1(d, by="x", columns=["age"], weights="w"))
    >>> list(both.display.columns)[2:6]
    ['Unweighted: x = 0', 'Unweighted: x = 1', 'Weighted: x = 0', 'Weighted: x = 1']
    >>> list(both.display.columns)[6:]
    ['SMD, unweighted', 'SMD, weighted', 'Missing']
    """
    from ..describe.table1 import Table1

    for name, t in (("before", before), ("after", after)):
        if not isinstance(t, Table1):
            raise TypeError(f"table1_before_after(): {name} must be a Table1; got "
                            f"{type(t).__name__}. Pass the results of cl.table1().")
    if before.by != after.by or list(before.kinds) != list(after.kinds):
        raise DataValidationError(
            f"table1_before_after(): the two tables must describe the same variables by the "
            f"same group in before/after; got by={before.by!r} with {list(before.kinds)} and "
            f"by={after.by!r} with {list(after.kinds)}. Call table1() twice with the same "
            "by= and columns=."
        )
    d = 1 if digits is None else digits
    b, a = before.table(d), after.table(d)
    a = a[a["Variable"] != "n (unweighted)"].reset_index(drop=True)
    a_idx = {k: i for i, k in enumerate(_row_keys(a))}
    groups = [c for c in b.columns if c not in ("Variable", "Level", "SMD", "SMD (unweighted)",
                                                "Missing", "Overall")]
    out = b[["Variable", "Level"]].copy()
    rows = [a_idx.get(k) for k in _row_keys(b)]
    for lab, frame, idx in ((labels[0], b, None), (labels[1], a, rows)):
        for g in groups:
            col = frame[g] if g in frame.columns else pd.Series([""] * len(frame))
            vals = col.tolist() if idx is None else [col.iloc[i] if i is not None else ""
                                                     for i in idx]
            out[f"{lab}: {g}"] = vals
    for lab, frame, idx in ((labels[0], b, None), (labels[1], a, rows)):
        if "SMD" in frame.columns:
            col = frame["SMD"]
            out[f"SMD, {lab.lower()}"] = (col.tolist() if idx is None else
                                          [col.iloc[i] if i is not None else "" for i in idx])
    if "Missing" in b.columns:
        out["Missing"] = b["Missing"].tolist()
    numbers = pd.concat([before.to_frame().assign(weighting=labels[0]),
                         after.to_frame().assign(weighting=labels[1])], ignore_index=True)
    notes = tuple(dict.fromkeys([*after._footer(), *before._footer()]))
    by = f" by {before.by}" if before.by else ""
    return TableParts(title=title or f"Table 1{by}, {labels[0].lower()} and "
                      f"{labels[1].lower()}", display=out, numbers=numbers, notes=notes)

