"""Multiple imputation for a misclassified exposure (``correct_exposure``), a
wrapper ``correct_exposure(estimator, data, validation=..., **estimator_kwargs)``.

No external implementation of MI for measurement error is used as a reference; the pieces
are checked against closed forms and statsmodels (the imputation model, the Nelson-Aalen
hazard), Rubin's rules against R mice (``tests/inference/test_rubin.py``), and the whole
correction against the simulated truth of ``simulate_cohort`` (``af_flag`` is a
misclassified ``af_true`` whose errors depend on bmi):

- crude risk difference of ``af_true`` on ``mace_1y``: 0.08009 (see
  ``tests/exposures/test_misclassification.py``);
- IPW ATE of ``af_true`` on ``mace_1y`` given age, bmi and diabetes (the true propensity
  model; the total effect, through the flag-driven treatment too): 0.04295, from the
  closed-form conditional risks of ``cohortlab.datasets.simulate`` averaged over 4,000,000
  covariate draws (seed 123; MC SE 1e-5), re-checked by ``test_ipw_truth_constant``;
- cause-specific Cox hazard ratio of ``af_true`` on stroke given age, sbp, diabetes,
  smoking and treated (the DGP's linear predictor): exactly 2.5.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.exceptions import CohortWarning, DataValidationError, MissingDataError
from cohortlab.exposures._imputation import _fit_imputation, nelson_aalen_at_exit
from cohortlab.exposures.measurement_error import MICorrection, correct_exposure
from cohortlab.exposures.misclassification import BiasAnalysis, ErrorRates
from cohortlab.results._schema import check_schema

TRUE_RD = 0.08009
TRUE_ATE = 0.04295
TRUE_LOG_HR = math.log(2.5)
COX_COV = "af_flag + age + sbp + diabetes + C(smoking) + treated"


def _cohort(n: int, seed: int, frac: float = 0.2) -> pd.DataFrame:
    df = cl.simulate_cohort(n, random_state=seed)
    df.attrs = {}
    rng = np.random.default_rng(seed + 10_000)
    df["af_valid"] = df["af_true"].where(rng.random(n) < frac)
    df["stroke"] = (df["event"] == 1).astype(int)
    df["death"] = (df["event"] == 2).astype(int)
    df["dead"] = (df["event"] > 0).astype(int)
    return df


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return _cohort(3_000, 21)


def _crude(df: pd.DataFrame, **kw):
    return correct_exposure(cl.crude_effect, df, exposure="af_flag",
                            validation="af_valid", outcome="mace_1y", **kw)


# ----------------------------------------------------------------------- the pieces


def test_nelson_aalen_at_exit_hand() -> None:
    t = np.array([3.0, 1.0, 2.0, 2.0, 5.0])
    e = np.array([1, 1, 1, 0, 2])
    # at risk 5, 4, 2, 1 at times 1, 2, 3, 5; events (any cause) 1, 1, 1, 1
    h = np.cumsum([1 / 5, 1 / 4, 1 / 2, 1 / 1])
    np.testing.assert_allclose(nelson_aalen_at_exit(t, e), h[[2, 0, 1, 1, 3]], rtol=1e-14)


def test_imputation_model_is_the_mle(cohort: pd.DataFrame) -> None:
    """Newton with step halving reaches the MLE (score 0) and the inverse information.

    Cross-checked once against statsmodels' ``Logit`` on these rows (coefficients to 4e-15,
    covariance to 9e-14, relative); the test checks the defining equations, to stay fast.
    """
    from scipy.special import expit

    v = cohort["af_valid"].notna().to_numpy()
    X = np.column_stack([np.ones(v.sum()), cohort.loc[v, ["af_flag", "bmi", "mace_1y"]]])
    y = cohort.loc[v, "af_valid"].to_numpy()
    coef, vcov = _fit_imputation(X, y, ["Intercept", "af_flag", "bmi", "mace_1y"])
    mu = expit(X @ coef)
    np.testing.assert_allclose(X.T @ (y - mu), 0.0, atol=1e-6)
    info = (X * (mu * (1 - mu))[:, None]).T @ X
    np.testing.assert_allclose(vcov @ info, np.eye(4), atol=1e-8)


def test_result_structure(cohort: pd.DataFrame) -> None:
    res = _crude(cohort, n_imputations=5, random_state=3)
    assert isinstance(res, MICorrection) and isinstance(res, cl.EstimateTable)
    f = res.to_frame()
    check_schema(f)
    assert f["analysis"].tolist() == ["naive", "corrected"]
    assert {"fmi", "df", "riv"} <= set(f.columns)
    assert np.isnan(f.loc[0, "fmi"]) and 0 < f.loc[1, "fmi"] < 1
    assert f.loc[1, "ci_method"] == "multiple_imputation_rubin"
    naive = cl.crude_effect(cohort, exposure="af_flag", outcome="mace_1y")
    assert res.naive[0].estimate == naive.estimate
    assert res.naive[0].conf_low == naive.conf_low
    assert len(res.imputations) == 5 and res.n_imputations == 5
    assert res.n_validated["total"] == int(cohort["af_valid"].notna().sum())
    assert res.imputation_model.terms[:2] == ("Intercept", "af_flag")
    assert "Multiple imputation" in str(res)


def test_pooled_by_rubin(cohort: pd.DataFrame) -> None:
    """The corrected row is Rubin's rules over the stored imputations, t interval."""
    from scipy import stats

    res = _crude(cohort, n_imputations=6, random_state=4)
    imp = res.imputations
    q, u = imp["estimate"].to_numpy(), imp["variance"].to_numpy()
    b = q.var(ddof=1)
    t = u.mean() + (1 + 1 / 6) * b
    co = res.corrected[0]
    assert co.estimate == pytest.approx(q.mean(), rel=1e-12)
    assert co.std_error == pytest.approx(math.sqrt(t), rel=1e-12)
    df = co.labels["df"]
    half = stats.t.ppf(0.975, df) * math.sqrt(t)
    assert co.conf_low == pytest.approx(q.mean() - half, rel=1e-10)


def test_flag_interactions_terms(cohort: pd.DataFrame) -> None:
    res = correct_exposure(cl.crude_effect, cohort, exposure="af_flag",
                           validation="af_valid", outcome="sbp_12m",
                           flag_interactions=True, n_imputations=2, random_state=1)
    assert res.imputation_model.terms == ("Intercept", "af_flag", "sbp_12m",
                                          "af_flag:sbp_12m")


def test_validated_rows_keep_truth(cohort: pd.DataFrame) -> None:
    """An estimator that reports the imputed exposure's disagreement with the truth."""
    def probe(data: pd.DataFrame, *, exposure: str, outcome: str) -> cl.EstimateTable:
        v = data["af_valid"].notna()
        mism = float((data.loc[v, exposure] != data.loc[v, "af_valid"]).mean())
        prev = float(data.loc[~v, exposure].mean())
        rows = (cl.Estimate(term="mismatch", estimate=mism, std_error=0.01),
                cl.Estimate(term="prevalence", estimate=prev, std_error=0.01))
        return cl.EstimateTable(rows=rows)

    res = correct_exposure(probe, cohort, exposure="af_flag", validation="af_valid",
                           outcome="mace_1y", n_imputations=4, random_state=1)
    imp = res.imputations
    assert (imp.loc[imp["term"] == "mismatch", "estimate"] == 0).all()
    # the imputed prevalence among non-validated rows is near the validated truth's
    prev = imp.loc[imp["term"] == "prevalence", "estimate"].mean()
    assert abs(prev - cohort["af_valid"].mean()) < 0.03
    naive = res.naive["prevalence"].estimate
    assert naive == pytest.approx(cohort.loc[cohort["af_valid"].isna(), "af_flag"].mean())


def test_same_seed_same_numbers_any_n_jobs(cohort: pd.DataFrame) -> None:
    """Seeds are spawned per imputation: batching over workers changes nothing (threads
    here, to keep the test fast; processes use the same batches and seeds)."""
    from joblib import parallel_config

    a = _crude(cohort, n_imputations=4, random_state=7)
    with parallel_config(backend="threading"):
        b = _crude(cohort, n_imputations=4, random_state=7, n_jobs=2)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    c = _crude(cohort, n_imputations=4, random_state=8)
    assert c.corrected[0].estimate != a.corrected[0].estimate


def test_bootstrap_draw(cohort: pd.DataFrame) -> None:
    res = _crude(cohort, n_imputations=4, random_state=2, imputation_draw="bootstrap")
    assert "bootstrap of validated rows" in res.notes[0]
    assert np.isfinite(res.corrected[0].std_error)


def test_model_result_every_coefficient(cohort: pd.DataFrame) -> None:
    res = correct_exposure(cl.cox, cohort, exposure="af_flag", validation="af_valid",
                           time="time", event="stroke", covariates=COX_COV,
                           imputation_covariates="bmi + death", n_imputations=3,
                           random_state=1)
    fit = cl.cox(cohort, time="time", event="stroke", covariates=COX_COV)
    assert [r.term for r in res.corrected] == list(fit.terms)
    assert res.naive["af_flag"].estimate == pytest.approx(math.exp(fit.params[0]))
    assert res.corrected["af_flag"].effect_measure == "hazard_ratio"
    assert "cumhaz(time)" in res.imputation_model.terms
    # the flag enters the imputation model once although it is a Cox covariate
    assert res.imputation_model.terms.count("af_flag") == 1


def test_curve_pooled_at_times(cohort: pd.DataFrame) -> None:
    res = correct_exposure(cl.kaplan_meier, cohort, exposure="af_flag",
                           validation="af_valid", time="time", event="dead",
                           by="af_flag", times=[1.0, 3.0], n_imputations=3, random_state=1)
    f = res.to_frame()
    assert len(f) == 8 and set(f["group"]) == {0, 1} and set(f["time"]) == {1.0, 3.0}
    co = res.corrected.to_frame()
    assert co["estimate"].between(0, 1).all() and co["p_value"].isna().all()


def test_competing_risks_indicators(cohort: pd.DataFrame) -> None:
    res = correct_exposure(cl.cumulative_incidence, cohort, exposure="af_flag",
                           validation="af_valid", time="time", event="event",
                           by="af_flag", times=[2.0], n_imputations=3, random_state=1)
    assert {"event==1", "event==2", "cumhaz(time)"} <= set(res.imputation_model.terms)
    assert set(res.to_frame()["cause"]) == {1, 2}


def test_adjusted_curves_contrast(cohort: pd.DataFrame) -> None:
    res = correct_exposure(cl.adjusted_survival, cohort, validation="af_valid",
                           time="time", event="dead", exposure="af_flag",
                           covariates="age + bmi", times=[2.0], n_imputations=3,
                           random_state=1)
    terms = res.corrected.to_frame()["term"].tolist()
    assert terms == ["survival probability at 2"] * 2 + ["survival difference at 2"]


# ------------------------------------------------------------------- the wrapper shape


def test_verbs_no_longer_take_correction_options() -> None:
    """The corrections are wrappers: the verbs' signatures are their own (issue 13)."""
    for est in (cl.ipw, cl.aipw, cl.gformula, cl.cox, cl.kaplan_meier, cl.adjusted_survival,
                cl.cumulative_incidence, cl.fine_gray):
        params = inspect.signature(est).parameters
        assert not {"exposure_validation", "exposure_error", "outcome_validation"} & set(params)
        assert "exposure_validation" not in (est.__doc__ or "")
        assert not hasattr(est, "__cl_raw__")
    with pytest.raises(TypeError, match="exposure_validation"):
        cl.ipw(cl.simulate_cohort(50, random_state=1), exposure="af_flag", outcome="mace_1y",
               covariates="age", exposure_validation="af_true")


def test_wrapper_returns_its_type_plain_verb_returns_its_own(cohort: pd.DataFrame) -> None:
    kw = dict(exposure="af_flag", outcome="mace_1y", covariates="age + bmi + diabetes")
    res = correct_exposure(cl.ipw, cohort, validation="af_valid", n_imputations=3,
                           random_state=5, **kw)
    plain = cl.ipw(cohort, **kw)
    assert isinstance(res, MICorrection)
    assert isinstance(plain, cl.Estimate) and plain.estimate == res.naive[0].estimate


@pytest.mark.parametrize("name", ["aipw", "gformula", "fine_gray"])
def test_other_estimators(cohort: pd.DataFrame, name: str) -> None:
    kw = {"aipw": dict(outcome="mace_1y", covariates="age + bmi"),
          "gformula": dict(outcome="mace_1y", covariates="age + bmi"),
          "fine_gray": dict(time="time", event="event", cause=1,
                            covariates="af_flag + age")}[name]
    res = correct_exposure(getattr(cl, name), cohort, validation="af_valid",
                           exposure="af_flag", n_imputations=2, random_state=1, **kw)
    assert isinstance(res, MICorrection)
    assert res.corrected[0].term == "af_flag" and np.isfinite(res.corrected[0].estimate)
    if name == "fine_gray":
        assert {"event==1", "event==2"} <= set(res.imputation_model.terms)


def test_bias_analysis_of_ipw_and_cox(cohort: pd.DataFrame) -> None:
    err = ErrorRates(sensitivity=0.85, specificity=0.97)
    res = cl.bias_analysis(cl.ipw, cohort, exposure="af_flag", error=err, n_sims=10,
                           random_state=1, outcome="mace_1y", covariates="age + bmi")
    assert isinstance(res, BiasAnalysis)
    cox_res = cl.bias_analysis(cl.cox, cohort, exposure="af_flag", error=err, n_sims=10,
                               random_state=1, time="time", event="stroke",
                               covariates="af_flag + age")
    assert isinstance(cox_res, BiasAnalysis) and cox_res.naive.effect_measure == "hazard_ratio"


def test_bias_analysis_of_curves_raises(cohort: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="kaplan_meier\\(\\) returns curves"):
        cl.bias_analysis(cl.kaplan_meier, cohort, exposure="af_flag",
                         error=ErrorRates(0.85, 0.97), time="time", event="dead",
                         by="af_flag")


# ----------------------------------------------------------------------- bad input


def test_validation_never_observed(cohort: pd.DataFrame) -> None:
    d = cohort.assign(af_valid=np.nan)
    with pytest.raises(DataValidationError, match="never observed"):
        _crude(d, n_imputations=2)


def test_validation_only_one_flag_arm(cohort: pd.DataFrame) -> None:
    d = cohort.assign(af_valid=cohort["af_valid"].where(cohort["af_flag"] == 1))
    with pytest.raises(DataValidationError, match="observed only where the flag is 1"):
        _crude(d, n_imputations=2)


def test_validation_only_one_truth_value(cohort: pd.DataFrame) -> None:
    d = cohort.assign(af_valid=cohort["af_valid"].where(cohort["af_valid"] == 0))
    with pytest.raises(DataValidationError, match="takes only the value 0"):
        _crude(d, n_imputations=2)


def test_validation_not_binary(cohort: pd.DataFrame) -> None:
    d = cohort.assign(af_valid=cohort["af_valid"] * 2)
    with pytest.raises(DataValidationError, match="must be coded like the flag"):
        _crude(d, n_imputations=2)


def test_flag_missing(cohort: pd.DataFrame) -> None:
    d = cohort.assign(af_flag=cohort["af_flag"].where(cohort["id"] % 50 != 0))
    with pytest.raises(MissingDataError, match="af_flag"):
        _crude(d, n_imputations=2)


def test_flag_missing_drop_is_counted(cohort: pd.DataFrame) -> None:
    d = cohort.assign(af_flag=cohort["af_flag"].where(cohort["id"] % 50 != 0))
    res = _crude(d, n_imputations=2, missing="drop", random_state=1)
    assert res.dropped.by_column == {"af_flag": 60}


def test_small_validation_subset_warns(cohort: pd.DataFrame) -> None:
    keep = cohort["af_valid"].notna() & ((cohort["af_flag"] == 0) | (cohort["id"] % 8 == 0))
    d = cohort.assign(af_valid=cohort["af_valid"].where(keep))
    assert ((d["af_valid"].notna()) & (d["af_flag"] == 1)).sum() < 10
    with pytest.warns(CohortWarning, match="few validated rows"):
        _crude(d, n_imputations=2, random_state=1)


def test_estimator_without_the_flag(cohort: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="does not use the flag"):
        correct_exposure(cl.cox, cohort, exposure="af_flag", validation="af_valid",
                         time="time", event="stroke", covariates=["age"], n_imputations=2)


def test_curves_need_times(cohort: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="times=None"):
        correct_exposure(cl.kaplan_meier, cohort, validation="af_valid", exposure="af_flag",
                         time="time", event="dead", by="af_flag", n_imputations=2)


def test_no_outcome(cohort: pd.DataFrame) -> None:
    def est(data, *, exposure):
        return cl.Estimate(term="x", estimate=0.0)

    with pytest.raises(DataValidationError, match="needs the outcome"):
        correct_exposure(est, cohort, exposure="af_flag", validation="af_valid")


def test_too_few_imputations(cohort: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match="n_imputations must be an int >= 2"):
        _crude(cohort, n_imputations=1)


# ------------------------------------------------------------------ simulated truth


def _mc(n_rep: int, n: int, m: int, which: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Per cohort: naive and corrected estimate (model scale), coverage of the truth."""
    out: dict[str, list] = {k: [] for k in which}
    truth = {"crude": TRUE_RD, "ipw": TRUE_ATE, "cox": TRUE_LOG_HR}
    for rep in range(n_rep):
        df = _cohort(n, 1_000 + rep)
        with warnings.catch_warnings():  # fragile fits in a few small simulated cohorts
            warnings.simplefilter("ignore", CohortWarning)
            if "crude" in which:
                r = _crude(df, imputation_covariates="bmi + age + diabetes", n_imputations=m,
                           random_state=rep)
                out["crude"].append(_summ(r, "af_flag", truth["crude"], False))
            if "ipw" in which:
                r = correct_exposure(cl.ipw, df, exposure="af_flag",
                                     validation="af_valid", outcome="mace_1y",
                                     covariates="age + bmi + diabetes",
                                     imputation_covariates="af_flag:bmi", n_imputations=m,
                                     random_state=rep)
                out["ipw"].append(_summ(r, "af_flag", truth["ipw"], False))
            if "cox" in which:
                r = correct_exposure(cl.cox, df, exposure="af_flag",
                                     validation="af_valid", time="time",
                                     event="stroke", covariates=COX_COV,
                                     imputation_covariates="bmi + death + af_flag:bmi",
                                     n_imputations=m, random_state=rep)
                out["cox"].append(_summ(r, "af_flag", truth["cox"], True))
    return {k: np.array(v) for k, v in out.items()}


def _summ(r: MICorrection, term: str, truth: float, log: bool) -> list[float]:
    nv, co = r.naive[term], r.corrected[term]
    tr = math.log if log else float
    cover = tr(co.conf_low) <= truth <= tr(co.conf_high)
    return [tr(nv.estimate), tr(co.estimate), float(cover)]


def test_corrected_crude_reduced_simulated_truth() -> None:
    """CI version: 12 cohorts of 4,000 (20% validated), crude risk difference."""
    res = _mc(12, 4_000, 5, ("crude",))["crude"]
    naive, corr = res[:, 0], res[:, 1]
    se = corr.std(ddof=1) / math.sqrt(len(corr))
    assert abs(corr.mean() - TRUE_RD) < 3 * se + 0.005
    assert naive.mean() < TRUE_RD - 0.015  # the flag attenuates the association
    assert res[:, 2].mean() >= 0.75


@pytest.mark.slow
def test_corrected_unbiased_and_covering_simulated_truth() -> None:
    """200 cohorts of 4,000 (20% validated, 10 imputations): crude RD, IPW ATE, Cox HR."""
    res = _mc(200, 4_000, 10, ("crude", "ipw", "cox"))
    truth = {"crude": TRUE_RD, "ipw": TRUE_ATE, "cox": TRUE_LOG_HR}
    for k, v in res.items():
        naive, corr, cover = v[:, 0], v[:, 1], v[:, 2]
        mc_se = corr.std(ddof=1) / math.sqrt(len(corr))
        print(f"{k}: truth {truth[k]:.4f} naive {naive.mean():.4f} corrected {corr.mean():.4f} "
              f"(MC SE {mc_se:.4f}) coverage {cover.mean():.3f}")
        assert abs(corr.mean() - truth[k]) < 3 * mc_se, k
        assert abs(naive.mean() - truth[k]) > 5 * naive.std(ddof=1) / math.sqrt(len(naive)), k
        assert 0.91 <= cover.mean() <= 0.99, (k, cover.mean())


@pytest.mark.slow
def test_ipw_truth_constant() -> None:
    """Re-derive TRUE_ATE from the DGP's closed-form risks (1,000,000 covariate draws)."""
    from cohortlab.datasets import simulate as sim

    p = sim._Params(effect_sbp=-5.0, effect_sbp_diabetes=-3.0, odds_ratio=0.75,
                    hazard_ratio=0.7, hazard_ratio_death=0.9, hazard_ratio_af=2.5,
                    odds_ratio_af=2.0, flag_threshold=0.5, weibull_shape=1.2, confounding=1.0)
    c = sim._draw_covariates(np.random.default_rng(99), 1_000_000, p)
    ey = []
    for a in (0, 1):
        pf1 = sim._p_flag(c["bmi"], a, 0.5)
        tot = 0.0
        for f, pf in ((1, pf1), (0, 1 - pf1)):
            cf = dict(c, af_true=np.full(pf1.size, a), af_flag=np.full(pf1.size, f))
            e = sim._propensity(cf, p)
            tot = tot + pf * (e * sim._mace_risk(cf, p, 1) + (1 - e) * sim._mace_risk(cf, p, 0))
        ey.append(np.mean(tot))
    assert ey[1] - ey[0] == pytest.approx(TRUE_ATE, abs=2e-4)
