"""Results shared by the report tests: small hand-made ones and NHEFS (What If) effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohortlab.results.estimate import Estimate, EstimateTable
from cohortlab.results.model import ModelResult

#: What If Program 12.2 confounders
L = ("sex + race + age + I(age**2) + C(education) + smokeintensity + I(smokeintensity**2)"
     " + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active) + wt71 + I(wt71**2)")


@pytest.fixture(scope="module")
def hazard_ratios() -> EstimateTable:
    rows = [
        Estimate.from_model_scale("statin", np.log(0.82), 0.08, effect_measure="hazard_ratio",
                                  method="cox", estimand="ATE", n=1200, n_events=300),
        Estimate.from_model_scale("age", np.log(1.04), 0.01, effect_measure="hazard_ratio",
                                  method="cox", estimand="ATE", n=1200, n_events=300),
    ]
    return EstimateTable(rows=tuple(rows), title="Cox model", notes=("robust SE",))


@pytest.fixture(scope="module")
def risk_difference() -> Estimate:
    return Estimate.from_model_scale("ATE", -0.0312, 0.0107, effect_measure="risk_difference",
                                     method="aipw", estimand="ATE", n=9588, n_events=412,
                                     ci_method="influence_function")


@pytest.fixture(scope="module")
def cox_model() -> ModelResult:
    return ModelResult(terms=("treated", "age"), params=np.array([np.log(0.7), 0.05]),
                       vcov=np.diag([0.01, 0.0004]), effect_measure="hazard_ratio",
                       method="cox", n=2000, n_events=180)


@pytest.fixture(scope="module")
def small_cohort() -> pd.DataFrame:
    rng = np.random.default_rng(20260101)
    n = 400
    treated = rng.integers(0, 2, n)
    return pd.DataFrame({
        "treated": treated,
        "age": rng.normal(60 + 3 * treated, 8, n).round(1),
        "sex": rng.integers(0, 2, n),
        "stage": rng.choice(["I", "II", "III"], n),
        "time": rng.exponential(5.0, n).round(2) + 0.01,
        "event": rng.integers(0, 2, n),
    })


@pytest.fixture(scope="module")
def nhefs_effects() -> dict[str, list[Estimate]]:
    """IPW, AIPW and g-formula effects of quitting smoking on weight gain and on death."""
    from cohortlab.causal import aipw, gformula, ipw
    from cohortlab.datasets import load_nhefs

    d = load_nhefs()
    d = d[d["wt82"].notna()]
    out = {}
    for outcome, label in (("wt82_71", "weight gain, kg"), ("death", "death by 1992")):
        common = dict(exposure="qsmk", outcome=outcome, covariates=L)
        out[label] = [
            ipw(d, **common),
            aipw(d, outcome_covariates="qsmk + " + L, **common),
            gformula(d, outcome_covariates="qsmk + " + L, **common),
        ]
    return out
