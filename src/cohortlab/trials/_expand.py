"""Sequential-trial expansion of person-period arrays (arrays only, no pandas).

A person-period chunk (rows sorted by person, then period) becomes the rows of a sequence of
nested trials: one trial per eligible period of each person, each trial following the person
from that period to the end of their records. The expansion is vectorised: every row is
repeated once per trial it belongs to (each trial is the contiguous range of rows from its
start to the person's last row, concatenated by ``np.repeat``); there is no loop over
persons or rows and no sort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._design import natural_spline

__all__ = ["PersonPeriod", "Expanded", "expand", "deviation", "time_terms", "group_cumsum",
           "max_followup"]


@dataclass(frozen=True, eq=False)
class PersonPeriod:
    """One chunk of person-period data as arrays (rows sorted by person, then period).

    ``person`` are integer person codes (consecutive rows of a person share one code),
    ``outcome`` is float (NaN where not observed: censored rows), ``baseline`` holds the
    covariates frozen at each trial's start and ``varying`` the time-varying covariates of the
    switching (censoring-weight) denominator model. ``competing`` (optional) marks the
    competing event in the period (drawn before the outcome within a period).
    """

    person: np.ndarray
    period: np.ndarray
    treatment: np.ndarray
    outcome: np.ndarray
    eligible: np.ndarray
    censor: np.ndarray
    baseline: np.ndarray
    varying: np.ndarray
    competing: np.ndarray | None = None  # 0/1 competing event in the period (0 if censored)

    @property
    def n_rows(self) -> int:
        return int(self.person.shape[0])


@dataclass(frozen=True, eq=False)
class Expanded:
    """Index arrays of the expanded (person x trial x follow-up) rows.

    ``src`` is the person-period row of each expanded row, ``start`` the row where its trial
    starts (unique per person-trial, so it identifies the trial), ``followup`` the periods
    since the trial start, ``trial`` the period of the trial start and ``arm`` the treatment
    at the trial start. Rows are ordered by trial (person, then trial period), then follow-up.
    """

    src: np.ndarray
    start: np.ndarray
    followup: np.ndarray
    trial: np.ndarray
    arm: np.ndarray
    first: np.ndarray  # bool: the row opens its trial (follow-up 0)
    entry: np.ndarray  # the trial (index into ``starts``) of each row
    starts: np.ndarray  # the start row of each trial of the chunk

    @property
    def n_rows(self) -> int:
        return int(self.src.shape[0])


def expand(pp: PersonPeriod) -> Expanded:
    """Expand person-period rows into nested trials, one per eligible row.

    Trial ``e`` starts at eligible row ``s_e`` and runs to its person's last row, so the
    expanded rows of a trial are the contiguous range ``s_e .. last``; concatenating the
    ranges (``np.repeat`` of the starts plus within-range offsets) gives the rows already
    ordered by trial, then follow-up, with no sort.

    Examples
    --------
    >>> pp = PersonPeriod(person=np.array([0, 0, 0, 1, 1]), period=np.array([0, 1, 2, 0, 1]),
    ...     treatment=np.array([0, 0, 1, 1, 1]), outcome=np.zeros(5),
    ...     eligible=np.array([True, True, False, True, False]), censor=np.zeros(5, dtype=int),
    ...     baseline=np.zeros((5, 0)), varying=np.zeros((5, 0)))
    >>> ex = expand(pp)
    >>> ex.src.tolist(), ex.trial.tolist(), ex.followup.tolist()
    ([0, 1, 2, 1, 2, 3, 4], [0, 0, 0, 1, 1, 0, 0], [0, 1, 2, 0, 1, 0, 1])
    """
    n = pp.n_rows
    if n == 0:
        e = np.zeros(0, dtype=np.int64)
        return Expanded(e, e, e, e, e, np.zeros(0, dtype=bool), e, e)
    person = pp.person
    new_person = np.empty(n, dtype=bool)
    new_person[0] = True
    new_person[1:] = person[1:] != person[:-1]
    heads = np.flatnonzero(new_person)
    ends = np.r_[heads[1:] - 1, n - 1]
    last = ends[np.cumsum(new_person) - 1]  # each row's person's last row
    starts = np.flatnonzero(pp.eligible)
    length = last[starts] - starts + 1
    total = int(length.sum())
    entry = np.repeat(np.arange(starts.size), length)
    offs = np.arange(total) - np.repeat(np.cumsum(length) - length, length)
    start = starts[entry]
    src = start + offs  # periods are consecutive within a person: follow-up = offset
    return Expanded(src=src, start=start, followup=offs, trial=pp.period[start],
                    arm=pp.treatment[start].astype(np.int64), first=offs == 0,
                    entry=entry, starts=starts)


def max_followup(pp: PersonPeriod) -> int:
    """The longest follow-up (periods after a trial start) of any trial in the chunk, or -1.

    Examples
    --------
    >>> pp = PersonPeriod(person=np.array([0, 0, 0, 1]), period=np.array([3, 4, 5, 0]),
    ...     treatment=np.zeros(4, dtype=int), outcome=np.zeros(4),
    ...     eligible=np.array([False, True, False, True]), censor=np.zeros(4, dtype=int),
    ...     baseline=np.zeros((4, 0)), varying=np.zeros((4, 0)))
    >>> max_followup(pp)
    1
    """
    ex = expand(pp)
    return int(ex.followup.max()) if ex.n_rows else -1


def group_cumsum(x: np.ndarray, ex: Expanded) -> np.ndarray:
    """Cumulative sum of ``x`` within each trial (trials are contiguous row ranges).

    Examples
    --------
    >>> pp = PersonPeriod(person=np.array([0, 0, 0]), period=np.arange(3),
    ...     treatment=np.zeros(3, dtype=int), outcome=np.zeros(3),
    ...     eligible=np.array([True, True, False]), censor=np.zeros(3, dtype=int),
    ...     baseline=np.zeros((3, 0)), varying=np.zeros((3, 0)))
    >>> group_cumsum(np.arange(1.0, 6.0), expand(pp)).tolist()
    [1.0, 3.0, 6.0, 4.0, 9.0]
    """
    cs = np.cumsum(x)
    head = np.flatnonzero(ex.first)
    before = cs[head] - x[head]
    return cs - before[ex.entry]


def deviation(pp: PersonPeriod, ex: Expanded) -> tuple[np.ndarray, np.ndarray]:
    """Per-protocol status of expanded rows: (adherent, deviates here).

    ``adherent`` marks rows before any deviation from the assigned arm (kept by the
    per-protocol analysis); ``deviates`` marks the first row whose treatment differs from the
    arm (artificially censored: dropped from the outcome model, kept as the event row of the
    switching model).
    """
    if ex.n_rows == 0:
        e = np.zeros(0, dtype=bool)
        return e, e
    dev = pp.treatment[ex.src] != ex.arm
    big = np.iinfo(np.int64).max
    head = np.flatnonzero(ex.first)
    first_dev = np.minimum.reduceat(np.where(dev, ex.followup, big), head)[ex.entry]
    return ex.followup < first_dev, ex.followup == first_dev


def time_terms(x: np.ndarray, kind: str, knots: np.ndarray | None = None) -> np.ndarray:
    """Columns of a follow-up or trial-period term: none, linear, quadratic or a spline.

    Examples
    --------
    >>> time_terms(np.array([0.0, 1.0, 2.0]), "quadratic").tolist()
    [[0.0, 0.0], [1.0, 1.0], [2.0, 4.0]]
    """
    x = x.astype(float)
    if kind == "none":
        return np.zeros((x.shape[0], 0))
    if kind == "linear":
        return x[:, None]
    if kind == "quadratic":
        return np.column_stack([x, x * x])
    if knots is None:
        raise ValueError("time_terms(): a spline needs knots.")
    return natural_spline(x, knots)
