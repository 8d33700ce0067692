"""crude_effect(): closed forms, statsmodels, and coverage on simulated randomised trials.

External references: statsmodels ``Table2x2`` (log RR and Woolf log OR SEs) and OLS/WLS with
HC0 sandwich covariance (the difference in (weighted) means and its robust SE), and OLS with
cluster-robust covariance. These are exactly the influence-function SEs crude_effect reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.contingency_tables import Table2x2

import cohortlab as cl
from cohortlab.exceptions import DataValidationError, MissingDataError
from cohortlab.results import check_schema

RTOL = 1e-10  # closed forms on both sides


@pytest.fixture(scope="module")
def nhefs() -> pd.DataFrame:
    return cl.datasets.load_nhefs()


def _table(d: pd.DataFrame, a: str, y: str) -> Table2x2:
    t = pd.crosstab(d[a], d[y]).loc[[1, 0], [1, 0]].to_numpy()
    return Table2x2(t)


def test_binary_outcome_matches_two_by_two_formulas(nhefs):
    tab = _table(nhefs, "qsmk", "death")
    rr = cl.crude_effect(nhefs, exposure="qsmk", outcome="death", effect_measure="ratio")
    orr = cl.crude_effect(nhefs, exposure="qsmk", outcome="death", effect_measure="odds_ratio")
    assert rr.estimate == pytest.approx(tab.riskratio, rel=RTOL)
    assert rr.std_error == pytest.approx(tab.log_riskratio_se, rel=RTOL)
    assert orr.estimate == pytest.approx(tab.oddsratio, rel=RTOL)
    assert orr.std_error == pytest.approx(tab.log_oddsratio_se, rel=RTOL)
    lo, hi = tab.oddsratio_confint()
    assert (orr.conf_low, orr.conf_high) == pytest.approx((lo, hi), rel=1e-8)
    rd = cl.crude_effect(nhefs, exposure="qsmk", outcome="death")
    p1, p0 = nhefs.loc[nhefs.qsmk == 1, "death"], nhefs.loc[nhefs.qsmk == 0, "death"]
    se = np.sqrt(p1.mean() * (1 - p1.mean()) / len(p1) + p0.mean() * (1 - p0.mean()) / len(p0))
    assert rd.estimate == pytest.approx(p1.mean() - p0.mean(), rel=RTOL)
    assert rd.std_error == pytest.approx(se, rel=RTOL)
    assert rd.effect_measure == "risk_difference" and rd.n_events == int(nhefs.death.sum())
    assert rd.extra["mean_1"] == pytest.approx(p1.mean())


def test_continuous_outcome_matches_ols_hc0_and_weighted_wls_hc0(nhefs, rng):
    d = nhefs.dropna(subset=["wt82_71"]).assign(w=lambda x: rng.uniform(0.5, 3, len(x)))
    X = sm.add_constant(d["qsmk"])
    ols = sm.OLS(d["wt82_71"], X).fit(cov_type="HC0")
    est = cl.crude_effect(d, exposure="qsmk", outcome="wt82_71")
    assert est.estimate == pytest.approx(ols.params["qsmk"], rel=RTOL)
    assert est.std_error == pytest.approx(ols.bse["qsmk"], rel=1e-8)
    wls = sm.WLS(d["wt82_71"], X, weights=d["w"]).fit(cov_type="HC0")
    west = cl.crude_effect(d, exposure="qsmk", outcome="wt82_71", weights="w")
    assert west.estimate == pytest.approx(wls.params["qsmk"], rel=RTOL)
    assert west.std_error == pytest.approx(wls.bse["qsmk"], rel=1e-8)


def test_cluster_robust_se_matches_statsmodels_up_to_its_df_factor(nhefs):
    d = nhefs.dropna(subset=["wt82_71"]).assign(site=lambda x: (x["seqn"] % 37).astype(int))
    X = sm.add_constant(d["qsmk"])
    fit = sm.OLS(d["wt82_71"], X).fit(cov_type="cluster", cov_kwds={"groups": d["site"]})
    est = cl.crude_effect(d, exposure="qsmk", outcome="wt82_71", cluster="site")
    n, k = len(d), 2
    # statsmodels multiplies by G/(G-1) * (n-1)/(n-k); we apply G/(G-1) only (sandwich::vcovCL)
    expected = fit.bse["qsmk"] / np.sqrt((n - 1) / (n - k))
    assert est.std_error == pytest.approx(expected, rel=1e-8)
    assert est.ci_method == "wald_cluster"


def test_bootstrap_is_seeded_and_independent_of_n_jobs(nhefs):
    kw = dict(exposure="qsmk", outcome="death", variance="bootstrap", n_boot=200)
    a = cl.crude_effect(nhefs, random_state=7, n_jobs=1, **kw)
    b = cl.crude_effect(nhefs, random_state=7, n_jobs=2, **kw)
    c = cl.crude_effect(nhefs, random_state=8, n_jobs=1, **kw)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert (a.conf_low, a.conf_high) == (b.conf_low, b.conf_high)
    assert a.conf_low != c.conf_low
    ife = cl.crude_effect(nhefs, exposure="qsmk", outcome="death")
    assert a.std_error == pytest.approx(ife.std_error, rel=0.15)  # bootstrap SE ~ analytic SE


def _trial(rng: np.random.Generator, n: int, effect: float) -> pd.DataFrame:
    a = rng.integers(0, 2, n)
    return pd.DataFrame({"a": a, "y": rng.normal(1.0 + effect * a, 2.0),
                         "b": rng.binomial(1, 0.2 + 0.1 * a)})


def _coverage(n_rep: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    hits_y = hits_rr = 0
    for _ in range(n_rep):
        d = _trial(rng, 400, 0.5)
        e = cl.crude_effect(d, exposure="a", outcome="y")
        r = cl.crude_effect(d, exposure="a", outcome="b", effect_measure="ratio")
        hits_y += e.conf_low <= 0.5 <= e.conf_high
        hits_rr += r.conf_low <= 1.5 <= r.conf_high
    return hits_y / n_rep, hits_rr / n_rep


def test_coverage_in_simulated_randomised_trials_reduced():
    """Reduced CI version (300 trials): 95% CIs cover the true effect (MC SE ~ 1.3%)."""
    cov_y, cov_rr = _coverage(300, 11)
    assert 0.91 <= cov_y <= 0.985 and 0.91 <= cov_rr <= 0.985


@pytest.mark.slow
def test_coverage_in_simulated_randomised_trials_full():
    """2,000 trials: coverage within 3 MC SEs (~0.015) of 0.95."""
    cov_y, cov_rr = _coverage(2000, 12)
    assert abs(cov_y - 0.95) < 0.015 and abs(cov_rr - 0.95) < 0.015


def test_to_frame_schema_and_labels_reference(nhefs):
    d = nhefs.assign(arm=np.where(nhefs.qsmk == 1, "quit", "continued"))
    est = cl.crude_effect(d, exposure="arm", outcome="death", reference="continued")
    base = cl.crude_effect(nhefs, exposure="qsmk", outcome="death")
    assert est.estimate == pytest.approx(base.estimate)
    check_schema(est.to_frame())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(exposure="education", outcome="death"), DataValidationError,
         r"column 'education' \(exposure\) must be binary .* got 5 distinct values"),
        (dict(exposure="qsmk", outcome="wt82_71", effect_measure="odds_ratio", missing="drop"),
         DataValidationError, r"odds_ratio\" needs a binary 0/1 outcome"),
        (dict(exposure="qsmk", outcome="wt82_71"), MissingDataError,
         r"63 of 1,629 rows have missing values in analysis columns: wt82_71 \(63\)"),
        (dict(exposure="qsmk", outcome="deth"), DataValidationError, "Did you mean 'death'"),
        (dict(exposure="qsmk", outcome="death", effect_measure="RD"), DataValidationError,
         r'effect_measure must be one of \{"difference", "ratio", "odds_ratio"\}; got \'RD\''),
        (dict(exposure="qsmk", outcome="death", conf_level=95), DataValidationError,
         "Did you mean 0.95"),
    ],
)
def test_bad_input(nhefs, kwargs, error, match):
    with pytest.raises(error, match=match):
        cl.crude_effect(nhefs, **kwargs)


def test_empty_arm_and_zero_risk(nhefs):
    d = nhefs.assign(w=np.where(nhefs.qsmk == 1, 0.0, 1.0))
    with pytest.raises(DataValidationError, match=r"exposure group 'qsmk' = 1 is empty"):
        cl.crude_effect(d, exposure="qsmk", outcome="death", weights="w")
    d = nhefs.assign(z=np.where(nhefs.qsmk == 1, nhefs.death, 0))
    with pytest.raises(DataValidationError, match=r"risk ratio is undefined|ratio is undefined"):
        cl.crude_effect(d, exposure="qsmk", outcome="z", effect_measure="ratio")
