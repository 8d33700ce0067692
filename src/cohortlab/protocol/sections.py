"""The sections of a study protocol as frozen dataclasses, and the protocol's errors.

:mod:`cohortlab.protocol.schema` parses a TOML document into these; every problem is a
:class:`ProtocolError` whose message starts with the field path (``analyses[1].options``;
array entries count from 0) and ends with how to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._typing import Missing
from .._validation import suggest
from ..exceptions import CohortError

__all__ = [
    "ProtocolError",
    "AnalysisError",
    "close_matches",
    "Protocol",
    "Study",
    "DataSpec",
    "Criterion",
    "FollowUp",
    "ExposureSpec",
    "Outcome",
    "Analysis",
    "SubgroupSpec",
    "BiasSpec",
    "Sensitivity",
    "Outputs",
    "DATASETS",
    "OUTCOME_TYPES",
    "UNITS",
    "TABLE_FORMATS",
    "FIGURE_FORMATS",
]

DATASETS = ("nhefs", "lung", "mgus2", "lalonde", "rotterdam", "gbsg", "simulated")
OUTCOME_TYPES = ("binary", "continuous", "time_to_event", "competing")
UNITS = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12.0, "years": 365.25}
TABLE_FORMATS = ("csv", "md", "html", "docx", "xlsx")
FIGURE_FORMATS = ("png", "svg")


class ProtocolError(CohortError):
    """A protocol file that is malformed or does not fit its data.

    Attributes
    ----------
    field : str
        Where the problem is, as a path (``"analyses[1].options.covariates"``).
    """

    def __init__(self, field: str, problem: str, fix: str = "") -> None:
        self.field = field
        super().__init__(f"{field}: {problem}" + (f" {fix}" if fix else ""))


def close_matches(word: str, choices: Sequence[str]) -> str:
    """``"Did you mean 'a' or 'b'?"`` for the close matches of ``word``, else the choices."""
    return suggest(word, choices)


class AnalysisError(ProtocolError):
    """An analysis of a valid protocol failed while running (the verb's own error)."""


# ----------------------------------------------------------------------------- sections
@dataclass(frozen=True, kw_only=True)
class Study:
    """``[study]``: what the study is and the seed of every random draw."""

    title: str
    description: str = ""
    question: str = ""
    seed: int = 0


@dataclass(frozen=True, kw_only=True)
class DataSpec:
    """``[data]``: where the rows come from (exactly one of path, dataset, query)."""

    path: str | None = None
    dataset: str | None = None
    query: str | None = None
    n: int | None = None
    random_state: int | None = None
    id: str | None = None
    missing: Missing = "raise"


@dataclass(frozen=True, kw_only=True)
class Criterion:
    """One ``[[eligibility]]`` step: a label and a checked expression (``protocol._expr``)."""

    name: str
    keep: str


@dataclass(frozen=True, kw_only=True)
class FollowUp:
    """``[followup]``: the follow-up time (a column, or end - start dates) and its horizon."""

    time: str | None = None
    start: str | None = None
    end: str | None = None
    unit: str = "days"
    horizon: float | None = None
    time_zero: str = ""
    name: str = "followup_time"

    @property
    def column(self) -> str:
        """The column holding the follow-up time once prepared."""
        return self.time if self.time is not None else self.name


@dataclass(frozen=True, kw_only=True)
class ExposureSpec:
    """``[exposure]``: the exposure column, or how to derive it from a model score."""

    column: str
    reference: Any = None
    from_score: Mapping[str, Any] | None = None
    label: str = ""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """One ``[[outcomes]]`` entry."""

    name: str
    type: str
    column: str | None = None
    time: str | None = None
    event: str | None = None
    cause: int | None = None
    rare: bool | None = None


@dataclass(frozen=True, kw_only=True)
class Analysis:
    """One ``[[analyses]]`` entry: a cohortlab verb applied to some outcomes."""

    name: str
    method: str
    outcomes: tuple[str, ...]
    estimand: str | None = None
    at: tuple[float, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    index: int = 0

    @property
    def where(self) -> str:
        """The field path of this analysis."""
        return f"analyses[{self.index}]"


@dataclass(frozen=True, kw_only=True)
class SubgroupSpec:
    """One ``[[subgroups]]`` entry: an analysis repeated within levels of ``by``."""

    analysis: str
    by: tuple[str, ...]
    min_events: int | None = None
    index: int = 0


@dataclass(frozen=True, kw_only=True)
class BiasSpec:
    """``[sensitivity.bias_analysis]``: probabilistic bias analysis of a misclassified flag."""

    analysis: str
    sensitivity: Any
    specificity: Any
    outcome: str | None = None
    n_sims: int = 200
    by: str | None = None


@dataclass(frozen=True, kw_only=True)
class Sensitivity:
    """``[sensitivity]``: E-values and bias analysis."""

    evalue: bool = False
    bias_analysis: BiasSpec | None = None


@dataclass(frozen=True, kw_only=True)
class Outputs:
    """``[outputs]``: table and figure formats and whether to write the report."""

    tables: tuple[str, ...] = ("csv", "md", "html")
    figures: tuple[str, ...] = ("png",)
    report: bool = True


@dataclass(frozen=True, kw_only=True)
class Protocol:
    """A parsed, shape-checked study protocol."""

    study: Study
    data: DataSpec
    eligibility: tuple[Criterion, ...]
    followup: FollowUp | None
    exposure: ExposureSpec
    outcomes: tuple[Outcome, ...]
    covariates: str | tuple[str, ...] | None
    analyses: tuple[Analysis, ...]
    subgroups: tuple[SubgroupSpec, ...] = ()
    sensitivity: Sensitivity = field(default_factory=Sensitivity)
    outputs: Outputs = field(default_factory=Outputs)
    labels: Any = None  # protocol._labels.ReportLabels (the [labels] section)
    longitudinal: Any = None  # protocol._longitudinal.LongitudinalSpec ([longitudinal])
    base_dir: Path = Path(".")
    text: str = ""
    source: str = "<string>"
    #: Folders outside ``base_dir`` that whoever runs the protocol allows it to read
    #: (``cohortlab run --data-dir``); never set from the file itself.
    data_dirs: tuple[Path, ...] = ()

    def outcome(self, name: str) -> Outcome:
        """The outcome called ``name``."""
        return {o.name: o for o in self.outcomes}[name]

    def analysis(self, name: str) -> Analysis:
        """The analysis called ``name``."""
        return {a.name: a for a in self.analyses}[name]
