"""``cate``: conditional average treatment effects by group, through EconML."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from .._design import build_design, covariate_columns
from .._typing import Missing
from .._validation import (
    apply_missing,
    check_binary,
    check_columns,
    check_int,
    check_numeric,
    check_random_state,
    verb,
    verb_name,
)
from ..exceptions import DataValidationError
from ..results.estimate import Estimate, EstimateTable

__all__ = ["cate"]

Learner: TypeAlias = Literal["dr", "forest"]
METHODS = {"dr": "econml_linear_dr", "forest": "econml_causal_forest"}


@verb
def cate(
    data: pd.DataFrame,
    *,
    exposure: str,
    outcome: str,
    covariates: str | Sequence[str],
    effect_modifiers: Sequence[str],
    learner: Learner = "dr",
    by: str | None = None,
    outcome_model: Any = None,
    propensity_model: Any = None,
    cv: int = 5,
    n_estimators: int = 500,
    conf_level: float = 0.95,
    reference: Any = None,
    random_state: int | np.random.Generator | None = None,
    missing: Missing = "raise",
) -> EstimateTable:
    """Average conditional effects (CATE) overall and by group, with EconML learners.

    Estimand: the conditional average treatment effect ``tau(x) = E[Y^1 - Y^0 | X = x]`` as a
    function of the ``effect_modifiers`` ``X``, averaged over the rows of each group:
    ``mean_i tau(x_i)`` overall and within each level of ``by`` (a difference on the outcome's
    scale; a risk difference for a 0/1 outcome).

    Assumptions: conditional exchangeability given ``covariates`` and ``effect_modifiers``,
    positivity, consistency; for ``learner="dr"`` (EconML ``LinearDRLearner``) ``tau(x)`` is
    linear in ``X`` (the doubly robust pseudo-outcome regressed on ``X``); for ``"forest"``
    (``CausalForestDML``) it is any smooth function (a generalised random forest on the
    residualised outcome).

    Variance: EconML's inference for the mean of ``tau`` over the group's rows
    (``ate_inference(X).stderr_mean``): heteroskedasticity-robust OLS of the final stage for
    ``"dr"``, bootstrap of little bags for ``"forest"``; the group's rows are held fixed (no
    sampling variance of ``X``), so the interval is for the mean CATE of these subjects.
    Wald interval at ``conf_level`` (EconML's ``alpha = 1 - conf_level``; note that EconML's
    own default is ``alpha=0.1``).

    Parameters
    ----------
    data : pandas.DataFrame
    exposure, outcome : str
        Binary exposure; numeric outcome.
    covariates : list of str or str
        Confounders (EconML's ``W``); columns also in ``effect_modifiers`` are left out of
        ``W``.
    effect_modifiers : list of str
        Columns the effect may vary with (EconML's ``X``); factors are dummy-coded.
    learner : {"dr", "forest"}
        ``LinearDRLearner`` (CATE linear in ``X``) or ``CausalForestDML`` (any smooth function).
    by : str, optional
        A column whose levels get their own average CATE row (usually one of the modifiers).
    outcome_model, propensity_model : scikit-learn estimators, optional
        Nuisance models (EconML's ``model_regression``/``model_y`` and
        ``model_propensity``/``model_t``); EconML's ``"auto"`` by default.
    cv : int
        Cross-fitting folds.
    n_estimators : int
        Trees of the causal forest.
    conf_level : float
        0.95 (EconML's own default is ``alpha=0.1``, a 90% interval).
    reference : optional
        Exposure label of the unexposed group.
    random_state : int, numpy.random.Generator or None
        Seed passed to EconML (a Generator gives one integer seed).
    missing : {"raise", "drop"}
        Missing values raise, or rows are dropped and counted.

    Returns
    -------
    EstimateTable
        Rows ``overall`` and ``<by>=<level>`` with labels ``subgroup`` and ``level``;
        ``estimand="CATE"``, ``method`` ``econml_linear_dr`` or ``econml_causal_forest``,
        ``ci_method="econml_inference"``. Warnings from EconML are in the notes.

    References
    ----------
    Kennedy EH. Towards optimal doubly robust estimation of heterogeneous causal effects.
    arXiv:2004.14497. Athey S, Tibshirani J, Wager S. Generalized random forests. Ann Stat
    2019;47:1148-1178. Battocchi K et al. EconML: a Python package for ML-based heterogeneous
    treatment effects estimation. https://github.com/py-why/EconML.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression, LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"male": rng.integers(0, 2, 2000), "age": rng.normal(size=2000)})
    >>> d["a"] = rng.binomial(1, 1 / (1 + np.exp(-d.age)))
    >>> d["y"] = d.age + (1 + 2 * d.male) * d.a + rng.normal(size=2000)
    >>> res = cate(d, exposure="a", outcome="y", covariates=["age"], effect_modifiers=["male"],
    ...            by="male", outcome_model=LinearRegression(),
    ...            propensity_model=LogisticRegression(), random_state=1)  # doctest: +SKIP
    """
    mods = [effect_modifiers] if isinstance(effect_modifiers, str) else list(effect_modifiers)
    if not mods:
        raise DataValidationError(
            f"{verb_name()}(): effect_modifiers is empty; got []. Name the columns the effect may "
            "vary with, e.g. effect_modifiers=[\"sex\", \"age\"].")
    check_columns(data, exposure=exposure, outcome=outcome, effect_modifiers=mods, by=by)
    seed = _seed(random_state)
    check_int(cv, "cv", 2)
    cov = covariate_columns(covariates, data, verb_name())
    frame, dropped = apply_missing(data, [exposure, outcome, *cov, *mods, *([by] if by else [])],
                                   missing)
    a = check_binary(frame, exposure, "exposure", reference=reference)
    y = check_numeric(frame, outcome, "outcome")
    X = build_design(frame, mods, verb_name(), intercept=False).X
    w_cols = ([c for c in covariates if c not in mods] if not isinstance(covariates, str)
              else covariates)
    W = build_design(frame, w_cols, verb_name(), intercept=False).X if w_cols else None

    from ..adapters.econml import fit_cate, group_effect

    fit = fit_cate(y, a, X, W, learner=learner, outcome_model=outcome_model,
                   propensity_model=propensity_model, cv=cv, n_estimators=n_estimators,
                   random_state=seed, func=verb_name())
    groups: list[tuple[str, str, Any, np.ndarray]] = [("overall", "", "", np.ones(len(a), bool))]
    if by is not None:
        values = frame[by].to_numpy()
        for level in pd.unique(values):  # loop over groups (a handful)
            groups.append((f"{by}={level}", by, level, values == level))
    rows = []
    for term, sub, level, mask in groups:
        est, se, lo, hi, p = group_effect(fit, X[mask], conf_level)
        rows.append(Estimate(
            term=term, estimate=est, std_error=se, conf_low=lo, conf_high=hi,
            conf_level=conf_level, statistic=est / se if se > 0 else float("nan"), p_value=p,
            estimand="CATE", effect_measure="difference", method=METHODS[learner],
            ci_method="econml_inference", n=int(mask.sum()),
            labels={"subgroup": sub or "overall", "level": level},
            dropped=dropped, notes=fit.notes))
    title = f"Conditional average effects of {exposure} ({METHODS[learner]})"
    return EstimateTable(rows=tuple(rows), title=title, dropped=dropped)


def _seed(random_state: Any) -> int | None:
    """An integer seed for EconML (which takes ints or legacy RandomStates)."""
    rng = check_random_state(random_state)
    if random_state is None:
        return None
    if isinstance(random_state, np.random.Generator):
        return int(rng.integers(0, 2**31 - 1))
    return int(random_state)
