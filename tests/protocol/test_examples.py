"""The bundled example protocols and analyses/whatif_nhefs/study.toml, against R references.

Figures and the report are switched off here (test_run.py covers them); the numbers are the
CSV tables a run writes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from helpers import load_reference

from cohortlab.protocol import run_protocol
from cohortlab.protocol.template import template_text

ROOT = Path(__file__).resolve().parents[2]
WHATIF = ROOT / "analyses" / "whatif_nhefs"


def _numbers_only(text: str) -> str:
    return text.replace('figures = ["png"]', "figures = []").replace("report = true",
                                                                     "report = false")


def _table(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / "tables" / f"{name}.csv")


@pytest.fixture(scope="module")
def nhefs_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("nhefs")
    path = folder / "nhefs.toml"
    path.write_text(_numbers_only(template_text("nhefs")))
    return run_protocol(path, folder / "out", quiet=True)


def test_nhefs_example_matches_r(nhefs_run):
    """R: nhefs_cases.R (geepack::geeglm + sandwich; hand-coded AIPW), What If ch. 12-13."""
    t2 = _table(nhefs_run, "table2").set_index("analysis")
    ipw, aipw = load_reference("nhefs_ipw_ate_msm"), load_reference("nhefs_aipw_tmle")
    gform = load_reference("nhefs_ps_outcome_regression_ch15")
    # ate abs 1e-4, robust SE rel 1e-3 (the JSONs' tolerances)
    assert abs(t2.loc["ipw", "estimate"] - ipw["estimates"]["ate"]) < 1e-4
    assert math.isclose(t2.loc["ipw", "std_error"], ipw["estimates"]["se_robust_HC0"],
                        rel_tol=1e-3)
    assert abs(t2.loc["aipw", "estimate"] - aipw["estimates"]["aipw_ate"]["est"]) < 1e-4
    assert math.isclose(t2.loc["aipw", "std_error"], aipw["estimates"]["aipw_ate"]["se"],
                        rel_tol=1e-3)
    est = gform["estimates"]["outcome_regression_no_interaction"]["est"]
    assert abs(t2.loc["gformula", "estimate"] - est) < 1e-4
    assert t2.loc["crude", "n"] == 1566


def test_nhefs_example_tables(nhefs_run):
    flow = _table(nhefs_run, "attrition")
    assert flow[["n_before", "n_excluded", "n_after"]].values.tolist() == [[1629, 63, 1566]]
    t1 = _table(nhefs_run, "table1")
    assert {"sex", "age", "education", "wt71"} <= set(t1["variable"])
    bal = _table(nhefs_run, "balance__ipw")
    assert (bal["smd_weighted"].abs() < 0.05).all()  # ATE weights balance the means
    sub = _table(nhefs_run, "subgroups__ipw__weight_change__by_sex")
    assert sub["level"].astype(str).tolist() == ["all", "0", "1"]
    ev = _table(nhefs_run, "evalues")
    assert (ev["evalue_measure"] == "SMD").all() and (ev["evalue"] > 1).all()


def test_wearable_example(tmp_path):
    """Simulated cohort (seeded): checks of the shape and of the simulated truth's direction."""
    path = tmp_path / "wearable.toml"
    path.write_text(_numbers_only(template_text("wearable")))
    out = run_protocol(path, tmp_path / "out", quiet=True)
    t2 = _table(out, "table2")
    assert set(t2["analysis"]) == {"adjusted_cif", "fine_gray", "cause_specific_cox",
                                   "naive_mace"}
    fg = t2.loc[t2["analysis"] == "fine_gray"].iloc[0]
    assert fg["term"] == "af_flagged" and fg["effect_measure"] == "subdistribution_hazard_ratio"
    assert fg["conf_low"] > 1  # af raises the stroke hazard (true cause-specific HR 2.5)
    hz = _table(out, "followup_horizon").iloc[0]
    assert hz["horizon"] == 4 and hz["n_beyond_horizon"] > 0
    bias = _table(out, "bias_analysis").set_index("term")
    assert list(bias.index) == ["naive", "corrected (systematic)", "corrected (total)"]
    # correcting non-differential misclassification moves the ratio away from the null
    assert bias.loc["corrected (systematic)", "estimate"] > bias.loc["naive", "estimate"] > 1
    exposure = _table(out, "exposure_definition")
    assert exposure["label"].tolist() == ["af_score < 0.5", "af_score >= 0.5"]
    cif = _table(out, "cif__stroke")
    assert {"time", "group", "cause", "n_risk", "estimate", "conf_low"} <= set(cif.columns)


def test_whatif_study_reproduces_run_py(tmp_path):
    """analyses/whatif_nhefs/study.toml gives run.py's point estimates (expected.json)."""
    text = _numbers_only((WHATIF / "study.toml").read_text()).replace("n_boot = 200",
                                                                      "n_boot = 20")
    path = tmp_path / "study.toml"
    path.write_text(text)
    out = run_protocol(path, tmp_path / "out", quiet=True)
    got = _table(out, "table2").set_index("analysis")["estimate"]
    expected = json.loads((WHATIF / "expected.json").read_text())
    pairs = {"ipw_12_2_robust": "12.2 IPW, nonstabilised, robust SE",
             "ipw_12_2_mestimation": "12.2 IPW, M-estimation SE (PS estimated)",
             "ipw_12_7_censoring": "12.7 IPW with censoring weights (n = 1,629)",
             "gformula_13_3": "13.3 g-formula standardised over 1,629, bootstrap",
             "outcome_regression_15_1": "15.1 outcome regression, no product term",
             "aipw_tp_13_2": "TP 13.2 AIPW (influence function)"}
    for analysis, key in pairs.items():
        assert abs(got[analysis] - expected[key]) < 1e-4, analysis
    cens = load_reference("nhefs_ipw_censoring_weights")["estimates"]
    assert abs(got["ipw_12_7_censoring"] - cens["ate"]) < 1e-4
    dropped = _table(out, "dropped").set_index("analysis")
    assert dropped.loc["ipw_12_2_robust", "n_dropped"] == 63
    assert dropped.loc["ipw_12_7_censoring", "n_dropped"] == 0


LUNG = '''
[study]
title = "Sex and survival in advanced lung cancer (NCCTG)"
seed = 1

[data]
dataset = "lung"
missing = "drop"                 # ph.ecog (subgroups) has one missing value

[followup]
time = "time"
unit = "days"
time_zero = "enrolment"

[exposure]
column = "sex"
reference = 1

[[outcomes]]
name = "death"
type = "time_to_event"
event = "dead"

[covariates]
columns = ["age"]

[[analyses]]
name = "km"
method = "kaplan_meier"
at = [180, 365]
options = { conf_type = "log" }

[[analyses]]
name = "cox"
method = "cox"

[[analyses]]
name = "rmst"
method = "rmst"
options = { tau = 730 }

[[subgroups]]
analysis = "cox"
by = ["ph.ecog"]
min_events = 5

[outputs]
figures = []
report = false
'''


def test_lung_survival_protocol_matches_r(tmp_path):
    """R: survfit(Surv(time, status) ~ sex, conf.type = "log") and coxph(~ age + sex)
    (survival_cases.R, survival 3.5.3)."""
    path = tmp_path / "lung.toml"
    path.write_text(LUNG)
    out = run_protocol(path, tmp_path / "out", quiet=True)
    km = _table(out, "km__death__at")
    ref = load_reference("lung_kaplan_meier")["estimates"]["by_sex"]
    assert len(km) == 4
    for row, want in zip(km.itertuples(), ref, strict=True):  # abs 1e-6 (the JSON's)
        assert str(row.group).endswith(str(want["sex"])) and row.time == want["t"]
        assert abs(row.estimate - want["surv"]) < 1e-6
        assert abs(row.std_error - want["se"]) < 1e-6
        assert abs(row.conf_low - want["ci_log"][0]) < 1e-6
    cox = _table(out, "table2").set_index("analysis").loc["cox"]
    want = load_reference("lung_cox_model_and_robust_se")["estimates"]["model_A"]["sex"]
    assert cox["term"] == "sex" and cox["effect_measure"] == "hazard_ratio"
    assert abs(math.log(cox["estimate"]) - want["coef"]) < 1e-5  # coef abs 1e-5
    rmst = _table(out, "rmst__death")
    assert set(_table(out, "table2").query("analysis == 'rmst'")["effect_measure"]) == {
        "rmst_difference", "rmst_ratio", "rmtl_ratio"}
    assert len(rmst) == 5
    sub = _table(out, "subgroups__cox__death__by_ph.ecog")
    assert sub["subgroup"].iloc[0] == "overall"


def test_failing_subgroups_is_an_analysis_error(tmp_path):
    from cohortlab.protocol.schema import AnalysisError

    path = tmp_path / "lung.toml"
    path.write_text(LUNG.replace('missing = "drop"', 'missing = "raise"'))
    with pytest.raises(AnalysisError, match=r"^subgroups\[0\] \(cox, outcome 'death'\): "
                                            r"subgroups\(\) failed: subgroups\(\): 1 of 228 rows "
                                            r"have missing values"):
        run_protocol(path, tmp_path / "out", quiet=True)
    assert not (tmp_path / "out").exists()
