"""Tests of ``subgroups``: per-level effects, interaction tests, rendering, bad input.

No R reference: the interaction test is checked against statsmodels' logistic regression
(the Wald test of the exposure-by-subgroup product terms), and the IPW subgroup effects
against the simulated truth of ``simulate_cohort``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.inference.multiplicity import adjust_pvalues
from cohortlab.inference.wald import inverse_variance_q
from cohortlab.results._schema import check_schema
from cohortlab.subgroups.subgroups import SubgroupResult, subgroups

RTOL_NEWTON = 1e-6  # statsmodels' logistic fit iterates to ~1e-8; our ORs are closed form
COV = ["age", "female", "bmi", "diabetes", "smoking", "af_flag", "site"]


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return cl.simulate_cohort(4000, random_state=1)


@pytest.fixture(scope="module")
def crude_or(cohort) -> SubgroupResult:
    return subgroups(cl.crude_effect, cohort, by=["diabetes", "smoking"], exposure="treated",
                     outcome="mace_1y", effect_measure="odds_ratio")


# ---------------------------------------------------------------------- against statsmodels
@pytest.mark.parametrize("var", ["diabetes", "smoking"])
def test_interaction_equals_logistic_product_term_wald(cohort, crude_or, var):
    """Crude OR by subgroup: the heterogeneity chi-square is the Wald test of the product
    terms of ``mace_1y ~ treated * C(var)`` (saturated, so Woolf SEs = model-based SEs)."""
    smf = pytest.importorskip("statsmodels.formula.api")
    fit = smf.logit(f"mace_1y ~ treated * C({var})", data=cohort).fit(disp=0, tol=1e-12)
    names = [n for n in fit.params.index if n.startswith("treated:")]
    b = fit.params[names].to_numpy()
    v = fit.cov_params().loc[names, names].to_numpy()
    wald = float(b @ np.linalg.solve(v, b))
    row = crude_or.interaction.to_frame().set_index("variable").loc[var]
    assert row["df"] == len(names)
    assert row["statistic"] == pytest.approx(wald, rel=RTOL_NEWTON)
    from scipy import stats
    assert row["p_value"] == pytest.approx(stats.chi2.sf(wald, len(names)), rel=RTOL_NEWTON)
    # the reference level's OR is exp(treated); the others exp(treated + product term)
    levels = [r for r in crude_or.rows if r.labels["subgroup"] == var]
    logors = [fit.params["treated"]] + [fit.params["treated"] + fit.params[n] for n in names]
    np.testing.assert_allclose([math.log(r.estimate) for r in levels], logors,
                               rtol=RTOL_NEWTON)


def test_two_level_statistic_is_squared_z_of_difference():
    stat, df, p = inverse_variance_q(np.array([0.1, 0.5]), np.array([0.2, 0.1]) ** 2)[2:]
    z = (0.5 - 0.1) / math.hypot(0.2, 0.1)
    assert (stat, df) == (pytest.approx(z**2), 1)
    assert p == pytest.approx(2 * (1 - __import__("scipy").stats.norm.cdf(z)))
    assert math.isnan(inverse_variance_q(np.array([0.1, np.nan]), np.array([0.04, 0.01]))[2])


def test_p_adjust_columns_use_adjust_pvalues(crude_or):
    it = crude_or.interaction.to_frame()
    assert isinstance(crude_or.interaction, cl.TestTable)
    check_schema(it)
    assert list(it.columns)[-4:] == ["df", "variable", "p_holm", "p_fdr_bh"]
    assert it["estimate"].isna().all() and (it["effect_measure"] == "chi_square").all()
    np.testing.assert_allclose(it["p_holm"], adjust_pvalues(it["p_value"], "holm"))
    np.testing.assert_allclose(it["p_fdr_bh"], adjust_pvalues(it["p_value"], "fdr_bh"))


# ---------------------------------------------------------------------- simulated truth
def test_ipw_subgroup_effects_simulated_truth(cohort):
    """sbp_12m: the effect is effect_sbp (-5) without diabetes, -5 + -3 with it."""
    params = cohort.attrs["truth"]["params"]
    truth = {0: params["effect_sbp"], 1: params["effect_sbp"] + params["effect_sbp_diabetes"]}
    res = subgroups(cl.ipw, cohort, by="diabetes", exposure="treated", outcome="sbp_12m",
                    covariates=COV)
    for lvl, true in truth.items():
        est = res.level("diabetes", lvl)
        assert est.conf_low <= true <= est.conf_high, (lvl, est.estimate, true)
    assert res.interaction.to_frame().loc[0, "p_value"] < 0.05
    assert any("diabetes removed from covariates" in n for n in res.notes)


# ---------------------------------------------------------------------- result shape
def test_to_frame_schema_and_rows(cohort, crude_or):
    f = crude_or.to_frame()
    check_schema(f)
    assert {"subgroup", "level", "n", "n_events", "n_1", "n_0", "n_events_1",
            "n_events_0"} <= set(f.columns)
    assert (f.loc[0, "subgroup"], f.loc[0, "level"]) == ("overall", "all")
    assert f["subgroup"].tolist()[1:] == ["diabetes"] * 2 + ["smoking"] * 3
    assert f["level"].tolist()[3:] == ["never", "former", "current"]  # categorical order
    d = f[f["subgroup"] == "diabetes"]
    assert d["n"].sum() == len(cohort)
    assert d["n_events"].tolist() == cohort.groupby("diabetes")["mace_1y"].sum().tolist()
    ev = cohort[cohort.diabetes == 1].groupby("treated")["mace_1y"].sum()
    assert (d.iloc[1]["n_events_1"], d.iloc[1]["n_events_0"]) == (ev[1], ev[0])
    assert crude_or.overall.estimate == pytest.approx(
        cl.crude_effect(cohort, exposure="treated", outcome="mace_1y",
                        effect_measure="odds_ratio").estimate)


def test_is_an_estimate_table_that_keeps_its_own_report_layout(crude_or):
    from cohortlab.report.tables import table_parts

    assert isinstance(crude_or, cl.EstimateTable) and len(crude_or) == len(crude_or.rows)
    parts = table_parts(crude_or)
    assert list(parts.display.columns)[:2] == ["subgroup", "level"]
    assert "p_interaction" in parts.display.columns
    ci = crude_or.conf_int()
    assert ci["conf_low"].tolist() == [r.conf_low for r in crude_or]
    pd.testing.assert_frame_equal(cl.tidy(crude_or), crude_or.to_frame(), check_dtype=False)


def test_renders(crude_or):
    text = crude_or.summary()
    assert "Subgroup analysis" in text and "p_interaction" in text and "smoking" in text
    assert "diabetes: chi-square" in text
    assert crude_or.to_markdown().startswith("**Subgroup analysis")
    assert r"\begin{table}" in crude_or.to_latex()
    assert "<table" in crude_or.to_html() and crude_or._repr_html_() == crude_or.to_html()
    assert repr(crude_or) == text


def test_forest_plot_clinical_layout(crude_or):
    from matplotlib.axes import Axes

    ax = crude_or.forest_plot()
    assert isinstance(ax, Axes)
    assert ax.get_xscale() == "log"
    left = [t.get_text() for t in ax.get_yticklabels()]
    assert left[:2] == ["Overall", "diabetes"] and "smoking" in left and "   never" in left
    right = [t.get_text() for a in ax.figure.axes for t in a.get_yticklabels()
             if a is not ax]
    assert sum(t.startswith("p-interaction") for t in right) == 2
    assert any(line.get_xdata()[0] == 1.0 for line in ax.get_lines())  # null line


def test_difference_forest_plot_linear_axis(cohort):
    res = subgroups(cl.crude_effect, cohort, by="female", exposure="treated",
                    outcome="sbp_12m")
    ax = res.plot()
    assert ax.get_xscale() == "linear"


def test_input_not_mutated(cohort):
    before = pd.util.hash_pandas_object(cohort).sum()
    subgroups(cl.crude_effect, cohort, by="site", exposure="treated", outcome="mace_1y")
    assert pd.util.hash_pandas_object(cohort).sum() == before


def test_cox_term(cohort):
    d = cohort.assign(stroke=(cohort["event"] == 1).astype(int))
    res = subgroups(cl.cox, d, by="female", term="treated", time="time", event="stroke",
                    covariates=["treated", "age", "female"])
    f = res.to_frame()
    assert f["effect_measure"].eq("hazard_ratio").all()
    assert res.interaction.to_frame().loc[0, "df"] == 1
    assert f.loc[1:, "n_events"].sum() == d["stroke"].sum()
    with pytest.raises(cl.DataValidationError, match=r"term must name one of.*'treated'"):
        subgroups(cl.cox, d, by="female", time="time", event="stroke",
                  covariates=["treated", "age"], term="treatd")


# ---------------------------------------------------------------------- NaN levels
def test_min_events_blanks_level_with_note(cohort):
    res = subgroups(cl.crude_effect, cohort, by="smoking", exposure="treated",
                    outcome="mace_1y", effect_measure="odds_ratio", min_events=80)
    f = res.to_frame()
    cur = f[f["level"] == "current"].iloc[0]
    assert math.isnan(cur["estimate"]) and cur["n_events"] == 64
    assert "64 events < min_events=80" in cur["note"]
    assert res.interaction.to_frame().loc[0, "df"] == 1  # the two estimated levels
    assert any("over 2 of 3 levels" in n for n in res.notes)


def test_level_with_one_arm_is_nan_with_note(cohort):
    d = cohort.assign(group=np.where(cohort["treated"] == 1, "a", "b"))
    d.loc[d.index[:200], "group"] = "c"  # mixed level
    res = subgroups(cl.crude_effect, d, by="group", exposure="treated", outcome="sbp_12m")
    f = res.to_frame().set_index("level")
    assert f.loc[["a", "b"], "estimate"].isna().all()
    assert "must be binary" in f.loc["a", "note"]
    assert np.isfinite(f.loc["c", "estimate"])
    assert math.isnan(res.interaction.to_frame().loc[0, "statistic"])
    assert "not estimated" in res.summary()


# ---------------------------------------------------------------------- bad input
def test_by_column_missing_suggests_close_match(cohort):
    with pytest.raises(cl.DataValidationError, match=r"'diabetis' not found \(by\)\. "
                       r"Did you mean 'diabetes'"):
        subgroups(cl.crude_effect, cohort, by="diabetis", exposure="treated",
                  outcome="mace_1y")


def test_estimator_not_returning_estimate(cohort):
    def table(data, **kw):
        return data.head()

    with pytest.raises(cl.DataValidationError, match=r"table\(\) must return an Estimate.*"
                       "got DataFrame"):
        subgroups(table, cohort, by="female")


def test_estimator_not_callable(cohort):
    with pytest.raises(cl.DataValidationError, match="estimator must be a cohortlab verb"):
        subgroups("ipw", cohort, by="female")


def test_bad_p_adjust_and_min_events(cohort):
    kw = dict(by="female", exposure="treated", outcome="mace_1y")
    with pytest.raises(cl.DataValidationError, match="p_adjust must be one of"):
        subgroups(cl.crude_effect, cohort, p_adjust="bh", **kw)
    with pytest.raises(cl.DataValidationError, match="min_events must be a positive int"):
        subgroups(cl.crude_effect, cohort, min_events=0, **kw)
    with pytest.raises(cl.DataValidationError, match="by names a column twice"):
        subgroups(cl.crude_effect, cohort, by=["female", "female"], exposure="treated",
                  outcome="mace_1y")


def test_missing_subgroup_value_raises_or_is_counted(cohort):
    d = cohort.assign(grp=cohort["female"].astype(float))
    d.loc[d.index[:7], "grp"] = np.nan
    with pytest.raises(cl.MissingDataError, match=r"7 of 4,000 rows.*grp \(7\)"):
        subgroups(cl.crude_effect, d, by="grp", exposure="treated", outcome="mace_1y")
    res = subgroups(cl.crude_effect, d, by="grp", exposure="treated", outcome="mace_1y",
                    missing="drop")
    assert res.to_frame().loc[1:, "n"].sum() == len(d) - 7
    assert any("7 rows with a missing value" in n for n in res.notes)
