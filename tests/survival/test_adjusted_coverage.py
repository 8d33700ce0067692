"""Coverage of adjusted_survival's analytic intervals on data with a known truth.

Data-generating process (potential outcomes): ``X1 ~ N(0, 1)``, ``X2 ~ Bernoulli(0.5)``,
``A ~ Bernoulli(expit(-0.3 + 0.8 X1 - 0.5 X2))``, event hazard ``0.1 exp(-0.5 A + 0.6 X1 + 0.4
X2)`` (so the Cox model of the g-formula and AIPW is correct), independent censoring
``C ~ Uniform(0, 15)``. The truth ``S_a(t) = E_X exp(-0.1 t exp(-0.5 a + 0.6 X1 + 0.4 X2))``
by Gauss-Hermite quadrature over ``X1`` and exactly over ``X2``.

The slow test runs 1,000 replicates of n = 400 for each method and its default variance
(ipw ``mestimation``, gformula ``influence_function``, aipw ``influence_function``; and ipw
``mestimation`` for the cumulative incidence of the event with a competing event of hazard
``0.05 exp(0.3 X1)``) and requires coverage of the survival (incidence) difference at t = 2
and 5 within [0.935, 0.965]; ipw
``"robust"`` (weights known) is conservative by construction and is only required to cover
at least 0.935. The CI version runs 60 replicates and checks the SE/SD ratio loosely.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import cohortlab as cl

TIMES = (2.0, 5.0)


def simulate(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """The cohort; ``cause`` adds a competing event (hazard ``0.05 exp(0.3 X1)``)."""
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.5, size=n)
    a = rng.binomial(1, expit(-0.3 + 0.8 * x1 - 0.5 * x2))
    rate = 0.1 * np.exp(-0.5 * a + 0.6 * x1 + 0.4 * x2)
    t_event = rng.exponential(1 / rate)
    t_other = rng.exponential(1 / (0.05 * np.exp(0.3 * x1)))
    c = rng.uniform(0, 15, size=n)
    first = np.minimum(t_event, t_other)
    return pd.DataFrame({"time": np.minimum(t_event, c), "dead": (t_event <= c).astype(int),
                         "ctime": np.minimum(first, c),
                         "cause": np.where(first > c, 0, np.where(t_event <= t_other, 1, 2)),
                         "a": a, "x1": x1, "x2": x2})


def truth(times: tuple[float, ...] = TIMES, incidence: bool = False) -> dict[int, np.ndarray]:
    """``S_a(t)``, or with ``incidence`` the cumulative incidence of cause 1 under ``a``."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    out = {}
    for arm in (0, 1):
        s = np.zeros(len(times))
        for x2 in (0, 1):
            rate = 0.1 * np.exp(-0.5 * arm + 0.6 * nodes + 0.4 * x2)
            if incidence:
                other = 0.05 * np.exp(0.3 * nodes)
                share = rate / (rate + other)
                s += 0.5 * np.array([weights @ (share * (1 - np.exp(-(rate + other) * t)))
                                     for t in times])
            else:
                s += 0.5 * np.array([weights @ np.exp(-rate * t) for t in times])
        out[arm] = s
    return out


def run(method: str, variance: str | None, n_rep: int, n: int, seed: int,
        cause: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates, SEs and coverage indicators of S_1(t) - S_0(t) (replicates x times).

    With ``cause=1``: of the cumulative incidence difference of cause 1 (competing cause 2).
    """
    true = truth(incidence=cause is not None)
    diff = true[1] - true[0]
    rng = np.random.default_rng(seed)
    est, se, hit = (np.empty((n_rep, len(TIMES))) for _ in range(3))
    for r in range(n_rep):
        d = simulate(n, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kw = (dict(time="time", event="dead") if cause is None
                  else dict(time="ctime", event="cause", cause=cause))
            curves = cl.adjusted_survival(d, **kw, exposure="a", covariates=["x1", "x2"],
                                          method=method, variance=variance, times=list(TIMES))
        c = curves.contrast(list(TIMES)).to_frame()
        est[r], se[r] = c["estimate"], c["std_error"]
        hit[r] = (c["conf_low"] <= diff) & (diff <= c["conf_high"])
    return est, se, hit


CASES = [("ipw", "mestimation", None), ("ipw", "robust", None),
         ("gformula", "influence_function", None), ("aipw", "influence_function", None),
         ("ipw", "mestimation", 1)]


@pytest.mark.parametrize(("method", "variance", "cause"), CASES)
def test_coverage_reduced(method, variance, cause):
    est, se, hit = run(method, variance, n_rep=60, n=400, seed=7, cause=cause)
    true = truth(incidence=cause is not None)
    bias = est.mean(axis=0) - (true[1] - true[0])
    ratio = se.mean(axis=0) / est.std(axis=0, ddof=1)
    assert np.all(np.abs(bias) < 4 * est.std(axis=0, ddof=1) / np.sqrt(60))
    assert np.all((ratio > 0.75) & (ratio < 1.35))
    assert hit.mean() > 0.85


@pytest.mark.slow
@pytest.mark.parametrize(("method", "variance", "cause"), CASES)
def test_coverage_1000_replicates(method, variance, cause):
    est, se, hit = run(method, variance, n_rep=1000, n=400, seed=2026, cause=cause)
    cover = hit.mean(axis=0)
    if variance == "robust":
        assert np.all(cover >= 0.935)
    else:
        assert np.all((cover >= 0.935) & (cover <= 0.965)), cover
