"""The count of rows removed before an analysis, per column (``missing="drop"``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Dropped"]


@dataclass(frozen=True, kw_only=True)
class Dropped:
    """Rows removed for missing values.

    Attributes
    ----------
    n_rows : int
        Rows removed (a row missing in two columns counts once here).
    by_column : Mapping[str, int]
        Rows with a missing value, per analysis column (a row can count in several columns).
    n_input : int
        Rows before removal.
    """

    n_rows: int = 0
    by_column: Mapping[str, int] = field(default_factory=dict)
    n_input: int | None = None

    def __bool__(self) -> bool:
        return self.n_rows > 0

    def __str__(self) -> str:
        if not self.n_rows:
            return "no rows dropped"
        cols = ", ".join(f"{k} {v:,}" for k, v in self.by_column.items())
        return f"{self.n_rows:,} dropped: {cols}" if cols else f"{self.n_rows:,} dropped"
