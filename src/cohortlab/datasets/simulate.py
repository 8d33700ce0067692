"""A simulated cohort with known true effects: ``simulate_cohort()``.

The data-generating process (DGP) in brief. Baseline covariates are drawn first, then the
latent atrial fibrillation (AF) status and a wearable model's AF score and flag, then the
treatment (which depends on the covariates, the flag and the site), then three outcomes:
a continuous one (``sbp_12m``), a binary one (``mace_1y``) and competing time-to-event ones
(stroke and death without stroke, cause-specific Weibull hazards). The true population
effects are computed from closed-form conditional expectations averaged over a large Monte
Carlo draw of the covariates made with a fixed seed, and cached per parameter set.

Everything is vectorised numpy; randomness comes only from the ``random_state`` Generator
(and, for the truth, from a private Generator with a fixed seed).
"""

from __future__ import annotations

import copy
import functools
import math
import numbers
from dataclasses import astuple, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from .._validation import check_random_state
from ..exceptions import DataValidationError

__all__ = ["simulate_cohort"]

_FUNC = "simulate_cohort"

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


# --------------------------------------------------------------------------- validation


def _fail(name: str, requirement: str, value: Any, hint: str) -> DataValidationError:
    return DataValidationError(f"{_FUNC}(): {name} must be {requirement}; got {value!r}. {hint}")


def _check_real(
    value: Any,
    name: str,
    *,
    requirement: str = "a finite number",
    predicate: Any = None,
    allow_inf: bool = False,
    hint: str,
) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        x = float(value)
        ok = (math.isfinite(x) or (allow_inf and x == math.inf)) and (
            predicate is None or predicate(x)
        )
    if not ok:
        raise _fail(name, requirement, value, hint)
    return float(value)


def _check_n(n: Any) -> int:
    if isinstance(n, numbers.Integral) and not isinstance(n, bool) and int(n) > 0:
        return int(n)
    raise _fail("n", "a positive int", n, "Pass the number of people, e.g. n=10_000.")


def _check_params(**kw: Any) -> tuple[_Params, float, float]:
    def pos(x: float) -> bool:
        return x > 0

    def ratio(name: str) -> float:
        return _check_real(
            kw[name], name, requirement="a positive finite number", predicate=pos,
            hint=f"Pass a ratio on its natural scale, e.g. {name}=0.7 (1 means no effect).",
        )

    def real(name: str) -> float:
        return _check_real(kw[name], name, hint=f"Pass e.g. {name}=-5.0.")

    params = _Params(
        effect_sbp=real("effect_sbp"),
        effect_sbp_diabetes=real("effect_sbp_diabetes"),
        odds_ratio=ratio("odds_ratio"),
        hazard_ratio=ratio("hazard_ratio"),
        hazard_ratio_death=ratio("hazard_ratio_death"),
        hazard_ratio_af=ratio("hazard_ratio_af"),
        odds_ratio_af=ratio("odds_ratio_af"),
        flag_threshold=_check_real(
            kw["flag_threshold"], "flag_threshold", requirement="a number in (0, 1)",
            predicate=lambda x: 0.0 < x < 1.0, hint="Pass e.g. flag_threshold=0.5.",
        ),
        weibull_shape=_check_real(
            kw["weibull_shape"], "weibull_shape", requirement="a positive finite number",
            predicate=pos, hint="Pass e.g. weibull_shape=1.2 (1 gives exponential times).",
        ),
        confounding=_check_real(
            kw["confounding"], "confounding", requirement="a finite number >= 0",
            predicate=lambda x: x >= 0, hint="Pass 1 for the default, 0 for a randomised trial.",
        ),
    )
    followup = _check_real(
        kw["followup"], "followup", requirement="a positive number (inf allowed)",
        predicate=pos, allow_inf=True, hint="Pass the administrative follow-up in years, e.g. 5.",
    )
    dropout = _check_real(
        kw["dropout_rate"], "dropout_rate", requirement="a finite number >= 0",
        predicate=lambda x: x >= 0, hint="Pass a rate per year, e.g. 0.05, or 0 for no dropout.",
    )
    return params, followup, dropout


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


# ------------------------------------------------------------------------- public verb


def simulate_cohort(
    n: int = 10_000,
    *,
    random_state: int | np.random.Generator | None = None,
    effect_sbp: float = -5.0,
    effect_sbp_diabetes: float = -3.0,
    odds_ratio: float = 0.75,
    hazard_ratio: float = 0.7,
    hazard_ratio_death: float = 0.9,
    hazard_ratio_af: float = 2.5,
    odds_ratio_af: float = 2.0,
    flag_threshold: float = 0.5,
    weibull_shape: float = 1.2,
    followup: float = 5.0,
    dropout_rate: float = 0.05,
    confounding: float = 1.0,
    potential_outcomes: bool = False,
) -> pd.DataFrame:
    """Simulate a cohort with a wearable AF flag, a treatment and outcomes of known effect.

    The story: a wearable's model scores each person for atrial fibrillation (AF); people
    are treated depending on their covariates, on the model's flag and on their site; they
    are followed for a continuous outcome (systolic blood pressure at 12 months), a binary
    one (a major adverse cardiovascular event within a year) and a time-to-event one with a
    competing event (stroke, and death without stroke). The true effects are attached to
    the result in ``df.attrs["truth"]`` so that estimators can be checked against them.

    Treatment assignment is ignorable given ``age, female, bmi, diabetes, smoking,
    af_flag, site``; the outcomes depend on ``af_true`` (not on the flag), which is a
    confounder of none of the effects given those covariates but a strong risk factor.

    Parameters
    ----------
    n : int, default 10_000
        Number of people (rows).
    random_state : int, numpy.random.Generator or None, default None
        Seed or Generator for the draw; the global numpy RNG is never used. The same int
        gives the same frame.
    effect_sbp : float, default -5.0
        Effect of treatment on ``sbp_12m`` (mmHg) in people without diabetes.
    effect_sbp_diabetes : float, default -3.0
        Additional effect of treatment on ``sbp_12m`` in people with diabetes (so the
        effect is ``effect_sbp + effect_sbp_diabetes`` there). As the treated are more often
        diabetic, the ATT differs from the ATE unless this is 0.
    odds_ratio : float, default 0.75
        Conditional odds ratio of ``treated`` on ``mace_1y`` (given all covariates and
        ``af_true``). Marginal odds ratios differ from it (non-collapsibility).
    hazard_ratio : float, default 0.7
        Cause-specific hazard ratio of ``treated`` on stroke (cause 1).
    hazard_ratio_death : float, default 0.9
        Cause-specific hazard ratio of ``treated`` on death without stroke (cause 2).
    hazard_ratio_af : float, default 2.5
        Cause-specific hazard ratio of ``af_true`` on stroke.
    odds_ratio_af : float, default 2.0
        Conditional odds ratio of ``af_true`` on ``mace_1y``.
    flag_threshold : float, default 0.5
        ``af_flag`` is 1 when ``af_score >= flag_threshold``; in (0, 1).
    weibull_shape : float, default 1.2
        Common Weibull shape ``k`` of both cause-specific hazards.
    followup : float, default 5.0
        Administrative end of follow-up in years (``inf`` for none).
    dropout_rate : float, default 0.05
        Rate per year of independent exponential loss to follow-up (0 for none).
    confounding : float, default 1.0
        Multiplier of the covariate coefficients of the treatment model: 0 gives a
        randomised trial with ``P(treated) = 0.32``; values above 1 strengthen confounding
        (the propensity scores may then approach 0 or 1).
    potential_outcomes : bool, default False
        Also return ``sbp_12m_a1, sbp_12m_a0, mace_1y_p1, mace_1y_p0``.

    Returns
    -------
    pandas.DataFrame
        One row per person with the columns

        - ``id``: 1..n.
        - ``site``: int 1..10; shifts the treatment probability only (an instrument), so
          rows stay independent.
        - ``age``: years, N(60, 10) clipped to [30, 90].
        - ``female``: 0/1 (P = 0.52).
        - ``bmi``: kg/m2, lognormal with median 27, clipped to [16, 50].
        - ``diabetes``: 0/1, logistic in age and bmi (about 15%).
        - ``smoking``: Categorical with categories ``"never", "former", "current"``
          (multinomial logistic in age and sex).
        - ``sbp``: baseline systolic blood pressure, mmHg (linear in age, sex, bmi,
          diabetes plus N(0, 15^2) noise, clipped to [80, 220]).
        - ``af_true``: latent AF, 0/1 (about 10%), logistic in age, bmi and diabetes.
        - ``af_score``: the wearable model's score in (0, 1): expit of ``-2 + s(bmi) *
          af_true + sd(bmi) * N(0, 1)`` where the signal ``s`` falls and the noise ``sd``
          rises with bmi, so the flag is less sensitive (and specific) at high bmi.
        - ``af_flag``: ``af_score >= flag_threshold``, 0/1.
        - ``treated``: the exposure, 0/1 (about 35%), logistic in age, female, bmi,
          diabetes, smoking, af_flag and site; true propensity scores lie in about
          (0.07, 0.96) by construction at the default parameters.
        - ``sbp_12m``: continuous outcome, mmHg: linear in sbp, age, bmi, diabetes,
          smoking and af_true, plus ``treated * (effect_sbp + effect_sbp_diabetes *
          diabetes)`` and N(0, 8^2) noise.
        - ``mace_1y``: binary outcome, logistic in the covariates, ``af_true`` (odds ratio
          ``odds_ratio_af``) and ``treated`` (odds ratio ``odds_ratio``); about 6%.
        - ``time``: years of follow-up, > 0 and <= ``followup``.
        - ``event``: 0 = censored, 1 = stroke (the cause of interest), 2 = death without
          stroke (competing). Cause-specific hazards ``h_j(t | X) = k lam_j(X) t^(k-1)``
          with ``lam_j(X) = base_j exp(lp_j(X))``; latent event time by inversion of
          ``(lam_1 + lam_2) t^k``, cause j with probability ``lam_j / (lam_1 + lam_2)``;
          censored at ``followup`` or at an exponential dropout time, whichever is first.
          About 10% strokes and 14% deaths at the defaults.

        With ``potential_outcomes=True`` also ``sbp_12m_a1`` and ``sbp_12m_a0`` (each
        person's potential ``sbp_12m`` under treated = 1 and 0, sharing the noise) and
        ``mace_1y_p1`` and ``mace_1y_p0`` (each person's conditional risk of ``mace_1y``
        under treated = 1 and 0).

        ``df.attrs["truth"]`` is a dict of super-population quantities (not sample ones),
        computed from closed-form conditional expectations averaged over ``mc_draws``
        Monte Carlo draws of the covariates made with the fixed seed ``mc_seed``; it does not
        depend on ``n`` or ``random_state`` (its Monte Carlo error is about 1e-3 of each
        quantity's spread). Keys:

        - ``"exposure"``: ``"treated"``.
        - ``"continuous"``: ``{"outcome": "sbp_12m", "ATE", "ATT", "ATC"}``, the average
          effects on ``sbp_12m`` in the whole population, the treated and the untreated
          (ATT and ATC weight each person's effect by the true propensity score e(X) and
          1 - e(X)).
        - ``"binary"``: ``{"outcome": "mace_1y", "conditional_odds_ratio", "ATE", "ATT",
          "ATC"}``; each estimand maps to ``risk_1``, ``risk_0`` (mean potential risks),
          ``risk_difference``, ``risk_ratio`` and the marginal ``odds_ratio``.
        - ``"survival"``: ``times`` (years 1-5); ``cause_specific_hazard_ratio`` ``{1:
          hazard_ratio, 2: hazard_ratio_death}`` (conditional, exact); ``cif`` ``{cause:
          {"treated": [...], "untreated": [...]}}``, the marginal cumulative incidence at
          ``times`` had everyone been treated or untreated, with ``CIF_j(t | X, a) = lam_j /
          (lam_1 + lam_2) * (1 - exp(-(lam_1 + lam_2) t^k))`` (dropout and administrative
          censoring do not enter the truth); ``event_free`` (probability of neither event
          by t, by arm); ``cif_difference`` and ``cif_ratio`` (treated vs untreated, by
          cause); ``note``: the subdistribution HR is not constant, so there is no single
          true Fine-Gray coefficient.
        - ``"flag"``: ``threshold``, ``prevalence`` (of ``af_true``), ``sensitivity``,
          ``specificity``, ``ppv``, ``npv`` of ``af_flag`` for ``af_true``, and
          ``sensitivity_by_bmi`` ``{"<30", ">=30"}``.
        - ``"af"``: ``hazard_ratio_stroke`` and ``conditional_odds_ratio_mace`` of
          ``af_true`` (the parameters).
        - ``"params"``: every parameter value of this call; ``"mc_draws"``, ``"mc_seed"``.

        Many pandas operations (merges, some reshapes, ``to_numpy`` round trips, file
        formats) drop or do not propagate ``attrs``: keep a reference,
        ``truth = df.attrs["truth"]``, before transforming the frame.

    Raises
    ------
    DataValidationError
        If ``n`` is not a positive int or a parameter is outside its domain.

    Examples
    --------
    >>> from cohortlab.datasets import simulate_cohort
    >>> df = simulate_cohort(5_000, random_state=2024)
    >>> df.shape
    (5000, 16)
    >>> truth = df.attrs["truth"]
    >>> round(truth["continuous"]["ATE"], 2), round(truth["continuous"]["ATT"], 2)
    (-5.36, -5.54)
    >>> truth["survival"]["cause_specific_hazard_ratio"]
    {1: 0.7, 2: 0.9}
    >>> sorted(df["event"].unique().tolist())
    [0, 1, 2]
    """
    n = _check_n(n)
    p, followup, dropout = _check_params(
        effect_sbp=effect_sbp, effect_sbp_diabetes=effect_sbp_diabetes, odds_ratio=odds_ratio,
        hazard_ratio=hazard_ratio, hazard_ratio_death=hazard_ratio_death,
        hazard_ratio_af=hazard_ratio_af, odds_ratio_af=odds_ratio_af,
        flag_threshold=flag_threshold, weibull_shape=weibull_shape, followup=followup,
        dropout_rate=dropout_rate, confounding=confounding,
    )
    if not isinstance(potential_outcomes, bool | np.bool_):
        raise _fail(
            "potential_outcomes", "a bool", potential_outcomes, "Pass True or False."
        )
    rng = check_random_state(random_state, _FUNC)
    truth = copy.deepcopy(_population_truth(p))
    truth["params"] = {
        "n": n,
        "random_state": random_state if not isinstance(random_state, np.random.Generator)
        else "numpy.random.Generator",
        **dict(zip(_Params.__dataclass_fields__, astuple(p), strict=True)),
        "followup": followup, "dropout_rate": dropout,
        "potential_outcomes": bool(potential_outcomes),
    }
    # Reorder so "params" comes before the MC bookkeeping, as documented.
    truth = {k: truth[k] for k in (*[k for k in truth if k not in ("mc_draws", "mc_seed")],
                                   "mc_draws", "mc_seed")}

    c = _draw_covariates(rng, n, p)
    columns = _outcomes(rng, c, p, followup, dropout, bool(potential_outcomes))
    df = pd.DataFrame(columns, copy=False)
    df.attrs["truth"] = truth
    return df


def _outcomes(
    rng: np.random.Generator,
    c: dict[str, np.ndarray],
    p: _Params,
    followup: float,
    dropout: float,
    potential_outcomes: bool,
) -> dict[str, Any]:
    """Draw treatment and outcomes given the covariates; return the frame's columns."""
    n = c["age"].shape[0]
    treated = (rng.random(n) < _propensity(c, p)).astype(np.int64)
    mu0, effect = _sbp_parts(c, p)
    y0 = mu0 + 8.0 * rng.standard_normal(n)
    r1, r0 = _mace_risk(c, p, 1), _mace_risk(c, p, 0)
    mace = (rng.random(n) < np.where(treated == 1, r1, r0)).astype(np.int64)

    lam1, lam2 = _hazards(c, p, treated)
    total = lam1 + lam2
    t_event = (rng.standard_exponential(n) / total) ** (1.0 / p.weibull_shape)
    cause = np.where(rng.random(n) * total < lam1, 1, 2)
    t_drop = rng.standard_exponential(n) / dropout if dropout > 0 else np.full(n, np.inf)
    t_cens = np.minimum(t_drop, followup)
    observed = t_event <= t_cens
    time = np.maximum(np.where(observed, t_event, t_cens), np.finfo(float).tiny)
    event = np.where(observed, cause, 0).astype(np.int64)

    cols: dict[str, Any] = {"id": np.arange(1, n + 1, dtype=np.int64)}
    cols |= {k: c[k] for k in ("site", "age", "female", "bmi", "diabetes")}
    cols["smoking"] = pd.Categorical.from_codes(c["smoking"], categories=list(_SMOKING))
    cols |= {k: c[k] for k in ("sbp", "af_true", "af_score", "af_flag")}
    cols |= {"treated": treated, "sbp_12m": y0 + effect * treated, "mace_1y": mace,
             "time": time, "event": event}
    if potential_outcomes:
        cols |= {"sbp_12m_a1": y0 + effect, "sbp_12m_a0": y0,
                 "mace_1y_p1": r1, "mace_1y_p0": r0}
    return cols


#: Display labels of :func:`simulate_cohort`'s columns (``cl.datasets.labels("wearable")``),
#: in the shape :meth:`cohortlab.results.labels.Labels.from_dict` reads.
WEARABLE_LABELS: dict[str, object] = {
    "variables": {
        "id": "Participant", "site": "Site", "age": "Age, years", "female": "Sex",
        "bmi": "BMI, kg/m²", "diabetes": "Diabetes", "smoking": "Smoking",
        "sbp": "Systolic blood pressure, mmHg", "af_true": "Atrial fibrillation",
        "af_score": "Wearable AF score", "af_flag": "Wearable AF flag",
        "sbp_12m": "Systolic blood pressure at 12 months, mmHg",
        "mace_1y": "Major adverse cardiovascular event within 1 year",
        "time": "Follow-up, years", "event": "Event",
    },
    "values": {
        "female": {0: "Male", 1: "Female"},
        "diabetes": {0: "No", 1: "Yes"},
        "smoking": {"never": "Never", "former": "Former", "current": "Current"},
        "af_true": {0: "No", 1: "Yes"},
        "af_flag": {0: "Not flagged", 1: "Flagged"},
        "mace_1y": {0: "No", 1: "Yes"},
        "event": {0: "Censored", 1: "Stroke", 2: "Death without stroke"},
    },
    "exposure": {"column": "treated", "label": "Treatment",
                 "arms": {0: "Untreated", 1: "Treated"}},
    "outcomes": {"sbp_12m": "Systolic blood pressure at 12 months",
                 "mace_1y": "Major adverse cardiovascular event within 1 year",
                 "event": "Stroke", "stroke": "Stroke",
                 "death": "Death without stroke"},
    "time_unit": "years",
    "report_time_unit": "years",
}
