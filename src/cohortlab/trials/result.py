"""``TrialsResult``: the result of a sequential target trial emulation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..results import Curve, EstimateTable, ModelResult

__all__ = ["TrialsResult"]


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class TrialsResult:
    """Effects, curves, the outcome model, the flow of persons/trials and weight diagnostics.

    Attributes
    ----------
    effects : EstimateTable
        Risk under each arm, risk difference and risk ratio at each horizon.
    curves : Curve
        Standardised cumulative incidence under each arm at every follow-up period.
    model : ModelResult
        The pooled logistic outcome model (coefficients with the person-clustered sandwich).
    flow : pandas.DataFrame
        Counts (``step, n``): persons, person-periods, trials by arm, expanded rows, rows
        removed by censoring or artificial censoring, rows and events in the outcome model.
    weights : pandas.DataFrame or None
        Per-protocol weight diagnostics (``statistic, value``), None for intention-to-treat.
    notes : tuple of str
        Conventions and anything switched, truncated or left out.
    switch_models : pandas.DataFrame or None
        Per-protocol: coefficients of the numerator and denominator models of staying on
        each arm (one column per model), None for intention-to-treat.
    competing_model : ModelResult or None
        The pooled logistic model of the competing-event hazard (``competing=``), None
        without a competing event.
    spec : TargetTrial or None
        The target trial specification emulated (:func:`cohortlab.emulate_target_trial`),
        None when a verb was called directly.
    """

    effects: EstimateTable
    curves: Curve
    model: ModelResult
    flow: pd.DataFrame
    weights: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()
    switch_models: pd.DataFrame | None = field(default=None, repr=False)
    spec: Any = field(default=None, repr=False)
    competing_model: ModelResult | None = field(default=None, repr=False)

    @property
    def table(self) -> EstimateTable:
        """The effect rows (risks, risk differences and ratios at the horizons)."""
        return self.effects

    def to_frame(self) -> pd.DataFrame:
        """The effect rows in the tidy schema."""
        return self.effects.to_frame()

    def summary(self) -> str:
        """Effects, flow and notes as text."""
        parts = [str(self.effects), "", "Flow:", self.flow.to_string(index=False)]
        if self.weights is not None:
            parts += ["", "Weights:", self.weights.to_string(index=False)]
        if self.notes:
            parts += ["", "Notes:", *[f"- {n}" for n in self.notes]]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return self.summary()
