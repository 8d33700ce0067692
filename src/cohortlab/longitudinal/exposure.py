"""A time-varying score (a wearable's daily or monthly model output) turned into a treatment.

``time_varying_exposure()`` thresholds the score in each period and applies persistence rules
within each person: on after ``consecutive`` positive windows in a row, optionally "stays on
once on" (monotone), optionally acted on ``delay`` periods later. The rule is recorded with
the column.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._validation import _refuse_missing, check_columns, check_numeric, verb, verb_name
from ..exceptions import DataValidationError
from ._person_period import persistent_exposure
from .features import grouped_periods

__all__ = ["time_varying_exposure", "TimeVaryingExposure"]


@dataclass(frozen=True, eq=False)
class TimeVaryingExposure:
    """A 0/1 time-varying exposure derived from a score, and the rule that produced it.

    Attributes
    ----------
    values : pandas.Series
        ``int64`` 0/1, aligned with the rows of the data, named ``name``.
    name : str
        The exposure's column name.
    source : str
        The score column.
    rule : Mapping[str, Any]
        ``threshold``, ``operator``, ``consecutive``, ``monotone``, ``delay``: everything
        needed to recompute the column. Read-only.
    counts : Mapping[str, int]
        ``rows``, ``persons``, ``positive_windows`` (rows where the score passes the
        threshold), ``exposed_rows``, ``exposed_persons`` (persons with at least one
        exposed period), ``positive_not_exposed`` (positive windows that did not switch the
        exposure on: too few in a row, or within the delay).
    """

    values: pd.Series
    name: str
    source: str
    rule: Mapping[str, Any] = field(repr=False)
    counts: Mapping[str, int] = field(repr=False)

    def describe(self) -> str:
        """One sentence: the rule and how many rows and persons it makes exposed."""
        r, c = self.rule, self.counts
        parts = [f"{self.source} {r['operator']} {r['threshold']:g}"]
        if r["consecutive"] > 1:
            parts.append(f"in {r['consecutive']} consecutive periods")
        if r["monotone"]:
            parts.append("then stays on")
        if r["delay"]:
            parts.append(f"acted on {r['delay']} period{'s' if r['delay'] > 1 else ''} later")
        pct = 100.0 * c["exposed_rows"] / max(c["rows"], 1)
        return (f"Time-varying exposure {self.name}: {', '.join(parts)}; "
                f"{c['exposed_rows']:,} of {c['rows']:,} person-periods ({pct:.1f}%) and "
                f"{c['exposed_persons']:,} of {c['persons']:,} persons exposed.")

    def __str__(self) -> str:
        return self.describe()


def _int(x: Any, name: str, low: int) -> int:
    if isinstance(x, numbers.Integral) and not isinstance(x, bool) and int(x) >= low:
        return int(x)
    raise DataValidationError(f"{verb_name()}(): {name} must be an int >= {low}; got {x!r}.")


@verb
def time_varying_exposure(
    data: pd.DataFrame,
    score: str,
    *,
    id: str,
    period: str,
    threshold: float,
    operator: Literal[">=", ">"] = ">=",
    consecutive: int = 1,
    monotone: bool = False,
    delay: int = 0,
    name: str | None = None,
) -> TimeVaryingExposure:
    """Turn a time-varying score into a 0/1 time-varying treatment with persistence rules.

    In each person-period the score is *positive* when ``score >= threshold`` (or ``>``).
    The exposure in period ``t`` is 1 when the last ``consecutive`` periods ``t -
    consecutive + 1, ..., t`` were all positive (a notification that needs two positive
    windows in a row: ``consecutive=2``); with ``monotone=True`` it stays 1 from the first
    such period on (a flag that, once raised, stays raised; a treatment that is never
    stopped); with ``delay=d`` the exposure of period ``t`` is the rule's value at ``t - d``
    (0 in a person's first ``d`` periods: acting on a notification takes time).

    Not an estimator: the threshold and rules are fixed by the analyst, nothing is
    estimated. The exposure is treated downstream as measured without error.

    Parameters
    ----------
    data : pandas.DataFrame
        Person-period rows (each person's rows together, consecutive periods).
    score : str
        Numeric score column without missing values.
    id, period : str
        Person identifier and period columns.
    threshold : float
        Score value that makes a window positive.
    operator : {">=", ">"}, default ">="
        Whether a score equal to the threshold is positive.
    consecutive : int, default 1
        Positive windows in a row needed to switch the exposure on.
    monotone : bool, default False
        Whether the exposure stays on once on.
    delay : int, default 0
        Periods between meeting the rule and being exposed.
    name : str, optional
        Name of the column; default ``"<score>_exposed"``.

    Returns
    -------
    TimeVaryingExposure
        ``values`` (the column), ``rule`` and ``counts``; ``describe()`` says it in words.

    Raises
    ------
    DataValidationError
        Missing scores, a non-finite threshold, bad rule arguments, or data that break the
        person-period contract (rows of a person apart, skipped or repeated periods).

    Examples
    --------
    >>> import pandas as pd
    >>> import cohortlab as cl
    >>> d = pd.DataFrame({"pid": [1] * 6, "month": range(6),
    ...                   "score": [0.7, 0.2, 0.8, 0.9, 0.3, 0.1]})
    >>> cl.time_varying_exposure(d, "score", id="pid", period="month",
    ...                          threshold=0.5).values.tolist()
    [1, 0, 1, 1, 0, 0]
    >>> on2 = cl.time_varying_exposure(d, "score", id="pid", period="month", threshold=0.5,
    ...                                consecutive=2, monotone=True)
    >>> on2.values.tolist()
    [0, 0, 0, 1, 1, 1]
    >>> print(on2)
    Time-varying exposure score_exposed: score >= 0.5, in 2 consecutive periods, then stays on; 3 of 6 person-periods (50.0%) and 1 of 1 persons exposed.
    """  # noqa: E501
    func = verb_name()
    check_columns(data, score=score, id=id, period=period)
    if operator not in (">=", ">"):
        raise DataValidationError(f'{func}(): operator must be ">=" or ">"; got {operator!r}.')
    if not (isinstance(threshold, numbers.Real) and not isinstance(threshold, bool)
            and math.isfinite(float(threshold))):
        raise DataValidationError(f"{func}(): threshold must be a finite number; got "
                                  f"{threshold!r}. Pass e.g. threshold=0.5.")
    k = _int(consecutive, "consecutive", 1)
    d = _int(delay, "delay", 0)
    if not isinstance(monotone, bool | np.bool_):
        raise DataValidationError(f"{func}(): monotone must be True or False; got {monotone!r}.")
    g, _ = grouped_periods(data, id, period)
    x = g.take(check_numeric(data, score, "score"))
    _refuse_missing(int(np.isnan(x).sum()), score, "score", func,
                    "A persistence rule needs every window. Decide what a missing window means "
                    "(e.g. fill with 0 for 'no positive reading') and fill them first.",
                    DataValidationError)
    t = float(threshold)
    positive = x >= t if operator == ">=" else x > t
    exposed = persistent_exposure(positive, g.first, g.grp, k, bool(monotone), d)
    n_persons = int(g.first.sum())
    exposed_persons = int((np.bincount(g.grp, weights=exposed, minlength=n_persons) > 0).sum())
    counts = {
        "rows": len(data), "persons": n_persons, "positive_windows": int(positive.sum()),
        "exposed_rows": int(exposed.sum()), "exposed_persons": exposed_persons,
        "positive_not_exposed": int((positive & (exposed == 0)).sum()),
    }
    assert g.order is None  # rows of a person that are apart were refused above
    values = exposed
    col = name if name is not None else f"{score}_exposed"
    rule = {"threshold": t, "operator": operator, "consecutive": k, "monotone": bool(monotone),
            "delay": d}
    return TimeVaryingExposure(values=pd.Series(values, index=data.index, name=col), name=col,
                               source=score, rule=rule, counts=counts)
