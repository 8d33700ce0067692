"""TargetTrial specification, emulate_target_trial, the [target_trial] protocol and its report."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.protocol.sections import ProtocolError
from cohortlab.trials.spec import TargetTrialError


@pytest.fixture(scope="module")
def long() -> pd.DataFrame:
    d = cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000, competing=False)
    d.attrs = {}
    return d


# ----------------------------------------------------------------------------- the spec
def test_table_lists_the_target_items_in_order():
    spec = cl.TargetTrial(treatment="A", outcome="Y", covariates=("L", "V"), followup=4,
                          labels={"L": "Blood pressure"})
    t = spec.table()
    assert list(t.columns) == ["TARGET item", "This study"]
    assert t["TARGET item"].tolist() == [
        "Eligibility criteria", "Treatment strategies", "Assignment procedures", "Time zero",
        "Follow-up", "Outcome", "Causal contrasts", "Analysis plan"]
    assert "Blood pressure" in t.loc[2, "This study"]  # labels, not column names


def test_validate_lists_every_problem(long):
    spec = cl.TargetTrial(treatment="A", outcome="Yx", censor="C", covariates=("L", "Q"),
                          followup=40, eligibility=(("import", "__import__('os')"),
                                                    ("unknown", "Z > 1")))
    with pytest.raises(TargetTrialError) as info:
        spec.validate(long)
    problems = info.value.problems
    assert len(problems) == 5
    text = str(info.value)
    assert "column 'Yx' (named by outcome)" in text and "Did you mean 'Y'" in text
    assert "column 'Q' (named by covariates)" in text
    assert "eligibility[0] (import)" in text and "__import__" in text
    assert "eligibility[1] (unknown): column(s) ['Z']" in text
    assert "followup: 40 periods is longer than the data allow (4 periods" in text


def test_validate_checks_codes(long):
    bad = long.assign(A=long["A"] * 2, C=long["C"].astype(float) + 0.5)
    with pytest.raises(TargetTrialError) as info:
        cl.TargetTrial(treatment="A", outcome="Y", censor="C").validate(bad)
    text = str(info.value)
    assert "treatment column 'A': must be coded 0/1" in text
    assert "censor column 'C': must be coded 0/1" in text


def test_validate_refuses_a_non_condition_and_no_eligible_rows(long):
    with pytest.raises(TargetTrialError, match="not a true/false condition"):
        cl.TargetTrial(treatment="A", outcome="Y",
                       eligibility=(("sum", "L + 1"),)).validate(long)
    with pytest.raises(TargetTrialError, match="no person-period meets every criterion"):
        cl.TargetTrial(treatment="A", outcome="Y",
                       eligibility=(("none", "L > 100"),)).validate(long)


def test_shape_problems_at_construction():
    with pytest.raises(TargetTrialError) as info:
        cl.TargetTrial(treatment="A", outcome="Y", estimator="clone_censor_weight",
                       contrast="itt", variance="robust", truncate=0.3, horizons=(5,),
                       followup=3)
    text = str(info.value)
    assert "contrast: clone-censor-weight estimates the per-protocol effect" in text
    assert "variance: clone-censor-weight intervals come from the person-level bootstrap" \
        in text
    assert "truncate: must be a (low, high) pair of quantiles; got 0.3" in text
    assert "horizons: [5] beyond the follow-up of 3 periods" in text
    with pytest.raises(TargetTrialError, match="grace: a grace period"):
        cl.TargetTrial(treatment="A", outcome="Y", grace=2)
    with pytest.raises(TargetTrialError, match="covariates: must be a list"):
        cl.TargetTrial(treatment="A", outcome="Y", covariates="L")


def test_eligibility_is_never_evaluated_as_python(long, tmp_path):
    marker = tmp_path / "pwned"
    spec = cl.TargetTrial(treatment="A", outcome="Y", eligibility=(
        ("attack", f"__import__('os').system('touch {marker}') == 0"),))
    with pytest.raises(TargetTrialError, match="not allowed"):
        spec.validate(long)
    with pytest.raises(TargetTrialError):
        cl.emulate_target_trial(spec, long)
    assert not marker.exists()


# ----------------------------------------------------------------------------- emulation
def test_emulate_equals_sequential_trials(long):
    spec = cl.TargetTrial(treatment="A", outcome="Y", censor="C", covariates=("L", "V"),
                          switch_covariates=("L",), eligibility=(("low L", "L < 2"),),
                          contrast="per_protocol", truncate=(0.01, 0.99), followup=4,
                          horizons=(1, 3))
    res = cl.emulate_target_trial(spec, long)
    before = long.groupby("id")["A"].cumsum() - long["A"]
    elig = ((long["L"] < 2) & (before == 0)).astype(int)
    ref = cl.sequential_trials(long.assign(E=elig), id="id", period="period", treatment="A",
                               outcome="Y", eligible="E", covariates=["L", "V"], censor="C",
                               estimand="per_protocol", switch_covariates=["L"],
                               truncate=(0.01, 0.99), horizons=[1, 3])
    a, b = res.effects.to_frame(), ref.effects.to_frame()
    assert a["term"].tolist() == b["term"].tolist()
    for col in ("estimate", "std_error", "conf_low", "conf_high"):
        np.testing.assert_allclose(a[col], b[col], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.curves.data["estimate"], ref.curves.data["estimate"],
                               rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(res.flow, ref.flow)
    assert res.spec is spec and ref.spec is None


def test_emulate_passes_the_competing_event_through():
    """Sequential trials: the competing event gets its own hazard model (total effect)."""
    d = cl.simulate_longitudinal(300, 4, random_state=3, n_truth=2_000)
    spec = cl.TargetTrial(treatment="A", outcome="Y", censor="C", competing="D",
                          covariates=("L", "V"))
    res = cl.emulate_target_trial(spec, d)
    assert res.competing_model is not None
    assert any("not prevented (total effect)" in n for n in res.notes)
    before = d.groupby("id")["A"].cumsum() - d["A"]
    ref = cl.sequential_trials(d.assign(E=(before == 0).astype(int)), id="id",
                               period="period", treatment="A", outcome="Y", eligible="E",
                               covariates=["L", "V"], censor="C", competing="D")
    np.testing.assert_allclose(res.effects.to_frame()["estimate"],
                               ref.effects.to_frame()["estimate"], rtol=0, atol=1e-12)


def test_emulate_clone_censor_weight_equals_the_verb():
    d = cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000)
    spec = cl.TargetTrial(treatment="A", outcome="Y", censor="C", covariates=("L", "V"),
                          estimator="clone_censor_weight", contrast="per_protocol",
                          variance="bootstrap", grace=1, n_boot=20, random_state=1)
    res = cl.emulate_target_trial(spec, d)
    ref = cl.clone_censor_weight(d, id="id", period="period", treatment="A", outcome="Y",
                                 covariates=["L", "V"], censor="C", grace=1, n_boot=20,
                                 random_state=1)
    np.testing.assert_allclose(res.effects.to_frame()["estimate"],
                               ref.effects.to_frame()["estimate"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.effects.to_frame()["conf_low"],
                               ref.effects.to_frame()["conf_low"], rtol=0, atol=1e-12)
    assert res.flow["step"].iloc[1] == "excluded: not eligible at the first period"
    assert int(res.flow["n"].iloc[1]) == 0


def test_emulate_clone_censor_weight_treats_the_competing_event_as_censoring():
    d = cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000)
    spec = cl.TargetTrial(treatment="A", outcome="Y", censor="C", competing="D",
                          covariates=("L", "V"), estimator="clone_censor_weight",
                          contrast="per_protocol", variance="bootstrap", grace=1, n_boot=5,
                          random_state=1)
    res = cl.emulate_target_trial(spec, d)
    assert any(n.startswith("competing event (D)") and "treated as censoring" in n
               for n in res.notes)


def test_emulate_refuses_a_non_spec(long):
    with pytest.raises(cl.exceptions.DataValidationError, match="spec must be a cl.TargetTrial"):
        cl.emulate_target_trial({"treatment": "A"}, long)


# ----------------------------------------------------------------------------- protocol
_PROTOCOL = """
[study]
title = "Treatment and the outcome"
seed = 3

[data]
dataset = "simulated"
n = 300
n_periods = 4
random_state = 1

[target_trial]
title = "Start vs never"
unit = "months"

[[target_trial.eligibility]]
name = "low confounder"
keep = "L < 3"

[target_trial.strategies]
treatment = "A"
treat = { name = "start treatment", description = "start now and stay on" }
control = { name = "never start" }

[target_trial.assignment]
covariates = ["L", "V"]

[target_trial.followup]
periods = 4
censor = "C"

[target_trial.outcome]
column = "Y"
label = "stroke"
competing = "D"

[target_trial.analysis]
horizons = [1, 3]

[labels.variables]
L = "Blood pressure"
"""


def _write(folder: Path, text: str = _PROTOCOL, name: str = "trial.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _read(text: str, folder: Path):
    from cohortlab.protocol.targettrial import read_target_trial_protocol

    return read_target_trial_protocol(_write(folder, text))


@pytest.mark.parametrize(("edit", "field", "words"), [
    (("[target_trial.analysis]", "[target_trial.analysis]\nestimater = 'x'"),
     "target_trial.analysis.estimater", "Did you mean 'estimator'"),
    (("horizons = [1, 3]", "estimator = 'sequential_trial'"),
     "target_trial.analysis.estimator", "Did you mean 'sequential_trials'"),
    (('treatment = "A"\n', ""), "target_trial.strategies.treatment", "is required"),
    (('keep = "L < 3"', "keep = \"__import__('os').system('ls')\""),
     "target_trial.eligibility[0].keep", "is not allowed"),
    (('[target_trial.followup]', '[target_trial.folowup]'), "target_trial.folowup",
     "Did you mean 'followup'"),
    (('estimand', 'estimand'), None, None),
])
def test_protocol_parse_errors_name_the_field(tmp_path, edit, field, words):
    text = _PROTOCOL.replace(*edit)
    if field is None:
        assert _read(text, tmp_path).spec.outcome == "Y"
        return
    with pytest.raises(ProtocolError) as info:
        _read(text, tmp_path)
    assert info.value.field == field
    assert words in str(info.value)


def test_protocol_reads_labels_and_the_spec(tmp_path):
    p = _read(_PROTOCOL, tmp_path)
    assert p.spec.labels == {"L": "Blood pressure"}
    assert p.spec.strategies[0].name == "start treatment"
    assert p.spec.eligibility == (("low confounder", "L < 3"),)


@pytest.mark.parametrize("path", ["../outside.csv", "/etc/passwd", "sub/../../x.csv",
                                  "~/data.csv"])
def test_data_path_outside_the_study_folder_is_refused(tmp_path, path):
    text = _PROTOCOL.replace('dataset = "simulated"\nn = 300\nn_periods = 4\nrandom_state = 1',
                             f'path = "{path}"')
    with pytest.raises(ProtocolError) as info:
        _read(text, tmp_path)
    assert info.value.field == "data.path"
    assert "outside the protocol's folder" in str(info.value) or "'~'" in str(info.value)


def test_symlink_out_of_the_study_folder_is_refused(tmp_path):
    from cohortlab.protocol.targettrial import load_trial_data

    outside = tmp_path / "outside"
    outside.mkdir()
    d = cl.simulate_longitudinal(50, 3, random_state=1, n_truth=1_000)
    d.to_csv(outside / "pp.csv", index=False)
    study = tmp_path / "study"
    study.mkdir()
    os.symlink(outside / "pp.csv", study / "pp.csv")
    text = _PROTOCOL.replace('dataset = "simulated"\nn = 300\nn_periods = 4\nrandom_state = 1',
                             'path = "pp.csv"')
    with pytest.raises(ProtocolError, match="outside the protocol's folder"):
        _read(text, study)  # refused when the protocol is read, before any data
    # the same file inside the folder is read
    (study / "pp.csv").unlink()
    d.to_csv(study / "pp.csv", index=False)
    frame, files = load_trial_data(_read(text, study))
    assert len(frame) == len(d) and list(files) == ["pp.csv"]


def test_point_exposure_parser_points_to_the_target_trial_reader():
    from cohortlab.protocol import parse_protocol

    with pytest.raises(ProtocolError, match="target-trial protocol"):
        parse_protocol({"study": {"title": "t"}, "target_trial": {}})


def test_cli_validate(tmp_path, capsys):
    from cohortlab.cli import main

    path = _write(tmp_path)
    assert main(["validate", str(path)]) == 0
    assert "valid:" in capsys.readouterr().out
    bad = _write(tmp_path, _PROTOCOL.replace('column = "Y"', 'column = "Yy"').replace(
        'covariates = ["L", "V"]', 'covariates = ["L", "W"]'), "bad.toml")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "target_trial: 2 problems" in err and "'Yy'" in err and "'W'" in err


def test_run_writes_the_target_report(tmp_path):
    from docx import Document

    from cohortlab.protocol import run_protocol

    path = _write(tmp_path)
    out = run_protocol(path, tmp_path / "results", quiet=True)
    page = (out / "report.html").read_text(encoding="utf-8")
    for words in ("Target trial specification", "Eligibility criteria", "Causal contrasts",
                  "Flow of persons and trials", "Cumulative incidence of stroke",
                  "Risk difference (percentage points)", "By month 4", "TARGET checklist",
                  "Blood pressure", "Start treatment"):
        assert words in page, words
    doc = Document(str(out / "report.docx"))
    first = [c.text for c in doc.tables[0].columns[0].cells]
    assert first[1:] == ["Eligibility criteria", "Treatment strategies",
                         "Assignment procedures", "Time zero", "Follow-up", "Outcome",
                         "Causal contrasts", "Analysis plan"]
    effects = pd.read_csv(out / "tables" / "effects.csv")
    assert effects["term"].str.contains("risk difference").sum() == 2
    prov = json.loads((out / "provenance.json").read_text())
    assert "report.html" in prov["files"] and "tables/effects.csv" in prov["files"]
    # an earlier run's folder may be replaced with --overwrite
    assert run_protocol(path, tmp_path / "results", quiet=True, overwrite=True) == out


def test_init_writes_the_example_and_it_validates(tmp_path, capsys):
    from cohortlab.cli import main

    path = tmp_path / "trial.toml"
    assert main(["init", str(path), "--example", "target_trial"]) == 0
    path.write_text(path.read_text().replace("n = 2000", "n = 300"))
    assert main(["validate", str(path)]) == 0
    assert "target trial; " in capsys.readouterr().out
