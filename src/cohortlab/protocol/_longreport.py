"""Write a longitudinal protocol run: tables, figures, the report, provenance.

The layout is that of a point-exposure run (:mod:`.outputs`): ``protocol.toml``,
``provenance.json`` (with ``files``, the marker ``--overwrite`` relies on), ``tables/*.csv``
(+ md/html/docx/xlsx as asked), ``figures/*.png``, ``report.html``. The tables:

- ``preparation``: the data steps in order; ``treatment_from_score`` when the treatment
  is derived from a score;
- ``table1_baseline``: Table 1 at baseline (period-0 rows) by baseline treatment;
- ``by_period``: persons at risk, treated, events and covariate means by period;
- per ``msm`` analysis: ``<name>__weights`` (stabilised weights by period),
  ``<name>__coefficients`` (the MSM's odds ratios), ``<name>__contrasts`` (always/never
  risks, risk difference and ratio at the horizons);
- per ``gformula_tv`` analysis: ``<name>__risks`` (risks under each strategy at the
  horizons), ``<name>__contrasts``, ``<name>__natural_course`` (the model check: simulated
  natural course vs observed risk by period), ``<name>__coefficients``;
- ``truth`` for the simulated cohort (its true risks at the horizons); ``notes``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ._longitudinal import LongAnalysis, LongitudinalSpec
from ._longrun import LongResults, risks_at
from .outputs import FigureOut, TableOut, _safe, run_record, write_bundle

__all__ = ["write_longitudinal"]


def _horizons(res: LongResults, a: LongAnalysis) -> list[int]:
    spec: LongitudinalSpec = res.protocol.longitudinal
    return list(a.horizons) or [int(res.cohort.data[spec.period].max())]


def _msm_tables(a: LongAnalysis, r: Any, lab: str) -> list[TableOut]:
    n = _safe(a.name)
    out = []
    if r.weights is not None:
        out.append(TableOut(f"{n}__weights", f"{lab}: stabilised weights by period",
                            r.weights.by_period, r.weights, a.name))
    what = ("hazard ratios, weighted Cox model" if a.options.get("model") == "cox"
            else "odds ratios of the discrete-time hazard")
    out.append(TableOut(f"{n}__coefficients", f"{lab}: marginal structural model "
                        f"({what})",
                        r.model.tidy(exponentiate=True), r.model, a.name))
    if r.contrasts is not None:
        out.append(TableOut(f"{n}__contrasts", f"{lab}: risks under always vs never "
                            "treated, risk difference and ratio", r.contrasts.to_frame(),
                            r.contrasts, a.name))
    return out


def _gformula_tables(res: LongResults, a: LongAnalysis, r: Any) -> list[TableOut]:
    from ..results.estimate import EstimateTable

    n, hz = _safe(a.name), _horizons(res, a)
    lab = res.protocol.labels.analysis(a.name)
    rows = tuple(e for e in r.contrasts if int(e.labels.get("time", -1)) in hz)
    contrasts = EstimateTable(rows=rows, title=f"{lab}: contrasts vs {r.reference!r}",
                              notes=tuple(r.contrasts.notes))
    nc = r.natural_course
    return [
        TableOut(f"{n}__risks", f"{lab}: risks under each strategy (parametric g-formula)",
                 risks := risks_at(r.risks, hz), _risk_display(risks), a.name),
        TableOut(f"{n}__contrasts", f"{lab}: risk differences and ratios vs "
                 f"{r.reference.replace('_', ' ')}", contrasts.to_frame(),
                 _contrast_display(contrasts), a.name),
        TableOut(f"{n}__natural_course", f"{lab}: model check: simulated natural course "
                 "vs observed risk by period", nc, nc.round(4), a.name),
        TableOut(f"{n}__coefficients", f"{lab}: fitted models' coefficients",
                 r.coefficients, None, "Technical appendix"),
    ]


def _risk_display(risks: pd.DataFrame) -> pd.DataFrame:
    cells = [f"{r:.3f} ({lo:.3f} to {hi:.3f})" if pd.notna(lo) else f"{r:.3f}"
             for r, lo, hi in zip(risks["risk"], risks["conf_low"], risks["conf_high"],
                                  strict=True)]
    return pd.DataFrame({"Strategy": risks["strategy"].str.replace("_", " "),
                         "Period": risks["period"], "Risk (95% CI)": cells})


def _ci(e: Any) -> str:
    if e.conf_low is None or pd.isna(e.conf_low) or pd.isna(e.conf_high):
        return f"{e.estimate:.3f}"
    return f"{e.estimate:.3f} ({e.conf_low:.3f} to {e.conf_high:.3f})"


def _contrast_display(table: Any) -> pd.DataFrame:
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for e in table:
        key = (str(e.labels["strategy"]), int(e.labels["time"]))
        row = rows.setdefault(key, {"Strategy": key[0].replace("_", " "), "Period": key[1]})
        col = ("Risk difference (95% CI)" if e.effect_measure == "risk_difference"
               else "Risk ratio (95% CI)")
        row[col] = _ci(e)
    return pd.DataFrame(list(rows.values()))


def _truth(res: LongResults) -> TableOut | None:
    t = res.cohort.truth
    if t is None:
        return None
    hz = sorted({h for a, _ in res.analyses for h in _horizons(res, a)})
    keep = t.loc[t["period"].isin(hz), ["period", "strategy", "risk"]]
    wide = keep.pivot(index="period", columns="strategy", values="risk").reset_index()
    wide.columns.name = None
    if {"always", "never"} <= set(wide.columns):
        wide["risk_difference"] = wide["always"] - wide["never"]
    return TableOut("truth", "True risks of the simulated cohort (Monte Carlo; dynamic: "
                    "treat in a period when L is above the simulation's threshold)", wide,
                    wide.round(4), "Simulation truth")


def _summary(res: LongResults) -> TableOut | None:
    """Always vs never treated at each horizon, one row per analysis (and the truth)."""
    rows: list[dict[str, Any]] = []
    for a, r in res.analyses:
        if a.method == "msm":
            if r.contrasts is None:
                continue
            for e in r.contrasts:
                if e.term in ("risk difference", "risk ratio"):
                    rows.append(dict(analysis=a.name, period=int(e.labels["period"]),
                                     measure=e.effect_measure, estimate=e.estimate,
                                     conf_low=e.conf_low, conf_high=e.conf_high))
        elif "always" in a.strategies and "never" in a.strategies and a.reference == "never":
            hz = _horizons(res, a)
            for e in r.contrasts:
                if e.labels.get("strategy") == "always" and int(e.labels["time"]) in hz:
                    rows.append(dict(analysis=a.name, period=int(e.labels["time"]),
                                     measure=e.effect_measure, estimate=e.estimate,
                                     conf_low=e.conf_low, conf_high=e.conf_high))
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    frame["measure"] = frame["measure"].str.replace("_", " ")
    shown = frame.assign(analysis=frame["analysis"].map(res.protocol.labels.analysis),
                         **{"estimate (95% CI)": [
        _ci(e) for e in frame.itertuples()]})[["analysis", "period", "measure",
                                                "estimate (95% CI)"]]
    t = res.cohort.truth
    if t is not None:
        true = t.pivot(index="period", columns="strategy", values="risk")
        diff, ratio = true["always"] - true["never"], true["always"] / true["never"]
        shown = shown.assign(truth=[
            f"{(diff if m == 'risk difference' else ratio)[p]:.3f}"
            for p, m in zip(frame["period"], frame["measure"], strict=True)])
    shown.columns = [c[:1].upper() + c[1:] for c in shown.columns]
    return TableOut("summary", "Always vs never treated: risk difference and ratio by "
                    "analysis", frame, shown, "Summary")


def _tables(res: LongResults) -> list[TableOut]:
    c = res.cohort
    summary = _summary(res)
    out = [] if summary is None else [summary]
    out += [TableOut("preparation", "Preparation of the person-period data",
                    pd.DataFrame({"step": range(1, len(c.steps) + 1), "what": c.steps}),
                    None, "Cohort")]
    if c.exposure is not None:
        counts = pd.DataFrame([dict(c.exposure.counts)])
        out.append(TableOut("treatment_from_score", c.exposure.describe(), counts, None,
                            "Cohort"))
    if res.table1 is not None:
        out.append(TableOut("table1_baseline", "Table 1: characteristics at baseline (period "
                            "0) by treatment at baseline", res.table1.to_frame(), res.table1,
                            "Table 1"))
    out.append(TableOut("by_period", "Person-periods by period: at risk, treated, events, "
                        "covariate means", res.by_period.to_frame(), res.by_period, "Table 1"))
    for a, r in res.analyses:
        out += (_msm_tables(a, r, res.protocol.labels.analysis(a.name)) if a.method == "msm"
                else _gformula_tables(res, a, r))
    truth = _truth(res)
    if truth is not None:
        out.append(truth)
    if res.notes:
        out.append(TableOut("notes", "Warnings and notes", pd.DataFrame(
            res.notes, columns=["analysis", "note"]), None, "Notes"))
    return out


def _check_sentence(nc: pd.DataFrame) -> str:
    worst = nc.loc[nc["difference"].abs().idxmax()]
    return (f"Model check: the simulated natural course is within "
            f"{abs(worst['difference']):.3f} of the observed risk in every period (largest "
            f"gap in period {int(worst.iloc[0])}: {worst['simulated']:.3f} simulated vs "
            f"{worst['observed']:.3f} observed). A large gap means a model of the g-formula "
            "is misspecified.")


def _natural_figure(nc: pd.DataFrame) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    x = nc[nc.columns[0]]
    ax.plot(x, nc["observed"], marker="o", label="observed")
    ax.plot(x, nc["simulated"], marker="s", linestyle="--", label="natural course (simulated)")
    ax.set_xlabel("period")
    ax.set_ylabel("cumulative risk")
    ax.legend(frameon=False)
    return fig


def _figures(res: LongResults) -> list[FigureOut]:
    out: list[FigureOut] = []
    unit = res.protocol.longitudinal.period_unit

    def risk_plot(curve: Any) -> Any:
        ax = curve.plot()
        legend = ax.get_legend()
        for text in legend.get_texts() if legend is not None else ():
            text.set_text(text.get_text().replace("_", " "))
        ax.set_xlabel(f"{unit} (risk by the end of the period)")
        ax.set_ylabel("cumulative risk")
        return ax.figure

    for a, r in res.analyses:
        n, lab = _safe(a.name), res.protocol.labels.analysis(a.name)
        if a.method == "msm":
            if r.weights is not None:
                out.append(FigureOut(f"weights__{n}", f"{lab}: stabilised weights by "
                                     "period", r.weights.plot().figure, a.name,
                                     "Median, mean, 25th-75th and 1st-99th percentiles of "
                                     "the weights of the uncensored person-periods."))
            if r.risks is not None:
                out.append(FigureOut(f"risks__{n}", f"{lab}: risk under always vs never "
                                     "treated", risk_plot(r.risks), a.name))
        else:
            out.append(FigureOut(f"risks__{n}", f"{lab}: risk under each strategy",
                                 risk_plot(r.risks), a.name))
            out.append(FigureOut(f"natural_course__{n}", f"{lab}: model check",
                                 _natural_figure(r.natural_course), a.name,
                                 "Close curves support the models of the g-formula."))
    return out


def _data_label(res: LongResults) -> str:
    d = res.protocol.longitudinal.data
    if d.dataset is not None:
        seed = d.random_state if d.random_state is not None else res.protocol.study.seed
        return (f"simulated cohort cl.simulate_longitudinal (n = {d.n:,}, {d.n_periods} "
                f"periods, seed {seed})")
    return f"file {d.path} ({d.layout} format)"


def _study_text(res: LongResults) -> str:
    p, c = res.protocol, res.cohort
    spec: LongitudinalSpec = p.longitudinal
    lab = p.labels.labels
    lines = [p.study.description.strip()] if p.study.description else []
    if p.study.question:
        lines.append(f"**Question.** {p.study.question.strip()}")
    lines.append(f"**Data.** {_data_label(res)}; {c.n_persons:,} persons, "
                 f"{len(c.data):,} person-periods over {c.n_periods} periods "
                 f"({spec.period_unit}s).")
    treat = (c.exposure.describe() if c.exposure is not None
             else f"{lab.variable(spec.treatment)} (0/1 in each {spec.period_unit})")
    lines.append(f"**Treatment.** {treat}")
    ends = " or ".join(x for x in (spec.censor and f"censoring ({spec.censor})",
                                 spec.competing and f"competing event ({spec.competing})") if x)
    lines.append(f"**Outcome.** {lab.variable(spec.outcome)} at the end of each "
                 f"{spec.period_unit}" + (f"; follow-up also ends by {ends}." if ends else ".")
                 + " Risks are cumulative incidences by the end of a period"
                 + (", the competing event not eliminated." if spec.competing else "."))
    cov = ", ".join(lab.variable(v) for v in spec.time_varying) or "none"
    base = ", ".join(lab.variable(v) for v in spec.baseline) or "none"
    lines.append(f"**Confounders.** Time-varying: {cov}. Baseline: {base}.")
    words = {"msm": "marginal structural model with stabilised inverse probability weights",
             "gformula_tv": "parametric g-formula"}
    lines.append("**Analyses.** " + "; ".join(
        p.labels.analysis(a.name) if p.labels.analysis(a.name) != a.name
        else f"{a.name} ({words[a.method]})" for a in spec.analyses) + ".")
    return "\n\n".join(lines)


def _provenance(res: LongResults) -> dict[str, Any]:
    from .load import sha256_frame

    c = res.cohort
    return run_record(res.protocol, res.started, {
        "source": _data_label(res), "files_sha256": c.files,
        "loaded_frame_sha256": c.frame_sha256, "analysed_frame_sha256": sha256_frame(c.data),
        "rows_loaded": c.n_loaded, "person_periods_analysed": len(c.data),
        "persons": c.n_persons})


def _report(res: LongResults, tables: list[TableOut], figures: list[FigureOut],
            prov: dict[str, Any]) -> Any:
    from ..report.document import Report

    p = res.protocol
    meta = {"protocol": p.source, "data": _data_label(res),
            "person-periods analysed": f"{len(res.cohort.data):,}"}
    rep = Report(p.study.title, subtitle=p.study.question or None, metadata=meta,
                 labels=p.labels.labels)
    rep.add_heading("Study", anchor=True)
    rep.add_text(_study_text(res))
    sections = list(dict.fromkeys([t.section for t in tables] + [f.section for f in figures]))
    sections.sort(key=lambda x: x == "Technical appendix")  # stable: the appendix last
    names = {a.name for a, _ in res.analyses}
    analyses_done = False
    for section in sections:
        if section in names:
            if not analyses_done:
                rep.add_heading("Analyses", anchor=True)
                analyses_done = True
            rep.add_heading(p.labels.analysis(section), level=3)
        elif section == "Notes":
            rep.add_heading("Warnings and notes", anchor=True)
            notes = next(t for t in tables if t.name == "notes").frame
            rep.add_text("\n".join(f"- {p.labels.analysis(a)}: {n}"
                                   for a, n in notes.itertuples(index=False)))
            continue
        else:
            rep.add_heading(section, anchor=True)
        for t in tables:
            if t.section == section:
                rep.add_table(t.obj if t.obj is not None else t.frame, title=t.title)
                if t.name.endswith("__natural_course"):
                    rep.add_text(_check_sentence(t.frame))
                if t.name == "summary":
                    unit = p.longitudinal.period_unit
                    rep.add_text(f"Periods count from 0: period k is {unit} k + 1, and a risk "
                                 f"at period k is the risk by the end of that {unit}."
                                 + (" Truth: the simulated cohort's true values (Monte "
                                    "Carlo)." if res.cohort.truth is not None else ""))
        for f in figures:
            if f.section == section:
                rep.add_figure(f.fig, title=f.title, caption=f.caption or None)
    if "Technical appendix" not in sections:
        rep.add_heading("Technical appendix", anchor=True)
    rep.add_text(f"Seed {p.study.seed}; cohortlab {prov['packages'].get('cohortlab')}; "
                 f"Python {prov['python']}. Every number is in tables/*.csv; "
                 "provenance.json records the inputs' hashes.")
    return rep


def write_longitudinal(res: LongResults, folder: str | Path, *,
                       log: Callable[[str], None] | None = None) -> Path:
    """Write every table, figure, the report and provenance of a longitudinal run."""
    tables = _tables(res)
    return write_bundle(folder, res.protocol, _provenance(res), tables, lambda: _figures(res),
                        lambda figures, prov: _report(res, tables, figures, prov), log)
