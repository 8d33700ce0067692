"""The output folder of ``cohortlab run``: which folder may be filled or replaced, and how.

``--overwrite`` replaces only a folder that an earlier ``cohortlab run`` wrote. Such a folder
has a ``provenance.json`` with the ``cohortlab_provenance`` key and the list of files the
run wrote (``files``: relative path -> sha256). Anything else is refused before anything is
read or written:

- ``--out`` names an existing file;
- the folder is the filesystem root, the home folder, the current working folder, or an
  ancestor of one of them (whether empty or not);
- the folder holds, at any depth, the protocol file or one of its data files;
- the folder is not empty and ``overwrite`` is false;
- with ``overwrite``, the folder has no such ``provenance.json``, holds a file the run did
  not write (or a symbolic link, or a file changed since it was written). Empty
  sub-folders and the operating system's own ``.DS_Store``, ``Thumbs.db`` and
  ``desktop.ini`` are not counted: they hold nothing of the user's.

The new outputs are written into a hidden temporary sibling ``.<name>.partial-XXXX`` (it
carries a ``.cohortlab-partial`` marker file from the moment it is made). Only once they are
complete is the old folder renamed out of the way (``.<name>.old-XXXX``), the new one
renamed in, and the old one removed, file by file, deleting only the files its own
provenance lists (so a file that appeared meanwhile survives and the folder is kept).

A run killed outright (SIGKILL, power cut) can leave such siblings behind. The next run into
the same folder removes ``.<name>.partial-*`` folders that carry the partial marker and hold
nothing outside cohortlab's output layout, ``.<name>.old-*`` folders that pass the same
ownership test as ``--overwrite`` and empty ones; any other folder is left alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from .sections import ProtocolError

__all__ = ["MARKER", "MARKER_KEY", "PARTIAL_MARKER", "check_out", "make_partial",
           "discard_partial", "swap_in", "remove_leftovers", "owned_problem", "apply_umask",
           "publish"]

MARKER = "provenance.json"
MARKER_KEY = "cohortlab_provenance"
PARTIAL_MARKER = ".cohortlab-partial"
_OS_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
#: Where a (possibly incomplete) run writes: top-level files and the two sub-folders.
_LAYOUT_TOP = frozenset({"protocol.toml", MARKER, "report.html", "report.docx",
                         PARTIAL_MARKER})
_LAYOUT_DIRS = frozenset({"tables", "figures"})
_FIELD = "--out"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _names(items: list[str], n: int = 3) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def _within(folder: Path, path: Path) -> bool:
    return folder == path or folder in path.parents


def _resolve(out: Path) -> Path:
    try:
        return out.resolve()
    except (OSError, RuntimeError) as exc:
        raise ProtocolError(_FIELD, f"cannot resolve {out} ({exc}).",
                            "Choose another output folder.") from None


def _guarded() -> list[tuple[Path, str]]:
    """The folders never to be replaced, nor any ancestor of them."""
    guarded: list[tuple[Path, str]] = []
    try:
        guarded.append((Path.cwd().resolve(), "the current working folder"))
    except OSError:
        pass
    try:
        guarded.append((Path.home().resolve(), "the home folder"))
    except (RuntimeError, KeyError, OSError):
        pass
    return guarded


def owned_problem(folder: Path) -> str | None:
    """Why ``folder`` is not wholly an earlier run's output; None when it is.

    A folder qualifies when its ``provenance.json`` has the ``cohortlab_provenance`` key and
    lists the files the run wrote, and the folder holds no other file (empty sub-folders and
    operating-system metadata files aside), no symbolic link, and no listed file whose
    content changed since the run wrote it.
    """
    marker = folder / MARKER
    if not marker.is_file() or marker.is_symlink():
        return "it has no provenance.json, so no cohortlab run wrote it"
    try:
        prov = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "its provenance.json is not one cohortlab wrote"
    if not isinstance(prov, dict) or MARKER_KEY not in prov:
        return f"its provenance.json has no {MARKER_KEY!r} key, so no cohortlab run wrote it"
    listed = prov.get("files")
    if not isinstance(listed, dict):
        return ("its provenance.json does not list the files the run wrote (an output of an "
                "earlier development version of cohortlab)")
    foreign: list[str] = []
    changed: list[str] = []
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        for name in dirs + files:
            path = base / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                foreign.append(rel)
            elif name in dirs:
                continue
            elif rel == MARKER or name in _OS_FILES:
                continue
            elif rel not in listed or not path.is_file():
                foreign.append(rel)
            elif _sha256(path) != listed[rel]:
                changed.append(rel)
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()]
    if foreign:
        return (f"it holds {_names(sorted(foreign))}, which the run did not write "
                f"({len(foreign)} file{'s' if len(foreign) != 1 else ''})")
    if changed:
        return f"{_names(sorted(changed))} changed after the run wrote it"
    return None


def check_out(out: str | Path, *, overwrite: bool, inputs: Iterable[tuple[str | Path, str]] = ()
              ) -> Path:
    """Check that ``out`` may receive a run's outputs; return it resolved.

    Reads only; writes, moves and deletes nothing.

    Parameters
    ----------
    out : str or Path
        The output folder.
    overwrite : bool
        Whether a non-empty folder may be replaced (only an earlier run's output).
    inputs : iterable of (path, label)
        Files the run reads (the protocol, its data files): ``out`` must not hold them.

    Returns
    -------
    Path
        ``out``, absolute with symbolic links resolved.

    Raises
    ------
    ProtocolError
        ``--out: <folder> ...`` naming the folder, why it is refused and what to do.

    Examples
    --------
    >>> check_out("/", overwrite=True)
    Traceback (most recent call last):
    ...
    cohortlab.protocol.sections.ProtocolError: --out: / is the filesystem root; ...
    """
    given = Path(out)
    target = _resolve(given)
    shown = str(given) if str(given) == str(target) else f"{given} ({target})"
    fix_new = "Choose another output folder."
    if target.exists() and not target.is_dir():
        raise ProtocolError(_FIELD, f"{shown} is a file, not a folder.", fix_new)
    if target == Path(target.anchor):
        raise ProtocolError(_FIELD, f"{shown} is the filesystem root; cohortlab replaces its "
                            "output folder as a whole.", fix_new)
    for folder, what in _guarded():
        if _within(target, folder):
            where = f"is {what}" if target == folder else f"holds {what} ({folder})"
            raise ProtocolError(_FIELD, f"{shown} {where}; cohortlab replaces its output "
                                "folder as a whole, so it never writes into this one.",
                                fix_new)
    for path, label in inputs:
        p = _resolve(Path(path))
        if _within(target, p):
            raise ProtocolError(_FIELD, f"{shown} holds the {label} {path}; replacing the "
                                "folder would delete it.",
                                "Choose an output folder that does not contain the protocol "
                                "or its data.")
    if not target.exists():
        return target
    try:
        empty = not any(target.iterdir())
    except OSError as exc:
        raise ProtocolError(_FIELD, f"cannot list {shown} ({exc}).", fix_new) from None
    if empty:
        return target
    problem = owned_problem(target)
    if not overwrite:
        fix = (f"{fix_new} Or pass --overwrite to replace it: it is an earlier run's output."
               if problem is None else f"{fix_new} --overwrite replaces only a folder "
               "that an earlier cohortlab run wrote.")
        raise ProtocolError(_FIELD, f"{shown} exists and is not empty.", fix)
    if problem is not None:
        raise ProtocolError(_FIELD, f"{shown} is not an earlier cohortlab output: {problem}. "
                            "--overwrite replaces only a folder that a cohortlab run wrote "
                            "and that holds nothing else.",
                            f"{fix_new} Or move your files out of it first.")
    return target


def _umask() -> int:
    # the only portable way to read the umask is to set it; nothing else runs meanwhile
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(folder: Path) -> None:
    """Give ``folder`` (made 0700 by mkdtemp) and its contents the modes the umask asks for."""
    mask = _umask()
    dmode, fmode = 0o777 & ~mask, 0o666 & ~mask
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(Path(root) / name, dmode, follow_symlinks=False)
        for name in files:
            os.chmod(Path(root) / name, fmode, follow_symlinks=False)
    os.chmod(folder, dmode)


def make_partial(target: Path) -> Path:
    """Make the hidden temporary sibling ``.<name>.partial-XXXX`` that receives the outputs."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    (tmp / PARTIAL_MARKER).write_text("cohortlab run in progress\n", encoding="utf-8")
    return tmp


def discard_partial(tmp: Path) -> None:
    """Remove a temporary folder this process made (best effort)."""
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)


def _inside(folder: Path, rel: str) -> bool:
    """Whether ``rel`` names a path inside ``folder``: no absolute path, no ``..``, no link out.

    A provenance file is data, and its ``files`` list must never reach elsewhere.
    """
    parts = Path(rel).parts
    if not parts or Path(rel).is_absolute() or ".." in parts:
        return False
    root = folder.resolve()
    return (folder / rel).resolve().is_relative_to(root)


def _remove_files(folder: Path, files: Iterable[str]) -> bool:
    """Delete the named files, OS metadata files and then empty folders; True if all gone.

    Only files inside ``folder`` are deleted, whatever the list says.
    """
    for rel in files:
        if not _inside(folder, rel):
            continue
        path = folder / rel
        if path.is_file() or path.is_symlink():
            path.unlink()
    for root, dirs, names in os.walk(folder, topdown=False):
        for name in names:
            if name in _OS_FILES:
                (Path(root) / name).unlink()
        for name in dirs:
            path = Path(root) / name
            if not path.is_symlink():
                try:
                    path.rmdir()
                except OSError:
                    pass
    try:
        folder.rmdir()
    except OSError:
        return False
    return True


def _remove_own(folder: Path) -> bool:
    """Remove an earlier run's output folder (or an empty folder); True if it is gone."""
    if not any(folder.iterdir()):
        folder.rmdir()
        return True
    if owned_problem(folder) is not None:
        return False
    listed = json.loads((folder / MARKER).read_text(encoding="utf-8"))["files"]
    return _remove_files(folder, [*listed, MARKER])


def _partial_problem(folder: Path) -> str | None:
    if not (folder / PARTIAL_MARKER).is_file():
        # killed between removing the marker and the swap: a complete output
        return owned_problem(folder) if (folder / MARKER).is_file() else "no partial marker"
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        top = base == folder
        for name in dirs:
            if (base / name).is_symlink() or not top or name not in _LAYOUT_DIRS:
                return f"unexpected folder {name}"
        for name in files:
            path = base / name
            if path.is_symlink() or not path.is_file():
                return f"unexpected entry {name}"
            if top and name not in _LAYOUT_TOP and name not in _OS_FILES:
                return f"unexpected file {name}"
    return None


def _leftovers(target: Path) -> list[Path]:
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(partial|old)-[A-Za-z0-9_]+")
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return []
    return sorted(p for p in entries if pattern.fullmatch(p.name) and p.is_dir()
                  and not p.is_symlink())


def remove_leftovers(target: Path, log: Callable[[str], None]) -> list[str]:
    """Remove ``.<name>.partial-*`` / ``.<name>.old-*`` siblings left by killed runs.

    A ``partial`` folder goes when it carries the partial marker and holds only files of the
    output layout; an ``old`` folder when it is empty or passes :func:`owned_problem`.
    Anything else is left alone (and named in ``log``). Returns the names removed.
    """
    removed: list[str] = []
    for path in _leftovers(target):
        try:
            if ".partial-" in path.name:
                problem = _partial_problem(path)
                ok = problem is None and _remove_files(path, [
                    p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()])
            else:
                ok = _remove_own(path)
        except OSError:
            ok = False
        if ok:
            removed.append(path.name)
        else:
            log(f"left {path} in place: it holds files an interrupted cohortlab run did not "
                "write; remove it yourself if it is not needed")
    if removed:
        log(f"removed {len(removed)} folder{'s' if len(removed) != 1 else ''} left by an "
            f"interrupted run: {_names(removed)}")
    return removed


def swap_in(tmp: Path, target: Path, *, overwrite: bool, inputs: Iterable[tuple[str | Path, str]],
            log: Callable[[str], None]) -> None:
    """Move the complete outputs ``tmp`` to ``target``, replacing an earlier run's output.

    ``target`` is checked again first (it may have changed while the run computed). The old
    folder is renamed to ``.<name>.old-XXXX`` and removed only after the new one is in place,
    deleting only the files its provenance lists; if anything else appeared meanwhile it is
    kept and named in ``log``.
    """
    check_out(target, overwrite=overwrite, inputs=inputs)
    if not target.exists():
        os.rename(tmp, target)
        return
    while True:
        old = target.parent / f".{target.name}.old-{secrets.token_hex(4)}"
        if not os.path.lexists(old):
            break
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old, target)
        raise
    try:
        gone = _remove_own(old)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"{target} holds the new outputs; the previous ones are in "
                                f"{old.name}, removed by the next run") from None
    except OSError:
        gone = False
    if not gone:
        log(f"kept the previous outputs in {old}: a file cohortlab did not write appeared in "
            "them during the run")


def publish(target: Path, write: Callable[[Path], object], *, overwrite: bool,
            inputs: Iterable[tuple[str | Path, str]], log: Callable[[str], None]) -> None:
    """Build a run's outputs with ``write(folder)`` in a hidden sibling, then move them in.

    ``target`` is checked again (it may have changed while the analyses ran), leftovers of an
    interrupted run are removed, and the partial folder is discarded on any failure
    (Ctrl-C included), so ``target`` is either the complete new output or untouched.
    """
    inputs = list(inputs)
    check_out(target, overwrite=overwrite, inputs=inputs)
    remove_leftovers(target, log)
    tmp = make_partial(target)
    try:
        write(tmp)
        (tmp / PARTIAL_MARKER).unlink()
        apply_umask(tmp)
        swap_in(tmp, target, overwrite=overwrite, inputs=inputs, log=log)
    except BaseException:
        discard_partial(tmp)
        raise
