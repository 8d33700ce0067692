"""compare_classifiers and compare_survival_models against R, brute force and invariants.

Reference: tests/reference/compare_models.json, written by tests/reference/r/compare_models.R
(R 4.2.2, pROC 1.18.0, survival 3.5.3, riskRegression 2022.11.28), e.g.

    r1 <- roc(outcome, s100b, levels = c("Good", "Poor"), direction = "<")
    roc.test(r1, r2, method = "delong", paired = TRUE)      # z = -2.209, p = 0.0272 (s100b - wfns)
    cov(r1, r2, method = "delong")
    concordance(fit_a, fit_b)$var                            # joint IJ variance of two C's
    Score(list(a = risk_a, b = risk_b), Surv(time, event) ~ 1, times = c(180, 365),
          metrics = c("auc", "brier"), contrasts = TRUE, cens.model = "km",
          conservative = FALSE)$AUC$contrasts               # b - a
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from helpers import REFERENCE, load_reference

import cohortlab as cl
from cohortlab.evaluation import _metrics as km
from cohortlab.evaluation import _paired as kp
from cohortlab.exceptions import DataValidationError, MissingDataError

ATOL_AUC = 1e-10   # AUROC, C: exact rank statistics on both sides
ATOL_VAR = 1e-12   # DeLong (co)variances, IJ variance matrix: closed form
ATOL_Z = 1e-8      # z statistics, CIs, SEs derived from the variances
ATOL_SCORE = 1e-8  # riskRegression Score contrasts: influence functions, closed form

REF = load_reference("compare_models")
E = REF["estimates"]


def _asah() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "asah.csv")
    d["poor"] = (d["outcome"] == "Poor").astype(int)
    return d


def _lung() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "lung.csv")
    d = d[d["ph.ecog"].notna()].reset_index(drop=True)
    d["event"] = d["status"] - 1
    data = REF["data"]
    d["lp_a"], d["lp_b"] = data["lp_a"], data["lp_b"]
    for t in ("180", "365"):
        d[f"a{t}"], d[f"b{t}"] = data["risk_a"][t], data["risk_b"][t]
    return d


# ---------------------------------------------------------------------- classifiers
def test_paired_delong_matches_pROC_roc_test_on_asah():
    """The issue's example: s100b vs wfns, R gives z = -2.209, p = 0.0272."""
    res = cl.compare_classifiers(_asah(), label="poor", scores=["s100b", "wfns", "ndka"])
    assert len(res) == 6
    for r in E["delong"]:
        a, b = r["a"], r["b"]
        diff = res[f"{a} - {b}"]
        assert res[a].estimate == pytest.approx(r["auc_a"], abs=ATOL_AUC)
        assert res[b].estimate == pytest.approx(r["auc_b"], abs=ATOL_AUC)
        assert res[a].std_error ** 2 == pytest.approx(r["var_a"], abs=ATOL_VAR)
        assert diff.estimate == pytest.approx(r["auc_a"] - r["auc_b"], abs=ATOL_AUC)
        assert diff.statistic == pytest.approx(r["statistic"], abs=ATOL_Z)
        assert diff.p_value == pytest.approx(r["p_value"], abs=ATOL_Z)
        assert diff.conf_low == pytest.approx(r["conf_int"][0], abs=ATOL_Z)
        assert diff.conf_high == pytest.approx(r["conf_int"][1], abs=ATOL_Z)
        corr = r["cov_ab"] / math.sqrt(r["var_a"] * r["var_b"])
        assert diff.extra["correlation"] == pytest.approx(corr, abs=ATOL_Z)
        assert diff.effect_measure == "auroc_difference" and diff.ci_method == "delong"
        assert diff.n == 113 and diff.n_events == 41
    s = E["delong_default"]  # pROC's default roc() picks the same direction here
    assert res["s100b - wfns"].statistic == pytest.approx(s["statistic"], abs=ATOL_Z)
    assert round(res["s100b - wfns"].statistic, 3) == -2.209
    assert round(res["s100b - wfns"].p_value, 4) == 0.0272


def test_delong_cov_matches_pROC_cov_and_brute_force():
    d = _asah()
    y = d["poor"].to_numpy()
    x = d[["s100b", "wfns"]].to_numpy(float)
    auc, cov = kp.delong_cov(x, y)
    r = E["delong"][0]
    assert cov[0, 1] == pytest.approx(r["cov_ab"], abs=ATOL_VAR)
    assert cov[1, 1] == pytest.approx(r["var_b"], abs=ATOL_VAR)
    # brute force: the placements from the full positive x negative comparison matrix
    pos, neg = x[y == 1], x[y == 0]
    psi = [(p[:, None] > q[None, :]) + 0.5 * (p[:, None] == q[None, :])
           for p, q in zip(pos.T, neg.T, strict=True)]
    v10 = np.column_stack([m.mean(axis=1) for m in psi])
    v01 = np.column_stack([m.mean(axis=0) for m in psi])
    brute = np.cov(v10, rowvar=False) / len(pos) + np.cov(v01, rowvar=False) / len(neg)
    np.testing.assert_allclose(cov, brute, atol=1e-14)
    np.testing.assert_allclose(auc, v10.mean(axis=0), atol=1e-14)
    # the diagonal is the unpaired DeLong variance of evaluate_classifier
    assert cov[0, 0] == pytest.approx(km.delong_auc(km.score_counts(x[:, 0], y))[1], abs=1e-15)


def test_compare_classifiers_swaps_sign_and_keeps_p_value():
    d = _asah()
    ab = cl.compare_classifiers(d, label="poor", scores=["s100b", "wfns"])["s100b - wfns"]
    ba = cl.compare_classifiers(d, label="poor", scores=["wfns", "s100b"])["wfns - s100b"]
    assert ba.estimate == pytest.approx(-ab.estimate, abs=1e-15)
    assert ba.p_value == pytest.approx(ab.p_value, abs=1e-15)
    assert (ba.conf_low, ba.conf_high) == pytest.approx((-ab.conf_high, -ab.conf_low))


def test_compare_classifiers_raw_scores_are_rank_invariant():
    """Any real score works; a monotone map (e.g. to a logit) changes nothing."""
    d = _asah()
    d["logit_s100b"] = np.log(d["s100b"]) * 3 - 7
    a = cl.compare_classifiers(d, label="poor", scores=["s100b", "wfns"]).to_frame()
    b = cl.compare_classifiers(d, label="poor", scores=["logit_s100b", "wfns"]).to_frame()
    np.testing.assert_allclose(a["estimate"], b["estimate"], atol=1e-15)
    np.testing.assert_allclose(a["std_error"], b["std_error"], atol=1e-15)


def test_compare_classifiers_missing_drops_the_same_rows_for_every_score():
    d = _asah()
    d.loc[[0, 5], "s100b"] = np.nan
    d.loc[[7], "wfns"] = np.nan
    with pytest.raises(MissingDataError, match="s100b"):
        cl.compare_classifiers(d, label="poor", scores=["s100b", "wfns"])
    res = cl.compare_classifiers(d, label="poor", scores=["s100b", "wfns"], missing="drop")
    full = cl.compare_classifiers(d.dropna(subset=["s100b", "wfns"]), label="poor",
                                  scores=["s100b", "wfns"])
    assert res["s100b - wfns"].n == 110
    assert res["s100b - wfns"].p_value == pytest.approx(full["s100b - wfns"].p_value, abs=0)
    assert res.dropped.n_rows == 3 and dict(res.dropped.by_column) == {"s100b": 2, "wfns": 1}


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"scores": "s100b"}, r"scores must list at least two score columns"),
    ({"scores": ["s100b"]}, r"scores must list at least two"),
    ({"scores": ["s100b", "s100b"]}, r"names the same column twice"),
    ({"scores": ["s100b", "wfnz"]}, r"column 'wfnz' not found \(scores\). Did you mean 'wfns'"),
    ({"label": "outcome"}, r"column 'outcome' \(label\) must be coded 0/1"),
    ({"conf_level": 95}, r"conf_level"),
])
def test_compare_classifiers_bad_input(kwargs, match):
    args = {"label": "poor", "scores": ["s100b", "wfns"], **kwargs}
    with pytest.raises(DataValidationError, match=match):
        cl.compare_classifiers(_asah(), **args)


def test_compare_classifiers_one_class_raises():
    d = _asah()
    with pytest.raises(DataValidationError, match="no positives"):
        cl.compare_classifiers(d.assign(poor=0), label="poor", scores=["s100b", "wfns"])


def test_compare_classifiers_identical_ranking_notes_no_test():
    d = _asah()
    d["s2"] = 2 * d["s100b"] + 1
    res = cl.compare_classifiers(d, label="poor", scores=["s100b", "s2"])
    diff = res["s100b - s2"]
    assert diff.estimate == 0.0 and diff.std_error == 0.0 and math.isnan(diff.p_value)
    assert any("rank the rows identically" in n for n in res.notes)


def test_compare_classifiers_null_coverage_simulation():
    """Two equally good, correlated scores: the paired test rejects ~5% (not a reference)."""
    rng = np.random.default_rng(11)
    n, reps = 300, 400
    y = rng.integers(0, 2, size=(reps, n))
    u = rng.normal(size=(reps, n))
    s1 = y + u + rng.normal(size=(reps, n))
    s2 = y + u + rng.normal(size=(reps, n))
    z = np.empty(reps)
    for r in range(reps):  # replicates, not rows
        auc, cov = kp.delong_cov(np.column_stack([s1[r], s2[r]]), y[r])
        z[r] = (auc[0] - auc[1]) / math.sqrt(kp.contrast_var(cov, 0, 1))
    rejection = float(np.mean(np.abs(z) > 1.959964))
    assert 0.02 < rejection < 0.09


# ---------------------------------------------------------------------- survival models
@pytest.fixture(scope="module")
def surv() -> pd.DataFrame:
    return cl.compare_survival_models(
        _lung(), time="time", event="event", scores=["lp_a", "lp_b"],
        risks=[{180: "a180", 365: "a365"}, {180: "b180", 365: "b365"}], names=["a", "b"],
    ).to_frame()


def _get(f: pd.DataFrame, metric: str, model: str, time: float | None = None) -> pd.Series:
    m = (f["metric"] == metric) & (f["model"] == model)
    if time is not None:
        m &= np.isclose(f["time"], time)
    assert m.sum() == 1
    return f[m].iloc[0]


def test_c_differences_match_concordance_two_fits(surv):
    for metric, key in (("harrell_c", "harrell"), ("uno_c", "uno_365")):
        r = E[key]
        v = np.array(r["var"])
        a, b, diff = (_get(surv, metric, m) for m in ("a", "b", "a - b"))
        assert a["estimate"] == pytest.approx(r["c"][0], abs=ATOL_AUC)
        assert b["estimate"] == pytest.approx(r["c"][1], abs=ATOL_AUC)
        assert a["std_error"] ** 2 == pytest.approx(v[0, 0], abs=ATOL_VAR)
        assert b["std_error"] ** 2 == pytest.approx(v[1, 1], abs=ATOL_VAR)
        assert diff["estimate"] == pytest.approx(r["diff"], abs=ATOL_AUC)
        assert diff["std_error"] == pytest.approx(r["diff_se"], abs=ATOL_Z)
        assert diff["effect_measure"] == f"{metric}_difference"
        assert diff["ci_method"] == "infinitesimal_jackknife"
    assert _get(surv, "uno_c", "a - b")["time"] == 365.0


def test_uno_c_difference_at_180_matches_concordance():
    res = cl.compare_survival_models(_lung(), time="time", event="event",
                                     scores=["lp_a", "lp_b"], times=[180]).to_frame()
    diff = _get(res, "uno_c", "lp_a - lp_b")
    assert diff["estimate"] == pytest.approx(E["uno_180"]["diff"], abs=ATOL_AUC)
    assert diff["std_error"] == pytest.approx(E["uno_180"]["diff_se"], abs=ATOL_Z)


@pytest.mark.parametrize("metric", ["auc", "brier"])
def test_auc_brier_differences_match_riskregression_contrasts(surv, metric):
    key = "delta.AUC" if metric == "auc" else "delta.Brier"
    for r in E[f"{metric}_contrasts"]:  # riskRegression: model b minus reference a
        diff = _get(surv, metric, "a - b", r["times"])
        assert diff["estimate"] == pytest.approx(-r[key], abs=ATOL_SCORE)
        assert diff["std_error"] == pytest.approx(r["se"], abs=ATOL_SCORE)
        assert diff["conf_low"] == pytest.approx(-r["upper"], abs=ATOL_SCORE)
        assert diff["conf_high"] == pytest.approx(-r["lower"], abs=ATOL_SCORE)
        assert diff["p_value"] == pytest.approx(r["p"], abs=ATOL_SCORE)
    col = "AUC" if metric == "auc" else "Brier"
    for r in E[metric]:
        one = _get(surv, metric, r["model"], r["times"])
        assert one["estimate"] == pytest.approx(r[col], abs=ATOL_SCORE)
        assert one["std_error"] == pytest.approx(r["se"], abs=ATOL_SCORE)


def test_survival_single_models_equal_evaluate_survival_model(surv):
    d = _lung()
    ev = cl.evaluate_survival_model(d, time="time", event="event", score="lp_b",
                                    risk={180: "b180", 365: "b365"}).to_frame()
    for metric in ("harrell_c", "uno_c", "auc", "brier"):
        e = ev[ev["term"] == metric].sort_values("time")
        c = surv[(surv["metric"] == metric) & (surv["model"] == "b")].sort_values("time")
        np.testing.assert_allclose(c["estimate"], e["estimate"], atol=1e-14)
        np.testing.assert_allclose(c["std_error"], e["std_error"], atol=1e-14)


def test_c_index_influence_matches_variance_and_brute_force_derivative():
    """IJ values: sum of squares is the variance; numerically the case-weight derivative."""
    from cohortlab.evaluation import _survival_metrics as sm

    d = _lung().iloc[:60]
    t, e, x = (d[c].to_numpy(float) for c in ("time", "event", "lp_a"))
    ci = sm.c_index(t, e.astype(np.int64), x)
    assert np.sum(ci.influence ** 2) == pytest.approx(ci.variance, rel=1e-12)

    def harrell(w: np.ndarray) -> float:  # weighted pair sums, brute force over all pairs
        comp = (t[:, None] < t[None, :]) & (e[:, None] == 1)
        comp |= (t[:, None] == t[None, :]) & (e[:, None] == 1) & (e[None, :] == 0)
        ww = w[:, None] * w[None, :] * comp
        conc = (x[:, None] > x[None, :]) + 0.5 * (x[:, None] == x[None, :])
        return float((ww * conc).sum() / ww.sum())

    w0, h = np.ones(t.size), 1e-6
    num = np.array([(harrell(w0 + h * np.eye(t.size)[k]) - harrell(w0 - h * np.eye(t.size)[k]))
                    / (2 * h) for k in range(t.size)])
    np.testing.assert_allclose(ci.influence, num, atol=1e-7)


def test_survival_scores_only_gives_auc_from_scores_and_no_brier():
    d = _lung()
    res = cl.compare_survival_models(d, time="time", event="event", scores=["lp_a", "lp_b"],
                                     times=[180, 365]).to_frame()
    assert set(res["metric"]) == {"harrell_c", "uno_c", "auc"}
    # AUC(t) of a Cox linear predictor equals that of its predicted risk (same ranking)
    auc = _get(res, "auc", "lp_a - lp_b", 365.0)
    assert auc["estimate"] == pytest.approx(-E["auc_contrasts"][1]["delta.AUC"], abs=ATOL_SCORE)


def test_survival_risks_only_single_time_names_from_columns():
    d = _lung()
    res = cl.compare_survival_models(d, time="time", event="event", risks=["a365", "b365"],
                                     times=365).to_frame()
    assert set(res["metric"]) == {"auc", "brier"}
    assert set(res["model"]) == {"a365", "b365", "a365 - b365"}


def test_survival_no_uno_truncation_note():
    res = cl.compare_survival_models(_lung(), time="time", event="event",
                                     scores=["lp_a", "lp_b"])
    assert any("not truncated" in n for n in res.notes)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"scores": None}, r"nothing to compare"),
    ({"scores": ["lp_a"]}, r"scores must list at least two"),
    ({"risks": ["a180", "b180"]}, r"single risk column predicts a single time"),
    ({"risks": [{180: "a180"}, {365: "b365"}], "times": None},
     r"every model's risks must predict the same times"),
    ({"risks": ["a180", "b180", "a365"], "times": [180]}, r"one entry per score"),
    ({"times": [-1]}, r"times must be positive finite numbers"),
    ({"times": [5000]}, r"times beyond follow-up"),
    ({"names": ["x"]}, r"names must be 2 distinct strings"),
    ({"risks": ["lp_a", "b180"], "times": [180]}, r"must be probabilities in \[0, 1\]"),
])
def test_compare_survival_models_bad_input(kwargs, match):
    args = {"time": "time", "event": "event", "scores": ["lp_a", "lp_b"], **kwargs}
    with pytest.raises(DataValidationError, match=match):
        cl.compare_survival_models(_lung(), **args)


def test_compare_survival_models_three_models_all_pairs():
    d = _lung()
    d["lp_c"] = d["age"]
    res = cl.compare_survival_models(d, time="time", event="event",
                                     scores=["lp_a", "lp_b", "lp_c"], times=[365]).to_frame()
    diffs = res[res["effect_measure"] == "harrell_c_difference"]["model"].tolist()
    assert diffs == [f"{a} - {b}" for a, b in itertools.combinations(["lp_a", "lp_b", "lp_c"], 2)]


# ---------------------------------------------------------------------- raw scores in evaluate_classifier
def test_evaluate_classifier_raw_score_discrimination_matches_pROC():
    """wfns (a 1-5 grade) and raw s100b: AUROC and DeLong SE as pROC (compare_models.json)."""
    d = _asah()
    r = E["delong"][0]
    for col, auc, var in (("s100b", r["auc_a"], r["var_a"]), ("wfns", r["auc_b"], r["var_b"])):
        ev = cl.evaluate_classifier(d, score=col, label="poor", metrics="discrimination")
        f = ev.to_frame().set_index("term")
        assert list(f.index) == ["auroc", "auprc"]
        assert f.loc["auroc", "estimate"] == pytest.approx(auc, abs=ATOL_AUC)
        assert f.loc["auroc", "std_error"] ** 2 == pytest.approx(var, abs=ATOL_VAR)
        assert ev.net_benefit.empty and ev.calibration_bins.empty
        assert "discrimination only" in ev.summary()


def test_evaluate_classifier_raw_score_equals_probability_on_order_metrics():
    """A monotone map to (0, 1) gives the same AUROC/AUPRC/threshold metrics."""
    d = _asah()
    d["p"] = d["s100b"] / (1 + d["s100b"])
    raw = cl.evaluate_classifier(d, score="s100b", label="poor", metrics="discrimination",
                                 threshold=0.25, by="gender").to_frame()
    prob = cl.evaluate_classifier(d, score="p", label="poor", threshold=0.2,
                                  by="gender").to_frame()
    prob = prob[prob["term"].isin(raw["term"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(raw, prob)


def test_evaluate_classifier_raw_score_still_refused_for_calibration():
    """Today's refusal stays for metrics='all' (calibration), with the way out named."""
    d = _asah()
    with pytest.raises(DataValidationError, match=r"got values in \[1, 5\].*"
                       r"metrics='discrimination'"):
        cl.evaluate_classifier(d, score="wfns", label="poor")
    ev = cl.evaluate_classifier(d, score="wfns", label="poor", metrics="discrimination")
    with pytest.raises(DataValidationError, match="no calibration plot"):
        ev.plot_calibration()
    with pytest.raises(DataValidationError, match="no decision curve"):
        ev.plot_decision_curve()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"thresholds": [0.1, 0.2]}, r"thresholds \(net benefit\) need predicted probabilities"),
    ({"threshold": float("inf")}, r"threshold must be a finite number on the score's scale"),
    ({"metrics": "auc"}, r"metrics"),
])
def test_evaluate_classifier_discrimination_bad_input(kwargs, match):
    args = {"score": "wfns", "label": "poor", "metrics": "discrimination", **kwargs}
    with pytest.raises(DataValidationError, match=match):
        cl.evaluate_classifier(_asah(), **args)


def test_evaluate_classifier_raw_threshold_on_score_scale():
    d = _asah()
    f = cl.evaluate_classifier(d, score="wfns", label="poor", metrics="discrimination",
                               threshold=4).to_frame().set_index("term")
    y, s = d["poor"].to_numpy(), d["wfns"].to_numpy()
    assert f.loc["sensitivity", "estimate"] == pytest.approx(np.mean(s[y == 1] >= 4), abs=0)
    assert f.loc["specificity", "estimate"] == pytest.approx(np.mean(s[y == 0] < 4), abs=0)
