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
from .methods import formula_columns
from .study import StudyResults, call_arguments
from .study import report_times as _at

__all__ = ["write_outputs", "provenance", "TableOut"]

#: the packages whose code can change a run's numbers or files (what src/ imports)
_PACKAGES = ("cohortlab", "numpy", "pandas", "scipy", "scikit-learn", "formulaic", "joblib",
             "matplotlib", "python-docx", "openpyxl", "duckdb")


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
    caption: str = ""


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
        from ._report import table2_display
        from ._reporttext import study_labels

        out.append(TableOut("table2", "Table 2: effects by analysis and outcome", t2,
                            table2_display(t2, res.protocol, study_labels(res.protocol)),
                            "Table 2"))
    for r in res.analyses:
        frame = _result_frame(r)
        out.append(TableOut(_safe(r.key), f"{r.analysis.name}: {r.analysis.method}() on "
                            f"{r.outcome.name}", frame,
                            r.result if r.spec.kind in ("model", "effect") else None,
                            "Analyses", r.notes))
        if r.spec.name == "cox" and hasattr(r.result, "check_proportional_hazards"):
            from ._report import ph_display

            ph = r.result.check_proportional_hazards()
            out.append(TableOut(f"{_safe(r.key)}__ph", f"{r.analysis.name}: proportional "
                                f"hazards tests on {r.outcome.name}", ph.to_frame(),
                                ph_display(ph.to_frame(), res.protocol), "Analyses"))
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
                            _interaction_frame(sub.interaction), None, "Subgroups"))
    if res.evalues is not None and len(res.evalues):
        from ._report import evalues_display
        from ._reporttext import study_labels

        shown, _ = evalues_display(res.evalues, res.protocol, study_labels(res.protocol))
        out.append(TableOut("evalues", "E-values", res.evalues, shown if len(shown) else None,
                            "Sensitivity"))
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


def _figures(res: StudyResults) -> list[FigureOut]:
    import matplotlib.pyplot as plt

    out: list[FigureOut] = []
    c = res.cohort
    if c.flow is not None:
        out.append(FigureOut("attrition", "Cohort flow", c.flow.plot().figure, "Cohort"))
    from ._report import _analysis_label
    from ._reporttext import relabel_terms, study_labels

    lab = study_labels(res.protocol)
    for name, ps in res.weighted.items():
        who = _analysis_label(res.protocol, name)
        ax = ps.plot_balance()
        ticks = [t.get_text() for t in ax.get_yticklabels()]
        ax.set_yticks(ax.get_yticks())
        ax.set_yticklabels([lab.variable(t, short=True) if t in lab.variables else v
                            for t, v in zip(ticks, relabel_terms(ticks, lab), strict=True)])
        out.append(FigureOut(f"love__{_safe(name)}", f"Covariate balance ({who})",
                             ax.figure, "Table 1"))
        ax = ps.plot_overlap()
        legend = ax.get_legend()
        if legend is not None:
            for text in legend.get_texts():
                t = text.get_text()
                if " = " in t:
                    text.set_text(lab.arm(t.split(" = ", 1)[1]))
        out.append(FigureOut(f"overlap__{_safe(name)}", f"Propensity score overlap ({who})",
                             ax.figure, "Table 1"))
    for r in res.analyses:
        if r.spec.kind in ("curve", "adjusted"):
            kind = "km" if r.analysis.method == "kaplan_meier" else (
                "adjusted" if r.spec.kind == "adjusted" else "cif")
            fig, caption = _curve_figure(res, r)
            out.append(FigureOut(f"{kind}__{_safe(r.key)}", _figure_title(res, r), fig,
                                 "Analyses", caption))
    for key, title, sub in res.subgroups:
        from ._report import relabel_forest, subgroup_title

        out.append(FigureOut(f"forest__{_safe(key)}",
                             f"Subgroups: {subgroup_title(res.protocol, title, lab)}",
                             relabel_forest(sub.forest_plot(), lab).figure, "Subgroups"))
    del plt
    return out


def _figure_title(res: StudyResults, r: Any) -> str:
    from ._report import _analysis_label
    from ._reporttext import study_labels

    lab = study_labels(res.protocol)
    what = {"survival": "survival", "cumulative_incidence": "cumulative incidence"}.get(
        getattr(r.result, "measure", ""), "curves")
    outcome = lab.outcome(r.outcome.name)
    return (f"{_analysis_label(res.protocol, r.analysis.name)}: {what} "
            f"({outcome[0].lower() + outcome[1:]}) by "
            f"{_lower_first(lab.variable(res.protocol.exposure.column, short=True))}")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _fine_curve(res: StudyResults, r: Any) -> Any:
    """Adjusted curves on a fine grid to the end of follow-up, for the figure only.

    The tables keep the protocol's reporting times.
    """
    import warnings


    result = r.result
    if r.spec.kind != "adjusted":
        return result
    frame, kw = call_arguments(res.protocol, res.cohort, r.analysis, r.outcome)
    t = pd.to_numeric(frame[kw["time"]], errors="coerce")
    # to where the smaller arm still has _MIN_AT_RISK people at risk: past that the
    # weighted curves rest on a handful of people
    ends = [np.sort(g.dropna().to_numpy(dtype=float))[-_MIN_AT_RISK]
            for _, g in t.groupby(frame[kw["exposure"]]) if g.notna().sum() >= _MIN_AT_RISK]
    t_max = float(min(ends)) if ends else 0.0
    if t_max <= 0:
        return result
    at = list(_at(res.protocol, r.analysis))
    grid = np.unique(np.concatenate([np.linspace(0.0, t_max, 61)[1:-1], np.asarray(
        at, dtype=float)]))
    kw["times"] = [float(v) for v in grid]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return r.spec.verb()(frame, **kw)
        except (ValueError, TypeError):  # the figure falls back on the reporting times
            return result


_MIN_AT_RISK = 10


def _nice_top(x: float) -> float:
    """A round upper limit just above ``x`` (0.137 -> 0.15, 0.26 -> 0.3)."""
    for step in (0.01, 0.02, 0.05, 0.1):
        top = np.ceil(x / step) * step
        if top / max(x, 1e-9) < 1.5:
            return float(min(top + (step if top - x < step / 4 else 0.0), 1.02))
    return 1.02


def _curve_figure(res: StudyResults, r: Any) -> tuple[Any, str]:
    """A curve figure in report units, arm labels, numbers at risk, reporting times marked."""
    from ..results.curve import Curve
    from ._reporttext import study_labels, time_text

    lab = study_labels(res.protocol)
    curve = _fine_curve(res, r)
    data = curve.data.copy()
    data["time"] = lab.to_report_time(pd.to_numeric(data["time"], errors="coerce"))
    data["group"] = [lab.arm(str(g).split("=", 1)[1] if "=" in str(g) else g)
                     for g in data["group"]]
    if data["cause"].nunique(dropna=False) == 1:  # one cause: the legend names the arms
        data["cause"] = None
    shown = Curve(data=data, measure=curve.measure, method=curve.method,
                  conf_level=curve.conf_level, ci_method=curve.ci_method)
    risk = curve.measure != "survival"
    ylim = None
    if risk:
        hi = pd.to_numeric(data["conf_high"], errors="coerce").to_numpy(dtype=float)
        top = float(np.nanmax(hi)) if np.isfinite(hi).any() else 1.0
        ylim = (0.0, _nice_top(top)) if top < 0.3 else None
    at = [float(lab.to_report_time(float(v))) for v in _at(res.protocol, r.analysis)]
    ax = shown.plot(risk_table=True, censor_marks=False, ylim=ylim,
                    xlabel=lab.time_axis_label("Time since start of follow-up"),
                    ylabel="Cumulative incidence" if risk else "Survival probability")
    for v in at:
        ax.axvline(v, color="0.45", ls=":", lw=1.0, zorder=0)
    caption = ""
    if at:
        caption = ("Dotted lines: the reporting times (" + ", ".join(
            time_text(float(lab.to_data_time(v)), lab) for v in at) + "). ")
    caption += "Shaded: 95% confidence bands. Numbers at risk are unweighted."
    if r.spec.kind == "adjusted":
        caption += (f" Adjusted curves end where fewer than {_MIN_AT_RISK} people remain at "
                    "risk in an arm.")
    return ax.figure, caption


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
    """The clinical report: words first, identifiers and formulas in the technical appendix."""
    from ..report.document import Report
    from ._report import (
        _WARNING_NOTE,
        _core,
        add_clinical_table,
        appendix_text,
        warnings_list,
    )
    from ._reporttext import strobe_checklist, study_labels

    p, c = res.protocol, res.cohort
    lab = study_labels(p)
    appendix: list[tuple[str, str]] = []
    meta = {"protocol": p.source, "data": _data_label(p), "rows analysed": f"{len(c.data):,}"}
    rep = Report(p.study.title, subtitle=p.study.question or None, metadata=meta)
    anchors: dict[str, str] = {}

    def heading(text: str) -> None:
        anchor = _anchor(text)
        anchors[anchor] = text
        rep.add_heading(text, anchor=anchor)

    heading("Study")
    rep.add_text(_study_text(res, lab))
    by_key = {_safe(r.key): r for r in res.analyses}
    warnings_ = warnings_list(res, lab, appendix)
    skip = {_core(n) for r in res.analyses for n in r.notes if _WARNING_NOTE.match(n)}
    skip |= {_core(str(n)) for n in c.notes}
    sections = list(dict.fromkeys([t.section for t in tables] + [f.section for f in figures]))
    for section in sections:
        shown = [t for t in tables if t.section == section and t.name != "notes"]
        figs = [f for f in figures if f.section == section]
        if not shown and not figs:
            continue
        heading(section)
        for t in shown:
            add_clinical_table(rep, res, t, by_key.get(t.name), lab, appendix, skip)
        for f in figs:
            rep.add_figure(f.fig, title=f.title, caption=f.caption or None)
    if warnings_:
        heading("Warnings")
        rep.add_text("\n".join(f"- {w}" for w in warnings_))
    heading("Reporting checklist")
    rep.add_table(strobe_checklist(dict(anchors)), title="STROBE checklist for cohort "
                  "studies: where this report addresses each item")
    heading("Technical appendix")
    rep.add_text(appendix_text(res, prov, appendix))
    prov["technical_notes"] = [{"where": w, "note": n} for w, n in dict.fromkeys(appendix)]
    return rep


def _anchor(text: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _data_label(p: Any) -> str:
    d = p.data
    if d.dataset is not None:
        extra = f" (n = {d.n:,}, seed {d.random_state})" if d.dataset == "simulated" \
            else ""
        return f"bundled dataset {d.dataset!r}{extra}"
    return f"file {d.path}" if d.path is not None else "DuckDB query"


def _study_text(res: StudyResults, lab: Any) -> str:
    from ._report import _analysis_label
    from ._reporttext import time_text

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
        hz = f"; administrative censoring at {time_text(fu.horizon, lab)}" if fu.horizon \
            else ""
        lines.append(f"**Follow-up.** Time zero: {fu.time_zero or 'not stated'}; follow-up "
                     f"recorded in {fu.unit}{hz}.")
    arms = f"{lab.arm(1)} vs {lab.arm(0)}"
    lines.append(f"**Exposure.** {p.exposure.label or arms}.")
    outs = "; ".join(lab.outcome(o.name) + f" ({o.type.replace('_', ' ')}"
                     + (f", cause {o.cause}" if o.cause is not None else "") + ")"
                     for o in p.outcomes)
    lines.append(f"**Outcomes.** {outs}.")
    cols = formula_columns(p.covariates if isinstance(p.covariates, str)
                           else list(p.covariates or ()))
    cov = ", ".join(lab.variable(v, short=True) for v in cols
                    if v != p.exposure.column)
    lines.append(f"**Confounders adjusted for.** {cov or 'none'} (the model terms are in "
                 "the technical appendix).")
    from ._reporttext import method_words

    def analysis_text(a: Any) -> str:
        label = _analysis_label(p, a.name)
        words = method_words(a.options.get("method", a.method))
        bits = ([] if label != a.name else [words]) + (
            [f"estimand {a.estimand}"] if a.estimand else [])
        name = label if label != a.name else a.name.replace("_", " ")
        return name + (f" ({', '.join(bits)})" if bits else "")

    lines.append("**Analyses.** " + "; ".join(analysis_text(a) for a in p.analyses) + ".")
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
    return run_record(p, res.started, {
        "source": _data_label(p), "files_sha256": c.files,
        "loaded_frame_sha256": c.frame_sha256, "analysed_frame_sha256": sha256_frame(c.data),
        "rows_loaded": c.n_loaded, "rows_analysed": len(c.data)})


def run_record(p: Any, started: str, data: dict[str, Any]) -> dict[str, Any]:
    """The provenance record shared by every kind of protocol run; ``data`` describes its data."""
    return {
        "cohortlab_provenance": 1,
        "started": started,
        "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": _versions(),
        "seed": p.study.seed,
        "protocol": {"file": p.source, "sha256": hashlib.sha256(p.text.encode()).hexdigest(),
                     "text": p.text},
        "data": data,
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
    tables = _tables(res)
    return write_bundle(folder, res.protocol, provenance(res), tables, lambda: _figures(res),
                        lambda figures, prov: _report(res, tables, figures, prov), log)


def write_bundle(folder: str | Path, p: Any, prov: dict[str, Any], tables: list[TableOut],
                 figures_of: Callable[[], list[FigureOut]],
                 report_of: Callable[[list[FigureOut], dict[str, Any]], Any],
                 log: Callable[[str], None] | None = None) -> Path:
    """Write a run's protocol copy, tables, figures, report and provenance into ``folder``.

    The one writer behind every kind of protocol (point-exposure and ``[longitudinal]``):
    ``p.outputs`` decides the formats; ``figures_of()`` draws the figures (closed here, also
    on failure) and ``report_of(figures, prov)`` builds the :class:`Report`; the provenance
    records the sha256 of every CSV table and of every file written. ``log`` receives
    progress lines. Returns ``folder`` as a Path.
    """
    import matplotlib.pyplot as plt

    log = log or (lambda _m: None)
    root = Path(folder)
    (root / "tables").mkdir(parents=True, exist_ok=True)
    (root / "protocol.toml").write_text(p.text, encoding="utf-8")
    for t in tables:
        _write_table(t, root / "tables", p.outputs.tables)
    figures: list[FigureOut] = []
    try:
        if p.outputs.figures or p.outputs.report:
            from ..report.style import save_figure

            log("drawing figures")
            figures = figures_of()
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
            rep = report_of(figures, prov)
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


def _interaction_frame(tests: Any) -> pd.DataFrame:
    """Interaction tests as variable, statistic, df, p_value and the adjusted p-values."""
    frame = tests.to_frame()
    adjusted = [c for c in frame.columns if c.startswith("p_") and c != "p_value"]
    frame = frame[["variable", "statistic", "df", "p_value", *adjusted]].copy()
    frame["df"] = frame["df"].astype(int)  # whole degrees of freedom, as before
    return frame
