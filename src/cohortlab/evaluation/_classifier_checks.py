"""Input checks of ``evaluate_classifier`` (label, score, thresholds, classes per level)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_int, check_numeric, verb_name
from ..exceptions import DataValidationError
from . import _metrics as km
from ._levels import OVERALL


def check_label(data: pd.DataFrame, column: str, func: str | None = None) -> np.ndarray:
    func = verb_name(func)
    s = data[column]
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float)
    vals = pd.unique(s)
    ok = pd.api.types.is_numeric_dtype(s) and set(vals.tolist()) <= {0, 1}
    if not ok:
        shown = ", ".join(map(repr, sorted(vals.tolist(), key=str)[:6]))
        raise DataValidationError(
            f"{func}(): column {column!r} (label) must be coded 0/1 (or bool); got "
            f"{len(vals)} distinct values [{shown}{', ...' if len(vals) > 6 else ''}]. "
            f"Recode it, e.g. data[{column!r}] = data[{column!r}].eq(<the positive label>)."
        )
    return s.to_numpy(dtype=float)


def check_score(data: pd.DataFrame, column: str, probability: bool = True) -> np.ndarray:
    """The score as floats; with ``probability`` (calibration requested) it must be in [0, 1]."""
    p = check_numeric(data, column, "score")
    if not probability:
        return p
    lo, hi = float(p.min()), float(p.max())
    if lo < 0.0 or hi > 1.0:
        raise DataValidationError(
            f"{verb_name()}(): column {column!r} (score) must be a predicted probability in [0, "
            "1]; "
            f"got values in [{lo:.4g}, {hi:.4g}]. Calibration, Brier score and net benefit "
            "need probabilities. For a raw score (a logit, a grade) pass "
            "metrics='discrimination' (AUROC, AUPRC and threshold metrics need only its "
            "order), or map it to a probability first, e.g. scipy.special.expit() of a logit, "
            "or a recalibration model."
        )
    return p


def check_thresholds(
    threshold: Any, thresholds: Any, n_bins: Any, probability: bool = True
) -> tuple[float | None, np.ndarray]:
    """Validate the decision threshold, the net-benefit grid and ``n_bins``.

    With ``probability=False`` (``metrics="discrimination"``) the threshold is on the score's
    own scale (any finite number) and there is no net-benefit grid.
    """
    if threshold is not None:
        ok = isinstance(threshold, numbers.Real) and not isinstance(threshold, bool)
        if probability and (not ok or not 0.0 <= float(threshold) <= 1.0):
            raise DataValidationError(
                f"{verb_name()}(): threshold must be a probability in [0, 1]; got {threshold!r}. "
                "Pass e.g. threshold=0.2 (a score >= threshold counts as a positive), or "
                "metrics='discrimination' for a threshold on a raw score's scale."
            )
        if not ok or not np.isfinite(float(threshold)):
            raise DataValidationError(
                f"{verb_name()}(): threshold must be a finite number on the score's scale; got "
                f"{threshold!r}. Pass e.g. threshold=4 (a score >= threshold is a positive)."
            )
        threshold = float(threshold)
    if not probability:
        if thresholds is not None:
            raise DataValidationError(
                f"{verb_name()}(): thresholds (net benefit) need predicted probabilities; got "
                f"thresholds={thresholds!r} with metrics='discrimination'. Leave thresholds "
                "out, or pass probabilities with metrics='all'."
            )
        return threshold, np.array([])
    if thresholds is None:
        grid = np.round(np.arange(1, 100) / 100, 2)
    else:
        try:
            grid = np.atleast_1d(np.asarray(thresholds, dtype=float))
        except (TypeError, ValueError):
            grid = np.array([np.nan])
        if grid.ndim != 1 or grid.size == 0 or not np.all((grid > 0) & (grid < 1)):
            raise DataValidationError(
                f"{verb_name()}(): thresholds must be probabilities strictly between 0 and 1 "
                f"(net benefit divides by 1 - threshold); got {thresholds!r}. "
                "Pass e.g. thresholds=[0.05, 0.1, 0.2]."
            )
    check_int(n_bins, "n_bins", 1, hint="Pass e.g. n_bins=10.")
    return threshold, grid


def check_classes(sc: km.ScoreCounts, by: str | None, g: Any, label: str) -> None:
    if sc.n_pos and sc.n_neg:
        return
    where = "the data" if g is OVERALL else f"subgroup {by} = {g!r}"
    which = "no positives (label 1)" if not sc.n_pos else "no negatives (label 0)"
    raise DataValidationError(
        f"{verb_name()}(): {where} has {which} in column {label!r}; got {sc.n_pos + sc.n_neg:,} "
        "rows, "
        f"all labelled {0 if not sc.n_pos else 1}. AUROC and calibration are undefined there; "
        "merge that subgroup with another, or drop it explicitly before the call."
    )
