"""Tests of ``ModelResult`` (results/model.py).

External reference: a logistic regression fitted with statsmodels ``Logit``; its ``params``,
``bse``, ``conf_int()``, ``tvalues`` (z) and ``pvalues`` are the expected values. Other numbers
are derived by hand (normal quantiles from scipy).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from cohortlab.results._schema import ESTIMATE_COLUMNS, check_schema
from cohortlab.results.estimate import EstimateTable
from cohortlab.results.model import ModelResult

RTOL_SM = 1e-9  # same Wald formula as statsmodels on the same params / cov_params
Z95 = stats.norm.ppf(0.975)


@pytest.fixture
def cox_like() -> ModelResult:
    return ModelResult(
        terms=("age", "treated"), params=np.array([0.02, -0.4]), vcov=np.diag([0.0001, 0.04]),
        effect_measure="hazard_ratio", method="cox", n=200, n_events=80,
        fit_stats={"loglik": -350.25, "aic": 704.5, "concordance": 0.64},
    )


@pytest.fixture(scope="module")
def logit():
    rng = np.random.default_rng(20240601)
    n = 400
    x = pd.DataFrame({"age": rng.normal(60, 10, n), "treated": rng.integers(0, 2, n)})
    lp = -3 + 0.04 * x["age"] - 0.5 * x["treated"]
    y = rng.binomial(1, 1 / (1 + np.exp(-lp)))
    exog = sm.add_constant(x)
    fit = sm.Logit(y, exog).fit(disp=0)
    res = ModelResult(
        terms=tuple(exog.columns), params=fit.params.to_numpy(), vcov=fit.cov_params().to_numpy(),
        effect_measure="odds_ratio", method="logistic", n=n, n_events=int(y.sum()),
        fit_stats={"loglik": float(fit.llf), "aic": float(fit.aic)},
    )
    return fit, res


def test_tidy_exponentiate_true_matches_statsmodels_logit(logit):
    """Reference: statsmodels Logit; broom convention: exp(estimate, CI), SE on the logit scale."""
    fit, res = logit
    t = res.tidy(exponentiate=True)
    check_schema(t)
    ci = fit.conf_int()
    assert t["term"].tolist() == ["const", "age", "treated"]
    np.testing.assert_allclose(t["estimate"], np.exp(fit.params), rtol=RTOL_SM)
    np.testing.assert_allclose(t["conf_low"], np.exp(ci[0]), rtol=RTOL_SM)
    np.testing.assert_allclose(t["conf_high"], np.exp(ci[1]), rtol=RTOL_SM)
    np.testing.assert_allclose(t["std_error"], fit.bse, rtol=RTOL_SM)
    np.testing.assert_allclose(t["statistic"], fit.tvalues, rtol=RTOL_SM)
    np.testing.assert_allclose(t["p_value"], fit.pvalues, rtol=1e-7)
    assert (t["effect_measure"] == "odds_ratio").all()


def test_tidy_exponentiate_false_matches_statsmodels_logit(logit):
    fit, res = logit
    t = res.tidy(exponentiate=False)
    ci = fit.conf_int()
    np.testing.assert_allclose(t["estimate"], fit.params, rtol=RTOL_SM)
    np.testing.assert_allclose(t["conf_low"], ci[0], rtol=RTOL_SM)
    np.testing.assert_allclose(t["conf_high"], ci[1], rtol=RTOL_SM)
    np.testing.assert_allclose(t["std_error"], fit.bse, rtol=RTOL_SM)
    assert (t["effect_measure"] == "coefficient").all()


def test_tidy_conf_level_matches_statsmodels_alpha(logit):
    fit, res = logit
    t = res.tidy(exponentiate=True, conf_level=0.90)
    ci = fit.conf_int(alpha=0.10)
    np.testing.assert_allclose(t["conf_low"], np.exp(ci[0]), rtol=RTOL_SM)
    np.testing.assert_allclose(t["conf_high"], np.exp(ci[1]), rtol=RTOL_SM)
    assert (t["conf_level"] == 0.90).all()


def test_conf_int_is_on_the_reported_scale_and_matches_statsmodels(logit):
    """Odds ratios: exp of statsmodels' (logit-scale) conf_int, as tidy() and Estimate."""
    fit, res = logit
    ci = res.conf_int()
    assert list(ci.columns) == ["conf_low", "conf_high"] and ci.index.name == "term"
    assert list(ci.index) == ["const", "age", "treated"]
    np.testing.assert_allclose(ci.to_numpy(), np.exp(fit.conf_int().to_numpy()), rtol=RTOL_SM)
    np.testing.assert_allclose(
        res.conf_int(0.99).to_numpy(), np.exp(fit.conf_int(alpha=0.01).to_numpy()),
        rtol=RTOL_SM,
    )
    t = res.tidy()
    np.testing.assert_allclose(ci["conf_low"], t["conf_low"], rtol=1e-14)


def test_tidy_default_exponentiates_ratio_models(cox_like):
    t = cox_like.tidy()
    pd.testing.assert_frame_equal(t, cox_like.tidy(exponentiate=True))
    assert t.loc[1, "estimate"] == pytest.approx(math.exp(-0.4))
    assert t.loc[1, "conf_low"] == pytest.approx(math.exp(-0.4 - Z95 * 0.2))
    assert t.loc[1, "std_error"] == pytest.approx(0.2)  # model scale
    assert t.loc[1, "p_value"] == pytest.approx(2 * stats.norm.sf(2.0))
    assert (t["n"] == 200).all() and (t["n_events"] == 80).all()
    assert str(t["n"].dtype) == "Int64"
    pd.testing.assert_frame_equal(cox_like.to_frame(), t)


def test_tidy_exponentiate_false_for_ratio_model(cox_like):
    t = cox_like.tidy(exponentiate=False)
    assert t["estimate"].tolist() == pytest.approx([0.02, -0.4])
    assert t.loc[1, "conf_high"] == pytest.approx(-0.4 + Z95 * 0.2)
    assert (t["effect_measure"] == "coefficient").all()


def test_coefficient_model_not_exponentiated_by_default():
    m = ModelResult(terms=("x",), params=np.array([0.5]), vcov=np.array([[0.04]]))
    t = m.tidy()
    assert t.loc[0, "estimate"] == 0.5
    assert t.loc[0, "conf_low"] == pytest.approx(0.5 - Z95 * 0.2)
    te = m.tidy(exponentiate=True)
    assert te.loc[0, "estimate"] == pytest.approx(math.exp(0.5))
    assert te.loc[0, "std_error"] == pytest.approx(0.2)
    assert te.loc[0, "effect_measure"] == "ratio"


def test_tidy_with_huge_se_gives_infinite_upper_limit():
    """A separated covariate (coef 20, SE 3000); broom/R report conf.high = Inf, conf.low = 0."""
    m = ModelResult(terms=("sep",), params=np.array([20.0]), vcov=np.array([[3000.0**2]]),
                    effect_measure="hazard_ratio")
    t = m.tidy()
    assert t.loc[0, "conf_high"] == math.inf
    assert t.loc[0, "conf_low"] == 0.0
    assert "sep" in m.summary()


@pytest.mark.parametrize(
    ("params", "vcov"),
    [
        (np.array([0.1, 0.2, 0.3]), np.eye(2)),
        (np.array([0.1, 0.2]), np.eye(3)),
        (np.array([0.1, 0.2]), np.ones(2)),
    ],
)
def test_shape_validation(params, vcov):
    with pytest.raises(ValueError, match=r"^ModelResult\(\): 2 terms need params of shape \(2,\)"):
        ModelResult(terms=("a", "b"), params=params, vcov=vcov)


def test_inputs_are_copied_to_arrays():
    m = ModelResult(terms=["a", "b"], params=[0.1, 0.2], vcov=[[1.0, 0.0], [0.0, 4.0]])
    assert m.terms == ("a", "b")
    assert isinstance(m.params, np.ndarray) and m.params.dtype == float
    np.testing.assert_allclose(m.std_errors, [1.0, 2.0])


def test_glance(cox_like):
    g = cox_like.glance()
    assert g.shape[0] == 1
    row = g.iloc[0]
    assert row["method"] == "cox" and row["n"] == 200 and row["n_events"] == 80
    assert row["loglik"] == -350.25 and row["aic"] == 704.5 and row["concordance"] == 0.64


def test_coef_table_is_estimate_table(cox_like):
    tab = cox_like.coef_table()
    assert isinstance(tab, EstimateTable)
    assert tab["treated"].estimate == pytest.approx(math.exp(-0.4))
    assert tab["treated"].null_value == 1.0
    f = tab.to_frame()
    assert list(f.columns) == list(ESTIMATE_COLUMNS)


def test_model_result_is_frozen(cox_like):
    with pytest.raises(dataclasses.FrozenInstanceError):
        cox_like.params = np.zeros(2)  # type: ignore[misc]
