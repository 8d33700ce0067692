"""A simulated longitudinal cohort with known true risks: ``simulate_longitudinal()``.

Time-varying confounding affected by prior treatment, a wearable-style score, censoring that
depends on the confounder and a competing event; the true cumulative incidences under
"always", "never" and "treat when L > threshold" are attached in ``attrs["truth"]``. The
numbers (coefficients, the per-period draws and the Monte Carlo truth) live in
``_dgp_long.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_random_state, verb
from ._args import arg_error, check_count, check_real
from ._dgp_long import (
    _TRUTH_SEED,
    _LongParams,
    coefficients,
    long_frame,
    population_truth,
    simulate_arrays,
)

__all__ = ["simulate_longitudinal"]



def _check_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise arg_error(name, "a bool", value, "Pass True or False.")


@verb
def simulate_longitudinal(
    n: int = 10_000,
    n_periods: int = 12,
    *,
    random_state: int | np.random.Generator | None = None,
    effect_direct: float = -0.5,
    effect_on_l: float = -0.6,
    confounding: float = 1.0,
    threshold: float = 0.5,
    censoring: bool = True,
    competing: bool = True,
    n_truth: int = 200_000,
) -> pd.DataFrame:
    """Simulate a person-period cohort with treatment-confounder feedback and known risks.

    A discrete-time cohort (periods, e.g. months) in which a time-varying confounder ``L``
    (think of blood pressure or an arrhythmia burden) raises the risk of the outcome ``Y``,
    drives the decision to treat, and is itself lowered by earlier treatment. Baseline
    adjustment is then confounded, and a model that conditions on the current ``L`` (a
    time-varying-covariate Cox or pooled logistic model) blocks the part of the effect that
    goes through ``L``: both are biased for the effect of "always" vs "never" treating, while
    g-methods (inverse probability weighted marginal structural models, the g-formula) are
    not. The true cumulative incidences are attached in ``df.attrs["truth"]``.

    The data-generating process (``t = 0, ..., n_periods - 1``; ``A_{-1} = L_{-1} = 0``;
    within a period in the order listed)::

        V        ~ Bernoulli(0.5)                                           baseline
        L_t      = 0.7 L_{t-1} + effect_on_l A_{t-1} + 0.4 V + N(0, 1)
        score_t  = expit(2 (L_t - threshold) + N(0, 1))
        logit P(A_t = 1) = -2.0 + 0.8 confounding L_t + 5.0 A_{t-1} + 0.3 V
        logit P(C_t = 1) = -3.5 + 0.5 L_t + 0.3 A_t
        logit P(D_t = 1) = -4.2 + 0.4 L_t + 0.6 V
        logit P(Y_t = 1) = -3.6 + 0.6 L_t + effect_direct A_t + 0.3 V

    Treatment is sequentially ignorable given the past of ``(L, A)`` and ``V``; censoring
    depends on ``L`` (and ``A``), so complete-case analyses need inverse probability of
    censoring weights; positivity holds (every probability is strictly inside (0, 1)).

    Parameters
    ----------
    n : int, default 10_000
        Number of persons.
    n_periods : int, default 12
        Number of periods of follow-up (administrative end after the last one).
    random_state : int, numpy.random.Generator or None, default None
        Seed or Generator of the data draw; the global numpy RNG is never used. The truth
        does not depend on it.
    effect_direct : float, default -0.5
        Log-odds effect of current treatment ``A_t`` on the outcome hazard, given ``L_t``.
    effect_on_l : float, default -0.6
        Effect of last period's treatment on the confounder ``L_t`` (the feedback; 0 removes
        the part of the effect mediated by ``L``).
    confounding : float, default 1.0
        Multiplier of the log-odds effect of ``L_t`` on treatment (0.8 per unit at 1; 0 gives
        sequentially randomised treatment, which still persists once started).
    threshold : float, default 0.5
        Threshold of the dynamic strategy "treat in period t when ``L_t > threshold``" and
        the centre of the score (``score_t > 0.5`` roughly when ``L_t > threshold``).
    censoring : bool, default True
        Draw loss to follow-up; False gives complete follow-up (``C`` always 0).
    competing : bool, default True
        Draw the competing event; False gives ``D`` always 0.
    n_truth : int, default 200_000
        Size of the counterfactual population of the truth (its Monte Carlo standard error
        is in the ``mc_se`` column).

    Returns
    -------
    pandas.DataFrame
        One row per person-period, sorted by ``(id, period)``, with the columns ``id``
        (1..n), ``period`` (0, 1, ... consecutive), ``L`` (float), ``A`` (0/1), ``Y``,
        ``C`` (0/1), ``D``, ``V`` (0/1, constant within ``id``) and ``score`` (in (0, 1)).

        Row convention: a person's rows stop after the period with ``Y = 1``, ``D = 1`` or
        ``C = 1`` (or at ``n_periods - 1``). Within a period censoring comes first, then the
        competing event, then the outcome: in a row with ``C = 1``, ``D`` and ``Y`` are
        NaN (not observed); in a row with ``D = 1``, ``Y`` is NaN (it cannot occur). So
        ``Y`` and ``D`` are float columns of 0.0, 1.0 and NaN; fit the outcome hazard on
        rows with ``C == 0 and D == 0`` and the competing-event hazard on rows with
        ``C == 0``.

        ``df.attrs["truth"]`` is a DataFrame with one row per ``(period, strategy)``,
        strategies ``"always"``, ``"never"`` and ``"dynamic"`` (treat when ``L_t >
        threshold``): ``risk`` is the true cumulative incidence of ``Y`` by the end of
        ``period`` with censoring abolished and the competing event kept (the total effect),
        ``mc_se`` its Monte Carlo standard error, ``risk_competing`` the cumulative incidence
        of ``D``, ``event_free_start`` the share free of ``Y`` and ``D`` at the start of the
        period and ``treated_share`` the share treated among them. It is computed on
        ``n_truth`` counterfactual persons drawn with a fixed seed, with the same random
        numbers for each strategy, and is cached per parameter set: it is the same for every
        ``n`` and ``random_state``. ``df.attrs["truth_params"]`` is a dict with every argument, the
        coefficients of each equation, the truth seed and the row convention.

        Many pandas operations drop ``attrs``: keep ``truth = df.attrs["truth"]`` first.

    Raises
    ------
    DataValidationError
        If an argument is outside its domain.

    Examples
    --------
    >>> import cohortlab as cl
    >>> df = cl.simulate_longitudinal(n=500, n_periods=6, random_state=1, n_truth=20_000)
    >>> list(df.columns)
    ['id', 'period', 'L', 'A', 'Y', 'C', 'D', 'V', 'score']
    >>> int(df.groupby("id").size().max())
    6
    >>> truth = df.attrs["truth"]
    >>> last = truth[truth["period"] == 5].set_index("strategy")["risk"]
    >>> bool(last["always"] < last["dynamic"] < last["never"])
    True
    """
    n = check_count(n, "n", low=1, hint="Pass the number of persons, e.g. n=10_000.")
    n_periods = check_count(n_periods, "n_periods", low=1, hint="Pass e.g. n_periods=12.")
    n_truth = check_count(n_truth, "n_truth", low=1_000, hint="Pass e.g. n_truth=200_000.")
    p = _LongParams(
        n_periods=n_periods,
        effect_direct=check_real(effect_direct, "effect_direct", hint="Pass e.g. -0.5."),
        effect_on_l=check_real(effect_on_l, "effect_on_l", hint="Pass e.g. -0.6."),
        confounding=check_real(confounding, "confounding",
                               hint="Pass e.g. 1.0 (0 for none)."),
        threshold=check_real(threshold, "threshold", hint="Pass e.g. 0.5."),
        censoring=_check_bool(censoring, "censoring"),
        competing=_check_bool(competing, "competing"),
    )
    rng = check_random_state(random_state)
    df = long_frame(simulate_arrays(rng, n, p), n_periods)
    df.attrs["truth"] = population_truth(p, n_truth)
    df.attrs["truth_params"] = {
        "n": n,
        "n_periods": n_periods,
        "random_state": (random_state if not isinstance(random_state, np.random.Generator)
                         else "numpy.random.Generator"),
        "effect_direct": p.effect_direct,
        "effect_on_l": p.effect_on_l,
        "confounding": p.confounding,
        "threshold": p.threshold,
        "censoring": p.censoring,
        "competing": p.competing,
        "n_truth": n_truth,
        "truth_seed": _TRUTH_SEED,
        "coefficients": coefficients(p),
        "strategies": {"always": "A_t = 1 in every period", "never": "A_t = 0 in every period",
                       "dynamic": f"A_t = 1 when L_t > {p.threshold}, else 0"},
        "row_convention": "rows stop after Y, D or C = 1; order within a period C, D, Y; "
                          "D and Y NaN when C = 1, Y NaN when D = 1",
    }
    return df

