"""`cohortlab init` and `cohortlab run`: outputs, determinism, no partial report on failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cohortlab.cli import main
from cohortlab.protocol import run_protocol


def _csvs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "tables").glob("*.csv"))}


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".partial-" in p.name or ".old-" in p.name]


@pytest.mark.parametrize("example", [None, "nhefs", "wearable"])
def test_init_writes_a_template_that_validates(tmp_path, capsys, example):
    target = tmp_path / "study.toml"
    args = ["init", str(target)] + (["--example", example] if example else [])
    assert main(args) == 0
    assert target.is_file() and "[study]" in target.read_text()
    assert main(["validate", str(target)]) == 0
    assert "\nvalid: " in capsys.readouterr().out


def test_init_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "study.toml").write_text("x")
    assert main(["init", str(tmp_path / "study.toml")]) == 2
    assert "already exists. Choose another name or pass --force." in capsys.readouterr().err
    assert main(["init", str(tmp_path / "study.toml"), "--force"]) == 0


def test_init_into_a_folder(tmp_path):
    assert main(["init", str(tmp_path)]) == 0
    assert (tmp_path / "study.toml").is_file()


def test_run_writes_tables_figures_report_and_provenance(write_protocol, tmp_path, capsys, small):
    path = write_protocol(small)
    out = tmp_path / "results"
    assert main(["run", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    for step in ("reading", "loading data and applying eligibility", "analysis ipw: ipw() on "
                 "sbp", "analysis cox: cox() on stroke", "E-values", "writing the report",
                 "done"):
        assert step in err
    tables = {p.name for p in (out / "tables").glob("*.csv")}
    assert {"attrition.csv", "table1.csv", "table1_weighted__ipw.csv", "balance__ipw.csv",
            "table2.csv", "crude__sbp.csv", "ipw__sbp.csv", "cif__stroke.csv",
            "cox__stroke.csv", "evalues.csv", "followup_horizon.csv"} <= tables
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {"attrition.png", "love__ipw.png", "overlap__ipw.png",
            "cif__cif__stroke.png"} <= figures
    assert "<html" in (out / "report.html").read_text()[:200]
    assert (out / "protocol.toml").read_text() == path.read_text()
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["seed"] == 7 and prov["packages"]["numpy"] and prov["python"]
    assert len(prov["data"]["loaded_frame_sha256"]) == 64
    assert prov["protocol"]["text"] == path.read_text()
    assert set(prov["outputs_sha256"]) == {f"tables/{t}" for t in tables}
    t2 = pd.read_csv(out / "tables" / "table2.csv")
    assert t2[["analysis", "outcome"]].values.tolist() == [
        ["crude", "sbp"], ["ipw", "sbp"], ["cox", "stroke"]]
    assert t2.loc[2, "effect_measure"] == "hazard_ratio" and t2.loc[2, "term"] == "treated"
    assert _leftovers(tmp_path) == []


def test_run_twice_gives_identical_csvs(write_protocol, tmp_path, fast):
    path = write_protocol(fast)
    one = run_protocol(path, tmp_path / "one", quiet=True)
    two = run_protocol(path, tmp_path / "two", quiet=True)
    a, b = _csvs(one), _csvs(two)
    assert len(a) >= 8 and a == b


def test_quiet_run_prints_nothing(write_protocol, tmp_path, capsys, fast):
    path = write_protocol(fast)
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_failure_writes_no_partial_output(write_protocol, tmp_path, capsys, fast):
    # the protocol is valid, but ipw() rejects the option value while running
    text = fast.replace('estimand = "ATE"', 'estimand = "ATE"\noptions = { trim = "bogus" }')
    path = write_protocol(text)
    out = tmp_path / "results"
    assert main(["run", str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "analyses[1] (ipw, outcome 'sbp'): ipw() failed:" in err
    assert "No output was written." in err
    assert not out.exists() and _leftovers(tmp_path) == []


def test_failure_while_writing_leaves_nothing(write_protocol, tmp_path, monkeypatch, fast):
    import cohortlab.protocol.outputs as outputs

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(outputs, "provenance", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        run_protocol(write_protocol(fast), tmp_path / "results", quiet=True)
    assert not (tmp_path / "results").exists() and _leftovers(tmp_path) == []


def test_existing_output_folder_needs_overwrite(write_protocol, tmp_path, capsys, fast):
    path = write_protocol(fast)
    out = tmp_path / "results"
    out.mkdir()
    (out / "old.txt").write_text("keep me")
    assert main(["run", str(path), "--out", str(out), "-q"]) == 2
    assert "--out: " in capsys.readouterr().err and (out / "old.txt").exists()
    # --overwrite replaces only an earlier run's output (tests/protocol/test_overwrite.py)
    assert main(["run", str(path), "--out", str(out), "-q", "--overwrite"]) == 2
    assert "not an earlier cohortlab output" in capsys.readouterr().err
    assert (out / "old.txt").read_text() == "keep me"
    (out / "old.txt").unlink()
    assert main(["run", str(path), "--out", str(out), "-q"]) == 0
    assert main(["run", str(path), "--out", str(out), "-q"]) == 2
    assert main(["run", str(path), "--out", str(out), "-q", "--overwrite"]) == 0
    assert (out / "tables" / "table2.csv").is_file()
    assert _leftovers(tmp_path) == []


def test_invalid_protocol_run_exits_2_and_writes_nothing(write_protocol, tmp_path, capsys, fast):
    path = write_protocol(fast.replace('column = "treated"', 'column = "treatd"'))
    out = tmp_path / "results"
    assert main(["run", str(path), "--out", str(out)]) == 2
    assert "exposure.column: column 'treatd' not found. Did you mean 'treated'" in \
        capsys.readouterr().err
    assert not out.exists() and _leftovers(tmp_path) == []


def test_word_excel_and_svg_outputs(write_protocol, tmp_path):
    rows = pd.DataFrame({"a": [0, 1] * 10, "y": [float(i % 7) for i in range(20)]})
    rows.to_csv(tmp_path / "d.csv", index=False)
    text = ('[study]\ntitle = "t"\n[data]\npath = "d.csv"\n[[eligibility]]\nname = "y >= 1"'
            '\nkeep = "y >= 1"\n[exposure]\ncolumn = "a"\n[[outcomes]]\nname = "y"\n'
            'type = "continuous"\ncolumn = "y"\n[[analyses]]\nname = "crude"\n'
            'method = "crude_effect"\n[outputs]\ntables = ["csv", "md", "html", "docx", '
            '"xlsx"]\nfigures = ["svg"]\nreport = true\n')
    out = run_protocol(write_protocol(text), tmp_path / "r", quiet=True)
    for name in ("tables/tables.docx", "tables/tables.xlsx", "report.docx", "report.html",
                 "tables/table2.md", "tables/table2.html", "figures/attrition.svg"):
        assert (out / name).is_file(), name
    assert "<svg" in (out / "figures" / "attrition.svg").read_text()
    assert "**Table 2: effects by analysis and outcome**" in (
        out / "tables" / "table2.md").read_text()


def test_missing_drop_is_counted(write_protocol, tmp_path):
    rows = pd.DataFrame({"a": [0, 1] * 10, "y": [float(i) for i in range(19)] + [None]})
    rows.to_csv(tmp_path / "d.csv", index=False)
    text = ('[study]\ntitle = "t"\n[data]\npath = "d.csv"\nmissing = "drop"\n[exposure]\n'
            'column = "a"\n[[outcomes]]\nname = "y"\ntype = "continuous"\ncolumn = "y"\n'
            '[[analyses]]\nname = "crude"\nmethod = "crude_effect"\n'
            '[outputs]\nfigures = []\nreport = false\n')
    out = run_protocol(write_protocol(text), tmp_path / "r", quiet=True)
    dropped = pd.read_csv(out / "tables" / "dropped.csv")
    assert dropped[["n_input", "n_dropped", "by_column"]].values.tolist() == [[20, 1, "y: 1"]]
    assert pd.read_csv(out / "tables" / "table2.csv")["n"].tolist() == [19]


def test_python_dash_m_cohortlab(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cohortlab", "validate",
                           str(tmp_path / "none.toml")], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2 and "protocol file not found" in done.stderr


def test_binary_outcome_methods(write_protocol, tmp_path):
    text = '''
[study]
title = "binary"
seed = 3
[data]
dataset = "simulated"
n = 800
random_state = 2
[exposure]
column = "treated"
[[outcomes]]
name = "mace"
type = "binary"
column = "mace_1y"
[covariates]
columns = ["age", "female", "bmi", "diabetes"]
[[analyses]]
name = "match"
method = "match"
estimand = "ATT"
[[analyses]]
name = "tmle"
method = "tmle"
options = { effect_measure = "ratio" }
[[analyses]]
name = "ipw_or"
method = "ipw"
options = { effect_measure = "odds_ratio" }
[sensitivity]
evalue = true
[outputs]
figures = []
report = false
'''
    out = run_protocol(write_protocol(text), tmp_path / "r", quiet=True)
    t2 = pd.read_csv(out / "tables" / "table2.csv").set_index("analysis")
    assert t2.loc["match", "estimand"] == "ATT"
    assert t2.loc["tmle", "effect_measure"] == "risk_ratio"
    assert t2.loc["ipw_or", "effect_measure"] == "odds_ratio"
    ev = pd.read_csv(out / "tables" / "evalues.csv").set_index("analysis")
    assert ev.loc["tmle", "evalue_measure"] == "RR" and ev.loc["tmle", "evalue"] >= 1
    assert ev.loc["ipw_or", "evalue_measure"] == "OR" and bool(ev.loc["ipw_or", "rare"])
    assert ev.loc["match", "note"].startswith("no E-value for risk_difference")
