"""Run a protocol: every analysis on every outcome, subgroups, sensitivity analyses, outputs.

Nothing is written until every number is computed; the outputs are then built in a
temporary folder next to ``out`` and moved into place in one step, so a failure leaves no
partial report.
"""

from __future__ import annotations

import datetime as _dt
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..sensitivity.evalue import EValueMeasure
from .load import Cohort, prepare_cohort
from .methods import METHODS, effect_rows, formula_columns
from .schema import Analysis, AnalysisError, Outcome, Protocol, read_protocol
from .study import AnalysisResult, StudyResults, call_arguments
from .study import report_times as _at

__all__ = ["AnalysisResult", "StudyResults", "analyse", "run_protocol", "validate_protocol",
           "call_arguments"]

Log = Callable[[str], None]
_CATEGORICAL = re.compile(r"\bC\(\s*([A-Za-z_][A-Za-z0-9_]*)")

_EVALUE_MEASURES: dict[str, EValueMeasure] = {"ratio": "RR", "risk_ratio": "RR", "odds_ratio": "OR",
                    "hazard_ratio": "HR", "subdistribution_hazard_ratio": "HR",
                    "mean_difference": "SMD"}


def _run_one(protocol: Protocol, cohort: Cohort, analysis: Analysis, outcome: Outcome
             ) -> AnalysisResult:
    spec = METHODS[analysis.method]
    frame, kw = call_arguments(protocol, cohort, analysis, outcome)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = spec.verb()(frame, **kw)
            at = _at(protocol, analysis)
            effects = effect_rows(spec, result, protocol.exposure.column, at)
            if spec.kind == "adjusted" and at and getattr(result, "measure", "") == "survival":
                # a clinician reads risks: 1 - S difference and ratio beside the survival ones
                effects = pd.concat([effects] + [result.contrast(list(at), m, scale="risk")
                                                 .to_frame() for m in ("difference", "ratio")],
                                    ignore_index=True)
        except (ValueError, TypeError) as exc:
            raise AnalysisError(f"{analysis.where} ({analysis.name}, outcome "
                                f"{outcome.name!r})", f"{analysis.method}() failed: {exc}",
                                "") from exc
    notes = _unique_notes([f"{w.category.__name__}: {w.message}" for w in caught]
                          + [str(n) for n in getattr(result, "notes", ()) or ()])
    if len(effects):
        effects = effects.copy()
        effects.insert(0, "outcome", outcome.name)
        effects.insert(0, "analysis", analysis.name)
    return AnalysisResult(analysis=analysis, outcome=outcome, spec=spec, result=result,
                          effects=effects, notes=notes)


_WARNING_PREFIX = re.compile(r"^([A-Z][A-Za-z]*(Warning|Error): )?([A-Za-z_][A-Za-z0-9_.]*\(\): )?")


def _unique_notes(notes: list[str]) -> list[str]:
    """Each note once.

    A warning caught while running and the same text in the result's ``notes`` (with or
    without the ``CohortWarning: verb():`` prefix) count as one.
    """
    seen: set[str] = set()
    out = []
    for n in notes:
        key = " ".join(_WARNING_PREFIX.sub("", n).split())
        if key not in seen:
            seen.add(key)
            out.append(n)
    return out


# ----------------------------------------------------------------------------- the run
def _table1(protocol: Protocol, cohort: Cohort) -> Any:
    from ..describe.table1 import table1

    cov = protocol.covariates
    if cov is None:
        return None
    cols = [c for c in formula_columns(cov if isinstance(cov, str) else list(cov))
            if c != protocol.exposure.column]
    cats = [c for c in _CATEGORICAL.findall(cov) if c in cols] if isinstance(cov, str) else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return table1(cohort.data, by=protocol.exposure.column, columns=cols,
                      categorical=cats or None, reference=cohort.reference,
                      missing=protocol.data.missing)


def _rare(cohort: Cohort, outcome: Outcome) -> bool:
    if outcome.rare is not None:
        return outcome.rare
    d = cohort.data
    if outcome.type == "binary":
        return bool(pd.to_numeric(d[outcome.column], errors="coerce").mean() < 0.15)
    ev = d[outcome.event]
    hit = (ev == outcome.cause) if outcome.type == "competing" else (ev != 0) & ev.notna()
    return bool(hit.mean() < 0.15)


def _evalues(res: StudyResults) -> pd.DataFrame:
    from ..sensitivity.evalue import evalue

    rows = []
    for r in res.analyses:
        for row in r.effects.itertuples(index=False):
            measure = _EVALUE_MEASURES.get(str(row.effect_measure))
            out = dict(analysis=r.analysis.name, outcome=r.outcome.name, term=row.term,
                       effect_measure=row.effect_measure, estimate=row.estimate,
                       conf_low=row.conf_low, conf_high=row.conf_high,
                       evalue_measure=measure, rare=None, evalue=np.nan, evalue_ci=np.nan,
                       note="")
            if measure is None or not np.isfinite(row.estimate):
                out["note"] = (f"no E-value for {row.effect_measure}; report a ratio "
                               "(effect_measure = \"ratio\") to get one")
            elif measure == "SMD":
                sd = float(res.cohort.data[r.outcome.column].std())
                e = evalue(row.estimate / sd, measure="SMD", se=row.std_error / sd)
                out.update(evalue=e.estimate, evalue_ci=e.extra["evalue_ci"],
                           note=f"standardised by the outcome's SD ({sd:.4g})")
            else:
                rare = _rare(res.cohort, r.outcome) if measure in ("OR", "HR") else None
                e = evalue(row.estimate, row.conf_low, row.conf_high, measure=measure,
                           rare=rare)
                out.update(evalue=e.estimate, evalue_ci=e.extra["evalue_ci"], rare=rare)
            rows.append(out)
    return pd.DataFrame(rows)


def _bias(res: StudyResults) -> Any:
    from ..exposures.misclassification import ErrorRates, bias_analysis

    spec = res.protocol.sensitivity.bias_analysis
    if spec is None:
        return None
    p = res.protocol
    analysis, outcome = p.analysis(spec.analysis), p.outcome(spec.outcome or "")
    frame, kw = call_arguments(p, res.cohort, analysis, outcome)
    exposure = kw.pop("exposure")
    for key in ("random_state", "missing"):
        kw.pop(key, None)

    def rate(v: Any) -> Any:
        return tuple(v) if isinstance(v, list) and len(v) == 2 else (
            v[0] if isinstance(v, list) else v)

    error = ErrorRates(sensitivity=rate(spec.sensitivity), specificity=rate(spec.specificity))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return bias_analysis(METHODS[analysis.method].verb(), frame, exposure=exposure,
                                 error=error, n_sims=spec.n_sims, strata=spec.by,
                                 random_state=p.study.seed, missing=p.data.missing, **kw)
        except (ValueError, TypeError) as exc:
            raise AnalysisError("sensitivity.bias_analysis", f"bias_analysis() failed: {exc}"
                                ) from exc


def _subgroups(res: StudyResults, log: Log) -> None:
    from ..subgroups.subgroups import subgroups

    p = res.protocol
    for s in p.subgroups:
        analysis = p.analysis(s.analysis)
        spec = METHODS[analysis.method]
        for name in analysis.outcomes:
            outcome = p.outcome(name)
            log(f"subgroups of {analysis.name} ({name}) by {', '.join(s.by)}")
            frame, kw = call_arguments(p, res.cohort, analysis, outcome)
            if spec.kind == "model":
                kw["term"] = p.exposure.column
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    sub = subgroups(spec.verb(), frame, by=list(s.by),
                                    min_events=s.min_events, **kw)
                except (ValueError, TypeError) as exc:
                    raise AnalysisError(f"subgroups[{s.index}] ({analysis.name}, outcome "
                                        f"{name!r})", f"subgroups() failed: {exc}") from exc
            res.subgroups.append((f"{analysis.name}__{name}__by_{'_'.join(s.by)}",
                                  f"{analysis.name}, {name}, by {', '.join(s.by)}", sub))


def analyse(protocol: Protocol, cohort: Cohort | None = None, *, log: Log | None = None
            ) -> StudyResults:
    """Compute every number the protocol asks for; write nothing.

    Parameters
    ----------
    protocol : Protocol
    cohort : Cohort, optional
        The prepared cohort (computed when omitted).
    log : callable, optional
        Receives one progress line per step.

    Returns
    -------
    StudyResults
    """
    log = log or (lambda _msg: None)
    started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    if cohort is None:
        log("loading data and applying eligibility")
        cohort = prepare_cohort(protocol)
    res = StudyResults(protocol=protocol, cohort=cohort, started=started)
    log(f"cohort: {cohort.n_loaded:,} rows loaded, {len(cohort.data):,} analysed")
    res.table1 = _table1(protocol, cohort)
    for a in protocol.analyses:
        for name in a.outcomes:
            log(f"analysis {a.name}: {a.method}() on {name}")
            r = _run_one(protocol, cohort, a, protocol.outcome(name))
            res.analyses.append(r)
            diag = getattr(r.result, "diagnostics", None)
            if r.spec.weighting and a.name not in res.weighted and hasattr(diag, "balance"):
                res.weighted[a.name] = diag
    _subgroups(res, log)
    if protocol.sensitivity.evalue:
        log("E-values")
        res.evalues = _evalues(res)
    if protocol.sensitivity.bias_analysis is not None:
        log("probabilistic bias analysis")
        res.bias = _bias(res)
    return res


def validate_protocol(path: str | Path, *, data_dirs: Sequence[str | Path] = ()
                      ) -> tuple[Protocol, Cohort]:
    """Check a protocol file's shape and its data without running any analysis.

    Parameters
    ----------
    path : str or Path
        The protocol file.
    data_dirs : sequence of str or Path
        Folders outside the protocol's folder that it may read data from. A protocol reads
        only files inside its own folder (and cohortlab's bundled data sets) unless the
        caller grants more here; the file itself cannot.

    Returns
    -------
    (Protocol, Cohort)
        For a ``[longitudinal]`` protocol the second item is the prepared person-period data
        (``LongCohort``: ``data``, ``n_persons``, ``n_periods``, ``exposure``, ``files``),
        checked by ``validate_person_period``.

    Raises
    ------
    ProtocolError
        The first problem found, with its field path and how to fix it.
    """
    protocol = read_protocol(path, data_dirs=data_dirs)
    if protocol.longitudinal is not None:  # person-period data: the LongCohort
        from ._longrun import prepare_longitudinal

        return protocol, prepare_longitudinal(protocol)  # type: ignore[return-value]
    return protocol, prepare_cohort(protocol)


def _stderr(msg: str) -> None:
    print(f"cohortlab: {msg}", file=sys.stderr, flush=True)


def _inputs(path: str | Path, protocol: Protocol, cohort: Cohort | None = None
            ) -> list[tuple[Path, str]]:
    """The files a run reads, which ``out`` must not hold (a query's once it is loaded)."""
    found = [(Path(path), "protocol file")]
    if protocol.data.path is not None:
        found.append((protocol.base_dir / protocol.data.path, "data file"))
    spec = protocol.longitudinal
    if spec is not None and spec.data.path is not None:
        found.append((protocol.base_dir / spec.data.path, "data file"))
    if cohort is not None and protocol.data.dataset is None and spec is None:
        found += [(protocol.base_dir / name, "data file") for name in cohort.files]
    return found


def run_protocol(path: str | Path, out: str | Path, *, quiet: bool = False,
                 overwrite: bool = False, log: Log | None = None,
                 data_dirs: Sequence[str | Path] = ()) -> Path:
    """Run a study protocol and write every table, figure and the report into ``out``.

    Estimand, assumptions and variance are those of each analysis' verb (see its reference
    page); the protocol only fixes the data, the cohort and the arguments. The outputs are
    built in a hidden temporary folder next to ``out`` and moved into place only when
    complete: on any failure (or Ctrl-C) nothing is left behind. The same protocol and data
    give byte-identical CSV tables (the seed is ``[study] seed``; time stamps live only in
    ``provenance.json``, which also lists every file the run wrote with its sha256).

    ``out`` is checked before anything is read or written, and again before the outputs are
    moved into place. It is refused when it is an existing file; the filesystem root, the
    home folder, the current working folder or an ancestor of one of them; a folder that
    holds (at any depth) the protocol file or a data file; or a non-empty folder, unless
    ``overwrite`` and the folder is an earlier run's output holding nothing else (see
    ``overwrite``). Hidden ``.<out>.partial-*`` and ``.<out>.old-*`` siblings left by a
    killed run are removed when they hold only cohortlab's output. The folder and its files
    get the modes of the user's umask.

    Parameters
    ----------
    path : str or Path
        The protocol TOML file.
    out : str or Path
        The output folder; it must not exist or be empty unless ``overwrite``.
    quiet : bool, default False
        No progress lines.
    overwrite : bool, default False
        Replace ``out`` if it is the output of an earlier ``cohortlab run``: its
        ``provenance.json`` has the ``cohortlab_provenance`` key and lists the files the
        run wrote, and the folder holds no other file (empty sub-folders and ``.DS_Store``,
        ``Thumbs.db``, ``desktop.ini`` aside) and none of them changed. The old folder is
        removed only once the new outputs are complete and in place, deleting only the
        files its provenance lists.
    log : callable, optional
        Receives the progress lines (default: print to stderr).
    data_dirs : sequence of str or Path
        Folders outside the protocol's folder that it may read data from (``cohortlab run
        --data-dir``). Without them a protocol reads only files inside its own folder and
        cohortlab's bundled data sets; a path or query naming any other file is refused
        before anything is read.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ProtocolError
        ``--out: ...`` naming the folder and why it is refused (nothing is written), or a
        problem of the protocol or its data.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp / "study.toml").write_text('''
    ... [study]
    ... title = "Quitting smoking and weight gain"
    ... [data]
    ... dataset = "nhefs"
    ... [[eligibility]]
    ... name = "weight measured in 1982"
    ... keep = "wt82.notna()"
    ... [exposure]
    ... column = "qsmk"
    ... [[outcomes]]
    ... name = "weight_change"
    ... type = "continuous"
    ... column = "wt82_71"
    ... [covariates]
    ... columns = ["sex", "race", "age", "smokeintensity", "smokeyrs", "wt71"]
    ... [[analyses]]
    ... name = "ipw"
    ... method = "ipw"
    ... [outputs]
    ... figures = []
    ... report = false
    ... ''')
    >>> out = run_protocol(tmp / "study.toml", tmp / "results", quiet=True)
    >>> t2 = pd.read_csv(out / "tables" / "table2.csv")
    >>> t2[["analysis", "term", "n"]].values.tolist()
    [['ipw', 'qsmk', 1566]]
    >>> (tmp / "results" / "thesis.docx").write_text("three years of work")
    19
    >>> run_protocol(tmp / "study.toml", tmp / "results", quiet=True, overwrite=True)
    Traceback (most recent call last):
    ...
    cohortlab.protocol.sections.ProtocolError: --out: .../results is not an earlier \
cohortlab output: it holds thesis.docx, which the run did not write (1 file). ...
    """
    from . import _outdir
    from .outputs import write_outputs
    from .targettrial import is_target_trial, run_target_trial_protocol

    if is_target_trial(path):  # a [target_trial] protocol: the TARGET report
        return run_target_trial_protocol(path, out, quiet=quiet, overwrite=overwrite, log=log,
                                         data_dirs=data_dirs)
    say: Log = (lambda _m: None) if quiet else (log or _stderr)
    say(f"reading {path}")
    protocol = read_protocol(path, data_dirs=data_dirs)
    target = _outdir.check_out(out, overwrite=overwrite, inputs=_inputs(path, protocol))
    if protocol.longitudinal is not None:  # [longitudinal]: its own runner and writer
        from ._longreport import write_longitudinal
        from ._longrun import analyse_longitudinal

        results: Any = analyse_longitudinal(protocol, log=say)
        writer: Any = write_longitudinal
    else:
        results, writer = analyse(protocol, log=say), write_outputs
    inputs = _inputs(path, protocol, results.cohort)
    say("writing tables, figures and the report")
    _outdir.publish(target, lambda tmp: writer(results, tmp, log=say), overwrite=overwrite,
                    inputs=inputs, log=say)
    say(f"done: {out}")
    return Path(out)
