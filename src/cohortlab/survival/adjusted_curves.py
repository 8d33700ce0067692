"""The result of :func:`cohortlab.adjusted_survival`: counterfactual curves per arm.

:class:`AdjustedCurves` holds the arms' curves on the evaluation grid with their contrasts
(difference, ratio) and restricted mean survival, each with a confidence interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .._typing import EffectMeasure
from .._validation import (
    check_option,
)
from ..exceptions import DataValidationError
from ..inference.wald import delta_contrast
from ..results.curve import Curve
from ..results.estimate import Estimate, EstimateTable
from ._rmst import grid_rmst, paired_rmst_contrasts, step_area

__all__ = ["AdjustedCurves"]

Contrast = Literal["difference", "ratio"]
_GRID_AREA_NOTE = ("RMST: area of the step function on the evaluation grid (exact when the grid "
                   "holds every event time, the default up to 500 of them)")


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class AdjustedCurves(Curve):
    """Counterfactual curves of each exposure arm (``group`` = ``"<exposure>=1"`` / ``=0``).

    Estimates and intervals are on the evaluation grid ``grid`` (every distinct event time when
    there are at most 500, else ``times=``/500 quantiles): :meth:`at` reads the step function.
    :meth:`contrast` gives the difference or ratio of the arms at given times and :meth:`rmst`
    the restricted mean survival per arm and their difference, each with a CI by the same
    variance method as the curves.
    """

    grid: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    arm_values: np.ndarray = field(default_factory=lambda: np.zeros((2, 0)), repr=False)
    arm_variance: np.ndarray | None = field(default=None, repr=False)
    replicates: np.ndarray | None = field(default=None, repr=False)
    exposure_name: str = ""
    rmst_source: Any = field(default=None, repr=False)
    moments: Any = field(default=None, repr=False)

    def contrast(self, times: Sequence[float] | float, measure: Contrast = "difference",
                 *, scale: Literal["survival", "risk"] | None = None) -> EstimateTable:
        """Arm 1 minus (or over) arm 0 at ``times``, with CIs.

        ``scale="risk"`` contrasts the risks ``1 - S_a(t)`` of survival curves (risk
        difference, risk ratio); the default is the curves' own scale (survival, or the
        cumulative incidence with ``cause``). The variances of ``1 - S`` are those of ``S``.

        Analytic variances: ``var_1 + var_0 - 2 cov_10``, the arms' covariance from the shared
        influence values (the fitted propensity, Cox and censoring models use both arms; 0 for
        ``ipw`` with ``variance="robust"``, whose arms share nothing once the weights are
        known); ratios use the log scale (delta method). Bootstrap: the replicate contrasts
        (percentile interval).
        """
        check_option(measure, Contrast, "measure", "contrast")
        if scale not in (None, "survival", "risk"):
            raise DataValidationError(f"contrast(): scale must be 'survival' or 'risk'; got "
                                      f"{scale!r}.")
        if scale == "survival" and self.measure != "survival":
            raise DataValidationError("contrast(): scale='survival' needs survival curves; "
                                      "these are cumulative incidences (cause given).")
        ts = np.atleast_1d(np.asarray(times, dtype=float))
        pos = self._grid_pos(ts)
        v1, v0 = self.arm_values[0, pos], self.arm_values[1, pos]
        kind = "survival" if self.measure == "survival" else "risk"
        flip = kind == "survival" and scale == "risk"
        if flip:  # risks 1 - S: the same variances and covariances
            v1, v0, kind = 1.0 - v1, 1.0 - v0, "risk"
        eff = {("survival", "difference"): "difference", ("survival", "ratio"): "ratio",
               ("risk", "difference"): "risk_difference", ("risk", "ratio"): "risk_ratio"}[
                   (kind, measure)]
        rows = []
        for k, t in enumerate(ts):
            term = f"{kind} {measure} at {t:g}"
            common: dict[str, Any] = dict(
                conf_level=self.conf_level, effect_measure=eff, method=self.method,
                estimand=self.estimand, n=self.n, n_events=self.n_events, dropped=self.dropped,
                labels={"time": float(t)})
            if self.replicates is not None:
                r1, r0 = self.replicates[:, 0, pos[k]], self.replicates[:, 1, pos[k]]
                if flip:
                    r1, r0 = 1.0 - r1, 1.0 - r0
                point = v1[k] - v0[k] if measure == "difference" else v1[k] / v0[k]
                reps = r1 - r0 if measure == "difference" else r1 / r0
                rows.append(Estimate.from_bootstrap(term, float(point), reps, **common))
                continue
            av = self.arm_variance
            assert av is not None  # influence-function curves keep their variances
            var1, var0 = av[0, pos[k]], av[1, pos[k]]
            cov10 = 0.0
            if self.moments is not None:  # the fitted models share subjects across arms
                cov10 = float(self.moments.cov_diag(0, 1)[pos[k]])
            point, se = delta_contrast(v1[k], v0[k], var1, var0, cov10, measure)
            rows.append(Estimate.from_model_scale(term, point, se, ci_method=self.ci_method,
                                                  **common))
        return EstimateTable(rows=tuple(rows), title=f"{self._title()} · contrasts",
                             dropped=self.dropped, notes=self.notes)

    def rmst(self, tau: float) -> EstimateTable:
        """Restricted mean survival time to ``tau`` per arm, and their difference.

        ``ipw`` with ``variance="robust"``: the weighted Kaplan-Meier's infinitesimal jackknife
        (:func:`cohortlab.rmst` with the weights); the other analytic variances: the area's
        influence values (a linear function of the curve on the grid); bootstrap: the
        replicate curves' areas.
        """
        if self.measure != "survival":
            raise DataValidationError(
                "rmst(): the restricted mean is defined for survival curves; these are "
                "cumulative incidence curves (cause=). Use contrast() at the times of interest.")
        if getattr(self.moments, "rmst_exact", None) is not None:
            return self._rmst_exact(float(tau))
        if self.moments is not None:
            return self._rmst_from_moments(float(tau))
        if self.replicates is None:
            if self.rmst_source is None:
                raise DataValidationError("rmst(): no data kept to compute the RMST.")
            return self.rmst_source(float(tau))
        if not tau <= self.grid[-1] or tau <= 0:
            raise DataValidationError(
                f"rmst(): tau = {tau:g} is outside the evaluation grid (0, {self.grid[-1]:g}].")
        point = np.array([step_area(self.grid, self.arm_values[a], tau) for a in (0, 1)])
        reps = np.array([[step_area(self.grid, r[a], tau) for a in (0, 1)]
                         for r in self.replicates])
        names = [f"RMST {self.exposure_name}=1", f"RMST {self.exposure_name}=0",
                 f"RMST difference {self.exposure_name} 1 vs 0"]
        pts = [point[0], point[1], point[0] - point[1]]
        rr = [reps[:, 0], reps[:, 1], reps[:, 0] - reps[:, 1]]
        rows = tuple(Estimate.from_bootstrap(
            nm, float(p), r, conf_level=self.conf_level,
            effect_measure="rmst" if k < 2 else "rmst_difference", method=self.method,
            estimand=self.estimand, n=self.n, n_events=self.n_events, labels={"tau": tau})
            for k, (nm, p, r) in enumerate(zip(names, pts, rr, strict=True)))
        return EstimateTable(rows=rows, title=f"RMST to {tau:g}",
                             notes=self.notes + (_GRID_AREA_NOTE,))

    def _rmst_exact(self, tau: float) -> EstimateTable:
        """RMST per arm, difference and ratios over every event time (``ipw``).

        The variances come from the curves' influence values (their covariance included).
        """
        if not tau > 0:
            raise DataValidationError(f"rmst(): tau must be > 0; got {tau:g}.")
        est, cov = self.moments.rmst_exact(tau)
        x = self.exposure_name
        names = [f"RMST {x}=1", f"RMST {x}=0", f"RMST difference {x} 1 vs 0",
                 f"RMST ratio {x} 1 vs 0", f"RMTL ratio {x} 1 vs 0"]
        measures: list[EffectMeasure] = ["rmst", "rmst", "rmst_difference", "rmst_ratio",
                                         "rmtl_ratio"]
        out = tuple(Estimate.from_model_scale(
            nm, float(p), float(se), conf_level=self.conf_level, effect_measure=meas,
            method=self.method, ci_method=self.ci_method, estimand=self.estimand, n=self.n,
            n_events=self.n_events, labels={"tau": tau})
            for nm, (p, se), meas
            in zip(names, paired_rmst_contrasts(est, cov, tau), measures, strict=True))
        return EstimateTable(rows=out, title=f"RMST to {tau:g}", notes=self.notes)

    def _rmst_from_moments(self, tau: float) -> EstimateTable:
        if not 0 < tau <= self.grid[-1]:
            raise DataValidationError(
                f"rmst(): tau = {tau:g} is outside the evaluation grid (0, {self.grid[-1]:g}].")
        pts, ses = grid_rmst(self.grid, self.arm_values, tau, self.moments.quad)
        names = [f"RMST {self.exposure_name}=1", f"RMST {self.exposure_name}=0",
                 f"RMST difference {self.exposure_name} 1 vs 0"]
        rows = tuple(Estimate.from_model_scale(
            nm, float(p), float(se), conf_level=self.conf_level,
            effect_measure="rmst" if k < 2 else "rmst_difference", method=self.method,
            ci_method=self.ci_method, estimand=self.estimand, n=self.n,
            n_events=self.n_events, labels={"tau": tau})
            for k, (nm, p, se) in enumerate(zip(names, pts, ses, strict=True)))
        return EstimateTable(rows=rows, title=f"RMST to {tau:g}",
                             notes=self.notes + (_GRID_AREA_NOTE,))

    def _grid_pos(self, ts: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.grid, ts, side="right") - 1
        if np.any(pos < 0) or np.any(ts > self.grid[-1]):
            raise DataValidationError(
                f"contrast(): times must lie in [{self.grid[0]:g}, {self.grid[-1]:g}], the "
                f"evaluation grid; got {ts.tolist()}.")
        return pos
