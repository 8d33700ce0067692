"""The protocol's expression language: eligibility criteria and formulas, checked by parsing.

A protocol file may come from a collaborator, so nothing in it is run as Python code. An
eligibility criterion is parsed with :mod:`ast` and checked against a small grammar, then
evaluated by :func:`Expression.evaluate`, a walk over the checked tree that maps columns to
Series and operators to their pandas operations (no ``eval``). A formula is checked against
the same kind of allow-list before formulaic sees it.

Criterion grammar (see ``docs/explanation/security.md``):

- column names (``age``), or any name in backticks (```ph.ecog```);
- literals: numbers, strings, ``True``/``False``/``None``, lists and tuples of literals;
- comparisons ``== != < <= > >=`` (chained: ``18 <= age < 70``), ``in`` / ``not in`` a list;
- ``&`` ``|`` ``~`` (with the precedence of ``and`` ``or`` ``not``, as in
  :meth:`pandas.DataFrame.eval`), ``and`` ``or`` ``not``;
- arithmetic ``+ - * / // % **`` and unary ``-``;
- the methods ``notna() notnull() isna() isnull() isin([...]) between(a, b) abs()`` and
  ``str.startswith("x")`` / ``str.endswith("x")`` with literal arguments;
- the functions ``log log1p log2 log10 exp sqrt abs`` (also as ``np.log`` ...).
"""

from __future__ import annotations

import ast
import io
import operator
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from .sections import ProtocolError

__all__ = ["Expression", "check_criterion", "check_formula", "check_formulas",
           "METHODS", "STR_METHODS", "FUNCTIONS", "FORMULA_CALLS"]

#: Methods a criterion may call on a column (or on an expression of columns).
METHODS = ("notna", "notnull", "isna", "isnull", "isin", "between", "abs")
#: Methods of ``column.str`` a criterion may call.
STR_METHODS = ("startswith", "endswith")
#: The largest exponent a protocol expression may raise to (criteria and formulas).
MAX_EXPONENT = 10
#: Functions of one numeric argument (also ``np.<name>``).
FUNCTIONS = ("log", "log1p", "log2", "log10", "exp", "sqrt", "abs")
#: Keyword arguments each method takes (literal values only).
_METHOD_KEYWORDS = {"between": ("inclusive",)}
#: Calls a formula may make: formulaic's factor, quoting, spline and scaling transforms.
FORMULA_CALLS = ("C", "I", "Q", "bs", "cr", "cs", "cc", "poly", "center", "scale",
                 "standardize")
#: Formulaic's own math transforms, callable by bare name in a formula.
_FORMULA_MATH = ("log", "log2", "log10", "exp", "exp2", "exp10", "abs")
#: Contrast codings a ``C(column, ...)`` may name (or ``contr.<lower-case name>``).
_CONTRASTS = ("Treatment", "Sum", "Helmert", "Poly", "Diff")

_HINT = ("A protocol expression may use column names, literals, comparisons, & | ~, "
         "arithmetic and the methods notna(), isna(), isin([...]), between(a, b), abs() "
         "(see docs/explanation/security.md).")
_FORMULA_HINT = ("A protocol formula may use column names, + - : * / ** |, C(), I() over "
                 "arithmetic of columns and numbers, bs/cr/cs/cc/poly/center/scale/"
                 "standardize with literal arguments, log/log2/log10/exp/abs and np.log, "
                 "np.log1p, np.sqrt ... (see docs/explanation/security.md).")

_BINOPS: dict[type, Any] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow, ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
}
_CMPOPS: dict[type, Any] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: None, ast.NotIn: None,
}


# ----------------------------------------------------------------------------- tokens
def _quote_backticks(text: str, where: str) -> tuple[str, dict[str, str]]:
    """Replace ```name``` by placeholder identifiers (outside string literals)."""
    prefix = "_cl_q"
    while prefix in text:
        prefix += "_"
    out: list[str] = []
    names: dict[str, str] = {}
    i, quote = 0, ""
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            out.append(ch)
        elif ch == "`":
            end = text.find("`", i + 1)
            if end < 0 or end == i + 1:
                raise ProtocolError(where, "has an unclosed or empty `name` quote.",
                                    "Quote a column name as `name`.")
            placeholder = f"{prefix}{len(names)}"
            names[placeholder] = text[i + 1:end]
            out.append(f" {placeholder} ")
            i = end
        else:
            out.append(ch)
        i += 1
    return "".join(out), names


def _prepare(text: str, where: str, *, formula: bool) -> tuple[list[str], dict[str, str]]:
    """Tokenize; return the Python source of each part (split at ``~`` in formulas)."""
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").strip()
    if not text:
        raise ProtocolError(where, "is empty.", "Write an expression, e.g. 'age >= 18'.")
    text, names = _quote_backticks(text, where)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise ProtocolError(where, f"could not be read ({exc.args[0]}).", _hint(formula)
                            ) from None
    parts: list[list[tuple[int, str]]] = [[]]
    depth = 0
    for tok in tokens:
        kind, s = tok.type, tok.string
        if kind in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT,
                    tokenize.DEDENT, tokenize.COMMENT):
            if kind == tokenize.COMMENT:
                _refuse(where, s, "a comment", formula)
            continue
        if kind == tokenize.ERRORTOKEN and not s.isspace():
            _refuse(where, s, "a character outside the language", formula)
        if kind == tokenize.OP:
            depth += s in "([{"
            depth -= s in ")]}"
            if s.startswith("@"):
                _refuse(where, s, "local variables (@name) are not part of the language",
                        formula)
            if s == ";" or s.endswith("=") and s not in ("==", "!=", "<=", ">=", "="):
                _refuse(where, s, "assignment", formula)
            if formula:
                if s == ":":
                    s = "@"
                elif s == "~" and depth == 0:
                    parts.append([])
                    continue
            elif s == "&":
                kind, s = tokenize.NAME, "and"
            elif s == "|":
                kind, s = tokenize.NAME, "or"
        if kind == tokenize.ERRORTOKEN:
            continue
        parts[-1].append((kind, s))
    sources = [tokenize.untokenize(p).strip() for p in parts if p]
    if not sources:
        raise ProtocolError(where, "is empty.", _hint(formula))
    return sources, names


def _hint(formula: bool) -> str:
    return _FORMULA_HINT if formula else _HINT


def _refuse(where: str, token: str, why: str, formula: bool) -> NoReturn:
    token = token if len(token) <= 60 else token[:57] + "..."
    raise ProtocolError(where, f"{token!r} is not allowed ({why}).", _hint(formula))


def _parse(source: str, where: str, formula: bool) -> ast.Expression:
    try:
        return ast.parse(source, mode="eval")
    except SyntaxError as exc:
        near = ""
        if exc.offset and exc.text:
            snippet = exc.text[max(exc.offset - 1, 0):][:20].strip()
            near = f" near {(snippet.replace('@', ':') if formula else snippet)!r}"
        raise ProtocolError(where, f"could not be parsed ({exc.msg}{near}).", _hint(formula)
                            ) from None


# ----------------------------------------------------------------------------- checking
class _Checker:
    """Walk a parsed expression; refuse every node outside the allow-list."""

    def __init__(self, where: str, formula: bool) -> None:
        self.where, self.formula = where, formula
        self.columns: list[str] = []

    def refuse(self, node: ast.AST, why: str) -> NoReturn:
        _refuse(self.where, _token(node), why, self.formula)

    # -- literals
    def literal(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool | int | float | str) or node.value is None:
                return
            self.refuse(node, "only numbers, strings, True, False and None are literals")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            if isinstance(node.operand, ast.Constant) and isinstance(
                    node.operand.value, int | float) and not isinstance(node.operand.value, bool):
                return
        if isinstance(node, ast.List | ast.Tuple):
            for elt in node.elts:
                if isinstance(elt, ast.List | ast.Tuple):
                    self.refuse(elt, "lists hold plain literals")
                self.literal(elt)
            return
        self.refuse(node, "only a literal (number, string, list of literals) is allowed here")

    def name(self, node: ast.Name) -> None:
        if node.id.startswith("__") or node.id == "np":
            self.refuse(node, "reserved name")
        self.columns.append(node.id)

    # -- criteria and the inside of I() and spline calls
    def code(self, node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            self.name(node)
        elif isinstance(node, ast.Constant | ast.List | ast.Tuple):
            self.literal(node)
        elif isinstance(node, ast.BoolOp):
            for v in node.values:
                self.code(v)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.Not | ast.Invert | ast.USub | ast.UAdd):
                self.refuse(node, "unsupported operator")
            self.code(node.operand)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                self.refuse(node, "unsupported operator")
            self.exponent(node)
            self.code(node.left)
            self.code(node.right)
        elif isinstance(node, ast.Compare):
            self.compare(node)
        elif isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, ast.Attribute):
            self.refuse(node, "attribute access; only the listed methods may be called")
        else:
            self.refuse(node, _kind(node))

    def compare(self, node: ast.Compare) -> None:
        self.code(node.left)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _CMPOPS:
                self.refuse(node, "unsupported comparison (use == or !=)")
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, ast.List | ast.Tuple):
                    self.refuse(right, "'in' needs a list of literals")
                self.literal(right)
            else:
                self.code(right)

    def call(self, node: ast.Call) -> None:
        func = node.func
        if _function_name(func) in FUNCTIONS:
            if len(node.args) != 1 or node.keywords:
                self.refuse(node, "a function of one argument")
            self.code(node.args[0])
            return
        if isinstance(func, ast.Attribute):
            receiver, method = func.value, func.attr
            if (method in STR_METHODS and isinstance(receiver, ast.Attribute)
                    and receiver.attr == "str"):
                self.code(receiver.value)
            elif method in METHODS:
                self.code(receiver)
            else:
                self.refuse(func, f"method .{method}() is not in the allow-list "
                            f"({', '.join(METHODS)}, str.{'/'.join(STR_METHODS)})")
            allowed = _METHOD_KEYWORDS.get(method, ())
            for arg in node.args:
                self.literal(arg)
            for kw in node.keywords:
                if kw.arg not in allowed:
                    self.refuse(node, f"keyword {kw.arg}= is not allowed")
                self.literal(kw.value)
            return
        self.refuse(func, "only the listed methods and functions may be called")

    def exponent(self, node: ast.BinOp) -> None:
        """Refuse a power whose exponent is not a number in [-MAX_EXPONENT, MAX_EXPONENT].

        ``9**9**9`` would keep Python busy for hours: a protocol must not hang a run.
        """
        if not isinstance(node.op, ast.Pow):
            return
        e = node.right
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub | ast.UAdd):
            e = e.operand
        if not (isinstance(e, ast.Constant) and isinstance(e.value, int | float)
                and not isinstance(e.value, bool) and abs(e.value) <= MAX_EXPONENT):
            self.refuse(node.right, f"a power's exponent must be a number between "
                                    f"-{MAX_EXPONENT} and {MAX_EXPONENT}")

    # -- formulas
    def term(self, node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            self.name(node)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float) or isinstance(node.value, bool):
                self.refuse(node, "a formula term is a column, a number or a call")
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Pow
                              | ast.MatMult | ast.BitOr):
                self.refuse(node, "unsupported formula operator")
            self.exponent(node)
            self.term(node.left)
            self.term(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            self.term(node.operand)
        elif isinstance(node, ast.Call):
            self.formula_call(node)
        elif isinstance(node, ast.Set):
            self.refuse(node, "{...} Python code in a formula; write I(...)")
        elif isinstance(node, ast.Attribute):
            self.refuse(node, "attribute access")
        else:
            self.refuse(node, _kind(node))

    def formula_call(self, node: ast.Call) -> None:
        name = _function_name(node.func)
        if name in FUNCTIONS and isinstance(node.func, ast.Attribute) or name in _FORMULA_MATH:
            if len(node.args) != 1 or node.keywords:
                self.refuse(node, "a function of one argument")
            self.code(node.args[0])
            return
        if not isinstance(node.func, ast.Name) or name not in FORMULA_CALLS:
            self.refuse(node.func, "only C(), I(), Q(), bs/cr/cs/cc/poly/center/scale/"
                        "standardize, log/log2/log10/exp/abs and np.<function> may be called")
        if not node.args:
            self.refuse(node, f"{name}() needs an argument")
        first, rest = node.args[0], node.args[1:]
        if name == "Q":
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)) or rest \
                    or node.keywords:
                self.refuse(node, "Q() takes one column name in quotes")
            self.columns.append(first.value)
            return
        if name == "I":
            if rest or node.keywords:
                self.refuse(node, "I() takes one expression")
            self.code(first)
            return
        if name == "C":
            self.term(first)
            for arg in rest:
                self.contrast(arg)
        else:
            self.code(first)
            for arg in rest:
                self.literal(arg)
        for kw in node.keywords:
            if kw.arg is None:
                self.refuse(node, "** arguments")
            if name == "C" and kw.arg == "contr":
                self.contrast(kw.value)
            else:
                self.literal(kw.value)

    def contrast(self, node: ast.AST) -> None:
        target = node.func if isinstance(node, ast.Call) else node
        ok = (isinstance(target, ast.Name) and target.id in _CONTRASTS) or (
            isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
            and target.value.id == "contr"
            and target.attr in [c.lower() for c in _CONTRASTS] + ["treatment"])
        if not ok:
            self.literal(node)
            return
        if isinstance(node, ast.Call):
            for arg in node.args:
                self.literal(arg)
            for kw in node.keywords:
                if kw.arg is None:
                    self.refuse(node, "** arguments")
                self.literal(kw.value)


def _function_name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id == "np" and func.attr in FUNCTIONS):
        return func.attr
    return None


def _token(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return "." + node.attr
    if isinstance(node, ast.Call):
        return _token(node.func) + "(...)"
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every parsed node
        return type(node).__name__


def _kind(node: ast.AST) -> str:
    return {
        "Subscript": "subscripts", "Lambda": "lambdas", "JoinedStr": "f-strings",
        "ListComp": "comprehensions", "SetComp": "comprehensions",
        "DictComp": "comprehensions", "GeneratorExp": "comprehensions", "Dict": "dicts",
        "Set": "sets", "IfExp": "if-else expressions", "NamedExpr": "assignment",
        "Starred": "* unpacking", "Await": "await", "Yield": "yield", "Slice": "slices",
    }.get(type(node).__name__, f"{type(node).__name__} is not part of the language")


# ----------------------------------------------------------------------------- criteria
@dataclass(frozen=True)
class Expression:
    """A checked eligibility criterion, evaluated without ``eval``.

    Attributes
    ----------
    text : str
        The criterion as written.
    where : str
        Its field path (``eligibility[0].keep``).
    columns : tuple of str
        The columns it names.
    """

    text: str
    where: str
    tree: ast.Expression = field(repr=False)
    names: Mapping[str, str] = field(default_factory=dict, repr=False)
    columns: tuple[str, ...] = ()

    def evaluate(self, frame: pd.DataFrame) -> Any:
        """The criterion's value on ``frame`` (a boolean Series for a valid criterion)."""
        return _Evaluator(frame, self.names).run(self.tree.body)


def check_criterion(text: str, where: str) -> Expression:
    """Parse and check an eligibility criterion.

    Raises
    ------
    ProtocolError
        Naming ``where`` and the first construct outside the language.

    Examples
    --------
    >>> check_criterion("wt82.notna() & (age >= 18)", "eligibility[0].keep").columns
    ('wt82', 'age')
    """
    sources, names = _prepare(text, where, formula=False)
    tree = _parse(sources[0], where, False)
    checker = _Checker(where, formula=False)
    checker.code(tree.body)
    cols = tuple(dict.fromkeys(names.get(c, c) for c in checker.columns))
    return Expression(text=text, where=where, tree=tree, names=names, columns=cols)


class _Evaluator:
    """Evaluate a checked criterion tree: columns → Series, operators → pandas operations."""

    def __init__(self, frame: pd.DataFrame, names: Mapping[str, str]) -> None:
        self.frame, self.names = frame, names

    def run(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            return self.frame[self.names.get(node.id, node.id)]
        if isinstance(node, ast.Constant | ast.List | ast.Tuple):
            return ast.literal_eval(node)
        if isinstance(node, ast.UnaryOp):
            value = self.run(node.operand)
            if isinstance(node.op, ast.Not | ast.Invert):
                return (not value) if isinstance(value, bool) else ~value
            return -value if isinstance(node.op, ast.USub) else +value
        if isinstance(node, ast.BoolOp):
            values = [self.run(v) for v in node.values]
            op = operator.and_ if isinstance(node.op, ast.And) else operator.or_
            out = values[0]
            for v in values[1:]:
                out = op(out, v)
            return out
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](self.run(node.left), self.run(node.right))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise TypeError(f"unexpected {type(node).__name__}")  # pragma: no cover (checked)

    def compare(self, node: ast.Compare) -> Any:
        left, out = self.run(node.left), None
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.run(right_node)
            if isinstance(op, ast.In | ast.NotIn) or (
                    isinstance(op, ast.Eq | ast.NotEq) and isinstance(right, list | tuple)):
                hit = left.isin(list(right)) if isinstance(left, pd.Series) else np.isin(
                    left, list(right))
                value = ~hit if isinstance(op, ast.NotIn | ast.NotEq) else hit
            else:
                value = _CMPOPS[type(op)](left, right)
            out = value if out is None else out & value
            left = right
        return out

    def call(self, node: ast.Call) -> Any:
        func = node.func
        name = _function_name(func)
        if name in FUNCTIONS:
            value = self.run(node.args[0])
            return np.abs(value) if name == "abs" else getattr(np, name)(value)
        assert isinstance(func, ast.Attribute)
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
        if func.attr in STR_METHODS:
            receiver = self.run(func.value.value)  # type: ignore[attr-defined]
            return getattr(receiver.str, func.attr)(*args, **kwargs)
        receiver = self.run(func.value)
        if func.attr == "isin" and len(args) == 1 and not isinstance(args[0], list | tuple):
            args = [[args[0]]]
        return getattr(receiver, func.attr)(*args, **kwargs)


# ----------------------------------------------------------------------------- formulas
def check_formula(text: str, where: str) -> list[str]:
    """Check a formula (a covariate set's right-hand side) before formulaic evaluates it.

    Returns the names it uses as columns.

    Raises
    ------
    ProtocolError
        Naming ``where`` and the first construct outside the allow-list.

    Examples
    --------
    >>> check_formula("age + I(age**2) + C(education) + bs(bmi, df=3) + qsmk:ps", "covariates")
    ['age', 'education', 'bmi', 'qsmk', 'ps']
    """
    sources, names = _prepare(text, where, formula=True)
    checker = _Checker(where, formula=True)
    for source in sources:
        checker.term(_parse(source, where, True).body)
    return list(dict.fromkeys(names.get(c, c) for c in checker.columns))


def check_formulas(value: Any, where: str) -> None:
    """Check every formula string in an analysis option value (nested tables included).

    A string under a key ending in ``covariates`` is a formula; a list holds column names,
    which are data (quoted in backticks when they reach a formula) and so may not contain a
    backtick.
    """
    if isinstance(value, str):
        check_formula(value, where)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if not isinstance(item, str) or "`" in item:
                raise ProtocolError(f"{where}[{i}]", f"must be a column name without "
                                    f"backticks; got {item!r}.", 'Write e.g. ["age", "sex"].')
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if str(key).endswith("covariates"):
                check_formulas(item, f"{where}.{key}")
