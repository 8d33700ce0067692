"""The person-period checks: problem masks over grouped rows, and the messages naming ids.

Used by :func:`validate_person_period` and by the builders (``expand_intervals``) before they
expand. A check returns ``(description, mask, fix)`` where ``mask`` marks the offending rows;
:func:`problems_message` turns the non-empty ones into one error text that names the first
few ids, the number of ids and rows, and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError
from ._person_period import after_flag, blocks

__all__ = ["Grouped", "group_rows", "Problem", "period_problems", "interval_problems",
           "after_event_problems", "treatment_problems", "raise_problems", "fmt_ids",
           "group_sorted", "id_codes", "baseline_problems"]

_SHOW = 5


@dataclass(frozen=True, eq=False)
class Grouped:
    """Rows in person order: ``order`` maps them to the input rows (None: already grouped)."""

    ids: np.ndarray  # the id of each (grouped) row
    codes: np.ndarray
    first: np.ndarray
    grp: np.ndarray
    order: np.ndarray | None
    contiguous: bool

    def take(self, x: np.ndarray) -> np.ndarray:
        return x if self.order is None else x[self.order]


@dataclass(frozen=True, eq=False)
class Problem:
    what: str
    mask: np.ndarray  # offending rows (grouped order)
    fix: str
    detail: np.ndarray | None = None  # e.g. the period of each row, shown next to its id


def group_rows(data: pd.DataFrame, id: str, func: str) -> Grouped:
    """Factorise ``id`` and put each person's rows together (stable: time order kept)."""
    raw = data[id]
    if raw.isna().any():
        bad = np.flatnonzero(raw.isna().to_numpy())
        raise DataValidationError(
            f"{func}(): column {id!r} (id) has {bad.size:,} missing values (first at rows "
            f"{', '.join(str(data.index[i]) for i in bad[:_SHOW])}). Every row needs a person id; "
            "fill or drop them first."
        )
    codes, uniques = pd.factorize(raw, sort=False)
    first, _ = blocks(codes)
    contiguous = int(first.sum()) == len(uniques)
    order = None if contiguous else np.argsort(codes, kind="stable")
    c = codes if order is None else codes[order]
    first, grp = blocks(c)
    ids = np.asarray(uniques)[c]
    return Grouped(ids=ids, codes=c, first=first, grp=grp, order=order, contiguous=contiguous)


def id_codes(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``raw`` in sorted id order (first-appearance order if the ids do not sort)."""
    try:
        codes, uniques = pd.factorize(raw, sort=True)
    except TypeError:  # mixed types that do not compare
        codes, uniques = pd.factorize(raw, sort=False)
    return codes, np.asarray(uniques)


def group_sorted(data: pd.DataFrame, id: str, time: np.ndarray, func: str) -> Grouped:
    """Rows sorted by (id, time), ids in sorted order: the builders' input may come unsorted."""
    if data[id].isna().any():
        raise DataValidationError(
            f"{func}(): column {id!r} (id) has {int(data[id].isna().sum()):,} missing values. "
            "Every record needs a person id; fill or drop them first."
        )
    codes, uniques = id_codes(data[id])
    order = np.lexsort((time, codes))
    c = codes[order]
    first, grp = blocks(c)
    return Grouped(ids=uniques[c], codes=c, first=first, grp=grp, order=order, contiguous=True)


def contiguity_problem(data: pd.DataFrame, id: str, g: Grouped, time: str) -> Problem | None:
    if g.contiguous:
        return None
    codes = pd.factorize(data[id], sort=False)[0]
    f = np.ones(codes.shape[0], dtype=bool)
    f[1:] = codes[1:] != codes[:-1]
    n_blocks = np.bincount(codes[f])
    split = n_blocks[g.codes] > 1
    return Problem("rows of one id are not together (the data are not sorted by id)", split,
                   f"sort the rows, e.g. df.sort_values([{id!r}, {time!r}])")


def period_problems(period: np.ndarray, g: Grouped, name: str) -> list[Problem]:
    """Duplicated, decreasing and skipped periods within each id."""
    prev = np.r_[np.nan, period[:-1]]
    d = np.where(g.first, np.nan, period - prev)
    fix_sort = f"sort by (id, {name})"
    return [
        Problem(f"duplicated (id, {name})", d == 0,
                "keep one row per person and period (aggregate or drop the duplicates)", period),
        Problem(f"{name} not increasing within id (non-monotone time)", d < 0,
                fix_sort + " and check the time scale", period),
        Problem(f"missing periods (a {name} skipped within id: missing visits)", d > 1,
                "add the missing person-periods (carry the last values forward or mark them "
                "missing), or use expand_intervals() to build complete periods", period),
    ]


def interval_problems(start: np.ndarray, stop: np.ndarray, g: Grouped,
                      names: tuple[str, str]) -> list[Problem]:
    """Empty or reversed intervals, and gaps, overlaps and disorder between an id's intervals."""
    s0, s1 = names
    prev_start = np.r_[np.nan, start[:-1]]
    prev_stop = np.r_[np.nan, stop[:-1]]
    later = ~g.first
    with np.errstate(invalid="ignore"):
        return [
            Problem(f"{s1} <= {s0} (an empty or reversed interval)", ~(stop > start),
                    f"each row is the interval ({s0}, {s1}] with {s1} > {s0}", start),
            Problem(f"{s0} not increasing within id (non-monotone time)",
                    later & (start < prev_start), f"sort by (id, {s0})", start),
            Problem(f"overlapping intervals ({s0} before the previous {s1})",
                    later & (start >= prev_start) & (start < prev_stop),
                    "split or merge the overlapping records so each moment belongs to one "
                    "interval", start),
            Problem(f"gaps between intervals ({s0} after the previous {s1})",
                    later & (start > prev_stop),
                    "add the missing intervals (e.g. with the last known values) or start a "
                    "new follow-up only if the person truly left the cohort", start),
        ]


def after_event_problems(flags: dict[str, np.ndarray], g: Grouped) -> list[Problem]:
    """Rows after a row with an outcome, censoring or competing event within the same id."""
    out = []
    for name, x in flags.items():
        hit = np.nan_to_num(x, nan=0.0) == 1
        out.append(Problem(
            f"rows after {name} = 1 (follow-up must end with the event or censoring)",
            after_flag(hit, g.first, g.grp),
            f"drop every row after the first {name} = 1 of each person"))
    return out


def baseline_problems(values: dict[str, np.ndarray], g: Grouped) -> list[Problem]:
    """Baseline covariates that change within a person."""
    starts = np.flatnonzero(g.first)
    out = []
    for name, x in values.items():
        ref = x[starts][g.grp]
        same = (x == ref) | (pd.isna(x) & pd.isna(ref))
        out.append(Problem(f"baseline covariate {name} changes within id", ~np.asarray(same),
                           f"use the first value of {name} for every period of a person, or "
                           "treat it as time-varying"))
    return out


def binary_problems(values: dict[str, np.ndarray], allow_nan: set[str]) -> list[Problem]:
    out = []
    for name, x in values.items():
        ok = (x == 0) | (x == 1)
        if name in allow_nan:
            ok |= np.isnan(x)
        out.append(Problem(f"{name} not 0/1", ~ok, f"code {name} as 0/1", x))
    return out


def treatment_problems(x: np.ndarray, name: str) -> list[Problem]:
    """Fractions in (0, 1) mean the treatment changed inside the row's interval."""
    with np.errstate(invalid="ignore"):
        inside = (x > 0) & (x < 1)
        other = ~((x == 0) | (x == 1) | inside)
    return [
        Problem(f"{name} strictly between 0 and 1 (the treatment changes inside an interval)",
                inside, "split the interval at the date the treatment starts or stops "
                "(expand_intervals() with one record per treatment episode)", x),
        Problem(f"{name} not 0/1", other, f"code {name} as 0/1 (or missing rows removed)", x),
    ]


def fmt_ids(ids: np.ndarray, detail: np.ndarray | None = None) -> str:
    shown = []
    for i in range(min(_SHOW, ids.shape[0])):
        txt = repr(ids[i].item() if hasattr(ids[i], "item") else ids[i])
        if detail is not None:
            v = detail[i]
            txt += f" (at {v:g})" if isinstance(v, float | np.floating) else f" (at {v})"
        shown.append(txt)
    return ", ".join(shown)


def describe_problem(p: Problem, g: Grouped) -> str | None:
    rows = np.flatnonzero(p.mask)
    if rows.size == 0:
        return None
    bad_ids = g.ids[rows]
    _, first_rows = np.unique(g.codes[rows], return_index=True)
    first_rows = np.sort(first_rows)
    n_ids = first_rows.size
    detail = None if p.detail is None else p.detail[rows][first_rows]
    more = f" and {n_ids - _SHOW:,} more" if n_ids > _SHOW else ""
    return (f"- {p.what}: {n_ids:,} id{'s' if n_ids != 1 else ''} ({rows.size:,} "
            f"row{'s' if rows.size != 1 else ''}), e.g. id {fmt_ids(bad_ids[first_rows], detail)}"
            f"{more}. Fix: {p.fix}.")


def raise_problems(problems: Sequence[Problem | None], g: Grouped, func: str, n_rows: int,
                   extra: Any = None) -> None:
    """Raise one DataValidationError listing every non-empty problem (nothing when clean)."""
    lines = [t for p in problems if p is not None
             for t in [describe_problem(p, g)] if t is not None]
    if not lines:
        return
    n_ids = int(g.first.sum())
    head = (f"{func}(): {len(lines)} problem{'s' if len(lines) > 1 else ''} in the person-"
            f"period data ({n_rows:,} rows, {n_ids:,} ids):")
    raise DataValidationError("\n".join([head, *lines]))
