"""``evalue``: E-values for unmeasured confounding (VanderWeele & Ding 2017).

The E-value is the minimum strength of association, on the risk ratio scale, that an
unmeasured confounder would need to have with both the exposure and the outcome, conditional
on the measured covariates, to fully explain away an observed exposure-outcome association.
The numbers reproduce R's EValue package (``evalues.RR``, ``evalues.OR``, ``evalues.HR``,
``evalues.MD``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from .._validation import verb, verb_name
from ..exceptions import DataValidationError
from ..results._hooks import register
from ..results.estimate import Estimate
from ._evalue import evalue_ci, evalue_rr, smd_rr_interval, to_rr

__all__ = ["evalue"]

EValueMeasure: TypeAlias = Literal["RR", "OR", "HR", "RD", "SMD"]

#: An Estimate's effect_measure -> the E-value measure it is read as.
_FROM_EFFECT_MEASURE: dict[str, str] = {
    "risk_ratio": "RR",
    "odds_ratio": "OR",
    "hazard_ratio": "HR",
    "subdistribution_hazard_ratio": "HR",
}


class EValue(Estimate):
    """An E-value as an :class:`Estimate`, displayed as the two E-values it holds.

    The numbers are the Estimate's (``estimate``, ``extra``, ``labels``, ``to_frame()``);
    only the printed and HTML tables differ: the ratio it was computed from and the E-values
    of the estimate and of the confidence limit, labelled, with no empty interval columns.
    """

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        e_ci = float(self.extra.get("evalue_ci", float("nan")))
        return pd.DataFrame({
            "Effect": [str(self.term).removeprefix("E-value: ")],
            "Risk ratio used": [f"{float(self.extra.get('rr', float('nan'))):.2f}"],
            "E-value (estimate)": [f"{self.estimate:.2f}"],
            f"E-value ({100 * self.conf_level:g}% CI limit)": [
                f"{e_ci:.2f}" if math.isfinite(e_ci) else "no interval given"],
        })

    def _title(self) -> str:
        return "E-values for unmeasured confounding"

    def _footer(self) -> list[str]:
        return [*self.notes, "E-value: the risk ratio an unmeasured confounder would need "
                "with both exposure and outcome to explain the estimate away (VanderWeele & "
                "Ding 2017); for the CI limit, to move the interval to include the null."]


# ---------------------------------------------------------------------- validation
def _number(value: Any, name: str, *, positive: bool, optional: bool = False) -> float:
    if value is None and optional:
        return math.nan
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)):
        raise DataValidationError(
            f"{verb_name()}(): {name} must be a finite number; got {value!r}. Pass the value on "
            "its "
            "natural scale (e.g. a ratio of 0.8, not its logarithm)."
        )
    if positive and float(value) <= 0:
        raise DataValidationError(
            f"{verb_name()}(): {name} must be > 0 for a ratio measure; got {value!r}. Pass the "
            "ratio "
            "on its natural scale (exponentiate a log ratio first)."
        )
    return float(value)


def _check_rare(rare: Any, measure: str) -> bool | None:
    if measure in ("OR", "HR"):
        if not isinstance(rare, bool):
            raise DataValidationError(
                f"{verb_name()}(): rare must be True or False for measure={measure!r}; got "
                f"{rare!r}. "
                f"Say whether the outcome is rare (under ~15% by the end of follow-up): "
                f"rare=True reads the {measure} as a risk ratio, rare=False converts it."
            )
        return rare
    if rare is not None:
        raise DataValidationError(
            f"{verb_name()}(): rare applies only to measure='OR' or 'HR'; got rare={rare!r} with "
            f"measure={measure!r}. Leave rare=None."
        )
    return None


def _check_interval(est: float, low: float, high: float) -> None:
    if not (math.isnan(low) or math.isnan(high)) and low > high:
        raise DataValidationError(
            f"{verb_name()}(): conf_low must not exceed conf_high; got conf_low={low:g} > "
            f"conf_high={high:g}. Swap them."
        )
    if (not math.isnan(low) and est < low) or (not math.isnan(high) and est > high):
        raise DataValidationError(
            f"{verb_name()}(): the estimate must lie inside its interval; got {est:g} outside "
            f"({low:g}, {high:g}). Check that the limits belong to this estimate."
        )


def _from_estimate(est: Estimate) -> tuple[str, float, float, float]:
    """Measure, point and limits read off an :class:`Estimate`."""
    measure = _FROM_EFFECT_MEASURE.get(est.effect_measure)
    if measure is not None:
        return measure, est.estimate, est.conf_low, est.conf_high
    if est.effect_measure == "mean_difference":
        fix = ("Standardise it by the outcome's SD (residual SD for a regression): "
               "evalue(d, measure='SMD', se=se_d) with d = estimate / sd, se_d = std_error / sd")
    elif est.effect_measure == "risk_difference":
        fix = ("The E-value of a risk difference needs the 2x2 counts (EValue::evalues.RD); "
               "use the risk ratio instead, e.g. crude_effect(..., effect_measure='ratio')")
    else:
        fix = ("E-values are defined for risk, odds and hazard ratios and standardised mean "
               "differences; pass the numbers with measure= if one of these applies")
    raise DataValidationError(
        f"{verb_name()}(): cannot compute an E-value from effect_measure of {est.term!r}; got "
        f"{est.effect_measure!r}. {fix}."
    )


# ---------------------------------------------------------------------- public
@register("evalue")
@verb
def evalue(
    estimate: float | Estimate,
    conf_low: float | None = None,
    conf_high: float | None = None,
    *,
    measure: EValueMeasure | None = None,
    rare: bool | None = None,
    se: float | None = None,
    true: float | None = None,
) -> Estimate:
    """E-value of an effect estimate and of its confidence interval.

    Estimand: the E-value (VanderWeele & Ding 2017), the minimum strength of association on
    the risk ratio scale that an unmeasured confounder would need with both the exposure and
    the outcome, conditional on the measured covariates, to move the observed risk ratio to
    ``true`` (the null by default): ``E = RR + sqrt(RR (RR - 1))`` for ``RR >= 1`` (``1/RR``
    below 1), with ``RR`` replaced by ``RR / true`` for a non-null ``true``. The interval's
    E-value uses the limit nearer ``true``, and is 1 when the interval reaches it.

    Assumptions: the bound of Ding & VanderWeele (2016), which holds for any unmeasured
    confounder (no assumption on its type or distribution). Odds and hazard ratios are
    approximated by risk ratios: directly for a rare outcome (``rare=True``); for a common
    one by ``sqrt(OR)`` and ``(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))``. A standardised mean
    difference ``d`` is converted by ``RR ~ exp(0.91 d)`` with the interval
    ``exp(0.91 d +- 1.78 se)`` (Chinn 2000; VanderWeele 2017). ``true`` is converted the same
    way.

    Variance: none; the E-value is a deterministic transform of the point estimate and the
    interval limits given (so ``std_error`` and ``conf_*`` of the result are NaN).

    Parameters
    ----------
    estimate : float or Estimate
        The point estimate on its natural scale (a ratio, or Cohen's ``d`` for SMD), or an
        :class:`Estimate` with effect_measure ``risk_ratio``, ``odds_ratio``,
        ``hazard_ratio`` or ``subdistribution_hazard_ratio`` (its interval is used).
    conf_low, conf_high : float, optional
        The interval limits. Only the limit on the side of the null is needed. Not with an
        ``Estimate`` (read from it) nor with ``"SMD"`` (which uses ``se``).
    measure : {"RR", "OR", "HR", "RD", "SMD"}, optional
        The estimate's measure; ``"RR"`` when omitted for a number, read from an Estimate.
        ``"RD"`` raises: EValue's risk-difference E-value needs the 2x2 counts.
    rare : bool, optional
        Required for OR and HR: whether the outcome is rare (under ~15% at the end of
        follow-up). Not used by the other measures.
    se : float, optional
        The standard error of the SMD (required for SMD, not used by the others).
    true : float, optional
        The true effect to shift the estimate to, on the scale of ``measure``: 1 for ratios
        and 0 for SMD by default (the null).

    Returns
    -------
    Estimate
        ``term`` ``"E-value: <term>"``, ``estimate`` the point E-value,
        ``effect_measure="evalue"``, ``method="evalue"``, ``ci_method="none"``; the
        interval's E-value in ``extra["evalue_ci"]``, with the risk ratios used (``rr``,
        ``rr_conf_low``, ``rr_conf_high``) and ``true`` (on the risk ratio scale);
        ``labels`` the ``rr`` used and ``evalue_ci``.

    References
    ----------
    VanderWeele TJ, Ding P. Sensitivity analysis in observational research: introducing the
    E-value. Ann Intern Med 2017;167:268-274. Mathur MB, Ding P, Riddell CA, VanderWeele TJ.
    Web site and R package for computing E-values. Epidemiology 2018;29:e45-e47.

    Examples
    --------
    >>> e = evalue(10.73, 8.02, 14.36)
    >>> round(e.estimate, 4), round(e.extra["evalue_ci"], 4)
    (20.9478, 15.5234)
    >>> round(evalue(0.56, 0.46, 0.69, measure="HR", rare=False).estimate, 4)
    2.3495
    """
    if isinstance(estimate, Estimate):
        if measure is not None or conf_low is not None or conf_high is not None:
            raise DataValidationError(
                f"{verb_name()}(): measure, conf_low and conf_high are read from the Estimate; got "
                f"measure={measure!r}, conf_low={conf_low!r}, conf_high={conf_high!r}. Pass "
                "the Estimate alone, or its numbers with measure=."
            )
        term, conf_level = estimate.term, estimate.conf_level
        measure_, estimate, lo, hi = _from_estimate(estimate)
        conf_low = None if lo is None or math.isnan(lo) else lo
        conf_high = None if hi is None or math.isnan(hi) else hi
    else:
        measure_ = "RR" if measure is None else measure
        term, conf_level = measure_, 0.95
    ratio = measure_ != "SMD"
    est = _number(estimate, "estimate", positive=ratio)
    low = _number(conf_low, "conf_low", positive=ratio, optional=True)
    high = _number(conf_high, "conf_high", positive=ratio, optional=True)
    if measure_ == "RD":
        raise DataValidationError(
            f"{verb_name()}(): measure='RD' is not implemented; got a risk difference of {est:g}. "
            "The E-value of a risk difference (EValue::evalues.RD) needs the 2x2 counts n11, "
            "n10, n01, n00, not the difference and its interval; pass the risk ratio with "
            "measure='RR' instead."
        )
    rare_ = _check_rare(rare, measure_)
    _check_interval(est, low, high)
    null = 0.0 if measure_ == "SMD" else 1.0
    true_ = null if true is None else _number(true, "true", positive=ratio)
    if measure_ == "SMD":
        if not (math.isnan(low) and math.isnan(high)):
            raise DataValidationError(
                f"{verb_name()}(): measure='SMD' takes its interval from se, not "
                "conf_low/conf_high; "
                f"got conf_low={conf_low!r}, conf_high={conf_high!r}. Pass se= instead."
            )
        if se is None:
            raise DataValidationError(
                f"{verb_name()}(): measure='SMD' needs the standard error of d in se; got se=None. "
                "Pass se= (for a mean difference: its std_error divided by the outcome's SD)."
            )
        se_ = _number(se, "se", positive=False)
        if se_ < 0:
            raise DataValidationError(
                f"{verb_name()}(): se must be >= 0; got {se!r}. Pass the standard error of d."
            )
        rr_low, rr_high = smd_rr_interval(est, se_)
    elif se is not None:
        raise DataValidationError(
            f"{verb_name()}(): se is used only with measure='SMD'; got se={se!r} with "
            f"measure={measure_!r}. Pass conf_low and conf_high instead."
        )
    rr, true_rr, *lims = to_rr(np.array([est, true_, low, high]), measure_, rare_)
    if measure_ != "SMD":
        rr_low, rr_high = lims
    e_point = float(evalue_rr(np.array([rr]), true_rr)[0])
    e_ci = evalue_ci(float(rr), float(rr_low), float(rr_high), float(true_rr))
    notes = () if true_ == null else (
        f"non-null E-value: confounding needed to move the estimate to {true_:g}",)
    return EValue(
        term=f"E-value: {term}",
        estimate=e_point,
        conf_level=conf_level,
        effect_measure="evalue",
        method="evalue",
        ci_method="none",
        notes=notes,
        labels={"rr": float(rr), "evalue_ci": e_ci},
        extra={"evalue_ci": e_ci, "rr": float(rr), "rr_conf_low": float(rr_low),
               "rr_conf_high": float(rr_high), "true": float(true_rr)},
    )
