"""The analysis methods a protocol may name, and how each cohortlab verb is called.

Each method maps to one public verb. The protocol fills the arguments that come from its
other sections (exposure, outcome columns, covariates, estimand, seed, missing policy); an
analysis' ``options`` table passes the verb's other keyword arguments through unchanged and
is checked against the verb's signature.
"""

from __future__ import annotations

import inspect
import keyword
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .sections import ProtocolError, close_matches

__all__ = ["MethodSpec", "METHODS", "check_method_options", "formula_columns",
           "COLUMN_OPTIONS", "FORMULA_OPTIONS"]

#: Options whose value is a column name (or a list of them).
COLUMN_OPTIONS = ("weights", "cluster", "strata", "entry")
#: Options whose value is a covariate set (list of columns or a formula string).
FORMULA_OPTIONS = ("covariates", "outcome_covariates", "censoring_covariates")

_EFFECT = frozenset({"binary", "continuous"})
_TTE = frozenset({"time_to_event"})
_COMPETING = frozenset({"competing"})
_ANY_TIME = frozenset({"time_to_event", "competing"})


@dataclass(frozen=True)
class MethodSpec:
    """How a protocol calls one verb.

    Attributes
    ----------
    name : str
        The verb's name in ``cohortlab``.
    kind : str
        ``"effect"`` (returns an Estimate), ``"match"``, ``"curve"`` (a Curve by exposure),
        ``"model"`` (a ModelResult with the exposure as a covariate), ``"adjusted"``
        (adjusted curves and their contrasts) or ``"rmst"``.
    outcome_types : frozenset of str
        The outcome types it takes.
    fills : tuple of str
        The verb arguments the protocol fills (not allowed in ``options``).
    subgroups, bias, weighting : bool
        Whether ``[[subgroups]]`` and ``[sensitivity.bias_analysis]`` may use it, and whether
        its result carries propensity-score weights (Table 1 after weighting, love plot).
    """

    name: str
    kind: str
    outcome_types: frozenset[str]
    fills: tuple[str, ...]
    subgroups: bool = False
    bias: bool = False
    weighting: bool = False

    def verb(self) -> Any:
        """The cohortlab function."""
        import cohortlab

        return getattr(cohortlab, self.name)

    def parameters(self) -> list[str]:
        """The verb's keyword parameters (without ``data``)."""
        sig = inspect.signature(self.verb())
        return [n for n, p in sig.parameters.items()
                if n != "data" and p.kind is not inspect.Parameter.VAR_KEYWORD]

    def allowed_options(self) -> list[str]:
        """The parameters an analysis may set in ``options``."""
        return [p for p in self.parameters() if p not in self.fills]


_CAUSAL = ("exposure", "outcome", "estimand")
METHODS: dict[str, MethodSpec] = {m.name: m for m in (
    MethodSpec("crude_effect", "effect", _EFFECT, ("exposure", "outcome"),
               subgroups=True, bias=True),
    MethodSpec("ipw", "effect", _EFFECT, _CAUSAL, subgroups=True, bias=True, weighting=True),
    MethodSpec("aipw", "effect", _EFFECT, _CAUSAL, subgroups=True, bias=True),
    MethodSpec("tmle", "effect", _EFFECT, _CAUSAL, subgroups=True, bias=True),
    MethodSpec("gformula", "effect", _EFFECT, _CAUSAL, subgroups=True, bias=True),
    MethodSpec("match", "match", _EFFECT, _CAUSAL),
    MethodSpec("kaplan_meier", "curve", _TTE, ("time", "event", "by")),
    MethodSpec("cumulative_incidence", "curve", _ANY_TIME, ("time", "event", "cause", "by")),
    MethodSpec("cox", "model", _ANY_TIME, ("time", "event"), subgroups=True),
    MethodSpec("fine_gray", "model", _COMPETING, ("time", "event", "cause")),
    MethodSpec("cause_specific_cox", "model", _COMPETING, ("time", "event")),
    MethodSpec("adjusted_survival", "adjusted", _ANY_TIME,
               ("time", "event", "exposure", "cause", "estimand")),
    MethodSpec("rmst", "rmst", _TTE, ("time", "event", "by")),
)}


#: Corrections that used to ride on the verbs as options and are now wrappers around them
#: (issue 13): an analysis' ``options`` cannot hold them; the fix names where they live.
_CORRECTIONS = {
    "exposure_validation": "Multiple imputation from a validation column is the wrapper "
                           "cl.correct_exposure(estimator, data, validation=...): run it in a "
                           "script.",
    "exposure_error": "Give the error rates in [sensitivity.bias_analysis] (run by "
                      "cl.bias_analysis(estimator, data, error=...)).",
    "outcome_validation": "Prediction-powered inference is the wrapper "
                          "cl.ppi_effect(cl.ipw, data, outcome_validation=...): run it in a "
                          "script.",
}


def check_method_options(method: str, options: Mapping[str, Any], path: str) -> None:
    """Check an analysis' options against its verb's signature (names only).

    Raises
    ------
    ProtocolError
        For an option the verb does not take (with close matches) or one the protocol fills.
    """
    spec = METHODS[method]
    params = spec.parameters()
    for key in options:
        if key in spec.fills:
            raise ProtocolError(f"{path}.{key}", f"is set by the protocol for {method}().",
                                _filled_hint(key))
        if key in _CORRECTIONS:
            raise ProtocolError(f"{path}.{key}", f"{method}() has no option {key!r}: "
                                "corrections wrap the estimator.", _CORRECTIONS[key])
        if key not in params:
            raise ProtocolError(f"{path}.{key}", f"{method}() has no option {key!r}.",
                                close_matches(key, spec.allowed_options()))


def _filled_hint(key: str) -> str:
    return {
        "exposure": "Set it in [exposure].", "by": "The curves are by [exposure].column.",
        "outcome": "Name outcomes in the analysis' outcomes = [...] and define them in "
                   "[[outcomes]].",
        "time": "Set it in [followup] or the outcome's time.",
        "event": "Set it in the outcome's event.", "cause": "Set it in the outcome's cause.",
        "estimand": "Write estimand = \"ATE\" on the analysis itself.",
    }.get(key, "Remove it.")


_STRING = re.compile(r"(['\"])(?:\\.|(?!\1).)*\1")
_NAME = re.compile(r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]*)(?![\w.])")


def formula_columns(covariates: str | Sequence[str]) -> list[str]:
    """The data columns a covariate set uses (a list of columns or a formulaic formula).

    Function names (``I``, ``C``, ``bs``, ``np.log``), keyword arguments (``df=3``) and
    string literals are not columns.

    Examples
    --------
    >>> formula_columns("age + I(age**2) + C(education) + bs(bmi, df=3) + qsmk:ps")
    ['age', 'education', 'bmi', 'qsmk', 'ps']
    """
    if not isinstance(covariates, str):
        return list(dict.fromkeys(covariates))
    text = _STRING.sub(" ", covariates)
    out: list[str] = []
    for m in _NAME.finditer(text):
        rest = text[m.end():].lstrip()
        before = text[:m.start()].rstrip()
        if rest.startswith("(") or (rest.startswith("=") and not rest.startswith("==")):
            continue
        if before.endswith("."):
            continue
        if m.group(1) not in out:
            out.append(m.group(1))
    return out


def with_exposure(exposure: str, covariates: str | Sequence[str] | None) -> str | list[str]:
    """The covariate set of a regression model: the exposure first, then the covariates."""
    if covariates is None:
        return [exposure]
    if isinstance(covariates, str):
        quoted = exposure if exposure.isidentifier() and not keyword.iskeyword(exposure) \
            else f"`{exposure}`"
        return f"{quoted} + {covariates}"
    return [exposure, *[c for c in covariates if c != exposure]]


def effect_rows(spec: MethodSpec, result: Any, exposure: str, at: Sequence[float]
                ) -> pd.DataFrame:
    """The tidy effect rows of a result (for Table 2); empty for plain curves."""
    from ..results.estimate import EstimateTable

    if spec.kind == "effect":
        return result.to_frame()
    if spec.kind == "match":
        return result.estimate.to_frame() if result.estimate is not None else pd.DataFrame()
    if spec.kind == "model":
        tidy = result.tidy(exponentiate=True)
        keep = tidy["term"].astype(str).map(lambda t: t == exposure or t.startswith(
            (exposure + " ", exposure + "[", exposure + "=")))
        return tidy.loc[keep].reset_index(drop=True)
    if spec.kind == "rmst":
        frame = result.to_frame()
        return frame.loc[frame["effect_measure"].isin(
            ["rmst_difference", "rmst_ratio", "rmtl_ratio"])].reset_index(drop=True)
    if spec.kind == "adjusted" and len(at):
        parts: list[EstimateTable] = [result.contrast(list(at), m)
                                      for m in ("difference", "ratio")]
        return pd.concat([p.to_frame() for p in parts], ignore_index=True)
    return pd.DataFrame()
