"""From a protocol to the analysed cohort: load, derive, select, check.

Load the data, derive follow-up and exposure, apply eligibility and the horizon, and check
every column the analyses name.

The order of the steps (fixed, and recorded in the report): load → follow-up time →
eligibility (in order, counted) → exposure from a score (its cut points defined on the
eligible rows) → administrative censoring at the horizon (counted per outcome).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._validation import suggest
from ..exceptions import CohortError
from ._expr import check_criterion, check_formula
from ._paths import data_file
from ._sql import FILE_LITERAL, run_query
from .methods import COLUMN_OPTIONS, FORMULA_OPTIONS, METHODS
from .schema import UNITS, Protocol, ProtocolError

__all__ = ["Cohort", "load_data", "prepare_cohort", "check_columns", "sha256_file",
           "sha256_frame"]

_FILE_LITERAL = FILE_LITERAL


@dataclass(frozen=True, kw_only=True)
class Cohort:
    """The analysed cohort and how it was obtained.

    Attributes
    ----------
    data : pandas.DataFrame
        The eligible rows, with the derived follow-up time and exposure, censored at the
        horizon.
    flow : Attrition or None
        The eligibility steps and their counts (None without ``[[eligibility]]``).
    exposure : ExposureDefinition or None
        How the exposure was derived from a score (None for an exposure column).
    horizon : pandas.DataFrame
        Per time-to-event outcome, the rows followed beyond the horizon and the events
        censored there.
    n_loaded : int
        Rows loaded.
    files : dict
        Input file name → sha256.
    frame_sha256 : str
        Hash of the loaded frame (before any step).
    reference : Any
        The exposure's reference level (``[exposure] reference``, or the derived exposure's).
    notes : tuple of str
        Remarks on the preparation (rows dropped for a missing score).
    """

    data: pd.DataFrame
    flow: Any = None
    exposure: Any = None
    horizon: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_loaded: int = 0
    files: dict[str, str] = field(default_factory=dict)
    frame_sha256: str = ""
    reference: Any = None
    notes: tuple[str, ...] = ()


def sha256_file(path: str | Path) -> str:
    """The sha256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_frame(frame: pd.DataFrame) -> str:
    """A sha256 of a frame's column names, dtypes and values (row order matters)."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- loading
def load_data(protocol: Protocol) -> tuple[pd.DataFrame, dict[str, str]]:
    """Load the ``[data]`` rows; return the frame and the input files' sha256."""
    spec = protocol.data
    if spec.dataset is not None:
        return _load_dataset(protocol), _bundled_files(spec.dataset)
    if spec.path is not None:
        path = data_file(protocol.base_dir, spec.path, "data.path",
                         protocol.data_dirs).resolve()
        if not path.is_file():
            raise ProtocolError("data.path", f"file {spec.path!r} not found (looked for {path}).",
                                "Paths are relative to the protocol file's folder.")
        return _read_file(path), {spec.path: sha256_file(path)}
    return _run_query(protocol)


def _load_dataset(protocol: Protocol) -> pd.DataFrame:
    from .. import datasets

    spec = protocol.data
    if spec.dataset == "simulated":
        seed = spec.random_state if spec.random_state is not None else protocol.study.seed
        frame = datasets.simulate_cohort(spec.n or 10_000, random_state=seed)
        frame.attrs = {}
        return frame
    return getattr(datasets, f"load_{spec.dataset}")()


def _bundled_files(dataset: str) -> dict[str, str]:
    from importlib.resources import as_file, files

    resource = files("cohortlab.datasets") / "data" / f"{dataset}.csv"
    if not resource.is_file():
        return {}
    with as_file(resource) as path:
        return {f"cohortlab/datasets/data/{dataset}.csv": sha256_file(path)}


def _read_file(path: Path) -> pd.DataFrame:
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        try:
            return pd.read_parquet(path)
        except ImportError:
            return _duckdb().execute("SELECT * FROM read_parquet(?)", [str(path)]).df()
    if suffix.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
        sep = "\t" if ".tsv" in suffix else ","
        try:
            return pd.read_csv(path, sep=sep)
        except (ValueError, pd.errors.ParserError) as exc:
            raise ProtocolError("data.path", f"could not read {path.name} ({exc}).",
                                "Check that it is a comma-separated text file.") from None
    raise ProtocolError("data.path", f"unsupported file type {path.suffix!r}.",
                        "Use a .csv or .parquet file, or a DuckDB query.")


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        raise ProtocolError("data.query", "needs DuckDB, which is not installed.",
                            "Install it with: pip install cohortlab[sql]") from None
    return duckdb.connect(":memory:")


def _run_query(protocol: Protocol) -> tuple[pd.DataFrame, dict[str, str]]:
    frame, paths = run_query(protocol.data.query or "", protocol.base_dir, protocol.data_dirs)
    return frame, {name: sha256_file(path) for name, path in paths.items()}


# ----------------------------------------------------------------------------- preparation
def _column(frame: pd.DataFrame, column: str | None, where: str) -> None:
    if column is not None and "`" in str(column):
        raise ProtocolError(where, f"column names may not contain a backtick; got {column!r}.",
                            "Rename the column in the data.")
    if column is not None and column not in frame.columns:
        hint = suggest(column, list(frame.columns), f"the data has {frame.shape[1]} columns")
        raise ProtocolError(where, f"column {column!r} not found. {hint}")


def _followup_time(frame: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    fu = protocol.followup
    if fu is None:
        return frame
    if fu.time is not None:
        _column(frame, fu.time, "followup.time")
        if not pd.api.types.is_numeric_dtype(frame[fu.time]):
            raise ProtocolError("followup.time", f"column {fu.time!r} must be numeric; got "
                                f"{frame[fu.time].dtype}.", "Use start and end for dates.")
        t = frame[fu.time].to_numpy(dtype=float)
    else:
        _column(frame, fu.start, "followup.start")
        _column(frame, fu.end, "followup.end")
        start, end = (_dates(frame, c, f"followup.{k}") for c, k in
                      ((fu.start, "start"), (fu.end, "end")))
        days = (end - start).dt.total_seconds().to_numpy(dtype=float) / 86400.0
        t = days / UNITS[fu.unit]
        frame = frame.assign(**{fu.name: t})
    bad = np.flatnonzero(t < 0)
    if bad.size:
        where = "followup.end" if fu.time is None else "followup.time"
        raise ProtocolError(where, f"{bad.size} rows end before they start (first at row "
                            f"{frame.index[bad[0]]!r}).", "Fix the dates, or exclude these "
                            "rows with an [[eligibility]] step.")
    return frame


def _dates(frame: pd.DataFrame, column: str | None, where: str) -> pd.Series:
    s = frame[column]
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    out = pd.to_datetime(s, errors="coerce", format="ISO8601")
    bad = out.isna() & s.notna()
    if bad.any():
        raise ProtocolError(where, f"column {column!r} has {int(bad.sum())} values that are "
                            f"not dates (e.g. {s[bad].iloc[0]!r}).", "Use ISO dates "
                            "(2021-03-01).")
    return out


def _eligibility(frame: pd.DataFrame, protocol: Protocol) -> tuple[pd.DataFrame, Any]:
    if not protocol.eligibility:
        return frame, None
    from ..describe.attrition import attrition

    # checked by parsing and evaluated by cohortlab's own evaluator, never DataFrame.eval
    exprs = [check_criterion(c.keep, f"eligibility[{i}].keep")
             for i, c in enumerate(protocol.eligibility)]
    for e in exprs:
        for col in e.columns:
            _column(frame, col, e.where)
    steps = [(c.name, e.evaluate) for c, e in zip(protocol.eligibility, exprs, strict=True)]
    try:
        flow = attrition(frame, steps, id=protocol.data.id)
    except CohortError as exc:
        m = re.search(r"step (\d+)", str(exc))
        i = int(m.group(1)) - 1 if m else 0
        raise ProtocolError(f"eligibility[{i}].keep", f"{exc}",
                            "Fix the expression (see the expression language in "
                            "docs/explanation/security.md).") from None
    if len(flow.data) == 0:
        raise ProtocolError("eligibility", "no rows remain after the eligibility steps.",
                            "Check the criteria against the attrition counts.")
    return flow.data, flow


def _exposure(frame: pd.DataFrame, protocol: Protocol) -> tuple[pd.DataFrame, Any]:
    fs = protocol.exposure.from_score
    if fs is None:
        _column(frame, protocol.exposure.column, "exposure.column")
        return frame, None
    from .. import exposures

    score = fs["score"]
    _column(frame, score, "exposure.from_score.score")
    name, miss = protocol.exposure.column, fs.get("missing", protocol.data.missing)
    common = dict(name=name, missing=miss)
    try:
        if "threshold" in fs:
            ex = exposures.threshold_exposure(frame, score, threshold=fs["threshold"],
                                              operator=fs.get("operator", ">="), **common)
        elif "quantiles" in fs:
            ex = exposures.quantile_exposure(frame, score, q=fs["quantiles"],
                                             reference=protocol.exposure.reference, **common)
        elif "cutpoints" in fs:
            ex = exposures.cutpoint_exposure(frame, score, cutpoints=fs["cutpoints"],
                                             reference=protocol.exposure.reference, **common)
        else:
            ex = exposures.standardized_exposure(frame, score, **common)
    except CohortError as exc:
        raise ProtocolError("exposure.from_score", str(exc), "") from None
    frame = frame.loc[ex.values.index]
    return frame.assign(**{name: ex.values}), ex


def _horizon(frame: pd.DataFrame, protocol: Protocol) -> tuple[pd.DataFrame, pd.DataFrame]:
    fu = protocol.followup
    rows: list[dict[str, Any]] = []
    tte = [o for o in protocol.outcomes if o.type in ("time_to_event", "competing")]
    original: dict[str, np.ndarray] = {}
    for o in tte:
        time = o.time or (fu.column if fu else None)
        if time is None:
            idx = protocol.outcomes.index(o)
            raise ProtocolError(f"outcomes[{idx}].time", "is required without [followup].",
                                'Write time = "..." or add [followup] with time = "...".')
        _column(frame, time, f"outcomes[{protocol.outcomes.index(o)}].time")
        _column(frame, o.event, f"outcomes[{protocol.outcomes.index(o)}].event")
        original.setdefault(time, frame[time].to_numpy(dtype=float))
    if fu is None or fu.horizon is None:
        return frame, pd.DataFrame(rows)
    times = np.concatenate(list(original.values())) if original else np.array([])
    finite = times[np.isfinite(times)]
    if finite.size and fu.horizon > finite.max():
        raise ProtocolError("followup.horizon", f"{fu.horizon:g} is beyond every follow-up "
                            f"time (the longest is {finite.max():.4g}).",
                            "Choose a horizon within the follow-up, or remove it.")
    updates: dict[str, Any] = {}
    for o in tte:
        time = o.time or fu.column
        beyond = original[time] > fu.horizon
        assert o.event is not None  # validated: a time-to-event outcome names its event
        ev = updates.get(o.event, frame[o.event].to_numpy(copy=True))
        events = frame[o.event].to_numpy()
        hit = (events == o.cause) if o.type == "competing" else (events != 0)
        rows.append(dict(outcome=o.name, time=time, event=o.event, horizon=fu.horizon,
                         n_beyond_horizon=int(beyond.sum()),
                         events_censored_at_horizon=int((beyond & hit & ~pd.isna(events)
                                                         ).sum())))
        ev = np.where(beyond, 0, ev)
        updates[o.event] = ev
    for time, t in original.items():
        updates[time] = np.minimum(t, fu.horizon)
    return frame.assign(**updates), pd.DataFrame(rows)


def prepare_cohort(protocol: Protocol) -> Cohort:
    """Load the data and apply the protocol's steps; check every named column.

    Parameters
    ----------
    protocol : Protocol

    Returns
    -------
    Cohort

    Raises
    ------
    ProtocolError
        A missing file, a misspelt column (named with its field path), an impossible
        follow-up window, or an eligibility expression that fails.
    """
    frame, files = load_data(protocol)
    if len(frame) == 0:
        raise ProtocolError("data", "the data has no rows.", "Check the file or query.")
    n_loaded, digest = len(frame), sha256_frame(frame)
    if protocol.data.id is not None:
        _column(frame, protocol.data.id, "data.id")
    frame = _followup_time(frame, protocol)
    frame, flow = _eligibility(frame, protocol)
    frame, ex = _exposure(frame, protocol)
    frame, horizon = _horizon(frame, protocol)
    check_columns(protocol, frame)
    reference = protocol.exposure.reference
    if reference is None and ex is not None:
        reference = ex.reference
    notes: tuple[str, ...] = ()
    if ex is not None and ex.dropped:
        notes = (f"exposure from {ex.source}: {ex.dropped} (missing score)",)
    return Cohort(data=frame, flow=flow, exposure=ex, horizon=horizon, n_loaded=n_loaded,
                  files=files, frame_sha256=digest, reference=reference, notes=notes)


def _covariate_set(frame: pd.DataFrame, value: Any, where: str) -> None:
    if isinstance(value, str | list | tuple):
        cols = check_formula(value, where) if isinstance(value, str) else list(value)
        for col in dict.fromkeys(cols):
            _column(frame, col, where)
    else:
        raise ProtocolError(where, f"must be a list of columns or a formula; got {value!r}.",
                            'Write e.g. ["age", "sex"] or "age + C(sex)".')


def _names(value: Any) -> Sequence[Any]:
    return [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []


def check_columns(protocol: Protocol, frame: pd.DataFrame) -> None:
    """Check that every column the outcomes, covariates, analyses and subgroups name exists."""
    for i, o in enumerate(protocol.outcomes):
        _column(frame, o.column, f"outcomes[{i}].column")
        _column(frame, o.event, f"outcomes[{i}].event")
    if protocol.covariates is not None:
        _covariate_set(frame, protocol.covariates, "covariates")
    horizon = protocol.followup.horizon if protocol.followup else None
    for a in protocol.analyses:
        for key, value in a.options.items():
            if key in FORMULA_OPTIONS and value is not None:
                _covariate_set(frame, value, f"{a.where}.options.{key}")
            elif key in COLUMN_OPTIONS:
                for col in _names(value):
                    _column(frame, col, f"{a.where}.options.{key}")
        spec = METHODS[a.method]
        needs = spec.name in ("ipw", "aipw", "tmle", "gformula", "match", "adjusted_survival")
        if needs and protocol.covariates is None and "covariates" not in a.options:
            raise ProtocolError(f"{a.where}.method", f"{a.method}() needs covariates.",
                                "Add [covariates] (a list of columns or a formula).")
        if a.method == "rmst" and "tau" not in a.options and horizon is None:
            raise ProtocolError(f"{a.where}.options.tau", "is required for rmst without a "
                                "follow-up horizon.", "Write options = { tau = 5 }.")
    for s in protocol.subgroups:
        for col in s.by:
            _column(frame, col, f"subgroups[{s.index}].by")
    bias = protocol.sensitivity.bias_analysis
    if bias is not None and bias.by is not None:
        _column(frame, bias.by, "sensitivity.bias_analysis.by")
