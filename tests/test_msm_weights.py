"""tv_weights(): stabilised time-varying IPT/IPC weights against R glm on the same data.

Reference: tests/reference/msm/msm_reference.R (R 4.2.2, glm binomial; weights cumulated with
``ave(..., FUN = cumprod)``) on tests/reference/msm/data.csv (make_data.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortlab.exceptions import CohortError, MissingDataError
from cohortlab.longitudinal._weights import cumprod_within, positions
from cohortlab.longitudinal.weights import tv_weights

REF = Path(__file__).parent / "reference" / "msm"
RTOL = 1e-6  # glm and fit_logistic both converge to ~1e-10; weights are products of <= 8 ratios


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REF / "data.csv")


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((REF / "expected.json").read_text())


@pytest.fixture(scope="module")
def r_weights() -> pd.DataFrame:
    return pd.read_csv(REF / "weights.csv")


@pytest.fixture(scope="module")
def weights(data):
    return tv_weights(data, id="id", period="period", treatment="A", covariates=["L", "V"],
                      numerator=["V"], censor="C")


def _r_names(names):
    return [n.replace("Intercept", "(Intercept)").replace("I(period ** 2)", "I(period^2)")
            for n in names]


def test_weight_models_match_r_glm(weights, expected):
    for key in ("treatment_denominator", "treatment_numerator", "censoring_denominator",
                "censoring_numerator"):
        model = weights.models[key]
        ref = expected["models"][key]
        assert _r_names(model.terms) == list(ref)
        np.testing.assert_allclose(model.params, list(ref.values()), rtol=RTOL, atol=1e-9)
    se = weights.models["treatment_denominator"].std_errors
    np.testing.assert_allclose(se, list(expected["model_se"]["treatment_denominator"].values()),
                               rtol=1e-6)


def test_row_weights_match_r(weights, r_weights):
    np.testing.assert_allclose(weights.treatment_weights, r_weights["swa"], rtol=RTOL)
    np.testing.assert_allclose(weights.censoring_weights, r_weights["swc"], rtol=RTOL)
    np.testing.assert_allclose(weights.weights, r_weights["sw"], rtol=RTOL)


def test_diagnostics_match_r(weights, expected):
    tab = {r.term: r.estimate for r in weights.table}
    for k in ("mean", "min", "max", "sd", "ess"):
        assert tab[k] == pytest.approx(expected["weights_summary"][k], rel=RTOL)
    ref = pd.DataFrame(expected["by_period"])
    by = weights.by_period
    for col in ("mean", "min", "max", "p50", "p99", "ess"):
        np.testing.assert_allclose(by[col], ref[col], rtol=RTOL)
    assert weights.summary().startswith("Stabilised")
    assert any("censored person-periods" in n for n in weights.notes)


def test_truncation_matches_r_and_is_recorded(data, expected, r_weights):
    w = tv_weights(data, id="id", period="period", treatment="A", covariates=["L", "V"],
                   numerator=["V"], censor="C", truncate=(0.01, 0.99))
    np.testing.assert_allclose(w.weights, r_weights["sw_trunc"], rtol=RTOL)
    note = next(n for n in w.notes if "truncated" in n)
    assert f"{expected['truncation']['n_changed']:,} of" in note


def test_initiation_convention_matches_r(data, expected, r_weights):
    w = tv_weights(data, id="id", period="period", treatment="A", covariates=["L", "V"],
                   numerator=["V"], treatment_rows="untreated_before")
    np.testing.assert_allclose(w.treatment_weights, r_weights["swa_init"], rtol=RTOL)
    ref = expected["models"]["treatment_denominator_init"]
    np.testing.assert_allclose(w.models["treatment_denominator"].params, list(ref.values()),
                               rtol=RTOL, atol=1e-9)
    assert w.models["treatment_denominator"].n == int((data.groupby("id")["A"].shift(
        fill_value=0) == 0).sum())
    assert any("initiation" in n for n in w.notes)


def test_censor_after_outcome_lags_the_factor(data):
    a = tv_weights(data, id="id", period="period", treatment="A", covariates=["L", "V"],
                   censor="C")
    b = tv_weights(data, id="id", period="period", treatment="A", covariates=["L", "V"],
                   censor="C", censor_timing="after_outcome")
    first = data["period"].to_numpy() == 0
    np.testing.assert_allclose(b.censoring_weights[first], 1.0)
    # period k's weight in "after_outcome" is period k-1's weight in "before_outcome"
    unc = data["C"].to_numpy() == 0
    prev_ok = np.flatnonzero(~first)[unc[np.flatnonzero(~first) - 1]]
    np.testing.assert_allclose(b.censoring_weights[prev_ok], a.censoring_weights[prev_ok - 1])
    assert (b.weights > 0).all()


def test_cumprod_and_positions_reference():
    codes = np.array([3, 3, 3, 1, 1, 7])
    pos = positions(codes)
    f = np.array([2.0, 0.5, 3.0, 1.5, 2.0, 4.0])
    expected = pd.Series(f).groupby(codes).cumprod().to_numpy()
    np.testing.assert_allclose(cumprod_within(f, pos), expected)


def test_errors_name_the_problem(data):
    shuffled = data.sample(frac=1.0, random_state=0)
    with pytest.raises(CohortError, match="contiguous"):
        tv_weights(shuffled, id="id", period="period", treatment="A", covariates=["L"])
    gap = data[~((data["id"] == 1) & (data["period"] == 2))]
    with pytest.raises(CohortError, match="increase by 1"):
        tv_weights(gap, id="id", period="period", treatment="A", covariates=["L"])
    na = data.assign(L=data["L"].where(data.index != 5))
    with pytest.raises(MissingDataError, match="'L'"):
        tv_weights(na, id="id", period="period", treatment="A", covariates=["L"])
    with pytest.raises(CohortError, match="truncate"):
        tv_weights(data, id="id", period="period", treatment="A", covariates=["L"],
                   truncate=(99, 1))
    with pytest.raises(CohortError, match="treatment_rows"):
        tv_weights(data, id="id", period="period", treatment="A", covariates=["L"],
                   treatment_rows="new")  # type: ignore[arg-type]


def test_input_not_mutated(data):
    before = pd.util.hash_pandas_object(data).sum()
    tv_weights(data, id="id", period="period", treatment="A", covariates="L + V", censor="C")
    assert pd.util.hash_pandas_object(data).sum() == before
