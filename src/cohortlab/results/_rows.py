"""The sequence behaviour shared by :class:`EstimateTable` and :class:`TestTable`.

A table is an immutable tuple of result rows (``Estimate`` or ``TestResult``) with a title,
the rows dropped before fitting and notes; it is indexed by position or by a unique ``term``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from ._format import Renderable, count_bits
from .dropped import Dropped

__all__ = ["RowTable", "row_counts"]


class _Row(Protocol):
    @property
    def term(self) -> str: ...
    @property
    def n(self) -> int | None: ...
    @property
    def n_events(self) -> int | None: ...
    @property
    def dropped(self) -> Dropped: ...
    @property
    def notes(self) -> tuple[str, ...]: ...
    def _title(self) -> str: ...


R = TypeVar("R", bound=_Row)


def row_counts(rows: Sequence[_Row], dropped: Dropped) -> list[str]:
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
    """An immutable sequence of result rows; ``table["term"]`` needs a unique term."""

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

    def _all_notes(self) -> tuple[str, ...]:
        """The table's notes, then every row's, each once."""
        return tuple(dict.fromkeys(self.notes + tuple(n for r in self.rows for n in r.notes)))
