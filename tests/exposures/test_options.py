"""The dispatching options of the estimators (cohortlab._options)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import cohortlab as cl
from cohortlab.exceptions import DataValidationError


@pytest.fixture(scope="module")
def cohort():
    d = cl.simulate_cohort(1500, random_state=5)
    d["pred"] = 1 / (1 + np.exp(2.5 - 0.8 * d["af_flag"] - 0.03 * (d["age"] - 60)))
    d["label"] = d["mace_1y"].where(np.arange(len(d)) % 3 == 0)
    return d


def test_outcome_validation_on_ipw_equals_ppi_effect(cohort):
    via_option = cl.ipw(cohort, exposure="treated", outcome="pred", outcome_validation="label",
                        covariates=["age", "female"])
    direct = cl.ppi_effect("ipw", cohort, exposure="treated", outcome="pred",
                           outcome_validation="label", covariates=["age", "female"])
    assert [r.term for r in via_option] == ["naive", "labelled_only", "ppi"]
    assert via_option.to_frame()["estimate"].to_numpy() == pytest.approx(
        direct.to_frame()["estimate"].to_numpy(), abs=1e-14)


def test_outcome_validation_is_only_offered_where_it_applies(cohort):
    assert "outcome_validation" in inspect.signature(cl.aipw).parameters
    assert "outcome_validation" not in inspect.signature(cl.cox).parameters
    with pytest.raises(DataValidationError, match="not available for cox.*ipw, aipw"):
        cl.cox(cohort, time="time", event="mace_1y", covariates=["treated"],
               outcome_validation="label")


def test_two_corrections_at_once_raise(cohort):
    with pytest.raises(DataValidationError, match="were both given"):
        cl.ipw(cohort, exposure="af_flag", outcome="pred", covariates=["age"],
               outcome_validation="label", exposure_validation="af_true")
