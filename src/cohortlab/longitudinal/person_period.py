"""Build person-period (long) data from wide data or from records.

``person_period()`` reshapes one column per variable and period; ``expand_intervals()`` expands
interval records, or dated records with a follow-up end, into periods.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_columns, check_numeric, verb, verb_name
from ..exceptions import DataValidationError
from ._checks import Grouped, Problem, group_sorted, id_codes, interval_problems, raise_problems
from ._person_period import interval_bounds, interval_periods, record_periods

__all__ = ["person_period", "expand_intervals"]


def _names(x: str | Sequence[str] | None, role: str, func: str) -> list[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    out = list(x)
    if not all(isinstance(c, str) for c in out):
        raise DataValidationError(f"{func}(): {role} must be a column name or a list of them; "
                                  f"got {x!r}.")
    return out


@verb
def person_period(
    data: pd.DataFrame,
    *,
    id: str,
    time_varying: str | Sequence[str],
    baseline: str | Sequence[str] | None = None,
    sep: str = "_",
    period: str = "period",
    last_period: str | None = None,
) -> pd.DataFrame:
    """Reshape wide data (one column per variable and period) into person-period rows.

    Each time-varying variable ``x`` is read from the columns ``x{sep}0, x{sep}1, ...``
    (``sbp_0, sbp_1, ...``); the number after ``sep`` is the period. Not an estimator.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person.
    id : str
        Person identifier (unique per row).
    time_varying : str or list of str
        Stems of the time-varying variables; every stem needs the same periods, numbered
        consecutively.
    baseline : str or list of str, optional
        Columns copied to every period of a person.
    sep : str, default "_"
        Separator between a stem and its period number.
    period : str, default "period"
        Name of the period column of the result.
    last_period : str, optional
        Column with each person's last period under follow-up (inclusive, e.g. the period of
        the event or of censoring). Later periods are not created; how many were not
        created, and how many non-missing values they held, is recorded in
        ``attrs["person_period"]``. Without it every person gets every period.

    Returns
    -------
    pandas.DataFrame
        Columns ``id, period, *baseline, *time_varying``, sorted by ``(id, period)`` (persons in id
        order), with a default RangeIndex. ``attrs["person_period"]`` records ``periods`` (first,
        last), ``n_persons``, ``n_rows``, ``rows_not_created`` (periods after ``last_period``) and
        ``values_after_last_period`` (non-missing values in them).

    Raises
    ------
    DataValidationError
        Duplicated ids; a stem without columns, or missing some periods (names them); a
        ``last_period`` missing, not an integer or before the first period.

    Examples
    --------
    >>> import pandas as pd
    >>> import cohortlab as cl
    >>> wide = pd.DataFrame({"pid": [1, 2], "age": [50, 60], "sbp_0": [140, 150],
    ...                      "sbp_1": [135, 155], "sbp_2": [130, None], "last": [2, 1]})
    >>> long = cl.person_period(wide, id="pid", time_varying="sbp", baseline="age",
    ...                         last_period="last")
    >>> print(long.to_string(index=False))
     pid  period  age   sbp
       1       0   50 140.0
       1       1   50 135.0
       1       2   50 130.0
       2       0   60 150.0
       2       1   60 155.0
    >>> long.attrs["person_period"]["rows_not_created"]
    1
    """
    func = verb_name()
    stems = _names(time_varying, "time_varying", func)
    base = _names(baseline, "baseline", func)
    if not stems:
        raise DataValidationError(f"{func}(): time_varying is empty; name at least one stem.")
    check_columns(data, func, id=id, baseline=base, last_period=last_period)
    if data[id].isna().any() or data[id].duplicated().any():
        dup = data[id][data[id].duplicated(keep=False)].unique()[:5].tolist()
        raise DataValidationError(
            f"{func}(): column {id!r} (id) must be unique and non-missing in wide data (one row "
            f"per person); got {int(data[id].duplicated().sum()):,} duplicated or missing, "
            f"e.g. {dup}. Aggregate to one row per person first, or use expand_intervals() "
            "for records."
        )
    periods, columns = _wide_columns(data, stems, sep, func)
    codes = id_codes(data[id])[0]
    if (np.diff(codes) < 0).any():  # persons in id order, as the long format wants
        data = data.iloc[np.argsort(codes, kind="stable")]
    n, k = len(data), len(periods)
    rows = np.repeat(np.arange(n), k)
    per = np.tile(np.asarray(periods, dtype=np.int64), n)
    keep = np.ones(n * k, dtype=bool)
    after_values = 0
    if last_period is not None:
        last = check_numeric(data, last_period, "last_period", func)
        bad = np.isnan(last) | (last != np.floor(last)) | (last < periods[0])
        if bad.any():
            raise DataValidationError(
                f"{func}(): column {last_period!r} (last_period) must be an integer period >= "
                f"{periods[0]} for every person; got {int(bad.sum()):,} bad values, e.g. ids "
                f"{data[id][bad].head(5).tolist()}. Give the period of the event or censoring."
            )
        keep = per <= np.repeat(last, k)
    out: dict[str, Any] = {id: data[id].to_numpy()[rows][keep], period: per[keep]}
    for c in base:
        out[c] = data[c].to_numpy()[rows][keep]
    for stem in stems:
        vals = data[columns[stem]].to_numpy().reshape(-1)  # row-major: person, then period
        after_values += int(pd.notna(vals[~keep]).sum())
        out[stem] = vals[keep]
    df = pd.DataFrame(out)
    for stem in stems:  # keep the dtype of the wide columns where they agree
        dtypes = {data[c].dtype for c in columns[stem]}
        if len(dtypes) == 1 and df[stem].dtype == object:
            df[stem] = df[stem].astype(dtypes.pop())
    df.attrs["person_period"] = {
        "periods": (periods[0], periods[-1]), "n_persons": n, "n_rows": int(keep.sum()),
        "rows_not_created": int((~keep).sum()), "values_after_last_period": after_values,
    }
    return df


def _wide_columns(data: pd.DataFrame, stems: list[str], sep: str,
                  func: str) -> tuple[list[int], dict[str, list[str]]]:
    found: dict[str, dict[int, str]] = {}
    for stem in stems:
        pat = re.compile(re.escape(stem) + re.escape(sep) + r"(\d+)$")
        hits = {int(m.group(1)): str(c) for c in data.columns
                for m in [pat.fullmatch(str(c))] if m}
        if not hits:
            raise DataValidationError(
                f"{func}(): no columns named {stem}{sep}<period> (time_varying {stem!r}); "
                f"columns are e.g. {[str(c) for c in data.columns[:6]]}. Check the stem and sep."
            )
        found[stem] = hits
    all_periods = sorted(set().union(*[set(h) for h in found.values()]))
    full = list(range(all_periods[0], all_periods[-1] + 1))
    for stem, hits in found.items():
        missing = [f"{stem}{sep}{p}" for p in full if p not in hits]
        if missing:
            raise DataValidationError(
                f"{func}(): time_varying {stem!r} lacks the columns {missing[:6]} (periods "
                f"{full[0]}..{full[-1]} must all exist, consecutively). Add them (as missing "
                "values if the variable was not measured) or renumber the periods."
            )
    return full, {s: [found[s][p] for p in full] for s in stems}


def _positive(x: Any, name: str, func: str) -> float:
    if (isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(float(x))
            and float(x) > 0):
        return float(x)
    raise DataValidationError(f"{func}(): {name} must be a positive number; got {x!r}. "
                              "Pass the period length in the time unit, e.g. width=30 for "
                              "30-day periods on a day scale.")


@verb
def expand_intervals(
    data: pd.DataFrame,
    *,
    id: str,
    start: str | None = None,
    stop: str | None = None,
    time: str | None = None,
    end: str | None = None,
    width: float = 1.0,
    values: str | Sequence[str] | None = None,
    treatment: str | None = None,
    event: str | None = None,
    period: str = "period",
) -> pd.DataFrame:
    """Expand interval records, or dated records with a follow-up end, into periods.

    Periods have length ``width``; period ``k`` is the interval ``(k * width, (k + 1) *
    width]`` of the time scale. Not an estimator. Two inputs:

    - **Intervals** (``start=``, ``stop=``): each row is an interval ``(start, stop]`` with
      constant ``values`` and ``treatment`` (e.g. treatment episodes, a covariate's spells),
      in any row order (sorted by ``(id, start)`` here), a person's intervals contiguous
      (checked: overlaps, gaps and empty intervals raise). An
      interval covers the periods ``floor(start / width)`` to ``ceil(stop / width) - 1``;
      ``event`` (0/1 at the interval's ``stop``) goes to the period holding ``stop``.
    - **Dated records** (``time=``, ``end=``): rows are measurements at ``time`` (e.g.
      visits), ``end`` is the person's end of follow-up (constant within a person) and
      ``event`` the person's status at ``end``. Periods run from 0 to ``ceil(end / width) -
      1``; a period takes the last record in ``[k * width, (k + 1) * width)`` and periods
      without a record carry the previous values forward (last observation carried forward,
      counted); periods before a person's first record have missing values. Records after
      ``end`` are not used (counted).

    Parameters
    ----------
    data : pandas.DataFrame
    id : str
        Person identifier.
    start, stop : str, optional
        Interval records (give both, or ``time`` and ``end``).
    time, end : str, optional
        Dated records and the follow-up end.
    width : float, default 1.0
        Period length in the unit of the time columns.
    values : str or list of str, optional
        Columns carried into the periods.
    treatment : str, optional
        A 0/1 column carried like ``values``; with intervals, two intervals with different
        treatment inside one period raise (the treatment changes inside the period: choose a
        smaller ``width`` or align the episodes to the period grid).
    event : str, optional
        0/1 event indicator (at the interval's stop, or at ``end``).
    period : str, default "period"
        Name of the period column of the result.

    Returns
    -------
    pandas.DataFrame
        ``id, period, start, stop`` (the period's bounds, the last one ending at the person's last
        ``stop`` or ``end``), then ``values``, ``treatment`` and ``event``, sorted by ``(id,
        period)`` (ids in sorted order). ``attrs["expand_intervals"]`` records the counts:
        ``n_input_rows``, ``n_rows``, and for intervals ``merged_rows`` (intervals sharing a period:
        the period takes the values of the first) and ``value_changes_inside_period`` (per column:
        periods where merged intervals disagreed); for dated records ``records_after_end``,
        ``records_superseded`` (earlier records in the same period) and ``carried_forward`` (per
        column: periods filled from an earlier period).

    Raises
    ------
    DataValidationError
        Overlapping, out-of-order or gapped intervals, empty intervals, negative times, a
        treatment change inside a period, or an ``end`` that varies within a person; each
        names the ids and the fix.

    Examples
    --------
    >>> import pandas as pd
    >>> import cohortlab as cl
    >>> episodes = pd.DataFrame({"pid": [1, 1, 2], "from_day": [0, 60, 0],
    ...                          "to_day": [60, 75, 30], "on_drug": [0, 1, 1],
    ...                          "died": [0, 1, 0]})
    >>> pp = cl.expand_intervals(episodes, id="pid", start="from_day", stop="to_day",
    ...                          width=30, treatment="on_drug", event="died")
    >>> print(pp.to_string(index=False))
     pid  period  start  stop  on_drug  died
       1       0    0.0  30.0        0     0
       1       1   30.0  60.0        0     0
       1       2   60.0  75.0        1     1
       2       0    0.0  30.0        1     0
    """
    func = verb_name()
    interval_mode = start is not None or stop is not None
    if interval_mode == (time is not None or end is not None) or (
            interval_mode and (start is None or stop is None)) or (
            not interval_mode and (time is None or end is None)):
        raise DataValidationError(
            f"{func}(): give start= and stop= (interval records) or time= and end= (dated "
            f"records and the follow-up end); got start={start!r}, stop={stop!r}, "
            f"time={time!r}, end={end!r}."
        )
    w = _positive(width, "width", func)
    vals = _names(values, "values", func)
    carried = vals + ([treatment] if treatment is not None else [])
    check_columns(data, func, id=id, start=start, stop=stop, time=time, end=end, values=vals,
                  treatment=treatment, event=event)
    if interval_mode:
        assert start is not None and stop is not None
        return _from_intervals(data, id, start, stop, w, carried, treatment, event, period, func)
    assert time is not None and end is not None
    return _from_records(data, id, time, end, w, carried, event, period, func)


def _from_intervals(data: pd.DataFrame, id: str, start: str, stop: str, w: float,
                    carried: list[str], treatment: str | None, event: str | None,
                    period: str, func: str) -> pd.DataFrame:
    s0 = check_numeric(data, start, "start", func)
    s1 = check_numeric(data, stop, "stop", func)
    if np.isnan(s0).any() or np.isnan(s1).any() or (s0 < 0).any():
        raise DataValidationError(
            f"{func}(): columns {start!r} and {stop!r} must be non-missing and >= 0; got "
            f"{int(np.isnan(s0).sum() + np.isnan(s1).sum()):,} missing and "
            f"{int(np.nansum(s0 < 0)):,} negative values. Measure time from the origin.")
    g = group_sorted(data, id, s0, func)  # records may come in any order
    s0, s1 = g.take(s0), g.take(s1)
    raise_problems(interval_problems(s0, s1, g, (start, stop)), g, func, len(data))
    rows, per, last_p, dup = interval_periods(s0, s1, w, g.codes)
    src = rows if g.order is None else g.order[rows]
    ev = None
    if event is not None:
        e = g.take(check_numeric(data, event, "event", func))
        # the event belongs to the period holding the interval's stop only
        ev = np.where(per == last_p[rows], np.nan_to_num(e[rows]), 0.0)
    keep = ~dup
    seg = np.cumsum(keep) - 1  # the kept row each expanded row merges into
    changes: dict[str, int] = {}
    problems: list[Problem | None] = []
    for c in carried:
        x = data[c].to_numpy()[src]
        differs = dup & ~_same(x, np.r_[x[:1], x[:-1]])
        n_changed = np.unique(seg[differs]).size
        changes[c] = int(n_changed)
        if c == treatment and n_changed:
            mask = np.zeros(len(data), dtype=bool)
            mask[rows[differs]] = True
            problems.append(Problem(
                f"{c} changes inside a period of width {w:g}", mask,
                f"choose a smaller width, or align the episodes of {c!r} to multiples of "
                "width", s0))
    raise_problems(problems, g, func, len(data))
    out: dict[str, Any] = {id: g.ids[rows][keep], period: per[keep]}
    out["start"], out["stop"] = interval_bounds(s0, s1, g.first, g.grp, rows[keep], per[keep],
                                                w)
    for c in carried:
        out[c] = data[c].to_numpy()[src][keep]
    if ev is not None:
        assert event is not None
        out[event] = np.maximum.reduceat(ev, np.flatnonzero(keep)).astype(np.int64)
    df = pd.DataFrame(out)
    df.attrs["expand_intervals"] = {
        "n_input_rows": len(data), "n_rows": len(df), "width": w,
        "merged_rows": int(dup.sum()), "value_changes_inside_period": changes,
    }
    return df


def _uniques(g: Grouped) -> np.ndarray:
    """The id of each block, in block order."""
    return g.ids[g.first]


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    eq = a == b
    try:
        eq |= pd.isna(a) & pd.isna(b)
    except TypeError:  # pragma: no cover - exotic objects
        pass
    return np.asarray(eq, dtype=bool)


def _from_records(data: pd.DataFrame, id: str, time: str, end: str, w: float,
                  carried: list[str], event: str | None, period: str,
                  func: str) -> pd.DataFrame:
    t = check_numeric(data, time, "time", func)
    e_end = check_numeric(data, end, "end", func)
    if np.isnan(t).any() or (t < 0).any() or np.isnan(e_end).any() or (e_end <= 0).any():
        raise DataValidationError(
            f"{func}(): {time!r} must be non-missing and >= 0 and {end!r} non-missing and > 0; "
            f"got {int(np.isnan(t).sum()):,} missing and {int(np.nansum(t < 0)):,} negative "
            f"times, {int(np.isnan(e_end).sum() + np.nansum(e_end <= 0)):,} bad ends. Measure "
            "time from each person's origin.")
    # one sort: by person, then time
    g = group_sorted(data, id, t, func)
    order, c, first, grp, uniques = g.order, g.codes, g.first, g.grp, _uniques(g)
    assert order is not None
    t = t[order]
    starts = np.flatnonzero(first)
    e_end = e_end[order]
    bad_end = e_end != e_end[starts][grp]
    ev_all = None
    if event is not None:
        ev_all = check_numeric(data, event, "event", func)[order]
        bad_end |= ~_same(ev_all, ev_all[starts][grp])
    if bad_end.any():
        ids = np.asarray(uniques)[np.unique(c[bad_end])]
        raise DataValidationError(
            f"{func}(): {end!r} (end) and {event!r} (event) must be constant within a person; "
            f"they vary for {ids.size:,} ids, e.g. {ids[:5].tolist()}. Put each person's end of "
            "follow-up and final status on every record.")
    rg = record_periods(t, e_end[starts], c, grp, w)
    rows, per, slot, src_slot = rg.rows, rg.period, rg.slot, rg.src_slot
    out: dict[str, Any] = {id: np.asarray(uniques)[rows], period: per}
    end_p = e_end[starts][rows]
    out["start"] = per * w
    out["stop"] = np.minimum((per + 1) * w, end_p)
    carried_counts: dict[str, int] = {}
    for col in carried:
        x = data[col].to_numpy()[order]
        vals = pd.Series(x[np.maximum(src_slot, 0)])
        out[col] = vals.where(src_slot >= 0).to_numpy() if (src_slot < 0).any() \
            else vals.to_numpy()
        carried_counts[col] = int(((slot < 0) & (src_slot >= 0)).sum())
    if ev_all is not None:
        assert event is not None
        last_row = np.r_[rows[1:] != rows[:-1], True]
        out[event] = np.where(last_row, np.nan_to_num(ev_all[starts][rows]), 0).astype(np.int64)
    df = pd.DataFrame(out)
    df.attrs["expand_intervals"] = {
        "n_input_rows": len(data), "n_rows": len(df), "width": w,
        "records_after_end": rg.n_after_end, "records_superseded": rg.n_superseded,
        "carried_forward": carried_counts,
    }
    return df
