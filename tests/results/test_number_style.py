"""One number style (journal conventions) for p-values, estimates and intervals (issue 12)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cohortlab.report._cells import ci_text
from cohortlab.report.tables import table_parts
from cohortlab.results import Estimate
from cohortlab.results._format import (
    effect_decimals,
    fmt_p,
    format_estimate_ci,
    format_interval,
    format_number,
    format_p,
)


@pytest.mark.parametrize(("p", "text"), [
    (1.65e-06, "<0.001"), (0.000999, "<0.001"), (0.001, "0.0010"), (0.00644, "0.0064"),
    (0.0123, "0.012"), (0.047, "0.047"), (0.0449, "0.045"), (0.0496, "0.0496"),
    (0.04999, "0.04999"), (0.0499999999, "<0.05"), (0.05, "0.050"), (0.0504, "0.050"), (0.0995, "0.10"),
    (0.123, "0.12"), (0.5, "0.50"), (0.99, "0.99"), (0.996, ">0.99"), (1.0, ">0.99"),
    (math.nan, ""), (None, ""),
])
def test_format_p_rule(p, text):
    assert format_p(p) == text


def test_p_below_005_never_reads_005_or_more():
    ps = np.linspace(0.040, 0.04999999, 2001)
    texts = [format_p(p) for p in ps]
    assert all(t == "<0.05" or float(t) < 0.05 for t in texts)


def test_fmt_p_follows_the_same_rule():
    assert fmt_p(0.00644, 3) == "0.0064" and fmt_p(0.23) == "0.23"
    assert fmt_p(0.00005, 4) == "<0.0001" and fmt_p(0.0005, 1) == "<0.001"


def test_bound_rounding_onto_null_gets_a_decimal():
    # HR 0.68 (0.47 to 0.996), p = 0.047: 2 decimals would print "(0.47 to 1.00)"
    assert format_estimate_ci(0.68, 0.47, 0.996, measure="hazard_ratio",
                              p_value=0.047) == "0.680 (0.470 to 0.996)"
    # the same numbers with a non-significant p keep two decimals
    assert format_estimate_ci(0.68, 0.47, 1.004, measure="hazard_ratio",
                              p_value=0.052) == "0.68 (0.47 to 1.00)"
    # without a p-value the interval decides
    assert format_estimate_ci(1.5, 1.0004, 2.2, measure="odds_ratio") == "1.5000 (1.0004 to 2.2000)"
    # differences: null 0
    assert format_estimate_ci(-0.9, -1.8, -0.004, measure="mean_difference",
                              p_value=0.049) == "-0.900 (-1.800 to -0.004)"


def test_decimals_per_measure():
    assert effect_decimals(0.82, 0.70, 0.96, measure="hazard_ratio") == 2
    assert effect_decimals(-0.031, -0.053, -0.009, measure="risk_difference") == 3
    assert format_estimate_ci(3.521, 2.61, 4.44, measure="mean_difference") == "3.52 (2.61 to 4.44)"
    assert format_estimate_ci(45.2, 38.1, 52.3, measure="mean_difference") == "45.2 (38.1 to 52.3)"
    assert format_estimate_ci(452.0, 381.0, 523.0, measure="mean_difference") == "452 (381 to 523)"
    assert format_estimate_ci(0.53, 0.21, 0.85, measure="mean_difference") == "0.530 (0.210 to 0.850)"
    # a narrow interval keeps a significant digit of its width
    assert format_estimate_ci(3.52, 3.49, 3.55, measure="mean_difference") == "3.52 (3.49 to 3.55)"
    assert format_estimate_ci(1234.5, 1000.0, 1500.0, measure="mean_difference",
                              digits=0) == "1,234 (1,000 to 1,500)"


def test_interval_style_is_to_never_brackets():
    assert format_interval(0.7, 0.96, 2) == "0.70 to 0.96"
    assert format_number(-0.001, 2) == "0.00"
    assert format_estimate_ci(0.8, math.nan, 1.2, measure="hazard_ratio") == "0.80"
    assert format_estimate_ci(math.nan, 0.1, 0.2) == ""


def test_ci_text_applies_the_null_guard():
    assert ci_text(0.68, 0.47, 0.996, 2, measure="hazard_ratio", p_value=0.047) == "0.680 (0.470 to 0.996)"
    assert ci_text(0.8234, 0.7012, 0.9611) == "0.82 (0.70 to 0.96)"


def test_tables_show_the_0996_case_unambiguously():
    se = (math.log(0.996) - math.log(0.68)) / 1.959963984540054
    est = Estimate.from_model_scale("hormon", math.log(0.68), se,
                                    effect_measure="hazard_ratio", method="cox")
    assert est.p_value < 0.05
    row = table_parts(est).display.iloc[0].tolist()
    assert row[1] == "0.680 (0.464 to 0.996)"
    assert row[2] == format_p(est.p_value)
    assert est.to_frame().loc[0, "conf_high"] == pytest.approx(0.996)  # numbers unchanged
