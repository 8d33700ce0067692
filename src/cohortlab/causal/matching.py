"""``match``: greedy nearest-neighbour propensity score matching (ATT / ATC)."""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from .._design import categorical_columns, covariate_columns
from .._typing import Measure, Missing, RandomState
from .._validation import (
    apply_missing,
    check_binary,
    check_columns,
    check_int,
    check_numeric,
    check_random_state,
    check_weights,
    verb,
    verb_name,
)
from ..exceptions import (
    DataValidationError,
    ExtremeWeightWarning,
    LowEffectiveSampleSizeWarning,
    PositivityWarning,
)
from ._match import both_arms, caliper_width, match_counts, matched_rows, score_logit
from ._nn import match_order, nearest_distance, nearest_neighbours
from ._propensity import POSITIVITY_BOUND, PropensityScore, check_arms, fit_propensity
from .match_result import DISTANCE_LABEL, MatchResult, MatchVariance

__all__ = ["match", "MatchResult"]

MatchEstimand: TypeAlias = Literal["ATT", "ATC", "ATE"]
Distance: TypeAlias = Literal["logit", "ps"]
MatchOrder: TypeAlias = Literal["data", "largest", "smallest", "random"]
#: Columns ``match`` adds to the matched cohort.
ADDED_COLUMNS = ("match_id", "match_weight", "distance")


@verb(hints={"estimand": "Nearest-neighbour matching targets the exposed (\"ATT\"), the "
                          "unexposed (\"ATC\") or, with replace=True, everyone (\"ATE\"); "
                          "for the ATO or ATM use ipw(..., estimand=...); full matching is not "
                          "available in cohortlab."})
def match(
    data: pd.DataFrame,
    *,
    exposure: str,
    covariates: str | Sequence[str] | None = None,
    ps: str | PropensityScore | None = None,
    ratio: int = 1,
    caliper: float | None = 0.2,
    replace: bool = False,
    estimand: MatchEstimand = "ATT",
    outcome: str | None = None,
    effect_measure: Measure = "difference",
    distance: Distance = "logit",
    order: MatchOrder | None = None,
    weights: str | None = None,
    reference: Any = None,
    conf_level: float = 0.95,
    random_state: RandomState = None,
    missing: Missing = "raise",
    variance: MatchVariance | None = None,
    bias_adjust: bool = False,
    ties: bool = False,
) -> MatchResult:
    """Greedy nearest-neighbour propensity score matching of a binary exposure.

    Estimand: with ``estimand="ATT"`` each exposed subject receives up to ``ratio`` unexposed
    subjects with the nearest propensity score, and the contrast of the matched arms
    estimates the average effect in the exposed, ``E[Y^1 - Y^0 | A = 1]``; ``"ATC"`` matches
    exposed subjects to each unexposed one for the effect in the unexposed; ``"ATE"`` (with
    replacement) matches every subject to the other arm for ``E[Y^1 - Y^0]``. When the caliper
    leaves focal subjects unmatched, the estimand becomes the effect in the *matched* focal
    subjects, a population defined by the data; ``result.notes`` and ``result.counts`` say
    how many were dropped, and :meth:`MatchResult.balance` shows whom they resemble.

    Algorithm (as MatchIt's ``method = "nearest"``): the distance is the logit of the
    propensity score (``distance="logit"``, MatchIt's ``link = "linear.logit"``) or the score
    itself (``"ps"``, MatchIt's default ``distance = "glm"``). The caliper is in standard
    deviations of the distance over all analysed units (MatchIt's ``std.caliper = TRUE``; 0.2
    SD of the logit is Austin's 2011 recommendation); a pair is allowed when its distance is
    at most the caliper. Without replacement, focal subjects are matched one at a time, in
    ``order`` (default ``"largest"`` score first for the ATT, ``"smallest"`` for the ATC, as
    MatchIt's ``m.order``), each to the nearest still-available control. Ties follow MatchIt's
    sorted-neighbour rule: all subjects are sorted by distance (ties in data order), and of
    two equidistant controls the one sorted before the focal subject (the lower score) wins,
    then the one sorted nearest to it. With ``ratio = k`` this runs in ``k`` rounds, each
    giving every focal subject at most one more control. With replacement every focal
    subject takes its ``k`` nearest controls. Complexity: one ``O(n log n)`` sort, then
    vectorised searches (with replacement) or amortised ``O(log n)`` per matched pair
    (without), never an ``n x n`` distance matrix.

    Identifying assumptions: conditional exchangeability given the propensity score model's
    covariates, positivity in the focal population (every focal subject has comparable
    controls) and consistency; balance after matching should be checked with
    :meth:`MatchResult.balance`.

    Variance (``outcome`` given, or :meth:`MatchResult.effect`); ``result.variance`` and the
    estimate's ``ci_method`` and notes record which one was used:

    - ``variance="abadie_imbens"``, the default with replacement (or with ``bias_adjust``):
      Abadie & Imbens (2006) for the matching estimator, which counts how often each control
      is reused, ``V = [sum_i (Y_i - Yhat_i(0) - tau)^2 + sum_j (K_j^2 - K'_j)
      sigma^2(X_j)] / N1^2`` (``K_j`` the summed weights of control ``j`` over its sets,
      ``K'_j`` their squares), with ``sigma^2(X_j)`` estimated by matching within arm (one
      match, all ties); when cohortlab fitted the logistic propensity model, the Abadie &
      Imbens (2016) term for the estimated score is added (``- c' V_theta c + d' V_theta
      d``). It assumes the matches are nearest neighbours on a continuous distance and every
      focal subject is matched (the notes warn when a caliper excluded some). R's
      ``Matching::Match(Y, Tr, X = ps, M = ratio, replace = TRUE, ties = TRUE, Var.calc =
      1)`` gives the same estimate and SE (with ``ties=True``). Mean differences without
      sampling weights only; otherwise the default falls back to the cluster SE (noted).
    - ``variance="cluster"``, the default without replacement: influence function of the
      matching-weighted arm means with clusters ``match_id`` (the matched sets), as MatchIt's
      recommended ``vcovCL(fit, cluster = ~subclass)``; the matching and the estimated
      propensity score are treated as fixed. With replacement a reused control sits in
      several clusters, and this SE ignores the dependence that reuse creates (too small:
      86% coverage of a nominal 95% in the project's own study); the notes say so.

    Bias correction (``bias_adjust=True``, Abadie & Imbens 2011): nearest-neighbour pairs
    differ a little in their covariates, which biases the estimate (by ``O(N^{-1/k})`` in
    ``k`` continuous covariates, and by the caliper's width here). A linear regression of the
    outcome on the propensity model's covariates among the matched controls (weighted by
    their use ``K_j``) predicts each pair's difference due to those covariates, which is
    subtracted: R's ``Match(..., BiasAdjust = TRUE, Z = covariates)``. For a 0/1 outcome the
    regression is logistic (AI 2011 allow any consistent regression; in ``simulate_cohort``
    the linear one removes about 3/4 of the default-caliper bias in the risk difference, the
    logistic one all of it). With precomputed scores (``ps`` a column) the regression is on
    the matching distance.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject; never modified. It must not already have the columns ``match_id``,
        ``match_weight``, ``distance``.
    exposure : str
        Binary exposure (0/1, bool, or two labels with ``reference``).
    covariates : list of str or str, optional
        Propensity score model (logistic regression): column names or a formula right-hand
        side. Give this or ``ps``.
    ps : str or PropensityScore, optional
        Precomputed scores: a column of probabilities, or a :class:`PropensityScore` (its
        trimmed rows are excluded from matching and counted as discarded).
    ratio : int
        Controls per focal subject (``k`` in k:1 matching).
    caliper : float or None
        The largest allowed distance of a pair, in standard deviations of the distance over all
        analysed subjects; ``None`` for no caliper. The default 0.2 SD of the logit is Austin's
        (2011) recommendation.
    replace : bool
        Whether a control may be matched to several focal subjects.
    estimand : {"ATT", "ATC", "ATE"}
        ``"ATE"`` (with ``replace=True`` only) matches every subject to its nearest subject(s)
        of the other arm (R Matching's ``estimand = "ATE"``); each subject's weight is then
        ``1 + K`` (itself plus its use as a match).
    outcome : str, optional
        If given, the effect is estimated and stored in ``result.estimate``.
    effect_measure : {"difference", "ratio", "odds_ratio"}
        The contrast of the matched arms' means.
    distance : {"logit", "ps"}
        Match on the logit of the propensity score (MatchIt's ``link = "linear.logit"``) or
        on the score itself (MatchIt's default).
    order : {"largest", "smallest", "data", "random"}, optional
        The order in which focal subjects are matched without replacement; default ``"largest"``
        score first for the ATT, ``"smallest"`` for the ATC (MatchIt's ``m.order``).
    weights : str, optional
        Sampling weights: used in the propensity model, and multiplied into the matching
        weights for the effect and the balance (as MatchIt's ``s.weights``).
    reference : optional
        Exposure label of the unexposed group.
    conf_level : float
        The interval's level.
    random_state : int or numpy.random.Generator, optional
        Seeds ``order="random"``.
    missing : {"raise", "drop"}
        Missing values in the exposure, covariates, scores, weights or outcome raise, or the
        rows are dropped and counted.
    variance : {"abadie_imbens", "cluster"}, optional
        Variance of the effect (see above). Default: ``"abadie_imbens"`` with replacement or
        ``bias_adjust``, else ``"cluster"``.
    bias_adjust : bool
        Abadie-Imbens (2011) regression bias correction of the effect.
    ties : bool
        With replacement: also keep every control exactly as near as the ``ratio``-th one
        (weights ``1 / k`` over the ``k`` controls of the set), as R Matching's default
        ``ties = TRUE``; ``False`` keeps ``ratio`` controls (MatchIt's rule, left one first).

    Returns
    -------
    MatchResult
        ``data`` (the matched cohort with ``match_id``, ``match_weight`` and ``distance``),
        ``counts``, ``balance()``, ``plot_balance()``, ``to_frame()``, ``summary()``,
        ``effect()`` and, with ``outcome``, ``estimate``.

    References
    ----------
    Austin PC (2011). Optimal caliper widths for propensity-score matching when estimating
    differences in means and differences in proportions in observational studies.
    *Pharmaceutical Statistics* 10:150-161. Austin PC (2011). An introduction to propensity
    score methods for reducing the effects of confounding in observational studies.
    *Multivariate Behavioral Research* 46:399-424. Stuart EA (2010). Matching methods for
    causal inference: a review and a look forward. *Statistical Science* 25:1-21. Ho DE,
    Imai K, King G, Stuart EA (2007). Matching as nonparametric preprocessing for reducing
    model dependence in parametric causal inference. *Political Analysis* 15:199-236. Ho DE,
    Imai K, King G, Stuart EA (2011). MatchIt: nonparametric preprocessing for parametric
    causal inference. *Journal of Statistical Software* 42(8).

    Examples
    --------
    >>> import cohortlab as cl
    >>> from cohortlab.causal.matching import match
    >>> lalonde = cl.datasets.load_lalonde()
    >>> m = match(lalonde, exposure="treat", outcome="re78", caliper=None, distance="ps",
    ...           covariates="age + educ + race + married + nodegree + re74 + re75")
    >>> m.counts["n_sets"], m.counts["exposed_unmatched"], m.counts["unexposed_matched"]
    (185, 0, 185)
    >>> round(float(m.balance().set_index("variable").loc["age", "smd_after"]), 4)
    0.0718
    >>> round(m.estimate.estimate, 1), m.estimate.method, m.estimate.ci_method
    (894.4, 'matching', 'wald_cluster')
    """
    ps_col = ps if isinstance(ps, str) else None
    check_columns(data, exposure=exposure, outcome=outcome, weights=weights, ps=ps_col)
    _check_options(estimand, distance, order, effect_measure, ratio, caliper, replace,
                   covariates, ps)
    _check_variance_options(variance, bias_adjust, ties, replace)
    order = order or ("largest" if estimand == "ATT" else "smallest")
    cov_cols = (covariate_columns(covariates, data, verb_name()) if covariates is not None
                else list(ps.covariate_columns) if isinstance(ps, PropensityScore) else [])
    clash = [c for c in ADDED_COLUMNS if c in data.columns]
    if clash:
        raise DataValidationError(
            f"{verb_name()}(): data already has column(s) {clash}, which match() adds to the "
            "matched "
            "cohort. Rename them first."
        )
    used = [exposure, *cov_cols] + [c for c in (ps_col, weights, outcome) if c]
    frame, dropped = apply_missing(data, used, missing)
    a = _exposure(frame, exposure, reference)
    s = check_weights(frame, weights) if weights else np.ones(len(frame))
    if outcome is not None:
        check_numeric(frame, outcome, "outcome")
    score, dist, eligible, ps_obj, desc = _scores(frame, a, exposure, covariates, ps, distance,
                                                  weights, reference, estimand)
    focal = a == (1 if estimand == "ATT" else 0)
    check_arms(a[eligible], exposure, verb_name(), after="excluding the trimmed rows"
               if not eligible.all() else None)
    width = caliper_width(dist[eligible], caliper)
    rng = check_random_state(random_state)
    seq = match_order(dist[focal], order, rng)
    nn = nearest_neighbours(dist, focal, ratio=int(ratio), width=width, replace=bool(replace),
                            order=seq, eligible=eligible, ties=bool(ties))
    if estimand == "ATE":  # the exposed matched too: every subject is focal
        nn = both_arms(nn, nearest_neighbours(dist, ~focal, ratio=int(ratio), width=width,
                                               replace=True, eligible=eligible,
                                               ties=bool(ties)))
    if not (nn.controls[:, 0] >= 0).any():
        _raise_no_match(dist, focal, eligible, caliper, width, distance)
    row_pos, ids, w_rows, unit_w = matched_rows(nn, len(frame))
    cohort = _cohort(frame, row_pos, ids, w_rows, dist)
    counts = match_counts(a, eligible, nn, row_pos, int(ratio), estimand)
    notes = _notes(counts, estimand, int(ratio), bool(replace), caliper, score, a)
    result = MatchResult(
        data=cohort, exposure_name=exposure, estimand=estimand, ratio=int(ratio),
        replace=bool(replace), caliper=None if caliper is None else float(caliper),
        caliper_width=None if caliper is None else width, distance=distance,
        order="data" if replace else order, counts=counts, covariate_columns=tuple(cov_cols),
        categorical=tuple(_categorical(covariates, ps, frame)), model_description=desc,
        conf_level=conf_level, propensity=ps_obj, dropped=dropped, notes=notes,
        _units=frame, _a=a, _dist=dist, _unit_weight=unit_w * s, _row_a=a[row_pos],
        _row_s=s[row_pos], _row_pos=row_pos, _eligible=eligible,
        variance=variance or ("abadie_imbens" if replace or bias_adjust else "cluster"),
        _variance_auto=variance is None, bias_adjust=bool(bias_adjust), ties=bool(ties),
    )
    if outcome is not None:
        est = result.effect(outcome, effect_measure=effect_measure)
        result = dataclasses.replace(result, estimate=est)
    return result


# ---------------------------------------------------------------------- helpers
def _check_options(estimand: Any, distance: Any, order: Any, effect_measure: Any, ratio: Any,
                   caliper: Any, replace: Any, covariates: Any, ps: Any) -> None:
    if estimand == "ATE" and replace is False:
        raise DataValidationError(
            f"{verb_name()}(): estimand=\"ATE\" matches every subject to its nearest subject(s) "
            "of the other arm, which needs replace=True; or use ipw(..., estimand=\"ATE\").")
    check_int(ratio, "ratio", 1, hint="It is the number of controls per focal subject; use "
              "ratio=1 for pair matching.")
    if caliper is not None:
        ok = isinstance(caliper, numbers.Real) and not isinstance(caliper, bool)
        if not ok or not math.isfinite(float(caliper)) or float(caliper) <= 0:
            raise DataValidationError(
                f"{verb_name()}(): caliper must be a positive number of standard deviations of the "
                f"distance, or None for no caliper; got {caliper!r}. Austin (2011) recommends "
                "caliper=0.2 on the logit of the propensity score."
            )
    if not isinstance(replace, (bool, np.bool_)):
        raise DataValidationError(f"{verb_name()}(): replace must be True or False; got "
                                  f"{replace!r}.")
    if (covariates is None) == (ps is None):
        got = "both" if covariates is not None else "neither"
        raise DataValidationError(
            f"{verb_name()}(): give the propensity score model as covariates=... or precomputed "
            f"scores as ps=... (a column name or a PropensityScore); got {got}."
        )
    if ps is not None and not isinstance(ps, (str, PropensityScore)):
        raise DataValidationError(
            f"{verb_name()}(): ps must be a column name or a PropensityScore; got "
            f"{type(ps).__name__}."
        )


def _check_variance_options(variance: Any, bias_adjust: Any, ties: Any, replace: Any) -> None:
    for name, v in (("bias_adjust", bias_adjust), ("ties", ties)):
        if not isinstance(v, (bool, np.bool_)):
            raise DataValidationError(f"{verb_name()}(): {name} must be True or False; got {v!r}.")
    if ties and not replace:
        raise DataValidationError(
            f"{verb_name()}(): ties=True keeps every equally near control, which needs matching "
            "with replacement; pass replace=True, or ties=False.")
    if bias_adjust and variance == "cluster":
        raise DataValidationError(
            f"{verb_name()}(): bias_adjust=True needs variance=\"abadie_imbens\" (the cluster SE "
            "does not account for the regression adjustment); got variance=\"cluster\".")


def _exposure(frame: pd.DataFrame, exposure: str, reference: Any) -> np.ndarray:
    """Exposure as 0/1; a column holding only one of 0/1 gets the empty-arm message."""
    levels = pd.unique(frame[exposure].dropna())
    if len(levels) == 1 and reference is None and levels[0] in (0, 1):
        check_arms(np.array([int(levels[0])]), exposure, verb_name())
    return check_binary(frame, exposure, "exposure", reference=reference)


def _scores(frame: pd.DataFrame, a: np.ndarray, exposure: str, covariates: Any, ps: Any,
            distance: str, weights: str | None, reference: Any,
            estimand: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any, str]:
    """Scores, matching distance, eligibility, the PropensityScore (if any) and a label."""
    eligible = np.ones(len(frame), dtype=bool)
    eta = None
    if covariates is not None:
        with warnings.catch_warnings():  # extreme scores are reported in the notes instead
            warnings.simplefilter("ignore", PositivityWarning)
            # the fragility warnings are about weights, which matching does not use
            warnings.simplefilter("ignore", ExtremeWeightWarning)
            warnings.simplefilter("ignore", LowEffectiveSampleSizeWarning)
            s = check_weights(frame, weights) if weights else np.ones(len(frame))
            ps_obj = fit_propensity(frame, a, s, covariates, func=verb_name(), exposure=exposure,
                                    estimand=estimand, weighted=weights is not None)
        e, eta, desc = ps_obj.scores.to_numpy(), _linear_predictor(ps_obj), \
            ps_obj.model_description
    elif isinstance(ps, PropensityScore):
        ps_obj, desc = ps, ps.model_description
        e, eligible = _aligned(ps, frame, exposure)
        if ps.scores.index.equals(frame.index):
            eta = _linear_predictor(ps)
    else:
        ps_obj, desc = None, f"scores in column {ps!r}"
        e = check_numeric(frame, ps, "ps")
    _check_scores(e, distance, ps if isinstance(ps, str) else "propensity score")
    if distance == "ps":
        return e, e, eligible, ps_obj, desc
    if eta is None:
        with np.errstate(divide="ignore"):
            eta = score_logit(e)
    return e, eta, eligible, ps_obj, desc


def _linear_predictor(ps: PropensityScore) -> np.ndarray:
    """Logit of the scores: ``X @ coef`` for the logistic model (exact near 0 and 1)."""
    if ps._fit is not None and ps._design is not None:
        return score_logit(ps.scores.to_numpy(), ps._design.X, ps._fit.coef)
    return score_logit(ps.scores.to_numpy())


def _aligned(ps: PropensityScore, frame: pd.DataFrame,
             exposure: str) -> tuple[np.ndarray, np.ndarray]:
    if ps.exposure_name != exposure:
        raise DataValidationError(
            f"{verb_name()}(): ps was fitted for exposure {ps.exposure_name!r}, not {exposure!r}. "
            "Pass the PropensityScore of this exposure."
        )
    idx = ps.scores.index
    if not idx.is_unique or not frame.index.isin(idx).all():
        n_out = int((~frame.index.isin(idx)).sum())
        raise DataValidationError(
            f"{verb_name()}(): ps does not cover the analysed rows ({n_out:,} rows of data have no "
            "score, or the index has duplicates). Fit the PropensityScore on the same data "
            "(and the same missing-value handling)."
        )
    return ps.scores.reindex(frame.index).to_numpy(), ps.kept.reindex(frame.index).to_numpy()


def _check_scores(e: np.ndarray, distance: str, name: str) -> None:
    bad = int((~np.isfinite(e) | (e < 0) | (e > 1)).sum())
    if bad:
        raise DataValidationError(
            f"{verb_name()}(): {bad:,} values of {name!r} (ps) are not probabilities in [0, 1]. "
            "Pass "
            "propensity scores (not their logits), or covariates=... to fit the model."
        )
    edge = int(((e == 0) | (e == 1)).sum())
    if edge and distance == "logit":
        raise DataValidationError(
            f"{verb_name()}(): {edge:,} propensity scores are exactly 0 or 1, whose logit is "
            "infinite. Use distance=\"ps\", or restrict the cohort to the region of overlap."
        )


def _raise_no_match(dist: np.ndarray, focal: np.ndarray, eligible: np.ndarray,
                    caliper: float | None, width: float, distance: str) -> None:
    near = nearest_distance(dist, focal, eligible)
    near = near[eligible[focal]]
    closest = float(near.min()) if near.size else math.inf
    sd = width / float(caliper) if caliper else math.nan
    need = closest / sd if sd > 0 else math.inf
    raise DataValidationError(
        f"{verb_name()}(): no focal subject has a control within the caliper (caliper={caliper:g} "
        "SD "
        f"of the {DISTANCE_LABEL[distance]} = {width:.4g}); the closest pair is "
        f"{closest:.4g} apart ({need:.3g} SD). Widen the caliper (e.g. caliper="
        f"{math.ceil(need * 10) / 10:g}) or pass caliper=None, and check the overlap of the "
        "propensity scores."
    )


def _cohort(frame: pd.DataFrame, pos: np.ndarray, ids: np.ndarray, w: np.ndarray,
            dist: np.ndarray) -> pd.DataFrame:
    """The matched cohort: the rows at ``pos`` with ``match_id``, ``match_weight``, ``distance``."""
    cohort = frame.iloc[pos].copy()
    cohort["match_id"] = ids.astype(np.int64)
    cohort["match_weight"] = w
    cohort["distance"] = dist[pos]
    return cohort


def _notes(c: Mapping[str, int], estimand: str, ratio: int, with_replacement: bool,
           caliper: float | None, score: np.ndarray, a: np.ndarray) -> tuple[str, ...]:
    if estimand == "ATE":
        return _notes_ate(c, score)
    focal, ctrl = ("exposed", "unexposed") if estimand == "ATT" else ("unexposed", "exposed")
    n_focal = c[f"n_{focal}"] - c[f"discarded_{focal}"]
    notes = [f"{c[f'{focal}_matched']:,} of {n_focal:,} {focal} subjects matched to "
             f"{c[f'{ctrl}_matched']:,} of {c[f'n_{ctrl}']:,} {ctrl} subjects "
             f"({c['n_sets']:,} matched sets, {c['n_rows']:,} rows)"]
    lost = n_focal - c[f"{focal}_matched"]
    if lost:
        why = []
        left = "" if with_replacement else "still-available "
        if c["unmatched_caliper"]:
            why.append(f"{c['unmatched_caliper']:,} with no {left}{ctrl} subject within the "
                       "caliper")
        if c["unmatched_no_control"]:
            why.append(f"{c['unmatched_no_control']:,} with no {ctrl} subject left")
        notes.append(
            f"{lost:,} {focal} subjects unmatched ({'; '.join(why)}) and excluded: the "
            f"estimand is the {estimand} of the {c[f'{focal}_matched']:,} matched {focal} "
            f"subjects, not of all {n_focal:,}")
    n_ctrl = c[f"n_{ctrl}"] - c[f"discarded_{ctrl}"]
    if not with_replacement and n_ctrl < ratio * n_focal:
        notes.append(f"only {n_ctrl:,} {ctrl} subjects for {n_focal:,} {focal} subjects at "
                     f"{ratio}:1 without replacement: not every {focal} subject can get "
                     f"{ratio} match{'es' if ratio > 1 else ''} (replace=True lifts this)")
    notes += _discarded_notes(c)
    if c["incomplete_sets"]:
        notes.append(f"{c['incomplete_sets']:,} matched sets have fewer than {ratio} "
                     f"{ctrl} subjects (weights 1/k per set)")
    if with_replacement and c["controls_reused"]:
        notes.append(f"{c['controls_reused']:,} {ctrl} subjects matched more than once "
                     f"(at most {c['max_reuse']:,} times)")
    return (*notes, *_positivity_notes(score, "; extreme focal subjects are the likeliest to "
                                               "stay unmatched"))


def _notes_ate(c: Mapping[str, int], score: np.ndarray) -> tuple[str, ...]:
    n_e = c["n_exposed"] - c["discarded_exposed"]
    n_u = c["n_unexposed"] - c["discarded_unexposed"]
    notes = [f"{c['exposed_matched']:,} of {n_e:,} exposed and {c['unexposed_matched']:,} of "
             f"{n_u:,} unexposed subjects matched, each to the other arm ({c['n_sets']:,} "
             f"matched sets, {c['n_rows']:,} rows)"]
    lost = n_e + n_u - c["n_sets"]  # subjects with no match of their own
    if lost:
        notes.append(f"{lost:,} subjects with no subject of the other arm within the caliper "
                     "excluded: the estimand is the ATE of the matched subjects")
    notes += _discarded_notes(c)
    if c["controls_reused"]:
        notes.append(f"{c['controls_reused']:,} subjects used as a match more than once (at "
                     f"most {c['max_reuse']:,} times)")
    return (*notes, *_positivity_notes(score, ""))


def _discarded_notes(c: Mapping[str, int]) -> list[str]:
    """The subjects a trimmed ``ps`` excluded before matching (none: no note)."""
    disc = c["discarded_exposed"] + c["discarded_unexposed"]
    if not disc:
        return []
    return [f"{disc:,} subjects excluded before matching (trimmed in the PropensityScore "
            "passed as ps)"]


def _positivity_notes(score: np.ndarray, why: str) -> tuple[str, ...]:
    """How many scores lie beyond the positivity bound on either side (none: no note)."""
    low = int((score < POSITIVITY_BOUND).sum())
    high = int((score > 1 - POSITIVITY_BOUND).sum())
    if not (low or high):
        return ()
    return (f"{low:,} subjects have propensity score < {POSITIVITY_BOUND} and "
            f"{high:,} > {1 - POSITIVITY_BOUND}{why}",)


def _categorical(covariates: Any, ps: Any, frame: pd.DataFrame) -> list[str]:
    if covariates is not None:
        return categorical_columns(covariates, frame)
    if isinstance(ps, PropensityScore):
        return list(ps.categorical)
    return []
