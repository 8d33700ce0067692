"""The field readers of a protocol: tables, typed values, string lists, choices, arrays.

Every protocol section (point-exposure, ``[longitudinal]``, ``[target_trial]``) is read with
these; each problem is a :class:`ProtocolError` whose message starts with the field path and
ends with how to fix it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .sections import ProtocolError, close_matches

__all__: list[str] = []  # private helpers of the protocol package


def _table(value: Any, path: str, allowed: Sequence[str], required: Sequence[str] = ()
           ) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ProtocolError(path, f"must be a table; got {type(value).__name__}.",
                            f"Write it as [{path}] with key = value lines.")
    for key in value:
        if key not in allowed:
            raise ProtocolError(f"{path}.{key}", "unknown field.", close_matches(key, allowed))
    for key in required:
        if key not in value:
            raise ProtocolError(f"{path}.{key}", "is required.", f"Add {key} = ... to [{path}].")
    return dict(value)


def _get(d: Mapping[str, Any], key: str, path: str, kind: type | tuple[type, ...],
         default: Any = None) -> Any:
    if key not in d:
        return default
    value = d[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        names = " or ".join(k.__name__ for k in kinds)
        raise ProtocolError(f"{path}.{key}", f"must be {names}; got {value!r}.",
                            f"Write e.g. {key} = {_example(kinds[0])}.")
    return value


def _example(kind: type) -> str:
    return {str: '"text"', int: "1", float: "1.0", bool: "true", list: '["a", "b"]'}.get(
        kind, "...")


def _str_list(d: Mapping[str, Any], key: str, path: str) -> tuple[str, ...] | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"{path}.{key}", f"must be a list of strings; got {value!r}.",
                            f'Write e.g. {key} = ["a", "b"].')
    return tuple(value)


def _choice(value: Any, path: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ProtocolError(path, f"must be one of {list(allowed)}; got {value!r}.",
                            close_matches(str(value), allowed))
    return str(value)


def _array(raw: Mapping[str, Any], key: str) -> list[Any]:
    return _table_array(raw.get(key, []), key)


def _table_array(value: Any, path: str) -> list[Any]:
    """The entries of the array of tables ``path`` (a single table is one entry)."""
    if isinstance(value, Mapping):
        return [value]
    if not isinstance(value, list):
        raise ProtocolError(path, f"must be an array of tables; got {type(value).__name__}.",
                            f"Write each entry as [[{path}]].")
    return value


def _unique_names(names: Sequence[str], path: str, fix: str) -> None:
    """A ProtocolError at ``path`` if two entries share a name."""
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ProtocolError(path, f"names must be unique; got duplicates {dup}.", fix)


def _data_source(d: Mapping[str, Any], sources: Sequence[str], example: str,
                 datasets: Sequence[str], simulator_keys: Sequence[str],
                 n_example: int) -> tuple[str | None, int | None]:
    """``[data]``'s source (exactly one of ``sources``), ``dataset`` and ``n``.

    ``dataset`` must be one of ``datasets``; the ``simulator_keys`` (``n``, ...) are allowed
    only with ``dataset = "simulated"``, and ``n`` is at least 10.
    """
    given = [k for k in sources if k in d]
    if len(given) != 1:
        raise ProtocolError("data", f"needs exactly one of {', '.join(sources)}; got {given}.",
                            example)
    dataset = _get(d, "dataset", "data", str)
    if dataset is not None:
        _choice(dataset, "data.dataset", datasets)
    for key in simulator_keys:
        if key in d and dataset != "simulated":
            raise ProtocolError(f"data.{key}", 'is only used with dataset = "simulated".',
                                f"Remove {key}.")
    n = _get(d, "n", "data", int)
    if n is not None and n < 10:
        raise ProtocolError("data.n", f"must be at least 10; got {n}.",
                            f"Write e.g. n = {n_example}.")
    return dataset, n


def _entries(raw: Mapping[str, Any], key: str, fields: str) -> list[Any]:
    """The entries of a required array of tables (at least one)."""
    items = _array(raw, key)
    if not items:
        raise ProtocolError(key, f"at least one [[{key}]] entry is required.",
                            f"Add [[{key}]] with {fields}.")
    return items


def read_toml(path: str | Path) -> tuple[dict[str, Any], str]:
    """A protocol file's parsed TOML document and its text; a ProtocolError if unreadable."""
    p = Path(path)
    if not p.is_file():
        raise ProtocolError(str(path), "protocol file not found.",
                            "Check the path, or create one with `cohortlab init`.")
    text = p.read_text(encoding="utf-8")
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError(str(path), f"is not valid TOML ({exc}).",
                            "Fix the syntax at the line shown.") from None
