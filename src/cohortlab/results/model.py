"""``ModelResult``: a fitted regression model (Cox, Fine-Gray, GLM) as one result."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._typing import RATIO_MEASURES, CIMethod, EffectMeasure, EvaluationMetric
from ._format import (
    Renderable,
    ci_label,
    count_bits,
    fmt_num,
    fmt_p,
    measure_label,
    method_label,
)
from .dropped import Dropped
from .estimate import Estimate, EstimateTable

__all__ = ["ModelResult"]


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class ModelResult(Renderable):
    """Coefficients of a fitted model with their covariance, fit statistics and provenance.

    ``params`` and ``vcov`` are on the model (linear predictor) scale. ``effect_measure`` names
    what ``exp(coef)`` means (``"hazard_ratio"``, ``"odds_ratio"``, ...) or is
    ``"coefficient"`` for models without a ratio scale. :meth:`tidy` follows broom: with
    ``exponentiate=True`` the estimate and interval are exponentiated and ``std_error`` stays
    on the model scale.

    Examples
    --------
    >>> m = ModelResult(terms=("age", "treated"), params=np.array([0.02, -0.4]),
    ...     vcov=np.diag([0.0001, 0.04]), effect_measure="hazard_ratio", method="cox", n=200,
    ...     n_events=80)
    >>> m.tidy().round(3)[["term", "estimate", "std_error", "conf_low", "conf_high"]]
          term  estimate  std_error  conf_low  conf_high
    0      age     1.020       0.01     1.000      1.041
    1  treated     0.670       0.20     0.453      0.992
    """

    terms: tuple[str, ...]
    params: np.ndarray
    vcov: np.ndarray
    effect_measure: EffectMeasure | EvaluationMetric = "coefficient"
    method: str = ""
    ci_method: CIMethod = "wald_model"
    conf_level: float = 0.95
    n: int | None = None
    n_events: int | None = None
    estimand: str | None = None
    fit_stats: Mapping[str, float] = field(default_factory=dict)
    dropped: Dropped = field(default_factory=Dropped)
    notes: tuple[str, ...] = ()
    vcov_model: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        params = np.asarray(self.params, dtype=float).ravel()
        vcov = np.asarray(self.vcov, dtype=float)
        k = len(self.terms)
        if params.shape != (k,) or vcov.shape != (k, k):
            raise ValueError(
                f"ModelResult(): {k} terms need params of shape ({k},) and vcov ({k}, {k}); "
                f"got {params.shape} and {vcov.shape}."
            )
        object.__setattr__(self, "terms", tuple(self.terms))
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "vcov", vcov)

    @property
    def std_errors(self) -> np.ndarray:
        """Standard errors on the model scale (from ``vcov``)."""
        return np.sqrt(np.diag(self.vcov))

    @property
    def _ratio_default(self) -> bool:
        return self.effect_measure in RATIO_MEASURES

    def coef_table(
        self, exponentiate: bool | None = None, conf_level: float | None = None
    ) -> EstimateTable:
        """The coefficients as an :class:`EstimateTable` (Wald intervals)."""
        expo = self._ratio_default if exponentiate is None else exponentiate
        level = self.conf_level if conf_level is None else conf_level
        measure = self.effect_measure if expo else "coefficient"
        if expo and measure not in RATIO_MEASURES:
            measure = "ratio"
        rows = tuple(
            Estimate.from_model_scale(
                t, float(b), float(se), conf_level=level, effect_measure=measure,
                ci_method=self.ci_method, method=self.method, estimand=self.estimand,
                n=self.n, n_events=self.n_events, dropped=self.dropped,
            )
            for t, b, se in zip(self.terms, self.params, self.std_errors, strict=True)
        )
        return EstimateTable(rows=rows, title=self._title(), dropped=self.dropped,
                             notes=self.notes)

    def tidy(
        self, exponentiate: bool | None = None, conf_level: float | None = None
    ) -> pd.DataFrame:
        """Tidy coefficient frame; exponentiated by default for ratio models (e.g. HRs)."""
        return self.coef_table(exponentiate, conf_level).to_frame()

    def to_frame(self, exponentiate: bool | None = None) -> pd.DataFrame:
        """Same as :meth:`tidy`."""
        return self.tidy(exponentiate)

    def conf_int(self, conf_level: float | None = None) -> pd.DataFrame:
        """Wald intervals on the reported scale, indexed by term: ``conf_low, conf_high``.

        Exponentiated for ratio models (hazard, odds ratios), as :meth:`tidy` and
        :meth:`Estimate.conf_int`; ``tidy(exponentiate=False)`` has the model-scale limits.
        ``conf_level`` defaults to the model's own.

        Examples
        --------
        >>> m = ModelResult(terms=("treated",), params=np.array([-0.4]),
        ...     vcov=np.array([[0.04]]), effect_measure="hazard_ratio")
        >>> m.conf_int().round(3)
                 conf_low  conf_high
        term
        treated     0.453      0.992
        """
        return self.coef_table(conf_level=conf_level).conf_int()

    def glance(self) -> pd.DataFrame:
        """One row of model-level statistics: n, events, and the fit statistics."""
        row: dict[str, Any] = {"method": self.method, "n": self.n, "n_events": self.n_events}
        row.update(self.fit_stats)
        return pd.DataFrame([row])

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        return self.coef_table()._display_frame(digits)

    def _title(self) -> str:
        label = measure_label(self.effect_measure if self._ratio_default else "coefficient")
        bits = [method_label(self.method), label]
        return " · ".join(b for b in bits if b)

    def _footer(self) -> list[str]:
        bits = [*count_bits(self.n, self.dropped, self.n_events),
                f"{100 * self.conf_level:g}% CI, {ci_label(self.ci_method)}"]
        if self._ratio_default:
            bits.append("SE on the log scale")
        stats = [f"{k} {fmt_p(v) if 'p_value' in k else fmt_num(v)}"
                 for k, v in self.fit_stats.items()
                 if isinstance(v, numbers.Real) and not math.isnan(float(v))]
        lines = [" · ".join(b for b in bits if b)]
        if stats:
            lines.append(", ".join(stats))
        return [*lines, *self.notes]


