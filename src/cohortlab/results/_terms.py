"""Formula terms as readable text: the machinery behind ``labels.format_term``.

A formulaic design-column name (``C(size)[T.>50]``, ``I(np.log1p(pgr))``, ``bs(age, df=3)[1]``,
``a:b``) is parsed with :mod:`ast` and rendered with the variable and value labels of a
:class:`~cohortlab.results.labels.Labels` (used through its methods only, so this module does
not import ``labels``). Display only: it never changes a number.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .labels import Labels

__all__ = ["render_term", "factor_variable", "strip_syntax"]

_SUPERSCRIPTS: dict[complex, str] = {2: "²", 3: "³"}  # any numeric constant
_FUNCS = {"log": "log", "log2": "log2", "log10": "log10", "exp": "exp", "sqrt": "√",
          "abs": "|", "log1p": "log1p"}
_SPLINES = {"bs": "spline", "cr": "spline", "cs": "spline", "cc": "cyclic spline",
            "ns": "spline", "te": "spline", "poly": "polynomial"}
_TRANSFORMS = {"center": "centred", "scale": "standardised", "standardize": "standardised"}


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside brackets, parentheses and quotes."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def _split_suffix(piece: str) -> tuple[str, str | None]:
    """``"C(size)[T.>50]"`` -> ``("C(size)", "T.>50")``; no trailing ``[...]`` -> None."""
    if not piece.endswith("]"):
        return piece, None
    depth = 0
    for i in range(len(piece) - 1, -1, -1):
        ch = piece[i]
        if ch == "]":
            depth += 1
        elif ch == "[":
            depth -= 1
            if depth == 0:
                return piece[:i], piece[i + 1:-1]
    return piece, None


def _unquote(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == "`":
        return name[1:-1]
    m = re.fullmatch(r"Q\(\s*(['\"])(.*)\1\s*\)", name)
    return m.group(2) if m else name


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def factor_variable(expr: str) -> str | None:
    """The column behind a categorical factor: ``C(size, ...)`` -> size, ``race`` -> race."""
    expr = _unquote(expr)
    m = re.fullmatch(r"C\((.*)\)", expr.strip(), flags=re.S)
    if m:
        first = _split_top(m.group(1), ",")[0].strip()
        return _unquote(first)
    if re.fullmatch(r"[A-Za-z_][\w.]*", expr.strip()):
        return expr.strip()
    return None


class _Renderer:
    def __init__(self, labels: Labels) -> None:
        self.labels = labels

    def name(self, var: str, top: bool) -> str:
        return self.labels.variable(var, short=not top)

    def expr(self, text: str, top: bool = True) -> str:
        """A (non-categorical) factor expression as readable text."""
        raw = _unquote(text)
        if raw in self.labels.variables or re.fullmatch(r"[A-Za-z_][\w.]*", raw):
            return self.name(raw, top)
        quoted: dict[str, str] = {}

        def _hold(m: re.Match[str]) -> str:
            key = f"__q{len(quoted)}__"
            quoted[key] = m.group(1)
            return key

        src = re.sub(r"`([^`]*)`", _hold, raw)
        try:
            node = ast.parse(src, mode="eval").body
        except SyntaxError:
            return strip_syntax(raw)
        return self.node(node, quoted, top)

    def node(self, n: ast.AST, quoted: Mapping[str, str], top: bool = False) -> str:
        r = self.node
        if isinstance(n, ast.Name):
            return self.name(quoted.get(n.id, n.id), top)
        if isinstance(n, ast.Constant):
            return _num_text(n.value)
        if isinstance(n, ast.Attribute):
            return n.attr
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return "-" + r(n.operand, quoted)
        if isinstance(n, ast.BinOp):
            return self.binop(n, quoted)
        if isinstance(n, ast.Call):
            return self.call(n, quoted, top)
        return strip_syntax(ast.unparse(n))

    def binop(self, n: ast.BinOp, quoted: Mapping[str, str]) -> str:
        left = self.node(n.left, quoted)
        if isinstance(n.left, ast.BinOp) and not isinstance(n.op, (ast.Add, ast.Sub)):
            left = f"({left})"
        if isinstance(n.op, ast.Pow) and isinstance(n.right, ast.Constant) and \
                n.right.value in _SUPERSCRIPTS:
            return left + _SUPERSCRIPTS[n.right.value]
        right = self.node(n.right, quoted)
        if isinstance(n.right, ast.BinOp):
            right = f"({right})"
        op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "×", ast.Div: "/", ast.Pow: "^",
              ast.FloorDiv: "//", ast.Mod: "mod"}.get(type(n.op), "?")
        return f"{left}^{right}" if op == "^" else f"{left} {op} {right}"

    def call(self, n: ast.Call, quoted: Mapping[str, str], top: bool) -> str:
        fname = _call_name(n.func)
        args = [self.node(a, quoted) for a in n.args]
        if fname == "I" and len(n.args) == 1:
            return self.node(n.args[0], quoted, top)
        if fname in ("Q",) and n.args and isinstance(n.args[0], ast.Constant):
            return self.name(str(n.args[0].value), top)
        if not args:
            return fname
        if fname == "log1p":
            return f"log({args[0]} + 1)"
        if fname == "expm1":
            return f"exp({args[0]}) - 1"
        if fname == "sqrt":
            inner = args[0]
            return f"√{inner}" if isinstance(n.args[0], (ast.Name, ast.Constant)) else f"√({inner})"
        if fname == "abs":
            return f"|{args[0]}|"
        if fname in _TRANSFORMS:
            return f"{args[0]} ({_TRANSFORMS[fname]})"
        if fname in _SPLINES:
            return args[0]
        return f"{fname}({', '.join(args)})"


def _num_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def strip_syntax(text: str) -> str:
    """Last resort: drop ``np.``, ``I(``/``C(`` wrappers, backticks and brackets."""
    text = re.sub(r"\b(np|numpy|math)\.", "", text)
    text = re.sub(r"\b[IC]\(", "(", text)
    text = text.replace("`", "").replace("[T.", " ").replace("[", " ").replace("]", "")
    text = text.replace("**", "^").replace("*", "×")
    text = re.sub(r"^\((.*)\)$", r"\1", text.strip())
    return re.sub(r"\s+", " ", text).strip()


def _is_categorical_expr(expr: str) -> bool:
    return bool(re.fullmatch(r"C\(.*\)", _unquote(expr).strip(), flags=re.S))


def _basis_label(expr: str) -> str | None:
    m = re.fullmatch(r"(?:\w+\.)?(\w+)\(.*\)", expr.strip(), flags=re.S)
    if m and m.group(1) in _SPLINES:
        return _SPLINES[m.group(1)]
    return None


def _piece(piece: str, labels: Labels, reference: Mapping[str, Any], top: bool,
           ref_needed: bool = True) -> str:
    ren = _Renderer(labels)
    expr, suffix = _split_suffix(piece.strip())
    if suffix is None:
        bare = _unquote(expr)
        if top and re.fullmatch(r"[\w.]+", bare) and labels.has_values(bare):
            vals = labels.values.get(bare) or (labels.arms if bare == labels.exposure else {})
            if set(vals) == {"0", "1"}:  # a 0/1 column: its coefficient compares 1 with 0
                return (f"{labels.variable(bare)}: {labels.value(bare, 1)} vs "
                        f"{labels.value(bare, 0)}")
        return ren.expr(expr, top)
    basis = _basis_label(expr)
    if basis is not None and re.fullmatch(r"\d+", suffix.strip()):
        return f"{ren.expr(expr, False)} ({basis} {suffix.strip()})"
    var = factor_variable(expr) if (_is_categorical_expr(expr) or basis is None) else None
    level = suffix[2:] if suffix.startswith("T.") else suffix
    contrast = suffix.startswith("T.")
    if var is None:
        return f"{ren.expr(expr, False)}: {level}"
    name = labels.variable(var, short=True)
    if level == "True" and not labels.has_values(var) and contrast:
        return name
    lvl = labels.value(var, level)
    ref = _reference_for(var, expr, reference)
    if contrast and ref is not None and ref_needed and top:
        return f"{name}: {lvl} vs {labels.value(var, ref)}"
    return f"{name}: {lvl}"


def _reference_for(var: str, expr: str, reference: Mapping[str, Any]) -> Any:
    for key in (expr, _unquote(expr), var):
        if key in reference:
            return reference[key]
    return None


def render_term(term: str, labels: Labels, reference: Mapping[str, Any]) -> str:
    """``term`` as readable text (``format_term`` after its arguments are checked)."""
    if term in ("Intercept", "(Intercept)", "1"):
        return "Intercept"
    pieces = _split_top(term, ":")
    if len(pieces) == 1:
        return _piece(pieces[0], labels, reference, top=True)
    return " × ".join(_piece(p, labels, reference, top=False) for p in pieces)
