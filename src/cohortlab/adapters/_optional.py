"""Import an optional dependency of an adapter, or say how to install it."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["import_optional"]


def import_optional(package: str, func: str) -> ModuleType:
    """Import ``package`` (an extra of ``cohortlab[causal-ml]``) for ``func``, or raise.

    Examples
    --------
    >>> import_optional("math", "demo").sqrt(4.0)
    2.0
    """
    try:
        return importlib.import_module(package)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"{func}(): needs the optional dependency {package}; install it with "
            f"pip install \"cohortlab[causal-ml]\" (or pip install {package}).") from exc
