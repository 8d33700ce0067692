"""strategy_curves() (IP-weighted KM / Aalen-Johansen under always / never) and the risk curves
of msm(model="cox", cox_risks=True), against R and the truth of simulate_longitudinal().

Reference: tests/reference/msm/curves_reference.R on tests/reference/msm/data.csv and
data_competing.csv: ``survfit(Surv(period, period + 1, Y) ~ 1, weights = sw)`` on the
person-periods following each strategy (artificially censored at the first deviation), the
Aalen-Johansen CIF from survfit's weighted counts, and ``survfit(coxph(...), newdata)`` (with
``id =`` for the time-varying ``cum_A``) averaged over persons.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.exceptions import CohortError
from cohortlab.longitudinal._strategy_curves import adherent_rows, weighted_strategy_risk
from cohortlab.survival._counts import risk_counts
from cohortlab.survival._km import product_limit

REF = Path(__file__).parent / "reference" / "msm"
TOL = 1e-10  # observed ~1e-15 on both data sets
KW = dict(id="id", period="period", treatment="A", outcome="Y", covariates="L + V",
          censor="C")


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((REF / "expected_curves.json").read_text())


def _by_group(curve: cl.Curve, name: str) -> np.ndarray:
    f = curve.to_frame()
    return f.loc[f["group"] == name, "estimate"].to_numpy()


def test_weighted_km_matches_r_survfit(expected):
    d = pd.read_csv(REF / "data.csv").drop(columns="cum_A")
    res = cl.strategy_curves(d, **KW, n_boot=5, random_state=1, horizons=[3, 7])
    for s in ("always", "never"):
        np.testing.assert_allclose(_by_group(res.risks, s), expected["km"][s], atol=TOL)
    tab = res.contrasts.to_frame()
    assert tab["term"].tolist() == ["always", "never", "risk difference", "risk ratio"] * 2
    rd = tab[(tab["term"] == "risk difference")]["estimate"].to_numpy()
    np.testing.assert_allclose(rd, [expected["km"]["always"][j] - expected["km"]["never"][j]
                                    for j in (3, 7)], atol=TOL)
    assert res.risks.method == "ipw_kaplan_meier" and res.table is res.contrasts
    assert "weighted Kaplan-Meier" in str(res)


def test_weighted_aalen_johansen_matches_r(expected):
    d = pd.read_csv(REF / "data_competing.csv").drop(columns="cum_A")
    res = cl.strategy_curves(d, **KW, competing="D", n_boot=5, random_state=1)
    for s in ("always", "never"):
        np.testing.assert_allclose(_by_group(res.risks, s), expected["aj"][s], atol=TOL)
    assert res.risks.method == "ipw_aalen_johansen"
    by = res.by_period
    assert set(by["strategy"]) == {"always", "never"} and (by["n_competing"] >= 0).all()


@pytest.mark.parametrize("key,terms", [("cox", "A + V"), ("cox_cum", "A + cum_A + V")])
def test_cox_msm_risks_match_r_survfit_newdata(expected, key, terms):
    d = pd.read_csv(REF / "data.csv").drop(columns="cum_A")
    res = cl.msm(d, **KW, baseline="V", msm_terms=terms, model="cox", cox_risks=True,
                 n_boot=5, random_state=1)
    np.testing.assert_allclose(res.model.params, expected[key]["coef"], rtol=1e-6)
    for s in ("always", "never"):
        np.testing.assert_allclose(_by_group(res.risks, s), expected[key][s], atol=1e-8)
    assert res.risks.method == "msm_cox" and res.contrasts is not None
    assert res.contrasts.to_frame()["ci_method"].eq("bootstrap_percentile").all()


def test_cox_risks_needs_cox_bootstrap_and_no_competing():
    d = pd.read_csv(REF / "data.csv").drop(columns="cum_A")
    with pytest.raises(CohortError, match="cox_risks=True needs"):
        cl.msm(d, **KW, baseline="V", cox_risks=True)
    with pytest.raises(CohortError, match="cox_risks=True needs"):
        cl.msm(d, **KW, baseline="V", model="cox", cox_risks=True, variance="robust")


def test_kernel_uses_interval_rows_with_delayed_entry():
    """(k, k + 1] rows with per-row weights: the survival kernels give the per-period hazard."""
    rng = np.random.default_rng(4)
    k = rng.integers(0, 5, 300)
    w = rng.uniform(0.2, 3.0, 300)
    ev = rng.binomial(1, 0.2, 300)
    risk, n_risk = weighted_strategy_risk(k, w, ev, 5)
    y = np.bincount(k, weights=w, minlength=5)
    d = np.bincount(k, weights=w * ev, minlength=5)
    np.testing.assert_allclose(risk[:, 0], 1 - np.cumprod(1 - d / y), rtol=1e-13)
    np.testing.assert_allclose(n_risk, y, rtol=1e-13)
    rc = risk_counts(k + 1.0, ev, weights=w, entry=k.astype(float))
    np.testing.assert_allclose(1 - product_limit(rc.n_risk, rc.n_event[:, 0]), risk[:, 0])
    # a period nobody is at risk in: NaN from there
    risk2, _ = weighted_strategy_risk(np.array([0, 2]), np.ones(2), np.array([0, 0]), 3)
    assert not np.isnan(risk2[0, 0]) and np.isnan(risk2[1:, 0]).all()


def test_adherence_is_artificial_censoring_at_first_deviation():
    a = np.array([1, 1, 0, 1, 0, 0, 1, 1], dtype=float)
    pos = np.array([0, 1, 2, 3, 0, 1, 2, 0])
    assert adherent_rows(a, pos, 1.0).tolist() == [1, 1, 0, 0, 0, 0, 0, 1]
    assert adherent_rows(a, pos, 0.0).tolist() == [0, 0, 0, 0, 1, 1, 0, 0]


def test_no_one_following_a_strategy_is_an_error():
    d = cl.simulate_longitudinal(400, 3, random_state=1, n_truth=2_000)
    # everyone treated in periods 0 and 1 is lost to follow-up in period 1
    both = (d.groupby("id")["A"].cumsum() == 2) & (d["period"] == 1)
    d.loc[both, ["C", "D", "Y"]] = [1, np.nan, np.nan]
    gone = d.groupby("id")["C"].cumsum().groupby(d["id"]).shift(fill_value=0) > 0
    d = d[~gone].reset_index(drop=True)
    with pytest.raises(CohortError, match="follows the strategy 'always'.*at period 1"):
        cl.strategy_curves(d, **KW, competing="D", n_boot=2)


def test_risks_near_the_truth_of_simulate_longitudinal():
    """One data set, n = 10,000 x 6 periods. Over 30 data sets of n = 20,000 the SDs at period 5
    were 0.007 (always) and 0.012 (never), the mean biases -0.0006 (MC SE 0.0013) and -0.0030
    (0.0022); the tolerance is 4 SDs scaled to n = 10,000."""
    df = cl.simulate_longitudinal(n=10_000, n_periods=6, random_state=11, n_truth=200_000)
    truth = df.attrs["truth"]
    t = truth[truth["period"] == 5].set_index("strategy")["risk"]
    res = cl.strategy_curves(df, **KW, competing="D", n_boot=2, random_state=1)
    est = res.contrasts.to_frame().set_index("term")["estimate"]
    assert abs(est["always"] - t["always"]) < 4 * 0.007 * np.sqrt(2)
    assert abs(est["never"] - t["never"]) < 4 * 0.012 * np.sqrt(2)


@pytest.mark.slow
def test_unbiased_over_replicates():
    """30 data sets (n = 20,000, 6 periods): the mean risks within 3 MC SEs of the truth."""
    est = []
    for seed in range(30):
        df = cl.simulate_longitudinal(n=20_000, n_periods=6, random_state=seed + 100, n_truth=200_000)
        res = cl.strategy_curves(df, **KW, competing="D", n_boot=2, random_state=1)
        e = res.contrasts.to_frame().set_index("term")["estimate"]
        est.append([e["always"], e["never"]])
    truth = df.attrs["truth"]
    t = truth[truth["period"] == 5].set_index("strategy")["risk"]
    r = np.array(est)
    se = r.std(axis=0, ddof=1) / np.sqrt(len(r))
    assert np.all(np.abs(r.mean(axis=0) - [t["always"], t["never"]]) < 3 * se + 0.002)


def _coverage(n_reps: int, n: int, n_boot: int) -> np.ndarray:
    hits = []
    for r in range(n_reps):
        df = cl.simulate_longitudinal(n=n, n_periods=6, random_state=1000 + r, n_truth=200_000)
        t = df.attrs["truth"]
        t = t[t["period"] == 5].set_index("strategy")["risk"]
        res = cl.strategy_curves(df, **KW, competing="D", n_boot=n_boot, random_state=r)
        f = res.contrasts.to_frame().set_index("term")
        hits.append([f.loc[term, "conf_low"] <= v <= f.loc[term, "conf_high"]
                     for term, v in (("always", t["always"]), ("never", t["never"]),
                                     ("risk difference", t["always"] - t["never"]))])
    return np.asarray(hits, dtype=float)


def test_bootstrap_intervals_cover_the_truth_reduced():
    """Reduced version of the coverage study below (4 data sets): at least 3 of 4 cover."""
    hits = _coverage(4, 800, 30)
    assert (hits.sum(axis=0) >= 3).all()


@pytest.mark.slow
def test_bootstrap_coverage():
    """60 data sets of n = 1,500 x 6, 100 replicates each. Observed: always 0.967, never
    0.967, risk difference 0.917 (MC SE of a 95% coverage over 60 sets: 0.028)."""
    cover = _coverage(60, 1_500, 100).mean(axis=0)
    assert np.all(np.abs(cover - 0.95) < 3 * np.sqrt(0.95 * 0.05 / 60))
