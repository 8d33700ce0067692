"""``[labels]``: the words a clinician reads in the report, tables and figures.

The section is optional, and so is every key in it. It is the mapping read by
:meth:`cohortlab.results.labels.Labels.from_dict`, plus two report keys (``analyses``,
``contrast``)::

    [labels]
    report_time_unit = "years"             # report times in years ([followup] unit: the data's)
    contrast = "hormonal therapy vs none"  # how contrasts are headed (default: the arm names)

    [labels.variables]                     # column -> label (Table 1, model terms, figures)
    age = "Age, years"

    [labels.values.size]                   # a column's codes -> labels
    "<=20" = "20 mm or less"

    [labels.exposure]
    label = "Hormonal therapy"
    arms = { 0 = "No hormonal therapy", 1 = "Hormonal therapy" }

    [labels.outcomes]                      # outcome name -> label
    death = "death"

    [labels.analyses]                      # analysis name -> label
    ipw = "Inverse probability weighting"

Nothing here changes a number: labels are words only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import CohortError
from ..results.labels import Labels
from .sections import ProtocolError

__all__ = ["ReportLabels", "parse_labels"]

_REPORT_KEYS = ("analyses", "contrast")


@dataclass(frozen=True, kw_only=True)
class ReportLabels:
    """The parsed ``[labels]`` section: a Labels object and the report's own keys."""

    labels: Labels = field(default_factory=Labels)
    analyses: dict[str, str] = field(default_factory=dict)
    contrast: str | None = None

    def analysis(self, name: str) -> str:
        """The label of an analysis (its name when none is given)."""
        return self.analyses.get(name, name)


def parse_labels(raw: Any) -> ReportLabels:
    """Check and read a protocol's ``[labels]`` table (``None`` when absent).

    Examples
    --------
    >>> lab = parse_labels({"report_time_unit": "years", "analyses": {"ipw": "IPW"},
    ...                     "exposure": {"column": "hormon", "arms": {"1": "yes"}}})
    >>> lab.labels.arm(1.0), lab.labels.report_unit, lab.analysis("ipw"), lab.analysis("cox")
    ('yes', 'years', 'IPW', 'cox')
    >>> parse_labels({"colums": {}})
    Traceback (most recent call last):
    ...
    cohortlab.protocol.sections.ProtocolError: labels: Labels.from_dict(): unknown key(s) ...
    """
    if raw is None:
        return ReportLabels()
    if not isinstance(raw, Mapping):
        raise ProtocolError("labels", f"must be a table; got {raw!r}.",
                            "Write a [labels] section with name = label lines.")
    analyses = raw.get("analyses", {})
    if not isinstance(analyses, Mapping) or not all(
            isinstance(v, str) and v.strip() for v in analyses.values()):
        raise ProtocolError("labels.analyses", f"must be a table of name = label; got "
                            f"{analyses!r}.", 'Write [labels.analyses] and ipw = "IPW".')
    contrast = raw.get("contrast")
    if contrast is not None and (not isinstance(contrast, str) or not contrast.strip()):
        raise ProtocolError("labels.contrast", f"must be non-empty text; got {contrast!r}.",
                            'Write e.g. contrast = "hormonal therapy vs none".')
    try:
        labels = Labels.from_dict({k: v for k, v in raw.items() if k not in _REPORT_KEYS})
    except CohortError as exc:
        raise ProtocolError("labels", str(exc), "See docs/how-to/labels-and-reports.md."
                            ) from None
    return ReportLabels(labels=labels, analyses={str(k): v.strip() for k, v in analyses.items()},
                        contrast=contrast.strip() if contrast else None)
