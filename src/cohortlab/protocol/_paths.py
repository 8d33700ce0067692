"""Where a protocol may read data from: its own folder, and folders its runner grants.

A protocol is data written by someone else. The data files it names (``[data] path``, the
files a ``[data] query`` names, ``[longitudinal.data] path``, a target-trial ``[data] path``)
are read only when they resolve (symbolic links followed) inside

- the protocol file's folder (sub-folders included),
- a folder granted by whoever *runs* the protocol (``cohortlab run --data-dir DIR``,
  ``run_protocol(..., data_dirs=[DIR])``): the person running it decides what it may read,
  never the file, or
- the folder of the data sets bundled with cohortlab (public data shipped with the package).

Anything else (``/etc/passwd.csv``, ``../../other_study/patients.csv``, a link out of the
folder) is refused with a :class:`ProtocolError` naming the protocol key, before it is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .sections import ProtocolError

__all__ = ["data_file", "allowed_roots", "is_allowed"]


def _bundled() -> Path:
    return (Path(__file__).resolve().parent.parent / "datasets" / "data").resolve()


def allowed_roots(base_dir: Path, data_dirs: Iterable[str | Path] = ()) -> list[Path]:
    """The folders a protocol in ``base_dir`` may read from (resolved)."""
    return [Path(base_dir).resolve(), *(Path(d).expanduser().resolve() for d in data_dirs),
            _bundled()]


def is_allowed(path: Path, base_dir: Path, data_dirs: Iterable[str | Path] = ()) -> bool:
    """Whether ``path`` (resolved, links followed) lies inside an allowed folder."""
    real = Path(path).resolve()
    return any(real.is_relative_to(root) for root in allowed_roots(base_dir, data_dirs))


def data_file(base_dir: Path, name: str, where: str,
              data_dirs: Iterable[str | Path] = ()) -> Path:
    """The path of a data file a protocol names, if it may be read; else a ProtocolError.

    ``name`` is relative to the protocol's folder (or absolute). The returned path is
    ``base_dir / name`` (not resolved, so messages show what the protocol wrote).

    Raises
    ------
    ProtocolError
        At ``where`` when the file resolves outside every allowed folder.

    Examples
    --------
    >>> from pathlib import Path
    >>> data_file(Path("/study"), "cohort.csv", "data.path")
    PosixPath('/study/cohort.csv')
    >>> data_file(Path("/study"), "../other/patients.csv", "data.path")
    Traceback (most recent call last):
    ...
    cohortlab.protocol.sections.ProtocolError: data.path: '../other/patients.csv' is outside the protocol's folder /study. ...
    """  # noqa: E501
    if name.startswith("~"):
        raise ProtocolError(where, f"{name!r}: '~' is not expanded in a protocol.",
                            "Give the path relative to the protocol's folder.")
    data_dirs = tuple(data_dirs)
    path = Path(base_dir) / name
    if not is_allowed(path, base_dir, data_dirs):
        granted = (" or the granted data folders " + ", ".join(str(d) for d in data_dirs)
                   if data_dirs else "")
        raise ProtocolError(
            where, f"{name!r} is outside the protocol's folder {Path(base_dir)}{granted}.",
            "A protocol reads only files inside its own folder. Move the data file there (or "
            "into a sub-folder), or, if you trust the protocol, grant the data's folder when "
            "you run it: cohortlab run study.toml --data-dir /path/to/data "
            "(run_protocol(..., data_dirs=[...])).")
    return path
