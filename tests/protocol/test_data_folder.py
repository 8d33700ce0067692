"""A protocol reads data only inside its own folder, or a folder its runner grants.

The file names its data (``[data] path``, the files of ``[data] query``,
``[longitudinal.data] path``, a target trial's ``[data] path``); a name that resolves
elsewhere (``..``, an absolute path, a symbolic link out) is refused before anything is read,
unless whoever runs the protocol grants that folder (``--data-dir`` / ``data_dirs=``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortlab.cli import main
from cohortlab.protocol import ProtocolError, run_protocol, validate_protocol
from cohortlab.protocol._paths import data_file
from cohortlab.protocol.targettrial import read_target_trial_protocol

POINT = '''
[study]
title = "data folder"
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

LONG = '''
[study]
title = "long"
[longitudinal]
id = "id"
period = "period"
treatment = "A"
outcome = "Y"
time_varying = ["L"]
[longitudinal.data]
path = "{path}"
[[longitudinal.analyses]]
name = "m"
method = "msm"
'''

TRIAL = '''
[study]
title = "tt"
[data]
path = "{path}"
[target_trial]
[target_trial.strategies]
treatment = "A"
treat = {{ name = "initiate", description = "start" }}
control = {{ name = "do not", description = "do not start" }}
[target_trial.followup]
periods = 4
[target_trial.outcome]
column = "Y"
'''


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame({"a": rng.integers(0, 2, n), "y": rng.normal(size=n)})


@pytest.fixture()
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """tmp/study/ (the protocol's folder) and tmp/elsewhere/patients.csv (outside it)."""
    study, other = tmp_path / "study", tmp_path / "elsewhere"
    study.mkdir()
    other.mkdir()
    _frame().to_csv(other / "patients.csv", index=False)
    _frame().to_csv(study / "cohort.csv", index=False)
    return study, other


def _write(folder: Path, text: str) -> Path:
    path = folder / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["../elsewhere/patients.csv", "{other}/patients.csv",
                                  "sub/../../elsewhere/patients.csv", "link/patients.csv",
                                  "~/patients.csv"])
def test_data_path_outside_the_study_folder_is_refused(layout, name):
    study, other = layout
    (study / "sub").mkdir()
    os.symlink(other, study / "link")
    path = _write(study, POINT.format(source=f'path = "{name.format(other=other)}"'))
    with pytest.raises(ProtocolError, match=r"^data\.path: .*(outside the protocol's folder|"
                                            r"'~' is not expanded)"):
        validate_protocol(path)


def test_the_runner_can_grant_a_data_folder(layout, tmp_path):
    study, other = layout
    path = _write(study, POINT.format(source='path = "../elsewhere/patients.csv"'))
    with pytest.raises(ProtocolError, match="--data-dir"):
        validate_protocol(path)
    protocol, cohort = validate_protocol(path, data_dirs=[other])
    assert len(cohort.data) == 40 and protocol.data_dirs == (other.resolve(),)
    out = run_protocol(path, tmp_path / "out", quiet=True, data_dirs=[str(other)])
    assert (out / "provenance.json").is_file()
    # granting one folder does not grant its neighbours
    (tmp_path / "third").mkdir()
    _frame().to_csv(tmp_path / "third" / "x.csv", index=False)
    path = _write(study, POINT.format(source='path = "../third/x.csv"'))
    with pytest.raises(ProtocolError, match="granted data folders"):
        validate_protocol(path, data_dirs=[other])


def test_cli_data_dir(layout, capsys):
    study, other = layout
    path = _write(study, POINT.format(source='path = "../elsewhere/patients.csv"'))
    assert main(["validate", str(path)]) == 2
    assert "outside the protocol's folder" in capsys.readouterr().err
    assert main(["validate", str(path), "--data-dir", str(other)]) == 0
    assert "valid:" in capsys.readouterr().out


def test_inside_paths_still_read(layout):
    study, _ = layout
    _, cohort = validate_protocol(_write(study, POINT.format(source='path = "cohort.csv"')))
    assert len(cohort.data) == 40


@pytest.mark.parametrize("literal", ["../elsewhere/patients.csv", "{other}/patients.csv"])
def test_query_naming_a_file_outside_is_refused_unless_granted(layout, literal):
    pytest.importorskip("duckdb")
    study, other = layout
    query = f"SELECT * FROM '{literal.format(other=other)}'"
    path = _write(study, POINT.format(source=f'query = """{query}"""'))
    with pytest.raises(ProtocolError, match=r"^data\.query: .*outside the protocol's folder"):
        validate_protocol(path)
    _, cohort = validate_protocol(path, data_dirs=[other])
    assert len(cohort.data) == 40


def test_longitudinal_and_target_trial_paths_follow_the_same_rule(layout):
    study, other = layout
    long = _write(study, LONG.format(path="../elsewhere/patients.csv"))
    with pytest.raises(ProtocolError, match=r"^longitudinal\.data\.path: .*outside"):
        validate_protocol(long)
    trial = study / "trial.toml"
    trial.write_text(TRIAL.format(path="../elsewhere/patients.csv"), encoding="utf-8")
    with pytest.raises(ProtocolError, match=r"^data\.path: .*outside"):
        read_target_trial_protocol(trial)
    assert read_target_trial_protocol(trial, data_dirs=[other]).data.path


def test_bundled_data_sets_may_be_named():
    import cohortlab

    bundled = Path(cohortlab.__file__).parent / "datasets" / "data" / "nhefs.csv"
    assert data_file(Path("/nonexistent/study"), str(bundled), "data.path") == bundled
