"""``[labels]``: the words a clinician reads in the report, tables and figures.

The section is optional; every key in it is optional::

    [labels]
    exposure = "hormonal therapy"          # the exposed arm, in words
    reference = "no hormonal therapy"      # the reference arm, in words
    contrast = "hormonal therapy vs none"  # how contrasts are headed (default: the two above)
    time_unit = "years"                    # report times in this unit (data: [followup] unit)

    [labels.columns]                       # column -> label (Table 1, model terms, figures)
    age = "Age, years"
    hormon = "Hormonal therapy"

    [labels.levels.size]                   # a column's levels -> labels
    "<=20" = "20 mm or less"

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

from .sections import UNITS, ProtocolError, close_matches

__all__ = ["ReportLabels", "parse_labels"]

_KEYS = ("exposure", "reference", "contrast", "time_unit", "columns", "levels", "outcomes",
         "analyses")


@dataclass(frozen=True, kw_only=True)
class ReportLabels:
    """The parsed ``[labels]`` section (every field optional)."""

    exposure: str | None = None
    reference: str | None = None
    contrast: str | None = None
    time_unit: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    levels: dict[str, dict[str, str]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    analyses: dict[str, str] = field(default_factory=dict)

    def column(self, name: str) -> str:
        """The label of a column (the column's name when none is given)."""
        return self.columns.get(name, name)

    def level(self, column: str, value: Any) -> str:
        """The label of one level of a column (the level itself when none is given)."""
        key = _level_key(value)
        return self.levels.get(column, {}).get(key, key)

    def outcome(self, name: str) -> str:
        """The label of an outcome (its name when none is given)."""
        return self.outcomes.get(name, name.replace("_", " "))

    def analysis(self, name: str) -> str:
        """The label of an analysis (its name when none is given)."""
        return self.analyses.get(name, name)


def _level_key(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text(d: Mapping[str, Any], key: str) -> str | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip():
        raise ProtocolError(f"labels.{key}", f"must be non-empty text; got {v!r}.",
                            f'Write e.g. {key} = "hormonal therapy".')
    return v.strip()


def _names(d: Mapping[str, Any], key: str) -> dict[str, str]:
    v = d.get(key, {})
    if not isinstance(v, Mapping):
        raise ProtocolError(f"labels.{key}", f"must be a table of name = label; got {v!r}.",
                            f'Write [labels.{key}] and lines such as age = "Age, years".')
    out = {}
    for name, label in v.items():
        if not isinstance(label, str) or not label.strip():
            raise ProtocolError(f"labels.{key}.{name}", f"must be non-empty text; got "
                                f"{label!r}.", 'Write the label in quotes.')
        out[str(name)] = label.strip()
    return out


def parse_labels(raw: Any) -> ReportLabels:
    """Check and read a protocol's ``[labels]`` table (``None`` when absent).

    Examples
    --------
    >>> lab = parse_labels({"exposure": "hormonal therapy", "time_unit": "years",
    ...                     "levels": {"hormon": {"1": "yes"}}})
    >>> lab.exposure, lab.time_unit, lab.level("hormon", 1.0), lab.column("age")
    ('hormonal therapy', 'years', 'yes', 'age')
    >>> parse_labels({"colums": {}})
    Traceback (most recent call last):
    ...
    cohortlab.protocol.sections.ProtocolError: labels.colums: unknown field. ...
    """
    if raw is None:
        return ReportLabels()
    if not isinstance(raw, Mapping):
        raise ProtocolError("labels", f"must be a table; got {raw!r}.",
                            "Write a [labels] section with name = label lines.")
    for key in raw:
        if key not in _KEYS:
            raise ProtocolError(f"labels.{key}", "unknown field.", close_matches(key, _KEYS))
    unit = _text(raw, "time_unit")
    if unit is not None and unit not in UNITS:
        raise ProtocolError("labels.time_unit", f"unknown unit {unit!r}.",
                            f"Use one of {', '.join(UNITS)}.")
    levels_raw = raw.get("levels", {})
    if not isinstance(levels_raw, Mapping):
        raise ProtocolError("labels.levels", f"must be a table of tables; got {levels_raw!r}.",
                            'Write [labels.levels.size] and lines such as "<=20" = "small".')
    levels = {str(col): _names(levels_raw, col) for col in levels_raw}
    return ReportLabels(exposure=_text(raw, "exposure"), reference=_text(raw, "reference"),
                        contrast=_text(raw, "contrast"), time_unit=unit,
                        columns=_names(raw, "columns"), levels=levels,
                        outcomes=_names(raw, "outcomes"), analyses=_names(raw, "analyses"))
