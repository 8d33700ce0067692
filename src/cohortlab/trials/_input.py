"""Person-period input as array chunks: validation and chunking of a DataFrame or Parquet file."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validation import verb_name
from ..exceptions import DataValidationError
from ._chunked import parquet_chunks, parquet_ids
from ._expand import PersonPeriod

__all__ = ["Columns", "to_arrays", "frame_source", "parquet_source", "resample",
           "check_horizons"]


@dataclass(frozen=True)
class Columns:
    """The caller's column names."""

    id: str
    period: str
    treatment: str
    outcome: str
    eligible: str
    censor: str | None
    baseline: tuple[str, ...]
    varying: tuple[str, ...]
    competing: str | None = None

    def used(self) -> list[str]:
        cols = [self.id, self.period, self.treatment, self.outcome, self.eligible]
        cols += [self.censor] if self.censor else []
        cols += [self.competing] if self.competing else []
        return list(dict.fromkeys(cols + list(self.baseline) + list(self.varying)))


def _binary(s: pd.Series, name: str, role: str, func: str) -> np.ndarray:
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(v, (0.0, 1.0))
    if bad.any():
        shown = pd.unique(s[bad])[:5].tolist()
        raise DataValidationError(
            f"{func}(): {role} column {name!r} must be 0/1 in every row; found "
            f"{int(bad.sum()):,} rows with other values (e.g. {shown}). Recode it to 0/1."
        )
    return v.astype(np.int8)


def _numeric(df: pd.DataFrame, cols: Sequence[str], role: str, func: str) -> np.ndarray:
    if not cols:
        return np.zeros((len(df), 0))
    out = np.empty((len(df), len(cols)))
    for j, c in enumerate(cols):
        if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])):
            raise DataValidationError(
                f"{func}(): {role} column {c!r} must be numeric; found dtype "
                f"{df[c].dtype}. Encode it as numbers (dummy columns for categories)."
            )
        v = df[c].to_numpy(dtype=float)
        bad = ~np.isfinite(v)
        if bad.any():
            raise DataValidationError(
                f"{func}(): {role} column {c!r} has {int(bad.sum()):,} missing or infinite "
                "values; impute them or remove those persons first."
            )
        out[:, j] = v
    return out


def to_arrays(df: pd.DataFrame, cols: Columns, func: str, person_offset: int = 0
              ) -> PersonPeriod:
    """Validate one chunk of whole persons (sorted by id, period) and return its arrays."""
    codes, _ = pd.factorize(df[cols.id], sort=False)
    if (codes < 0).any():
        raise DataValidationError(f"{func}(): id column {cols.id!r} has missing values.")
    person = codes.astype(np.int64) + person_offset
    period = pd.to_numeric(df[cols.period], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(period)) or not np.all(period == np.round(period)):
        raise DataValidationError(
            f"{func}(): period column {cols.period!r} must hold whole numbers without missing "
            "values (0, 1, 2, ...)."
        )
    period = period.astype(np.int64)
    same = person[1:] == person[:-1]
    if np.any(person[1:][~same] < person[:-1][~same]) or np.any(
            period[1:][same] != period[:-1][same] + 1):
        raise DataValidationError(
            f"{func}(): rows must be sorted by ({cols.id!r}, {cols.period!r}) with each "
            f"person's rows contiguous and {cols.period!r} consecutive (0, 1, 2, ...); sort "
            "with df.sort_values([id, period]) and fill gaps in follow-up."
        )
    treatment = _binary(df[cols.treatment], cols.treatment, "treatment", func)
    eligible = _binary(df[cols.eligible], cols.eligible, "eligible", func).astype(bool)
    censor = (_binary(df[cols.censor], cols.censor, "censor", func) if cols.censor
              else np.zeros(len(df), dtype=np.int8))
    y = pd.to_numeric(df[cols.outcome], errors="coerce").to_numpy(dtype=float)
    obs = censor == 0
    competing = None
    if cols.competing:
        competing, y = _competing(df[cols.competing], cols, obs, y, same, func)
        obs = obs & (competing == 0)
    bad = obs & ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise DataValidationError(
            f"{func}(): outcome column {cols.outcome!r} must be 0/1 in uncensored rows; found "
            f"{int(bad.sum()):,} rows with other or missing values. Missing outcomes are "
            f"allowed only in rows with censor = 1" + (f" ({cols.censor!r})." if cols.censor
                                                       else "; pass censor=.")
        )
    _check_last_row(y, same, "outcome event", cols.outcome, func)
    return PersonPeriod(person=person, period=period, treatment=treatment, outcome=y,
                        eligible=eligible, censor=censor,
                        baseline=_numeric(df, cols.baseline, "covariate", func),
                        varying=_numeric(df, cols.varying, "switch covariate", func),
                        competing=competing)


def _competing(s: pd.Series, cols: Columns, obs: np.ndarray, y: np.ndarray,
               same: np.ndarray, func: str) -> tuple[np.ndarray, np.ndarray]:
    """The competing-event column (0/1 where uncensored; 0 stored in censored rows).

    Within a period the competing event comes before the outcome: a row with the competing
    event has no outcome (NaN or 0 accepted, stored as NaN; 1 is an error), and no rows may
    follow it.
    """
    name = cols.competing
    d = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    bad = obs & ~np.isin(d, (0.0, 1.0))
    if bad.any():
        shown = pd.unique(s[bad])[:5].tolist()
        raise DataValidationError(
            f"{func}(): competing column {name!r} must be 0/1 in uncensored rows; found "
            f"{int(bad.sum()):,} rows with other or missing values (e.g. {shown}). Missing "
            "values are allowed only in rows with censor = 1."
        )
    d = np.where(obs, d, 0.0)
    both = (d == 1) & (y == 1)
    if both.any():
        raise DataValidationError(
            f"{func}(): {int(both.sum()):,} rows have both the competing event ({name!r} = 1) "
            f"and the outcome ({cols.outcome!r} = 1); within a period the competing event "
            "comes first, so the outcome cannot follow it. Recode the outcome of those rows "
            "(NaN or 0), or the competing event to 0 if the outcome came first."
        )
    _check_last_row(d, same, "competing event", name, func)
    return d.astype(np.int8), np.where(d == 1, np.nan, y)


def _check_last_row(x: np.ndarray, same: np.ndarray, event: str, column: str | None,
                    func: str) -> None:
    """An event (``x == 1``) must be in its person's last row (``same``: row i+1 is i's)."""
    last = np.r_[~same, True]
    after = (x == 1) & ~last
    if after.any():
        raise DataValidationError(
            f"{func}(): {int(after.sum()):,} persons have rows after their {event} "
            f"({column!r} = 1 not in the last row); drop the rows after the event."
        )


def _slices(pp: PersonPeriod, chunk_persons: int) -> list[slice]:
    n_person = int(pp.person[-1] - pp.person[0] + 1) if pp.n_rows else 0
    cuts = np.searchsorted(pp.person, pp.person[0] + np.arange(0, n_person, chunk_persons))
    bounds = np.r_[cuts, pp.n_rows]
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _take(pp: PersonPeriod, s: slice | np.ndarray) -> PersonPeriod:
    return PersonPeriod(**{k: getattr(pp, k)[s] for k in (
        "person", "period", "treatment", "outcome", "eligible", "censor", "baseline",
        "varying")}, competing=None if pp.competing is None else pp.competing[s])


def frame_source(pp: PersonPeriod, chunk_persons: int):
    """A re-iterable source of person chunks from in-memory arrays."""
    slices = _slices(pp, chunk_persons)

    def source() -> Iterator[PersonPeriod]:
        for s in slices:
            yield _take(pp, s)

    return source


def parquet_source(path: str, cols: Columns, chunk_persons: int, func: str):
    """A re-iterable source of person chunks read from Parquet through DuckDB on each pass."""
    ids = parquet_ids(path, cols.id)

    def source() -> Iterator[PersonPeriod]:
        offset = 0
        for df in parquet_chunks(path, cols.used(), cols.id, cols.period, chunk_persons, ids):
            pp = to_arrays(df, cols, func, person_offset=offset)
            offset = int(pp.person[-1]) + 1 if pp.n_rows else offset
            yield pp

    return source


def resample(pp: PersonPeriod, idx: np.ndarray) -> PersonPeriod:
    """Rows ``idx`` (whole persons, as drawn by the cluster bootstrap) with fresh person codes.

    A person drawn twice becomes two persons: a new person starts wherever the row index does
    not continue the previous row of the same person.
    """
    new = np.r_[True, (idx[1:] != idx[:-1] + 1) | (pp.person[idx[1:]] != pp.person[idx[:-1]])]
    out = _take(pp, idx)
    return PersonPeriod(person=np.cumsum(new) - 1, period=out.period, treatment=out.treatment,
                        outcome=out.outcome, eligible=out.eligible, censor=out.censor,
                        baseline=out.baseline, varying=out.varying,
                        competing=out.competing)


def check_horizons(horizons: Sequence[int] | int | None, n_fu: int) -> list[int]:
    """The follow-up periods to report at (default: the last), each in ``0 .. n_fu - 1``."""
    hz = [n_fu - 1] if horizons is None else (
        [horizons] if isinstance(horizons, int | np.integer) else list(horizons))
    bad = [h for h in hz if not (isinstance(h, int | np.integer) and 0 <= h < n_fu)]
    if bad or not hz:
        raise DataValidationError(
            f"{verb_name()}(): horizons must be follow-up periods in 0..{n_fu - 1}; got "
            f"{bad or hz}.")
    return [int(h) for h in hz]
