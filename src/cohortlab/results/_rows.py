"""What the result rows (:class:`Estimate`, :class:`TestResult`) and their tables share.

A row holds its counts, the rows dropped before fitting, notes, labels and diagnostics
(:class:`ResultRow`). How rows of one kind render (tidy frame, display frame, footer) is one
:class:`RowKind` per kind, used for a row alone (a table of one row) and for its tables. A
table is an immutable tuple of result rows with a title, the rows dropped before fitting and
notes; it is indexed by position or by a unique ``term`` (:class:`RowTable`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import pandas as pd

from ._format import Renderable, count_bits
from .dropped import Dropped

__all__ = ["ResultRow", "RowKind", "RowTable", "row_counts"]


@dataclass(frozen=True)
class RowKind:
    """How the rows of one kind render, one row alone or many as a table."""

    #: row dicts -> the tidy frame
    frame: Callable[[Sequence[Mapping[str, Any]]], pd.DataFrame]
    #: rows, digits -> the display frame
    display: Callable[[Sequence[Any], int], pd.DataFrame]
    #: rows, dropped, notes -> the provenance lines
    footer: Callable[[Sequence[Any], Dropped, Sequence[str]], list[str]]


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class ResultRow(Renderable):
    """One result row: its counts, dropped rows, notes, labels and diagnostics.

    It renders as a table of one row of its kind (``_kind``).
    """

    term: str
    n: int | None = None
    n_events: int | None = None
    dropped: Dropped = field(default_factory=Dropped)
    notes: tuple[str, ...] = ()
    labels: Mapping[str, Any] = field(default_factory=dict)
    diagnostics: Any = field(default=None, repr=False)

    _kind: ClassVar[RowKind]

    def _row(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_frame(self) -> pd.DataFrame:
        """One row: the tidy schema columns in schema order, then the kind's own and labels."""
        return self._kind.frame([self._row()])

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        return self._kind.display([self], digits)

    def _footer(self) -> list[str]:
        return self._kind.footer([self], self.dropped, self.notes)


R = TypeVar("R", bound=ResultRow)


def row_counts(rows: Sequence[ResultRow], dropped: Dropped) -> list[str]:
    """The footer's ``n = ...`` and ``events ...`` parts, where every row agrees on them.

    ``dropped`` defaults to the first row's.
    """
    ns = {r.n for r in rows if r.n is not None}
    evs = {r.n_events for r in rows if r.n_events is not None}
    drop = dropped if dropped else (rows[0].dropped if rows else dropped)
    bits = count_bits(next(iter(ns)) if len(ns) == 1 else None, drop,
                      next(iter(evs)) if len(evs) == 1 else None)
    return [b for b in bits if b]


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class RowTable(Renderable, Generic[R]):
    """An immutable sequence of result rows; ``table["term"]`` needs a unique term.

    It renders as its rows' kind (``_kind``).
    """

    _kind: ClassVar[RowKind]

    rows: tuple[R, ...]
    title: str = ""
    dropped: Dropped = field(default_factory=Dropped)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(self.rows))

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[R]:
        return iter(self.rows)

    def __getitem__(self, key: int | str) -> R:
        if isinstance(key, str):
            hits = [r for r in self.rows if r.term == key]
            if len(hits) != 1:
                terms = [r.term for r in self.rows]
                raise KeyError(f"{key!r} matches {len(hits)} rows; terms are {terms}")
            return hits[0]
        return self.rows[key]

    def _title(self) -> str:
        if self.title:
            return self.title
        return self.rows[0]._title() if self.rows else f"{type(self).__name__} (empty)"

    def to_frame(self) -> pd.DataFrame:
        """The rows stacked: the tidy schema columns in order, the kind's own, then labels."""
        return self._kind.frame([r._row() for r in self.rows])

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        return self._kind.display(self.rows, digits)

    def _footer(self) -> list[str]:
        return self._kind.footer(self.rows, self.dropped, self._all_notes())

    def _all_notes(self) -> tuple[str, ...]:
        """The table's notes, then every row's, each once."""
        return tuple(dict.fromkeys(self.notes + tuple(n for r in self.rows for n in r.notes)))
