"""``MSMResult`` and the risk curves / contrast tables that :func:`msm` builds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._typing import CIMethod
from ..inference.bootstrap import bootstrap_interval
from ..inference.wald import z_critical
from ..results._format import Renderable
from ..results.curve import Curve
from ..results.estimate import Estimate, EstimateTable
from ..results.model import ModelResult
from .weights import TimeVaryingWeights

__all__ = ["MSMResult", "bootstrap_results", "sandwich_results"]

STRATEGIES = (("always", 1.0), ("never", 0.0))
METHOD = "msm_pooled_logistic"
TITLE = "MSM standardised risks · always vs never"


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class MSMResult(Renderable):
    """A fitted marginal structural model, its weights and (pooled logistic) standardised risks.

    Attributes
    ----------
    model : ModelResult
        MSM coefficients (odds ratios for the pooled logistic model, hazard ratios for Cox)
        with cluster-robust (by person) standard errors.
    competing_model : ModelResult or None
        The MSM of the competing event's hazard (pooled logistic with ``competing=``).
    risks : Curve or None
        Standardised cumulative risk (incidence) by the end of each period under "always"
        and "never" treated (pooled logistic only).
    contrasts : EstimateTable or None
        Risks, risk difference and risk ratio (always vs never) at the horizons.
    weights : TimeVaryingWeights or None
        The weights (None when the caller supplied them).
    """

    model: ModelResult
    competing_model: ModelResult | None = None
    risks: Curve | None = None
    contrasts: EstimateTable | None = None
    weights: TimeVaryingWeights | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def table(self) -> EstimateTable:
        """The always-vs-never contrasts (pooled logistic), else the MSM's coefficients."""
        if self.contrasts is not None:
            return self.contrasts
        m = self.model
        rows = tuple(
            Estimate.from_model_scale(str(t), float(b), float(se), effect_measure=m.effect_measure,
                                      ci_method=m.ci_method, method=m.method,
                                      conf_level=m.conf_level, n=m.n, n_events=m.n_events)
            for t, b, se in zip(m.terms, m.params, m.std_errors, strict=True))
        return EstimateTable(rows=rows, title=self._title(), notes=self.notes)

    def to_frame(self) -> pd.DataFrame:
        """The contrasts at the horizons (pooled logistic), else the coefficient table."""
        return self.contrasts.to_frame() if self.contrasts is not None else self.model.tidy()

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        if self.contrasts is not None:
            return self.contrasts._display_frame(digits)
        return self.model._display_frame(digits)

    def _title(self) -> str:
        if self.contrasts is not None:
            return "Marginal structural model (IPW) · always vs never treated"
        return self.model._title()

    def _footer(self) -> list[str]:
        src = self.contrasts if self.contrasts is not None else self.model
        lines = src._footer()
        return [*lines, *[n for n in self.notes if n not in lines]]


@dataclass(frozen=True)
class CurveInfo:
    """What the curve and table rows share: periods, counts and provenance."""

    periods: np.ndarray        # the grid's periods (first .. last)
    n_risk: np.ndarray         # observed person-periods per period (or one row per strategy)
    n_censor: np.ndarray       # censored (weight 0) person-periods per period (idem)
    n_persons: int
    n_events: int
    conf_level: float
    method: str = METHOD
    title: str = TITLE
    curve_note: str = ("time = period; risk by the end of that period; n_risk and n_censor "
                       "are the observed person-periods")


def _curve(info: CurveInfo, est: np.ndarray, se: np.ndarray, lo: np.ndarray, hi: np.ndarray,
           ci_method: CIMethod) -> Curve:
    k = info.periods.size
    frames = []
    for s, (name, _) in enumerate(STRATEGIES):
        sl = slice(s * k, (s + 1) * k)
        frames.append(pd.DataFrame({
            "time": info.periods.astype(float), "group": name, "cause": None,
            "n_risk": info.n_risk if info.n_risk.ndim == 1 else info.n_risk[s],
            "n_event": pd.NA,
            "n_censor": info.n_censor if info.n_censor.ndim == 1 else info.n_censor[s],
            "estimate": est[sl], "std_error": se[sl], "conf_low": lo[sl], "conf_high": hi[sl],
            "conf_level": info.conf_level}))
    return Curve(data=pd.concat(frames, ignore_index=True), measure="risk", method=info.method,
                 conf_type="plain", conf_level=info.conf_level, ci_method=ci_method,
                 n=info.n_persons, n_events=info.n_events, weighted=True,
                 notes=(info.curve_note,))


def _common(info: CurveInfo, period: int, **extra: Any) -> dict[str, Any]:
    return dict(conf_level=info.conf_level, method=info.method, n=info.n_persons,
                n_events=info.n_events, labels={"period": period}, estimand="ATE", **extra)


def sandwich_results(info: CurveInfo, horizons: list[int], r1: np.ndarray, i1: np.ndarray,
                     r0: np.ndarray, i0: np.ndarray,
                     adj: float) -> tuple[Curve, EstimateTable]:
    """Curve and contrasts with delta-method SEs from per-person influence values."""
    k = r1.size
    z = z_critical(info.conf_level)
    est = np.concatenate([r1, r0])
    se = np.sqrt(adj * (np.concatenate([i1, i0], axis=1) ** 2).sum(axis=0))
    curve = _curve(info, est, se, est - z * se, est + z * se, "wald_sandwich")

    def sd(v: np.ndarray) -> float:
        return float(np.sqrt(adj * (v ** 2).sum()))

    rows: list[Estimate] = []
    p0 = int(info.periods[0])
    for h in horizons:
        j = h - p0
        c = _common(info, h, ci_method="wald_sandwich")
        rows += [
            Estimate.from_model_scale("always", r1[j], se[j], effect_measure="risk", **c),
            Estimate.from_model_scale("never", r0[j], se[k + j], effect_measure="risk", **c),
            Estimate.from_model_scale("risk difference", r1[j] - r0[j], sd(i1[:, j] - i0[:, j]),
                                      effect_measure="risk_difference", **c),
            Estimate.from_model_scale("risk ratio", float(np.log(r1[j] / r0[j])),
                                      sd(i1[:, j] / r1[j] - i0[:, j] / r0[j]),
                                      effect_measure="risk_ratio", **c),
        ]
    return curve, EstimateTable(rows=tuple(rows), title=info.title, notes=(
        "delta-method sandwich by person (weights treated as known)",))


def bootstrap_results(info: CurveInfo, horizons: list[int], point: np.ndarray,
                      reps: np.ndarray, n_failed: int,
                      reweighted: bool, what: str | None = None) -> tuple[Curve, EstimateTable]:
    """Curve and contrasts with percentile intervals from person-bootstrap replicates."""
    k = info.periods.size
    se, lo, hi = bootstrap_interval(point, reps, info.conf_level, "percentile")
    curve = _curve(info, point, se, lo, hi, "bootstrap_percentile")
    r1, r0 = reps[:, :k], reps[:, k:]
    rows: list[Estimate] = []
    p0 = int(info.periods[0])
    for h in horizons:
        j = h - p0
        c = _common(info, h, n_failed=n_failed)
        a, b = float(point[j]), float(point[k + j])
        rows += [
            Estimate.from_bootstrap("always", a, r1[:, j], effect_measure="risk", **c),
            Estimate.from_bootstrap("never", b, r0[:, j], effect_measure="risk", **c),
            Estimate.from_bootstrap("risk difference", a - b, r1[:, j] - r0[:, j],
                                    effect_measure="risk_difference", **c),
        ]
        with np.errstate(divide="ignore", invalid="ignore"):  # a replicate with risk 0: dropped
            log_rr = np.log(r1[:, j] / r0[:, j])
        rows.append(Estimate.from_bootstrap("risk ratio", float(np.log(a / b)), log_rr,
                                            effect_measure="risk_ratio", **c))
    if what is None:
        what = ("weights and MSM re-estimated" if reweighted
                else "MSM re-estimated, weights fixed")
    return curve, EstimateTable(rows=tuple(rows), title=info.title, notes=(
        f"person-level bootstrap ({reps.shape[0]:,} valid replicates; {what} in each)",))
