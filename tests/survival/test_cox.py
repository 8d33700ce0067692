"""cl.cox against R survival 3.5.3 on lung, and against replicated rows and simulated truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import load_reference

import cohortlab as cl
from cohortlab.exceptions import (
    DataValidationError,
    MonotoneLikelihoodWarning,
    ZeroTimeWarning,
)

REF = load_reference("lung_cox_model_and_robust_se")["estimates"]


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    return cl.datasets.load_lung()


def _fit(df, cols, **kw):
    return cl.cox(df, time="time", event="dead", covariates=cols, missing="drop", **kw)


def test_model_a_efron_coefficients_se_and_tests_match_r(lung):
    fit = _fit(lung, ["age", "sex"])
    for i, term in enumerate(["age", "sex"]):
        assert fit.params[i] == pytest.approx(REF["model_A"][term]["coef"], abs=1e-5)
        assert fit.std_errors[i] == pytest.approx(REF["model_A"][term]["se"], rel=1e-4)
    hr = fit.to_frame().set_index("term")
    assert hr.loc["sex", "estimate"] == pytest.approx(REF["model_A"]["sex"]["hr"], abs=1e-5)
    assert [hr.loc["sex", "conf_low"], hr.loc["sex", "conf_high"]] == pytest.approx(
        REF["model_A"]["sex"]["ci"], abs=1e-4)
    # std_error stays on the log scale whether or not the table is exponentiated (broom)
    coef = fit.to_frame(exponentiate=False).set_index("term")
    assert coef.loc["sex", "estimate"] == pytest.approx(REF["model_A"]["sex"]["coef"], abs=1e-5)
    assert coef.loc["sex", "std_error"] == hr.loc["sex", "std_error"]
    fs = fit.fit_stats
    assert fs["lr_statistic"] == pytest.approx(REF["model_A"]["lr_test"], abs=0.005)
    assert fs["wald_statistic"] == pytest.approx(REF["model_A"]["wald"], abs=0.005)
    assert fs["score_statistic"] == pytest.approx(REF["model_A"]["score"], abs=0.005)
    assert fs["concordance"] == pytest.approx(REF["model_A"]["concordance"], abs=5e-4)


def test_model_b_model_and_robust_se_match_r(lung):
    pass_through = _fit(lung, ["age", "sex", "ph.ecog"], robust=True)
    ref = REF["model_B"]
    assert pass_through.n == 227
    assert pass_through.dropped.by_column == {"ph.ecog": 1}
    for i, term in enumerate(["age", "sex", "ph.ecog"]):
        assert pass_through.params[i] == pytest.approx(ref[term]["coef"], abs=1e-5)
        assert np.sqrt(pass_through.vcov_model[i, i]) == pytest.approx(ref[term]["se"], rel=1e-4)
        assert pass_through.std_errors[i] == pytest.approx(ref[term]["se_robust"], rel=1e-3)
    assert pass_through.ci_method == "wald_sandwich"
    fs = pass_through.fit_stats
    assert [fs["loglik_null"], fs["loglik"]] == pytest.approx(ref["loglik"], abs=1e-4)
    assert fs["lr_statistic"] == pytest.approx(ref["lr_test"], abs=0.05)
    assert fs["robust_score_statistic"] == pytest.approx(ref["robust_score"], abs=0.005)
    assert fs["concordance"] == pytest.approx(ref["concordance"], abs=1e-6)
    hr = pass_through.to_frame().set_index("term")
    assert [hr.loc["ph.ecog", "conf_low"], hr.loc["ph.ecog", "conf_high"]] == pytest.approx(
        ref["ph.ecog"]["ci_robust"], abs=1e-4)


def test_breslow_ties_match_r(lung):
    fit = _fit(lung.dropna(subset=["ph.ecog"]), ["age", "sex", "ph.ecog"], ties="breslow")
    ref = REF["model_B_breslow"]
    assert fit.params == pytest.approx([ref["age"], ref["sex"], ref["ph.ecog"]], abs=1e-6)
    assert fit.std_errors == pytest.approx(ref["se"], rel=1e-4)


def test_cluster_robust_se_matches_r(lung):
    d = lung.dropna(subset=["ph.ecog", "inst"])
    fit = _fit(d, ["age", "sex", "ph.ecog"], cluster="inst")
    ref = REF["model_B_cluster_inst"]
    assert fit.params == pytest.approx(ref["coef"], abs=1e-6)
    assert fit.std_errors == pytest.approx(ref["se_robust"], rel=1e-4)
    assert fit.ci_method == "wald_cluster"


def test_strata_match_r(lung):
    fit = _fit(lung.dropna(subset=["ph.ecog"]), ["age", "sex"], strata="ph.ecog")
    ref = REF["stratified_by_ph.ecog"]
    assert fit.params == pytest.approx([ref["age"]["coef"], ref["sex"]["coef"]], abs=1e-6)
    assert fit.std_errors == pytest.approx([ref["age"]["se"], ref["sex"]["se"]], rel=1e-4)


def test_cox_zph_matches_r_survival3_published_output(lung):
    # R survival >= 3: cox.zph(coxph(Surv(time, status) ~ age + sex, lung)) prints
    # age 0.209 (p 0.65), sex 2.608 (p 0.11), GLOBAL 2.771 on 2 df (p 0.25)
    ph = _fit(lung, ["age", "sex"]).check_proportional_hazards().to_frame().set_index("term")
    assert ph["statistic"].round(3).tolist() == [0.209, 2.608, 2.771]
    assert ph["df"].tolist() == [1, 1, 2] and ph["estimate"].isna().all()
    assert ph["p_value"].round(2).tolist() == [0.65, 0.11, 0.25]


def test_integer_weights_equal_replicated_rows_breslow(lung):
    # with Breslow ties a weight of k is k copies; Efron's approximation is not (copies add
    # tied deaths), in R as here
    d = lung.dropna(subset=["ph.ecog"]).reset_index(drop=True)
    d["w"] = 1 + (d["age"] > 60).astype(int) + (d["sex"] == 2).astype(int)
    wfit = _fit(d, ["age", "sex", "ph.ecog"], weights="w", ties="breslow")
    rep = d.loc[d.index.repeat(d["w"])]
    rfit = _fit(rep, ["age", "sex", "ph.ecog"], ties="breslow")
    assert wfit.params == pytest.approx(rfit.params, abs=1e-9)
    assert wfit.std_errors == pytest.approx(rfit.std_errors, rel=1e-9)
    assert wfit.fit_stats["loglik"] == pytest.approx(rfit.fit_stats["loglik"], rel=1e-12)
    assert wfit.fit_stats["concordance"] == pytest.approx(rfit.fit_stats["concordance"],
                                                          abs=1e-12)


def test_left_truncation_equals_split_follow_up(lung):
    # a subject followed over (0, t] gives the same partial likelihood as the same subject
    # split into (0, c] (censored) and (c, t] (entry c): the basis of counting-process data
    d = lung.dropna(subset=["ph.ecog"]).reset_index(drop=True)
    whole = _fit(d, ["age", "sex", "ph.ecog"])
    cut = np.floor(d["time"] / 2)
    first = d.assign(entry=0.0, time=cut, dead=0)[cut > 0]
    second = d.assign(entry=cut)
    split = pd.concat([first, second], ignore_index=True)
    sfit = cl.cox(split, time="time", event="dead", covariates=["age", "sex", "ph.ecog"],
                  entry="entry")
    assert sfit.params == pytest.approx(whole.params, abs=1e-9)
    assert sfit.std_errors == pytest.approx(whole.std_errors, rel=1e-9)


def test_predicted_survival_is_consistent_with_baseline_hazard(lung):
    fit = _fit(lung, ["age", "sex"])
    new = pd.DataFrame({"age": [50.0, 70.0], "sex": [1, 2]})
    curves = fit.predict_survival(new)
    at = curves.at([365.0]).to_frame()
    lp = (new[["age", "sex"]].to_numpy() - fit.state.cd.center) @ fit.params
    ratio = np.log(at["estimate"].to_numpy())
    # S(t | x) = S0(t) ** exp(x'beta): the log survivals are in the ratio of the risk scores
    assert ratio[0] / ratio[1] == pytest.approx(np.exp(lp[0] - lp[1]), rel=1e-10)
    assert ((at["conf_low"] < at["estimate"]) & (at["estimate"] < at["conf_high"])).all()


def test_hazard_ratio_covers_truth_simulated_truth():
    # exponential hazards with log HR 0.5 for x and -0.3 for z; 60 replicates at n = 400:
    # the 95% CI of the model SE and of the robust SE both cover in [0.85, 1.0]
    rng = np.random.default_rng(20261130)
    cover = np.zeros((2, 2))
    reps = 60
    for _ in range(reps):
        x = rng.binomial(1, 0.5, 400)
        z = rng.normal(size=400)
        t_ev = rng.exponential(1 / (0.1 * np.exp(0.5 * x - 0.3 * z)))
        c = rng.uniform(0, 20, 400)
        df = pd.DataFrame({"t": np.minimum(t_ev, c), "d": (t_ev <= c).astype(int), "x": x,
                           "z": z})
        for k, robust in enumerate((False, True)):
            f = cl.cox(df, time="t", event="d", covariates=["x", "z"], robust=robust)
            ci = np.log(f.conf_int())  # hazard ratios -> the log scale of the truth
            cover[k] += [(ci.loc["x", "conf_low"] < 0.5 < ci.loc["x", "conf_high"]),
                         (ci.loc["z", "conf_low"] < -0.3 < ci.loc["z", "conf_high"])]
    assert np.all(cover / reps >= 0.85)


def test_monotone_likelihood_warns_naming_the_column():
    # every event happens in x = 1 while x = 0 rows are still at risk: beta_x -> +infinity
    df = pd.DataFrame({"t": [1.0, 2, 3, 4, 5, 6, 7, 8], "d": [1, 1, 1, 1, 0, 0, 0, 0],
                       "x": [1, 1, 1, 1, 0, 0, 0, 0],
                       "z": [0.3, 0.1, 0.5, 0.2, 0.9, 0.4, 0.8, 0.6]})
    with pytest.warns(MonotoneLikelihoodWarning, match=r"\['x'\]"):
        fit = cl.cox(df, time="t", event="d", covariates=["x", "z"])
    assert any("monotone" in n for n in fit.notes)


@pytest.mark.parametrize(
    ("change", "exc", "match"),
    [
        (lambda d: d.assign(time=d["time"].where(d.index != 3, -5.0)), DataValidationError,
         "negative"),
        (lambda d: d.assign(dead=d["dead"].where(d.index != 3, 2)), DataValidationError,
         "coded 0"),
        (lambda d: d.assign(k=1.0), DataValidationError, "constant"),
        (lambda d: d.assign(dead=0), DataValidationError, "no events"),
    ],
    ids=["negative-time", "event-code-2", "constant-covariate", "no-events"],
)
def test_bad_input_raises_naming_the_problem(lung, change, exc, match):
    d = change(lung.dropna(subset=["ph.ecog"]))
    cols = ["age", "k"] if "k" in d.columns else ["age"]
    with pytest.raises(exc, match=match):
        cl.cox(d, time="time", event="dead", covariates=cols)


def test_entry_after_exit_and_misspelt_column_raise(lung):
    d = lung.assign(entry=lung["time"] + 1)
    with pytest.raises(DataValidationError, match="entry time 'entry' >= exit time"):
        cl.cox(d, time="time", event="dead", covariates=["age"], entry="entry")
    with pytest.raises(DataValidationError, match="agee"):
        cl.cox(lung, time="time", event="dead", covariates=["agee"])


def test_zero_times_warn_with_counts(lung):
    d = lung.assign(time=lung["time"].where(lung.index > 1, 0.0))
    with pytest.warns(ZeroTimeWarning, match="2 rows with follow-up time 0"):
        cl.cox(d, time="time", event="dead", covariates=["age"])


def test_input_frame_is_not_modified(lung):
    before = lung.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _fit(lung, ["age", "sex", "ph.ecog"], robust=True)
    pd.testing.assert_frame_equal(lung, before)


EXTRA = load_reference("cox_extra")["estimates"]


@pytest.mark.parametrize(("model", "cols"), [("model_A", ["age", "sex"]),
                                             ("model_B", ["age", "sex", "ph.ecog"])])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_weighted_cox_model_and_robust_se_match_r(lung, model, cols, ties):
    d = lung.assign(w=0.5 + (lung["age"] > 60) + 0.25 * lung["sex"])
    fit = _fit(d, cols, weights="w", robust=True, ties=ties)
    ref = EXTRA["weighted_cox"][f"{model}_{ties}"]
    for i, term in enumerate(cols):
        r = ref["terms"][term]
        assert fit.params[i] == pytest.approx(r["coef"], abs=1e-6)
        assert np.sqrt(fit.vcov_model[i, i]) == pytest.approx(r["se_model"], rel=1e-4)
        assert fit.std_errors[i] == pytest.approx(r["se_robust"], rel=1e-3)
    assert [fit.fit_stats["loglik_null"], fit.fit_stats["loglik"]] == pytest.approx(
        ref["loglik"], abs=1e-6)


def test_left_truncated_cox_matches_r(lung):
    i = np.arange(1, len(lung) + 1)
    d = lung.assign(entry=(lung["time"] * ((i * 37) % 100)) // 200)
    ref = EXTRA["left_truncation"]
    assert d["entry"].sum() == ref["entry_sum"]
    fit = cl.cox(d, time="time", event="dead", covariates=["age", "sex", "ph.ecog"],
                 entry="entry", robust=True, missing="drop")
    for k, term in enumerate(["age", "sex", "ph.ecog"]):
        r = ref["cox"]["terms"][term]
        assert fit.params[k] == pytest.approx(r["coef"], abs=1e-6)
        assert np.sqrt(fit.vcov_model[k, k]) == pytest.approx(r["se_model"], rel=1e-4)
        assert fit.std_errors[k] == pytest.approx(r["se_robust"], rel=1e-3)
    assert [fit.fit_stats["loglik_null"], fit.fit_stats["loglik"]] == pytest.approx(
        ref["cox"]["loglik"], abs=1e-6)


@pytest.mark.parametrize(("model", "cols", "transform"), [
    ("model_A_km", ["age", "sex"], "km"),
    ("model_B_km", ["age", "sex", "ph.ecog"], "km"),
    ("model_A_identity", ["age", "sex"], "identity"),
    ("model_A_rank", ["age", "sex"], "rank"),
])
def test_cox_zph_matches_r_to_full_precision(lung, model, cols, transform):
    ph = _fit(lung, cols).check_proportional_hazards(transform).to_frame().set_index("term")
    for term, r in EXTRA["cox_zph"][model].items():
        assert ph.loc[term, "statistic"] == pytest.approx(r["chisq"], rel=1e-6)
        assert ph.loc[term, "p_value"] == pytest.approx(r["p"], rel=1e-5)


def test_global_tests_and_concordance_match_r(lung):
    fit = _fit(lung, ["age", "sex", "ph.ecog"], robust=True)
    ref = EXTRA["global_tests_model_B"]
    fs = fit.fit_stats
    assert fs["lr_statistic"] == pytest.approx(ref["lr"]["statistic"], rel=1e-8)
    assert fs["score_statistic"] == pytest.approx(ref["score"]["statistic"], rel=1e-8)
    assert fs["robust_score_statistic"] == pytest.approx(
        ref["robust_fit"]["robust_score"]["statistic"], rel=1e-6)
    assert fs["wald_statistic"] == pytest.approx(ref["robust_fit"]["wald_robust"]["statistic"],
                                                 rel=1e-6)
    model = _fit(lung, ["age", "sex", "ph.ecog"])
    assert model.fit_stats["wald_statistic"] == pytest.approx(ref["wald"]["statistic"],
                                                              rel=1e-8)
    assert fit.fit_stats["concordance"] == pytest.approx(
        EXTRA["concordance"]["model_B"]["concordance"], abs=1e-12)
    assert _fit(lung, ["age", "sex"]).concordance() == pytest.approx(
        EXTRA["concordance"]["model_A"]["concordance"], abs=1e-12)


def test_stratified_cluster_cox_matches_r(lung):
    d = lung.dropna(subset=["ph.ecog", "inst"])
    fit = _fit(d, ["age", "sex"], strata="ph.ecog", cluster="inst")
    ref = EXTRA["stratified_cluster"]
    for k, term in enumerate(["age", "sex"]):
        assert fit.params[k] == pytest.approx(ref["terms"][term]["coef"], abs=1e-6)
        assert fit.std_errors[k] == pytest.approx(ref["terms"][term]["se_robust"], rel=1e-3)
    assert [fit.fit_stats["loglik_null"], fit.fit_stats["loglik"]] == pytest.approx(
        ref["loglik"], abs=1e-6)


def test_predicted_survival_matches_survfit_coxph(lung):
    fit = _fit(lung, ["age", "sex"])
    ref = EXTRA["predicted_survival"]
    new = pd.DataFrame(ref["newdata"])
    at = fit.predict_survival(new).at([180.0, 365.0, 730.0]).to_frame()
    for g, key in enumerate(["age50_sex1", "age70_sex2"]):
        r = ref["curves"][key]
        rows = at.iloc[3 * g:3 * g + 3]
        assert rows["estimate"].to_numpy() == pytest.approx(r["surv"], abs=1e-6)
        assert rows["std_error"].to_numpy() == pytest.approx(r["std_err"], rel=1e-4)
        assert rows["conf_low"].to_numpy() == pytest.approx(r["lower"], abs=1e-6)
        assert rows["conf_high"].to_numpy() == pytest.approx(r["upper"], abs=1e-6)


def test_monotone_likelihood_r_example_warns():
    ref = EXTRA["monotone_likelihood"]
    df = pd.DataFrame(ref["data"])
    with pytest.warns(MonotoneLikelihoodWarning, match=r"\['x'\]"):
        fit = cl.cox(df, time="time", event="status", covariates=["x", "z"])
    # R stops at coef 21.4 with SE 15331: both say "infinite"; z is estimated as usual
    assert fit.params[0] > 10 and fit.std_errors[0] > 1e3
    assert fit.params[1] == pytest.approx(ref["x_and_z"]["coef"]["z"], abs=1e-3)


def test_counting_process_split_gives_r_concordance_and_cox_zph(lung):
    # R: s <- survSplit(Surv(time, dead) ~ ., lung[!is.na(lung$ph.ecog), ], cut = 180);
    # f <- coxph(Surv(tstart, time, dead) ~ age + sex + ph.ecog, s): concordance 0.6371354930
    # (= the unsplit fit), cox.zph chisq age 0.1879876737, sex 2.3054372274, ph.ecog
    # 2.0542487741, GLOBAL 4.4636575888 (left-truncated KM transform)
    d = lung.dropna(subset=["ph.ecog"]).reset_index(drop=True)
    first = d.assign(tstart=0.0, stop=np.minimum(d["time"], 180.0),
                     d2=np.where(d["time"] <= 180, d["dead"], 0))
    second = d[d["time"] > 180].assign(tstart=180.0, stop=lambda x: x["time"],
                                       d2=lambda x: x["dead"])
    split = pd.concat([first, second], ignore_index=True)
    fit = cl.cox(split, time="stop", event="d2", covariates=["age", "sex", "ph.ecog"],
                 entry="tstart")
    assert fit.fit_stats["concordance"] == pytest.approx(0.6371354930, abs=1e-9)
    ph = fit.check_proportional_hazards().to_frame()["statistic"].to_numpy()
    assert ph == pytest.approx([0.1879876737, 2.3054372274, 2.0542487741, 4.4636575888],
                               rel=1e-7)


def test_predicted_curves_keep_newdata_order_for_twelve_rows(lung):
    # string labels "10", "11" sort before "2": the curves must stay in newdata order
    fit = _fit(lung, ["age", "sex"])
    new = lung.iloc[[5, 3, 40, 7, 1, 0, 9, 22, 13, 2, 100, 60]].reset_index(drop=True)
    curves = fit.predict_survival(new)
    assert curves.groups == [str(i) for i in range(12)]
    at = curves.at([365.0]).to_frame()["estimate"].to_numpy()
    risk = fit.predict_risk(new, [365.0])
    assert list(risk.index) == list(new.index)
    assert risk[365.0].to_numpy() == pytest.approx(1 - at, abs=1e-14)
    # the same rows shuffled give the same risks, row by row
    perm = new.sample(frac=1.0, random_state=3)
    assert fit.predict_risk(perm, [365.0]).loc[new.index].to_numpy() == pytest.approx(
        risk.to_numpy(), abs=1e-14)


def test_predicted_survival_vectorised_equals_row_by_row_formula(lung):
    # Tsiatis' variance expanded into matrix products = the per-row quadratic form
    fit = cl.cox(lung.dropna(subset=["ph.karno"]), time="time", event="dead",
                 covariates=["age", "sex", "ph.karno"])
    from cohortlab.survival._predict import baseline_hazard

    new = lung.dropna(subset=["ph.karno"]).head(5)
    curve = fit.predict_survival(new).to_frame()
    b = baseline_hazard(fit)[None]
    x = new[["age", "sex", "ph.karno"]].to_numpy(float) - fit.state.cd.center
    cum_h, hx = np.cumsum(b["dh"]), np.cumsum(b["hx"], axis=0)
    for i in range(5):
        r = np.exp(x[i] @ fit.params)
        q = x[i][None, :] * cum_h[:, None] - hx
        var = r**2 * (np.cumsum(b["dvar"]) + np.einsum("ij,jk,ik->i", q, fit.vcov_model, q))
        got = curve[curve["group"] == str(new.index[i])]
        surv = np.exp(-r * cum_h)
        assert got["estimate"].to_numpy() == pytest.approx(surv, rel=1e-12)
        assert got["std_error"].to_numpy() == pytest.approx(surv * np.sqrt(var), rel=1e-9)


def test_stratified_predictions_follow_newdata_order(lung):
    d = lung.dropna(subset=["ph.ecog"]).reset_index(drop=True)
    d = d[d["ph.ecog"] < 3]
    fit = cl.cox(d, time="time", event="dead", covariates=["age", "sex"], strata="ph.ecog")
    new = d.iloc[[4, 0, 17, 2]]
    each = [fit.predict_risk(new.iloc[[i]], [200.0]).iloc[0, 0] for i in range(4)]
    assert fit.predict_risk(new, [200.0])[200.0].to_numpy() == pytest.approx(each, abs=1e-14)
    assert fit.predict_survival(new).groups == [str(i) for i in new.index]


def test_linear_predictor_centred_and_not(lung):
    fit = _fit(lung, ["age", "sex"])
    new = lung.head(3)
    raw = new[["age", "sex"]].to_numpy(float) @ fit.params
    assert fit.predict_lp(new) == pytest.approx(raw, abs=1e-12)
    assert fit.predict_lp(new, centered=True) == pytest.approx(
        raw - fit.state.cd.center @ fit.params, abs=1e-12)
    with pytest.raises(DataValidationError, match="non-empty pandas DataFrame"):
        fit.predict_risk(new.iloc[:0], [100.0])
    with pytest.raises(DataValidationError, match="times must be finite"):
        fit.predict_risk(new, [-1.0])


def test_numeric_column_design_is_build_designs() -> None:
    # the fast path for plain numeric columns builds what build_design builds, and leaves
    # anything it cannot vouch for (collinear, non-finite, text, a formula) to build_design
    from cohortlab._design import build_design, numeric_design

    rng = np.random.default_rng(8)
    d = pd.DataFrame({"a": rng.normal(size=50), "b": rng.integers(0, 3, 50),
                      "c": rng.normal(size=50)})
    fast = numeric_design(d, ["a", "b", "c"], drop_intercept=True)
    slow = build_design(d, ["a", "b", "c"], "cox", drop_intercept=True)
    assert fast is not None
    assert fast.names == slow.names and fast.formula == slow.formula
    assert np.array_equal(fast.X, slow.X)
    assert np.array_equal(fast.matrix(d.head(5)), slow.matrix(d.head(5)))
    for bad, cols in ((d.assign(c=2 * d.a), ["a", "c"]), (d.assign(c=3.0), ["a", "c"]),
                      (d.assign(c=np.inf), ["a", "c"]), (d.assign(c="x"), ["a", "c"])):
        assert numeric_design(bad, cols, drop_intercept=True) is None
    assert numeric_design(d, "a + b", drop_intercept=True) is None
