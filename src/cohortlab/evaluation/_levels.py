"""Subgroup and shift levels, and the drift of a metric across ordered shift levels.

``split_levels`` turns the ``by=`` or ``shift=`` column into level codes (one factorisation,
no loop over rows). ``drift_rows`` takes the per-level metric rows that ``evaluate_*`` built and
adds, for every metric (and time) with a standard error:

- the inverse-variance heterogeneity chi-square across levels (the test ``by=`` uses);
- when the shift column is ordered, the inverse-variance weighted linear trend of the metric on
  the level rank (``0, 1, ..., L - 1``): slope, SE ``1 / sqrt(sum w (r - rbar)^2)``, Wald CI and
  p-value (a fixed-effect meta-regression: the level estimates are independent with known
  variances);
- the drift of each level from the first, ``theta_l - theta_1`` with variance
  ``var_l + var_1`` (independent levels), p-values adjusted across levels.

Ratio metrics (``effect_measure == "ratio"``, SE on the log scale) are compared on the log
scale and reported as ratios.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import DataValidationError
from ..inference.multiplicity import adjust_pvalues
from ..inference.wald import z_critical
from ..results._format import Renderable
from ..results.estimate import Estimate, EstimateTable

__all__ = ["OVERALL", "LevelledMetrics", "Levels", "split_levels", "weighted_trend",
           "drift_rows", "trend_line", "level_str"]

#: The ``group`` value of the rows computed on all rows together.
OVERALL = "(overall)"


class LevelledMetrics(Renderable):
    """Mixin of the ``evaluate_*`` results: ``metrics`` per level of ``by=`` or ``shift=``."""

    __slots__ = ()
    metrics: EstimateTable
    by: str | None
    shift: str | None

    @property
    def _dim(self) -> str | None:
        return self.by if self.by is not None else self.shift

    @property
    def table(self) -> EstimateTable:
        """The metrics (per group and time where given) as an :class:`EstimateTable`."""
        return self.metrics

    def to_frame(self) -> pd.DataFrame:
        """Tidy frame: the schema columns, then the labels (``group``, ``time``, ``p_adjusted``)."""
        return self.metrics.to_frame()


@dataclass(frozen=True)
class Levels:
    """The levels of the ``by`` or ``shift`` column (none: a single overall group)."""

    column: str | None = None
    kind: str | None = None  # "by", "shift" or None
    keys: tuple[Any, ...] = ()
    codes: np.ndarray | None = None
    ordered: bool = False

    def masks(self) -> list[np.ndarray | None]:
        """``None`` (all rows) first, then one boolean mask per level."""
        if self.codes is None:
            return [None]
        return [None, *(self.codes == i for i in range(len(self.keys)))]


def level_str(g: Any) -> str:
    """A level as text: a midnight timestamp as its date (``2021-03-01``), else ``str``."""
    if isinstance(g, pd.Timestamp) and g == g.normalize():
        return g.date().isoformat()
    return str(g)


def is_ordered(s: pd.Series) -> bool:
    """Numeric (not bool), datetime, timedelta, period, or an ordered categorical."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return bool(s.dtype.ordered)
    if isinstance(s.dtype, pd.PeriodDtype):
        return True
    if pd.api.types.is_bool_dtype(s):
        return False
    return bool(pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s)
                or pd.api.types.is_timedelta64_dtype(s))


def check_by_shift(by: str | None, shift: str | None, func: str) -> None:
    """``by`` and ``shift`` together are refused."""
    if by is not None and shift is not None:
        raise DataValidationError(
            f"{func}(): by and shift cannot be combined in by/shift; got by={by!r} and "
            f"shift={shift!r}. Pass one: shift= within a subgroup means a call on that "
            "subgroup's rows (data[data[by] == level]), or combine them into one column.")


def split_levels(frame: pd.DataFrame, by: str | None, shift: str | None, func: str) -> Levels:
    """Factorise the ``by`` or ``shift`` column (sorted; categories in their order)."""
    column = by if by is not None else shift
    if column is None:
        return Levels()
    s = frame[column]
    codes, uniq = pd.factorize(s, sort=True)
    keys = tuple(uniq.tolist()) if not isinstance(uniq, pd.CategoricalIndex) else tuple(
        uniq.astype(object).tolist())
    if shift is not None and len(keys) < 2:
        got = f"1 level [{keys[0]!r}]" if keys else "no levels"
        raise DataValidationError(
            f"{func}(): the shift column needs at least 2 levels to compare in column "
            f"{shift!r}; got {got}. Pass a column with two or more sites, devices or periods, "
            "or drop shift= to evaluate all rows together.")
    kind = "by" if by is not None else "shift"
    return Levels(column=column, kind=kind, keys=keys, codes=codes,
                  ordered=shift is not None and is_ordered(s))


# ---------------------------------------------------------------------- array kernels
def weighted_trend(est: np.ndarray, var: np.ndarray, rank: np.ndarray
                   ) -> tuple[float, float, float]:
    """Inverse-variance weighted least squares of ``est`` on ``rank``.

    Returns the intercept, the slope and the slope's SE ``1 / sqrt(sum w (r - rbar_w)^2)``
    (variances known, so no residual scale).

    Examples
    --------
    >>> a, b, se = weighted_trend(np.array([0.8, 0.7, 0.6]), np.ones(3) * 1e-4, np.arange(3.0))
    >>> round(a, 6), round(b, 6), round(se, 6)
    (0.8, -0.1, 0.007071)
    """
    w = 1.0 / var
    rbar = float(np.dot(w, rank) / w.sum())
    ybar = float(np.dot(w, est) / w.sum())
    sxx = float(np.dot(w, (rank - rbar) ** 2))
    slope = float(np.dot(w, (rank - rbar) * est) / sxx)
    return ybar - slope * rbar, slope, 1.0 / math.sqrt(sxx)


def trend_line(est: np.ndarray, se: np.ndarray, rank: np.ndarray, log: bool
               ) -> tuple[float, float] | None:
    """Intercept and slope of the weighted trend (on the log scale for ratios), or None."""
    ok = np.isfinite(est) & np.isfinite(se) & (se > 0) & (est > 0 if log else True)
    if ok.sum() < 2:
        return None
    y = np.log(est[ok]) if log else est[ok]
    a, b, _ = weighted_trend(y, se[ok] ** 2, rank[ok])
    return a, b


# ---------------------------------------------------------------------- rows
def _key(r: Estimate) -> tuple[str, float]:
    t = r.labels.get("time", math.nan)
    return r.term, (math.nan if t is None else float(t))


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def drift_rows(rows: Sequence[Estimate], levels: Levels, conf_level: float, func: str,
               p_adjust: str | None = None, notes: list[str] | None = None) -> list[Estimate]:
    """Heterogeneity, trend (ordered levels) and drift-from-first rows of every metric."""
    z = z_critical(conf_level)
    rank_of = {k: i for i, k in enumerate(levels.keys)}
    per = [r for r in rows if r.labels.get("group") is not OVERALL]
    out: list[Estimate] = []
    for term, tk in dict.fromkeys(_key(r) for r in per):
        sub = [r for r in per if r.term == term and _same(_key(r)[1], tk)]
        log = sub[0].effect_measure == "ratio"
        est = np.array([r.estimate for r in sub], dtype=float)
        se = np.array([r.std_error for r in sub], dtype=float)
        ok = np.isfinite(est) & np.isfinite(se) & (se > 0) & ((est > 0) if log else True)
        if ok.sum() < 2:
            if notes is not None and np.isfinite(est).sum() >= 2:
                notes.append(f"{term}: fewer than 2 levels with a positive standard error, so "
                             f"no drift tests across {levels.column}")
            continue
        y = np.where(ok, np.log(np.where(ok, est, 1.0)) if log else est, np.nan)
        rank = np.array([rank_of[r.labels["group"]] for r in sub], dtype=float)
        common: dict[str, Any] = dict(conf_level=conf_level, time=tk, metric=term, log=log,
                                      z=z, func=func)
        out.append(_q_row(y[ok], se[ok] ** 2, sub, ok, levels, **common))
        if levels.ordered:
            out.append(_trend_row(y[ok], se[ok] ** 2, rank[ok], sub, ok, levels, **common))
        out += _first_rows(y, se, sub, levels, p_adjust, **common)
    return out


def _labels(group: Any, time: float, metric: str, contrast: str, df: float = math.nan,
            p_adjusted: float = math.nan) -> dict[str, Any]:
    lab: dict[str, Any] = {"group": group}
    if not math.isnan(time):
        lab["time"] = time
    lab.update(metric=metric, contrast=contrast, df=df, p_adjusted=p_adjusted)
    return lab


def _sum_n(sub: Sequence[Estimate], ok: np.ndarray) -> tuple[int, int]:
    n = sum(int(r.n or 0) for r, k in zip(sub, ok, strict=True) if k)
    n1 = sum(int(r.n_events or 0) for r, k in zip(sub, ok, strict=True) if k)
    return n, n1


def _q_row(y: np.ndarray, var: np.ndarray, sub: Sequence[Estimate], ok: np.ndarray,
           levels: Levels, *, conf_level: float, time: float, metric: str, log: bool,
           z: float, func: str) -> Estimate:
    w = 1.0 / var
    pooled = float(np.dot(w, y) / w.sum())
    q = float(np.dot(w, (y - pooled) ** 2))
    df = int(y.size - 1)
    pv = float(stats.chi2.sf(q, df))
    n, n1 = _sum_n(sub, ok)
    return Estimate(
        term=f"{metric}: heterogeneity across {levels.column}", estimate=q, statistic=q,
        p_value=pv, conf_level=conf_level, effect_measure="chi_square",
        method="inverse_variance_chi_square", ci_method="none", n=n, n_events=n1,
        labels=_labels(OVERALL, time, metric, "heterogeneity", df, pv))


def _trend_row(y: np.ndarray, var: np.ndarray, rank: np.ndarray, sub: Sequence[Estimate],
               ok: np.ndarray, levels: Levels, *, conf_level: float, time: float, metric: str,
               log: bool, z: float, func: str) -> Estimate:
    _, slope, se = weighted_trend(y, var, rank)
    stat = slope / se
    pv = float(2 * stats.norm.sf(abs(stat)))
    lo, hi = slope - z * se, slope + z * se
    tr = math.exp if log else float
    n, n1 = _sum_n(sub, ok)
    return Estimate(
        term=f"{metric}: trend per level of {levels.column}", estimate=tr(slope),
        std_error=se, conf_low=tr(lo), conf_high=tr(hi), conf_level=conf_level,
        statistic=stat, p_value=pv, effect_measure="ratio" if log else "slope",
        method="inverse_variance_trend", ci_method="wald", ci_scale="log" if log else "plain",
        n=n, n_events=n1, labels=_labels(OVERALL, time, metric, "trend", 1.0, pv))


def _first_rows(y: np.ndarray, se: np.ndarray, sub: Sequence[Estimate], levels: Levels,
                p_adjust: str | None, *, conf_level: float, time: float, metric: str,
                log: bool, z: float, func: str) -> list[Estimate]:
    first = sub[0].labels["group"]
    if first != levels.keys[0]:
        return []
    diff = y[1:] - y[0]
    dse = np.sqrt(se[1:] ** 2 + se[0] ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = diff / dse
    p_raw = 2 * stats.norm.sf(np.abs(stat))
    finite = np.isfinite(p_raw)
    p_adj = np.full(p_raw.size, np.nan)
    if p_adjust is not None and finite.any():
        p_adj[finite] = adjust_pvalues(p_raw[finite], p_adjust)  # type: ignore[arg-type]
    tr = np.exp if log else (lambda v: v)
    est, lo, hi = tr(diff), tr(diff - z * dse), tr(diff + z * dse)
    out = []
    for i, r in enumerate(sub[1:]):
        g = r.labels["group"]
        out.append(Estimate(
            term=f"{metric}: {levels.column} = {level_str(g)} vs {level_str(first)}",
            estimate=float(est[i]),
            std_error=float(dse[i]), conf_low=float(lo[i]), conf_high=float(hi[i]),
            conf_level=conf_level, statistic=float(stat[i]), p_value=float(p_raw[i]),
            effect_measure="ratio" if log else "difference", method="drift_from_first",
            ci_method="wald", ci_scale="log" if log else "plain",
            n=int((r.n or 0) + (sub[0].n or 0)),
            n_events=int((r.n_events or 0) + (sub[0].n_events or 0)),
            labels=_labels(g, time, metric, "vs_first", math.nan,
                           float(p_adj[i]) if p_adjust is not None else float(p_raw[i]))))
    return out
