"""E-values against R's EValue package (closed forms of evalues.RR/OR/HR/MD).

Reference: tests/reference/evalue.json (EValue vignette and help-page inputs; values from the
closed forms that EValue implements), tolerance abs 1e-6. The R calls are written next to
each case, e.g. ``EValue::evalues.OR(3.9, 1.8, 8.7, rare = TRUE)``.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from helpers import load_reference

import cohortlab as cl
from cohortlab.exceptions import DataValidationError
from cohortlab.results._schema import check_schema
from cohortlab.results.estimate import Estimate, EstimateTable
from cohortlab.sensitivity.evalue import evalue

ATOL = 1e-6  # evalue.json: "E": "abs 1e-6" (closed form on both sides)

REF = load_reference("evalue")
CASES = REF["estimates"]["cases"]

#: evalue.json case input -> our call (the EValue call in the comment)
CALLS = {
    "RR 10.73 (8.02, 14.36)": lambda: evalue(10.73, 8.02, 14.36),  # evalues.RR(10.73, 8.02, 14.36)
    "OR 3.9 (1.8, 8.7), rare": lambda: evalue(3.9, 1.8, 8.7, measure="OR", rare=True),
    "RR 0.80 (0.71, 0.91)": lambda: evalue(0.80, 0.71, 0.91),  # evalues.RR(0.80, 0.71, 0.91)
    "HR 0.56 (0.46, 0.69), common":  # evalues.HR(0.56, 0.46, 0.69, rare = FALSE)
        lambda: evalue(0.56, 0.46, 0.69, measure="HR", rare=False),
    "OR 0.86 (0.75, 0.99), common":  # evalues.OR(0.86, 0.75, 0.99, rare = FALSE)
        lambda: evalue(0.86, 0.75, 0.99, measure="OR", rare=False),
    "RR 2.5": lambda: evalue(2.5),  # evalues.RR(2.5)
    "RR 2.5, true 1.5": lambda: evalue(2.5, true=1.5),  # evalues.RR(2.5, true = 1.5)
    "SMD 0.5, se 0.1": lambda: evalue(0.5, measure="SMD", se=0.1),  # evalues.MD(0.5, 0.1)
}


def test_every_reference_case_has_a_call():
    assert {c["input"] for c in CASES} == set(CALLS)


@pytest.mark.parametrize("case", CASES, ids=[c["input"] for c in CASES])
def test_evalue_matches_reference(case):
    res = CALLS[case["input"]]()
    assert res.estimate == pytest.approx(case["E"], abs=ATOL)
    if "E_ci" in case:
        assert res.extra["evalue_ci"] == pytest.approx(case["E_ci"], abs=ATOL)
    else:
        assert math.isnan(res.extra["evalue_ci"])
    if "RR" in case:
        assert res.extra["rr"] == pytest.approx(case["RR"], abs=ATOL)
        assert res.labels["rr"] == pytest.approx(case["RR"], abs=ATOL)
    if "RR_ci" in case:
        got = [res.extra["rr_conf_low"], res.extra["rr_conf_high"]]
        assert got == pytest.approx(case["RR_ci"], abs=ATOL)


def test_result_shape():
    res = evalue(10.73, 8.02, 14.36)
    check_schema(res.to_frame())
    assert res.term == "E-value: RR"
    assert res.effect_measure == "evalue"
    assert res.ci_method == "none"
    assert math.isnan(res.std_error) and math.isnan(res.conf_low) and math.isnan(res.conf_high)
    assert res.labels["evalue_ci"] == res.extra["evalue_ci"]
    assert "E-value" in str(res)


@pytest.mark.parametrize("rr", [1.0001, 1.3, 2.5, 10.73, 250.0])
def test_evalue_symmetry(rr):
    """E(RR) == E(1/RR), and the CI E-value of the mirrored interval is the same."""
    assert evalue(rr).estimate == pytest.approx(evalue(1 / rr).estimate, rel=1e-12)
    up = evalue(rr * 1.2, rr, rr * 1.5)
    down = evalue(1 / (rr * 1.2), 1 / (rr * 1.5), 1 / rr)
    assert up.estimate == pytest.approx(down.estimate, rel=1e-12)
    assert up.extra["evalue_ci"] == pytest.approx(down.extra["evalue_ci"], rel=1e-12)


def test_null_and_crossing_interval():
    assert evalue(1.0).estimate == 1.0
    assert evalue(1.0, 0.8, 1.2).extra["evalue_ci"] == 1.0
    assert evalue(1.3, 0.9, 1.8).extra["evalue_ci"] == 1.0  # CI crosses 1
    assert evalue(0.7, 0.5, 1.1).extra["evalue_ci"] == 1.0
    # only the limit on the null side is needed (EValue reports that one)
    assert evalue(2.0, 1.5).extra["evalue_ci"] == pytest.approx(evalue(1.5).estimate)
    assert math.isnan(evalue(2.0, conf_high=3.0).extra["evalue_ci"])


def test_rare_conversions_are_identity():
    """rare=True reads OR and HR as risk ratios (EValue's toRR)."""
    for m in ("OR", "HR"):
        assert evalue(1.8, 1.2, 2.7, measure=m, rare=True).estimate == evalue(1.8).estimate


def test_non_null_true_shifts_the_ratio():
    assert evalue(2.5, 2.0, 3.1, true=1.5).estimate == pytest.approx(evalue(2.5 / 1.5).estimate)
    assert evalue(2.5, 2.0, 3.1, true=1.5).extra["evalue_ci"] == pytest.approx(
        evalue(2.0 / 1.5).estimate)
    assert evalue(2.5, true=1.5).notes


def test_estimate_method_on_crude_effect():
    nhefs = cl.datasets.load_nhefs()
    rr = cl.crude_effect(nhefs, exposure="qsmk", outcome="death", effect_measure="ratio")
    assert rr.effect_measure == "risk_ratio"
    res = rr.evalue()
    direct = evalue(rr.estimate, rr.conf_low, rr.conf_high)
    assert res.term == "E-value: qsmk"
    assert res.estimate == pytest.approx(direct.estimate, rel=1e-12)
    assert res.extra["evalue_ci"] == pytest.approx(direct.extra["evalue_ci"], rel=1e-12)
    assert evalue(rr).estimate == res.estimate


def test_estimate_method_odds_ratio_needs_rare():
    nhefs = cl.datasets.load_nhefs()
    odds = cl.crude_effect(nhefs, exposure="qsmk", outcome="death", effect_measure="odds_ratio")
    with pytest.raises(DataValidationError, match=r"rare must be True or False"):
        odds.evalue()
    res = odds.evalue(rare=False)
    expected = evalue(odds.estimate, odds.conf_low, odds.conf_high, measure="OR", rare=False)
    assert res.estimate == pytest.approx(expected.estimate, rel=1e-12)


def test_estimate_table_evalue():
    rows = [Estimate.from_model_scale(t, np.log(v), 0.1, effect_measure="hazard_ratio")
            for t, v in [("a", 0.7), ("b", 1.6)]]
    tab = EstimateTable(rows=tuple(rows), title="Cox").evalue(rare=True)
    assert isinstance(tab, EstimateTable)
    assert [r.term for r in tab] == ["E-value: a", "E-value: b"]
    assert tab["E-value: b"].estimate == pytest.approx(evalue(1.6).estimate)


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", [0.0, -1.5])
def test_rr_not_positive_raises(bad):
    with pytest.raises(DataValidationError, match=r"estimate must be > 0"):
        evalue(bad)


def test_conf_limit_not_positive_raises():
    with pytest.raises(DataValidationError, match=r"conf_low must be > 0"):
        evalue(1.5, 0.0, 2.0)


def test_nonfinite_estimate_raises():
    with pytest.raises(DataValidationError, match=r"estimate must be a finite number"):
        evalue(math.inf)


def test_conf_low_above_conf_high_raises():
    with pytest.raises(DataValidationError, match=r"conf_low must not exceed conf_high"):
        evalue(1.5, 2.0, 1.2)


def test_estimate_outside_interval_raises():
    with pytest.raises(DataValidationError, match=r"must lie inside its interval"):
        evalue(3.0, 1.2, 2.0)


@pytest.mark.parametrize("measure", ["OR", "HR"])
def test_ratio_without_rare_raises(measure):
    with pytest.raises(DataValidationError, match=rf"rare must be True or False for measure='{measure}'"):
        evalue(3.9, 1.8, 8.7, measure=measure)


def test_rare_with_rr_raises():
    with pytest.raises(DataValidationError, match=r"rare applies only to measure='OR' or 'HR'"):
        evalue(2.0, rare=True)


def test_smd_without_se_raises():
    with pytest.raises(DataValidationError, match=r"measure='SMD' needs the standard error"):
        evalue(0.5, measure="SMD")


def test_smd_negative_se_raises():
    with pytest.raises(DataValidationError, match=r"se must be >= 0"):
        evalue(0.5, measure="SMD", se=-0.1)


def test_smd_with_limits_raises():
    with pytest.raises(DataValidationError, match=r"takes its interval from se"):
        evalue(0.5, 0.3, 0.7, measure="SMD", se=0.1)


def test_se_with_ratio_raises():
    with pytest.raises(DataValidationError, match=r"se is used only with measure='SMD'"):
        evalue(2.0, se=0.1)


def test_unknown_measure_raises():
    with pytest.raises(DataValidationError, match=r"measure must be one of"):
        evalue(2.0, measure="rr")  # type: ignore[arg-type]


def test_risk_difference_not_implemented():
    with pytest.raises(DataValidationError, match=r"measure='RD' is not implemented.*n11, n10, n01, n00"):
        evalue(0.05, 0.01, 0.09, measure="RD")


def test_estimate_mean_difference_asks_for_sd():
    nhefs = cl.datasets.load_nhefs()
    md = cl.crude_effect(nhefs, exposure="qsmk", outcome="wt82_71", missing="drop")
    with pytest.raises(DataValidationError, match=r"'mean_difference'.*outcome's SD"):
        md.evalue()


def test_estimate_risk_difference_raises():
    rd = Estimate.from_model_scale("a", 0.05, 0.01, effect_measure="risk_difference")
    with pytest.raises(DataValidationError, match=re.escape("needs the 2x2 counts")):
        rd.evalue()


def test_estimate_with_measure_raises():
    est = Estimate.from_model_scale("a", np.log(1.5), 0.1, effect_measure="risk_ratio")
    with pytest.raises(DataValidationError, match=r"read from the Estimate"):
        evalue(est, measure="OR")
