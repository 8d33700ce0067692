"""Argument checks of the simulators: every failure names the argument, the rule and a fix."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from .._validation import verb_name
from ..exceptions import DataValidationError

__all__ = ["arg_error", "check_count", "check_real"]


def arg_error(name: str, requirement: str, value: Any, hint: str) -> DataValidationError:
    """The error for argument ``name`` of the verb being run that is not ``requirement``.

    >>> str(arg_error("n", "a positive int", 0, "Pass e.g. n=10."))
    'cohortlab(): n must be a positive int; got 0. Pass e.g. n=10.'
    """
    return DataValidationError(
        f"{verb_name()}(): {name} must be {requirement}; got {value!r}. {hint}")


def check_count(value: Any, name: str, *, low: int = 1,
                requirement: str | None = None, hint: str) -> int:
    """``value`` as an int >= ``low`` (bools refused), or :func:`arg_error`.

    >>> check_count(12, "n_periods", hint="Pass e.g. n_periods=12.")
    12
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= low:
        return int(value)
    raise arg_error(name, requirement or f"an int >= {low}", value, hint)


def check_real(value: Any, name: str, *, requirement: str = "a finite number",
               predicate: Callable[[float], bool] | None = None, allow_inf: bool = False,
               hint: str) -> float:
    """``value`` as a finite float (or +inf with ``allow_inf``) passing ``predicate``.

    >>> check_real(0.5, "threshold", predicate=lambda x: 0 < x < 1, hint="")
    0.5
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        x = float(value)
        ok = (math.isfinite(x) or (allow_inf and x == math.inf)) and (
            predicate is None or predicate(x)
        )
    if not ok:
        raise arg_error(name, requirement, value, hint)
    return float(value)
