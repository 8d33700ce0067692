"""``crude_effect``: the unadjusted association of a binary exposure with an outcome."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .._typing import CIMethod, EffectVariance, Measure, Missing, RandomState
from .._validation import (
    check_columns,
    verb,
    verb_name,
)
from ..exceptions import DataValidationError
from ..inference.bootstrap import bootstrap
from ..results.estimate import Estimate
from ._contrast import MEASURE_NAMES
from ._crude import crude_estimate
from ._outcome import check_outcome_variation, point_arrays, zero_weight_notes

__all__ = ["crude_effect"]


@verb
def crude_effect(
    data: pd.DataFrame,
    *,
    exposure: str,
    outcome: str,
    effect_measure: Measure = "difference",
    reference: object = None,
    weights: str | None = None,
    cluster: str | None = None,
    variance: EffectVariance = "influence_function",
    n_boot: int = 1000,
    n_jobs: int = 1,
    conf_level: float = 0.95,
    random_state: RandomState = None,
    missing: Missing = "raise",
) -> Estimate:
    """Crude (unadjusted) effect of a binary exposure: the row above the adjusted ones.

    Estimand: the association ``E[Y | A=1]`` vs ``E[Y | A=0]`` in the (weighted) population,
    as a difference, ratio or odds ratio. It is causal only if exposure is unconfounded
    (randomised); report it beside confounding-adjusted estimates, not instead of them.

    Variance: influence function of the two (weighted, Hajek) arm means, the delta method for
    ratios (the log scale), summed within clusters when ``cluster`` is given (with the
    ``G / (G - 1)`` correction). For a binary outcome this is the textbook Wald interval of
    the risk difference, the log risk ratio and Woolf's log odds ratio. Weights are treated as
    known (sampling weights). ``variance="bootstrap"`` resamples rows (clusters with
    ``cluster``) instead and gives a percentile interval.

    A binary outcome without events (or with only events) or a constant outcome raises (its
    standard error would be 0, the interval undefined), as R's ``glm`` flags separation.
    Rows with weight 0 are not counted in ``n``; a note says how many there were.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject.
    exposure : str
        Binary column (0/1 or bool, or two labels with ``reference``).
    outcome : str
        Numeric outcome; binary 0/1 outcomes give risks.
    effect_measure : {"difference", "ratio", "odds_ratio"}
        The contrast of the arm means. A ratio needs positive arm means; an odds ratio a binary
        outcome.
    reference : optional
        The exposure label of the comparison group (when not 0/1).
    weights : str, optional
        Non-negative case (sampling) weights; the arm means are weighted (Hajek) means and the
        weights are treated as known.
    cluster : str, optional
        Cluster identifier for cluster-robust SEs (sites, repeated measures).
    variance : {"influence_function", "bootstrap"}
        How the standard error is computed; ``result.ci_method`` records it
        (``"influence_function"``, ``"wald_cluster"`` or ``"bootstrap_percentile"``).
    n_boot, n_jobs, random_state
        Bootstrap replicates, parallel jobs, seed (same seed, same numbers for any n_jobs).
    conf_level : float
        Interval level.
    missing : {"raise", "drop"}
        Missing values in exposure, outcome, weights or cluster raise, or are dropped and
        counted in ``result.dropped``.

    Returns
    -------
    Estimate
        With ``extra`` holding the arm means ``mean_1`` and ``mean_0``.

    Examples
    --------
    >>> import cohortlab as cl
    >>> nhefs = cl.datasets.load_nhefs()
    >>> est = cl.crude_effect(nhefs, exposure="qsmk", outcome="wt82_71", missing="drop")
    >>> round(est.estimate, 2), est.n, est.dropped.n_rows
    (2.54, 1566, 63)
    """
    check_columns(data, exposure=exposure, outcome=outcome, weights=weights, cluster=cluster)
    used = [c for c in (exposure, outcome, weights, cluster) if c is not None]
    pa = point_arrays(data, used, exposure=exposure, outcome=outcome, weights=weights,
                      missing=missing, reference=reference, arms=False)
    frame, dropped, a, y, w, binary = pa.frame, pa.dropped, pa.a, pa.y, pa.s, pa.binary
    _check_design(y, a, w, binary, effect_measure, exposure, outcome)
    measure_name = MEASURE_NAMES[(effect_measure, binary)]
    est, phi, mu1, mu0 = crude_estimate(y, a, w, effect_measure)
    cl_ids = frame[cluster].to_numpy() if cluster else None
    common: dict[str, Any] = dict(
        estimand="association", effect_measure=measure_name, method="crude",
        n=int((w > 0).sum()), n_events=int(y[w > 0].sum()) if binary else None, dropped=dropped,
        notes=zero_weight_notes(w, weights),
        extra={"mean_1": mu1, "mean_0": mu0}, conf_level=conf_level,
    )
    if variance == "bootstrap":
        boot = bootstrap(lambda idx: crude_estimate(y[idx], a[idx], w[idx], effect_measure)[0],
                         len(frame), n_boot=n_boot, random_state=random_state, n_jobs=n_jobs,
                         cluster=cl_ids)
        return Estimate.from_bootstrap(exposure, est, boot.valid[:, 0], n_failed=boot.n_failed,
                                       **common)
    result = Estimate.from_influence(exposure, est, phi, cluster=cl_ids, **common)
    if cluster:
        return _relabel(result, "wald_cluster")
    return result


def _relabel(est: Estimate, ci_method: CIMethod) -> Estimate:
    from dataclasses import replace

    return replace(est, ci_method=ci_method)


def _check_design(y: np.ndarray, a: np.ndarray, w: np.ndarray, binary: bool, measure: str,
                  exposure: str, outcome: str) -> None:
    for arm in (0, 1):
        if not (w[a == arm] > 0).any():
            raise DataValidationError(
                f"{verb_name()}(): exposure group {exposure!r} = {arm} is empty (no rows with "
                "positive "
                "weight); both groups are needed for a contrast."
            )
    if measure == "odds_ratio" and not binary:
        raise DataValidationError(
            f"{verb_name()}(): effect_measure=\"odds_ratio\" needs a binary 0/1 outcome; column "
            f"{outcome!r} (outcome) has non-binary values. Use \"difference\" or \"ratio\"."
        )
    check_outcome_variation(y, w > 0, binary, verb_name(), outcome)
    if measure in ("ratio", "odds_ratio"):
        for arm in (0, 1):
            m = a == arm
            mu = float(np.dot(w[m], y[m]) / w[m].sum())
            if mu <= 0 or (measure == "odds_ratio" and mu >= 1) or math.isnan(mu):
                raise DataValidationError(
                    f"{verb_name()}(): the {measure.replace('_', ' ')} is undefined: the mean of "
                    f"{outcome!r} (outcome) is {mu:g} when {exposure!r} = {arm}. Use "
                    "effect_measure=\"difference\"."
                )
