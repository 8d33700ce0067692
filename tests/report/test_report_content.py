"""Report content in words (issue 12): anchors, risk contrasts, notes, checklist, E-values."""

from __future__ import annotations

import numpy as np
import pytest

import cohortlab as cl
from cohortlab.exceptions import DataValidationError
from cohortlab.protocol._reporttext import (
    ci_words,
    clinical_note,
    contrast_label,
    evalue_sentence,
    is_technical,
    relabel_terms,
    strobe_checklist,
    time_text,
)
from cohortlab.report.document import Report
from cohortlab.results.labels import Labels


@pytest.fixture(scope="module")
def curves():
    d = cl.simulate_cohort(1500, random_state=4)
    d = d.assign(dead=(d["event"] > 0).astype(int))
    return cl.adjusted_survival(d, time="time", event="dead", exposure="treated",
                                covariates=["age", "female"], times=[1.0, 3.0])


def test_headings_have_anchors():
    page = (Report("t").add_heading("Table 2", anchor=True).add_heading("Notes", anchor="n")
            .add_heading("Plain").to_html())
    assert '<h2 id="table-2">Table 2</h2>' in page and '<h2 id="n">Notes</h2>' in page
    assert "<h2>Plain</h2>" in page


def test_risk_scale_contrast_is_one_minus_survival(curves):
    surv = curves.contrast([1.0, 3.0], "difference").rows
    risk = curves.contrast([1.0, 3.0], "difference", scale="risk").rows
    ratio = curves.contrast([3.0], "ratio", scale="risk").rows[0]
    for s, r in zip(surv, risk, strict=True):
        assert r.effect_measure == "risk_difference" and r.term.startswith("risk difference")
        assert r.estimate == pytest.approx(-s.estimate)
        assert r.std_error == pytest.approx(s.std_error)
        assert (r.conf_low, r.conf_high) == pytest.approx((-s.conf_high, -s.conf_low))
    v = curves.arm_values[:, curves._grid_pos(np.array([3.0]))[0]]
    assert ratio.effect_measure == "risk_ratio"
    assert ratio.estimate == pytest.approx((1 - v[0]) / (1 - v[1]))
    with pytest.raises(DataValidationError, match="scale"):
        curves.contrast([1.0], scale="odds")


def test_risk_scale_contrast_bootstrap():
    d = cl.simulate_cohort(600, random_state=2)
    d = d.assign(dead=(d["event"] > 0).astype(int))
    c = cl.adjusted_survival(d, time="time", event="dead", exposure="treated",
                             covariates=["age"], times=[2.0], variance="bootstrap", n_boot=20,
                             random_state=1)
    s = c.contrast([2.0]).rows[0]
    r = c.contrast([2.0], scale="risk").rows[0]
    assert r.estimate == pytest.approx(-s.estimate)
    assert (r.conf_low, r.conf_high) == pytest.approx((-s.conf_high, -s.conf_low))


def test_notes_in_words():
    assert ci_words("infinitesimal_jackknife") == "robust (infinitesimal jackknife) variance"
    assert ci_words("some_new_method") == "some new method"
    note = ("PositivityWarning: propensity_score(): 31 subjects have propensity score < 0.01")
    assert clinical_note(note) == "Positivity: 31 subjects have propensity score < 0.01"
    assert not is_technical(note)
    for tech in ("IPW: logistic regression on age + C(size); ATE weights",
                 "loglik_null -9,527.307, lr_df 10.000, iterations 6.000",
                 "TMLE fluctuation epsilon 0.0031", "outcome model on I(age**2)"):
        assert is_technical(tech), tech


def test_contrast_labels_and_times():
    lab = Labels.from_dict({"exposure": {"column": "x", "arms": {0: "none", 1: "drug"}},
                            "time_unit": "days", "report_time_unit": "years"})
    assert contrast_label("risk ratio at 730.5", "risk_ratio", lab) == \
        "Risk ratio at 2 years, drug vs none"
    assert contrast_label("survival difference at 365.25", "difference", lab, "A vs B") == \
        "Survival difference at 1 year, A vs B"
    assert contrast_label("x [cause 2]", "hazard_ratio", lab) == \
        "Hazard ratio (cause 2), drug vs none"
    assert time_text(30, Labels(time_unit="months")) == "30 months"
    lab2 = Labels.from_dict({"variables": {"size": "Tumour size"}})
    assert relabel_terms(["C(size)[T.>50]", "corrected (total)", "age [cause 1]"], lab2) == \
        ["Tumour size: >50", "corrected (total)", "age (cause 1)"]


def test_evalue_sentence():
    s = evalue_sentence("hormonal therapy", "death", 1.92, 1.2)
    assert "risk ratio of 1.9 each could explain away the estimate" in s
    assert "one of 1.2 could move the confidence interval to include the null" in s
    assert "already includes the null" in evalue_sentence("a", "b", 1.3, 1.0)
    assert evalue_sentence("a", "b", float("nan"), 1.0) == ""


def test_strobe_has_22_items():
    t = strobe_checklist({"study": "Study", "cohort": "Cohort"})
    assert len(t) == 22 and t["Item"].tolist() == [str(i) for i in range(1, 23)]
    assert t.loc[t["Item"] == "13", "Where in this report"].item() == "Cohort"
    assert t.loc[t["Item"] == "16", "Where in this report"].item() == "not reported"


def test_demo_report_in_words(tmp_path):
    import html
    import re

    from cohortlab import demo

    page = demo.run(tmp_path / "demo", n_boot=10).read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<img[^>]*>", " ", page)))
    clinical, appendix = text.split("Technical appendix")
    for ident in ("std_error", "conf_low", "epsilon", "I(age**2)", "infinitesimal_jackknife",
                  "sandwich_mestimation"):
        assert ident not in clinical, ident
    assert "epsilon" in appendix and "I(age**2)" in appendix
    assert "Doubly robust (AIPW)" in clinical and "3.457 (2.499 to 4.415)" in clinical
    assert "IPW survival difference at 5 years, quitters vs non-quitters" in clinical


def test_ph_tests_as_chi_square_df_p():
    d = cl.datasets.load_rotterdam()
    ph = cl.cox(d, time="dtime", event="death", covariates="hormon + age + C(size)"
                ).check_proportional_hazards()
    parts = Report("t").add_table(ph).tables[0]
    assert list(parts.display.columns) == ["Term", "Chi-square", "df", "p-value"]
    assert parts.display["df"].tolist() == ["1", "1", "1", "1", "4"]
    assert parts.display["Term"].iloc[-1] == "Global test"
    assert not any("no interval" in n for n in parts.notes)


def test_evalues_leave_out_competing_causes():
    import pandas as pd

    from cohortlab.protocol._report import evalues_display
    from cohortlab.protocol.schema import parse_protocol

    p = parse_protocol({
        "study": {"title": "t"}, "data": {"dataset": "simulated"},
        "exposure": {"column": "treated"},
        "outcomes": [{"name": "stroke", "type": "competing", "event": "event", "cause": 1}],
        "analyses": [{"name": "csc", "method": "cause_specific_cox"}]})
    ev = pd.DataFrame({"analysis": "csc", "outcome": "stroke",
                       "term": ["treated [cause 1]", "treated [cause 2]"],
                       "effect_measure": "hazard_ratio", "estimate": [1.8, 1.5],
                       "conf_low": [1.4, 1.2], "conf_high": [2.3, 1.9],
                       "evalue_measure": "HR", "rare": True, "evalue": [2.98, 2.43],
                       "evalue_ci": [2.07, 1.77], "note": ""})
    from cohortlab.protocol._reporttext import study_labels

    table, sentences = evalues_display(ev, p, study_labels(p))
    assert table["Contrast"].tolist() == ["Hazard ratio (cause 1), treated = 1 vs treated = 0"]
    assert len(sentences) == 1 and "2.98" in table.to_string()


def test_report_labels_reach_its_tables():
    from cohortlab.results import Estimate

    est = Estimate.from_model_scale("C(size)[T.>50]", 0.5, 0.1,
                                    effect_measure="hazard_ratio", method="cox")
    rep = Report("r", labels={"variables": {"size": "Tumour size"}}).add_table(est)
    assert rep.tables[0].display["Term"].tolist() == ["Tumour size: >50"]
    assert rep.labels.variable("size") == "Tumour size"


def test_evalue_display_is_labelled():
    from cohortlab.sensitivity.evalue import evalue

    e = evalue(0.8, 0.7, 0.92, measure="HR", rare=True)
    text, page = str(e), e._repr_html_()
    for shown in (text, page):
        assert "E-value (estimate)" in shown and "E-value (95% CI limit)" in shown
        assert "evalue_ci" not in shown and "no interval" not in shown
    assert "1.81" in text and "1.39" in text
    assert e.labels["rr"] == 0.8 and "evalue_ci" in e.to_frame().columns  # numbers kept
    assert "no interval given" in str(evalue(2.0))


def test_last_wide_table_leaves_no_portrait_page(tmp_path):
    import pandas as pd
    from docx import Document
    from docx.enum.section import WD_ORIENT


    wide = pd.DataFrame({f"column number {i} with a long heading": ["a rather long cell text"]
                         for i in range(9)})
    Report("r").add_text("first").add_table(wide, title="wide").save_docx(tmp_path / "a.docx")
    doc = Document(str(tmp_path / "a.docx"))
    assert doc.sections[-1].orientation == WD_ORIENT.LANDSCAPE
    Report("r").add_table(wide, title="wide").add_text("after").save_docx(tmp_path / "b.docx")
    doc = Document(str(tmp_path / "b.docx"))
    assert doc.sections[-1].orientation == WD_ORIENT.PORTRAIT


def test_subgroup_words_and_warning_arms():
    from types import SimpleNamespace

    from cohortlab.protocol._report import _arm_words, subgroup_title

    lab = Labels.from_dict({"variables": {"sex": "Sex"}, "outcomes": {"wt": "Weight change"},
                            "exposure": {"column": "qsmk", "arms": {0: "Continued",
                                                                     1: "Quit"}}})
    p = SimpleNamespace(labels=None, exposure=SimpleNamespace(column="qsmk"))
    assert subgroup_title(p, "ipw, wt, by sex", lab) == "ipw: weight change, by sex"
    assert _arm_words("one subject with 'qsmk' = 1 carries 19%; size of qsmk=0: 3", p, lab) \
        == "one subject in the Quit group carries 19%; size of Continued: 3"
