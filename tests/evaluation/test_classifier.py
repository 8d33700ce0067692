"""evaluate_classifier against R (pROC, rms, prop.test), brute force and simulated truth.

Reference: tests/reference/classifier_eval.json, written by tests/reference/r/classifier_eval.R
(R 4.2.2, pROC 1.18.0, rms 6.5.0), e.g.

    r <- roc(y, p, levels = c(0, 1), direction = "<"); ci.auc(r, method = "delong")
    val.prob(p, y, pl = FALSE)[c("Intercept", "Slope")]; vcov(lrm(y ~ qlogis(p)))
    glm(y ~ 1, offset = qlogis(p), family = binomial)      # calibration-in-the-large
    prop.test(x, n, correct = FALSE)$conf.int               # Wilson
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import REFERENCE, load_reference
from scipy import special, stats

import cohortlab as cl
from cohortlab.evaluation import _metrics as km
from cohortlab.evaluation.classifier import OVERALL, ClassifierEvaluation, evaluate_classifier
from cohortlab.exceptions import DataValidationError, MissingDataError

ATOL_AUC = 1e-8    # AUROC: exact rank statistic on both sides
ATOL_SE = 1e-6     # DeLong SE and CI: closed form, same n - 1 denominators as pROC
ATOL_CAL = 1e-6    # calibration: Newton to 1e-11 here, lrm / glm(epsilon = 1e-14) in R
ATOL_EXACT = 1e-10 # Brier, Wilson, net benefit: closed form
THRESHOLD = 0.2
NB_THRESHOLDS = [0.05, 0.1, 0.2, 0.3]

REF = load_reference("classifier_eval")


def _nhefs() -> pd.DataFrame:
    from cohortlab.datasets import load_nhefs

    d = load_nhefs()
    d = d.dropna(subset=["death", "age", "sex", "race", "smokeintensity", "sbp"]).copy()
    b = REF["data"]["nhefs_model"]["coefficients"]
    eta = b["(Intercept)"] + sum(b[c] * d[c].astype(float) for c in
                                 ["age", "sex", "race", "smokeintensity", "sbp"])
    d["score"] = special.expit(eta)
    return d


def _asah() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "asah.csv")
    d["poor"] = (d["outcome"] == "Poor").astype(int)
    d["score"] = d["s100b"] / (1 + d["s100b"])
    return d


CASES = {
    "nhefs": (_nhefs, "death", "sex", "by_sex", "heterogeneity_sex"),
    "asah": (_asah, "poor", "gender", "by_gender", "heterogeneity_gender"),
}


def _check_group(frame: pd.DataFrame, group: object, r: dict) -> None:
    f = frame[frame["group"] == group].set_index("term")
    assert int(f.loc["auroc", "n"]) == r["n"] and int(f.loc["auroc", "n_events"]) == r["n_events"]
    assert f.loc["auroc", "estimate"] == pytest.approx(r["auc"], abs=ATOL_AUC)
    assert f.loc["auroc", "std_error"] == pytest.approx(r["auc_se_delong"], abs=ATOL_SE)
    assert f.loc["auroc", "conf_low"] == pytest.approx(r["auc_ci_delong"][0], abs=ATOL_SE)
    assert f.loc["auroc", "conf_high"] == pytest.approx(r["auc_ci_delong"][1], abs=ATOL_SE)
    # rms val.prob "Intercept" / "Slope" and their lrm SEs; offset-glm calibration-in-the-large
    assert f.loc["recalibration_intercept", "estimate"] == pytest.approx(
        r["valprob_intercept"], abs=ATOL_CAL)
    assert f.loc["calibration_slope", "estimate"] == pytest.approx(r["valprob_slope"], abs=ATOL_CAL)
    assert f.loc["recalibration_intercept", "std_error"] == pytest.approx(
        r["recal_se"][0], abs=ATOL_CAL)
    assert f.loc["calibration_slope", "std_error"] == pytest.approx(r["recal_se"][1], abs=ATOL_CAL)
    assert f.loc["calibration_intercept", "estimate"] == pytest.approx(r["citl"], abs=ATOL_CAL)
    assert f.loc["calibration_intercept", "std_error"] == pytest.approx(r["citl_se"], abs=ATOL_CAL)
    assert f.loc["brier", "estimate"] == pytest.approx(r["valprob_brier"], abs=ATOL_EXACT)
    assert f.loc["brier", "std_error"] == pytest.approx(r["brier_se"], abs=ATOL_EXACT)
    for term in ("sensitivity", "specificity", "ppv", "npv"):
        w = r[term]
        assert f.loc[term, "estimate"] == pytest.approx(w["estimate"], abs=ATOL_EXACT)
        assert f.loc[term, "conf_low"] == pytest.approx(w["lower"], abs=ATOL_EXACT)
        assert f.loc[term, "conf_high"] == pytest.approx(w["upper"], abs=ATOL_EXACT)


@pytest.mark.parametrize("case", list(CASES))
def test_matches_r_pROC_rms_overall_and_by_group(case):
    load, label, by, key, _ = CASES[case]
    d = load()
    ref = REF["estimates"][case]
    ev = evaluate_classifier(d, score="score", label=label, by=by, threshold=THRESHOLD,
                             thresholds=NB_THRESHOLDS)
    frame = ev.to_frame()
    _check_group(frame, OVERALL, ref["overall"])
    for level, r in ref[key].items():
        group = int(level) if case == "nhefs" else level
        _check_group(frame, group, r)
        nb = ev.net_benefit[ev.net_benefit["group"] == group]
        np.testing.assert_allclose(nb["net_benefit"], r["net_benefit"]["model"], atol=ATOL_EXACT)
        np.testing.assert_allclose(nb["treat_all"], r["net_benefit"]["treat_all"],
                                   atol=ATOL_EXACT)
    nb = ev.net_benefit[ev.net_benefit["group"] == OVERALL]
    np.testing.assert_allclose(nb["net_benefit"], ref["overall"]["net_benefit"]["model"],
                               atol=ATOL_EXACT)


@pytest.mark.parametrize("case", list(CASES))
def test_heterogeneity_matches_r(case):
    load, label, by, _, hkey = CASES[case]
    h = REF["estimates"][case][hkey]
    ev = evaluate_classifier(load(), score="score", label=label, by=by)
    het = ev.heterogeneity.to_frame().set_index("term")
    auc, slope = het.loc["auroc: heterogeneity"], het.loc["calibration_slope: heterogeneity"]
    assert isinstance(ev.heterogeneity, cl.TestTable) and math.isnan(auc["estimate"])
    assert auc["statistic"] == pytest.approx(h["auc_q"], abs=ATOL_SE)
    assert auc["p_value"] == pytest.approx(h["auc_p"], abs=ATOL_SE)
    assert auc["pooled"] == pytest.approx(h["auc_pooled"], abs=ATOL_SE)
    assert auc["df"] == h["auc_df"]
    assert slope["statistic"] == pytest.approx(h["slope_q"], abs=ATOL_CAL)
    assert slope["p_value"] == pytest.approx(h["slope_p"], abs=ATOL_CAL)
    assert slope["pooled"] == pytest.approx(h["slope_pooled"], abs=ATOL_CAL)


def test_kernel_matches_pROC_on_raw_s100b():
    """pROC's documented aSAH example: AUC 0.7314, DeLong 95% CI 0.6301-0.8326."""
    d = _asah()
    r = REF["estimates"]["asah"]["s100b_raw"]
    auc, var = km.delong_auc(km.score_counts(d["s100b"].to_numpy(), d["poor"].to_numpy(float)))
    assert auc == pytest.approx(r["auc"], abs=ATOL_AUC)
    assert var == pytest.approx(r["var"], abs=1e-10)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose([auc - z * var**0.5, auc + z * var**0.5], r["ci"], atol=ATOL_SE)
    assert round(auc, 4) == 0.7314


def _delong_brute(s: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """O(n^2) DeLong (1988) from the full pairwise kernel psi(x, y)."""
    x, z = s[y == 1], s[y == 0]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    auc = psi.mean()
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return auc, v10.var(ddof=1) / x.size + v01.var(ddof=1) / z.size


@pytest.mark.parametrize("seed", range(5))
def test_delong_matches_quadratic_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 60 + 20 * seed
    y = rng.binomial(1, 0.35, n).astype(float)
    s = np.round(rng.uniform(size=n) + 0.3 * y, 1)  # coarse: many ties within and across classes
    auc, var = km.delong_auc(km.score_counts(s, y))
    b_auc, b_var = _delong_brute(s, y)
    assert auc == pytest.approx(b_auc, abs=1e-12)
    assert var == pytest.approx(b_var, abs=1e-12)


def test_average_precision_matches_sklearn(rng):
    from sklearn.metrics import average_precision_score

    y = rng.binomial(1, 0.3, 500)
    s = np.round(rng.uniform(size=500) * 0.7 + 0.3 * y, 2)
    assert km.average_precision(km.score_counts(s, y.astype(float))) == pytest.approx(
        average_precision_score(y, s), abs=1e-12)


def test_auroc_invariant_to_monotone_transform(rng):
    x = rng.normal(size=800)
    y = rng.binomial(1, special.expit(x))
    d = pd.DataFrame({"p": special.expit(x), "q": special.expit(3 * x + 1) ** 2, "y": y})
    a = evaluate_classifier(d, score="p", label="y").to_frame().set_index("term")
    b = evaluate_classifier(d, score="q", label="y").to_frame().set_index("term")
    for col in ("estimate", "std_error", "conf_low", "conf_high"):
        assert a.loc["auroc", col] == pytest.approx(b.loc["auroc", col], abs=1e-12)
    assert a.loc["auprc", "estimate"] == pytest.approx(b.loc["auprc", "estimate"], abs=1e-12)


def _coverage(n_rep: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    mu, n1, n0 = 1.0, 60, 140
    true_auc = stats.norm.cdf(mu / np.sqrt(2))  # binormal, unit variances
    z = stats.norm.ppf(0.975)
    hit = 0
    for _ in range(n_rep):
        s = special.expit(np.concatenate([rng.normal(mu, 1, n1), rng.normal(0, 1, n0)]))
        y = np.r_[np.ones(n1), np.zeros(n0)]
        auc, var = km.delong_auc(km.score_counts(s, y))
        hit += abs(auc - true_auc) <= z * np.sqrt(var)
    return hit / n_rep


def test_auroc_ci_coverage_simulated_truth():
    """Reduced: 400 binormal samples (AUC = Phi(1 / sqrt 2) = 0.760), coverage near 0.95."""
    assert 0.92 <= _coverage(400, 7) <= 0.975


@pytest.mark.slow
def test_auroc_ci_coverage_simulated_truth_large():
    assert 0.94 <= _coverage(10_000, 8) <= 0.96


def test_auroc_ci_coverage_through_the_verb_simulated_truth():
    rng = np.random.default_rng(3)
    n1, n0, mu = 80, 120, 0.8
    true_auc = stats.norm.cdf(mu / np.sqrt(2))
    hits = 0
    for _ in range(60):
        s = special.expit(np.concatenate([rng.normal(mu, 1, n1), rng.normal(0, 1, n0)]))
        d = pd.DataFrame({"s": s, "y": np.r_[np.ones(n1), np.zeros(n0)].astype(int)})
        r = evaluate_classifier(d, score="s", label="y").to_frame().set_index("term")
        hits += r.loc["auroc", "conf_low"] <= true_auc <= r.loc["auroc", "conf_high"]
    assert hits >= 51  # P(Binomial(60, 0.95) < 52) ~ 0.003


# ---------------------------------------------------------------- result object
def _toy(rng: np.random.Generator, n: int = 600) -> pd.DataFrame:
    x = rng.normal(size=n)
    return pd.DataFrame({"p": special.expit(x - 0.5), "y": rng.binomial(1, special.expit(x - 0.5)),
                         "site": rng.choice(["a", "b", "c"], n)})


def test_result_renders_and_plots(rng):
    ev = evaluate_classifier(_toy(rng), score="p", label="y", by="site", threshold=0.4)
    assert isinstance(ev, ClassifierEvaluation)
    frame = ev.to_frame()
    from cohortlab.results import check_schema

    check_schema(frame)
    assert {"group", "n", "n_events", "ci_method", "p_adjusted"} <= set(frame.columns)
    assert set(frame["group"]) == {OVERALL, "a", "b", "c"}
    text = ev.summary()
    assert text.startswith("Classifier evaluation") and repr(ev) == text
    assert "auroc: heterogeneity" in text
    for out in (ev.to_markdown(), ev.to_latex(), ev.to_html(), ev._repr_html_()):
        assert isinstance(out, str) and len(out) > 100
    for ax in (ev.plot_roc(), ev.plot_calibration(), ev.plot_decision_curve()):
        assert ax.get_xlabel()
    assert len(ev.heterogeneity) == 2 and len(ev.vs_pooled) == 2 * 3
    pooled = ev.heterogeneity["auroc: heterogeneity"].labels["pooled"]
    auc_a = frame[(frame["term"] == "auroc") & (frame["group"] == "a")]["estimate"].iloc[0]
    dev_a = ev.vs_pooled["auroc: site = a vs pooled"]
    assert dev_a.estimate == pytest.approx(auc_a - pooled, rel=1e-12)
    assert set(ev.net_benefit.columns) >= {"threshold", "net_benefit", "treat_all", "treat_none"}
    assert len(ev.calibration_bins) == 4 * 10


def test_p_adjusted_is_holm_across_subgroups(rng):
    from cohortlab.inference import adjust_pvalues

    ev = evaluate_classifier(_toy(rng), score="p", label="y", by="site")
    f = ev.to_frame()
    s = f[(f["term"] == "calibration_slope") & (f["group"] != OVERALL)]
    np.testing.assert_allclose(s["p_adjusted"], adjust_pvalues(s["p_value"], "holm"))
    o = f[(f["term"] == "auroc") & (f["group"] == OVERALL)]
    assert o["p_adjusted"].iloc[0] == o["p_value"].iloc[0]


def test_conf_level_narrows_intervals(rng):
    d = _toy(rng)
    a = evaluate_classifier(d, score="p", label="y", threshold=0.4).to_frame()
    b = evaluate_classifier(d, score="p", label="y", threshold=0.4, conf_level=0.8).to_frame()
    ok = a["conf_low"].notna()
    assert (b.loc[ok, "conf_high"] - b.loc[ok, "conf_low"]
            < a.loc[ok, "conf_high"] - a.loc[ok, "conf_low"]).all()


def test_ece_by_hand(rng):
    d = _toy(rng)
    ev = evaluate_classifier(d, score="p", label="y", n_bins=5)
    b = np.minimum((d["p"] * 5).astype(int), 4)
    g = d.groupby(b)
    hand = (g.size() / len(d) * (g["y"].mean() - g["p"].mean()).abs()).sum()
    assert ev.to_frame().set_index("term").loc["ece", "estimate"] == pytest.approx(hand)


def test_ppv_undefined_is_nan_with_note(rng):
    d = _toy(rng)
    ev = evaluate_classifier(d, score="p", label="y", threshold=1.0)
    f = ev.to_frame().set_index("term")
    assert np.isnan(f.loc["ppv", "estimate"]) and f.loc["sensitivity", "estimate"] == 0
    assert any("PPV is undefined" in n for n in ev.notes)


def test_scores_of_0_or_1_left_out_of_calibration_with_note(rng):
    d = _toy(rng)
    d.loc[:4, "p"] = 0.0
    ev = evaluate_classifier(d, score="p", label="y")
    assert any("5 rows with score exactly 0 or 1" in n for n in ev.notes)
    assert np.isfinite(ev.to_frame().set_index("term").loc["calibration_slope", "estimate"])


def test_missing_drop_counts_rows(rng):
    d = _toy(rng)
    d.loc[[1, 2], "p"] = np.nan
    d.loc[[2, 3], "site"] = None
    ev = evaluate_classifier(d, score="p", label="y", by="site", missing="drop")
    assert ev.dropped.n_rows == 3 and ev.dropped.by_column == {"p": 2, "site": 2}
    assert ev.n == len(d) - 3


def test_bool_label_accepted(rng):
    d = _toy(rng)
    a = evaluate_classifier(d, score="p", label="y").to_frame()
    d["y"] = d["y"].astype(bool)
    b = evaluate_classifier(d, score="p", label="y").to_frame()
    pd.testing.assert_frame_equal(a, b)


# ---------------------------------------------------------------- bad input
def test_label_not_binary_raises(rng):
    d = _toy(rng)
    d.loc[0, "y"] = 2
    with pytest.raises(DataValidationError, match=r"column 'y' \(label\) must be coded 0/1.*\[0, 1, 2\]"):
        evaluate_classifier(d, score="p", label="y")


def test_string_label_raises(rng):
    d = _toy(rng)
    d["y"] = np.where(d["y"] == 1, "dead", "alive")
    with pytest.raises(DataValidationError, match=r"'alive', 'dead'.*eq\(<the positive label>\)"):
        evaluate_classifier(d, score="p", label="y")


def test_score_outside_unit_interval_raises(rng):
    d = _toy(rng)
    d.loc[0, "p"] = 1.7
    with pytest.raises(DataValidationError, match=r"'p' \(score\).*\[0, 1\]; got values in .*1\.7"):
        evaluate_classifier(d, score="p", label="y")


def test_subgroup_without_positives_raises_naming_it(rng):
    d = _toy(rng)
    d.loc[d["site"] == "b", "y"] = 0
    with pytest.raises(DataValidationError, match=r"subgroup site = 'b' has no positives"):
        evaluate_classifier(d, score="p", label="y", by="site")


def test_data_without_negatives_raises(rng):
    d = _toy(rng)
    d["y"] = 1
    with pytest.raises(DataValidationError, match=r"the data has no negatives \(label 0\)"):
        evaluate_classifier(d, score="p", label="y")


def test_missing_values_raise_by_default(rng):
    d = _toy(rng)
    d.loc[0, "y"] = np.nan
    with pytest.raises(MissingDataError, match=r"1 of 600 rows have missing values.*y \(1\)"):
        evaluate_classifier(d, score="p", label="y")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"threshold": 1.5}, r"threshold must be a probability in \[0, 1\]; got 1\.5"),
    ({"thresholds": [0.1, 1.0]}, r"thresholds must be probabilities strictly between 0 and 1"),
    ({"thresholds": []}, r"thresholds must be probabilities"),
    ({"n_bins": 0}, r"n_bins must be an int >= 1; got 0"),
    ({"p_adjust": "BH"}, r"p_adjust must be one of"),
    ({"conf_level": 95}, r"conf_level must be a float in \(0, 1\); got 95\. Did you mean 0\.95"),
    ({"missing": "omit"}, r"missing must be one of"),
    ({"by": "sitee"}, r"column 'sitee' not found \(by\)\. Did you mean 'site'"),
])
def test_bad_arguments_raise(rng, kwargs, match):
    with pytest.raises(DataValidationError, match=match):
        evaluate_classifier(_toy(rng), score="p", label="y", **kwargs)


def test_not_a_frame_raises():
    with pytest.raises(DataValidationError, match="data must be a pandas DataFrame"):
        evaluate_classifier({"p": [0.1]}, score="p", label="y")  # type: ignore[arg-type]


def test_input_frame_unchanged(rng):
    d = _toy(rng)
    before = pd.util.hash_pandas_object(d).sum()
    evaluate_classifier(d, score="p", label="y", by="site", threshold=0.3)
    assert pd.util.hash_pandas_object(d).sum() == before


def test_large_input_by_group_runs():  # speed: benchmarks/bench_evaluation.py
    rng = np.random.default_rng(11)
    n = 200_000
    x = rng.normal(size=n)
    d = pd.DataFrame({"p": special.expit(x), "y": rng.binomial(1, special.expit(x)),
                      "g": rng.integers(0, 4, n)})
    ev = evaluate_classifier(d, score="p", label="y", by="g", threshold=0.5)
    assert len(ev.groups) == 4
