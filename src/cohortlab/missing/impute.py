"""``impute``: multiple imputation of missing covariates by chained equations (MICE).

The public verb validates the frame, encodes the variables, runs ``m`` independent chains
through joblib (one spawned seed each, so the numbers do not depend on ``n_jobs``; see
:mod:`cohortlab.missing._mice` for the methods) and returns an :class:`ImputedData`, which
keeps the original frame and only the imputed values (``m`` values per missing cell).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from .._typing import RandomState
from .._validation import check_columns, check_frame, suggest
from ..exceptions import DataValidationError
from ..inference.bootstrap import _seed_sequence, seed_batches
from ..results._format import Renderable
from ._mice import VarSpec, run_batch

__all__ = ["impute", "ImputedData", "ImputeMethod"]

FUNC = "impute"
ImputeMethod: TypeAlias = Literal["pmm", "norm", "logreg", "polyreg"]
#: Levels above which a string/categorical predictor is refused (an identifier, free text).
MAX_LEVELS = 50
_KIND = {"num": "numeric", "bin": "binary", "cat": "categorical"}


@dataclass(frozen=True, eq=False, repr=False)
class ImputedData(Renderable):
    """``m`` completed versions of a cohort, stored as the original plus the imputed values.

    Attributes
    ----------
    data : pandas.DataFrame
        The original frame (a copy; missing values kept).
    imputations : dict of str to numpy.ndarray
        Per imputed column, an ``(m, n_missing)`` array of imputed values (labels for
        categorical columns), in the order of ``missing_rows[column]``.
    missing_rows : dict of str to numpy.ndarray
        Per imputed column, the positions (0-based) of its missing rows.
    m : int
        Number of imputations.
    methods, predictors : dict
        The imputation method and the predictors of each imputed column.
    trace_mean, trace_sd : numpy.ndarray
        ``(m, n_iter, n_columns)`` means and SDs of the imputed values after each iteration
        (numeric codes for categorical columns), for convergence checks (:meth:`plot_trace`).
    n_iter, donors : int
    random_state : int or None
    notes : tuple of str
    """

    data: pd.DataFrame
    imputations: Mapping[str, np.ndarray]
    missing_rows: Mapping[str, np.ndarray]
    m: int
    methods: Mapping[str, str]
    predictors: Mapping[str, tuple[str, ...]]
    trace_mean: np.ndarray = field(repr=False)
    trace_sd: np.ndarray = field(repr=False)
    n_iter: int = 10
    donors: int = 5
    missing_indicator: bool = False
    random_state: Any = None
    notes: tuple[str, ...] = ()

    @classmethod
    def from_datasets(cls, data: pd.DataFrame, datasets: Sequence[pd.DataFrame]
                      ) -> ImputedData:
        """Wrap completed data sets made elsewhere (e.g. R ``mice::complete(imp, i)``).

        ``data`` is the original frame with its missing values; ``datasets`` the ``m``
        completed versions, same rows and columns, observed cells unchanged. The result
        has no convergence trace.
        """
        func = "ImputedData.from_datasets"
        data = check_frame(data, func)
        if len(datasets) < 1:
            raise DataValidationError(f"{func}(): datasets is empty; pass the m completed frames.")
        imputations: dict[str, np.ndarray] = {}
        rows_of: dict[str, np.ndarray] = {}
        for i, ds in enumerate(datasets, start=1):
            if list(ds.columns) != list(data.columns) or len(ds) != len(data):
                raise DataValidationError(
                    f"{func}(): completed data set {i} has shape {ds.shape} and columns "
                    f"{list(ds.columns)[:6]}; expected {data.shape} with the columns of data."
                )
        for c in data.columns:
            miss = data[c].isna().to_numpy()
            if not miss.any():
                continue
            rows = np.flatnonzero(miss)
            vals = np.vstack([ds[c].to_numpy()[rows] for ds in datasets])
            if pd.isna(vals).any():
                raise DataValidationError(
                    f"{func}(): column {c!r} still has missing values in a completed data set."
                )
            obs = ~miss
            for i, ds in enumerate(datasets, start=1):
                if not np.array_equal(ds[c].to_numpy()[obs], data[c].to_numpy()[obs]):
                    raise DataValidationError(
                        f"{func}(): completed data set {i} changes observed values of {c!r}; "
                        "only missing cells may differ from data."
                    )
            imputations[c], rows_of[c] = vals, rows
        m, k = len(datasets), len(imputations)
        return cls(data=data.copy(), imputations=imputations, missing_rows=rows_of, m=m,
                   methods={c: "external" for c in imputations},
                   predictors={c: () for c in imputations},
                   trace_mean=np.full((m, 1, k), np.nan), trace_sd=np.full((m, 1, k), np.nan),
                   n_iter=1, notes=("imputed outside cohortlab (from_datasets)",))

    @property
    def columns(self) -> tuple[str, ...]:
        """The imputed columns, in visiting order."""
        return tuple(self.imputations)

    @property
    def n_missing(self) -> pd.Series:
        """Number of missing (imputed) values per imputed column."""
        return pd.Series({c: int(r.size) for c, r in self.missing_rows.items()},
                         name="n_missing", dtype="int64")

    def complete(self, i: int) -> pd.DataFrame:
        """The ``i``-th completed data set, ``i`` in ``1..m`` (``0``: the original, as mice).

        With ``missing_indicator=True`` each imputed column ``c`` gets a 0/1 column
        ``c_missing`` marking its imputed rows.
        """
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool) or not 0 <= i <= self.m:
            raise DataValidationError(
                f"ImputedData.complete(): i must be an integer in 0..{self.m} (1..m the "
                f"completed data sets, 0 the original); got {i!r}."
            )
        out = self.data.copy()
        out.attrs = {}
        for c, rows in self.missing_rows.items():
            if self.missing_indicator:
                ind = np.zeros(len(out), dtype=np.int64)
                ind[rows] = 1
                out[f"{c}_missing"] = ind
            if i == 0 or rows.size == 0:
                continue
            col = out[c]
            vals = self.imputations[c][i - 1]
            if isinstance(col.dtype, pd.CategoricalDtype):
                out[c] = _fill(col, rows, vals)
            elif col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
                arr = col.to_numpy(dtype=object).copy()
                arr[rows] = vals
                out[c] = pd.Series(arr, index=out.index, dtype=col.dtype)
            elif pd.api.types.is_bool_dtype(col.dtype) or col.dtype == "boolean":
                arr = col.astype(object).to_numpy().copy()
                arr[rows] = vals.astype(bool)
                out[c] = pd.Series(arr, index=out.index).astype(bool)
            elif pd.api.types.is_integer_dtype(col.dtype):  # nullable Int64 etc.
                arr = col.to_numpy(dtype=float, na_value=np.nan).copy()
                arr[rows] = vals
                out[c] = pd.Series(np.round(arr).astype(np.int64), index=out.index)
            else:
                arr = col.to_numpy(dtype=float, na_value=np.nan).copy()
                arr[rows] = vals
                out[c] = arr
        return out

    def datasets(self) -> list[pd.DataFrame]:
        """All ``m`` completed data sets (``complete(1), ..., complete(m)``)."""
        return [self.complete(i) for i in range(1, self.m + 1)]

    def to_frame(self) -> pd.DataFrame:
        """The imputed values in long format: ``imputation, row, column, value``.

        ``row`` is the index label of the imputed row in ``data``.
        """
        parts = []
        for c, rows in self.missing_rows.items():
            vals = self.imputations[c]
            parts.append(pd.DataFrame({
                "imputation": np.repeat(np.arange(1, self.m + 1), rows.size),
                "row": np.tile(self.data.index.to_numpy()[rows], self.m),
                "column": c,
                "value": pd.Series(vals.ravel(), dtype=object),
            }))
        if not parts:
            return pd.DataFrame(columns=["imputation", "row", "column", "value"])
        return pd.concat(parts, ignore_index=True)

    def trace(self) -> pd.DataFrame:
        """The convergence trace: ``column, imputation, iteration, mean, sd`` (long format)."""
        m, n_iter, k = self.trace_mean.shape
        return pd.DataFrame({
            "column": np.tile(np.array(self.columns, dtype=object), m * n_iter),
            "imputation": np.repeat(np.arange(1, m + 1), n_iter * k),
            "iteration": np.tile(np.repeat(np.arange(1, n_iter + 1), k), m),
            "mean": self.trace_mean.ravel(),
            "sd": self.trace_sd.ravel(),
        })

    def plot_trace(self, columns: Sequence[str] | None = None, fig: Any = None) -> Any:
        """Trace plot (as mice's ``plot(imp)``): mean and SD of the imputed values per iteration.

        One line per imputation chain; well-mixed chains intermingle without trend.
        Returns the matplotlib Figure.
        """
        import matplotlib.pyplot as plt

        cols = list(self.columns if columns is None else columns)
        for c in cols:
            if c not in self.columns:
                raise DataValidationError(
                    f"ImputedData.plot_trace(): column {c!r} was not imputed. "
                    f"{suggest(c, list(self.columns))}"
                )
        fig = fig if fig is not None else plt.figure(figsize=(8, 2.2 * max(len(cols), 1)))
        axes = fig.subplots(max(len(cols), 1), 2, squeeze=False)
        it = np.arange(1, self.n_iter + 1)
        for r, c in enumerate(cols):
            j = self.columns.index(c)
            for stat, arr, ax in (("mean", self.trace_mean, axes[r, 0]),
                                  ("sd", self.trace_sd, axes[r, 1])):
                ax.plot(it, arr[:, :, j].T, lw=0.8)
                ax.set_title(f"{c}: {stat}", fontsize=9)
                ax.set_xlabel("iteration")
        fig.tight_layout()
        return fig

    def table1(self, **kwargs: Any) -> Any:
        """Table 1 of the imputed cohort: means and proportions averaged over imputations.

        The ``m`` completed data sets are stacked and each row weighted ``1 / m``, so every
        mean, proportion and count is the average over the imputations (Rubin's point
        estimate) and the SD is that of the stacked data (within plus between imputations).
        Takes :func:`cohortlab.table1`'s arguments except ``weights``.
        """
        from ..describe.table1 import table1

        if kwargs.get("weights") is not None:
            raise DataValidationError(
                "ImputedData.table1(): weights are not supported on imputed data (each "
                "completed data set gets weight 1/m); got weights="
                f"{kwargs['weights']!r}. Describe each completed data set instead."
            )
        stacked = pd.concat(self.datasets(), ignore_index=True)
        wcol = "1/m (stacked imputations)"
        stacked[wcol] = 1.0 / self.m
        kwargs = {k: v for k, v in kwargs.items() if k != "weights"}
        if kwargs.get("columns") is None:
            kwargs["columns"] = [c for c in self.data.columns if c != kwargs.get("by")]
        return table1(stacked, weights=wcol, **kwargs)

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        n = len(self.data)
        rows = []
        for c in self.columns:
            k = int(self.missing_rows[c].size)
            tm = self.trace_mean[:, -1, self.columns.index(c)]
            rows.append({"column": c, "method": self.methods[c], "n_missing": f"{k:,}",
                         "% missing": f"{100 * k / n:.1f}",
                         "mean of imputed": _fmt(float(np.mean(tm)) if k else math.nan, digits),
                         "predictors": str(len(self.predictors[c]))})
        return pd.DataFrame(rows, columns=["column", "method", "n_missing", "% missing",
                                           "mean of imputed", "predictors"])

    def _title(self) -> str:
        return (f"Multiple imputation by chained equations · m = {self.m} · "
                f"{self.n_iter} iterations")

    def _footer(self) -> list[str]:
        n = len(self.data)
        cc = int((~self.data[list(self.columns)].isna().any(axis=1)).sum()) if self.columns else n
        return [f"n = {n:,} rows ({cc:,} complete on the imputed columns) · pmm with "
                f"{self.donors} donors · random_state = {self.random_state!r}", *self.notes]


def _fmt(x: float, digits: int) -> str:
    return "" if not math.isfinite(x) else f"{x:.{digits}g}"


def _fill(col: pd.Series, rows: np.ndarray, vals: np.ndarray) -> pd.Series:
    codes = col.cat.codes.to_numpy().copy()
    cats = list(col.cat.categories)
    codes[rows] = pd.Categorical(vals, categories=cats).codes
    return pd.Series(pd.Categorical.from_codes(codes, categories=cats,
                                               ordered=col.cat.ordered), index=col.index)


# ------------------------------------------------------------------------- encoding


@dataclass
class _Column:
    name: str
    kind: str  # num, bin, cat
    values: np.ndarray  # float (num) or int codes (bin/cat); junk at missing rows
    missing: np.ndarray  # bool
    levels: list  # labels for bin/cat (code order); [] for num


def _encode(frame: pd.DataFrame, name: str, role: str) -> _Column:
    s = frame[name]
    miss = s.isna().to_numpy()
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or \
            pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        if isinstance(s.dtype, pd.CategoricalDtype):
            levels = [c for c in s.cat.categories if (s == c).any()]
            if len(levels) < len(s.cat.categories):
                levels = list(s.cat.categories)
        else:
            try:
                levels = sorted(s.dropna().unique().tolist())
            except TypeError:
                levels = list(pd.unique(s.dropna()))
        if len(levels) > MAX_LEVELS:
            raise DataValidationError(
                f"{FUNC}(): column {name!r} ({role}) has {len(levels):,} distinct values; at "
                f"most {MAX_LEVELS} levels are used in an imputation model. Leave it out "
                "(predictors=, columns=) if it is an identifier or free text."
            )
        codes = pd.Categorical(s, categories=levels).codes.astype(np.int64)
        codes[miss] = 0
        kind = "bin" if len(levels) <= 2 else "cat"
        return _Column(name, kind, codes, miss, levels)
    if not pd.api.types.is_numeric_dtype(s.dtype):
        raise DataValidationError(
            f"{FUNC}(): column {name!r} ({role}) has dtype {s.dtype}; imputation models take "
            "numeric, boolean, string or categorical columns. Convert it (e.g. dates to "
            "days since baseline) or leave it out (predictors=, columns=)."
        )
    x = s.to_numpy(dtype=float, na_value=np.nan)
    if np.any(np.isinf(x)):
        raise DataValidationError(
            f"{FUNC}(): column {name!r} ({role}) has {int(np.isinf(x).sum()):,} infinite "
            "values. Replace them (e.g. with NaN, to be imputed)."
        )
    obs = np.unique(x[~miss])
    if obs.size <= 2 and np.all(np.isin(obs, [0.0, 1.0])):
        codes = np.where(miss, 0, x).astype(np.int64)
        return _Column(name, "bin", codes, miss, [0, 1] if obs.size else [0, 1])
    return _Column(name, "num", np.where(miss, np.nan, x), miss, [])


def _default_method(col: _Column) -> str:
    return {"num": "pmm", "bin": "logreg", "cat": "polyreg"}[col.kind]


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise DataValidationError(
            f"{FUNC}(): {name} must be an integer >= {low}; got {value!r}."
        )
    return int(value)


def _as_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise DataValidationError(
            f"{FUNC}(): {name} must be a column name or a list of column names; got "
            f"{value!r}."
        )
    return list(dict.fromkeys(value))


# ------------------------------------------------------------------------- public verb


def impute(
    data: pd.DataFrame,
    *,
    m: int = 20,
    columns: Sequence[str] | None = None,
    method: str | Mapping[str, str] | None = None,
    predictors: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    outcome: str | None = None,
    time: str | None = None,
    event: str | None = None,
    exclude: Sequence[str] | None = None,
    n_iter: int = 10,
    donors: int = 5,
    random_state: RandomState = None,
    n_jobs: int = 1,
    missing_indicator: bool = False,
) -> ImputedData:
    """Multiple imputation of missing values by chained equations (MICE, fully conditional).

    Each column with missing values is imputed in turn from a regression on the other
    variables, cycling ``n_iter`` times, in ``m`` independent chains (van Buuren &
    Groothuis-Oudshoorn 2011, *J Stat Softw* 45(3); the algorithm of R's ``mice``). The
    default method per column: predictive mean matching (``"pmm"``, type-1 matching among
    ``donors`` nearest observed predictions, as ``mice.impute.pmm``) for numeric columns,
    logistic regression (``"logreg"``) for binary ones and multinomial logistic regression
    (``"polyreg"``) for unordered categorical ones (ordered categoricals too: no
    proportional-odds model), each with its coefficients drawn from their (approximate)
    posterior, so the imputations are *proper* and Rubin's rules
    (:func:`with_imputations`) give valid variances. ``"norm"`` (Bayesian linear regression
    draws) is also available for numeric columns.

    The analysis outcome belongs in every imputation model (Moons et al. 2006): pass
    ``outcome=`` for a binary or continuous one (used as a predictor of every imputed
    column), or ``time=`` and ``event=`` for a survival outcome, which enters as the event
    indicator (one per cause if ``event`` has codes > 1) and the Nelson-Aalen cumulative
    hazard at the subject's exit time, ``H(T)``, instead of ``T`` itself (White & Royston
    2009, *Stat Med* 28:1982). The outcome columns must be complete.

    Assumption: the data are missing at random given the predictors.

    Parameters
    ----------
    data : pandas.DataFrame
        The cohort; it is not modified.
    m : int
        Number of imputations (default 20; White, Royston & Wood 2011 suggest at least the
        percentage of incomplete rows).
    columns : list of str, optional
        Columns to impute; default every column with missing values (except ``exclude``).
    method : str or dict, optional
        ``"pmm"``, ``"norm"``, ``"logreg"`` or ``"polyreg"`` for every imputed column, or a
        dict ``{column: method}``; default per column as above.
    predictors : list of str or dict, optional
        The predictors of every imputation model (a list) or per imputed column (a dict);
        default every other column (except ``exclude`` and ``time``). Imputed columns used
        as predictors enter with their current imputations. The outcome terms are always
        added.
    outcome, time, event : str, optional
        The analysis outcome (see above).
    exclude : list of str, optional
        Columns that are neither imputed nor used as predictors (identifiers, dates, text).
    n_iter : int
        Iterations of the chained equations per chain (default 10).
    donors : int
        Donors per missing value in predictive mean matching (default 5, as mice).
    random_state : int or numpy.random.Generator, optional
        Seed; the same seed gives the same imputations whatever ``n_jobs``.
    n_jobs : int
        Chains run in parallel through joblib.
    missing_indicator : bool
        Add a 0/1 column ``<column>_missing`` to every completed data set.

    Returns
    -------
    ImputedData
        The original frame and the ``m`` imputed values of each missing cell:
        ``complete(i)``, ``datasets()``, ``n_missing``, ``trace()`` / ``plot_trace()``,
        ``table1()``; pass it to :func:`with_imputations` to run an estimator on each
        completed data set and pool the results by Rubin's rules.

    Examples
    --------
    >>> import cohortlab as cl
    >>> d = cl.datasets.load_nhefs()[["qsmk", "sex", "age", "wt71", "smokeintensity",
    ...                                "wt82_71"]]
    >>> imp = cl.impute(d, m=5, outcome="qsmk", n_iter=5, random_state=1)
    >>> imp.n_missing.to_dict()
    {'wt82_71': 63}
    >>> imp.complete(1)["wt82_71"].isna().sum()
    np.int64(0)
    """
    data = check_frame(data, FUNC)
    m = _check_int(m, "m", 1)
    n_iter = _check_int(n_iter, "n_iter", 1)
    donors = _check_int(donors, "donors", 1)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise DataValidationError(f"{FUNC}(): n_jobs must be a non-zero integer; got {n_jobs!r}.")
    if data.columns.duplicated().any():
        dup = data.columns[data.columns.duplicated()].tolist()
        raise DataValidationError(
            f"{FUNC}(): duplicated column names {dup}; rename them before imputing."
        )
    check_columns(data, FUNC, outcome=outcome, time=time, event=event,
                  exclude=list(exclude) if exclude is not None else None)
    if (time is None) != (event is None):
        raise DataValidationError(
            f"{FUNC}(): a survival outcome needs both time= and event=; got time={time!r}, "
            f"event={event!r}."
        )
    excluded = set(_as_list(exclude, "exclude")) if exclude is not None else set()
    outcome_cols = [c for c in (outcome, time, event) if c]
    for c in outcome_cols:
        k = int(data[c].isna().sum())
        if k:
            raise DataValidationError(
                f"{FUNC}(): the outcome column {c!r} has {k:,} missing values; the outcome "
                "terms of the imputation models must be complete. Impute it as a column "
                "(columns=[...]) without outcome=/time=/event=, or restrict the cohort."
            )
    # which columns to impute
    if columns is None:
        targets = [c for c in data.columns if data[c].isna().any() and c not in excluded
                   and c not in outcome_cols]
    else:
        targets = _as_list(columns, "columns")
        check_columns(data, FUNC, columns=targets)
        clash = [c for c in targets if c in outcome_cols or c in excluded]
        if clash:
            raise DataValidationError(
                f"{FUNC}(): columns {clash} are outcome or excluded columns and cannot be "
                "imputed. Remove them from columns=."
            )
    # methods
    methods_in: dict[str, str] = {}
    if isinstance(method, str):
        methods_in = {c: method for c in targets}
    elif isinstance(method, Mapping):
        check_columns(data, FUNC, method=list(method))
        methods_in = dict(method)
    elif method is not None:
        raise DataValidationError(
            f"{FUNC}(): method must be a method name or a dict {{column: method}}; got "
            f"{method!r}."
        )
    allowed = get_args(ImputeMethod)
    for c, meth in methods_in.items():
        if meth not in allowed:
            raise DataValidationError(
                f"{FUNC}(): method for {c!r} must be one of {list(allowed)}; got {meth!r}."
            )
    # predictors
    base = [c for c in data.columns if c not in excluded and c not in outcome_cols]
    pred_map: dict[str, list[str]] = {}
    if predictors is None:
        pred_map = {t: [c for c in base if c != t] for t in targets}
    elif isinstance(predictors, Mapping):
        for t in predictors:
            if t not in targets:
                raise DataValidationError(
                    f"{FUNC}(): predictors names {t!r}, which is not imputed. "
                    f"{suggest(t, targets, 'Imputed columns:')}"
                )
        for t in targets:
            lst = _as_list(predictors.get(t, [c for c in base if c != t]), "predictors")
            check_columns(data, FUNC, predictors=lst)
            pred_map[t] = [c for c in lst if c != t and c not in outcome_cols]
    else:
        lst = _as_list(predictors, "predictors")
        check_columns(data, FUNC, predictors=lst)
        pred_map = {t: [c for c in lst if c != t and c not in outcome_cols] for t in targets}
    used = list(dict.fromkeys([*targets, *(c for t in targets for c in pred_map[t])]))
    incomplete = [c for c in used if c not in targets and data[c].isna().any()]
    if incomplete:
        counts = ", ".join(f"{c} ({int(data[c].isna().sum()):,})" for c in incomplete)
        raise DataValidationError(
            f"{FUNC}(): predictors with missing values that are not imputed: {counts}. Add "
            "them to columns= or leave them out of predictors=."
        )
    encoded = {c: _encode(data, c, "imputed" if c in targets else "predictor") for c in used}
    notes: list[str] = []
    for t in targets:
        col = encoded[t]
        n_obs = int((~col.missing).sum())
        if n_obs < 2:
            raise DataValidationError(
                f"{FUNC}(): column {t!r} has {n_obs} observed values; at least 2 are needed "
                "to impute it. Drop the column or leave it out (exclude=)."
            )
        if col.kind != "num" and len(np.unique(col.values[~col.missing])) < 2:
            raise DataValidationError(
                f"{FUNC}(): column {t!r} has a single observed level "
                f"({col.levels[int(col.values[~col.missing][0])]!r}); it cannot be modelled. "
                "Fill it by hand or leave it out (exclude=)."
            )
        meth = methods_in.get(t, _default_method(col))
        ok = {"num": ("pmm", "norm"), "bin": ("logreg", "pmm"), "cat": ("polyreg",)}[col.kind]
        if meth not in ok:
            raise DataValidationError(
                f"{FUNC}(): method {meth!r} does not fit column {t!r} ({_KIND[col.kind]}); "
                f"use one of {list(ok)}."
            )
        methods_in[t] = meth
        if isinstance(data[t].dtype, pd.CategoricalDtype) and data[t].cat.ordered:
            notes.append(f"{t!r} is an ordered categorical; imputed by multinomial logistic "
                         "regression (polyreg), ignoring the order")
    # the outcome terms
    n = len(data)
    extra_blocks: list[tuple[str, np.ndarray]] = []
    if outcome:
        oc = _encode(data, outcome, "outcome")
        if oc.kind == "cat":
            for j in range(1, len(oc.levels)):
                extra_blocks.append((f"{outcome}=={oc.levels[j]}", (oc.values == j) * 1.0))
        else:
            extra_blocks.append((outcome, oc.values.astype(float)))
    if time:
        from .._validation import check_time_event
        from ..exposures._imputation import nelson_aalen_at_exit

        t_arr, e_arr = check_time_event(data, time, event, FUNC,  # type: ignore[arg-type]
                                        competing=True)
        e_arr = np.asarray(e_arr, dtype=np.int64)
        causes = [int(c) for c in np.unique(e_arr) if c > 0]
        if len(causes) <= 1:
            extra_blocks.append((str(event), (e_arr > 0) * 1.0))
        else:
            extra_blocks += [(f"{event}=={c}", (e_arr == c) * 1.0) for c in causes]
        extra_blocks.append((f"H({time})", nelson_aalen_at_exit(t_arr, e_arr)))
    # the working matrix
    variables: list[VarSpec] = []
    index_of: dict[str, int] = {}
    cols_z: list[np.ndarray] = []
    p = 0
    for c in used:
        col = encoded[c]
        if col.kind == "num":
            obs = col.values[~col.missing]
            center = float(obs.mean())
            scale = float(obs.std()) or 1.0
            z = np.where(col.missing, 0.0, (col.values - center) / scale)
            cols_z.append(z[:, None])
            ncol = 1
        else:
            center, scale = 0.0, 1.0
            k = max(len(col.levels), 2)
            block = (col.values[:, None] == np.arange(1, k)[None, :]) * 1.0
            block[col.missing] = 0.0
            cols_z.append(block)
            ncol = k - 1
        index_of[c] = len(variables)
        variables.append(VarSpec(
            name=c, kind=col.kind, cols=tuple(range(p, p + ncol)), values=col.values,
            mis=np.flatnonzero(col.missing) if c in targets else np.empty(0, np.int64),
            method=methods_in.get(c) if c in targets else None, predictors=(),
            n_levels=max(len(col.levels), 2), center=center, scale=scale))
        p += ncol
    for name, arr in extra_blocks:
        index_of[name] = len(variables)
        sd = float(arr.std()) or 1.0
        cols_z.append(((arr - arr.mean()) / sd)[:, None])
        variables.append(VarSpec(name=name, kind="num", cols=(p,), values=arr,
                                 mis=np.empty(0, np.int64), method=None, predictors=()))
        p += 1
    Z0 = np.hstack(cols_z) if cols_z else np.empty((n, 0))
    extra_idx = tuple(index_of[nm] for nm, _ in extra_blocks)
    final_preds: dict[str, tuple[str, ...]] = {}
    target_idx = []
    for t in targets:
        idx = index_of[t]
        preds = tuple(index_of[c] for c in pred_map[t]) + extra_idx
        v = variables[idx]
        variables[idx] = VarSpec(
            name=v.name, kind=v.kind, cols=v.cols, values=v.values, mis=v.mis,
            method=v.method, predictors=preds, n_levels=v.n_levels, center=v.center,
            scale=v.scale)
        final_preds[t] = tuple(variables[j].name for j in preds)
        target_idx.append(idx)
    targets_run = [i for i in target_idx if variables[i].mis.size > 0]
    seeds = _seed_sequence(random_state, FUNC).spawn(m)
    if targets_run:
        batches = seed_batches(seeds, n_jobs)
        out = Parallel(n_jobs=n_jobs)(
            delayed(run_batch)(b, Z0, variables, targets_run, n_iter, donors, FUNC)
            for b in batches)
        chains = [r for batch in out for r in batch]
    else:
        chains = []
    imputations: dict[str, np.ndarray] = {}
    missing_rows: dict[str, np.ndarray] = {}
    tm = np.full((m, n_iter, len(targets)), np.nan)
    ts = np.full((m, n_iter, len(targets)), np.nan)
    for j, t in enumerate(targets):
        col, idx = encoded[t], index_of[t]
        missing_rows[t] = variables[idx].mis
        if idx not in targets_run:
            imputations[t] = np.empty((m, 0))
            continue
        r = targets_run.index(idx)
        vals = np.vstack([ch.imputed[r] for ch in chains])
        if col.kind != "num":
            labels = np.empty(len(col.levels), dtype=object)
            labels[:] = col.levels
            vals = labels[vals] if _is_labelled(data[t]) else np.asarray(col.levels)[vals]
        imputations[t] = vals
        tm[:, :, j] = np.stack([ch.trace_mean[:, r] for ch in chains])
        ts[:, :, j] = np.stack([ch.trace_sd[:, r] for ch in chains])
    unconv = sum(ch.n_unconverged for ch in chains)
    if unconv:
        notes.append(f"{unconv:,} multinomial imputation fits reached the iteration limit; "
                     "their last coefficients were used (check plot_trace())")
    if time:
        notes.append(f"survival outcome enters every model as {event!r} and the Nelson-Aalen "
                     f"cumulative hazard H({time}) (White & Royston 2009)")
    if outcome:
        notes.append(f"outcome {outcome!r} enters every imputation model")
    seed_txt = random_state if not isinstance(random_state, np.random.Generator) else "Generator"
    return ImputedData(
        data=data.copy(), imputations=imputations, missing_rows=missing_rows, m=m,
        methods={t: methods_in[t] for t in targets}, predictors=final_preds,
        trace_mean=tm, trace_sd=ts, n_iter=n_iter, donors=donors,
        missing_indicator=bool(missing_indicator), random_state=seed_txt, notes=tuple(notes))


def _is_labelled(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)
