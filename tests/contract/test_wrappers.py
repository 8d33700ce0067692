"""The contract of the correction wrappers over every registered estimator (issue 13).

The corrections are wrappers with one argument order, ``wrapper(estimator, data, *,
<wrapper options>, **estimator_kwargs)``:

- ``cl.correct_exposure(est, data, validation=..., exposure=..., ...)`` -> ``MICorrection``;
- ``cl.bias_analysis(est, data, exposure=..., error=cl.ErrorRates(...), ...)`` ->
  ``BiasAnalysis``;
- ``cl.ppi_effect(est, data, outcome_validation=..., ...)`` -> the PPI ``EstimateTable``.

Each wrapper runs over every estimator of ``ESTIMATORS`` (small data, few imputations or
simulations) and either returns its own documented type with the tidy schema, or refuses the
estimator with a ``CohortError`` naming it and saying why.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.exceptions import CohortError
from cohortlab.exposures.measurement_error import MICorrection
from cohortlab.exposures.misclassification import BiasAnalysis
from cohortlab.results import EstimateTable, check_schema

FLAG = "af_flag"
CONF = ["age", "bmi"]
SURV = dict(time="time", event="dead")
CR = dict(time="time", event="event")

#: Every estimator the wrappers must handle: name -> (verb, its arguments on the flag).
ESTIMATORS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "crude_effect": (cl.crude_effect, dict(exposure=FLAG, outcome="mace_1y")),
    "ipw": (cl.ipw, dict(exposure=FLAG, outcome="mace_1y", covariates=CONF)),
    "aipw": (cl.aipw, dict(exposure=FLAG, outcome="mace_1y", covariates=CONF)),
    "tmle": (cl.tmle, dict(exposure=FLAG, outcome="mace_1y", covariates=CONF)),
    "gformula": (cl.gformula, dict(exposure=FLAG, outcome="mace_1y", covariates=CONF)),
    "match": (cl.match, dict(exposure=FLAG, outcome="mace_1y", covariates=CONF)),
    "cox": (cl.cox, dict(covariates=[FLAG, "age"], **SURV)),
    "fine_gray": (cl.fine_gray, dict(covariates=[FLAG, "age"], cause=1, **CR)),
    "cause_specific_cox": (cl.cause_specific_cox,
                           dict(covariates=[FLAG, "age"], causes=[1], **CR)),
    "kaplan_meier": (cl.kaplan_meier, dict(by=FLAG, **SURV)),
    "cumulative_incidence": (cl.cumulative_incidence, dict(by=FLAG, cause=1, **CR)),
    "adjusted_survival": (cl.adjusted_survival, dict(exposure=FLAG, covariates=CONF, **SURV)),
    "rmst": (cl.rmst, dict(by=FLAG, tau=4.0, **SURV)),
    "logrank": (cl.logrank, dict(by=FLAG, **SURV)),
    "gray_test": (cl.gray_test, dict(by=FLAG, **CR)),
    "dose_response": (cl.dose_response, dict(exposure=FLAG, outcome="sbp_12m", covariates=CONF)),
    # person-period verbs: refused before their arguments are read
    "tv_weights": (cl.tv_weights, dict(id="id", period="period", treatment=FLAG)),
    "msm": (cl.msm, dict(id="id", period="period", treatment=FLAG, outcome="mace_1y")),
    "strategy_curves": (cl.strategy_curves,
                        dict(id="id", period="period", treatment=FLAG, outcome="mace_1y")),
    "gformula_tv": (cl.gformula_tv,
                    dict(id="id", period="period", treatment=FLAG, outcome="mace_1y")),
    "sequential_trials": (cl.sequential_trials,
                          dict(id="id", period="period", treatment=FLAG, outcome="mace_1y")),
    "clone_censor_weight": (cl.clone_censor_weight,
                            dict(id="id", period="period", treatment=FLAG, outcome="mace_1y")),
    "emulate_target_trial": (cl.emulate_target_trial, {}),
}
CURVES = {"kaplan_meier", "cumulative_incidence", "adjusted_survival"}
TESTS = {"logrank", "gray_test"}  # chi-square tests: no estimate to pool or to correct
BY_TABLES = {"rmst"} | TESTS  # the flag as by=, several rows or a test
PERSON_PERIOD = {"tv_weights", "msm", "strategy_curves", "gformula_tv", "sequential_trials",
                 "clone_censor_weight", "emulate_target_trial"}
PPI = {"ipw", "aipw"}
NAMES = list(ESTIMATORS)
#: Public verbs of the estimator packages that the wrappers do not take, and why.
NOT_WRAPPED = {
    "propensity_score": "returns the propensity model, not an effect (weights are refitted "
                        "through correct_exposure(refit_weights=...))",
    "corrected_prevalence": "is itself the correction of a misclassified time-varying flag",
}
ESTIMATOR_PACKAGES = ("causal", "survival", "longitudinal", "trials")


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    d = cl.simulate_cohort(800, random_state=11)
    d.attrs = {}
    rng = np.random.default_rng(11)
    d["af_valid"] = d["af_true"].where(rng.random(len(d)) < 0.4)
    d["dead"] = (d["event"] > 0).astype(int)
    # a model's predicted probability of mace_1y, and its label on a third of the rows
    d["pred"] = 1 / (1 + np.exp(2.5 - 0.8 * d["af_flag"] - 0.03 * (d["age"] - 60)))
    d["label"] = d["mace_1y"].where(np.arange(len(d)) % 3 == 0)
    return d


def _quiet(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    with warnings.catch_warnings():  # fragile fits on a small cohort are not the point here
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _tidy(res: Any) -> pd.DataFrame:
    frame = res.to_frame()
    check_schema(frame)
    assert len(frame) > 0
    assert frame["conf_level"].eq(0.95).all()
    return frame


@pytest.mark.parametrize("wrapper", [cl.correct_exposure, cl.bias_analysis, cl.ppi_effect],
                         ids=lambda f: f.__name__)
def test_one_argument_order(wrapper):
    """wrapper(estimator, data, *, <wrapper options>, **estimator_kwargs)."""
    params = list(inspect.signature(wrapper).parameters.values())
    assert [p.name for p in params[:2]] == ["estimator", "data"]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params[:2])
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[2:-1])
    assert params[-1].kind is inspect.Parameter.VAR_KEYWORD


def test_every_estimator_is_registered():
    """Each estimator of causal/, survival/, longitudinal/ and trials/ is run by the wrappers.

    Person-period data preparation (features, validation, tables) is not an estimator.
    """
    prep = {"person_period", "expand_intervals", "validate_person_period", "lag",
            "cumulative_exposure", "time_since_initiation", "ever_treated",
            "time_varying_exposure", "by_period_table"}
    missing = []
    for name in cl.__all__:
        obj = getattr(cl, name)
        if (inspect.isfunction(obj) and obj.__module__.split(".")[1] in ESTIMATOR_PACKAGES
                and name not in ESTIMATORS and name not in NOT_WRAPPED and name not in prep):
            missing.append(name)
    assert not missing, f"add to ESTIMATORS (or NOT_WRAPPED with the reason): {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_correct_exposure_over_every_estimator(cohort, name):
    verb, kw = ESTIMATORS[name]
    if name in PERSON_PERIOD | TESTS | {"dose_response"}:
        match = {"dose_response": r"correct_exposure\(\): column 'af_flag' \(exposure\) is "
                                  r"binary.*needs a continuous exposure",
                 "logrank": r"returned a TestResult; expected an Estimate",
                 "gray_test": r"returned a TestTable; expected an Estimate"}.get(
            name, rf"correct_exposure\(\): {name}\(\) analyses person-period data.*"
                  r"corrected_prevalence")
        with pytest.raises(CohortError, match=match):
            _quiet(cl.correct_exposure, verb, cohort, validation="af_valid", exposure=FLAG,
                   n_imputations=2, random_state=1,
                   **{k: v for k, v in kw.items() if k != "exposure"})
        return
    extra = dict(times=[2.0]) if name in CURVES else {}
    res = _quiet(cl.correct_exposure, verb, cohort, validation="af_valid", exposure=FLAG,
                 n_imputations=2, random_state=1, **extra,
                 **{k: v for k, v in kw.items() if k != "exposure"})
    assert type(res) is MICorrection
    frame = _tidy(res)
    assert {"analysis", "fmi", "df", "riv"} <= set(frame.columns)
    assert set(frame["analysis"]) == {"naive", "corrected"}
    assert np.isfinite(res.corrected.to_frame()["estimate"]).any()


@pytest.mark.parametrize("name", NAMES)
def test_bias_analysis_over_every_estimator(cohort, name):
    verb, kw = ESTIMATORS[name]
    error = cl.ErrorRates(sensitivity=0.85, specificity=0.97)
    call = dict(exposure=FLAG, error=error, n_sims=4, random_state=1,
                **{k: v for k, v in kw.items() if k != "exposure"})
    if name in CURVES:
        with pytest.raises(CohortError, match=rf"{name}\(\) returns curves.*correct_exposure"):
            cl.bias_analysis(verb, cohort, **call)
        return
    if name in BY_TABLES | PERSON_PERIOD | {"dose_response"}:
        match = (r"needs a continuous exposure" if name == "dose_response" else
                 rf"{name}\(\) takes the flag as by=.*lambda d, exposure" if name in BY_TABLES
                 else rf"bias_analysis\(\): {name}\(\) analyses person-period data")
        with pytest.raises(CohortError, match=match):
            cl.bias_analysis(verb, cohort, **call)
        return
    res = _quiet(cl.bias_analysis, verb, cohort, **call)
    assert type(res) is BiasAnalysis
    frame = _tidy(res)
    assert frame["term"].tolist() == ["naive", "corrected (systematic)", "corrected (total)"]
    assert np.isfinite(res.naive.estimate)


@pytest.mark.parametrize("name", NAMES)
def test_ppi_effect_over_every_estimator(cohort, name):
    verb, _ = ESTIMATORS[name]
    kw = dict(outcome_validation="label", exposure="treated", outcome="pred",
              covariates=["age", "female"])
    if name not in PPI:
        with pytest.raises(CohortError, match=rf"estimators ipw and aipw; got {name}\."):
            cl.ppi_effect(verb, cohort, **kw)
        return
    res = cl.ppi_effect(verb, cohort, **kw)
    assert type(res) is EstimateTable
    frame = _tidy(res)
    assert frame["term"].tolist() == ["naive", "labelled_only", "ppi"]
    assert set(frame["method"]) == {name}


def test_match_without_outcome_is_refused(cohort):
    error = cl.ErrorRates(sensitivity=0.85, specificity=0.97)
    with pytest.raises(CohortError, match=r"match\(\) without outcome="):
        cl.bias_analysis(cl.match, cohort, exposure=FLAG, error=error, n_sims=4,
                         covariates=CONF)
    with pytest.raises(CohortError, match=r"needs the outcome"):
        _quiet(cl.correct_exposure, cl.match, cohort, validation="af_valid", exposure=FLAG,
               n_imputations=2, covariates=CONF)


def test_estimator_arguments_ppi_cannot_honour_are_refused(cohort):
    with pytest.raises(CohortError, match=r"trim= of aipw\(\) cannot be combined"):
        cl.ppi_effect(cl.aipw, cohort, outcome_validation="label", exposure="treated",
                      outcome="pred", covariates=["age"], trim=(0.01, 0.99))


def test_one_rmst_row_runs_as_the_refusal_suggests(cohort):
    """The by= refusal's advice: a function returning one row of rmst()'s table."""
    error = cl.ErrorRates(sensitivity=0.85, specificity=0.97)
    res = _quiet(cl.bias_analysis, lambda d, exposure, **kw: cl.rmst(d, by=exposure, **kw)[2],
                 cohort, exposure=FLAG, error=error, n_sims=4, random_state=1, tau=4.0, **SURV)
    assert type(res) is BiasAnalysis
    naive = cl.rmst(cohort, by=FLAG, tau=4.0, **SURV)[2]
    assert naive.effect_measure == "rmst_difference"
    assert res.naive.estimate == naive.estimate
