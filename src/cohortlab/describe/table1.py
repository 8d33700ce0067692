"""Table 1: the cohort described by group, weighted or not, with standardised differences."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._typing import Missing, SMDDenominator
from .._validation import (
    apply_missing,
    check_columns,
    check_text_covariates,
    check_weights,
    verb,
    verb_name,
)
from ..exceptions import DataValidationError
from ..results._format import Renderable, fmt_int, fmt_num
from ..results._hooks import hook
from ..results.dropped import Dropped
from ..results.labels import Labels, as_labels
from ._stats import (
    pooled_sd,
    smd_categorical,
    smd_from_moments,
    weighted_mean_var,
    weighted_quantiles,
)

__all__ = ["table1", "Table1"]

_STAT_COLUMNS = ["variable", "level", "kind", "group", "n", "n_missing", "mean", "sd",
                 "median", "q1", "q3", "count", "percent"]


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Table1(Renderable):
    """A descriptive table: summaries per group, missing counts and balance (SMD).

    Attributes
    ----------
    stats : pandas.DataFrame
        Long numeric summaries: one row per variable (and level) and group, with ``n`` (non-
        missing, weighted when weights are given), ``n_missing``, ``mean``, ``sd``, ``median``,
        ``q1``, ``q3`` (continuous) or ``count`` and ``percent`` (categorical, binary).
    balance : pandas.DataFrame
        One row per variable (``level`` empty) and per categorical level: ``smd`` (weighted
        when weights are given), ``smd_unweighted`` and ``var_ratio`` (continuous only).
    by : str or None
        The grouping column; ``groups`` lists its levels, the comparison group first.
    labels : Labels
        Display labels (variables, value labels of levels, the ``by`` groups); display only.
    """

    stats: pd.DataFrame
    balance: pd.DataFrame
    by: str | None
    groups: tuple[Any, ...]
    group_n: Mapping[Any, float]
    group_n_unweighted: Mapping[Any, int]
    weights: str | None = None
    smd_denominator: str = "pooled"
    labels: Labels = field(default_factory=Labels)
    kinds: Mapping[str, str] = field(default_factory=dict)
    n: int = 0
    dropped: Dropped = field(default_factory=Dropped)
    notes: tuple[str, ...] = ()
    _digits = 1

    def to_frame(self) -> pd.DataFrame:
        """Long numeric frame: ``stats`` with the balance columns joined on variable and level."""
        bal = self.balance.drop(columns=["kind"])
        return self.stats.merge(bal, on=["variable", "level"], how="left")

    def smd(self) -> pd.Series:
        """The SMD of each variable (multi-level: Yang-Dalton), indexed by variable."""
        rows = self.balance[self.balance["level"] == ""]
        return pd.Series(rows["smd"].to_numpy(), index=rows["variable"].to_numpy(), name="smd")

    def table(self, digits: int = 1) -> pd.DataFrame:
        """The formatted Table 1 (strings), as printed and exported."""
        return self._display_frame(digits)

    # ------------------------------------------------------------------ rendering
    def _group_header(self, g: Any) -> str:
        if g is _OVERALL:
            return "Overall"
        return self.labels.arm(g, self.by) if self.by else _level_text(g)

    def _variable_text(self, var: str, kind: str) -> str:
        """``"Age, years, mean (SD)"``; a 0/1 variable names the level counted unless Yes."""
        name = self.labels.variable(var)
        if kind == "binary" and self.labels.has_values(var):
            one = self.labels.value(var, 1)
            if one.strip().lower() not in ("yes", "1", "true"):
                name = f"{name}: {one}"
        return f"{name}, {_KIND_LABEL[kind]}"

    def _display_frame(self, digits: int = 1) -> pd.DataFrame:
        cols = [c for c in [_OVERALL, *self.groups] if c in self.group_n]
        weighted = self.weights is not None
        has_smd = self.balance["smd"].notna().any()
        recs: list[dict[str, str]] = []
        first = {"Variable": "n (weighted)" if weighted else "n", "Level": ""}
        for g in cols:
            first[self._group_header(g)] = (fmt_num(self.group_n[g], 1) if weighted
                                            else fmt_int(self.group_n[g]))
        recs.append(first)
        if weighted:
            row = {"Variable": "n (unweighted)", "Level": ""}
            row.update({self._group_header(g): fmt_int(self.group_n_unweighted[g]) for g in cols})
            recs.append(row)
        st = self.stats.set_index(["variable", "level", "group"])
        bal = self.balance.set_index(["variable", "level"])
        for var, kind in self.kinds.items():
            b = bal.loc[(var, "")]
            lv0 = "" if kind != "categorical" else _first_level(st, var)
            groups = [_OVERALL] if _OVERALL in self.group_n else list(self.groups)
            miss = int(sum(st.loc[(var, lv0, g), "n_missing"] for g in groups))
            head = {"Variable": self._variable_text(var, kind), "Level": ""}
            if kind != "categorical":
                for g in cols:
                    head[self._group_header(g)] = _fmt_cell(st.loc[(var, "", g)], kind, digits)
            if has_smd:
                head["SMD"] = fmt_num(b["smd"], 3)
                if weighted:
                    head["SMD (unweighted)"] = fmt_num(b["smd_unweighted"], 3)
            head["Missing"] = f"{miss:,}" if miss else ""
            recs.append(head)
            if kind == "categorical":
                levels = [lv for (v, lv) in bal.index if v == var and lv != ""]
                for lv in levels:
                    row = {"Variable": "", "Level": self.labels.value(var, lv)}
                    for g in cols:
                        row[self._group_header(g)] = _fmt_cell(st.loc[(var, lv, g)], kind, digits)
                    recs.append(row)
        out = pd.DataFrame(recs).fillna("")
        return out

    def _title(self) -> str:
        base = "Table 1" + (f" by {self.labels.variable(self.by)}" if self.by else "")
        return base + (f", weighted by {self.weights}" if self.weights else "")

    def _footer(self) -> list[str]:
        bits = [f"n = {self.n:,}" + (f" ({self.dropped})" if self.dropped else "")]
        if self.balance["smd"].notna().any():
            lab = self.labels
            named = self.by is not None and lab.has_values(self.by)
            g1, g0 = ((lab.arm(g, self.by) if named else _level_text(g))
                      for g in (self.groups[1], self.groups[0]))
            h1, h0 = (g1, g0) if named else (self._group_header(self.groups[1]),
                                             self._group_header(self.groups[0]))
            den = {"pooled": "pooled SD", "treated": f"SD of {h1}",
                   "control": f"SD of {h0}"}[self.smd_denominator]
            bits.append(f"SMD: ({g1} - {g0}) / {den}")
        bits.append("percentages among non-missing values")
        return [" · ".join(bits), *self.notes]

    def plot(self, ax: Any = None) -> Any:
        """Dot plot of absolute SMDs (a love plot); weighted and unweighted when weighted."""
        return hook("smd_plot")(self, ax=ax)


_OVERALL = "Overall"  # the overall column's group label in stats, group_n and to_frame()
_KIND_LABEL = {"continuous": "mean (SD)", "nonnormal": "median [Q1, Q3]", "binary": "n (%)",
               "categorical": "n (%)"}


def _level_text(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _first_level(st: pd.DataFrame, var: str) -> Any:
    return st.loc[var].index.get_level_values(0)[0]


def _fmt_cell(r: pd.Series, kind: str, digits: int) -> str:
    if kind == "continuous":
        return f"{fmt_num(r['mean'], digits)} ({fmt_num(r['sd'], digits)})"
    if kind == "nonnormal":
        return (f"{fmt_num(r['median'], digits)} [{fmt_num(r['q1'], digits)}, "
                f"{fmt_num(r['q3'], digits)}]")
    count = r["count"]
    c_txt = fmt_int(count) if float(count).is_integer() else fmt_num(count, 1)
    return f"{c_txt} ({fmt_num(r['percent'], digits)})"


# ---------------------------------------------------------------------- the verb
@verb
def table1(
    data: pd.DataFrame,
    *,
    by: str | None = None,
    columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    nonnormal: Sequence[str] | None = None,
    weights: str | None = None,
    reference: Any = None,
    smd: bool | None = None,
    smd_denominator: SMDDenominator = "pooled",
    smd_weighted_sd: bool = True,
    overall: bool = True,
    labels: Labels | Mapping[str, Any] | None = None,
    missing: Missing = "raise",
) -> Table1:
    """Describe a cohort by group: Table 1 with missing counts and standardised differences.

    Categorical variables (strings, categories, booleans, or listed in ``categorical``) show
    n (%) per level among non-missing values; 0/1 numeric variables show n (%) of ones;
    continuous variables show mean (SD), or median [Q1, Q3] when listed in ``nonnormal``.
    Missing values of described columns are counted, never dropped silently.

    With two groups, the standardised mean difference (SMD) of each variable is
    ``(mean_1 - mean_0) / sd`` (binary: ``p (1 - p)`` variances; multi-level categorical: the
    Yang-Dalton Mahalanobis form, as R's tableone), comparing the second group with the first
    (``reference`` names the first). With ``weights`` every summary and the SMD are weighted,
    and the unweighted SMD is shown beside it, so one table shows balance before and after
    weighting.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject.
    by : str, optional
        Grouping column (e.g. the exposure). Rows where it is missing raise unless
        ``missing="drop"``, which drops and counts them.
    columns : list of str, optional
        Variables to describe, in order; default every column except ``by`` and ``weights``.
    categorical, nonnormal : list of str, optional
        Numeric columns to treat as categorical; continuous columns to summarise by median
        [Q1, Q3] (weighted quantiles when weighted).
    weights : str, optional
        A column of non-negative case weights, e.g. inverse probability weights. Every summary
        and the SMD are then weighted.
    reference : optional
        The level of ``by`` used as the comparison group (coded first). Default: the first
        level in sorted order.
    smd : bool, optional
        Compute SMDs; default when ``by`` has exactly two levels. ``True`` with a ``by`` that
        does not have two levels is an error.
    smd_denominator : {"pooled", "treated", "control"}
        The SD in the SMD's denominator: pooled ``sqrt((s1^2 + s0^2) / 2)`` (tableone), or the
        second (treated, ATT convention as MatchIt) or first group's SD.
    smd_weighted_sd : bool
        With weights, use weighted SDs in the denominator (tableone's svyCreateTableOne);
        ``False`` uses the unweighted SDs (cobalt's convention), so only the mean difference
        changes with weighting.
    overall : bool
        Add an "Overall" column.
    labels : Labels or mapping, optional
        Display labels (see :class:`cohortlab.Labels`, e.g. ``cl.datasets.labels("nhefs")``):
        variable labels, value labels of categorical levels and 0/1 variables, and the names
        of the ``by`` groups (its value labels, or the exposure's arms). A flat
        ``{column: label}`` mapping labels variables only. Display only: ``to_frame()``
        keeps column names and codes.
    missing : {"raise", "drop"}
        What to do with rows where ``by`` is missing: raise ``MissingDataError``, or drop them
        and count them in ``result.dropped``.

    Returns
    -------
    Table1
        ``to_frame()`` gives the long numeric table, ``table()`` the formatted one;
        ``to_markdown()``, ``to_latex()``, ``to_html()`` and ``plot()`` render it.

    Examples
    --------
    >>> import cohortlab as cl
    >>> nhefs = cl.datasets.load_nhefs()
    >>> t1 = cl.table1(nhefs[nhefs.wt82.notna()], by="qsmk",
    ...                columns=["age", "sex", "wt71", "education"], categorical=["education"])
    >>> round(float(t1.smd()["age"]), 3)
    0.282
    """
    check_columns(data, by=by, weights=weights, columns=columns, categorical=categorical,
                  nonnormal=nonnormal)
    columns = _default_columns(data, columns, by, weights)
    categorical = list(categorical or [])
    nonnormal = list(nonnormal or [])
    for col in categorical + nonnormal:
        if col not in columns:
            raise DataValidationError(
                f"{verb_name()}(): column {col!r} is listed in categorical/nonnormal but not "
                "described; "
                f"got columns={columns}. Add it to columns."
            )
    check_text_covariates(data, columns, declared=categorical)
    _check_finite(data, columns)
    frame, dropped = apply_missing(data, [by] if by else [], missing)
    w = check_weights(frame, weights) if weights else np.ones(len(frame))
    codes, groups = _group_codes(frame, by, reference, smd)
    if overall and any(isinstance(g, str) and g == _OVERALL for g in groups):
        raise DataValidationError(
            f"{verb_name()}(): column {by!r} (by) has a level named {_OVERALL!r}, which would "
            "collide "
            f"with the overall column; got levels {list(groups)[:6]}. Rename that level or pass "
            "overall=False."
        )
    do_smd = len(groups) == 2 if smd is None else smd
    kinds = {c: _kind(frame[c], c, c in categorical, c in nonnormal) for c in columns}
    stat_rows: list[dict[str, Any]] = []
    bal_rows: list[dict[str, Any]] = []
    group_list: list[Any] = ([_OVERALL] if overall else []) + list(groups)
    for col in columns:
        s, b = _describe(frame[col], col, kinds[col], codes, group_list, w, do_smd,
                         smd_denominator, smd_weighted_sd, weights is not None)
        stat_rows += s
        bal_rows += b
    ones = np.ones(len(frame))
    group_n = {g: _group_sum(codes, g, group_list, w) for g in group_list}
    group_nu = {g: int(_group_sum(codes, g, group_list, ones)) for g in group_list}
    lab = as_labels(labels)
    notes = _balance_notes(bal_rows, lab) if do_smd else ()
    return Table1(
        stats=pd.DataFrame(stat_rows, columns=_STAT_COLUMNS),
        balance=pd.DataFrame(bal_rows, columns=["variable", "level", "kind", "smd",
                                                "smd_unweighted", "var_ratio"]),
        by=by, groups=tuple(groups), group_n=group_n, group_n_unweighted=group_nu,
        weights=weights, smd_denominator=smd_denominator, labels=lab,
        kinds=kinds, n=len(frame), dropped=dropped, notes=notes,
    )


def _default_columns(data: pd.DataFrame, columns: Sequence[str] | None, by: str | None,
                     weights: str | None) -> list[str]:
    if columns is None:
        columns = [c for c in data.columns if c not in (by, weights)]
    columns = list(dict.fromkeys(columns))
    if not columns:
        raise DataValidationError(f"{verb_name()}(): no columns to describe; pass columns=[...].")
    if by in columns:
        raise DataValidationError(
            f"{verb_name()}(): column {by!r} is both the grouping column (by) and a described "
            "column; "
            "remove it from columns."
        )
    empty = [c for c in columns if data[c].isna().all()]
    if empty:
        raise DataValidationError(
            f"{verb_name()}(): column(s) {empty} are missing for every one of the {len(data):,} "
            "rows. "
            "Drop them from columns or check how they were read."
        )
    return columns


def _check_finite(data: pd.DataFrame, columns: Sequence[str]) -> None:
    """Refuse +-inf in a described column: its mean and SD would print as inf."""
    for col in columns:
        s = data[col]
        if not pd.api.types.is_float_dtype(s.dtype):
            continue
        n_inf = int(np.isinf(s.to_numpy(dtype=float, na_value=np.nan)).sum())
        if n_inf:
            raise DataValidationError(
                f"{verb_name()}(): column {col!r} has {n_inf:,} infinite values (+-inf); its mean "
                "and "
                "SD would be infinite. Fix them at the source (e.g. log of 0), or set them to "
                f"missing with data[{col!r}].replace([np.inf, -np.inf], np.nan) so that "
                "table1 counts them as missing."
            )


def _group_codes(frame: pd.DataFrame, by: str | None, reference: Any,
                 smd: bool | None) -> tuple[np.ndarray, list[Any]]:
    if by is None:
        if smd:
            raise DataValidationError(f"{verb_name()}(): smd=True needs by=<a column with two "
                                      "groups>.")
        if reference is not None:
            raise DataValidationError(
                f"{verb_name()}(): reference={reference!r} needs by=<column>.")
        return np.zeros(len(frame), dtype=np.int64), []
    col = frame[by]
    levels = list(col.cat.categories[col.cat.categories.isin(col.unique())]) if isinstance(
        col.dtype, pd.CategoricalDtype) else sorted(pd.unique(col).tolist(), key=_sort_key)
    if reference is not None:
        if reference not in levels:
            raise DataValidationError(
                f"{verb_name()}(): reference={reference!r} is not a level of column {by!r} (by); "
                f"got levels {levels}."
            )
        levels = [reference] + [lv for lv in levels if lv != reference]
    if smd and len(levels) != 2:
        raise DataValidationError(
            f"{verb_name()}(): column {by!r} (by) must have exactly two groups for SMDs; got "
            f"{len(levels)} levels {levels[:6]}. Pass smd=False, or recode {by!r} into two groups."
        )
    if len(levels) < 2 and smd is not False:
        raise DataValidationError(
            f"{verb_name()}(): column {by!r} (by) has a single group {levels}; nothing to compare. "
            "Drop by= for a one-column table or check the filters."
        )
    codes = pd.Categorical(col, categories=levels).codes.astype(np.int64)
    return codes, levels


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, (int, float, np.number, bool)) else (1, str(v))


def _kind(s: pd.Series, col: str, is_cat: bool, is_nonnormal: bool) -> str:
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    if is_cat or not numeric or isinstance(s.dtype, pd.CategoricalDtype):
        if is_nonnormal:
            raise DataValidationError(
                f"{verb_name()}(): column {col!r} is listed in nonnormal but is categorical "
                f"(dtype {s.dtype}). Remove it from nonnormal."
            )
        return "categorical"
    if is_nonnormal:
        return "nonnormal"
    lo, hi = s.min(), s.max()  # cheap screen before looking at the distinct values
    if lo >= 0 and hi <= 1 and set(pd.unique(s.dropna()).tolist()) <= {0, 1}:
        return "binary"
    return "continuous"


def _group_masks(codes: np.ndarray, group_list: Sequence[Any]) -> list[np.ndarray | slice]:
    return [slice(None) if g is _OVERALL else codes == (i - (1 if group_list[0] is _OVERALL else 0))
            for i, g in enumerate(group_list)]


def _group_sum(codes: np.ndarray, g: Any, group_list: Sequence[Any], w: np.ndarray) -> float:
    mask = _group_masks(codes, group_list)[list(group_list).index(g)]
    return float(w[mask].sum())


def _describe(s: pd.Series, col: str, kind: str, codes: np.ndarray, group_list: list[Any],
              w: np.ndarray, do_smd: bool, denominator: str, weighted_sd: bool,
              weighted: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    na = s.isna().to_numpy()
    masks = _group_masks(codes, group_list)
    if kind == "categorical":
        return _describe_categorical(s, col, na, masks, group_list, w, do_smd, denominator,
                                     weighted_sd, weighted)
    x = s.to_numpy(dtype=float, na_value=np.nan)
    rows, moments = [], {}
    for g, m in zip(group_list, masks, strict=True):
        sel = ~na if isinstance(m, slice) else (m & ~na)
        xg, wg = x[sel], w[sel]
        n_missing = int((na if isinstance(m, slice) else (m & na)).sum())
        mean, var = weighted_mean_var(xg, wg)
        mean_u, var_u = (mean, var) if not weighted else (
            float(xg.mean()) if xg.size else math.nan,
            float(xg.var(ddof=1)) if xg.size > 1 else math.nan)
        moments[g] = (mean, var, var_u, mean_u)
        row = dict(variable=col, level="", kind=kind, group=g, n=float(wg.sum()),
                   n_missing=n_missing, mean=mean,
                   sd=math.sqrt(var) if not math.isnan(var) else math.nan,
                   median=math.nan, q1=math.nan, q3=math.nan, count=math.nan, percent=math.nan)
        if kind == "nonnormal":
            qs = weighted_quantiles(xg, wg, np.array([0.25, 0.5, 0.75]))
            row["q1"], row["median"], row["q3"] = qs
        if kind == "binary":
            row["count"], row["percent"] = float(np.dot(wg, xg)), 100.0 * mean
        rows.append(row)
    bal = dict(variable=col, level="", kind=kind, smd=math.nan, smd_unweighted=math.nan,
               var_ratio=math.nan)
    if do_smd:
        g0, g1 = group_list[-2], group_list[-1]
        (m1, v1, u1, mu1), (m0, v0, u0, mu0) = moments[g1], moments[g0]
        if kind == "binary":
            v1, v0 = m1 * (1 - m1), m0 * (1 - m0)
            u1, u0 = mu1 * (1 - mu1), mu0 * (1 - mu0)
        sd_w = pooled_sd(v1, v0, denominator) if weighted_sd else pooled_sd(u1, u0, denominator)
        bal["smd"] = smd_from_moments(m1, m0, sd_w)
        bal["smd_unweighted"] = smd_from_moments(mu1, mu0, pooled_sd(u1, u0, denominator))
        if kind != "binary":
            bal["var_ratio"] = v1 / v0 if v0 > 0 else math.nan
        if not weighted:
            bal["smd_unweighted"] = bal["smd"]
    return rows, [bal]


def _describe_categorical(s: pd.Series, col: str, na: np.ndarray, masks: list, group_list: list,
                          w: np.ndarray, do_smd: bool, denominator: str, weighted_sd: bool,
                          weighted: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    cat = s.astype("category") if not isinstance(s.dtype, pd.CategoricalDtype) else s
    levels = [lv for lv in cat.cat.categories if (cat == lv).any()]
    cat = cat.cat.set_categories(levels)
    lc = cat.cat.codes.to_numpy()
    k = len(levels)
    rows, props, props_u = [], {}, {}
    for g, m in zip(group_list, masks, strict=True):
        lcg, wg, nag = lc[m], w[m], na[m]
        ok = ~nag
        counts = np.bincount(lcg[ok], weights=wg[ok], minlength=k)
        counts_u = np.bincount(lcg[ok], minlength=k).astype(float)
        tot, tot_u = counts.sum(), counts_u.sum()
        props[g] = counts / tot if tot > 0 else np.full(k, np.nan)
        props_u[g] = counts_u / tot_u if tot_u > 0 else np.full(k, np.nan)
        for j, lv in enumerate(levels):
            rows.append(dict(variable=col, level=lv, kind="categorical", group=g, n=float(tot),
                             n_missing=int(nag.sum()), mean=math.nan, sd=math.nan,
                             median=math.nan, q1=math.nan, q3=math.nan, count=float(counts[j]),
                             percent=100.0 * props[g][j]))
    bal = [dict(variable=col, level="", kind="categorical", smd=math.nan,
                smd_unweighted=math.nan, var_ratio=math.nan)]
    level_bal = [dict(variable=col, level=lv, kind="categorical", smd=math.nan,
                      smd_unweighted=math.nan, var_ratio=math.nan) for lv in levels]
    if do_smd:
        g0, g1 = group_list[-2], group_list[-1]
        p1, p0, u1, u0 = props[g1], props[g0], props_u[g1], props_u[g0]
        v1, v0 = (p1, p0) if weighted_sd else (u1, u0)
        bal[0]["smd"] = smd_categorical(p1, p0, v1, v0, denominator)
        bal[0]["smd_unweighted"] = smd_categorical(u1, u0, u1, u0, denominator)
        for j, b in enumerate(level_bal):
            sd = pooled_sd(v1[j] * (1 - v1[j]), v0[j] * (1 - v0[j]), denominator)
            sd_u = pooled_sd(u1[j] * (1 - u1[j]), u0[j] * (1 - u0[j]), denominator)
            b["smd"] = smd_from_moments(p1[j], p0[j], sd)
            b["smd_unweighted"] = smd_from_moments(u1[j], u0[j], sd_u)
    return rows, bal + level_bal


def _balance_notes(bal_rows: list[dict[str, Any]], labels: Labels) -> tuple[str, ...]:
    top = [b for b in bal_rows if b["level"] == "" and abs(b["smd"]) > 0.1]
    if not top:
        return ()
    # multi-level (Yang-Dalton) SMDs have no sign
    names = ", ".join(f"{labels.variable(b['variable'])} ({b['smd']:.2f})"
                      if b["kind"] == "categorical"
                      else f"{labels.variable(b['variable'])} ({b['smd']:+.2f})"
                      for b in top[:8])
    more = f" and {len(top) - 8} more" if len(top) > 8 else ""
    return (f"{len(top)} variable(s) with |SMD| > 0.1: {names}{more}",)
