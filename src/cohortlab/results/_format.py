"""Numbers to text, Markdown, LaTeX and HTML. All display labels live here only.

A result implements :meth:`Renderable._display_frame` (a frame of strings), :meth:`_title`
and :meth:`_footer`; the mixin gives it ``summary()``, ``__repr__``, ``_repr_html_``,
``to_markdown()``, ``to_latex()``, ``to_html()``, ``to_docx()`` and ``to_excel()`` (the last
two through :mod:`cohortlab.report`), so every result renders the same way.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

MEASURE_LABELS: dict[str, str] = {
    "difference": "difference",
    "risk_difference": "risk difference",
    "mean_difference": "mean difference",
    "ratio": "ratio",
    "risk_ratio": "risk ratio",
    "odds_ratio": "odds ratio",
    "hazard_ratio": "hazard ratio",
    "subdistribution_hazard_ratio": "subdistribution hazard ratio",
    "rmst_difference": "RMST difference",
    "rmst_ratio": "RMST ratio",
    "rmtl_ratio": "RMTL ratio",
    "rmst": "RMST",
    "chi_square": "chi-square",
    "evalue": "E-value",
    "survival": "survival probability",
    "cumulative_incidence": "cumulative incidence",
    "coefficient": "coefficient",
}

CI_LABELS: dict[str, str] = {
    "wald": "Wald",
    "wald_model": "Wald, model-based SE",
    "wald_sandwich": "Wald, robust sandwich SE",
    "wald_cluster": "Wald, cluster-robust SE",
    "influence_function": "influence function",
    "sandwich_mestimation": "M-estimation sandwich (nuisance models estimated)",
    "sandwich_known_weights": "robust sandwich, weights treated as known",
    "bootstrap_percentile": "bootstrap percentile",
    "bootstrap_normal": "bootstrap normal",
    "bootstrap_basic": "bootstrap basic",
    "exact": "exact",
    "wilson": "Wilson",
    "curve_band": "read off the curve's confidence band",
    "greenwood": "Greenwood",
    "infinitesimal_jackknife": "infinitesimal jackknife",
    "aalen": "Aalen (cmprsk cuminc)",
    "delong": "DeLong",
    "logit_boyd": "logit (Boyd et al. 2013)",
    "simulation_percentile": "probabilistic bias analysis, simulation percentiles",
    "multiple_imputation_rubin": "multiple imputation, Rubin's rules (t, Barnard-Rubin df)",
    "empirical_calibration": "empirically calibrated (systematic error model)",
    "profile_likelihood": "profile likelihood",
    "refutation_simulations": "refutation simulations",
    "econml_inference": "EconML inference",
    "none": "no interval",
}


METHOD_LABELS: dict[str, str] = {
    "ipw": "IPW",
    "aipw": "AIPW",
    "tmle": "TMLE",
    "gformula": "g-formula",
    "cox": "Cox",
    "kaplan_meier": "Kaplan-Meier",
    "aalen_johansen": "Aalen-Johansen",
    "fine_gray": "Fine-Gray",
    "logrank": "log-rank test",
    "evalue": "E-value",
    "gray_test": "Gray's test",
    "cox_zph": "proportional hazards test (cox.zph)",
    "cox_predicted": "Cox predicted survival",
    "cause_specific_cox": "cause-specific Cox",
    "ipw_km": "IPW Kaplan-Meier",
    "ipw_aj": "IPW Aalen-Johansen",
    "gformula_cox": "g-formula (Cox)",
    "aipw_km": "AIPW (IPCW)",
    "ppi_mean": "prediction-powered mean (PPI++)",
    "multiple_imputation_rubin": "multiple imputation (measurement error)",
    "empirical_calibration": "empirical calibration",
    "econml_linear_dr": "EconML linear DR-learner",
    "econml_causal_forest": "EconML causal forest",
    "refute_placebo_exposure": "refutation: placebo exposure",
    "refute_random_common_cause": "refutation: random common cause",
    "refute_data_subset": "refutation: data subset",
}


def method_label(method: str | None) -> str:
    """Human label of an estimation method (``difference_in_means`` -> ``difference in means``)."""
    return METHOD_LABELS.get(method or "", (method or "").replace("_", " "))


def fmt_num(x: float | None, digits: int = 3) -> str:
    """Format a number with ``digits`` decimals; missing values print as an empty string."""
    if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if abs(float(x)) >= 1e9:
        return f"{float(x):.{digits}g}"
    return f"{float(x):,.{digits}f}"


def fmt_p(p: float | None, digits: int = 3) -> str:
    """Format a p-value: ``<0.001`` below the display precision."""
    if p is None or p is pd.NA or (isinstance(p, float) and math.isnan(p)):
        return ""
    floor = 10 ** (-digits)
    return f"<{floor:.{digits}f}" if p < floor else f"{p:.{digits}f}"


def fmt_int(x: float | None) -> str:
    """Format a count with thousands separators."""
    if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{int(round(float(x))):,}"


def measure_label(measure: str | None) -> str:
    """Human label of an effect measure."""
    return MEASURE_LABELS.get(measure or "", measure or "")


def ci_label(ci_method: str | None) -> str:
    """Human label of a CI method."""
    return CI_LABELS.get(ci_method or "", ci_method or "")


def _is_numeric_col(col: pd.Series) -> bool:
    vals = [v for v in col.astype(str) if v.strip()]
    if not vals:
        return False
    try:
        [float(v.replace(",", "").lstrip("<>")) for v in vals]
    except ValueError:
        return False
    return True


def render_text(frame: pd.DataFrame) -> str:
    """Plain aligned text, no index."""
    return frame.to_string(index=False)


def render_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured pipe table; numeric columns right-aligned."""

    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in frame.columns) + " |"
    aligns = ["---:" if _is_numeric_col(frame[c]) else ":---" for c in frame.columns]
    sep = "| " + " | ".join(aligns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, sep, *body])


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def latex_escape(text: object) -> str:
    """Escape LaTeX special characters."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def render_latex(frame: pd.DataFrame, caption: str = "", notes: Sequence[str] = ()) -> str:
    """A booktabs ``table`` environment; numeric columns right-aligned."""
    spec = "".join("r" if _is_numeric_col(frame[c]) else "l" for c in frame.columns)
    lines = [r"\begin{table}[htbp]", r"\centering"]
    if caption:
        lines.append(r"\caption{" + latex_escape(caption) + "}")
    lines += [r"\begin{tabular}{" + spec + "}", r"\toprule"]
    lines.append(" & ".join(latex_escape(c) for c in frame.columns) + r" \\")
    lines.append(r"\midrule")
    for row in frame.itertuples(index=False):
        lines.append(" & ".join(latex_escape(v) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    for note in notes:
        lines.append(r"\par\smallskip{\footnotesize " + latex_escape(note) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines)


def render_html(frame: pd.DataFrame, caption: str = "", notes: Sequence[str] = ()) -> str:
    """A self-contained HTML table with a caption and footnotes (no external CSS needed)."""
    num = [_is_numeric_col(frame[c]) for c in frame.columns]
    out = ['<table class="cohortlab-table" style="border-collapse:collapse;font-family:sans-serif;'
           'font-size:0.9em">']
    if caption:
        out.append(f'<caption style="text-align:left;font-weight:bold;padding:4px 0">'
                   f"{html.escape(caption)}</caption>")
    th = "".join(
        f'<th style="border-bottom:1px solid #444;padding:3px 8px;text-align:'
        f'{"right" if n else "left"}">{html.escape(str(c))}</th>'
        for c, n in zip(frame.columns, num, strict=True)
    )
    out.append(f"<thead><tr>{th}</tr></thead><tbody>")
    for row in frame.itertuples(index=False):
        tds = "".join(
            f'<td style="padding:2px 8px;text-align:{"right" if n else "left"}">'
            f"{html.escape(str(v))}</td>"
            for v, n in zip(row, num, strict=True)
        )
        out.append(f"<tr>{tds}</tr>")
    out.append("</tbody>")
    if notes:
        span = len(frame.columns)
        foot = "<br>".join(html.escape(n) for n in notes)
        out.append(f'<tfoot><tr><td colspan="{span}" style="border-top:1px solid #444;'
                   f'padding:3px 8px;font-size:0.85em;color:#333">{foot}</td></tr></tfoot>')
    out.append("</table>")
    return "\n".join(out)


class Renderable:
    """Mixin: one display frame, rendered to text, Markdown, LaTeX and HTML."""

    __slots__ = ()
    #: Decimals shown by default (Table 1 uses 1, estimates 3).
    _digits: int = 3

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def _title(self) -> str:
        return type(self).__name__

    def _footer(self) -> list[str]:
        return []

    def summary(self, digits: int | None = None) -> str:
        """Return the result as text: a title line, the table, provenance and notes."""
        digits = self._digits if digits is None else digits
        parts = [self._title(), render_text(self._display_frame(digits))]
        parts += self._footer()
        return "\n".join(p for p in parts if p)

    def __repr__(self) -> str:
        return self.summary()

    def __str__(self) -> str:
        return self.summary()

    def to_markdown(self, digits: int | None = None) -> str:
        """Return the result as a Markdown table with its title and footnotes."""
        digits = self._digits if digits is None else digits
        title = self._title()
        foot = self._footer()
        parts = [f"**{title}**", "", render_markdown(self._display_frame(digits))]
        if foot:
            parts += ["", *[f"{line}  " for line in foot]]
        return "\n".join(parts).rstrip() + "\n"

    def to_latex(self, digits: int | None = None) -> str:
        r"""Return the result as a LaTeX booktabs table (needs ``\usepackage{booktabs}``)."""
        digits = self._digits if digits is None else digits
        return render_latex(self._display_frame(digits), self._title(), self._footer())

    def to_html(self, digits: int | None = None) -> str:
        """Return the result as a self-contained HTML table."""
        digits = self._digits if digits is None else digits
        return render_html(self._display_frame(digits), self._title(), self._footer())

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_docx(self, path: str | os.PathLike[str] | None = None, *, title: str | None = None,
                caption: str | None = None, digits: int | None = None) -> Any:
        """Write the result as a clinical Word table; see :func:`cohortlab.report.docx.to_docx`.

        Returns the path written, or the python-docx Document when ``path`` is None.
        """
        from ..report.docx import to_docx

        return to_docx(self, path, title=title, caption=caption, digits=digits)

    def to_excel(self, path: str | os.PathLike[str], *, digits: int | None = None) -> Any:
        """Write the result to an .xlsx workbook; see :func:`cohortlab.report.excel.to_excel`."""
        from ..report.excel import to_excel

        return to_excel(self, path, digits=digits)
