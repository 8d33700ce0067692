"""Table 2 of a paper: effects across estimators and outcomes.

:func:`table2` stacks effects (``Estimate``, ``EstimateTable``, ``ModelResult``) into one tidy
frame with their outcome and estimator label; :class:`Table2` holds it and renders the clinical
wide layout (cells ``"HR 0.82 (0.70 to 0.96)"``). Both are importable from
:mod:`cohortlab.report.tables` too, whose :func:`~cohortlab.report.tables.table_parts` turns a
``Table2`` into a writable table like any other result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import pandas as pd

from .._typing import EffectMeasure
from ..exceptions import DataValidationError
from ..results._format import Renderable, ci_label, measure_label, method_label
from ..results.estimate import Estimate, EstimateTable
from ..results.labels import Labels, as_labels, format_term
from ..results.model import ModelResult
from ._cells import MEASURE_ABBREVIATIONS, ci_text

__all__ = ["table2", "Table2"]

_By = Literal["method", "outcome"]


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Table2(Renderable):
    """Effects across estimators and outcomes: one tidy frame and the clinical wide layout.

    Attributes
    ----------
    frame : pandas.DataFrame
        Tidy: ``outcome``, ``column`` (the estimator label used as a column header) and the
        schema columns of every effect, one row per effect.
    by : {"method", "outcome"}
        What the columns of the wide layout are: estimators (rows are outcomes) or outcomes
        (rows are estimators).
    labels : Labels
        Display labels of outcomes and terms (the wide layout only; the tidy frame keeps the
        names).
    """

    frame: pd.DataFrame
    by: str = "method"
    title: str = "Table 2"
    digits: int | None = None
    prefix: bool = True
    notes: tuple[str, ...] = ()
    labels: Labels = field(default_factory=Labels)
    _digits = None  # type: ignore[assignment]  # per measure: see _cell_digits

    def _row_text(self, outcome: str, term: str, several_terms: bool) -> str:
        """``"Death from any cause"`` or ``"Death from any cause: Age, years"``."""
        if several_terms:
            return f"{self.labels.outcome(outcome)}: {format_term(term, self.labels)}"
        return self.labels.outcome(outcome)

    def to_frame(self) -> pd.DataFrame:
        """The tidy frame (a copy): ``outcome``, ``column``, then the schema columns."""
        return self.frame.drop(columns=["outcome_name"], errors="ignore").copy()

    def wide(self, digits: int | None = None) -> pd.DataFrame:
        """The clinical layout: cells ``"HR 0.82 (0.70 to 0.96)"``."""
        return self._display_frame(self.digits if digits is None else digits)

    def summary(self, digits: int | None = None) -> str:
        """The wide layout as text with its footnotes."""
        return super().summary(self.digits if digits is None else digits)

    def to_markdown(self, digits: int | None = None) -> str:
        """The wide layout as a Markdown table with its title and footnotes."""
        return super().to_markdown(self.digits if digits is None else digits)

    def to_latex(self, digits: int | None = None) -> str:
        r"""The wide layout as a LaTeX booktabs table (needs ``\usepackage{booktabs}``)."""
        return super().to_latex(self.digits if digits is None else digits)

    def to_html(self, digits: int | None = None) -> str:
        """The wide layout as a self-contained HTML table."""
        return super().to_html(self.digits if digits is None else digits)

    def _display_frame(self, digits: int | None = None) -> pd.DataFrame:
        f = self.frame
        rows_key, cols_key = ("outcome", "column") if self.by == "method" else ("column",
                                                                                "outcome")
        if "outcome_name" in f.columns:  # the readable outcome (and term) of each row
            several = f.groupby("outcome_name")["term"].transform("nunique") > 1
            shown = [self._row_text(o, t, bool(m))
                     for o, t, m in zip(f["outcome_name"], f["term"], several, strict=True)]
            f = f.assign(outcome=shown).drop(columns="outcome_name")
        row_order = list(dict.fromkeys(f[rows_key]))
        col_order = list(dict.fromkeys(f[cols_key]))
        cells: dict[tuple[str, str], str] = {}
        for rec in f.to_dict("records"):
            d = _cell_digits(rec["effect_measure"]) if digits is None else digits
            text = ci_text(rec["estimate"], rec["conf_low"], rec["conf_high"], d,
                           measure=rec["effect_measure"], p_value=rec["p_value"])
            abbr = MEASURE_ABBREVIATIONS.get(rec["effect_measure"], "") if self.prefix else ""
            cells[(rec[rows_key], rec[cols_key])] = f"{abbr} {text}".strip() if text else ""
        first = "Outcome" if self.by == "method" else "Method"
        out = pd.DataFrame(
            [[r, *[cells.get((r, c), "") for c in col_order]] for r in row_order],
            columns=[first, *col_order],
        )
        return out

    def _title(self) -> str:
        return self.title

    def _footer(self) -> list[str]:
        f = self.frame
        lines = []
        for col, d in f.groupby("column", sort=False):
            first = d.iloc[0]
            bits = [str(col) + ":"]
            if isinstance(first["estimand"], str) and first["estimand"]:
                bits.append(str(first["estimand"]) + ",")
            levels = d["conf_level"].unique()
            ci = ", ".join(dict.fromkeys(ci_label(c) for c in d["ci_method"]))
            lvl = f"{100 * float(levels[0]):g}% CI" if len(levels) == 1 else "CI"
            bits.append(f"{lvl} by {ci}")
            ns = d["n"].dropna().unique()
            if len(ns) == 1:
                bits.append(f"(n = {int(ns[0]):,})")
            lines.append(" ".join(bits))
        measures = list(dict.fromkeys(f["effect_measure"]))
        abbr = [f"{MEASURE_ABBREVIATIONS[m]}, {measure_label(m)}" for m in measures
                if m in MEASURE_ABBREVIATIONS and self.prefix]
        if abbr:
            lines.append("; ".join(abbr) + ".")
        if any(m in MEASURE_ABBREVIATIONS and m.endswith("ratio") for m in measures):
            lines.append("Ratios on the natural scale with CIs computed on the log scale.")
        return [*lines, *self.notes]


_PROPORTIONS = ("risk_difference", "risk", "survival", "cumulative_incidence")


def _cell_digits(measure: str) -> int | None:
    """Default decimals of a Table 2 cell (None: by magnitude, see ``effect_decimals``).

    3 for proportions and their differences, 2 for ratios, None for other differences.
    """
    if measure in _PROPORTIONS:
        return 3
    return 2 if Estimate(term="", estimate=1.0,
                             effect_measure=cast(EffectMeasure, measure)).is_ratio else None


def _as_rows(obj: Any, where: str) -> list[Estimate]:
    if isinstance(obj, Estimate):
        return [obj]
    if isinstance(obj, EstimateTable):
        return list(obj.rows)
    if isinstance(obj, ModelResult):
        return list(obj.coef_table().rows)
    raise TypeError(
        f"table2(): {where} is a {type(obj).__name__}; pass Estimate, EstimateTable or "
        "ModelResult objects (read a curve off at chosen times with curve.at(times))."
    )


def _collect(results: Any) -> list[tuple[str, str | None, Estimate]]:
    """(outcome, explicit column label or None, row) triples in input order."""
    out: list[tuple[str, str | None, Estimate]] = []
    if isinstance(results, Mapping):
        if not results:
            raise DataValidationError("table2(): no results in results; got an empty mapping. "
                                      "Pass {outcome: result(s)}.")
        for outcome, value in results.items():
            if isinstance(value, Mapping):
                for label, res in value.items():
                    out += [(str(outcome), str(label), r)
                            for r in _as_rows(res, f"results[{outcome!r}][{label!r}]")]
            elif isinstance(value, (list, tuple)):
                for i, res in enumerate(value):
                    out += [(str(outcome), None, r)
                            for r in _as_rows(res, f"results[{outcome!r}][{i}]")]
            else:
                out += [(str(outcome), None, r) for r in _as_rows(value, f"results[{outcome!r}]")]
        return out
    if isinstance(results, (Estimate, EstimateTable, ModelResult)):
        results = [results]
    if not isinstance(results, Sequence) or isinstance(results, str) or not results:
        raise DataValidationError(
            f"table2(): results must be a non-empty mapping {{outcome: result(s)}} or a "
            f"sequence of results; got {type(results).__name__}"
            f"{' (empty)' if isinstance(results, Sequence) else ''}. Pass e.g. "
            "{'weight gain': [ipw_fit, aipw_fit]}."
        )
    for i, res in enumerate(results):
        for r in _as_rows(res, f"results[{i}]"):
            out.append((str(r.labels.get("outcome", r.term)), None, r))
    return out


def table2(
    results: Mapping[str, Any] | Sequence[Any],
    *,
    by: Literal["method", "outcome"] = "method",
    terms: Sequence[str] | str | None = None,
    title: str = "Table 2",
    digits: int | None = None,
    prefix: bool = True,
    labels: Labels | Mapping[str, Any] | None = None,
) -> Table2:
    """Effects across estimators and outcomes, as one table (Table 2 of a paper).

    Every effect is stacked into one tidy frame (as :func:`cohortlab.tidy`) with its outcome
    and estimator label; the wide layout has one row per outcome and one column per estimator
    (``by="method"``) or the transpose (``by="outcome"``), each cell the estimate and its
    interval, prefixed by the measure (``"HR 0.82 (0.70 to 0.96)"``).

    Parameters
    ----------
    results : mapping or sequence
        ``{outcome: result}``, ``{outcome: [result, ...]}`` or ``{outcome: {label: result}}``
        (explicit column labels); results are ``Estimate``, ``EstimateTable`` or
        ``ModelResult`` objects. A plain sequence of results takes each row's outcome from
        its ``labels["outcome"]``, else its ``term``.
    by : {"method", "outcome"}
        What the columns of the wide layout are: methods (rows are outcomes, the default) or
        outcomes (rows are methods).
    terms : str or sequence of str, optional
        Keep only rows with these terms (e.g. the exposure of a Cox model); by default every
        row is kept and rows of one outcome with several terms are labelled
        ``"outcome: term"``.
    title : str
        The table's title.
    digits : int, optional
        Decimals in the cells; by default 3 for risks and risk differences, 2 for ratios and
        by magnitude for other differences (3.5 (2.6 to 4.4)); see
        :func:`cohortlab.results._format.effect_decimals`. A decimal is added where a bound
        would round onto the null value beside p < 0.05.
    prefix : bool
        Prefix cells with the measure's abbreviation (HR, RR, OR, RD, MD).
    labels : Labels or mapping, optional
        Display labels (:class:`cohortlab.Labels`): outcome names (``outcomes``, then
        variable labels) and, for outcomes with several terms, the terms through
        :func:`cohortlab.results.labels.format_term`. The tidy frame keeps the names.

    Returns
    -------
    Table2
        ``to_frame()`` is the tidy frame; ``wide()`` (and every rendering: ``to_markdown``,
        ``to_latex``, ``to_html``, ``to_docx``, ``to_excel``) is the wide layout. Column
        labels are the estimators' names, with the CI method added when one estimator
        appears twice for an outcome (e.g. IPW with sandwich and bootstrap intervals).

    Examples
    --------
    >>> import numpy as np
    >>> ipw = Estimate.from_model_scale("qsmk", np.log(0.82), 0.08,
    ...     effect_measure="hazard_ratio", method="ipw", estimand="ATE")
    >>> aipw = Estimate.from_model_scale("qsmk", np.log(0.85), 0.07,
    ...     effect_measure="hazard_ratio", method="aipw", estimand="ATE")
    >>> t2 = table2({"death": [ipw, aipw]})
    >>> t2.wide().iloc[0].tolist()
    ['death', 'HR 0.82 (0.70 to 0.96)', 'HR 0.85 (0.74 to 0.97)']
    >>> list(t2.wide().columns)
    ['Outcome', 'IPW', 'AIPW']
    """
    from .._validation import check_option

    check_option(by, _By, "by", "table2")
    display_labels = as_labels(labels)
    triples = _collect(results)
    if terms is not None:
        keep = {terms} if isinstance(terms, str) else set(terms)
        kept = [t for t in triples if t[2].term in keep]
        if not kept:
            found = sorted({t[2].term for t in triples})
            raise DataValidationError(
                f"table2(): no rows with the terms {sorted(keep)} in terms; got terms "
                f"{found}. Pass terms present in the results."
            )
        triples = kept
    # outcome rows with several terms are labelled "outcome: term"
    n_terms: dict[str, set[str]] = {}
    for outcome, _, r in triples:
        n_terms.setdefault(outcome, set()).add(r.term)
    col_labels = [label or method_label(r.method) or "estimate" for _, label, r in triples]
    # the same estimator twice for one row: add the CI method, then a counter
    keys = [(o if len(n_terms[o]) == 1 else f"{o}: {r.term}") for o, _, r in triples]
    seen: dict[tuple[str, str], int] = {}
    for k, lab in zip(keys, col_labels, strict=True):
        seen[(k, lab)] = seen.get((k, lab), 0) + 1
    final = []
    for (_, label, r), k, lab in zip(triples, keys, col_labels, strict=True):
        if label is None and seen[(k, lab)] > 1:
            lab = f"{lab} ({ci_label(r.ci_method)})"
        final.append(lab)
    counts: dict[tuple[str, str], int] = {}
    for i, (k, lab) in enumerate(zip(keys, final, strict=True)):
        c = counts.get((k, lab), 0)
        counts[(k, lab)] = c + 1
        if c:
            final[i] = f"{lab} [{c + 1}]"
    tidy = EstimateTable(rows=tuple(r for _, _, r in triples)).to_frame()
    tidy = tidy.drop(columns=[c for c in ("outcome", "column") if c in tidy.columns])
    tidy.insert(0, "column", final)
    tidy.insert(0, "outcome", keys)
    if display_labels:
        tidy["outcome_name"] = [o for o, _, _ in triples]
    notes = tuple(dict.fromkeys(n for _, _, r in triples for n in r.notes))
    return Table2(frame=tidy, by=by, title=title, digits=digits, prefix=prefix, notes=notes,
                  labels=display_labels)

