"""Run a ``[longitudinal]`` protocol: load the person-period data, derive, validate, analyse.

The order of the steps (fixed, and recorded in the report): load (a file inside the study
folder, long or wide, or ``cl.simulate_longitudinal``) → wide to long with
``person_period`` → ``validate_person_period`` (every problem in one message) → treatment
from a score (``time_varying_exposure``) → features (lags, cumulative exposure, time since
initiation, ever treated) → Table 1 at baseline (period-0 rows) and the by-period table →
each analysis (``msm``,
``gformula_tv``) with the section's columns and the analysis' options.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import CohortError
from ._longitudinal import LongAnalysis, LongitudinalSpec, P
from ._paths import data_file
from .sections import AnalysisError, Protocol, ProtocolError

__all__ = ["LongCohort", "LongResults", "prepare_longitudinal", "analyse_longitudinal"]

Log = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class LongCohort:
    """The person-period data of a longitudinal protocol and how it was obtained."""

    data: pd.DataFrame
    n_loaded: int
    n_persons: int
    n_periods: int
    files: dict[str, str] = field(default_factory=dict)
    frame_sha256: str = ""
    exposure: Any = None  # TimeVaryingExposure when the treatment comes from a score
    truth: pd.DataFrame | None = None  # true risks of the simulated cohort
    steps: tuple[str, ...] = ()


@dataclass(kw_only=True)
class LongResults:
    """Everything a longitudinal run computed, before anything is written."""

    protocol: Protocol
    cohort: LongCohort
    table1: Any = None
    by_period: Any = None
    analyses: list[tuple[LongAnalysis, Any]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    started: str = ""


# ----------------------------------------------------------------------------- loading
def _load(protocol: Protocol) -> tuple[pd.DataFrame, dict[str, str], pd.DataFrame | None]:
    from .load import _read_file, sha256_file

    spec: LongitudinalSpec = protocol.longitudinal
    d = spec.data
    if d.dataset is not None:
        from ..datasets import simulate_longitudinal

        seed = d.random_state if d.random_state is not None else protocol.study.seed
        frame = simulate_longitudinal(d.n, d.n_periods, random_state=seed)
        truth = frame.attrs.get("truth")
        frame.attrs = {}
        return frame, {}, truth
    assert d.path is not None  # parsed: exactly one of path, dataset
    path = data_file(protocol.base_dir, d.path, f"{P}.data.path", protocol.data_dirs).resolve()
    if not path.is_file():
        raise ProtocolError(f"{P}.data.path", f"file {d.path!r} not found (looked for "
                            f"{path}).", "Paths are relative to the protocol file's folder.")
    try:
        frame = _read_file(path)
    except ProtocolError as exc:
        raise ProtocolError(f"{P}.data.path", str(exc).split(": ", 1)[-1]) from None
    return frame, {d.path: sha256_file(path)}, None


def _column(frame: pd.DataFrame, column: str | None, where: str) -> None:
    from .load import _column as check

    check(frame, column, where)


def _wide(frame: pd.DataFrame, spec: LongitudinalSpec) -> pd.DataFrame:
    from ..longitudinal.person_period import person_period

    d = spec.data
    stems = list(d.stems) or [c for c in (*spec.time_varying, spec.treatment, spec.outcome,
                                          spec.censor, spec.competing) if c]
    if spec.treatment_from_score is not None and not d.stems:
        stems = [s for s in stems if s != spec.treatment] + [spec.treatment_from_score.score]
    _column(frame, spec.id, f"{P}.id")
    for i, col in enumerate(spec.baseline):
        _column(frame, col, f"{P}.baseline[{i}]")
    try:
        return person_period(frame, id=spec.id, time_varying=stems,
                             baseline=list(spec.baseline) or None, sep=d.sep,
                             period=spec.period, last_period=d.last_period)
    except CohortError as exc:
        raise ProtocolError(f"{P}.data", f"the wide data could not be made long: {exc}",
                            "Check stems, sep and last_period in [longitudinal.data].") from None


def _score(frame: pd.DataFrame, spec: LongitudinalSpec) -> tuple[pd.DataFrame, Any]:
    rule = spec.treatment_from_score
    if rule is None:
        return frame, None
    from ..longitudinal.exposure import time_varying_exposure

    where = f"{P}.treatment_from_score"
    _column(frame, rule.score, f"{where}.score")
    if spec.treatment in frame.columns:
        raise ProtocolError(f"{P}.treatment", f"the data already has a column "
                            f"{spec.treatment!r}, which the score rule would replace.",
                            "Name the derived treatment differently (treatment = \"...\").")
    try:
        ex = time_varying_exposure(frame, rule.score, id=spec.id, period=spec.period,
                                   threshold=rule.threshold, operator=rule.operator,  # type: ignore[arg-type]
                                   consecutive=rule.consecutive, monotone=rule.monotone,
                                   delay=rule.delay, name=spec.treatment)
    except CohortError as exc:
        raise ProtocolError(where, str(exc)) from None
    return frame.assign(**{spec.treatment: ex.values}), ex


def _features(frame: pd.DataFrame, spec: LongitudinalSpec) -> pd.DataFrame:
    from ..longitudinal import features as F

    new: dict[str, Any] = {}
    for f in spec.features:
        where = f"{P}.features[{f.index}]"
        if f.name in frame.columns:
            raise ProtocolError(f"{where}.name", f"the data already has a column {f.name!r}.",
                                "Give the feature another name = \"...\".")
        _column(frame.assign(**new), f.column, f"{where}.column")
        data = frame.assign(**new)
        common: dict[str, Any] = dict(id=spec.id, period=spec.period)
        try:
            if f.kind == "lag":
                kw: dict[str, Any] = {} if f.fill is None else {"fill": f.fill}
                s = F.lag(data, f.column, k=f.k, **common, **kw)
            elif f.kind == "time_since_initiation":
                s = F.time_since_initiation(data, f.column, **common)
            else:
                fn = F.cumulative_exposure if f.kind == "cumulative_exposure" else F.ever_treated
                kw = {} if f.include_current is None else {"include_current": f.include_current}
                s = fn(data, f.column, **common, **kw)
        except CohortError as exc:
            raise ProtocolError(where, str(exc)) from None
        new[f.name] = s.to_numpy()
    return frame.assign(**new) if new else frame


def prepare_longitudinal(protocol: Protocol) -> LongCohort:
    """Load, reshape, derive and validate the person-period data of a longitudinal protocol.

    Raises
    ------
    ProtocolError
        A missing or escaping file, a misspelt column (with its field path), or every
        problem :func:`~cohortlab.validate_person_period` finds, in one message.
    """
    from ..longitudinal.validate import validate_person_period
    from .load import sha256_frame

    spec: LongitudinalSpec = protocol.longitudinal
    frame, files, truth = _load(protocol)
    if len(frame) == 0:
        raise ProtocolError(f"{P}.data", "the data has no rows.", "Check the file.")
    n_loaded, digest = len(frame), sha256_frame(frame)
    steps = [f"loaded {n_loaded:,} rows"]
    if spec.data.layout == "wide":
        frame = _wide(frame, spec)
        steps.append(f"wide to long: {len(frame):,} person-periods")
    derived = spec.treatment_from_score is not None
    for key, col in spec.columns().items():
        if not (derived and key == "treatment"):
            _column(frame, col, f"{P}.{key}")
    for key in ("time_varying", "baseline"):
        for i, col in enumerate(getattr(spec, key)):
            _column(frame, col, f"{P}.{key}[{i}]")
    try:
        validate_person_period(frame, id=spec.id, period=spec.period,
                               treatment=None if derived else spec.treatment,
                               outcome=spec.outcome, censor=spec.censor,
                               competing=spec.competing, baseline=list(spec.baseline) or None)
    except CohortError as exc:
        raise ProtocolError(f"{P}.data", f"the person-period data do not pass the checks "
                            f"(the columns named in [longitudinal]). {exc}") from None
    steps.append("validate_person_period: no problems")
    frame, ex = _score(frame, spec)
    if ex is not None:
        steps.append(ex.describe())
    frame = _features(frame, spec)
    if spec.features:
        steps.append("features: " + ", ".join(f"{f.name} ({f.kind.replace('_', ' ')} of "
                                              f"{f.column})" for f in spec.features))
    _option_columns(frame, spec)
    periods = frame[spec.period].to_numpy()
    return LongCohort(data=frame, n_loaded=n_loaded, n_persons=int(frame[spec.id].nunique()),
                      n_periods=int(periods.max() - periods.min() + 1), files=files,
                      frame_sha256=digest, exposure=ex, truth=truth, steps=tuple(steps))


def _option_columns(frame: pd.DataFrame, spec: LongitudinalSpec) -> None:
    """The horizons are periods of the data; every column an analysis option names exists."""
    from .methods import formula_columns

    last = int(frame[spec.period].max())
    for a in spec.analyses:
        for h in a.horizons:
            if h > last:
                raise ProtocolError(f"{a.where}.horizons", f"period {h} is beyond the last "
                                    f"period ({last}).", f"Choose horizons between 0 and "
                                    f"{last}.")
        where = f"{a.where}.options"
        if a.method == "msm":
            for key in ("covariates", "numerator", "censor_covariates"):
                value = a.options.get(key)
                if value is None:
                    continue
                cols = formula_columns(value if isinstance(value, str) else list(value))
                for col in cols:
                    _column(frame, col, f"{where}.{key}")
        else:
            for key in ("covariates", "models"):
                for col in a.options.get(key, {}):
                    _column(frame, col, f"{where}.{key}.{col}")


# ----------------------------------------------------------------------------- analyses
def _horizons(a: LongAnalysis, cohort: LongCohort, spec: LongitudinalSpec) -> list[int]:
    last = int(cohort.data[spec.period].max())
    for h in a.horizons:
        if h > last:
            raise ProtocolError(f"{a.where}.horizons", f"period {h} is beyond the last period "
                                f"({last}).", f"Choose horizons between 0 and {last}.")
    return list(a.horizons) or [last]


def _covariate_types(frame: pd.DataFrame, names: list[str]) -> tuple[dict[str, str], str]:
    types = {}
    for c in names:
        x = pd.to_numeric(frame[c], errors="coerce")
        types[c] = "binary" if bool(x.dropna().isin([0, 1]).all()) else "normal"
    note = ("time-varying covariate types inferred from the data (0/1: binary, else normal): "
            + ", ".join(f"{k} {v}" for k, v in types.items()))
    return types, note


def call_arguments(protocol: Protocol, cohort: LongCohort, a: LongAnalysis
                   ) -> tuple[dict[str, Any], list[str]]:
    """The keyword arguments with which the analysis' verb is called, and notes."""
    spec: LongitudinalSpec = protocol.longitudinal
    notes: list[str] = []
    kw: dict[str, Any] = dict(id=spec.id, period=spec.period, treatment=spec.treatment,
                              outcome=spec.outcome, competing=spec.competing,
                              censor=spec.censor, random_state=protocol.study.seed)
    options = dict(a.options)
    if a.method == "msm":
        kw.update(baseline=list(spec.baseline) or None, horizons=_horizons(a, cohort, spec))
        if "covariates" not in options:
            kw["covariates"] = [*spec.time_varying, *spec.baseline]
    else:
        kw.update(baseline=list(spec.baseline), strategies=dict(a.strategies),
                  reference=a.reference)
        if "covariates" not in options:
            kw["covariates"], note = _covariate_types(cohort.data, list(spec.time_varying))
            notes.append(note)
    kw.update(options)
    return kw, notes


def _run_one(protocol: Protocol, cohort: LongCohort, a: LongAnalysis) -> tuple[Any, list[str]]:
    import cohortlab

    kw, notes = call_arguments(protocol, cohort, a)
    if a.method == "gformula_tv":
        _horizons(a, cohort, protocol.longitudinal)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = getattr(cohortlab, a.method)(cohort.data, **kw)
        except (ValueError, TypeError) as exc:
            raise AnalysisError(f"{a.where} ({a.name})", f"{a.method}() failed: {exc}"
                                ) from exc
    notes += [str(w.message) for w in caught]
    return result, notes


def _describe(protocol: Protocol, cohort: LongCohort) -> tuple[Any, Any]:
    from ..describe.table1 import table1
    from ..longitudinal.by_period import by_period_table

    spec: LongitudinalSpec = protocol.longitudinal
    frame = cohort.data
    base = frame.loc[frame[spec.period] == frame[spec.period].min()]
    covs = [*spec.baseline, *spec.time_varying]
    if spec.treatment_from_score is not None:
        covs.append(spec.treatment_from_score.score)
    labels = protocol.labels.labels
    t1 = None
    if covs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t1 = table1(base, by=spec.treatment, columns=covs, labels=labels,
                        missing="drop" if base[covs].isna().any().any() else "raise")
    covs += [f.name for f in spec.features]
    numeric = [c for c in covs if pd.api.types.is_numeric_dtype(frame[c])]
    bp = by_period_table(frame, id=spec.id, period=spec.period, treatment=spec.treatment,
                         outcome=spec.outcome, censor=spec.censor, competing=spec.competing,
                         covariates=numeric or None, labels=labels)
    return t1, bp


def analyse_longitudinal(protocol: Protocol, cohort: LongCohort | None = None, *,
                         log: Log | None = None) -> LongResults:
    """Compute every number a longitudinal protocol asks for; write nothing."""
    log = log or (lambda _msg: None)
    started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    if cohort is None:
        log("loading and checking the person-period data")
        cohort = prepare_longitudinal(protocol)
    log(f"cohort: {cohort.n_persons:,} persons, {len(cohort.data):,} person-periods, "
        f"{cohort.n_periods} periods")
    res = LongResults(protocol=protocol, cohort=cohort, started=started)
    res.table1, res.by_period = _describe(protocol, cohort)
    for a in protocol.longitudinal.analyses:
        log(f"analysis {a.name}: {a.method}()")
        result, notes = _run_one(protocol, cohort, a)
        res.analyses.append((a, result))
        res.notes += [(a.name, n) for n in dict.fromkeys([*notes, *result.notes])]
    return res


def risks_at(curve: Any, horizons: list[int]) -> pd.DataFrame:
    """A risk curve's rows at the horizons (group, period, risk, SE, interval)."""
    d = curve.data
    d = d.loc[np.isin(d["time"].to_numpy(dtype=float), np.asarray(horizons, dtype=float))]
    out = d[["group", "time", "estimate", "std_error", "conf_low", "conf_high"]].copy()
    out = out.rename(columns={"group": "strategy", "time": "period", "estimate": "risk"})
    out["strategy"] = out["strategy"].astype(str)
    out["period"] = out["period"].astype(int)
    return out.reset_index(drop=True)
