"""corrected_prevalence(): per-period Rogan-Gladen correction of a misclassified time-varying
flag, on simulated data where the true treatment is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.exceptions import CohortError

SE = 0.80
SP_BY_PERIOD = [0.97, 0.95, 0.93, 0.91, 0.90, 0.90]


@pytest.fixture(scope="module")
def flagged() -> pd.DataFrame:
    """The true treatment A, and a flag with Se 0.80 and a specificity falling by period,
    errors drawn independently in every person-period (non-differential)."""
    df = cl.simulate_longitudinal(n=20_000, n_periods=6, random_state=3, n_truth=2_000)
    rng = np.random.default_rng(9)
    sp = np.asarray(SP_BY_PERIOD)[df["period"].to_numpy()]
    u = rng.uniform(size=len(df))
    a = df["A"].to_numpy()
    df["flag"] = np.where(a == 1, u < SE, u > sp).astype(int)
    return df


def test_corrected_prevalence_recovers_the_true_per_period_prevalence(flagged):
    res = cl.corrected_prevalence(flagged, id="id", period="period", flag="flag",
                                  sensitivity=SE, specificity=SP_BY_PERIOD)
    by = res.by_period.set_index("period")
    true = flagged.groupby("period")["A"].mean()
    naive_err = np.abs(by["naive"] - true)
    corr_err = np.abs(by["corrected"] - true)
    assert (corr_err < naive_err).all()
    # the truth inside the 99.9% interval in every period (6 periods, binomial SE)
    assert (corr_err < 3.3 * by["std_error"]).all()
    covered = (by["conf_low"] <= true) & (true <= by["conf_high"])
    assert covered.sum() >= 5
    # predictive values: the share truly treated among flagged / untreated among unflagged
    ppv = flagged[flagged["flag"] == 1].groupby("period")["A"].mean()
    npv = 1 - flagged[flagged["flag"] == 0].groupby("period")["A"].mean()
    assert np.allclose(by["ppv"], ppv, atol=0.03) and np.allclose(by["npv"], npv, atol=0.01)
    assert res.table.to_frame()["effect_measure"].eq("prevalence").all()
    assert len(res.table) == 6 and "Rogan-Gladen" in str(res)


def test_hand_computation_and_time_varying_exposure_input():
    df = cl.simulate_longitudinal(n=500, n_periods=3, random_state=2, n_truth=2_000)
    tv = cl.time_varying_exposure(df, "score", id="id", period="period", threshold=0.5)
    res = cl.corrected_prevalence(df, id="id", period="period", flag=tv, sensitivity=0.9,
                                  specificity=[0.8, 0.85, 0.9])
    by = res.by_period
    p_star = tv.values.groupby(df["period"].to_numpy()).mean().to_numpy()
    sp = np.array([0.8, 0.85, 0.9])
    np.testing.assert_allclose(by["naive"], p_star, rtol=1e-14)
    np.testing.assert_allclose(by["corrected"], (p_star + sp - 1) / (0.9 + sp - 1), rtol=1e-14)
    n = df.groupby("period").size().to_numpy()
    np.testing.assert_allclose(by["std_error"],
                               np.sqrt(p_star * (1 - p_star) / n) / (0.9 + sp - 1), rtol=1e-12)


def test_out_of_range_is_noted_not_clipped(flagged):
    res = cl.corrected_prevalence(flagged, id="id", period="period", flag="flag",
                                  sensitivity=0.99, specificity=0.5)
    assert (res.by_period["corrected"] < 0).any() or (res.by_period["corrected"] > 1).any()
    assert any("outside [0, 1]" in n for n in res.notes)


@pytest.mark.parametrize("kw,msg", [
    (dict(sensitivity=0.5, specificity=0.5), "must exceed 1"),
    (dict(sensitivity=[0.9, 0.9], specificity=0.9), "one per period"),
    (dict(sensitivity=1.2, specificity=0.9), r"\(0, 1\]"),
])
def test_bad_rates_raise(flagged, kw, msg):
    with pytest.raises(CohortError, match=msg):
        cl.corrected_prevalence(flagged, id="id", period="period", flag="flag", **kw)
