"""cumulative_incidence (Aalen-Johansen) and gray_test against R, simulated truth and invariants.

References (R 4.2.2, survival 3.5.3, cmprsk 2.2.11):

- ``mgus2_aalen_johansen.json``: ``survfit(Surv(etime, factor(event)) ~ sex)`` (IJ std.err,
  default ``conf.type="log"``), ``cmprsk::cuminc(etime, event, group=sex)`` (variance, Gray's
  test) and ``print(fit, rmean=240, scale=12)``; values printed to 6 decimals.
- ``competing_weighted.json`` (``tests/reference/r/competing_weighted.R``, full precision):
  ``survfit(..., weights=w, id=id)``, ``Surv(entry, etime, factor(event))``, integer weights vs
  replicated rows, ``conf.type="log-log"``/``"plain"``, ``cuminc(..., strata=old)`` and a
  three-group ``cuminc``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import REFERENCE, load_reference

from cohortlab.exceptions import DataValidationError, MissingDataError
from cohortlab.results import Curve, TestTable, check_schema
from cohortlab.survival._aalen_johansen import aalen_johansen, aalen_variance, ij_variance
from cohortlab.survival._counts import risk_counts
from cohortlab.survival.competing import cumulative_incidence, gray_test

# Tolerances, from each JSON's "tolerance": the mgus2 vignette numbers are printed to 6
# decimals (CIF abs 1e-6, SE abs 1e-5, Gray abs 1e-4); competing_weighted.json holds full
# precision, and the estimator is closed form, so 1e-8 there (1e-6 for Gray's p-values).
ABS_CIF = 1e-6
ABS_SE = 1e-5
ABS_GRAY = 1e-4
ABS_FULL = 1e-8
TIMES_VIGNETTE = [60, 120, 240]
CAUSE = {"pcm": 1, "death": 2}


# ---------------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def mgus2() -> pd.DataFrame:
    """mgus2 with the derived columns of the R scripts (see the JSONs' "data.loader")."""
    d = pd.read_csv(REFERENCE / "data" / "mgus2.csv")
    d["etime"] = np.where(d["pstat"] == 1, d["ptime"], d["futime"])
    d["event"] = np.where(d["pstat"] == 1, 1, 2 * d["death"])
    d["w"] = 0.4 + (d["age"] > 70) + 0.35 * (d["id"] % 3)
    d["w_int"] = 1 + (d["age"] > 70).astype(int) + d["id"] % 2
    d["entry"] = np.minimum(d["etime"] - 0.5, (d["id"] % 7) * 3)
    d["old"] = (d["age"] > 70).astype(int)
    d["age3"] = pd.cut(d["age"], [-np.inf, 63, 75, np.inf], labels=["a", "b", "c"]).astype(str)
    return d


@pytest.fixture(scope="module")
def ref() -> dict:
    return load_reference("mgus2_aalen_johansen")


@pytest.fixture(scope="module")
def wref() -> dict:
    return load_reference("competing_weighted")


def _at(curve: Curve, times, group="all", cause=1) -> pd.DataFrame:
    """The curve of (group, cause) read at ``times`` (last row at or before each time)."""
    d = curve.data  # read only
    d = d[(d["group"] == group) & (d["cause"] == cause)]
    pos = np.searchsorted(d["time"].to_numpy(), np.asarray(times, float), side="right") - 1
    return d.iloc[pos].reset_index(drop=True)


def _num(values) -> np.ndarray:
    """JSON list to floats, R's "NA" to NaN."""
    return np.array([np.nan if v == "NA" else v for v in values], dtype=float)


def _area(curve: Curve, group: str, cause: int, tau: float) -> float:
    """Area under the step curve of (group, cause) over [0, tau]."""
    d = curve.to_frame()
    d = d[(d["group"] == group) & (d["cause"] == cause) & (d["time"] <= tau)]
    t = d["time"].to_numpy()
    widths = np.diff(np.append(t, tau))
    return float((d["estimate"].to_numpy() * widths).sum())


# ---------------------------------------------------------------------- mgus2 (vignette)
def test_overall_cif_and_ij_se_match_survfit(mgus2, ref):
    """survfit(Surv(etime, factor(event)) ~ 1): pstate and IJ std.err at 60/120/240."""
    cif = cumulative_incidence(mgus2, time="etime", event="event")
    est = ref["estimates"]["overall"]
    total = np.zeros(3)
    for name, k in CAUSE.items():
        got = _at(cif, TIMES_VIGNETTE, cause=k)
        want = np.array([est[name][str(t)] for t in TIMES_VIGNETTE])
        np.testing.assert_allclose(got["estimate"], want[:, 0], atol=ABS_CIF, rtol=0)
        np.testing.assert_allclose(got["std_error"], want[:, 1], atol=ABS_SE, rtol=0)
        total += got["estimate"].to_numpy()
    free = [est["event_free"][str(t)] for t in TIMES_VIGNETTE]
    np.testing.assert_allclose(1.0 - total, free, atol=2 * ABS_CIF, rtol=0)


def test_overall_aalen_variance_matches_cuminc(mgus2, ref):
    """cuminc(etime, event): sqrt(var) at 60/120/240 with variance="aalen"."""
    cif = cumulative_incidence(mgus2, time="etime", event="event", variance="aalen")
    assert cif.ci_method == "aalen"
    for name, k in CAUSE.items():
        got = _at(cif, TIMES_VIGNETTE, cause=k)["std_error"]
        want = ref["estimates"]["overall"]["cuminc_sd"][name]
        np.testing.assert_allclose(got, want, atol=ABS_SE, rtol=0)


def test_by_sex_cif_ij_se_and_cuminc_sd(mgus2, ref):
    """survfit(... ~ sex) pstate and std.err; cuminc(..., group=sex) SDs."""
    est = ref["estimates"]
    ij = cumulative_incidence(mgus2, time="etime", event="event", by="sex")
    aalen = cumulative_incidence(mgus2, time="etime", event="event", by="sex",
                                 variance="aalen")
    for sex in ("F", "M"):
        for name, k in CAUSE.items():
            got = _at(ij, TIMES_VIGNETTE, sex, k)
            want = [est["by_sex_cif"][sex][name][str(t)] for t in TIMES_VIGNETTE]
            np.testing.assert_allclose(got["estimate"], want, atol=ABS_CIF, rtol=0)
            np.testing.assert_allclose(got["std_error"], est["by_sex_se_survfit_IJ"][sex][name],
                                       atol=ABS_SE, rtol=0)
            got_a = _at(aalen, TIMES_VIGNETTE, sex, k)
            np.testing.assert_allclose(got_a["estimate"], want, atol=ABS_CIF, rtol=0)
            np.testing.assert_allclose(got_a["std_error"], est["by_sex_sd_cuminc"][sex][name],
                                       atol=ABS_SE, rtol=0)


def test_survfit_multistate_ci_is_the_log_transform_of_the_cif(mgus2, ref):
    """R's survfit intervals for a CIF ("survfit_ci_by_sex_pcm") are conf.type="log" on F.

    survfit's default conf.type is "log" for multi-state curves too; cohortlab's default is
    "log-log", so the R numbers need conf_type="log".
    """
    cif = cumulative_incidence(mgus2, time="etime", event="event", by="sex", cause=1,
                               conf_type="log")
    for sex in ("F", "M"):
        got = _at(cif, TIMES_VIGNETTE, sex, 1)
        want = np.array([ref["estimates"]["survfit_ci_by_sex_pcm"][sex][str(t)]
                         for t in TIMES_VIGNETTE])
        np.testing.assert_allclose(got["conf_low"], want[:, 0], atol=ABS_SE, rtol=0)
        np.testing.assert_allclose(got["conf_high"], want[:, 1], atol=ABS_SE, rtol=0)


def test_gray_test_matches_cuminc(mgus2, ref):
    """cuminc(etime, event, group=sex)$Tests: statistic and p-value per cause, df 1."""
    tab = gray_test(mgus2, time="etime", event="event", by="sex")
    assert isinstance(tab, TestTable)
    assert [r.term for r in tab] == ["Gray: cause 1", "Gray: cause 2"]
    for name, k in CAUSE.items():
        row = tab[f"Gray: cause {k}"]
        stat, p = ref["estimates"]["gray_test"][name]
        assert row.statistic == pytest.approx(stat, abs=ABS_GRAY)
        assert row.p_value == pytest.approx(p, abs=ABS_GRAY)
        assert row.df == 1
        assert (row.effect_measure, row.method, row.ci_method) == ("chi_square", "gray_test",
                                                                   "none")
        assert row.n == len(mgus2) and row.n_events == int((mgus2["event"] == k).sum())
    check_schema(tab.to_frame())


def test_area_under_curves_matches_survfit_rmean(mgus2, ref):
    """print(survfit(...~sex), rmean=240, scale=12): restricted mean time in each state.

    cohortlab has no rmean verb for multi-state curves; this checks the whole step function
    up to 240 months, not only three time points (areas in years).
    """
    cif = cumulative_incidence(mgus2, time="etime", event="event", by="sex")
    for sex in ("F", "M"):
        want = ref["estimates"]["rmean_years_tau20"][sex]
        pcm, death = (_area(cif, sex, k, 240.0) / 12 for k in (1, 2))
        assert pcm == pytest.approx(want["pcm"], abs=ABS_SE)
        assert death == pytest.approx(want["death"], abs=ABS_SE)
        assert 20.0 - pcm - death == pytest.approx(want["s0"], abs=2 * ABS_SE)


# ---------------------------------------------------------------------- competing_weighted.json
def _check_ms_table(curve: Curve, table: dict, times, *, ci: bool = True) -> None:
    for sex in ("F", "M"):
        for name, k in CAUSE.items():
            got, want = _at(curve, times, sex, k), table[sex][name]
            np.testing.assert_allclose(got["estimate"], want["cif"], atol=ABS_FULL, rtol=0)
            np.testing.assert_allclose(got["std_error"], want["se"], atol=ABS_FULL, rtol=0)
            if ci:
                np.testing.assert_allclose(got["conf_low"], _num(want["lower"]), atol=ABS_FULL,
                                           rtol=0)
                np.testing.assert_allclose(got["conf_high"], _num(want["upper"]),
                                           atol=ABS_FULL, rtol=0)
        n_rows = ((curve.data["group"] == sex) & (curve.data["cause"] == 1)).sum()
        assert n_rows == table[sex]["n_times"]


def test_weighted_matches_survfit_ij(mgus2, wref):
    """survfit(Surv(etime, factor(event)) ~ sex, weights=w, id=id): non-integer weights."""
    times = wref["specification"]["times"]
    cif = cumulative_incidence(mgus2, time="etime", event="event", by="sex", weights="w",
                               conf_type="log")
    assert cif.weighted and cif.ci_method == "infinitesimal_jackknife"
    _check_ms_table(cif, wref["estimates"]["weighted"], times)
    frame = cif.to_frame()
    for col in ("n_risk_weighted", "n_event_weighted", "n_censor_weighted"):
        assert col in frame.columns
    first = frame[(frame["group"] == "F") & (frame["cause"] == 1)].iloc[0]
    females = mgus2[mgus2["sex"] == "F"]
    assert first["n_risk"] == len(females)
    assert first["n_risk_weighted"] == pytest.approx(females["w"].sum())


def test_left_truncation_matches_survfit(mgus2, wref):
    """survfit(Surv(entry, etime, factor(event)) ~ sex, id=id)."""
    times = wref["specification"]["times"]
    cif = cumulative_incidence(mgus2, time="etime", event="event", by="sex", entry="entry",
                               conf_type="log")
    _check_ms_table(cif, wref["estimates"]["entry"], times)
    assert any("left truncation" in n for n in cif.notes)


def test_weights_and_left_truncation_match_survfit(mgus2, wref):
    """survfit(Surv(entry, etime, factor(event)) ~ sex, weights=w, id=id)."""
    times = wref["specification"]["times"]
    cif = cumulative_incidence(mgus2, time="etime", event="event", by="sex", entry="entry",
                               weights="w")
    _check_ms_table(cif, wref["estimates"]["weighted_entry"], times, ci=False)


@pytest.mark.parametrize(("conf_type", "key"), [("log-log", "ci_log_log"), ("plain", "ci_plain")])
def test_conf_types_match_survfit(mgus2, wref, conf_type, key):
    """survfit(..., conf.type="log-log" / "plain"): the transform is applied to F itself."""
    times = wref["specification"]["times"]
    cif = cumulative_incidence(mgus2, time="etime", event="event", by="sex",
                               conf_type=conf_type)
    _check_ms_table(cif, wref["estimates"][key], times)


def test_integer_weights_equal_replicated_rows(mgus2, wref):
    """Integer weights give the replicated rows' estimates and weighted counts.

    The IJ standard errors differ, in R as here: the replicated copies are independent
    subjects (variance sum_i w_i D_i^2) while a weighted row is one subject (sum_i w_i^2
    D_i^2). Each matches its own R number; only the estimates must be equal.
    """
    times = wref["specification"]["times"]
    weighted = cumulative_incidence(mgus2, time="etime", event="event", by="sex",
                                    weights="w_int")
    rep = mgus2.loc[mgus2.index.repeat(mgus2["w_int"])].reset_index(drop=True)
    replicated = cumulative_incidence(rep, time="etime", event="event", by="sex")
    _check_ms_table(weighted, wref["estimates"]["integer_weights"], times, ci=False)
    _check_ms_table(replicated, wref["estimates"]["replicated_rows"], times, ci=False)
    a, b = weighted.to_frame(), replicated.to_frame()
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(a["n_risk_weighted"], b["n_risk"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(a["n_event_weighted"], b["n_event"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(a["n_censor_weighted"], b["n_censor"], rtol=0, atol=1e-9)
    assert not np.allclose(a["std_error"], b["std_error"])


def test_gray_test_strata_and_three_groups_match_cuminc(mgus2, wref):
    """cuminc(..., group=sex, strata=old)$Tests and cuminc(..., group=age3)$Tests."""
    est = wref["estimates"]
    strat = gray_test(mgus2, time="etime", event="event", by="sex", strata="old")
    three = gray_test(mgus2, time="etime", event="event", by="age3")
    for tab, key, df in ((strat, "gray_strata_old", 1), (three, "gray_age3", 2)):
        for name, k in CAUSE.items():
            row, want = tab[f"Gray: cause {k}"], est[key][name]
            assert row.statistic == pytest.approx(want["stat"], abs=1e-6)
            assert row.p_value == pytest.approx(want["p"], abs=1e-6)
            assert row.df == want["df"] == df
    one = gray_test(mgus2, time="etime", event="event", by="age3", cause=2)
    assert [r.term for r in one] == ["Gray: cause 2"]
    assert one[0].statistic == three["Gray: cause 2"].statistic


def test_three_group_aalen_variance_matches_cuminc_timepoints(mgus2, wref):
    """timepoints(cuminc(etime, event, group=age3), c(60, 120, 240)): est and var.

    R gives NA after a group's last event of the cause (timepoints) where cohortlab keeps the
    last value up to the group's last follow-up; those cells are skipped.
    """
    want = wref["estimates"]["cuminc_age3"]
    cif = cumulative_incidence(mgus2, time="etime", event="event", by="age3",
                               variance="aalen")
    for i, label in enumerate(want["rows"]):
        group, k = label.split()
        got = _at(cif, TIMES_VIGNETTE, group, int(k))
        est, var = _num(want["est"][i]), _num(want["var"][i])
        ok = np.isfinite(est)
        np.testing.assert_allclose(got["estimate"][ok], est[ok], atol=ABS_FULL, rtol=0)
        np.testing.assert_allclose(got["std_error"][ok] ** 2, var[ok], atol=1e-10, rtol=0)


def test_aalen_variance_is_carried_between_events_of_the_cause():
    """cuminc(c(1, 2, 3, 4), c(1, 2, 0, 1)): cause 1 var 0.0625 then 0.3194444 at t=4;
    cause 2 var 0.0694444 from t=2, unchanged by the cause-1 event at t=4 (R's step values).
    """
    d = pd.DataFrame({"t": [1.0, 2, 3, 4], "e": [1, 2, 0, 1]})
    cif = cumulative_incidence(d, time="t", event="e", variance="aalen")
    v1 = _at(cif, [1, 2, 3, 4], cause=1)["std_error"] ** 2
    v2 = _at(cif, [1, 2, 3, 4], cause=2)["std_error"] ** 2
    np.testing.assert_allclose(v1, [0.0625, 0.0625, 0.0625, 0.3194444444], atol=1e-9)
    np.testing.assert_allclose(v2, [0.0, 0.0694444444, 0.0694444444, 0.0694444444], atol=1e-9)


# ---------------------------------------------------------------------- invariants
def test_one_cause_cif_is_one_minus_kaplan_meier(rng):
    """With event 0/1, 1 - CIF equals the product-limit estimate (ties included)."""
    n = 300
    t = np.round(rng.exponential(5, n), 1) + 0.1
    e = (rng.uniform(size=n) < 0.6).astype(int)
    cif = cumulative_incidence(pd.DataFrame({"t": t, "e": e}), time="t", event="e")
    times = np.unique(t)
    at_risk = (t[None, :] >= times[:, None]).sum(axis=1)
    deaths = ((t[None, :] == times[:, None]) & (e[None, :] == 1)).sum(axis=1)
    km = np.cumprod(1.0 - deaths / at_risk)
    np.testing.assert_allclose(1.0 - cif.to_frame()["estimate"], km, rtol=0, atol=1e-12)


def test_cifs_and_event_free_add_to_one(rng):
    n = 200
    t = rng.integers(1, 30, n).astype(float)
    e = rng.integers(0, 4, n)
    w = rng.uniform(0.2, 3.0, n)
    d = pd.DataFrame({"t": t, "e": e, "w": w})
    frame = cumulative_incidence(d, time="t", event="e", weights="w").to_frame()
    total = frame.pivot(index="time", columns="cause", values="estimate").sum(axis=1)
    times = np.unique(t)
    y = (w[None, :] * (t[None, :] >= times[:, None])).sum(axis=1)
    dd = (w[None, :] * ((t[None, :] == times[:, None]) & (e[None, :] > 0))).sum(axis=1)
    np.testing.assert_allclose(total, 1.0 - np.cumprod(1.0 - dd / y), atol=1e-12, rtol=0)


def test_constant_weights_change_nothing_and_rows_are_order_free(mgus2):
    base = cumulative_incidence(mgus2, time="etime", event="event", by="sex").to_frame()
    scaled = cumulative_incidence(mgus2.assign(c=3.7), time="etime", event="event", by="sex",
                                  weights="c").to_frame()
    shuffled = cumulative_incidence(mgus2.sample(frac=1.0, random_state=5), time="etime",
                                    event="event", by="sex").to_frame()
    for other in (scaled, shuffled):
        for col in ("estimate", "std_error", "conf_low", "conf_high"):
            np.testing.assert_allclose(other[col], base[col], rtol=1e-10, atol=1e-13)


def _brute_force_ij(t, e, w, t0, k):
    """sum_i (w_i dF_k/dw_i)^2 by central differences on each weight (n refits)."""
    def cif(ww):
        rc = risk_counts(t, e, ww, t0, n_causes=int(e.max()))
        return aalen_johansen(rc).cif[:, k - 1]

    h = 1e-6
    grads = []
    for i in range(t.size):
        up, dn = w.copy(), w.copy()
        up[i] += h
        dn[i] -= h
        grads.append((cif(up) - cif(dn)) / (2 * h))
    return ((w[:, None] * np.array(grads)) ** 2).sum(axis=0)


@pytest.mark.parametrize("with_entry", [False, True])
def test_ij_closed_form_equals_numerical_derivative(rng, with_entry):
    """The O(n) closed form of the IJ variance equals the weight derivatives it stands for."""
    n = 40
    t = rng.integers(1, 12, n).astype(float)  # many ties
    e = rng.integers(0, 3, n)
    w = rng.uniform(0.5, 2.0, n)
    t0 = np.where(rng.uniform(size=n) < 0.4, t - rng.integers(1, 6, n), -1.0) if with_entry \
        else None
    rc = risk_counts(t, e, w, t0, n_causes=2)
    aj = aalen_johansen(rc)
    b = np.searchsorted(rc.time, t)
    a = None if t0 is None else np.searchsorted(rc.time, t0, side="right")
    fast = ij_variance(aj, b, e, w, a)
    for k in (1, 2):
        np.testing.assert_allclose(fast[:, k - 1], _brute_force_ij(t, e, w, t0, k),
                                   rtol=1e-6, atol=1e-12)


def test_aalen_variance_kernel_with_one_cause_has_closed_form(rng):
    """With one cause, cmprsk's variance collapses to S(t)^2 sum_j d_j c_j / (Y_j - d_j)^2,
    c_j = (Y_j - d_j) / (Y_j - 1) for tied events (else 1): an Aalen-type variance of the
    Kaplan-Meier (not Greenwood's d / (Y (Y - d))). Checks the vectorised kernel against
    that algebra, ties included."""
    n = 80
    t = rng.integers(1, 40, n).astype(float)
    e = (rng.uniform(size=n) < 0.7).astype(int)
    aj = aalen_johansen(risk_counts(t, e, n_causes=1))
    y, d = aj.counts.n_risk, aj.counts.n_event[:, 0]
    ok = aj.survival > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        tie = np.where(d > 1, (y - d) / (y - 1), 1.0)
        terms = np.where(d > 0, d * tie / (y - d) ** 2, 0.0)
    closed = aj.survival**2 * np.cumsum(np.where(ok, terms, 0.0))
    v = aalen_variance(aj)[:, 0]
    np.testing.assert_allclose(v[ok], closed[ok], rtol=1e-10, atol=1e-15)


def test_curve_layout(mgus2):
    cif = cumulative_incidence(mgus2, time="etime", event="event", by="sex", cause=2)
    frame = cif.to_frame()
    check_schema(frame, kind="curve")
    assert (cif.measure, cif.method, cif.conf_type) == ("cumulative_incidence",
                                                       "aalen_johansen", "log-log")
    assert set(frame["cause"]) == {2} and cif.groups == ["F", "M"]
    assert cif.n == len(mgus2) and cif.n_events == int((mgus2["event"] == 2).sum())
    for sex, part in frame.groupby("group"):
        sub = mgus2[mgus2["sex"] == sex]
        assert len(part) == sub["etime"].nunique()
        assert part["n_event"].sum() == (sub["event"] == 2).sum()
        assert part["n_censor"].sum() == (sub["event"] == 0).sum()
        assert part["n_risk"].iloc[0] == len(sub)
    assert (frame["conf_low"] <= frame["estimate"] + 1e-15).all()
    assert (frame["estimate"] <= frame["conf_high"] + 1e-15).all()
    assert "n_risk_weighted" not in frame.columns
    text = cif.summary()
    assert "Aalen-Johansen" in text


def test_narrower_interval_at_lower_level(mgus2):
    a = cumulative_incidence(mgus2, time="etime", event="event", cause=1).to_frame()
    b = cumulative_incidence(mgus2, time="etime", event="event", cause=1,
                             conf_level=0.90).to_frame()
    inner = a["std_error"] > 0
    assert ((b["conf_high"] - b["conf_low"])[inner] < (a["conf_high"] - a["conf_low"])[inner]).all()
    assert (b["conf_level"] == 0.90).all()


def test_missing_values_raise_or_are_counted(mgus2):
    d = mgus2[["etime", "event", "sex", "hgb"]].copy()
    d.loc[d.index[:5], "etime"] = np.nan
    with pytest.raises(MissingDataError, match=r"cumulative_incidence\(\): 5 of 1,384 rows"):
        cumulative_incidence(d, time="etime", event="event")
    cif = cumulative_incidence(d, time="etime", event="event", missing="drop")
    assert cif.dropped.n_rows == 5 and cif.dropped.by_column == {"etime": 5}
    assert cif.n == len(d) - 5
    cumulative_incidence(d.dropna(subset=["etime"]), time="etime", event="event")  # hgb unused
    tab = gray_test(d, time="etime", event="event", by="sex", missing="drop")
    assert tab.dropped.n_rows == 5


def test_input_frame_is_not_modified(mgus2):
    before = mgus2.copy()
    cumulative_incidence(mgus2, time="etime", event="event", by="sex", weights="w",
                         entry="entry")
    gray_test(mgus2, time="etime", event="event", by="sex", strata="old")
    pd.testing.assert_frame_equal(mgus2, before)


# ---------------------------------------------------------------------- simulated truth
def _simulate(rng, n, lam1=0.10, lam2=0.05, cens=0.04, weighted=False):
    """Exponential cause-specific hazards; with ``weighted`` a biased sample plus IPW weights.

    Weighted design: x ~ Bernoulli(0.5) in the population doubles both hazards; x = 1 is
    sampled with probability 0.8 and x = 0 with 0.3, and w = 1 / P(sampled | x) restores the
    population. True F_1(t) = mean over x of lam1_x / lam_x (1 - exp(-lam_x t)).
    """
    if not weighted:
        x = np.zeros(n)
        w = np.ones(n)
    else:
        x = (rng.uniform(size=n) < 0.8 / (0.8 + 0.3)).astype(float)  # P(x=1 | sampled)
        w = np.where(x == 1, 1 / 0.8, 1 / 0.3)
    scale = 1.0 + x
    t1 = rng.exponential(1 / (lam1 * scale))
    t2 = rng.exponential(1 / (lam2 * scale))
    c = rng.exponential(1 / cens, n)
    t = np.minimum(np.minimum(t1, t2), c)
    e = np.where(c <= np.minimum(t1, t2), 0, np.where(t1 < t2, 1, 2))
    return pd.DataFrame({"t": t, "e": e, "w": w})


def _true_f1(t0, lam1=0.10, lam2=0.05, weighted=False):
    def f(s):
        return lam1 * s / ((lam1 + lam2) * s) * (1 - math.exp(-(lam1 + lam2) * s * t0))
    return 0.5 * (f(1.0) + f(2.0)) if weighted else f(1.0)


def _coverage(rng, reps, n, weighted, t0=5.0):
    """Share of replicates whose interval for F_1(t0) covers the truth.

    The replicates are stacked and estimated in one call with ``by="rep"``: each level of
    ``by`` is an independent curve, so this is the same as one call per replicate.
    """
    truth = _true_f1(t0, weighted=weighted)
    d = pd.concat([_simulate(rng, n, weighted=weighted).assign(rep=r) for r in range(reps)],
                  ignore_index=True)
    cif = cumulative_incidence(d, time="t", event="e", cause=1, by="rep",
                               weights="w" if weighted else None).data
    before = cif[cif["time"] <= t0]
    last = before.groupby("group")[["conf_low", "conf_high"]].last()
    assert len(last) == reps
    return float(((last["conf_low"] <= truth) & (truth <= last["conf_high"])).mean())


@pytest.mark.parametrize("weighted", [False, True])
def test_ci_coverage_simulated_truth(weighted):
    """200 replicates, n = 400: the 95% log-log IJ interval of F_1(5) covers the closed-form
    truth in [0.92, 0.98] of them (binomial SE ~0.015)."""
    cov = _coverage(np.random.default_rng(2024 + weighted), 200, 400, weighted)
    assert 0.92 <= cov <= 0.98


@pytest.mark.slow
@pytest.mark.parametrize("weighted", [False, True])
def test_ci_coverage_simulated_truth_large(weighted):
    """2,000 replicates, n = 400: coverage within [0.935, 0.965] (binomial SE ~0.005)."""
    cov = _coverage(np.random.default_rng(7 + weighted), 2000, 400, weighted)
    assert 0.935 <= cov <= 0.965


# ---------------------------------------------------------------------- bad input
@pytest.fixture
def small() -> pd.DataFrame:
    return pd.DataFrame({"t": [1.0, 2, 3, 4, 5, 6], "e": [1, 2, 0, 1, 2, 0],
                         "g": ["a", "a", "a", "b", "b", "b"],
                         "w": [1.0, 2, 1, 1, 1, 1], "s": [0.0, 0, 0, 0, 0, 0]})


def test_negative_event_codes_raise(small):
    with pytest.raises(DataValidationError, match=r"column 'e' \(event\) must be coded 0 "
                                                   r"\(censored\) and 1..K \(causes\); got codes \[-1"):
        cumulative_incidence(small.assign(e=[1, -1, 0, 1, 2, 0]), time="t", event="e")


def test_non_integer_event_codes_raise(small):
    with pytest.raises(DataValidationError, match=r"column 'e' \(event\) must hold integer codes"):
        gray_test(small.assign(e=[1, 1.5, 0, 1, 2, 0]), time="t", event="e", by="g")


def test_cause_without_events_raises(small):
    with pytest.raises(DataValidationError, match=r"cumulative_incidence\(\): cause=3 has no "
                                                   r"events in column 'e' \(event\); got codes "
                                                   r"with events \[1, 2\]"):
        cumulative_incidence(small, time="t", event="e", cause=3)
    with pytest.raises(DataValidationError, match=r"gray_test\(\): cause=0 has no events"):
        gray_test(small, time="t", event="e", by="g", cause=0)


def test_cause_must_be_an_integer_code(small):
    with pytest.raises(DataValidationError, match=r"cause must be an integer event code of "
                                                   r"column 'e'; got '1'"):
        cumulative_incidence(small, time="t", event="e", cause="1")


def test_no_events_at_all_raises(small):
    with pytest.raises(DataValidationError, match=r"column 'e' \(event\) has no events"):
        cumulative_incidence(small.assign(e=0), time="t", event="e")


def test_gray_test_needs_two_groups(small):
    with pytest.raises(DataValidationError, match=r"gray_test\(\): column 'g' \(by\) must have "
                                                   r"at least two levels to compare; got 1 level"):
        gray_test(small.assign(g="a"), time="t", event="e", by="g")


def test_negative_weights_raise(small):
    with pytest.raises(DataValidationError, match=r"column 'w' \(weights\) has 1 negative"):
        cumulative_incidence(small.assign(w=[1.0, -2, 1, 1, 1, 1]), time="t", event="e",
                             weights="w")


def test_entry_not_before_exit_raises(small):
    with pytest.raises(DataValidationError, match=r"1 rows have entry time 's' >= exit time 't'"):
        cumulative_incidence(small.assign(s=[0.0, 2, 0, 0, 0, 0]), time="t", event="e",
                             entry="s")


def test_aalen_variance_refuses_weights_and_entry(small):
    with pytest.raises(DataValidationError, match=r"variance=\"aalen\".*got weights='w'"):
        cumulative_incidence(small, time="t", event="e", weights="w", variance="aalen")
    with pytest.raises(DataValidationError, match=r"variance=\"aalen\".*got entry='s'"):
        cumulative_incidence(small, time="t", event="e", entry="s", variance="aalen")


def test_bad_options_raise(small):
    with pytest.raises(DataValidationError, match=r"variance must be one of"):
        cumulative_incidence(small, time="t", event="e", variance="greenwood")
    with pytest.raises(DataValidationError, match=r"conf_type must be one of"):
        cumulative_incidence(small, time="t", event="e", conf_type="logit")
    with pytest.raises(DataValidationError, match=r"conf_level must be a float in \(0, 1\); "
                                                   r"got 95. Did you mean 0.95\?"):
        cumulative_incidence(small, time="t", event="e", conf_level=95)


def test_unknown_column_raises(small):
    with pytest.raises(DataValidationError, match=r"column 'tt' not found \(time\). Did you "
                                                   r"mean 't'\?"):
        cumulative_incidence(small, time="tt", event="e")
    with pytest.raises(DataValidationError, match=r"column 'grp' not found \(strata\)"):
        gray_test(small, time="t", event="e", by="g", strata="grp")
