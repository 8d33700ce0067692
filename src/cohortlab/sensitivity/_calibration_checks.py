"""Input checks of empirical calibration: control and target estimates read and validated.

``_read`` turns an ``Estimate``, ``EstimateTable`` or DataFrame into a frame ``term, y, s``
(log estimate and its standard error); ``_rows_like`` turns the rows back into ``Estimate``s;
``_true_log_effects`` reads the positive controls' true effects. (``_check_null`` lives with
:class:`~cohortlab.sensitivity.calibration_results.EmpiricalNull`.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._validation import apply_missing, check_columns, check_frame, check_numeric
from ..exceptions import DataValidationError
from ..results.dropped import Dropped
from ..results.estimate import Estimate, EstimateTable


def _read(estimates: Any, log_estimate: str | None, std_error: str | None, func: str,
          missing: str, role: str, extra: Sequence[str] = ()) -> tuple[pd.DataFrame, Dropped]:
    """Control or target estimates as a frame ``term, y, s`` (+ extra columns), validated."""
    if isinstance(estimates, Estimate):
        estimates = EstimateTable(rows=(estimates,))
    if isinstance(estimates, EstimateTable):
        if log_estimate is not None or std_error is not None:
            raise DataValidationError(
                f"{func}(): log_estimate and std_error name DataFrame columns; got them with an "
                f"{type(estimates).__name__} ({role}). Leave them out: the rows' estimates and "
                "standard errors are used.")
        bad = [r for r in estimates if not r.is_ratio]
        if bad:
            raise DataValidationError(
                f"{func}(): empirical calibration works on ratio estimates (log scale) in "
                f"{role}; got effect_measure {bad[0].effect_measure!r} for {bad[0].term!r}. "
                "Estimate risk, odds or hazard ratios for the controls.")
        frame = pd.DataFrame({
            "row": np.arange(len(estimates)),
            "term": [r.term for r in estimates],
            "y": [math.log(r.estimate) if r.estimate > 0 else
                  (math.nan if math.isnan(r.estimate) else -math.inf) for r in estimates],
            "s": [r.std_error for r in estimates],
        })
        cols = {"y": "estimate", "s": "std_error"}
    elif isinstance(estimates, pd.DataFrame):
        frame = check_frame(estimates, func)
        if log_estimate is None or std_error is None:
            raise DataValidationError(
                f"{func}(): a DataFrame of {role} needs log_estimate= and std_error= (column "
                f"names); got log_estimate={log_estimate!r}, std_error={std_error!r}. Name the "
                "columns holding the log ratio estimates and their standard errors.")
        check_columns(frame, func, log_estimate=log_estimate, std_error=std_error,
                      **{c: c for c in extra})
        terms = (frame["term"].astype(str).to_numpy() if "term" in frame.columns
                 else frame.index.astype(str).to_numpy())
        y = check_numeric(frame, log_estimate, "log_estimate", func)
        s = check_numeric(frame, std_error, "std_error", func)
        frame = pd.DataFrame({"row": np.arange(len(frame)), "term": terms, "y": y, "s": s,
                              **{c: frame[c].to_numpy() for c in extra}})
        cols = {"y": log_estimate, "s": std_error}
    else:
        raise DataValidationError(
            f"{func}(): {role} must be an Estimate, an EstimateTable or a DataFrame; got "
            f"{type(estimates).__name__}. Pass e.g. cl.tidy(...) rows or a DataFrame with "
            "log_estimate= and std_error= columns.")
    frame, dropped = apply_missing(frame.rename(columns=cols), list(cols.values()), missing,
                                   func)
    frame = frame.rename(columns={v: k for k, v in cols.items()}).reset_index(drop=True)
    y, s = frame["y"].to_numpy(dtype=float), frame["s"].to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise DataValidationError(
            f"{func}(): estimates must be finite ratios > 0 in {role} ({cols['y']}); got "
            f"{int((~np.isfinite(y)).sum())} infinite log estimates. Drop these controls.")
    n_bad = int((s <= 0).sum() + (~np.isfinite(s)).sum())
    if n_bad:
        raise DataValidationError(
            f"{func}(): standard errors must be finite and > 0 in column {cols['s']} ({role}); "
            f"got {n_bad} bad values (min {np.min(s):.4g}). Drop these estimates or fix them.")
    return frame, dropped


def _rows_like(estimates: Any, frame: pd.DataFrame) -> list[Estimate]:
    """The input rows as Estimates (after any dropping); DataFrame rows become Wald rows."""
    if isinstance(estimates, Estimate):
        return [estimates]
    if isinstance(estimates, EstimateTable):
        return [estimates[int(i)] for i in frame["row"]]
    return [Estimate.from_model_scale(str(t), float(y), float(s), effect_measure="ratio",
                                      method="user_supplied")
            for t, y, s in zip(frame["term"], frame["y"], frame["s"], strict=True)]


def _true_log_effects(pos: pd.DataFrame, true_effects: Any, func: str) -> np.ndarray:
    if isinstance(true_effects, str) and true_effects not in pos.columns:
        raise DataValidationError(
            f"{func}(): true_effects={true_effects!r} names a column, which needs the positive "
            "controls as a DataFrame; got them as Estimates. Pass the true ratios as a list, "
            "one per positive control.")
    if true_effects is None:
        raise DataValidationError(
            f"{func}(): positive controls need their true effect sizes; got true_effects=None. "
            "Pass true_effects= (true ratios, one per positive control, or a column name).")
    vals = (pd.to_numeric(pos[true_effects], errors="coerce").to_numpy(float)
            if isinstance(true_effects, str) else np.asarray(true_effects, dtype=float).ravel())
    if vals.size != len(pos):
        raise DataValidationError(
            f"{func}(): true_effects must have one value per positive control; got "
            f"{vals.size} for {len(pos)} controls.")
    if not (np.isfinite(vals) & (vals > 0)).all():
        raise DataValidationError(
            f"{func}(): true_effects must be finite ratios > 0 (natural scale); got "
            f"{vals[~(np.isfinite(vals) & (vals > 0))][:3].tolist()}. Pass e.g. 2.0, not "
            "log(2).")
    return np.log(vals)
