"""cl.adjusted_survival: IPW and g-formula counterfactual curves, contrasts and RMST.

Checked against What If chapter 17 (NHEFS, the book's and R's numbers), against the known
truth of cl.simulate_cohort, and against the verbs it is built from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import load_reference

import cohortlab as cl
from cohortlab.exceptions import DataValidationError

CH17 = load_reference("nhefs_survival_ch17")["estimates"]
PS_MODEL = ("sex + race + age + I(age**2) + C(education) + smokeintensity + "
            "I(smokeintensity**2) + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active) + "
            "wt71 + I(wt71**2)")
SIM_COVARIATES = "age + female + bmi + diabetes + C(smoking) + af_flag + C(site)"


@pytest.fixture(scope="module")
def nhefs() -> pd.DataFrame:
    d = cl.datasets.load_nhefs()
    d["survtime"] = np.where(d["death"] == 0, 120, (d["yrdth"] - 83) * 12 + d["modth"])
    return d


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    d = cl.simulate_cohort(20_000, random_state=3)
    truth = d.attrs["truth"]["survival"]
    d.attrs = {}
    d["dead"] = (d["event"] > 0).astype(int)
    d.attrs["s"] = truth
    return d


def test_ipw_survival_reproduces_what_if_chapter17(nhefs):
    curves = cl.adjusted_survival(nhefs, time="survtime", event="death", exposure="qsmk",
                                  covariates=PS_MODEL)
    at = curves.at([120]).to_frame().set_index("group")["estimate"]
    # the book's IP-weighted hazards model (pooled logistic) gives 0.804652 / 0.806667; the
    # IP-weighted Kaplan-Meier is non-parametric in time, so it agrees to about 1e-4
    ref = CH17["ipw_pooled_logistic_S120"]
    assert at["qsmk=0"] == pytest.approx(ref["qsmk0"], abs=2e-4)
    assert at["qsmk=1"] == pytest.approx(ref["qsmk1"], abs=2e-4)
    diff = curves.contrast([120]).to_frame().iloc[0]
    assert diff["estimate"] == pytest.approx(ref["diff"], abs=3e-4)
    # What If 17.4: difference 0.2% with 95% CI -4.1% to 3.7% (500 bootstraps); the default
    # (estimated propensity score, M-estimation) gives about the same interval
    assert curves.ci_method == "sandwich_mestimation"
    assert -0.045 < diff["conf_low"] < -0.035 and 0.032 < diff["conf_high"] < 0.042


def test_ipw_curves_equal_weighted_kaplan_meier(nhefs):
    # variance="robust": the weights treated as known, the weighted KM's IJ variance
    curves = cl.adjusted_survival(nhefs, time="survtime", event="death", exposure="qsmk",
                                  covariates=PS_MODEL, variance="robust")
    ps = cl.propensity_score(nhefs, exposure="qsmk", covariates=PS_MODEL)
    km = cl.kaplan_meier(nhefs.assign(w=ps.weights), time="survtime", event="death",
                         by="qsmk", weights="w")
    ours = curves.at([30, 60, 90, 120]).to_frame()
    theirs = km.at([30, 60, 90, 120]).to_frame()
    for arm in (0, 1):
        o = ours[ours["group"] == f"qsmk={arm}"]
        t = theirs[theirs["group"] == arm]
        assert o["estimate"].to_numpy() == pytest.approx(t["estimate"].to_numpy(), abs=1e-12)
        assert o["std_error"].to_numpy() == pytest.approx(t["std_error"].to_numpy(), rel=1e-9)


def test_gformula_survival_is_near_the_books_standardised_curves(nhefs):
    # the book's model includes smkintensity82_71, the change in smoking intensity by 1982:
    # it follows quitting and separates the arms, which the positivity check reports
    with pytest.warns(cl.exceptions.PositivityWarning, match="smkintensity82_71"):
        curves = cl.adjusted_survival(nhefs, time="survtime", event="death", exposure="qsmk",
                                      covariates=PS_MODEL + " + smkintensity82_71",
                                      method="gformula", variance="bootstrap", n_boot=20,
                                      random_state=1)
    at = curves.at([120]).to_frame().set_index("group")
    # the book standardises a pooled-logistic hazards model (0.806479 / 0.803946); ours a Cox
    # model, so the two agree to the book's rounding (What If: 80.4% vs 80.6%) within 0.01
    ref = CH17["gformula_S120"]
    assert at.loc["qsmk=0", "estimate"] == pytest.approx(ref["qsmk0"], abs=0.01)
    assert at.loc["qsmk=1", "estimate"] == pytest.approx(ref["qsmk1"], abs=0.01)
    assert curves.ci_method == "bootstrap_percentile"
    assert (at["conf_low"] < at["estimate"]).all() and (at["estimate"] < at["conf_high"]).all()


@pytest.mark.parametrize("method", ["ipw", "gformula", "aipw"])
def test_survival_contrast_covers_truth_simulated_truth(sim, method):
    truth = sim.attrs["s"]["event_free"]
    times = [1.0, 2.0, 3.0, 4.0]
    true_diff = np.array(truth["treated"][:4]) - np.array(truth["untreated"][:4])
    # the g-formula bootstraps n x grid predictions: a smaller cohort keeps CI fast
    data = sim if method == "ipw" else sim.iloc[:8000]
    if method == "aipw":
        data = sim.iloc[:10000]
    curves = cl.adjusted_survival(data, time="time", event="dead", exposure="treated",
                                  covariates=SIM_COVARIATES, method=method, n_boot=12,
                                  random_state=4)
    c = curves.contrast(times).to_frame()
    assert np.all(c["conf_low"].to_numpy() < true_diff)
    assert np.all(true_diff < c["conf_high"].to_numpy())
    assert np.abs(c["estimate"].to_numpy() - true_diff).max() < (0.006 if method == "ipw"
                                                                   else 0.01)


def test_ipw_cumulative_incidence_covers_truth_simulated_truth(sim):
    truth = sim.attrs["s"]["cif_difference"][1][:4]
    curves = cl.adjusted_survival(sim, time="time", event="event", cause=1, exposure="treated",
                                  covariates=SIM_COVARIATES)
    c = curves.contrast([1.0, 2.0, 3.0, 4.0]).to_frame()
    assert curves.measure == "cumulative_incidence"
    assert np.all(c["conf_low"].to_numpy() < truth) and np.all(truth < c["conf_high"].to_numpy())
    ratio = curves.contrast([4.0], measure="ratio").to_frame().iloc[0]
    true_ratio = sim.attrs["s"]["cif_ratio"][1][3]
    assert ratio["conf_low"] < true_ratio < ratio["conf_high"]


def test_gformula_cumulative_incidence_small_sample_runs_and_is_bounded():
    d = cl.simulate_cohort(1500, random_state=8)
    d.attrs = {}
    curves = cl.adjusted_survival(d, time="time", event="event", cause=1, exposure="treated",
                                  covariates=["age", "female", "diabetes"], method="gformula",
                                  n_boot=10, random_state=2)
    est = curves.to_frame()["estimate"]
    assert est.between(0, 1).all()
    # an incidence never falls
    for _, g in curves.to_frame().groupby("group"):
        assert np.all(np.diff(g["estimate"].to_numpy()) >= -1e-12)


def test_rmst_ipw_matches_weighted_rmst_and_bootstrap_rmst_is_consistent(nhefs):
    ipw = cl.adjusted_survival(nhefs, time="survtime", event="death", exposure="qsmk",
                               covariates=PS_MODEL, variance="robust")
    tab = ipw.rmst(120).to_frame().set_index("term")
    # the default (estimated PS): the same areas, a variance from the curves' influence values
    mest = cl.adjusted_survival(nhefs, time="survtime", event="death", exposure="qsmk",
                                covariates=PS_MODEL).rmst(120).to_frame()
    assert mest["estimate"].iloc[:2].to_numpy() == pytest.approx(
        [tab.loc["RMST qsmk=1", "estimate"], tab.loc["RMST qsmk=0", "estimate"]], abs=1e-8)
    assert (mest["ci_method"] == "sandwich_mestimation").all()
    assert 0.5 < mest["std_error"].iloc[2] / tab.loc["RMST difference qsmk=1 vs 0",
                                                      "std_error"] < 1.05
    assert tab.loc["RMST difference qsmk=1 vs 0", "estimate"] == pytest.approx(
        tab.loc["RMST qsmk=1", "estimate"] - tab.loc["RMST qsmk=0", "estimate"], abs=1e-10)
    boot = cl.adjusted_survival(nhefs, time="survtime", event="death", exposure="qsmk",
                                covariates=PS_MODEL, variance="bootstrap", n_boot=20,
                                random_state=5)
    bt = boot.rmst(120).to_frame()
    # the same curves, so the same areas (the grid holds every event time)
    assert bt["estimate"].iloc[0] == pytest.approx(tab.loc["RMST qsmk=1", "estimate"], abs=1e-8)
    assert bt["estimate"].iloc[1] == pytest.approx(tab.loc["RMST qsmk=0", "estimate"], abs=1e-8)


def test_bootstrap_same_seed_same_numbers(nhefs):
    kw = dict(time="survtime", event="death", exposure="qsmk", covariates=PS_MODEL,
              variance="bootstrap", n_boot=8)
    a = cl.adjusted_survival(nhefs, random_state=11, **kw).contrast([60, 120]).to_frame()
    b = cl.adjusted_survival(nhefs, random_state=11, **kw).contrast([60, 120]).to_frame()
    pd.testing.assert_frame_equal(a, b)


def test_bad_input_raises_with_the_fix(nhefs):
    kw = dict(time="survtime", event="death", exposure="qsmk", covariates=["age", "sex"])
    with pytest.raises(DataValidationError, match="survival curves only.*\"bootstrap\""):
        cl.adjusted_survival(nhefs, method="gformula", variance="influence_function", cause=1,
                             **kw)
    with pytest.raises(DataValidationError, match="accepts variance in"):
        cl.adjusted_survival(nhefs, method="gformula", variance="robust", **kw)
    with pytest.raises(DataValidationError, match="cause 3 has no events"):
        cl.adjusted_survival(nhefs, cause=3, **kw)
    curves = cl.adjusted_survival(nhefs, **kw)
    with pytest.raises(DataValidationError, match="evaluation grid"):
        curves.contrast([500])
    cif = cl.adjusted_survival(nhefs, cause=1, **kw)
    with pytest.raises(DataValidationError, match="cumulative incidence"):
        cif.rmst(60)
    with pytest.raises(DataValidationError, match="binary|two"):
        cl.adjusted_survival(nhefs.assign(qsmk=nhefs["education"]), **kw)


@pytest.mark.slow
def test_aipw_cumulative_incidence_and_rmst_simulated_truth(sim):
    data = sim.iloc[:10000]
    truth = sim.attrs["s"]
    cif = cl.adjusted_survival(data, time="time", event="event", cause=1, exposure="treated",
                               covariates=SIM_COVARIATES, method="aipw")
    c = cif.contrast([1.0, 2.0, 3.0, 4.0]).to_frame()
    true_diff = np.array(truth["cif_difference"][1][:4])
    assert np.all(c["conf_low"].to_numpy() < true_diff)
    assert np.all(true_diff < c["conf_high"].to_numpy())
    assert cif.ci_method == "influence_function"
    surv = cl.adjusted_survival(data, time="time", event="dead", exposure="treated",
                                covariates=SIM_COVARIATES, method="aipw")
    r = surv.rmst(4.0).to_frame()
    assert r["estimate"].iloc[2] == pytest.approx(r["estimate"].iloc[0] - r["estimate"].iloc[1])
    # the true difference S1 - S0 rises from 0 at t = 0 through t = 1..4 (the truth's grid),
    # so its area to 4 lies between the left and right Riemann sums; the CI must overlap them
    diff = np.array(truth["event_free"]["treated"][:4]) - np.array(
        truth["event_free"]["untreated"][:4])
    left, right = float(diff[:3].sum()), float(diff.sum())
    assert r["conf_low"].iloc[2] < right and left < r["conf_high"].iloc[2]


def test_aipw_rejects_other_estimands(nhefs):
    with pytest.raises(DataValidationError, match="ATE only"):
        cl.adjusted_survival(nhefs, time="survtime", event="death", exposure="qsmk",
                             covariates=["age", "sex"], method="aipw", estimand="ATT")


@pytest.mark.slow
def test_aipw_is_doubly_robust_simulated_truth(sim):
    # the propensity model omits every confounder but sex; the cause-specific Cox outcome
    # models hold the true hazards' covariates (simulate.py: age, sbp, diabetes, smoking,
    # af_true; female for death). IPW with that propensity model misses the truth; AIPW,
    # rescued by the outcome model, covers it.
    truth = np.array(sim.attrs["s"]["cif_difference"][1][1:4])   # t = 2, 3, 4
    kw = dict(time="time", event="event", cause=1, exposure="treated", covariates="female")
    ipw = cl.adjusted_survival(sim, **kw).contrast([2.0, 3.0, 4.0]).to_frame()
    assert np.any((ipw["conf_low"] > truth) | (ipw["conf_high"] < truth))
    aipw = cl.adjusted_survival(
        sim, method="aipw", outcome_covariates="age + sbp + diabetes + C(smoking) + af_true "
        "+ female", **kw).contrast([2.0, 3.0, 4.0]).to_frame()
    assert np.all(aipw["conf_low"].to_numpy() < truth)
    assert np.all(truth < aipw["conf_high"].to_numpy())


def test_aipw_with_a_wrong_propensity_model_follows_the_outcome_model_simulated_truth():
    # reduced CI version of the slow double-robustness test: with the propensity model
    # reduced to sex, AIPW's incidence difference sits with the (correct) outcome model's
    # standardisation, not with the biased IPW estimate
    d = cl.simulate_cohort(5000, random_state=21)
    d.attrs = {}
    kw = dict(time="time", event="event", cause=1, exposure="treated", covariates="female",
              outcome_covariates="age + sbp + diabetes + C(smoking) + af_true + female")
    at = [3.0, 4.0]
    ipw = cl.adjusted_survival(d, **kw).contrast(at).to_frame()["estimate"].to_numpy()
    gf = cl.adjusted_survival(d, method="gformula", n_boot=2, random_state=1,
                              **kw).contrast(at).to_frame()["estimate"].to_numpy()
    aipw = cl.adjusted_survival(d, method="aipw", **kw)
    est = aipw.contrast(at).to_frame()["estimate"].to_numpy()
    assert np.all(np.abs(est - gf) < 0.5 * np.abs(ipw - gf))


def test_grid_reaches_end_of_follow_up_and_aipw_is_nan_where_not_estimable():
    d = cl.simulate_cohort(3000, random_state=5)
    d.attrs = {}
    d["dead"] = (d["event"] > 0).astype(int)
    kw = dict(time="time", event="dead", exposure="treated",
              covariates="age + female + diabetes + af_flag")
    ipw = cl.adjusted_survival(d, **kw)
    end = float(d["time"].max())          # administrative end of follow-up (5 years)
    assert ipw.grid[-1] == end
    c = ipw.contrast([end]).to_frame().iloc[0]
    assert np.isfinite(c["estimate"]) and c["effect_measure"] == "difference"
    aipw = cl.adjusted_survival(d, method="aipw", **kw)
    # everyone still followed at the end is censored there: G = 0, not estimable
    last = aipw.at([end]).to_frame()["estimate"]
    assert last.isna().all()
    assert any("not estimable" in n for n in aipw.notes)
    assert np.isfinite(aipw.contrast([4.0]).to_frame()["estimate"]).all()
