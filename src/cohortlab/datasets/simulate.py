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
from dataclasses import astuple
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_random_state, verb
from ._args import arg_error, check_count, check_real
from ._dgp import (
    _SMOKING,
    _draw_covariates,
    _hazards,
    _mace_risk,
    _p_flag,  # noqa: F401  (the DGP stays readable as datasets.simulate._*, as tests use it)
    _Params,
    _population_truth,
    _propensity,
    _sbp_parts,
)

__all__ = ["simulate_cohort"]

# --------------------------------------------------------------------------- validation


def _check_params(**kw: Any) -> tuple[_Params, float, float]:
    def pos(x: float) -> bool:
        return x > 0

    def ratio(name: str) -> float:
        return check_real(
            kw[name], name, requirement="a positive finite number", predicate=pos,
            hint=f"Pass a ratio on its natural scale, e.g. {name}=0.7 (1 means no effect).",
        )

    def real(name: str) -> float:
        return check_real(kw[name], name, hint=f"Pass e.g. {name}=-5.0.")

    params = _Params(
        effect_sbp=real("effect_sbp"),
        effect_sbp_diabetes=real("effect_sbp_diabetes"),
        odds_ratio=ratio("odds_ratio"),
        hazard_ratio=ratio("hazard_ratio"),
        hazard_ratio_death=ratio("hazard_ratio_death"),
        hazard_ratio_af=ratio("hazard_ratio_af"),
        odds_ratio_af=ratio("odds_ratio_af"),
        flag_threshold=check_real(
            kw["flag_threshold"], "flag_threshold", requirement="a number in (0, 1)",
            predicate=lambda x: 0.0 < x < 1.0, hint="Pass e.g. flag_threshold=0.5.",
        ),
        weibull_shape=check_real(
            kw["weibull_shape"], "weibull_shape", requirement="a positive finite number",
            predicate=pos, hint="Pass e.g. weibull_shape=1.2 (1 gives exponential times).",
        ),
        confounding=check_real(
            kw["confounding"], "confounding", requirement="a finite number >= 0",
            predicate=lambda x: x >= 0, hint="Pass 1 for the default, 0 for a randomised trial.",
        ),
    )
    followup = check_real(
        kw["followup"], "followup", requirement="a positive number (inf allowed)",
        predicate=pos, allow_inf=True, hint="Pass the administrative follow-up in years, e.g. 5.",
    )
    dropout = check_real(
        kw["dropout_rate"], "dropout_rate", requirement="a finite number >= 0",
        predicate=lambda x: x >= 0, hint="Pass a rate per year, e.g. 0.05, or 0 for no dropout.",
    )
    return params, followup, dropout


# ------------------------------------------------------------------------- public verb


@verb
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
    n = check_count(n, "n", requirement="a positive int",
                    hint="Pass the number of people, e.g. n=10_000.")
    p, followup, dropout = _check_params(
        effect_sbp=effect_sbp, effect_sbp_diabetes=effect_sbp_diabetes, odds_ratio=odds_ratio,
        hazard_ratio=hazard_ratio, hazard_ratio_death=hazard_ratio_death,
        hazard_ratio_af=hazard_ratio_af, odds_ratio_af=odds_ratio_af,
        flag_threshold=flag_threshold, weibull_shape=weibull_shape, followup=followup,
        dropout_rate=dropout_rate, confounding=confounding,
    )
    if not isinstance(potential_outcomes, bool | np.bool_):
        raise arg_error(
            "potential_outcomes", "a bool", potential_outcomes, "Pass True or False."
        )
    rng = check_random_state(random_state)
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
