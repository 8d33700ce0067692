"""Word tables: a .docx written by cohortlab opens with python-docx and holds the numbers of
``to_frame()`` (cells parsed back and compared at the displayed precision)."""

from __future__ import annotations

import re

import docx
import numpy as np
import pandas as pd
import pytest
from docx.oxml.ns import qn

from cohortlab.describe.attrition import attrition
from cohortlab.describe.table1 import table1
from cohortlab.report.docx import add_docx_table, new_document, to_docx
from cohortlab.report.tables import table2
from cohortlab.results._format import fmt_p
from cohortlab.results.tidy import tidy
from cohortlab.survival.kaplan_meier import kaplan_meier

#: "0.82 (0.70 to 0.96)" (optionally prefixed "HR ") -> (0.82, 0.70, 0.96)
CI_CELL = re.compile(r"^(?:[A-Za-z ]+ )?(-?[\d,]+\.?\d*) \((-?[\d,]+\.?\d*) to (-?[\d,]+\.?\d*)\)$")


def parse_ci(text: str) -> tuple[float, float, float]:
    """The three numbers of a clinical cell."""
    m = CI_CELL.match(text.strip())
    assert m, f"not an 'estimate (low to high)' cell: {text!r}"
    est, lo, hi = (float(g.replace(",", "")) for g in m.groups())
    return est, lo, hi


def assert_rounded(text_value: float, value: float, digits: int) -> None:
    """``text_value`` is ``value`` shown with ``digits`` decimals."""
    assert abs(text_value - value) <= 0.5 * 10 ** (-digits) + 1e-12, (text_value, value)


def _cells(table) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in table.rows]


def _paragraphs(doc) -> list[str]:
    return [p.text for p in doc.paragraphs if p.text]


def test_estimate_table_docx_holds_to_frame_numbers(hazard_ratios, tmp_path):
    path = hazard_ratios.to_docx(tmp_path / "hr.docx")
    assert path.exists()
    doc = docx.Document(str(path))
    assert len(doc.tables) == 1
    cells = _cells(doc.tables[0])
    assert cells[0] == ["Term", "HR (95% CI)", "p-value"]
    frame = hazard_ratios.to_frame()
    assert len(cells) == len(frame) + 1
    for row, (_, ref) in zip(cells[1:], frame.iterrows(), strict=True):
        assert row[0] == ref["term"]
        est, lo, hi = parse_ci(row[1])
        for shown, value in ((est, ref["estimate"]), (lo, ref["conf_low"]),
                             (hi, ref["conf_high"])):
            assert_rounded(shown, value, 2)  # ratios: 2 decimals
        assert row[2] == fmt_p(ref["p_value"], 3)
    text = "\n".join(_paragraphs(doc))
    assert "Cox model" in text  # title above
    assert "Method: Cox" in text and "estimand: ATE" in text
    assert "95% CI" in text and "CI computed on the log scale" in text
    assert "robust SE" in text  # the result's notes as footnotes


def test_difference_docx_three_decimals_and_negative_numbers(risk_difference):
    doc = to_docx(risk_difference)  # no path: the Document
    row = _cells(doc.tables[0])[1]
    est, lo, hi = parse_ci(row[1])
    ref = risk_difference.to_frame().iloc[0]
    assert lo < est < hi < 0
    for shown, value in ((est, ref["estimate"]), (lo, ref["conf_low"]), (hi, ref["conf_high"])):
        assert_rounded(shown, value, 3)
    assert _cells(doc.tables[0])[0][1] == "RD (95% CI)"
    assert "influence function" in "\n".join(_paragraphs(doc))


def test_digits_and_title_override(hazard_ratios):
    doc = hazard_ratios.to_docx(title="Table 3. Hazard ratios", digits=3)
    assert _paragraphs(doc)[0] == "Table 3. Hazard ratios"
    est, _, _ = parse_ci(_cells(doc.tables[0])[1][1])
    assert_rounded(est, hazard_ratios.to_frame()["estimate"].iloc[0], 3)
    assert len(_cells(doc.tables[0])[1][1].split(" ")[0].split(".")[1]) == 3


def test_model_result_docx_exponentiated(cox_model):
    doc = cox_model.to_docx()
    cells = _cells(doc.tables[0])
    frame = cox_model.to_frame()
    assert [r[0] for r in cells[1:]] == ["treated", "age"]
    for row, (_, ref) in zip(cells[1:], frame.iterrows(), strict=True):
        est, lo, hi = parse_ci(row[1])
        assert_rounded(est, ref["estimate"], 2)
        assert_rounded(lo, ref["conf_low"], 2)
        assert_rounded(hi, ref["conf_high"], 2)


def test_curve_docx_summary_at_times(small_cohort):
    km = kaplan_meier(small_cohort, time="time", event="event", by="treated")
    times = [1.0, 2.5, 5.0]
    doc = km.to_docx(times=times)
    cells = _cells(doc.tables[0])
    ref = km.at(times).to_frame()
    assert len(cells) == len(ref) + 1
    assert cells[0][:2] == ["Group", "Time"]
    assert cells[0][-1] == "survival probability (95% CI)"
    for row, (_, r) in zip(cells[1:], ref.iterrows(), strict=True):
        assert row[0] == str(r["group"]) and float(row[1]) == r["time"]
        est, lo, hi = parse_ci(row[-1])
        assert_rounded(est, r["estimate"], 3)
        assert_rounded(lo, r["conf_low"], 3)
        assert_rounded(hi, r["conf_high"], 3)
    assert "at times 1, 2.5, 5" in _paragraphs(doc)[0]


def test_curve_docx_default_times_are_round(small_cohort):
    km = kaplan_meier(small_cohort, time="time", event="event")
    cells = _cells(km.to_docx().tables[0])
    times = [float(r[1]) for r in cells[1:]]
    assert times == sorted(times) and all(t > 0 for t in times)
    assert 3 <= len(times) <= 10
    assert max(times) <= small_cohort["time"].max()


def test_table1_docx_cells_and_numbers(small_cohort):
    t1 = table1(small_cohort, by="treated", columns=["age", "sex", "stage"],
                categorical=["stage"])
    doc = t1.to_docx()
    cells = _cells(doc.tables[0])
    shown = t1.table()
    assert cells[0] == list(shown.columns)
    assert cells[1:] == shown.astype(str).values.tolist()
    # the numbers: mean (SD) of age by group against to_frame()
    frame = t1.to_frame()
    age_row = next(r for r in cells if r[0].startswith("age"))
    for j, head in enumerate(cells[0]):
        if head.startswith("treated = "):
            g = int(head.split("= ")[1])
            ref = frame[(frame["variable"] == "age") & (frame["group"] == g)].iloc[0]
            mean, sd = (float(x) for x in age_row[j].replace("(", "").replace(")", "").split())
            assert_rounded(mean, ref["mean"], 1)
            assert_rounded(sd, ref["sd"], 1)
    assert any("SMD" in p for p in _paragraphs(doc))


def test_weighted_table1_docx_has_before_and_after_smd(small_cohort):
    cohort = small_cohort.assign(w=np.where(small_cohort["treated"] == 1, 1.5, 0.8))
    t1w = table1(cohort, by="treated", columns=["age", "sex"], weights="w")
    header = _cells(t1w.to_docx().tables[0])[0]
    assert "SMD" in header and "SMD (unweighted)" in header


def test_attrition_docx(small_cohort):
    flow = attrition(small_cohort, [("aged 50+", "age >= 50"), ("stage known", "stage != 'III'")])
    cells = _cells(flow.to_docx().tables[0])
    frame = flow.to_frame()
    assert [int(r[4].replace(",", "")) for r in cells[1:]] == frame["n_after"].tolist()


def test_dataframe_docx_tidy_and_plain(hazard_ratios, risk_difference):
    tidy_frame = tidy(hazard_ratios, risk_difference)
    cells = _cells(to_docx(tidy_frame).tables[0])
    assert cells[0][0] == "Term" and "Method" in cells[0]
    assert [r[0] for r in cells[1:]] == tidy_frame["term"].tolist()
    plain = pd.DataFrame({"site": ["A", "B"], "n": [1200, 15], "rate": [0.1234, 0.5]})
    cells = _cells(to_docx(plain).tables[0])
    assert cells == [["site", "n", "rate"], ["A", "1,200", "0.123"], ["B", "15", "0.500"]]


def test_table2_docx_layout(hazard_ratios, risk_difference):
    t2 = table2({"death": hazard_ratios["statin"], "MACE": risk_difference})
    cells = _cells(t2.to_docx().tables[0])
    assert cells[0] == ["Outcome", "Cox", "AIPW"]
    assert cells[1][1].startswith("HR 0.82 (") and cells[1][2] == ""
    assert cells[2][2].startswith("RD -0.031 (")  # risk differences: 3 decimals


def test_clinical_rules_and_numeric_alignment(hazard_ratios):
    table = add_docx_table(new_document(), hazard_ratios)
    head = table.rows[0].cells[0]._tc.tcPr.find(qn("w:tcBorders"))
    assert head.find(qn("w:top")) is not None and head.find(qn("w:bottom")) is not None
    last = table.rows[-1].cells[0]._tc.tcPr.find(qn("w:tcBorders"))
    assert last.find(qn("w:bottom")) is not None
    assert table.rows[1].cells[0]._tc.tcPr.find(qn("w:tcBorders")) is None  # no inner rules


def test_to_docx_rejects_non_results():
    with pytest.raises(TypeError, match=r"table_parts\(\): cannot make a table of a dict"):
        to_docx({"a": 1})


def test_table1_before_after_docx_and_xlsx(small_cohort, tmp_path):
    import openpyxl

    from cohortlab.report.excel import to_excel
    from cohortlab.report.tables import table1_before_after

    cohort = small_cohort.assign(w=np.where(small_cohort["treated"] == 1, 1.6, 0.7))
    cols = dict(by="treated", columns=["age", "sex"])
    parts = table1_before_after(table1(cohort, **cols), table1(cohort, weights="w", **cols))
    cells = _cells(to_docx(parts).tables[0])
    assert cells[0] == list(parts.display.columns)
    assert cells[1:] == parts.display.values.tolist()
    wb = openpyxl.load_workbook(to_excel({"Table 1": parts}, tmp_path / "t1.xlsx"))
    assert wb.sheetnames == ["Table 1", "Table 1 data", "Notes"]
