"""The cohort flow (attrition) table: named eligibility steps and what each removed."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_columns, verb, verb_name
from ..exceptions import DataValidationError
from ..results._format import Renderable, fmt_int, fmt_num
from ..results._hooks import hook

__all__ = ["attrition", "Attrition"]

Criterion = str | Callable[[pd.DataFrame], Any]


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Attrition(Renderable):
    """A cohort flow: how many rows (and persons) each eligibility step kept and removed.

    Attributes
    ----------
    steps : pandas.DataFrame
        One row per step: ``step, criterion, n_before, n_excluded, n_after, percent_excluded,
        n_unknown`` (rows excluded because the criterion evaluated to missing), plus
        ``persons_after`` when ``id`` was given.
    data : pandas.DataFrame
        The rows that meet every criterion (a new frame; the input is untouched).
    """

    steps: pd.DataFrame
    data: pd.DataFrame = field(repr=False)
    id: str | None = None
    _digits = 1

    @property
    def n_initial(self) -> int:
        """Rows before the first step."""
        return int(self.steps["n_before"].iloc[0]) if len(self.steps) else len(self.data)

    def to_frame(self) -> pd.DataFrame:
        """The flow table (a copy)."""
        return self.steps.copy()

    def _display_frame(self, digits: int = 1) -> pd.DataFrame:
        d = self.steps
        out = pd.DataFrame({
            "Step": d["step"].astype(str),
            "Criterion": d["criterion"],
            "Before": [fmt_int(v) for v in d["n_before"]],
            "Excluded": [f"{fmt_int(e)} ({fmt_num(p, digits)}%)"
                         for e, p in zip(d["n_excluded"], d["percent_excluded"], strict=True)],
            "Remaining": [fmt_int(v) for v in d["n_after"]],
        })
        if d["n_unknown"].gt(0).any():
            out["of which criterion missing"] = [fmt_int(v) if v else "" for v in d["n_unknown"]]
        if "persons_after" in d:
            out["Persons remaining"] = [fmt_int(v) for v in d["persons_after"]]
        return out

    def _title(self) -> str:
        return "Cohort attrition"

    def _footer(self) -> list[str]:
        final = len(self.data)
        return [f"{fmt_int(self.n_initial)} rows at start, {fmt_int(final)} eligible "
                f"({fmt_num(100 * final / max(self.n_initial, 1), 1)}%)"]

    def plot(self, ax: Any = None) -> Any:
        """A flow diagram (boxes and exclusions) on a matplotlib Axes."""
        return hook("attrition_plot")(self, ax=ax)


@verb
def attrition(
    data: pd.DataFrame,
    steps: Mapping[str, Criterion] | Sequence[tuple[str, Criterion]],
    *,
    id: str | None = None,
) -> Attrition:
    """Apply eligibility criteria in order and count what each one removes.

    Parameters
    ----------
    data : pandas.DataFrame
        The source rows.
    steps : mapping or sequence of (label, criterion)
        In order. A criterion keeps the rows where it is true: a string evaluated with
        :meth:`pandas.DataFrame.eval` (e.g. ``"age >= 18"``) or a callable taking the current
        frame and returning a boolean Series or array. Rows where it is missing (nullable
        booleans) are excluded and counted in ``n_unknown``. Note that comparisons in
        ``eval`` treat missing values as false; add an explicit ``"x.notna()"`` step to count
        them on their own.
        A string is code: the API trusts its caller. A protocol file's criteria are not
        passed here as strings; they are checked and evaluated by
        ``cohortlab.protocol._expr`` (see docs/explanation/security.md).
    id : str, optional
        A person identifier: the table then also counts the distinct persons remaining after
        each step (``persons_after``), useful when a person has several rows.

    Returns
    -------
    Attrition

    Examples
    --------
    >>> import cohortlab as cl
    >>> nhefs = cl.datasets.load_nhefs()
    >>> flow = cl.attrition(nhefs, [("weight measured in 1982", "wt82.notna()"),
    ...                             ("aged under 70", lambda d: d["age"] < 70)], id="seqn")
    >>> flow.to_frame()[["n_before", "n_excluded", "n_after"]].values.tolist()
    [[1629, 63, 1566], [1566, 19, 1547]]
    """
    check_columns(data, id=id)
    items = list(steps.items()) if isinstance(steps, Mapping) else list(steps)
    if not items:
        raise DataValidationError(
            f"{verb_name()}(): steps is empty; pass at least one (label, criterion)."
        )
    current = data
    rows = []
    for i, item in enumerate(items, start=1):
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise DataValidationError(
                f"{verb_name()}(): step {i} must be a (label, criterion) pair; got {item!r}."
            )
        label, criterion = item
        keep, unknown = _evaluate(current, label, criterion, i)
        n_before = len(current)
        current = current.loc[keep]
        n_excluded = n_before - len(current)
        row = dict(step=i, criterion=label, n_before=n_before, n_excluded=n_excluded,
                   n_after=len(current),
                   percent_excluded=100.0 * n_excluded / n_before if n_before else 0.0,
                   n_unknown=unknown)
        if id is not None:
            row["persons_after"] = int(current[id].nunique())
        rows.append(row)
    return Attrition(steps=pd.DataFrame(rows), data=current.copy(), id=id)


def _evaluate(
    frame: pd.DataFrame, label: str, criterion: Criterion, i: int
) -> tuple[np.ndarray, int]:
    try:
        result = frame.eval(criterion) if isinstance(criterion, str) else criterion(frame)
    except Exception as exc:  # report which step failed, keep the cause
        raise DataValidationError(
            f"{verb_name()}(): step {i} ({label!r}) could not be evaluated; got "
            f"{type(exc).__name__}: "
            f"{exc}. Check the column names and the expression."
        ) from exc
    n_vals = len(result) if hasattr(result, "__len__") else 1
    if n_vals != len(frame):
        raise DataValidationError(
            f"{verb_name()}(): step {i} ({label!r}) returned {n_vals:,} values for {len(frame):,} "
            "rows; "
            "a criterion must give one boolean per row."
        )
    mask = result if isinstance(result, pd.Series) else pd.Series(result, index=frame.index)
    if mask.dtype == object and mask.map(lambda v: isinstance(v, (bool, np.bool_)) or v is pd.NA
                                         or v is None).all():
        mask = mask.astype("boolean")
    if not pd.api.types.is_bool_dtype(mask.dtype):
        raise DataValidationError(
            f"{verb_name()}(): step {i} ({label!r}) must give booleans; got dtype {mask.dtype} "
            "with "
            f"values like {list(pd.unique(mask.dropna()))[:4]}. Write a comparison, e.g. "
            "'age >= 18'."
        )
    unknown = mask.isna().to_numpy()
    return mask.fillna(False).to_numpy(dtype=bool), int(unknown.sum())
