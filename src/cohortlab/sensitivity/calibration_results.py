"""Result classes of empirical calibration: the null, the error model, the coverage.

Returned by :func:`~cohortlab.sensitivity.calibration.empirical_null`,
:func:`~cohortlab.sensitivity.calibration.systematic_error_model` and
:func:`~cohortlab.sensitivity.calibration.calibration_coverage` (and importable from
:mod:`cohortlab.sensitivity.calibration`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from .._validation import check_conf_level
from ..exceptions import DataValidationError
from ..results._format import Renderable, fmt_int, fmt_num
from ..results.dropped import Dropped
from ..results.estimate import Estimate, EstimateTable
from ._calibration import _err_mean, _err_sd
from ._calibration_checks import _read
from ._calibration_draw import draw_funnel

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["EmpiricalNull", "SystematicErrorModel", "CalibrationCoverage"]

SDModel: TypeAlias = Literal["linear", "log_linear"]
Estimates: TypeAlias = "Estimate | EstimateTable | pd.DataFrame"


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class EmpiricalNull(Renderable):
    """The empirical null distribution ``N(mean, sd^2)`` of log ratio estimates.

    Attributes
    ----------
    mean, sd : float
        Mean and standard deviation of the systematic error on the log ratio scale.
    mean_se : float
        Standard error of ``mean`` (observed information, ``sd`` estimated).
    mean_ci, sd_ci : tuple of float
        Wald interval of ``mean``; profile-likelihood interval of ``sd``.
    conf_level : float
    n : int
        Negative controls used.
    loglik : float
        Maximised log-likelihood.
    log_estimate, std_error : numpy.ndarray
        The controls' log estimates and standard errors (for plots).
    terms : tuple of str
        The controls' names.

    Examples
    --------
    >>> from cohortlab.sensitivity.calibration import empirical_null
    >>> null = empirical_null(pd.DataFrame({"log_rr": [0.1, 0.3, 0.2, 0.5, 0.0, 0.25],
    ...                                     "se": [0.1, 0.2, 0.1, 0.15, 0.1, 0.2]}),
    ...                       log_estimate="log_rr", std_error="se")
    >>> round(null.mean, 4), round(null.sd, 4)
    (0.1849, 0.0903)
    """

    mean: float
    sd: float
    mean_se: float
    mean_ci: tuple[float, float]
    sd_ci: tuple[float, float]
    conf_level: float = 0.95
    n: int
    loglik: float
    log_estimate: np.ndarray = field(repr=False)
    std_error: np.ndarray = field(repr=False)
    terms: tuple[str, ...] = ()
    dropped: Dropped = field(default_factory=Dropped)
    notes: tuple[str, ...] = ()

    @property
    def table(self) -> EstimateTable:
        """The two parameters (``mean``, ``sd``, log ratio scale) as an EstimateTable.

        ``mean`` has its standard error and Wald interval, ``sd`` its profile-likelihood
        interval; neither is tested (``statistic`` and ``p_value`` are NaN).
        """
        common: dict[str, Any] = {"conf_level": self.conf_level, "effect_measure": "coefficient",
                  "method": "empirical_null", "n": self.n, "dropped": self.dropped}
        rows = (
            Estimate(term="mean", estimate=self.mean, std_error=self.mean_se,
                     conf_low=self.mean_ci[0], conf_high=self.mean_ci[1], ci_method="wald",
                     **common),
            Estimate(term="sd", estimate=self.sd, conf_low=self.sd_ci[0],
                     conf_high=self.sd_ci[1], ci_method="profile_likelihood", **common),
        )
        return EstimateTable(rows=rows, title=self._title(), dropped=self.dropped,
                             notes=self.notes)

    def to_frame(self) -> pd.DataFrame:
        """Two rows (``mean``, ``sd``) in the tidy schema (the rows of :attr:`table`)."""
        return self.table.to_frame()

    def to_error_model(self) -> SystematicErrorModel:
        """The null as a systematic error model (mean slope 1, SD slope 0), for CIs.

        As R's ``convertNullToErrorModel``: the same bias at every true effect size.
        """
        return SystematicErrorModel(
            mean_intercept=self.mean, mean_slope=1.0, sd_intercept=self.sd, sd_slope=0.0,
            sd_model="linear", n_negative=self.n, n_positive=0, loglik=self.loglik,
            std_errors=(self.mean_se, math.nan, math.nan, math.nan),
            notes=("error model from the empirical null (same bias at every effect size)",),
        )

    def plot(self, estimates: Estimates | None = None, ax: Axes | None = None, *,
             conf_level: float = 0.95) -> Axes:
        """Funnel plot of the controls with the calibrated boundary; see :func:`funnel_plot`."""
        return _funnel(self, estimates, ax, conf_level=conf_level)

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        f = self.to_frame()
        return pd.DataFrame({
            "term": f["term"],
            "estimate": [fmt_num(v, digits) for v in f["estimate"]],
            "std_error": [fmt_num(v, digits) for v in f["std_error"]],
            "conf_low": [fmt_num(v, digits) for v in f["conf_low"]],
            "conf_high": [fmt_num(v, digits) for v in f["conf_high"]],
        })

    def _title(self) -> str:
        return "Empirical null distribution of log ratio estimates (systematic error)"

    def _footer(self) -> list[str]:
        n_txt = f"n = {fmt_int(self.n)} negative controls"
        if self.dropped:
            n_txt += f" ({self.dropped})"
        line = (f"{n_txt} · {100 * self.conf_level:g}% CI: mean Wald, sd profile likelihood · "
                f"log-likelihood {self.loglik:.3f}")
        return [line, *self.notes]


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class SystematicErrorModel(Renderable):
    """Systematic error as a function of the true log effect size ``x``.

    The error's mean is ``mean_intercept + mean_slope * x``; its standard deviation is
    ``sd_intercept + sd_slope * |x|`` (``sd_model="linear"``, R's default) or
    ``exp(sd_intercept + sd_slope * x)`` (``"log_linear"``, Schuemie et al. 2018; R's
    ``legacy = TRUE``).

    Examples
    --------
    >>> m = SystematicErrorModel(mean_intercept=0.1, mean_slope=1.0, sd_intercept=0.2,
    ...                          sd_slope=0.0, n_negative=20)
    >>> m.error_mean(np.array([0.0, 1.0])).tolist(), m.error_sd(np.array([0.0, 1.0])).tolist()
    ([0.1, 1.1], [0.2, 0.2])
    """

    mean_intercept: float
    mean_slope: float
    sd_intercept: float
    sd_slope: float
    sd_model: SDModel = "linear"
    n_negative: int
    n_positive: int = 0
    loglik: float = math.nan
    std_errors: tuple[float, float, float, float] = (math.nan,) * 4
    dropped: Dropped = field(default_factory=Dropped)
    notes: tuple[str, ...] = ()

    @property
    def params(self) -> np.ndarray:
        """``[mean_intercept, mean_slope, sd_intercept, sd_slope]``."""
        return np.array([self.mean_intercept, self.mean_slope, self.sd_intercept,
                         self.sd_slope])

    def error_mean(self, true_log_effect: np.ndarray) -> np.ndarray:
        """Expected log estimate at true log effect ``x`` (bias included)."""
        return _err_mean(self.params, np.asarray(true_log_effect, dtype=float))

    def error_sd(self, true_log_effect: np.ndarray) -> np.ndarray:
        """Standard deviation of the systematic error at true log effect ``x``."""
        return _err_sd(self.params, np.asarray(true_log_effect, dtype=float), self.sd_model)

    @property
    def table(self) -> EstimateTable:
        """The four parameters with their standard errors (observed information), no CI."""
        names = (["mean_intercept", "mean_slope", "sd_intercept", "sd_slope"]
                 if self.sd_model == "linear"
                 else ["mean_intercept", "mean_slope", "log_sd_intercept", "log_sd_slope"])
        rows = tuple(
            Estimate(term=t, estimate=float(b), std_error=float(se),
                     effect_measure="coefficient", method="systematic_error_model",
                     ci_method="none", n=self.n_negative + self.n_positive,
                     dropped=self.dropped)
            for t, b, se in zip(names, self.params, self.std_errors, strict=True)
        )
        return EstimateTable(rows=rows, title=self._title(), dropped=self.dropped,
                             notes=self.notes)

    def to_frame(self) -> pd.DataFrame:
        """The four parameters in the tidy schema (the rows of :attr:`table`)."""
        return self.table.to_frame()

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        f = self.to_frame()
        return pd.DataFrame({"term": f["term"],
                             "estimate": [fmt_num(v, digits) for v in f["estimate"]],
                             "std_error": [fmt_num(v, digits) for v in f["std_error"]]})

    def _title(self) -> str:
        return f"Systematic error model ({self.sd_model} SD) on the log ratio scale"

    def _footer(self) -> list[str]:
        line = (f"{fmt_int(self.n_negative)} negative, {fmt_int(self.n_positive)} positive "
                "controls")
        if not math.isnan(self.loglik):
            line += f" · log-likelihood {self.loglik:.3f}"
        if self.dropped:
            line += f" · {self.dropped}"
        return [line, *self.notes]


def _check_null(null: Any, func: str) -> None:
    if not isinstance(null, EmpiricalNull):
        raise DataValidationError(
            f"{func}(): null must be an EmpiricalNull; got {type(null).__name__}. Fit it with "
            "empirical_null(negative_controls).")


def _funnel(null: EmpiricalNull, estimates: Estimates | None, ax: Axes | None, *,
            conf_level: float = 0.95, log_estimate: str | None = None,
            std_error: str | None = None) -> Axes:
    """:func:`~cohortlab.sensitivity.calibration_plots.funnel_plot`: checks, then drawing."""
    _check_null(null, "funnel_plot")
    alpha = 1.0 - check_conf_level(conf_level, "funnel_plot")
    est_log = est_se = None
    if estimates is not None:
        f, _ = _read(estimates, log_estimate, std_error, "funnel_plot", "raise", "estimates")
        est_log, est_se = f["y"].to_numpy(), f["s"].to_numpy()
    return draw_funnel(ax, null.mean, null.sd, null.log_estimate, null.std_error, est_log,
                       est_se, alpha)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class CalibrationCoverage(Renderable):
    """Leave-one-out coverage of uncalibrated and calibrated intervals of the controls.

    Attributes
    ----------
    coverage : pandas.DataFrame
        One row per true effect and nominal level: ``true_effect, conf_level, n,
        coverage_uncalibrated, coverage_calibrated`` (``calibration_plot(result)`` draws it).
    sd_model : str
        The error model's SD model.

    ``table`` (and ``to_frame()``) has one row per true effect, level and kind: ``estimate``
    is the coverage (a proportion, no interval), ``n`` the controls, and the labels
    ``true_effect``, ``nominal_level`` and ``calibrated``.
    """

    coverage: pd.DataFrame
    sd_model: str = "linear"
    notes: tuple[str, ...] = ()

    @property
    def table(self) -> EstimateTable:
        """The coverages as an :class:`EstimateTable` (uncalibrated, then calibrated)."""
        rows = []
        for rec in self.coverage.itertuples(index=False):
            for kind in ("uncalibrated", "calibrated"):
                rows.append(Estimate(
                    term=f"coverage ({kind})", estimate=float(getattr(rec, f"coverage_{kind}")),
                    conf_level=math.nan, effect_measure="mean", method="calibration_coverage",
                    ci_method="none", n=int(rec.n),
                    labels={"true_effect": float(rec.true_effect),
                            "nominal_level": float(rec.conf_level),
                            "calibrated": kind == "calibrated"},
                ))
        return EstimateTable(rows=tuple(rows), title=self._title(), notes=self.notes)

    def to_frame(self) -> pd.DataFrame:
        """The rows of :attr:`table` in the tidy schema."""
        return self.table.to_frame()

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        f = self.coverage
        return pd.DataFrame({
            "true_effect": [fmt_num(v, digits) for v in f["true_effect"]],
            "conf_level": [f"{v:g}" for v in f["conf_level"]],
            "n": [fmt_int(v) for v in f["n"]],
            "uncalibrated": [fmt_num(v, digits) for v in f["coverage_uncalibrated"]],
            "calibrated": [fmt_num(v, digits) for v in f["coverage_calibrated"]],
        })

    def _title(self) -> str:
        return "Leave-one-out coverage of the controls' intervals"

    def _footer(self) -> list[str]:
        return [f"error model: {self.sd_model} SD; coverage = share of intervals holding the "
                "true effect", *self.notes]
