"""Input checks of prediction-powered inference (:mod:`cohortlab.exposures.ppi`).

``_prepare`` validates the prediction (``outcome``) and label (``outcome_validation``)
columns, applies ``missing=`` and returns the analysed rows as a ``_Labelled`` record with the
labelling probabilities (estimated within strata, or known from ``labelled_fraction``);
``_check_labelled_groups`` checks that every arm or group has enough labelled rows.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import (
    _fmt_values,
    apply_missing,
    check_columns,
    check_conf_level,
    check_frame,
    check_numeric,
)
from ..exceptions import DataValidationError, MissingDataError
from ..results.dropped import Dropped
from ._ppi import stratum_shares

#: Fewest labelled rows per arm / group for a variance.
MIN_LABELLED = 2


@dataclass(frozen=True, eq=False)
class _Labelled:
    """The analysed rows: predictions, labels, labelling indicator and probabilities."""

    frame: pd.DataFrame
    f: np.ndarray
    y: np.ndarray  # NaN where unlabelled
    r: np.ndarray  # 1.0 labelled, 0.0 not
    pi: np.ndarray
    codes: np.ndarray | None  # stratum codes when pi is estimated (None: known)
    binary: bool
    dropped: Dropped
    notes: tuple[str, ...]


def _prepare(data: Any, func: str, *, outcome: str, outcome_validation: str,
             columns: Sequence[str], strata: str | None, labelled_fraction: Any,
             missing: str, lam: Any, conf_level: Any) -> tuple[_Labelled, float]:
    data = check_frame(data, func)
    frac_col = labelled_fraction if isinstance(labelled_fraction, str) else None
    check_columns(data, func, outcome=outcome, outcome_validation=outcome_validation,
                  strata=strata, labelled_fraction=frac_col)
    _check_lam(lam, func)
    conf_level = check_conf_level(conf_level, func)
    if outcome_validation == outcome:
        raise DataValidationError(
            f"{func}(): outcome and outcome_validation name the same column {outcome!r}; "
            "outcome holds the model's predictions for everyone, outcome_validation the "
            "gold-standard label (missing where not labelled).")
    y_all = check_numeric(data, outcome_validation, "outcome_validation", func)
    r_all = ~np.isnan(y_all)
    if not r_all.any():
        raise DataValidationError(
            f"{func}(): column {outcome_validation!r} (outcome_validation) is never observed; "
            f"got {len(data):,} missing values. It must hold the gold-standard label on the "
            "labelled subset (and be missing elsewhere).")
    f_na = data[outcome].isna().to_numpy()
    bad = int((f_na & r_all).sum())
    if bad:
        raise MissingDataError(
            f"{func}(): {bad:,} labelled rows have a missing prediction in column {outcome!r} "
            "(outcome); got labels but no prediction there. Score every labelled row with the "
            "model (dropping them would make the labelled subset non-random).")
    used = [outcome, *columns] + [c for c in (strata, frac_col) if c]
    frame, dropped = apply_missing(data, used, missing, func)
    f = check_numeric(frame, outcome, "outcome", func)
    y = check_numeric(frame, outcome_validation, "outcome_validation", func)
    r = (~np.isnan(y)).astype(float)
    binary = _check_label_domain(y[r > 0], f, func, outcome, outcome_validation)
    pi, codes, notes = _labelling_probabilities(frame, r, strata, labelled_fraction, func)
    lab = _Labelled(frame=frame, f=f, y=y, r=r, pi=pi, codes=codes, binary=binary,
                    dropped=dropped, notes=notes)
    return lab, conf_level


def _check_lam(lam: Any, func: str) -> None:
    if isinstance(lam, str) and lam == "tuned":
        return
    if isinstance(lam, numbers.Real) and not isinstance(lam, bool) and np.isfinite(float(lam)):
        return
    raise DataValidationError(
        f"{func}(): lam must be \"tuned\" or a finite number; got {lam!r}. Use lam=\"tuned\" "
        "(PPI++), lam=1 (classical PPI) or lam=0 (labelled rows only).")


def _check_label_domain(y: np.ndarray, f: np.ndarray, func: str, outcome: str,
                        validation: str) -> bool:
    levels = np.unique(y)
    binary = bool(np.isin(levels, [0.0, 1.0]).all())
    if not binary and levels.size == 2:
        raise DataValidationError(
            f"{func}(): column {validation!r} (outcome_validation) has two values "
            f"{_fmt_values(levels.tolist())} but a binary label must be coded 0/1. Recode it, "
            f"e.g. data[{validation!r}] = data[{validation!r}].eq({levels[1]:g}).where("
            f"data[{validation!r}].notna()).")
    if binary:
        out = int(((f < 0) | (f > 1)).sum())
        if out:
            raise DataValidationError(
                f"{func}(): column {outcome!r} (outcome) must hold predicted probabilities in "
                f"[0, 1] because the label {validation!r} is binary; got {out:,} values outside "
                f"(min {np.nanmin(f):.4g}, max {np.nanmax(f):.4g}). Pass the model's "
                "predict_proba()[:, 1] (or expit of a logit score), not the score itself.")
    return binary


def _labelling_probabilities(frame: pd.DataFrame, r: np.ndarray, strata: str | None,
                             labelled_fraction: Any, func: str
                             ) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...]]:
    n = r.size
    codes = (pd.factorize(frame[strata], sort=True)[0] if strata is not None
             else np.zeros(n, dtype=int))
    if labelled_fraction is None:
        pi = stratum_shares(r, codes)
        if (pi == 0).any():
            levels = pd.unique(frame[strata][pi == 0]) if strata else []
            raise DataValidationError(
                f"{func}(): stratum {_fmt_values(list(levels))} of column {strata!r} (strata) "
                "has no labelled rows; got labelled share 0. Every stratum needs labelled rows "
                "(merge sparse strata).")
        how = f"within strata of {strata!r}" if strata else "overall"
        return pi, codes, (f"labelling probability estimated as the labelled share {how} "
                           f"({int(r.sum()):,} of {n:,} rows labelled)",)
    if isinstance(labelled_fraction, str):
        pi = check_numeric(frame, labelled_fraction, "labelled_fraction", func)
    elif isinstance(labelled_fraction, Mapping):
        if strata is None:
            raise DataValidationError(
                f"{func}(): labelled_fraction is a mapping of strata but strata is None; got "
                f"keys {_fmt_values(list(labelled_fraction))}. Pass strata=<the column whose "
                "levels these are>.")
        missing_keys = [v for v in pd.unique(frame[strata]) if v not in labelled_fraction]
        if missing_keys:
            raise DataValidationError(
                f"{func}(): labelled_fraction has no probability for strata "
                f"{_fmt_values(missing_keys)} of column {strata!r}; got keys "
                f"{_fmt_values(list(labelled_fraction))}. Give one per stratum.")
        pi = frame[strata].map(dict(labelled_fraction)).to_numpy(dtype=float)
    elif isinstance(labelled_fraction, numbers.Real) and not isinstance(labelled_fraction, bool):
        pi = np.full(n, float(labelled_fraction))
    else:
        raise DataValidationError(
            f"{func}(): labelled_fraction must be None, a number, a column name or a mapping "
            f"stratum -> probability; got {type(labelled_fraction).__name__}.")
    if not ((pi > 0) & (pi <= 1)).all():
        raise DataValidationError(
            f"{func}(): labelled_fraction must be a probability in (0, 1] for every row; got "
            f"values from {np.nanmin(pi):.4g} to {np.nanmax(pi):.4g}. Pass P(labelled).")
    return pi, None, ("labelling probabilities known (labelled_fraction)",)


def _check_labelled_groups(r: np.ndarray, group: np.ndarray, levels: Sequence[Any], func: str,
                           column: str, role: str) -> None:
    for lev in levels:
        k = int((r[group == lev] > 0).sum())
        if k < MIN_LABELLED:
            raise DataValidationError(
                f"{func}(): {'no' if k == 0 else 'only ' + str(k)} labelled rows in "
                f"{role} {column!r} = {lev!r}; got {k} of {int((group == lev).sum()):,} rows. "
                f"Each group needs at least {MIN_LABELLED} labelled rows; label more rows there "
                "(or stratify the labelling by it).")
