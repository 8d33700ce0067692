"""The TARGET report of an emulated target trial: tables, figure, HTML and Word, provenance.

What a clinician reads (specification, flow, weights, curves, effects) uses the
protocol's labels and the strategy names; column names, estimator identifiers and model
terms go to the technical appendix.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..results._format import format_estimate_ci

__all__ = ["write_trial_outputs", "effects_display", "flow_display", "weights_display",
           "checklist", "curve_figure", "trial_report"]

_WEIGHT_WORDS = {"n": "Person-periods weighted", "mean": "Mean", "sd": "Standard deviation",
                 "min": "Smallest", "p01": "1st percentile", "median": "Median",
                 "p99": "99th percentile", "max": "Largest",
                 "ess": "Effective sample size", "n_truncated": "Weights truncated"}


def _unit(spec: Any, n: int = 2) -> str:
    u = str(spec.unit)
    return u[:-1] if n == 1 and u.endswith("s") else u


def _arm_words(text: str, spec: Any) -> str:
    s1, s0 = spec.strategies
    text = re.sub(r"\barm (1|start)\b", s1.name, text)
    text = re.sub(r"\barm (0|never)\b", s0.name, text)
    return text


def _outcome(spec: Any) -> str:
    return spec.outcome_label or spec.labels.get(spec.outcome, spec.outcome)


def flow_display(result: Any, spec: Any) -> pd.DataFrame:
    """The flow of persons, trials and person-periods in words."""
    f = result.flow
    steps = [_arm_words(str(s), spec).replace(" (censor = 1)", "")
             .replace("both arms", "both strategies") for s in f["step"]]
    steps = [s[0].upper() + s[1:] for s in steps]
    return pd.DataFrame({"Step": steps, "n": [f"{int(n):,}" for n in f["n"]]})


def weights_display(result: Any) -> pd.DataFrame | None:
    """The weight diagnostics in words (None without weights)."""
    w = result.weights
    if w is None:
        return None
    vals = []
    for s, v in zip(w["statistic"], w["value"], strict=True):
        vals.append(f"{int(v):,}" if s in ("n", "n_truncated") else
                    f"{v:,.1f}" if s == "ess" else f"{v:.3f}")
    return pd.DataFrame({"Statistic": [_WEIGHT_WORDS.get(s, s) for s in w["statistic"]],
                         "Value": vals})


def _horizons(result: Any) -> list[int]:
    terms = result.effects.to_frame()["term"]
    return sorted({int(m.group(1)) for t in terms if (m := re.search(r"follow-up (\d+)", t))})


def effects_display(result: Any, spec: Any) -> pd.DataFrame:
    """Risks (percent), risk difference (percentage points) and ratio, one column a horizon."""
    fr = result.effects.to_frame()
    s1, s0 = spec.strategies
    names = [f"Risk, {s1.name} (%)", f"Risk, {s0.name} (%)",
             "Risk difference (percentage points)", "Risk ratio"]
    cols: dict[str, list[str]] = {"Measure": names}
    for h in _horizons(result):
        at = fr[fr["term"].str.endswith(f"at follow-up {h}")]
        risks = at[at["effect_measure"] == "risk"]
        rd = at[at["effect_measure"] == "risk_difference"].iloc[0]
        rr = at[at["effect_measure"] == "risk_ratio"].iloc[0]

        def pct(r: pd.Series, measure: str = "risk") -> str:
            return format_estimate_ci(100 * r.estimate, 100 * r.conf_low, 100 * r.conf_high,
                                      digits=1, measure=measure)

        cols[f"By {_unit(spec, 1)} {h + 1}"] = [
            pct(risks.iloc[0]), pct(risks.iloc[1]), pct(rd, "risk_difference"),
            format_estimate_ci(rr.estimate, rr.conf_low, rr.conf_high, measure="risk_ratio")]
    return pd.DataFrame(cols)


def curve_figure(result: Any, spec: Any) -> Any:
    """Cumulative incidence under each strategy with its confidence band."""
    import matplotlib.pyplot as plt

    from ..report.style import COLORS, style

    d = result.curves.data
    fig, ax = plt.subplots(figsize=(6.0, 3.8), layout="constrained")
    top = 0.0
    last = (spec.followup - 1) if spec.followup else int(d["time"].max())
    for (group, name), color in zip((("arm 1", spec.strategies[0].name),
                                     ("arm 0", spec.strategies[1].name)), COLORS, strict=False):
        g = d[(d["group"] == group) & (d["time"] <= last)]
        # the risk by the end of follow-up period k is drawn at k + 1 (time zero: 0)
        x = np.r_[0.0, g["time"].to_numpy() + 1.0]
        y = np.r_[0.0, g["estimate"].to_numpy()]
        lo = np.r_[0.0, np.clip(g["conf_low"].to_numpy(), 0, 1)]
        hi = np.r_[0.0, np.clip(g["conf_high"].to_numpy(), 0, 1)]
        ax.plot(x, 100 * y, color=color, marker="o", markersize=3,
                label=name[0].upper() + name[1:])
        if np.isfinite(lo).all() and np.isfinite(hi).all():
            ax.fill_between(x, 100 * lo, 100 * hi, color=color, alpha=0.15, linewidth=0)
            top = max(top, float(np.nanmax(hi)))
        top = max(top, float(np.nanmax(y)))
    ax.set_xlabel(f"{_unit(spec).capitalize()} since time zero")
    ax.set_ylabel(f"Cumulative incidence of {_outcome(spec)} (%)")
    ax.set_xlim(0, last + 1)
    ax.set_ylim(0, max(100 * top * 1.1, 1.0))
    ax.legend(loc="upper left")
    style(ax)
    return fig


def checklist(anchors: dict[str, str]) -> pd.DataFrame:
    """TARGET items (protocol, emulation, results) and where this report addresses each."""
    spec_sec = anchors.get("spec", "Target trial specification")
    items = [
        ("Title and question: the causal question and the target trial", "Title; Study"),
        ("Data source and setting", "Study"),
        ("Eligibility criteria (target trial and emulation)", spec_sec),
        ("Treatment strategies", spec_sec),
        ("Assignment procedures (emulated by adjustment; confounders)", spec_sec),
        ("Time zero (aligned with eligibility and assignment)", spec_sec),
        ("Follow-up: start, end, loss to follow-up", spec_sec),
        ("Outcome (and competing events)", spec_sec),
        ("Causal contrasts (intention-to-treat, per-protocol)", spec_sec),
        ("Analysis plan: estimator, weights, truncation, variance", spec_sec),
        ("Participant flow (persons, trials, person-periods)", anchors.get("flow", "")),
        ("Weights: distribution, truncation, effective sample size",
         anchors.get("weights", "not applicable (no weights)")),
        ("Cumulative incidence under each strategy", anchors.get("curves", "")),
        ("Absolute and relative effects with confidence intervals",
         anchors.get("effects", "")),
        ("Assumptions, deviations and limitations", anchors.get("notes", "")),
        ("Software, code and provenance", "Technical appendix"),
    ]
    return pd.DataFrame(items, columns=["TARGET item", "Where in this report"])


def _notes(result: Any, spec: Any) -> list[str]:
    out = []
    for n in result.notes:
        text = _arm_words(str(n), spec)
        for col, lab in spec.labels.items():
            text = re.sub(rf"\({re.escape(col)}\)", f"({lab})", text)
        out.append(text[0].upper() + text[1:])
    return out


def trial_report(p: Any, result: Any, frame: pd.DataFrame, prov: dict[str, Any]) -> Any:
    """The TARGET report (a :class:`cohortlab.Report`)."""
    from ..report.document import Report

    spec = p.spec
    meta = {"protocol": p.source, "data": _data_label(p),
            "person-periods": f"{len(frame):,}", "seed": str(p.study.seed)}
    rep = Report(p.study.title, subtitle=p.study.question or None, metadata=meta)
    anchors: dict[str, str] = {}

    def heading(key: str, text: str) -> None:
        anchors[key] = text
        rep.add_heading(text, anchor=re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-"))

    heading("study", "Study")
    lines = [p.study.description.strip()] if p.study.description else []
    n_persons = frame[spec.id].nunique()
    lines.append(f"**Data.** {_data_label(p)}: {n_persons:,} persons, {len(frame):,} "
                 f"person-{_unit(spec, 1)}s.")
    lines.append(f"**Target trial.** {spec.title}.")
    rep.add_text("\n\n".join(lines))
    heading("spec", "Target trial specification")
    rep.add_table(spec.table().rename(columns={"This study": "Target trial and its "
                                               "emulation"}),
                  title="Protocol components of the target trial (TARGET)")
    heading("flow", "Flow of persons and trials")
    rep.add_table(flow_display(result, spec), title="Persons, trials and person-periods")
    w = weights_display(result)
    when = "before" if spec.estimator == "sequential_trials" else "after"
    if w is not None:
        heading("weights", "Weights")
        rep.add_table(w, title="Distribution of the inverse probability weights",
                      caption="Stabilised weights of the person-periods in the outcome "
                              f"model, {when} truncation (the last row counts those "
                              "truncated); a mean near 1 and no extreme values support the "
                              "weight models.")
    heading("curves", "Cumulative incidence under each strategy")
    import matplotlib.pyplot as plt

    fig = curve_figure(result, spec)
    rep.add_figure(fig, title=f"Cumulative incidence of {_outcome(spec)} under each "
                   "strategy", caption=f"Standardised risk by {_unit(spec, 1)} since time "
                   f"zero; shaded: {spec.conf_level:.0%} confidence band.")
    plt.close(fig)
    heading("effects", "Effect estimates")
    contrast = {"itt": "intention-to-treat", "per_protocol": "per-protocol"}[spec.contrast]
    rep.add_table(effects_display(result, spec),
                  title=f"Risks and {contrast} effects, {spec.strategies[0].name} vs "
                        f"{spec.strategies[1].name}",
                  caption=f"Standardised risk by the end of the {_unit(spec, 1)} shown, with "
                          f"{spec.conf_level:.0%} confidence intervals; risk difference and "
                          f"ratio: {spec.strategies[0].name} vs {spec.strategies[1].name}.")
    heading("notes", "Assumptions and notes")
    rep.add_text("\n".join(f"- {n}" for n in _notes(result, spec)))
    rep.add_heading("Reporting checklist", anchor="reporting-checklist")
    rep.add_table(checklist(anchors), title="TARGET checklist: where this report addresses "
                  "each item")
    rep.add_heading("Technical appendix", anchor="technical-appendix")
    rep.add_text(_appendix(p, result, prov))
    return rep


def _data_label(p: Any) -> str:
    d = p.data
    if d.dataset == "simulated":
        seed = d.random_state if d.random_state is not None else p.study.seed
        return f"simulated person-period data (n = {d.n or 2000:,}, seed {seed})"
    return f"file {d.path}"


def _appendix(p: Any, result: Any, prov: dict[str, Any]) -> str:
    spec = p.spec
    cols = {r: getattr(spec, r) for r in ("id", "period", "treatment", "outcome", "censor",
                                          "competing") if getattr(spec, r) is not None}
    lines = ["**Columns.** " + "; ".join(f"{k}: `{v}`" for k, v in cols.items()) + ".",
             f"**Estimator.** `cohortlab.{spec.estimator}` via "
             f"`cohortlab.emulate_target_trial`, contrast `{spec.contrast}`, variance "
             f"`{spec.variance}`.",
             "**Eligibility expressions.** " + ("; ".join(f"{lab}: `{e}`" for lab, e in
                                                         spec.eligibility) or "none") + ".",
             "**Outcome model terms.** " + ", ".join(f"`{t}`" for t in result.model.terms)
             + ".",
             f"**Provenance.** cohortlab {prov['packages'].get('cohortlab')}, Python "
             f"{prov['python']}, protocol sha256 `{prov['protocol']['sha256'][:16]}`."]
    return "\n\n".join(lines)


def write_trial_outputs(p: Any, frame: pd.DataFrame, files: dict[str, str], result: Any,
                        folder: Path, *, started: str) -> Path:
    """Write tables (CSV), the figure, report.html, report.docx and provenance.json."""
    import matplotlib.pyplot as plt

    from ..report.style import save_figure
    from ._outdir import MARKER
    from .load import sha256_frame
    from .outputs import _written, run_record

    root = Path(folder)
    (root / "tables").mkdir(parents=True, exist_ok=True)
    (root / "protocol.toml").write_text(p.text, encoding="utf-8")
    prov = run_record(p, started, {"source": _data_label(p), "files_sha256": files,
                                   "frame_sha256": sha256_frame(frame), "rows": len(frame)})
    tables = {"specification": p.spec.table(), "flow": result.flow,
              "effects": result.effects.to_frame(), "curves": result.curves.data,
              "model": result.model.to_frame()}
    if result.weights is not None:
        tables["weights"] = result.weights
    for name, t in tables.items():
        t.to_csv(root / "tables" / f"{name}.csv", index=False, lineterminator="\n")
    if p.outputs.figures:
        (root / "figures").mkdir(exist_ok=True)
        fig = curve_figure(result, p.spec)
        try:
            for fmt in p.outputs.figures:
                save_figure(fig, root / "figures" / "cumulative_incidence", [fmt],
                            metadata={"Date": None} if fmt == "svg" else None)
        finally:
            plt.close(fig)
    if p.outputs.report:
        rep = trial_report(p, result, frame, prov)
        rep.save_html(root / "report.html")
        rep.save_docx(root / "report.docx")
    prov["files"] = _written(root)
    (root / MARKER).write_text(json.dumps(prov, indent=2, default=str) + "\n",
                               encoding="utf-8")
    return root

