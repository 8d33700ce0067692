"""`cohortlab validate`: the protocol checked against its data; exit code 2, nothing written."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from cohortlab.cli import main
from cohortlab.protocol import validate_protocol
from cohortlab.protocol.schema import ProtocolError
from cohortlab.protocol.template import template_text

NHEFS = template_text("nhefs")


def _fails(write_protocol, capsys, text, message):
    """validate exits 2, prints the message on stderr and writes nothing."""
    path = write_protocol(text)
    before = sorted(p.name for p in path.parent.iterdir())
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert sorted(p.name for p in path.parent.iterdir()) == before
    return err


def test_valid_protocol_exits_0(write_protocol, capsys):
    path = write_protocol(NHEFS)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "(1,629 rows loaded, 1,566 eligible, 4 analyses x 1 outcome)" in out


def test_misspelt_option_column_names_the_field(write_protocol, capsys):
    text = NHEFS.replace('options = { variance = "robust" }',
                         'options = { variance = "robust", covariates = ["sex", '
                         '"smokeintesity"] }')
    _fails(write_protocol, capsys, text,
           "analyses[1].options.covariates: column 'smokeintesity' not found. Did you mean "
           "'smokeintensity'")


def test_misspelt_formula_column_names_the_field(write_protocol, capsys):
    text = NHEFS.replace("+ wt71 + I(wt71**2)\"\"\"\n\n[[analyses]]",
                         "+ wt17 + I(wt71**2)\"\"\"\n\n[[analyses]]")
    _fails(write_protocol, capsys, text, "covariates: column 'wt17' not found. Did you mean "
                                         "'wt71'")


def test_misspelt_exposure_column(write_protocol, capsys):
    _fails(write_protocol, capsys, NHEFS.replace('column = "qsmk"', 'column = "qsmok"'),
           "exposure.column: column 'qsmok' not found. Did you mean 'qsmk'")


def test_misspelt_outcome_column(write_protocol, capsys):
    _fails(write_protocol, capsys, NHEFS.replace('column = "wt82_71"', 'column = "wt8271"'),
           "outcomes[0].column: column 'wt8271' not found. Did you mean 'wt82_71'")


def test_misspelt_subgroup_column(write_protocol, capsys):
    _fails(write_protocol, capsys, NHEFS.replace('by = ["sex"]', 'by = ["sexx"]'),
           "subgroups[0].by: column 'sexx' not found. Did you mean 'sex'")


def test_unknown_method_exits_2(write_protocol, capsys):
    _fails(write_protocol, capsys, NHEFS.replace('method = "gformula"', 'method = "g_formula"'),
           "analyses[2].method: unknown method 'g_formula'. Did you mean 'gformula'")


def test_eligibility_expression_that_fails(write_protocol, capsys):
    _fails(write_protocol, capsys, NHEFS.replace('keep = "wt82.notna()"',
                                                 'keep = "wt28.notna()"'),
           "eligibility[0].keep:")


def test_data_file_that_does_not_exist(write_protocol, capsys):
    text = NHEFS.replace('dataset = "nhefs"', 'path = "cohort.csv"')
    _fails(write_protocol, capsys, text, "data.path: file 'cohort.csv' not found")


def test_protocol_file_that_does_not_exist(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "study.toml")]) == 2
    assert "protocol file not found" in capsys.readouterr().err


# ----------------------------------------------------------------------------- follow-up
def _dates_protocol(tmp_path, rows, horizon=None):
    pd.DataFrame(rows).to_csv(tmp_path / "cohort.csv", index=False)
    hz = f"horizon = {horizon}\n" if horizon is not None else ""
    return f'''
[study]
title = "dates"
[data]
path = "cohort.csv"
[followup]
start = "entry"
end = "exit"
unit = "days"
{hz}
[exposure]
column = "a"
[[outcomes]]
name = "death"
type = "time_to_event"
event = "died"
[[analyses]]
name = "km"
method = "kaplan_meier"
'''


ROWS = {"entry": ["2020-01-01", "2020-01-01", "2020-02-01", "2020-03-01"],
        "exit": ["2020-01-31", "2020-03-01", "2020-04-01", "2020-03-11"],
        "died": [1, 0, 1, 0], "a": [1, 0, 1, 0]}


def test_dates_give_followup_in_the_unit(tmp_path, write_protocol):
    path = write_protocol(_dates_protocol(tmp_path, ROWS, horizon=45))
    _, cohort = validate_protocol(path)
    assert cohort.data["followup_time"].tolist() == [30.0, 45.0, 45.0, 10.0]
    assert cohort.data["died"].tolist() == [1, 0, 0, 0]
    h = cohort.horizon.iloc[0]
    assert (h["n_beyond_horizon"], h["events_censored_at_horizon"]) == (2, 1)
    assert cohort.files["cohort.csv"] == __import__("hashlib").sha256(
        (tmp_path / "cohort.csv").read_bytes()).hexdigest()


def test_end_before_start(tmp_path, write_protocol, capsys):
    rows = {**ROWS, "exit": ["2019-12-01"] + ROWS["exit"][1:]}
    _fails(write_protocol, capsys, _dates_protocol(tmp_path, rows),
           "followup.end: 1 rows end before they start")


def test_horizon_beyond_every_followup_time(tmp_path, write_protocol, capsys):
    _fails(write_protocol, capsys, _dates_protocol(tmp_path, ROWS, horizon=400),
           "followup.horizon: 400 is beyond every follow-up time (the longest is 60)")


def test_horizon_not_positive(tmp_path, write_protocol, capsys):
    _fails(write_protocol, capsys, _dates_protocol(tmp_path, ROWS, horizon=0),
           "followup.horizon: must be positive; got 0.")


def test_dates_that_are_not_dates(tmp_path, write_protocol, capsys):
    rows = {**ROWS, "exit": ["soon"] + ROWS["exit"][1:]}
    _fails(write_protocol, capsys, _dates_protocol(tmp_path, rows),
           "followup.end: column 'exit' has 1 values that are not dates (e.g. 'soon')")


# ----------------------------------------------------------------------------- data sources
def _frame(n=40):
    rng = np.random.default_rng(5)
    return pd.DataFrame({"x": rng.normal(size=n), "a": rng.integers(0, 2, n),
                         "y": rng.normal(size=n), "year": np.repeat([2019, 2021], n // 2)})


SQL = '''
[study]
title = "sql"
[data]
{source}
[exposure]
column = "a"
[[outcomes]]
name = "y"
type = "continuous"
column = "y"
[[analyses]]
name = "crude"
method = "crude_effect"
'''


def test_parquet_file(tmp_path, write_protocol):
    import duckdb

    _frame().to_csv(tmp_path / "raw.csv", index=False)
    duckdb.execute(f"COPY (SELECT * FROM read_csv_auto('{tmp_path / 'raw.csv'}')) "
                   f"TO '{tmp_path / 'cohort.parquet'}' (FORMAT PARQUET)")
    _, cohort = validate_protocol(write_protocol(SQL.format(source='path = "cohort.parquet"')))
    assert len(cohort.data) == 40 and "cohort.parquet" in cohort.files


def test_duckdb_query_relative_to_the_protocol(tmp_path, write_protocol):
    _frame().to_csv(tmp_path / "raw.csv", index=False)
    src = "query = \"SELECT * FROM 'raw.csv' WHERE year >= 2020\""
    _, cohort = validate_protocol(write_protocol(SQL.format(source=src)))
    assert len(cohort.data) == 20 and list(cohort.files) == ["raw.csv"]


def test_duckdb_query_error(tmp_path, write_protocol):
    src = "query = \"SELECT * FROM 'missing.csv'\""
    with pytest.raises(ProtocolError, match=r"^data\.query: DuckDB could not run the query"):
        validate_protocol(write_protocol(SQL.format(source=src)))


def test_query_without_duckdb_names_the_extra(tmp_path, write_protocol, monkeypatch):
    monkeypatch.setitem(sys.modules, "duckdb", None)
    src = "query = \"SELECT 1\""
    with pytest.raises(ProtocolError, match=r"^data\.query: needs DuckDB, which is not "
                                            r"installed\. Install it with: pip install "
                                            r"cohortlab\[sql\]"):
        validate_protocol(write_protocol(SQL.format(source=src)))


def test_exposure_from_score_quantiles(write_protocol):
    text = SQL.format(source='dataset = "simulated"\nn = 200\nrandom_state = 1').replace(
        '[exposure]\ncolumn = "a"',
        '[exposure]\ncolumn = "af_q"\nfrom_score = { score = "af_score", quantiles = 2 }')
    text = text.replace('column = "y"', 'column = "sbp_12m"')
    _, cohort = validate_protocol(write_protocol(text))
    assert cohort.exposure.kind == "quantiles"
    assert cohort.data["af_q"].value_counts().tolist() == [100, 100]
    assert cohort.reference == cohort.exposure.reference


def test_missing_score_dropped_is_noted(tmp_path, write_protocol):
    rows = pd.DataFrame({"s": [0.1, 0.9, None, 0.7, 0.2, 0.8], "y": [1.0, 2, 3, 4, 5, 6]})
    rows.to_csv(tmp_path / "d.csv", index=False)
    text = SQL.format(source='path = "d.csv"\nmissing = "drop"').replace(
        '[exposure]\ncolumn = "a"',
        '[exposure]\ncolumn = "flag"\nfrom_score = { score = "s", threshold = 0.5 }')
    _, cohort = validate_protocol(write_protocol(text))
    assert len(cohort.data) == 5 and cohort.data["flag"].tolist() == [0, 1, 1, 0, 1]
    assert cohort.notes == ("exposure from s: 1 dropped: s 1 (missing score)",)


def test_missing_score_raises_by_default(tmp_path, write_protocol):
    rows = pd.DataFrame({"s": [0.1, None], "y": [1.0, 2]})
    rows.to_csv(tmp_path / "d.csv", index=False)
    text = SQL.format(source='path = "d.csv"').replace(
        '[exposure]\ncolumn = "a"',
        '[exposure]\ncolumn = "flag"\nfrom_score = { score = "s", threshold = 0.5 }')
    with pytest.raises(ProtocolError, match=r"^exposure\.from_score: threshold_exposure\(\): "):
        validate_protocol(write_protocol(text))
