"""Rendering (results/_format.py via each result) and stacking with ``tidy()`` (results/tidy.py).

No external reference: these check structure (title, table, provenance line) and escaping.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from cohortlab.results._schema import ESTIMATE_COLUMNS, check_schema
from cohortlab.results.curve import Curve
from cohortlab.results.dropped import Dropped
from cohortlab.results.estimate import Estimate, EstimateTable
from cohortlab.results.model import ModelResult
from cohortlab.results.tidy import tidy

NASTY = "age<65 & x_1 50%"


def _estimate() -> Estimate:
    return Estimate.from_model_scale(
        NASTY, np.log(0.8), 0.1, effect_measure="hazard_ratio", method="cox", estimand="ATE",
        n=1234, n_events=56, dropped=Dropped(n_rows=7, by_column={"bmi": 7}, n_input=1241),
        notes=("weights truncated at 1% & 99% <note>",),
    )


def _table() -> EstimateTable:
    rows = (
        Estimate.from_model_scale(NASTY, 0.1, 0.02, n=300, labels={"site": "s_1"}),
        Estimate.from_model_scale("b", -0.2, 0.05, n=300, labels={"site": "s&2"}),
    )
    return EstimateTable(rows=rows, title="Subgroups: <65 & >=65")


def _model() -> ModelResult:
    return ModelResult(
        terms=(NASTY, "treated"), params=np.array([0.02, -0.4]), vcov=np.diag([1e-4, 0.04]),
        effect_measure="hazard_ratio", method="cox", n=200, n_events=80,
        fit_stats={"loglik": -350.25, "concordance": 0.64}, notes=("ties & efron",),
    )


def _curve() -> Curve:
    data = pd.DataFrame({
        "time": [1.0, 2.0, 4.0, 1.5, 3.0], "group": ["<65 & m"] * 3 + ["x_2"] * 2,
        "cause": None, "n_risk": [4, 3, 2, 5, 4], "n_event": [1, 1, 1, 1, 1],
        "n_censor": [0, 0, 1, 0, 0], "estimate": [0.75, 0.5, 0.25, 0.8, 0.6],
        "std_error": [0.2, 0.25, 0.2, 0.18, 0.2], "conf_low": [0.3, 0.15, 0.02, 0.4, 0.2],
        "conf_high": [0.95, 0.8, 0.6, 0.95, 0.85], "conf_level": 0.95,
    })
    return Curve(data=data, measure="survival", method="kaplan_meier", n=9, n_events=5,
                 notes=("50% & <note>",))


# (factory, words the title must contain, the start of the provenance line)
RESULTS = {
    "estimate": (_estimate, ("ATE", "hazard ratio"), "n = 1,234 (7 dropped: bmi 7)"),
    "table": (_table, ("Subgroups: <65 & >=65",), "n = 300"),
    "model": (_model, ("hazard ratio",), "n = 200 · events 80"),
    "curve": (_curve, ("Kaplan-Meier", "survival probability"), "n = 9 · events 5"),
}


@pytest.fixture(params=list(RESULTS))
def case(request):
    make, words, n_line = RESULTS[request.param]
    res = make()
    title = res._title()
    assert title and all(w in title for w in words)
    return res, title, n_line


def test_summary_has_title_table_and_n_line(case):
    res, title, n_line = case
    s = res.summary()
    assert isinstance(s, str)
    lines = s.splitlines()
    assert lines[0] == title
    assert any(line.startswith(n_line) for line in lines)
    assert "95% CI" in s
    assert "estimate" in lines[1]  # the header of the table block


def test_repr_and_str_are_the_summary(case):
    res, _, _ = case
    assert repr(res) == res.summary()
    assert str(res) == res.summary()


def test_html_is_a_table_and_escapes(case):
    res, title, _ = case
    h = res.to_html()
    assert h == res._repr_html_()
    assert h.startswith("<table") and h.rstrip().endswith("</table>")
    assert h.count("<table") == 1
    text = re.sub(r"<[^>]*>", "", h)  # drop the tags; what remains must hold no raw < or &
    assert "<" not in text and ">" not in text
    assert re.search(r"&(?!lt;|gt;|amp;|quot;|#x27;)", text) is None
    assert "&lt;65 &amp;" in h


def test_markdown_has_a_header_separator_row(case):
    res, title, _ = case
    md = res.to_markdown()
    lines = md.splitlines()
    assert lines[0] == f"**{title}**"
    header = next(i for i, line in enumerate(lines) if line.startswith("| "))
    sep = lines[header + 1]
    n_cols = lines[header].count(" | ") + 1
    assert re.fullmatch(r"\|( :?-{3,}:? \|)+", sep)
    assert sep.count("---") == n_cols
    body = lines[header + 2]
    assert body.startswith("| ") and body.count(" | ") + 1 == n_cols


def test_latex_is_booktabs_and_escapes(case):
    res, title, _ = case
    tex = res.to_latex()
    for cmd in (r"\begin{table}", r"\toprule", r"\midrule", r"\bottomrule", r"\end{tabular}"):
        assert cmd in tex
    assert r"std\_error" in tex and r"conf\_low" in tex
    assert r"95\% CI" in tex
    assert "95% CI" not in tex
    assert "x_" not in tex and "s_1" not in tex
    # every %, _ is escaped; & only appears as a column separator or escaped
    assert re.search(r"(?<!\\)[%_]", tex) is None
    for line in tex.splitlines():
        if line.startswith(("\\caption", "\\par")):
            assert re.search(r"(?<!\\)&", line) is None


def test_latex_escapes_nasty_cells():
    tex = _estimate().to_latex()
    assert r"age\textless{}65 \& x\_1 50\%" in tex


def test_digits_control_formatting():
    est = Estimate.from_model_scale("x", 0.123456, 0.0123456)
    assert "0.123" in est.summary() and "0.1235" not in est.summary()
    assert "0.12346" in est.summary(digits=5)
    assert "<0.001" in est.summary()  # p = 1e-23 printed below the display floor


def test_ratio_estimate_summary_mentions_log_scale():
    assert "SE on the log scale" in _estimate().summary()
    assert "SE on the log scale" not in Estimate.from_model_scale("x", 0.1, 0.1).summary()


def test_notes_are_rendered():
    assert "weights truncated at 1% & 99% <note>" in _estimate().summary()
    assert "ties & efron" in _model().summary()
    assert "concordance 0.640" in _model().summary()


# ------------------------------------------------------------------ tidy()
def test_tidy_stacks_estimate_table_and_model():
    est = Estimate.from_model_scale("ATE", 0.1, 0.02, method="ipw", labels={"group": "all"})
    out = tidy(est, _table(), _model())
    check_schema(out)
    assert len(out) == 1 + 2 + 2
    assert out["term"].tolist() == ["ATE", NASTY, "b", NASTY, "treated"]
    assert list(out.columns[: len(ESTIMATE_COLUMNS)]) == list(ESTIMATE_COLUMNS)
    assert set(out.columns[len(ESTIMATE_COLUMNS):]) == {"group", "site"}
    assert out["group"].tolist()[0] == "all" and out["group"].isna().sum() == 4
    assert str(out["n"].dtype) == "Int64"
    # the model rows are the model's tidy frame (exponentiated, hazard ratios)
    np.testing.assert_allclose(out["estimate"].iloc[3:], _model().tidy()["estimate"])


def test_tidy_keeps_schema_first_with_curves():
    out = tidy(_curve(), Estimate.from_model_scale("ATE", 0.1, 0.02))
    assert list(out.columns[: len(ESTIMATE_COLUMNS)]) == list(ESTIMATE_COLUMNS)
    assert len(out) == 6


def test_tidy_single_result_equals_its_frame():
    est = _estimate()
    pd.testing.assert_frame_equal(tidy(est), est.to_frame())


@pytest.mark.parametrize("bad", [1.0, "ATE", {"estimate": 1}, pd.Series([1.0, 2.0]),
                                 pd.DataFrame({"estimate": [1.0]})])
def test_tidy_rejects_non_results(bad):
    with pytest.raises(TypeError, match=r"^tidy\(\): argument 1 is a .*not a cohortlab result"):
        tidy(_estimate(), bad)


def test_tidy_without_arguments():
    with pytest.raises(ValueError, match=r"^tidy\(\): pass at least one result"):
        tidy()


def test_tidy_of_empty_tables_is_an_empty_schema_frame():
    out = tidy(EstimateTable(rows=()))
    assert out.empty
    check_schema(out)


def test_curve_with_unknown_counts_renders():
    """Adjusted curves may not know n_risk: a nullable-int <NA> prints as an empty cell."""
    data = _curve().data.copy()
    data["n_risk"] = pd.array([4, None, 2, None, 4], dtype="Int64")
    c = Curve(data=data, measure="survival", n=9)
    s = c.summary()
    assert "<NA>" not in s and "n = 9" in s
    assert "<table" in c.to_html()


def test_single_estimate_plot_draws_without_warnings():
    import matplotlib

    matplotlib.use("Agg")
    from cohortlab.results.estimate import Estimate

    ax = Estimate.from_model_scale("x", np.log(0.8), 0.1, effect_measure="hazard_ratio").plot()
    assert ax.get_xscale() == "log"


def test_tidy_rejects_descriptive_tables():
    import cohortlab as cl

    t1 = cl.table1(pd.DataFrame({"g": [0, 1, 0, 1], "x": [1.0, 2.0, 3.0, 4.0]}), by="g")
    with pytest.raises(TypeError, match="not a cohortlab result"):
        cl.tidy(t1)
