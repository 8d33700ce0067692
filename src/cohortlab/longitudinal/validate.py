"""``validate_person_period()``: check long-format (person-period) data before an analysis."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._validation import check_columns, check_numeric, verb, verb_name
from ..exceptions import DataValidationError
from ._checks import (
    Problem,
    after_event_problems,
    baseline_problems,
    binary_problems,
    contiguity_problem,
    group_rows,
    interval_problems,
    period_problems,
    raise_problems,
    treatment_problems,
)

__all__ = ["validate_person_period"]


def _missing_problem(data: pd.DataFrame, cols: dict[str, str | None]) -> None:
    for role, col in cols.items():
        if col is None:
            continue
        n = int(data[col].isna().sum())
        if n:
            raise DataValidationError(
                f"{verb_name()}(): column {col!r} ({role}) has {n:,} missing values; every person-"
                f"period needs its {role}. Fill or drop those rows first."
            )


@verb
def validate_person_period(
    data: pd.DataFrame,
    *,
    id: str,
    period: str | None = None,
    start: str | None = None,
    stop: str | None = None,
    treatment: str | None = None,
    outcome: str | None = None,
    censor: str | None = None,
    competing: str | None = None,
    baseline: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Check person-period data and raise one error listing every problem, with ids and fixes.

    Not an estimator: it checks the long-format data contract that the longitudinal
    estimators assume (one row per person and period, each person's rows together and in
    time order, follow-up ending at the event or censoring). All checks run on the whole
    frame at once (one stable sort by id, then shifted differences), so millions of rows take
    seconds.

    Parameters
    ----------
    data : pandas.DataFrame
        Long format: one row per person-period.
    id : str
        Person identifier.
    period : str, optional
        Discrete time: integer periods, consecutive within a person (a person's first period
        may be above 0: late entry). Give ``period`` or ``start`` and ``stop``.
    start, stop : str, optional
        Interval time: each row is the interval ``(start, stop]``; a person's intervals must
        be in order, non-empty and contiguous (each ``start`` equal to the previous ``stop``).
    treatment : str, optional
        0/1 in each row; a value strictly between 0 and 1 (e.g. the fraction of days
        treated) means the treatment changes inside the interval and is reported as such.
    outcome, censor, competing : str, optional
        0/1 event indicators at the end of the row's period; no row of a person may follow a
        row where one of them is 1. ``outcome`` and ``competing`` may be missing (NaN) in the
        row where follow-up ends by censoring or the competing event (the convention of
        :func:`~cohortlab.simulate_longitudinal`).
    baseline : str or list of str, optional
        Baseline covariates, which must be constant within a person.

    Returns
    -------
    pandas.DataFrame
        ``data`` itself, unchanged, so that the call can sit in a ``.pipe`` chain.

    Raises
    ------
    DataValidationError
        One error for all problems found, one line each with the number of ids and rows, the
        first few ids (and the period or start where it happens) and the fix:

        - rows of one id not together (not sorted by id);
        - duplicated ``(id, period)``, a period that decreases (non-monotone time), a skipped
          period (missing visits);
        - empty or reversed intervals, intervals out of order, overlaps, gaps;
        - rows after ``outcome``, ``censor`` or ``competing`` = 1;
        - a treatment that changes inside an interval, or values that are not 0/1;
        - a baseline covariate that changes within a person.

        Missing values in ``id``, ``period``, ``start``, ``stop`` or ``treatment`` are their
        own error.

    Examples
    --------
    >>> import pandas as pd
    >>> import cohortlab as cl
    >>> df = pd.DataFrame({"pid": [1, 1, 1, 2, 2, 3], "month": [0, 1, 2, 0, 2, 0],
    ...                    "dead": [0, 1, 0, 0, 0, 0]})
    >>> _ = cl.validate_person_period(df.iloc[:3].assign(dead=0), id="pid", period="month")
    >>> try:
    ...     cl.validate_person_period(df, id="pid", period="month", outcome="dead")
    ... except cl.CohortError as err:
    ...     print(err)
    validate_person_period(): 2 problems in the person-period data (6 rows, 3 ids):
    - missing periods (a month skipped within id: missing visits): 1 id (1 row), e.g. id 2 (at 2). Fix: add the missing person-periods (carry the last values forward or mark them missing), or use expand_intervals() to build complete periods.
    - rows after dead = 1 (follow-up must end with the event or censoring): 1 id (1 row), e.g. id 1. Fix: drop every row after the first dead = 1 of each person.
    """  # noqa: E501
    if (period is None) == (start is None or stop is None) or (start is None) != (stop is None):
        raise DataValidationError(
            f"{verb_name()}(): give either period= (discrete time) or both start= and stop= "
            f"(intervals); got period={period!r}, start={start!r}, stop={stop!r}."
        )
    base = [baseline] if isinstance(baseline, str) else list(baseline or [])
    check_columns(data, id=id, period=period, start=start, stop=stop,
                  treatment=treatment, outcome=outcome, censor=censor, competing=competing,
                  baseline=base)
    _missing_problem(data, {"period": period, "start": start, "stop": stop,
                            "treatment": treatment})
    g = group_rows(data, id, verb_name())
    problems = [contiguity_problem(data, id, g, period or start or "")]
    if period is not None:
        p = g.take(check_numeric(data, period, "period"))
        problems.append(_integer_problem(p, period))
        problems += period_problems(p, g, period)
    else:
        assert start is not None and stop is not None
        s0 = g.take(check_numeric(data, start, "start"))
        s1 = g.take(check_numeric(data, stop, "stop"))
        problems += interval_problems(s0, s1, g, (start, stop))
    if treatment is not None:
        problems += treatment_problems(g.take(check_numeric(data, treatment, "treatment")),
                                       treatment)
    flags = {c: g.take(check_numeric(data, c, role)) for c, role in
             ((outcome, "outcome"), (censor, "censor"), (competing, "competing")) if c is not None}
    allow_nan = {c for c in (outcome, competing) if c is not None}
    problems += binary_problems(flags, allow_nan)
    problems += after_event_problems(flags, g)
    problems += baseline_problems({c: g.take(data[c].to_numpy()) for c in base}, g)
    raise_problems(problems, g, verb_name(), len(data))
    return data


def _integer_problem(p: np.ndarray, name: str) -> Problem:
    bad = (p != np.floor(p)) | (p < 0)
    return Problem(f"{name} not a non-negative integer", bad,
                   "number the periods 0, 1, 2, ... (e.g. months since baseline)", p)
