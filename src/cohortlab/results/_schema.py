"""The tidy column names every result uses, defined once.

The names follow broom / marginaleffects (``std_error``, ``conf_low``, ``conf_high``), so
cohortlab frames stack with theirs without renaming. The confidence level is a column
(``conf_level``), never part of a column name.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = [
    "TIDY_COLUMNS",
    "META_COLUMNS",
    "ESTIMATE_COLUMNS",
    "CURVE_COLUMNS",
    "check_schema",
]

#: Core statistics of every estimate row.
TIDY_COLUMNS: tuple[str, ...] = (
    "term",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
    "conf_level",
)
#: How the estimate was obtained and on how many subjects.
META_COLUMNS: tuple[str, ...] = (
    "estimand",
    "effect_measure",
    "method",
    "ci_method",
    "n",
    "n_events",
)
#: Every estimate row: the core statistics, then the metadata.
ESTIMATE_COLUMNS: tuple[str, ...] = TIDY_COLUMNS + META_COLUMNS
#: Survival and cumulative incidence curves in long format.
CURVE_COLUMNS: tuple[str, ...] = (
    "time",
    "group",
    "cause",
    "n_risk",
    "n_event",
    "n_censor",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "conf_level",
)


def check_schema(frame: pd.DataFrame, kind: str = "estimate") -> None:
    """Check that ``frame`` starts with the schema columns of ``kind``, in order.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame from a result's ``to_frame()``.
    kind : {"estimate", "curve"}
        Which schema to check.

    Raises
    ------
    ValueError
        Naming the missing or misplaced columns.

    Examples
    --------
    >>> import cohortlab as cl
    >>> est = cl.Estimate.from_model_scale("ATE", 0.5, 0.1)
    >>> check_schema(est.to_frame())
    """
    expected: Sequence[str] = {"estimate": ESTIMATE_COLUMNS, "curve": CURVE_COLUMNS}[kind]
    cols = list(frame.columns)
    missing = [c for c in expected if c not in cols]
    if missing:
        raise ValueError(f"check_schema(): frame lacks the {kind} columns {missing}; got {cols}.")
    if cols[: len(expected)] != list(expected):
        raise ValueError(
            f"check_schema(): the {kind} columns must come first, in the order {list(expected)}; "
            f"got {cols[: len(expected)]}."
        )
