"""``TestResult`` (one chi-square test) and ``TestTable`` (rows of them).

A test has a statistic, its degrees of freedom and a p-value, but no effect estimate and no
interval: log-rank, Gray's test, the proportional hazards score tests (R ``cox.zph``) and the
interaction (heterogeneity) tests of :func:`cohortlab.subgroups` return these instead of an
``Estimate`` whose ``estimate`` would be a chi-square.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ._format import fmt_num, fmt_p, method_label
from ._rows import ResultRow, RowKind, RowTable, row_counts
from ._schema import ESTIMATE_COLUMNS
from .dropped import Dropped

__all__ = ["TestResult", "TestTable", "TEST_COLUMNS"]

#: Columns of a test's tidy frame after the estimate schema.
TEST_COLUMNS: tuple[str, ...] = ("df",)


# ------------------------------------------------------- rendering (one row or a table)
def _frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    cols = list(ESTIMATE_COLUMNS) + list(TEST_COLUMNS)
    if not rows:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame(list(rows))
    frame = frame[cols + [c for c in frame.columns if c not in cols]]
    for col in ("n", "n_events"):
        frame[col] = frame[col].astype("Int64")
    frame["conf_level"] = frame["conf_level"].astype(float)
    return frame


def _display(rows: Sequence[TestResult], digits: int) -> pd.DataFrame:
    label_keys = list(dict.fromkeys(k for r in rows for k in r.labels))
    recs = []
    for r in rows:
        rec: dict[str, str] = {"term": r.term}
        for k in label_keys:
            v = r.labels.get(k, "")
            rec[k] = fmt_num(v, digits) if isinstance(v, float) else str(v)
        rec.update(chi_square=fmt_num(r.statistic, 2), df=f"{r.df:g}",
                   p_value=fmt_p(r.p_value, digits))
        recs.append(rec)
    return pd.DataFrame(recs)


def _provenance(rows: Sequence[TestResult], dropped: Dropped, notes: Sequence[str]
                ) -> list[str]:
    line = " · ".join(row_counts(rows, dropped))
    return [line, *notes] if line else list(notes)


#: How test rows render, alone or as a table.
_TEST_ROWS = RowKind(_frame, _display, _provenance)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class TestResult(ResultRow):
    """One chi-square test: statistic, degrees of freedom and p-value.

    ``to_frame()`` gives one row in the tidy schema (``estimate``, ``std_error`` and the
    interval are NaN: a test has none), with ``effect_measure="chi_square"`` and
    ``ci_method="none"``, followed by ``df`` and any labels, so tests stack with estimates
    in :func:`cohortlab.tidy`.

    Examples
    --------
    >>> t = TestResult(term="log-rank: arm", statistic=3.84, df=1, method="logrank", n=100)
    >>> round(t.p_value, 3)
    0.05
    >>> t.to_frame()[["term", "estimate", "statistic", "df"]].values.tolist()
    [['log-rank: arm', nan, 3.84, 1.0]]
    """

    __test__ = False  # not a pytest test class

    statistic: float
    df: float
    p_value: float = math.nan
    method: str = ""

    _kind = _TEST_ROWS

    def __post_init__(self) -> None:
        from scipy import stats

        stat, df = float(self.statistic), float(self.df)
        object.__setattr__(self, "statistic", stat)
        object.__setattr__(self, "df", df)
        if math.isnan(float(self.p_value)) and math.isfinite(stat) and df > 0:
            object.__setattr__(self, "p_value", float(stats.chi2.sf(stat, df)))
        object.__setattr__(self, "p_value", float(self.p_value))
        object.__setattr__(self, "notes", tuple(self.notes))

    #: Tests have no effect estimate; these make rows stack with Estimates.
    effect_measure = "chi_square"
    ci_method = "none"

    def _row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "term": self.term, "estimate": math.nan, "std_error": math.nan,
            "statistic": self.statistic, "p_value": self.p_value, "conf_low": math.nan,
            "conf_high": math.nan, "conf_level": math.nan, "estimand": None,
            "effect_measure": "chi_square", "method": self.method, "ci_method": "none",
            "n": self.n, "n_events": self.n_events, "df": self.df,
        }
        row.update(self.labels)
        return row

    def _title(self) -> str:
        bits = [method_label(self.method), "chi-square test"]
        return " · ".join(b for b in bits if b)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class TestTable(RowTable[TestResult]):
    """An immutable sequence of :class:`TestResult` rows (one test per cause, term, variable).

    Examples
    --------
    >>> tab = TestTable(rows=(TestResult(term="x", statistic=1.0, df=1),
    ...                       TestResult(term="GLOBAL", statistic=6.0, df=2)), title="PH tests")
    >>> round(tab["GLOBAL"].p_value, 4), len(tab)
    (0.0498, 2)
    """

    __test__ = False  # not a pytest test class

    _kind = _TEST_ROWS
