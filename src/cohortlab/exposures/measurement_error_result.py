"""``MICorrection``: the result of :func:`~cohortlab.exposures.measurement_error.correct_exposure`.

Also how the pooled result is built (``_build``); the conversion of an estimator's result to
parameter rows and their Rubin pooling, shared with :func:`cohortlab.with_imputations`, is in
:mod:`cohortlab._pooling`. Importable from :mod:`cohortlab.exposures.measurement_error` and
:mod:`cohortlab` as before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .._pooling import row_key, rubin_fields
from .._validation import verb_name
from ..exceptions import CohortError
from ..inference.rubin import pool_rubin
from ..results.estimate import Estimate, EstimateTable
from ..results.model import ModelResult
from ._imputation import _Spec

__all__ = ["MICorrection"]

# ------------------------------------------------------------------------- the result


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class MICorrection(EstimateTable):
    """Naive and multiple-imputation-corrected estimates, side by side (an ``EstimateTable``).

    Rows come in pairs, one per parameter of the estimator's result: ``analysis="naive"``
    (the estimator on the flag, its own interval) then ``analysis="corrected"`` (Rubin's
    rules over the imputations, t interval with the Barnard-Rubin ``df``). ``to_frame()``
    has the tidy columns, then the result's own labels (``group``, ``time``, ...), then
    ``analysis``, ``fmi`` (fraction of missing information), ``df`` and ``riv`` (relative
    increase in variance); the last three are NaN on naive rows.

    Attributes
    ----------
    imputations : pandas.DataFrame
        One row per imputation and parameter: ``imputation``, ``term``, ``estimate`` and
        ``variance`` on the model scale (log scale for ratios).
    imputation_model : ModelResult
        The logistic model of the true exposure fitted on the validated rows (log odds).
    n_validated : dict
        Validated rows by flag value (``flag=0``, ``flag=1``) and in total.
    n_imputations : int
    """

    imputations: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    imputation_model: ModelResult | None = field(default=None, repr=False)
    n_validated: Mapping[str, int] = field(default_factory=dict)
    n_imputations: int = 0

    @property
    def naive(self) -> EstimateTable:
        """The naive rows (estimator on the flag)."""
        return self._subset("naive")

    @property
    def corrected(self) -> EstimateTable:
        """The corrected rows (Rubin's rules over the imputations)."""
        return self._subset("corrected")

    def _subset(self, which: str) -> EstimateTable:
        rows = tuple(r for r in self.rows if r.labels.get("analysis") == which)
        return EstimateTable(rows=rows, title=f"{self.title.split(':')[0]}: {which}",
                             dropped=self.dropped, notes=self.notes)


# ------------------------------------------------------------------------------ build


def _build(naive: list[Estimate], out: list, model: ModelResult, counts: dict[str, int],
           exposure: str, validation: str, spec: _Spec, conf_level: float, dropped: Any,
           draw: str, extra_notes: tuple[str, ...] = ()) -> MICorrection:
    keys = [row_key(r) for r in naive]
    for k, (_, _, kk, _) in enumerate(out):
        if kk != keys:
            raise CohortError(
                f"{verb_name()}(): imputation {k + 1} gave different parameters than the naive "
                "run; "
                f"got {kk[:4]} vs {keys[:4]}. Both exposure arms must stay present."
            )
    theta = np.vstack([o[0] for o in out])
    var = np.vstack([o[1] for o in out])
    seen: dict[str, int] = {}
    for o in out:
        for k, v in o[3].items():
            seen[k] = seen.get(k, 0) + v
    m = theta.shape[0]
    ok = np.all(np.isfinite(theta) & np.isfinite(var), axis=0)
    n = naive[0].n if naive and naive[0].n is not None else None
    dfcom = (n - len(naive)) if n is not None and n > len(naive) else math.inf
    rows: list[Estimate] = []
    notes: list[str] = []
    pooled = pool_rubin(theta[:, ok], var[:, ok], dfcom) if ok.any() else None
    idx = np.cumsum(ok) - 1
    for j, r in enumerate(naive):
        base_labels = dict(r.labels)
        rows.append(replace(r, labels={**base_labels, "analysis": "naive", "fmi": math.nan,
                                       "df": math.nan, "riv": math.nan}))
        estimable = ok[j] and pooled is not None
        if not estimable:
            notes.append(f"{row_key(r)}: not pooled (not estimable in some imputations)")
        est, stats_ = rubin_fields(r, pooled, int(idx[j]) if estimable else None, conf_level)
        rows.append(replace(
            r, **est, conf_level=conf_level, ci_method="multiple_imputation_rubin",
            ci_scale="plain", labels={**base_labels, "analysis": "corrected", **stats_},
            influence=None, replicates=None, diagnostics=None, notes=(),
            extra={"n_imputations": float(m)},
        ))
    frame = pd.DataFrame({
        "imputation": np.repeat(np.arange(1, m + 1), len(keys)),
        "term": np.tile(np.array(keys, dtype=object), m),
        "estimate": theta.ravel(), "variance": var.ravel(),
    })
    notes_t = (
        f"exposure {exposure!r} corrected by multiple imputation ({m} imputations, "
        f"{'normal coefficient draws' if draw == 'normal' else 'bootstrap of validated rows'})"
        f" from {validation!r}: {counts['total']:,} validated rows ({counts['flag=1']:,} "
        f"flagged, {counts['flag=0']:,} not)",
        f"imputation model: {spec.description}",
        *extra_notes,
        "corrected: Rubin's rules on the model scale (log for ratios), t interval with "
        "Barnard-Rubin df",
        *notes,
        *(f"{v:,} of {m:,} imputed runs emitted {k}" for k, v in sorted(seen.items())),
    )
    title = f"Multiple imputation for misclassified {exposure}: naive vs corrected"
    return MICorrection(rows=tuple(rows), title=title, dropped=dropped, notes=notes_t,
                        imputations=frame, imputation_model=model, n_validated=counts,
                        n_imputations=m)
