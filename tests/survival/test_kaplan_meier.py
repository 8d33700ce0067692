"""kaplan_meier() and logrank() against R's survival (survfit, survdiff) and simulated truth.

References (tests/reference/):
- lung_kaplan_meier.json: R 4.2.2, survival 3.5.3, ``survfit(Surv(time, status) ~ 1)`` and
  ``~ sex`` (Greenwood), ``summary(fit, times=)``, ``quantile``/``print`` medians,
  ``survdiff(Surv(time, status) ~ sex)``.
- km_weighted.json: written by tests/reference/r/km_weighted.R (R 4.2.2, survival 3.5.3):
  weighted KM with ``robust=TRUE`` (IJ) and ``robust=FALSE`` (Greenwood on weighted counts),
  left truncation ``Surv(entry, time, event)``, k-sample and stratified ``survdiff``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import REFERENCE, load_reference

import cohortlab as cl
from cohortlab.exceptions import DataValidationError, MissingDataError, ZeroTimeWarning
from cohortlab.results._schema import check_schema
from cohortlab.survival._counts import risk_counts
from cohortlab.survival._km import greenwood_log_var, km_conf_int, km_ij_variance, product_limit
from cohortlab.survival.kaplan_meier import kaplan_meier, logrank

ABS_LUNG = 1e-6  # lung_kaplan_meier.json: R printed to 6 decimals
ABS_LOGRANK = 1e-4  # lung_kaplan_meier.json tolerance for the log-rank chi-square and p
ABS_EXACT = 1e-10  # km_weighted.json: full-precision R output, same closed forms
CI_KEYS = {"log": "ci_log", "log-log": "ci_loglog", "plain": "ci_plain"}


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "lung.csv")
    d["event"] = d["status"] - 1
    row = np.arange(1, len(d) + 1)
    d["w"] = 0.5 + (row % 4) * 0.35  # as tests/reference/r/km_weighted.R
    d["entry"] = np.floor(d["time"] * (row % 3) / 4)
    return d


@pytest.fixture(scope="module")
def weighted_ref() -> dict:
    return load_reference("km_weighted")["estimates"]


def _assert_curve(km, ref: dict, *, weighted: bool, abs_tol: float = ABS_EXACT,
                  lower: str = "lower", upper: str = "upper") -> None:
    d = km.to_frame()
    n_risk = d["n_risk_weighted"] if weighted else d["n_risk"]
    n_event = d["n_event_weighted"] if weighted else d["n_event"]
    np.testing.assert_allclose(d["time"], ref["time"], rtol=0, atol=0)
    np.testing.assert_allclose(n_risk, ref["n_risk"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(n_event, ref["n_event"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(d["estimate"], ref["surv"], rtol=0, atol=abs_tol)
    np.testing.assert_allclose(d["std_error"], ref["se"], rtol=0, atol=abs_tol)
    lo = np.array(ref[lower], dtype=float)  # JSON null (R NA) -> NaN
    hi = np.array(ref[upper], dtype=float)
    np.testing.assert_allclose(d["conf_low"], lo, rtol=0, atol=abs_tol)
    np.testing.assert_allclose(d["conf_high"], hi, rtol=0, atol=abs_tol)


# ---------------------------------------------------------------------- lung, Greenwood
@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
def test_lung_overall_matches_r_survfit(lung, conf_type):
    """R: summary(survfit(Surv(time, status) ~ 1, lung, conf.type=<type>), times=c(180, 365, 730))."""
    ref = load_reference("lung_kaplan_meier")["estimates"]["overall"]
    km = kaplan_meier(lung, time="time", event="event", conf_type=conf_type)
    at = km.at([r["t"] for r in ref]).to_frame()
    frame = km.to_frame().set_index("time")
    for (_, row), r in zip(at.iterrows(), ref, strict=True):
        assert row["estimate"] == pytest.approx(r["surv"], abs=ABS_LUNG)
        assert row["std_error"] == pytest.approx(r["se"], abs=ABS_LUNG)
        assert (row["conf_low"], row["conf_high"]) == pytest.approx(r[CI_KEYS[conf_type]],
                                                                   abs=ABS_LUNG)
        # n_risk at the R "times" = the number at risk at the next distinct time >= t
        later = frame.index[frame.index >= r["t"]][0]
        assert frame.loc[later, "n_risk"] == r["n_risk"]
    assert km.conf_type == conf_type and km.ci_method == "greenwood"
    assert km.n == 228 and km.n_events == 165 and not km.weighted


def test_lung_by_sex_matches_r_survfit(lung):
    """R: summary(survfit(Surv(time, status) ~ sex, lung), times=c(180, 365)) (conf.type="log")."""
    ref = load_reference("lung_kaplan_meier")["estimates"]["by_sex"]
    km = kaplan_meier(lung, time="time", event="event", by="sex", conf_type="log")
    assert km.groups == [1, 2]
    at = km.at([180, 365]).to_frame().set_index(["group", "time"])
    for r in ref:
        row = at.loc[(r["sex"], float(r["t"]))]
        assert row["estimate"] == pytest.approx(r["surv"], abs=ABS_LUNG)
        assert row["std_error"] == pytest.approx(r["se"], abs=ABS_LUNG)
        assert (row["conf_low"], row["conf_high"]) == pytest.approx(r["ci_log"], abs=ABS_LUNG)


def test_lung_medians_and_their_ci_match_r(lung):
    """R: print(survfit(Surv(time, status) ~ 1, lung)) -> median 310 (285, 363); ~ sex ->
    270 (212, 310) and 426 (348, 550). The interval is read off the log-type band."""
    ref = load_reference("lung_kaplan_meier")["estimates"]
    med = kaplan_meier(lung, time="time", event="event", conf_type="log").median().to_frame()
    assert med.loc[0, ["estimate", "conf_low", "conf_high"]].tolist() == [
        ref["median"], *ref["median_ci_log"]]
    by = kaplan_meier(lung, time="time", event="event", by="sex", conf_type="log").median()
    got = {r.labels["group"]: [r.estimate, r.conf_low, r.conf_high] for r in by}
    assert got == {int(k): v for k, v in ref["median_by_sex"].items()}


def test_lung_logrank_by_sex_matches_r_survdiff(lung):
    """R: survdiff(Surv(time, status) ~ sex, lung) -> chisq 10.3 on 1 df, p = 0.00131."""
    ref = load_reference("lung_kaplan_meier")["estimates"]
    lr = logrank(lung, time="time", event="event", by="sex")
    assert lr.statistic == pytest.approx(ref["logrank_sex_chisq"], abs=ABS_LOGRANK)
    assert isinstance(lr, cl.TestResult) and math.isnan(lr.to_frame().loc[0, "estimate"])
    assert lr.p_value == pytest.approx(ref["logrank_p"], abs=ABS_LOGRANK)
    assert lr.df == 1
    assert (lr.term, lr.effect_measure, lr.method, lr.ci_method) == (
        "log-rank: sex", "chi_square", "logrank", "none")
    diag = lr.diagnostics
    assert diag["observed"].tolist() == [112.0, 53.0]
    assert diag["expected"].sum() == pytest.approx(165.0)
    assert diag["n"].tolist() == [138, 90]
    check_schema(lr.to_frame())


# ---------------------------------------------------------------------- weighted, truncation
def test_weighted_km_ij_matches_r_robust(lung, weighted_ref):
    """R: survfit(Surv(time, event) ~ 1, lung, weights = w, robust = TRUE), log-log and log."""
    data = load_reference("km_weighted")["data"]  # the fixture rebuilds R's weights exactly
    np.testing.assert_allclose(lung["w"], data["weights_values"], rtol=1e-14)  # JSON: 15 digits
    np.testing.assert_array_equal(lung["entry"], data["entry_values"])
    ref = weighted_ref["overall_ij"]
    km = kaplan_meier(lung, time="time", event="event", weights="w")
    assert km.ci_method == "infinitesimal_jackknife" and km.weighted
    _assert_curve(km, ref, weighted=True)
    km_log = kaplan_meier(lung, time="time", event="event", weights="w", conf_type="log")
    _assert_curve(km_log, ref, weighted=True, lower="lower_log", upper="upper_log")


def test_weighted_km_by_sex_ij_matches_r_robust(lung, weighted_ref):
    """R: survfit(Surv(time, event) ~ sex, lung, weights = w, robust = TRUE)."""
    ref = weighted_ref["by_sex_ij"]
    km = kaplan_meier(lung, time="time", event="event", by="sex", weights="w")
    frame = km.to_frame()
    assert frame["group"].map({1: "sex=1", 2: "sex=2"}).tolist() == ref["strata"]
    _assert_curve(km, ref, weighted=True)


def test_weighted_km_greenwood_matches_r_robust_false(lung, weighted_ref):
    """R: survfit(Surv(time, event) ~ 1, lung, weights = w, robust = FALSE)."""
    km = kaplan_meier(lung, time="time", event="event", weights="w", variance="greenwood")
    assert km.ci_method == "greenwood"
    assert any("frequency weights" in n for n in km.notes)
    _assert_curve(km, weighted_ref["overall_greenwood"], weighted=True)


def test_left_truncation_matches_r_counting_process(lung, weighted_ref):
    """R: survfit(Surv(entry, time, event) ~ 1, lung) and, weighted,
    survfit(Surv(entry, time, event) ~ 1, lung, weights = w, id = row, robust = TRUE)."""
    km = kaplan_meier(lung, time="time", event="event", entry="entry")
    _assert_curve(km, weighted_ref["entry_greenwood"], weighted=False)
    km_w = kaplan_meier(lung, time="time", event="event", entry="entry", weights="w")
    _assert_curve(km_w, weighted_ref["entry_ij"], weighted=True)


def test_weighted_columns_are_kept_apart_and_labelled(lung):
    km = kaplan_meier(lung, time="time", event="event", weights="w")
    d = km.to_frame()
    check_schema(d, "curve")
    assert d.columns[-3:].tolist() == ["n_risk_weighted", "n_event_weighted",
                                       "n_censor_weighted"]
    assert d["n_risk"].dtype.kind == "i" and d.loc[0, "n_risk"] == 228
    assert d.loc[0, "n_risk_weighted"] == pytest.approx(lung["w"].sum())
    assert d["cause"].isna().all() and (d["group"] == "all").all()
    plain = kaplan_meier(lung, time="time", event="event").to_frame()
    assert "n_risk_weighted" not in plain.columns
    assert d["n_censor"].sum() + d["n_event"].sum() == len(lung)


def test_ij_without_weights_equals_greenwood(lung):
    gw = kaplan_meier(lung, time="time", event="event").to_frame()
    ij = kaplan_meier(lung, time="time", event="event",
                      variance="infinitesimal_jackknife").to_frame()
    np.testing.assert_allclose(ij["std_error"], gw["std_error"], rtol=1e-12, atol=1e-15)


def test_ij_kernel_equals_brute_force_influence(rng):
    """The O(n log n) IJ equals sum_i w_i^2 U_i(t)^2 from R's recursion run row by row."""
    n = 60
    t = np.round(rng.exponential(2.0, n), 1) + 0.1
    e = (rng.uniform(size=n) < 0.7).astype(int)
    w = rng.uniform(0.3, 2.0, n)
    entry = np.where(rng.uniform(size=n) < 0.5, 0.0, t * rng.uniform(0, 0.9, n))
    for t0 in (None, entry):
        grid = np.unique(t)
        at_risk = (t[None, :] >= grid[:, None]) & (
            True if t0 is None else t0[None, :] < grid[:, None])
        y = (at_risk * w).sum(axis=1)
        d = ((t[None, :] == grid[:, None]) * (e * w)).sum(axis=1)
        s = product_limit(y, d)
        u, km, brute = np.zeros(n), 1.0, []
        for j in range(grid.size):  # R's survfitkm.c recursion, per time (test only)
            h = d[j] / y[j]
            dn = (t == grid[j]) & (e == 1)
            u = u * (1 - h) + km * (at_risk[j] * h - dn) / y[j]
            km *= 1 - h
            brute.append(np.sum((w * u) ** 2))
        fast = km_ij_variance(grid, y, d, s, t, e, w, t0)
        np.testing.assert_allclose(fast, brute, rtol=1e-10, atol=1e-14)


def test_integer_weights_equal_replicated_rows(lung):
    k = (np.arange(len(lung)) % 3) + 1
    weighted = lung.assign(k=k)
    replicated = lung.loc[lung.index.repeat(k)]
    for by in (None, "sex"):
        a = kaplan_meier(weighted, time="time", event="event", weights="k", by=by,
                         variance="greenwood").to_frame()
        b = kaplan_meier(replicated, time="time", event="event", by=by).to_frame()
        for col_a, col_b in [("estimate", "estimate"), ("std_error", "std_error"),
                             ("conf_low", "conf_low"), ("conf_high", "conf_high"),
                             ("n_risk_weighted", "n_risk"), ("n_event_weighted", "n_event")]:
            np.testing.assert_allclose(a[col_a], b[col_b], rtol=1e-12)
        ij = kaplan_meier(weighted, time="time", event="event", weights="k", by=by).to_frame()
        np.testing.assert_allclose(ij["estimate"], b["estimate"], rtol=1e-12)
    lr_w = logrank(weighted, time="time", event="event", by="sex", weights="k")
    lr_r = logrank(replicated, time="time", event="event", by="sex")
    assert lr_w.statistic == pytest.approx(lr_r.statistic, rel=1e-12)
    assert lr_w.diagnostics["observed_weighted"].tolist() == lr_r.diagnostics[
        "observed"].tolist()
    assert lr_w.notes == ()  # integer weights: no frequency-weight caveat


# ---------------------------------------------------------------------- log-rank
def test_logrank_four_groups_matches_r(lung, weighted_ref):
    """R: survdiff(Surv(time, event) ~ ph.ecog, lung[!is.na(lung$ph.ecog), ]) -> 3 df."""
    ref = weighted_ref["logrank_ecog"]
    lr = logrank(lung.dropna(subset=["ph.ecog"]), time="time", event="event", by="ph.ecog")
    assert lr.statistic == pytest.approx(ref["chisq"], abs=1e-8)
    assert lr.p_value == pytest.approx(ref["p"], rel=1e-8)
    assert lr.df == ref["df"] == 3
    np.testing.assert_allclose(lr.diagnostics["expected"], ref["expected"], rtol=1e-10)
    assert lr.diagnostics["n"].tolist() == ref["n"]


def test_stratified_logrank_matches_r(lung, weighted_ref):
    """R: survdiff(Surv(time, event) ~ sex + strata(ph.ecog), lung[!is.na(lung$ph.ecog), ])."""
    ref = weighted_ref["logrank_sex_strata_ecog"]
    lr = logrank(lung, time="time", event="event", by="sex", strata="ph.ecog",
                 missing="drop")
    assert lr.statistic == pytest.approx(ref["chisq"], abs=1e-8)
    assert lr.p_value == pytest.approx(ref["p"], rel=1e-8)
    np.testing.assert_allclose(lr.diagnostics["observed"], ref["observed"])
    np.testing.assert_allclose(lr.diagnostics["expected"], ref["expected"], rtol=1e-10)
    assert lr.n == 227 and lr.dropped.n_rows == 1 and lr.dropped.by_column == {"ph.ecog": 1}
    assert any("stratified by ph.ecog (4 strata)" in n for n in lr.notes)


def test_logrank_noninteger_weights_note_scale_dependence(lung):
    lr = logrank(lung, time="time", event="event", by="sex", weights="w")
    assert any("frequency weights" in n for n in lr.notes)
    assert {"observed_weighted", "expected_weighted", "n_weighted"} <= set(lr.diagnostics)
    double = logrank(lung.assign(w=2 * lung["w"]), time="time", event="event", by="sex",
                     weights="w")
    assert double.statistic > lr.statistic  # documented: the scale of the weights matters


# ---------------------------------------------------------------------- time zero, missing
def test_time_zero_warns_and_an_event_at_zero_drops_the_curve_at_zero():
    """R: summary(survfit(Surv(t, e) ~ 1, data.frame(t = c(0, 0, 1, 2, 3), e = c(1, 0, 1, 0, 1))),
    censored = TRUE) -> time 0: n.risk 5, n.event 1, n.censor 1, surv 0.8, std.err 0.1788854;
    time 1: surv 0.5333333; time 3: surv 0, std.err NaN, lower/upper NA."""
    d = pd.DataFrame({"t": [0, 0, 1, 2, 3], "e": [1, 0, 1, 0, 1]})
    with pytest.warns(ZeroTimeWarning, match=r"kaplan_meier\(\): column 't' \(time\) has 2 rows"):
        km = kaplan_meier(d, time="t", event="e", conf_type="log")
    f = km.to_frame()
    assert f.loc[0, ["time", "n_risk", "n_event", "n_censor"]].tolist() == [0.0, 5, 1, 1]
    assert f["estimate"].tolist() == pytest.approx([0.8, 0.8 * 2 / 3, 0.8 * 2 / 3, 0.0])
    assert f.loc[0, "std_error"] == pytest.approx(0.1788854, abs=1e-7)
    assert (f.loc[0, "conf_low"], f.loc[0, "conf_high"]) == pytest.approx((0.5161258, 1.0),
                                                                          abs=1e-7)
    assert f.iloc[-1][["std_error", "conf_low", "conf_high"]].isna().all()


def test_missing_drop_counts_rows(lung):
    d = lung.copy()
    d.loc[[0, 5], "time"] = np.nan
    with pytest.raises(MissingDataError, match=r"kaplan_meier\(\): 2 of 228 rows"):
        kaplan_meier(d, time="time", event="event")
    km = kaplan_meier(d, time="time", event="event", missing="drop")
    assert km.n == 226 and km.dropped.n_rows == 2 and km.dropped.by_column == {"time": 2}


# ---------------------------------------------------------------------- bad input
@pytest.fixture
def small() -> pd.DataFrame:
    return pd.DataFrame({"t": [1.0, 2.0, 3.0, 4.0], "e": [1, 0, 1, 1], "g": [0, 0, 1, 1],
                         "w": [1.0, 2.0, 1.0, 0.5], "s": [0.0, 0.5, 1.0, 0.0]})


def test_negative_times_raise(small):
    with pytest.raises(DataValidationError, match=r"kaplan_meier\(\): column 't' \(time\) "
                                                  r"has 1 negative values"):
        kaplan_meier(small.assign(t=[1.0, -2.0, 3.0, 4.0]), time="t", event="e")


def test_event_codes_outside_0_1_raise(small):
    with pytest.raises(DataValidationError, match=r"column 'e' \(event\) must be coded 0 "
                                                  r"\(censored\) and 1 \(event\); got codes"):
        kaplan_meier(small.assign(e=[0, 1, 2, 1]), time="t", event="e")


def test_logrank_by_with_one_level_raises(small):
    with pytest.raises(DataValidationError, match=r"logrank\(\): column 'g' \(by\) must have "
                                                  r"at least two levels"):
        logrank(small.assign(g=1), time="t", event="e", by="g")


def test_logrank_without_events_raises(small):
    with pytest.raises(DataValidationError, match=r"logrank\(\): column 'e' \(event\) has no "
                                                  r"events among the 4 rows"):
        logrank(small.assign(e=0), time="t", event="e", by="g")


def test_negative_weights_raise(small):
    with pytest.raises(DataValidationError, match=r"column 'w' \(weights\) has 1 negative"):
        kaplan_meier(small.assign(w=[1.0, -1.0, 1.0, 1.0]), time="t", event="e", weights="w")


def test_entry_not_before_exit_raises(small):
    with pytest.raises(DataValidationError, match=r"1 rows have entry time 's' >= exit time"):
        kaplan_meier(small.assign(s=[0.0, 2.0, 1.0, 0.0]), time="t", event="e", entry="s")


def test_conf_type_misspelt_raises_listing_the_options(small):
    with pytest.raises(DataValidationError,
                       match=r'conf_type must be one of \{"log", "log-log", "plain"\}; '
                             r"got 'loglog'"):
        kaplan_meier(small, time="t", event="e", conf_type="loglog")


def test_variance_misspelt_raises(small):
    with pytest.raises(DataValidationError, match=r"variance must be one of"):
        kaplan_meier(small, time="t", event="e", variance="robust")


def test_misspelt_column_suggests_close_match(small):
    with pytest.raises(DataValidationError, match=r"column 'tt' not found \(time\)\. "
                                                  r"Did you mean 't'\?"):
        kaplan_meier(small, time="tt", event="e")


def test_conf_level_percent_raises(small):
    with pytest.raises(DataValidationError, match=r"Did you mean 0.95\?"):
        kaplan_meier(small, time="t", event="e", conf_level=95)


# ---------------------------------------------------------------------- simulated truth
def _kernel_interval(t: np.ndarray, e: np.ndarray, w: np.ndarray, weighted: bool,
                     t0: float) -> tuple[float, float]:
    """The log-log interval at t0 from the array kernels (what kaplan_meier() calls)."""
    order = np.argsort(t)
    t, e, w = t[order], e[order], w[order]
    rc = risk_counts(t, e, w if weighted else None, n_causes=1)
    y, d = rc.n_risk, rc.n_event[:, 0]
    s = product_limit(y, d)
    i = np.searchsorted(rc.time, t0, side="right") - 1
    var = (km_ij_variance(rc.time, y, d, s, t, e, w)[i] if weighted
           else s[i] ** 2 * greenwood_log_var(y, d)[i])
    lo, hi = km_conf_int(s[i:i + 1], np.sqrt([var]), "log-log", 0.95)
    return float(lo[0]), float(hi[0])


def _coverage(n_rep: int, n: int, weighted: bool, seed: int, *, kernels: bool = False) -> float:
    """Share of log-log 95% intervals that contain the true S(t0).

    Unweighted: exponential(rate 0.2) events, exponential(rate 0.1) censoring, t0 = 3.
    Weighted: a stratified sample, 70% from stratum x=1 (rate 0.5) whereas the population
    has 30%; weights 0.3/0.7 and 0.7/0.3 undo the design; the truth is the population S(t0).
    ``kernels=True`` skips the DataFrame layer (same numbers, ~10x faster) for the large run.
    """
    rng = np.random.default_rng(seed)
    t0 = 3.0
    hits = 0
    for _ in range(n_rep):
        if weighted:
            x = rng.uniform(size=n) < 0.7
            rate = np.where(x, 0.5, 0.1)
            w = np.where(x, 0.3 / 0.7, 0.7 / 0.3)
            truth = 0.3 * math.exp(-0.5 * t0) + 0.7 * math.exp(-0.1 * t0)
        else:
            rate, w = np.full(n, 0.2), np.ones(n)
            truth = math.exp(-0.2 * t0)
        t = rng.exponential(1 / rate)
        c = rng.exponential(10.0, n)
        time, event = np.minimum(t, c), (t <= c).astype(int)
        if kernels:
            lo, hi = _kernel_interval(time, event, w, weighted, t0)
        else:
            d = pd.DataFrame({"t": time, "e": event, "w": w})
            f = kaplan_meier(d, time="t", event="e",
                             weights="w" if weighted else None).to_frame()
            i = np.searchsorted(f["time"].to_numpy(), t0, side="right") - 1
            lo, hi = f["conf_low"].iat[i], f["conf_high"].iat[i]
        hits += lo <= truth <= hi
    return hits / n_rep


@pytest.mark.parametrize("weighted", [False, True], ids=["greenwood", "ij_weighted"])
def test_km_ci_coverage_simulated_truth(weighted):
    cover = _coverage(200, 300, weighted, seed=20260101 + weighted)
    assert 0.92 <= cover <= 0.98


@pytest.mark.slow
@pytest.mark.parametrize("weighted", [False, True], ids=["greenwood", "ij_weighted"])
def test_km_ci_coverage_simulated_truth_large(weighted):
    cover = _coverage(2000, 500, weighted, seed=7 + weighted, kernels=True)
    assert 0.935 <= cover <= 0.965  # +-3 binomial SDs around 0.95
