"""Excel workbooks: the .xlsx opens with openpyxl and holds the numbers of ``to_frame()``
as numbers (not text), the formatted text column, and a Notes sheet."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest

from cohortlab.describe.attrition import attrition
from cohortlab.describe.table1 import table1
from cohortlab.report.excel import to_excel
from cohortlab.report.tables import table2
from cohortlab.survival.kaplan_meier import kaplan_meier


def _sheet_frame(ws) -> pd.DataFrame:
    rows = list(ws.values)
    return pd.DataFrame(rows[1:], columns=rows[0])


def _assert_same_numbers(sheet: pd.DataFrame, frame: pd.DataFrame) -> None:
    for col in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(
                frame[col]):
            ref = frame[col].astype(float).to_numpy()
            got = np.array([np.nan if v is None else v for v in sheet[col]], dtype=float)
            np.testing.assert_allclose(got, ref, rtol=1e-14, atol=0, err_msg=col)  # 1 ulp


def test_estimate_table_xlsx_numbers_are_numbers(hazard_ratios, tmp_path):
    path = hazard_ratios.to_excel(tmp_path / "hr.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Cox model", "Notes"]
    ws = wb["Cox model"]
    assert isinstance(ws["B2"].value, float)  # estimate as a number
    sheet = _sheet_frame(ws)
    frame = hazard_ratios.to_frame()
    assert list(sheet.columns) == [*frame.columns, "estimate_ci"]
    _assert_same_numbers(sheet, frame)
    assert sheet["estimate_ci"].tolist() == ["0.82 (0.70 to 0.96)", "1.04 (1.02 to 1.06)"]
    notes = [r for r in wb["Notes"].values if r[0] == "Cox model"]
    kinds = [r[1] for r in notes]
    assert kinds[0] == "title" and "note" in kinds
    assert any("robust SE" in (r[2] or "") for r in notes)


def test_several_tables_one_sheet_each(hazard_ratios, risk_difference, cox_model, tmp_path):
    path = to_excel({"HRs": hazard_ratios, "RD": risk_difference, "model": cox_model},
                    tmp_path / "all.xlsx", metadata={"seed": "2026"})
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["HRs", "RD", "model", "Notes"]
    _assert_same_numbers(_sheet_frame(wb["model"]), cox_model.to_frame())
    _assert_same_numbers(_sheet_frame(wb["RD"]), risk_difference.to_frame())
    notes = list(wb["Notes"].values)
    assert notes[0][0] == "Provenance" and notes[1][:2] == ("seed", "2026")


def test_sheet_names_are_valid_and_unique(hazard_ratios, tmp_path):
    long = "Hazard ratios: model [a]/b * with a very long name"
    path = to_excel({long: hazard_ratios, long + " again": hazard_ratios},
                    tmp_path / "names.xlsx")
    names = openpyxl.load_workbook(path).sheetnames
    assert len(names) == 3 and len(set(n.lower() for n in names)) == 3
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)


def test_curve_xlsx_at_times(small_cohort, tmp_path):
    km = kaplan_meier(small_cohort, time="time", event="event", by="treated")
    path = km.to_excel(tmp_path / "km.xlsx", times=[1.0, 3.0])
    wb = openpyxl.load_workbook(path)
    sheet = _sheet_frame(wb[wb.sheetnames[0]])
    _assert_same_numbers(sheet, km.at([1.0, 3.0]).to_frame())


def test_table1_xlsx_printed_table_and_data_sheet(small_cohort, tmp_path):
    t1 = table1(small_cohort, by="treated", columns=["age", "sex", "stage"],
                categorical=["stage"])
    wb = openpyxl.load_workbook(t1.to_excel(tmp_path / "t1.xlsx"))
    main, data = wb.sheetnames[0], wb.sheetnames[1]
    assert data.endswith("data") and wb.sheetnames[-1] == "Notes"
    printed = _sheet_frame(wb[main])
    shown = t1.table()
    assert list(printed.columns) == list(shown.columns)
    # "n" row: counts as numbers
    assert printed.iloc[0, 2] == int(shown.iloc[0, 2].replace(",", ""))
    assert isinstance(printed.iloc[0, 2], int)
    # cells like "60.1 (8.0)" stay text
    age = printed[printed["Variable"].fillna("").str.startswith("age")].iloc[0]
    assert age.iloc[2] == shown[shown["Variable"].str.startswith("age")].iloc[0, 2]
    frame = t1.to_frame()
    _assert_same_numbers(_sheet_frame(wb[data]), frame)


def test_attrition_and_table2_xlsx(small_cohort, hazard_ratios, risk_difference, tmp_path):
    flow = attrition(small_cohort, [("aged 50+", "age >= 50")])
    t2 = table2({"death": [hazard_ratios["statin"]], "MACE": [risk_difference]})
    wb = openpyxl.load_workbook(to_excel([flow, t2], tmp_path / "x.xlsx"))
    assert wb.sheetnames[0] == "Cohort attrition" and "Table 2" in wb.sheetnames
    printed = _sheet_frame(wb["Table 2"])
    assert list(printed.columns) == ["Outcome", "Cox", "AIPW"]
    _assert_same_numbers(_sheet_frame(wb["Table 2 data"]), t2.to_frame())


def test_to_excel_rejects_non_results(tmp_path):
    with pytest.raises(TypeError, match=r"cannot make a table of a set"):
        to_excel({"bad": {1, 2}}, tmp_path / "bad.xlsx")


def test_long_data_frames_are_not_written(tmp_path, monkeypatch):
    import cohortlab.report.excel as excel

    monkeypatch.setattr(excel, "MAX_DATA_ROWS", 5)
    flow_like = pd.DataFrame({"id": np.arange(10), "score": np.linspace(0, 1, 10)})
    from cohortlab.report.tables import TableParts

    parts = TableParts(title="scores", display=flow_like.head(2).astype(str), numbers=flow_like)
    wb = openpyxl.load_workbook(to_excel({"ps": parts}, tmp_path / "ps.xlsx"))
    assert wb.sheetnames == ["ps", "Notes"]
    assert any("10 rows of to_frame() are more than 5" in (r[2] or "")
               for r in wb["Notes"].values)
