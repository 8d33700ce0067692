"""Table 2: effects across estimators and outcomes (tidy frame + the clinical wide layout),
built from IPW, AIPW and g-formula on NHEFS (What If ch. 12-13), and ``table_parts``."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from cohortlab.exceptions import DataValidationError
from cohortlab.report.tables import Table2, ci_text, default_times, table2, table_parts
from cohortlab.results.estimate import Estimate
from cohortlab.results.tidy import tidy

#: mean differences with 2 decimals, risk differences with 3
CELL = {"MD": re.compile(r"^MD -?\d+\.\d{2} \(-?\d+\.\d{2} to -?\d+\.\d{2}\)$"),
        "RD": re.compile(r"^RD -?0\.\d{3} \(-?0\.\d{3} to -?0\.\d{3}\)$")}


def test_table2_nhefs_layout(nhefs_effects):
    t2 = table2(nhefs_effects)
    assert isinstance(t2, Table2)
    wide = t2.wide()
    assert list(wide.columns) == ["Outcome", "IPW", "AIPW", "g-formula"]
    assert wide["Outcome"].tolist() == ["weight gain, kg", "death by 1992"]
    for _, row in wide.iterrows():
        prefix = "MD" if row["Outcome"].startswith("weight") else "RD"
        for col in ("IPW", "AIPW", "g-formula"):
            assert CELL[prefix].match(row[col]), row[col]
    # the cells are the estimates, rounded
    ipw = nhefs_effects["weight gain, kg"][0]
    assert wide.loc[0, "IPW"] == "MD " + ci_text(ipw.estimate, ipw.conf_low, ipw.conf_high, 2)
    death = nhefs_effects["death by 1992"][2]
    assert wide.loc[1, "g-formula"] == "RD " + ci_text(death.estimate, death.conf_low,
                                                       death.conf_high, 3)
    assert table2(nhefs_effects, digits=1).wide().loc[0, "IPW"].startswith("MD 3.4 (")
    # What If Program 12.2 (IPW, robust SE): 3.44 (book CI 2.41 to 4.47; ours M-estimation)
    assert wide.loc[0, "IPW"].startswith("MD 3.44 (")


def test_table2_tidy_frame_is_tidy_of_the_results(nhefs_effects):
    frame = table2(nhefs_effects).to_frame()
    results = [r for rs in nhefs_effects.values() for r in rs]
    ref = tidy(*results)
    assert frame["outcome"].tolist() == ["weight gain, kg"] * 3 + ["death by 1992"] * 3
    assert frame["column"].tolist() == ["IPW", "AIPW", "g-formula"] * 2
    pd.testing.assert_frame_equal(frame.drop(columns=["outcome", "column"]), ref)


def test_table2_by_outcome_transposes(nhefs_effects):
    wide = table2(nhefs_effects, by="outcome").wide()
    assert list(wide.columns) == ["Method", "weight gain, kg", "death by 1992"]
    assert wide["Method"].tolist() == ["IPW", "AIPW", "g-formula"]
    by_method = table2(nhefs_effects).wide().set_index("Outcome")
    assert wide.set_index("Method").T.equals(by_method)


def test_table2_renders_everywhere(nhefs_effects):
    t2 = table2(nhefs_effects, title="Table 2. Effects of quitting smoking")
    md = t2.to_markdown()
    assert md.startswith("**Table 2. Effects of quitting smoking**")
    assert "| Outcome | IPW | AIPW | g-formula |" in md
    assert "MD, mean difference; RD, risk difference." in md
    assert "IPW: ATE, 95% CI by" in md
    assert r"\begin{tabular}{llll}" in t2.to_latex()
    assert "<th" in t2.to_html() and "g-formula" in t2.to_html()


def _hr(method, ci_method="wald", term="exposure", value=0.8):
    return Estimate.from_model_scale(term, np.log(value), 0.1, effect_measure="hazard_ratio",
                                     method=method, ci_method=ci_method)


def test_table2_same_method_twice_gets_ci_method_labels():
    t2 = table2({"death": [_hr("ipw", "wald_sandwich"), _hr("ipw", "bootstrap_percentile")]})
    assert list(t2.wide().columns)[1:] == ["IPW (Wald, robust sandwich SE)",
                                           "IPW (bootstrap percentile)"]


def test_table2_explicit_labels_terms_and_sequences(cox_model):
    t2 = table2({"death": {"Cox, adjusted": cox_model, "Cox, crude": _hr("cox", term="treated")}},
                terms="treated")
    wide = t2.wide()
    assert list(wide.columns) == ["Outcome", "Cox, adjusted", "Cox, crude"]
    assert wide.iloc[0, 1] == "HR 0.70 (0.58 to 0.85)"
    # all terms of a model: rows "outcome: term"
    rows = table2({"death": cox_model}).wide()["Outcome"].tolist()
    assert rows == ["death: treated", "death: age"]
    # a plain sequence: outcome from labels["outcome"], else the term
    a = _hr("cox")
    b = Estimate.from_model_scale("x", 0.1, 0.05, method="ipw", labels={"outcome": "MACE"})
    assert table2([a, b]).wide()["Outcome"].tolist() == ["exposure", "MACE"]
    assert table2([a], prefix=False).wide().iloc[0, 1] == "0.80 (0.66 to 0.97)"


@pytest.mark.parametrize(("results", "kwargs", "error", "match"), [
    ({}, {}, DataValidationError, r"table2\(\): no results in results; got an empty mapping"),
    ([], {}, DataValidationError, r"results must be a non-empty mapping .* got list \(empty\)"),
    ("ipw", {}, DataValidationError, r"got str"),
    ({"death": "ipw"}, {}, TypeError, r"results\['death'\] is a str; pass Estimate"),
    ({"death": [pd.DataFrame()]}, {}, TypeError, r"results\['death'\]\[0\] is a DataFrame"),
    ({"death": _hr("cox")}, {"by": "term"}, DataValidationError,
     r"table2\(\): by must be one of \{\"method\", \"outcome\"\}; got 'term'"),
    ({"death": _hr("cox")}, {"terms": ["age"]}, DataValidationError,
     r"no rows with the terms \['age'\] in terms; got terms \['exposure'\]"),
])
def test_table2_bad_input(results, kwargs, error, match):
    with pytest.raises(error, match=match):
        table2(results, **kwargs)


# ---------------------------------------------------------------------- table_parts
def test_table_parts_effects(hazard_ratios, risk_difference):
    parts = table_parts(hazard_ratios)
    assert list(parts.display.columns) == ["Term", "HR (95% CI)", "p-value"]
    assert parts.numbers["estimate_ci"].tolist() == parts.display["HR (95% CI)"].tolist()
    assert parts.notes[0].startswith("Method: Cox; estimand: ATE; effect measure: hazard ratio")
    mixed = table_parts(tidy(hazard_ratios, risk_difference))
    assert {"Method", "Measure", "CI method"} <= set(mixed.display.columns)
    assert "Estimate (95% CI)" in mixed.display.columns


def test_table_parts_title_caption_and_plain_frame():
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan], "c": ["x", None]})
    parts = table_parts(frame, title="T", caption="C", digits=2)
    assert (parts.title, parts.caption) == ("T", "C")
    assert parts.display.values.tolist() == [["1", "0.50", "x"], ["2", "", ""]]
    assert parts.numbers.equals(frame)


def test_ci_text_and_default_times(small_cohort):
    assert ci_text(1234.5, 1000.0, 1500.25, 1) == "1,234.5 (1,000.0 to 1,500.2)"
    assert ci_text(float("nan"), 0.0, 1.0) == ""
    from cohortlab.survival.kaplan_meier import kaplan_meier

    km = kaplan_meier(small_cohort, time="time", event="event")
    times = default_times(km)
    step = np.diff(times)
    assert np.allclose(step, step[0]) and times[0] == step[0]


# ---------------------------------------------------------------------- Table 1 before/after
def test_table1_before_after_aligns_rows(small_cohort):
    from cohortlab.describe.table1 import table1
    from cohortlab.report.tables import table1_before_after

    w = np.where(small_cohort["treated"] == 1, 1.6, 0.7)
    cohort = small_cohort.assign(w=w)
    cols = dict(by="treated", columns=["age", "sex", "stage"], categorical=["stage"])
    before, after = table1(cohort, **cols), table1(cohort, weights="w", **cols)
    parts = table1_before_after(before, after)
    shown_b, shown_a = before.table(), after.table()
    shown_a = shown_a[shown_a["Variable"] != "n (unweighted)"].reset_index(drop=True)
    assert parts.display["Variable"].tolist()[1:] == shown_b["Variable"].tolist()[1:]
    assert parts.display["Unweighted: treated = 1"].tolist() == shown_b["treated = 1"].tolist()
    assert parts.display["Weighted: treated = 1"].tolist() == shown_a["treated = 1"].tolist()
    assert parts.display["SMD, weighted"].tolist() == shown_a["SMD"].tolist()
    assert parts.numbers["weighting"].value_counts().to_dict() == {
        "Unweighted": len(before.to_frame()), "Weighted": len(after.to_frame())}
    assert parts.title == "Table 1 by treated, unweighted and weighted"


def test_table1_before_after_bad_input(small_cohort, hazard_ratios):
    from cohortlab.describe.table1 import table1
    from cohortlab.report.tables import table1_before_after

    t1 = table1(small_cohort, by="treated", columns=["age"])
    with pytest.raises(TypeError, match=r"after must be a Table1; got EstimateTable"):
        table1_before_after(t1, hazard_ratios)
    other = table1(small_cohort, by="sex", columns=["age"])
    with pytest.raises(DataValidationError, match=r"must describe the same variables by the same"):
        table1_before_after(t1, other)
