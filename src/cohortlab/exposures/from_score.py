"""Exposures from a model's score, with their definition kept: threshold, bins, per SD, spline.

A model output column (a wearable's AF probability, a risk score) becomes an analysis exposure
through one small verb per kind of definition. Each returns an :class:`ExposureDefinition` that
holds the values *and* the definition (threshold, cut points, mean and SD, knots), so that a
report can state it (:meth:`ExposureDefinition.describe`) and the same definition can be
applied, not refitted, to new data (:meth:`ExposureDefinition.apply`).

The numbers happen in private array-only functions (``_flag``, ``_quantile_edges``,
``_bin_codes``, ``_standardize``, ``_natural_spline``); the public verbs validate and build the
result. Everything is vectorised (``np.quantile``, ``np.searchsorted``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from .._typing import Missing
from .._validation import apply_missing, check_columns, check_frame, check_numeric, check_option
from ..exceptions import CohortWarning, DataValidationError
from ..results.dropped import Dropped

__all__ = [
    "ExposureDefinition",
    "threshold_exposure",
    "quantile_exposure",
    "cutpoint_exposure",
    "standardized_exposure",
    "spline_basis",
]

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


# ------------------------------------------------------------------------ public verbs


def threshold_exposure(
    data: pd.DataFrame,
    score: str,
    *,
    threshold: float,
    operator: Operator = ">=",
    name: str | None = None,
    missing: Missing = "raise",
) -> ExposureDefinition:
    """A binary flag: 1 when ``score >= threshold`` (or ``>`` with ``operator=">"``), else 0.

    Not an estimator: no estimand and no variance. The threshold is fixed by the analyst, so
    nothing is estimated from the data; downstream estimators treat the flag as measured
    without error (see the misclassification tools for a model's known sensitivity and
    specificity).

    Parameters
    ----------
    data : pandas.DataFrame
    score : str
        Numeric score column.
    threshold : float
        Must split the score into two non-empty groups.
    operator : {">=", ">"}, default ">="
        Whether a score equal to the threshold is exposed (``">="``) or not (``">"``).
    name : str, optional
        Column name of the flag; default ``"<score>_flag"``.
    missing : {"raise", "drop"}, default "raise"
        Rows with a missing score raise, or are dropped and counted in ``dropped``.

    Returns
    -------
    ExposureDefinition
        ``values`` is a 0/1 ``int64`` Series; ``parameters`` holds ``threshold``,
        ``operator`` and the defining ``score_range``.

    Examples
    --------
    >>> import cohortlab as cl
    >>> d = cl.simulate_cohort(2000, random_state=1)
    >>> flag = threshold_exposure(d, "af_score", threshold=0.5)
    >>> bool((flag.values == d["af_flag"]).all())
    True
    >>> flag.describe()
    'Exposure: af_score >= 0.5 (flag), 206 of 2,000 (10.3%) exposed.'
    """
    func = "threshold_exposure"
    x, index, dropped = _score(data, score, missing, func)
    check_option(operator, Operator, "operator", func)
    t = _real(threshold, "threshold", func, "Pass the score value that defines exposure, e.g. "
              "threshold=0.5.")
    flag = _flag(x, t, operator)
    n1 = int(flag.sum())
    if n1 in (0, x.size):
        raise DataValidationError(
            f"{func}(): threshold={t:g} leaves a single level in column {score!r} (score); got "
            f"range [{_fmt_num(x.min())}, {_fmt_num(x.max())}] with {n1:,} of {x.size:,} rows "
            f"{operator} {t:g}. Choose a threshold inside the score's range."
        )
    params = {"threshold": t, "operator": operator,
              "score_range": (float(x.min()), float(x.max()))}
    return _build("threshold", flag, index, score, name or f"{score}_flag", params,
                  reference=0, levels=(0, 1), dropped=dropped, missing=missing, func=func)


def quantile_exposure(
    data: pd.DataFrame,
    score: str,
    *,
    q: int | Sequence[float] = 4,
    reference: Any = None,
    name: str | None = None,
    missing: Missing = "raise",
) -> ExposureDefinition:
    """Ordered groups cut at the score's sample quantiles (quartiles by default).

    The edges are ``np.quantile(score, probs)`` with linear interpolation (R's type 7, as
    ``pandas.qcut``). Groups are closed on the left and open on the right, ``[a, b)``, except
    the last, which is closed on both ends; a score equal to an inner edge therefore falls in
    the upper group. Labels read ``"Q1 [0.0123, 0.0457)"``. When ties make two edges equal
    the grouping is ambiguous and the function raises (as ``pandas.qcut`` with
    ``duplicates="raise"``); use fewer groups or :func:`cutpoint_exposure`.

    Not an estimator: no estimand and no variance. The edges are estimated from ``data`` but
    downstream estimators treat them as fixed, as is usual for quantile-based exposures.

    Parameters
    ----------
    data : pandas.DataFrame
    score : str
        Numeric score column.
    q : int or sequence of float, default 4
        Number of equal-probability groups (>= 2), or the probabilities of the edges,
        increasing from 0 to 1 (e.g. ``[0, 0.5, 0.9, 1]``).
    reference : optional
        The reference level: a label, or ``"Q<k>"``; default the lowest group.
    name : str, optional
        Column name; default ``"<score>_q<number of groups>"``.
    missing : {"raise", "drop"}, default "raise"

    Returns
    -------
    ExposureDefinition
        ``values`` is an ordered categorical Series; ``parameters`` holds ``probabilities``,
        ``edges`` (with the defining minimum and maximum), ``cutpoints`` (the inner edges)
        and ``labels``.

    Examples
    --------
    >>> d = pd.DataFrame({"score": np.arange(1.0, 9.0)})
    >>> quart = quantile_exposure(d, "score", q=4)
    >>> list(quart.levels)
    ['Q1 [1, 2.75)', 'Q2 [2.75, 4.5)', 'Q3 [4.5, 6.25)', 'Q4 [6.25, 8]']
    >>> quart.counts()["n"].tolist()
    [2, 2, 2, 2]
    """
    func = "quantile_exposure"
    x, index, dropped = _score(data, score, missing, func)
    probs = _probabilities(q, func)
    edges = _quantile_edges(x, probs)
    dup = np.flatnonzero(np.diff(edges) <= 0)
    if dup.size:
        raise DataValidationError(
            f"{func}(): q={_q_repr(q)} gives duplicate bin edges in column {score!r} (score); "
            f"got edges {_fmt_data(edges)} ({dup.size} of {edges.size - 1} groups would be "
            f"empty or ambiguous; the value {_fmt_num(edges[dup[0]])} is heavily tied). Use "
            "fewer groups, or cutpoint_exposure() with explicit cut points."
        )
    cuts = edges[1:-1]
    codes = _bin_codes(x, cuts)
    n_per = np.bincount(codes, minlength=probs.size - 1)
    digits = _label_digits(edges)
    labels = tuple(
        f"Q{k + 1} [{_fmt_num(edges[k], digits)}, {_fmt_num(edges[k + 1], digits)}"
        f"{']' if k == probs.size - 2 else ')'}" for k in range(probs.size - 1)
    )
    if (n_per == 0).any():
        raise DataValidationError(
            f"{func}(): q={_q_repr(q)} leaves empty groups in column {score!r} (score); got "
            f"{int((n_per == 0).sum())} empty of {n_per.size} ({x.size:,} rows). Use fewer "
            "groups."
        )
    ref = _reference(reference, labels, func, short=True)
    params = {"probabilities": probs.tolist(), "edges": edges.tolist(),
              "cutpoints": cuts.tolist(), "labels": labels, "closed": "left",
              "reference": ref}
    return _build("quantiles", codes, index, score, name or f"{score}_q{probs.size - 1}",
                  params, reference=ref, levels=labels, dropped=dropped, missing=missing, func=func)


def cutpoint_exposure(
    data: pd.DataFrame,
    score: str,
    *,
    cutpoints: Sequence[float],
    reference: Any = None,
    name: str | None = None,
    missing: Missing = "raise",
) -> ExposureDefinition:
    """Ordered categories at fixed (e.g. clinical) cut points.

    ``k`` cut points give ``k + 1`` categories, closed on the left: ``"< c1"``,
    ``"[c1, c2)"``, ..., ``">= ck"`` (a score equal to a cut point falls in the upper
    category, as with ``threshold_exposure(operator=">=")``). A category left empty by the
    data gives a :class:`~cohortlab.exceptions.CohortWarning`; all rows in one category raise.

    Not an estimator: no estimand and no variance; the cut points are fixed by the analyst.

    Parameters
    ----------
    data : pandas.DataFrame
    score : str
        Numeric score column.
    cutpoints : sequence of float
        Strictly increasing, finite.
    reference : optional
        The reference label; default the lowest category.
    name : str, optional
        Column name; default ``"<score>_cat"``.
    missing : {"raise", "drop"}, default "raise"

    Returns
    -------
    ExposureDefinition
        ``values`` is an ordered categorical Series; ``parameters`` holds ``cutpoints`` and
        ``labels``.

    Examples
    --------
    >>> d = pd.DataFrame({"bmi": [22.0, 25.0, 27.5, 31.0, 35.0]})
    >>> cat = cutpoint_exposure(d, "bmi", cutpoints=[25, 30])
    >>> cat.values.astype(str).tolist()
    ['< 25', '[25, 30)', '[25, 30)', '>= 30', '>= 30']
    """
    func = "cutpoint_exposure"
    x, index, dropped = _score(data, score, missing, func)
    cuts = _cutpoints(cutpoints, func)
    codes = _bin_codes(x, cuts)
    n_per = np.bincount(codes, minlength=cuts.size + 1)
    txt = [_fmt_user(c) for c in cuts]
    labels = (f"< {txt[0]}", *[f"[{a}, {b})" for a, b in zip(txt[:-1], txt[1:], strict=True)],
              f">= {txt[-1]}")
    if (n_per > 0).sum() < 2:
        raise DataValidationError(
            f"{func}(): cutpoints={_fmt_list(cuts)} leave a single level in column {score!r} "
            f"(score); got range [{_fmt_num(x.min())}, {_fmt_num(x.max())}] with all "
            f"{x.size:,} rows in {labels[int(np.argmax(n_per))]!r}. Choose cut points inside "
            "the score's range."
        )
    notes: tuple[str, ...] = ()
    if (n_per == 0).any():
        empty = [lab for lab, k in zip(labels, n_per, strict=True) if k == 0]
        msg = (f"{func}(): {len(empty)} categories of column {score!r} (score) are empty: "
               f"{empty}. They are kept as levels; models with this exposure cannot estimate "
               "their effect. Merge them or move the cut points.")
        warnings.warn(msg, CohortWarning, stacklevel=2)
        notes = (msg,)
    ref = _reference(reference, labels, func, short=False)
    params = {"cutpoints": cuts.tolist(), "labels": labels, "closed": "left", "reference": ref}
    return _build("cutpoints", codes, index, score, name or f"{score}_cat", params,
                  reference=ref, levels=labels, dropped=dropped, missing=missing, notes=notes,
                  func=func)


def standardized_exposure(
    data: pd.DataFrame,
    score: str,
    *,
    name: str | None = None,
    missing: Missing = "raise",
) -> ExposureDefinition:
    """The score per standard deviation: ``(score - mean) / sd``, with the mean and SD kept.

    The SD is the sample SD (``ddof=1``, as R's ``sd``). An effect per unit of this exposure
    is an effect per SD of the score in the defining data; :meth:`ExposureDefinition.apply`
    reuses that mean and SD on new data.

    Not an estimator: no estimand and no variance. The mean and SD are estimated from
    ``data`` but treated as fixed downstream (their sampling error is ignored, as usual).

    Parameters
    ----------
    data : pandas.DataFrame
    score : str
        Numeric score column; must not be constant.
    name : str, optional
        Column name; default ``"<score>_per_sd"``.
    missing : {"raise", "drop"}, default "raise"

    Returns
    -------
    ExposureDefinition
        ``values`` is a float Series; ``parameters`` holds ``mean``, ``sd`` and ``ddof``.

    Examples
    --------
    >>> d = pd.DataFrame({"score": [1.0, 2.0, 3.0]})
    >>> z = standardized_exposure(d, "score")
    >>> z.values.tolist(), z.parameters["sd"]
    ([-1.0, 0.0, 1.0], 1.0)
    """
    func = "standardized_exposure"
    x, index, dropped = _score(data, score, missing, func)
    mean = float(x.mean())
    sd = float(x.std(ddof=1)) if x.size > 1 else 0.0
    if not sd > 0:
        raise DataValidationError(
            f"{func}(): column {score!r} (score) is constant; got SD {sd:g} over {x.size:,} "
            "rows. A per-SD exposure needs a score that varies."
        )
    params = {"mean": mean, "sd": sd, "ddof": 1}
    return _build("per_sd", _standardize(x, mean, sd), index, score,
                  name or f"{score}_per_sd", params, dropped=dropped, missing=missing, func=func)


def spline_basis(
    data: pd.DataFrame,
    score: str,
    *,
    df: int = 4,
    name: str | None = None,
    missing: Missing = "raise",
) -> ExposureDefinition:
    """A natural cubic spline basis of the score, with its knots kept.

    Knots are placed as R's ``splines::ns(x, df=df)`` places them: boundary knots at the
    minimum and maximum, ``df - 1`` interior knots at the sample quantiles
    ``1/df, ..., (df-1)/df`` (linear interpolation). The basis spans the same functions as
    ``ns()`` (fitted values of a model with an intercept are identical) but is the truncated
    power form of Hastie, Tibshirani & Friedman (2009, eq. 5.4-5.5) on the score rescaled to
    [0, 1] between the boundary knots: ``u``, then ``d_k(u) - d_{K-1}(u)``. It is linear
    beyond the boundary knots. Put all ``df`` columns in a model with an intercept.

    Not an estimator: no estimand and no variance; the knots are estimated from ``data`` but
    treated as fixed downstream.

    Parameters
    ----------
    data : pandas.DataFrame
    score : str
        Numeric score column.
    df : int, default 4
        Number of basis columns (>= 1); ``df=1`` is linear.
    name : str, optional
        Prefix of the columns ``<name>1 .. <name><df>``; default ``"<score>_ns"``.
    missing : {"raise", "drop"}, default "raise"

    Returns
    -------
    ExposureDefinition
        ``values`` is a float DataFrame with ``df`` columns; ``parameters`` holds ``df``,
        ``knots`` (interior) and ``boundary_knots``.

    Examples
    --------
    >>> d = pd.DataFrame({"score": np.linspace(0.0, 1.0, 11)})
    >>> ns = spline_basis(d, "score", df=3)
    >>> ns.columns, [round(k, 4) for k in ns.parameters["knots"]]
    (['score_ns1', 'score_ns2', 'score_ns3'], [0.3333, 0.6667])
    """
    func = "spline_basis"
    x, index, dropped = _score(data, score, missing, func)
    if not (isinstance(df, numbers.Integral) and not isinstance(df, bool) and int(df) >= 1):
        raise DataValidationError(
            f"{func}(): df must be an int >= 1; got {df!r}. Pass e.g. df=4.")
    df = int(df)
    probs = np.linspace(0.0, 1.0, df + 1)
    knots = np.quantile(x, probs)
    if np.any(np.diff(knots) <= 0):
        raise DataValidationError(
            f"{func}(): df={df} gives duplicate knots in column {score!r} (score); got knots "
            f"{_fmt_data(knots)} ({np.unique(x).size:,} distinct values). Use a smaller df."
        )
    params = {"df": df, "knots": knots[1:-1].tolist(),
              "boundary_knots": (float(knots[0]), float(knots[-1])),
              "basis": "natural cubic spline, truncated power form on the rescaled score"}
    return _build("spline", _natural_spline(x, knots), index, score, name or f"{score}_ns",
                  params, dropped=dropped, missing=missing, func=func)


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


def _natural_spline(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Natural cubic spline basis (no intercept) with all ``knots`` (boundary ones included).

    Truncated power form (ESL eq. 5.4-5.5) on ``u = (x - k_1) / (k_K - k_1)``: the columns
    are ``u`` and ``d_k(u) - d_{K-1}(u)``, k = 1..K-2, with
    ``d_k(u) = ((u - u_k)_+^3 - (u - u_K)_+^3) / (u_K - u_k)``.
    """
    lo, hi = knots[0], knots[-1]
    u = (x - lo) / (hi - lo)
    uk = (knots - lo) / (hi - lo)
    if uk.size == 2:
        return u[:, None]
    pos = np.maximum(u[:, None] - uk[None, :], 0.0)
    cubes = pos * pos * pos
    d = (cubes[:, :-1] - cubes[:, -1:]) / (uk[-1] - uk[:-1])
    return np.column_stack([u, d[:, :-1] - d[:, -1:]])


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


def _real(value: Any, argument: str, func: str, hint: str) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)):
        raise DataValidationError(
            f"{func}(): {argument} must be a finite number; got {value!r}. {hint}")
    return float(value)


def _probabilities(q: Any, func: str) -> np.ndarray:
    if isinstance(q, numbers.Integral) and not isinstance(q, bool):
        if int(q) < 2:
            raise DataValidationError(
                f"{func}(): q must be an int >= 2 or a list of probabilities; got {q!r}. "
                "Pass e.g. q=4 for quartiles.")
        return np.linspace(0.0, 1.0, int(q) + 1)
    try:
        p = np.asarray(q, dtype=float)
    except (TypeError, ValueError):
        p = np.array([np.nan])
    if (p.ndim != 1 or p.size < 3 or not np.isfinite(p).all() or p[0] != 0.0 or p[-1] != 1.0
            or np.any(np.diff(p) <= 0)):
        raise DataValidationError(
            f"{func}(): q must be an int >= 2 or probabilities increasing from 0 to 1; got "
            f"{q!r}. Pass e.g. q=4 or q=[0, 0.5, 0.9, 1].")
    return p


def _cutpoints(cutpoints: Any, func: str) -> np.ndarray:
    if isinstance(cutpoints, str | bytes) or not isinstance(
        cutpoints, Sequence | np.ndarray | pd.Series
    ):
        cutpoints = [cutpoints]
    vals = list(cutpoints)
    if not vals or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                           and math.isfinite(float(v)) for v in vals):
        raise DataValidationError(
            f"{func}(): cutpoints must be a non-empty list of finite numbers; got "
            f"{cutpoints!r}. Pass e.g. cutpoints=[25, 30].")
    c = np.asarray(vals, dtype=float)
    dup = np.unique(c[np.r_[False, np.diff(np.sort(c)) == 0]])
    if dup.size:
        raise DataValidationError(
            f"{func}(): cutpoints have duplicates; got {_fmt_list(c)} ({_fmt_user(dup[0])} "
            f"repeated). Remove the duplicates, e.g. cutpoints={_fmt_list(np.unique(c))}.")
    if np.any(np.diff(c) < 0):
        raise DataValidationError(
            f"{func}(): cutpoints must be in increasing order; got {_fmt_list(c)}. Sort "
            f"them: cutpoints={_fmt_list(np.sort(c))}.")
    return c


def _reference(reference: Any, labels: tuple[str, ...], func: str, *, short: bool) -> str:
    if reference is None:
        return labels[0]
    if reference in labels:
        return str(reference)
    if short and isinstance(reference, str):
        match = [lab for lab in labels if lab.split(" ", 1)[0] == reference]
        if match:
            return match[0]
    hint = f" (or 'Q1'..'Q{len(labels)}')" if short else ""
    raise DataValidationError(
        f"{func}(): reference={reference!r} is not a level of the exposure; got levels "
        f"{list(labels)}. Pass one of them{hint}.")


# --------------------------------------------------------------------- building results


def _build(kind: str, arr: np.ndarray, index: pd.Index, source: str, name: Any,
           params: dict[str, Any], *, reference: Any = None,
           levels: tuple[Any, ...] | None = None, dropped: Dropped, missing: str,
           notes: tuple[str, ...] = (), func: str) -> ExposureDefinition:
    if not isinstance(name, str) or not name:
        raise DataValidationError(
            f"{func}(): name must be a non-empty string; got {name!r}. Pass e.g. "
            f"name={source + '_exposure'!r}.")
    proto = ExposureDefinition(
        values=pd.Series(dtype=float), kind=kind, source=source, name=name,  # type: ignore[arg-type]
        parameters=MappingProxyType(params), reference=reference, levels=levels,
        n_defining=int(arr.shape[0]), dropped=dropped, missing=missing,  # type: ignore[arg-type]
        notes=notes,
    )
    return replace(proto, values=_wrap(arr, index, proto))


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
    return _natural_spline(x, knots), ()


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
