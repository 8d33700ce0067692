"""The ``exposure_validation=`` / ``exposure_error=`` options of the estimators.

``@exposure_options`` adds keyword-only options to an estimator. When one of them is given
the call is dispatched to the correction it names instead of the plain estimator:

- ``exposure_validation="col"`` (the true exposure on a validation subset) ->
  :func:`cohortlab.exposures.measurement_error.correct_exposure` (multiple imputation);
- ``exposure_error=ErrorRates(...)`` (sensitivity and specificity from an external
  validation) -> :func:`cohortlab.exposures.misclassification.bias_analysis`.

The dispatch table :data:`OPTIONS` is extensible: :func:`register_option` adds another
option (e.g. ``outcome_validation=`` for prediction-powered inference), and every decorated
estimator picks it up. Each handler receives the decorated estimator (so that the correction
can call it, picklable by reference for joblib), the data, the option's value and the other
keyword arguments, and returns the result.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .exceptions import DataValidationError

__all__ = ["exposure_options", "register_option", "OPTIONS", "Option"]

#: Options of correct_exposure that may ride along with ``exposure_validation=``.
MI_KEYS = ("n_imputations", "imputation_covariates", "flag_interactions", "imputation_draw",
           "refit_weights", "times", "random_state", "n_jobs")
#: Options of bias_analysis that may ride along with ``exposure_error=``.
PBA_KEYS = ("n_sims", "strata", "random_state", "n_jobs", "prevalence_covariates")


@dataclass(frozen=True)
class Option:
    """One dispatching option: its name, handler, annotation and the keys it may consume.

    ``handler(estimator, data, value, kwargs) -> result``; ``consumes`` names the keyword
    arguments that belong to the correction (e.g. ``n_imputations``: the handler removes
    them from the estimator's arguments); ``hint`` says in a few words what the option is
    for (used in error messages).
    """

    name: str
    handler: Callable[[Callable[..., Any], pd.DataFrame, Any, dict[str, Any]], Any]
    annotation: str
    consumes: tuple[str, ...] = ()
    hint: str = ""
    only: tuple[str, ...] = ()  # the estimators it applies to (empty: all)


#: The dispatch table, option name -> :class:`Option` (insertion order = signature order).
OPTIONS: dict[str, Option] = {}


def register_option(option: Option) -> None:
    """Add (or replace) a dispatching option for every decorated estimator.

    Estimators decorated before the registration see the option at call time; their
    ``__signature__`` lists the options registered when they were decorated.
    """
    OPTIONS[option.name] = option


def exposure_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate an estimator with the options of :data:`OPTIONS`.

    The wrapper keeps ``func``'s name, docstring and signature (plus the options as
    keyword-only parameters defaulting to ``None``); without an option the call goes straight
    to ``func``. Two options at once raise a :class:`DataValidationError`.

    Examples
    --------
    >>> @exposure_options
    ... def est(data, *, exposure, outcome):
    ...     return "plain"
    >>> est(None, exposure="a", outcome="y")
    'plain'
    >>> list(inspect.signature(est).parameters)[-2:]
    ['exposure_validation', 'exposure_error']
    """
    sig = inspect.signature(func)
    own = set(sig.parameters)
    name = func.__name__

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {k: kwargs.pop(k) for k in list(kwargs) if k in OPTIONS}
        given = {k: v for k, v in given.items() if v is not None}
        if not given:
            return func(*args, **kwargs)
        if len(given) > 1:
            shown = " and ".join(f"{k}=" for k in given)
            hints = " or ".join(f"{k}= ({OPTIONS[k].hint})" for k in given)
            raise DataValidationError(
                f"{name}(): {shown} were both given; got {len(given)} corrections at once. "
                f"Pass {hints}, not both."
            )
        (opt_name, value), = given.items()
        option = OPTIONS[opt_name]
        if option.only and name not in option.only:
            raise DataValidationError(
                f"{name}(): {opt_name}= ({option.hint}) is not available for {name}; got "
                f"{opt_name}={value!r}. It applies to {', '.join(option.only)}."
            )
        data, rest = _split_data(args, kwargs, name)
        return option.handler(wrapper, data, value, rest)

    wrapper.__cl_raw__ = func  # type: ignore[attr-defined]
    params = list(sig.parameters.values())
    var_kw = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
    params = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
    for opt in OPTIONS.values():
        if opt.name not in own and (not opt.only or name in opt.only):
            params.append(inspect.Parameter(opt.name, inspect.Parameter.KEYWORD_ONLY,
                                            default=None, annotation=opt.annotation))
    wrapper.__signature__ = sig.replace(parameters=params + var_kw)  # type: ignore[attr-defined]
    return wrapper


def _split_data(args: tuple, kwargs: dict[str, Any], name: str
                ) -> tuple[Any, dict[str, Any]]:
    rest = dict(kwargs)
    if args:
        if len(args) > 1:
            raise TypeError(f"{name}() takes 1 positional argument (data) but {len(args)} "
                            "were given")
        return args[0], rest
    if "data" in rest:
        return rest.pop("data"), rest
    raise TypeError(f"{name}() missing 1 required positional argument: 'data'")


# ------------------------------------------------------------------------ the handlers


def _exposure_column(estimator: Callable[..., Any], value: Any, kwargs: dict[str, Any],
                     option: str) -> tuple[str, Any]:
    """The flag column and the option's own value (a mapping names the flag explicitly)."""
    raw = getattr(estimator, "__cl_raw__", estimator)
    name = raw.__name__
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise DataValidationError(
                f"{name}(): {option} as a mapping must have one entry {{flag: ...}}; got "
                f"{len(value)} entries. Pass e.g. {option}={{'af_flag': 'af_true'}}."
            )
        (flag, val), = value.items()
        if kwargs.get("exposure") not in (None, flag):
            raise DataValidationError(
                f"{name}(): the flag named in {option} must be the exposure; got "
                f"{flag!r} and exposure={kwargs['exposure']!r}. Pass {option}="
                f"{{{kwargs['exposure']!r}: ...}} or a column name."
            )
        return flag, val
    params = inspect.signature(raw).parameters
    if "exposure" in params:
        flag = kwargs.get("exposure")
    elif "by" in params:
        flag = kwargs.get("by")
    else:
        flag = _first_covariate(kwargs.get("covariates"), name)
    if not isinstance(flag, str):
        role = "exposure" if "exposure" in params else ("by" if "by" in params else
                                                        "covariates")
        raise DataValidationError(
            f"{name}(): {option} needs the misclassified flag in {role}=; got {flag!r}. "
            f"Pass {role}=<the flag column>, or {option}={{<flag column>: ...}}."
        )
    return flag, value


def _first_covariate(covariates: Any, name: str) -> str | None:
    """Cox and Fine-Gray: the flag is the first covariate (documented convention)."""
    if covariates is None:
        return None
    if isinstance(covariates, str):
        from formulaic import Formula

        from ._design import _formula, _names_in

        terms = [t for t in Formula(_formula(covariates, name)) if str(t) != "1"]
        if not terms:
            return None
        names = _names_in(str(terms[0].factors[0].expr))
        return names[0] if names else None
    cols = list(covariates)
    return cols[0] if cols else None


def _mi_handler(estimator: Callable[..., Any], data: pd.DataFrame, value: Any,
                kwargs: dict[str, Any]) -> Any:
    from .exposures.measurement_error import correct_exposure

    flag, column = _exposure_column(estimator, value, kwargs, "exposure_validation")
    # the correction's own options (random_state, n_jobs and times also when the estimator
    # takes them: correct_exposure seeds the estimator per imputation and forwards times)
    mi = {k: kwargs.pop(k) for k in MI_KEYS if k in kwargs}
    kwargs.pop("exposure", None)
    return correct_exposure(estimator, data, exposure=flag, exposure_validation=column,
                            **mi, **kwargs)


def _pba_handler(estimator: Callable[..., Any], data: pd.DataFrame, value: Any,
                 kwargs: dict[str, Any]) -> Any:
    from .exposures.misclassification import bias_analysis

    raw = getattr(estimator, "__cl_raw__", estimator)
    own = inspect.signature(raw).parameters
    name = raw.__name__
    flag, error = _exposure_column(estimator, value, kwargs, "exposure_error")
    pba = {k: kwargs.pop(k) for k in PBA_KEYS if k in kwargs}
    if "exposure" in own:
        kwargs.pop("exposure", None)
        return bias_analysis(estimator, data, exposure=flag, error=error, **pba, **kwargs)
    if name in ("cox", "fine_gray"):
        adapter = functools.partial(_coefficient_of, estimator)
        return bias_analysis(adapter, data, exposure=flag, error=error, **pba, **kwargs)
    raise DataValidationError(
        f"{name}(): exposure_error= (probabilistic bias analysis) needs an estimator that "
        "returns one effect estimate; got a curve estimator. Use exposure_validation= "
        "(multiple imputation, pooled at times=), or adjusted_survival(...).contrast() inside "
        "a wrapper passed to cl.bias_analysis."
    )


def _coefficient_of(estimator: Callable[..., Any], data: pd.DataFrame, *, exposure: str,
                    **kwargs: Any) -> Any:
    """The flag's row of a Cox / Fine-Gray fit, as an Estimate (for bias_analysis)."""
    raw = getattr(estimator, "__cl_raw__", estimator)
    kwargs.pop("random_state", None)
    table = raw(data, **kwargs).coef_table()
    hits = [r for r in table.rows if r.term == exposure]
    if len(hits) != 1:
        raise DataValidationError(
            f"{raw.__name__}(): exposure_error= needs the flag {exposure!r} as a plain term "
            f"of covariates; got terms {[r.term for r in table.rows][:6]}."
        )
    return hits[0]


# Another option is one more register_option(...) call here: every decorated estimator (or
# those named in ``only``) then accepts and dispatches it.
register_option(Option(
    "exposure_validation", _mi_handler, "str | Mapping[str, str] | None", MI_KEYS,
    hint="the true exposure on a validation subset: multiple imputation"))
register_option(Option(
    "exposure_error", _pba_handler, "ErrorRates | Mapping[str, ErrorRates] | None", PBA_KEYS,
    hint="external sensitivity and specificity: bias analysis"))


def _ppi_handler(estimator: Callable[..., Any], data: pd.DataFrame, value: Any,
                 kwargs: dict[str, Any]) -> Any:
    from .exposures.ppi import outcome_validation_handler

    return outcome_validation_handler(estimator, data, value, kwargs)


register_option(Option(
    "outcome_validation", _ppi_handler, "str | None",
    ("lam", "clip_lam", "strata", "labelled_fraction"),
    hint="the gold-standard outcome on a labelled subset: prediction-powered inference",
    only=("ipw", "aipw")))
