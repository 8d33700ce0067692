"""The clinical blocks of a protocol report: tables in words, warnings once, the appendix.

Display only: every number shown is one of the CSV tables' numbers, formatted.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from ..results._format import format_estimate_ci, format_p
from ..results.labels import Labels
from ._reporttext import (
    ci_words,
    clinical_note,
    contrast_label,
    evalue_sentence,
    is_technical,
    method_words,
    relabel_terms,
    time_text,
)

__all__ = ["add_clinical_table", "warnings_list", "appendix_text", "table2_display",
           "evalues_display"]

_COLUMN_WORDS = {
    "smd_unweighted": "SMD before weighting", "smd_weighted": "SMD after weighting",
    "smd": "SMD", "var_ratio": "Variance ratio", "variance_ratio_unweighted":
    "Variance ratio before weighting", "variance_ratio_weighted": "Variance ratio after "
    "weighting", "n_beyond_horizon": "Followed beyond the horizon",
    "events_censored_at_horizon": "Events censored at the horizon", "n_input": "Rows",
    "n_dropped": "Rows dropped", "by_column": "By column", "std_error": "Standard error",
    "conf_low": "Lower 95% limit", "conf_high": "Upper 95% limit", "p_value": "p-value",
    "n_risk": "Number at risk", "percent": "%", "var_ratio_unweighted": "Variance ratio "
    "before weighting", "var_ratio_weighted": "Variance ratio after weighting",
    "p-value": "p-value", "P-value": "p-value", "p_holm": "p-value (Holm)",
    "p_fdr_bh": "p-value (Benjamini-Hochberg)", "df": "df",
    "p_interaction": "p for interaction", "kind": "Type", "n_events": "Events",
}
_WARNING_NOTE = re.compile(r"^[A-Z][A-Za-z]*Warning: ")
_PREFIXES = re.compile(r"^([A-Z][A-Za-z]*Warning: )?([A-Za-z_][A-Za-z0-9_.]*\(\): )?")
_CAUSE = re.compile(r"\s\[cause \d+\]$")
_TERM_COLUMNS = ("term", "variable", "covariate", "Term", "Variable", "Covariate")
_RISK_FIRST = {"risk_difference": 0, "risk_ratio": 1, "hazard_ratio": 2,
               "subdistribution_hazard_ratio": 2, "mean_difference": 2, "odds_ratio": 2,
               "difference": 3, "ratio": 4}


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _analysis_label(protocol: Any, name: str) -> str:
    rl = getattr(protocol, "labels", None)
    return rl.analysis(name) if rl is not None else name


def _contrast(protocol: Any) -> str | None:
    rl = getattr(protocol, "labels", None)
    return rl.contrast if rl is not None else None


def _exposure_words(protocol: Any, labels: Labels) -> str:
    col = protocol.exposure.column
    name = labels.variable(col, short=True)
    return name[0].lower() + name[1:] if name and name != col else col.replace("_", " ")


# ----------------------------------------------------------------------------- Table 2
def table2_display(t2: pd.DataFrame, protocol: Any, labels: Labels) -> pd.DataFrame:
    """Table 2 in words; risk contrasts before survival ones.

    Columns: analysis, outcome, contrast with direction and time, estimate (95% CI),
    p-value and the confidence interval's method.
    """
    if not len(t2):
        return pd.DataFrame()
    order = pd.DataFrame({"a": pd.Categorical(t2["analysis"], list(dict.fromkeys(
        t2["analysis"]))), "m": t2["effect_measure"].map(_RISK_FIRST).fillna(2),
        "i": np.arange(len(t2))}).sort_values(["a", "m", "i"])["i"].to_numpy()
    t2 = t2.iloc[order].reset_index(drop=True)
    contrast = _contrast(protocol)
    return pd.DataFrame({
        "Analysis": [_analysis_label(protocol, a) for a in t2["analysis"]],
        "Outcome": [labels.outcome(o) for o in t2["outcome"]],
        "Contrast": [contrast_label(t, m, labels, contrast)
                     for t, m in zip(t2["term"], t2["effect_measure"], strict=True)],
        "Estimate (95% CI)": [format_estimate_ci(e, lo, hi, measure=str(m), p_value=pv)
                              for e, lo, hi, m, pv in zip(
                                  t2["estimate"], t2["conf_low"], t2["conf_high"],
                                  t2["effect_measure"], pd.to_numeric(t2["p_value"],
                                                                      errors="coerce"),
                                  strict=True)],
        "p-value": [format_p(v) for v in pd.to_numeric(t2["p_value"], errors="coerce")],
        "Confidence interval": [ci_words(m) for m in t2["ci_method"]],
    })


# ----------------------------------------------------------------------------- E-values
def evalues_display(ev: pd.DataFrame, protocol: Any, labels: Labels
                    ) -> tuple[pd.DataFrame, list[str]]:
    """The E-values table (ratios only, formatted) and one sentence per row."""
    if ev is None or not len(ev):
        return pd.DataFrame(), []
    ev = ev.loc[np.isfinite(pd.to_numeric(ev["evalue"], errors="coerce"))]
    # a survival ratio's E-value is not the one to read when the risk ratio is there
    has_risk = set(ev.loc[ev["effect_measure"] == "risk_ratio", "analysis"])
    ev = ev.loc[~((ev["effect_measure"] == "ratio") & ev["analysis"].isin(has_risk))]
    # a cause-specific model's other causes are not the outcome of interest
    causes = {o.name: o.cause for o in protocol.outcomes}
    other = [bool(m) and causes.get(o) is not None and int(m.group(1)) != causes.get(o)
             for o, m in zip(ev["outcome"], ev["term"].astype(str).map(
                 lambda t: re.search(r"\[cause (\d+)\]", t)), strict=True)]
    ev = ev.loc[~np.asarray(other, dtype=bool)]
    contrast = _contrast(protocol)
    exposure = _exposure_words(protocol, labels)
    rows, sentences = [], []
    for r in ev.itertuples(index=False):
        what = contrast_label(r.term, r.effect_measure, labels, contrast)
        rows.append({"Analysis": _analysis_label(protocol, r.analysis),
                     "Outcome": labels.outcome(r.outcome), "Contrast": what,
                     "Estimate (95% CI)": format_estimate_ci(r.estimate, r.conf_low,
                                                             r.conf_high,
                                                             measure=str(r.effect_measure)),
                     "E-value (estimate)": f"{float(r.evalue):.2f}",
                     "E-value (CI limit)": f"{float(r.evalue_ci):.2f}"
                     if np.isfinite(float(r.evalue_ci)) else ""})
        outcome = labels.outcome(r.outcome).replace("_", " ")
        outcome = outcome[0].lower() + outcome[1:] if outcome else outcome
        head = f"{_analysis_label(protocol, r.analysis)}, {what[0].lower()}{what[1:]}"
        sentences.append(f"**{head.replace('_', ' ')}**: " + evalue_sentence(exposure, outcome,
                                                            float(r.evalue),
                                                            float(r.evalue_ci))
                         + (" (Approximate: the mean difference is converted to a risk "
                            "ratio through the standardised mean difference.)"
                            if str(r.evalue_measure) == "SMD" else ""))
    return pd.DataFrame(rows), sentences


# ----------------------------------------------------------------------------- PH tests
def ph_display(frame: pd.DataFrame, protocol: Any, labels: Labels | None = None,
               reference: dict[str, Any] | None = None) -> pd.DataFrame:
    """Proportional hazards tests as Term, Chi-square, df, p-value (no interval column).

    ``reference``: the model's reference levels (``{"C(size)": "<=20"}``), so a factor's
    term reads "Tumour size: >50 mm vs ≤20 mm".
    """
    from ..results.labels import format_term
    from ._reporttext import study_labels

    lab = labels if labels is not None else study_labels(protocol)
    exp = protocol.exposure.column
    named = ["Global test" if t == "GLOBAL" else f"{lab.arm(1)} vs {lab.arm(0)}" if t == exp
             else format_term(t, lab, reference=reference)
             for t in frame["term"].astype(str)]
    # one column per term; the global test has one df per column
    df = frame["df"] if "df" in frame.columns else pd.Series(
        [len(frame) - 1.0 if t == "GLOBAL" else 1.0 for t in frame["term"].astype(str)])
    return pd.DataFrame({
        "Term": named,
        "Chi-square": [f"{v:.2f}" for v in frame["statistic"].astype(float)],
        "df": [f"{v:g}" if np.isfinite(v) else "" for v in df.astype(float)],
        "p-value": [format_p(v) for v in frame["p_value"].astype(float)],
    })


# ----------------------------------------------------------------------------- any table
def _relabel_frame(display: pd.DataFrame, labels: Labels, protocol: Any,
                   raw_terms: pd.Series | None = None) -> pd.DataFrame:
    """A table's columns, groups, times and CI methods in words.

    ``raw_terms``: the model terms of a table whose terms ``table_parts(labels=)`` has
    already put in words (only the exposure's rows are renamed, to the arm names); without
    them, a term column of a plain frame is put in words here.
    """
    d = display.copy()
    exp = protocol.exposure.column
    arms = f"{labels.arm(1)} vs {labels.arm(0)}"
    if "level" in d.columns and ({"subgroup", "variable"} & set(d.columns)):
        d["level"] = _level_words(d, "level", labels)  # before the variables are in words
    for col in d.columns:
        if col in _TERM_COLUMNS:
            raw = (raw_terms.astype(str).tolist() if raw_terms is not None
                   and len(raw_terms) == len(d) else d[col].astype(str).tolist())
            shown = (d[col].astype(str).tolist() if raw_terms is not None
                     else relabel_terms(d[col], labels))
            # a cause-specific model's "age [cause 1]": the term in words, then the cause
            shown = [relabel_terms([t], labels)[0] if _CAUSE.search(t) else v
                     for t, v in zip(raw, shown, strict=True)]
            d[col] = [arms + t[len(exp):].replace(" [cause ", " (cause ").replace("]", ")")
                      if t == exp or t.startswith(exp + " [") else lab
                      for t, lab in zip(raw, shown, strict=True)]
        elif str(col).lower() == "subgroup":
            d[col] = ["Overall" if v == "overall" else labels.variable(v, short=True)
                      if v.strip() else v for v in d[col].astype(str)]
        elif str(col).lower() == "group":
            d[col] = [_arm(g, labels) for g in d[col]]
        elif str(col).lower() == "time":
            d[col] = [_time_cell(t, labels) for t in d[col]]
        elif str(col).lower() in ("ci method", "ci_method"):
            d[col] = [ci_words(v) for v in d[col]]
        elif str(col).lower() == "analysis":
            d[col] = [_analysis_label(protocol, str(a)) for a in d[col]]
    d.columns = [_COLUMN_WORDS.get(str(c), str(c).replace("_", " ")[:1].upper()
                                   + str(c).replace("_", " ")[1:]) for c in d.columns]
    return d


def _level_words(d: pd.DataFrame, col: Any, labels: Labels) -> list[str]:
    """A level column's codes as their labels (``sex``, ``1`` -> ``Female``).

    The variable is the row's (or the last one named above it) in the table's ``subgroup``
    or ``variable`` column, read before that column is put in words.
    """
    vcol = next(c for c in d.columns if str(c).lower() in ("subgroup", "variable"))
    var, out = "", []
    for s_, v in zip(d[vcol].astype(str), d[col].astype(str), strict=True):
        var = s_.strip() or var
        out.append("" if var == "overall" and v == "all" else
                   labels.value(var, v) if v.strip() and v != "nan" else v)
    return out


def _arm(g: Any, labels: Labels) -> str:
    """A curve's group as the arm's name (``hormon=1`` or ``Hormonal therapy = Yes``)."""
    s = str(g)
    code = (s.split("=", 1)[1] if "=" in s else s).strip()
    if code in labels.arms.values():  # table_parts(labels=) named it already
        return code
    return labels.arm(code) if s.strip() and s != "nan" else s


def _time_cell(t: Any, labels: Labels) -> str:
    try:
        return time_text(float(str(t).replace(",", "")), labels)
    except ValueError:
        return str(t)


def _split_notes(notes: Any, where: str, appendix: list[tuple[str, str]],
                 skip: set[str] | None = None) -> tuple[str, ...]:
    out = []
    for n in notes:
        for part in str(n).split("\n"):
            if not part.strip() or _core(part) in (skip or set()):
                continue
            if is_technical(part):
                appendix.append((where, part))
            else:
                out.append(clinical_note(part))
    return tuple(dict.fromkeys(out))


def add_clinical_table(rep: Any, res: Any, t: Any, r: Any, labels: Labels,
                       appendix: list[tuple[str, str]], skip: set[str] | None = None) -> None:
    """Add one output table to the report in words (identifiers to ``appendix``).

    ``skip``: note texts not repeated under the table (the warnings, shown once).
    """
    from ..report.tables import table_parts

    p = res.protocol
    if t.name == "table2":
        risky = t.frame["effect_measure"].astype(str).str.contains("risk|hazard").any()
        shown, title = table2_display(t.frame, p, labels), t.title
        if shown["Outcome"].nunique() == 1:  # one outcome: say it in the title
            title = f"Table 2: effects on {_lower_first(shown['Outcome'].iloc[0])}"
            shown = shown.drop(columns="Outcome")
        rep.add_table(shown, title=title,
                      caption="Risks are proportions (0.05 = 5%); a risk difference below 0 "
                      "or a ratio below 1 means a lower risk in the first-named arm."
                      if risky else None)
        return
    if t.name == "evalues":
        frame, sentences = evalues_display(t.frame, p, labels)
        if len(frame):
            rep.add_table(frame, title=t.title)
            rep.add_text("\n".join(f"- {s}" for s in sentences))
        else:
            rep.add_text("No ratio estimates: E-values are computed for ratios only.")
        return
    title = t.title
    obj: Any = t.obj if t.obj is not None else t.frame
    special = _special_table(t, p, labels, appendix)
    if special is not None:
        rep.add_table(special[0], title=special[1], caption=special[2])
        return
    if t.name.startswith(("subgroups__", "interaction__")):
        head, _, raw = t.title.partition(": ")
        title = f"{head}: {subgroup_title(p, raw, labels)}"
    if r is not None:
        title = (f"{_analysis_label(p, r.analysis.name)}: "
                 f"{labels.outcome(r.outcome.name)}")
        kind = r.spec.kind
        if kind == "model":
            obj = r.result
        elif kind in ("curve", "adjusted"):
            from .study import report_times as _at

            at = _at(p, r.analysis)
            if kind == "curve":  # read off at the reporting times in the "__at" table
                rep.add_text(f"*{title}*: the curves are in `tables/{t.name}.csv` and the "
                             "figure below.")
                return
            obj = r.result
            parts = table_parts(obj, title=title, times=list(at) or None, labels=labels)
            _add_parts(rep, parts, p, labels, appendix, skip)
            return
        elif kind in ("effect", "rmst"):
            obj = r.result if kind == "effect" else t.frame
    if isinstance(obj, pd.DataFrame) and t.section == "Analyses" and len(obj) > 30:
        rep.add_text(f"*{title}*: {len(obj):,} rows, see `tables/{t.name}.csv`.")
        return
    if t.name.endswith("__ph") and t.obj is not None:
        key = t.name[:-4]
        rr = next((a for a in res.analyses if _safe_key(a.key) == key), None)
        who = _analysis_label(p, rr.analysis.name) if rr is not None else key
        from ..report.tables import model_references

        ref = model_references(rr.result) if rr is not None else None
        rep.add_table(ph_display(t.frame, p, labels, ref), title=f"{who}: proportional hazards "
                      "tests", caption="Score tests of a time-varying effect of each term "
                      "(R cox.zph); a small p-value suggests the hazard ratio changes over "
                      "follow-up.")
        return
    if t.name.endswith("__at"):
        key = t.name[:-4]
        rr = next((a for a in res.analyses if _safe_key(a.key) == key), None)
        if rr is not None:
            by = labels.variable(p.exposure.column, short=True)
            by = by[:1].lower() + by[1:]
            title = (f"{_analysis_label(p, rr.analysis.name)}: "
                     f"{labels.outcome(rr.outcome.name)}, by {by}")
    parts = table_parts(obj, title=title, labels=labels)
    _add_parts(rep, parts, p, labels, appendix, skip)
    if t.notes and r is None:
        kept = [clinical_note(n) for n in t.notes
                if not is_technical(n) and _core(n) not in (skip or set())]
        if kept:
            rep.add_text("\n".join(f"- {n}" for n in kept))


def _special_table(t: Any, protocol: Any, labels: Labels,
                   appendix: list[tuple[str, str]]
                   ) -> tuple[pd.DataFrame, str, str | None] | None:
    """The exposure groups, the follow-up horizon and the bias analysis in words.

    Returns (table, title, caption), or None for any other table.
    """
    f = t.frame
    if t.name == "exposure_definition" and {"level", "n", "percent"} <= set(f.columns):
        appendix.append(("exposure", t.title))  # the definition with its column names
        arms = f"{labels.arm(1)} vs {labels.arm(0)}"
        return (pd.DataFrame({
            "Group": [labels.arm(v) for v in f["level"]],
            "N": [f"{int(v):,}" for v in f["n"]],
            "%": [f"{float(v):.1f}" for v in f["percent"]],
            "Reference": ["yes" if bool(v) else "" for v in f.get(
                "reference", pd.Series([False] * len(f)))],
        }), f"Exposure groups: {protocol.exposure.label or arms}", None)
    if t.name == "followup_horizon" and {"outcome", "horizon"} <= set(f.columns):
        return (pd.DataFrame({
            "Outcome": [labels.outcome(o) for o in f["outcome"]],
            "Censored at": [time_text(float(h), labels) for h in f["horizon"]],
            "Followed beyond the horizon": [f"{int(v):,}" for v in f["n_beyond_horizon"]],
            "Events after the horizon (censored)": [
                f"{int(v):,}" for v in f["events_censored_at_horizon"]],
        }), t.title, None)
    if t.name == "bias_analysis" and {"term", "estimate", "conf_low"} <= set(f.columns):
        words = {"naive": "Naive (flag taken as true)", "corrected (systematic)":
                 "Corrected for misclassification", "corrected (total)":
                 "Corrected, with random error"}
        measure = str(f["effect_measure"].iloc[0]) if "effect_measure" in f.columns else ""
        return (pd.DataFrame({
            "Estimate": [words.get(str(v), str(v)) for v in f["term"]],
            "Estimate (95% interval)": [format_estimate_ci(e, lo, hi, measure=measure)
                                        for e, lo, hi in zip(f["estimate"], f["conf_low"],
                                                             f["conf_high"], strict=True)],
        }), t.title, "Naive: 95% confidence interval. Corrected: median and 95% simulation "
            "interval over the sensitivity and specificity drawn from the validation data.")
    return None


def _name_columns(note: str, protocol: Any, labels: Labels) -> str:
    """Column names in a Table 1 footnote replaced by their short labels."""
    from .methods import formula_columns

    cov = protocol.covariates
    cols = formula_columns(cov if isinstance(cov, str) else list(cov or ()))
    for c in sorted(cols, key=len, reverse=True):
        note = re.sub(rf"(?<![\w.]){re.escape(c)} \(", f"{labels.variable(c, short=True)} (",
                      note)
    return note.replace("SMD: (1 - 0)", f"SMD: ({labels.arm(1)} - {labels.arm(0)})")


def _safe_key(key: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key)


def _add_parts(rep: Any, parts: Any, protocol: Any, labels: Labels,
               appendix: list[tuple[str, str]], skip: set[str] | None = None) -> None:
    from ..report.tables import TableParts

    numbers = parts.numbers
    # a result's terms are already in words (table_parts(labels=)); a frame's are not
    raw = numbers["term"] if "term" in numbers.columns and "Term" in parts.display.columns \
        and "term" not in parts.display.columns else None
    display = _relabel_frame(parts.display, labels, protocol, raw)
    if "Term" in display.columns and {"Time", "Group"} <= set(display.columns):
        display = display.drop(columns="Term")  # a curve read off at times: Time says it
    notes = _split_notes(parts.notes, parts.title, appendix, skip)
    if any(c.startswith(("Variable",)) for c in display.columns):
        notes = tuple(_name_columns(n, protocol, labels) for n in notes)
    rep.add_table(TableParts(title=parts.title, display=display, numbers=parts.numbers,
                             notes=notes, caption=parts.caption))


def subgroup_title(protocol: Any, title: str, labels: Labels) -> str:
    """``"ipw, weight_change, by sex"`` in words: the analysis, the outcome and the variables."""
    analysis, _, rest = title.partition(", ")
    outcome, _, by = rest.rpartition(", by ")
    if not outcome:
        return title
    names = ", ".join(_lower_first(labels.variable(b, short=True)) for b in by.split(", "))
    return (f"{_analysis_label(protocol, analysis)}: {_lower_first(labels.outcome(outcome))}, "
            f"by {names}")


def relabel_forest(ax: Any, labels: Labels) -> Any:
    """A subgroup forest plot's left labels in words (variables and their levels)."""
    ticks = list(ax.get_yticks())
    texts = [t.get_text() for t in ax.get_yticklabels()]
    bold = [t.get_fontweight() for t in ax.get_yticklabels()]
    var, new = "", []
    for text in texts:
        if text.startswith(" "):  # a level, indented under its variable
            new.append(text[:len(text) - len(text.lstrip())] + labels.value(var, text.strip()))
        else:
            var = text
            new.append(text if text == "Overall" else labels.variable(text, short=True))
    ax.set_yticks(ticks, new)
    for tick, weight in zip(ax.get_yticklabels(), bold, strict=True):
        tick.set_fontweight(weight)
    return ax


# ----------------------------------------------------------------------------- warnings
def warnings_list(res: Any, labels: Labels, appendix: list[tuple[str, str]]) -> list[str]:
    """Each warning once, with the analyses that raised it; technical notes to ``appendix``.

    Other notes stay in their table's footnotes.
    """
    seen: dict[str, list[str]] = {}
    for n in res.cohort.notes:
        if is_technical(str(n)):
            appendix.append(("cohort", str(n)))
        elif _WARNING_NOTE.match(str(n)):
            seen.setdefault(clinical_note(str(n)), [])
    for r in res.analyses:
        who = _analysis_label(res.protocol, r.analysis.name)
        for n in r.notes:
            if is_technical(n):
                appendix.append((who, n))
                continue
            if not _WARNING_NOTE.match(n):
                continue
            key = _arm_words(re.sub(r"\s+", " ", clinical_note(n)).strip(), res.protocol,
                             labels)
            seen.setdefault(key, [])
            if who not in seen[key]:
                seen[key].append(who)
    return [f"{text} ({', '.join(who)})" if who else text for text, who in seen.items()]


def _arm_words(text: str, protocol: Any, labels: Labels) -> str:
    """``'hormon' = 1`` and ``hormon=1`` in a note as the arm's name."""
    exp = re.escape(protocol.exposure.column)
    text = re.sub(rf"\bwith '{exp}' = (\w+)", lambda m: f"in the {labels.arm(m.group(1))} "
                  "group", text)
    text = re.sub(rf"'{exp}' = (\w+)", lambda m: f"the {labels.arm(m.group(1))} group", text)
    return re.sub(rf"\b{exp}=(\w+)", lambda m: f"{labels.arm(m.group(1))}", text)


def _core(note: str) -> str:
    """A note's text without its warning and function prefixes, for comparing."""
    return re.sub(r"\s+", " ", _PREFIXES.sub("", note)).strip()


# ----------------------------------------------------------------------------- appendix
def appendix_text(res: Any, prov: dict[str, Any], appendix: list[tuple[str, str]]) -> str:
    """The technical appendix: verbs and identifiers, formulas and fit statistics, versions."""
    p, c = res.protocol, res.cohort
    lines = ["### Analyses as run", ""]
    for a in p.analyses:
        opts = ", ".join(f"{k} = {v!r}" for k, v in a.options.items())
        lines.append(f"- `{a.name}`: `{a.method}()`" + (f", estimand {a.estimand}"
                                                         if a.estimand else "")
                     + (f", options `{opts}`" if opts else ""))
    methods = sorted({(str(r.analysis.name), str(m), str(ci))
                      for r in res.analyses for m, ci in zip(
                          r.effects.get("method", pd.Series(dtype=str)),
                          r.effects.get("ci_method", pd.Series(dtype=str)), strict=True)})
    if methods:
        lines += ["", "### Estimators and variance methods (identifiers)", ""]
        lines += [f"- `{a}`: method `{m}` ({method_words(m)}); CI method `{ci}` "
                  f"({ci_words(ci)})" for a, m, ci in methods]
    cov = p.covariates
    if cov is not None:
        lines += ["", "### Covariates as given", "",
                  f"`{cov if isinstance(cov, str) else ' + '.join(cov)}`"]
    if appendix:
        lines += ["", "### Model details and fit statistics", ""]
        places: dict[str, list[str]] = {}
        for where, text in appendix:
            who = where.split(":")[0]
            if who not in places.setdefault(text, []):
                places[text].append(who)
        for text, whos in places.items():
            lines.append(f"- *{', '.join(whos)}*: `{text}`")
    lines += ["", "### Provenance", "",
              f"- protocol sha256: `{prov['protocol']['sha256']}`",
              f"- data sha256 (loaded frame): `{c.frame_sha256}`",
              f"- seed: {p.study.seed}; rows loaded {c.n_loaded:,}, analysed {len(c.data):,}",
              f"- python {prov['python']}; platform `{prov['platform']}`",
              "- packages: " + ", ".join(f"{k} {v}" for k, v in prov["packages"].items()
                                          if v is not None)]
    return "\n".join(lines)
