"""The ``[data] query``: one read-only SELECT on a locked-down DuckDB connection.

A protocol may come from a collaborator, so its SQL must not write, attach, install or read
anything but the data files it names. The query is checked with DuckDB's own parser (exactly
one statement, of type SELECT, starting with SELECT, WITH, FROM or VALUES) and runs on an
in-memory connection where:

- external access is disabled except for the data files the query names as string literals
  (``'cohort.parquet'``, ``read_csv('data/visits.csv')``: a ``.csv``, ``.tsv``, ``.parquet``
  or ``.json`` file, optionally ``.gz``, relative to the protocol's folder) that exist and lie
  inside the protocol's folder or a folder granted by whoever runs it (``--data-dir``);
- extensions are neither installed nor loaded automatically, community extensions are off;
- the configuration is locked last, so the query cannot ``SET`` any of this back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ._paths import data_file
from .sections import ProtocolError

__all__ = ["check_query", "data_files", "absolute_paths", "connect", "run_query",
           "FILE_LITERAL"]

#: A string literal naming a data file (also used for the provenance hashes).
FILE_LITERAL = re.compile(r"['\"]([^'\"]+\.(?:csv|tsv|parquet|json)(?:\.gz)?)['\"]", re.I)
_FIRST_WORD = re.compile(r"(?:\s|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*(\w+)", re.S)
_STARTS = ("SELECT", "WITH", "FROM", "VALUES")
_WHERE = "data.query"
_HINT = ("A protocol's query is one read-only SELECT (or WITH ... SELECT) over the data files "
         "it names; see docs/explanation/security.md.")


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        raise ProtocolError(_WHERE, "needs DuckDB, which is not installed.",
                            "Install it with: pip install cohortlab[sql]") from None
    return duckdb


def check_query(query: str) -> None:
    """Refuse anything but exactly one read-only SELECT statement.

    Raises
    ------
    ProtocolError
        For a query DuckDB cannot parse, several statements, or a statement that is not a
        SELECT (COPY, ATTACH, INSTALL, LOAD, PRAGMA, SET, CREATE, ...).
    """
    duckdb = _duckdb()
    try:
        statements = duckdb.extract_statements(query)
    except Exception as exc:  # duckdb.ParserException and friends
        raise ProtocolError(_WHERE, f"DuckDB could not parse the query ({exc}).", _HINT
                            ) from None
    if len(statements) != 1:
        raise ProtocolError(_WHERE, f"must be exactly one statement; got {len(statements)}.",
                            _HINT)
    kind = statements[0].type
    first = _FIRST_WORD.match(query)
    word = first.group(1).upper() if first else ""
    if kind != duckdb.StatementType.SELECT or word not in _STARTS:
        shown = word if word not in _STARTS else str(kind).rsplit(".", 1)[-1]
        raise ProtocolError(_WHERE, f"{shown or 'this'} statements are not allowed.", _HINT)


def data_files(query: str, base_dir: Path, data_dirs: Sequence[Path] = ()
               ) -> dict[str, Path]:
    """The data files the query names (literal → path), those that exist.

    A named file outside the protocol's folder and the granted ``data_dirs`` is refused
    (:func:`cohortlab.protocol._paths.data_file`), whether it exists or not.
    """
    out: dict[str, Path] = {}
    for name in dict.fromkeys(FILE_LITERAL.findall(query)):
        path = data_file(Path(base_dir), name, _WHERE, data_dirs)
        if path.is_file() and not any(q in path.absolute().as_posix() for q in "'\""):
            out[name] = path
    return out


def absolute_paths(query: str, files: dict[str, Path]) -> str:
    """The query with each data-file literal replaced by the file's absolute path.

    DuckDB looks for a relative path in the working directory before the protocol's folder;
    the absolute path makes the query read the very file that is hashed for provenance.
    """

    def swap(m: re.Match[str]) -> str:
        path = files.get(m.group(1))
        if path is None:
            return m.group(0)
        quote = m.group(0)[0]
        return f"{quote}{path.absolute().as_posix()}{quote}"

    return FILE_LITERAL.sub(swap, query)


def connect(base_dir: Path, files: dict[str, Path]) -> Any:
    """An in-memory DuckDB connection that may read ``files`` only, locked."""
    con = _duckdb().connect(":memory:", config={
        "autoinstall_known_extensions": False, "autoload_known_extensions": False,
        "allow_community_extensions": False})
    try:
        con.execute("SET file_search_path = ?", [str(base_dir)])
        allowed = []
        for path in files.values():
            allowed += [path.absolute().as_posix(), path.resolve().as_posix()]
        if allowed:
            con.execute("SET allowed_paths = ?", [list(dict.fromkeys(allowed))])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except Exception:
        con.close()
        raise
    return con


def run_query(query: str, base_dir: Path, data_dirs: Sequence[Path] = ()
              ) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Check and run the query; return the rows and the data files it read."""
    check_query(query)
    files = data_files(query, base_dir, data_dirs)
    con = connect(base_dir, files)
    try:
        frame = con.execute(absolute_paths(query, files)).df()
    except Exception as exc:  # duckdb raises its own error classes
        raise ProtocolError(_WHERE, f"DuckDB could not run the query ({exc}).",
                            "Check the SQL; file paths are relative to the protocol file's "
                            "folder, and only the data files the query names (.csv, .tsv, "
                            ".parquet, .json) can be read.") from None
    finally:
        con.close()
    return frame, files
