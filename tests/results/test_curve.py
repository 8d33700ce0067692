"""Tests of ``Curve`` (results/curve.py) on small hand-built curves.

Median / quantile rules follow R survival's ``quantile.survfit`` (``findq`` in
R/quantile.survfit.R, survival 3.x): the estimate is the first time the curve reaches the
level; if the curve sits exactly at the level (within ``sqrt(.Machine$double.eps)``) over an
interval, the midpoint of that interval (up to the next jump; censoring rows, which repeat the
value, do not end it); a flat at the level that runs to the end of the curve uses the midpoint
with the last time; the lower limit is read off ``conf_low`` (survival) and the upper off
``conf_high``; a band that never reaches the level gives NaN. Expected values are worked out
by hand in each test.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from cohortlab.results._schema import CURVE_COLUMNS, ESTIMATE_COLUMNS, check_schema
from cohortlab.results.curve import Curve
from cohortlab.results.estimate import EstimateTable


def frame(times, est, lo=None, hi=None, *, group="all", cause=None, se=None, n_event=None):
    k = len(times)
    lo = [max(e - 0.1, 0.0) for e in est] if lo is None else lo
    hi = [min(e + 0.1, 1.0) for e in est] if hi is None else hi
    return pd.DataFrame({
        "time": np.asarray(times, dtype=float), "group": group, "cause": cause,
        "n_risk": np.arange(k, 0, -1) + 5, "n_event": [1] * k if n_event is None else n_event,
        "n_censor": 0, "estimate": est, "std_error": [0.05] * k if se is None else se,
        "conf_low": lo, "conf_high": hi, "conf_level": 0.95,
    })


def km(data: pd.DataFrame, **kw) -> Curve:
    return Curve(data=data, measure="survival", method="kaplan_meier", n=10, n_events=4, **kw)


def median_row(curve: Curve, i: int = 0) -> tuple[float, float, float]:
    f = curve.median().to_frame()
    return tuple(float(f.loc[i, c]) for c in ("estimate", "conf_low", "conf_high"))


SIMPLE = frame([1, 3, 5, 8], [0.8, 0.6, 0.4, 0.2], se=[0.1, 0.15, 0.16, 0.13],
               lo=[0.6, 0.45, 0.2, 0.05], hi=[0.95, 0.8, 0.65, 0.45])


# ------------------------------------------------------------------ construction
def test_curve_requires_the_schema_columns():
    with pytest.raises(ValueError, match=r"Curve\(\): data lacks the columns \['conf_level'\]"):
        km(SIMPLE.drop(columns="conf_level"))


def test_curve_sorts_by_group_and_time_and_keeps_extra_columns():
    shuffled = SIMPLE.assign(extra=list("abcd")).iloc[[2, 0, 3, 1]]
    c = km(shuffled)
    f = c.to_frame()
    check_schema(f, "curve")
    assert list(f.columns) == [*CURVE_COLUMNS, "extra"]
    assert f["time"].tolist() == [1, 3, 5, 8]
    assert f["extra"].tolist() == list("abcd")
    f.loc[0, "estimate"] = -1.0  # a copy: the curve is unchanged
    assert c.data.loc[0, "estimate"] == 0.8


def test_curve_is_frozen():
    c = km(SIMPLE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.measure = "cumulative_incidence"  # type: ignore[misc]


# ------------------------------------------------------------------ at()
def test_at_before_first_time_is_start_value_with_zero_se():
    row = km(SIMPLE).at(0.5)[0]
    assert (row.estimate, row.std_error, row.conf_low, row.conf_high) == (1.0, 0.0, 1.0, 1.0)
    assert row.labels == {"group": "all", "time": 0.5}


def test_at_between_steps_takes_the_last_step_before():
    t = km(SIMPLE).at([2.0, 4.999, 7.5])
    assert [r.estimate for r in t] == [0.8, 0.6, 0.4]
    assert [r.std_error for r in t] == [0.1, 0.15, 0.16]
    assert [r.conf_low for r in t] == [0.6, 0.45, 0.2]
    assert [r.conf_high for r in t] == [0.95, 0.8, 0.65]


def test_at_exactly_at_a_step_takes_that_step():
    t = km(SIMPLE).at([1.0, 3.0, 5.0, 8.0])
    assert [r.estimate for r in t] == [0.8, 0.6, 0.4, 0.2]
    assert not any("after the last follow-up" in n for n in t.notes)


def test_at_after_last_time_is_nan_with_a_note():
    t = km(SIMPLE).at([8.0, 9.0])
    assert t[0].estimate == 0.2
    r = t[1]
    assert all(math.isnan(v) for v in (r.estimate, r.std_error, r.conf_low, r.conf_high))
    assert any("time 9 is after the last follow-up (8) of all" in n for n in t.notes)


def test_at_returns_estimate_table_in_schema():
    t = km(SIMPLE).at([0.0, 4.0])
    assert isinstance(t, EstimateTable)
    f = t.to_frame()
    check_schema(f)
    assert list(f.columns) == [*ESTIMATE_COLUMNS, "group", "time"]
    assert f["time"].tolist() == [0.0, 4.0]
    assert (f["effect_measure"] == "survival").all()
    assert (f["n"] == 10).all()


def test_at_multiple_groups():
    data = pd.concat([
        frame([1, 4], [0.9, 0.7], group="control"),
        frame([2, 3, 6], [0.8, 0.5, 0.3], group="treated"),
    ])
    c = km(data)
    assert c.groups == ["control", "treated"]
    f = c.at([2.5, 5.0]).to_frame()
    assert f["group"].tolist() == ["control", "control", "treated", "treated"]
    # control at 5 is after its last time (4) -> NaN; treated at 5 -> 0.5
    assert f["estimate"].tolist()[:1] == [0.9]
    assert math.isnan(f["estimate"].iloc[1])
    assert f["estimate"].tolist()[2:] == [0.8, 0.5]


# ------------------------------------------------------------------ median / quantile (survival)
def test_median_first_time_at_or_below_half():
    # S 0.8, 0.6, 0.4, 0.2 at t = 1, 3, 5, 8: first S <= 0.5 at t=5;
    # conf_low 0.6, 0.45, ... first <= 0.5 at t=3; conf_high 0.95, 0.8, 0.65, 0.45 at t=8
    assert median_row(km(SIMPLE)) == (5.0, 3.0, 8.0)


def test_median_flat_at_half_uses_midpoint_to_next_jump_skipping_censor_rows():
    # S = 0.5 from t=2 (event) through t=3 (censoring row, same value) until it drops at t=6
    # R: (2 + 6) / 2 = 4
    data = frame([1, 2, 3, 6], [0.75, 0.5, 0.5, 0.25], n_event=[1, 1, 0, 1],
                 lo=[0.4, 0.2, 0.2, 0.05], hi=[0.95, 0.8, 0.8, 0.6])
    assert median_row(km(data))[0] == 4.0


def test_median_flat_at_half_within_tolerance():
    # 0.5 computed as a product of KM factors may not be exactly 0.5 in floating point
    almost = 0.5 - 1e-12
    data = frame([1, 2, 6], [0.75, almost, 0.25])
    assert median_row(km(data))[0] == 4.0
    # but a real step below 0.5 is not a flat
    data = frame([1, 2, 6], [0.75, 0.5 - 1e-6, 0.25])
    assert median_row(km(data))[0] == 2.0


def test_median_flat_at_half_until_the_end_uses_midpoint_with_last_time():
    """R: ``lastpt`` case in findq, (x[indx1] + xmax) / 2 with xmax the last time (a censor)."""
    data = frame([1, 2, 7], [0.75, 0.5, 0.5], n_event=[1, 1, 0])
    assert median_row(km(data))[0] == 4.5


def test_median_limits_from_the_band():
    # estimate first <= 0.5 at t=3; conf_high first <= 0.5 at t=6
    data = frame([1, 3, 6], [0.7, 0.45, 0.2], lo=[0.5, 0.25, 0.05], hi=[0.9, 0.7, 0.48])
    est, lo, hi = median_row(km(data))
    assert (est, hi) == (3.0, 6.0)
    # conf_low is exactly 0.5 at t=1 and drops at t=3 -> midpoint 2 (R's rule applies to limits)
    assert lo == 2.0


def test_median_nan_when_band_never_reaches_half():
    data = frame([1, 3, 6], [0.7, 0.45, 0.3], lo=[0.5, 0.25, 0.1], hi=[0.9, 0.7, 0.55])
    est, lo, hi = median_row(km(data))
    assert (est, lo) == (3.0, 2.0)
    assert math.isnan(hi)
    # and the estimate itself never reaching 0.5 -> NaN too
    data = frame([1, 3], [0.9, 0.7], lo=[0.7, 0.4], hi=[0.99, 0.9])
    est, lo, hi = median_row(km(data))
    assert math.isnan(est) and lo == 3.0 and math.isnan(hi)


def test_median_with_nan_band_at_the_end():
    # log-log bands are undefined where S = 0: the NaNs are skipped when reading the crossing
    data = frame([1, 3, 5], [0.6, 0.3, 0.0], lo=[0.4, 0.1, np.nan], hi=[0.8, 0.55, np.nan])
    np.testing.assert_array_equal(median_row(km(data)), (3.0, 1.0, np.nan))


def test_quantile_other_probabilities():
    q25 = km(SIMPLE).quantile(0.25)[0]
    # level 0.75: S first <= 0.75 at t=3 (0.6); conf_low at t=1 (0.6); conf_high at t=5 (0.65)
    assert q25.term == "quantile 0.25"
    assert (q25.estimate, q25.conf_low, q25.conf_high) == (3.0, 1.0, 5.0)


def test_median_multiple_groups():
    data = pd.concat([
        frame([1, 2, 4], [0.8, 0.5, 0.2], group="a"),
        frame([1, 3], [0.5, 0.0], group="b", lo=[0.2, np.nan], hi=[0.8, np.nan]),
    ])
    m = km(data).median()
    f = m.to_frame()
    assert f["group"].tolist() == ["a", "b"]
    assert f["term"].tolist() == ["median", "median"]
    # a: flat at 0.5 from 2 to 4 -> 3; b: flat from 1 to 3 -> 2
    assert f["estimate"].tolist() == [3.0, 2.0]
    assert (f["effect_measure"] == "quantile").all()
    assert f["std_error"].isna().all()
    check_schema(f)


# ------------------------------------------------------------------ cumulative incidence
@pytest.fixture
def cif() -> Curve:
    data = pd.concat([
        frame([1, 2, 4, 6], [0.1, 0.3, 0.55, 0.6], cause=1,
              lo=[0.02, 0.15, 0.35, 0.4], hi=[0.3, 0.52, 0.75, 0.8]),
        frame([3, 5], [0.05, 0.1], cause=2, lo=[0.0, 0.02], hi=[0.2, 0.3]),
    ])
    return Curve(data=data, measure="cumulative_incidence", method="aalen_johansen",
                 conf_type="log", n=20, n_events=8)


def test_cif_at_starts_at_zero(cif):
    t = cif.at([0.5, 4.5])
    f = t.to_frame()
    assert f["cause"].tolist() == [1, 1, 2, 2]
    assert f["estimate"].tolist() == [0.0, 0.55, 0.0, 0.05]
    assert f.loc[0, "std_error"] == 0.0
    assert (f.loc[0, "conf_low"], f.loc[0, "conf_high"]) == (0.0, 0.0)


def test_cif_quantile_reads_the_rising_curve(cif):
    f = cif.median().to_frame()
    assert f["cause"].tolist() == [1, 2]
    # cause 1: estimate first >= 0.5 at 4; lower limit from conf_high (>= 0.5 at 2);
    # upper limit from conf_low (never >= 0.5) -> NaN. cause 2 never reaches 0.5.
    assert f.loc[0, "estimate"] == 4.0
    assert f.loc[0, "conf_low"] == 2.0
    assert math.isnan(f.loc[0, "conf_high"])
    assert f.loc[1, ["estimate", "conf_low", "conf_high"]].isna().all()
    q = cif.quantile(0.25).to_frame()
    # estimate >= 0.25 at 2; conf_high >= 0.25 at 1; conf_low >= 0.25 at 4
    assert q.loc[0, ["estimate", "conf_low", "conf_high"]].tolist() == [2.0, 1.0, 4.0]


def test_cif_flat_at_level_uses_midpoint():
    data = frame([1, 3, 4, 9], [0.2, 0.5, 0.5, 0.7], cause=1, n_event=[1, 1, 0, 1])
    c = Curve(data=data, measure="cumulative_incidence")
    assert c.median()[0].estimate == 6.0
    end = frame([1, 3, 8], [0.2, 0.5, 0.5], cause=1, n_event=[1, 1, 0])
    assert Curve(data=end, measure="cumulative_incidence").median()[0].estimate == 5.5


# ------------------------------------------------------------------ text
def test_summary_truncates_long_curves_but_keeps_provenance():
    n = 60
    data = frame(np.arange(1, n + 1), np.linspace(0.99, 0.1, n))
    c = km(data)
    s = c.summary()
    lines = s.splitlines()
    assert "... (60 rows; see to_frame())" in s
    assert lines[0] == c._title()
    assert lines[-1].startswith("n = 10 · events 4 · 95% CI")
    assert "60.000" in s  # the last row is kept
    assert len(lines) < 30


def test_at_with_conf_level_keeps_the_band_scale():
    from cohortlab.inference.wald import transformed_interval

    est, se = np.array([0.8, 0.6, 0.4, 0.2]), np.array([0.1, 0.15, 0.16, 0.13])
    lo, hi = transformed_interval(est, se, 0.95, "log-log")  # a band consistent with the SEs
    curve = km(frame([1, 3, 5, 8], est, se=se, lo=lo, hi=hi), conf_type="log-log")
    t95 = curve.at([0.5, 3.0])
    t90 = t95.with_conf_level(0.90)
    assert (t90[0].conf_low, t90[0].conf_high) == (1.0, 1.0)
    assert t95[1].conf_low == pytest.approx(lo[1]) and t95[1].conf_high == pytest.approx(hi[1])
    # a 90% interval must lie inside the 95% one
    assert t95[1].conf_low < t90[1].conf_low < t90[1].conf_high < t95[1].conf_high


def test_at_rows_recompute_on_the_curve_scale_by_hand():
    """log-log recomputation by hand: S^(exp(+/- z se / (S |log S|))), as survfit's conf.type."""
    from scipy import stats

    t95 = km(SIMPLE, conf_type="log-log").at([3.0])
    row = t95[0]
    z = stats.norm.ppf(0.95)
    s, se = row.estimate, row.std_error
    theta, se_t = np.log(-np.log(s)), se / (s * abs(np.log(s)))
    lo, hi = row.conf_int(0.90).iloc[0]
    assert lo == pytest.approx(np.exp(-np.exp(theta + z * se_t)), rel=1e-12)
    assert hi == pytest.approx(np.exp(-np.exp(theta - z * se_t)), rel=1e-12)
    assert row.ci_scale == "log-log"


def test_median_interval_cannot_be_recomputed_without_the_curve():
    from cohortlab.exceptions import CohortError

    med = km(SIMPLE).median()
    assert med[0].ci_method == "curve_band"
    with pytest.raises(CohortError, match="recompute the curve at conf_level=0.9"):
        med.with_conf_level(0.90)

