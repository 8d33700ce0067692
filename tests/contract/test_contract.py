"""The contract every public verb keeps (cf. scikit-learn's parametrize_with_checks).

Every function exported in ``cohortlab.__all__`` is registered in ``VERBS`` (or exempted in
``NOT_VERBS`` with the reason). For each verb, on a small simulated cohort with numeric, string
and categorical columns: the result renders everywhere, ``to_frame()`` has the schema, the input
frame is unchanged, the same ``random_state`` gives the same numbers, a NaN in a used column
raises ``MissingDataError`` while a NaN in an unused column does not, and ``conf_level=0.90``
narrows the interval.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import trials_cohort

import cohortlab as cl
from cohortlab.exceptions import MissingDataError
from cohortlab.results import (
    Curve,
    Estimate,
    EstimateTable,
    ModelResult,
    TestResult,
    TestTable,
    check_schema,
)


def _long() -> pd.DataFrame:
    return cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000)


@dataclass(frozen=True)
class Verb:
    name: str
    call: Callable[..., Any]  # (data, **kwargs) -> result
    used: str | None  # a column whose NaN must raise (None: the verb counts NaNs by design)
    unused: str = "sbp"
    has_ci: bool = False
    random: bool = False


def _logit():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000)


def _linear():
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


def _ps(d: pd.DataFrame) -> Any:
    """ATE weights from a logistic propensity score (weights=<PropensityScore>)."""
    return cl.propensity_score(d, exposure="treated", covariates=["age", "female"])


def _incomplete(d: pd.DataFrame) -> pd.DataFrame:
    """A slice of the cohort with missing bmi and smoking (for impute / with_imputations)."""
    d = d[["age", "female", "bmi", "smoking", "site_name", "treated", "mace_1y", "sbp"]]
    return d.assign(bmi=d["bmi"].where(np.arange(len(d)) % 5 != 0),
                    smoking=d["smoking"].where(np.arange(len(d)) % 7 != 0))


def _impute(d: pd.DataFrame, **k: Any) -> Any:
    return cl.impute(_incomplete(d), m=3, n_iter=2, outcome="mace_1y", exclude=["sbp"],
                     random_state=k.get("random_state"))


def _with_imputations(d: pd.DataFrame, **k: Any) -> Any:
    imp = _impute(d, **k)
    return cl.with_imputations(cl.ipw, imp, exposure="treated", outcome="mace_1y",
                               covariates=["age", "female", "bmi", "smoking"],
                               **{x: v for x, v in k.items() if x != "random_state"})


def _cohort() -> pd.DataFrame:
    d = cl.simulate_cohort(400, random_state=3)
    d["site_name"] = "site " + d["site"].astype(str)  # a string column
    # a model's predicted probability of the binary outcome (for prediction-powered inference)
    d["pred_mace"] = 1 / (1 + np.exp(3.0 - 0.03 * (d["age"] - 60) - 0.7 * d["af_flag"]))
    return d


VERBS = [
    Verb("crude_effect", lambda d, **k: cl.crude_effect(d, exposure="treated", outcome="mace_1y", **k),
         used="mace_1y", has_ci=True),
    Verb("crude_effect[bootstrap]",
         lambda d, **k: cl.crude_effect(d, exposure="treated", outcome="sbp_12m",
                                        variance="bootstrap", n_boot=100, **k),
         used="treated", has_ci=True, random=True),
    Verb("propensity_score",
         lambda d, **k: cl.propensity_score(d, exposure="treated",
                                            covariates="age + female + bmi + C(smoking)",
                                            **{x: v for x, v in k.items() if x != "random_state"}),
         used="bmi"),
    Verb("ipw", lambda d, **k: cl.ipw(d, exposure="treated", outcome="mace_1y",
                                      covariates=["age", "female", "bmi", "smoking"], **k),
         used="age", has_ci=True),
    Verb("ipw[bootstrap]",
         lambda d, **k: cl.ipw(d, exposure="treated", outcome="sbp_12m", estimand="ATT",
                               covariates="age + female + bmi", variance="bootstrap",
                               n_boot=50, **k),
         used="sbp_12m", has_ci=True, random=True),
    Verb("match",
         lambda d, **k: cl.match(d, exposure="treated",
                                 covariates="age + female + bmi + C(smoking)", **k),
         used="bmi"),
    Verb("match[effect]",
         lambda d, **k: cl.match(d, exposure="treated",
                                 covariates="age + female + bmi + C(smoking)",
                                 outcome="sbp_12m", **k).estimate,
         used="sbp_12m", has_ci=True),
    Verb("gformula", lambda d, **k: cl.gformula(d, exposure="treated", outcome="sbp_12m",
                                                covariates="age + female + bmi + C(smoking)", **k),
         used="bmi", has_ci=True),
    Verb("gformula[bootstrap]",
         lambda d, **k: cl.gformula(d, exposure="treated", outcome="mace_1y",
                                    covariates=["age", "female", "bmi", "smoking"],
                                    variance="bootstrap", n_boot=50, **k),
         used="mace_1y", has_ci=True, random=True),
    Verb("aipw", lambda d, **k: cl.aipw(d, exposure="treated", outcome="mace_1y",
                                        covariates=["age", "female", "bmi", "smoking"], **k),
         used="female", has_ci=True),
    Verb("aipw[cross_fit]",
         lambda d, **k: cl.aipw(d, exposure="treated", outcome="sbp_12m",
                                covariates=["age", "female", "bmi"], cross_fit=3,
                                ps_model=_logit(), outcome_model=_linear(), **k),
         used="age", has_ci=True, random=True),
    Verb("tmle", lambda d, **k: cl.tmle(d, exposure="treated", outcome="sbp_12m",
                                        covariates="age + female + bmi + C(smoking)",
                                        outcome_covariates="age + bmi + diabetes", **k),
         used="diabetes", has_ci=True),
    Verb("kaplan_meier", lambda d, **k: cl.kaplan_meier(
        d.assign(dead=(d["event"] > 0).astype(int)), time="time", event="dead", by="treated",
        **{x: v for x, v in k.items() if x != "random_state"}), used="treated", has_ci=True),
    Verb("logrank", lambda d, **k: cl.logrank(
        d.assign(dead=(d["event"] > 0).astype(int)), time="time", event="dead", by="treated",
        **{x: v for x, v in k.items() if x not in ("random_state", "conf_level")}),
         used="treated"),
    Verb("rmst", lambda d, **k: cl.rmst(
        d.assign(dead=(d["event"] > 0).astype(int)), time="time", event="dead", tau=4.0,
        by="treated", **{x: v for x, v in k.items() if x != "random_state"}), used="treated",
         has_ci=True),
    Verb("cumulative_incidence", lambda d, **k: cl.cumulative_incidence(
        d, time="time", event="event", cause=1, by="treated",
        **{x: v for x, v in k.items() if x != "random_state"}), used="treated", has_ci=True),
    Verb("gray_test", lambda d, **k: cl.gray_test(
        d, time="time", event="event", by="treated",
        **{x: v for x, v in k.items() if x not in ("random_state", "conf_level")}),
         used="treated"),
    Verb("adjusted_survival", lambda d, **k: cl.adjusted_survival(
        d.assign(dead=(d["event"] > 0).astype(int)), time="time", event="dead",
        exposure="treated", covariates="age + female + bmi",
        **{x: v for x, v in k.items() if x != "random_state"}).contrast([1.0, 2.0]),
         used="bmi", has_ci=True),
    Verb("cox", lambda d, **k: cl.cox(d.assign(dead=(d["event"] > 0).astype(int)), time="time",
                                      event="dead", covariates="age + female + C(smoking)",
                                      robust=True,
                                      **{x: v for x, v in k.items() if x != "random_state"}),
         used="age", has_ci=True),
    Verb("cox[propensity score]", lambda d, **k: cl.cox(
        d.assign(dead=(d["event"] > 0).astype(int)), time="time", event="dead",
        covariates=["treated"], weights=_ps(d),
        **{x: v for x, v in k.items() if x != "random_state"}), used="time", has_ci=True),
    Verb("kaplan_meier[propensity score]", lambda d, **k: cl.kaplan_meier(
        d.assign(dead=(d["event"] > 0).astype(int)), time="time", event="dead", by="treated",
        weights=_ps(d), **{x: v for x, v in k.items() if x != "random_state"}), used="time",
        has_ci=True),
    Verb("cumulative_incidence[propensity score]", lambda d, **k: cl.cumulative_incidence(
        d, time="time", event="event", cause=1, by="treated", weights=_ps(d),
        **{x: v for x, v in k.items() if x != "random_state"}), used="time", has_ci=True),
    Verb("fine_gray", lambda d, **k: cl.fine_gray(
        d, time="time", event="event", cause=1, covariates=["age", "treated"],
        **{x: v for x, v in k.items() if x != "random_state"}), used="treated", has_ci=True),
    Verb("cause_specific_cox", lambda d, **k: cl.cause_specific_cox(
        d, time="time", event="event", covariates=["age", "bmi"],
        **{x: v for x, v in k.items() if x != "random_state"}), used="bmi", has_ci=True),
    Verb("dose_response", lambda d, **k: cl.dose_response(
        d, exposure="bmi", outcome="sbp_12m", covariates="age + female + C(smoking)", **k),
        used="bmi", has_ci=True),
    Verb("dose_response[ipw bootstrap]", lambda d, **k: cl.dose_response(
        d, exposure="bmi", outcome="sbp_12m", covariates="age + female + C(smoking)",
        method="ipw", variance="bootstrap", n_boot=30, **k),
        used="sbp_12m", has_ci=True, random=True),
    Verb("ppi_mean", lambda d, **k: cl.ppi_mean(
        d.assign(mace_label=d["mace_1y"].where(d["id"] % 4 == 0)), outcome="pred_mace",
        outcome_validation="mace_label", exposure="treated",
        **{x: v for x, v in k.items() if x != "random_state"}),
        used="treated", has_ci=True),
    Verb("ppi_effect", lambda d, **k: cl.ppi_effect(
        cl.ipw, d.assign(mace_label=d["mace_1y"].where(d["id"] % 4 == 0)),
        outcome_validation="mace_label", exposure="treated", outcome="pred_mace",
        covariates=["age", "female"],
        **{x: v for x, v in k.items() if x != "random_state"}),
        used="age", has_ci=True),
    Verb("evaluate_classifier", lambda d, **k: cl.evaluate_classifier(
        d, score="af_score", label="af_true", by="female", threshold=0.5,
        **{x: v for x, v in k.items() if x != "random_state"}), used="af_score", has_ci=True),
    Verb("evaluate_survival_model", lambda d, **k: cl.evaluate_survival_model(
        d.assign(dead=(d["event"] > 0).astype(int)), time="time", event="dead",
        score="age", times=[2.0],
        **{x: v for x, v in k.items() if x != "random_state"}), used="age", has_ci=True),
    Verb("compare_classifiers", lambda d, **k: cl.compare_classifiers(
        d, label="af_true", scores=["af_score", "age"],
        **{x: v for x, v in k.items() if x != "random_state"}), used="af_score", has_ci=True),
    Verb("compare_survival_models", lambda d, **k: cl.compare_survival_models(
        d.assign(dead=(d["event"] > 0).astype(int)), time="time", event="dead",
        scores=["age", "bmi"], times=[2.0],
        **{x: v for x, v in k.items() if x != "random_state"}), used="bmi", has_ci=True),
    Verb("subgroups", lambda d, **k: cl.subgroups(
        cl.crude_effect, d, by="female", exposure="treated", outcome="mace_1y",
        **{x: v for x, v in k.items() if x != "random_state"}), used="female", has_ci=True),
    Verb("table1", lambda d, **k: cl.table1(d, by="treated", columns=["age", "smoking",
                                                                      "site_name", "diabetes"],
                                            **{x: v for x, v in k.items() if x != "random_state"}),
         used="treated"),
    Verb("attrition", lambda d, **k: cl.attrition(d, [("adults over 40", "age > 40"),
                                                      ("never smokers", "smoking == 'never'")]),
         used=None),
    Verb("impute", _impute, used=None, random=True),
    Verb("with_imputations", _with_imputations, used=None, has_ci=True, random=True),
    Verb("simulate_cohort", lambda d, **k: cl.simulate_cohort(
        300, random_state=k.get("random_state", 1)), used=None, random=True),
    Verb("simulate_longitudinal", lambda d, **k: cl.simulate_longitudinal(
        100, 4, random_state=k.get("random_state", 1), n_truth=2_000), used=None, random=True),
    # person-period verbs run on a simulated long cohort (the point-exposure one has no periods)
    Verb("tv_weights", lambda d, **k: cl.tv_weights(
        _long(), id="id", period="period", treatment="A", covariates="L + V", censor="C"),
        used=None),
    Verb("msm", lambda d, **k: cl.msm(
        _long(), id="id", period="period", treatment="A", outcome="Y", covariates="L + V",
        baseline="V", censor="C", competing="D", n_boot=20,
        random_state=k.get("random_state", 1),
        conf_level=k.get("conf_level", 0.95)), used=None, has_ci=True, random=True),
    Verb("strategy_curves", lambda d, **k: cl.strategy_curves(
        _long(), id="id", period="period", treatment="A", outcome="Y", covariates="L + V",
        censor="C", competing="D", n_boot=20, random_state=k.get("random_state", 1),
        conf_level=k.get("conf_level", 0.95)), used=None, has_ci=True, random=True),
    Verb("corrected_prevalence", lambda d, **k: cl.corrected_prevalence(
        _long(), id="id", period="period", flag="A", sensitivity=0.9, specificity=0.95,
        conf_level=k.get("conf_level", 0.95)), used=None, has_ci=True),
    # long-format data of its own (the cohort is one row per person); missing values raise
    Verb("gformula_tv", lambda d, **k: cl.gformula_tv(
        cl.simulate_longitudinal(500, 4, random_state=2, n_truth=2_000, competing=False), id="id",
        period="period", treatment="A", outcome="Y", censor="C", covariates={"L": "normal"},
        baseline=["V"], n_boot=20, **k), used=None, has_ci=True, random=True),
    Verb("sequential_trials", lambda d, **k: cl.sequential_trials(
        trials_cohort(), id="id", period="period", treatment="A", outcome="Y", eligible="E",
        covariates=["L", "V"], censor="C", **k).effects, used=None, has_ci=True),
    Verb("emulate_target_trial", lambda d, **k: cl.emulate_target_trial(cl.TargetTrial(
        treatment="A", outcome="Y", censor="C", covariates=("L", "V"),
        conf_level=k.get("conf_level", 0.95)), trials_cohort()).effects, used=None,
        has_ci=True),
    Verb("clone_censor_weight", lambda d, **k: cl.clone_censor_weight(
        _long(), id="id", period="period", treatment="A", outcome="Y", covariates=["L", "V"],
        censor="C", grace=1, n_boot=20, **k).effects, used=None, has_ci=True, random=True),
]
#: Public functions that are not data verbs, and why.
NOT_VERBS = {
    "tidy": "stacks results; tested in tests/results",
    "table2": "lays out results already computed; tested in tests/report",
    **{name: "takes negative/positive-control estimates, not a cohort; tested in "
             "tests/sensitivity/test_calibration.py"
       for name in ("empirical_null", "calibrate_p", "systematic_error_model", "calibrate_ci")},
    "refute": "wraps another verb (run in each simulation); tested in tests/sensitivity",
    "cate": "needs the causal-ml extra (EconML); tested in tests/subgroups/test_cate.py",
    "bias_analysis": "wraps another verb (run in each simulation); its contract over every "
                     "estimator is tests/contract/test_wrappers.py",
    "correct_exposure": "wraps another verb (run on each imputed cohort); its contract over "
                        "every estimator is tests/contract/test_wrappers.py",
    "evalue": "takes an Estimate or numbers, not a DataFrame; tested in tests/sensitivity",
    **{name: "builds or checks person-period data, not an estimate; tested in "
             "tests/test_longitudinal_data.py"
       for name in ("person_period", "expand_intervals", "validate_person_period", "lag",
                    "cumulative_exposure", "time_since_initiation", "ever_treated",
                    "time_varying_exposure")},
    "by_period_table": "a descriptive table without estimates (no CI); tested in "
                       "tests/test_longitudinal_data.py",
    **{name: "builds an exposure definition, not an estimate; tested in tests/exposures"
       for name in ("threshold_exposure", "quantile_exposure", "cutpoint_exposure",
                    "standardized_exposure", "spline_basis")},
}
IDS = [v.name for v in VERBS]


def _frame_of(res: Any) -> pd.DataFrame:
    return res if isinstance(res, pd.DataFrame) else res.to_frame()


def test_every_public_function_is_registered():
    names = {v.name.split("[")[0] for v in VERBS}
    public = {n for n in cl.__all__ if inspect.isfunction(getattr(cl, n))}
    missing = public - names - set(NOT_VERBS)
    assert not missing, f"public verbs without a contract entry: {sorted(missing)}"


@pytest.mark.parametrize("verb", VERBS, ids=IDS)
def test_schema_and_rendering(verb):
    res = verb.call(_cohort(), random_state=1)
    if isinstance(res, pd.DataFrame):  # data generators
        assert len(res) > 0
        return
    frame = _frame_of(res)
    if isinstance(res, (Estimate, EstimateTable, ModelResult)):
        check_schema(frame)
        assert frame["conf_level"].eq(0.95).all()
    elif isinstance(res, (TestResult, TestTable)):  # a test has no interval: conf_level NaN
        check_schema(frame)
        assert frame["df"].gt(0).all() and frame["conf_level"].isna().all()
    elif isinstance(res, Curve):
        check_schema(frame, "curve")
    else:
        assert isinstance(frame, pd.DataFrame) and len(frame) > 0
    text = res.summary()
    assert isinstance(text, str) and text and repr(res) == text
    for out in (res.to_markdown(), res.to_latex(), res.to_html(), res._repr_html_()):
        assert isinstance(out, str) and len(out) > 20
    assert "<table" in res.to_html()


@pytest.mark.parametrize("verb", VERBS, ids=IDS)
def test_input_frame_unchanged(verb):
    d = _cohort()
    before = pd.util.hash_pandas_object(d, index=True).sum()
    cols, dtypes = list(d.columns), d.dtypes.copy()
    verb.call(d, random_state=1)
    assert pd.util.hash_pandas_object(d, index=True).sum() == before
    assert list(d.columns) == cols and d.dtypes.equals(dtypes)


@pytest.mark.parametrize("verb", [v for v in VERBS if v.random], ids=[v.name for v in VERBS if v.random])
def test_same_random_state_same_numbers(verb):
    a = _frame_of(verb.call(_cohort(), random_state=11))
    b = _frame_of(verb.call(_cohort(), random_state=11))
    c = _frame_of(verb.call(_cohort(), random_state=12))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


@pytest.mark.parametrize("verb", [v for v in VERBS if v.used], ids=[v.name for v in VERBS if v.used])
def test_nan_in_used_column_raises_and_unused_does_not(verb):
    d = _cohort()
    d.loc[d.index[:3], verb.unused] = np.nan
    verb.call(d, random_state=1)  # unused column: fine
    d.loc[d.index[:2], verb.used] = np.nan
    with pytest.raises(MissingDataError, match=rf"2 of 400 rows have missing values .*{verb.used} \(2\)"):
        verb.call(d, random_state=1)
    res = verb.call(d, random_state=1, missing="drop")
    assert res.dropped.n_rows == 2 and res.dropped.by_column == {verb.used: 2}


@pytest.mark.parametrize("verb", [v for v in VERBS if v.has_ci], ids=[v.name for v in VERBS if v.has_ci])
def test_conf_level_090_narrows_interval(verb):
    wide = _frame_of(verb.call(_cohort(), random_state=5))
    narrow = _frame_of(verb.call(_cohort(), random_state=5, conf_level=0.90))
    nw = (narrow["conf_high"] - narrow["conf_low"]).to_numpy()
    ww = (wide["conf_high"] - wide["conf_low"]).to_numpy()
    # curves have zero-width intervals before the first event (S = 1): never wider, and
    # strictly narrower wherever the wide interval has width; rows without an interval (a
    # metric reported without one, e.g. ECE) are exempt but not all rows may be
    has = ~np.isnan(ww)
    assert has.any() and np.array_equal(has, ~np.isnan(nw))
    nw, ww = nw[has], ww[has]
    assert np.all(nw <= ww + 1e-12) and np.all(nw[ww > 0] < ww[ww > 0])
    assert narrow["conf_level"].eq(0.90).all()
    pd.testing.assert_series_equal(wide["estimate"], narrow["estimate"])
