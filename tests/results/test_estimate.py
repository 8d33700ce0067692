"""Tests of ``Estimate`` and ``EstimateTable`` (results/estimate.py).

Expected numbers are derived by hand in each test (normal quantiles from scipy) or from
statsmodels (cluster-robust SE of an intercept-only OLS); no R snapshot is involved.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from cohortlab.exceptions import CohortError
from cohortlab.results._schema import ESTIMATE_COLUMNS, check_schema
from cohortlab.results.dropped import Dropped
from cohortlab.results.estimate import Estimate, EstimateTable

RTOL_EXACT = 1e-12  # closed-form arithmetic on both sides
RTOL_SM = 1e-10  # statsmodels' sandwich vs our influence sum: same formula, other rounding
Z95 = stats.norm.ppf(0.975)
Z90 = stats.norm.ppf(0.95)


# ------------------------------------------------------------------ from_model_scale
def test_from_model_scale_difference_is_plain_wald():
    est = Estimate.from_model_scale("ATE", 0.12, 0.05, method="ipw", n=400)
    assert est.estimate == pytest.approx(0.12, rel=RTOL_EXACT)
    assert est.std_error == pytest.approx(0.05, rel=RTOL_EXACT)
    assert est.conf_low == pytest.approx(0.12 - Z95 * 0.05, rel=RTOL_EXACT)
    assert est.conf_high == pytest.approx(0.12 + Z95 * 0.05, rel=RTOL_EXACT)
    assert est.statistic == pytest.approx(0.12 / 0.05, rel=RTOL_EXACT)
    assert est.p_value == pytest.approx(2 * stats.norm.sf(2.4), rel=1e-10)
    assert est.null_value == 0.0
    assert not est.is_ratio
    assert est.conf_level == 0.95
    assert est.ci_method == "wald"


def test_from_model_scale_hazard_ratio_exponentiates_point_and_ci_not_se():
    """HR 0.8 with SE(log HR) 0.1: exp(log 0.8 -/+ 1.96 * 0.1), by hand."""
    b, se = math.log(0.8), 0.1
    est = Estimate.from_model_scale("statin", b, se, effect_measure="hazard_ratio", n=500)
    assert est.estimate == pytest.approx(0.8, rel=RTOL_EXACT)
    assert est.conf_low == pytest.approx(math.exp(b - Z95 * se), rel=RTOL_EXACT)
    assert est.conf_high == pytest.approx(math.exp(b + Z95 * se), rel=RTOL_EXACT)
    assert est.std_error == pytest.approx(se, rel=RTOL_EXACT)  # log scale, not exp
    assert est.null_value == 1.0
    assert est.is_ratio
    # the test is of log HR = 0, not HR = 0
    assert est.statistic == pytest.approx(b / se, rel=RTOL_EXACT)
    assert est.p_value == pytest.approx(2 * stats.norm.sf(abs(b / se)), rel=1e-10)
    # the CI is symmetric on the log scale
    assert math.log(est.conf_high) - math.log(0.8) == pytest.approx(
        math.log(0.8) - math.log(est.conf_low), rel=1e-10
    )


@pytest.mark.parametrize(
    "measure", ["risk_ratio", "odds_ratio", "subdistribution_hazard_ratio", "rmst_ratio", "ratio"]
)
def test_every_ratio_measure_is_reported_on_the_natural_scale(measure):
    est = Estimate.from_model_scale("x", 0.0, 0.2, effect_measure=measure)
    assert est.estimate == 1.0
    assert est.null_value == 1.0
    assert est.conf_low * est.conf_high == pytest.approx(1.0, rel=1e-12)


def test_from_model_scale_nan_or_zero_se_gives_nan_interval():
    for se in (math.nan, 0.0, math.inf):
        est = Estimate.from_model_scale("x", math.log(2.0), se, effect_measure="hazard_ratio")
        assert est.estimate == pytest.approx(2.0)
        assert math.isnan(est.conf_low) and math.isnan(est.conf_high)
        assert math.isnan(est.p_value) and math.isnan(est.statistic)


def test_from_model_scale_huge_ratio_interval_overflows_to_inf_not_error():
    """Quasi-separation: log HR 20, SE 3000; R gives conf.high = Inf, conf.low = 0."""
    est = Estimate.from_model_scale("x", 20.0, 3000.0, effect_measure="hazard_ratio")
    assert est.conf_high == math.inf
    assert est.conf_low == 0.0
    assert est.estimate == pytest.approx(math.exp(20.0))
    lo, hi = _pair(est.conf_int(0.9))
    assert hi == math.inf and lo == 0.0


def test_extra_fields_pass_through():
    d = Dropped(n_rows=3, by_column={"bmi": 3}, n_input=103)
    est = Estimate.from_model_scale(
        "ATE", 0.1, 0.02, estimand="ATE", method="aipw", n=100, n_events=12, dropped=d,
        notes=("a note",),
    )
    assert (est.estimand, est.method, est.n, est.n_events) == ("ATE", "aipw", 100, 12)
    assert est.dropped is d
    assert est.notes == ("a note",)


# ------------------------------------------------------------------ from_influence
def test_from_influence_se_is_root_sum_of_squares_over_n():
    phi = np.array([1.0, -1.0, 2.0, -2.0, 0.5, -0.5])
    est = Estimate.from_influence("ATE", 0.3, phi, n=6)
    expected = math.sqrt(1 + 1 + 4 + 4 + 0.25 + 0.25) / 6
    assert est.std_error == pytest.approx(expected, rel=RTOL_EXACT)
    assert est.ci_method == "influence_function"
    assert est.conf_low == pytest.approx(0.3 - Z95 * expected, rel=RTOL_EXACT)
    np.testing.assert_array_equal(est.influence, phi)


def _clustered_sample(seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(15), rng.integers(1, 6, size=15))
    y = rng.normal(size=g.size) + rng.normal(size=15)[g]
    return y, g


def test_from_influence_plain_matches_statsmodels_hc0_for_a_mean():
    """Reference: statsmodels OLS(y, 1).fit(cov_type='HC0'); IF of a mean is y - ybar."""
    y, _ = _clustered_sample()
    est = Estimate.from_influence("mean", y.mean(), y - y.mean())
    fit = sm.OLS(y, np.ones((y.size, 1))).fit(cov_type="HC0")
    assert est.std_error == pytest.approx(float(fit.bse[0]), rel=RTOL_SM)


def test_from_influence_cluster_matches_statsmodels_cluster_se_for_a_mean():
    """Reference: statsmodels OLS(y, 1).fit(cov_type='cluster', groups=g).

    statsmodels multiplies the cluster meat by G/(G-1) * (n-1)/(n-k). For an intercept-only
    model k = 1, so (n-1)/(n-k) = 1 and its SE equals ours, which applies only G/(G-1)
    (R's sandwich::vcovCL default for the cluster adjustment).
    """
    y, g = _clustered_sample()
    phi = y - y.mean()
    est = Estimate.from_influence("mean", y.mean(), phi, cluster=g)
    fit = sm.OLS(y, np.ones((y.size, 1))).fit(cov_type="cluster", cov_kwds={"groups": g})
    assert est.std_error == pytest.approx(float(fit.bse[0]), rel=RTOL_SM)
    # and by hand: sum within cluster, G/(G-1), divide by n
    n, sums = y.size, np.bincount(g, weights=phi)
    n_g = sums.size
    by_hand = math.sqrt(n_g / (n_g - 1) * (sums**2).sum()) / n
    assert est.std_error == pytest.approx(by_hand, rel=RTOL_EXACT)
    # clustering matters here (the rows of a cluster are correlated)
    assert est.std_error != pytest.approx(Estimate.from_influence("m", 0, phi).std_error, rel=0.01)


def test_from_influence_ratio_keeps_se_on_log_scale():
    phi = np.array([0.5, -0.5, 1.0, -1.0])
    est = Estimate.from_influence("RR", math.log(1.5), phi, effect_measure="risk_ratio")
    se = math.sqrt(2.5) / 4
    assert est.std_error == pytest.approx(se, rel=RTOL_EXACT)
    assert est.estimate == pytest.approx(1.5, rel=RTOL_EXACT)
    assert est.conf_high == pytest.approx(1.5 * math.exp(Z95 * se), rel=RTOL_EXACT)


# ------------------------------------------------------------------ from_bootstrap
@pytest.fixture
def reps() -> np.ndarray:
    return np.random.default_rng(3).normal(0.4, 0.1, size=999)


def test_from_bootstrap_percentile(reps):
    est = Estimate.from_bootstrap("ATE", 0.42, reps)
    lo, hi = np.quantile(reps, [0.025, 0.975], method="weibull")
    assert (est.conf_low, est.conf_high) == pytest.approx((lo, hi), rel=RTOL_EXACT)
    assert est.std_error == pytest.approx(reps.std(ddof=1), rel=RTOL_EXACT)
    assert est.estimate == 0.42
    assert est.ci_method == "bootstrap_percentile"
    # p-value: Wald with the bootstrap SE
    assert est.p_value == pytest.approx(2 * stats.norm.sf(0.42 / reps.std(ddof=1)), rel=1e-10)


def test_from_bootstrap_normal(reps):
    est = Estimate.from_bootstrap("ATE", 0.42, reps, interval="normal")
    se = reps.std(ddof=1)
    assert est.conf_low == pytest.approx(0.42 - Z95 * se, rel=RTOL_EXACT)
    assert est.conf_high == pytest.approx(0.42 + Z95 * se, rel=RTOL_EXACT)
    assert est.ci_method == "bootstrap_normal"


def test_from_bootstrap_basic(reps):
    est = Estimate.from_bootstrap("ATE", 0.42, reps, interval="basic")
    lo_q, hi_q = np.quantile(reps, [0.025, 0.975], method="weibull")
    assert est.conf_low == pytest.approx(2 * 0.42 - hi_q, rel=RTOL_EXACT)
    assert est.conf_high == pytest.approx(2 * 0.42 - lo_q, rel=RTOL_EXACT)
    assert est.ci_method == "bootstrap_basic"


def test_from_bootstrap_ratio_takes_log_scale_replicates(reps):
    est = Estimate.from_bootstrap("RR", 0.4, reps, effect_measure="risk_ratio")
    lo, hi = np.quantile(reps, [0.025, 0.975], method="weibull")
    assert est.estimate == pytest.approx(math.exp(0.4), rel=RTOL_EXACT)
    assert (est.conf_low, est.conf_high) == pytest.approx((math.exp(lo), math.exp(hi)))
    assert est.std_error == pytest.approx(reps.std(ddof=1), rel=RTOL_EXACT)


def test_from_bootstrap_drops_non_finite_and_notes_failures(reps):
    with_nan = np.concatenate([reps, [np.nan, np.inf, np.nan]])
    est = Estimate.from_bootstrap("ATE", 0.42, with_nan, n_failed=3, notes=("first",))
    assert est.replicates.size == reps.size
    assert est.conf_low == pytest.approx(np.quantile(reps, 0.025, method="weibull"), rel=RTOL_EXACT)
    assert est.notes[0] == "first"
    assert "3 of 1,002 bootstrap replicates failed" in est.notes[1]


def test_from_bootstrap_invalid_interval_lists_options(reps):
    with pytest.raises(CohortError, match=r'"percentile", "normal", "basic"'):
        Estimate.from_bootstrap("ATE", 0.4, reps, interval="bca")


# ------------------------------------------------------------------ conf_int / with_conf_level
def test_conf_int_090_is_narrower_and_equals_recomputation():
    est = Estimate.from_model_scale("ATE", 0.2, 0.05)
    lo90, hi90 = _pair(est.conf_int(0.90))
    assert est.conf_low < lo90 < hi90 < est.conf_high
    assert (lo90, hi90) == pytest.approx((0.2 - Z90 * 0.05, 0.2 + Z90 * 0.05), rel=RTOL_EXACT)
    again = Estimate.from_model_scale("ATE", 0.2, 0.05, conf_level=0.90)
    assert (lo90, hi90) == pytest.approx((again.conf_low, again.conf_high), rel=RTOL_EXACT)


def test_conf_int_ratio_recomputed_on_log_scale():
    est = Estimate.from_model_scale("x", math.log(1.7), 0.2, effect_measure="odds_ratio")
    lo, hi = _pair(est.conf_int(0.90))
    assert lo == pytest.approx(1.7 * math.exp(-Z90 * 0.2), rel=1e-10)
    assert hi == pytest.approx(1.7 * math.exp(Z90 * 0.2), rel=1e-10)


def test_conf_int_bootstrap_uses_the_replicates(reps):
    est = Estimate.from_bootstrap("ATE", 0.42, reps)
    assert _pair(est.conf_int(0.80)) == pytest.approx(tuple(np.quantile(reps, [0.1, 0.9], method="weibull")))
    basic = Estimate.from_bootstrap("ATE", 0.42, reps, interval="basic")
    q10, q90 = np.quantile(reps, [0.1, 0.9], method="weibull")
    assert _pair(basic.conf_int(0.80)) == pytest.approx((0.84 - q90, 0.84 - q10))


def test_conf_int_rejects_percent_with_hint():
    est = Estimate.from_model_scale("ATE", 0.2, 0.05)
    with pytest.raises(CohortError, match=r"^Estimate\.conf_int\(\): .*Did you mean 0\.9\?"):
        est.conf_int(90)


def test_conf_level_out_of_range_is_an_error_not_nan():
    with pytest.raises(ValueError, match=r"conf_level must be a float in \(0, 1\).*0\.95"):
        Estimate.from_model_scale("ATE", 0.2, 0.05, conf_level=95)


def test_with_conf_level_returns_a_new_recomputed_copy():
    est = Estimate.from_model_scale("ATE", 0.2, 0.05, n=50)
    e90 = est.with_conf_level(0.90)
    assert e90 is not est
    assert est.conf_level == 0.95  # original untouched
    assert e90.conf_level == 0.90
    assert (e90.conf_low, e90.conf_high) == pytest.approx(_pair(est.conf_int(0.90)))
    assert e90.estimate == est.estimate and e90.std_error == est.std_error
    assert e90.p_value == est.p_value and e90.n == 50
    assert e90.to_frame().loc[0, "conf_level"] == 0.90


# ------------------------------------------------------------------ to_frame
def test_to_frame_schema_and_dtypes():
    est = Estimate.from_model_scale("ATE", 0.1, 0.02, estimand="ATE", method="ipw", n=250)
    f = est.to_frame()
    check_schema(f)
    assert list(f.columns) == list(ESTIMATE_COLUMNS)
    assert f.shape == (1, len(ESTIMATE_COLUMNS))
    assert f.loc[0, "conf_level"] == 0.95
    assert str(f["n"].dtype) == "Int64" and str(f["n_events"].dtype) == "Int64"
    assert f.loc[0, "n"] == 250
    assert f["n_events"].isna().all()  # unknown -> <NA>, not NaN float or None object
    for col in ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"):
        assert f[col].dtype == np.float64


def test_to_frame_keeps_std_error_column_when_nan():
    est = Estimate(term="median", estimate=3.0)
    f = est.to_frame()
    check_schema(f)
    assert math.isnan(f.loc[0, "std_error"])


def test_labels_become_extra_columns_after_the_schema():
    est = Estimate.from_model_scale("HR", 0.1, 0.05, labels={"subgroup": "age<65", "time": 365})
    f = est.to_frame()
    check_schema(f)
    n = len(ESTIMATE_COLUMNS)
    assert list(f.columns[n:]) == ["subgroup", "time"]
    assert f.loc[0, "subgroup"] == "age<65" and f.loc[0, "time"] == 365


def test_check_schema_detects_misordering():
    f = Estimate.from_model_scale("x", 0.1, 0.05).to_frame()
    with pytest.raises(ValueError, match="must come first"):
        check_schema(f[["estimate", "term", *ESTIMATE_COLUMNS[2:]]])
    with pytest.raises(ValueError, match="lacks"):
        check_schema(f.drop(columns="conf_level"))


def test_estimate_is_frozen():
    est = Estimate.from_model_scale("x", 0.1, 0.05)
    with pytest.raises(dataclasses.FrozenInstanceError):
        est.estimate = 0.3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        est.conf_level = 0.9  # type: ignore[misc]


# ------------------------------------------------------------------ EstimateTable
@pytest.fixture
def table() -> EstimateTable:
    rows = [
        Estimate.from_model_scale(t, b, se, n=120, labels={"k": i})
        for i, (t, b, se) in enumerate([("a", 0.1, 0.05), ("b", 0.3, 0.1), ("c", -0.2, 0.08)])
    ]
    return EstimateTable(rows=rows, title="three")  # a list is accepted and frozen to a tuple


def test_table_indexing_by_int_and_term(table):
    assert isinstance(table.rows, tuple)
    assert len(table) == 3
    assert table[0].term == "a" and table[-1].term == "c"
    assert table["b"].estimate == 0.3
    assert [r.term for r in table] == ["a", "b", "c"]


def test_table_missing_and_duplicate_term_raise_keyerror(table):
    with pytest.raises(KeyError, match="'zz' matches 0 rows"):
        table["zz"]
    dup = EstimateTable(rows=(table[0], table[0]))
    with pytest.raises(KeyError, match="matches 2 rows"):
        dup["a"]


def test_table_to_frame_stacks_rows_in_schema_order(table):
    f = table.to_frame()
    check_schema(f)
    assert f["term"].tolist() == ["a", "b", "c"]
    assert f["estimate"].tolist() == [0.1, 0.3, -0.2]
    assert list(f.columns[len(ESTIMATE_COLUMNS):]) == ["k"]
    assert str(f["n"].dtype) == "Int64"
    pd.testing.assert_frame_equal(f.iloc[[1]].reset_index(drop=True), table[1].to_frame())


def test_table_to_frame_mixes_known_and_unknown_n():
    tab = EstimateTable(rows=(Estimate.from_model_scale("a", 0, 1, n=5),
                              Estimate.from_model_scale("b", 0, 1)))
    f = tab.to_frame()
    assert str(f["n"].dtype) == "Int64"
    assert f["n"].iloc[0] == 5 and f["n"].isna().iloc[1]


def test_empty_table_to_frame_has_the_schema():
    f = EstimateTable(rows=()).to_frame()
    assert f.empty
    check_schema(f)


def test_table_with_conf_level(table):
    t90 = table.with_conf_level(0.90)
    assert isinstance(t90, EstimateTable) and t90.title == "three"
    for old, new in zip(table, t90, strict=True):
        assert new.conf_level == 0.90
        assert (new.conf_low, new.conf_high) == pytest.approx(_pair(old.conf_int(0.90)))
        assert new.conf_high - new.conf_low < old.conf_high - old.conf_low
    assert table[0].conf_level == 0.95
    assert (t90.to_frame()["conf_level"] == 0.90).all()


def test_table_is_frozen(table):
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.rows = ()  # type: ignore[misc]


def _pair(frame):
    """The one row of an ``Estimate.conf_int()`` frame as ``(conf_low, conf_high)``."""
    assert list(frame.columns) == ["conf_low", "conf_high"] and frame.index.name == "term"
    return tuple(float(v) for v in frame.iloc[0])


# ------------------------------------------------------------------ one conf_int form
def test_conf_int_none_is_the_stored_interval_on_the_natural_scale():
    est = Estimate.from_model_scale("x", math.log(0.8), 0.1, effect_measure="hazard_ratio")
    ci = est.conf_int()
    assert list(ci.index) == ["x"]
    assert _pair(ci) == (est.conf_low, est.conf_high)
    assert ci.loc["x", "conf_low"] == pytest.approx(0.8 * math.exp(-1.959963984540054 * 0.1))


def test_table_and_model_conf_int_have_the_estimate_shape(table):
    ci = table.conf_int(0.90)
    assert list(ci.columns) == ["conf_low", "conf_high"] and ci.index.name == "term"
    assert list(ci.index) == [r.term for r in table]
    for r in table:
        assert tuple(ci.loc[r.term]) == pytest.approx(_pair(r.conf_int(0.90)))


@pytest.mark.parametrize("method", ["wilson", "exact", "delong", "multiple_imputation_rubin",
                                    "bootstrap_percentile"])
def test_conf_int_refuses_to_recompute_a_non_wald_interval(method):
    est = Estimate(term="auroc", estimate=0.8, std_error=0.05, conf_low=0.7, conf_high=0.88,
                   ci_method=method)
    assert _pair(est.conf_int()) == (0.7, 0.88)  # its own level: the stored interval
    assert _pair(est.conf_int(0.95)) == (0.7, 0.88)
    with pytest.raises(CohortError, match=rf"ci_method='{method}'.*conf_level=0\.9"):
        est.conf_int(0.90)


def test_risk_difference_wald_interval_is_bounded_with_a_note():
    """RD 0.9 with SE 0.1: the Wald interval 0.704 to 1.096 is bounded to 0.704 to 1."""
    est = Estimate.from_model_scale("RD", 0.9, 0.1, effect_measure="risk_difference")
    assert est.conf_high == 1.0
    assert est.conf_low == pytest.approx(0.9 - 1.959963984540054 * 0.1)
    assert any("bounded" in n and "[-1, 1]" in n for n in est.notes)
    low = Estimate.from_model_scale("RD", -0.95, 0.05, effect_measure="risk_difference")
    assert low.conf_low == -1.0 and low.conf_high < -0.85
    inside = Estimate.from_model_scale("RD", 0.1, 0.05, effect_measure="risk_difference")
    assert inside.notes == () and inside.conf_high < 1


def test_risk_wald_interval_is_bounded_to_0_1_also_at_another_level():
    est = Estimate.from_model_scale("risk", 0.02, 0.015, effect_measure="risk")
    assert est.conf_low == 0.0 and est.conf_high == pytest.approx(0.02 + 1.96 * 0.015, rel=1e-3)
    assert any("[0, 1]" in n for n in est.notes)
    e99 = est.with_conf_level(0.99)
    assert e99.conf_low == 0.0 and sum("bounded" in n for n in e99.notes) >= 1
    assert _pair(est.conf_int(0.99))[0] == 0.0
    mean = Estimate.from_model_scale("mean", 0.02, 0.015, effect_measure="mean")
    assert mean.conf_low < 0 and mean.notes == ()  # other measures are not bounded
