"""``BiasAnalysis``: the result of :func:`~cohortlab.exposures.misclassification.bias_analysis`.

Also holds how the result is built from the simulation rows (``_build``). Importable from
:mod:`cohortlab.exposures.misclassification` and :mod:`cohortlab` as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from .._validation import verb_name
from ..exceptions import CohortError
from ..results._format import Renderable, fmt_int, fmt_num, fmt_p
from ..results.dropped import Dropped
from ..results.estimate import Estimate, EstimateTable
from .error_rates import ErrorRates

__all__ = ["BiasAnalysis"]

Counter_t: TypeAlias = dict[str, int]


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class BiasAnalysis(Renderable):
    """Result of :func:`bias_analysis`: the naive and the bias-corrected estimates.

    Attributes
    ----------
    naive : Estimate
        The estimator on the observed (misclassified) exposure.
    systematic, total : Estimate
        Median of the corrected estimates and the simulation interval (the ``conf_level``
        percentiles) for systematic error only, and for systematic plus random error.
        ``std_error`` is the SD of the draws on the model scale (log for ratios).
    draws : pandas.DataFrame
        One row per simulation: the drawn rates, ``status`` ("ok", "rejected_se_sp",
        "rejected_prevalence", "failed"), ``estimate`` and ``std_error`` (model scale), and
        the corrected values on the reported scale, ``systematic`` and ``total``.
        With ``prevalence_covariates``, also ``n_clipped``: the records whose implied true
        prevalence was clipped into (0, 1).
    n_sims, n_rejected, n_failed : int
        Simulations run; rejected rate draws (Se + Sp <= 1, or an implied true prevalence
        outside [0, 1] in some stratum, or with ``prevalence_covariates`` outside (0, 1) for
        more than 5% of the records); failed estimator runs.
    prevalence_model : str or None
        The right-hand side of the flag prevalence model (``prevalence_covariates``).
    """

    naive: Estimate
    systematic: Estimate
    total: Estimate
    draws: pd.DataFrame = field(repr=False)
    error: ErrorRates
    n_sims: int
    n_rejected: int
    n_rejected_se_sp: int
    n_failed: int
    strata: tuple[str, ...] = ()
    dropped: Dropped = field(default_factory=Dropped)
    notes: tuple[str, ...] = ()
    prevalence_model: str | None = None

    @property
    def table(self) -> EstimateTable:
        """The three rows (naive, systematic, total) as an :class:`EstimateTable`."""
        return EstimateTable(rows=(self.naive, self.systematic, self.total),
                             title=self._title(), dropped=self.dropped, notes=self.notes)

    def to_frame(self) -> pd.DataFrame:
        """Tidy rows ``naive``, ``corrected (systematic)``, ``corrected (total)``."""
        return self.table.to_frame()

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        recs = []
        for r in (self.naive, self.systematic, self.total):
            recs.append({
                "term": r.term, "estimate": fmt_num(r.estimate, digits),
                "std_error": fmt_num(r.std_error, digits),
                "conf_low": fmt_num(r.conf_low, digits),
                "conf_high": fmt_num(r.conf_high, digits), "p_value": fmt_p(r.p_value, digits),
            })
        return pd.DataFrame(recs)

    def _title(self) -> str:
        return f"Probabilistic bias analysis · misclassified {self.naive.labels['exposure']!s}"

    def _footer(self) -> list[str]:
        ok = self.n_sims - self.n_rejected - self.n_failed
        lvl = f"{100 * self.naive.conf_level:g}%"
        line = (f"{fmt_int(ok)} of {fmt_int(self.n_sims)} simulations used "
                f"({fmt_int(self.n_rejected)} rejected rate draws, {fmt_int(self.n_failed)} "
                f"failed) · naive: {lvl} CI; corrected: median and {lvl} simulation interval")
        if self.naive.is_ratio:
            line += " · SE on the log scale"
        strata = (f"imputation within strata of {', '.join(self.strata)}" if self.strata
                  else "imputation not stratified")
        if self.prevalence_model is not None:
            strata = f"flag prevalence per record: logistic model on {self.prevalence_model}"
        return [line, strata, *self.notes]


_STATUS = np.array(["ok", "rejected_se_sp", "rejected_prevalence", "failed"])


def _build(naive: Estimate, rows: np.ndarray, seen: Counter_t, error: ErrorRates,
           rates: list, exposure: str, strata: list[str], n_sims: int, conf_level: float,
           dropped: Dropped, prevalence_model: str | None = None) -> BiasAnalysis:
    n_lv = len(rates)
    status = rows[:, 2 * n_lv].astype(int)
    theta, se_, tot = rows[:, 2 * n_lv + 1], rows[:, 2 * n_lv + 2], rows[:, 2 * n_lv + 3]
    ok = status == 0
    if ok.sum() < 2:
        raise CohortError(
            f"{verb_name()}(): only {int(ok.sum())} of {n_sims:,} simulations gave an estimate "
            f"({int((status == 1).sum())} with Se + Sp <= 1, {int((status == 2).sum())} with an "
            f"impossible true prevalence, {int((status == 3).sum())} estimator failures). The "
            "rates are incompatible with the observed flag prevalence; check them."
        )
    names = (["sensitivity", "specificity"] if error.by is None else
             [f"{r}[{lv}]" for r in ("sensitivity", "specificity") for lv in error.levels()])  # type: ignore[union-attr]
    tr = np.exp if naive.is_ratio else (lambda v: v)
    draws = pd.DataFrame(rows[:, :2 * n_lv], columns=names)
    draws.insert(0, "sim", np.arange(n_sims))
    draws["status"] = _STATUS[status]
    draws["estimate"], draws["std_error"] = theta, se_
    draws["systematic"], draws["total"] = tr(theta), tr(tot)
    if prevalence_model is not None:
        draws["n_clipped"] = rows[:, 2 * n_lv + 4]
    labels = {"exposure": exposure}
    common = dict(estimand=naive.estimand, effect_measure=naive.effect_measure,
                  method=naive.method, n=naive.n, n_events=naive.n_events,
                  conf_level=conf_level, labels=labels, ci_method="simulation_percentile")
    naive_row = replace(naive, term="naive", labels=labels)
    n_rej_sesp = int((status == 1).sum())
    n_rej = n_rej_sesp + int((status == 2).sum())
    n_failed = int((status == 3).sum())
    notes = tuple(f"{v:,} of {int(ok.sum()):,} estimator runs emitted {k}"
                  for k, v in sorted(seen.items()))
    if n_rej:
        where = ("for more than 5% of the records" if prevalence_model is not None
                 else "in some stratum")
        notes += (f"{n_rej:,} of {n_sims:,} rate draws rejected ({n_rej_sesp:,} with Se + Sp "
                  f"<= 1, {n_rej - n_rej_sesp:,} implying a true prevalence outside [0, 1] "
                  f"{where})",)
    if prevalence_model is not None:
        clipped = rows[ok, 2 * n_lv + 4]
        if clipped.sum() > 0:
            notes += (f"{int((clipped > 0).sum()):,} of {int(ok.sum()):,} used draws clipped "
                      "the implied true prevalence of some records into (0, 1) (at most "
                      f"{int(clipped.max()):,} records)",)
    return BiasAnalysis(
        naive=naive_row,
        systematic=_summary_row("corrected (systematic)", theta[ok], tr, conf_level, common),
        total=_summary_row("corrected (total)", tot[ok], tr, conf_level, common),
        draws=draws, error=error, n_sims=n_sims, n_rejected=n_rej,
        n_rejected_se_sp=n_rej_sesp, n_failed=n_failed, strata=tuple(strata),
        dropped=dropped, notes=notes, prevalence_model=prevalence_model,
    )


def _summary_row(term: str, values: np.ndarray, tr: Callable, conf_level: float,
                 common: Mapping[str, Any]) -> Estimate:
    alpha = 1.0 - conf_level
    med, lo, hi = np.quantile(values, [0.5, alpha / 2, 1 - alpha / 2])
    return Estimate(term=term, estimate=float(tr(med)), std_error=float(values.std(ddof=1)),
                    conf_low=float(tr(lo)), conf_high=float(tr(hi)), replicates=values,
                    **common)
