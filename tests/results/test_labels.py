"""Labels as data and readable formula terms (issue 12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from formulaic import model_matrix

import cohortlab as cl
from cohortlab.exceptions import CohortError
from cohortlab.results.labels import Labels, as_labels, format_term, format_terms, reference_levels

_SYNTAX = ("C(", "I(", "[T.", "np.", "[", "]", "**", "`")


def _rotterdam_labels() -> Labels:
    return cl.datasets.labels("rotterdam")


def test_from_dict_shape_and_round_trip():
    d = {"variables": {"age": "Age, years"}, "values": {"sex": {0: "Male", 1: "Female"}},
         "exposure": {"column": "hormon", "label": "Hormonal therapy",
                      "arms": {"0": "No hormonal therapy", "1": "Hormonal therapy"}},
         "outcomes": {"death": "Death from any cause"},
         "time_unit": "days", "report_time_unit": "years"}
    lab = Labels.from_dict(d)
    assert lab.variable("hormon") == "Hormonal therapy"
    assert lab.value("sex", 1.0) == lab.value("sex", "1") == lab.value("sex", np.int64(1)) == "Female"
    assert lab.arm(0) == "No hormonal therapy" and lab.arm(1.0) == "Hormonal therapy"
    assert lab.outcome("death") == "Death from any cause"
    assert Labels.from_dict(lab.to_dict()) == lab
    assert as_labels(lab) is lab and as_labels(d) == lab and not as_labels(None)


def test_fallbacks_are_plain_names_and_codes():
    lab = Labels()
    assert lab.variable("wt82_71") == "wt82_71"
    assert lab.value("education", 3.0) == "3"
    assert lab.arm(1, "hormon") == "hormon = 1"
    assert lab.outcome("death") == "death"


def test_time_units_convert_days_to_years():
    lab = Labels.from_dict({"time_unit": "day", "report_time_unit": "years"})
    assert lab.time_factor == pytest.approx(1 / 365.25)
    np.testing.assert_allclose(lab.to_report_time(np.array([365.25, 730.5])), [1.0, 2.0])
    assert lab.to_data_time(2.0) == pytest.approx(730.5)
    assert lab.time_axis_label() == "Time, years"
    assert Labels().to_report_time(5.0) == 5.0


@pytest.mark.parametrize("bad", [{"variabels": {}}, {"time_unit": "fortnights"},
                                 {"values": {"sex": ["Male", "Female"]}},
                                 {"exposure": {"column": "a", "arm": {}}}])
def test_bad_dicts_raise_naming_the_key(bad):
    with pytest.raises(CohortError) as err:
        Labels.from_dict(bad)
    assert any(k in str(err.value) for k in ("variabels", "time_unit", "values", "arm"))


def test_merge_other_wins():
    a = cl.datasets.labels("nhefs")
    b = a.merge({"variables": {"age": "Age at baseline"}, "values": {"sex": {1: "Women"}}})
    assert b.variable("age") == "Age at baseline" and b.value("sex", 1) == "Women"
    assert b.value("sex", 0) == "Male" and a.variable("age") == "Age, years"


# ---------------------------------------------------------------------- formula terms
@pytest.mark.parametrize(("term", "expected"), [
    ("C(size)[T.>50]", "Tumour size: >50 mm vs ≤20 mm"),
    ("C(size)[T.20-50]", "Tumour size: 20-50 mm vs ≤20 mm"),
    ("I(np.log1p(pgr))", "log(Progesterone receptors + 1)"),
    ("np.log(nodes + 1)", "log(Positive lymph nodes + 1)"),
    ("age", "Age, years"),
    ("I(age ** 2)", "Age²"),
    ("I((age - 50) ** 2)", "(Age - 50)²"),
    ("bs(age, df=3)[1]", "Age (spline 1)"),
    ("cr(age, df=3)[3]", "Age (spline 3)"),
    ("poly(age, 2)[2]", "Age (polynomial 2)"),
    ("center(age)", "Age (centred)"),
    ("scale(age)", "Age (standardised)"),
    ("I(age / 10)", "Age / 10"),
    ("hormon", "Hormonal therapy: Yes vs No"),
    ("hormon:age", "Hormonal therapy × Age"),
    ("C(size)[<=20]:hormon", "Tumour size: ≤20 mm × Hormonal therapy"),
    ("C(grade)[T.3]", "Tumour grade: 3 vs 2"),
    ("Intercept", "Intercept"),
])
def test_format_term_rotterdam(term, expected):
    ref = {"size": "<=20", "grade": 2}
    assert format_term(term, _rotterdam_labels(), reference=ref) == expected


@pytest.mark.parametrize(("term", "expected"), [
    ("C(size)[T.>50]", "size: >50"),
    ("I(np.log1p(pgr))", "log(pgr + 1)"),
    ("I(age ** 2)", "age²"),
    ("bs(bmi, df=3)[1]", "bmi (spline 1)"),
    ("C(education)[T.2]:sex", "education: 2 × sex"),
    ("C(active, Treatment(reference=1))[T.0]", "active: 0"),
    ("C(exercise, contr.treatment(2))[T.0]", "exercise: 0"),
    ("race[T.white]", "race: white"),
    ("smoker[T.True]", "smoker"),
    ("`ph.ecog`", "ph.ecog"),
    ("np.sqrt(er)", "√er"),
    ("I(age * nodes)", "age × nodes"),
])
def test_format_term_without_labels_has_no_syntax(term, expected):
    assert format_term(term) == expected


def _real_terms(formula: str, data: pd.DataFrame) -> tuple[list[str], dict]:
    mm = model_matrix(formula, data)
    return list(mm.columns), reference_levels(mm)


@pytest.mark.parametrize(("name", "formula"), [
    ("rotterdam", "C(size) + I(np.log1p(pgr)) + age + I(age**2) + bs(age, df=3) + C(grade) "
                  "+ np.log(nodes + 1) + hormon:age + C(size):hormon + poly(age, 2) + meno"),
    ("nhefs", "C(education) + sex + C(race) + C(exercise) + C(active) + smokeintensity + "
              "I(smokeintensity**2) + age + I(age**2) + C(education):sex + sex*age + wt71"),
    ("lalonde", "age + educ + race + married + nodegree + re74 + I(re74 == 0)"),
])
def test_real_formulaic_terms_are_readable(name, formula):
    data = getattr(cl.datasets, f"load_{name}")()
    terms, ref = _real_terms(formula, data)
    for lab in (cl.datasets.labels(name), None):
        texts = format_terms(terms, lab, reference=ref)
        assert len(set(texts)) == len(texts)
        for t in texts:
            assert not any(s in t for s in _SYNTAX), t
    texts = format_terms(terms, cl.datasets.labels(name), reference=ref)
    if name == "nhefs":
        assert "Education: High school dropout vs 8th grade or less" in texts
        assert "Education: High school dropout × Sex" in texts
        assert "Sex: Female vs Male" in texts and "Cigarettes per day²" in texts
    if name == "rotterdam":
        assert "Tumour size: >50 mm vs ≤20 mm" in texts
        assert "Menopausal status: Postmenopausal vs Premenopausal" in texts


def test_reference_levels_reads_contrast_base():
    d = cl.datasets.load_nhefs()
    mm = model_matrix("C(active, Treatment(reference=1)) + C(education)", d)
    ref = reference_levels(mm)
    assert ref["C(active, Treatment(reference=1))"] == 1 and ref["education"] == 1
    assert format_term("C(active, Treatment(reference=1))[T.0]", cl.datasets.labels("nhefs"),
                       reference=ref) == "Activity in daily life: Very active vs Moderately active"


# ---------------------------------------------------------------------- dataset labels
@pytest.mark.parametrize("name", ["nhefs", "lung", "mgus2", "rotterdam", "gbsg", "lalonde",
                                  "wearable"])
def test_dataset_labels_cover_the_codes_in_the_data(name):
    lab = cl.datasets.labels(name)
    data = (cl.datasets.simulate_cohort(500, random_state=1) if name == "wearable"
            else getattr(cl.datasets, f"load_{name}")())
    assert set(lab.variables) <= set(data.columns) | {"stroke", "pcm"}
    for col, codes in lab.values.items():
        found = {lab.value(col, v) for v in pd.unique(data[col].dropna())}
        assert found <= set(codes.values()), (col, found)
    if lab.exposure:
        assert lab.exposure in data.columns
        assert {lab.arm(v) for v in pd.unique(data[lab.exposure])} == set(lab.arms.values())


def test_dataset_labels_unknown_name():
    with pytest.raises(CohortError, match="nhefs"):
        cl.datasets.labels("framingham")


# ---------------------------------------------------------------------- labels= in tables and figures
def _nhefs():
    d = cl.datasets.load_nhefs()
    return d[d["wt82"].notna()]


def test_table1_uses_variable_value_and_group_labels():
    lab = cl.datasets.labels("nhefs")
    t1 = cl.table1(_nhefs(), by="qsmk", columns=["age", "sex", "education"],
                   categorical=["education"], labels=lab)
    shown = t1.table()
    cols = list(shown.columns)
    assert "Did not quit smoking" in cols and "Quit smoking" in cols
    assert not any("qsmk" in c for c in cols)
    assert "Age, years, mean (SD)" in shown["Variable"].tolist()
    assert "Sex: Female, n (%)" in shown["Variable"].tolist()
    levels = shown["Level"].tolist()
    assert "8th grade or less" in levels and "College or more" in levels
    assert "Quit smoking - Did not quit smoking" in t1.summary()
    # display only: the numbers keep the codes and column names
    frame = t1.to_frame()
    assert set(frame["variable"]) == {"age", "sex", "education"}
    assert {1, 5} <= set(frame.loc[frame["variable"] == "education", "level"])
    plain = cl.table1(_nhefs(), by="qsmk", columns=["age", "sex", "education"],
                      categorical=["education"])
    np.testing.assert_allclose(plain.smd().to_numpy(), t1.smd().to_numpy())


def test_table1_flat_mapping_still_labels_variables():
    t1 = cl.table1(_nhefs(), by="qsmk", columns=["age"], labels={"age": "Age, years"})
    assert t1.table()["Variable"].tolist()[1] == "Age, years, mean (SD)"
    assert "qsmk = 1" in t1.table().columns


def test_table2_labels_outcomes_and_terms():
    ipw = cl.Estimate.from_model_scale("hormon", np.log(0.8), 0.1,
                                       effect_measure="hazard_ratio", method="ipw")
    t2 = cl.table2({"death": [ipw]}, labels=cl.datasets.labels("rotterdam"))
    assert t2.wide()["Outcome"].tolist() == ["Death from any cause"]
    assert t2.to_frame()["outcome"].tolist() == ["death"]
    assert "outcome_name" not in t2.to_frame().columns


def test_forest_plot_terms_and_plain_log_ticks():
    import matplotlib.pyplot as plt

    data = cl.datasets.load_rotterdam()
    fit = cl.cox(data, time="dtime", event="death",
                 covariates="hormon + C(size) + age + I(np.log1p(pgr))")
    from cohortlab.report.figures import forest_plot

    ax = forest_plot(fit.coef_table().to_frame(), labels=cl.datasets.labels("rotterdam"),
                     reference={"size": "<=20"})
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert "Tumour size: >50 mm vs ≤20 mm" in ticks and "log(Progesterone receptors + 1)" in ticks
    assert not any(s in t for t in ticks for s in _SYNTAX)
    xt = [t.get_text() for t in ax.get_xticklabels()]
    assert xt and all("$" not in t and float(t) > 0 for t in xt)  # "0.5", not 5x10^-1
    assert "1" in xt
    assert ax.get_xlabel() == "Hazard ratio (95% CI)"
    plt.close(ax.figure)


def test_curve_plot_legend_arms_and_time_unit():
    import matplotlib.pyplot as plt

    data = cl.datasets.load_rotterdam()
    km = cl.kaplan_meier(data, time="dtime", event="death", by="hormon")
    lab = cl.datasets.labels("rotterdam")
    ax = km.plot(labels=lab, risk_table=True, times=[0, 5, 10])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["No hormonal therapy", "Hormonal therapy"]
    assert ax.get_xlabel() == "Time, years"
    assert ax.get_xlim()[1] < 25  # years, not days
    rows = [t.get_text() for t in ax.risk_table_ax.get_yticklabels()]
    assert set(rows) == {"No hormonal therapy", "Hormonal therapy"}
    plt.close(ax.figure)


def test_table_parts_labels_frames_and_model_terms():
    from cohortlab.report.tables import table_parts

    lab = cl.datasets.labels("nhefs")
    parts = table_parts(pd.DataFrame({"sex": [0, 1], "age": [40.0, 50.0]}), labels=lab)
    assert list(parts.display.columns) == ["Sex", "Age, years"]
    assert parts.display["Sex"].tolist() == ["Male", "Female"]
    assert parts.numbers["sex"].tolist() == [0, 1]
    data = cl.datasets.load_rotterdam()
    fit = cl.cox(data, time="dtime", event="death", covariates="hormon + C(size) + age")
    terms = table_parts(fit, labels=cl.datasets.labels("rotterdam")).display["Term"].tolist()
    assert terms == ["Hormonal therapy: Yes vs No", "Tumour size: 20-50 mm vs ≤20 mm",
                     "Tumour size: >50 mm vs ≤20 mm", "Age, years"]
    plain = table_parts(fit).display["Term"].tolist()
    assert plain == ["hormon", "size: 20-50 vs <=20", "size: >50 vs <=20", "age"]
