"""evaluate_survival_model against R (survival, riskRegression), brute force and simulated truth.

Reference: tests/reference/survival_model_eval.json, written by
tests/reference/r/survival_model_eval.R (R 4.2.2, survival 3.5.3, riskRegression 2022.11.28) on
survival's lung data (227 rows with ph.ecog), Cox model age + sex + ph.ecog fitted in R:

    concordance(Surv(time, event) ~ lp, reverse = TRUE)                  # Harrell, sqrt(var)
    concordance(Surv(time, event) ~ lp, reverse = TRUE, timewt = "n/G2", ymax = 365)   # Uno
    Score(list(cox = cbind(risk180, risk365)), Surv(time, event) ~ 1, times = c(180, 365),
          metrics = c("auc", "brier"), summary = "ipa", cens.model = "km")   # conservative = FALSE
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import REFERENCE, load_reference

from cohortlab.evaluation import _survival_metrics as sm
from cohortlab.evaluation.survival_model import (
    OVERALL,
    SurvivalModelEvaluation,
    evaluate_survival_model,
)
from cohortlab.exceptions import DataValidationError, MissingDataError
from cohortlab.survival._concordance import concordance

REF = load_reference("survival_model_eval")
EST = REF["estimates"]
ATOL_C = 1e-10     # C-indices: exact pair counts on both sides
ATOL_C_SE = 1e-8   # infinitesimal jackknife
ATOL_PT = 1e-8     # AUC(t), Brier(t), IPA, KM risk
ATOL_SE = 1e-6     # influence-function SEs


def _lung() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "lung.csv")
    d = d[d["ph.ecog"].notna()].reset_index(drop=True)
    d["event"] = d["status"] - 1
    d["lp"] = REF["data"]["lp"]
    d["risk180"] = REF["data"]["risk180"]
    d["risk365"] = REF["data"]["risk365"]
    return d


LUNG = _lung()


@pytest.fixture(scope="module")
def lung_eval() -> SurvivalModelEvaluation:
    return evaluate_survival_model(LUNG, time="time", event="event", score="lp",
                                   risk={180: "risk180", 365: "risk365"}, by="sex")


def _get(ev: SurvivalModelEvaluation, term: str, group: object = OVERALL,
         t: float | None = None) -> pd.Series:
    f = ev.to_frame()
    m = (f["term"] == term) & (f["group"] == group)
    if t is not None:
        m &= np.isclose(f["time"], t)
    assert m.sum() == 1, (term, group, t)
    return f[m].iloc[0]


# ---------------------------------------------------------------------- R references
def test_harrell_c_and_ij_se_match_r(lung_eval: SurvivalModelEvaluation) -> None:
    r = _get(lung_eval, "harrell_c")
    ref = EST["overall"]["harrell"]
    assert r["estimate"] == pytest.approx(ref["c"], abs=ATOL_C)
    assert r["std_error"] == pytest.approx(ref["std"], abs=ATOL_C_SE)
    for sex in (1, 2):
        rs = _get(lung_eval, "harrell_c", sex)
        ref_s = EST["by_sex"][str(sex)]["harrell"]
        assert rs["estimate"] == pytest.approx(ref_s["c"], abs=ATOL_C)
        assert rs["std_error"] == pytest.approx(ref_s["std"], abs=ATOL_C_SE)


def test_uno_c_and_ij_se_match_r(lung_eval: SurvivalModelEvaluation) -> None:
    r = _get(lung_eval, "uno_c")
    ref = EST["overall"]["uno_365"]
    assert r["time"] == 365
    assert r["estimate"] == pytest.approx(ref["c"], abs=ATOL_C)
    assert r["std_error"] == pytest.approx(ref["std"], abs=ATOL_C_SE)
    for sex in (1, 2):
        rs = _get(lung_eval, "uno_c", sex)
        ref_s = EST["by_sex"][str(sex)]["uno_365"]
        assert rs["estimate"] == pytest.approx(ref_s["c"], abs=ATOL_C)
        assert rs["std_error"] == pytest.approx(ref_s["std"], abs=ATOL_C_SE)
    ev = evaluate_survival_model(LUNG, time="time", event="event", score="lp", times=[180])
    r180 = _get(ev, "uno_c")
    assert r180["estimate"] == pytest.approx(EST["overall"]["uno_180"]["c"], abs=ATOL_C)
    assert r180["std_error"] == pytest.approx(EST["overall"]["uno_180"]["std"], abs=ATOL_C_SE)


def test_c_index_pair_counts_match_r() -> None:
    t, d, x = (LUNG[c].to_numpy(float) for c in ("time", "event", "lp"))
    h = sm.c_index(t, d.astype(int), x)
    cnt = EST["overall"]["harrell"]["count"]
    assert (h.concordant, h.discordant, h.tied_risk) == (
        cnt["concordant"], cnt["discordant"], cnt["tied.x"])
    u = sm.c_index(t, d.astype(int), x, tau=365, uno=True)
    cnt = EST["overall"]["uno_365"]["count"]
    assert u.concordant == pytest.approx(cnt["concordant"], rel=1e-12)
    assert u.discordant == pytest.approx(cnt["discordant"], rel=1e-12)
    assert u.tied_risk == pytest.approx(cnt["tied.x"], rel=1e-12)


@pytest.mark.parametrize("t", [180, 365])
def test_time_dependent_auc_matches_riskregression(lung_eval: SurvivalModelEvaluation,
                                                   t: int) -> None:
    r = _get(lung_eval, "auc", t=t)
    ref = EST["overall"]["score"]["auc"][str(t)]
    assert r["estimate"] == pytest.approx(ref["auc"], abs=ATOL_PT)
    assert r["std_error"] == pytest.approx(ref["se"], abs=ATOL_SE)
    assert r["conf_low"] == pytest.approx(ref["lower"], abs=ATOL_SE)
    assert r["conf_high"] == pytest.approx(ref["upper"], abs=ATOL_SE)


@pytest.mark.parametrize("t", [180, 365])
def test_brier_null_brier_and_ipa_match_riskregression(lung_eval: SurvivalModelEvaluation,
                                                       t: int) -> None:
    ref = EST["overall"]["score"]["brier"]
    for term, key in (("brier", f"cox {t}"), ("brier_null", f"Null model {t}")):
        r = _get(lung_eval, term, t=t)
        assert r["estimate"] == pytest.approx(ref[key]["brier"], abs=ATOL_PT)
        assert r["std_error"] == pytest.approx(ref[key]["se"], abs=ATOL_SE)
        assert r["conf_low"] == pytest.approx(ref[key]["lower"], abs=ATOL_SE)
        assert r["conf_high"] == pytest.approx(ref[key]["upper"], abs=ATOL_SE)
    assert _get(lung_eval, "ipa", t=t)["estimate"] == pytest.approx(ref[f"cox {t}"]["ipa"],
                                                                     abs=ATOL_PT)


def test_conservative_se_is_the_plain_part_of_the_influence_function() -> None:
    # riskRegression conservative = TRUE ignores the censoring KM: the same IF without it
    t, d = LUNG["time"].to_numpy(float), LUNG["event"].to_numpy()
    ref = EST["overall"]["score_conservative"]
    g = sm.censoring_km(t, d, np.ones(t.size))
    for hz in (180, 365):
        p = LUNG[f"risk{hz}"].to_numpy()
        case = (t <= hz) & (d == 1)
        a = np.where(case, (1 - p) ** 2 / g.before(t), 0.0) + np.where(
            t > hz, p ** 2 / g.after(np.array([float(hz)]))[0], 0.0)
        se = np.std(a, ddof=1) / math.sqrt(t.size)
        assert se == pytest.approx(ref["brier"][f"cox {hz}"]["se"], abs=1e-10)


def test_observed_km_risk_and_oe_ratio(lung_eval: SurvivalModelEvaluation) -> None:
    km = EST["overall"]["km"]
    for i, t in enumerate(km["time"]):
        r = _get(lung_eval, "oe_ratio", t=t)
        e = LUNG[f"risk{t}"].mean()
        assert r["estimate"] * e == pytest.approx(km["risk"][i], abs=ATOL_PT)
        # log-scale SE = Greenwood SE of S(t) / risk
        assert r["std_error"] * km["risk"][i] == pytest.approx(km["std_err"][i], abs=1e-8)
        assert r["conf_low"] < r["estimate"] < r["conf_high"]


# ---------------------------------------------------------------------- brute force
def _brute_c(t, d, x, tau=None, uno=False):
    g = sm.censoring_km(t, d, np.ones(t.size))
    num = den = 0.0
    for i in range(t.size):
        if d[i] != 1 or (tau is not None and t[i] > tau):
            continue
        w = 1.0 / g.before(np.array([t[i]]))[0] ** 2 if uno else 1.0
        for j in range(t.size):
            if t[j] > t[i] or (t[j] == t[i] and d[j] == 0):
                den += w
                num += w * (1.0 if x[i] > x[j] else 0.5 if x[i] == x[j] else 0.0)
    return num / den


def test_c_index_equals_brute_force_and_shared_kernel() -> None:
    rng = np.random.default_rng(11)
    n = 120
    t = rng.integers(1, 30, n).astype(float)
    d = rng.integers(0, 2, n)
    x = rng.integers(0, 8, n).astype(float)
    h = sm.c_index(t, d, x)
    assert h.estimate == pytest.approx(_brute_c(t, d, x), abs=1e-12)
    assert h.estimate == pytest.approx(concordance(t, d, x), abs=1e-12)
    u = sm.c_index(t, d, x, tau=20.0, uno=True)
    assert u.estimate == pytest.approx(_brute_c(t, d, x, 20.0, True), abs=1e-12)


def test_c_index_ij_variance_equals_numerical_derivative() -> None:
    rng = np.random.default_rng(5)
    n = 60
    t = rng.integers(1, 15, n).astype(float)
    d = rng.integers(0, 2, n)
    x = rng.normal(size=n)
    # d C / d w_k by replicating row k with weight 1 + h: C of the weighted pairs
    def c_w(w):
        num = den = 0.0
        for i in range(n):
            if d[i] != 1:
                continue
            for j in range(n):
                if t[j] > t[i] or (t[j] == t[i] and d[j] == 0):
                    den += w[i] * w[j]
                    num += w[i] * w[j] * (1.0 if x[i] > x[j] else 0.0)
        return num / den
    h = 1e-6
    c0 = c_w(np.ones(n))
    deriv = np.array([(c_w(np.where(np.arange(n) == k, 1 + h, 1.0)) - c0) / h
                      for k in range(n)])
    assert sm.c_index(t, d, x).variance == pytest.approx(np.sum(deriv ** 2), rel=1e-4)


def test_ipcw_auc_and_brier_equal_brute_force() -> None:
    rng = np.random.default_rng(3)
    n = 150
    t = rng.integers(1, 40, n).astype(float)
    d = rng.integers(0, 2, n)
    p = rng.integers(0, 10, n) / 10
    hz = 20.0
    g = sm.censoring_km(t, d, np.ones(n))
    wc = np.where((t <= hz) & (d == 1), 1 / g.before(t), 0.0)
    ctrl = t > hz
    num = sum(wc[i] * ((p[i] > p[j]) + 0.5 * (p[i] == p[j]))
              for i in range(n) for j in range(n) if ctrl[j])
    assert sm.ipcw_auc(t, d, p, hz)[0] == pytest.approx(num / (wc.sum() * ctrl.sum()), abs=1e-12)
    gt = g.after(np.array([hz]))[0]
    brier = np.mean(wc * (1 - p) ** 2 + ctrl * p ** 2 / gt)
    assert sm.ipcw_brier(t, d, p, hz)[0] == pytest.approx(brier, abs=1e-12)


# ---------------------------------------------------------------------- result object
def test_result_frame_rendering_and_plots(lung_eval: SurvivalModelEvaluation) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = lung_eval.to_frame()
    for col in ("term", "estimate", "std_error", "conf_low", "conf_high", "p_value", "group",
                "time"):
        assert col in f.columns
    assert set(f["group"]) == {OVERALL, 1, 2}
    assert set(f["term"]) == {"harrell_c", "uno_c", "auc", "brier", "brier_null", "ipa",
                              "oe_ratio"}
    assert "Survival model evaluation" in lung_eval.summary()
    assert "harrell_c" in lung_eval.to_markdown()
    assert "\\toprule" in lung_eval.to_latex() and "<table" in lung_eval.to_html()
    cal = lung_eval.calibration
    assert list(cal.columns) == ["group", "time", "bin", "n", "mean_risk", "observed",
                                 "observed_std_error"]
    over = cal[(cal["group"] == OVERALL) & (cal["time"] == 365)]
    assert over["n"].sum() == len(LUNG) and len(over) == 10
    assert (np.diff(over["mean_risk"]) > 0).all()
    ax = lung_eval.plot_calibration(365)
    assert ax.get_xlabel().startswith("mean predicted risk")
    ax2 = lung_eval.plot_auc_over_time()
    assert len(ax2.lines) >= 3
    plt.close("all")


def test_score_only_gives_c_and_auc_from_the_score() -> None:
    ev = evaluate_survival_model(LUNG, time="time", event="event", score="lp",
                                 times=[180, 365])
    f = ev.to_frame()
    assert set(f["term"]) == {"harrell_c", "uno_c", "auc"}
    # AUC is rank based: the score and the Cox risk at t give the same AUC
    a = f.loc[(f["term"] == "auc") & (f["time"] == 180), "estimate"].iloc[0]
    assert a == pytest.approx(EST["overall"]["score"]["auc"]["180"]["auc"], abs=1e-12)
    assert ev.calibration.empty


def test_missing_drop_is_counted() -> None:
    d = LUNG.copy()
    d.loc[[0, 5], "lp"] = np.nan
    with pytest.raises(MissingDataError, match="missing values"):
        evaluate_survival_model(d, time="time", event="event", score="lp")
    ev = evaluate_survival_model(d, time="time", event="event", score="lp", missing="drop")
    assert ev.dropped.n_rows == 2 and ev.n == len(LUNG) - 2


# ---------------------------------------------------------------------- bad input
def test_bad_risk_outside_unit_interval() -> None:
    with pytest.raises(DataValidationError, match=r"probabilities in \[0, 1\] in column 'lp'"):
        evaluate_survival_model(LUNG, time="time", event="event", risk={180: "lp"})


def test_bad_times_beyond_follow_up() -> None:
    with pytest.raises(DataValidationError, match="times beyond follow-up"):
        evaluate_survival_model(LUNG, time="time", event="event", score="lp", times=[5000])


def test_bad_times_not_positive() -> None:
    with pytest.raises(DataValidationError, match="times must be positive"):
        evaluate_survival_model(LUNG, time="time", event="event", score="lp", times=[-1])


def test_bad_event_not_binary() -> None:
    with pytest.raises(DataValidationError, match=r"column 'status' \(event\) must be coded"):
        evaluate_survival_model(LUNG, time="time", event="status", score="lp")


def test_bad_no_events() -> None:
    d = LUNG.assign(event=0)
    with pytest.raises(DataValidationError, match="has no events"):
        evaluate_survival_model(d, time="time", event="event", score="lp")


def test_bad_no_events_in_a_subgroup() -> None:
    d = LUNG.assign(event=np.where(LUNG["sex"] == 2, 0, LUNG["event"]))
    with pytest.raises(DataValidationError, match="subgroup sex = 2 has no events"):
        evaluate_survival_model(d, time="time", event="event", score="lp", by="sex")


def test_bad_nothing_to_evaluate() -> None:
    with pytest.raises(DataValidationError, match="nothing to evaluate"):
        evaluate_survival_model(LUNG, time="time", event="event")


def test_bad_single_risk_column_with_two_times() -> None:
    with pytest.raises(DataValidationError, match="one risk column predicts one time"):
        evaluate_survival_model(LUNG, time="time", event="event", risk="risk180",
                                times=[180, 365])


def test_bad_risk_without_times() -> None:
    with pytest.raises(DataValidationError, match="needs the time it predicts"):
        evaluate_survival_model(LUNG, time="time", event="event", risk="risk180")


def test_bad_unknown_column() -> None:
    with pytest.raises(DataValidationError, match="lpp"):
        evaluate_survival_model(LUNG, time="time", event="event", score="lpp")


# ---------------------------------------------------------------------- simulated truth
def _simulate(rng: np.random.Generator, n: int, censor: bool = True):
    x = rng.normal(size=n)
    t = rng.exponential(1.0 / (0.1 * np.exp(0.8 * x)))
    if not censor:
        return x, t, np.ones(n, dtype=int)
    c = rng.uniform(0, 25, n)
    return x, np.minimum(t, c), (t <= c).astype(int)


def _true_auc(t_eval: float) -> float:
    # AUC(t) of the true risk (monotone in x) on 400,000 uncensored draws
    x, t, d = _simulate(np.random.default_rng(2024), 400_000, censor=False)
    return sm.ipcw_auc(t, d, x, t_eval)[0]


def _coverage(n_rep: int, n: int, seed: int) -> float:
    truth = _true_auc(8.0)
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_rep):
        x, t, d = _simulate(rng, n)
        ev = evaluate_survival_model(pd.DataFrame({"t": t, "e": d, "x": x}), time="t",
                                     event="e", score="x", times=[8.0])
        r = _get(ev, "auc", t=8.0)
        hits += r["conf_low"] <= truth <= r["conf_high"]
    return hits / n_rep


def test_auc_ci_covers_true_auc_simulated_truth() -> None:
    assert _coverage(n_rep=40, n=300, seed=7) >= 0.85


@pytest.mark.slow
def test_auc_ci_coverage_simulated_truth_slow() -> None:
    cov = _coverage(n_rep=1000, n=400, seed=8)
    assert 0.93 <= cov <= 0.97


# ---------------------------------------------------------------------- scale
def test_large_cohort_with_ties_gives_a_sensible_c_index() -> None:
    # a scale smoke test (speed is shown in benchmarks/bench_evaluation.py, never timed here)
    rng = np.random.default_rng(0)
    x, t, d = _simulate(rng, 200_000)
    dat = pd.DataFrame({"t": np.round(t, 2) + 0.01, "e": d, "x": x,
                        "r": 1 - np.exp(-0.8 * np.exp(0.8 * x))})
    ev = evaluate_survival_model(dat, time="t", event="e", score="x", risk={8.0: "r"})
    assert 0.6 < _get(ev, "harrell_c")["estimate"] < 0.8
