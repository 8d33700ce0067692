"""simulate_longitudinal(): the long-format contract, the truth, and the visible bias of naive methods.

No external reference exists for this simulator; the truth is checked against an estimator
that is unbiased by construction (inverse probability weighting with the TRUE treatment and
censoring probabilities of the DGP), and the two naive estimators are shown to miss it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import cohortlab as cl
from cohortlab._glm import fit_logistic
from cohortlab.datasets import _dgp_long
from cohortlab.exceptions import CohortError

K = 8


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return cl.simulate_longitudinal(n=2_000, n_periods=K, random_state=11, n_truth=50_000)


def test_long_format_contract(small):
    df = small
    assert list(df.columns) == ["id", "period", "L", "A", "Y", "C", "D", "V", "score"]
    assert df["id"].nunique() == 2_000
    # sorted by (id, period), periods 0, 1, ... consecutive within id
    assert df.equals(df.sort_values(["id", "period"], kind="stable"))
    first = df.groupby("id")["period"].transform("min")
    assert (first == 0).all()
    assert (df.groupby("id")["period"].diff().dropna() == 1).all()
    # V constant within id
    assert (df.groupby("id")["V"].nunique() == 1).all()
    assert set(df["A"].unique()) <= {0, 1} and set(df["C"].unique()) <= {0, 1}
    assert df["score"].between(0, 1, inclusive="neither").all()


def test_row_convention(small):
    df = small
    last = df.groupby("id").tail(1)
    not_last = df.drop(last.index)
    # before the last row of a person nothing happened
    assert (not_last[["Y", "C", "D"]] == 0).all().all()
    # a person's last row has an event or censoring, or is the administrative end
    ended = (last["Y"] == 1) | (last["D"] == 1) | (last["C"] == 1)
    assert (ended | (last["period"] == K - 1)).all()
    # censoring first (D and Y unobserved), then D (Y unobserved)
    cens = df["C"] == 1
    assert df.loc[cens, ["D", "Y"]].isna().all().all()
    assert df.loc[~cens, "D"].notna().all()
    assert df.loc[df["D"] == 1, "Y"].isna().all()
    assert df.loc[~cens & (df["D"] == 0), "Y"].notna().all()
    # all three kinds of ending occur
    assert cens.sum() > 20 and (df["D"] == 1).sum() > 20 and (df["Y"] == 1).sum() > 50


def test_same_seed_same_frame_and_truth_independent_of_seed():
    a = cl.simulate_longitudinal(n=300, n_periods=4, random_state=5, n_truth=5_000)
    b = cl.simulate_longitudinal(n=300, n_periods=4, random_state=5, n_truth=5_000)
    c = cl.simulate_longitudinal(n=200, n_periods=4, random_state=6, n_truth=5_000)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c.iloc[: len(a)])
    pd.testing.assert_frame_equal(a.attrs["truth"], c.attrs["truth"])
    assert a.attrs["truth_params"]["coefficients"]["Y"]["A"] == -0.5


def test_truth_frame(small):
    truth = small.attrs["truth"]
    assert list(truth.columns[:4]) == ["period", "strategy", "risk", "mc_se"]
    assert len(truth) == 3 * K
    for _, g in truth.groupby("strategy"):
        assert np.all(np.diff(g["risk"].to_numpy()) >= 0)
        assert np.all(g["risk"] + g["risk_competing"] <= 1.0)
    last = truth[truth["period"] == K - 1].set_index("strategy")
    assert last.loc["always", "risk"] < last.loc["dynamic", "risk"] < last.loc["never", "risk"]
    assert last.loc["always", "treated_share"] == 1.0
    assert last.loc["never", "treated_share"] == 0.0


def test_no_feedback_and_no_effect_gives_equal_risks():
    df = cl.simulate_longitudinal(n=10, n_periods=5, random_state=1, effect_direct=0.0,
                                  effect_on_l=0.0, n_truth=20_000)
    t = df.attrs["truth"].pivot(index="period", columns="strategy", values="risk")
    # common random numbers: identical counterfactual draws when A has no effect at all
    np.testing.assert_array_equal(t["always"], t["never"])


def test_switches_off_censoring_and_competing():
    df = cl.simulate_longitudinal(n=500, n_periods=5, random_state=2, censoring=False,
                                  competing=False, n_truth=5_000)
    assert (df["C"] == 0).all() and (df["D"] == 0).all()
    assert df["Y"].notna().all()


@pytest.mark.parametrize(("kw", "word"), [
    ({"n": 0}, "n must be"), ({"n_periods": 1.5}, "n_periods"), ({"random_state": -1}, "random_state"),
    ({"effect_direct": float("nan")}, "effect_direct"), ({"censoring": 1}, "censoring"),
    ({"n_truth": 10}, "n_truth"),
])
def test_bad_arguments(kw, word):
    with pytest.raises(CohortError, match=word):
        cl.simulate_longitudinal(**{"n": 10, "n_periods": 3, **kw})


# ----------------------------------------------------------------- truth vs estimators


def _ipw_risk(df: pd.DataFrame, p: _dgp_long._LongParams, a: int) -> np.ndarray:
    """Cumulative incidence of Y under "always a" by IPW with the TRUE probabilities.

    Hajek discrete hazards of D and Y among the followers of the strategy, weighted by the
    inverse of the true probability of following it and of staying uncensored.
    """
    L = df["L"].to_numpy()
    A = df["A"].to_numpy()
    V = df["V"].to_numpy()
    a_prev = df.groupby("id")["A"].shift(fill_value=0).to_numpy()
    p_a = _dgp_long._p_treat(p, L, a_prev, V)
    p_follow = p_a if a == 1 else 1.0 - p_a
    follow = (A == a).astype(float)
    followed = df.assign(f=follow).groupby("id")["f"].cumprod().to_numpy()
    w_a = df.assign(w=1.0 / p_follow).groupby("id")["w"].cumprod().to_numpy()
    p_unc = 1.0 - _dgp_long._p_censor(L, A)
    w_c = df.assign(w=1.0 / p_unc).groupby("id")["w"].cumprod().to_numpy()
    w = followed * w_a * w_c  # through the censoring step of the current period
    unc = df["C"].to_numpy() == 0
    d = np.nan_to_num(df["D"].to_numpy())
    y = np.nan_to_num(df["Y"].to_numpy())
    per = df["period"].to_numpy()
    k = per.max() + 1
    den_d = np.bincount(per, weights=w * unc, minlength=k)
    hd = np.bincount(per, weights=w * unc * d, minlength=k) / den_d
    at_y = unc & (d == 0)
    hy = np.bincount(per, weights=w * at_y * y, minlength=k) / np.bincount(
        per, weights=w * at_y, minlength=k)
    surv = np.cumprod(np.r_[1.0, (1 - hd) * (1 - hy)])[:-1]
    return np.cumsum(surv * (1 - hd) * hy)


def _naive_rd(df: pd.DataFrame, k: int, time_varying: bool) -> float:
    """Always-vs-never risk difference at the last period from a naive hazard model.

    Pooled logistic hazards of Y and D on period, A_t, V and either L at baseline
    (``time_varying=False``: baseline adjustment, standardised over the baseline covariates)
    or the current L_t (``True``: the discrete-time analogue of a Cox model with
    time-varying covariates, standardised over the covariates of the rows at risk).
    """
    df = df.assign(L0=df.groupby("id")["L"].transform("first"))
    cols = ["V", "L" if time_varying else "L0"]

    def design(d: pd.DataFrame, a: int | None = None) -> np.ndarray:
        per = d["period"].to_numpy()
        dummies = (per[:, None] == np.arange(1, k)[None, :]).astype(float)
        treat = d["A"].to_numpy(float) if a is None else np.full(len(d), float(a))
        return np.column_stack([np.ones(len(d)), dummies, treat, d[cols].to_numpy(float)])

    ry = df[(df["C"] == 0) & (df["D"] == 0)]
    rd = df[df["C"] == 0]
    fy = fit_logistic(design(ry), ry["Y"].to_numpy(float))
    fd = fit_logistic(design(rd), rd["D"].to_numpy(float))
    risk = {}
    for a in (0, 1):
        if time_varying:
            X = design(df, a)
            hy = np.bincount(df["period"], weights=expit(X @ fy.coef)) / np.bincount(df["period"])
            hd = np.bincount(df["period"], weights=expit(X @ fd.coef)) / np.bincount(df["period"])
            surv = np.cumprod(np.r_[1.0, (1 - hd) * (1 - hy)])[:-1]
            risk[a] = float(np.sum(surv * (1 - hd) * hy))
        else:
            base = df[df["period"] == 0]
            surv = np.ones(len(base))
            cum = np.zeros(len(base))
            for t in range(k):
                X = design(base.assign(period=t), a)
                hy, hd = expit(X @ fy.coef), expit(X @ fd.coef)
                cum += surv * (1 - hd) * hy
                surv *= (1 - hd) * (1 - hy)
            risk[a] = float(cum.mean())
    return risk[1] - risk[0]


def _params(k: int) -> _dgp_long._LongParams:
    return _dgp_long._LongParams(n_periods=k, effect_direct=-0.5, effect_on_l=-0.6,
                                 confounding=1.0, threshold=0.5, censoring=True,
                                 competing=True)


def test_truth_recovered_by_ipw_with_true_weights():
    """The attached truth equals what an unbiased estimator finds in the observed data."""
    k = 6
    df = cl.simulate_longitudinal(n=40_000, n_periods=k, random_state=3, n_truth=200_000)
    truth = df.attrs["truth"].pivot(index="period", columns="strategy", values="risk")
    p = _params(k)
    r1, r0 = _ipw_risk(df, p, 1), _ipw_risk(df, p, 0)
    # IPW SE at n=40,000 about 0.004-0.006 at the last period; 4 SEs plus the truth's MC error
    np.testing.assert_allclose(r1, truth["always"], atol=0.02)
    np.testing.assert_allclose(r0, truth["never"], atol=0.025)
    rd_true = truth["always"].iloc[-1] - truth["never"].iloc[-1]
    assert abs((r1[-1] - r0[-1]) - rd_true) < 0.025
    assert rd_true < -0.1


def _bias_study(n_rep: int, n: int, k: int) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = {"baseline": [], "time_varying": [], "ipw": []}
    p = _params(k)
    for rep in range(n_rep):
        df = cl.simulate_longitudinal(n=n, n_periods=k, random_state=100 + rep, n_truth=200_000)
        out["baseline"].append(_naive_rd(df, k, time_varying=False))
        out["time_varying"].append(_naive_rd(df, k, time_varying=True))
        out["ipw"].append(_ipw_risk(df, p, 1)[-1] - _ipw_risk(df, p, 0)[-1])
    return {key: np.asarray(v) for key, v in out.items()}


def _truth_rd(k: int) -> float:
    t = cl.simulate_longitudinal(n=10, n_periods=k, random_state=0, n_truth=200_000).attrs["truth"]
    last = t[t["period"] == k - 1].set_index("strategy")["risk"]
    return float(last["always"] - last["never"])


def test_naive_methods_visibly_biased_fast():
    """Reduced CI version: 3 replicates at n=20,000, 12 periods."""
    k = 12
    rd = _truth_rd(k)
    res = _bias_study(3, 20_000, k)
    for name in ("baseline", "time_varying"):
        est = res[name]
        # every replicate misses the truth (bias 0.13-0.17) by far more than its SD (< 0.003)
        assert np.all(np.abs(est - rd) > 0.05), (name, est, rd)
    # IPW with the true weights: SD about 0.025 per replicate at n=20,000 (few always-followers)
    assert abs(res["ipw"].mean() - rd) < 0.05


@pytest.mark.slow
def test_naive_methods_biased_by_more_than_3_mc_se():
    """20 replicates at n=20,000: |bias| > 3 Monte Carlo SEs (of one study) for both naive
    methods, while IPW with the true weights is within 3 Monte Carlo SEs of its mean."""
    k = 12
    rd = _truth_rd(k)
    res = _bias_study(20, 20_000, k)
    for name in ("baseline", "time_varying"):
        est = res[name]
        assert abs(est.mean() - rd) > 3 * est.std(ddof=1), (name, est.mean(), rd)
    ipw = res["ipw"]
    assert abs(ipw.mean() - rd) < 3 * ipw.std(ddof=1) / np.sqrt(len(ipw)) + 0.003
