"""The ``[target_trial]`` protocol: a target trial specified in TOML, validated, run, reported.

A target-trial protocol has ``[study]``, ``[data]``, ``[target_trial]`` (with sub-tables
named after the protocol components of TARGET) and optionally ``[labels]`` and
``[outputs]``; ``cohortlab validate`` checks it against the person-period data and
``cohortlab run`` emulates the trial and writes the TARGET report::

    [target_trial]
    title = "Initiating treatment and the 1-year risk of the outcome"
    id = "id"
    period = "period"
    unit = "months"
    time_zero = "the first month a person meets the criteria"
    new_users = true                 # eligible only before any treatment

    [[target_trial.eligibility]]
    name = "confounder below 3"
    keep = "L < 3"                   # the protocol's expression language, never eval

    [target_trial.strategies]
    treatment = "A"
    grace = 0
    treat = { name = "initiate", description = "start treatment in the month of time zero" }
    control = { name = "do not initiate", description = "do not start treatment" }

    [target_trial.assignment]
    covariates = ["L", "V"]          # confounders at time zero
    switch_covariates = ["L"]        # time-varying confounders of adherence

    [target_trial.followup]
    periods = 12
    censor = "C"

    [target_trial.outcome]
    column = "Y"
    label = "the outcome"
    competing = "D"

    [target_trial.contrast]
    estimand = "per_protocol"        # or "itt"

    [target_trial.analysis]
    estimator = "sequential_trials"  # or "clone_censor_weight"
    truncate = [0.01, 0.99]
    variance = "robust"              # or "bootstrap"
    horizons = [5, 11]               # follow-up periods, 0 = the first

Data come from ``[data] dataset = "simulated"`` (:func:`cohortlab.simulate_longitudinal`,
with ``n`` and ``random_state``) or ``path`` (a CSV or Parquet file inside the study folder
or a folder granted with ``--data-dir``: a path that leads elsewhere, through ``..``, an
absolute path or a symbolic link, is refused).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._validation import check_truncate
from ..exceptions import CohortError, DataValidationError
from ._fields import _data_source, read_toml
from ._labels import ReportLabels, parse_labels
from ._paths import data_file
from .schema import _choice, _get, _outputs, _str_list, _study, _table
from .sections import DataSpec, Outputs, ProtocolError, Study, close_matches

__all__ = ["TargetTrialProtocol", "is_target_trial", "parse_target_trial_protocol",
           "read_target_trial_protocol", "load_trial_data", "validate_target_trial_protocol",
           "run_target_trial_protocol"]

_SECTIONS = ("study", "data", "target_trial", "labels", "outputs")
_TT = ("title", "id", "period", "unit", "time_zero", "new_users", "eligibility",
       "strategies", "assignment", "followup", "outcome", "contrast", "analysis")
_UNITS = ("days", "weeks", "months", "quarters", "years")
Log = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class TargetTrialProtocol:
    """A parsed target-trial protocol: study, data, the specification, labels, outputs."""

    study: Study
    data: DataSpec
    spec: Any  # cohortlab.trials.spec.TargetTrial
    labels: ReportLabels = field(default_factory=ReportLabels)
    outputs: Outputs = field(default_factory=Outputs)
    n_periods: int = 12
    base_dir: Path = Path(".")
    text: str = ""
    source: str = "<string>"
    data_dirs: tuple[Path, ...] = ()  # granted by whoever runs it (--data-dir), never the file


def is_target_trial(path: str | Path) -> bool:
    """Whether ``path`` is a readable TOML protocol with a ``[target_trial]`` section."""
    try:
        raw, _ = read_toml(path)
    except ProtocolError:
        return False
    return "target_trial" in raw


# ----------------------------------------------------------------------------- parsing
def _data(raw: Mapping[str, Any]) -> tuple[DataSpec, int]:
    d = _table(raw.get("data"), "data", ("path", "dataset", "n", "n_periods", "random_state"))
    dataset, n = _data_source(d, ("path", "dataset"), 'Write e.g. path = '
                              '"person_periods.parquet" or dataset = "simulated".',
                              ("simulated",), ("n", "n_periods", "random_state"), 2000)
    n_periods = _get(d, "n_periods", "data", int, 12)
    if n_periods < 1:
        raise ProtocolError("data.n_periods", f"must be at least 1; got {n_periods}.",
                            "Write e.g. n_periods = 12.")
    path = _get(d, "path", "data", str)
    return DataSpec(path=path, dataset=dataset, n=n,
                    random_state=_get(d, "random_state", "data", int)), n_periods


def _sub(d: Mapping[str, Any], key: str, allowed: tuple[str, ...],
         required: tuple[str, ...] = ()) -> dict[str, Any]:
    if key not in d:
        if required:
            raise ProtocolError(f"target_trial.{key}", "is required.",
                                f"Add [target_trial.{key}] with {', '.join(required)}.")
        return {}
    return _table(d[key], f"target_trial.{key}", allowed, required)


def _strategy(value: Any, path: str, default: tuple[str, str]) -> Any:
    from ..trials.spec import Strategy

    if value is None:
        return Strategy(name=default[0], description=default[1])
    d = _table(value, path, ("name", "description"), ("name",))
    return Strategy(name=_get(d, "name", path, str),
                    description=_get(d, "description", path, str, ""))


def _spec(raw: Mapping[str, Any], labels: ReportLabels) -> Any:
    from ..trials.spec import TargetTrial, TargetTrialError

    p = "target_trial"
    d = _table(raw["target_trial"], p, _TT, ("strategies", "outcome"))
    crit = []
    items = d.get("eligibility", [])
    items = [items] if isinstance(items, Mapping) else items
    if not isinstance(items, list):
        raise ProtocolError(f"{p}.eligibility", "must be an array of tables.",
                            "Write each criterion as [[target_trial.eligibility]] with name "
                            "and keep.")
    from ._expr import check_criterion

    for i, item in enumerate(items):
        q = f"{p}.eligibility[{i}]"
        e = _table(item, q, ("name", "keep"), ("name", "keep"))
        keep = _get(e, "keep", q, str)
        check_criterion(keep, f"{q}.keep")  # refused here, before any data is read
        crit.append((_get(e, "name", q, str), keep))
    s = _sub(d, "strategies", ("treatment", "grace", "treat", "control"), ("treatment",))
    a = _sub(d, "assignment", ("covariates", "switch_covariates"))
    f = _sub(d, "followup", ("periods", "censor"))
    o = _sub(d, "outcome", ("column", "label", "competing"), ("column",))
    c = _sub(d, "contrast", ("estimand",))
    an = _sub(d, "analysis", ("estimator", "censor_weights", "truncate", "variance",
                              "n_boot", "horizons", "conf_level"))
    horizons = an.get("horizons", [])
    horizons = [horizons] if isinstance(horizons, int) else horizons
    if not isinstance(horizons, list) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h >= 0 for h in horizons):
        raise ProtocolError(f"{p}.analysis.horizons", f"must be a list of follow-up periods "
                            f"(whole numbers >= 0); got {horizons!r}.",
                            "Write e.g. horizons = [5, 11].")
    pa = f"{p}.analysis"
    kw = dict(
        title=_get(d, "title", p, str, "Target trial"), id=_get(d, "id", p, str, "id"),
        period=_get(d, "period", p, str, "period"),
        unit=_choice(d.get("unit", "months"), f"{p}.unit", _UNITS),
        time_zero=_get(d, "time_zero", p, str, ""),
        new_users=_get(d, "new_users", p, bool, True), eligibility=tuple(crit),
        treatment=_get(s, "treatment", f"{p}.strategies", str),
        grace=_get(s, "grace", f"{p}.strategies", int, 0),
        strategies=(_strategy(s.get("treat"), f"{p}.strategies.treat",
                              ("initiate", "start treatment at time zero")),
                    _strategy(s.get("control"), f"{p}.strategies.control",
                              ("do not initiate", "do not start treatment"))),
        covariates=_str_list(a, "covariates", f"{p}.assignment") or (),
        switch_covariates=_str_list(a, "switch_covariates", f"{p}.assignment") or (),
        followup=_get(f, "periods", f"{p}.followup", int),
        censor=_get(f, "censor", f"{p}.followup", str),
        outcome=_get(o, "column", f"{p}.outcome", str),
        outcome_label=_get(o, "label", f"{p}.outcome", str, ""),
        competing=_get(o, "competing", f"{p}.outcome", str),
        contrast=_choice(c.get("estimand", "itt"), f"{p}.contrast.estimand",
                         ("itt", "per_protocol")),
        estimator=_choice(an.get("estimator", "sequential_trials"), f"{pa}.estimator",
                          ("sequential_trials", "clone_censor_weight")),
        censor_weights=_get(an, "censor_weights", pa, bool, False),
        truncate=_truncate(an, pa),
        variance=_choice(an.get("variance", "robust"), f"{pa}.variance",
                         ("robust", "bootstrap")),
        n_boot=_get(an, "n_boot", pa, int, 200), horizons=tuple(horizons),
        conf_level=float(_get(an, "conf_level", pa, (float, int), 0.95)),
        random_state=_seed(raw))
    named = [kw[k] for k in ("id", "period", "treatment", "outcome", "censor", "competing")]
    named += [*kw["covariates"], *kw["switch_covariates"]]
    kw["labels"] = {str(col): labels.labels.variable(col) for col in named
                    if col is not None and labels.labels.variable(col) != col}
    try:
        return TargetTrial(**kw)
    except TargetTrialError as exc:
        raise ProtocolError(p, "; ".join(exc.problems), "") from None


def _seed(raw: Mapping[str, Any]) -> int:
    study = raw.get("study", {})
    seed = study.get("seed", 0) if isinstance(study, Mapping) else 0
    return seed if isinstance(seed, int) else 0


def parse_target_trial_protocol(raw: Mapping[str, Any], *, base_dir: str | Path = ".",
                                text: str = "", source: str = "<string>",
                                data_dirs: Sequence[str | Path] = ()
                                ) -> TargetTrialProtocol:
    """Check the shape of a target-trial protocol and return it (data not yet read).

    Raises
    ------
    ProtocolError
        With the field path (``target_trial.analysis.estimator``), the problem and a fix.

    Examples
    --------
    >>> doc = {"study": {"title": "t"}, "data": {"dataset": "simulated", "n": 200},
    ...        "target_trial": {"strategies": {"treatment": "A"}, "outcome": {"column": "Y"},
    ...                         "analysis": {"estimator": "sequential_trial"}}}
    >>> parse_target_trial_protocol(doc)
    Traceback (most recent call last):
    ...
    cohortlab.protocol.sections.ProtocolError: target_trial.analysis.estimator: must be one \
of ['sequential_trials', 'clone_censor_weight']; got 'sequential_trial'. Did you mean ...
    """
    for key in raw:
        if key not in _SECTIONS:
            raise ProtocolError(key, "unknown section (a target-trial protocol has [study], "
                                "[data], [target_trial], [labels] and [outputs]).",
                                close_matches(key, _SECTIONS))
    for key in ("study", "data", "target_trial"):
        if key not in raw:
            raise ProtocolError(key, "section is required.", f"Add a [{key}] table.")
    labels = parse_labels(raw.get("labels"))
    data, n_periods = _data(raw)
    dirs = tuple(Path(d).expanduser().resolve() for d in data_dirs)
    if data.path is not None:  # refused before anything is read
        data_file(Path(base_dir), data.path, "data.path", dirs)
    return TargetTrialProtocol(study=_study(raw), data=data, spec=_spec(raw, labels),
                               labels=labels, outputs=_outputs(raw), n_periods=n_periods,
                               base_dir=Path(base_dir), text=text, source=source,
                               data_dirs=dirs)


def read_target_trial_protocol(path: str | Path, *, data_dirs: Sequence[str | Path] = ()
                               ) -> TargetTrialProtocol:
    """Read a target-trial protocol file and check its shape.

    ``data_dirs``: folders outside the protocol's folder it may read data from, granted by
    the caller (see :mod:`cohortlab.protocol._paths`).
    """
    raw, text = read_toml(path)
    return parse_target_trial_protocol(raw, base_dir=Path(path).resolve().parent, text=text,
                                       source=str(path), data_dirs=data_dirs)


# ----------------------------------------------------------------------------- data
def load_trial_data(p: TargetTrialProtocol) -> tuple[pd.DataFrame, dict[str, str]]:
    """The person-period rows and the sha256 of each input file."""
    from .load import _read_file, sha256_file

    if p.data.dataset == "simulated":
        from ..datasets import simulate_longitudinal

        seed = p.data.random_state if p.data.random_state is not None else p.study.seed
        frame = simulate_longitudinal(p.data.n or 2_000, p.n_periods, random_state=seed,
                                      n_truth=20_000)
        frame.attrs = {}
        return frame, {}
    assert p.data.path is not None  # parse: exactly one of path, dataset
    full = data_file(p.base_dir, p.data.path, "data.path", p.data_dirs).resolve()
    if not full.is_file():
        raise ProtocolError("data.path", f"file {p.data.path!r} not found (looked for "
                            f"{full}).", "Paths are relative to the protocol file's folder.")
    return _read_file(full), {p.data.path: sha256_file(full)}


def _check_data(p: TargetTrialProtocol, frame: pd.DataFrame) -> None:
    problems = p.spec.problems(frame)
    if problems:
        n = len(problems)
        raise ProtocolError("target_trial", f"{n} problem{'s' if n != 1 else ''} with the "
                            "data:\n" + "\n".join(f"  - {q}" for q in problems), "")


def validate_target_trial_protocol(path: str | Path, *, data_dirs: Sequence[str | Path] = ()
                                   ) -> tuple[TargetTrialProtocol, pd.DataFrame]:
    """Check a target-trial protocol and its data (every problem listed); run nothing."""
    p = read_target_trial_protocol(path, data_dirs=data_dirs)
    frame, _ = load_trial_data(p)
    _check_data(p, frame)
    return p, frame


def run_target_trial_protocol(path: str | Path, out: str | Path, *, quiet: bool = False,
                              overwrite: bool = False, log: Log | None = None,
                              data_dirs: Sequence[str | Path] = ()) -> Path:
    """Emulate the protocol's target trial and write tables, figure and the TARGET report.

    The output folder rules are those of :func:`cohortlab.protocol.run_protocol` (checked
    before anything is read, outputs built in a hidden sibling and moved in when complete).
    """
    import sys

    from . import _outdir
    from ._ttreport import write_trial_outputs
    from .sections import AnalysisError

    def _stderr(msg: str) -> None:
        print(f"cohortlab: {msg}", file=sys.stderr, flush=True)

    say: Log = (lambda _m: None) if quiet else (log or _stderr)
    say(f"reading {path}")
    p = read_target_trial_protocol(path, data_dirs=data_dirs)
    inputs: list[tuple[str | Path, str]] = [(Path(path), "protocol file")]
    if p.data.path is not None:
        inputs.append((p.base_dir / p.data.path, "data file"))
    target = _outdir.check_out(out, overwrite=overwrite, inputs=inputs)
    started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    say("loading data and checking the specification")
    frame, files = load_trial_data(p)
    _check_data(p, frame)
    say(f"emulating the target trial ({p.spec.estimator}, {p.spec.contrast})")
    from ..trials.emulate import emulate_target_trial

    try:
        result = emulate_target_trial(p.spec, frame)
    except CohortError as exc:
        raise AnalysisError("target_trial.analysis", f"the emulation failed: {exc}") from exc
    say("writing tables, the figure and the report")
    _outdir.publish(target, lambda tmp: write_trial_outputs(p, frame, files, result, tmp,
                                                            started=started),
                    overwrite=overwrite, inputs=inputs, log=say)
    say(f"done: {out}")
    return Path(out)


def _truncate(an: Mapping[str, Any], pa: str) -> tuple[float, float] | None:
    """``[target_trial.analysis] truncate``: a [low, high] pair of quantiles, or None."""
    try:
        return check_truncate(an.get("truncate"), "TargetTrial")
    except DataValidationError as exc:
        raise ProtocolError(f"{pa}.truncate", str(exc).removeprefix("TargetTrial(): truncate "),
                            "Write truncate = [0.01, 0.99].") from None
