"""The study protocol file: a TOML document parsed into its sections and checked.

This module checks the *shape* of a protocol (sections, fields, types, allowed values,
cross-references between sections, analysis options against each verb's signature). Checks
that need the data (columns exist, follow-up windows) live in :mod:`cohortlab.protocol.load`.

Every problem raises :class:`ProtocolError`, whose message starts with the field path
(``analyses[1].options.covariates``; array indices count from 0) and ends with how to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from .._typing import Missing
from . import sections
from ._expr import check_criterion, check_formula, check_formulas
from ._fields import (  # noqa: F401
    _array,
    _choice,
    _data_source,
    _entries,
    _get,
    _str_list,
    _table,
    _unique_names,
    read_toml,
)
from ._labels import parse_labels
from .sections import (
    DATASETS,
    FIGURE_FORMATS,
    OUTCOME_TYPES,
    TABLE_FORMATS,
    UNITS,
    Analysis,
    AnalysisError,  # noqa: F401 (re-exported: in sections.__all__)
    BiasSpec,
    Criterion,
    DataSpec,
    ExposureSpec,
    FollowUp,
    Outcome,
    Outputs,
    Protocol,
    ProtocolError,
    Sensitivity,
    Study,
    SubgroupSpec,
    close_matches,
)

__all__ = ["parse_protocol", "read_protocol"]
__all__ += sections.__all__  # the section types and errors, re-exported

# ----------------------------------------------------------------------------- field readers
_SECTIONS = ("study", "data", "eligibility", "followup", "exposure", "outcomes", "covariates",
             "analyses", "subgroups", "sensitivity", "outputs", "labels", "longitudinal")


# ----------------------------------------------------------------------------- sections
def _study(raw: Mapping[str, Any]) -> Study:
    d = _table(raw.get("study", {}), "study", ("title", "description", "question", "seed"),
               ("title",))
    seed = _get(d, "seed", "study", int, 0)
    if seed < 0:
        raise ProtocolError("study.seed", f"must be a non-negative integer; got {seed}.",
                            "Write e.g. seed = 2024.")
    return Study(title=_get(d, "title", "study", str), seed=seed,
                 description=_get(d, "description", "study", str, ""),
                 question=_get(d, "question", "study", str, ""))


def _data(raw: Mapping[str, Any]) -> DataSpec:
    d = _table(raw.get("data"), "data", ("path", "dataset", "query", "n", "random_state", "id",
                                         "missing"))
    dataset, n = _data_source(d, ("path", "dataset", "query"),
                              'Write e.g. path = "cohort.csv" or dataset = "nhefs".', DATASETS,
                              ("n", "random_state"), 5000)
    return DataSpec(path=_get(d, "path", "data", str), dataset=dataset,
                    query=_get(d, "query", "data", str), n=n,
                    random_state=_get(d, "random_state", "data", int),
                    id=_get(d, "id", "data", str),
                    missing=cast(Missing, _choice(d.get("missing", "raise"), "data.missing",
                                                  ("raise", "drop"))))


def _eligibility(raw: Mapping[str, Any]) -> tuple[Criterion, ...]:
    out = []
    for i, item in enumerate(_array(raw, "eligibility")):
        path = f"eligibility[{i}]"
        d = _table(item, path, ("name", "keep"), ("name", "keep"))
        keep = _get(d, "keep", path, str)
        check_criterion(keep, f"{path}.keep")
        out.append(Criterion(name=_get(d, "name", path, str), keep=keep))
    return tuple(out)


def _followup(raw: Mapping[str, Any]) -> FollowUp | None:
    if "followup" not in raw:
        return None
    p = "followup"
    d = _table(raw["followup"], p, ("time", "start", "end", "unit", "horizon", "time_zero",
                                    "name"))
    has_time, has_dates = "time" in d, ("start" in d or "end" in d)
    if has_time == has_dates or (has_dates and not ("start" in d and "end" in d)):
        raise ProtocolError(p, "needs either time, or both start and end.",
                            'Write time = "futime", or start = "entry_date" and end = "exit_date".')
    horizon = _get(d, "horizon", p, (int, float))
    if horizon is not None and not horizon > 0:
        raise ProtocolError("followup.horizon", f"must be positive; got {horizon}.",
                            "Give the administrative end of follow-up in the time unit.")
    return FollowUp(time=_get(d, "time", p, str), start=_get(d, "start", p, str),
                    end=_get(d, "end", p, str),
                    unit=_choice(d.get("unit", "days"), "followup.unit", tuple(UNITS)),
                    horizon=None if horizon is None else float(horizon),
                    time_zero=_get(d, "time_zero", p, str, ""),
                    name=_get(d, "name", p, str, "followup_time"))


_SCORE_RULES = ("threshold", "quantiles", "cutpoints", "per_sd")


def _exposure(raw: Mapping[str, Any]) -> ExposureSpec:
    p = "exposure"
    d = _table(raw.get("exposure"), p, ("column", "reference", "from_score", "label"))
    fs = d.get("from_score")
    if fs is not None:
        fs = _table(fs, "exposure.from_score", ("score", "operator", "missing") + _SCORE_RULES,
                    ("score",))
        rules = [k for k in _SCORE_RULES if k in fs]
        if len(rules) != 1:
            raise ProtocolError("exposure.from_score", f"needs exactly one of "
                                f"{list(_SCORE_RULES)}; got {rules}.",
                                "Write e.g. from_score = { score = \"af_score\", "
                                "threshold = 0.5 }.")
        column = _get(d, "column", p, str, f"{fs['score']}_exposure")
    else:
        if "column" not in d:
            raise ProtocolError("exposure.column", "is required.",
                                'Write column = "treated" (or give from_score).')
        column = _get(d, "column", p, str)
    return ExposureSpec(column=column, reference=d.get("reference"),
                        from_score=None if fs is None else MappingProxyType(fs),
                        label=_get(d, "label", p, str, ""))


def _outcomes(raw: Mapping[str, Any]) -> tuple[Outcome, ...]:
    out: list[Outcome] = []
    for i, item in enumerate(_entries(raw, "outcomes", "name, type and column (or event)")):
        p = f"outcomes[{i}]"
        d = _table(item, p, ("name", "type", "column", "time", "event", "cause", "rare"),
                   ("name", "type"))
        kind = _choice(d["type"], f"{p}.type", OUTCOME_TYPES)
        tte = kind in ("time_to_event", "competing")
        need, avoid = (("event",), ("column",)) if tte else (("column",), ("time", "event",
                                                                          "cause"))
        for key in need:
            if key not in d:
                raise ProtocolError(f"{p}.{key}", f"is required for type = {kind!r}.",
                                    f'Write {key} = "..." naming the column.')
        for key in avoid:
            if key in d:
                raise ProtocolError(f"{p}.{key}", f"is not used with type = {kind!r}.",
                                    f"Remove {key}.")
        if kind == "competing" and "cause" not in d:
            raise ProtocolError(f"{p}.cause", "is required for type = 'competing'.",
                                "Write cause = 1 (the event code of interest).")
        if kind == "time_to_event" and "cause" in d:
            raise ProtocolError(f"{p}.cause", "is only used with type = 'competing'.",
                                "Remove cause, or use type = \"competing\".")
        out.append(Outcome(name=_get(d, "name", p, str), type=kind,
                           column=_get(d, "column", p, str), time=_get(d, "time", p, str),
                           event=_get(d, "event", p, str), cause=_get(d, "cause", p, int),
                           rare=_get(d, "rare", p, bool)))
    _unique_names([o.name for o in out], "outcomes", "Rename them.")
    return tuple(out)


def _covariates(raw: Mapping[str, Any]) -> str | tuple[str, ...] | None:
    value = raw.get("covariates")
    if value is None or isinstance(value, str):
        if value is not None:
            check_formula(value, "covariates")
        return value
    if isinstance(value, Mapping):
        d = _table(value, "covariates", ("formula", "columns"))
        if len(d) != 1:
            raise ProtocolError("covariates", "give one of formula or columns.",
                                'Write covariates = "age + sex" or covariates = ["age", "sex"].')
        formula = _get(d, "formula", "covariates", str)
        if formula is not None:
            check_formula(formula, "covariates.formula")
            return formula
        columns = _str_list(d, "columns", "covariates")
        check_formulas(columns, "covariates.columns")
        return columns
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        check_formulas(value, "covariates")
        return tuple(value)
    raise ProtocolError("covariates", f"must be a formula string or a list of columns; "
                        f"got {value!r}.", 'Write covariates = ["age", "sex"].')


def _analyses(raw: Mapping[str, Any], outcomes: tuple[Outcome, ...]) -> tuple[Analysis, ...]:
    from .methods import FORMULA_OPTIONS, METHODS, check_method_options

    names = [o.name for o in outcomes]
    out: list[Analysis] = []
    for i, item in enumerate(_entries(raw, "analyses", "name, method and outcomes")):
        p = f"analyses[{i}]"
        d = _table(item, p, ("name", "method", "outcomes", "estimand", "at", "options"),
                   ("name", "method"))
        method = _get(d, "method", p, str)
        if method not in METHODS:
            raise ProtocolError(f"{p}.method", f"unknown method {method!r}.",
                                close_matches(method, sorted(METHODS)))
        spec = METHODS[method]
        wanted = _str_list(d, "outcomes", p) or tuple(
            o.name for o in outcomes if o.type in spec.outcome_types)
        if not wanted:
            raise ProtocolError(f"{p}.outcomes", f"no outcome fits method {method!r}.",
                                f"It takes {sorted(spec.outcome_types)} outcomes.")
        for name in wanted:
            if name not in names:
                raise ProtocolError(f"{p}.outcomes", f"unknown outcome {name!r}.",
                                    close_matches(name, names))
        for name in wanted:
            kind = next(o.type for o in outcomes if o.name == name)
            if kind not in spec.outcome_types:
                raise ProtocolError(f"{p}.outcomes", f"method {method!r} does not take the "
                                    f"{kind} outcome {name!r}.",
                                    f"It takes {sorted(spec.outcome_types)} outcomes; list "
                                    "only those in outcomes = [...].")
        at = d.get("at", [])
        at = [at] if isinstance(at, int | float) and not isinstance(at, bool) else at
        if not isinstance(at, list) or not all(isinstance(v, int | float) and v >= 0
                                               for v in at):
            raise ProtocolError(f"{p}.at", f"must be a list of non-negative times; got {at!r}.",
                                "Write e.g. at = [1, 3, 5].")
        options = d.get("options", {})
        if not isinstance(options, Mapping):
            raise ProtocolError(f"{p}.options", f"must be a table; got {options!r}.",
                                'Write e.g. options = { variance = "robust" }.')
        options = dict(options)
        check_method_options(method, options, f"{p}.options")
        for key, value in options.items():
            if key in FORMULA_OPTIONS or key.endswith("covariates"):
                check_formulas(value, f"{p}.options.{key}")
        out.append(Analysis(name=_get(d, "name", p, str), method=method, outcomes=wanted,
                            estimand=_get(d, "estimand", p, str),
                            at=tuple(float(v) for v in at),
                            options=MappingProxyType(options), index=i))
    _unique_names([a.name for a in out], "analyses", "Rename them.")
    return tuple(out)


def _subgroups(raw: Mapping[str, Any], analyses: tuple[Analysis, ...]
               ) -> tuple[SubgroupSpec, ...]:
    from .methods import METHODS

    names = [a.name for a in analyses]
    out = []
    for i, item in enumerate(_array(raw, "subgroups")):
        p = f"subgroups[{i}]"
        d = _table(item, p, ("analysis", "by", "min_events"), ("analysis", "by"))
        name = _get(d, "analysis", p, str)
        if name not in names:
            raise ProtocolError(f"{p}.analysis", f"unknown analysis {name!r}.",
                                close_matches(name, names))
        method = analyses[names.index(name)].method
        if not METHODS[method].subgroups:
            raise ProtocolError(f"{p}.analysis", f"method {method!r} of {name!r} gives no "
                                "single effect to compare across subgroups.",
                                "Use an effect method (crude_effect, ipw, aipw, tmle, "
                                "gformula) or cox.")
        out.append(SubgroupSpec(analysis=name, by=_str_list(d, "by", p) or (),
                                min_events=_get(d, "min_events", p, int), index=i))
    return tuple(out)


def _sensitivity(raw: Mapping[str, Any], analyses: tuple[Analysis, ...]) -> Sensitivity:
    from .methods import METHODS

    if "sensitivity" not in raw:
        return Sensitivity()
    d = _table(raw["sensitivity"], "sensitivity", ("evalue", "bias_analysis"))
    bias = None
    if "bias_analysis" in d:
        p = "sensitivity.bias_analysis"
        b = _table(d["bias_analysis"], p, ("analysis", "outcome", "sensitivity", "specificity",
                                           "n_sims", "by"),
                   ("analysis", "sensitivity", "specificity"))
        names = [a.name for a in analyses]
        name = _get(b, "analysis", p, str)
        if name not in names:
            raise ProtocolError(f"{p}.analysis", f"unknown analysis {name!r}.",
                                close_matches(name, names))
        a = analyses[names.index(name)]
        if not METHODS[a.method].bias:
            raise ProtocolError(f"{p}.analysis", f"method {a.method!r} cannot be bias-"
                                "analysed.", "Use crude_effect, ipw, aipw, tmle or gformula.")
        outcome = _get(b, "outcome", p, str, a.outcomes[0])
        if outcome not in a.outcomes:
            raise ProtocolError(f"{p}.outcome", f"{outcome!r} is not an outcome of {name!r}.",
                                close_matches(outcome, a.outcomes))
        for key in ("sensitivity", "specificity"):
            _rate(b[key], f"{p}.{key}")
        n_sims = _get(b, "n_sims", p, int, 200)
        if n_sims < 10:
            raise ProtocolError(f"{p}.n_sims", f"must be at least 10; got {n_sims}.",
                                "Write e.g. n_sims = 200.")
        bias = BiasSpec(analysis=name, outcome=outcome, sensitivity=b["sensitivity"],
                        specificity=b["specificity"], n_sims=n_sims, by=_get(b, "by", p, str))
    return Sensitivity(evalue=_get(d, "evalue", "sensitivity", bool, False), bias_analysis=bias)


def _rate(value: Any, path: str) -> None:
    vals = value if isinstance(value, list) else [value]
    ok = (len(vals) in (1, 2) and all(isinstance(v, int | float) and not isinstance(v, bool)
                                      and 0 < v <= 1 for v in vals))
    if not ok:
        raise ProtocolError(path, f"must be a rate in (0, 1] or a [low, high] interval; got "
                            f"{value!r}.", "Write e.g. sensitivity = [0.80, 0.92].")


def _outputs(raw: Mapping[str, Any]) -> Outputs:
    if "outputs" not in raw:
        return Outputs()
    p = "outputs"
    d = _table(raw["outputs"], p, ("tables", "figures", "report"))
    tables = _str_list(d, "tables", p)
    figures = _str_list(d, "figures", p)
    for i, t in enumerate(tables or ()):
        _choice(t, f"{p}.tables[{i}]", TABLE_FORMATS)
    for i, f in enumerate(figures or ()):
        _choice(f, f"{p}.figures[{i}]", FIGURE_FORMATS)
    default = Outputs()
    return Outputs(tables=default.tables if tables is None else tables,
                   figures=default.figures if figures is None else figures,
                   report=_get(d, "report", p, bool, True))


# ----------------------------------------------------------------------------- entry points
def parse_protocol(raw: Mapping[str, Any], *, base_dir: str | Path = ".", text: str = "",
                   source: str = "<string>", data_dirs: Sequence[str | Path] = ()
                   ) -> Protocol:
    """Check the shape of a protocol (a parsed TOML document) and return a :class:`Protocol`.

    Parameters
    ----------
    raw : mapping
        The TOML document as returned by :func:`tomllib.loads`.
    base_dir : str or Path
        Directory against which relative data paths are resolved.
    text : str
        The protocol's text (kept for provenance).
    source : str
        Where the text came from (a file name), for messages.
    data_dirs : sequence of str or Path
        Folders outside ``base_dir`` the protocol may read data from, granted by whoever
        runs it (see :mod:`cohortlab.protocol._paths`); the file itself cannot grant any.

    Returns
    -------
    Protocol

    Raises
    ------
    ProtocolError
        With the field path, what is wrong and how to fix it.

    Examples
    --------
    >>> doc = {"study": {"title": "t"}, "data": {"dataset": "nhefs"},
    ...        "exposure": {"column": "qsmk"},
    ...        "outcomes": [{"name": "wt", "type": "continuous", "column": "wt82_71"}],
    ...        "analyses": [{"name": "crude", "method": "crude_effect"}]}
    >>> parse_protocol(doc).analyses[0].outcomes
    ('wt',)
    >>> parse_protocol({**doc, "analyses": [{"name": "x", "method": "ipww"}]})
    Traceback (most recent call last):
    ...
    cohortlab.protocol.sections.ProtocolError: analyses[0].method: unknown method 'ipww'. ...
    """
    if "target_trial" in raw:
        raise ProtocolError("target_trial", "a target-trial protocol is read by "
                            "cohortlab.protocol.targettrial.read_target_trial_protocol.",
                            "Run it with `cohortlab run` (which reads either kind).")
    for key in raw:
        if key not in _SECTIONS:
            raise ProtocolError(key, "unknown section.", close_matches(key, _SECTIONS))
    dirs = tuple(Path(d).expanduser().resolve() for d in data_dirs)
    if "longitudinal" in raw:  # person-period data and g-methods (protocol._longitudinal)
        from ._longitudinal import check_longitudinal

        spec = check_longitudinal(raw, base_dir, dirs)
        return Protocol(study=_study(raw), data=DataSpec(), eligibility=(), followup=None,
                        exposure=ExposureSpec(column=spec.treatment), outcomes=(),
                        covariates=None, analyses=(), outputs=_outputs(raw),
                        labels=parse_labels(raw.get("labels")), base_dir=Path(base_dir),
                        text=text, source=source, longitudinal=spec, data_dirs=dirs)
    for key in ("study", "data", "exposure"):
        if key not in raw:
            raise ProtocolError(key, "section is required.", f"Add a [{key}] table.")
    outcomes = _outcomes(raw)
    analyses = _analyses(raw, outcomes)
    return Protocol(study=_study(raw), data=_data(raw), eligibility=_eligibility(raw),
                    followup=_followup(raw), exposure=_exposure(raw), outcomes=outcomes,
                    covariates=_covariates(raw), analyses=analyses,
                    subgroups=_subgroups(raw, analyses),
                    sensitivity=_sensitivity(raw, analyses), outputs=_outputs(raw),
                    labels=parse_labels(raw.get("labels")), base_dir=Path(base_dir),
                    text=text, source=source, data_dirs=dirs)


def read_protocol(path: str | Path, *, data_dirs: Sequence[str | Path] = ()) -> Protocol:
    """Read a protocol TOML file and check its shape (not yet its data).

    Parameters
    ----------
    path : str or Path
        The ``study.toml`` file. Relative data paths are resolved against its directory.
    data_dirs : sequence of str or Path
        Folders outside the protocol's folder it may read data from (granted by the caller).

    Returns
    -------
    Protocol

    Raises
    ------
    ProtocolError
        If the file is missing, is not valid TOML, or its shape is wrong.
    """
    raw, text = read_toml(path)
    return parse_protocol(raw, base_dir=Path(path).resolve().parent, text=text,
                          source=str(path), data_dirs=data_dirs)
