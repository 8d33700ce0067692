"""The ``[longitudinal]`` protocol section: person-period data, features, g-method analyses.

A longitudinal protocol has ``[study]``, ``[longitudinal]`` and optionally ``[outputs]`` and
``[labels]``; the point-exposure sections (``[data]``, ``[exposure]``, ``[[outcomes]]``,
``[[analyses]]`` ...) are not used with it. This module checks the section's *shape*
(allow-listed keys and values, analysis options against the verbs' signatures, strategies as
data); :mod:`._longrun` checks it against the data and runs it. Nothing read from the file is
evaluated: formulas go through :mod:`._expr`'s allow-list, feature kinds and strategy types
are chosen from fixed lists, and the data path must stay inside the protocol's folder.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._validation import check_truncate
from ..exceptions import DataValidationError
from ._expr import check_formulas
from ._fields import _get, _table, _table_array, _unique_names
from ._paths import data_file
from .sections import ProtocolError, close_matches

__all__ = ["LongitudinalSpec", "LongData", "Feature", "ScoreRule", "LongAnalysis",
           "FEATURE_KINDS", "LONG_METHODS", "parse_longitudinal", "check_longitudinal"]

P = "longitudinal"
FEATURE_KINDS = ("lag", "cumulative_exposure", "time_since_initiation", "ever_treated")
LONG_METHODS = ("msm", "gformula_tv")
LAYOUTS = ("long", "wide")
STRATEGY_TYPES = ("static", "threshold")
NATURAL = "natural_course"
#: sections of a point-exposure protocol, not used with [longitudinal]
POINT_SECTIONS = ("data", "eligibility", "followup", "exposure", "outcomes", "covariates",
                  "analyses", "subgroups", "sensitivity")
#: verb arguments the section fills (not allowed in an analysis' options)
FILLS = {
    "msm": ("id", "period", "treatment", "outcome", "competing", "censor", "baseline",
            "random_state", "horizons", "weights"),
    "gformula_tv": ("id", "period", "treatment", "outcome", "competing", "censor", "baseline",
                    "random_state", "strategies", "reference"),
}
#: msm options that are covariate sets or formula right-hand sides
_MSM_FORMULAS = ("covariates", "numerator", "censor_covariates", "msm_terms", "period_terms")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ----------------------------------------------------------------------------- dataclasses
@dataclass(frozen=True, kw_only=True)
class LongData:
    """``[longitudinal.data]``: a file inside the study folder, or the simulated cohort."""

    path: str | None = None
    dataset: str | None = None
    layout: str = "long"
    sep: str = "_"
    last_period: str | None = None
    stems: tuple[str, ...] = ()
    n: int = 2000
    n_periods: int = 12
    random_state: int | None = None


@dataclass(frozen=True, kw_only=True)
class ScoreRule:
    """``[longitudinal.treatment_from_score]``: a score thresholded with persistence."""

    score: str
    threshold: float
    operator: str = ">="
    consecutive: int = 1
    monotone: bool = False
    delay: int = 0


@dataclass(frozen=True, kw_only=True)
class Feature:
    """One ``[[longitudinal.features]]`` entry: a derived column (allow-listed kinds)."""

    kind: str
    column: str
    name: str
    k: int = 1
    fill: float | None = None
    include_current: bool | None = None
    index: int = 0


@dataclass(frozen=True, kw_only=True)
class LongAnalysis:
    """One ``[[longitudinal.analyses]]`` entry: ``msm`` or ``gformula_tv``."""

    name: str
    method: str
    horizons: tuple[int, ...] = ()
    strategies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    reference: str = "never"
    options: Mapping[str, Any] = field(default_factory=dict)
    index: int = 0

    @property
    def where(self) -> str:
        """The field path of this analysis."""
        return f"{P}.analyses[{self.index}]"


@dataclass(frozen=True, kw_only=True)
class LongitudinalSpec:
    """The parsed ``[longitudinal]`` section."""

    data: LongData
    id: str
    period: str
    treatment: str
    outcome: str
    censor: str | None = None
    competing: str | None = None
    time_varying: tuple[str, ...] = ()
    baseline: tuple[str, ...] = ()
    period_unit: str = "period"
    treatment_from_score: ScoreRule | None = None
    features: tuple[Feature, ...] = ()
    analyses: tuple[LongAnalysis, ...] = ()

    def columns(self) -> dict[str, str | None]:
        """Field name -> column for the roles the data must hold."""
        return {"id": self.id, "period": self.period, "treatment": self.treatment,
                "outcome": self.outcome, "censor": self.censor, "competing": self.competing}


# ----------------------------------------------------------------------------- readers
def _names(d: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = d.get(key, [])
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list):
        raise ProtocolError(f"{path}.{key}", f"must be a list of strings; got {value!r}.",
                            f'Write e.g. {key} = ["a", "b"].')
    out = tuple(value)
    for i, name in enumerate(out):
        _column_name(name, f"{path}.{key}[{i}]")
    return out


def _entries(raw: Any, path: str) -> list[Any]:
    return [] if raw is None else _table_array(raw, path)


def _column_name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value or "`" in value:
        raise ProtocolError(path, f"must be a column name; got {value!r}.",
                            'Write e.g. "L" (a column of the person-period data).')
    return value


def _int(d: Mapping[str, Any], key: str, path: str, default: int, low: int) -> int:
    value = _get(d, key, path, int, default)
    if value < low:
        raise ProtocolError(f"{path}.{key}", f"must be at least {low}; got {value}.",
                            f"Write e.g. {key} = {max(low, default)}.")
    return int(value)


def _data(raw: Any) -> LongData:
    p = f"{P}.data"
    d = _table(raw, p, ("path", "dataset", "layout", "sep", "last_period", "stems", "n",
                        "n_periods", "random_state"))
    given = [k for k in ("path", "dataset") if k in d]
    if len(given) != 1:
        raise ProtocolError(p, f"needs exactly one of path, dataset; got {given}.",
                            'Write path = "visits.csv" or dataset = "simulated".')
    dataset = _get(d, "dataset", p, str)
    if dataset is not None and dataset != "simulated":
        raise ProtocolError(f"{p}.dataset", f"must be 'simulated'; got {dataset!r}.",
                            "The simulated cohort is cl.simulate_longitudinal(); give your "
                            "own data with path = \"...\".")
    for key in ("n", "n_periods", "random_state"):
        if key in d and dataset is None:
            raise ProtocolError(f"{p}.{key}", 'is only used with dataset = "simulated".',
                                f"Remove {key}.")
    for key in ("layout", "sep", "last_period", "stems"):
        if key in d and dataset is not None:
            raise ProtocolError(f"{p}.{key}", "is only used with path = \"...\".",
                                f"Remove {key}.")
    layout = d.get("layout", "long")
    if layout not in LAYOUTS:
        raise ProtocolError(f"{p}.layout", f"must be one of {list(LAYOUTS)}; got {layout!r}.",
                            close_matches(str(layout), LAYOUTS))
    for key in ("sep", "last_period", "stems"):
        if key in d and layout != "wide":
            raise ProtocolError(f"{p}.{key}", 'is only used with layout = "wide".',
                                f'Remove {key}, or write layout = "wide".')
    path = _get(d, "path", p, str)
    if path is not None and not path.lower().endswith((".csv", ".csv.gz", ".parquet", ".pq")):
        raise ProtocolError(f"{p}.path", f"must be a .csv or .parquet file; got {path!r}.",
                            "Export the person-period data as CSV or Parquet.")
    random_state = _get(d, "random_state", p, int)
    if random_state is not None and random_state < 0:
        raise ProtocolError(f"{p}.random_state", f"must be non-negative; got {random_state}.",
                            "Write e.g. random_state = 11.")
    return LongData(path=path, dataset=dataset, layout=layout,
                    sep=_get(d, "sep", p, str, "_"),
                    last_period=_get(d, "last_period", p, str),
                    stems=_names(d, "stems", p), n=_int(d, "n", p, 2000, 10),
                    n_periods=_int(d, "n_periods", p, 12, 2), random_state=random_state)


def _score_rule(raw: Any) -> ScoreRule:
    p = f"{P}.treatment_from_score"
    d = _table(raw, p, ("score", "threshold", "operator", "consecutive", "monotone", "delay"),
               ("score", "threshold"))
    op = d.get("operator", ">=")
    if op not in (">=", ">"):
        raise ProtocolError(f"{p}.operator", f"must be '>=' or '>'; got {op!r}.",
                            'Write operator = ">=".')
    return ScoreRule(score=_column_name(d["score"], f"{p}.score"),
                     threshold=float(_get(d, "threshold", p, (int, float))), operator=op,
                     consecutive=_int(d, "consecutive", p, 1, 1),
                     monotone=_get(d, "monotone", p, bool, False),
                     delay=_int(d, "delay", p, 0, 0))


_FEATURE_KEYS = {"lag": ("column", "k", "fill"),
                 "cumulative_exposure": ("column", "include_current"),
                 "time_since_initiation": ("column",),
                 "ever_treated": ("column", "include_current")}
_DEFAULT_NAME = {"lag": "{c}_lag{k}", "cumulative_exposure": "{c}_cumulative",
                 "time_since_initiation": "{c}_time_since_initiation", "ever_treated": "{c}_ever"}


def _features(raw: Any, treatment: str) -> tuple[Feature, ...]:
    items = _entries(raw, f"{P}.features")
    out: list[Feature] = []
    for i, item in enumerate(items):
        p = f"{P}.features[{i}]"
        if not isinstance(item, Mapping) or "kind" not in item:
            raise ProtocolError(f"{p}.kind", "is required.",
                                f"Write kind = one of {list(FEATURE_KINDS)}.")
        kind = item["kind"]
        if kind not in FEATURE_KINDS:
            raise ProtocolError(f"{p}.kind", f"unknown feature kind {kind!r}.",
                                close_matches(str(kind), FEATURE_KINDS))
        d = _table(item, p, ("kind", "name", *_FEATURE_KEYS[kind]),
                   ("column",) if kind == "lag" else ())
        column = _column_name(d.get("column", treatment), f"{p}.column")
        k = _int(d, "k", p, 1, 1)
        name = _get(d, "name", p, str, _DEFAULT_NAME[kind].format(c=column, k=k))
        if not _NAME.match(name):
            raise ProtocolError(f"{p}.name", f"must be a plain name (letters, digits, _); got "
                                f"{name!r}.", f'Write e.g. name = "{column}_lag1".')
        fill = _get(d, "fill", p, (int, float))
        out.append(Feature(kind=kind, column=column, name=name, k=k,
                           fill=None if fill is None else float(fill),
                           include_current=_get(d, "include_current", p, bool), index=i))
    reserved = {f"{p}_{treatment}" for p in ("cum", "ever", "prev")}
    for f in out:
        if f.name in reserved:
            raise ProtocolError(f"{P}.features[{f.index}].name", f"{f.name!r} is a treatment-"
                                "history column msm() makes itself (cum_, ever_, prev_ + the "
                                "treatment), usable in msm_terms as it is.",
                                "Give the feature another name.")
    _unique_names([f.name for f in out], f"{P}.features",
                  "Give each feature its own name = \"...\".")
    return tuple(out)


def _strategies(raw: Any, path: str, varying: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, Mapping) or not raw:
        raise ProtocolError(path, f"must be a table of named strategies; got {raw!r}.",
                            'Write always = { type = "static", value = 1 }.')
    out: dict[str, dict[str, Any]] = {}
    for name, spec in raw.items():
        p = f"{path}.{name}"
        if name == NATURAL:
            raise ProtocolError(p, "the natural course is always simulated.",
                                "Remove it, or name the strategy differently.")
        if not isinstance(spec, Mapping) or spec.get("type") not in STRATEGY_TYPES:
            got = spec.get("type") if isinstance(spec, Mapping) else spec
            raise ProtocolError(f"{p}.type", f"must be one of {list(STRATEGY_TYPES)}; got "
                                f"{got!r}.", close_matches(str(got), STRATEGY_TYPES))
        if spec["type"] == "static":
            d = _table(spec, p, ("type", "value"), ("value",))
            if d["value"] not in (0, 1) or isinstance(d["value"], bool):
                raise ProtocolError(f"{p}.value", f"must be 0 or 1; got {d['value']!r}.",
                                    "Write value = 1 (always treat) or 0 (never treat).")
            out[str(name)] = {"type": "static", "value": int(d["value"])}
            continue
        d = _table(spec, p, ("type", "covariate", "above", "below"), ("covariate",))
        cov = d["covariate"]
        if cov not in varying:
            raise ProtocolError(f"{p}.covariate", f"{cov!r} is not a time-varying covariate.",
                                close_matches(str(cov), varying))
        sides = [k for k in ("above", "below") if k in d]
        if len(sides) != 1:
            raise ProtocolError(p, f"needs exactly one of above, below; got {sides}.",
                                f'Write {{ type = "threshold", covariate = "{cov}", '
                                "above = 1.0 }.")
        value = _get(d, sides[0], p, (int, float))
        out[str(name)] = {"type": "threshold", "covariate": cov, sides[0]: float(value)}
    return out


def _literal_choices(fn: Any) -> dict[str, tuple[Any, ...]]:
    hints = typing.get_type_hints(inspect.unwrap(fn))
    return {k: typing.get_args(v) for k, v in hints.items()
            if typing.get_origin(v) is typing.Literal}


def _check_options(method: str, options: Mapping[str, Any], path: str,
                   varying: Sequence[str]) -> dict[str, Any]:
    import cohortlab

    verb = getattr(cohortlab, method)
    params = [n for n in inspect.signature(verb).parameters if n != "data"]
    allowed = [n for n in params if n not in FILLS[method]]
    literals = _literal_choices(verb)
    out = dict(options)
    for key, value in options.items():
        if key in FILLS[method]:
            raise ProtocolError(f"{path}.{key}", f"is set by the protocol for {method}().",
                                _filled_hint(key))
        if key not in params:
            raise ProtocolError(f"{path}.{key}", f"{method}() has no option {key!r}.",
                                close_matches(key, allowed))
        if key in literals and value not in literals[key]:
            raise ProtocolError(f"{path}.{key}", f"must be one of {list(literals[key])}; got "
                                f"{value!r}.", close_matches(str(value),
                                                             [str(v) for v in literals[key]]))
        if method == "msm" and key in _MSM_FORMULAS:
            check_formulas(value, f"{path}.{key}")
    if method == "msm" and "truncate" in out:
        t = out["truncate"]
        ok = isinstance(t, list) and len(t) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in t)
        try:
            pair = check_truncate(t, "msm") if ok else None
        except DataValidationError as exc:
            raise ProtocolError(f"{path}.truncate", str(exc).removeprefix("msm(): "),
                                "Write truncate = [0.01, 0.99].") from None
        if pair is None:
            raise ProtocolError(f"{path}.truncate", f"must be [low, high] quantiles; got "
                                f"{t!r}.", "Write truncate = [0.01, 0.99].")
        out["truncate"] = pair
    if method == "gformula_tv":
        out.update(_gformula_options(options, path, varying))
    return out


def _gformula_options(options: Mapping[str, Any], path: str, varying: Sequence[str]
                      ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cov = options.get("covariates")
    if cov is not None:
        if not isinstance(cov, Mapping) or not all(
                v in ("binary", "normal") for v in cov.values()):
            raise ProtocolError(f"{path}.covariates", "must be a table of column = \"binary\" "
                                f"or \"normal\" (in simulation order); got {cov!r}.",
                                'Write covariates = { L = "normal" }.')
        for name in cov:
            if name not in varying:
                raise ProtocolError(f"{path}.covariates.{name}", "is not a time-varying "
                                    "covariate of [longitudinal].",
                                    close_matches(str(name), varying))
        out["covariates"] = dict(cov)
    models = options.get("models")
    if models is not None:
        if not isinstance(models, Mapping) or not all(isinstance(v, str)
                                                      for v in models.values()):
            raise ProtocolError(f"{path}.models", f"must be a table of column = \"right-hand "
                                f"side\"; got {models!r}.", 'Write models = { Y = "A + L + '
                                'lag1_L + period" }.')
        out["models"] = dict(models)
    return out


def _filled_hint(key: str) -> str:
    return {"weights": "The weights are estimated from covariates (see tv_weights); use a "
                       "script to pass your own.",
            "horizons": "Write horizons = [...] on the analysis itself.",
            "strategies": "Write [longitudinal.analyses.strategies] on the analysis itself.",
            "reference": "Write reference = \"never\" on the analysis itself.",
            "random_state": "It is [study] seed."}.get(
        key, "Set it in [longitudinal] (id, period, treatment, outcome, censor, competing, "
             "baseline).")


def _analyses(raw: Any, varying: Sequence[str]) -> tuple[LongAnalysis, ...]:
    items = _entries(raw, f"{P}.analyses")
    if not items:
        raise ProtocolError(f"{P}.analyses", "at least one [[longitudinal.analyses]] entry is "
                            "required.", 'Add one with name = "msm" and method = "msm".')
    out: list[LongAnalysis] = []
    for i, item in enumerate(items):
        p = f"{P}.analyses[{i}]"
        d = _table(item, p, ("name", "method", "horizons", "strategies", "reference",
                             "options"), ("name", "method"))
        method = _get(d, "method", p, str)
        if method not in LONG_METHODS:
            raise ProtocolError(f"{p}.method", f"unknown longitudinal method {method!r}.",
                                close_matches(method, LONG_METHODS))
        if method == "msm":
            for key in ("strategies", "reference"):
                if key in d:
                    raise ProtocolError(f"{p}.{key}", "is only used with method = "
                                        "'gformula_tv' (the MSM compares always vs never).",
                                        f"Remove {key}.")
        horizons = d.get("horizons", [])
        horizons = [horizons] if isinstance(horizons, int) else horizons
        if not isinstance(horizons, list) or not all(
                isinstance(h, int) and not isinstance(h, bool) and h >= 0 for h in horizons):
            raise ProtocolError(f"{p}.horizons", f"must be a list of periods (whole numbers "
                                f">= 0); got {horizons!r}.", "Write e.g. horizons = [5, 11].")
        options = d.get("options", {})
        if not isinstance(options, Mapping):
            raise ProtocolError(f"{p}.options", f"must be a table; got {options!r}.",
                                'Write e.g. options = { variance = "robust" }.')
        options = _check_options(method, options, f"{p}.options", varying)
        strategies = (_strategies(d["strategies"], f"{p}.strategies", varying)
                      if "strategies" in d else
                      {"always": {"type": "static", "value": 1},
                       "never": {"type": "static", "value": 0}})
        reference = _get(d, "reference", p, str, "never")
        if reference not in (*strategies, NATURAL):
            raise ProtocolError(f"{p}.reference", f"unknown strategy {reference!r}.",
                                close_matches(reference, [*strategies, NATURAL]))
        out.append(LongAnalysis(name=_get(d, "name", p, str), method=method,
                                horizons=tuple(sorted(set(horizons))),
                                strategies=MappingProxyType(strategies), reference=reference,
                                options=MappingProxyType(options), index=i))
    _unique_names([a.name for a in out], f"{P}.analyses", "Rename them.")
    return tuple(out)


_KEYS = ("data", "id", "period", "treatment", "outcome", "censor", "competing", "time_varying",
         "baseline", "period_unit", "treatment_from_score", "features", "analyses")


def parse_longitudinal(raw: Any) -> LongitudinalSpec:
    """Check the shape of a ``[longitudinal]`` table and return a :class:`LongitudinalSpec`."""
    d = _table(raw, P, _KEYS, ("data", "id", "period", "treatment", "outcome"))
    cols: dict[str, Any] = {k: _column_name(d[k], f"{P}.{k}") for k in ("id", "period", "treatment",
                                                         "outcome")}
    opt: dict[str, Any] = {k: _column_name(d[k], f"{P}.{k}") if k in d else None
           for k in ("censor", "competing")}
    varying, baseline = _names(d, "time_varying", P), _names(d, "baseline", P)
    roles = [*cols.values(), *[v for v in opt.values() if v]]
    for key, names in (("time_varying", varying), ("baseline", baseline)):
        for i, name in enumerate(names):
            if name in roles:
                raise ProtocolError(f"{P}.{key}[{i}]", f"{name!r} is already the id, period, "
                                    "treatment, outcome, censor or competing column.",
                                    "List only covariates here.")
    both = sorted(set(varying) & set(baseline))
    if both:
        raise ProtocolError(f"{P}.baseline", f"{both} are also time-varying.",
                            "List each covariate once.")
    rule = (_score_rule(d["treatment_from_score"]) if "treatment_from_score" in d else None)
    features = _features(d.get("features"), cols["treatment"])
    usable = [*varying, *[f.name for f in features]]
    return LongitudinalSpec(
        data=_data(d["data"]), **cols, **opt, time_varying=varying, baseline=baseline,
        period_unit=_get(d, "period_unit", P, str, "period"),
        treatment_from_score=rule, features=features,
        analyses=_analyses(d.get("analyses"), usable))


def check_longitudinal(raw: Mapping[str, Any], base_dir: str | Path = ".",
                       data_dirs: Sequence[Path] = ()) -> LongitudinalSpec:
    """The ``[longitudinal]`` section of a protocol document, checked (with its data path).

    The point-exposure sections (``[data]``, ``[exposure]``, ...) are refused alongside it;
    :func:`cohortlab.protocol.schema.parse_protocol` builds the :class:`Protocol` (whose
    point-exposure fields are then placeholders) with ``longitudinal`` set to the result.
    """
    for key in POINT_SECTIONS:
        if key in raw:
            raise ProtocolError(key, "is a point-exposure section, not used with "
                                "[longitudinal].", "Remove it: [longitudinal] names its own "
                                "data, columns and analyses (write a separate protocol for a "
                                "point-exposure study).")
    if "study" not in raw:
        raise ProtocolError("study", "section is required.", "Add a [study] table.")
    spec = parse_longitudinal(raw[P])
    if spec.data.path is not None:
        data_file(Path(base_dir), spec.data.path, f"{P}.data.path", data_dirs)
    return spec
