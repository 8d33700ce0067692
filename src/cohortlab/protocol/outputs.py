"""Write a protocol run's results: tables, figures, the report, provenance.

Layout of the output folder::

    protocol.toml          the protocol, copied byte for byte
    provenance.json        versions, platform, seed, hashes, time stamps, and (``files``)
                           every file the run wrote with its sha256: the marker by which
                           ``cohortlab run --overwrite`` knows a folder is its own
    tables/<name>.csv      every number (always written; .md .html too if asked)
    tables/tables.docx     every table in one Word file (outputs.tables has "docx")
    tables/tables.xlsx     every table in one workbook (outputs.tables has "xlsx")
    figures/<name>.png     curves with numbers at risk, love and overlap plots, forest plots
    report.html            one self-contained page (+ report.docx with "docx")

Numbers live in the CSV files only, so two runs give byte-identical CSVs; time stamps live
only in ``provenance.json``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..results._format import render_html, render_markdown
from ._outdir import MARKER, PARTIAL_MARKER
from .load import sha256_file, sha256_frame
from .run import StudyResults, _at

__all__ = ["write_outputs", "provenance", "TableOut"]

_PACKAGES = ("cohortlab", "numpy", "pandas", "scipy", "statsmodels", "scikit-learn",
             "formulaic", "matplotlib", "lifelines", "duckdb")


@dataclass
class TableOut:
    """One output table: its file stem, title, numbers and (optional) result object."""

    name: str
    title: str
    frame: pd.DataFrame
    obj: Any = None
    section: str = "Results"
    notes: list[str] = field(default_factory=list)


@dataclass
class FigureOut:
    """One output figure: its file stem, title and the matplotlib Figure."""

    name: str
    title: str
    fig: Any
    section: str = "Results"


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


# ----------------------------------------------------------------------------- collecting
def _tables(res: StudyResults) -> list[TableOut]:
    c = res.cohort
    out: list[TableOut] = []
    if c.flow is not None:
        out.append(TableOut("attrition", "Cohort attrition", c.flow.to_frame(), c.flow,
                            "Cohort"))
    if c.exposure is not None:
        out.append(TableOut("exposure_definition", c.exposure.describe(),
                            c.exposure.counts(), None, "Cohort"))
    if len(c.horizon):
        out.append(TableOut("followup_horizon", "Administrative censoring at the horizon",
                            c.horizon, None, "Cohort"))
    if res.table1 is not None:
        out.append(TableOut("table1", "Table 1: characteristics by exposure",
                            res.table1.to_frame(), res.table1, "Table 1"))
    for name, ps in res.weighted.items():
        t1 = ps.table1()
        out.append(TableOut(f"table1_weighted__{_safe(name)}", f"Table 1 after weighting "
                            f"({name})", t1.to_frame(), t1, "Table 1"))
        out.append(TableOut(f"balance__{_safe(name)}", f"Covariate balance before and after "
                            f"weighting ({name})", ps.balance(), None, "Table 1"))
    t2 = res.table2()
    if len(t2):
        out.append(TableOut("table2", "Table 2: effects by analysis and outcome", t2,
                            _table2_display(t2), "Table 2"))
    for r in res.analyses:
        frame = _result_frame(r)
        out.append(TableOut(_safe(r.key), f"{r.analysis.name}: {r.analysis.method}() on "
                            f"{r.outcome.name}", frame, None, "Analyses", r.notes))
        at = _at(res.protocol, r.analysis)
        if r.spec.kind == "curve" and at:
            values = r.result.at(list(at))
            out.append(TableOut(f"{_safe(r.key)}__at", f"{r.analysis.name}: {r.outcome.name} "
                                f"at {', '.join(f'{t:g}' for t in at)}", values.to_frame(),
                                values, "Analyses"))
    for key, title, sub in res.subgroups:
        out.append(TableOut(f"subgroups__{_safe(key)}", f"Subgroups: {title}", sub.to_frame(),
                            sub, "Subgroups"))
        out.append(TableOut(f"interaction__{_safe(key)}", f"Interaction tests: {title}",
                            sub.interaction, None, "Subgroups"))
    if res.evalues is not None and len(res.evalues):
        out.append(TableOut("evalues", "E-values", res.evalues, None, "Sensitivity"))
    if res.bias is not None:
        out.append(TableOut("bias_analysis", "Probabilistic bias analysis of the exposure "
                            "flag", res.bias.to_frame(), res.bias, "Sensitivity"))
    dropped = res.dropped()
    if res.protocol.data.missing == "drop" or (dropped["n_dropped"] > 0).any():
        out.append(TableOut("dropped", "Rows dropped for missing values", dropped, None,
                            "Notes"))
    notes = res.notes()
    if len(notes):
        out.append(TableOut("notes", "Warnings and notes", notes, None, "Notes"))
    return out


def _result_frame(r: Any) -> pd.DataFrame:
    kind, obj = r.spec.kind, r.result
    if kind == "model":
        return obj.tidy(exponentiate=True)
    if kind == "match":
        return obj.estimate.to_frame() if obj.estimate is not None else pd.DataFrame()
    return obj.to_frame()


def _table2_display(t2: pd.DataFrame) -> pd.DataFrame:
    def cell(e: float, lo: float, hi: float) -> str:
        if not np.isfinite(e):
            return "NA"
        return f"{e:.2f} ({lo:.2f} to {hi:.2f})" if np.isfinite(lo) else f"{e:.2f}"

    return pd.DataFrame({
        "Analysis": t2["analysis"], "Outcome": t2["outcome"], "Term": t2["term"],
        "Measure": t2["effect_measure"].astype(str).str.replace("_", " "),
        "Estimate (95% CI)": [cell(e, lo, hi) for e, lo, hi in
                              zip(t2["estimate"], t2["conf_low"], t2["conf_high"],
                                  strict=True)],
        "p": [f"{v:.3g}" if np.isfinite(v) else "" for v in
              pd.to_numeric(t2["p_value"], errors="coerce")],
        "CI method": t2["ci_method"],
    })


def _figures(res: StudyResults) -> list[FigureOut]:
    import matplotlib.pyplot as plt

    out: list[FigureOut] = []
    c = res.cohort
    if c.flow is not None:
        out.append(FigureOut("attrition", "Cohort flow", c.flow.plot().figure, "Cohort"))
    for name, ps in res.weighted.items():
        out.append(FigureOut(f"love__{_safe(name)}", f"Covariate balance ({name})",
                             ps.plot_balance().figure, "Table 1"))
        out.append(FigureOut(f"overlap__{_safe(name)}", f"Propensity score overlap ({name})",
                             ps.plot_overlap().figure, "Table 1"))
    for r in res.analyses:
        if r.spec.kind in ("curve", "adjusted"):
            kind = "km" if r.analysis.method == "kaplan_meier" else (
                "adjusted" if r.spec.kind == "adjusted" else "cif")
            fu = res.protocol.followup
            ax = r.result.plot(risk_table=r.spec.kind == "curve",
                               censor_marks=len(res.cohort.data) <= 500,
                               xlabel=f"{fu.unit} of follow-up" if fu else "time")
            out.append(FigureOut(f"{kind}__{_safe(r.key)}", f"{r.analysis.name}: "
                                 f"{r.outcome.name}", ax.figure, "Analyses"))
    for key, title, sub in res.subgroups:
        out.append(FigureOut(f"forest__{_safe(key)}", f"Subgroups: {title}",
                             sub.forest_plot().figure, "Subgroups"))
    del plt
    return out


# ----------------------------------------------------------------------------- writing
def _write_table(t: TableOut, folder: Path, formats: tuple[str, ...]) -> None:
    t.frame.to_csv(folder / f"{t.name}.csv", index=False, lineterminator="\n")
    shown = t.obj if t.obj is not None else t.frame
    if "md" in formats:
        text = (shown.to_markdown() if hasattr(shown, "to_markdown") and
                not isinstance(shown, pd.DataFrame) else render_markdown(shown))
        (folder / f"{t.name}.md").write_text(f"**{t.title}**\n\n{text}\n", encoding="utf-8")
    if "html" in formats:
        body = (shown.to_html() if not isinstance(shown, pd.DataFrame)
                else render_html(shown, caption=t.title))
        (folder / f"{t.name}.html").write_text(body, encoding="utf-8")


def _report(res: StudyResults, tables: list[TableOut], figures: list[FigureOut],
            prov: dict[str, Any]) -> Any:
    from ..report.document import Report

    p, c = res.protocol, res.cohort
    meta = {"protocol": p.source, "protocol sha256": prov["protocol"]["sha256"][:16],
            "data": _data_label(p), "data sha256 (loaded frame)": c.frame_sha256[:16],
            "seed": str(p.study.seed), "rows loaded": f"{c.n_loaded:,}",
            "rows analysed": f"{len(c.data):,}"}
    rep = Report(p.study.title, subtitle=p.study.question or None, metadata=meta)
    rep.add_heading("Study")
    rep.add_text(_study_text(res))
    sections = list(dict.fromkeys([t.section for t in tables] + [f.section for f in figures]))
    for section in sections:
        rep.add_heading(section)
        for t in (t for t in tables if t.section == section):
            obj = t.obj if t.obj is not None else t.frame
            if t.section == "Analyses" and t.obj is None and len(t.frame) > 30:
                rep.add_text(f"*{t.title}*: {len(t.frame):,} rows, see "
                             f"`tables/{t.name}.csv`.")
            else:
                rep.add_table(obj, title=t.title)
            if t.notes:
                rep.add_text("\n".join(f"- {n}" for n in t.notes))
        for f in (f for f in figures if f.section == section):
            rep.add_figure(f.fig, title=f.title)
    return rep


def _data_label(p: Any) -> str:
    d = p.data
    if d.dataset is not None:
        extra = f" (n = {d.n}, random_state = {d.random_state})" if d.dataset == "simulated" \
            else ""
        return f"bundled dataset {d.dataset!r}{extra}"
    return f"file {d.path}" if d.path is not None else "DuckDB query"


def _study_text(res: StudyResults) -> str:
    p, c = res.protocol, res.cohort
    lines = []
    if p.study.description:
        lines.append(p.study.description.strip())
    if p.study.question:
        lines.append(f"**Question.** {p.study.question.strip()}")
    lines.append(f"**Data.** {_data_label(p)}; {c.n_loaded:,} rows loaded, "
                 f"{len(c.data):,} analysed.")
    if p.followup is not None:
        fu = p.followup
        src = (f"column `{fu.time}` ({fu.unit})" if fu.time else
               f"`{fu.end}` - `{fu.start}` in {fu.unit}")
        hz = f"; administrative censoring at {fu.horizon:g} {fu.unit}" if fu.horizon else ""
        lines.append(f"**Follow-up.** {src}{hz}. Time zero: {fu.time_zero or 'not stated'}.")
    exp = c.exposure.describe() if c.exposure is not None else f"column `{p.exposure.column}`"
    lines.append(f"**Exposure.** {p.exposure.label or exp}"
                 + (f" (reference {c.reference!r})" if c.reference is not None else "") + ".")
    outs = "; ".join(f"`{o.name}` ({o.type.replace('_', ' ')}: `{o.column or o.event}`"
                     + (f", cause {o.cause}" if o.cause is not None else "") + ")"
                     for o in p.outcomes)
    lines.append(f"**Outcomes.** {outs}.")
    cov = (f"`{p.covariates}`" if isinstance(p.covariates, str)
           else ", ".join(f"`{c}`" for c in p.covariates or ()))
    lines.append(f"**Covariates.** {cov or 'none'}.")
    lines.append("**Analyses.** " + "; ".join(
        f"`{a.name}`: `{a.method}()`" + (f", estimand {a.estimand}" if a.estimand else "")
        for a in p.analyses) + ".")
    return "\n\n".join(lines)


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance(res: StudyResults) -> dict[str, Any]:
    """The provenance record of a run (versions, platform, seed, hashes, time stamps).

    Its ``cohortlab_provenance`` key marks a folder as a cohortlab run's output;
    :func:`write_outputs` adds ``files``, the list of files the run wrote.
    """
    p, c = res.protocol, res.cohort
    return {
        "cohortlab_provenance": 1,
        "started": res.started,
        "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": _versions(),
        "seed": p.study.seed,
        "protocol": {"file": p.source, "sha256": hashlib.sha256(p.text.encode()).hexdigest(),
                     "text": p.text},
        "data": {"source": _data_label(p), "files_sha256": c.files,
                 "loaded_frame_sha256": c.frame_sha256,
                 "analysed_frame_sha256": sha256_frame(c.data),
                 "rows_loaded": c.n_loaded, "rows_analysed": len(c.data)},
    }


def write_outputs(res: StudyResults, folder: str | Path, *,
                  log: Callable[[str], None] | None = None) -> Path:
    """Write every table, figure, the report and provenance into ``folder``.

    Parameters
    ----------
    res : StudyResults
        From :func:`cohortlab.protocol.run.analyse`.
    folder : str or Path
        An existing, empty folder.
    log : callable, optional
        Receives progress lines.

    Returns
    -------
    Path
        ``folder``.
    """
    import matplotlib.pyplot as plt

    log = log or (lambda _m: None)
    root = Path(folder)
    p = res.protocol
    (root / "tables").mkdir(parents=True, exist_ok=True)
    (root / "protocol.toml").write_text(p.text, encoding="utf-8")
    prov = provenance(res)
    tables = _tables(res)
    for t in tables:
        _write_table(t, root / "tables", p.outputs.tables)
    figures: list[FigureOut] = []
    try:
        if p.outputs.figures or p.outputs.report:
            from ..report.style import save_figure

            log("drawing figures")
            figures = _figures(res)
            if p.outputs.figures:
                (root / "figures").mkdir(exist_ok=True)
                for f in figures:
                    for fmt in p.outputs.figures:
                        save_figure(f.fig, root / "figures" / f.name, [fmt],
                                    metadata={"Date": None} if fmt == "svg" else None)
        if {"docx", "xlsx"} & set(p.outputs.tables):
            from ..report.document import Report

            book = Report(p.study.title)
            for t in tables:
                book.add_table(t.obj if t.obj is not None else t.frame, title=t.title)
            if "docx" in p.outputs.tables:
                book.save_docx(root / "tables" / "tables.docx")
            if "xlsx" in p.outputs.tables:
                book.save_xlsx(root / "tables" / "tables.xlsx")
        if p.outputs.report:
            log("writing the report")
            rep = _report(res, tables, figures, prov)
            rep.save_html(root / "report.html")
            if "docx" in p.outputs.tables:
                rep.save_docx(root / "report.docx")
    finally:
        for f in figures:
            plt.close(f.fig)
    prov["outputs_sha256"] = {
        path.relative_to(root).as_posix(): sha256_file(path)
        for path in sorted((root / "tables").glob("*.csv"))}
    prov["files"] = _written(root)
    (root / MARKER).write_text(json.dumps(prov, indent=2, default=str) + "\n",
                               encoding="utf-8")
    return root


def _written(root: Path) -> dict[str, str]:
    """Every file the run wrote under ``root`` (relative path -> sha256), the marker aside.

    ``cohortlab run --overwrite`` replaces a folder only if it holds these files and no other.
    """
    return {path.relative_to(root).as_posix(): sha256_file(path)
            for path in sorted(root.rglob("*"))
            if path.is_file() and path.name != PARTIAL_MARKER and path != root / MARKER}
