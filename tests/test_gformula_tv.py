"""cl.gformula_tv: the parametric g-formula for time-varying treatments.

Reference: pygformula 1.2.0 on its bundled example data (tests/reference/gformula_tv/, made
by run_pygformula.py). Known truth: a small DGP with treatment-confounder feedback whose true
risks under always/never treat are computed here by simulating the counterfactual cohorts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from cohortlab.exceptions import CohortError, MissingDataError
from cohortlab.longitudinal import gformula_tv
from cohortlab.longitudinal._gformula_sim import observed_risk
from cohortlab.longitudinal._gformula_tv import Term, history_columns

REF = Path(__file__).parent / "reference" / "gformula_tv"
RTOL_COEF = 1e-6  # deterministic MLE fits on both sides (statsmodels IRLS vs ours)
MC_SD_MULT = 3.0  # risks within 3 Monte Carlo SDs (pygformula's SD across seeds)

MODELS = {
    "L1": "lag1_A + lag2_A + lag_cumavg1_L1 + lag_cumavg1_L2 + L3 + t0",
    "L2": "lag1_A + L1 + lag_cumavg1_L1 + lag_cumavg1_L2 + L3 + t0",
    "A": "lag1_A + L1 + L2 + lag_cumavg1_L1 + lag_cumavg1_L2 + L3 + t0",
    "Y": "A + L1 + L2 + L3 + lag1_A + lag1_L1 + lag1_L2",
    "D": "A + L1 + L2 + L3 + t0",
}
NAMES = {"Natural course": "natural_course", "Never treat": "never", "Always treat": "always"}


# ---------------------------------------------------------------------- a small DGP
def _dgp(n: int, n_periods: int, rng: np.random.Generator, strategy: int | None = None
         ) -> pd.DataFrame:
    """L affected by past A and affecting A and Y (time-varying confounding).

    L_t ~ N(0.3 + 0.5 L_{t-1} - 0.8 A_{t-1}, 1); A_t ~ Bern(expit(-0.5 + 0.8 L_t +
    1.0 A_{t-1})) (or fixed by ``strategy``); Y_t ~ Bern(expit(-3 + 0.6 L_t - 0.5 A_t + 0.2 V)).
    """
    v = rng.binomial(1, 0.5, n).astype(float)
    lag_l, lag_a = np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    rows = []
    for t in range(n_periods):
        l_t = 0.3 + 0.5 * lag_l - 0.8 * lag_a + rng.normal(size=n)
        a_t = (rng.binomial(1, expit(-0.5 + 0.8 * l_t + 1.0 * lag_a)) if strategy is None
               else np.full(n, strategy)).astype(float)
        y_t = rng.binomial(1, expit(-3 + 0.6 * l_t - 0.5 * a_t + 0.2 * v)).astype(float)
        idx = np.flatnonzero(alive)
        rows.append(pd.DataFrame({"id": idx, "t": t, "V": v[idx], "L": l_t[idx], "A": a_t[idx],
                                  "Y": y_t[idx]}))
        alive &= y_t == 0
        lag_l, lag_a = l_t, a_t
    return pd.concat(rows).sort_values(["id", "t"], kind="stable").reset_index(drop=True)


DGP_MODELS = {"L": "lag1_L + lag1_A", "A": "L + lag1_A", "Y": "L + A + V"}


def _truth(n_periods: int, strategy: int) -> np.ndarray:
    cf = _dgp(200_000, n_periods, np.random.default_rng(99), strategy)
    events = cf.groupby("t")["Y"].sum().reindex(range(n_periods), fill_value=0)
    return np.cumsum(events.to_numpy()) / 200_000


def _fit_dgp(df: pd.DataFrame, **kw):  # noqa: ANN202
    return gformula_tv(df, id="id", period="t", treatment="A", outcome="Y",
                       covariates={"L": "normal"}, baseline=["V"], models=DGP_MODELS,
                       bounded=False, **kw)


# ---------------------------------------------------------------------- reference
@pytest.fixture(scope="module")
def basic() -> tuple[dict, object]:
    expected = json.loads((REF / "expected.json").read_text())
    df = pd.read_csv(REF / "basicdata.csv")
    res = gformula_tv(df, id="id", period="t0", treatment="A", outcome="Y", competing="D",
                      covariates={"L1": "binary", "L2": "normal"}, baseline=["L3"],
                      models=MODELS, n_boot=0, random_state=2024)
    return expected, res


def test_pygformula_coefficients(basic) -> None:  # noqa: ANN001
    """Every model's coefficients equal pygformula's (statsmodels GLM) to 1e-6."""
    expected, res = basic
    coef = res.coefficients
    n_checked = 0
    for model, params in expected["coefficients"].items():
        for term, value in params.items():
            ours = coef.loc[(coef["model"] == model)
                            & (coef["term"] == ("(Intercept)" if term == "Intercept" else term)),
                            "estimate"]
            assert ours.size == 1, (model, term)
            np.testing.assert_allclose(ours.iloc[0], value, rtol=RTOL_COEF, atol=1e-9)
            n_checked += 1
    assert n_checked == 36
    sd = coef.loc[(coef["model"] == "L2") & (coef["term"] == "(sd)"), "estimate"].iloc[0]
    np.testing.assert_allclose(sd, expected["rmse"]["L2"], rtol=RTOL_COEF)


def test_pygformula_risks_within_monte_carlo_error(basic) -> None:  # noqa: ANN001
    """Risks under natural course / never / always within 3 MC SDs at every period.

    pygformula's MC SD is its SD across 10 seeds (n_simul = 2,500, every person once); its
    reference value is the mean over the seeds, so the SD of (ours - reference) is
    sd * sqrt(1 + 1/10), ours having the same n_simul and hence about the same MC SD.
    """
    expected, res = basic
    k = len(expected["seeds"])
    risks = res.risks.data
    for py_name, name in NAMES.items():
        ours = risks.loc[risks["group"] == name, "estimate"].to_numpy()
        ref = np.asarray(expected["risk_mean"][py_name])
        sd = np.asarray(expected["risk_sd"][py_name])
        tol = MC_SD_MULT * sd * np.sqrt(1 + 1 / k) + 1e-8  # period 0: deterministic
        assert np.all(np.abs(ours - ref) <= tol), (name, ours - ref, tol)


def test_pygformula_observed_risk(basic) -> None:  # noqa: ANN001
    """The natural-course check's observed risk equals pygformula's nonparametric one."""
    expected, res = basic
    np.testing.assert_allclose(res.natural_course["observed"], expected["observed_risk"],
                               rtol=1e-10)


# ---------------------------------------------------------------------- building blocks
def test_history_columns_match_pandas_groupby() -> None:
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 6, size=40)
    df = pd.DataFrame({"id": np.repeat(np.arange(40), sizes),
                       "t": np.concatenate([np.arange(s) for s in sizes])})
    df["x"] = rng.normal(size=len(df))
    first = np.repeat(np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
    terms = [Term("lag", "x", 2), Term("cumavg", "x"), Term("lagavg", "x", 1)]
    cols = history_columns(terms, {"x": df["x"].to_numpy()}, {}, df["t"].to_numpy(), first)
    g = df.groupby("id")["x"]
    cumavg = g.transform(lambda s: s.expanding().mean())
    np.testing.assert_allclose(cols[terms[0]], g.shift(2).fillna(0.0), atol=1e-12)
    np.testing.assert_allclose(cols[terms[1]], cumavg, atol=1e-12)
    np.testing.assert_allclose(cols[terms[2]], cumavg.groupby(df["id"]).shift(1).fillna(0.0),
                               atol=1e-12)


def test_observed_risk_censoring_during_period() -> None:
    """A person censored in a period (outcome unobserved) leaves the risk set before it."""
    # 4 persons: event at 0; censored during 1; event at 1; followed to 1 without event
    risk = observed_risk(np.array([0, 1, 1, 1]), np.array([1, -1, 1, 0]), 2, 1)
    # S(0) = 3/4; at period 1 two at risk, one event: risk 1 - 3/4 * 1/2
    np.testing.assert_allclose(risk, [0.25, 0.625])


# ---------------------------------------------------------------------- known truth
@pytest.fixture(scope="module")
def dgp_data() -> pd.DataFrame:
    return _dgp(3000, 5, np.random.default_rng(11))


def test_known_truth_point_estimates(dgp_data: pd.DataFrame) -> None:
    """Correct models recover the true risks under always / never (MC truth, n = 200,000)."""
    res = _fit_dgp(dgp_data, n_boot=0, n_simul=20_000, random_state=5)
    r = res.risks.data
    for name, a in (("always", 1), ("never", 0)):
        est = r.loc[r["group"] == name, "estimate"].to_numpy()
        truth = _truth(5, a)
        # sampling SD of a risk near 0.2 with n = 3,000 is about 0.008
        assert np.max(np.abs(est - truth)) < 0.025, (name, est, truth)
    nc = res.natural_course
    assert np.max(np.abs(nc["difference"])) < 0.02


def test_threshold_strategy_limits_equal_static(dgp_data: pd.DataFrame) -> None:
    """Treat when L > -inf is 'always', when L > +inf is 'never' (same random stream)."""
    strategies = {"always": {"type": "static", "value": 1},
                  "never": {"type": "static", "value": 0},
                  "all": {"type": "threshold", "covariate": "L", "above": -np.inf},
                  "none": {"type": "threshold", "covariate": "L", "above": np.inf},
                  "mid": {"type": "threshold", "covariate": "L", "above": 0.5}}
    res = _fit_dgp(dgp_data, n_boot=0, strategies=strategies, random_state=1)
    r = res.risks.data.set_index(["group", "time"])["estimate"]
    np.testing.assert_array_equal(r["all"].to_numpy(), r["always"].to_numpy())
    np.testing.assert_array_equal(r["none"].to_numpy(), r["never"].to_numpy())
    # treating those with high L (harmful L, protective A) lies between never and always
    assert r["always"].iloc[-1] < r["mid"].iloc[-1] < r["never"].iloc[-1]


def test_bootstrap_seeded_and_independent_of_n_jobs(dgp_data: pd.DataFrame) -> None:
    small = dgp_data[dgp_data["id"] < 800]
    a = _fit_dgp(small, n_boot=20, random_state=3, n_jobs=1)
    b = _fit_dgp(small, n_boot=20, random_state=3, n_jobs=2)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    pd.testing.assert_frame_equal(a.risks.to_frame(), b.risks.to_frame())
    rd = a.contrasts["RD always vs never, period 4"]
    assert rd.ci_method == "bootstrap_percentile"
    assert rd.conf_low < rd.estimate < rd.conf_high
    assert 0.005 < rd.std_error < 0.1


def test_bootstrap_interval_covers_truth(dgp_data: pd.DataFrame) -> None:
    """Reduced coverage check: one data set, 100 replicates; the slow test repeats it."""
    res = _fit_dgp(dgp_data, n_boot=100, random_state=8)
    rd = res.contrasts["RD always vs never, period 4"]
    truth = _truth(5, 1)[-1] - _truth(5, 0)[-1]
    assert rd.conf_low < truth < rd.conf_high


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("change", "match"), [
    (lambda d: d.assign(t=d["t"] + 1), "start at period 0"),
    (lambda d: d.sample(frac=1.0, random_state=1), "consecutive"),
    (lambda d: d.assign(V=np.arange(len(d)) % 2), "changes within a person"),
    (lambda d: d.assign(L=d["L"].where(d.index != 3)), "missing values"),
    (lambda d: d.assign(A=d["A"] * 2), "0/1"),
])
def test_bad_data_raises(dgp_data: pd.DataFrame, change, match: str) -> None:  # noqa: ANN001
    with pytest.raises(CohortError, match=match):
        _fit_dgp(change(dgp_data.iloc[:200].copy()), n_boot=0)


def test_event_before_last_row_raises(dgp_data: pd.DataFrame) -> None:
    d = dgp_data.iloc[:200].copy()
    d.loc[d.index[0], "Y"] = 1.0 if d["id"].iloc[1] == d["id"].iloc[0] else 0.0
    with pytest.raises(CohortError, match="before a person's last row"):
        _fit_dgp(d, n_boot=0)


@pytest.mark.parametrize(("models", "match"), [
    ({"L": "lag1_L + foo"}, "unknown term 'foo'"),
    ({"L": "A + lag1_L"}, "simulated after 'L'"),
    ({"L": "lag0_A"}, "unknown term"),
    ({"Z": "L"}, "not modelled"),
])
def test_bad_models_raise(dgp_data: pd.DataFrame, models: dict, match: str) -> None:
    with pytest.raises(CohortError, match=match):
        gformula_tv(dgp_data.iloc[:200], id="id", period="t", treatment="A", outcome="Y",
                    covariates={"L": "normal"}, models=models, n_boot=0)


def test_bad_strategy_raises(dgp_data: pd.DataFrame) -> None:
    with pytest.raises(CohortError, match="strategy 'x'"):
        _fit_dgp(dgp_data.iloc[:200], n_boot=0, strategies={"x": {"type": "threshold",
                                                                  "covariate": "Q", "above": 1}})
    with pytest.raises(CohortError, match="reference must name"):
        _fit_dgp(dgp_data.iloc[:200], n_boot=0, reference="sometimes")


def test_unexplained_missing_outcome_raises(dgp_data: pd.DataFrame) -> None:
    d = dgp_data.iloc[:200].copy()
    d.loc[d.index[2], "Y"] = np.nan
    with pytest.raises(MissingDataError, match="outcome"):
        _fit_dgp(d, n_boot=0)


def test_result_renders(dgp_data: pd.DataFrame) -> None:
    res = _fit_dgp(dgp_data.iloc[:600], n_boot=0, random_state=0)
    text = res.summary()
    assert "Parametric g-formula" in text and "n_simul" in text
    assert res.to_markdown().startswith("**")
    assert set(res.to_frame()["effect_measure"]) == {"risk_difference", "risk_ratio"}


def test_missing_competing_event_raises(basic) -> None:  # noqa: ANN001
    df = pd.read_csv(REF / "basicdata.csv")
    df.loc[df.index[1], "D"] = np.nan
    with pytest.raises(MissingDataError, match="'D' \\(competing\\)"):
        gformula_tv(df, id="id", period="t0", treatment="A", outcome="Y", competing="D",
                    covariates={"L1": "binary", "L2": "normal"}, baseline=["L3"],
                    models=MODELS, n_boot=0)


def test_n_simul_and_natural_course_reference(dgp_data: pd.DataFrame) -> None:
    """n_simul resamples persons; the natural course can be the reference."""
    res = _fit_dgp(dgp_data, n_boot=0, n_simul=5000, reference="natural_course",
                   random_state=2)
    assert res.n_simul == 5000 and res.n == dgp_data["id"].nunique()
    r = res.risks.data.set_index(["group", "time"])["estimate"]
    rd = res.contrasts["RD never vs natural_course, period 4"]
    np.testing.assert_allclose(rd.estimate, r["never"].iloc[-1] - r["natural_course"].iloc[-1])
    rr = res.contrasts["RR never vs natural_course, period 4"]
    np.testing.assert_allclose(rr.estimate, r["never"].iloc[-1] / r["natural_course"].iloc[-1])


def test_normal_interval_uses_bootstrap_se(dgp_data: pd.DataFrame) -> None:
    small = dgp_data[dgp_data["id"] < 800]
    res = _fit_dgp(small, n_boot=20, random_state=3, interval="normal")
    rd = res.contrasts["RD always vs never, period 4"]
    assert rd.ci_method == "bootstrap_normal"
    np.testing.assert_allclose([rd.conf_low, rd.conf_high],
                               rd.estimate + np.array([-1, 1]) * 1.959963984540054 * rd.std_error)
    pct = _fit_dgp(small, n_boot=20, random_state=3).contrasts["RD always vs never, period 4"]
    assert pct.std_error == rd.std_error and pct.conf_low != rd.conf_low
