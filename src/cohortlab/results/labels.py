"""Labels as data: what a clinician reads instead of column names, codes and formula terms.

A :class:`Labels` holds variable labels (``age`` -> "Age, years"), value labels of coded
columns (``sex`` 0/1 -> "Male"/"Female"), the exposure and its arm names, outcome names and
the time unit of the data and of the report. It is built from a plain mapping, the shape a
protocol's ``[labels]`` TOML section parses into::

    {
        "variables": {"age": "Age, years", "size": "Tumour size, mm"},
        "values": {"sex": {0: "Male", 1: "Female"}, "size": {"<=20": "<=20", ">50": ">50"}},
        "exposure": {"column": "hormon", "label": "Hormonal therapy",
                     "arms": {0: "No hormonal therapy", 1: "Hormonal therapy"}},
        "outcomes": {"death": "Death from any cause"},
        "time_unit": "days",
        "report_time_unit": "years",
    }

Every key is optional. Codes may be given as numbers or strings (TOML keys are strings):
``0``, ``0.0`` and ``"0"`` are the same code. :func:`format_term` renders a formulaic design
column (``C(size)[T.>50]``, ``I(np.log1p(pgr))``, ``bs(age, df=3)[1]``, ``a:b``) as readable
text, using the labels where given and plain names otherwise.

This module is display only: it never changes a number. ``results/`` does not import
``report/``; the report layer imports this.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import CohortError
from ._terms import factor_variable, render_term, strip_syntax

__all__ = ["Labels", "as_labels", "format_term", "format_terms", "reference_levels",
           "code_key", "TIME_UNITS"]

#: Length of each time unit in days (a year is 365.25 days, a month a twelfth of a year).
TIME_UNITS: dict[str, float] = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12.0,
                                "years": 365.25}
_UNIT_ALIASES = {"day": "days", "d": "days", "week": "weeks", "wk": "weeks", "month": "months",
                 "mo": "months", "year": "years", "yr": "years", "y": "years"}
_KEYS = ("variables", "values", "exposure", "outcomes", "time_unit", "report_time_unit")
_EXPOSURE_KEYS = ("column", "label", "arms")


def code_key(code: Any) -> str:
    """The canonical text of a code, so that ``0``, ``0.0``, ``"0"`` and ``False`` match.

    Examples
    --------
    >>> code_key(1.0), code_key("1"), code_key(True), code_key("<=20")
    ('1', '1', '1', '<=20')
    """
    if isinstance(code, bool):
        return str(int(code))
    if isinstance(code, (int, float)) and not isinstance(code, bool):
        f = float(code)
        if math.isfinite(f) and f.is_integer():
            return str(int(f))
        return repr(f)
    try:  # numpy scalars
        import numpy as np

        if isinstance(code, np.generic):
            return code_key(code.item())
    except ImportError:  # pragma: no cover
        pass
    text = str(code).strip()
    try:
        f = float(text)
    except ValueError:
        return text
    if text.lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        return text
    return str(int(f)) if math.isfinite(f) and f.is_integer() else text


def _norm_unit(unit: Any, key: str) -> str | None:
    if unit is None:
        return None
    text = str(unit).strip().lower()
    text = _UNIT_ALIASES.get(text, text)
    if text not in TIME_UNITS:
        raise CohortError(
            f"Labels: {key}={unit!r} is not a time unit; use one of {sorted(TIME_UNITS)}."
        )
    return text


def _label_map(obj: Any, key: str, of: str, example: str,
               keyf: Callable[[Any], str]) -> dict[str, str]:
    """``obj`` (None or a mapping of ``of`` to labels) as ``{keyf(k): str(label)}``."""
    if obj is None:
        return {}
    if not isinstance(obj, Mapping):
        raise CohortError(
            f"Labels: {key} must be a mapping of {of} to labels; got {type(obj).__name__}. "
            f"Pass e.g. {example}."
        )
    return {keyf(k): str(v) for k, v in obj.items()}


def _str_map(obj: Any, key: str) -> dict[str, str]:
    return _label_map(obj, key, "names", "{'age': 'Age, years'}", str)


def _code_map(obj: Any, key: str) -> dict[str, str]:
    return _label_map(obj, key, "codes", "{0: 'Male', 1: 'Female'}", code_key)


@dataclass(frozen=True, eq=True)
class Labels:
    """Display labels of a study: variables, coded values, exposure arms, outcomes, time.

    Build one with :meth:`from_dict` (or :func:`as_labels`, which also accepts ``None`` and
    an existing ``Labels``). Every lookup falls back to a plain rendering of the name or code,
    so an empty ``Labels()`` is valid and changes nothing but formula syntax.

    Attributes
    ----------
    variables : mapping of str to str
        Column name -> label (``"age" -> "Age, years"``). The part before the first comma
        is the short label used inside expressions (``"Age²"``).
    values : mapping of str to mapping of str to str
        Column name -> {code -> label}; codes are stored by :func:`code_key`.
    exposure : str or None
        The exposure column; ``arms`` label its levels in legends and group headers.
    arms : mapping of str to str
        Exposure level -> arm name (falls back to ``values[exposure]``).
    outcomes : mapping of str to str
        Outcome (column or name) -> label ("death" -> "Death from any cause").
    time_unit, report_time_unit : str or None
        Unit of the data's times and the unit to report in (days, weeks, months, years).

    Examples
    --------
    >>> lab = Labels.from_dict({"variables": {"age": "Age, years", "sex": "Sex"},
    ...                         "values": {"sex": {0: "Male", 1: "Female"}},
    ...                         "time_unit": "days", "report_time_unit": "years"})
    >>> lab.variable("age"), lab.value("sex", 1.0), lab.variable("bmi")
    ('Age, years', 'Female', 'bmi')
    >>> round(lab.to_report_time(730.5), 6), lab.report_unit
    (2.0, 'years')
    """

    variables: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    exposure: str | None = None
    arms: Mapping[str, str] = field(default_factory=dict)
    outcomes: Mapping[str, str] = field(default_factory=dict)
    time_unit: str | None = None
    report_time_unit: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", _str_map(self.variables, "variables"))
        vals = self.values if self.values is not None else {}
        if not isinstance(vals, Mapping):
            raise CohortError(
                f"Labels: values must be a mapping of columns to {{code: label}}; got "
                f"{type(vals).__name__}. Pass e.g. {{'sex': {{0: 'Male', 1: 'Female'}}}}."
            )
        object.__setattr__(self, "values", {str(c): _code_map(m, f"values[{c!r}]")
                                            for c, m in vals.items()})
        object.__setattr__(self, "arms", _code_map(self.arms, "exposure.arms"))
        object.__setattr__(self, "outcomes", _str_map(self.outcomes, "outcomes"))
        object.__setattr__(self, "time_unit", _norm_unit(self.time_unit, "time_unit"))
        object.__setattr__(self, "report_time_unit",
                           _norm_unit(self.report_time_unit, "report_time_unit"))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Labels:
        """Build from the plain mapping documented in the module (a ``[labels]`` section).

        Unknown keys raise :class:`~cohortlab.exceptions.CohortError` naming the key.
        ``exposure`` is either a column name or ``{"column", "label", "arms"}``.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise CohortError(f"Labels.from_dict(): expected a mapping; got "
                              f"{type(data).__name__}. Pass e.g. {{'variables': {{...}}}}.")
        unknown = sorted(set(map(str, data)) - set(_KEYS))
        if unknown:
            raise CohortError(
                f"Labels.from_dict(): unknown key(s) {unknown}; the keys are {list(_KEYS)}."
            )
        variables = dict(_str_map(data.get("variables"), "variables"))
        exposure, arms = None, {}
        exp = data.get("exposure")
        if isinstance(exp, str):
            exposure = exp
        elif isinstance(exp, Mapping):
            bad = sorted(set(map(str, exp)) - set(_EXPOSURE_KEYS))
            if bad:
                raise CohortError(f"Labels.from_dict(): unknown key(s) {bad} in exposure; "
                                  f"the keys are {list(_EXPOSURE_KEYS)}.")
            exposure = None if exp.get("column") is None else str(exp["column"])
            arms = _code_map(exp.get("arms"), "exposure.arms")
            if exp.get("label") is not None:
                if exposure is None:
                    raise CohortError("Labels.from_dict(): exposure.label needs "
                                      "exposure.column (the exposure's column name).")
                variables.setdefault(exposure, str(exp["label"]))
        elif exp is not None:
            raise CohortError(f"Labels.from_dict(): exposure must be a column name or "
                              f"{{column, label, arms}}; got {type(exp).__name__}.")
        return cls(variables=variables, values=data.get("values") or {}, exposure=exposure,
                   arms=arms, outcomes=data.get("outcomes") or {},
                   time_unit=data.get("time_unit"),
                   report_time_unit=data.get("report_time_unit"))

    def to_dict(self) -> dict[str, Any]:
        """The plain mapping :meth:`from_dict` reads (codes as strings); empty keys left out."""
        out: dict[str, Any] = {}
        if self.variables:
            out["variables"] = dict(self.variables)
        if self.values:
            out["values"] = {c: dict(m) for c, m in self.values.items()}
        if self.exposure or self.arms:
            exp: dict[str, Any] = {}
            if self.exposure:
                exp["column"] = self.exposure
            if self.arms:
                exp["arms"] = dict(self.arms)
            out["exposure"] = exp
        if self.outcomes:
            out["outcomes"] = dict(self.outcomes)
        if self.time_unit:
            out["time_unit"] = self.time_unit
        if self.report_time_unit:
            out["report_time_unit"] = self.report_time_unit
        return out

    def merge(self, other: Labels | Mapping[str, Any] | None) -> Labels:
        """These labels updated by ``other`` (``other`` wins where both give a label).

        Examples
        --------
        >>> a = Labels.from_dict({"variables": {"age": "Age", "sex": "Sex"}})
        >>> a.merge({"variables": {"age": "Age, years"}}).variables
        {'age': 'Age, years', 'sex': 'Sex'}
        """
        o = as_labels(other)
        values = {c: dict(m) for c, m in self.values.items()}
        for c, m in o.values.items():
            values[c] = {**values.get(c, {}), **m}
        return Labels(variables={**self.variables, **o.variables}, values=values,
                      exposure=o.exposure or self.exposure, arms={**self.arms, **o.arms},
                      outcomes={**self.outcomes, **o.outcomes},
                      time_unit=o.time_unit or self.time_unit,
                      report_time_unit=o.report_time_unit or self.report_time_unit)

    def __bool__(self) -> bool:
        return bool(self.variables or self.values or self.exposure or self.arms
                    or self.outcomes or self.time_unit or self.report_time_unit)

    # ------------------------------------------------------------------ lookups
    def variable(self, name: Any, *, short: bool = False) -> str:
        """The label of a column (its name when unlabelled); ``short`` cuts at the first comma.

        Examples
        --------
        >>> Labels(variables={"pgr": "PgR, fmol/l"}).variable("pgr", short=True)
        'PgR'
        """
        key = str(name)
        label = self.variables.get(key)
        if label is None:
            return key
        return label.split(",")[0].strip() if short else label

    def has_values(self, column: Any) -> bool:
        """Whether value labels are given for ``column`` (or its arms, for the exposure)."""
        col = str(column)
        return bool(self.values.get(col)) or (col == self.exposure and bool(self.arms))

    def value(self, column: Any, code: Any) -> str:
        """The label of one code of a column; the code as text (``1.0`` -> ``"1"``) if none."""
        key = code_key(code)
        col = str(column)
        hit = self.values.get(col, {}).get(key)
        if hit is None and col == self.exposure:
            hit = self.arms.get(key)
        return key if hit is None else hit

    def arm(self, level: Any, column: Any = None) -> str:
        """The name of an exposure arm: ``arms``, then ``values``, then ``"<label> = <code>"``.

        Examples
        --------
        >>> lab = Labels.from_dict({"exposure": {"column": "hormon", "label": "Hormonal therapy",
        ...                         "arms": {0: "No hormonal therapy", 1: "Hormonal therapy"}}})
        >>> lab.arm(0), Labels().arm(1, "hormon")
        ('No hormonal therapy', 'hormon = 1')
        """
        col = self.exposure if column is None else str(column)
        key = code_key(level)
        if col is not None and col == self.exposure and key in self.arms:
            return self.arms[key]
        if col is not None and key in self.values.get(col, {}):
            return self.values[col][key]
        if col is None:
            return self.arms.get(key, key)
        return f"{self.variable(col, short=True)} = {key}"

    def outcome(self, name: Any) -> str:
        """The label of an outcome (then of a variable of that name, then the name)."""
        key = str(name)
        return self.outcomes.get(key) or self.variables.get(key) or key

    def term(self, term: str, reference: Mapping[str, Any] | None = None) -> str:
        """Shorthand for :func:`format_term` with these labels."""
        return format_term(term, self, reference=reference)

    # ------------------------------------------------------------------ time
    @property
    def report_unit(self) -> str | None:
        """The unit times are reported in: ``report_time_unit``, else ``time_unit``."""
        return self.report_time_unit or self.time_unit

    @property
    def time_factor(self) -> float:
        """Multiply data times by this to get report times (1 when a unit is unknown)."""
        if not self.time_unit or not self.report_time_unit:
            return 1.0
        return TIME_UNITS[self.time_unit] / TIME_UNITS[self.report_time_unit]

    def to_report_time(self, t: Any) -> Any:
        """Data times (scalar or array) in the report's unit: 730.5 days -> 2.0 years."""
        f = self.time_factor
        return t if f == 1.0 else t * f

    def to_data_time(self, t: Any) -> Any:
        """Report times (scalar or array) back in the data's unit: 2 years -> 730.5 days."""
        f = self.time_factor
        return t if f == 1.0 else t / f

    def time_axis_label(self, default: str = "Time") -> str:
        """An axis title such as ``"Time, years"`` (``default`` alone when no unit is known)."""
        unit = self.report_unit
        return f"{default}, {unit}" if unit else default


def as_labels(obj: Labels | Mapping[str, Any] | None) -> Labels:
    """``None`` -> empty ``Labels``; a mapping -> :meth:`Labels.from_dict`; a ``Labels`` -> it.

    A flat mapping of column names to strings (the older ``labels={"age": "Age"}`` of
    :func:`cohortlab.table1`) is read as variable labels.

    Examples
    --------
    >>> as_labels({"age": "Age, years"}).variable("age")
    'Age, years'
    """
    if obj is None:
        return Labels()
    if isinstance(obj, Labels):
        return obj
    if isinstance(obj, Mapping):
        if obj and all(isinstance(v, str) for v in obj.values()) and not (
                set(map(str, obj)) & {"time_unit", "report_time_unit", "exposure"}):
            return Labels(variables=obj)
        return Labels.from_dict(obj)
    raise CohortError(f"labels must be a Labels, a mapping or None; got {type(obj).__name__}. "
                      "Pass e.g. labels={'variables': {'age': 'Age, years'}}.")


# ====================================================================== formula terms
def format_term(term: str, labels: Labels | Mapping[str, Any] | None = None, *,
                reference: Mapping[str, Any] | None = None) -> str:
    """A formulaic design-column name as readable text, using labels where given.

    Parameters
    ----------
    term : str
        A column of a formulaic model matrix (``Estimate.term`` of a model's coefficient),
        e.g. ``"age"``, ``"C(size)[T.>50]"``, ``"I(age ** 2)"``, ``"bs(bmi, df=3)[1]"``,
        ``"C(grade)[T.3]:hormon"``.
    labels : Labels or mapping, optional
        Variable and value labels; without them the column names and codes are shown as they
        are, but with no formula syntax (no ``C(``, ``I(``, ``np.``, ``[T.`` or brackets).
    reference : mapping, optional
        The reference level of each categorical factor, keyed by the factor expression
        (``"C(size)"``) or the column (``"size"``); see :func:`reference_levels`, which reads
        them from a formulaic model spec. With it a treatment contrast reads
        ``"Tumour size: >50 vs <=20"``; without it ``"Tumour size: >50"``.

    Returns
    -------
    str
        The readable label. Interactions are joined by ``" × "``. A bare 0/1 column whose
        value labels are given reads ``"Sex: Female vs Male"``.

    Examples
    --------
    >>> lab = Labels.from_dict({"variables": {"size": "Tumour size", "age": "Age, years",
    ...                                       "pgr": "PgR", "bmi": "BMI"}})
    >>> format_term("C(size)[T.>50]", lab, reference={"size": "<=20"})
    'Tumour size: >50 vs <=20'
    >>> format_term("I(np.log1p(pgr))", lab), format_term("I(np.log1p(pgr))")
    ('log(PgR + 1)', 'log(pgr + 1)')
    >>> format_term("I(age ** 2)", lab), format_term("bs(bmi, df=3)[1]", lab)
    ('Age²', 'BMI (spline 1)')
    >>> format_term("C(grade)[T.3]:age", lab)
    'grade: 3 × Age'
    """
    return render_term(str(term), as_labels(labels), dict(reference or {}))


def format_terms(terms: Iterable[str], labels: Labels | Mapping[str, Any] | None = None, *,
                 reference: Mapping[str, Any] | None = None) -> list[str]:
    """:func:`format_term` of each term; labels that collide get the term appended.

    Examples
    --------
    >>> format_terms(["age", "C(race)[T.1]"], {"values": {"race": {1: "Other"}}})
    ['age', 'race: Other']
    """
    out = [format_term(t, labels, reference=reference) for t in terms]
    seen: dict[str, int] = {}
    for text in out:
        seen[text] = seen.get(text, 0) + 1
    return [f"{text} ({strip_syntax(t)})" if seen[text] > 1 else text
            for text, t in zip(out, terms, strict=False)]


def reference_levels(model_spec: Any) -> dict[str, Any]:
    """The reference level of each treatment-coded factor of a formulaic model spec.

    Keys are the factor expression (``"C(size)"``) and its column (``"size"``), so the result
    can be passed straight to :func:`format_term`'s ``reference``. Accepts a ``ModelSpec``,
    a model matrix (its ``model_spec``) or ``None`` (returns ``{}``).

    Examples
    --------
    >>> import pandas as pd
    >>> from formulaic import model_matrix
    >>> d = pd.DataFrame({"size": ["<=20", "20-50", ">50", "<=20"], "age": [50, 60, 70, 55]})
    >>> mm = model_matrix("C(size, levels=['<=20', '20-50', '>50']) + age", d)
    >>> reference_levels(mm)["size"]
    '<=20'
    """
    spec = getattr(model_spec, "model_spec", model_spec)
    state = getattr(spec, "encoder_state", None) or {}
    out: dict[str, Any] = {}
    for expr, value in state.items():
        try:
            _, info = value
        except (TypeError, ValueError):
            continue
        if not isinstance(info, Mapping) or "categories" not in info:
            continue
        cats = list(info["categories"])
        contrasts = info.get("contrasts")
        base = getattr(getattr(contrasts, "contrasts", None), "base", None)
        ref = cats[0] if cats else None
        if base is not None and str(base) != "UNSET" and base in cats:
            ref = base
        if ref is None:
            continue
        out[str(expr)] = ref
        var = factor_variable(str(expr))
        if var is not None:
            out.setdefault(var, ref)
    return out
