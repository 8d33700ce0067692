"""The results of a protocol run, and how each analysis' verb is called.

:class:`StudyResults` holds everything a run computed; :mod:`.run` fills it and
:mod:`.outputs` writes it. Both import this module, which imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .load import Cohort
from .methods import METHODS, MethodSpec, with_exposure
from .schema import Analysis, Outcome, Protocol

__all__ = ["AnalysisResult", "StudyResults", "call_arguments", "report_times"]


@dataclass(kw_only=True)
class AnalysisResult:
    """One analysis on one outcome: the verb's result, its effect rows and its notes."""

    analysis: Analysis
    outcome: Outcome
    spec: MethodSpec
    result: Any
    effects: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """``<analysis>__<outcome>``, used in file names."""
        return f"{self.analysis.name}__{self.outcome.name}"


@dataclass(kw_only=True)
class StudyResults:
    """Everything a protocol run computed, before anything is written."""

    protocol: Protocol
    cohort: Cohort
    table1: Any = None
    weighted: dict[str, Any] = field(default_factory=dict)
    analyses: list[AnalysisResult] = field(default_factory=list)
    subgroups: list[tuple[str, str, Any]] = field(default_factory=list)
    evalues: pd.DataFrame | None = None
    bias: Any = None
    started: str = ""

    def table2(self) -> pd.DataFrame:
        """Effects by analysis x outcome (tidy columns, with ``analysis`` and ``outcome``)."""
        parts = [r.effects for r in self.analyses if len(r.effects)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def dropped(self) -> pd.DataFrame:
        """Rows each analysis dropped for missing values (``missing = "drop"``)."""
        rows = []
        for r in self.analyses:
            d = getattr(r.result, "dropped", None)
            if d is None and r.spec.kind == "match":
                d = getattr(r.result.estimate, "dropped", None)
            if d is None:
                continue
            rows.append(dict(analysis=r.analysis.name, outcome=r.outcome.name,
                             n_input=d.n_input, n_dropped=d.n_rows,
                             by_column="; ".join(f"{k}: {v}" for k, v in d.by_column.items())))
        return pd.DataFrame(rows, columns=["analysis", "outcome", "n_input", "n_dropped",
                                           "by_column"])

    def notes(self) -> pd.DataFrame:
        """Warnings and remarks raised while computing, one row each."""
        rows = [dict(analysis="(cohort)", outcome="", note=n) for n in self.cohort.notes]
        rows += [dict(analysis=r.analysis.name, outcome=r.outcome.name, note=n)
                 for r in self.analyses for n in r.notes]
        return pd.DataFrame(rows, columns=["analysis", "outcome", "note"])


def call_arguments(protocol: Protocol, cohort: Cohort, analysis: Analysis, outcome: Outcome
                   ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The data and keyword arguments with which the analysis' verb is called."""
    spec = METHODS[analysis.method]
    params = spec.parameters()
    exp = protocol.exposure.column
    frame = cohort.data
    options = dict(analysis.options)
    kw: dict[str, Any] = {}
    if "missing" in params:
        kw["missing"] = protocol.data.missing
    if "random_state" in params:
        kw["random_state"] = protocol.study.seed
    if "reference" in params and cohort.reference is not None:
        kw["reference"] = cohort.reference
    if analysis.estimand is not None and "estimand" in params:
        kw["estimand"] = analysis.estimand
    covariates = options.pop("covariates", protocol.covariates)
    covariates = list(covariates) if isinstance(covariates, tuple) else covariates
    fu = protocol.followup
    time = outcome.time or (fu.column if fu else None)
    if spec.kind in ("effect", "match"):
        kw.update(exposure=exp, outcome=outcome.column)
        if "covariates" in params and spec.name != "crude_effect" and covariates is not None:
            kw["covariates"] = covariates
    elif spec.kind == "curve":
        kw.update(time=time, event=outcome.event, by=exp)
        if "cause" in spec.fills:
            kw["cause"] = outcome.cause if outcome.cause is not None else 1
    elif spec.kind == "model":
        event = outcome.event
        if spec.name == "cox" and outcome.type == "competing":
            event = f"{outcome.name}_cause{outcome.cause}"
            ev = frame[outcome.event]
            frame = frame.assign(**{event: (ev == outcome.cause).astype(float).where(
                ev.notna())})
        kw.update(time=time, event=event, covariates=with_exposure(exp, covariates))
        if "cause" in spec.fills:
            kw["cause"] = outcome.cause
    elif spec.kind == "adjusted":
        kw.update(time=time, event=outcome.event, exposure=exp, covariates=covariates)
        if outcome.type == "competing":
            kw["cause"] = outcome.cause
        if "times" not in options and analysis.at:
            kw["times"] = list(analysis.at)
    elif spec.kind == "rmst":
        kw.update(time=time, event=outcome.event, by=exp)
        if "tau" not in options and fu is not None and fu.horizon is not None:
            kw["tau"] = fu.horizon
    kw.update(options)
    return frame, kw


def report_times(protocol: Protocol, analysis: Analysis) -> tuple[float, ...]:
    """The times an analysis is read off at: its ``at``, else the follow-up horizon, else none."""
    if analysis.at:
        return analysis.at
    fu = protocol.followup
    return (fu.horizon,) if fu is not None and fu.horizon is not None else ()
