"""Probabilistic bias analysis for a misclassified exposure (``bias_analysis``).

No external reference implementation is used (R's ``episensr`` is not installed here);
the checks are closed-form pieces (predictive values, the Beta matched to an interval, the
Beta from validation counts) and the simulated truth of ``simulate_cohort``: ``af_flag`` is
a misclassified ``af_true``, and ``mace_1y`` depends on ``af_true`` (conditional OR 2).

Truth of the crude estimand (``E[mace_1y | af_true = 1] - E[mace_1y | af_true = 0]`` in the
super-population at the default parameters): 0.13370 - 0.05361 = 0.08009 (risk ratio
2.494), computed from the closed-form conditional risks ``e(X) r1(X) + (1 - e(X)) r0(X)``
of ``cohortlab.datasets.simulate`` averaged over 4,000,000 covariate draws (seed 123; Monte
Carlo SE < 2e-4). ``test_crude_truth_constant_simulated_truth`` (slow) re-checks it on a
simulated cohort of 2,000,000.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta as beta_dist

import cohortlab as cl
from cohortlab._glm import fit_logistic
from cohortlab.exceptions import DataValidationError, MissingDataError
from cohortlab.exposures._misclassification import predictive_values, record_predictive_values
from cohortlab.exposures.error_rates import _beta_from_interval
from cohortlab.exposures.misclassification import (
    BetaRate,
    BiasAnalysis,
    ErrorRates,
    bias_analysis,
)

TRUE_RD = 0.08009  # crude risk difference of af_true on mace_1y (module docstring)
TRUE_RR = 2.494
ABS_CLOSED_FORM = 1e-12  # predictive values: same formula both sides
ABS_QUANTILE = 1e-6  # Beta matched to an interval: root finding to 1e-14 on the logit scale


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    df = cl.simulate_cohort(4_000, random_state=11)
    df["bmi30"] = (df["bmi"] >= 30).astype(int)
    return df


def _counts(v: pd.DataFrame) -> dict[str, int]:
    f, t = v["af_flag"].to_numpy(), v["af_true"].to_numpy()
    return {"tp": int(((f == 1) & (t == 1)).sum()), "fn": int(((f == 0) & (t == 1)).sum()),
            "tn": int(((f == 0) & (t == 0)).sum()), "fp": int(((f == 1) & (t == 0)).sum())}


def _counts_by(v: pd.DataFrame, by: str) -> dict[str, dict[int, int]]:
    out: dict[str, dict[int, int]] = {"tp": {}, "fn": {}, "tn": {}, "fp": {}}
    for lv, g in v.groupby(by):
        for k, c in _counts(g).items():
            out[k][int(lv)] = c
    return out


ER = ErrorRates(sensitivity=(0.83, 0.89), specificity=(0.965, 0.98))


# ------------------------------------------------------------------- closed-form pieces


def test_predictive_values_closed_form():
    se, sp, p = np.array([0.9]), np.array([0.95]), 0.1
    p_obs = np.array([se[0] * p + (1 - sp[0]) * (1 - p)])  # 0.135
    q1, q0, p_true = predictive_values(se, sp, p_obs)
    assert abs(p_true[0] - 0.1) < ABS_CLOSED_FORM
    assert abs(q1[0] - 0.09 / 0.135) < ABS_CLOSED_FORM  # PPV
    assert abs(q0[0] - 0.01 / 0.865) < ABS_CLOSED_FORM  # 1 - NPV


def test_beta_matched_to_interval_has_those_quantiles():
    for lo, hi in [(0.83, 0.89), (0.5, 0.7), (0.965, 0.985), (0.05, 0.3)]:
        a, b = _beta_from_interval(lo, hi)
        q = beta_dist.ppf([0.025, 0.975], a, b)
        assert abs(q[0] - lo) < ABS_QUANTILE and abs(q[1] - hi) < ABS_QUANTILE


def test_from_counts_is_beta_posterior_of_uniform_prior():
    er = ErrorRates.from_counts(tp=90, fn=10, tn=485, fp=15)
    assert er.sensitivity == BetaRate(91, 11) and er.specificity == BetaRate(486, 16)
    by = ErrorRates.from_counts(tp={0: 9, 1: 4}, fn={0: 1, 1: 2}, tn={0: 50, 1: 30},
                                fp={0: 2, 1: 1}, by="g")
    assert by.sensitivity[1] == BetaRate(5, 3) and by.levels() == [0, 1]


# --------------------------------------------------------------------- simulated truth
# af_flag's errors depend on bmi, and bmi raises the risk of mace_1y, so in this DGP the
# misclassification is differential by outcome (sensitivity 0.869 among non-cases, 0.827
# among cases, on 1,000,000 rows). The error model that matches the DGP is therefore rates
# by mace_1y (``by="mace_1y"``), here from a large external validation sample. With
# non-differential rates the corrected RD falls short of the truth by about 0.005-0.01.


@pytest.fixture(scope="module")
def rates_by_outcome() -> ErrorRates:
    val = cl.simulate_cohort(100_000, random_state=99)
    return ErrorRates.from_counts(**_counts_by(val, "mace_1y"), by="mace_1y")


def test_crude_rd_corrected_simulated_truth(rates_by_outcome):
    """Naive RD on af_flag is biased towards 0; the PBA median recovers the af_true RD."""
    df = cl.simulate_cohort(40_000, random_state=5)
    sample_truth = cl.crude_effect(df, exposure="af_true", outcome="mace_1y").estimate
    res = bias_analysis(cl.crude_effect, df, exposure="af_flag", outcome="mace_1y",
                        error=rates_by_outcome, n_sims=80, random_state=2024)
    assert isinstance(res, BiasAnalysis)
    naive = res.naive
    assert sample_truth - naive.estimate > 0.015  # visibly biased (0.024 here)
    assert naive.conf_high < TRUE_RD  # its CI misses the truth
    assert abs(res.systematic.estimate - sample_truth) < 0.005
    assert res.total.conf_low < TRUE_RD < res.total.conf_high
    assert res.total.conf_high - res.total.conf_low > res.systematic.conf_high \
        - res.systematic.conf_low
    assert res.n_rejected == 0 and res.n_failed == 0


def test_risk_ratio_by_subgroup_simulated_truth(rng):
    """Rates by a subgroup: a flag made from af_true with Se/Sp depending on bmi30 only."""
    df = cl.simulate_cohort(40_000, random_state=6)
    g = (df["bmi"] >= 30).to_numpy().astype(int)
    se, sp = np.array([0.94, 0.70])[g], np.array([0.98, 0.95])[g]
    t = df["af_true"].to_numpy()
    df["flag2"] = np.where(t == 1, rng.random(t.size) < se, rng.random(t.size) >= sp).astype(int)
    df["bmi30"] = g
    er = ErrorRates(sensitivity={0: (0.92, 0.96), 1: (0.66, 0.74)},
                    specificity={0: (0.975, 0.985), 1: (0.94, 0.96)}, by="bmi30")
    sample_truth = cl.crude_effect(df, exposure="af_true", outcome="mace_1y",
                                   effect_measure="ratio").estimate
    res = bias_analysis(cl.crude_effect, df, exposure="flag2", outcome="mace_1y", error=er,
                        effect_measure="ratio", n_sims=80, random_state=7)
    naive_bias = abs(np.log(res.naive.estimate / sample_truth))
    assert res.naive.is_ratio and naive_bias > 0.2  # 0.23 here
    # the median differs from the same-sample truth by the noise of the flag's own errors
    # (SD about 0.035 on the log scale here; 0.07 with these seeds, also with exact rates)
    assert abs(np.log(res.systematic.estimate / sample_truth)) < min(0.1, naive_bias / 2)
    assert res.total.conf_low < TRUE_RR < res.total.conf_high
    assert res.strata == ("mace_1y",)
    assert set(res.draws.columns) >= {"sensitivity[0]", "sensitivity[1]", "specificity[1]"}
    # the SE of the corrected rows is on the log scale, as for every ratio in cohortlab
    ok = res.draws["status"] == "ok"
    assert res.systematic.std_error == pytest.approx(
        np.log(res.draws.loc[ok, "systematic"]).std(ddof=1))


def test_unstratified_imputation_is_biased_to_null_simulated_truth():
    """Why the default stratifies by the outcome: imputing ignoring it attenuates further."""
    df = cl.simulate_cohort(40_000, random_state=5)
    res = bias_analysis(cl.crude_effect, df, exposure="af_flag", outcome="mace_1y", error=ER,
                        strata=[], n_sims=40, random_state=1)
    assert res.strata == () and res.systematic.estimate < res.naive.estimate


@pytest.mark.parametrize("seed", [101, 102, 103])
def test_total_interval_coverage_reduced_simulated_truth(seed, rates_by_outcome):
    df = cl.simulate_cohort(8_000, random_state=seed)
    res = bias_analysis(cl.crude_effect, df, exposure="af_flag", outcome="mace_1y",
                        error=rates_by_outcome, n_sims=60, random_state=seed)
    assert res.total.conf_low < TRUE_RD < res.total.conf_high


@pytest.mark.slow
def test_total_interval_coverage_simulated_truth(rates_by_outcome):
    """Coverage of the total interval over 100 cohorts."""
    hits = []
    for seed in range(100):
        df = cl.simulate_cohort(8_000, random_state=seed)
        res = bias_analysis(cl.crude_effect, df, exposure="af_flag", outcome="mace_1y",
                            error=rates_by_outcome, n_sims=300, random_state=seed)
        hits.append(res.total.conf_low < TRUE_RD < res.total.conf_high)
    assert np.mean(hits) >= 0.88


@pytest.mark.slow
def test_crude_truth_constant_simulated_truth():
    df = cl.simulate_cohort(2_000_000, random_state=1)
    est = cl.crude_effect(df, exposure="af_true", outcome="mace_1y")
    assert abs(est.estimate - TRUE_RD) < 3 * est.std_error


# --------------------------------------------------------------- behaviour and output


def test_same_seed_same_numbers_whatever_n_jobs(cohort):
    kw = dict(exposure="af_flag", outcome="mace_1y", error=ER, n_sims=6, random_state=3)
    r1 = bias_analysis(cl.crude_effect, cohort, n_jobs=1, **kw)
    r2 = bias_analysis(cl.crude_effect, cohort, n_jobs=2, **kw)
    pd.testing.assert_frame_equal(r1.draws, r2.draws)
    pd.testing.assert_frame_equal(r1.to_frame(), r2.to_frame())
    r3 = bias_analysis(cl.crude_effect, cohort, **{**kw, "random_state": 4})
    assert not r3.draws["estimate"].equals(r1.draws["estimate"])


def test_seeded_estimator_gets_its_own_seed(cohort):
    """aipw with cross-fitting draws folds: each run is seeded from its simulation."""
    from sklearn.linear_model import LogisticRegression

    kw = dict(exposure="af_flag", outcome="mace_1y", covariates=["age", "female"],
              ps_model=LogisticRegression(), cross_fit=2, error=ER, n_sims=3)
    r1 = bias_analysis(cl.aipw, cohort, random_state=8, **kw)
    r2 = bias_analysis(cl.aipw, cohort, random_state=8, **kw)
    pd.testing.assert_frame_equal(r1.draws, r2.draws)
    assert r1.naive.estimate == r2.naive.estimate


def test_result_renders_and_keeps_draws(cohort):
    res = bias_analysis(cl.crude_effect, cohort, exposure="af_flag", outcome="mace_1y",
                        error=ER, n_sims=20, random_state=1)
    frame = res.to_frame()
    assert frame["term"].tolist() == ["naive", "corrected (systematic)", "corrected (total)"]
    assert {"term", "estimate", "std_error", "conf_low", "conf_high", "p_value"} <= set(frame)
    assert (frame["conf_low"] <= frame["estimate"]).all()
    assert (frame["estimate"] <= frame["conf_high"]).all()
    assert len(res.draws) == 20 and (res.draws["status"] == "ok").all()
    for text in (res.summary(), repr(res), res.to_markdown(), res.to_latex(), res.to_html(),
                 res._repr_html_()):
        assert "corrected (total)" in text
    assert "20 of 20 simulations used" in res.summary()


def test_rejected_draws_are_counted(cohort):
    wide = ErrorRates(sensitivity=(0.05, 0.7), specificity=(0.2, 0.95))
    res = bias_analysis(cl.crude_effect, cohort, exposure="af_flag", outcome="mace_1y",
                        error=wide, n_sims=60, random_state=1)
    d = res.draws
    n_sesp = int((d["sensitivity"] + d["specificity"] <= 1).sum())
    assert n_sesp > 0 and res.n_rejected_se_sp == n_sesp
    assert res.n_rejected == int(d["status"].str.startswith("rejected").sum()) >= n_sesp
    assert d.loc[d["status"] != "ok", "estimate"].isna().all()
    assert any("rejected" in n for n in res.notes)


def test_labelled_exposure_with_reference_matches_01(cohort):
    d = cohort.assign(af_lab=np.where(cohort["af_flag"] == 1, "flagged", "clear"))
    kw = dict(outcome="mace_1y", error=ER, n_sims=10, random_state=5)
    r01 = bias_analysis(cl.crude_effect, cohort, exposure="af_flag", **kw)
    rlab = bias_analysis(cl.crude_effect, d, exposure="af_lab", reference="clear", **kw)
    np.testing.assert_allclose(rlab.draws["estimate"], r01.draws["estimate"])


def test_works_with_ipw_and_does_not_mutate(cohort):
    before = pd.util.hash_pandas_object(cohort).sum()
    res = bias_analysis(cl.ipw, cohort, exposure="af_flag", outcome="mace_1y",
                        covariates=["age", "female", "diabetes"], error=ER, n_sims=5,
                        random_state=1)
    assert res.naive.method == "ipw" and res.n_failed == 0
    assert pd.util.hash_pandas_object(cohort).sum() == before


def test_missing_exposure_raises_or_is_counted(cohort):
    d = cohort.copy()
    d.loc[d.index[:7], "af_flag"] = np.nan
    with pytest.raises(MissingDataError, match=r"bias_analysis\(\): 7 of 4,000 rows"):
        bias_analysis(cl.crude_effect, d, exposure="af_flag", outcome="mace_1y", error=ER,
                      n_sims=5)
    res = bias_analysis(cl.crude_effect, d, exposure="af_flag", outcome="mace_1y", error=ER,
                        n_sims=5, random_state=1, missing="drop")
    assert res.dropped.n_rows == 7 and res.naive.n == 3_993


# ------------------------------------------------------------------------- bad input


def test_point_rates_summing_to_at_most_one_raise():
    with pytest.raises(DataValidationError,
                       match=r"sensitivity \+ specificity must exceed 1; got 0.4 \+ 0.6 = 1"
                             r".*swapped"):
        ErrorRates(sensitivity=0.4, specificity=0.6)


def test_by_point_rates_summing_to_at_most_one_raise():
    with pytest.raises(DataValidationError, match=r"must exceed 1 at g=1"):
        ErrorRates(sensitivity={0: 0.9, 1: 0.3}, specificity={0: 0.9, 1: 0.5}, by="g")


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.2, 86, float("nan"), True, "0.9"])
def test_rates_outside_unit_interval_raise(bad):
    with pytest.raises(DataValidationError, match=r"sensitivity must be in \(0, 1\]"):
        ErrorRates(sensitivity=bad, specificity=0.95)


@pytest.mark.parametrize("bad", [(0.9, 0.8), (0.0, 0.5), (0.5, 1.0), (0.1, 0.2, 0.3)])
def test_bad_interval_raises(bad):
    with pytest.raises(DataValidationError, match=r"specificity as an interval must be"):
        ErrorRates(sensitivity=0.9, specificity=bad)


def test_bad_counts_raise():
    with pytest.raises(DataValidationError, match=r"non-negative integers"):
        ErrorRates.from_counts(tp=-1, fn=3, tn=4, fp=5)
    with pytest.raises(DataValidationError, match=r"same levels"):
        ErrorRates.from_counts(tp={0: 1, 1: 2}, fn={0: 1}, tn={0: 1, 1: 2}, fp={0: 1, 1: 2},
                               by="g")


def test_mapping_without_by_and_by_without_mapping_raise():
    with pytest.raises(DataValidationError, match=r"mapping of levels but by is None"):
        ErrorRates(sensitivity={0: 0.9}, specificity={0: 0.9})
    with pytest.raises(DataValidationError, match=r"with by='g', sensitivity must be a mapping"):
        ErrorRates(sensitivity=0.9, specificity={0: 0.9}, by="g")


def test_exposure_not_binary_raises(cohort):
    with pytest.raises(DataValidationError,
                       match=r"column 'site' \(exposure\) must be binary .*got 10 distinct"):
        bias_analysis(cl.crude_effect, cohort, exposure="site", outcome="mace_1y", error=ER)


def test_by_levels_without_rates_raise(cohort):
    er = ErrorRates(sensitivity={0: 0.9}, specificity={0: 0.97, 1: 0.95}, by="bmi30")
    with pytest.raises(DataValidationError,
                       match=r"levels \[1\] of column 'bmi30' \(error.by\) have no "
                             r"sensitivity/specificity.*Give rates for every level"):
        bias_analysis(cl.crude_effect, cohort, exposure="af_flag", outcome="mace_1y", error=er)


def test_by_column_not_found_raises(cohort):
    er = ErrorRates(sensitivity={0: 0.9}, specificity={0: 0.97}, by="bmi_30")
    with pytest.raises(DataValidationError, match=r"column 'bmi_30' not found \(by\). Did you"):
        bias_analysis(cl.crude_effect, cohort, exposure="af_flag", outcome="mace_1y", error=er)


def test_estimator_without_exposure_raises(cohort):
    def my_estimator(data, *, treatment, outcome):  # pragma: no cover - never called
        return None

    with pytest.raises(DataValidationError,
                       match=r"estimator my_estimator\(\) has no exposure argument"):
        bias_analysis(my_estimator, cohort, exposure="af_flag", outcome="mace_1y", error=ER)


def test_estimator_not_callable_raises(cohort):
    est = cl.crude_effect(cohort, exposure="af_flag", outcome="mace_1y")
    with pytest.raises(DataValidationError, match=r"estimator must be a cohortlab verb"):
        bias_analysis(est, cohort, exposure="af_flag", outcome="mace_1y", error=ER)


def test_error_not_error_rates_raises(cohort):
    with pytest.raises(DataValidationError, match=r"error must be an ErrorRates; got dict"):
        bias_analysis(cl.crude_effect, cohort, exposure="af_flag", outcome="mace_1y",
                      error={"sensitivity": 0.9, "specificity": 0.95})


def test_n_sims_invalid_raises(cohort):
    with pytest.raises(DataValidationError, match=r"n_sims must be an int >= 2; got 1"):
        bias_analysis(cl.crude_effect, cohort, exposure="af_flag", outcome="mace_1y",
                      error=ER, n_sims=1)


def test_continuous_outcome_needs_binned_strata(cohort):
    with pytest.raises(DataValidationError,
                       match=r"column 'sbp_12m' \(strata\) has .* distinct values.*pd.qcut"):
        bias_analysis(cl.crude_effect, cohort, exposure="af_flag", outcome="sbp_12m",
                      error=ER)


def test_incompatible_rates_raise(cohort):
    # specificity 0.5 implies >= 50% flagged; the observed flag prevalence is about 10%
    er = ErrorRates(sensitivity=0.9, specificity=0.5 + 1e-9 + 0.0)
    with pytest.raises(cl.exceptions.CohortError, match=r"only 0 of 5 simulations"):
        bias_analysis(cl.crude_effect, cohort, exposure="af_flag", outcome="mace_1y",
                      error=er, n_sims=5)


# ------------------------------------------------- record-level prevalence model (H11)
# prevalence_covariates: p*_i is the fitted value of a logistic model of the flag, so the
# imputation keeps continuous confounders. Coverage against the simulated truth for IPW is in
# test_correction_coverage.py (ipw_bias_analysis).


def test_record_predictive_values_closed_form():
    """p = (p* + Sp - 1) / (Se + Sp - 1); PPV = Se p / p*, 1 - NPV = (1 - Se) p / (1 - p*)."""
    se, sp = np.array([0.9, 0.9, 0.8]), np.array([0.95, 0.95, 0.99])
    p_obs = np.array([0.135, 0.02, 0.85])  # p = 0.1, p < 0 (clipped), p > 1 (clipped)
    q1, q0, n_clip = record_predictive_values(se, sp, p_obs)
    assert n_clip == 2
    assert abs(q1[0] - 0.09 / 0.135) < ABS_CLOSED_FORM
    assert abs(q0[0] - 0.01 / 0.865) < ABS_CLOSED_FORM
    assert abs(q1[1] - 0.9 * 1e-6 / 0.02) < ABS_CLOSED_FORM  # p clipped to 1e-6
    assert abs(q1[2] - 0.8 * (1 - 1e-6) / 0.85) < ABS_CLOSED_FORM  # p clipped to 1 - 1e-6
    assert q0[2] == 1.0  # (1 - Se)(1 - 1e-6) / 0.15 > 1, clipped to a probability


def test_saturated_prevalence_model_equals_cells(cohort):
    """A saturated model (outcome x bmi30) fits the cell means: same draws, same seed."""
    kw = dict(exposure="af_flag", outcome="mace_1y", error=ER, n_sims=12, random_state=4)
    cells = bias_analysis(cl.crude_effect, cohort, strata=["mace_1y", "bmi30"], **kw)
    rec = bias_analysis(cl.crude_effect, cohort, prevalence_covariates="bmi30 + mace_1y:bmi30",
                        **kw)
    assert rec.prevalence_model == "C(mace_1y) + bmi30 + mace_1y:bmi30"
    assert (rec.draws["n_clipped"] == 0).all() and rec.n_rejected == 0
    pd.testing.assert_frame_equal(rec.draws.drop(columns="n_clipped"), cells.draws)
    assert rec.systematic.estimate == cells.systematic.estimate
    assert rec.total.conf_low == cells.total.conf_low
    assert "logistic model on C(mace_1y) + bmi30" in rec.summary()


def test_saturated_prevalence_model_with_by_equals_cells(cohort):
    """Rates by bmi30: by's levels enter the model (here already as C(bmi30))."""
    er = ErrorRates(sensitivity={0: (0.85, 0.92), 1: (0.75, 0.85)},
                    specificity={0: (0.97, 0.985), 1: (0.95, 0.97)}, by="bmi30")
    kw = dict(exposure="af_flag", outcome="mace_1y", error=er, n_sims=10, random_state=9)
    cells = bias_analysis(cl.crude_effect, cohort, **kw)
    rec = bias_analysis(cl.crude_effect, cohort, prevalence_covariates="C(mace_1y) * C(bmi30)",
                        **kw)
    assert rec.n_rejected == cells.n_rejected == 0
    np.testing.assert_array_equal(rec.draws["estimate"], cells.draws["estimate"])
    np.testing.assert_array_equal(rec.draws["total"], cells.draws["total"])


def test_prevalence_model_adds_strata_and_by_as_categories(cohort):
    er = ErrorRates(sensitivity={0: 0.9, 1: 0.8}, specificity={0: 0.98, 1: 0.96}, by="bmi30")
    res = bias_analysis(cl.crude_effect, cohort, exposure="af_flag", outcome="mace_1y",
                        error=er, prevalence_covariates=["age", "bmi"], n_sims=3,
                        random_state=1)
    assert res.prevalence_model == "C(mace_1y) + C(bmi30) + age + bmi"


def test_clipped_records_are_counted_and_draws_rejected(cohort):
    """Records with p* <= 1 - Sp have p <= 0: counted; > 5% of records rejects the draw."""
    er = ErrorRates(sensitivity=0.85, specificity=(0.93, 0.97))
    res = bias_analysis(cl.crude_effect, cohort, exposure="af_flag", outcome="mace_1y",
                        error=er, prevalence_covariates=["age"], n_sims=30, random_state=1)
    # the same logistic fit by hand: intercept, mace_1y, age
    X = np.column_stack([np.ones(len(cohort)), cohort["mace_1y"], cohort["age"]])
    p_obs = fit_logistic(X, cohort["af_flag"].to_numpy(float)).fitted
    d = res.draws
    expected = (p_obs[None, :] <= 1.0 - d["specificity"].to_numpy()[:, None]).sum(axis=1)
    np.testing.assert_array_equal(d["n_clipped"].to_numpy(), expected)
    too_many = expected > 0.05 * len(cohort)
    assert too_many.any() and (~too_many).any()
    np.testing.assert_array_equal(d["status"] == "rejected_prevalence", too_many)
    assert res.n_rejected == int(too_many.sum())
    assert any("for more than 5% of the records" in n for n in res.notes)
    assert any("clipped the implied true prevalence" in n for n in res.notes)


def test_prevalence_covariates_with_ipw(cohort):
    kw = dict(outcome="mace_1y", covariates=["age", "bmi", "diabetes"], n_sims=4,
              random_state=2)
    res = bias_analysis(cl.ipw, cohort, exposure="af_flag", error=ER,
                        prevalence_covariates=["age", "bmi", "diabetes"], **kw)
    assert res.prevalence_model == "C(mace_1y) + age + bmi + diabetes"


def test_prevalence_covariates_missing_raise_or_counted(cohort):
    d = cohort.copy()
    d.loc[d.index[:5], "bmi"] = np.nan
    kw = dict(exposure="af_flag", outcome="mace_1y", error=ER, n_sims=3, random_state=1,
              prevalence_covariates=["age", "bmi"])
    with pytest.raises(MissingDataError,
                       match=r"bias_analysis\(\): 5 of 4,000 rows.*columns: bmi \(5\)"):
        bias_analysis(cl.crude_effect, d, **kw)
    res = bias_analysis(cl.crude_effect, d, missing="drop", **kw)
    assert res.dropped.n_rows == 5 and res.naive.n == 3_995


def test_prevalence_covariates_unknown_column_raises(cohort):
    with pytest.raises(DataValidationError,
                       match=r"column 'bmi_30' not found \(covariates\)"):
        bias_analysis(cl.crude_effect, cohort, exposure="af_flag", outcome="mace_1y",
                      error=ER, prevalence_covariates=["age", "bmi_30"])
    with pytest.raises(DataValidationError, match=r"column 'agee' not found"):
        bias_analysis(cl.crude_effect, cohort, exposure="af_flag", outcome="mace_1y",
                      error=ER, prevalence_covariates="agee + bmi")


def test_prevalence_covariates_with_the_flag_raises(cohort):
    with pytest.raises(DataValidationError,
                       match=r"prevalence_covariates models the flag 'af_flag' and cannot "
                             r"contain it"):
        bias_analysis(cl.crude_effect, cohort, exposure="af_flag", outcome="mace_1y",
                      error=ER, prevalence_covariates=["age", "af_flag"])


def test_prevalence_covariates_constant_column_raises(cohort):
    d = cohort.assign(one=1.0)
    with pytest.raises(DataValidationError, match=r"\['one'\] are constant"):
        bias_analysis(cl.crude_effect, d, exposure="af_flag", outcome="mace_1y", error=ER,
                      prevalence_covariates=["age", "one"])
