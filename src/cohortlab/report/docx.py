"""Word (.docx) tables in a clinical style, through python-docx.

A table is the result's publication layout (see :func:`cohortlab.report.tables.table_parts`):
effects as one ``estimate (low to high)`` column, p-values as in the Markdown output, a bold
numbered title above ("Table 2. ..."), three horizontal rules (above and below the header,
below the last row) and the footnotes (method, estimand, CI method, n, notes) in small type
below.

Layout: column widths are set from the content (every column at least as wide as its
longest word, so Word never breaks a word inside a cell; the rest of the page width shared
by how much text each column holds), the layout is fixed so Word keeps those widths, the
header row repeats on every page (``w:tblHeader``) and rows do not split across pages. A
table too wide for a portrait page goes into a landscape section of its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..results._hooks import register
from .tables import TableParts, table_parts

if TYPE_CHECKING:
    from docx.document import Document as DocumentType

__all__ = ["to_docx", "add_docx_table", "new_document"]

_FONT = "Calibri"
_BODY_PT = 10
_TABLE_PT = 9
_NOTE_PT = 8
#: Usable text width of a page (A4/Letter with 1-inch margins), inches.
PORTRAIT_WIDTH_IN = 6.27
LANDSCAPE_WIDTH_IN = 9.69
#: Width of one character of 9 pt Calibri (generous average), inches, and a cell's padding.
_CHAR_IN = 0.072
_BOLD_FACTOR = 1.08
_PAD_IN = 0.17
_TITLE_NUMBER = re.compile(r"^Table\s+\d+\s*[.:]")
_TITLE_PREFIX = re.compile(r"^Table\s+\d+\b[,:]?\s*")
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



def _longest_word(text: str) -> int:
    return max((len(w) for w in str(text).split()), default=0)


def column_widths(display: Any, *, page_width: float = PORTRAIT_WIDTH_IN) -> list[float]:
    """Widths (inches) of a table's columns from their content.

    Each column gets at least its longest word (header in bold), and at most its longest
    cell on one line; the space left on the page is shared so that the columns that lack
    least get their whole line first (max-min fair shares). When even the longest words do
    not fit, the minimum widths are returned (the caller turns the page to landscape).

    Examples
    --------
    >>> import pandas as pd
    >>> w = column_widths(pd.DataFrame({"Term": ["infinitesimal jackknife"], "p": ["0.05"]}))
    >>> w[0] >= len("infinitesimal") * 0.072 + 0.17
    True
    """
    cols = [str(c) for c in display.columns]
    mins, wants = [], []
    for j, name in enumerate(cols):
        values = [str(v) for v in display.iloc[:, j].tolist()]
        word = max([_longest_word(v) for v in values] + [0])
        head_word = _longest_word(name) * _BOLD_FACTOR
        line = max([len(v) for v in values] + [0])
        mins.append(max(word, head_word) * _CHAR_IN + _PAD_IN)
        wants.append(max(line, len(name) * _BOLD_FACTOR, word) * _CHAR_IN + _PAD_IN)
    total_min = sum(mins)
    if total_min >= page_width:
        return mins
    if sum(wants) <= page_width:
        return wants
    # max-min fair share of the spare width: short columns get their whole line first
    lack = [w - m for w, m in zip(wants, mins, strict=True)]
    spare = page_width - total_min
    out = list(mins)
    order = sorted(range(len(cols)), key=lambda j: lack[j])
    for i, j in enumerate(order):
        give = min(lack[j], spare / (len(order) - i))
        out[j] += give
        spare -= give
    return out


def needs_landscape(display: Any) -> bool:
    """Whether a table's longest words do not fit across a portrait page."""
    return sum(column_widths(display)) > PORTRAIT_WIDTH_IN + 1e-9


def _set_widths(table: Any, widths: list[float]) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Inches

    table.autofit = False
    tbl_pr = table._tbl.tblPr
    layout = tbl_pr.find(qn("w:tblLayout"))
    if layout is None:
        layout = OxmlElement("w:tblLayout")
        tbl_pr.append(layout)
    layout.set(qn("w:type"), "fixed")
    for col, w in zip(table.columns, widths, strict=True):
        col.width = Inches(w)
    for row in table.rows:
        for cell, w in zip(row.cells, widths, strict=True):
            cell.width = Inches(w)


def _header_row(row: Any) -> None:
    """Repeat the row at the top of every page; keep every row on one page."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


def _cant_split(row: Any) -> None:
    from docx.oxml import OxmlElement

    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


def _is_empty(document: Any) -> bool:
    body = document.element.body
    return not document.tables and not any(p.text.strip() for p in document.paragraphs) and \
        len(body) <= 2


def _orient(document: Any, landscape: bool, new: bool) -> None:
    """Start a new section (or reuse the last one when ``new`` is False) in an orientation."""
    from docx.enum.section import WD_ORIENT, WD_SECTION

    section = document.add_section(WD_SECTION.NEW_PAGE) if new else document.sections[-1]
    want = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    if section.orientation != want:
        w, h = section.page_width, section.page_height
        section.orientation = want
        if (landscape and w < h) or (not landscape and w > h):
            section.page_width, section.page_height = h, w


def numbered_title(title: str, number: int) -> str:
    """``"Table <number>. <title>"``; a title already numbered ``"Table 3. ..."`` is kept.

    Examples
    --------
    >>> numbered_title("Cox model", 2), numbered_title("Table 3. Hazard ratios", 1)
    ('Table 2. Cox model', 'Table 3. Hazard ratios')
    >>> numbered_title("Table 1 by Quit smoking", 1), numbered_title("Table 2", 4)
    ('Table 1. Characteristics by Quit smoking', 'Table 4. Effect estimates')
    """
    if _TITLE_NUMBER.match(title):
        return title
    m = _TITLE_PREFIX.match(title)
    if m:
        rest = title[m.end():].strip()
        if not rest:
            rest = "Effect estimates"
        elif rest.startswith("by ") or rest.startswith(","):
            rest = "Characteristics " + rest.lstrip(", ")
        title = rest
    return f"Table {number}. {title}" if title else f"Table {number}."


def add_docx_table(
    document: DocumentType,
    obj: Any,
    *,
    title: str | None = None,
    caption: str | None = None,
    digits: int | None = None,
    times: Sequence[float] | None = None,
    labels: Any = None,
    number: int | bool | None = True,
    landscape: bool | None = None,
    portrait_after: bool = True,
) -> Any:
    """Append a result as a clinical-style Word table (title, table, footnotes) to a document.

    Parameters
    ----------
    document : docx.document.Document
        The document to append to (e.g. from :func:`new_document`).
    obj : result, DataFrame or TableParts
        Anything :func:`cohortlab.report.tables.table_parts` accepts.
    title, caption, digits, times, labels
        As in :func:`cohortlab.report.tables.table_parts`.
    number : int or bool
        The table's number in its title (``"Table 2. ..."``): ``True`` (default) counts the
        tables already in the document, an int sets it, ``False``/``None`` leaves the title
        as it is. A title already numbered (``"Table 3. ..."``) is kept.
    landscape : bool, optional
        Put the table in a landscape section (and return to portrait after it). Default:
        when its longest words do not fit across a portrait page.
    portrait_after : bool
        After a landscape table, start a new portrait section for what follows (``False``
        leaves the document in landscape, as :func:`to_docx` does for a single table).

    Returns
    -------
    docx.table.Table
        The table added; its columns have widths from their content, its layout is fixed
        and its header row repeats on each page.

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
    >>> doc.paragraphs[0].text
    'Table 1. Cox · hazard ratio'
    """
    from docx.shared import Pt

    parts = obj if isinstance(obj, TableParts) else table_parts(
        obj, title=title, caption=caption, digits=digits, times=times, labels=labels)
    display = parts.display
    wide = needs_landscape(display) if landscape is None else bool(landscape)
    if wide:
        _orient(document, True, new=not _is_empty(document))
    heading = parts.title
    if number is not None and number is not False:
        k = len(document.tables) + 1 if number is True else int(number)
        heading = numbered_title(parts.title, k)
    if heading:
        para = document.add_paragraph()
        para.paragraph_format.keep_with_next = True
        para.paragraph_format.space_after = Pt(2)
        run = para.add_run(heading)
        run.bold = True
    if parts.caption:
        para = document.add_paragraph(parts.caption)
        para.paragraph_format.keep_with_next = True
    n_rows, n_cols = len(display) + 1, max(len(display.columns), 1)
    table = document.add_table(rows=n_rows, cols=n_cols)
    if len(display.columns):
        _set_widths(table, column_widths(
            display, page_width=LANDSCAPE_WIDTH_IN if wide else PORTRAIT_WIDTH_IN))
    _header_row(table.rows[0])
    for row in table.rows:
        _cant_split(row)
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
    if wide and portrait_after:
        _orient(document, False, new=True)
    return table


@register("to_docx")
def to_docx(
    obj: Any,
    path: str | Path | None = None,
    *,
    title: str | None = None,
    caption: str | None = None,
    digits: int | None = None,
    times: Sequence[float] | None = None,
    labels: Any = None,
    number: int | bool | None = True,
) -> Any:
    """Write one result as a Word table: a new .docx at ``path``, or the Document if None.

    Parameters
    ----------
    obj : Estimate, EstimateTable, ModelResult, Curve, Table1, Attrition, Table2, DataFrame
        The table (a curve is read off at ``times``).
    path : str or Path, optional
        Where to save; without a path the ``docx`` Document is returned unsaved.
    title, caption, digits, times, labels
        As in :func:`cohortlab.report.tables.table_parts`.
    number : int or bool
        The number in the title (see :func:`add_docx_table`); default 1.

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
    add_docx_table(doc, obj, title=title, caption=caption, digits=digits, times=times,
                   labels=labels, number=number, portrait_after=False)
    if path is None:
        return doc
    out = Path(path)
    doc.save(str(out))
    return out
