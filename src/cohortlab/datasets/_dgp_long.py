"""The data-generating process of :func:`~cohortlab.datasets.simulate_longitudinal`, and its truth.

Arrays only. Periods ``t = 0, 1, ..., K-1``; ``A_{-1} = 0`` and ``L_{-1} = 0``; within a
period the order is ``L_t, score_t, A_t, C_t, D_t, Y_t``::

    V      ~ Bernoulli(0.5)                                   (baseline)
    L_t    = 0.7 L_{t-1} + effect_on_l A_{t-1} + 0.4 V + N(0, 1)
    score_t = expit(2 (L_t - threshold) + N(0, 1))            (a noisy read-out of L_t)
    logit P(A_t = 1) = -2.0 + confounding (0.8 L_t) + 5.0 A_{t-1} + 0.3 V
    logit P(C_t = 1) = -3.5 + 0.5 L_t + 0.3 A_t                (loss to follow-up)
    logit P(D_t = 1) = -4.2 + 0.4 L_t + 0.6 V                  (competing event)
    logit P(Y_t = 1) = -3.6 + 0.6 L_t + effect_direct A_t + 0.3 V

The true risks under a strategy ``g`` set ``A_t = g(...)`` in every period, abolish
censoring (``C_t = 0``) and keep the competing event (the total effect on the cumulative
incidence of ``Y``); they are the cumulative proportions of ``Y = 1`` in a large
counterfactual population drawn with a fixed seed (common random numbers across
strategies), cached per parameter set.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

#: Fixed seed of the counterfactual population of the truth (independent of the data seed,
#: so that every replicate of a simulation study shares one truth).
_TRUTH_SEED = 20_261_207

# Fixed coefficients (the parameters of _Params are the ones a caller may change).
_L_AR = 0.7
_L_V = 0.4
_L_SD = 1.0
_SCORE_SLOPE = 2.0
_SCORE_SD = 1.0
_A_INTERCEPT = -2.0
_A_L = 0.8
_A_PREV = 5.0
_A_V = 0.3
_C_INTERCEPT = -3.5
_C_L = 0.5
_C_A = 0.3
_D_INTERCEPT = -4.2
_D_L = 0.4
_D_V = 0.6
_Y_INTERCEPT = -3.6
_Y_L = 0.6
_Y_V = 0.3
_P_V = 0.5

STRATEGIES = ("always", "never", "dynamic")
#: Intention-to-treat strategies of the trial at period 0 (private: used by the coverage
#: tests, not part of ``attrs["truth"]``): ``A_0`` is set, ``A_t`` for ``t >= 1`` follows
#: the natural treatment model given the simulated history.
ITT_STRATEGIES = ("initiate_then_natural", "not_initiate_then_natural")


@dataclass(frozen=True)
class _LongParams:
    """The parameters that define the population (hashable: the truth cache key)."""

    n_periods: int
    effect_direct: float
    effect_on_l: float
    confounding: float
    threshold: float
    censoring: bool
    competing: bool


def coefficients(p: _LongParams) -> dict[str, dict[str, float]]:
    """Every coefficient of the DGP (the fixed ones and those set by ``p``), by equation."""
    return {
        "L": {"L_lag": _L_AR, "A_lag": p.effect_on_l, "V": _L_V, "sd": _L_SD},
        "score": {"slope": _SCORE_SLOPE, "threshold": p.threshold, "sd": _SCORE_SD},
        "A": {"intercept": _A_INTERCEPT, "L": p.confounding * _A_L, "A_lag": _A_PREV,
              "V": _A_V},
        "C": {"intercept": _C_INTERCEPT if p.censoring else -np.inf, "L": _C_L, "A": _C_A},
        "D": {"intercept": _D_INTERCEPT if p.competing else -np.inf, "L": _D_L, "V": _D_V},
        "Y": {"intercept": _Y_INTERCEPT, "L": _Y_L, "A": p.effect_direct, "V": _Y_V},
        "V": {"p": _P_V},
    }


def _p_treat(p: _LongParams, l_t: np.ndarray, a_prev: np.ndarray, v: np.ndarray) -> np.ndarray:
    return expit(_A_INTERCEPT + p.confounding * _A_L * l_t + _A_PREV * a_prev + _A_V * v)


def _p_censor(l_t: np.ndarray, a_t: np.ndarray) -> np.ndarray:
    return expit(_C_INTERCEPT + _C_L * l_t + _C_A * a_t)


def _p_competing(l_t: np.ndarray, v: np.ndarray) -> np.ndarray:
    return expit(_D_INTERCEPT + _D_L * l_t + _D_V * v)


def _p_outcome(p: _LongParams, l_t: np.ndarray, a_t: np.ndarray, v: np.ndarray) -> np.ndarray:
    return expit(_Y_INTERCEPT + _Y_L * l_t + p.effect_direct * a_t + _Y_V * v)


def _periods(rng: np.random.Generator, n: int, p: _LongParams,
             strategy: str | None) -> Iterator[dict[str, np.ndarray]]:
    """Yield one period's draws at a time (vectorised over persons; the loop is over periods).

    ``strategy=None`` draws the observed (natural-course) data with censoring; otherwise
    treatment is set by the strategy and censoring is abolished. The intention-to-treat
    strategies of :data:`ITT_STRATEGIES` set ``A_0`` (1 or 0) and draw ``A_t`` for
    ``t >= 1`` from the natural treatment model given the counterfactual history. The
    draws are made in the same order for every strategy (common random numbers).
    ``alive`` marks the persons under follow-up at the start of the period (the rows of
    the long frame); values of the others are drawn but meaningless.
    """
    v = (rng.random(n) < _P_V).astype(np.int64)
    alive = np.ones(n, dtype=bool)
    l_prev = np.zeros(n)
    a_prev = np.zeros(n, dtype=np.int64)
    for t in range(p.n_periods):
        z_l, z_s, u_a, u_c, u_d, u_y = (rng.standard_normal(n), rng.standard_normal(n),
                                        rng.random(n), rng.random(n), rng.random(n),
                                        rng.random(n))
        l_t = _L_AR * l_prev + p.effect_on_l * a_prev + _L_V * v + _L_SD * z_l
        s_t = expit(_SCORE_SLOPE * (l_t - p.threshold) + _SCORE_SD * z_s)
        if strategy is None or (t > 0 and strategy in ITT_STRATEGIES):
            a_t = (u_a < _p_treat(p, l_t, a_prev, v)).astype(np.int64)
        elif strategy == "initiate_then_natural":  # t == 0
            a_t = np.ones(n, dtype=np.int64)
        elif strategy == "not_initiate_then_natural":  # t == 0
            a_t = np.zeros(n, dtype=np.int64)
        elif strategy == "always":
            a_t = np.ones(n, dtype=np.int64)
        elif strategy == "never":
            a_t = np.zeros(n, dtype=np.int64)
        else:  # dynamic: treat when L_t > threshold
            a_t = (l_t > p.threshold).astype(np.int64)
        c_t = (u_c < _p_censor(l_t, a_t)) if (p.censoring and strategy is None) else (
            np.zeros(n, dtype=bool))
        d_t = (u_d < _p_competing(l_t, v)) if p.competing else np.zeros(n, dtype=bool)
        y_t = u_y < _p_outcome(p, l_t, a_t, v)
        yield {"V": v, "L": l_t, "score": s_t, "A": a_t, "C": c_t, "D": d_t, "Y": y_t,
               "alive": alive.copy()}
        alive &= ~(c_t | d_t | y_t)
        l_prev, a_prev = l_t, a_t


def simulate_arrays(
    rng: np.random.Generator, n: int, p: _LongParams, strategy: str | None = None
) -> dict[str, np.ndarray]:
    """Draw ``n`` persons for ``p.n_periods`` periods; arrays of shape (n, K) (V: (n,)).

    ``at_risk[i, t]`` is True when person i is under follow-up at the start of period t (a
    row of the long frame). Within a period the order is C, then D, then Y: a later one is
    not observed (NaN) in the row where an earlier one is 1.
    """
    shape = (n, p.n_periods)
    L, S = np.empty(shape), np.empty(shape)
    A = np.zeros(shape, dtype=np.int64)
    C, D, Y = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    at_risk = np.zeros(shape, dtype=bool)
    v = np.zeros(n, dtype=np.int64)
    for t, d in enumerate(_periods(rng, n, p, strategy)):
        v = d["V"]
        at_risk[:, t] = d["alive"]
        L[:, t], S[:, t], A[:, t], C[:, t] = d["L"], d["score"], d["A"], d["C"]
        D[:, t] = np.where(d["C"], np.nan, d["D"])
        Y[:, t] = np.where(d["C"] | d["D"], np.nan, d["Y"])
    return {"V": v, "L": L, "score": S, "A": A, "C": C, "D": D, "Y": Y, "at_risk": at_risk}


def long_frame(arrays: dict[str, np.ndarray], n_periods: int) -> pd.DataFrame:
    """The long (person-period) frame of ``simulate_arrays``: rows where ``at_risk``."""
    mask = arrays["at_risk"]
    n = mask.shape[0]
    flat = mask.ravel()  # row-major: sorted by (id, period)
    ids = np.repeat(np.arange(1, n + 1, dtype=np.int64), n_periods)[flat]
    period = np.tile(np.arange(n_periods, dtype=np.int64), n)[flat]
    cols: dict[str, np.ndarray] = {"id": ids, "period": period}
    for name in ("L", "A", "Y", "C", "D"):
        cols[name] = arrays[name].ravel()[flat]
    cols["V"] = np.repeat(arrays["V"], n_periods)[flat]
    cols["score"] = arrays["score"].ravel()[flat]
    df = pd.DataFrame(cols, copy=False)
    df["C"] = df["C"].astype(np.int64)
    return df


@functools.lru_cache(maxsize=16)
def _truth_cached(p: _LongParams, n_truth: int) -> pd.DataFrame:
    k = p.n_periods
    rows = []
    for strategy in STRATEGIES:
        # running sums per period only: memory O(n_truth), not O(n_truth * n_periods)
        y_cum, d_cum = np.zeros(k), np.zeros(k)
        surv, treated = np.zeros(k), np.zeros(k)
        for t, d in enumerate(_periods(np.random.default_rng(_TRUTH_SEED), n_truth, p,
                                       strategy)):
            alive = d["alive"]
            n_alive = alive.sum()
            surv[t] = n_alive / n_truth
            treated[t] = (d["A"] * alive).sum() / max(n_alive, 1)
            d_cum[t] = (d["D"] & alive).sum() / n_truth
            y_cum[t] = (d["Y"] & ~d["D"] & alive).sum() / n_truth
        risk, risk_d = np.cumsum(y_cum), np.cumsum(d_cum)
        rows.append(pd.DataFrame({
            "period": np.arange(k, dtype=np.int64),
            "strategy": strategy,
            "risk": risk,
            "mc_se": np.sqrt(risk * (1.0 - risk) / n_truth),
            "risk_competing": risk_d,
            "event_free_start": surv,
            "treated_share": treated,
        }))
    return pd.concat(rows, ignore_index=True)


def population_truth(p: _LongParams, n_truth: int) -> pd.DataFrame:
    """The truth frame (a copy of the cached one)."""
    return _truth_cached(p, n_truth).copy()


@functools.lru_cache(maxsize=16)
def _itt_truth_cached(p: _LongParams, n_truth: int) -> pd.DataFrame:
    k = p.n_periods
    ys: dict[str, np.ndarray] = {}
    for strategy in ITT_STRATEGIES:
        # per-person period of Y (k = never): O(n_truth) memory, paired across strategies
        y_at = np.full(n_truth, k, dtype=np.int64)
        for t, d in enumerate(_periods(np.random.default_rng(_TRUTH_SEED), n_truth, p,
                                       strategy)):
            y_at[d["alive"] & d["Y"] & ~d["D"]] = t
        ys[strategy] = y_at
    periods = np.arange(k)
    y1 = ys[ITT_STRATEGIES[0]][:, None] <= periods[None, :]
    y0 = ys[ITT_STRATEGIES[1]][:, None] <= periods[None, :]
    r1, r0 = y1.mean(axis=0), y0.mean(axis=0)
    diff = y1.astype(np.int8) - y0.astype(np.int8)
    return pd.DataFrame({
        "period": periods.astype(np.int64),
        "risk_initiate": r1,
        "risk_not_initiate": r0,
        "risk_difference": r1 - r0,
        "mc_se_initiate": np.sqrt(r1 * (1.0 - r1) / n_truth),
        "mc_se_not_initiate": np.sqrt(r0 * (1.0 - r0) / n_truth),
        # common random numbers: the paired standard error of the difference
        "mc_se_difference": diff.std(axis=0, ddof=1) / np.sqrt(n_truth),
    })


def itt_truth(p: _LongParams, n_truth: int) -> pd.DataFrame:
    """The intention-to-treat truth of the trial at period 0 (a copy of the cached frame).

    Everyone is eligible at period 0, since ``A_{-1} = 0``. Cumulative incidence of ``Y``
    by the end of each period under "initiate at period 0, then the natural course" and
    "do not initiate at period 0, then the natural course", censoring abolished and the
    competing event kept, on ``n_truth`` counterfactual persons drawn with the truth seed
    (common random numbers); with their Monte Carlo standard errors (that of the
    difference paired).
    """
    return _itt_truth_cached(p, n_truth).copy()
