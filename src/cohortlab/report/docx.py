"""Word (.docx) tables in a clinical style, through python-docx.

A table is the result's publication layout (see :func:`cohortlab.report.tables.table_parts`):
effects as one ``estimate (low to high)`` column, p-values as in the Markdown output, a bold
title above, three horizontal rules (above and below the header, below the last row) and
the footnotes (method, estimand, CI method, n, notes) in small type below.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .tables import TableParts, table_parts

if TYPE_CHECKING:
    from docx.document import Document as DocumentType

__all__ = ["to_docx", "add_docx_table", "new_document"]

_FONT = "Calibri"
_BODY_PT = 10
_TABLE_PT = 9
_NOTE_PT = 8
_NUMERIC = re.compile(r"^[<>]?[-+]?[\d,]*\.?\d+(e[-+]?\d+)?%?( \(.*\))?$|^$", re.IGNORECASE)


def _import_docx() -> Any:
    try:
        import docx
    except ImportError as err:  # pragma: no cover - python-docx is a dependency
        raise ImportError(
            "Word output needs python-docx: pip install 'cohortlab[report]' (or python-docx)."
        ) from err
    return docx


def new_document() -> DocumentType:
    """An empty Word document with cohortlab's body font (Calibri 10 pt).

    Examples
    --------
    >>> doc = new_document()
    >>> doc.styles["Normal"].font.size.pt
    10.0
    """
    docx = _import_docx()
    from docx.shared import Pt

    doc = docx.Document()
    normal = doc.styles["Normal"]
    normal.font.name = _FONT
    normal.font.size = Pt(_BODY_PT)
    return doc


def _rule(cell: Any, side: str, size: int = 8) -> None:
    """A horizontal rule on one side (``top``/``bottom``) of a table cell."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tc_pr.append(borders)
    el = OxmlElement(f"w:{side}")
    el.set(qn("w:val"), "single")
    el.set(qn("w:sz"), str(size))
    el.set(qn("w:space"), "0")
    el.set(qn("w:color"), "000000")
    borders.append(el)


def _is_numeric(values: Sequence[str]) -> bool:
    vals = [v for v in values if v.strip()]
    return bool(vals) and all(_NUMERIC.match(v.strip()) for v in vals)


def _write_cell(cell: Any, text: str, *, bold: bool = False, right: bool = False) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    para = cell.paragraphs[0]
    para.paragraph_format.space_after = Pt(0)
    para.paragraph_format.space_before = Pt(0)
    if right:
        para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    run = para.add_run(text)
    run.bold = bold
    run.font.size = Pt(_TABLE_PT)


def add_docx_table(
    document: DocumentType,
    obj: Any,
    *,
    title: str | None = None,
    caption: str | None = None,
    digits: int | None = None,
    times: Sequence[float] | None = None,
) -> Any:
    """Append a result as a clinical-style Word table (title, table, footnotes) to a document.

    Parameters
    ----------
    document : docx.document.Document
        The document to append to (e.g. from :func:`new_document`).
    obj : result, DataFrame or TableParts
        Anything :func:`cohortlab.report.tables.table_parts` accepts.
    title, caption, digits, times
        As in :func:`cohortlab.report.tables.table_parts`.

    Returns
    -------
    docx.table.Table
        The table added.

    Examples
    --------
    >>> import numpy as np
    >>> from cohortlab.results import Estimate
    >>> doc = new_document()
    >>> est = Estimate.from_model_scale("statin", np.log(0.8), 0.1,
    ...     effect_measure="hazard_ratio", method="cox")
    >>> table = add_docx_table(doc, est, digits=2)
    >>> [c.text for c in table.rows[1].cells]
    ['statin', '0.80 (0.66 to 0.97)', '0.026']
    """
    from docx.shared import Pt

    parts = obj if isinstance(obj, TableParts) else table_parts(
        obj, title=title, caption=caption, digits=digits, times=times)
    if parts.title:
        para = document.add_paragraph()
        para.paragraph_format.keep_with_next = True
        para.paragraph_format.space_after = Pt(2)
        run = para.add_run(parts.title)
        run.bold = True
    if parts.caption:
        para = document.add_paragraph(parts.caption)
        para.paragraph_format.keep_with_next = True
    display = parts.display
    n_rows, n_cols = len(display) + 1, max(len(display.columns), 1)
    table = document.add_table(rows=n_rows, cols=n_cols)
    cols = [str(c) for c in display.columns]
    right = [_is_numeric([str(v) for v in display[c]]) for c in display.columns]
    for j, name in enumerate(cols):
        cell = table.rows[0].cells[j]
        _write_cell(cell, name, bold=True, right=right[j] and j > 0)
        _rule(cell, "top", 12)
        _rule(cell, "bottom", 6)
    for i, rec in enumerate(display.itertuples(index=False), start=1):
        cells = table.rows[i].cells
        for j, v in enumerate(rec):
            _write_cell(cells[j], "" if v is None else str(v), right=right[j] and j > 0)
    for cell in table.rows[-1].cells:
        _rule(cell, "bottom", 12)
    for note in parts.notes:
        para = document.add_paragraph()
        para.paragraph_format.space_after = Pt(0)
        run = para.add_run(note)
        run.font.size = Pt(_NOTE_PT)
    document.add_paragraph()
    return table


def to_docx(
    obj: Any,
    path: str | Path | None = None,
    *,
    title: str | None = None,
    caption: str | None = None,
    digits: int | None = None,
    times: Sequence[float] | None = None,
) -> Any:
    """Write one result as a Word table: a new .docx at ``path``, or the Document if None.

    Parameters
    ----------
    obj : Estimate, EstimateTable, ModelResult, Curve, Table1, Attrition, Table2, DataFrame
        The table (a curve is read off at ``times``).
    path : str or Path, optional
        Where to save; without a path the ``docx`` Document is returned unsaved.
    title, caption, digits, times
        As in :func:`cohortlab.report.tables.table_parts`.

    Returns
    -------
    pathlib.Path or docx.document.Document
        The path written, or the document when ``path`` is None.

    Examples
    --------
    >>> import numpy as np
    >>> from cohortlab.results import Estimate
    >>> est = Estimate.from_model_scale("ATE", -0.031, 0.011,
    ...     effect_measure="risk_difference", method="aipw", estimand="ATE")
    >>> doc = to_docx(est)
    >>> doc.tables[0].rows[1].cells[1].text
    '-0.031 (-0.053 to -0.009)'
    """
    doc = new_document()
    add_docx_table(doc, obj, title=title, caption=caption, digits=digits, times=times)
    if path is None:
        return doc
    out = Path(path)
    doc.save(str(out))
    return out
