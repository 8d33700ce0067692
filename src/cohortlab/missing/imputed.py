"""``ImputedData``: the result of :func:`~cohortlab.missing.impute.impute`.

It keeps the original frame and only the imputed values (``m`` values per missing cell) and
builds each completed data set on demand; importable from :mod:`cohortlab.missing.impute`
and :mod:`cohortlab` as before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_frame, suggest
from ..exceptions import DataValidationError
from ..results._format import Renderable

__all__ = ["ImputedData"]


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
