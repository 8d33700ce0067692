"""One result family: every public verb returns a family member or a result with ``.table``.

The family is ``Estimate``, ``EstimateTable``, ``Curve``, ``ModelResult``, ``TestResult`` and
``TestTable``; any other result exposes its numbers as ``.table`` (an ``EstimateTable``). Every
function in ``cohortlab.__all__`` is in ``RESULT_VERBS`` (called here on a small simulated
cohort) or in ``NOT_RESULTS`` with the reason, so a new verb must register. For each verb the
tidy frame (``to_frame()`` of a family member, ``tidy(result)`` of the others) passes
``check_schema``. Result-returning methods and the sensitivity verbs outside ``__all__``
(``check_proportional_hazards``, ``calibration_coverage``) are registered too.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from typing import Any, get_args

import numpy as np
import pandas as pd
import pytest
from helpers import trials_cohort

import cohortlab as cl
from cohortlab._typing import CIMethod, EffectMeasure, EvaluationMetric
from cohortlab.exceptions import CohortWarning
from cohortlab.results import (
    Curve,
    Estimate,
    EstimateTable,
    ModelResult,
    TestResult,
    TestTable,
    check_schema,
    tidy,
)

FAMILY = (Estimate, EstimateTable, Curve, ModelResult, TestResult, TestTable)
COV = ["age", "female", "bmi"]


def _cohort() -> pd.DataFrame:
    d = cl.simulate_cohort(300, random_state=5)
    d["dead"] = (d["event"] > 0).astype(int)
    d["af_valid"] = d["af_true"].where(np.arange(len(d)) % 3 == 0)
    d["mace_label"] = d["mace_1y"].where(np.arange(len(d)) % 4 == 0)
    d["pred_mace"] = 1 / (1 + np.exp(3.0 - 0.03 * (d["age"] - 60) - 0.7 * d["af_flag"]))
    return d


def _controls(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    se = rng.uniform(0.05, 0.3, n)
    return pd.DataFrame({"log_rr": rng.normal(shift, np.sqrt(0.1**2 + se**2)), "se": se,
                         "true_rr": np.exp(shift)})


NEG = _controls(25, 0.0, 1)
POS = pd.concat([_controls(20, np.log(2.0), 2), _controls(20, np.log(4.0), 3)])
CTRL = {"log_estimate": "log_rr", "std_error": "se"}


def _cate(d: pd.DataFrame) -> Any:
    pytest.importorskip("econml")
    from sklearn.linear_model import LinearRegression, LogisticRegression

    return cl.cate(d, exposure="treated", outcome="sbp_12m", covariates=COV,
                   effect_modifiers=["female"], cv=2, random_state=1,
                   outcome_model=LinearRegression(), propensity_model=LogisticRegression())


#: name -> call on the cohort. The name before "[" is the public function.
RESULT_VERBS: dict[str, Callable[[pd.DataFrame], Any]] = {
    "crude_effect": lambda d: cl.crude_effect(d, exposure="treated", outcome="mace_1y"),
    "propensity_score": lambda d: cl.propensity_score(d, exposure="treated", covariates=COV),
    "ipw": lambda d: cl.ipw(d, exposure="treated", outcome="sbp_12m", covariates=COV),
    "match": lambda d: cl.match(d, exposure="treated", covariates=COV),
    "match[outcome]": lambda d: cl.match(d, exposure="treated", covariates=COV,
                                         outcome="sbp_12m"),
    "gformula": lambda d: cl.gformula(d, exposure="treated", outcome="sbp_12m", covariates=COV),
    "aipw": lambda d: cl.aipw(d, exposure="treated", outcome="sbp_12m", covariates=COV),
    "tmle": lambda d: cl.tmle(d, exposure="treated", outcome="sbp_12m", covariates=COV),
    "dose_response": lambda d: cl.dose_response(d, exposure="bmi", outcome="sbp_12m",
                                                covariates=["age", "female"]),
    "kaplan_meier": lambda d: cl.kaplan_meier(d, time="time", event="dead", by="treated"),
    "adjusted_survival": lambda d: cl.adjusted_survival(d, time="time", event="dead",
                                                        exposure="treated", covariates=COV),
    "logrank": lambda d: cl.logrank(d, time="time", event="dead", by="treated"),
    "rmst": lambda d: cl.rmst(d, time="time", event="dead", tau=4.0, by="treated"),
    "cox": lambda d: cl.cox(d, time="time", event="dead", covariates=["treated", "age"]),
    "cox[check_proportional_hazards]": lambda d: cl.cox(
        d, time="time", event="dead", covariates=["treated", "age"]
    ).check_proportional_hazards(),
    "cumulative_incidence": lambda d: cl.cumulative_incidence(d, time="time", event="event",
                                                              cause=1, by="treated"),
    "gray_test": lambda d: cl.gray_test(d, time="time", event="event", by="treated"),
    "fine_gray": lambda d: cl.fine_gray(d, time="time", event="event", cause=1,
                                        covariates=["treated", "age"]),
    "cause_specific_cox": lambda d: cl.cause_specific_cox(d, time="time", event="event",
                                                          covariates=["treated", "age"]),
    "bias_analysis": lambda d: cl.bias_analysis(
        cl.crude_effect, d, exposure="af_flag", outcome="mace_1y", n_sims=8, random_state=1,
        error=cl.ErrorRates(sensitivity=0.85, specificity=0.97)),
    "correct_exposure": lambda d: cl.correct_exposure(
        cl.crude_effect, d, exposure="af_flag", validation="af_valid", outcome="mace_1y",
        n_imputations=2, random_state=1),
    "ppi_mean": lambda d: cl.ppi_mean(d, outcome="pred_mace", outcome_validation="mace_label",
                                      exposure="treated"),
    "ppi_effect": lambda d: cl.ppi_effect(cl.ipw, d, outcome_validation="mace_label",
                                          exposure="treated", outcome="pred_mace",
                                          covariates=["age", "female"]),
    "with_imputations": lambda d: cl.with_imputations(
        cl.crude_effect, cl.impute(d.assign(bmi=d["bmi"].where(d.index % 5 != 0)).loc[
            :, ["age", "bmi", "treated", "mace_1y"]], m=2, n_iter=2, random_state=1),
        exposure="treated", outcome="mace_1y"),
    "evaluate_classifier": lambda d: cl.evaluate_classifier(d, score="af_score",
                                                            label="af_true"),
    "evaluate_survival_model": lambda d: cl.evaluate_survival_model(
        d, time="time", event="dead", score="age", times=[2.0]),
    "compare_classifiers": lambda d: cl.compare_classifiers(d, label="af_true",
                                                            scores=["af_score", "age"]),
    "compare_survival_models": lambda d: cl.compare_survival_models(
        d, time="time", event="dead", scores=["age", "bmi"], times=[2.0]),
    "subgroups": lambda d: cl.subgroups(cl.crude_effect, d, by="female", exposure="treated",
                                        outcome="mace_1y"),
    "subgroups[interaction]": lambda d: cl.subgroups(
        cl.crude_effect, d, by="female", exposure="treated", outcome="mace_1y").interaction,
    "cate": _cate,
    "evalue": lambda d: cl.evalue(cl.crude_effect(d, exposure="treated", outcome="mace_1y",
                                                  effect_measure="ratio")),
    "refute": lambda d: cl.refute(cl.crude_effect, d, exposure="treated", outcome="sbp_12m",
                                  tests="placebo_exposure", n_sims=5, random_state=1),
    "tv_weights": lambda d: cl.tv_weights(
        cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000), id="id", period="period",
        treatment="A", covariates="L + V", censor="C"),
    "msm": lambda d: cl.msm(
        cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000), id="id", period="period",
        treatment="A", outcome="Y", covariates="L + V", baseline="V", censor="C",
        competing="D", variance="robust"),
    "msm[cox]": lambda d: cl.msm(
        cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000), id="id", period="period",
        treatment="A", outcome="Y", covariates="L + V", baseline="V", censor="C",
        competing="D", model="cox"),
    "msm[cox_risks]": lambda d: cl.msm(
        cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000, competing=False), id="id", period="period",
        treatment="A", outcome="Y", covariates="L + V", baseline="V", censor="C",
        model="cox", cox_risks=True, n_boot=5, random_state=1),
    "strategy_curves": lambda d: cl.strategy_curves(
        cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000), id="id", period="period",
        treatment="A", outcome="Y", covariates="L + V", censor="C", competing="D", n_boot=5,
        random_state=1),
    "strategy_curves[risks]": lambda d: cl.strategy_curves(
        cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000), id="id", period="period",
        treatment="A", outcome="Y", covariates="L + V", censor="C", competing="D", n_boot=5,
        random_state=1).risks,
    "corrected_prevalence": lambda d: cl.corrected_prevalence(
        cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000), id="id", period="period",
        flag="A", sensitivity=0.9, specificity=[0.95, 0.95, 0.9, 0.9]),
    "gformula_tv": lambda d: cl.gformula_tv(
        cl.simulate_longitudinal(300, 4, random_state=2, n_truth=2_000, competing=False), id="id",
        period="period", treatment="A", outcome="Y", censor="C", covariates={"L": "normal"},
        baseline=["V"], n_boot=5, random_state=1),
    "sequential_trials": lambda d: cl.sequential_trials(
        trials_cohort(), id="id", period="period", treatment="A", outcome="Y", eligible="E",
        covariates=["L", "V"], censor="C"),
    "emulate_target_trial": lambda d: cl.emulate_target_trial(cl.TargetTrial(
        treatment="A", outcome="Y", censor="C", covariates=("L", "V")), trials_cohort()),
    "clone_censor_weight": lambda d: cl.clone_censor_weight(
        cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000), id="id", period="period",
        treatment="A", outcome="Y", covariates=["L", "V"], censor="C", grace=1, n_boot=5,
        random_state=1).effects,
    "clone_censor_weight[curves]": lambda d: cl.clone_censor_weight(
        cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000), id="id", period="period",
        treatment="A", outcome="Y", covariates=["L", "V"], grace=1, n_boot=5,
        random_state=1).curves,
    "empirical_null": lambda d: cl.empirical_null(NEG, **CTRL),
    "calibrate_p": lambda d: cl.calibrate_p(cl.empirical_null(NEG, **CTRL), POS, **CTRL),
    "systematic_error_model": lambda d: cl.systematic_error_model(NEG, POS, "true_rr", **CTRL),
    "calibrate_ci": lambda d: cl.calibrate_ci(cl.empirical_null(NEG, **CTRL), POS, **CTRL),
    "sensitivity.calibration_coverage": lambda d: cl.sensitivity.calibration_coverage(
        NEG, conf_levels=[0.9], **CTRL),
}

#: Public functions that return no result of the family, and why.
NOT_RESULTS = {
    "tidy": "stacks results into a DataFrame (it is what this file checks)",
    "table2": "lays out results already computed (Table2, a display table)",
    "table1": "a descriptive table (Table1), not estimates",
    "attrition": "a descriptive flow table (Attrition)",
    "impute": "returns the imputed data sets (ImputedData); with_imputations pools results",
    "simulate_cohort": "returns data (a DataFrame)",
    **{name: "builds an exposure definition (ExposureDefinition), not an estimate"
       for name in ("threshold_exposure", "quantile_exposure", "cutpoint_exposure",
                    "standardized_exposure", "spline_basis")},
    "simulate_longitudinal": "returns person-period data (a DataFrame)",
    "by_period_table": "a descriptive table by period (ByPeriodTable), like table1",
    "time_varying_exposure": "derives a time-varying treatment column (TimeVaryingExposure)",
    **{name: "builds or checks person-period data (a DataFrame), not an estimate"
       for name in ("person_period", "expand_intervals", "validate_person_period", "lag",
                    "cumulative_exposure", "time_since_initiation", "ever_treated")},
}


def test_every_public_function_is_registered():
    public = {n for n in cl.__all__ if inspect.isfunction(getattr(cl, n))}
    registered = {k.split("[")[0] for k in RESULT_VERBS} | set(NOT_RESULTS)
    missing = public - registered
    assert not missing, f"public functions without a result-contract entry: {sorted(missing)}"
    assert not set(NOT_RESULTS) & {k.split("[")[0] for k in RESULT_VERBS}


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return _cohort()


@pytest.mark.parametrize("name", list(RESULT_VERBS), ids=list(RESULT_VERBS))
def test_result_is_in_the_family_with_the_tidy_schema(name: str, cohort: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CohortWarning)
        res = RESULT_VERBS[name](cohort.copy())
    if isinstance(res, Curve):
        check_schema(res.to_frame(), "curve")
        _check_vocabulary(res.at([1.0]).to_frame(), name)
        return
    if not isinstance(res, FAMILY):
        assert isinstance(getattr(res, "table", None), EstimateTable), (
            f"{name} returns a {type(res).__name__}: not in the family and no .table")
    frame = tidy(res)
    check_schema(frame)
    if isinstance(res, FAMILY):
        check_schema(res.to_frame())
        pd.testing.assert_frame_equal(frame, res.to_frame().reset_index(drop=True),
                                      check_dtype=False)
    _check_vocabulary(frame, name)
    if isinstance(res, (TestResult, TestTable)):
        assert frame["estimate"].isna().all() and frame["conf_low"].isna().all()
        assert (frame["effect_measure"] == "chi_square").all() and frame["df"].gt(0).all()
        assert np.allclose(frame["p_value"], _chi2_sf(frame["statistic"], frame["df"]))


def _check_vocabulary(frame: pd.DataFrame, name: str) -> None:
    """``effect_measure`` and ``ci_method`` take values of the ``Literal`` aliases only."""
    measures = (set(frame["effect_measure"]) - set(get_args(EffectMeasure))
                - set(get_args(EvaluationMetric)))
    methods = set(frame["ci_method"]) - set(get_args(CIMethod))
    assert not measures, f"{name}: effect_measure {measures} not in _typing.EffectMeasure or EvaluationMetric"
    assert not methods, f"{name}: ci_method {methods} not in _typing.CIMethod"


def _chi2_sf(stat: pd.Series, df: pd.Series) -> np.ndarray:
    from scipy import stats

    return stats.chi2.sf(stat.to_numpy(float), df.to_numpy(float))


# ---------------------------------------------------------------------- one conf_int form
def test_conf_int_has_one_shape_across_the_family(cohort: pd.DataFrame):
    est = cl.crude_effect(cohort, exposure="treated", outcome="mace_1y",
                          effect_measure="ratio")
    model = cl.cox(cohort, time="time", event="dead", covariates=["treated", "age"])
    table = model.coef_table()
    for ci in (est.conf_int(), table.conf_int(), model.conf_int()):
        assert list(ci.columns) == ["conf_low", "conf_high"] and ci.index.name == "term"
    assert est.conf_int().iloc[0].tolist() == [est.conf_low, est.conf_high]
    # the model's interval is on the reported (hazard ratio) scale, as its tidy rows
    pd.testing.assert_frame_equal(model.conf_int(), table.conf_int())
    hr = model.tidy().set_index("term")
    np.testing.assert_allclose(model.conf_int()["conf_low"], hr["conf_low"], rtol=1e-14)
    z90 = 1.6448536269514722
    b, se = model.params[0], model.std_errors[0]
    assert model.conf_int(0.90).iloc[0].tolist() == pytest.approx(
        [math.exp(b - z90 * se), math.exp(b + z90 * se)], rel=1e-12)


def test_propensity_table_matches_statsmodels_logit(cohort: pd.DataFrame):
    """The exposure model's coefficients and model-based SEs: statsmodels Logit (to 1e-8)."""
    smf = pytest.importorskip("statsmodels.formula.api")
    ps = cl.propensity_score(cohort, exposure="treated", covariates="age + female + bmi")
    fit = smf.logit("treated ~ age + female + bmi", cohort).fit(disp=0, tol=1e-12)
    t = tidy(ps)
    np.testing.assert_allclose(t["estimate"], fit.params.to_numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(t["std_error"], fit.bse.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(t["conf_low"], fit.conf_int()[0].to_numpy(), rtol=1e-8)
