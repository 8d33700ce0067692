"""Paired comparisons of models evaluated on the same rows: AUROC, C-indices, AUC(t), Brier(t).

``compare_classifiers`` tests the difference of correlated AUROCs by DeLong's method (R pROC
``roc.test(paired = TRUE)``); ``compare_survival_models`` takes differences of Harrell's and
Uno's C, AUC(t) and Brier(t) with the variance of the difference of the per-subject influence
values (R ``survival::concordance`` on two predictors, riskRegression ``Score`` contrasts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from .._typing import CIMethod, EffectMeasure, Missing
from .._validation import (
    apply_missing,
    check_columns,
    check_numeric,
    check_time_event,
    verb,
    verb_name,
)
from ..exceptions import DataValidationError
from ..inference.wald import wald, z_critical
from ..results.estimate import Estimate, EstimateTable
from ..survival._aipw import censoring_km
from . import _classifier_checks as ck
from . import _paired as kp
from . import _survival_metrics as sm
from .survival_model import _check_followup, _check_risk

__all__ = ["compare_classifiers", "compare_survival_models"]


def _models(value: Any, argument: str, func: str, what: str) -> list[str]:
    ok = (isinstance(value, Sequence) and not isinstance(value, (str, bytes))
          and len(value) >= 2 and all(isinstance(v, str) for v in value))
    if not ok:
        raise DataValidationError(
            f"{func}(): {argument} must list at least two {what} columns to compare; got "
            f"{value!r}. Pass e.g. {argument}=['model_a', 'model_b'].")
    if len(set(value)) < len(value):
        raise DataValidationError(
            f"{func}(): {argument} names the same column twice; got {list(value)!r}. A model "
            "compared with itself has a difference of exactly 0; pass distinct columns.")
    return list(value)


def _row(term: str, est: float, var: float, *, null: float | None, measure: str,
         ci_method: CIMethod, conf_level: float, clip: tuple[float, float] | None, method: str,
         n: int, n_events: int, labels: Mapping[str, Any], **extra: float) -> Estimate:
    """A Wald row: ``est -/+ z sqrt(var)``, clipped to ``clip``; z-test of ``null``."""
    se = math.sqrt(var) if np.isfinite(var) and var >= 0 else math.nan
    z = z_critical(conf_level)
    lo, hi = est - z * se, est + z * se  # a zero SE keeps its point interval
    if clip is not None and np.isfinite(se):
        lo, hi = max(lo, clip[0]), min(hi, clip[1])
    stat = pv = math.nan
    if null is not None:  # NaN where the SE is zero or not finite
        test = wald(est, se, conf_level, null)
        stat, pv = float(test.statistic), float(test.p_value)
    return Estimate(
        term=term, estimate=float(est), std_error=float(se), conf_low=float(lo),
        conf_high=float(hi), conf_level=conf_level, statistic=float(stat), p_value=pv,
        effect_measure=cast(EffectMeasure, measure), method=method, ci_method=ci_method, n=n,
        n_events=n_events,
        labels=dict(labels), extra={k: float(v) for k, v in extra.items()})


def _pairs(k: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(k) for j in range(i + 1, k)]


# ---------------------------------------------------------------------- classifiers


@verb
def compare_classifiers(
    data: pd.DataFrame,
    *,
    label: str,
    scores: Sequence[str],
    conf_level: float = 0.95,
    missing: Missing = "raise",
) -> EstimateTable:
    """Compare the AUROCs of two or more scores on the same rows (paired DeLong test).

    Each score's AUROC, ``P(score of a random positive > score of a random negative)`` (ties
    half; a higher score means a positive), and for every pair ``(a, b)`` in the order given
    the difference ``AUROC_a - AUROC_b``. The AUROCs of scores computed on the same rows are
    correlated; the covariance comes from the DeLong structural components (placements)
    of both scores: with ``V10`` (positives) and ``V01`` (negatives) their placements,
    ``cov = S10 / n1 + S01 / n0``, ``S`` the sample covariance matrices of the placements
    (denominator ``n - 1``) (DeLong, DeLong & Clarke-Pearson 1988; Sun & Xu 2014, O(n log n)).
    The difference has the Wald interval ``d -/+ z sqrt(var_a + var_b - 2 cov_ab)`` and the
    z-test of ``d = 0``: R pROC ``roc.test(roc_a, roc_b, method = "delong", paired = TRUE)``
    (same ``statistic``, ``p_value`` and ``conf.int``; pROC picks each ROC's direction
    from the data unless ``direction = "<"``: here a higher score always means a positive).

    The scores may be any real numbers (probabilities, logits, a 1-5 grade): the AUROC depends
    on their order only. Pairs are not adjusted for multiplicity.

    Assumptions: rows are independent; the scores were not fitted on these rows.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject.
    label : str
        Column of observed outcomes coded 0/1 (or bool).
    scores : sequence of str
        Two or more numeric score columns, higher = more likely positive. Any real numbers
        (probabilities, logits, a 1-5 grade): the AUROC depends only on their order.
    conf_level : float
        Confidence level of every interval.
    missing : {"raise", "drop"}
        Missing values in ``label`` or any score raise, or drop and count the rows (the same
        rows for every score, so the comparison stays paired).

    Returns
    -------
    EstimateTable
        One row per score (``effect_measure == "auroc"``, term the column name, CI clipped to
        [0, 1], ``p_value`` tests 0.5) then one per pair (``"auroc_difference"``, term
        ``"a - b"``, ``p_value`` tests 0; ``extra["correlation"]`` is the correlation of the
        two AUROCs). Labels ``metric`` and ``model``.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> y = rng.integers(0, 2, 400)
    >>> d = pd.DataFrame({"y": y, "a": y + rng.normal(size=400),
    ...                   "b": 0.5 * y + rng.normal(size=400)})
    >>> res = compare_classifiers(d, label="y", scores=["a", "b"])
    >>> diff = res["a - b"]
    >>> round(diff.estimate, 3), round(diff.p_value, 4)
    (0.125, 0.0011)
    """
    cols = _models(scores, "scores", verb_name(), "score")
    check_columns(data, verb_name(), label=label, scores=cols)
    frame, dropped = apply_missing(data, [label, *cols], missing, verb_name())
    y = ck.check_label(frame, label, verb_name())
    x = np.column_stack([check_numeric(frame, c, "score", verb_name()) for c in cols])
    n, n1 = int(y.size), int(y.sum())
    if n1 == 0 or n1 == n:
        which = "no positives (label 1)" if n1 == 0 else "no negatives (label 0)"
        raise DataValidationError(
            f"{verb_name()}(): the data have {which} in column {label!r}; got {n:,} rows. The "
            "AUROC "
            "is undefined; check the label coding.")
    auc, cov = kp.delong_cov(x, y)
    notes = []
    if not np.all(np.isfinite(cov)):
        notes.append("fewer than 2 positives or negatives: no DeLong variance")
    common: dict[str, Any] = {"conf_level": conf_level, "method": "compare_classifiers",
                              "ci_method": "delong", "n": n, "n_events": n1}
    rows = [_row(c, auc[i], cov[i, i], null=0.5, measure="auroc", clip=(0.0, 1.0),
                 labels={"metric": "auroc", "model": c}, **common)
            for i, c in enumerate(cols)]
    for i, j in _pairs(len(cols)):
        with np.errstate(invalid="ignore", divide="ignore"):
            r = cov[i, j] / math.sqrt(cov[i, i] * cov[j, j])
        rows.append(_row(f"{cols[i]} - {cols[j]}", auc[i] - auc[j], kp.contrast_var(cov, i, j),
                         null=0.0, measure="auroc_difference", clip=None,
                         labels={"metric": "auroc", "model": f"{cols[i]} - {cols[j]}"},
                         correlation=r, **common))
        if np.isfinite(cov[i, j]) and kp.contrast_var(cov, i, j) == 0.0:
            notes.append(f"{cols[i]} - {cols[j]}: the two scores rank the rows identically "
                         "(variance of the difference 0); no test")
    return EstimateTable(rows=tuple(rows), title=f"paired AUROC comparison vs {label}",
                         dropped=dropped, notes=tuple(notes))


# ---------------------------------------------------------------------- survival models
_CI_SRV: dict[str, CIMethod] = {
    "harrell_c": "infinitesimal_jackknife", "uno_c": "infinitesimal_jackknife",
    "auc": "influence_function", "brier": "influence_function"}


def _risk_maps(risks: Any, times: Any, k: int | None) -> tuple[np.ndarray, list[dict[float, str]]]:
    """Validate ``times`` and ``risks`` (one str or {time: column} per model)."""
    grid = np.array([])
    if times is not None:
        bad = isinstance(times, (str, bytes, bool))
        try:
            grid = np.atleast_1d(np.asarray(times, dtype=float))
        except (TypeError, ValueError):
            bad = True
        if (bad or grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid))
                or np.any(grid <= 0)):
            raise DataValidationError(
                f"{verb_name()}(): times must be positive finite numbers in times; got {times!r}. "
                "Pass e.g. times=[180, 365].")
        grid = np.unique(grid)
    if risks is None:
        return grid, []
    if not (isinstance(risks, Sequence) and not isinstance(risks, (str, bytes))
            and len(risks) >= 2 and all(isinstance(r, (str, Mapping)) for r in risks)):
        raise DataValidationError(
            f"{verb_name()}(): risks must list one predicted-risk column (or {{time: column}} "
            "mapping) "
            f"per model, at least two; got {risks!r}. Pass e.g. risks=['risk_a', 'risk_b'] "
            "with times=[t].")
    if k is not None and len(risks) != k:
        raise DataValidationError(
            f"{verb_name()}(): risks must have one entry per score (model) in risks; got "
            f"{len(risks)} "
            f"risks for {k} scores. Pass them in the same order.")
    maps = []
    for r in risks:
        if isinstance(r, str):
            if grid.size != 1:
                raise DataValidationError(
                    f"{verb_name()}(): a single risk column predicts a single time in times; got "
                    f"risks entry {r!r} with times={times!r}. Pass times=[t], or "
                    "risks=[{t1: col, t2: col}, ...] for several times.")
            maps.append({float(grid[0]): r})
        else:
            maps.append({float(t): c for t, c in r.items()})
    keys = set(maps[0])
    if any(set(m) != keys for m in maps) or (grid.size and set(grid.tolist()) != keys):
        raise DataValidationError(
            f"{verb_name()}(): every model's risks must predict the same times in risks; got "
            f"{[sorted(m) for m in maps]} (times={times!r}). Give each model a risk column "
            "for each time.")
    return np.array(sorted(keys)), maps


@verb
def compare_survival_models(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    scores: Sequence[str] | None = None,
    risks: Sequence[str | Mapping[float, str]] | None = None,
    times: Sequence[float] | np.ndarray | float | None = None,
    names: Sequence[str] | None = None,
    conf_level: float = 0.95,
    missing: Missing = "raise",
) -> EstimateTable:
    """Compare two or more survival models on the same rows: paired metric differences.

    For each model, the metrics of :func:`cohortlab.evaluate_survival_model` (same
    definitions), and for every pair ``(a, b)`` in the order given their difference
    ``a - b``:

    - ``harrell_c`` and ``uno_c`` (Uno's C truncated at tau = max(``times``), or all
      follow-up), from ``scores`` (higher = earlier event). The variance of the difference is
      ``sum_k (D_ak - D_bk)^2`` with ``D_k`` each subject's infinitesimal-jackknife value (the
      derivative of C with respect to its case weight, time weights held fixed), as the
      variance matrix of R ``survival::concordance(Surv(time, event) ~ a + b, reverse = TRUE)``
      (``timewt = "n/G2", ymax = tau`` for Uno).
    - ``auc`` at each time: the IPCW cumulative/dynamic AUC(t) from the predicted risks (or
      the scores when no risks are given); ``brier`` at each time from the risks. The SE of
      the difference is ``sd(psi_a - psi_b) / sqrt(n)`` with ``psi`` the influence functions
      including the Kaplan-Meier censoring weights (riskRegression ``Score(...,
      conservative = FALSE)`` contrasts).

    Wald intervals; ``p_value`` tests a difference of 0 (and C, AUC = 0.5 for the single
    models). Pairs are not adjusted for multiplicity. A smaller Brier score is better, so a
    negative Brier difference favours ``a``.

    Assumptions: independent rows; censoring independent of event time and predictors; the
    models were not fitted on these rows.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject.
    time, event : str
        Follow-up time (>= 0) and event indicator (0 = censored, 1 = event).
    scores : sequence of str, optional
        One risk-score column per model, higher = higher risk (e.g. Cox linear predictors):
        Harrell's and Uno's C, and AUC(t) when no risks are given.
    risks : sequence of str or of mapping {time: str}, optional
        One entry per model (same order as ``scores``): its predicted absolute risk by each
        time, a column (with a single time in ``times``) or a mapping ``{time: column}``.
        At least one of ``scores`` and ``risks``.
    times : sequence of float, optional
        Horizons for AUC(t) and Brier(t) (default: the keys of the risk mappings).
    names : sequence of str, optional
        Model names for the terms (default: the score columns, else the risk columns of a
        single time, else ``model_1, model_2, ...``).
    conf_level : float
        Confidence level of every interval.
    missing : {"raise", "drop"}
        Missing values in the used columns raise, or drop and count the rows (the same rows
        for every model).

    Returns
    -------
    EstimateTable
        Rows with labels ``metric``, ``time`` (NaN for Harrell's C, tau for Uno's C) and
        ``model`` (a name, or ``"a - b"`` for a difference, ``effect_measure`` e.g.
        ``"harrell_c_difference"``).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> x = rng.normal(size=800)
    >>> tt = rng.exponential(1 / np.exp(x))
    >>> c = rng.exponential(2.0, size=800)
    >>> d = pd.DataFrame({"t": np.minimum(tt, c), "e": (tt <= c).astype(int), "lp_a": x,
    ...                   "lp_b": x + rng.normal(size=800)})
    >>> res = compare_survival_models(d, time="t", event="e", scores=["lp_a", "lp_b"],
    ...                               times=[1.0])
    >>> f = res.to_frame().set_index("term")
    >>> round(float(f.loc["harrell_c: lp_a - lp_b", "estimate"]), 3)
    0.072
    >>> float(f.loc["harrell_c: lp_a - lp_b", "p_value"]) < 0.001
    True
    """
    if scores is None and risks is None:
        raise DataValidationError(
            f"{verb_name()}(): nothing to compare in scores/risks; got scores=None and risks=None. "
            "Pass scores= (one risk score per model) and/or risks= (predicted risks).")
    cols = None if scores is None else _models(scores, "scores", verb_name(), "score")
    grid, rmaps = _risk_maps(risks, times, None if cols is None else len(cols))
    k = len(cols) if cols is not None else len(rmaps)
    labels = _names(names, cols, rmaps, k)
    risk_cols = [c for m in rmaps for c in m.values()]
    check_columns(data, verb_name(), time=time, event=event, scores=cols, risks=risk_cols)
    used = [time, event, *(cols or []), *risk_cols]
    frame, dropped = apply_missing(data, list(dict.fromkeys(used)), missing, verb_name())
    t, d = check_time_event(frame, time, event, verb_name())
    d = np.asarray(d, dtype=np.int64)
    xs = [check_numeric(frame, c, "score", verb_name()) for c in cols] if cols is not None else []
    preds = [{tk: _check_risk(frame, c, verb_name()) for tk, c in m.items()} for m in rmaps]
    _check_followup(t, d, grid, time, "the data", verb_name())
    n, n1 = int(t.size), int(d.sum())
    common: dict[str, Any] = {"conf_level": conf_level, "method": "compare_survival_models",
                              "n": n, "n_events": n1}
    notes: list[str] = []

    # per model: (metric, time) -> (estimate, influence, variance from influence)
    est: list[dict[tuple[str, float], tuple[float, Any]]] = [{} for _ in range(k)]
    tau = float(grid.max()) if grid.size else None
    if xs:
        if tau is None:
            notes.append("uno_c: no times given, so not truncated (tau = the last follow-up "
                         "time); its weights 1 / G^2 can be unstable in the tail")
        for m, x in enumerate(xs):  # a few models, not rows
            h, u = sm.c_indices(t, d, x, [(None, False), (tau, True)])
            est[m][("harrell_c", math.nan)] = (h.estimate, h.influence)
            est[m][("uno_c", tau if tau is not None else float(t.max()))] = (
                u.estimate, u.influence)
    gkm = censoring_km(t, d, np.ones(n))
    for tk in grid.tolist():
        for m in range(k):
            p = preds[m].get(tk) if preds else None
            if p is None and not xs:
                continue
            a, psi = sm.ipcw_auc(t, d, xs[m] if p is None else p, tk, gkm)
            est[m][("auc", tk)] = (a, psi / n)  # scaled so that var = sum(psi^2) approx
            if p is not None:
                b, psi_b = sm.ipcw_brier(t, d, p, tk, gkm)
                est[m][("brier", tk)] = (b, psi_b / n)

    rows: list[Estimate] = []
    for metric, tk in est[0]:
        ci_method = _CI_SRV[metric]
        clip = (0.0, 1.0) if metric != "brier" else None
        null = 0.5 if metric != "brier" else None
        for m in range(k):
            e, inf = est[m][(metric, tk)]
            rows.append(_row(f"{metric}: {labels[m]}", e, _var(metric, inf), null=null,
                             measure=metric, ci_method=ci_method, clip=clip,
                             labels={"metric": metric, "time": tk, "model": labels[m]},
                             **common))
        for i, j in _pairs(k):
            (ei, ii), (ej, ij) = est[i][(metric, tk)], est[j][(metric, tk)]
            vi, vj, vd = _var(metric, ii), _var(metric, ij), _var(metric, ii - ij)
            with np.errstate(invalid="ignore", divide="ignore"):
                r = (vi + vj - vd) / 2 / math.sqrt(vi * vj)
            name = f"{labels[i]} - {labels[j]}"
            rows.append(_row(f"{metric}: {name}", ei - ej, vd, null=0.0,
                             measure=f"{metric}_difference", ci_method=ci_method, clip=None,
                             labels={"metric": metric, "time": tk, "model": name},
                             correlation=r, **common))
    return EstimateTable(rows=tuple(rows), title="paired comparison of survival models",
                         dropped=dropped, notes=tuple(dict.fromkeys(notes)))


def _var(metric: str, inf: np.ndarray) -> float:
    """Variance from influence values: IJ ``sum D^2`` for C, ``var(psi) / n`` otherwise.

    The IPCW influence functions are stored divided by ``n`` so both are sums of squares;
    AUC(t) and Brier(t) centre them and use the ``n - 1`` denominator (riskRegression's
    ``sd(IF) / sqrt(n)``).
    """
    if metric in ("harrell_c", "uno_c"):
        return float(np.sum(inf ** 2))
    n = inf.size
    return float(np.var(inf * n, ddof=1) / n)


def _names(names: Any, cols: list[str] | None, rmaps: list[dict[float, str]], k: int
           ) -> list[str]:
    if names is not None:
        ok = (isinstance(names, Sequence) and not isinstance(names, (str, bytes))
              and len(names) == k and all(isinstance(v, str) for v in names)
              and len(set(names)) == k)
        if not ok:
            raise DataValidationError(
                f"{verb_name()}(): names must be {k} distinct strings, one per model, in names; "
                "got "
                f"{names!r}. Pass e.g. names=['model A', 'model B'].")
        return list(names)
    if cols is not None:
        return cols
    if rmaps and all(len(m) == 1 for m in rmaps):
        return [next(iter(m.values())) for m in rmaps]
    return [f"model_{i + 1}" for i in range(k)]
