"""Intention-to-treat coverage of sequential_trials() against the known truth (issue 15).

One trial at period 0 on ``simulate_longitudinal()`` data: everyone is eligible then (``A_{-1}
= 0``), the arm is ``A_0``, and the ITT contrast is "initiate at period 0, then the natural
course" vs "do not initiate at period 0, then the natural course", censoring abolished. Its
truth is ``_dgp_long.itt_truth`` (a large counterfactual population with common random
numbers: ``A_0`` set, ``A_t`` for ``t >= 1`` drawn from the natural treatment model given the
counterfactual history). ``A_0`` depends on ``L_0`` and ``V`` only, so adjusting for the
baseline ``L`` and ``V`` identifies it; the crude (unadjusted) ITT analysis is confounded.

The truth is checked three ways before it is used: its Monte Carlo error (paired across the
strategies) is small against the sampling SE of the study, its period-0 risks equal the
closed form by quadrature, and an inverse probability weighted estimator with the TRUE
propensity of ``A_0`` (unbiased by construction) on a large natural-course cohort agrees.

The full study (``-m slow``) runs 1000 data sets of 2000 persons (about 2-3 minutes on the
2-core machine); the reduced version runs 20 in a few seconds. A second study adds loss to
follow-up (depending on the current ``L`` and ``A``) handled by inverse probability of
censoring weights (500 data sets of 5000 persons, about 2 minutes; reduced: 5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import cohortlab as cl
from cohortlab.datasets import _dgp_long

K = 5  # periods 0..4; the horizon is the end of follow-up 4
N_TRUTH = 1_000_000
PARAMS = _dgp_long._LongParams(n_periods=K, effect_direct=-0.5, effect_on_l=-0.6,
                               confounding=1.0, threshold=0.5, censoring=False,
                               competing=False)
TERM = f"risk difference (1 vs 0) at follow-up {K - 1}"


def _truth_rd() -> tuple[float, float]:
    last = _dgp_long.itt_truth(PARAMS, N_TRUTH).iloc[-1]
    return float(last["risk_difference"]), float(last["mc_se_difference"])


def _first_trial(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["elig"] = (df["period"] == 0).astype(int)
    return df


def _study(reps: int, n: int, censoring: bool = False,
           seed0: int = 30_000) -> dict[str, float]:
    """ITT RD at the last period over ``reps`` simulated cohorts: coverage of the 95% CI
    (robust sandwich), bias, SD of the estimates, mean SE, and the bias of the naive
    analysis: crude (no covariates) without censoring; with ``censoring`` (loss to follow-up
    depending on the current ``L`` and ``A``), the estimate uses inverse probability of
    censoring weights with the current ``L`` and ``A`` and the naive one none."""
    rd_true, _ = _truth_rd()
    est, se, naive = np.empty(reps), np.empty(reps), np.empty(reps)
    covered = 0
    kw: dict[str, object] = dict(
        id="id", period="period", treatment="A", outcome="Y", eligible="elig",
        estimand="itt", trial_terms="none", followup_terms="linear", arm_by_followup="all",
        variance="robust", covariates=["L", "V"])
    if censoring:
        kw["censor"] = "C"
        main: dict[str, object] = dict(censor_weights=True, switch_covariates=["L", "A"])
        other: dict[str, object] = {}
    else:
        main, other = {}, dict(covariates=[])
    for r in range(reps):
        df = _first_trial(cl.simulate_longitudinal(n=n, n_periods=K, random_state=seed0 + r,
                                                   censoring=censoring, competing=False,
                                                   n_truth=1_000))
        e = cl.sequential_trials(df, **{**kw, **main}).effects[TERM]
        est[r], se[r] = e.estimate, e.std_error
        covered += int(e.conf_low < rd_true < e.conf_high)
        naive[r] = cl.sequential_trials(df, **{**kw, **other}).effects[TERM].estimate
    return {"reps": reps, "truth": rd_true, "coverage": covered / reps,
            "bias": float(est.mean() - rd_true), "sd": float(est.std(ddof=1)),
            "mean_se": float(se.mean()), "se_over_sd": float(se.mean() / est.std(ddof=1)),
            "naive_bias": float(naive.mean() - rd_true)}


# ------------------------------------------------------------------ the truth itself
def test_itt_truth_monte_carlo_error_is_small() -> None:
    tab = _dgp_long.itt_truth(PARAMS, N_TRUTH)
    assert list(tab["period"]) == list(range(K))
    # cumulative incidences increase; initiating lowers the risk (effect_direct, effect_on_l < 0)
    assert (np.diff(tab["risk_initiate"]) > 0).all()
    assert (tab["risk_difference"] < 0).all()
    rd, mc_se = _truth_rd()
    # paired MC SE of the difference ~0.0003, vs a sampling SE ~0.018 at n = 2000: < 2%
    assert mc_se < 0.0005
    assert mc_se < 0.05 * 0.018
    # common random numbers: at period 0 the ITT strategies are "always" / "never" exactly
    pop = _dgp_long.population_truth(PARAMS, N_TRUTH)
    p0 = pop[pop["period"] == 0].set_index("strategy")["risk"]
    assert tab.loc[0, "risk_initiate"] == p0["always"]
    assert tab.loc[0, "risk_not_initiate"] == p0["never"]
    # after period 0 the natural course lies between always and never
    pk = pop[pop["period"] == K - 1].set_index("strategy")["risk"]
    assert pk["always"] < tab.iloc[-1]["risk_initiate"]
    assert tab.iloc[-1]["risk_not_initiate"] < pk["never"]


def test_itt_truth_period_zero_matches_quadrature() -> None:
    """P(Y_0 = 1 | A_0 = a) = sum_v P(v) E[expit(-3.6 + 0.6 L_0 - 0.5 a + 0.3 v)],
    L_0 ~ N(0.4 v, 1): Gauss-Hermite quadrature against the simulated truth."""
    x, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    tab = _dgp_long.itt_truth(PARAMS, N_TRUTH)
    for a, col in ((1, "initiate"), (0, "not_initiate")):
        exact = sum(0.5 * np.sum(w * expit(-3.6 + 0.6 * (0.4 * v + x) - 0.5 * a + 0.3 * v))
                    for v in (0, 1))
        assert abs(tab.loc[0, f"risk_{col}"] - exact) < 4 * tab.loc[0, f"mc_se_{col}"]


def test_itt_truth_matches_ipw_with_the_true_propensity() -> None:
    """On a large natural-course cohort, weighting by 1 / P(A_0 = a | L_0, V) with the DGP's
    own treatment probability is unbiased for the ITT risks (the truth's definition is not
    used): the difference must agree within Monte Carlo error."""
    n = 200_000
    df = cl.simulate_longitudinal(n=n, n_periods=K, random_state=2026, censoring=False,
                                  competing=False, n_truth=1_000)
    first = df[df["period"] == 0]
    ps = expit(-2.0 + 0.8 * first["L"].to_numpy() + 0.3 * first["V"].to_numpy())
    a0 = first["A"].to_numpy()
    y = (df.groupby("id")["Y"].max().to_numpy() == 1).astype(float)
    contrib = y * a0 / ps - y * (1 - a0) / (1 - ps)
    ipw, se = contrib.mean(), contrib.std(ddof=1) / np.sqrt(n)
    rd, mc_se = _truth_rd()
    assert abs(ipw - rd) < 4 * np.hypot(se, mc_se)


# ------------------------------------------------------------------ coverage
def test_itt_coverage_reduced() -> None:
    res = _study(20, 2000)
    assert res["coverage"] >= 0.8  # P(<= 15 of 20 | 95% coverage) ~ 0.003
    assert abs(res["bias"]) < 0.5 * res["sd"]
    assert 0.6 < res["se_over_sd"] < 1.6
    assert res["naive_bias"] > 0.02  # crude: confounded by L_0 (the sicker start treatment)


@pytest.mark.slow
def test_itt_coverage_monte_carlo() -> None:
    res = _study(1000, 2000)
    print(res)  # noqa: T201 - the study's numbers (run with -s)
    # 95% within Monte Carlo error: SE of a coverage proportion at 1000 reps ~ 0.0069
    assert 0.93 <= res["coverage"] <= 0.97
    assert abs(res["bias"]) < 0.25 * res["sd"]  # any model bias small against the noise
    assert 0.9 < res["se_over_sd"] < 1.1
    assert res["naive_bias"] > 0.02


def test_itt_coverage_with_censoring_weights_reduced() -> None:
    res = _study(5, 5000, censoring=True, seed0=40_000)
    assert res["coverage"] >= 3 / 5  # P(<= 2 of 5 | 95% coverage) ~ 0.001
    assert abs(res["bias"]) < res["sd"]


@pytest.mark.slow
def test_itt_coverage_with_censoring_weights_monte_carlo() -> None:
    """Loss to follow-up depends on the current L and A (both affect Y): stabilised inverse
    probability of censoring weights with the current L and A (a correctly specified
    censoring model). The sandwich treats the weights as known, so it may be conservative.
    n = 5000: at 2000 the arm-1 censoring model can meet no censored row with A = 0 (a
    stopper) and then does not converge (separation)."""
    res = _study(500, 5000, censoring=True, seed0=40_000)
    print(res)  # noqa: T201 - the study's numbers (run with -s)
    # SE of a coverage proportion at 500 reps ~ 0.0097; conservative allowed up to 0.99
    assert 0.92 <= res["coverage"] <= 0.99
    assert abs(res["bias"]) < 0.25 * res["sd"]
    assert 0.9 < res["se_over_sd"] < 1.3
