"""Word layout: widths from content, no word broken, repeated header rows, landscape for wide
tables, numbered titles (issue 12). Checked on the docx XML with python-docx."""

from __future__ import annotations

import docx
import numpy as np
import pandas as pd
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from docx.shared import Inches

import cohortlab as cl
from cohortlab.report.docx import (
    LANDSCAPE_WIDTH_IN,
    PORTRAIT_WIDTH_IN,
    add_docx_table,
    column_widths,
    new_document,
    to_docx,
)
from cohortlab.results import Estimate, EstimateTable

_CHAR_IN = 0.072  # the docx module's width of one 9 pt character


def _widths(table) -> list[int]:
    """The tcW width (twips) of each cell of the first row."""
    return [int(c._tc.tcPr.find(qn("w:tcW")).get(qn("w:w"))) for c in table.rows[0].cells]


def _table() -> EstimateTable:
    rows = [Estimate.from_model_scale(t, np.log(v), 0.1, effect_measure="hazard_ratio",
                                      method="cox", ci_method=ci)
            for t, v, ci in [("hormon", 0.8, "infinitesimal_jackknife"),
                             ("C(size)[T.>50]", 1.9, "wald_sandwich")]]
    return EstimateTable(rows=tuple(rows), title="Cox model")


def test_widths_fit_the_longest_word_and_layout_is_fixed():
    doc = to_docx(_table())
    table = doc.tables[0]
    assert table._tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"
    widths = _widths(table)
    assert all(w > 0 for w in widths)
    for j, cell_w in enumerate(widths):
        words = [w for row in table.rows for w in row.cells[j].text.split()]
        longest = max(len(w) for w in words)
        assert cell_w / 1440 >= longest * _CHAR_IN, (j, longest, cell_w)
    assert sum(widths) / 1440 <= PORTRAIT_WIDTH_IN + 0.01
    # the CI-method column reads "infinitesimal jackknife": never an underscore
    assert "infinitesimal jackknife" in [c.text for row in table.rows for c in row.cells]


def test_header_row_repeats_and_rows_do_not_split():
    doc = to_docx(_table())
    rows = doc.tables[0].rows
    header = rows[0]._tr.trPr.find(qn("w:tblHeader"))
    assert header is not None and header.get(qn("w:val")) == "true"
    assert all(r._tr.trPr.find(qn("w:cantSplit")) is not None for r in rows)
    assert all(r._tr.trPr.find(qn("w:tblHeader")) is None for r in rows[1:])


def test_titles_are_numbered_in_document_order():
    doc = new_document()
    add_docx_table(doc, _table())
    add_docx_table(doc, _table(), title="Hazard ratios, second model")
    titles = [p.text for p in doc.paragraphs if p.text.startswith("Table")]
    assert titles == ["Table 1. Cox model", "Table 2. Hazard ratios, second model"]
    t1 = cl.table1(cl.datasets.load_nhefs(), by="qsmk", columns=["age"],
                   labels=cl.datasets.labels("nhefs"))
    d2 = to_docx(t1)
    assert d2.paragraphs[0].text == "Table 1. Characteristics by Quit smoking, 1971-82"


def _wide_frame() -> pd.DataFrame:
    cols = {f"Characteristic number {i}": ["considerably lengthy description"] * 3
            for i in range(9)}
    return pd.DataFrame(cols)


def test_wide_table_gets_a_landscape_section_then_portrait_again():
    wide = _wide_frame()
    assert sum(column_widths(wide)) > PORTRAIT_WIDTH_IN
    doc = new_document()
    doc.add_paragraph("Some text before.")
    add_docx_table(doc, wide, title="Wide")
    doc.add_paragraph("Text after.")
    orients = [s.orientation for s in doc.sections]
    assert orients == [WD_ORIENT.PORTRAIT, WD_ORIENT.LANDSCAPE, WD_ORIENT.PORTRAIT]
    land = doc.sections[1]
    assert land.page_width > land.page_height
    widths = _widths(doc.tables[0])
    assert sum(widths) / 1440 <= LANDSCAPE_WIDTH_IN + 0.01 or \
        all(w / 1440 >= len("considerably") * _CHAR_IN for w in widths)


def test_single_wide_table_document_is_landscape(tmp_path):
    path = to_docx(_wide_frame(), tmp_path / "wide.docx")
    doc = docx.Document(str(path))
    assert [s.orientation for s in doc.sections] == [WD_ORIENT.LANDSCAPE]
    assert doc.sections[0].page_width > doc.sections[0].page_height


def test_narrow_table_stays_portrait():
    doc = to_docx(_table())
    assert [s.orientation for s in doc.sections] == [WD_ORIENT.PORTRAIT]
    assert doc.sections[0].page_width < doc.sections[0].page_height


def test_column_widths_share_the_page():
    frame = pd.DataFrame({"Term": ["a rather long label for a covariate " * 3],
                          "HR (95% CI)": ["0.82 (0.70 to 0.96)"], "p-value": ["0.012"]})
    w = column_widths(frame)
    assert abs(sum(w) - PORTRAIT_WIDTH_IN) < 1e-6
    assert w[1] >= len("0.82 (0.70 to 0.96)") * _CHAR_IN  # short columns on one line
    assert Inches(w[0]) > Inches(w[1])
