"""Checks at the API boundary.

Each check raises a :class:`~cohortlab.exceptions.CohortError` subclass whose message follows
the template ``<function>(): <what is wrong> in <argument/column>; got <value>. <How to fix>.``
Validation happens once, in this order: frame, columns, dtypes, missing values, domain rules,
design problems (the last as warnings with counts).
"""

from __future__ import annotations

import contextvars
import difflib
import functools
import inspect
import numbers
import types
import typing
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import numpy as np
import pandas as pd

from .exceptions import DataValidationError, MissingDataError, ZeroTimeWarning
from .results.dropped import Dropped

__all__ = [
    "verb",
    "verb_name",
    "check_frame",
    "check_columns",
    "check_option",
    "check_conf_level",
    "check_truncate",
    "check_int",
    "check_estimator",
    "check_random_state",
    "apply_missing",
    "check_numeric",
    "check_binary",
    "check_weights",
    "check_time_event",
]


F = TypeVar("F", bound=Callable[..., Any])

#: The public verb the user called: set by the outermost :func:`verb` for the duration of a call.
_CURRENT_VERB: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "cohortlab_verb", default=None)


def verb_name(func: str | None = None) -> str:
    """The name error messages give: ``func`` if passed, else the verb being run.

    Outside any :func:`verb` call (a private function called directly) it is ``"cohortlab"``.
    """
    return func or _CURRENT_VERB.get() or "cohortlab"


def _literal_values(hint: Any) -> tuple[Any, ...] | None:
    """The allowed values of a ``Literal`` (or a union of Literals and None), else None."""
    origin = get_origin(hint)
    if origin is Literal:
        return get_args(hint)
    if origin is Union or origin is types.UnionType:
        values: list[Any] = []
        for arg in get_args(hint):
            sub = (None,) if arg is type(None) else _literal_values(arg)
            if sub is None:  # e.g. Literal["tuned"] | float: the verb checks it by hand
                return None
            values.extend(sub)
        return tuple(values)
    return None


def _is_allowed(value: Any, allowed: tuple[Any, ...]) -> bool:
    for a in allowed:
        if a is None or isinstance(a, bool) or isinstance(value, bool):
            if value is a:
                return True
        elif isinstance(value, type(a)) and value == a:
            return True
    return False


def _options_of(func: Callable[..., Any]) -> dict[str, tuple[Any, ...]]:
    """``{parameter: allowed values}`` for every ``Literal``-annotated parameter of ``func``."""
    out = {}
    for param, ann in getattr(func, "__annotations__", {}).items():
        # one parameter at a time: a hint that cannot be resolved (a string alias in a
        # union) is not an option and must not hide the others
        holder = types.SimpleNamespace(__annotations__={param: ann},
                                       __globals__=getattr(func, "__globals__", {}))
        try:
            hint = typing.get_type_hints(holder)[param]
        except Exception:  # noqa: BLE001 - not resolvable, hence not a Literal option
            continue
        allowed = _literal_values(hint)
        if allowed is not None and param != "return":
            out[param] = allowed
    return out


@typing.overload
def verb(func: F, *, name: str | None = None, hints: dict[str, str] | None = None) -> F: ...


@typing.overload
def verb(func: None = None, *, name: str | None = None,
         hints: dict[str, str] | None = None) -> Callable[[F], F]: ...


def verb(func: F | None = None, *, name: str | None = None,
         hints: dict[str, str] | None = None) -> Any:
    """Mark a public verb: name its errors and check its ``Literal``-typed options.

    The wrapped function (a) runs with its name (``name``, default: the function's) as the one
    :func:`verb_name` returns, so every check below it names the verb the user called (a verb
    run by another, e.g. a correction wrapper's estimator, keeps the outer name); (b) checks the arguments every verb shares, in this order: ``data: pd.DataFrame`` with
    :func:`check_frame`; each argument whose annotation is a ``Literal`` (or a union of
    Literals and ``None``) against the allowed values read from the type hints, raising
    :class:`~cohortlab.exceptions.DataValidationError` ``"<verb>(): <param> must be one of
    {...}; got <value>."``; ``conf_level: float`` with :func:`check_conf_level` (the verb
    receives it as a float); (c) keeps the function's ``__doc__``, ``__signature__`` and
    ``__wrapped__``, so help, docs and type checkers see the real signature. ``hints`` maps a
    parameter to a sentence added to its error (where to find an option this verb lacks).

    Examples
    --------
    >>> from typing import Literal
    >>> @verb
    ... def shout(word: str, *, case: Literal["upper", "lower"] = "upper") -> str:
    ...     return word.upper() if case == "upper" else word.lower()
    >>> shout("a", case="lower")
    'a'
    >>> shout("a", case="title")
    Traceback (most recent call last):
    ...
    cohortlab.exceptions.DataValidationError: shout(): case must be one of {"upper", "lower"}; got 'title'.
    """  # noqa: E501
    if func is None:
        return functools.partial(verb, name=name, hints=hints)
    verb_label = name or func.__name__
    signature = inspect.signature(func)
    options: dict[str, tuple[Any, ...]] | None = None

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal options
        if options is None:  # resolved at the first call: every alias is defined by then
            options = _options_of(func)
        outer = _CURRENT_VERB.get()  # a verb run by another (a wrapper's estimator) keeps
        token = _CURRENT_VERB.set(outer or verb_label)  # the name of the one the user called
        try:
            args, kwargs = _check_arguments(signature, options, args, kwargs,
                                            outer or verb_label, hints or {})
            return func(*args, **kwargs)
        finally:
            _CURRENT_VERB.reset(token)

    wrapper.__signature__ = signature  # type: ignore[attr-defined]
    wrapper.__cohortlab_verb__ = verb_label  # type: ignore[attr-defined]
    return wrapper


def _annotated(signature: inspect.Signature, name: str, *annotations: Any) -> bool:
    param = signature.parameters.get(name)
    return param is not None and any(param.annotation == a for a in annotations)


def _check_arguments(signature: inspect.Signature, options: dict[str, tuple[Any, ...]],
                     args: tuple[Any, ...], kwargs: dict[str, Any], func: str,
                     hints: dict[str, str]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``data`` (a non-empty DataFrame), the Literal options, then ``conf_level`` (a float)."""
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:  # the call itself raises the usual TypeError
        return args, kwargs
    given = bound.arguments
    if "data" in given and _annotated(signature, "data", "pd.DataFrame", pd.DataFrame):
        check_frame(given["data"], func)
    for param, allowed in options.items():
        if param in given and not _is_allowed(given[param], allowed):
            check_option(given[param], allowed, param, func, hint=hints.get(param, ""))
    if "conf_level" in given and _annotated(signature, "conf_level", "float", float):
        given["conf_level"] = check_conf_level(given["conf_level"], func)
    return bound.args, bound.kwargs


def _fmt_values(values: Iterable[Any], limit: int = 6) -> str:
    vals = list(values)
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in vals[:limit])
    return f"[{shown}{', ...' if len(vals) > limit else ''}]"


def check_frame(data: Any, func: str | None = None) -> pd.DataFrame:
    """Check that ``data`` is a non-empty DataFrame with unique column names."""
    func = verb_name(func)
    if not isinstance(data, pd.DataFrame):
        raise DataValidationError(
            f"{func}(): data must be a pandas DataFrame; got {type(data).__name__}. "
            "Convert it first, e.g. pd.DataFrame(data)."
        )
    if data.shape[0] == 0:
        raise DataValidationError(
            f"{func}(): data has no rows; got an empty DataFrame with {data.shape[1]} columns. "
            "Check the filters that produced it."
        )
    dup = data.columns[data.columns.duplicated()].unique().tolist()
    if dup:
        raise DataValidationError(
            f"{func}(): column names must be unique; got duplicates {_fmt_values(dup)}. "
            "Rename them first."
        )
    return data


def check_columns(
    data: pd.DataFrame, func: str | None = None, **roles: str | Sequence[str] | None
) -> None:
    """Check that every named column exists; suggest close matches for misspelt names.

    ``roles`` maps an argument name (``time``, ``covariates``, ...) to a column or a list of them.
    """
    func = verb_name(func)
    available = [str(c) for c in data.columns]
    for role, cols in roles.items():
        if cols is None:
            continue
        for col in [cols] if isinstance(cols, str) else list(cols):
            if not isinstance(col, str):
                raise DataValidationError(
                    f"{func}(): column names must be strings in {role}; got {col!r} "
                    f"({type(col).__name__}). Pass the column's name."
                )
            if col not in data.columns:
                hint = suggest(col, available, "Available columns")
                raise DataValidationError(f"{func}(): column {col!r} not found ({role}). {hint}")


def suggest(word: Any, choices: Sequence[Any], listing: str = "Expected one of") -> str:
    """``"Did you mean 'a' or 'b'?"`` for close matches of ``word``, else ``listing: ...``."""
    names = [str(c) for c in choices]
    close = difflib.get_close_matches(str(word), names, n=3, cutoff=0.6)
    if close:
        return f"Did you mean {' or '.join(repr(c) for c in close)}?"
    return f"{listing}: {_fmt_values(names, 10)}."


def check_option(value: Any, alias: Any, argument: str, func: str | None = None, *,
                 hint: str = "") -> Any:
    """Check ``value`` is one of the ``Literal`` alias' values (or of a tuple of values)."""
    allowed = alias if isinstance(alias, tuple) else _literal_values(alias) or get_args(alias)
    if not _is_allowed(value, allowed):
        shown = ", ".join(f'"{a}"' if isinstance(a, str) else repr(a) for a in allowed)
        strings = [a for a in allowed if isinstance(a, str)]
        if isinstance(value, str) and strings and not hint:
            close = difflib.get_close_matches(value, strings, n=3, cutoff=0.6)
            hint = f"Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise DataValidationError(
            f"{verb_name(func)}(): {argument} must be one of {{{shown}}}; got {value!r}."
            + (f" {hint}" if hint else ""))
    return value


def check_conf_level(conf_level: Any, func: str | None = None) -> float:
    """Check that ``conf_level`` is a float in (0, 1)."""
    func = verb_name(func)
    ok = isinstance(conf_level, numbers.Real) and not isinstance(conf_level, bool)
    if not ok or not 0.0 < float(conf_level) < 1.0:
        hint = ""
        if ok and 1.0 < float(conf_level) < 100.0:
            hint = f" Did you mean {float(conf_level) / 100:g}?"
        raise DataValidationError(
            f"{func}(): conf_level must be a float in (0, 1); got {conf_level!r}.{hint}"
        )
    return float(conf_level)


def check_truncate(truncate: Any, func: str | None = None) -> tuple[float, float] | None:
    """``truncate`` as ``(low, high)`` quantiles of the weights, ``0 <= low < high <= 1``.

    The one vocabulary of every weighting verb (``propensity_score``, ``ipw``,
    ``dose_response``, ``tv_weights``, ``msm``, ``strategy_curves``, ``sequential_trials``,
    ``clone_censor_weight``). None: no truncation. A pair that reads as percentiles (high
    above 1) is refused with the quantiles to write, never taken as tiny quantiles.

    Examples
    --------
    >>> check_truncate([0.01, 0.99], "msm")
    (0.01, 0.99)
    >>> check_truncate((1, 99), "msm")
    Traceback (most recent call last):
    ...
    cohortlab.exceptions.DataValidationError: msm(): truncate takes quantiles in [0, 1], \
not percentiles; got (1, 99). Write truncate=(0.01, 0.99).
    """
    if truncate is None:
        return None
    func = verb_name(func)
    hint = "Pass a (low, high) pair of quantiles of the weights, e.g. truncate=(0.01, 0.99)."
    try:
        if isinstance(truncate, str | bytes):
            raise TypeError
        lo, hi = (float(x) for x in truncate)
    except (TypeError, ValueError):
        raise DataValidationError(
            f"{func}(): truncate must be a (low, high) pair of quantiles; got {truncate!r}. "
            f"{hint}") from None
    if 0 <= lo < hi and 1 < hi <= 100:
        raise DataValidationError(
            f"{func}(): truncate takes quantiles in [0, 1], not percentiles; got {truncate!r}. "
            f"Write truncate=({lo / 100:g}, {hi / 100:g}).")
    if not 0 <= lo < hi <= 1:
        raise DataValidationError(
            f"{func}(): truncate quantiles must satisfy 0 <= low < high <= 1; got "
            f"{truncate!r}. {hint}")
    return lo, hi


def check_int(value: Any, name: str, low: int = 1, func: str | None = None, *,
              hint: str = "") -> int:
    """Return ``value`` as an int after checking it is an integer (not a bool) ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise DataValidationError(
            f"{verb_name(func)}(): {name} must be an int >= {low}; got {value!r}."
            + (f" {hint}" if hint else ""))
    return int(value)


def check_estimator(estimator: Any, example: str = "cl.ipw") -> dict[str, Any]:
    """The parameters of a verb passed as ``estimator=`` (key ``"**"``: takes any keyword)."""
    if not callable(estimator):
        raise DataValidationError(
            f"{verb_name()}(): estimator must be a cohortlab verb (a function); got "
            f"{type(estimator).__name__}. Pass e.g. {example} (not {example}(...)).")
    try:
        params: dict[str, Any] = dict(inspect.signature(estimator).parameters)
    except (TypeError, ValueError):
        return {"**": True}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        params["**"] = True
    return params


def check_random_state(random_state: Any, func: str | None = None) -> np.random.Generator:
    """Turn ``random_state`` (None, int or Generator) into a Generator; never global state."""
    func = verb_name(func)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or (
        isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)
        and int(random_state) >= 0
    ):
        return np.random.default_rng(None if random_state is None else int(random_state))
    raise DataValidationError(
        f"{func}(): random_state must be None, a non-negative int or a numpy Generator; "
        f"got {random_state!r}. Pass e.g. random_state=2024."
    )


def apply_missing(
    data: pd.DataFrame, columns: Sequence[str], missing: str, func: str | None = None
) -> tuple[pd.DataFrame, Dropped]:
    """Handle missing values in the analysis ``columns``.

    With ``missing="raise"`` any missing value raises :class:`MissingDataError` with counts per
    column; with ``missing="drop"`` the incomplete rows are removed (a new frame; the input is
    untouched) and counted per column in the returned :class:`Dropped`. Infinite values
    (``+-inf`` in a numeric column) are handled like missing values and counted with them; the
    error then is a :class:`DataValidationError` that gives the number of infinite values.
    """
    func = verb_name(func)
    from ._typing import Missing

    check_option(missing, Missing, "missing", func)
    cols = list(dict.fromkeys(columns))
    if not cols:
        return data, Dropped(n_rows=0, by_column={}, n_input=len(data))
    masks = {c: data[c].isna().to_numpy() for c in cols}  # column by column: no frame copy
    infs = {c: n for c in cols if (n := _n_infinite(data[c], masks[c]))}
    for c in infs:  # +-inf is as unusable as a missing value: same handling, counted apart
        masks[c] = masks[c] | _infinite_mask(data[c])
    by_column = {str(c): int(m.sum()) for c, m in masks.items() if m.any()}
    if not by_column:
        return data, Dropped(n_rows=0, by_column={}, n_input=len(data))
    any_na = np.logical_or.reduce([masks[c] for c in by_column])
    n_bad = int(any_na.sum())
    counts = ", ".join(f"{k} ({_count_bad(v, infs.get(k, 0))})" for k, v in by_column.items())
    what = "missing or infinite value" if infs else "missing value"
    error = DataValidationError if infs else MissingDataError
    inf_hint = (" Infinite values (e.g. log(0) or a division by 0 upstream) are treated as "
                "missing; fix them at the source, or set them to NaN with "
                "data.replace([np.inf, -np.inf], np.nan)." if infs else "")
    if n_bad == len(data):
        raise error(
            f"{func}(): every one of the {len(data):,} rows has a {what} in the analysis "
            f"columns: {counts}. Check these columns; nothing would be left to analyse."
            f"{inf_hint}"
        )
    if missing == "raise":
        raise error(
            f"{func}(): {n_bad:,} of {len(data):,} rows have {what}s in analysis "
            f"columns: {counts}. Impute first, or pass missing=\"drop\" for a complete-case "
            f"analysis (counts are recorded in result.dropped).{inf_hint}"
        )
    return data.loc[~any_na], Dropped(n_rows=n_bad, by_column=by_column, n_input=len(data))


def _count_bad(n: int, n_inf: int) -> str:
    if not n_inf:
        return f"{n:,}"
    return f"{n_inf:,} infinite" if n == n_inf else f"{n - n_inf:,} missing, {n_inf:,} infinite"


def _infinite_mask(s: pd.Series) -> np.ndarray:
    return np.isinf(s.to_numpy(dtype=float, na_value=np.nan))


def _n_infinite(s: pd.Series, na: np.ndarray) -> int:
    """Number of +-inf values in a float column (0 for any other dtype)."""
    if not pd.api.types.is_float_dtype(s.dtype) or na.all():
        return 0
    return int(_infinite_mask(s).sum())


def check_numeric(
    data: pd.DataFrame, column: str, role: str, func: str | None = None
) -> np.ndarray:
    """Return ``column`` as a finite float array or raise naming the column."""
    func = verb_name(func)
    s = data[column]
    if isinstance(s.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
    ):
        raise DataValidationError(
            f"{func}(): column {column!r} ({role}) must be numeric; got dtype {s.dtype} "
            f"(e.g. {_fmt_values(s.dropna().unique()[:3])}). Convert it, e.g. "
            f"pd.to_numeric(data[{column!r}])."
        )
    arr = s.to_numpy(dtype=float, na_value=np.nan)
    n_inf = int(np.isinf(arr).sum())
    if n_inf:
        raise DataValidationError(
            f"{func}(): column {column!r} ({role}) has {n_inf:,} infinite values. "
            "Replace them with finite values or missing values."
        )
    return arr


def check_binary(
    data: pd.DataFrame, column: str, role: str, func: str | None = None, *, reference: Any = None
) -> np.ndarray:
    """Return a binary column as an int array of 0/1.

    Accepts 0/1 numbers, booleans, or any two labels when ``reference`` names the label coded 0.
    """
    func = verb_name(func)
    s = data[column]
    # else NaN would be coded 1 (reference=) or cast to garbage ints
    _refuse_missing(int(s.isna().sum()), column, role, func,
                    'Handle them first (missing="drop") or recode them.')
    levels = pd.unique(s)
    if len(levels) != 2:
        plural = "s" if len(levels) != 1 else ""
        found = f"{len(levels)} distinct value{plural} {_fmt_values(sorted(levels, key=str))}"
        raise DataValidationError(
            f"{func}(): column {column!r} ({role}) must be binary (0/1 or bool); got {found}. "
            f"Recode it, e.g. data[{column!r}] = data[{column!r}].eq(1)."
        )
    if reference is not None:
        if reference not in set(levels.tolist()):
            raise DataValidationError(
                f"{func}(): reference={reference!r} is not a value of column {column!r} ({role}); "
                f"got values {_fmt_values(levels)}."
            )
        return (s != reference).to_numpy(dtype=int)
    if pd.api.types.is_bool_dtype(s) or set(levels.tolist()) <= {0, 1}:
        return s.astype(float).to_numpy().astype(int)
    raise DataValidationError(
        f"{func}(): column {column!r} ({role}) must be coded 0/1 or bool; got labels "
        f"{_fmt_values(levels)}. Pass reference=<the label of the comparison group>."
    )


def _refuse_missing(n_na: int, column: str, role: str, func: str, fix: str,
                    error: type[DataValidationError] = MissingDataError) -> None:
    if n_na:
        raise error(f"{func}(): column {column!r} ({role}) has {n_na:,} missing values. {fix}")


def _refuse_negative(x: np.ndarray, column: str, role: str, func: str, fix: str) -> None:
    n_neg = int((x < 0).sum())
    if n_neg:
        raise DataValidationError(
            f"{func}(): column {column!r} ({role}) has {n_neg:,} negative values "
            f"(min {np.nanmin(x):.4g}). {fix}")


def check_weights(data: pd.DataFrame, column: str, func: str | None = None) -> np.ndarray:
    """Return case weights as a float array: numeric, finite, non-negative, not all zero."""
    func = verb_name(func)
    w = check_numeric(data, column, "weights", func)
    _refuse_missing(int(np.isnan(w).sum()), column, "weights", func,
                    "Weights cannot be missing; drop those rows or set their weight to 0 "
                    "explicitly.", DataValidationError)
    _refuse_negative(w, column, "weights", func, "Weights must be >= 0.")
    if not (w > 0).any():
        raise DataValidationError(
            f"{func}(): column {column!r} (weights) is zero for every row. "
            "At least one row needs a positive weight."
        )
    return w


def check_time_event(
    data: pd.DataFrame,
    time: str,
    event: str,
    func: str | None = None,
    *,
    competing: bool = False,
    entry: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return follow-up times and integer event codes after checking their domain.

    Times must be finite and >= 0 (> entry time when ``entry`` is given). Events are 0/1 (or
    bool); with ``competing=True`` they are 0 (censored) and 1..K (causes).
    """
    func = verb_name(func)
    t = check_numeric(data, time, "time", func)
    for col, role in ((time, "time"), (event, "event")):
        _refuse_missing(int(data[col].isna().sum()), col, role, func,
                        'Pass missing="drop" for a complete-case analysis, or fix the '
                        "follow-up data.")
    _refuse_negative(t, time, "time", func,
                     "Follow-up time must be >= 0; check how time zero was defined.")
    e_raw = check_numeric(data, event, "event", func)
    if np.any(e_raw[~np.isnan(e_raw)] != np.round(e_raw[~np.isnan(e_raw)])):
        raise DataValidationError(
            f"{func}(): column {event!r} (event) must hold integer codes; got non-integer values. "
            "Code 0 for censored and 1 for the event (1..K for competing causes)."
        )
    codes = sorted(pd.unique(e_raw[~np.isnan(e_raw)]).astype(int).tolist())
    bad = [c for c in codes if c < 0 or (not competing and c > 1)]
    if bad:
        expect = "0 (censored) and 1..K (causes)" if competing else "0 (censored) and 1 (event)"
        hint = ("" if competing
                else " For competing risks use the competing-risks estimators with cause=.")
        raise DataValidationError(
            f"{func}(): column {event!r} (event) must be coded {expect}; "
            f"got codes {_fmt_values(codes)}.{hint}"
        )
    if entry is not None:
        t0 = check_numeric(data, entry, "entry", func)
        n_bad = int((t0 >= t).sum())
        if n_bad:
            raise DataValidationError(
                f"{func}(): {n_bad:,} rows have entry time {entry!r} >= exit time {time!r}. "
                "Each row's entry must come before its exit."
            )
    if entry is None:
        _warn_zero_times(t, e_raw, time, func)
    return t, e_raw.astype(int) if not np.isnan(e_raw).any() else e_raw


def _warn_zero_times(t: np.ndarray, e: np.ndarray, time: str, func: str) -> None:
    """Warn (naming the column and the counts) when rows have follow-up time 0."""
    zero = t == 0
    n_zero = int(zero.sum())
    if not n_zero:
        return
    n_ev = int((zero & (np.nan_to_num(e) > 0)).sum())
    warnings.warn(
        f"{func}(): column {time!r} (time) has {n_zero:,} rows with follow-up time 0 "
        f"({n_ev:,} of them events tied at time 0). They are kept, as R's survival does: they "
        "are at risk at time 0, and an event at 0 lowers the curve at time 0. Usually this "
        "means time zero was set after the event; check the cohort entry date, or drop these "
        "rows explicitly (cl.attrition records it).",
        ZeroTimeWarning,
        stacklevel=4,
    )
