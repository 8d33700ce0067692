"""The ``[longitudinal]`` protocol section: shape checks, data checks, a run, the example."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.cli import main
from cohortlab.protocol import parse_protocol, run_protocol, validate_protocol
from cohortlab.protocol.schema import AnalysisError, ProtocolError
from cohortlab.protocol.template import EXAMPLES, template_text

#: a small, fast longitudinal protocol (simulated cohort, sandwich MSM, 10 bootstrap reps)
SMALL = '''
[study]
title = "Small longitudinal study"
question = "Risk under always vs never treated?"
seed = 5

[longitudinal]
id = "id"
period = "period"
period_unit = "month"
treatment = "A"
outcome = "Y"
censor = "C"
competing = "D"
time_varying = ["L"]
baseline = ["V"]

[longitudinal.data]
dataset = "simulated"
n = 400
n_periods = 6
random_state = 3

[[longitudinal.features]]
kind = "lag"
column = "L"
fill = 0.0

[[longitudinal.features]]
kind = "time_since_initiation"

[[longitudinal.analyses]]
name = "msm"
method = "msm"
horizons = [2, 5]
options = { covariates = ["L", "V"], msm_terms = "A + cum_A + period + V", variance = "robust" }

[[longitudinal.analyses]]
name = "gf"
method = "gformula_tv"
horizons = [5]
options = { n_boot = 10 }

[longitudinal.analyses.strategies]
always = { type = "static", value = 1 }
never = { type = "static", value = 0 }
high_L = { type = "threshold", covariate = "L", above = 0.5 }

[outputs]
tables = ["csv", "md"]
figures = ["png"]
report = true

[labels.variables]
L = "Burden"
V = "High-risk group"
'''


def _doc(**changes: object) -> dict:
    doc = tomllib.loads(SMALL)
    for path, value in changes.items():
        *keys, last = path.split("__")
        target = doc
        for k in keys:
            target = target[int(k)] if k.isdigit() else target[k]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return doc


def _error(doc: dict, base_dir: Path | str = ".") -> str:
    with pytest.raises(ProtocolError) as info:
        parse_protocol(doc, base_dir=base_dir)
    return str(info.value)


# ----------------------------------------------------------------------------- shape
def test_small_protocol_parses():
    p = parse_protocol(tomllib.loads(SMALL))
    spec = p.longitudinal
    assert p.analyses == () and spec is not None
    assert [a.method for a in spec.analyses] == ["msm", "gformula_tv"]
    assert [f.name for f in spec.features] == ["L_lag1", "A_time_since_initiation"]
    assert spec.analyses[0].options["variance"] == "robust"
    assert dict(spec.analyses[1].strategies["high_L"]) == {
        "type": "threshold", "covariate": "L", "above": 0.5}


@pytest.mark.parametrize(("changes", "message"), [
    ({"longitudinal__treatmnt": "A"},
     "longitudinal.treatmnt: unknown field. Did you mean 'treatment'"),
    ({"longitudinal__outcome": None}, "longitudinal.outcome: is required."),
    ({"longitudinal__data__datset": "simulated"},
     "longitudinal.data.datset: unknown field. Did you mean 'dataset'"),
    ({"longitudinal__data__dataset": "nhefs"}, "longitudinal.data.dataset: must be 'simulated'"),
    ({"longitudinal__data__layout": "wide"},
     "longitudinal.data.layout: is only used with path"),
    ({"longitudinal__features__0__kind": "lagg"},
     "longitudinal.features[0].kind: unknown feature kind 'lagg'. Did you mean 'lag'"),
    ({"longitudinal__features__1__k": 2},
     "longitudinal.features[1].k: unknown field."),
    ({"longitudinal__features__0__name": "L lag"},
     "longitudinal.features[0].name: must be a plain name"),
    ({"longitudinal__analyses__0__method": "mms"},
     "longitudinal.analyses[0].method: unknown longitudinal method 'mms'. Did you mean 'msm'"),
    ({"longitudinal__analyses__0__options": {"varience": "robust"}},
     "longitudinal.analyses[0].options.varience: msm() has no option 'varience'. Did you "
     "mean 'variance'"),
    ({"longitudinal__analyses__0__options": {"variance": "robus"}},
     "longitudinal.analyses[0].options.variance: must be one of ['bootstrap', 'robust']; "
     "got 'robus'. Did you mean 'robust'"),
    ({"longitudinal__analyses__0__options": {"treatment": "B"}},
     "longitudinal.analyses[0].options.treatment: is set by the protocol for msm()."),
    ({"longitudinal__analyses__0__options": {"weights": "w"}},
     "longitudinal.analyses[0].options.weights: is set by the protocol"),
    ({"longitudinal__analyses__0__options": {"covariates": "L + __import__('os')"}},
     "longitudinal.analyses[0].options.covariates"),
    ({"longitudinal__analyses__0__options": {"truncate": [1]}},
     "longitudinal.analyses[0].options.truncate: must be [low, high] quantiles"),
    ({"longitudinal__analyses__0__strategies": {"always": {"type": "static", "value": 1}}},
     "longitudinal.analyses[0].strategies: is only used with method = 'gformula_tv'"),
    ({"longitudinal__analyses__0__horizons": [-1]},
     "longitudinal.analyses[0].horizons: must be a list of periods"),
    ({"longitudinal__analyses__1__strategies__high_L__covariate": "LL"},
     "longitudinal.analyses[1].strategies.high_L.covariate: 'LL' is not a time-varying "
     "covariate. Did you mean 'L'"),
    ({"longitudinal__analyses__1__strategies__high_L__type": "treshold"},
     "longitudinal.analyses[1].strategies.high_L.type: must be one of ['static', "
     "'threshold']; got 'treshold'. Did you mean 'threshold'"),
    ({"longitudinal__analyses__1__strategies__always__value": 2},
     "longitudinal.analyses[1].strategies.always.value: must be 0 or 1"),
    ({"longitudinal__analyses__1__strategies__natural_course": {"type": "static",
                                                                "value": 1}},
     "longitudinal.analyses[1].strategies.natural_course: the natural course is always "
     "simulated."),
    ({"longitudinal__analyses__1__reference": "nevr"},
     "longitudinal.analyses[1].reference: unknown strategy 'nevr'. Did you mean 'never'"),
    ({"longitudinal__analyses__1__options": {"covariates": {"L": "gaussian"}}},
     "longitudinal.analyses[1].options.covariates: must be a table of column"),
    ({"longitudinal__analyses__1__options": {"interval": "percentil"}},
     "longitudinal.analyses[1].options.interval: must be one of"),
    ({"longitudinal__time_varying": ["L", "A"]},
     "longitudinal.time_varying[1]: 'A' is already the id, period, treatment"),
    ({"longitudinal__treatment_from_score": {"score": "score", "threshold": 0.5,
                                             "operator": "=>"}},
     "longitudinal.treatment_from_score.operator: must be '>=' or '>'"),
    ({"longitudinal__treatment_from_score": {"score": "score", "threshold": 0.5,
                                             "consecutiv": 2}},
     "longitudinal.treatment_from_score.consecutiv: unknown field. Did you mean "
     "'consecutive'"),
    ({"longitudinal__features__1__name": "cum_A"},
     "longitudinal.features[1].name: 'cum_A' is a treatment-history column msm() makes"),
    ({"data": {"dataset": "nhefs"}}, "data: is a point-exposure section, not used with "
     "[longitudinal]."),
    ({"longitudnal": {}}, "longitudnal: unknown section. Did you mean 'longitudinal'"),
])
def test_shape_errors_name_the_field(changes, message):
    doc = _doc(**changes)
    assert message in _error(doc)


@pytest.mark.parametrize("path", ["../visits.csv", "sub/../../visits.csv", "/etc/passwd.csv"])
def test_paths_that_escape_the_study_folder_are_refused(tmp_path, path):
    doc = _doc(longitudinal__data={"path": path})
    assert "longitudinal.data.path: " in _error(doc, tmp_path)
    assert "is outside the protocol's folder" in _error(doc, tmp_path)


def test_symlink_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "visits.csv").write_text("id,period\n1,0\n")
    study = tmp_path / "study"
    study.mkdir()
    try:
        os.symlink(outside, study / "link")
    except OSError:
        pytest.skip("no symlinks here")
    doc = _doc(longitudinal__data={"path": "link/visits.csv"})
    assert "is outside the protocol's folder" in _error(doc, study)


# ----------------------------------------------------------------------------- data checks
def _write(folder: Path, text: str, data: pd.DataFrame | None = None,
           name: str = "visits.csv") -> Path:
    if data is not None:
        data.to_csv(folder / name, index=False)
    path = folder / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _file_protocol(text: str = SMALL, data_table: str = 'path = "visits.csv"') -> str:
    return text.replace('dataset = "simulated"\nn = 400\nn_periods = 6\nrandom_state = 3',
                        data_table)


@pytest.fixture(scope="module")
def visits() -> pd.DataFrame:
    d = cl.simulate_longitudinal(300, 6, random_state=4)
    d.attrs = {}
    return d


def test_long_file_validates(tmp_path, visits, capsys):
    path = _write(tmp_path, _file_protocol(), visits)
    protocol, cohort = validate_protocol(path)
    assert cohort.n_persons == 300 and len(cohort.data) == len(visits)
    assert {"L_lag1", "A_time_since_initiation"} <= set(cohort.data.columns)
    assert cohort.files and "visits.csv" in cohort.files
    assert main(["validate", str(path)]) == 0
    assert "300 persons" in capsys.readouterr().out


def test_parquet_file(tmp_path, visits):
    pytest.importorskip("pyarrow")
    visits.to_parquet(tmp_path / "visits.parquet", index=False)
    path = _write(tmp_path, _file_protocol(data_table='path = "visits.parquet"'))
    _, cohort = validate_protocol(path)
    assert len(cohort.data) == len(visits) and "visits.parquet" in cohort.files


def test_cox_msm_and_point_estimates_only(tmp_path):
    text = SMALL.replace('variance = "robust" }', 'model = "cox" }').replace(
        'msm_terms = "A + cum_A + period + V"', 'msm_terms = "A + cum_A + V"').replace(
        "options = { n_boot = 10 }", "options = { n_boot = 0 }").replace(
        'figures = ["png"]', "figures = []")
    out = run_protocol(_write(tmp_path, text), tmp_path / "out", quiet=True)
    coef = _table(out, "msm__coefficients")
    assert list(coef["term"]) == ["A", "cum_A", "V"]
    assert not (out / "tables" / "msm__contrasts.csv").exists()
    assert _table(out, "gf__risks")["conf_low"].isna().all()
    assert "hazard ratios, weighted Cox model" in (out / "report.html").read_text()


def test_misspelt_column_is_named_with_its_field(tmp_path, visits):
    path = _write(tmp_path, _file_protocol().replace('outcome = "Y"', 'outcome = "YY"'), visits)
    with pytest.raises(ProtocolError, match=r"longitudinal.outcome: column 'YY' not found. "
                                            r"Did you mean 'Y'"):
        validate_protocol(path)


def test_every_person_period_problem_is_reported(tmp_path, visits, capsys):
    bad = visits.copy()
    first = bad.index[bad["id"] == bad["id"].iloc[0]]
    bad = bad.drop(index=first[1])                       # a missed visit
    bad.loc[bad.index[-1], "V"] = 1 - bad.loc[bad.index[-1], "V"]  # baseline changes
    path = _write(tmp_path, _file_protocol(), bad)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "longitudinal.data: the person-period data do not pass the checks" in err
    assert "2 problems" in err and "missing periods" in err
    assert "baseline covariate V changes" in err


@pytest.mark.parametrize(("old", "new", "message"), [
    ('covariates = ["L", "V"]', 'covariates = ["L", "VV"]',
     "longitudinal.analyses[0].options.covariates: column 'VV' not found. Did you mean 'V'"),
    ('covariates = ["L", "V"]', 'covariates = "L + I(L_lag2**2)"',
     "longitudinal.analyses[0].options.covariates: column 'L_lag2' not found. Did you mean "
     "'L_lag1'"),
    ("options = { n_boot = 10 }", 'options = { n_boot = 10, models = { YY = "L + period" } }',
     "longitudinal.analyses[1].options.models.YY: column 'YY' not found."),
])
def test_option_columns_are_checked_by_validate(tmp_path, visits, old, new, message):
    path = _write(tmp_path, _file_protocol().replace(old, new), visits)
    with pytest.raises(ProtocolError) as info:
        validate_protocol(path)
    assert message in str(info.value)


def test_missing_file_and_existing_derived_column(tmp_path, visits):
    path = _write(tmp_path, _file_protocol())
    with pytest.raises(ProtocolError, match="longitudinal.data.path: file 'visits.csv' not "
                                            "found"):
        validate_protocol(path)
    path = _write(tmp_path, _file_protocol().replace('kind = "lag"', 'kind = "lag"\nname = "L"'),
                  visits)
    with pytest.raises(ProtocolError, match=r"longitudinal.features\[0\].name: the data "
                                            "already has a column 'L'"):
        validate_protocol(path)


def test_treatment_from_a_score_with_persistence(tmp_path, visits):
    text = _file_protocol().replace('treatment = "A"', 'treatment = "flag"').replace(
        "[longitudinal.data]", '[longitudinal.treatment_from_score]\nscore = "score"\n'
        "threshold = 0.6\nconsecutive = 2\nmonotone = true\n\n[longitudinal.data]")
    text = text.replace("A + cum_A", "flag + cum_flag")
    path = _write(tmp_path, text, visits.drop(columns="A"))
    _, cohort = validate_protocol(path)
    expected = cl.time_varying_exposure(visits, "score", id="id", period="period",
                                        threshold=0.6, consecutive=2, monotone=True)
    np.testing.assert_array_equal(cohort.data["flag"].to_numpy(), expected.values.to_numpy())
    assert "consecutive" in cohort.exposure.describe()
    path = _write(tmp_path, text, visits)  # the data already has 'A' but not 'flag': fine
    validate_protocol(path)
    path = _write(tmp_path, text.replace('treatment = "flag"', 'treatment = "A"'), visits)
    with pytest.raises(ProtocolError, match="longitudinal.treatment: the data already has"):
        validate_protocol(path)


def test_wide_data_are_made_long(tmp_path, visits):
    wide = visits.pivot(index="id", columns="period", values=["L", "A", "Y", "C", "D"])
    wide.columns = [f"{v}_{p}" for v, p in wide.columns]
    per = visits.groupby("id", as_index=False).agg(V=("V", "first"), last=("period", "max"))
    wide = wide.reset_index().merge(per)
    text = _file_protocol(data_table='path = "wide.csv"\nlayout = "wide"\n'
                          'last_period = "last"')
    path = _write(tmp_path, text, wide, "wide.csv")
    _, cohort = validate_protocol(path)
    got = cohort.data.sort_values(["id", "period"]).reset_index(drop=True)
    want = visits.sort_values(["id", "period"]).reset_index(drop=True)
    assert len(got) == len(want)
    np.testing.assert_allclose(got["L"].to_numpy(float), want["L"].to_numpy(float))
    np.testing.assert_array_equal(got["A"].to_numpy(), want["A"].to_numpy())


def test_horizon_beyond_the_last_period(tmp_path, visits):
    path = _write(tmp_path, _file_protocol().replace("horizons = [2, 5]", "horizons = [9]"),
                  visits)
    with pytest.raises(ProtocolError, match=r"longitudinal.analyses\[0\].horizons: period 9 "
                                            r"is beyond the last period \(5\)"):
        validate_protocol(path)
    with pytest.raises(ProtocolError, match="beyond the last period"):
        run_protocol(path, tmp_path / "out", quiet=True)
    assert not (tmp_path / "out").exists()


def test_a_failing_verb_is_an_analysis_error(tmp_path, visits):
    text = _file_protocol().replace('msm_terms = "A + cum_A + period + V"',
                                    'msm_terms = "A + period + nope"')
    path = _write(tmp_path, text, visits)
    with pytest.raises(AnalysisError, match=r"longitudinal.analyses\[0\] \(msm\)"):
        run_protocol(path, tmp_path / "out", quiet=True)


# ----------------------------------------------------------------------------- a run
@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("long")
    path = _write(folder, SMALL)
    return run_protocol(path, folder / "out", quiet=True)


def _table(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / "tables" / f"{name}.csv")


def test_run_writes_the_tables_figures_and_report(small_run):
    names = {p.stem for p in (small_run / "tables").glob("*.csv")}
    assert {"summary", "preparation", "table1_baseline", "by_period", "msm__weights", "msm__coefficients",
            "msm__contrasts", "gf__risks", "gf__contrasts", "gf__natural_course",
            "gf__coefficients", "truth", "notes"} <= names
    figs = {p.name for p in (small_run / "figures").glob("*.png")}
    assert figs == {"weights__msm.png", "risks__msm.png", "risks__gf.png",
                    "natural_course__gf.png"}
    html = (small_run / "report.html").read_text(encoding="utf-8")
    for text in ("Table 1: characteristics at baseline", "Person-periods by period",
                 "stabilised weights by period", "risks under always vs never treated",
                 "natural course vs observed", "True risks of the simulated cohort",
                 "Burden", "High-risk group"):
        assert text in html, text
    prov = json.loads((small_run / "provenance.json").read_text())
    assert prov["cohortlab_provenance"] == 1 and "report.html" in prov["files"]
    assert prov["data"]["persons"] == 400


def test_run_numbers(small_run):
    t1 = _table(small_run, "table1_baseline")
    assert set(t1["variable"]) == {"V", "L"}
    bp = _table(small_run, "by_period")
    assert bp["period"].tolist() == [0, 1, 2, 3, 4, 5]
    c = _table(small_run, "msm__contrasts")
    assert c["term"].tolist() == ["always", "never", "risk difference", "risk ratio"] * 2
    assert c["period"].tolist() == [2] * 4 + [5] * 4
    assert (c["conf_low"] < c["estimate"]).all() and (c["estimate"] < c["conf_high"]).all()
    r = _table(small_run, "gf__risks")
    assert set(r["strategy"]) == {"natural_course", "always", "never", "high_L"}
    assert (r["period"] == 5).all() and r["conf_low"].notna().all()
    summary = _table(small_run, "summary")
    assert summary[["analysis", "period"]].drop_duplicates().values.tolist() == [
        ["msm", 2], ["msm", 5], ["gf", 5]]
    rd = summary.set_index(["analysis", "period", "measure"])["estimate"]
    assert rd["msm", 5, "risk difference"] == pytest.approx(
        c.loc[(c["term"] == "risk difference") & (c["period"] == 5), "estimate"].iloc[0])
    nc = _table(small_run, "gf__natural_course")
    assert list(nc.columns) == ["period", "observed", "simulated", "difference"]
    assert nc["difference"].abs().max() < 0.05
    gc = _table(small_run, "gf__contrasts")
    assert set(gc["time"]) == {5.0}
    # the same protocol and data give the same numbers as the verb called directly
    d = cl.simulate_longitudinal(400, 6, random_state=3)
    direct = cl.msm(d, id="id", period="period", treatment="A", outcome="Y", censor="C",
                    competing="D", covariates=["L", "V"], baseline=["V"],
                    msm_terms="A + cum_A + period + V", variance="robust", horizons=[2, 5])
    np.testing.assert_allclose(c["estimate"], direct.contrasts.to_frame()["estimate"],
                               rtol=1e-12)


def test_csv_tables_are_reproducible(small_run, tmp_path):
    again = run_protocol(_write(tmp_path, SMALL.replace('figures = ["png"]', "figures = []")
                                .replace("report = true", "report = false")),
                         tmp_path / "out", quiet=True)
    for path in (small_run / "tables").glob("*.csv"):
        assert (again / "tables" / path.name).read_bytes() == path.read_bytes(), path.name


def test_overwrite_an_earlier_longitudinal_run(tmp_path):
    text = SMALL.replace('figures = ["png"]', "figures = []").replace("report = true",
                                                                     "report = false")
    text = text.replace("options = { n_boot = 10 }", "options = { n_boot = 0 }")
    path = _write(tmp_path, text)
    run_protocol(path, tmp_path / "out", quiet=True)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--overwrite", "-q"]) == 0


# ----------------------------------------------------------------------------- the example
def test_example_is_bundled_and_parses():
    assert "wearable_longitudinal" in EXAMPLES
    p = parse_protocol(tomllib.loads(template_text("wearable_longitudinal")))
    assert {a.method for a in p.longitudinal.analyses} == {"msm", "gformula_tv"}


def test_example_validates(tmp_path, capsys):
    assert main(["init", "--example", "wearable_longitudinal", str(tmp_path / "s.toml")]) == 0
    assert main(["validate", str(tmp_path / "s.toml")]) == 0
    assert "1,500 persons" in capsys.readouterr().out


def test_example_run_covers_the_true_risk_difference(tmp_path):
    """The bundled example (fixed seeds): MSM and g-formula intervals hold the true RD."""
    text = template_text("wearable_longitudinal").replace(
        'figures = ["png"]', "figures = []").replace("report = true", "report = false")
    out = run_protocol(_write(tmp_path, text), tmp_path / "out", quiet=True)
    truth = _table(out, "truth").set_index("period")["risk_difference"]
    msm_ = _table(out, "msm__contrasts")
    gf = _table(out, "gformula__contrasts")
    for h in (5, 11):
        rd = msm_.loc[(msm_["term"] == "risk difference") & (msm_["period"] == h)].iloc[0]
        assert rd["conf_low"] <= truth[h] <= rd["conf_high"], (h, rd["estimate"], truth[h])
        rd = gf.loc[(gf["strategy"] == "always") & (gf["time"] == h)
                    & (gf["effect_measure"] == "risk_difference")].iloc[0]
        assert rd["conf_low"] <= truth[h] <= rd["conf_high"], (h, rd["estimate"], truth[h])
    nc = _table(out, "gformula__natural_course")
    assert nc["difference"].abs().max() < 0.02
