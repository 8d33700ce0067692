"""The analyses/ scripts run end to end with the public API (a smoke test; numbers are
checked against R in tests/causal/ and against expected.json inside each script)."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_whatif_nhefs_reproduces_expected_numbers(capsys):
    module = runpy.run_path(str(ROOT / "analyses" / "whatif_nhefs" / "run.py"))
    table = module["main"](["--n-boot", "30"])
    assert len(table) == 9
    assert "all 9 point estimates match expected.json" in capsys.readouterr().out


def test_whatif_ch17_reproduces_expected_numbers(capsys, tmp_path):
    module = runpy.run_path(str(ROOT / "analyses" / "whatif_ch17" / "run.py"))
    table = module["main"](["--out", str(tmp_path)])
    assert table["ok"].all() and "numbers match expected.json" in capsys.readouterr().out


def test_mgus2_compete_reproduces_expected_numbers(capsys, tmp_path):
    module = runpy.run_path(str(ROOT / "analyses" / "mgus2_compete" / "run.py"))
    table = module["main"](["--out", str(tmp_path)])
    assert table["ok"].all() and "numbers match expected.json" in capsys.readouterr().out


def test_rotterdam_gbsg_reproduces_expected_numbers(capsys, tmp_path):
    module = runpy.run_path(str(ROOT / "analyses" / "rotterdam_gbsg" / "run.py"))
    table = module["main"](["--out", str(tmp_path), "--n-boot", "5"])
    assert table["ok"].all() and "numbers match expected.json" in capsys.readouterr().out
    assert {"calibration_5y.png", "decision_curve_5y.png", "net_benefit_5y.csv"} <= {
        p.name for p in tmp_path.iterdir()}


def test_wearable_af_corrections_cover_the_truth(capsys, tmp_path):
    module = runpy.run_path(str(ROOT / "analyses" / "wearable_af" / "run.py"))
    table = module["main"](["--out", str(tmp_path)])
    assert table["ok"].all() and "numbers match expected.json" in capsys.readouterr().out
    covers = table.set_index("quantity")["cohortlab"]
    assert covers["HR naive (notification) covers truth"] == 0
    assert covers["HR ECG subsample (multiple imputation) covers truth"] == 1
