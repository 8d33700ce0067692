"""Fine-Gray and cause-specific Cox against R (finegray + coxph, crr, multi-state coxph)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import load_reference

import cohortlab as cl
from cohortlab.exceptions import DataValidationError

FG = load_reference("finegray_weighted")["estimates"]
FG_VIGNETTE = load_reference("mgus2_fine_gray")["estimates"]
CS = load_reference("mgus2_cause_specific_cox")["estimates"]
TERMS = {"age": "age", "sex[T.M]": "sexM", "mspike": "mspike"}


@pytest.fixture(scope="module")
def mgus() -> pd.DataFrame:
    return cl.datasets.load_mgus2()


@pytest.fixture(scope="module")
def complete(mgus) -> pd.DataFrame:
    return mgus.dropna(subset=["mspike"]).reset_index(drop=True)


def _fg(df, **kw):
    return cl.fine_gray(df, time="etime", event="event", cause=1,
                        covariates=["age", "sex", "mspike"], **kw)


@pytest.mark.parametrize(("ties", "key"), [("efron", "complete_cases"),
                                           ("breslow", "complete_cases_breslow")])
def test_fine_gray_matches_finegray_coxph_cluster_id(complete, ties, key):
    fit = _fg(complete, ties=ties)
    ref = FG["unweighted"][key]
    for i, term in enumerate(fit.terms):
        r = ref["terms"][TERMS[term]]
        assert fit.params[i] == pytest.approx(r["coef"], abs=1e-6)
        assert np.sqrt(fit.vcov_model[i, i]) == pytest.approx(r["se_model"], rel=1e-4)
        assert fit.std_errors[i] == pytest.approx(r["se_robust"], rel=1e-3)
    assert [fit.fit_stats["loglik_null"], fit.fit_stats["loglik"]] == pytest.approx(
        ref["loglik"], abs=1e-6)


def test_fine_gray_sex_only_matches_vignette_coef_and_crr_se(mgus):
    fit = cl.fine_gray(mgus, time="etime", event="event", cause=1, covariates=["sex"])
    assert fit.params[0] == pytest.approx(FG_VIGNETTE["pcm_sex_finegray"]["coef"], abs=1e-6)
    assert fit.to_frame()["estimate"].iloc[0] == pytest.approx(
        FG_VIGNETTE["pcm_sex_finegray"]["shr"], abs=1e-6)
    # per-subject sandwich = finegray + coxph(cluster = id); crr's SE (which also accounts for
    # estimating G) agrees within the reference's 2% tolerance
    assert fit.std_errors[0] == pytest.approx(
        FG["unweighted"]["sex_only_all_1384_rows"]["se_robust_cluster_id"], rel=1e-4)
    assert fit.std_errors[0] == pytest.approx(FG_VIGNETTE["pcm_sex_crr"]["se"], rel=2e-2)
    assert fit.params[0] == pytest.approx(FG_VIGNETTE["pcm_sex_crr"]["coef"], abs=5e-4)
    death = cl.fine_gray(mgus, time="etime", event="event", cause=2, covariates=["sex"])
    assert death.params[0] == pytest.approx(FG_VIGNETTE["death_sex_finegray"]["coef"], abs=1e-6)


@pytest.mark.parametrize(("censoring", "key"), [("unweighted", "unweighted_censoring_km"),
                                                ("weighted", "weighted_censoring_km")])
def test_case_weighted_fine_gray_matches_r(complete, censoring, key):
    d = complete.assign(w=0.5 + (complete["age"] > 70) + 0.3 * (complete["sex"] == "M"))
    fit = _fg(d, weights="w", censoring=censoring)
    ref = FG["case_weighted"][key]
    for i, term in enumerate(fit.terms):
        r = ref["terms"][TERMS[term]]
        assert fit.params[i] == pytest.approx(r["coef"], abs=1e-6)
        assert fit.std_errors[i] == pytest.approx(r["se_robust"], rel=1e-3)


def test_fine_gray_integer_weights_equal_replicated_rows(complete):
    d = complete.assign(w=1 + (complete["age"] > 70).astype(int))
    wfit = _fg(d, weights="w", ties="breslow")
    rep = d.loc[d.index.repeat(d["w"])]
    rfit = _fg(rep, ties="breslow")
    assert wfit.params == pytest.approx(rfit.params, abs=1e-10)
    assert np.sqrt(np.diag(wfit.vcov_model)) == pytest.approx(
        np.sqrt(np.diag(rfit.vcov_model)), rel=1e-9)


def test_cause_specific_cox_matches_multistate_coxph(mgus):
    fit = cl.cause_specific_cox(mgus, time="etime", event="event",
                                covariates=["age", "sex", "mspike"], robust=True,
                                missing="drop")
    tab = fit.to_frame(exponentiate=False).set_index("term")
    for cause, name in ((1, "pcm"), (2, "death")):
        for term, key in TERMS.items():
            row = tab.loc[f"{term} [cause {cause}]"]
            r = CS[name][key]
            assert row["estimate"] == pytest.approx(r["coef"], abs=1e-6)
            assert row["std_error"] == pytest.approx(r["se_robust"], rel=1e-3)
    model = np.sqrt(np.diag(fit.vcov_model))
    assert model[0] == pytest.approx(CS["pcm"]["age"]["se"], rel=1e-4)
    assert fit.n_events == 115 + 854


def test_fine_gray_cif_ratio_covers_truth_simulated_truth():
    # Fine-Gray data-generating model (Fine & Gray 1999 simulation design): F1(t | x) =
    # 1 - (1 - p (1 - exp(-t)))^exp(beta x), p = 0.4, beta = 0.5; 40 replicates at n = 500.
    rng = np.random.default_rng(7)
    beta, p, reps, hits = 0.5, 0.4, 40, 0
    for _ in range(reps):
        x = rng.binomial(1, 0.5, 500)
        f1_inf = 1 - (1 - p) ** np.exp(beta * x)
        cause1 = rng.uniform(size=500) < f1_inf
        u = rng.uniform(size=500)
        # invert F1(t | x) / F1(inf | x) for cause-1 times; cause 2: exponential(rate exp(b x))
        target = u * f1_inf
        t1 = -np.log(1 - (1 - (1 - target) ** np.exp(-beta * x)) / p)
        t2 = rng.exponential(1 / np.exp(beta * x))
        t = np.where(cause1, t1, t2)
        c = rng.uniform(0, 3, 500)
        df = pd.DataFrame({"t": np.minimum(t, c), "e": np.where(t <= c, np.where(cause1, 1, 2),
                                                                 0), "x": x})
        ci = np.log(cl.fine_gray(df, time="t", event="e", cause=1, covariates=["x"]).conf_int())
        hits += ci.loc["x", "conf_low"] < beta < ci.loc["x", "conf_high"]
    assert hits / reps >= 0.85


def test_cause_without_events_raises_with_codes_present(mgus):
    with pytest.raises(DataValidationError, match=r"cause 3 has no events.*\[1, 2\]"):
        cl.fine_gray(mgus, time="etime", event="event", cause=3, covariates=["age"])
    with pytest.raises(DataValidationError, match="coded"):
        cl.fine_gray(mgus.assign(event=mgus["event"] - 1), time="etime", event="event",
                     cause=1, covariates=["age"])
