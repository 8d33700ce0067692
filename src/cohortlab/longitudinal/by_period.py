"""The by-period table of person-period data: at risk, events, treated share, covariate means."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_columns, check_numeric, verb, verb_name
from ..exceptions import DataValidationError
from ..results._format import Renderable, fmt_int, fmt_num
from ..results.labels import Labels, as_labels
from ._by_period import covariate_summary, event_summary, period_count

__all__ = ["by_period_table", "ByPeriodTable"]


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class ByPeriodTable(Renderable):
    """Person-period data described period by period.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per period: ``period``, ``n_at_risk`` (rows, i.e. persons under follow-up at
        the start of the period), then where named ``n_treated`` and ``pct_treated``,
        ``n_events`` and ``pct_events`` (the discrete hazard, in % of those at risk with the
        outcome observed), ``n_outcome_missing``, ``n_censored``, ``n_competing``, and for
        each covariate ``<name>_mean``, ``<name>_sd`` and ``<name>_n_missing``.
    columns : Mapping[str, Any]
        The column roles used (``id``, ``period``, ``treatment``, ``outcome``, ...).
    labels : Labels
        Display labels of the covariates (display only).
    """

    table: pd.DataFrame
    columns: Mapping[str, Any] = field(default_factory=dict)
    covariates: tuple[str, ...] = ()
    labels: Labels = field(default_factory=Labels)
    n_persons: int = 0
    _digits = 1

    def to_frame(self) -> pd.DataFrame:
        """The numeric table (a copy)."""
        return self.table.copy()

    def _display_frame(self, digits: int = 1) -> pd.DataFrame:
        t = self.table
        out = pd.DataFrame({"Period": [str(p) for p in t["period"]],
                            "At risk": [fmt_int(v) for v in t["n_at_risk"]]})
        if "n_treated" in t:
            out["Treated, n (%)"] = [f"{fmt_int(n)} ({fmt_num(p, digits)})"
                                     for n, p in zip(t["n_treated"], t["pct_treated"],
                                                     strict=True)]
        if "n_events" in t:
            out["Events, n (%)"] = [f"{fmt_int(n)} ({fmt_num(p, digits + 1)})"
                                    for n, p in zip(t["n_events"], t["pct_events"],
                                                    strict=True)]
        for col, head in (("n_censored", "Censored"), ("n_competing", "Competing events")):
            if col in t:
                out[head] = [fmt_int(v) for v in t[col]]
        for c in self.covariates:
            out[f"{self.labels.variable(c)}, mean (SD)"] = [
                f"{fmt_num(m, digits)} ({fmt_num(s, digits)})"
                for m, s in zip(t[f"{c}_mean"], t[f"{c}_sd"], strict=True)]
        return out

    def _title(self) -> str:
        return "Person-periods by period"

    def _footer(self) -> list[str]:
        t = self.table
        lines = [f"{fmt_int(self.n_persons)} persons, {fmt_int(int(t['n_at_risk'].sum()))} "
                 "person-periods."]
        if "n_events" in t:
            lines.append("Events in % of those at risk with the outcome observed (the "
                         "discrete-time hazard).")
        miss = {c: int(t[f"{c}_n_missing"].sum()) for c in self.covariates}
        miss = {c: v for c, v in miss.items() if v}
        if miss:
            lines.append("Means over non-missing values; missing: " + ", ".join(
                f"{self.labels.variable(c)} {fmt_int(v)}" for c, v in miss.items()) + ".")
        return lines


@verb
def by_period_table(
    data: pd.DataFrame,
    *,
    id: str,
    period: str,
    treatment: str | None = None,
    outcome: str | None = None,
    censor: str | None = None,
    competing: str | None = None,
    covariates: Sequence[str] | None = None,
    labels: Labels | Mapping[str, object] | None = None,
) -> ByPeriodTable:
    """Describe person-period data by period: at risk, treated, events, covariate means.

    Not an estimator: counts and means of the observed rows in each period (no weights, no
    confidence intervals), the longitudinal companion of :func:`cohortlab.table1` (Table 1
    at baseline is ``table1`` on the period-0 rows). Missing covariate values are left out
    of that covariate's mean and SD and counted; a missing outcome (not observed in a row
    ending by censoring or the competing event) is left out of the event percentage and
    counted.

    Parameters
    ----------
    data : pandas.DataFrame
        Person-period rows.
    id, period : str
        Person identifier and period columns.
    treatment : str, optional
        0/1 treatment in the period.
    outcome, censor, competing : str, optional
        0/1 indicators at the end of the period (``outcome`` may be missing).
    covariates : list of str, optional
        Numeric time-varying or baseline columns to average by period.
    labels : Labels or mapping, optional
        Display labels of the covariates.

    Returns
    -------
    ByPeriodTable
        ``table`` (numbers, see the class) and the usual renderings (``print``,
        ``to_markdown()``, ``to_html()``, ``to_docx()``).

    Examples
    --------
    >>> import pandas as pd
    >>> import cohortlab as cl
    >>> d = pd.DataFrame({"pid": [1, 1, 2, 2, 3], "t": [0, 1, 0, 1, 0],
    ...                   "a": [0, 1, 1, 1, 0], "y": [0, 1, 0, 0, 1],
    ...                   "sbp": [140.0, 130.0, 150.0, None, 120.0]})
    >>> tab = cl.by_period_table(d, id="pid", period="t", treatment="a", outcome="y",
    ...                          covariates=["sbp"])
    >>> tab.to_frame()[["period", "n_at_risk", "n_treated", "n_events", "sbp_mean"]]
       period  n_at_risk  n_treated  n_events  sbp_mean
    0       0          3          1         1     136.7
    1       1          2          2         1     130.0
    """
    covs = list(covariates) if covariates is not None else []
    if isinstance(covariates, str):
        covs = [covariates]
    check_columns(data, id=id, period=period, treatment=treatment, outcome=outcome,
                  censor=censor, competing=competing, covariates=covs)
    per = check_numeric(data, period, "period")
    if np.isnan(per).any():
        raise DataValidationError(f"{verb_name()}(): column {period!r} (period) has missing "
                                  "values; every person-period needs its period.")
    levels, code = np.unique(per, return_inverse=True)
    k = levels.size
    n = period_count(code, k, np.ones(per.size))
    cols: dict[str, Any] = {"period": _period_values(levels), "n_at_risk": n.astype(np.int64)}
    if treatment is not None:
        a = _binary(data, treatment, "treatment", allow_nan=False)
        cols["n_treated"] = period_count(code, k, a).astype(np.int64)
        cols["pct_treated"] = 100.0 * cols["n_treated"] / n
    if outcome is not None:
        y = _binary(data, outcome, "outcome", allow_nan=True)
        cols["n_events"], cols["pct_events"], cols["n_outcome_missing"] = event_summary(
            y, code, k, n)
    for col, role, key in ((censor, "censor", "n_censored"),
                           (competing, "competing", "n_competing")):
        if col is not None:
            cols[key] = period_count(code, k, np.nan_to_num(
                _binary(data, col, role, allow_nan=True))).astype(np.int64)
    for c in covs:
        x = check_numeric(data, c, "covariate")
        cols[f"{c}_mean"], cols[f"{c}_sd"], cols[f"{c}_n_missing"] = covariate_summary(
            x, code, k, n)
    roles = {"id": id, "period": period, "treatment": treatment, "outcome": outcome,
             "censor": censor, "competing": competing}
    return ByPeriodTable(table=pd.DataFrame(cols), columns=roles, covariates=tuple(covs),
                         labels=as_labels(labels), n_persons=int(data[id].nunique()))


def _period_values(levels: np.ndarray) -> np.ndarray:
    return levels.astype(np.int64) if np.all(levels == np.floor(levels)) else levels


def _binary(data: pd.DataFrame, col: str, role: str, *, allow_nan: bool) -> np.ndarray:
    x = check_numeric(data, col, role)
    bad = ~((x == 0) | (x == 1) | (np.isnan(x) if allow_nan else False))
    if bad.any():
        raise DataValidationError(
            f"{verb_name()}(): column {col!r} ({role}) must be 0/1"
            f"{' or missing' if allow_nan else ''}; got {int(bad.sum()):,} other values, e.g. "
            f"{np.unique(x[bad])[:3].tolist()}. Code it 0/1."
        )
    return x
