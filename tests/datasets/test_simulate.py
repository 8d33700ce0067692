"""Tests of simulate_cohort(): reproducibility, domains, and the sample against the truth.

Statistical checks use n = 200,000 rows from a fixed seed and a tolerance of 4 standard
errors (of the sample statistic); the truth's own Monte Carlo error is smaller still.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cohortlab.datasets import simulate_cohort
from cohortlab.datasets.simulate import _Params, _population_truth, _propensity
from cohortlab.exceptions import DataValidationError

N_BIG = 200_000
SEED = 20_240_601
Z = 4.0  # tolerance in standard errors

COLUMNS = [
    "id", "site", "age", "female", "bmi", "diabetes", "smoking", "sbp", "af_true",
    "af_score", "af_flag", "treated", "sbp_12m", "mace_1y", "time", "event",
]
PO_COLUMNS = ["sbp_12m_a1", "sbp_12m_a0", "mace_1y_p1", "mace_1y_p0"]
INT_COLUMNS = ["id", "site", "female", "diabetes", "af_true", "af_flag", "treated", "mace_1y",
               "event"]
FLOAT_COLUMNS = ["age", "bmi", "sbp", "af_score", "sbp_12m", "time"]


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return simulate_cohort(N_BIG, random_state=SEED, potential_outcomes=True)


def _covariates(df: pd.DataFrame) -> dict[str, np.ndarray]:
    cov = {k: df[k].to_numpy() for k in ["site", "age", "female", "bmi", "diabetes", "af_flag"]}
    cov["smoking"] = df["smoking"].cat.codes.to_numpy()
    return cov


def _true_ps(df: pd.DataFrame) -> np.ndarray:
    truth = df.attrs["truth"]["params"]
    params = _Params(**{k: truth[k] for k in _Params.__dataclass_fields__})
    return _propensity(_covariates(df), params)


def _within(estimate: float, target: float, se: float) -> bool:
    return abs(estimate - target) <= Z * se


# ------------------------------------------------------------------ reproducibility


def test_same_seed_gives_identical_frame_and_truth():
    """Same int seed -> identical frame and truth (no hidden state between calls)."""
    a = simulate_cohort(2_000, random_state=7)
    b = simulate_cohort(2_000, random_state=7)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["truth"] == b.attrs["truth"]


def test_generator_and_int_seed_agree():
    """A Generator seeded like the int gives the same frame."""
    a = simulate_cohort(1_000, random_state=11)
    b = simulate_cohort(1_000, random_state=np.random.default_rng(11))
    pd.testing.assert_frame_equal(a, b)


def test_different_seeds_differ():
    """Different seeds give different draws but the same (population) truth."""
    a = simulate_cohort(2_000, random_state=1)
    b = simulate_cohort(2_000, random_state=2)
    assert not np.array_equal(a["age"].to_numpy(), b["age"].to_numpy())
    assert not np.array_equal(a["time"].to_numpy(), b["time"].to_numpy())
    ta, tb = a.attrs["truth"], b.attrs["truth"]
    assert {k: v for k, v in ta.items() if k != "params"} == {
        k: v for k, v in tb.items() if k != "params"
    }


def test_global_rng_untouched():
    """The global numpy RNG state is the same before and after a call."""
    before = np.random.get_state()  # noqa: NPY002
    simulate_cohort(1_000, random_state=3)
    simulate_cohort(1_000)
    after = np.random.get_state()  # noqa: NPY002
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def test_truth_is_cached_and_not_shared():
    """The truth is computed once per parameter set; mutating one frame's truth is harmless."""
    a = simulate_cohort(100, random_state=1)
    hits = _population_truth.cache_info().hits
    a.attrs["truth"]["continuous"]["ATE"] = 999.0
    b = simulate_cohort(100, random_state=2, followup=3.0)  # followup does not enter the truth
    assert _population_truth.cache_info().hits == hits + 1
    assert b.attrs["truth"]["continuous"]["ATE"] != 999.0
    assert b.attrs["truth"]["params"]["followup"] == 3.0


# ------------------------------------------------------------------ structure and domains


def test_columns_and_dtypes():
    """Exact column names and order; integer, float and categorical dtypes as documented."""
    df = simulate_cohort(500, random_state=5)
    assert list(df.columns) == COLUMNS
    for col in INT_COLUMNS:
        assert df[col].dtype == np.int64, col
    for col in FLOAT_COLUMNS:
        assert df[col].dtype == np.float64, col
    assert isinstance(df["smoking"].dtype, pd.CategoricalDtype)
    assert list(df["smoking"].cat.categories) == ["never", "former", "current"]
    assert df["id"].tolist() == list(range(1, 501))
    assert not df.isna().any().any()
    po = simulate_cohort(500, random_state=5, potential_outcomes=True)
    assert list(po.columns) == COLUMNS + PO_COLUMNS
    pd.testing.assert_frame_equal(po[COLUMNS], df)


def test_value_domains(big):
    """Binary columns are 0/1; ranges and clipping as documented; af_flag = score >= 0.5."""
    for col in ["female", "diabetes", "af_true", "af_flag", "treated", "mace_1y"]:
        assert set(big[col].unique()) == {0, 1}, col
    assert set(big["site"].unique()) == set(range(1, 11))
    assert big["age"].between(30, 90).all()
    assert big["bmi"].between(16, 50).all()
    assert big["bmi"].median() == pytest.approx(27, abs=0.3)
    assert big["age"].mean() == pytest.approx(60, abs=0.2)
    assert ((big["af_score"] > 0) & (big["af_score"] < 1)).all()
    assert (big["af_flag"] == (big["af_score"] >= 0.5)).all()
    assert ((big["mace_1y_p1"] > 0) & (big["mace_1y_p1"] < 1)).all()


def test_event_and_time_domain(big):
    """Event codes are 0/1/2; 0 < time <= followup; administrative censoring at followup."""
    assert set(big["event"].unique()) == {0, 1, 2}
    assert (big["time"] > 0).all()
    assert (big["time"] <= 5.0).all()
    at_end = big["time"] == 5.0
    assert at_end.any() and (big.loc[at_end, "event"] == 0).all()
    df = simulate_cohort(20_000, random_state=4, followup=2.0, dropout_rate=0.0)
    assert (df["time"] <= 2.0).all()
    assert ((df["event"] == 0) == (df["time"] == 2.0)).all()  # no dropout: censored only at 2


def test_prevalences(big):
    """Default prevalences fall in the documented ranges."""
    assert 0.08 <= big["af_true"].mean() <= 0.12
    assert 0.30 <= big["treated"].mean() <= 0.40
    assert 0.08 <= (big["event"] == 1).mean() <= 0.15
    assert 0.10 <= (big["event"] == 2).mean() <= 0.20
    assert 0.03 <= big["mace_1y"].mean() <= 0.10
    assert 0.08 <= big["diabetes"].mean() <= 0.20
    shares = big["smoking"].value_counts(normalize=True)
    assert shares["never"] > shares["former"] > shares["current"] > 0.1


def test_true_propensity_in_bounds(big):
    """True PS e(X) stays inside (0.02, 0.98) at the defaults; treated ~ Bernoulli(e(X))."""
    e = _true_ps(big)
    assert e.min() > 0.02 and e.max() < 0.98
    # calibration of the draw against the true PS: mean(treated - e) ~ 0
    resid = big["treated"].to_numpy() - e
    assert _within(resid.mean(), 0.0, resid.std() / math.sqrt(N_BIG))
    # e depends on af_flag (confounding by the model's flag)
    assert e[big["af_flag"] == 1].mean() > e[big["af_flag"] == 0].mean() + 0.1


def test_randomised_when_confounding_zero():
    """confounding=0: the true PS is constant (a randomised trial)."""
    df = simulate_cohort(1_000, random_state=9, confounding=0.0)
    e = _true_ps(df)
    np.testing.assert_allclose(e, e[0])
    assert 0.2 < e[0] < 0.5


# ------------------------------------------------------------------ sample vs truth


def test_truth_structure_and_consistency(big):
    """Truth keys/types as documented; CIF1 + CIF2 + event-free = 1; ATT < ATE < ATC."""
    t = big.attrs["truth"]
    assert list(t) == ["exposure", "continuous", "binary", "survival", "flag", "af", "params",
                       "mc_draws", "mc_seed"]
    assert t["exposure"] == "treated"
    assert set(t["continuous"]) == {"outcome", "ATE", "ATT", "ATC"}
    for est in ["ATE", "ATT", "ATC"]:
        d = t["binary"][est]
        assert set(d) == {"risk_1", "risk_0", "risk_difference", "risk_ratio", "odds_ratio"}
        assert all(type(v) is float for v in d.values())
        assert d["risk_ratio"] == pytest.approx(d["risk_1"] / d["risk_0"])
        assert type(t["continuous"][est]) is float
    s = t["survival"]
    assert s["times"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert s["cause_specific_hazard_ratio"] == {1: 0.7, 2: 0.9}
    for arm in ["treated", "untreated"]:
        total = np.add(s["cif"][1][arm], s["cif"][2][arm]) + s["event_free"][arm]
        np.testing.assert_allclose(total, 1.0, rtol=1e-12)
        assert np.all(np.diff(s["cif"][1][arm]) > 0)
    np.testing.assert_allclose(
        s["cif_difference"][1], np.subtract(s["cif"][1]["treated"], s["cif"][1]["untreated"])
    )
    assert "Fine-Gray" in s["note"]
    c = t["continuous"]
    assert c["ATT"] < c["ATE"] < c["ATC"] < -5.0  # treated are more often diabetic
    assert t["flag"]["sensitivity_by_bmi"]["<30"] > t["flag"]["sensitivity_by_bmi"][">=30"]
    assert t["af"] == {"hazard_ratio_stroke": 2.5, "conditional_odds_ratio_mace": 2.0}
    assert t["params"]["effect_sbp"] == -5.0 and t["params"]["n"] == N_BIG
    assert t["mc_draws"] >= 1_000_000


def test_potential_outcomes_match_true_ate(big):
    """Sample mean of sbp_12m_a1 - sbp_12m_a0 and of mace_1y_p1 - mace_1y_p0 vs truth ATE."""
    truth = big.attrs["truth"]
    d = (big["sbp_12m_a1"] - big["sbp_12m_a0"]).to_numpy()
    assert _within(d.mean(), truth["continuous"]["ATE"], d.std() / math.sqrt(N_BIG))
    rd = (big["mace_1y_p1"] - big["mace_1y_p0"]).to_numpy()
    assert _within(rd.mean(), truth["binary"]["ATE"]["risk_difference"],
                   rd.std() / math.sqrt(N_BIG))
    # observed outcome is the potential outcome of the received arm
    a = big["treated"].to_numpy() == 1
    np.testing.assert_array_equal(
        big["sbp_12m"].to_numpy(),
        np.where(a, big["sbp_12m_a1"], big["sbp_12m_a0"]),
    )


def test_potential_outcomes_match_true_att(big):
    """Mean of sbp_12m_a1 - sbp_12m_a0 among the treated vs truth['continuous']['ATT']."""
    a = big["treated"].to_numpy() == 1
    d = (big["sbp_12m_a1"] - big["sbp_12m_a0"]).to_numpy()[a]
    assert _within(d.mean(), big.attrs["truth"]["continuous"]["ATT"], d.std() / math.sqrt(a.sum()))


def test_ols_recovers_effect_and_crude_is_biased(big):
    """Correct OLS recovers effect_sbp (and the diabetes interaction); crude difference is biased.

    Truth: params effect_sbp = -5 and effect_sbp_diabetes = -3.
    """
    y = big["sbp_12m"].to_numpy()
    a = big["treated"].to_numpy().astype(float)
    dm = big["diabetes"].to_numpy().astype(float)
    smk = big["smoking"].cat.codes.to_numpy()
    x = np.column_stack([
        np.ones(N_BIG), a, a * dm, dm, big["age"], big["female"], big["bmi"], big["sbp"],
        big["af_true"], smk == 1, smk == 2,
    ]).astype(float)
    beta, rss, *_ = np.linalg.lstsq(x, y, rcond=None)
    sigma2 = rss[0] / (N_BIG - x.shape[1])
    se = np.sqrt(np.diag(np.linalg.inv(x.T @ x)) * sigma2)
    params = big.attrs["truth"]["params"]
    assert _within(beta[1], params["effect_sbp"], se[1])
    assert _within(beta[2], params["effect_sbp_diabetes"], se[2])

    t, c = y[a == 1], y[a == 0]
    crude = t.mean() - c.mean()
    se_crude = math.sqrt(t.var() / t.size + c.var() / c.size)
    ate = big.attrs["truth"]["continuous"]["ATE"]
    att = big.attrs["truth"]["continuous"]["ATT"]
    assert abs(crude - ate) > Z * se_crude
    assert abs(crude - att) > Z * se_crude


def test_flag_accuracy_matches_truth(big):
    """Empirical sensitivity/specificity/PPV of af_flag vs truth['flag'] (binomial SEs)."""
    truth = big.attrs["truth"]["flag"]
    af = big["af_true"].to_numpy() == 1
    flag = big["af_flag"].to_numpy() == 1

    def check(hits: np.ndarray, target: float) -> None:
        se = math.sqrt(target * (1 - target) / hits.size)
        assert _within(hits.mean(), target, se)

    high = big["bmi"].to_numpy() >= 30
    check(flag[af], truth["sensitivity"])
    check(~flag[~af], truth["specificity"])
    check(flag[af & ~high], truth["sensitivity_by_bmi"]["<30"])
    check(flag[af & high], truth["sensitivity_by_bmi"][">=30"])
    check(~af[~flag], truth["npv"])
    ppv = af[flag].mean()
    assert _within(ppv, truth["ppv"], math.sqrt(truth["ppv"] * (1 - truth["ppv"]) / flag.sum()))
    prev = truth["prevalence"]
    assert _within(af.mean(), prev, math.sqrt(prev * (1 - prev) / N_BIG))


def test_cif_without_censoring_matches_truth():
    """No censoring and no confounding: empirical CIF of stroke by t=2 among the treated
    equals truth['survival']['cif'][1]['treated'] at t=2 (and death, untreated, at t=5)."""
    df = simulate_cohort(N_BIG, random_state=SEED + 1, dropout_rate=0.0, followup=50.0,
                         confounding=0.0)
    cif = df.attrs["truth"]["survival"]["cif"]
    a = df["treated"].to_numpy() == 1
    t, e = df["time"].to_numpy(), df["event"].to_numpy()
    for mask, cause, k, target in [
        (a, 1, 1, cif[1]["treated"][1]),
        (~a, 1, 1, cif[1]["untreated"][1]),
        (~a, 2, 4, cif[2]["untreated"][4]),
    ]:
        hit = ((e == cause) & (t <= df.attrs["truth"]["survival"]["times"][k]))[mask]
        assert _within(hit.mean(), target, math.sqrt(target * (1 - target) / mask.sum()))


def test_cif_ipw_with_true_ps_matches_truth():
    """Default confounding, no censoring: Hajek IPW with the true PS recovers the ATE-population
    CIF of stroke at t=2 under treatment, while the naive CIF among the treated does not."""
    df = simulate_cohort(N_BIG, random_state=SEED + 2, dropout_rate=0.0, followup=50.0)
    target = df.attrs["truth"]["survival"]["cif"][1]["treated"][1]
    a = df["treated"].to_numpy()
    y = ((df["event"] == 1) & (df["time"] <= 2.0)).to_numpy().astype(float)
    w = a / _true_ps(df)
    mu = np.sum(w * y) / np.sum(w)
    influence = w * (y - mu) / w.mean()
    assert _within(mu, target, influence.std() / math.sqrt(N_BIG))
    naive = y[a == 1].mean()
    assert abs(naive - target) > Z * math.sqrt(naive * (1 - naive) / a.sum())


def test_parameters_change_truth():
    """Truth follows the parameters: no effect -> ATE 0, RD 0 and equal CIFs."""
    df = simulate_cohort(10, random_state=0, effect_sbp=0.0, effect_sbp_diabetes=0.0,
                         odds_ratio=1.0, hazard_ratio=1.0, hazard_ratio_death=1.0)
    t = df.attrs["truth"]
    assert t["continuous"]["ATE"] == 0.0
    assert t["binary"]["ATT"]["risk_difference"] == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(t["survival"]["cif_ratio"][1], 1.0)
    t2 = simulate_cohort(10, random_state=0, flag_threshold=0.3).attrs["truth"]["flag"]
    assert t2["threshold"] == 0.3
    assert t2["sensitivity"] > t["flag"]["sensitivity"]


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize("n", [0, -5, 2.5, True, "100", None, np.float64(10)])
def test_invalid_n_raises(n):
    """n must be a positive int; the message follows the template and names n."""
    with pytest.raises(DataValidationError, match=r"simulate_cohort\(\): n must be a positive int"):
        simulate_cohort(n)


def test_numpy_int_n_accepted():
    """A numpy integer is a valid n."""
    assert len(simulate_cohort(np.int64(12), random_state=0)) == 12


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("effect_sbp", float("nan")),
        ("effect_sbp_diabetes", "1"),
        ("odds_ratio", 0.0),
        ("odds_ratio", -1.0),
        ("hazard_ratio", float("inf")),
        ("hazard_ratio_death", None),
        ("hazard_ratio_af", 0),
        ("odds_ratio_af", True),
        ("flag_threshold", 0.0),
        ("flag_threshold", 1.0),
        ("weibull_shape", -1.0),
        ("followup", 0.0),
        ("followup", float("nan")),
        ("dropout_rate", -0.1),
        ("dropout_rate", float("inf")),
        ("confounding", -1.0),
        ("potential_outcomes", 1),
        ("random_state", -1),
    ],
)
def test_invalid_parameters_raise(name, value):
    """Each out-of-domain parameter raises DataValidationError naming the parameter."""
    with pytest.raises(DataValidationError, match=rf"simulate_cohort\(\): {name} must be"):
        simulate_cohort(10, **{name: value})
