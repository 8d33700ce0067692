"""Excel (.xlsx) workbooks through openpyxl: one sheet per table, and a notes sheet.

Each sheet starts with its header in row 1 so that ``pandas.read_excel`` reads it back.
Effect tables (estimates, models, curves read off at times, Table 2's tidy frame) hold the
numbers of ``to_frame()`` as numbers plus the formatted ``estimate_ci`` text column;
descriptive tables (Table 1, the cohort flow) hold the table as printed, cells that are plain
numbers written as numbers, and a second ``... data`` sheet with their numeric ``to_frame()``
(up to :data:`MAX_DATA_ROWS` rows).
The ``Notes`` sheet lists each sheet's title, caption and footnotes (and the provenance).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..results._hooks import register
from .tables import TableParts, table_parts

__all__ = ["to_excel", "write_workbook"]

_BAD_CHARS = re.compile(r"[\[\]:*?/\\]")
_PLAIN_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")
_TEXT_COLUMN = "estimate_ci"
#: Widest column, in Excel character units (longer text wraps at spaces).
_MAX_WIDTH = 60
#: Numeric frames longer than this (e.g. per-subject propensity scores) are not written.
MAX_DATA_ROWS = 100_000


def _import_openpyxl() -> Any:
    try:
        import openpyxl
    except ImportError as err:  # pragma: no cover - openpyxl is a dependency
        raise ImportError(
            "Excel output needs openpyxl: pip install 'cohortlab[report]' (or openpyxl)."
        ) from err
    return openpyxl


def _sheet_name(name: str, used: set[str]) -> str:
    base = _BAD_CHARS.sub("-", name).strip("'").strip() or "Table"
    base = base[:31]
    out, k = base, 2
    while out.lower() in used:
        suffix = f" ({k})"
        out = base[: 31 - len(suffix)] + suffix
        k += 1
    used.add(out.lower())
    return out


def _cell_value(v: Any) -> Any:
    """A value openpyxl can store: numbers as numbers, missing as empty, the rest as text."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        f = float(v)
        return None if math.isnan(f) else (f if math.isfinite(f) else str(f))
    if isinstance(v, (str, pd.Timestamp)):
        return v if isinstance(v, str) else v.to_pydatetime()
    return str(v)


def _display_value(v: Any) -> Any:
    """A printed cell: a plain number ("1,566", "0.123") as a number, else the text."""
    s = "" if v is None else str(v)
    if s.strip() and _PLAIN_NUMBER.match(s.strip()):
        num = float(s.replace(",", ""))
        return int(num) if num.is_integer() and "." not in s else num
    return s


def _write_frame(ws: Any, frame: pd.DataFrame, *, display: bool = False) -> None:
    from openpyxl.styles import Alignment, Border, Font, Side

    bold = Font(bold=True)
    rule = Border(bottom=Side(style="thin"))
    convert = _display_value if display else _cell_value
    for j, name in enumerate(frame.columns, start=1):
        cell = ws.cell(row=1, column=j, value=str(name))
        cell.font = bold
        cell.border = rule
    for i, rec in enumerate(frame.itertuples(index=False), start=2):
        for j, v in enumerate(rec, start=1):
            cell = ws.cell(row=i, column=j, value=convert(v))
            if isinstance(cell.value, float) and not display:
                cell.number_format = "0.000###"
            if isinstance(cell.value, str) and display:
                cell.alignment = Alignment(horizontal="left")
    for j, name in enumerate(frame.columns, start=1):
        texts = [str(name)] + ["" if v is None else str(v)
                               for v in frame.iloc[:, j - 1].head(200)]
        line = max(len(t) for t in texts)
        word = max((len(w) for t in texts for w in t.split()), default=0)
        # never narrower than the longest word (no word broken); long text wraps at spaces
        width = max(min(max(line + 2, 8), _MAX_WIDTH), word + 2)
        letter = ws.cell(row=1, column=j).column_letter
        ws.column_dimensions[letter].width = width
        if line + 2 > width:
            for row in ws.iter_rows(min_row=1, max_row=ws.max_row, min_col=j, max_col=j):
                for cell in row:
                    cell.alignment = Alignment(wrap_text=True, vertical="top",
                                               horizontal=cell.alignment.horizontal)
    ws.freeze_panes = "A2"


def write_workbook(
    tables: Sequence[tuple[str, TableParts]],
    path: str | Path,
    *,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write named :class:`~cohortlab.report.tables.TableParts` to one workbook.

    Parameters
    ----------
    tables : sequence of (name, TableParts)
        Sheet names (shortened to Excel's 31 characters and made unique) and tables.
    path : str or Path
        The .xlsx file to write.
    metadata : mapping, optional
        Provenance (package version, date, seed, data hash) listed first on the Notes sheet.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    openpyxl = _import_openpyxl()
    from openpyxl.styles import Font

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    used = {"notes"}
    note_rows: list[tuple[str, str, str]] = []
    for name, parts in tables:
        effect = _TEXT_COLUMN in parts.numbers.columns
        sheet = _sheet_name(name, used)
        ws = wb.create_sheet(sheet)
        if effect:
            _write_frame(ws, parts.numbers)
        else:
            _write_frame(ws, parts.display, display=True)
        note_rows.append((sheet, "title", parts.title))
        if parts.caption:
            note_rows.append((sheet, "caption", parts.caption))
        if not effect and len(parts.numbers) > MAX_DATA_ROWS:
            note_rows.append((sheet, "data", f"the {len(parts.numbers):,} rows of to_frame() "
                              f"are more than {MAX_DATA_ROWS:,}: not written; save them with "
                              "to_frame().to_csv() or .to_parquet()"))
        elif not effect and not parts.numbers.empty:
            data_sheet = _sheet_name(f"{sheet[:26]} data", used)
            _write_frame(wb.create_sheet(data_sheet), parts.numbers)
            note_rows.append((sheet, "data", f"numbers behind the table: sheet '{data_sheet}'"))
        note_rows += [(sheet, "note", n) for n in parts.notes]
    ws = wb.create_sheet("Notes")
    bold = Font(bold=True)
    r = 1
    if metadata:
        ws.cell(row=r, column=1, value="Provenance").font = bold
        r += 1
        for k, v in metadata.items():
            ws.cell(row=r, column=1, value=str(k))
            ws.cell(row=r, column=2, value=str(v))
            r += 1
        r += 1
    for j, head in enumerate(("sheet", "kind", "text"), start=1):
        ws.cell(row=r, column=j, value=head).font = bold
    for rec in note_rows:
        r += 1
        for j, v in enumerate(rec, start=1):
            ws.cell(row=r, column=j, value=v)
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["C"].width = 100
    out = Path(path)
    wb.save(str(out))
    return out


@register("to_excel")
def to_excel(
    tables: Any,
    path: str | Path,
    *,
    digits: int | None = None,
    times: Sequence[float] | None = None,
    metadata: Mapping[str, str] | None = None,
    labels: Any = None,
) -> Path:
    """Write one or several results to an .xlsx workbook, one sheet per table.

    Parameters
    ----------
    tables : result, DataFrame, mapping or sequence of them
        One table; ``{sheet name: table}``; or a sequence (sheets named by the titles).
        Anything :func:`cohortlab.report.tables.table_parts` accepts.
    path : str or Path
        The .xlsx file to write.
    digits, times, labels
        As in :func:`cohortlab.report.tables.table_parts` (the formatted text columns).
    metadata : mapping, optional
        Provenance written at the top of the Notes sheet.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, openpyxl
    >>> from pathlib import Path
    >>> from cohortlab.results import Estimate
    >>> est = Estimate.from_model_scale("ATE", -0.031, 0.011, method="aipw")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = to_excel({"effect": est}, Path(tmp) / "t.xlsx")
    ...     ws = openpyxl.load_workbook(out)["effect"]
    ...     ws["A2"].value, ws["B2"].value
    ('ATE', -0.031)
    """
    if isinstance(tables, Mapping):
        items = [(str(k), v) for k, v in tables.items()]
    elif isinstance(tables, (list, tuple)):
        items = [("", v) for v in tables]
    else:
        items = [("", tables)]
    named = []
    for i, (name, obj) in enumerate(items, start=1):
        parts = obj if isinstance(obj, TableParts) else table_parts(obj, digits=digits,
                                                                    times=times, labels=labels)
        named.append((name or parts.title or f"Table {i}", parts))
    return write_workbook(named, path, metadata=metadata)
