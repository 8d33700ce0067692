"""Sensitivity and specificity of a misclassified flag, with their uncertainty.

:class:`ErrorRates` holds them (points, intervals read as Beta distributions, or validation
counts through :class:`BetaRate`), optionally per level of a column; :func:`_draw_rate` draws
one value per simulation of :func:`~cohortlab.exposures.misclassification.bias_analysis`.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

import numpy as np

from ..exceptions import DataValidationError

__all__ = ["BetaRate", "ErrorRates"]



@dataclass(frozen=True)
class BetaRate:
    """A Beta(alpha, beta) distribution for a sensitivity or specificity.

    Examples
    --------
    >>> BetaRate(91, 11).mean
    0.892...
    """

    alpha: float
    beta: float

    def __post_init__(self) -> None:
        for name in ("alpha", "beta"):
            v = getattr(self, name)
            if not (isinstance(v, numbers.Real) and math.isfinite(v) and float(v) > 0):
                raise DataValidationError(
                    f"ErrorRates(): the Beta {name} must be a positive finite number; got "
                    f"{v!r}. Pass counts with ErrorRates.from_counts(tp, fn, tn, fp)."
                )

    @property
    def mean(self) -> float:
        """The mean ``alpha / (alpha + beta)``."""
        return self.alpha / (self.alpha + self.beta)


Rate: TypeAlias = "float | tuple[float, float] | BetaRate"


@dataclass(frozen=True)
class ErrorRates:
    """Sensitivity and specificity of a binary exposure flag, from an external validation.

    Each rate is a point value in (0, 1] (fixed in every simulation), a ``(low, high)`` 95%
    interval (drawn from the Beta distribution whose 2.5% and 97.5% quantiles are ``low`` and
    ``high``), or a :class:`BetaRate` (``from_counts`` builds ``Beta(tp + 1, fn + 1)`` and
    ``Beta(tn + 1, fp + 1)``: the posterior of a uniform prior given the validation counts).
    With ``by``, each rate is a mapping ``level of data[by] -> rate``; for rates that
    differ by outcome (differential misclassification) pass ``by=<the outcome column>``.

    Examples
    --------
    >>> er = ErrorRates(sensitivity=(0.80, 0.92), specificity=0.97)
    >>> er.levels() is None
    True
    >>> ErrorRates.from_counts(tp=90, fn=10, tn=485, fp=15).sensitivity
    BetaRate(alpha=91, beta=11)
    """

    sensitivity: Rate | Mapping[Any, Rate]
    specificity: Rate | Mapping[Any, Rate]
    by: str | None = None

    def __post_init__(self) -> None:
        if self.by is not None and not isinstance(self.by, str):
            raise DataValidationError(
                f"ErrorRates(): by must be a column name (str) or None; got {self.by!r}."
            )
        for name in ("sensitivity", "specificity"):
            value = getattr(self, name)
            if self.by is None:
                if isinstance(value, Mapping):
                    raise DataValidationError(
                        f"ErrorRates(): {name} is a mapping of levels but by is None; got "
                        f"keys {list(value)[:5]}. Pass by=<the column whose levels these are>."
                    )
                _check_rate(value, name)
            else:
                if not isinstance(value, Mapping):
                    raise DataValidationError(
                        f"ErrorRates(): with by={self.by!r}, {name} must be a mapping "
                        f"level -> rate; got {value!r}. Pass e.g. {{0: 0.9, 1: 0.7}}."
                    )
                for level, rate in value.items():
                    _check_rate(rate, f"{name}[{level!r}]")
        if self.by is None:
            _check_point_sum(self.sensitivity, self.specificity, "")
        else:
            for level in set(self.sensitivity) & set(self.specificity):  # type: ignore[arg-type]
                _check_point_sum(self.sensitivity[level], self.specificity[level],  # type: ignore[index]
                                 f" at {self.by}={level!r}")

    @classmethod
    def from_counts(
        cls,
        tp: int | Mapping[Any, int],
        fn: int | Mapping[Any, int],
        tn: int | Mapping[Any, int],
        fp: int | Mapping[Any, int],
        *,
        by: str | None = None,
    ) -> ErrorRates:
        """Rates from validation counts: ``Se ~ Beta(tp+1, fn+1)``, ``Sp ~ Beta(tn+1, fp+1)``.

        With ``by``, each count is a mapping ``level -> count`` (same levels in all four).
        """
        if by is None:
            _check_counts(tp, fn, tn, fp)
            return cls(BetaRate(tp + 1, fn + 1), BetaRate(tn + 1, fp + 1))  # type: ignore[operator]
        maps = {"tp": tp, "fn": fn, "tn": tn, "fp": fp}
        if not all(isinstance(m, Mapping) for m in maps.values()):
            raise DataValidationError(
                f"ErrorRates.from_counts(): with by={by!r} every count must be a mapping "
                "level -> count. Pass e.g. tp={0: 90, 1: 40}."
            )
        levels = set(tp)  # type: ignore[arg-type]
        if any(set(m) != levels for m in maps.values()):  # type: ignore[arg-type]
            raise DataValidationError(
                "ErrorRates.from_counts(): tp, fn, tn and fp must have the same levels; got "
                f"{ {k: sorted(m, key=str) for k, m in maps.items()} }."  # type: ignore[arg-type]
            )
        se, sp = {}, {}
        for lv in levels:
            _check_counts(tp[lv], fn[lv], tn[lv], fp[lv])  # type: ignore[index]
            se[lv] = BetaRate(tp[lv] + 1, fn[lv] + 1)  # type: ignore[index]
            sp[lv] = BetaRate(tn[lv] + 1, fp[lv] + 1)  # type: ignore[index]
        return cls(se, sp, by=by)

    def levels(self) -> list[Any] | None:
        """Levels with both rates (``None`` without ``by``)."""
        if self.by is None:
            return None
        # with ``by`` both rates are mappings (checked in __post_init__)
        sens = cast(Mapping[Any, Any], self.sensitivity)
        spec = cast(Mapping[Any, Any], self.specificity)
        return [lv for lv in sens if lv in spec]


def _check_rate(rate: Any, name: str) -> None:
    if isinstance(rate, BetaRate):
        return
    if isinstance(rate, tuple):
        ok = len(rate) == 2 and all(_is_real(v) for v in rate)
        if not ok or not 0.0 < rate[0] < rate[1] < 1.0:
            raise DataValidationError(
                f"ErrorRates(): {name} as an interval must be (low, high) with "
                f"0 < low < high < 1; got {rate!r}. Pass e.g. (0.80, 0.92), or a point value."
            )
        return
    if not _is_real(rate) or not 0.0 < float(rate) <= 1.0:
        raise DataValidationError(
            f"ErrorRates(): {name} must be in (0, 1]; got {rate!r}. Pass a proportion "
            "(e.g. 0.86, not 86), a (low, high) interval or a BetaRate."
        )


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _check_point_sum(se: Any, sp: Any, where: str) -> None:
    if _is_real(se) and _is_real(sp) and float(se) + float(sp) <= 1.0:
        raise DataValidationError(
            f"ErrorRates(): sensitivity + specificity must exceed 1{where}; got "
            f"{float(se):g} + {float(sp):g} = {float(se) + float(sp):g}. A flag this poor is "
            "no better than chance; check that the rates are not swapped or reversed "
            "(1 - sensitivity is the false-negative rate)."
        )


def _check_counts(*counts: Any) -> None:
    if not all(isinstance(c, numbers.Integral) and not isinstance(c, bool) and int(c) >= 0
               for c in counts):
        raise DataValidationError(
            "ErrorRates.from_counts(): tp, fn, tn and fp must be non-negative integers; got "
            f"{counts!r}."
        )


# ----------------------------------------------------------------- array-only numbers


@functools.lru_cache(maxsize=256)
def _beta_from_interval(low: float, high: float) -> tuple[float, float]:
    """Beta(a, b) whose 2.5% and 97.5% quantiles are ``low`` and ``high``."""
    from scipy.optimize import least_squares
    from scipy.special import logit
    from scipy.stats import beta

    m, sd = (low + high) / 2, (high - low) / 3.919927969080108
    k = max(m * (1 - m) / sd**2 - 1.0, 2.0)
    target = logit([low, high])

    def resid(p: np.ndarray) -> np.ndarray:
        a, b = np.exp(p)
        return logit(np.clip(beta.ppf([0.025, 0.975], a, b), 1e-300, 1 - 1e-16)) - target

    sol = least_squares(resid, np.log([m * k, (1 - m) * k]), xtol=1e-14, ftol=1e-14,
                        gtol=1e-14)
    if np.max(np.abs(sol.fun)) > 1e-6:
        raise DataValidationError(
            f"ErrorRates(): no Beta distribution has 95% interval ({low:g}, {high:g}). "
            "Pass the validation counts with ErrorRates.from_counts() or a BetaRate instead."
        )
    a, b = np.exp(sol.x)
    return float(a), float(b)


def _draw_rate(rng: np.random.Generator, rate: Any) -> float:
    if isinstance(rate, BetaRate):
        return float(rng.beta(rate.alpha, rate.beta))
    if isinstance(rate, tuple):
        return float(rng.beta(*_beta_from_interval(float(rate[0]), float(rate[1]))))
    return float(rate)
