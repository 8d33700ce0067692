"""Performance across shifts (site, device, calendar period): evaluate_classifier(shift=) and
evaluate_survival_model(shift=).

No R package reports a drift test, so the checks are: each level's numbers equal the call on
that level's rows (exact); the weighted trend equals generalised least squares with the known
variances (the fixed-effect meta-regression); the drift contrasts are closed form; on simulated
data with a known drift the trend test rejects while on stable data it keeps its level
(tests named ..._simulated_truth).
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from cohortlab.evaluation import _levels
from cohortlab.evaluation import _metrics as km
from cohortlab.evaluation.classifier import OVERALL, evaluate_classifier
from cohortlab.evaluation.survival_model import evaluate_survival_model
from cohortlab.exceptions import DataValidationError, MissingDataError

matplotlib.use("Agg")

COLS = ["estimate", "std_error", "conf_low", "conf_high", "p_value", "n", "n_events"]


def _clf(rng: np.random.Generator, n: int = 4000, n_levels: int = 4, degrade: float = 0.0
         ) -> pd.DataFrame:
    """A score expit(x - 1); the label follows expit(b_l x - 1), b_l = 1 - degrade * level."""
    level = rng.integers(0, n_levels, n)
    x = rng.normal(size=n)
    b = 1.0 - degrade * level
    return pd.DataFrame({"p": special.expit(x - 1), "period": level,
                         "y": rng.binomial(1, special.expit(b * x - 1)),
                         "site": rng.choice(["north", "south", "west"], n)})


def _surv(rng: np.random.Generator, n: int = 3000, n_levels: int = 4, degrade: float = 0.0
          ) -> pd.DataFrame:
    """Exponential times with log-hazard b_l x, b_l = 1 - degrade * level; risk by t = 1."""
    level = rng.integers(0, n_levels, n)
    x = rng.normal(size=n)
    b = 1.0 - degrade * level
    t = rng.exponential(1.0 / np.exp(b * x))
    c = rng.exponential(2.0, n)
    return pd.DataFrame({"t": np.minimum(t, c), "e": (t <= c).astype(int), "x": x,
                         "r1": 1 - np.exp(-np.exp(x)), "period": level})


def _metric_frame(ev, group) -> pd.DataFrame:
    f = ev.to_frame()
    f = f[f["group"] == group].reset_index(drop=True)
    return f


# ---------------------------------------------------------------------- per-level = subset
def test_classifier_levels_equal_the_call_on_each_subset(rng):
    d = _clf(rng)
    ev = evaluate_classifier(d, score="p", label="y", shift="period", threshold=0.3)
    assert ev.groups == (0, 1, 2, 3) and ev.shift == "period" and ev.by is None
    for g in ev.groups:
        sub = evaluate_classifier(d[d["period"] == g], score="p", label="y", threshold=0.3)
        a, b = _metric_frame(ev, g), _metric_frame(sub, OVERALL)
        assert a["term"].tolist() == b["term"].tolist()
        for c in COLS:
            np.testing.assert_array_equal(a[c].to_numpy(float), b[c].to_numpy(float), err_msg=c)
        nb_a = ev.net_benefit[ev.net_benefit["group"] == g]["net_benefit"].to_numpy()
        nb_b = sub.net_benefit["net_benefit"].to_numpy()
        np.testing.assert_array_equal(nb_a, nb_b)
    overall = evaluate_classifier(d, score="p", label="y", threshold=0.3)
    np.testing.assert_array_equal(_metric_frame(ev, OVERALL)["estimate"].to_numpy(float),
                                  overall.to_frame()["estimate"].to_numpy(float))


def test_survival_levels_equal_the_call_on_each_subset(rng):
    d = _surv(rng)
    ev = evaluate_survival_model(d, time="t", event="e", score="x", risk={1.0: "r1"},
                                 shift="period")
    for g in ev.groups:
        sub = evaluate_survival_model(d[d["period"] == g], time="t", event="e", score="x",
                                      risk={1.0: "r1"})
        a, b = _metric_frame(ev, g), _metric_frame(sub, OVERALL)
        assert a["term"].tolist() == b["term"].tolist()
        for c in COLS:
            np.testing.assert_array_equal(a[c].to_numpy(float), b[c].to_numpy(float), err_msg=c)


# ---------------------------------------------------------------------- drift rows
def test_weighted_trend_equals_generalised_least_squares(rng):
    # (X' V^-1 X)^-1 X' V^-1 y with V = diag(var) known: statsmodels' WLS(weights=1/var) with
    # cov_type="fixed scale", scale=1 gives the same (not imported here: 2 s of import time)
    est = rng.uniform(0.6, 0.8, 6)
    var = rng.uniform(1e-4, 4e-4, 6)
    rank = np.arange(6.0)
    a, b, se = _levels.weighted_trend(est, var, rank)
    x = np.column_stack([np.ones(6), rank])
    cov = np.linalg.inv(x.T @ (x / var[:, None]))
    np.testing.assert_allclose([a, b], cov @ (x.T @ (est / var)), rtol=1e-10)
    assert se == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-10)


def _drift(ev, metric: str) -> pd.DataFrame:
    f = ev.drift.to_frame()
    return f[f["metric"] == metric].set_index("contrast", append=True)


def test_drift_rows_are_the_closed_forms(rng):
    d = _clf(rng)
    ev = evaluate_classifier(d, score="p", label="y", shift="period", p_adjust="none")
    m = ev.to_frame()
    au = m[(m["term"] == "auroc") & (m["group"] != OVERALL)]
    est, se = au["estimate"].to_numpy(float), au["std_error"].to_numpy(float)
    dr = ev.drift.to_frame()
    dr = dr[dr["metric"] == "auroc"]
    # heterogeneity: the same chi-square as by= gives
    q = dr[dr["contrast"] == "heterogeneity"].iloc[0]
    het = ev.heterogeneity.to_frame().iloc[0]
    assert het["term"] == "auroc: heterogeneity"
    assert q["estimate"] == pytest.approx(het["statistic"], rel=1e-12)
    assert q["df"] == 3 and q["p_value"] == pytest.approx(stats.chi2.sf(q["estimate"], 3))
    # trend: the weighted slope on the rank
    tr = dr[dr["contrast"] == "trend"].iloc[0]
    _, slope, sse = _levels.weighted_trend(est, se ** 2, np.arange(4.0))
    assert tr["estimate"] == pytest.approx(slope, rel=1e-12)
    assert tr["std_error"] == pytest.approx(sse, rel=1e-12)
    z = stats.norm.ppf(0.975)
    assert tr["conf_low"] == pytest.approx(slope - z * sse, rel=1e-12)
    assert tr["p_value"] == pytest.approx(2 * stats.norm.sf(abs(slope / sse)), rel=1e-10)
    # drift from the first level: difference, variance the sum
    vs = dr[dr["contrast"] == "vs_first"]
    assert vs["term"].tolist() == [f"auroc: period = {g} vs 0" for g in (1, 2, 3)]
    np.testing.assert_allclose(vs["estimate"], est[1:] - est[0], rtol=1e-12)
    np.testing.assert_allclose(vs["std_error"], np.sqrt(se[1:] ** 2 + se[0] ** 2), rtol=1e-12)
    np.testing.assert_allclose(vs["p_adjusted"], vs["p_value"])  # p_adjust="none"


def test_oe_ratio_drift_is_a_ratio_on_the_log_scale(rng):
    d = _surv(rng)
    ev = evaluate_survival_model(d, time="t", event="e", risk={1.0: "r1"}, shift="period")
    m = ev.to_frame()
    oe = m[(m["term"] == "oe_ratio") & (m["group"] != OVERALL)]
    est, se = oe["estimate"].to_numpy(float), oe["std_error"].to_numpy(float)
    dr = ev.drift.to_frame()
    vs = dr[(dr["metric"] == "oe_ratio") & (dr["contrast"] == "vs_first")]
    np.testing.assert_allclose(vs["estimate"], est[1:] / est[0], rtol=1e-12)
    lse = np.sqrt(se[1:] ** 2 + se[0] ** 2)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(vs["conf_high"], est[1:] / est[0] * np.exp(z * lse), rtol=1e-12)
    assert set(vs["effect_measure"]) == {"ratio"}
    tr = dr[(dr["metric"] == "oe_ratio") & (dr["contrast"] == "trend")].iloc[0]
    _, slope, _ = _levels.weighted_trend(np.log(est), se ** 2, np.arange(4.0))
    assert tr["estimate"] == pytest.approx(math.exp(slope), rel=1e-12)


@pytest.mark.parametrize("make, ordered", [
    (lambda s: s, True),                                                     # integer
    (lambda s: s.astype(float) + 2019.0, True),                              # numeric year
    (lambda s: pd.to_datetime("2020-01-01") + pd.to_timedelta(90 * s, "D"), True),
    (lambda s: pd.Series(pd.period_range("2021Q1", periods=4, freq="Q"))[s.to_numpy()]
     .reset_index(drop=True), True),
    (lambda s: pd.Categorical(s.map({0: "low", 1: "mid", 2: "high", 3: "top"}),
                              categories=["low", "mid", "high", "top"], ordered=True), True),
    (lambda s: s.map({0: "d", 1: "c", 2: "b", 3: "a"}), False),              # strings
    (lambda s: pd.Categorical(s), False),                                   # unordered
])
def test_trend_only_for_ordered_shift_columns(rng, make, ordered):
    d = _clf(rng, n=3000)
    d["shift"] = make(d["period"])
    ev = evaluate_classifier(d, score="p", label="y", shift="shift")
    contrasts = set(ev.drift.to_frame()["contrast"])
    assert ev.ordered is ordered
    assert ("trend" in contrasts) is ordered
    assert {"heterogeneity", "vs_first"} <= contrasts
    if ordered:  # the rank follows the order of the levels (categories for a categorical)
        tr = _drift(ev, "auroc").xs("trend", level="contrast")
        ref = evaluate_classifier(d, score="p", label="y", shift="period")
        ref_tr = _drift(ref, "auroc").xs("trend", level="contrast")
        assert float(tr["estimate"].iloc[0]) == pytest.approx(float(ref_tr["estimate"].iloc[0]))


def test_ece_has_no_drift_rows_and_a_note(rng):
    ev = evaluate_classifier(_clf(rng), score="p", label="y", shift="period")
    assert "ece" not in set(ev.drift.to_frame()["metric"])
    assert any(n.startswith("ece: fewer than 2 levels with a positive standard error")
               for n in ev.notes)
    assert "trend per level of period" in ev.summary()


# ---------------------------------------------------------------------- simulated truth
def _trend_p(ev, metric: str) -> float:
    return float(_drift(ev, metric).xs("trend", level="contrast")["p_value"].iloc[0])


def test_classifier_trend_rejects_a_degrading_score_simulated_truth():
    # the label's dependence on x weakens by 0.15 per period: AUROC and calibration slope fall
    for seed in range(5):
        d = _clf(np.random.default_rng(seed), n=6000, degrade=0.15)
        ev = evaluate_classifier(d, score="p", label="y", shift="period")
        tr = _drift(ev, "auroc").xs("trend", level="contrast").iloc[0]
        assert tr["estimate"] < 0 and tr["p_value"] < 0.05, seed
        assert _trend_p(ev, "calibration_slope") < 0.05, seed


def test_classifier_trend_keeps_its_level_on_a_stable_score_simulated_truth():
    p = [_trend_p(evaluate_classifier(_clf(np.random.default_rng(100 + s), n=3000),
                                      score="p", label="y", shift="period"), "auroc")
         for s in range(6)]
    assert sum(v < 0.05 for v in p) <= 1


def test_survival_trend_rejects_a_degrading_model_simulated_truth():
    for seed in range(3):
        d = _surv(np.random.default_rng(seed), n=4000, degrade=0.2)
        ev = evaluate_survival_model(d, time="t", event="e", score="x", times=[1.0],
                                     shift="period")
        for metric in ("harrell_c", "auc"):
            tr = _drift(ev, metric).xs("trend", level="contrast").iloc[0]
            assert tr["estimate"] < 0 and tr["p_value"] < 0.05, (seed, metric)


def test_survival_trend_keeps_its_level_on_a_stable_model_simulated_truth():
    p = [_trend_p(evaluate_survival_model(_surv(np.random.default_rng(200 + s), n=1500),
                                          time="t", event="e", score="x", shift="period"),
                  "harrell_c") for s in range(5)]
    assert sum(v < 0.05 for v in p) <= 1


def _type1(n_rep: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_rep):
        ev = evaluate_classifier(_clf(rng, n=2500), score="p", label="y", shift="period")
        hits += _trend_p(ev, "auroc") < 0.05
    return hits / n_rep


def test_trend_test_size_simulated_truth():
    assert _type1(20, seed=11) <= 0.15


@pytest.mark.slow
def test_trend_test_size_simulated_truth_slow():
    assert 0.03 <= _type1(1000, seed=12) <= 0.07


# ---------------------------------------------------------------------- plots
def test_plots_return_axes(rng):
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    ev = evaluate_classifier(_clf(rng), score="p", label="y", shift="period")
    for ax in (ev.plot_drift("auroc"), ev.plot_drift("calibration_slope"), ev.plot_roc(),
               ev.plot_calibration(), ev.plot_decision_curve()):
        assert isinstance(ax, Axes)
    ax = ev.plot_drift()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3"]
    assert any("trend" in t.get_text() for t in ax.get_legend().get_texts())
    assert len(ev.plot_calibration().get_lines()) == 5  # 4 levels + the diagonal
    sites = evaluate_classifier(_clf(rng), score="p", label="y", shift="site")
    ax = sites.plot_drift("brier")  # unordered: no trend line
    assert not any("trend" in t.get_text() for t in ax.get_legend().get_texts())
    by = evaluate_classifier(_clf(rng), score="p", label="y", by="site")
    assert isinstance(by.plot_drift("auroc"), Axes)
    es = evaluate_survival_model(_surv(rng), time="t", event="e", score="x",
                                 risk={1.0: "r1"}, shift="period")
    for ax in (es.plot_drift(), es.plot_drift("auc", t=1.0), es.plot_drift("oe_ratio"),
               es.plot_calibration(1.0), es.plot_auc_over_time()):
        assert isinstance(ax, Axes)
    plt.close("all")


def test_plot_drift_bad_metric_or_no_shift(rng):
    ev = evaluate_classifier(_clf(rng), score="p", label="y", shift="period")
    with pytest.raises(DataValidationError, match="no metric 'aucroc'"):
        ev.plot_drift("aucroc")
    plain = evaluate_classifier(_clf(rng), score="p", label="y")
    with pytest.raises(DataValidationError, match="no levels to plot drift"):
        plain.plot_drift()
    es = evaluate_survival_model(_surv(rng), time="t", event="e", risk={1.0: "r1"},
                                 shift="period")
    with pytest.raises(DataValidationError, match="no auc at time 2"):
        es.plot_drift("auc", t=2.0)


# ---------------------------------------------------------------------- bad input
def test_shift_with_one_level_raises(rng):
    d = _clf(rng).assign(period=7)
    with pytest.raises(DataValidationError, match="at least 2 levels.*column 'period'; got 1"):
        evaluate_classifier(d, score="p", label="y", shift="period")
    s = _surv(rng).assign(period="2020")
    with pytest.raises(DataValidationError, match="at least 2 levels"):
        evaluate_survival_model(s, time="t", event="e", score="x", shift="period")


def test_nan_in_shift_raises_unless_drop(rng):
    d = _clf(rng).astype({"period": float})
    d.loc[[3, 10, 20], "period"] = np.nan
    with pytest.raises(MissingDataError, match="3 of 4,000 rows.*period"):
        evaluate_classifier(d, score="p", label="y", shift="period")
    ev = evaluate_classifier(d, score="p", label="y", shift="period", missing="drop")
    assert ev.dropped.n_rows == 3 and ev.dropped.by_column == {"period": 3}
    assert ev.n == 3997 and ev.groups == (0.0, 1.0, 2.0, 3.0)
    s = _surv(rng).astype({"period": float})
    s.loc[[1, 2], "period"] = np.nan
    with pytest.raises(MissingDataError, match="period"):
        evaluate_survival_model(s, time="t", event="e", score="x", shift="period")
    es = evaluate_survival_model(s, time="t", event="e", score="x", shift="period",
                                 missing="drop")
    assert es.dropped.n_rows == 2


def test_by_and_shift_together_raise(rng):
    d = _clf(rng)
    with pytest.raises(DataValidationError, match="by and shift cannot be combined"):
        evaluate_classifier(d, score="p", label="y", by="site", shift="period")
    with pytest.raises(DataValidationError, match="by and shift cannot be combined"):
        evaluate_survival_model(_surv(rng), time="t", event="e", score="x", by="period",
                                shift="period")


def test_unknown_shift_column_raises(rng):
    with pytest.raises(DataValidationError, match="'periode' not found"):
        evaluate_classifier(_clf(rng), score="p", label="y", shift="periode")


def test_shift_level_without_positives_names_it(rng):
    d = _clf(rng)
    d.loc[d["period"] == 2, "y"] = 0
    with pytest.raises(DataValidationError, match="period = 2"):
        evaluate_classifier(d, score="p", label="y", shift="period")


def test_shift_level_without_events_names_it(rng):
    d = _surv(rng)
    d.loc[d["period"] == 1, "e"] = 0
    with pytest.raises(DataValidationError, match="shift level period = 1 has no events"):
        evaluate_survival_model(d, time="t", event="e", score="x", shift="period")


# ---------------------------------------------------------------------- fast kernels
def _counts_ref(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vals, inv = np.unique(s, return_inverse=True)
    pos = np.bincount(inv, weights=y, minlength=vals.size).astype(np.int64)
    return vals, pos, np.bincount(inv, minlength=vals.size) - pos


@pytest.mark.parametrize("kind", ["probabilities", "ties and bounds", "any real score"])
def test_score_counts_equals_unique_and_bincount(rng, kind):
    n = 5000
    if kind == "probabilities":
        s = rng.uniform(size=n)
    elif kind == "ties and bounds":
        s = rng.choice([0.0, -0.0, 0.25, 0.5, 1.0, 1e-300], n)
    else:
        s = rng.normal(scale=3.0, size=n)
    y = rng.integers(0, 2, n).astype(float)
    sc = km.score_counts(s, y)
    vals, pos, neg = _counts_ref(s, y)
    np.testing.assert_array_equal(sc.values, vals)
    np.testing.assert_array_equal(sc.pos, pos)
    np.testing.assert_array_equal(sc.neg, neg)
    assert (sc.n_pos, sc.n_neg) == (int(y.sum()), int(n - y.sum()))


def test_shift_on_a_large_cohort_runs():  # speed: benchmarks/bench_evaluation.py
    rng = np.random.default_rng(5)
    d = _clf(rng, n=200_000, n_levels=6)
    ev = evaluate_classifier(d, score="p", label="y", shift="period", threshold=0.3)
    assert len(ev.drift) > 0
