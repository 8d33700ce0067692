"""The data-generating process of :func:`~cohortlab.datasets.simulate_cohort`, and its truth.

Arrays only: the fixed coefficients and the :class:`_Params` of a population, the covariate,
treatment and outcome models, and the population truth (true effects and cumulative
incidences, by Monte Carlo over 1,000,000 covariate draws, cached per parameter set).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit, ndtr

#: Monte Carlo draws of the covariates used for the population truth, and their seed.
_MC_DRAWS = 1_000_000
_MC_SEED = 20_240_601
_MC_CHUNK = 250_000

#: Times (years) at which the true cumulative incidence functions are reported.
_TIMES = (1.0, 2.0, 3.0, 4.0, 5.0)

_SMOKING = ("never", "former", "current")
_SITE_EFFECT = np.linspace(-0.5, 0.5, 10)  # log-odds shift of treatment for sites 1..10

# Fixed coefficients of the DGP (centring: age 60 y, bmi 27 kg/m2, sbp 128 mmHg).
_BMI_BOUNDS = (16.0, 50.0)
_AF_SCORE_INTERCEPT = -2.0  # logit score of a person without AF (before noise)
_AF_SIGNAL = 3.5  # logit-score signal of AF at bmi 27; decays with bmi
_TREAT_INTERCEPT = -0.75
_BASE_STROKE = 0.014  # Weibull scale of stroke at the reference covariates (per year**k)
_BASE_DEATH = 0.015
_HR_AF_DEATH = 1.5


@dataclass(frozen=True)
class _Params:
    """The parameters that define the population (hashable: the truth cache key)."""

    effect_sbp: float
    effect_sbp_diabetes: float
    odds_ratio: float
    hazard_ratio: float
    hazard_ratio_death: float
    hazard_ratio_af: float
    odds_ratio_af: float
    flag_threshold: float
    weibull_shape: float
    confounding: float


# ------------------------------------------------------------------ the DGP (arrays only)


def _draw_covariates(rng: np.random.Generator, n: int, p: _Params) -> dict[str, np.ndarray]:
    """Draw the pre-treatment variables; the order of the draws is part of the seed contract."""
    site = rng.integers(1, 11, size=n)
    age = np.clip(rng.normal(60.0, 10.0, size=n), 30.0, 90.0)
    female = (rng.random(n) < 0.52).astype(np.int64)
    bmi = np.clip(27.0 * np.exp(0.17 * rng.standard_normal(n)), *_BMI_BOUNDS)
    diabetes = (rng.random(n) < _p_diabetes(age, bmi)).astype(np.int64)
    eta_former = -0.4 + 0.02 * (age - 60.0) - 0.2 * female
    eta_current = -0.8 - 0.04 * (age - 60.0) - 0.3 * female
    e_f, e_c = np.exp(eta_former), np.exp(eta_current)
    denom = 1.0 + e_f + e_c
    u = rng.random(n)
    smoking = (u >= 1.0 / denom).astype(np.int8) + (u >= (1.0 + e_f) / denom).astype(np.int8)
    sbp = 128.0 + 0.5 * (age - 60.0) - 3.0 * female + 0.8 * (bmi - 27.0) + 4.0 * diabetes
    sbp = np.clip(sbp + 15.0 * rng.standard_normal(n), 80.0, 220.0)
    af_true = (rng.random(n) < _p_af(age, bmi, diabetes)).astype(np.int64)
    signal, noise_sd = _af_signal(bmi)
    logit_score = _AF_SCORE_INTERCEPT + signal * af_true + noise_sd * rng.standard_normal(n)
    af_score = expit(np.clip(logit_score, -30.0, 30.0))
    af_flag = (af_score >= p.flag_threshold).astype(np.int64)
    return {
        "site": site, "age": age, "female": female, "bmi": bmi, "diabetes": diabetes,
        "smoking": smoking, "sbp": sbp, "af_true": af_true, "af_score": af_score,
        "af_flag": af_flag,
    }


def _p_diabetes(age: np.ndarray, bmi: np.ndarray) -> np.ndarray:
    return expit(-2.2 + 0.04 * (age - 60.0) + 0.12 * (bmi - 27.0))


def _p_af(age: np.ndarray, bmi: np.ndarray, diabetes: np.ndarray) -> np.ndarray:
    return expit(-2.5 + 0.07 * (age - 60.0) + 0.05 * (bmi - 27.0) + 0.4 * diabetes)


def _af_signal(bmi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signal strength and noise SD of the logit AF score: both worsen as bmi rises."""
    return _AF_SIGNAL * np.exp(-0.04 * (bmi - 27.0)), np.exp(0.03 * (bmi - 27.0))


def _p_flag(bmi: np.ndarray, af: int, threshold: float) -> np.ndarray:
    """P(af_flag = 1 | bmi, af_true = af), closed form."""
    signal, noise_sd = _af_signal(bmi)
    cut = math.log(threshold / (1.0 - threshold))
    return ndtr((_AF_SCORE_INTERCEPT + signal * af - cut) / noise_sd)


def _propensity(c: dict[str, np.ndarray], p: _Params) -> np.ndarray:
    """Return the true propensity score e(X) = P(treated = 1 | X)."""
    smk = np.array([0.0, 0.15, 0.35])[c["smoking"]]
    lp = (
        0.025 * (c["age"] - 60.0) - 0.25 * c["female"] + 0.03 * (c["bmi"] - 27.0)
        + 0.7 * c["diabetes"] + smk + 1.0 * c["af_flag"] + _SITE_EFFECT[c["site"] - 1]
    )
    return expit(_TREAT_INTERCEPT + p.confounding * lp)


def _sbp_parts(c: dict[str, np.ndarray], p: _Params) -> tuple[np.ndarray, np.ndarray]:
    """E[sbp_12m | X, treated = 0] and the individual treatment effect."""
    mu0 = (
        52.0 + 0.6 * c["sbp"] + 0.15 * (c["age"] - 60.0) + 0.3 * (c["bmi"] - 27.0)
        + 2.0 * c["diabetes"] + (c["smoking"] == 2) * 1.0 + 3.0 * c["af_true"]
    )
    return mu0, p.effect_sbp + p.effect_sbp_diabetes * c["diabetes"]


def _mace_risk(c: dict[str, np.ndarray], p: _Params, a: np.ndarray | int) -> np.ndarray:
    smk = np.array([0.0, 0.2, 0.6])[c["smoking"]]
    lp = (
        -3.3 + 0.04 * (c["age"] - 60.0) + 0.3 * (1 - c["female"]) + 0.03 * (c["bmi"] - 27.0)
        + 0.5 * c["diabetes"] + smk + 0.015 * (c["sbp"] - 128.0)
        + math.log(p.odds_ratio_af) * c["af_true"] + math.log(p.odds_ratio) * a
    )
    return expit(lp)


def _hazards(
    c: dict[str, np.ndarray], p: _Params, a: np.ndarray | int
) -> tuple[np.ndarray, np.ndarray]:
    """Weibull scales lam_1 (stroke) and lam_2 (death without stroke): H_j(t) = lam_j t^k."""
    smk1 = np.array([0.0, 0.1, 0.4])[c["smoking"]]
    smk2 = np.array([0.0, 0.2, 0.7])[c["smoking"]]
    lp1 = (
        0.06 * (c["age"] - 60.0) + 0.015 * (c["sbp"] - 128.0) + 0.4 * c["diabetes"] + smk1
        + math.log(p.hazard_ratio_af) * c["af_true"] + math.log(p.hazard_ratio) * a
    )
    lp2 = (
        0.09 * (c["age"] - 60.0) + 0.3 * (1 - c["female"]) + 0.5 * c["diabetes"] + smk2
        + math.log(_HR_AF_DEATH) * c["af_true"] + math.log(p.hazard_ratio_death) * a
    )
    return _BASE_STROKE * np.exp(lp1), _BASE_DEATH * np.exp(lp2)


# ------------------------------------------------------------------------------ the truth


def _binary_summary(r1: float, r0: float) -> dict[str, float]:
    return {
        "risk_1": r1, "risk_0": r0, "risk_difference": r1 - r0, "risk_ratio": r1 / r0,
        "odds_ratio": (r1 / (1.0 - r1)) / (r0 / (1.0 - r0)),
    }


def _chunk_sums(c: dict[str, np.ndarray], p: _Params) -> dict[str, np.ndarray]:
    """Sum, over one chunk of the MC draw, every quantity the truth needs."""
    e = _propensity(c, p)
    w = np.stack([np.ones_like(e), e, 1.0 - e])  # ATE, ATT, ATC weights
    _, effect = _sbp_parts(c, p)
    r1, r0 = _mace_risk(c, p, 1), _mace_risk(c, p, 0)
    t_k = np.asarray(_TIMES)[:, None] ** p.weibull_shape
    cif = np.empty((2, 2, len(_TIMES)))  # [cause-1, arm (1 = treated, 0 = untreated), time]
    free = np.empty((2, len(_TIMES)))
    for arm in (1, 0):
        lam1, lam2 = _hazards(c, p, arm)
        total = lam1 + lam2
        surv = np.exp(-total * t_k)  # P(no event by t | X, a), shape (times, n)
        free[arm] = surv.sum(axis=1)
        cif[0, arm] = ((lam1 / total) * (1.0 - surv)).sum(axis=1)
        cif[1, arm] = ((lam2 / total) * (1.0 - surv)).sum(axis=1)
    p_af = _p_af(c["age"], c["bmi"], c["diabetes"])
    f1 = _p_flag(c["bmi"], 1, p.flag_threshold)
    f0 = _p_flag(c["bmi"], 0, p.flag_threshold)
    high = c["bmi"] >= 30.0
    flag = np.array([
        p_af.sum(), (1 - p_af).sum(), (p_af * f1).sum(), ((1 - p_af) * f0).sum(),
        (p_af * ~high).sum(), (p_af * f1 * ~high).sum(), (p_af * high).sum(),
        (p_af * f1 * high).sum(),
    ])
    return {
        "w": w.sum(axis=1), "effect": w @ effect, "r1": w @ r1, "r0": w @ r0,
        "cif": cif, "free": free, "flag": flag,
    }


@functools.lru_cache(maxsize=16)
def _population_truth(p: _Params) -> dict[str, Any]:
    """Compute the population truth for ``p``: MC average of closed-form expectations."""
    rng = np.random.default_rng(_MC_SEED)
    acc: dict[str, np.ndarray] = {}
    for start in range(0, _MC_DRAWS, _MC_CHUNK):
        sums = _chunk_sums(_draw_covariates(rng, min(_MC_CHUNK, _MC_DRAWS - start), p), p)
        acc = sums if not acc else {k: acc[k] + v for k, v in sums.items()}
    w = acc["w"]
    effect = acc["effect"] / w
    r1, r0 = acc["r1"] / w, acc["r0"] / w
    cif, free = acc["cif"] / _MC_DRAWS, acc["free"] / _MC_DRAWS
    pa, pn, tp, fp, pa_lo, tp_lo, pa_hi, tp_hi = acc["flag"].tolist()
    fn, tn = pa - tp, pn - fp

    def arms(x: np.ndarray) -> dict[str, list[float]]:
        return {"treated": x[1].tolist(), "untreated": x[0].tolist()}

    estimands = ("ATE", "ATT", "ATC")
    return {
        "exposure": "treated",
        "continuous": {"outcome": "sbp_12m"}
        | {name: float(effect[i]) for i, name in enumerate(estimands)},
        "binary": {"outcome": "mace_1y", "conditional_odds_ratio": p.odds_ratio}
        | {name: _binary_summary(float(r1[i]), float(r0[i])) for i, name in enumerate(estimands)},
        "survival": {
            "times": list(_TIMES),
            "cause_specific_hazard_ratio": {1: p.hazard_ratio, 2: p.hazard_ratio_death},
            "cif": {1: arms(cif[0]), 2: arms(cif[1])},
            "event_free": arms(free),
            "cif_difference": {j: (cif[j - 1, 1] - cif[j - 1, 0]).tolist() for j in (1, 2)},
            "cif_ratio": {j: (cif[j - 1, 1] / cif[j - 1, 0]).tolist() for j in (1, 2)},
            "note": "the subdistribution HR is not constant under this model; "
            "no single true Fine-Gray coefficient",
        },
        "flag": {
            "threshold": p.flag_threshold, "prevalence": pa / (pa + pn),
            "sensitivity": tp / pa, "specificity": tn / pn,
            "ppv": tp / (tp + fp), "npv": tn / (tn + fn),
            "sensitivity_by_bmi": {"<30": tp_lo / pa_lo, ">=30": tp_hi / pa_hi},
        },
        "af": {
            "hazard_ratio_stroke": p.hazard_ratio_af,
            "conditional_odds_ratio_mace": p.odds_ratio_af,
        },
        "mc_draws": _MC_DRAWS,
        "mc_seed": _MC_SEED,
    }
