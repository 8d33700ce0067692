"""Time-varying features of person-period data: lags, cumulative exposure, time since initiation.

Each helper takes the long frame, the column, and ``id=`` and ``period=``; it checks that each
person's rows are together with consecutive periods (the person-period contract) and returns a
Series aligned with the frame's index, to assign as a new column. Vectorised running sums and
shifts within persons; no loop over rows or persons.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from .._validation import _refuse_missing, check_columns, check_numeric, verb, verb_name
from ..exceptions import DataValidationError
from ._checks import Grouped, contiguity_problem, group_rows, period_problems, raise_problems
from ._person_period import periods_since_first, position, running_total, shift

__all__ = ["lag", "cumulative_exposure", "time_since_initiation", "ever_treated"]


def grouped_periods(data: pd.DataFrame, id: str, period: str) -> tuple[Grouped, np.ndarray]:
    """The rows grouped by person and their periods, refusing gaps and missing periods."""
    func = verb_name()
    g = group_rows(data, id, func)
    per = check_numeric(data, period, "period")
    if np.isnan(per).any():
        raise DataValidationError(f"{func}(): column {period!r} (period) has missing values; "
                                  "every person-period needs its period.")
    per_g = g.take(per)
    raise_problems([contiguity_problem(data, id, g, period),
                    *period_problems(per_g, g, period)], g, func, len(data))
    return g, per_g


def _prepare(data: pd.DataFrame, column: str, id: str, period: str,
             binary: bool, role: str = "treatment") -> tuple[Grouped, np.ndarray, np.ndarray]:
    func = verb_name()
    check_columns(data, column=column, id=id, period=period)
    g, per_g = grouped_periods(data, id, period)
    x = g.take(check_numeric(data, column, "column"))
    _refuse_missing(int(np.isnan(x).sum()), column, role, func,
                    "A running summary would silently skip them. Fill them (e.g. carry the "
                    "last value forward) first.", DataValidationError)
    if binary and not np.isin(x, (0.0, 1.0)).all():
        raise DataValidationError(
            f"{func}(): column {column!r} (treatment) must be 0/1; got values "
            f"{sorted(set(np.unique(x[~np.isin(x, (0.0, 1.0))]).tolist()))[:5]}. Threshold it "
            "first (time_varying_exposure())."
        )
    return g, x, per_g


def _out(values: np.ndarray, g: Grouped, data: pd.DataFrame, name: str) -> pd.Series:
    # _prepare refused rows of a person that are apart, so the rows are in input order
    assert g.order is None
    return pd.Series(values, index=data.index, name=name)


@verb
def lag(
    data: pd.DataFrame,
    column: str,
    *,
    id: str,
    period: str,
    k: int = 1,
    fill: float = np.nan,
) -> pd.Series:
    """The value of ``column`` ``k`` periods earlier in the same person.

    Parameters
    ----------
    data : pandas.DataFrame
        Person-period rows (each person's rows together, consecutive periods).
    column : str
        Numeric column to lag.
    id, period : str
        Person identifier and period columns.
    k : int, default 1
        Lag in periods (``k >= 0``; 0 returns the column itself).
    fill : float, default NaN
        Value in a person's first ``k`` periods (e.g. 0 for "not treated before baseline").

    Returns
    -------
    pandas.Series
        Float, aligned with ``data.index``, named ``"<column>_lag<k>"``.

    Examples
    --------
    >>> import pandas as pd
    >>> import cohortlab as cl
    >>> d = pd.DataFrame({"pid": [1, 1, 1, 2, 2], "t": [0, 1, 2, 0, 1],
    ...                   "sbp": [140, 135, 130, 150, 155]})
    >>> cl.lag(d, "sbp", id="pid", period="t").tolist()
    [nan, 140.0, 135.0, nan, 150.0]
    >>> cl.lag(d, "sbp", id="pid", period="t", k=2, fill=0).tolist()
    [0.0, 0.0, 140.0, 0.0, 0.0]
    """
    if not (isinstance(k, numbers.Integral) and not isinstance(k, bool) and k >= 0):
        raise DataValidationError(
            f"{verb_name()}(): k must be an int >= 0; got {k!r}. Pass e.g. k=1.")
    g, x, _ = _prepare(data, column, id, period, binary=False, role="lagged")
    pos = position(g.first, g.grp)
    return _out(shift(x, int(k), pos, float(fill)), g, data, f"{column}_lag{int(k)}")


@verb
def cumulative_exposure(
    data: pd.DataFrame,
    treatment: str,
    *,
    id: str,
    period: str,
    include_current: bool = False,
) -> pd.Series:
    """Cumulative exposure: the sum of ``treatment`` over a person's earlier periods.

    With ``include_current=False`` (the default) the value in period ``t`` is the sum over
    periods ``0..t-1``: the treatment history before period ``t``'s decision, as used in a
    treatment model. With ``include_current=True`` it is the sum over ``0..t``: the dose
    received by the end of period ``t``, as in a marginal structural model ``logit h(t) = b0
    + b1 cum_A(t)``. For a 0/1 treatment it counts treated periods; any numeric column (a
    daily dose) is summed.

    Parameters
    ----------
    data : pandas.DataFrame
        Person-period rows (each person's rows together, consecutive periods).
    treatment : str
        Numeric column (0/1 or a dose) without missing values.
    id, period : str
        Person identifier and period columns.
    include_current : bool, default False
        Sum up to period ``t - 1`` (False) or ``t`` (True).

    Returns
    -------
    pandas.Series
        Float, aligned with ``data.index``, named ``"<treatment>_cum"``.

    Examples
    --------
    >>> import pandas as pd
    >>> import cohortlab as cl
    >>> d = pd.DataFrame({"pid": [1, 1, 1, 1, 2, 2], "t": [0, 1, 2, 3, 0, 1],
    ...                   "a": [1, 0, 1, 1, 1, 1]})
    >>> cl.cumulative_exposure(d, "a", id="pid", period="t").tolist()
    [0.0, 1.0, 1.0, 2.0, 0.0, 1.0]
    >>> cl.cumulative_exposure(d, "a", id="pid", period="t", include_current=True).tolist()
    [1.0, 1.0, 2.0, 3.0, 1.0, 2.0]
    """
    g, c = _running_total(data, treatment, id, period, include_current, binary=False)
    return _out(c, g, data, f"{treatment}_cum")


@verb
def time_since_initiation(
    data: pd.DataFrame,
    treatment: str,
    *,
    id: str,
    period: str,
) -> pd.Series:
    """Periods since a person first had ``treatment = 1`` (0 in that period).

    Counts from the first treated period whatever happens afterwards (stopping does not
    reset it). Before initiation, and for persons never treated, the value is NaN (there is
    no initiation yet); combine with :func:`ever_treated` when a model needs a number there.

    Parameters
    ----------
    data : pandas.DataFrame
        Person-period rows (each person's rows together, consecutive periods).
    treatment : str
        0/1 column without missing values.
    id, period : str
        Person identifier and period columns.

    Returns
    -------
    pandas.Series
        Float, aligned with ``data.index``, named ``"<treatment>_since_start"``.

    Examples
    --------
    >>> import pandas as pd
    >>> import cohortlab as cl
    >>> d = pd.DataFrame({"pid": [1, 1, 1, 1, 2, 2], "t": [0, 1, 2, 3, 0, 1],
    ...                   "a": [0, 1, 0, 1, 0, 0]})
    >>> cl.time_since_initiation(d, "a", id="pid", period="t").tolist()
    [nan, 0.0, 1.0, 2.0, nan, nan]
    """
    g, x, _ = _prepare(data, treatment, id, period, binary=True)
    return _out(periods_since_first(x == 1, g.first, g.grp), g, data,
                f"{treatment}_since_start")


@verb
def ever_treated(
    data: pd.DataFrame,
    treatment: str,
    *,
    id: str,
    period: str,
    include_current: bool = True,
) -> pd.Series:
    """1 from the first period with ``treatment = 1`` onwards (the "stays on" version).

    Parameters
    ----------
    data : pandas.DataFrame
        Person-period rows (each person's rows together, consecutive periods).
    treatment : str
        0/1 column without missing values.
    id, period : str
        Person identifier and period columns.
    include_current : bool, default True
        Whether period ``t``'s own treatment counts (False: treated in some period before
        ``t``, a lagged version).

    Returns
    -------
    pandas.Series
        ``int64`` 0/1, aligned with ``data.index``, named ``"<treatment>_ever"``.

    Examples
    --------
    >>> import pandas as pd
    >>> import cohortlab as cl
    >>> d = pd.DataFrame({"pid": [1, 1, 1, 2], "t": [0, 1, 2, 0], "a": [0, 1, 0, 0]})
    >>> cl.ever_treated(d, "a", id="pid", period="t").tolist()
    [0, 1, 1, 0]
    >>> cl.ever_treated(d, "a", id="pid", period="t", include_current=False).tolist()
    [0, 0, 1, 0]
    """
    g, c = _running_total(data, treatment, id, period, include_current, binary=True)
    return _out((c > 0).astype(np.int64), g, data, f"{treatment}_ever")


def _running_total(data: pd.DataFrame, treatment: str, id: str, period: str,
                   include_current: Any, *, binary: bool) -> tuple[Grouped, np.ndarray]:
    """A person's running sum of ``treatment`` up to period ``t`` (or ``t - 1``), row order."""
    if not isinstance(include_current, bool | np.bool_):
        raise DataValidationError(f"{verb_name()}(): include_current must be True or False; "
                                  f"got {include_current!r}.")
    g, x, _ = _prepare(data, treatment, id, period, binary=binary)
    return g, running_total(x, g.first, g.grp, bool(include_current))
