"""The words of a protocol report: methods, CI methods, contrasts and notes a clinician reads.

Identifiers (``infinitesimal_jackknife``, ``aipw_ipcw``), formulas (``C(size)``), fit
statistics and package versions belong in the report's technical appendix; this module
says which is which and turns the rest into plain words. Display only: no number changes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..results.labels import Labels, format_term

__all__ = ["study_labels", "ci_words", "method_words", "is_technical", "clinical_note",
           "contrast_label", "time_text", "evalue_sentence", "strobe_checklist",
           "relabel_terms"]

#: How each CI / variance method reads in a clinical table.
CI_WORDS: dict[str, str] = {
    "infinitesimal_jackknife": "robust (infinitesimal jackknife) variance",
    "influence_function": "influence-function (robust) variance",
    "sandwich_known_weights": "robust (sandwich) variance, weights treated as known",
    "sandwich_mestimation": "robust (sandwich) variance, propensity model accounted for",
    "wald_sandwich": "robust (sandwich) variance",
    "wald_cluster": "cluster-robust variance",
    "abadie_imbens": "Abadie-Imbens matching variance (control reuse counted)",
    "wald_model": "model-based variance",
    "wald": "model-based variance",
    "greenwood": "Greenwood variance",
    "aalen": "Aalen variance",
    "bootstrap_percentile": "bootstrap (percentile interval)",
    "bootstrap_normal": "bootstrap (normal interval)",
    "bootstrap_basic": "bootstrap (basic interval)",
    "simulation_percentile": "simulation interval (bias analysis)",
    "multiple_imputation_rubin": "multiple imputation (Rubin's rules)",
    "exact": "exact interval",
    "wilson": "Wilson interval",
    "profile_likelihood": "profile likelihood",
    "curve_band": "read off the curve's confidence band",
    "none": "no interval",
}

#: How each estimation method reads in a clinical table.
METHOD_WORDS: dict[str, str] = {
    "crude": "crude (unadjusted)",
    "ipw": "inverse probability weighting (IPW)",
    "aipw": "doubly robust (AIPW)",
    "tmle": "targeted maximum likelihood (TMLE)",
    "gformula": "standardisation (g-formula)",
    "ipw_km": "inverse probability weighted Kaplan-Meier",
    "ipw_aj": "inverse probability weighted Aalen-Johansen",
    "aipw_ipcw": "doubly robust (AIPW)",
    "aipw_km": "doubly robust (AIPW)",
    "gformula_cox": "standardisation (g-formula, Cox model)",
    "cox": "Cox regression",
    "cause_specific_cox": "cause-specific Cox regression",
    "fine_gray": "Fine-Gray regression",
    "kaplan_meier": "Kaplan-Meier",
    "aalen_johansen": "Aalen-Johansen",
    "match": "propensity score matching",
}

_MEASURE_WORDS = {"difference": "survival difference", "ratio": "survival ratio",
                  "risk_difference": "risk difference", "risk_ratio": "risk ratio",
                  "hazard_ratio": "hazard ratio", "odds_ratio": "odds ratio",
                  "mean_difference": "mean difference",
                  "subdistribution_hazard_ratio": "subdistribution hazard ratio",
                  "rmst_difference": "restricted mean survival time difference"}

# What marks a note as technical (for the appendix): formula terms, code, fit statistics.
_TECHNICAL = re.compile(
    r"C\(|I\(|\[T\.|np\.|\*\*|\bepsilon|ε|\biteration|\blr_|\blog_lik|\bconverged\b"
    r"|\b[a-z]+_[a-z0-9_]+\b|[A-Za-z_]\w*\(\)|\bF_k\(|\bS_a\(|\bpsi\b|\bties: |\bcause of interest"
    r"|\bcauses: \[|\bdf \d|\bestimates weighted or standardised")
_NOTE_WORDS = {"Method: aipw ipcw": "Method: doubly robust (AIPW)",
               "Method: IPW Kaplan-Meier": "Method: inverse probability weighted Kaplan-Meier",
               "Method: IPW Aalen-Johansen": "Method: inverse probability weighted "
               "Aalen-Johansen", ", plain": "", ", log-log": ""}
_INFLUENCE = re.compile(r", influence function\b(?! \()")
_WARNING = re.compile(r"^[A-Z][A-Za-z]*Warning: ")
_FUNC_PREFIX = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*\(\): )")
_IDENT = re.compile("|".join(sorted(map(re.escape, CI_WORDS), key=len, reverse=True)))


def _dataset_labels(protocol: Any) -> Labels:
    """A bundled dataset's own labels (arms only when its exposure is the protocol's)."""
    name = getattr(protocol.data, "dataset", None)
    if name is None or name == "simulated":
        return Labels()
    try:
        from ..datasets import labels as dataset_labels

        base = dataset_labels(name)
    except Exception:  # noqa: BLE001 - labels are a courtesy, never an error
        return Labels()
    keep_arms = base.exposure == protocol.exposure.column
    return Labels(variables=base.variables, values=base.values, outcomes=base.outcomes,
                  exposure=base.exposure if keep_arms else None,
                  arms=base.arms if keep_arms else {},
                  report_time_unit=base.report_time_unit)


def study_labels(protocol: Any) -> Labels:
    """The labels of a protocol's report.

    A bundled dataset's own labels, updated by the protocol's ``[labels]``; the data's time
    unit is ``[followup] unit`` and the exposure is ``[exposure] column``.
    """
    rl = getattr(protocol, "labels", None)
    lab = _dataset_labels(protocol).merge(rl.labels if rl is not None else Labels())
    extra: dict[str, Any] = {}
    fu = protocol.followup
    if fu is not None:
        extra["time_unit"] = fu.unit
    if lab.exposure != protocol.exposure.column:
        extra["exposure"] = {"column": protocol.exposure.column}
    return lab.merge(extra) if extra else lab


def ci_words(ci_method: Any) -> str:
    """A CI method in words (``infinitesimal_jackknife``: robust (...) variance)."""
    key = "" if ci_method is None or (isinstance(ci_method, float) and math.isnan(ci_method)) \
        else str(ci_method)
    return CI_WORDS.get(key, key.replace("_", " "))


def method_words(method: Any) -> str:
    """An estimation method in words."""
    key = "" if method is None else str(method)
    return METHOD_WORDS.get(key, key.replace("_", " "))


def is_technical(note: str) -> bool:
    """Whether a note holds identifiers, formulas or fit statistics (appendix material).

    Examples
    --------
    >>> is_technical("IPW: logistic regression on age + C(size); ATE weights")
    True
    >>> is_technical("PositivityWarning: propensity_score(): 31 subjects have a score < 0.01.")
    False
    """
    if _WARNING.match(note):
        return False
    return bool(_TECHNICAL.search(note))


def clinical_note(note: str) -> str:
    """A warning or note without class and function prefixes, CI identifiers in words.

    Examples
    --------
    >>> clinical_note("PositivityWarning: propensity_score(): 31 subjects have a score < 0.01.")
    'Positivity: 31 subjects have a score < 0.01.'
    >>> clinical_note("n = 3 · 95% CI, infinitesimal_jackknife")
    'n = 3 · 95% CI, robust (infinitesimal jackknife) variance'
    """
    m = _WARNING.match(note)
    head = ""
    if m:
        kind = m.group(0)[:-len("Warning: ")]
        words = re.sub(r"(?<!^)(?=[A-Z])", " ", kind).lower()  # LowEffectiveSampleSize
        head = "" if kind in ("Cohort", "User", "Runtime") else f"{words.capitalize()}: "
        note = note[m.end():]
    note = _FUNC_PREFIX.sub("", note)
    note = re.sub(r" \([a-z_]+\(\)\)", "", note)  # "check overlap (plot_overlap())"
    for ident, words in _NOTE_WORDS.items():
        note = note.replace(ident, words)
    note = _INFLUENCE.sub(", influence-function (robust) variance", note)
    note = note.replace("infinitesimal jackknife", "robust (infinitesimal jackknife) variance")
    note = _IDENT.sub(lambda k: CI_WORDS[k.group(0)], note)
    return head + note


def time_text(t: float, labels: Labels) -> str:
    """A data time in the report's unit: ``1826`` days -> ``"5 years"``.

    Examples
    --------
    >>> lab = Labels(time_unit="days", report_time_unit="years")
    >>> time_text(1826, lab), time_text(365.25, lab), time_text(4, Labels(time_unit="years"))
    ('5 years', '1 year', '4 years')
    """
    x = float(labels.to_report_time(float(t)))
    unit = labels.report_unit or ""
    txt = f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"
    if unit and txt == "1" and unit.endswith("s"):
        unit = unit[:-1]
    return f"{txt} {unit}".strip()


_TERM_AT = re.compile(r"^(survival|risk) (difference|ratio) at (.+)$")


def contrast_label(term: str, measure: str, labels: Labels, contrast: str | None = None
                   ) -> str:
    """A contrast's term in words, with its direction and time.

    Examples
    --------
    >>> lab = Labels.from_dict({"exposure": {"column": "hormon", "arms": {
    ...     0: "no hormonal therapy", 1: "hormonal therapy"}}, "time_unit": "days",
    ...     "report_time_unit": "years"})
    >>> contrast_label("risk difference at 1826", "risk_difference", lab)
    'Risk difference at 5 years, hormonal therapy vs no hormonal therapy'
    >>> contrast_label("hormon", "hazard_ratio", lab, "treated vs not")
    'Hazard ratio, treated vs not'
    """
    direction = contrast or f"{labels.arm(1)} vs {labels.arm(0)}"
    m = _TERM_AT.match(str(term))
    if m:
        kind, what, t = m.groups()
        try:
            when = time_text(float(t), labels)
        except ValueError:
            when = t
        return f"{kind.capitalize()} {what} at {when}, {direction}"
    words = _MEASURE_WORDS.get(str(measure), str(measure).replace("_", " "))
    extra = ""
    cause = re.search(r"\[cause (\d+)\]", str(term))
    if cause:
        extra = f" (cause {cause.group(1)})"
    return f"{words.capitalize()}{extra}, {direction}"


_FORMULA = re.compile(r"\w\(|\[T\.|\w:\w|\*\*")


def relabel_terms(terms: Iterable[Any], labels: Labels) -> list[str]:
    """Model terms in words (``C(size)[T.>50]`` -> ``Tumour size: >50``); other text as is."""
    out = []
    for t in terms:
        s = str(t)
        cause = re.search(r"\s*\[cause (\d+)\]$", s)
        core = s[:cause.start()] if cause else s
        if not (_FORMULA.search(core) or core in labels.variables or core in labels.values):
            out.append(core.replace("_", " ") + (f" (cause {cause.group(1)})" if cause else ""))
            continue
        try:
            text = format_term(core, labels)
        except Exception:  # noqa: BLE001 - a label is never worth an error
            text = core
        out.append(text + (f" (cause {cause.group(1)})" if cause else ""))
    return out


def evalue_sentence(exposure: str, outcome: str, e_point: float, e_ci: float) -> str:
    """One sentence of interpretation of an E-value and the E-value of its CI.

    Examples
    --------
    >>> evalue_sentence("hormonal therapy", "death", 1.92, 1.2)  # doctest: +NORMALIZE_WHITESPACE
    'An unmeasured confounder associated with both hormonal therapy and death by a risk ratio
    of 1.9 each could explain away the estimate; one of 1.2 could move the confidence interval
    to include the null.'
    """
    if not np.isfinite(e_point):
        return ""
    head = (f"An unmeasured confounder associated with both {exposure} and {outcome} by a "
            f"risk ratio of {e_point:.1f} each could explain away the estimate")
    if not np.isfinite(e_ci):
        return head + "."
    if e_ci <= 1.0 + 1e-9:
        return head + "; the confidence interval already includes the null."
    return head + (f"; one of {e_ci:.1f} could move the confidence interval to include the "
                   "null.")


#: The 22 items of the STROBE checklist for cohort studies (short names).
STROBE_ITEMS: tuple[tuple[str, str], ...] = (
    ("1", "Title and abstract"), ("2", "Background/rationale"), ("3", "Objectives"),
    ("4", "Study design"), ("5", "Setting"), ("6", "Participants"), ("7", "Variables"),
    ("8", "Data sources/measurement"), ("9", "Bias"), ("10", "Study size"),
    ("11", "Quantitative variables"), ("12", "Statistical methods"), ("13", "Participants "
    "(numbers at each stage)"), ("14", "Descriptive data"), ("15", "Outcome data"),
    ("16", "Main results"), ("17", "Other analyses"), ("18", "Key results"),
    ("19", "Limitations"), ("20", "Interpretation"), ("21", "Generalisability"),
    ("22", "Funding"),
)

# which report section (anchor) addresses each item, when the section is present
_STROBE_WHERE: dict[str, Sequence[str]] = {
    "1": ("study",), "2": ("study",), "3": ("study",), "4": ("study",), "5": ("study",),
    "6": ("study", "cohort"), "7": ("study",), "8": ("study",),
    "9": ("table-1", "sensitivity"), "10": ("cohort", "study"), "11": ("study", "table-1"),
    "12": ("study", "technical-appendix"), "13": ("cohort",), "14": ("table-1",),
    "15": ("analyses",), "16": ("table-2",), "17": ("subgroups", "sensitivity"),
}


def strobe_checklist(anchors: dict[str, str], *, target_trial: bool = False
                     ) -> pd.DataFrame:
    """The STROBE cohort checklist: each item and where the report addresses it.

    ``anchors`` maps a section's anchor to its heading. Items 18-22 (discussion, funding)
    are the authors' to write and read "not reported". ``target_trial`` is the hook for the
    TARGET items (not yet written).

    Examples
    --------
    >>> t = strobe_checklist({"study": "Study", "table-2": "Table 2"})
    >>> t.iloc[15].tolist(), t.iloc[21].tolist()
    (['16', 'Main results', 'Table 2'], ['22', 'Funding', 'not reported'])
    """
    rows = []
    for item, name in STROBE_ITEMS:
        where = [anchors[a] for a in _STROBE_WHERE.get(item, ()) if a in anchors]
        rows.append({"Item": item, "STROBE (cohort studies)": name,
                     "Where in this report": "; ".join(where) or "not reported"})
    if target_trial:  # pragma: no cover - TARGET items: to come with target trial protocols
        pass
    return pd.DataFrame(rows)
