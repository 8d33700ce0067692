"""Exposures from a model's score, with their definition kept: threshold, bins, per SD, spline.

A model output column (a wearable's AF probability, a risk score) becomes an analysis exposure
through one small verb per kind of definition. Each returns an :class:`ExposureDefinition` that
holds the values *and* the definition (threshold, cut points, mean and SD, knots), so that a
report can state it (:meth:`ExposureDefinition.describe`) and the same definition can be
applied, not refitted, to new data (:meth:`ExposureDefinition.apply`).

The numbers happen in private array-only functions (``_flag``, ``_quantile_edges``,
``_bin_codes``, ``_standardize``, in :mod:`.definition` with the result class, and
:func:`cohortlab._design.natural_spline`); the public verbs validate and build the result.
Everything is vectorised (``np.quantile``, ``np.searchsorted``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from .._design import natural_spline
from .._typing import Missing
from .._validation import check_int, verb, verb_name
from ..exceptions import CohortWarning, DataValidationError
from ..results.dropped import Dropped
from .definition import (
    ExposureDefinition,
    Operator,
    _bin_codes,
    _flag,
    _fmt_data,
    _fmt_list,
    _fmt_num,
    _fmt_user,
    _label_digits,
    _q_repr,
    _quantile_edges,
    _score,
    _standardize,
    _wrap,
)

__all__ = [
    "ExposureDefinition",
    "threshold_exposure",
    "quantile_exposure",
    "cutpoint_exposure",
    "standardized_exposure",
    "spline_basis",
]


# ------------------------------------------------------------------------ public verbs


@verb
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
    func = verb_name()
    x, index, dropped = _score(data, score, missing, func)
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


@verb
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
    func = verb_name()
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


@verb
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
    func = verb_name()
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


@verb
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
    func = verb_name()
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


@verb
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
    func = verb_name()
    x, index, dropped = _score(data, score, missing, func)
    df = check_int(df, "df", 1, func, hint="Pass e.g. df=4.")
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
    return _build("spline", natural_spline(x, knots), index, score, name or f"{score}_ns",
                  params, dropped=dropped, missing=missing, func=func)



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
