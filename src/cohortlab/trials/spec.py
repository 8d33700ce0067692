"""``TargetTrial``: the protocol of the trial a study emulates, checked against its data.

The components follow the target trial framework (Hernán & Robins 2016) as the TARGET
reporting guideline (2025) lists them: eligibility criteria, treatment strategies,
assignment procedures, time zero, follow-up, outcome, causal contrasts and the analysis
plan. Eligibility criteria are expressions of the protocol language (columns, literals,
comparisons, ``& | ~``, a few methods), checked by parsing and evaluated without ``eval``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._validation import check_truncate
from ..exceptions import DataValidationError

__all__ = ["TargetTrial", "Strategy", "TargetTrialError", "TARGET_ITEMS"]

Contrast = Literal["itt", "per_protocol"]
Estimator = Literal["sequential_trials", "clone_censor_weight"]
PlanVariance = Literal["robust", "bootstrap"]
ELIGIBLE = "_target_trial_eligible"

#: The protocol components of TARGET (item label, what the specification table reports).
TARGET_ITEMS = ("Eligibility criteria", "Treatment strategies", "Assignment procedures",
                "Time zero", "Follow-up", "Outcome", "Causal contrasts", "Analysis plan")

_CONTRAST_WORDS = {
    "itt": "intention-to-treat effect (the effect of being assigned to a strategy at time "
           "zero, whatever happens afterwards)",
    "per_protocol": "per-protocol effect (the effect of following the strategies as "
                    "specified; deviations handled by artificial censoring and inverse "
                    "probability weighting)"}


class TargetTrialError(DataValidationError):
    """A target trial specification that is incomplete or does not fit the data.

    Attributes
    ----------
    problems : tuple of str
        Every problem found, each naming the field and how to fix it.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"TargetTrial: {len(self.problems)} problem"
                         f"{'s' if len(self.problems) != 1 else ''} with the specification:"
                         f"\n{lines}")


@dataclass(frozen=True, kw_only=True)
class Strategy:
    """A treatment strategy: a short name and what it asks of a participant."""

    name: str
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class TargetTrial:
    """The specification of a target trial, to check against person-period data and emulate.

    The fields mirror the protocol components of the TARGET reporting guideline. Column
    fields name columns of the person-period data (one row per person and period, sorted by
    ``(id, period)``, periods consecutive).

    **Estimand.** ``contrast="itt"``: the risk of ``outcome`` by each follow-up period had
    every eligible person been assigned to each strategy at time zero; ``"per_protocol"``:
    had they followed it. Risks, their difference and ratio (treatment strategy vs
    comparator) at ``horizons``.

    **Identifying assumptions.** Assignment is emulated by adjustment: no unmeasured
    confounding of the treatment decision at time zero given ``covariates`` (and, per
    protocol, of adherence given ``switch_covariates``), positivity, consistency, correct
    pooled logistic models, loss to follow-up independent of the outcome given the model
    terms (or the censoring weights).

    **Variance.** That of the estimator (``estimator``): the person-clustered sandwich or
    the person-level bootstrap (``variance``); see :func:`cohortlab.sequential_trials` and
    :func:`cohortlab.clone_censor_weight`.

    Parameters
    ----------
    treatment, outcome : str
        Treatment in the period (0/1); outcome at the end of the period (0/1, missing only
        where censored).
    id, period : str
        Person and period columns.
    title : str
        The trial's name in the report.
    eligibility : sequence of (label, expression) pairs
        Criteria a person-period must meet to start a trial (each an expression of the
        protocol language over the person-period columns, e.g. ``("adult", "age >= 18")``).
    new_users : bool
        Also require no treatment before the period (a new-user design).
    strategies : (Strategy, Strategy)
        The treatment strategy (treatment = 1) and the comparator (treatment = 0).
    grace : int
        Grace period in periods for starting the treatment strategy (clone-censor-weight).
    covariates : sequence of str
        Confounders at time zero (assignment emulated by adjustment for them).
    switch_covariates : sequence of str
        Time-varying confounders of adherence (and loss to follow-up) for the weights.
    time_zero : str
        When follow-up starts, in words (default: when eligibility is met and a strategy
        is assigned).
    followup : int, optional
        Length of follow-up in periods (default: the longest the data allow).
    unit : str
        The period's unit (``"months"``, ``"weeks"``, ...), for the report.
    censor : str, optional
        Loss to follow-up in the period (0/1).
    competing : str, optional
        A competing event (0/1): the person leaves the risk set after it. Sequential trials
        model its hazard and report cumulative incidences with it not prevented (the total
        effect); clone-censor-weight treats it as censoring after its period (recorded in
        the notes).
    outcome_label : str
        The outcome in words.
    contrast : {"itt", "per_protocol"}
    estimator : {"sequential_trials", "clone_censor_weight"}
    censor_weights : bool
        Inverse probability of censoring weights for loss to follow-up (sequential trials).
    truncate : (float, float), optional
        Quantiles ``(low, high)`` at which the weights are truncated, e.g. ``(0.01, 0.99)``.
    variance : {"robust", "bootstrap"}
        Clone-censor-weight needs ``"bootstrap"``.
    n_boot : int
    horizons : sequence of int
        Follow-up periods (0 = the first) at which risks are contrasted (default: the last).
    random_state : int, optional
        Seed of the bootstrap.
    conf_level : float

    Examples
    --------
    >>> import cohortlab as cl
    >>> spec = cl.TargetTrial(treatment="A", outcome="Y", covariates=("L", "V"),
    ...                       eligibility=(("low confounder", "L < 3"),), followup=4)
    >>> spec.table()["TARGET item"].tolist()[:3]
    ['Eligibility criteria', 'Treatment strategies', 'Assignment procedures']
    >>> df = cl.simulate_longitudinal(n=200, n_periods=4, random_state=1, n_truth=2_000)
    >>> spec.validate(df) is spec
    True
    """

    treatment: str
    outcome: str
    id: str = "id"  # noqa: A003 - the shared long-format contract names it id
    period: str = "period"
    title: str = "Target trial"
    eligibility: tuple[tuple[str, str], ...] = ()
    new_users: bool = True
    strategies: tuple[Strategy, Strategy] = (
        Strategy(name="initiate", description="start treatment at time zero"),
        Strategy(name="do not initiate", description="do not start treatment"))
    grace: int = 0
    covariates: tuple[str, ...] = ()
    switch_covariates: tuple[str, ...] = ()
    time_zero: str = ""
    followup: int | None = None
    unit: str = "months"
    censor: str | None = None
    competing: str | None = None
    outcome_label: str = ""
    contrast: Contrast = "itt"
    estimator: Estimator = "sequential_trials"
    censor_weights: bool = False
    truncate: tuple[float, float] | None = None
    variance: PlanVariance = "robust"
    n_boot: int = 200
    horizons: tuple[int, ...] = ()
    random_state: int | None = None
    conf_level: float = 0.95
    labels: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for name in ("eligibility", "covariates", "switch_covariates", "horizons"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TargetTrialError([f"{name}: must be a list; got the string {value!r} "
                                        f"(write [{value!r}])."])
            object.__setattr__(self, name, tuple(tuple(v) if name == "eligibility" and
                                                 isinstance(v, list) else v for v in value))
        object.__setattr__(self, "strategies", tuple(self.strategies))
        problems = self._shape_problems()
        if problems:
            raise TargetTrialError(problems)

    # ------------------------------------------------------------------ checks
    def _shape_problems(self) -> list[str]:
        """Problems visible without the data."""
        out: list[str] = []
        for i, crit in enumerate(self.eligibility):
            if not (isinstance(crit, tuple) and len(crit) == 2
                    and all(isinstance(c, str) for c in crit)):
                out.append(f"eligibility[{i}]: must be a (label, expression) pair of "
                           f"strings; got {crit!r}.")
        if len(self.strategies) != 2 or not all(isinstance(s, Strategy)
                                                for s in self.strategies):
            out.append("strategies: must be two Strategy objects (treatment strategy, "
                       "comparator).")
        if self.contrast not in ("itt", "per_protocol"):
            out.append(f"contrast: must be 'itt' or 'per_protocol'; got {self.contrast!r}.")
        if self.estimator not in ("sequential_trials", "clone_censor_weight"):
            out.append(f"estimator: must be 'sequential_trials' or 'clone_censor_weight'; "
                       f"got {self.estimator!r}.")
        if self.variance not in ("robust", "bootstrap"):
            out.append(f"variance: must be 'robust' or 'bootstrap'; got {self.variance!r}.")
        if not (isinstance(self.grace, int) and self.grace >= 0):
            out.append(f"grace: must be a whole number of periods >= 0; got {self.grace!r}.")
        if self.estimator == "sequential_trials" and self.grace:
            out.append(f"grace: a grace period ({self.grace}) needs estimator = "
                       "'clone_censor_weight' (sequential trials assign the strategy from "
                       "the treatment in the trial's first period).")
        if self.estimator == "clone_censor_weight":
            if self.contrast != "per_protocol":
                out.append("contrast: clone-censor-weight estimates the per-protocol effect; "
                           "set contrast = 'per_protocol'.")
            if self.variance != "bootstrap":
                out.append("variance: clone-censor-weight intervals come from the "
                           "person-level bootstrap; set variance = 'bootstrap'.")
            if self.censor_weights:
                out.append("censor_weights: not available with clone-censor-weight (rows "
                           "lost to follow-up leave the outcome model); remove it.")
        if self.censor_weights and self.censor is None:
            out.append("censor_weights: needs the loss-to-follow-up column; set censor.")
        try:
            check_truncate(self.truncate, "TargetTrial")
        except DataValidationError as exc:
            out.append(f"truncate: {str(exc).removeprefix('TargetTrial(): truncate ')}")
        if self.followup is not None and not (isinstance(self.followup, int)
                                              and self.followup >= 1):
            out.append(f"followup: must be a whole number of periods >= 1; got "
                       f"{self.followup!r}.")
        bad_h = [h for h in self.horizons if not (isinstance(h, int) and h >= 0)]
        if bad_h:
            out.append(f"horizons: must be follow-up periods (whole numbers >= 0); got "
                       f"{bad_h}.")
        elif self.followup is not None and any(h >= self.followup for h in self.horizons):
            out.append(f"horizons: {[h for h in self.horizons if h >= self.followup]} beyond "
                       f"the follow-up of {self.followup} periods (0 to "
                       f"{self.followup - 1}).")
        if not (isinstance(self.n_boot, int) and self.n_boot >= 2):
            out.append(f"n_boot: must be a whole number >= 2; got {self.n_boot!r}.")
        if not (0.5 < float(self.conf_level) < 1.0):
            out.append(f"conf_level: must be in (0.5, 1); got {self.conf_level!r}.")
        return out

    def columns(self) -> list[str]:
        """Every column the specification names (eligibility expressions aside)."""
        cols = [self.id, self.period, self.treatment, self.outcome, *self.covariates,
                *self.switch_covariates]
        cols += [c for c in (self.censor, self.competing) if c is not None]
        return list(dict.fromkeys(cols))

    def criteria(self) -> list[Any]:
        """The checked eligibility expressions (``ProtocolError`` names the bad one)."""
        return [self._criterion(i) for i in range(len(self.eligibility))]

    def _criterion(self, i: int) -> Any:
        from ..protocol._expr import check_criterion

        label, expr = self.eligibility[i]
        return check_criterion(expr, f"eligibility[{i}] ({label})")

    def problems(self, data: pd.DataFrame) -> list[str]:
        """Every problem of the specification against ``data`` (empty when it fits)."""
        from ..exceptions import CohortError

        if not isinstance(data, pd.DataFrame):
            return [f"data: must be a pandas DataFrame; got {type(data).__name__}."]
        out: list[str] = []
        present = set(data.columns)
        for col in self.columns():
            if col not in present:
                from .._validation import suggest

                out.append(f"column {col!r} (named by {self._role(col)}) not in the data. "
                           f"{suggest(col, [str(c) for c in data.columns])}")
        exprs = []
        for i, (label, expr) in enumerate(self.eligibility):
            try:
                e = self._criterion(i)
            except CohortError as exc:
                out.append(f"eligibility[{i}] ({label}): {expr!r} is not allowed: "
                           f"{str(exc).split(': ', 1)[-1]}")
                continue
            miss = [c for c in e.columns if c not in present]
            if miss:
                out.append(f"eligibility[{i}] ({label}): column(s) {miss} not in the data.")
                continue
            exprs.append((i, label, e))
        coded: list[tuple[str | None, str, tuple[Any, ...]]] = [
            (self.treatment, "treatment", (0, 1)), (self.censor, "censor", (0, 1)),
            (self.outcome, "outcome", (0, 1, None)),
            (self.competing, "competing", (0, 1, None))]
        for name, role, allowed in coded:
            if name is None or name not in present:
                continue
            col = name
            v = pd.to_numeric(data[col], errors="coerce")
            ok = v.isin([0, 1]) | (v.isna() & data[col].isna() if None in allowed else False)
            if not bool(np.all(ok)):
                shown = pd.unique(data[col][~ok])[:5].tolist()
                out.append(f"{role} column {col!r}: must be coded 0/1"
                           + (" (missing where not observed)" if None in allowed else "")
                           + f"; found {int((~ok).sum()):,} rows with {shown}. Recode it.")
        for col in (*self.covariates, *self.switch_covariates):
            if col in present and not (pd.api.types.is_numeric_dtype(data[col])
                                       or pd.api.types.is_bool_dtype(data[col])):
                out.append(f"covariate {col!r}: must be numeric; found dtype "
                           f"{data[col].dtype}. Encode it as numbers (dummy columns).")
        if self.period in present:
            per = pd.to_numeric(data[self.period], errors="coerce")
            if per.isna().any():
                out.append(f"period column {self.period!r}: must hold whole numbers.")
            elif self.followup is not None:
                longest = int(per.max() - per.min()) + 1
                if self.followup > longest:
                    out.append(f"followup: {self.followup} periods is longer than the data "
                               f"allow ({longest} periods, {self.period!r} from "
                               f"{per.min():g} to {per.max():g}). Shorten it.")
        if not out and exprs:
            for i, label, e in exprs:
                try:
                    keep = e.evaluate(data)
                except (CohortError, TypeError, ValueError) as exc:
                    out.append(f"eligibility[{i}] ({label}): could not be evaluated ({exc}).")
                    continue
                if not (isinstance(keep, pd.Series) and keep.dtype == bool):
                    out.append(f"eligibility[{i}] ({label}): {e.text!r} is not a true/false "
                               "condition; write a comparison (e.g. age >= 18).")
        if not out:
            elig = self.eligible(data)
            if not elig.any():
                out.append("eligibility: no person-period meets every criterion (no trial "
                           "can start). Check the criteria.")
        return out

    def _role(self, col: str) -> str:
        for role in ("id", "period", "treatment", "outcome", "censor", "competing"):
            if getattr(self, role) == col:
                return role
        return "covariates" if col in self.covariates else "switch_covariates"

    def validate(self, data: pd.DataFrame) -> TargetTrial:
        """Check the specification against ``data``; raise one error listing every problem.

        Returns
        -------
        TargetTrial
            ``self``, so calls chain.

        Raises
        ------
        TargetTrialError
            Listing every problem (missing columns, codes, eligibility expressions that do
            not parse, a follow-up longer than the data, incompatible analysis options).
        """
        problems = self.problems(data)
        if problems:
            raise TargetTrialError(problems)
        return self

    def eligible(self, data: pd.DataFrame) -> pd.Series:
        """Whether each person-period meets every criterion (and the new-user rule)."""
        keep = pd.Series(True, index=data.index)
        for e in self.criteria():
            keep &= e.evaluate(data).fillna(False).astype(bool)
        if self.new_users and self.estimator == "sequential_trials":
            a = pd.to_numeric(data[self.treatment], errors="coerce").fillna(0)
            before = a.groupby(data[self.id], sort=False).cumsum() - a
            keep &= before == 0
        return keep

    # ------------------------------------------------------------------ the table
    def _label(self, col: str) -> str:
        return self.labels.get(col, col)

    def table(self) -> pd.DataFrame:
        """The specification as two columns (``TARGET item``, ``This study``) for reports.

        Returns
        -------
        pandas.DataFrame
            One row per protocol component of TARGET, in its order.
        """
        s1, s0 = self.strategies
        crit = [f"{label}" for label, _ in self.eligibility]
        if self.new_users and self.estimator == "sequential_trials":
            crit.append(f"no {self.labels.get(self.treatment, 'treatment').lower()} before "
                        "the period (new users)")
        elig = "; ".join(crit) or "every person-period"
        if self.estimator == "sequential_trials":
            elig += ("; eligibility re-assessed at every period, each eligible period "
                     "starting a new trial")
        else:
            elig += "; assessed at each person's first period"
        grace = (f" (grace period: {self.grace} {self.unit})" if self.grace else "")
        strat = (f"{s1.name}: {s1.description or s1.name}{grace} vs {s0.name}: "
                 f"{s0.description or s0.name}")
        covs = ", ".join(self._label(c) for c in self.covariates) or "none"
        assign = (f"Random assignment emulated by adjustment for the confounders at time zero "
                  f"({covs})")
        if self.estimator == "clone_censor_weight":
            assign = ("Each person cloned into both strategies at time zero (assignment "
                      "independent of prognosis by design); confounding of treatment "
                      f"decisions handled by inverse probability weights ({covs})")
        zero = self.time_zero or ("the period in which eligibility is met and a strategy "
                                  "assigned" if self.estimator == "sequential_trials"
                                  else "each person's first eligible period")
        fu_len = f"{self.followup} {self.unit}" if self.followup else "as long as the data allow"
        ends = [f"the outcome, end of follow-up ({fu_len})"]
        if self.censor:
            ends.append("loss to follow-up")
        if self.competing:
            ends.append(f"{self._label(self.competing).lower()} (competing event)")
        outcome = self.outcome_label or self._label(self.outcome)
        if self.competing:
            outcome += (f"; {self._label(self.competing).lower()} is a competing event "
                        "(follow-up ends at it)")
        plan = (["sequential trials", "pooled logistic model of the outcome hazard"
                 + (" and of the competing-event hazard, cumulative incidences with the "
                    "competing event not prevented" if self.competing else ", risks")
                 + " standardised over the eligible person-trials"]
                if self.estimator == "sequential_trials" else
                ["clone-censor-weight", "weighted pooled logistic model of the outcome "
                 "hazard by strategy"])
        if self.contrast == "per_protocol" or self.censor_weights:
            plan.append("stabilised inverse probability weights"
                        + (f", truncated at the {self.truncate[0]:g}/{self.truncate[1]:g} "
                           "quantiles" if self.truncate else ""))
        plan.append("95% CIs" if self.conf_level == 0.95 else
                    f"{self.conf_level:.0%} CIs")
        plan[-1] += (" by person-clustered sandwich" if self.variance == "robust" else
                     f" by person-level bootstrap ({self.n_boot} replicates)")
        if self.horizons:
            plan.append("risks at " + ", ".join(f"{h + 1} {self.unit}" for h in
                                                  self.horizons))
        rows = [elig, strat, assign, zero[0].upper() + zero[1:],
                f"From time zero until the first of {', '.join(ends)}",
                outcome[0].upper() + outcome[1:], _CONTRAST_WORDS[self.contrast],
                "; ".join(plan)]
        rows = [r[0].upper() + r[1:] for r in rows]
        return pd.DataFrame({"TARGET item": list(TARGET_ITEMS), "This study": rows})
