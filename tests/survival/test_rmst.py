"""rmst() against survRM2 / R's survfit rmean, R's IJ residuals, and simulated truth.

References (tests/reference/):
- rmst.json: pbc (survRM2 sample, tau = 10 years) and lung by sex (tau = 365), R 4.2.2,
  survival 3.5.3; survRM2 vignette numbers (difference -0.137, arm1 7.146, arm0 7.283).
- km_weighted.json (tests/reference/r/km_weighted.R): weighted RMST at 365 days with the
  IJ standard error ``sqrt(sum((w * residuals(fit, times = 365, type = "rmst"))^2))``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import REFERENCE, load_reference

from cohortlab.exceptions import DataValidationError
from cohortlab.results._schema import check_schema
from cohortlab.survival._counts import risk_counts
from cohortlab.survival._km import (
    product_limit,
    rmst_from_curve,
    rmst_greenwood_var,
    rmst_ij_variance,
)
from cohortlab.survival.rmst import rmst

ABS_RMST = 1e-6  # rmst.json: "rmst": abs 1e-6 (also used for the CIs, printed to 6 decimals)
REL_SE = 1e-4  # rmst.json: "se": rel 1e-4
ABS_PUBLISHED = 5e-4  # rmst.json: "vs_published"


@pytest.fixture(scope="module")
def pbc() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / "pbc_rmst2_sample.csv")


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE / "data" / "lung.csv")
    d["event"] = d["status"] - 1
    d["w"] = 0.5 + (np.arange(1, len(d) + 1) % 4) * 0.35  # as km_weighted.R
    return d


def test_pbc_tau10_matches_survrm2(pbc):
    """R: survRM2::rmst2(pbc$time, pbc$status, pbc$arm, tau = 10) (pbc[1:312], years)."""
    ref = load_reference("rmst")["estimates"]["pbc_tau10"]
    tab = rmst(pbc, time="time", event="status", tau=10, by="arm")
    assert [r.term for r in tab] == [
        "RMST arm=0", "RMST arm=1", "RMST difference arm=1 vs 0", "RMST ratio arm=1 vs 0",
        "RMTL ratio arm=1 vs 0"]
    arm0, arm1, diff, ratio, rmtl = tab.rows
    for est, key in [(arm1, "arm1"), (arm0, "arm0")]:
        assert est.estimate == pytest.approx(ref[f"rmst_{key}"], abs=ABS_RMST)
        assert est.std_error == pytest.approx(ref[f"se_{key}"], rel=REL_SE)
        assert (est.conf_low, est.conf_high) == pytest.approx(ref[f"ci_{key}"], abs=ABS_RMST)
        assert est.effect_measure == "rmst" and est.ci_method == "greenwood"
        assert math.isnan(est.p_value)
    assert diff.estimate == pytest.approx(ref["diff"], abs=ABS_RMST)
    assert diff.std_error == pytest.approx(ref["se_diff"], rel=REL_SE)
    assert (diff.conf_low, diff.conf_high) == pytest.approx(ref["ci_diff"], abs=ABS_RMST)
    assert diff.p_value == pytest.approx(ref["p"], abs=ABS_RMST)
    assert ratio.estimate == pytest.approx(ref["ratio"], abs=ABS_RMST)
    assert (ratio.conf_low, ratio.conf_high) == pytest.approx(ref["ci_ratio"], abs=ABS_RMST)
    assert rmtl.estimate == pytest.approx(ref["rmtl_ratio"], abs=ABS_RMST)
    assert (rmtl.conf_low, rmtl.conf_high) == pytest.approx(ref["ci_rmtl_ratio"], abs=ABS_RMST)
    assert (diff.effect_measure, ratio.effect_measure, rmtl.effect_measure) == (
        "rmst_difference", "rmst_ratio", "rmtl_ratio")
    assert ratio.is_ratio and rmtl.is_ratio and diff.n == len(pbc)
    # the survRM2 vignette's printed numbers
    assert (arm1.estimate, arm0.estimate, diff.estimate) == pytest.approx(
        (7.146, 7.283, -0.137), abs=ABS_PUBLISHED)
    check_schema(tab.to_frame())


def test_lung_by_sex_tau365_matches_r_rmean(lung):
    """R: print(survfit(Surv(time, status) ~ sex, lung), rmean = 365)."""
    ref = load_reference("rmst")["estimates"]["lung_by_sex_tau365"]
    tab = rmst(lung, time="time", event="event", tau=365, by="sex")
    s1, s2, diff = tab["RMST sex=1"], tab["RMST sex=2"], tab["RMST difference sex=2 vs 1"]
    assert s1.estimate == pytest.approx(ref["sex1"][0], abs=ABS_RMST)
    assert s1.std_error == pytest.approx(ref["sex1"][1], rel=REL_SE)
    assert s2.estimate == pytest.approx(ref["sex2"][0], abs=ABS_RMST)
    assert s2.std_error == pytest.approx(ref["sex2"][1], rel=REL_SE)
    assert diff.estimate == pytest.approx(ref["diff_2_minus_1"], abs=ABS_RMST)
    assert diff.std_error == pytest.approx(ref["se_diff"], rel=REL_SE)
    assert s1.labels == {"group": 1, "tau": 365.0}
    assert diff.labels == {"group": 2, "reference": 1, "tau": 365.0}


def test_weighted_rmst_ij_matches_r_residuals(lung):
    """R: survfit(Surv(time, event) ~ 1, lung, weights = w, robust = TRUE); rmean at 365 and
    sqrt(sum((w * residuals(fit, times = 365, type = "rmst"))^2)); also per sex."""
    ref = load_reference("km_weighted")["estimates"]["rmst_tau365"]
    one = rmst(lung, time="time", event="event", tau=365, weights="w")
    assert len(one) == 1 and one[0].term == "RMST"
    assert one[0].estimate == pytest.approx(ref["overall"]["rmst"], abs=1e-8)
    assert one[0].std_error == pytest.approx(ref["overall"]["se_ij"], rel=1e-10)
    assert one[0].ci_method == "infinitesimal_jackknife"
    by = rmst(lung, time="time", event="event", tau=365, weights="w", by="sex")
    for lvl in (1, 2):
        est = by[f"RMST sex={lvl}"]
        assert est.estimate == pytest.approx(ref[f"sex{lvl}"]["rmst"], abs=1e-8)
        assert est.std_error == pytest.approx(ref[f"sex{lvl}"]["se_ij"], rel=1e-10)


def test_r_printed_weighted_rmean_se_is_greenwood_on_weighted_counts(lung):
    """R 3.5.3 prints se(rmean) of a weighted fit with the Greenwood plug-in on the weighted
    counts even with robust = TRUE; we report the IJ instead (documented), and this pins
    which number R's print shows."""
    ref = load_reference("km_weighted")["estimates"]["rmst_tau365"]["overall"]
    rc = risk_counts(lung["time"].to_numpy(float), lung["event"].to_numpy(), lung["w"].to_numpy())
    y, d = rc.n_risk, rc.n_event[:, 0]
    _, tail = rmst_from_curve(rc.time, product_limit(y, d), 365.0)
    se = math.sqrt(rmst_greenwood_var(rc.time, y, d, tail, 365.0))
    assert se == pytest.approx(ref["se_printed"], rel=1e-10)


def test_ij_without_weights_equals_greenwood(lung):
    t = np.sort(lung["time"].to_numpy(float))
    e = lung["event"].to_numpy()[np.argsort(lung["time"].to_numpy(float), kind="stable")]
    rc = risk_counts(t, e)
    y, d = rc.n_risk, rc.n_event[:, 0]
    for tau in (100.0, 365.0, 1022.0):
        _, tail = rmst_from_curve(rc.time, product_limit(y, d), tau)
        assert rmst_ij_variance(rc.time, y, d, tail, tau, t, e, np.ones(t.size)) == (
            pytest.approx(rmst_greenwood_var(rc.time, y, d, tail, tau), rel=1e-12))


def test_integer_weights_give_the_estimates_of_replicated_rows(lung):
    k = (np.arange(len(lung)) % 3) + 1
    a = rmst(lung.assign(k=k), time="time", event="event", tau=500, weights="k", by="sex")
    b = rmst(lung.loc[lung.index.repeat(k)], time="time", event="event", tau=500, by="sex")
    np.testing.assert_allclose([r.estimate for r in a], [r.estimate for r in b], rtol=1e-12)


def test_reference_level_sets_the_direction(pbc):
    default = rmst(pbc, time="time", event="status", tau=10, by="arm")
    flipped = rmst(pbc, time="time", event="status", tau=10, by="arm", reference=1)
    d0 = default["RMST difference arm=1 vs 0"]
    d1 = flipped["RMST difference arm=0 vs 1"]
    assert d1.estimate == pytest.approx(-d0.estimate)
    assert d1.std_error == pytest.approx(d0.std_error)
    r0, r1 = default["RMST ratio arm=1 vs 0"], flipped["RMST ratio arm=0 vs 1"]
    assert r1.estimate == pytest.approx(1 / r0.estimate)
    assert r1.conf_low == pytest.approx(1 / r0.conf_high)


def test_three_groups_compare_each_with_the_reference(lung):
    d = lung.dropna(subset=["ph.ecog"]).query("`ph.ecog` < 3")
    tab = rmst(d, time="time", event="event", tau=300, by="ph.ecog")
    terms = [r.term for r in tab]
    assert terms[:3] == ["RMST ph.ecog=0.0", "RMST ph.ecog=1.0", "RMST ph.ecog=2.0"]
    assert sum(t.startswith("RMST difference") for t in terms) == 2
    assert len(tab) == 3 + 2 * 3


def test_conf_level_narrows_the_interval(pbc):
    a = rmst(pbc, time="time", event="status", tau=10, by="arm")
    b = rmst(pbc, time="time", event="status", tau=10, by="arm", conf_level=0.9)
    for x, y in zip(a, b, strict=True):
        assert y.conf_high - y.conf_low < x.conf_high - x.conf_low


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("tau", [0, -1.0, math.nan, "365", None])
def test_tau_not_positive_raises(pbc, tau):
    with pytest.raises(DataValidationError, match=r"rmst\(\): tau must be a finite number > 0"):
        rmst(pbc, time="time", event="status", tau=tau)


def test_tau_beyond_follow_up_names_the_group(pbc):
    m0, m1 = (pbc.loc[pbc["arm"] == a, "time"].max() for a in (0, 1))
    assert m0 < 12.42 < m1
    with pytest.raises(DataValidationError,
                       match=rf"tau=12.42 is beyond the largest follow-up time in group arm=0; "
                             rf"got max time {m0:g}\. .* choose tau <= {m0:g}"):
        rmst(pbc, time="time", event="status", tau=12.42, by="arm")
    with pytest.raises(DataValidationError,
                       match=rf"in groups arm=0, arm=1; got max time {m0:g}, {m1:g}"):
        rmst(pbc, time="time", event="status", tau=13, by="arm")
    with pytest.raises(DataValidationError, match=r"tau=13 is beyond the largest follow-up "
                                                  r"time; got max time 12.4736"):
        rmst(pbc, time="time", event="status", tau=13)


def test_reference_not_a_level_raises(pbc):
    with pytest.raises(DataValidationError, match=r"reference=2 is not a level of column 'arm'"):
        rmst(pbc, time="time", event="status", tau=10, by="arm", reference=2)


def test_by_with_one_level_raises(pbc):
    with pytest.raises(DataValidationError, match=r"column 'arm' \(by\) must have at least two"):
        rmst(pbc.query("arm == 1"), time="time", event="status", tau=5, by="arm")


def test_negative_weights_raise(pbc):
    w = np.ones(len(pbc))
    w[3] = -1
    with pytest.raises(DataValidationError, match=r"column 'w' \(weights\) has 1 negative"):
        rmst(pbc.assign(w=w), time="time", event="status", tau=5, weights="w")


# ---------------------------------------------------------------------- simulated truth
def _kernel_rmst(t: np.ndarray, e: np.ndarray, w: np.ndarray | None,
                 tau: float) -> tuple[float, float]:
    """RMST and its variance from the array kernels (what rmst() calls per group)."""
    order = np.argsort(t)
    t, e = t[order], e[order]
    w = None if w is None else w[order]
    rc = risk_counts(t, e, w, n_causes=1)
    y, d = rc.n_risk, rc.n_event[:, 0]
    area, tail = rmst_from_curve(rc.time, product_limit(y, d), tau)
    if w is None:
        return area, rmst_greenwood_var(rc.time, y, d, tail, tau)
    return area, rmst_ij_variance(rc.time, y, d, tail, tau, t, e, w)


def _rmst_coverage(n_rep: int, n: int, weighted: bool, seed: int, *,
                   kernels: bool = False) -> tuple[float, float]:
    """Coverage of the 95% interval of RMST(tau) in arm 0 and of the arm 1 - arm 0 difference.

    Exponential event times, rate 0.1 (arm 1) or 0.2 (arm 0), times 2.5 in stratum x=1;
    exponential(0.1) censoring; tau = 4, so RMST = (1 - exp(-rate tau)) / rate per stratum.
    Unweighted: no strata (x = 0). Weighted: the sample has 70% x=1 where the population has
    30%; the known design weights 0.3/0.7 and 0.7/0.3 target the population RMST.
    ``kernels=True`` skips the DataFrame layer (same numbers, much faster) for the large run.
    """
    rng = np.random.default_rng(seed)
    tau = 4.0

    def area(r: float) -> float:
        return (1 - math.exp(-r * tau)) / r

    share = 0.3 if weighted else 0.0
    truth = {a: share * area(2.5 * r) + (1 - share) * area(r) for a, r in ((0, 0.2), (1, 0.1))}
    hit_rmst = hit_diff = 0
    for _ in range(n_rep):
        arm = (rng.uniform(size=n) < 0.5).astype(int)
        x = rng.uniform(size=n) < (0.7 if weighted else 0.0)
        t = rng.exponential(1 / (np.where(arm == 1, 0.1, 0.2) * np.where(x, 2.5, 1.0)))
        c = rng.exponential(10.0, n)
        time, event, w = np.minimum(t, c), (t <= c).astype(int), np.where(x, 0.3 / 0.7, 0.7 / 0.3)
        if kernels:
            (a0, v0), (a1, v1) = (
                _kernel_rmst(time[arm == g], event[arm == g],
                             w[arm == g] if weighted else None, tau) for g in (0, 1))
            ci0 = a0 + np.array([-1, 1]) * 1.959964 * math.sqrt(v0)
            ci_d = a1 - a0 + np.array([-1, 1]) * 1.959964 * math.sqrt(v0 + v1)
        else:
            d = pd.DataFrame({"t": time, "e": event, "arm": arm, "w": w})
            tab = rmst(d, time="t", event="e", tau=tau, by="arm",
                       weights="w" if weighted else None)
            r0, diff = tab["RMST arm=0"], tab["RMST difference arm=1 vs 0"]
            ci0, ci_d = (r0.conf_low, r0.conf_high), (diff.conf_low, diff.conf_high)
        hit_rmst += ci0[0] <= truth[0] <= ci0[1]
        hit_diff += ci_d[0] <= truth[1] - truth[0] <= ci_d[1]
    return hit_rmst / n_rep, hit_diff / n_rep


@pytest.mark.parametrize("weighted", [False, True], ids=["greenwood", "ij_weighted"])
def test_rmst_ci_coverage_simulated_truth(weighted):
    cover_rmst, cover_diff = _rmst_coverage(200, 300, weighted, seed=20260101 + weighted)
    assert 0.92 <= cover_rmst <= 0.98
    assert 0.92 <= cover_diff <= 0.98


@pytest.mark.slow
@pytest.mark.parametrize("weighted", [False, True], ids=["greenwood", "ij_weighted"])
def test_rmst_ci_coverage_simulated_truth_large(weighted):
    cover_rmst, cover_diff = _rmst_coverage(2000, 400, weighted, seed=5 + weighted,
                                            kernels=True)
    assert 0.935 <= cover_rmst <= 0.965  # +-3 binomial SDs around 0.95
    assert 0.935 <= cover_diff <= 0.965
