"""Refutation tests (``refute``), native versions of DoWhy 0.14's refuters.

No external reference numbers: DoWhy draws from numpy's legacy RandomState, so its simulated
estimates cannot be reproduced draw for draw. The p-value formula is checked by hand against
DoWhy's ``perform_bootstrap_test`` / ``perform_normal_distribution_test`` definitions, the
behaviour against simulated truth (placebo estimates centre on the null, an estimator that
ignores the exposure is flagged), and the DoWhy-adapter tests at the end (run where dowhy is installed) run
DoWhy's own refuters on the same data for a distributional comparison.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config

from cohortlab.causal.crude import crude_effect
from cohortlab.causal.ipw import ipw
from cohortlab.exceptions import CohortError, CohortWarning, DataValidationError
from cohortlab.results.estimate import Estimate, EstimateTable
from cohortlab.sensitivity._refute import dowhy_p_value
from cohortlab.sensitivity.refute import refute

TESTS = ("placebo_exposure", "random_common_cause", "data_subset")


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 600
    age = rng.normal(0, 1, n)
    sex = rng.integers(0, 2, n)
    a = rng.binomial(1, 1 / (1 + np.exp(-(0.5 * age - 0.3 * sex))))
    y = 1.0 + 2.0 * a + 1.0 * age + 0.5 * sex + rng.normal(0, 1, n)
    return pd.DataFrame({"a": a, "y": y, "age": age, "sex": sex,
                         "death": rng.binomial(1, 0.15 + 0.15 * a)})


def diff_means(data: pd.DataFrame, *, exposure: str, outcome: str,
               covariates: list[str] | None = None) -> Estimate:
    """A cheap estimator: regression of the outcome on exposure and covariates (OLS)."""
    X = np.column_stack([np.ones(len(data)), data[exposure].to_numpy(float),
                         *(data[c].to_numpy(float) for c in covariates or [])])
    beta, *_ = np.linalg.lstsq(X, data[outcome].to_numpy(float), rcond=None)
    return Estimate.from_model_scale(exposure, float(beta[1]), 0.1, method="ols",
                                     n=len(data))


# ---------------------------------------------------------------------- DoWhy's p-value
def test_dowhy_bootstrap_p_value_by_hand():
    """DoWhy perform_bootstrap_test: 2 min(q, 1 - q), q = mean(x > v) + 0.5 mean(x == v)."""
    sims = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.6, 0.7, 0.8, 0.9])
    assert dowhy_p_value(0.5, sims, "bootstrap") == pytest.approx(1.0)
    assert dowhy_p_value(0.85, sims, "bootstrap") == pytest.approx(0.2)
    assert dowhy_p_value(2.0, sims, "bootstrap") == 0.0


def test_dowhy_normal_p_value_by_hand():
    """DoWhy perform_normal_distribution_test: one tail of z with np.std (ddof=0)."""
    sims = np.array([1.0, 2.0, 3.0, 4.0])
    z = (4.5 - 2.5) / np.std(sims)
    assert dowhy_p_value(4.5, sims, "normal") == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))
    assert dowhy_p_value(0.5, sims, "normal") == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))
    assert dowhy_p_value(2.0, np.full(5, 2.0), "normal") == 0.5


# ---------------------------------------------------------------------- behaviour
def test_refute_ols_simulated_truth(cohort):
    """True effect 2: placebo estimates centre on 0, the other tests on the original."""
    res = refute(diff_means, cohort, exposure="a", outcome="y", covariates=["age", "sex"],
                 n_sims=100, random_state=11)
    assert isinstance(res, EstimateTable) and [r.term for r in res] == list(TESTS)
    orig = res[0].labels["original"]
    assert orig == pytest.approx(2.0, abs=0.2)
    placebo, rcc, subset = res
    assert placebo.estimate == pytest.approx(0.0, abs=3 * placebo.std_error / 10)
    assert placebo.extra["tested_value"] == 0.0
    assert not placebo.labels["refuted"] and placebo.p_value > 0.05
    assert rcc.estimate == pytest.approx(orig, abs=0.02) and not rcc.labels["refuted"]
    assert subset.estimate == pytest.approx(orig, abs=0.05) and not subset.labels["refuted"]
    # 100 successful simulations: DoWhy's "auto" uses the bootstrap (percentile) test
    assert "bootstrap test" in placebo.notes[0]
    assert placebo.p_value == dowhy_p_value(0.0, placebo.replicates, "bootstrap")
    assert placebo.conf_low < 0 < placebo.conf_high
    assert placebo.ci_method == "refutation_simulations"
    assert placebo.labels["expected"] == "null" and subset.labels["expected"] == "unchanged"
    assert res.to_frame()["n_sims"].tolist() == [100, 100, 100]


def test_placebo_flags_an_estimator_that_ignores_the_exposure(cohort):
    """A buggy estimator (the effect of sex, whatever the exposure) keeps its value under a
    placebo exposure: the null is far outside the placebo distribution."""

    def buggy(data, *, exposure, outcome):
        return diff_means(data, exposure="sex", outcome=outcome)

    res = refute(buggy, cohort, exposure="a", outcome="y", tests="placebo_exposure",
                 n_sims=20, random_state=1)
    assert res[0].labels["refuted"] and res[0].p_value < 1e-6
    assert "normal test" in res[0].notes[0]


def test_refute_ipw_ratio_on_log_scale(cohort):
    res = refute(crude_effect, cohort, exposure="a", outcome="death", effect_measure="ratio",
                 tests=["placebo_exposure", "data_subset"], n_sims=15, random_state=3)
    placebo, subset = res
    assert placebo.is_ratio and placebo.extra["tested_value"] == 1.0
    assert placebo.estimate == pytest.approx(1.0, abs=0.15)
    assert placebo.std_error == pytest.approx(np.std(placebo.replicates, ddof=1))
    assert math.log(placebo.estimate) == pytest.approx(placebo.replicates.mean(), abs=1e-12)
    assert subset.labels["original"] == pytest.approx(subset.extra["original"])


def test_refute_ipw_random_common_cause_formula(cohort):
    res = refute(ipw, cohort, exposure="a", outcome="y", covariates="age + sex",
                 tests=["random_common_cause"], n_sims=4, random_state=5)
    assert res[0].estimate == pytest.approx(res[0].labels["original"], abs=0.05)
    assert res[0].method == "refute_random_common_cause" and res[0].estimand == "ATE"


def test_same_seed_same_numbers_whatever_n_jobs_or_tests(cohort):
    kw = dict(exposure="a", outcome="y", covariates=["age", "sex"], n_sims=12, random_state=9)
    one = refute(diff_means, cohort, **kw)
    with parallel_config(backend="threading"):
        two = refute(diff_means, cohort, n_jobs=2, **kw)
    only = refute(diff_means, cohort, tests=["data_subset"], **kw)
    for r1, r2 in zip(one, two, strict=True):
        np.testing.assert_array_equal(r1.replicates, r2.replicates)
    np.testing.assert_array_equal(one["data_subset"].replicates, only[0].replicates)
    gen = refute(diff_means, cohort, **{**kw, "random_state": np.random.default_rng(9)})
    assert len(gen) == 3
    assert cohort.columns.tolist() == ["a", "y", "age", "sex", "death"]  # input untouched


def test_failed_and_warning_simulations_are_counted(cohort):
    calls = {"n": 0}

    def flaky(data, *, exposure, outcome):
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            raise DataValidationError("flaky(): made to fail")
        if calls["n"] % 4 == 0:
            import warnings
            warnings.warn("fragile", CohortWarning, stacklevel=2)
        return diff_means(data, exposure=exposure, outcome=outcome)

    res = refute(flaky, cohort, exposure="a", outcome="y", tests="data_subset", n_sims=9,
                 random_state=2)
    row = res[0]
    assert row.labels["n_sims"] == 6 and row.extra["n_failed"] == 3
    assert any("3 simulations failed" in n and "made to fail" in n for n in row.notes)
    assert any("emitted warnings" in n and "CohortWarning: fragile" in n for n in row.notes)

    def always_fails(data, *, exposure, outcome):
        if len(data) < len(cohort):
            raise DataValidationError("nope")
        return diff_means(data, exposure=exposure, outcome=outcome)

    with pytest.raises(CohortError, match=r"data_subset test failed in 5 of 5.*nope"):
        refute(always_fails, cohort, exposure="a", outcome="y", tests="data_subset",
               n_sims=5, random_state=2)


def test_random_column_name_does_not_clash(cohort):
    d = cohort.assign(w_random=1.0)
    res = refute(diff_means, d, exposure="a", outcome="y", covariates=["age", "w_random"],
                 tests="random_common_cause", n_sims=3, random_state=1)
    assert res[0].labels["n_sims"] == 3


# ---------------------------------------------------------------------- bad input
def test_bad_input_raises(cohort):
    kw = dict(exposure="a", outcome="y")
    with pytest.raises(DataValidationError, match="estimator must be a cohortlab verb"):
        refute(diff_means(cohort, **kw), cohort, **kw)
    with pytest.raises(DataValidationError, match="tests must be one of"):
        refute(diff_means, cohort, tests=["placebo"], **kw)
    with pytest.raises(DataValidationError, match="tests has duplicates"):
        refute(diff_means, cohort, tests=["data_subset", "data_subset"], **kw)
    with pytest.raises(DataValidationError, match="tests is empty"):
        refute(diff_means, cohort, tests=[], **kw)
    with pytest.raises(DataValidationError, match="n_sims must be an int >= 2; got 1"):
        refute(diff_means, cohort, n_sims=1, tests="data_subset", **kw)
    with pytest.raises(DataValidationError, match="subset_fraction must be in"):
        refute(diff_means, cohort, subset_fraction=1.2, tests="data_subset", **kw)
    with pytest.raises(DataValidationError, match="no covariates were given"):
        refute(diff_means, cohort, **kw)
    with pytest.raises(DataValidationError, match=r"column 'aa' not found \(exposure\)"):
        refute(diff_means, cohort, exposure="aa", outcome="y", tests="data_subset")
    with pytest.raises(DataValidationError, match="significance_test must be one of"):
        refute(diff_means, cohort, tests="data_subset", significance_test="t", **kw)
    with pytest.raises(DataValidationError, match="must return an Estimate"):
        refute(lambda d, **k: 1.0, cohort, tests="data_subset", **kw)
    with pytest.raises(DataValidationError, match="data must be a pandas DataFrame"):
        refute(diff_means, cohort.to_dict(), tests="data_subset", **kw)


# ---------------------------------------------------------------------- DoWhy adapter
def test_import_cohortlab_does_not_import_dowhy():
    import subprocess
    import sys

    code = ("import sys, cohortlab, cohortlab.adapters, cohortlab.sensitivity.refute; "
            "assert 'dowhy' not in sys.modules and 'econml' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_to_dowhy_without_dowhy_names_the_extra(cohort):
    try:
        import dowhy  # noqa: F401
    except ImportError:
        from cohortlab.adapters.dowhy import to_dowhy

        with pytest.raises(ImportError, match=r"cohortlab\[causal-ml\]"):
            to_dowhy(cohort, exposure="a", outcome="y", covariates=["age"])
    else:
        pytest.skip("dowhy is installed")


def test_refute_with_dowhy_matches_native_ols(cohort):
    """DoWhy's backdoor.linear_regression is OLS: the same original estimate as diff_means;
    DoWhy's refuters and ours agree in distribution (placebo ~0, others ~original)."""
    pytest.importorskip("dowhy")
    from cohortlab.adapters.dowhy import refute_with_dowhy, to_dowhy

    model = to_dowhy(cohort, exposure="a", outcome="y", covariates="age + sex")
    assert model._data["a"].dtype == bool
    kw = dict(exposure="a", outcome="y", covariates=["age", "sex"], n_sims=8, random_state=4)
    dw = refute_with_dowhy(cohort, method="backdoor.linear_regression", **kw)
    native = refute(diff_means, cohort, **kw)
    orig = native[0].labels["original"]
    assert dw[0].labels["original"] == pytest.approx(orig, abs=1e-8)
    assert [r.term for r in dw] == list(TESTS)
    assert dw["placebo_exposure"].estimate == pytest.approx(0.0, abs=0.3)
    assert dw["random_common_cause"].estimate == pytest.approx(orig, abs=0.02)
    assert dw["data_subset"].estimate == pytest.approx(orig, abs=0.1)
    for r in dw:
        assert 0.0 <= r.p_value <= 1.0 and r.method.startswith("dowhy_")
    again = refute_with_dowhy(cohort, method="backdoor.linear_regression", **kw)
    np.testing.assert_array_equal(again.to_frame().estimate, dw.to_frame().estimate)


def test_refute_with_dowhy_bad_input(cohort):
    pytest.importorskip("dowhy")
    from cohortlab.adapters.dowhy import refute_with_dowhy

    with pytest.raises(DataValidationError, match="tests must be one of"):
        refute_with_dowhy(cohort, exposure="a", outcome="y", covariates=["age"], tests="x")
    with pytest.raises(DataValidationError, match="must be binary"):
        refute_with_dowhy(cohort, exposure="age", outcome="y", covariates=["sex"])
    with pytest.raises(DataValidationError, match=r"column 'agee' not found"):
        refute_with_dowhy(cohort, exposure="a", outcome="y", covariates=["agee"])
