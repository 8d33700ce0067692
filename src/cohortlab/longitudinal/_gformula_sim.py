"""Monte Carlo simulation of the parametric g-formula under a strategy (arrays only).

Vectorised over the simulated persons, a loop over periods. At period 0 the time-varying
covariates are the persons' observed values; at each later period every covariate is drawn
from its fitted model in the given order (binary: Bernoulli; normal: mean + SD x N(0, 1),
kept within the observed range when bounded, as pygformula's ``sim_trunc``), then the
treatment is set by the strategy (natural course: drawn from the treatment model, observed at
period 0). The risk is computed from the hazards, not from drawn events (pygformula's NICE
risk): with outcome hazard ``h_t`` and competing-event probability ``d_t`` (the competing
event comes first within a period),

    risk_t = mean over persons of sum_{s <= t} h_s (1 - d_s) prod_{u < s} (1 - h_u)(1 - d_u).

Every strategy uses the same random stream (common random numbers), so contrasts carry less
Monte Carlo noise than the risks themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from ._gformula_tv import FittedModel, GFormulaData, Term, fit_models

__all__ = ["SimModels", "bootstrap_statistic", "observed_risk", "population", "sim_models",
           "simulate_risk", "strategy_risks"]


@dataclass(frozen=True, eq=False)
class SimModels:
    """The fitted models in simulation order and the names of the time-varying variables."""

    covariates: tuple[FittedModel, ...]
    treatment: FittedModel
    outcome: FittedModel
    competing: FittedModel | None
    varying: tuple[str, ...]  # covariates in order, then the treatment


class _State:
    """Histories of the time-varying variables of ``n`` simulated persons over ``T`` periods."""

    def __init__(self, varying: Sequence[str], n: int, n_periods: int,
                 base: Mapping[str, np.ndarray]) -> None:
        self.n = n
        self.values = {v: np.zeros((n, n_periods)) for v in varying}
        self.cumavg = {v: np.zeros((n, n_periods)) for v in varying}
        self.base = base

    def set(self, var: str, t: int, x: np.ndarray) -> None:
        self.values[var][:, t] = x
        prev = self.cumavg[var][:, t - 1] * t if t > 0 else 0.0
        self.cumavg[var][:, t] = (prev + x) / (t + 1.0)

    def factor(self, f: Term, t: int) -> np.ndarray | float:
        if f.kind == "period":
            return float(t)
        if f.kind == "base":
            return self.base[f.var]
        if f.kind in ("cur", "cumavg"):
            src = self.values if f.kind == "cur" else self.cumavg
            return src[f.var][:, t]
        if t < f.k:  # lags before period 0 are 0 (pygformula's baselags=False)
            return 0.0
        src = self.values if f.kind == "lag" else self.cumavg
        return src[f.var][:, t - f.k]

    def mean(self, fit: FittedModel, t: int) -> np.ndarray:
        """The model's mean at period ``t``, term by term (no design matrix is formed)."""
        eta = np.full(self.n, fit.coef[0])
        for b, term in zip(fit.coef[1:], fit.spec.terms, strict=True):
            col: np.ndarray | float = b
            for f in term:
                col = col * self.factor(f, t)
            eta += col
        return expit(eta) if fit.spec.family == "binomial" else eta


def _draw(fit: FittedModel, mean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Simulated values and how many were moved into the model's bounds."""
    if fit.spec.family == "binomial":
        return (rng.random(mean.size) < mean).astype(float), 0
    x = mean + fit.sd * rng.standard_normal(mean.size)
    lo, hi = fit.bounds
    return np.clip(x, lo, hi), int(np.count_nonzero((x < lo) | (x > hi)))


def _treat(strategy: Mapping[str, Any], state: _State, t: int, natural: np.ndarray) -> np.ndarray:
    kind = strategy["type"]
    if kind == "natural":
        return natural
    if kind == "static":
        return np.full(state.n, float(strategy["value"]))
    x = state.values[strategy["covariate"]][:, t]  # "threshold": the covariate this period
    if "above" in strategy:
        return (x > strategy["above"]).astype(float)
    return (x < strategy["below"]).astype(float)


def simulate_risk(
    models: SimModels,
    start: Mapping[str, np.ndarray],
    base: Mapping[str, np.ndarray],
    strategy: Mapping[str, Any],
    n_periods: int,
    seed: np.random.SeedSequence | int,
) -> tuple[np.ndarray, int]:
    """Cumulative risk of the outcome at periods ``0..n_periods-1`` under ``strategy``.

    ``start`` holds each time-varying variable's observed period-0 value for the simulated
    persons, ``base`` their baseline covariates. ``strategy`` is data: ``{"type":
    "natural"}``, ``{"type": "static", "value": 0 or 1}`` or ``{"type": "threshold",
    "covariate": name, "above": c}`` (or ``"below": c``): treat in a period when the
    covariate's value in that period is above (below) ``c``. Also returns the number of
    simulated normal values moved into their bounds.
    """
    rng = np.random.default_rng(seed)
    n = next(iter(start.values())).size
    state = _State(models.varying, n, n_periods, base)
    treat = models.treatment.spec.name
    surv = np.ones(n)
    risk = np.zeros(n)
    out = np.empty(n_periods)
    clipped = 0
    for t in range(n_periods):
        if t == 0:
            for v in models.varying[:-1]:
                state.set(v, 0, np.asarray(start[v], dtype=float))
            natural = np.asarray(start[treat], dtype=float)
        else:
            for fit in models.covariates:
                x, k = _draw(fit, state.mean(fit, t), rng)
                state.set(fit.spec.name, t, x)
                clipped += k
            # drawn under every strategy, so the streams stay aligned (common random numbers)
            natural, _ = _draw(models.treatment, state.mean(models.treatment, t), rng)
        state.set(treat, t, _treat(strategy, state, t, natural))
        h = state.mean(models.outcome, t)
        d = (state.mean(models.competing, t)
             if models.competing is not None else 0.0)
        risk += surv * h * (1.0 - d)
        surv *= (1.0 - h) * (1.0 - d)
        out[t] = risk.mean()
    return out, clipped


def observed_risk(last_period: np.ndarray, code: np.ndarray, n_periods: int,
                  n_causes: int) -> np.ndarray:
    """Aalen-Johansen (Kaplan-Meier without competing events) risk of cause 1 per period.

    ``last_period`` is each person's last observed period and ``code`` 1 (outcome), 2
    (competing event), 0 (administratively censored after that period) or -1 (censored
    during it: the outcome of that period is unobserved, so the person leaves the risk set
    just before it).

    Examples
    --------
    >>> observed_risk(np.array([0, 1, 1, 2]), np.array([1, 0, 1, 0]), 3, 1).tolist()
    [0.25, 0.5, 0.5]
    """
    from ..survival._aalen_johansen import aalen_johansen
    from ..survival._counts import risk_counts

    time = last_period.astype(float) - np.where(code < 0, 0.5, 0.0)
    rc = risk_counts(time, np.maximum(code, 0), n_causes=n_causes)
    cif = aalen_johansen(rc).cif[:, 0]
    pos = np.searchsorted(rc.time, np.arange(n_periods, dtype=float), side="right") - 1
    return np.where(pos >= 0, cif[np.maximum(pos, 0)], 0.0)


def sim_models(fits: Sequence[FittedModel], n_cov: int, competing: bool,
               varying: tuple[str, ...]) -> SimModels:
    """The fits (covariates in order, treatment, outcome, competing event) as SimModels."""
    return SimModels(covariates=tuple(fits[:n_cov]), treatment=fits[n_cov],
                     outcome=fits[n_cov + 1], competing=fits[n_cov + 2] if competing else None,
                     varying=varying)


def strategy_risks(prep: GFormulaData, fits: Sequence[FittedModel],
                   strategies: Mapping[str, Any], pop: np.ndarray,
                   seed: np.random.SeedSequence, competing: bool) -> tuple[np.ndarray, int]:
    """Risks (strategies x periods), the natural course first, and the clipped-value count.

    ``pop`` holds the persons simulated (indices into the persons, with repeats).
    """
    models = sim_models(fits, len(prep.varying) - 1, competing, prep.varying)
    start = {v: x[pop] for v, x in prep.start.items()}
    base = {b: x[pop] for b, x in prep.base.items()}
    out, clipped = [], 0
    for spec in [{"type": "natural"}, *strategies.values()]:
        r, k = simulate_risk(models, start, base, spec, prep.n_periods, seed)
        out.append(r)
        clipped += k
    return np.vstack(out), clipped


def population(n_persons: int, counts: np.ndarray | None, n_simul: int | None,
               rng: np.random.Generator) -> np.ndarray:
    """The persons to simulate: each (``counts`` times) once, or ``n_simul`` drawn from them."""
    pool = np.arange(n_persons) if counts is None else np.repeat(np.arange(n_persons), counts)
    if n_simul is None:
        return pool
    return pool[rng.integers(0, pool.size, size=n_simul)]


def bootstrap_statistic(prep: GFormulaData, fits: Sequence[FittedModel],
                        strategies: Mapping[str, Any], n_simul: int | None, seed_sim: int,
                        bounded: bool, competing: bool,
                        func: str) -> Callable[[np.ndarray], np.ndarray]:
    """Risks (raveled) on a person-bootstrap resample (rows ``idx``).

    Every model is refitted (from ``fits``) and the simulation redone with the replicate's
    own random stream, a function of the seed and the resample only.
    """
    n_persons = prep.first_rows.size

    def replicate(idx: np.ndarray) -> np.ndarray:
        w = np.bincount(idx, minlength=prep.person.size).astype(float)
        counts = w[prep.first_rows].astype(int)
        # the replicate's own stream, a function of the seed and the resample only
        ss = np.random.SeedSequence([seed_sim, *counts.tolist()])
        rfits = fit_models(prep.specs, prep.designs, prep.responses, weights=w,
                           start=fits, bounded=bounded, func=func)
        rpop = population(n_persons, counts, n_simul, np.random.default_rng(ss))
        return strategy_risks(prep, rfits, strategies, rpop, ss, competing)[0].ravel()
    return replicate
