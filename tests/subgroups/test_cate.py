"""``cate`` (EconML LinearDRLearner / CausalForestDML) against simulated truth.

No R reference: EconML is the implementation; these tests check that the average CATE by
group recovers a known effect (1 in one group, 3 in the other) and covers it, and the input
validation. The EconML tests run where econml is installed (``pytest.importorskip``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohortlab.exceptions import DataValidationError, MissingDataError
from cohortlab.results.estimate import EstimateTable
from cohortlab.subgroups.cate import cate


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 3000
    male = rng.integers(0, 2, n)
    age = rng.normal(size=n)
    a = rng.binomial(1, 1 / (1 + np.exp(-(0.8 * age - 0.3 * male))))
    y = 1.0 + age + 0.5 * male + (1.0 + 2.0 * male) * a + rng.normal(size=n)
    return pd.DataFrame({"a": a, "y": y, "age": age, "male": male,
                         "site": np.where(rng.random(n) < 0.5, "north", "south")})


def _models():
    from sklearn.linear_model import LinearRegression, LogisticRegression

    return dict(outcome_model=LinearRegression(), propensity_model=LogisticRegression())


def test_cate_dr_simulated_truth(cohort):
    pytest.importorskip("econml")
    res = cate(cohort, exposure="a", outcome="y", covariates=["age", "male"],
               effect_modifiers=["male"], by="male", cv=3, random_state=1, **_models())
    assert isinstance(res, EstimateTable)
    assert [r.term for r in res] == ["overall", "male=0", "male=1"] or \
        [r.term for r in res] == ["overall", "male=1", "male=0"]
    truth = {"male=0": 1.0, "male=1": 3.0,
             "overall": 1.0 + 2.0 * cohort.male.mean()}
    for r in res:
        assert abs(r.estimate - truth[r.term]) < 3 * r.std_error
        assert r.conf_low < truth[r.term] < r.conf_high
        assert r.estimand == "CATE" and r.method == "econml_linear_dr"
    assert res["male=1"].n + res["male=0"].n == res["overall"].n == len(cohort)
    frame = res.to_frame()
    assert {"subgroup", "level"} <= set(frame.columns)
    narrow = cate(cohort, exposure="a", outcome="y", covariates=["age", "male"],
                  effect_modifiers=["male"], cv=3, random_state=1, conf_level=0.8, **_models())
    assert (narrow[0].conf_high - narrow[0].conf_low) < (res[0].conf_high - res[0].conf_low)


def test_cate_forest_simulated_truth(cohort):
    pytest.importorskip("econml")
    res = cate(cohort, exposure="a", outcome="y", covariates="age + male",
               effect_modifiers=["male", "age"], learner="forest", by="male", cv=3,
               n_estimators=200, random_state=np.random.default_rng(3), **_models())
    assert res[0].method == "econml_causal_forest"
    for r in res:
        truth = {"male=0": 1.0, "male=1": 3.0}.get(r.term, 1.0 + 2.0 * cohort.male.mean())
        assert abs(r.estimate - truth) < max(4 * r.std_error, 0.25)


def test_cate_same_seed_same_numbers_and_missing_drop(cohort):
    pytest.importorskip("econml")
    d = cohort.assign(age=cohort.age.where(cohort.index % 100 != 0))
    kw = dict(exposure="a", outcome="y", covariates=["age"], effect_modifiers=["male"], cv=3,
              random_state=5, missing="drop", **_models())
    one, two = cate(d, **kw), cate(d, **kw)
    np.testing.assert_array_equal(one.to_frame().estimate, two.to_frame().estimate)
    assert one.dropped.n_rows == 30 and one[0].n == len(d) - 30


def test_cate_without_econml_names_the_extra(cohort):
    try:
        import econml  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"cohortlab\[causal-ml\]"):
            cate(cohort, exposure="a", outcome="y", covariates=["age"],
                 effect_modifiers=["male"])
    else:
        pytest.skip("econml is installed")


def test_cate_bad_input(cohort):
    kw = dict(exposure="a", outcome="y", covariates=["age"])
    with pytest.raises(DataValidationError, match="effect_modifiers is empty"):
        cate(cohort, effect_modifiers=[], **kw)
    with pytest.raises(DataValidationError, match=r"column 'mal' not found \(effect_modifiers\)"):
        cate(cohort, effect_modifiers=["mal"], **kw)
    with pytest.raises(DataValidationError, match="learner must be one of"):
        cate(cohort, effect_modifiers=["male"], learner="x", **kw)
    with pytest.raises(DataValidationError, match="cv must be an int >= 2"):
        cate(cohort, effect_modifiers=["male"], cv=1, **kw)
    with pytest.raises(DataValidationError, match="must be binary"):
        cate(cohort, exposure="age", outcome="y", covariates=["male"],
             effect_modifiers=["male"])
    with pytest.raises(MissingDataError, match=r"1 of 3,000 rows"):
        cate(cohort.assign(y=cohort.y.where(cohort.index != 5)), effect_modifiers=["male"],
             **kw)
    with pytest.raises(DataValidationError, match="random_state must be"):
        cate(cohort, effect_modifiers=["male"], random_state=-1, **kw)
    with pytest.raises(DataValidationError, match=r"column 'sitee' not found \(by\)"):
        cate(cohort, effect_modifiers=["male"], by="sitee", **kw)
