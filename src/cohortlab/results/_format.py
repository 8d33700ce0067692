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

from .._typing import RATIO_MEASURES
from ._hooks import hook

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
    "abadie_imbens": "Wald, Abadie-Imbens SE (matching)",
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


def _missing(x: Any) -> bool:
    if x is None or x is pd.NA:
        return True
    try:
        return bool(isinstance(x, (float, np.floating)) and math.isnan(x))
    except TypeError:  # pragma: no cover
        return False


def _sig(x: float, sig: int) -> str:
    """``x`` with ``sig`` significant digits in fixed notation, trailing zeros kept."""
    if x == 0:
        return "0." + "0" * (sig - 1) if sig > 1 else "0"
    decimals = max(sig - 1 - math.floor(math.log10(abs(x))), 0)
    text = f"{x:.{decimals}f}"
    # rounding can carry into a new digit (0.0995 -> 0.100): recount on the rounded value
    r = float(text)
    if r != 0 and math.floor(math.log10(abs(r))) != math.floor(math.log10(abs(x))):
        decimals = max(sig - 1 - math.floor(math.log10(abs(r))), 0)
        text = f"{r:.{decimals}f}"
    return text


def format_p(p: float | None, *, floor: float = 0.001) -> str:
    """A p-value in journal style (BMJ/JAMA/NEJM): the one rule every table and figure uses.

    The rule, exactly:

    - missing -> ``""``;
    - ``p < floor`` (0.001) -> ``"<0.001"``;
    - ``p > 0.99`` -> ``">0.99"``;
    - otherwise two significant digits with trailing zeros kept (``0.0064``, ``0.047``,
      ``0.23``, ``0.50``), so 0.01 <= p < 0.1 shows three decimals and 0.047 is never shown
      as 0.05;
    - guard at 0.05: when ``p < 0.05`` but two significant digits read ``0.050``
      (0.0495 <= p < 0.05), significant digits are added until the text reads below 0.05
      (``0.0496``, ``0.04999``), and ``"<0.05"`` past five significant digits.

    Examples
    --------
    >>> [format_p(p) for p in (1.65e-06, 0.00644, 0.047, 0.0496, 0.05, 0.123, 0.5, 0.996)]
    ['<0.001', '0.0064', '0.047', '0.0496', '0.050', '0.12', '0.50', '>0.99']
    """
    if _missing(p):
        return ""
    p = float(p)  # type: ignore[arg-type]
    if p < floor:
        return f"<{floor:g}" if floor >= 1e-4 else f"<{floor:.0e}"
    if p > 0.99:
        return ">0.99"
    text = _sig(p, 2)
    sig = 2
    while p < 0.05 <= float(text):
        sig += 1
        if sig > 5:
            return "<0.05"
        text = _sig(p, sig)
    return text


def fmt_p(p: float | None, digits: int = 3) -> str:
    """A p-value in the journal style of :func:`format_p`; ``digits`` sets the floor.

    ``digits=3`` shows ``<0.001`` below 0.001 (``digits=4``: ``<0.0001``). Above the floor
    the digits follow :func:`format_p` whatever ``digits`` is, so every table agrees.
    """
    return format_p(p, floor=10.0 ** (-max(int(digits), 1)) if digits >= 3 else 0.001)


#: Effect measures reported on the ratio scale (null value 1), shown with 2 decimals.
_RATIO_MEASURES = RATIO_MEASURES | {"evalue"}
#: Measures that are probabilities (or differences of them), shown with 3 decimals.
_PROBABILITY_MEASURES = frozenset({"risk_difference", "risk", "survival",
                                   "cumulative_incidence", "probability", "proportion"})
_MAX_DECIMALS = 6


def null_value(measure: str | None) -> float:
    """The no-effect value of a measure: 1 for ratios, 0 otherwise."""
    return 1.0 if (measure or "") in _RATIO_MEASURES else 0.0


def effect_decimals(estimate: float, low: float = math.nan, high: float = math.nan, *,
                    measure: str | None = None, p_value: float | None = None,
                    digits: int | None = None, null: float | None = None) -> int:
    """Decimals for one estimate and its interval, chosen per measure (journal style).

    The rule, exactly:

    1. ``digits`` when given; else ratios (HR, RR, OR, ...) 2; probabilities and their
       differences (risk, survival, risk difference) 3; other differences by magnitude
       (three significant digits of the largest): with ``m`` the largest of
       ``|estimate|``, ``|low|``, ``|high|``, ``2 - floor(log10(m))`` decimals clamped to
       0..3 (452 -> 0, 45.2 -> 1, 3.44 -> 2, 0.53 -> 3), raised (to at most 4) so that the
       interval's width shows at least one significant digit;
    2. the null guard: while a bound rounds onto the null value (1 for ratios, 0 otherwise)
       though the bound is not the null and the p-value is below 0.05 (or, without a
       p-value, the interval excludes the null), add a decimal (at most 6): an HR of
       0.68 (0.47 to 0.996) with p = 0.047 shows ``0.680 (0.470 to 0.996)``, not
       ``(0.47 to 1.00)``.

    Examples
    --------
    >>> effect_decimals(0.68, 0.47, 0.996, measure="hazard_ratio", p_value=0.047)
    3
    >>> effect_decimals(3.52, 2.61, 4.44, measure="mean_difference")
    2
    >>> effect_decimals(-0.031, -0.053, -0.009, measure="risk_difference")
    3
    """
    null = null_value(measure) if null is None else float(null)
    vals = [float(v) for v in (estimate, low, high) if not _missing(v) and math.isfinite(v)]
    if digits is not None:
        d = int(digits)
    elif (measure or "") in _RATIO_MEASURES:
        d = 2
    elif (measure or "") in _PROBABILITY_MEASURES:
        d = 3
    else:
        m = max((abs(v) for v in vals), default=0.0)
        d = 2 if m == 0 else min(max(2 - math.floor(math.log10(m)), 0), 3)
        if len(vals) == 3 and high > low:
            d = max(d, min(-math.floor(math.log10(high - low)), 4))
    bounds = [float(b) for b in (low, high) if not _missing(b) and math.isfinite(b)]
    if len(bounds) < 2:
        return d
    excludes = not (bounds[0] <= null <= bounds[1])
    significant = ((float(p_value) < 0.05) if p_value is not None and not _missing(p_value)
                   else excludes)
    if not (significant and excludes):
        return d
    while d < _MAX_DECIMALS and any(b != null and float(f"{b:.{d}f}") == null for b in bounds):
        d += 1
    return d


def format_number(x: float | None, decimals: int) -> str:
    """``x`` with ``decimals`` decimals and thousands separators; no ``-0.00``; missing -> ``""``.

    Examples
    --------
    >>> format_number(-0.001, 2), format_number(12345.678, 1), format_number(float("inf"), 2)
    ('0.00', '12,345.7', '∞')
    """
    if _missing(x):
        return ""
    f = float(x)  # type: ignore[arg-type]
    if math.isinf(f):
        return "∞" if f > 0 else "-∞"
    text = f"{f:,.{decimals}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


def format_interval(low: float | None, high: float | None, decimals: int) -> str:
    """``"0.70 to 0.96"`` (the one interval style: never brackets); missing -> ``""``."""
    if _missing(low) or _missing(high):
        return ""
    return f"{format_number(low, decimals)} to {format_number(high, decimals)}"


def format_estimate_ci(estimate: float | None, low: float | None = None,
                       high: float | None = None, *, measure: str | None = None,
                       p_value: float | None = None, digits: int | None = None,
                       null: float | None = None) -> str:
    """``"0.82 (0.70 to 0.96)"`` with the decimals of :func:`effect_decimals`.

    The interval part is left out when a bound is missing; a missing estimate gives ``""``.

    Examples
    --------
    >>> format_estimate_ci(0.8234, 0.7012, 0.9611, measure="hazard_ratio")
    '0.82 (0.70 to 0.96)'
    >>> format_estimate_ci(0.68, 0.47, 0.9962, measure="hazard_ratio", p_value=0.047)
    '0.680 (0.470 to 0.996)'
    >>> format_estimate_ci(3.521, 2.61, 4.44, measure="mean_difference")
    '3.52 (2.61 to 4.44)'
    """
    if _missing(estimate):
        return ""
    d = effect_decimals(estimate, math.nan if low is None else low,  # type: ignore[arg-type]
                        math.nan if high is None else high, measure=measure,
                        p_value=p_value, digits=digits, null=null)
    est = format_number(estimate, d)
    ci = format_interval(low, high, d)
    return f"{est} ({ci})" if ci else est


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


def count_bits(n: int | None, dropped: Any, n_events: int | None) -> list[str]:
    """The footer's ``n = ... (dropped)`` and ``events ...`` parts ("" where unknown).

    >>> count_bits(120, "", 30)
    ['n = 120', 'events 30']
    """
    n_txt = f"n = {fmt_int(n)}" if n is not None else ""
    if n_txt and dropped:
        n_txt += f" ({dropped})"
    return [n_txt, f"events {fmt_int(n_events)}" if n_events is not None else ""]


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
        return hook("to_docx")(self, path, title=title, caption=caption, digits=digits)

    def to_excel(self, path: str | os.PathLike[str], *, digits: int | None = None) -> Any:
        """Write the result to an .xlsx workbook; see :func:`cohortlab.report.excel.to_excel`."""
        return hook("to_excel")(self, path, digits=digits)
