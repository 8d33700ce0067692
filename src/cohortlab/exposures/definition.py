"""The definition of an exposure derived from a model score, and its array functions.

:class:`ExposureDefinition` holds an exposure's values and its definition (threshold, cut
points, mean and SD, knots) so that a report can state it and the same definition can be
applied, not refitted, to new data. The verbs that build one live in :mod:`.from_score`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from .._design import natural_spline
from .._typing import Missing
from .._validation import apply_missing, check_columns, check_frame, check_numeric
from ..exceptions import DataValidationError
from ..results.dropped import Dropped

__all__ = ["ExposureDefinition"]

ExposureKind: TypeAlias = Literal["threshold", "quantiles", "cutpoints", "per_sd", "spline"]
Operator: TypeAlias = Literal[">=", ">"]

_CATEGORICAL = ("quantiles", "cutpoints")
_QUANTILE_WORDS = {2: "halves", 3: "tertiles", 4: "quartiles", 5: "quintiles", 10: "deciles"}


# ------------------------------------------------------------------ the result object


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class ExposureDefinition:
    """An exposure derived from a score column, and the definition that produced it.

    Attributes
    ----------
    values : pandas.Series or pandas.DataFrame
        The exposure, indexed like the rows of the data it was computed on (rows dropped for
        a missing score are absent). A 0/1 ``int64`` Series (threshold), an ordered
        categorical Series (quantiles, cut points), a float Series (per SD) or a float
        DataFrame with one column per basis function (spline).
    kind : {"threshold", "quantiles", "cutpoints", "per_sd", "spline"}
    source : str
        The score column.
    name : str
        The exposure's column name (the prefix of the basis columns for a spline).
    parameters : Mapping[str, Any]
        Everything needed to recompute the exposure: threshold and operator, cut points and
        labels, mean and SD, knots. Read-only.
    reference : Any
        The reference level: 0 for a flag, a label for a categorical exposure, None otherwise.
    levels : tuple or None
        The levels of a flag (0, 1) or of a categorical exposure, in order.
    n_defining : int
        Rows from which the data-derived parameters (quantiles, mean, SD, knots) came.
    dropped : Dropped
        Rows dropped for a missing score (``missing="drop"``).
    missing : {"raise", "drop"}
        The missing-value policy, reused by :meth:`apply` and :meth:`assign`.
    notes : tuple of str
        Warnings and remarks (e.g. values outside the defining range on :meth:`apply`).

    Examples
    --------
    >>> from cohortlab.exposures import quantile_exposure
    >>> d = pd.DataFrame({"score": [0.2, 0.4, 0.6, 0.8]})
    >>> half = quantile_exposure(d, "score", q=2)
    >>> half.kind, half.levels, half.parameters["cutpoints"]
    ('quantiles', ('Q1 [0.2, 0.5)', 'Q2 [0.5, 0.8]'), [0.5])
    """

    values: pd.Series | pd.DataFrame
    kind: ExposureKind
    source: str
    name: str
    parameters: Mapping[str, Any]
    reference: Any = None
    levels: tuple[Any, ...] | None = None
    n_defining: int = 0
    dropped: Dropped = field(default_factory=Dropped)
    missing: Missing = "raise"
    notes: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        """The column name(s) :meth:`assign` adds."""
        if isinstance(self.values, pd.DataFrame):
            return [str(c) for c in self.values.columns]
        return [self.name]

    @property
    def n(self) -> int:
        """Rows with an exposure value."""
        return int(self.values.shape[0])

    def __repr__(self) -> str:
        return f"<ExposureDefinition {self.name!r} ({self.kind} of {self.source!r}, n={self.n})>"

    def describe(self) -> str:
        """One sentence stating the definition, for a methods section.

        Examples
        --------
        >>> from cohortlab.exposures import threshold_exposure
        >>> d = pd.DataFrame({"score": [0.1, 0.7, 0.4, 0.9]})
        >>> threshold_exposure(d, "score", threshold=0.5).describe()
        'Exposure: score >= 0.5 (flag), 2 of 4 (50.0%) exposed.'
        """
        text = _DESCRIBE[self.kind](self)
        if self.dropped:
            text += (f"; {_plural(self.dropped.n_rows, 'row')} with missing {self.source} "
                     "dropped")
        return text + "."

    def counts(self) -> pd.DataFrame:
        """Rows per level: columns ``level, label, n, percent, reference``.

        Only for a flag or a categorical exposure; a continuous one raises.

        Examples
        --------
        >>> from cohortlab.exposures import threshold_exposure
        >>> d = pd.DataFrame({"score": [0.1, 0.7, 0.4, 0.9]})
        >>> threshold_exposure(d, "score", threshold=0.5).counts()["n"].tolist()
        [2, 2]
        """
        if self.levels is None:
            raise DataValidationError(
                f"counts(): not defined for a continuous exposure in {self.name!r}; got "
                f"kind={self.kind!r}. Use describe(), or values.describe() for its spread."
            )
        if self.kind == "threshold":
            codes = self.values.to_numpy()
            labels = [f"{self.source} {_NEGATE[self.parameters['operator']]} "
                      f"{_fmt_user(self.parameters['threshold'])}",
                      f"{self.source} {self.parameters['operator']} "
                      f"{_fmt_user(self.parameters['threshold'])}"]
        else:
            codes = self.values.cat.codes.to_numpy()
            labels = list(self.levels)
        n = np.bincount(codes, minlength=len(self.levels))
        return pd.DataFrame({
            "level": list(self.levels), "label": labels, "n": n.astype(np.int64),
            "percent": 100.0 * n / max(int(n.sum()), 1),
            "reference": [lev == self.reference for lev in self.levels],
        })

    def apply(self, new_data: pd.DataFrame, *, missing: Missing | None = None
              ) -> ExposureDefinition:
        """The same definition applied to ``new_data``: nothing is re-estimated.

        Threshold, cut points, quantile edges, mean, SD and knots all come from this
        definition. Quantile bins are open-ended on new data (a value below the defining
        minimum falls in the first group, one above the maximum in the last) and the number
        of such values is recorded in ``notes``; a spline is linear beyond its boundary knots.

        Parameters
        ----------
        new_data : pandas.DataFrame
            Must hold the score column.
        missing : {"raise", "drop"}, optional
            Default: the policy of this definition.

        Returns
        -------
        ExposureDefinition

        Examples
        --------
        >>> from cohortlab.exposures import standardized_exposure
        >>> old = pd.DataFrame({"score": [1.0, 2.0, 3.0]})
        >>> z = standardized_exposure(old, "score")
        >>> z.apply(pd.DataFrame({"score": [4.0]})).values.tolist()
        [2.0]
        """
        func = "apply"
        missing = self.missing if missing is None else missing
        x, index, dropped = _score(new_data, self.source, missing, func)
        values, notes = _TRANSFORM[self.kind](x, self)
        return replace(self, values=_wrap(values, index, self), dropped=dropped, missing=missing,
                       notes=notes)

    def assign(self, data: pd.DataFrame, *, overwrite: bool = False) -> pd.DataFrame:
        """A copy of ``data`` with the exposure column(s) added; ``data`` is not changed.

        The definition is applied to ``data`` (see :meth:`apply`), so ``data`` may be the
        defining data or new data. With ``missing="drop"`` rows whose score is missing are
        kept and get a missing exposure (they are counted in ``dropped``); an estimator run
        on the result then sees them as missing.

        Parameters
        ----------
        data : pandas.DataFrame
        overwrite : bool, default False
            Replace existing columns of the same name(s) instead of raising.

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> from cohortlab.exposures import threshold_exposure
        >>> d = pd.DataFrame({"score": [0.1, 0.7]})
        >>> threshold_exposure(d, "score", threshold=0.5, name="high").assign(d)
           score  high
        0    0.1     0
        1    0.7     1
        """
        data = check_frame(data, "assign")
        clash = [c for c in self.columns if c in data.columns]
        if clash and not overwrite:
            raise DataValidationError(
                f"assign(): column {clash[0]!r} already exists in data; got columns "
                f"{list(data.columns)[:8]}. Pass name= when defining the exposure, or "
                "overwrite=True."
            )
        keep = data[self.source].notna().to_numpy()
        applied = self.apply(data)
        return data.assign(**_full_columns(applied, keep))



# -------------------------------------------------------------- array-only arithmetic


def _flag(x: np.ndarray, threshold: float, operator: str) -> np.ndarray:
    """0/1 flag of ``x >= threshold`` (or ``>``)."""
    hit = x >= threshold if operator == ">=" else x > threshold
    return hit.astype(np.int64)


def _quantile_edges(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Sample quantiles at ``probs`` (linear interpolation, R type 7)."""
    return np.quantile(x, probs)


def _bin_codes(x: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Left-closed bin index of each value: the number of cut points ``<= x``."""
    return np.searchsorted(cuts, x, side="right").astype(np.int64)


def _standardize(x: np.ndarray, mean: float, sd: float) -> np.ndarray:
    return (x - mean) / sd


# ----------------------------------------------------------------- validation helpers


def _score(data: Any, score: Any, missing: Any, func: str
           ) -> tuple[np.ndarray, pd.Index, Dropped]:
    """Validate the frame and score column; return the complete scores, their index, drops."""
    data = check_frame(data, func)
    check_columns(data, func, score=score)
    x = check_numeric(data, score, "score", func)
    _, dropped = apply_missing(data[[score]], [score], missing, func)
    keep = ~np.isnan(x)
    if keep.all():
        return x, data.index, dropped
    return x[keep], data.index[keep], dropped





def _wrap(arr: np.ndarray, index: pd.Index, d: ExposureDefinition) -> pd.Series | pd.DataFrame:
    """Label an array result: Series, categorical Series or basis DataFrame."""
    if d.kind in _CATEGORICAL:
        cat = pd.Categorical.from_codes(arr, dtype=pd.CategoricalDtype(d.levels, ordered=True))
        return pd.Series(cat, index=index, name=d.name)
    if arr.ndim == 2:
        cols = [f"{d.name}{j + 1}" for j in range(arr.shape[1])]
        return pd.DataFrame(arr, index=index, columns=cols)
    return pd.Series(arr, index=index, name=d.name)


def _full_columns(d: ExposureDefinition, keep: np.ndarray) -> dict[str, Any]:
    """Columns over all rows of the frame (missing where the score was missing)."""
    out: dict[str, Any] = {}
    frame = d.values.to_frame() if isinstance(d.values, pd.Series) else d.values
    for col in frame.columns:
        s = frame[col]
        if keep.all():
            out[str(col)] = s.to_numpy() if d.kind not in _CATEGORICAL else s.array
            continue
        if d.kind in _CATEGORICAL:
            codes = np.full(keep.size, -1, dtype=np.int64)
            codes[keep] = s.cat.codes.to_numpy()
            out[str(col)] = pd.Categorical.from_codes(codes, dtype=s.dtype)
        elif d.kind == "threshold":
            full = pd.array(np.zeros(keep.size, dtype=np.int64), dtype="Int64")
            full[keep] = s.to_numpy()
            full[~keep] = pd.NA
            out[str(col)] = full
        else:
            vals = np.full(keep.size, np.nan)
            vals[keep] = s.to_numpy()
            out[str(col)] = vals
    return out


def _transform_threshold(x: np.ndarray, d: ExposureDefinition) -> tuple[np.ndarray, tuple]:
    return _flag(x, d.parameters["threshold"], d.parameters["operator"]), ()


def _transform_bins(x: np.ndarray, d: ExposureDefinition) -> tuple[np.ndarray, tuple]:
    notes: tuple[str, ...] = ()
    if d.kind == "quantiles" and x.size:
        lo, hi = d.parameters["edges"][0], d.parameters["edges"][-1]
        below, above = int((x < lo).sum()), int((x > hi).sum())
        if below or above:
            notes = (f"{_plural(below, 'value')} below the defining minimum {_fmt_num(lo)} "
                     f"put in the first group and {above:,} above the defining maximum "
                     f"{_fmt_num(hi)} in the last.",)
    return _bin_codes(x, np.asarray(d.parameters["cutpoints"])), notes


def _transform_per_sd(x: np.ndarray, d: ExposureDefinition) -> tuple[np.ndarray, tuple]:
    return _standardize(x, d.parameters["mean"], d.parameters["sd"]), ()


def _transform_spline(x: np.ndarray, d: ExposureDefinition) -> tuple[np.ndarray, tuple]:
    p = d.parameters
    knots = np.r_[p["boundary_knots"][0], p["knots"], p["boundary_knots"][1]]
    return natural_spline(x, knots), ()


_TRANSFORM: dict[str, Callable[[np.ndarray, ExposureDefinition], tuple[np.ndarray, tuple]]] = {
    "threshold": _transform_threshold, "quantiles": _transform_bins,
    "cutpoints": _transform_bins, "per_sd": _transform_per_sd, "spline": _transform_spline,
}


# ----------------------------------------------------------------------------- text


_NEGATE = {">=": "<", ">": "<="}


def _describe_threshold(d: ExposureDefinition) -> str:
    p = d.parameters
    n1 = int(d.values.sum())
    pct = 100.0 * n1 / d.n if d.n else math.nan
    return (f"Exposure: {d.source} {p['operator']} {_fmt_user(p['threshold'])} (flag), "
            f"{n1:,} of {d.n:,} ({pct:.1f}%) exposed")


def _describe_quantiles(d: ExposureDefinition) -> str:
    p = d.parameters
    k = len(p["labels"])
    even = np.allclose(p["probabilities"], np.linspace(0, 1, k + 1))
    groups = (_QUANTILE_WORDS.get(k, f"{k} quantile groups") if even else
              f"{k} groups at the quantiles {_fmt_list(np.asarray(p['probabilities']))}")
    return (f"Exposure: {d.source} in {groups} (sample quantiles of {d.n_defining:,} rows; "
            f"cut points {', '.join(_fmt_num(c) for c in p['cutpoints'])}; groups closed on "
            f"the left, the top one on both ends), reference {d.reference}; n = {d.n:,}")


def _describe_cutpoints(d: ExposureDefinition) -> str:
    c = d.counts()
    per = "; ".join(f"{lab}: {n:,}" for lab, n in zip(c["label"], c["n"], strict=True))
    cuts = ", ".join(_fmt_user(v) for v in d.parameters["cutpoints"])
    return (f"Exposure: {d.source} in {len(d.levels or ())} categories at cut points {cuts} "
            f"(closed on the left; {per}), reference {d.reference}; n = {d.n:,}")


def _describe_per_sd(d: ExposureDefinition) -> str:
    p = d.parameters
    return (f"Exposure: {d.source} per 1 SD, i.e. ({d.source} - {_fmt_num(p['mean'], 4)}) / "
            f"{_fmt_num(p['sd'], 4)}, with the mean and SD (ddof=1) of {d.n_defining:,} rows; "
            f"n = {d.n:,}")


def _describe_spline(d: ExposureDefinition) -> str:
    p = d.parameters
    inner = ", ".join(_fmt_num(k) for k in p["knots"]) or "none"
    lo, hi = p["boundary_knots"]
    return (f"Exposure: natural cubic spline of {d.source} with {p['df']} degrees of freedom "
            f"(interior knots {inner}, boundary knots {_fmt_num(lo)} and {_fmt_num(hi)}, at "
            f"quantiles of {d.n_defining:,} rows; linear beyond the boundary knots); "
            f"n = {d.n:,}")


_DESCRIBE: dict[str, Callable[[ExposureDefinition], str]] = {
    "threshold": _describe_threshold, "quantiles": _describe_quantiles,
    "cutpoints": _describe_cutpoints, "per_sd": _describe_per_sd, "spline": _describe_spline,
}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _fmt_num(v: float, digits: int = 3) -> str:
    """A data-derived number with ``digits`` significant digits."""
    return f"{float(v):.{digits}g}"


def _fmt_user(v: float) -> str:
    """A number the analyst typed: shortest exact form (0.5, 25, 1e-06)."""
    return f"{float(v):.12g}"


def _fmt_list(v: np.ndarray) -> str:
    return "[" + ", ".join(_fmt_user(x) for x in np.asarray(v, dtype=float)) + "]"


def _fmt_data(v: np.ndarray) -> str:
    return "[" + ", ".join(_fmt_num(x, 4) for x in np.asarray(v, dtype=float)) + "]"


def _label_digits(edges: np.ndarray) -> int:
    """The fewest significant digits (>= 3) that keep the printed edges distinct."""
    for digits in range(3, 17):
        if len({_fmt_num(e, digits) for e in edges}) == edges.size:
            return digits
    return 17


def _q_repr(q: Any) -> str:
    return str(q) if isinstance(q, numbers.Integral) else _fmt_list(np.asarray(q, dtype=float))
