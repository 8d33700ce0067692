"""``GFormulaTVResult``: risks under strategies from the parametric g-formula, contrasts, checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._typing import BootstrapCI, CIMethod, EffectMeasure
from ..results.curve import Curve
from ..results.estimate import Estimate, EstimateTable
from ._contrasts import ContrastsView
from ._gformula_tv import FittedModel

__all__ = ["GFormulaTVResult"]

NATURAL = "natural_course"
_BOOT_CI: dict[str, CIMethod] = {"percentile": "bootstrap_percentile",
                                 "normal": "bootstrap_normal", "basic": "bootstrap_basic"}


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class GFormulaTVResult(ContrastsView):
    """Risks under treatment strategies from the parametric g-formula, their contrasts and checks.

    Attributes
    ----------
    risks : Curve
        Cumulative risk of the outcome by period (``time``) under each strategy (``group``),
        the natural course included, with bootstrap SEs and intervals (``interval``).
    contrasts : EstimateTable
        Risk differences and risk ratios of each strategy versus ``reference`` at every
        period (labels ``strategy``, ``reference``, ``time``).
    natural_course : pandas.DataFrame
        The model check, one row per period: ``observed`` risk (Aalen-Johansen, or
        Kaplan-Meier without competing events, of the observed data), ``simulated``
        natural-course risk and their ``difference``.
    coefficients : pandas.DataFrame
        Every fitted model's coefficients (``model, term, estimate``), with the residual SD
        of normal covariates as term ``(sd)``.
    n, n_events, n_simul, n_boot : int
        Persons, outcome events, simulated persons per strategy, bootstrap replicates.
    notes : tuple of str
    """

    risks: Curve
    contrasts: EstimateTable
    natural_course: pd.DataFrame
    coefficients: pd.DataFrame
    reference: str
    n: int
    n_events: int
    n_simul: int
    n_boot: int
    notes: tuple[str, ...] = ()
    models: Mapping[str, str] = field(default_factory=dict)

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        last = float(self.risks.data["time"].max())
        risks = self.risks.data[self.risks.data["time"] == last]
        rows = [Estimate(term=f"risk: {g}", estimate=float(r.estimate),
                         std_error=float(r.std_error), conf_low=float(r.conf_low),
                         conf_high=float(r.conf_high), conf_level=float(r.conf_level),
                         effect_measure="risk", ci_method=self.risks.ci_method)
                for g, r in zip(risks["group"], risks.itertuples(), strict=True)]
        rows += [r for r in self.contrasts if r.labels.get("time") == last]
        return EstimateTable(rows=tuple(rows))._display_frame(digits)

    def _title(self) -> str:
        last = int(self.risks.data["time"].max())
        return (f"Parametric g-formula · risks at period {last} and contrasts vs "
                f"{self.reference!r}")

    def _footer(self) -> list[str]:
        lines = [f"n = {self.n:,} persons · {self.n_events:,} events · n_simul = "
                 f"{self.n_simul:,} · {self.n_boot:,} bootstrap replicates (by person)"]
        return lines + list(self.notes)


# ---------------------------------------------------------------------- results
def coef_frame(fits: Sequence[FittedModel]) -> pd.DataFrame:
    rows = []
    for f in fits:
        rows += [(f.spec.name, t, float(b))
                 for t, b in zip(("(Intercept)", *f.spec.labels), f.coef, strict=True)]
        if f.spec.family == "gaussian":
            rows.append((f.spec.name, "(sd)", f.sd))
    return pd.DataFrame(rows, columns=["model", "term", "estimate"])


def risk_curve(names: Sequence[str], risks: np.ndarray, reps: np.ndarray | None,
               conf_level: float, n: int, n_events: int, notes: tuple[str, ...],
               interval: BootstrapCI = "percentile") -> Curve:
    from ..inference.bootstrap import bootstrap_interval

    s, t = risks.shape
    if reps is None:
        se = lo = hi = np.full(s * t, np.nan)
    else:
        se, lo, hi = bootstrap_interval(risks.ravel(), reps, conf_level, interval)
    frame = pd.DataFrame({
        "time": np.tile(np.arange(t, dtype=float), s), "group": np.repeat(list(names), t),
        "cause": None, "n_risk": np.nan, "n_event": np.nan, "n_censor": np.nan,
        "estimate": risks.ravel(), "std_error": se, "conf_low": lo, "conf_high": hi,
        "conf_level": conf_level})
    frame["group"] = pd.Categorical(frame["group"], categories=list(names))
    ci: CIMethod = "none" if reps is None else _BOOT_CI[interval]
    return Curve(data=frame, measure="risk", method="parametric_gformula", conf_type="plain",
                 conf_level=conf_level, ci_method=ci, n=n, n_events=n_events, notes=notes)


def _row(term: str, est: float, rep: np.ndarray | None, measure: EffectMeasure,
         conf_level: float, n_failed: int, interval: BootstrapCI, n: int, n_events: int,
         labels: dict[str, Any], estimand: str) -> Estimate:
    if rep is None or not np.isfinite(est):
        val = float(np.exp(est)) if measure == "risk_ratio" else float(est)
        return Estimate(term=term, estimate=val, effect_measure=measure, ci_method="none",
                        method="parametric_gformula", n=n, n_events=n_events, labels=labels,
                        estimand=estimand)
    return Estimate.from_bootstrap(
        term, float(est), rep, conf_level=conf_level, effect_measure=measure,
        n_failed=n_failed, interval=interval, method="parametric_gformula", n=n,
        n_events=n_events, labels=labels, estimand=estimand)


def contrast_table(names: Sequence[str], risks: np.ndarray, reps: np.ndarray | None,
                   reference: str, conf_level: float, n: int, n_events: int,
                   n_failed: int, interval: BootstrapCI = "percentile") -> EstimateTable:
    s, t = risks.shape
    ref = list(names).index(reference)
    rows = []
    r_reps = None if reps is None else reps.reshape(-1, s, t)
    for i, name in enumerate(names):
        if i == ref:
            continue
        for k in range(t):
            labels: dict[str, Any] = {"strategy": name, "reference": reference, "time": float(k)}
            rd = float(risks[i, k] - risks[ref, k])
            rd_reps = None if r_reps is None else r_reps[:, i, k] - r_reps[:, ref, k]
            with np.errstate(divide="ignore", invalid="ignore"):
                lrr = float(np.log(risks[i, k] / risks[ref, k]))
                lrr_reps = (None if r_reps is None
                            else np.log(r_reps[:, i, k] / r_reps[:, ref, k]))
            pair = f"{name} vs {reference}, period {k}"
            for short, measure, est, rep in (("RD", "risk_difference", rd, rd_reps),
                                             ("RR", "risk_ratio", lrr, lrr_reps)):
                rows.append(_row(f"{short} {pair}", est, rep, measure,  # type: ignore[arg-type]
                                 conf_level, n_failed, interval, n, n_events, labels,
                                 f"risk by period {k}"))
    return EstimateTable(rows=tuple(rows), title="Parametric g-formula contrasts")
