"""Renderers that live above ``results/``, looked up by name at call time.

``results/`` is the base layer: it imports nothing from ``report/`` or ``sensitivity/``.
Its convenience methods (``to_docx()``, ``to_excel()``, ``plot()``, ``evalue()``) call the
function that the higher layer registered here when it was imported; ``import cohortlab``
imports ``report`` and ``sensitivity``, so every hook is in place before any result exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["register", "hook"]

F = TypeVar("F", bound=Callable[..., Any])

_HOOKS: dict[str, Callable[..., Any]] = {}


def register(name: str) -> Callable[[F], F]:
    """Decorator: make ``func`` the implementation of the hook ``name`` (last one wins)."""

    def deco(func: F) -> F:
        _HOOKS[name] = func
        return func

    return deco


def hook(name: str) -> Callable[..., Any]:
    """The function registered as ``name``; a clear error if its layer was never imported.

    Examples
    --------
    >>> import cohortlab
    >>> hook("to_docx").__module__
    'cohortlab.report.docx'
    """
    try:
        return _HOOKS[name]
    except KeyError:
        raise RuntimeError(
            f"no implementation of {name!r} is registered: import cohortlab (which imports "
            f"cohortlab.report and cohortlab.sensitivity) before calling it") from None
