"""Covariate sets as design matrices (formulaic), validated at the boundary.

``covariates`` is a list of column names or a right-hand-side formula string
(``"age + I(age**2) + C(race) + bs(bmi, 4)"``). Both become a formulaic model spec, so the
same transformation (spline knots, category levels) is re-applied to counterfactual copies
of the data (``Design.matrix(newdata)``), as g-formula standardisation needs.
"""

from __future__ import annotations

import ast
import keyword
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._validation import _fmt_values, check_columns, verb_name
from .exceptions import DataValidationError

__all__ = ["Design", "covariate_columns", "categorical_columns", "build_design", "gram_rank",
           "numeric_design", "quote_name", "check_text_covariates", "TEXT_MAX_LEVELS",
           "TEXT_MIN_ROWS_PER_LEVEL"]

_FUNCS = {"C", "I", "Q", "bs", "cr", "cc", "te", "poly", "scale", "center", "standardize",
          "lag", "hashed", "np", "log", "exp", "sqrt", "contr", "treatment", "sum", "helmert",
          "diff", "abs", "min", "max", "pow", "math", "True", "False", "None"}

#: A text covariate has "many levels" when it has more than ``TEXT_MAX_LEVELS`` distinct
#: values *and* fewer than ``TEXT_MIN_ROWS_PER_LEVEL`` rows per level on average: an
#: identifier, a free-text field or numbers stored as text, not a factor a model can estimate.
TEXT_MAX_LEVELS = 50
TEXT_MIN_ROWS_PER_LEVEL = 5


def _is_text(s: pd.Series) -> bool:
    """Object or string dtype (a pandas ``category`` column is not text: its levels are set)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return False
    return pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)


def check_text_covariates(data: pd.DataFrame, columns: Sequence[str],
                          func: str | None = None, *, declared: Iterable[str] = ()) -> None:
    """Refuse text covariates that cannot be meant as factors.

    A text (object or string dtype) column becomes one indicator per distinct value. Two
    cases are refused with the column, its number of distinct values and the fix:

    - every value parses as a number (``"61.7"``): numbers stored as text, which would enter
      the model as a factor with one level per value. Allowed when the column is ``declared``
      categorical (``C(col)`` in a formula, ``categorical=`` in table1);
    - many levels: more than :data:`TEXT_MAX_LEVELS` distinct values and fewer than
      :data:`TEXT_MIN_ROWS_PER_LEVEL` rows per level on average (an identifier or free text),
      declared or not.

    A pandas ``category`` column is never refused: its levels were chosen deliberately.
    """
    func = verb_name(func)
    declared = set(declared)
    for col in dict.fromkeys(columns):
        s = data[col]
        if not _is_text(s):
            continue
        levels = pd.unique(s.dropna())
        k, n = len(levels), int(s.notna().sum())
        if k == 0:
            continue
        lv = pd.Series(levels, dtype=object)
        numeric = not lv.map(lambda v: isinstance(v, bool)).any() and bool(
            pd.to_numeric(lv, errors="coerce").notna().all())
        many = k > TEXT_MAX_LEVELS and k * TEXT_MIN_ROWS_PER_LEVEL > n
        examples = _fmt_values(levels[:3])
        if numeric and col not in declared:
            raise DataValidationError(
                f"{func}(): column {col!r} is text (dtype {s.dtype}) but every value is a number "
                f"({k:,} distinct values, e.g. {examples}); it would enter the model as a factor "
                f"with {k:,} levels. Convert it with pd.to_numeric(data[{col!r}]) or, if it is "
                f"categorical, wrap it in C({col}) in the formula (or make it a category dtype: "
                f"data[{col!r}].astype('category'))."
            )
        if many:
            raise DataValidationError(
                f"{func}(): column {col!r} is text (dtype {s.dtype}) with {k:,} distinct values "
                f"in {n:,} rows (e.g. {examples}); as a factor that is {k - 1:,} indicator "
                f"columns with fewer than {TEXT_MIN_ROWS_PER_LEVEL} rows per level (more than "
                f"{TEXT_MAX_LEVELS} levels). If it holds numbers, convert it with "
                f"pd.to_numeric(data[{col!r}]); if it is an identifier, drop it from the "
                "covariates; if it is categorical, merge rare levels first."
            )



def _formula(covariates: str | Sequence[str], func: str) -> str:
    if isinstance(covariates, str):
        rhs = covariates.split("~", 1)[1] if "~" in covariates else covariates
        if not rhs.strip():
            raise DataValidationError(f"{func}(): covariates formula is empty; got {covariates!r}.")
        return rhs
    cols = list(covariates)
    if not cols:
        raise DataValidationError(
            f"{func}(): covariates is empty. Pass a list of columns or a formula such as "
            "\"age + sex\"; for an unadjusted contrast use crude_effect()."
        )
    for c in cols:
        if not isinstance(c, str):
            raise DataValidationError(f"{func}(): covariates must be column names; got {c!r}.")
    return " + ".join(quote_name(c) for c in cols)


def quote_name(name: str) -> str:
    """A column name as a formula term: bare if a Python identifier, else in backticks."""
    return name if name.isidentifier() and not keyword.iskeyword(name) else f"`{name}`"


def covariate_columns(covariates: str | Sequence[str], data: pd.DataFrame, func: str, *,
                      check_text: bool = True) -> list[str]:
    """The data columns a covariate list or formula uses, checked to exist.

    With ``check_text`` (the default) text columns that cannot be meant as factors are refused
    (:func:`check_text_covariates`): numbers stored as text unless the
    formula wraps the column in ``C()``, and identifier-like columns with many levels.
    """
    if not isinstance(covariates, str):
        cols = list(covariates)
        _formula(cols, func)
        check_columns(data, func, covariates=cols)
        if check_text:
            check_text_covariates(data, cols, func)
        return cols
    from formulaic import Formula

    rhs = _formula(covariates, func)
    try:
        terms = Formula(rhs)
    except Exception as exc:
        raise DataValidationError(
            f"{func}(): could not parse the covariates formula {rhs!r}; got {type(exc).__name__}: "
            f"{exc}."
        ) from exc
    names: list[str] = []
    for term in terms:
        for factor in term.factors:
            names += _names_in(str(factor.expr))
    found = [n for n in dict.fromkeys(names) if n in data.columns]
    unknown = [n for n in dict.fromkeys(names) if n not in data.columns and n not in _FUNCS]
    if unknown:
        check_columns(data, func, covariates=unknown)
    if check_text:
        check_text_covariates(data, found, func, declared=_wrapped_in_c(terms, data))
    return found


def _wrapped_in_c(terms: Any, data: pd.DataFrame) -> list[str]:
    """Data columns that a parsed formula wraps in ``C()``."""
    cats: list[str] = []
    for term in terms:
        for factor in term.factors:
            try:
                tree = ast.parse(str(factor.expr), mode="eval")
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id == "C" and node.args):
                    cats += [n for n in _names_in(ast.unparse(node.args[0]))
                             if n in data.columns]
    return cats


def categorical_columns(covariates: str | Sequence[str], data: pd.DataFrame) -> list[str]:
    """Columns used as categorical: wrapped in ``C()`` in a formula, or non-numeric."""
    cats: list[str] = []
    if isinstance(covariates, str):
        from formulaic import Formula

        cats += _wrapped_in_c(Formula(_formula(covariates, "categorical_columns")), data)
    cols = covariate_columns(covariates, data, "categorical_columns", check_text=False)
    cats += [c for c in cols if not pd.api.types.is_numeric_dtype(data[c])
             or pd.api.types.is_bool_dtype(data[c])]
    return list(dict.fromkeys(cats))


def _names_in(expr: str) -> list[str]:
    """Variable names in a factor expression (function and attribute names excluded)."""
    if expr.startswith("`") and expr.endswith("`"):
        return [expr[1:-1]]
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return [expr]
    funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    attrs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    return [n.id for n in ast.walk(tree)
            if isinstance(n, ast.Name) and id(n) not in funcs and id(n) not in attrs]


@dataclass(frozen=True, eq=False)
class Design:
    """A design matrix with its column names and the spec to rebuild it on new data."""

    X: np.ndarray
    names: tuple[str, ...]
    spec: Any
    formula: str
    drop_intercept: bool = False

    def matrix(self, data: pd.DataFrame) -> np.ndarray:
        """The design matrix of ``data`` with this design's transformations and levels."""
        X = np.asarray(self.spec.get_model_matrix(data, na_action="raise"), dtype=float)
        return X[:, 1:] if self.drop_intercept else X


def build_design(data: pd.DataFrame, covariates: str | Sequence[str], func: str, *,
                 intercept: bool = True, extra: str | None = None,
                 drop_intercept: bool = False) -> Design:
    """Build the design matrix of ``covariates`` (plus ``extra`` terms) on complete data.

    ``drop_intercept=True`` codes factors with a reference level as if there were an intercept
    and then drops the intercept column (R's ``model.matrix`` for Cox models, whose baseline
    hazard plays the intercept's role).

    Raises :class:`DataValidationError` when a column is constant or the matrix is rank
    deficient (naming the redundant columns).
    """
    from formulaic import model_matrix

    rhs = _formula(covariates, func)
    if extra:
        rhs = f"{extra} + {rhs}"
    rhs = rhs if intercept else f"0 + {rhs}"
    try:
        mm = model_matrix(rhs, data, na_action="raise")
    except Exception as exc:
        raise DataValidationError(
            f"{func}(): could not build the design matrix of {rhs!r}; got {type(exc).__name__}: "
            f"{exc}."
        ) from exc
    X = np.asarray(mm, dtype=float)
    names = tuple(str(c) for c in mm.columns)
    _check_finite(X, names, func)
    _check_rank(X, names, func)
    if drop_intercept:
        X, names = X[:, 1:], names[1:]
    return Design(X=X, names=names, spec=mm.model_spec, formula=rhs,
                  drop_intercept=drop_intercept)


def numeric_design(frame: pd.DataFrame, covariates: str | Sequence[str], *,
                   drop_intercept: bool = False) -> Design | None:
    """:func:`build_design` (with an intercept) for plain numeric columns, or None.

    A list of distinct identifier-named integer or float columns codes to themselves, so the
    matrix is one float64 copy of each column (F-ordered, after a column of ones unless
    ``drop_intercept``), and formulaic builds only the spec (for predictions on new data) on
    two rows. The checks of :func:`build_design` run on the full matrix: the column sums are
    finite (else some value is not) and the Gram matrix of ``[1, X]``, made from the column
    sums and ``X'X``, has full rank by :func:`gram_rank`. Anything else (a formula, factors,
    a failed check) returns None, and the caller's :func:`build_design` raises the error that
    names the columns.
    """
    if isinstance(covariates, str) or len(frame) < 2:
        return None
    cols = list(covariates)
    if len(set(cols)) != len(cols) or not all(
            isinstance(c, str) and c.isidentifier() and not keyword.iskeyword(c)
            and isinstance(frame[c], pd.Series) and isinstance(frame[c].dtype, np.dtype)
            and frame[c].dtype.kind in "iuf" for c in cols):
        return None
    from formulaic import model_matrix

    rhs = " + ".join(cols)
    try:
        mm = model_matrix(rhs, frame.iloc[:2], na_action="raise")
    except Exception:  # build_design reports it
        return None
    if [str(c) for c in mm.columns] != ["Intercept", *cols]:
        return None
    n, p, first = len(frame), len(cols), 0 if drop_intercept else 1
    Xt = np.empty((p + first, n))
    if first:
        Xt[0] = 1.0
    for k, c in enumerate(cols, start=first):  # one copy per column (frame[cols]: two)
        Xt[k] = frame[c].to_numpy()
    X = Xt.T
    Xc = X[:, first:]
    sums = Xc.sum(axis=0)
    if not np.isfinite(sums).all():
        return None
    gram = np.empty((p + 1, p + 1))
    gram[0, 0], gram[0, 1:], gram[1:, 0] = n, sums, sums
    gram[1:, 1:] = Xc.T @ Xc
    gram /= n
    if not np.isfinite(gram).all() or not (np.diag(gram) > 0).all():
        return None
    if gram_rank(gram)[0] < gram.shape[0]:
        return None
    names = tuple(cols) if drop_intercept else ("Intercept", *cols)
    return Design(X=X, names=names, spec=mm.model_spec, formula=rhs,
                  drop_intercept=drop_intercept)


def _check_finite(X: np.ndarray, names: Sequence[str], func: str) -> None:
    """Refuse +-inf in the design (a transformation such as ``I(np.log(x))`` at x = 0)."""
    bad = ~np.isfinite(X)
    if not bad.any():
        return
    counts = bad.sum(axis=0)
    shown = ", ".join(f"{n} ({int(c):,})" for n, c in zip(names, counts, strict=True) if c)
    raise DataValidationError(
        f"{func}(): the covariate design has non-finite (infinite) values in column(s) {shown}; "
        "a transformation in the formula produced them (e.g. log of 0). Change the "
        "transformation (np.log1p, or add an offset) or exclude those rows first."
    )


def gram_rank(gram: np.ndarray) -> tuple[int, np.ndarray]:
    """Numerical rank of a design from its Gram matrix ``X'X / n``, and the pivot order.

    Pivoted QR of the Gram matrix scaled to unit diagonal (a zero column keeps scale 1); a
    pivot counts when it exceeds ``max pivot * columns * 1e-10``. The columns past the rank
    in the pivot order are the redundant ones. :func:`_check_rank`'s rule, shared with the
    fast numeric designs that build the Gram matrix from column sums.
    """
    from scipy.linalg import qr

    scale = np.sqrt(np.diag(gram))
    scale = np.where(scale > 0, scale, 1.0)
    _, r, piv = qr(gram / np.outer(scale, scale), pivoting=True)
    diag = np.abs(np.diag(r))
    return int((diag > diag.max() * gram.shape[0] * 1e-10).sum()), piv


def _check_rank(X: np.ndarray, names: Sequence[str], func: str) -> None:
    span = X.max(axis=0) - X.min(axis=0)
    const = [n for n, s in zip(names, span, strict=True) if s == 0 and n != "Intercept"]
    if const:
        raise DataValidationError(
            f"{func}(): covariate column(s) {const} are constant in the analysed rows; "
            "they carry no information. Remove them from covariates."
        )
    rank, piv = gram_rank(X.T @ X / X.shape[0])
    if rank < X.shape[1]:
        bad = [names[i] for i in piv[rank:]]
        raise DataValidationError(
            f"{func}(): the covariate design is rank deficient ({rank} of {X.shape[1]} columns "
            f"independent); redundant: {bad}. Drop collinear covariates or merge sparse levels."
        )


# ---------------------------------------------------------------------- spline bases
def natural_spline(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Natural cubic spline basis (no intercept) with all ``knots`` (boundary ones included).

    Truncated power form (ESL eq. 5.4-5.5) on ``u = (x - k_1) / (k_K - k_1)``: the columns
    are ``u`` and ``d_k(u) - d_{K-1}(u)``, k = 1..K-2, with
    ``d_k(u) = ((u - u_k)_+^3 - (u - u_K)_+^3) / (u_K - u_k)``. Linear beyond the boundary
    knots. Shared by the exposure definitions (``spline_exposure``) and ``dose_response``.

    Examples
    --------
    >>> natural_spline(np.array([0.0, 0.5, 1.0]), np.array([0.0, 1.0])).tolist()
    [[0.0], [0.5], [1.0]]
    >>> natural_spline(np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0])).shape
    (3, 2)
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
