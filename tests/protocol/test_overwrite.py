"""`cohortlab run --out DIR [--overwrite]`: which folders may be filled or replaced.

--overwrite replaces only a folder an earlier run wrote (provenance.json with the
cohortlab_provenance key, listing every file in it); the root, home and current folders,
their ancestors and folders holding the protocol or its data are never written; a killed run's
hidden leftovers are removed by the next run; Ctrl-C exits 130 with one line; modes follow the
umask. Everything happens under tmp_path (HOME and the working folder are monkeypatched).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import cohortlab.protocol.outputs as outputs
import cohortlab.protocol.run as run
from cohortlab.cli import main

TINY = '''
[study]
title = "tiny"
[data]
path = "data/d.csv"
[exposure]
column = "a"
[[outcomes]]
name = "y"
type = "continuous"
column = "y"
[[analyses]]
name = "crude"
method = "crude_effect"
[outputs]
tables = ["csv", "md"]
figures = []
report = false
'''


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    """tmp_path/proj/study.toml reading tmp_path/proj/data/d.csv (20 rows)."""
    folder = tmp_path / "proj"
    (folder / "data").mkdir(parents=True)
    rows = "a,y\n" + "".join(f"{i % 2},{i % 7}\n" for i in range(20))
    (folder / "data" / "d.csv").write_text(rows)
    (folder / "study.toml").write_text(TINY)
    return folder / "study.toml"


@pytest.fixture
def no_analysis(monkeypatch):
    """Refusals must come before the (slow) analyses."""

    def refuse(*args, **kwargs):
        raise AssertionError("the analyses ran although --out should have been refused")

    monkeypatch.setattr(run, "analyse", refuse)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial-" in p.name or
                  ".old-" in p.name)


def _run(protocol: Path, out: Path | str, *extra: str) -> int:
    return main(["run", str(protocol), "--out", str(out), "-q", *extra])


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("overwrite", [False, True])
def test_thesis_folder_is_refused_and_intact(proj, tmp_path, capsys, no_analysis, overwrite):
    out = tmp_path / "thesis"
    (out / "chapters").mkdir(parents=True)
    (out / "thesis.docx").write_bytes(b"three years of work")
    (out / "chapters" / "one.tex").write_text("\\chapter{Introduction}")
    before = _tree(out)
    assert _run(proj, out, *(["--overwrite"] if overwrite else [])) == 2
    err = capsys.readouterr().err
    assert f"--out: {out} " in err
    if overwrite:
        assert "is not an earlier cohortlab output: it has no provenance.json" in err
    else:
        assert "exists and is not empty" in err and "only a folder that an earlier" in err
    assert _tree(out) == before and _hidden(tmp_path) == []


def test_out_naming_a_file_is_refused(proj, tmp_path, capsys, no_analysis):
    out = tmp_path / "results"
    out.write_text("not a folder")
    assert _run(proj, out, "--overwrite") == 2
    assert f"--out: {out} is a file, not a folder." in capsys.readouterr().err
    assert out.read_text() == "not a folder"


@pytest.mark.parametrize("given", [".", "ABS", ".."])
def test_current_working_folder_and_its_parents_are_refused(proj, tmp_path, monkeypatch,
                                                            capsys, no_analysis, given):
    cwd = tmp_path / "work" / "here"
    cwd.mkdir(parents=True)
    (cwd / "notes.txt").write_text("mine")
    monkeypatch.chdir(cwd)
    out = str(cwd) if given == "ABS" else given
    assert _run(proj, out, "--overwrite") == 2
    err = capsys.readouterr().err
    what = "is the current working folder" if given != ".." else (
        f"holds the current working folder ({cwd})")
    assert what in err and "never writes into this one" in err
    assert (cwd / "notes.txt").read_text() == "mine"
    assert _hidden(cwd) == _hidden(cwd.parent) == _hidden(cwd.parent.parent) == []


@pytest.mark.parametrize("ancestor", [False, True])
def test_home_folder_and_its_parents_are_refused(proj, tmp_path, monkeypatch, capsys,
                                                 no_analysis, ancestor):
    home = tmp_path / "homes" / "ana"
    home.mkdir(parents=True)
    (home / "thesis.docx").write_text("mine")
    monkeypatch.setenv("HOME", str(home))
    out = home.parent if ancestor else home
    assert _run(proj, out, "--overwrite") == 2
    err = capsys.readouterr().err
    assert (f"holds the home folder ({home})" if ancestor else "is the home folder") in err
    assert (home / "thesis.docx").read_text() == "mine"
    assert _hidden(tmp_path) == _hidden(tmp_path / "homes") == []


def test_root_is_refused_before_anything_is_written(proj, monkeypatch, capsys, no_analysis):
    def no_write(*args, **kwargs):
        raise AssertionError(f"attempted a filesystem write: {args}")

    with monkeypatch.context() as m:
        for name in ("mkdir", "makedirs", "rename", "replace", "rmdir", "unlink", "remove",
                     "chmod"):
            m.setattr(os, name, no_write)
        m.setattr(shutil, "rmtree", no_write)
        code = _run(proj, os.sep, "--overwrite")
    assert code == 2
    assert f"--out: {os.sep} is the filesystem root" in capsys.readouterr().err


@pytest.mark.parametrize("holds", ["protocol", "data", "protocol deep"])
def test_folder_holding_the_protocol_or_its_data_is_refused(proj, tmp_path, capsys,
                                                            no_analysis, holds):
    out = {"protocol": proj.parent, "data": proj.parent / "data",
           "protocol deep": tmp_path}[holds]
    before = _tree(out)
    assert _run(proj, out, "--overwrite") == 2
    err = capsys.readouterr().err
    what = (f"data file {proj.parent / 'data' / 'd.csv'}" if holds == "data"
            else f"protocol file {proj}")
    assert f"--out: {out} holds the {what}; replacing the folder would delete it." in err
    assert _tree(out) == before and _hidden(out.parent) == []


# ----------------------------------------------------------------------------- replacing
def test_an_earlier_run_is_replaced(proj, tmp_path, capsys):
    out = tmp_path / "results"
    assert _run(proj, out) == 0
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["cohortlab_provenance"] == 1
    assert set(prov["files"]) == set(_tree(out)) - {"provenance.json"}
    assert "tables/table2.csv" in prov["files"] and "protocol.toml" in prov["files"]
    # without --overwrite: refused, with the hint that --overwrite would do
    assert _run(proj, out) == 2
    assert "Or pass --overwrite to replace it: it is an earlier run's output." in \
        capsys.readouterr().err
    # Finder's metadata file does not count as the user's
    (out / ".DS_Store").write_bytes(b"\0")
    proj.write_text(TINY.replace('title = "tiny"', 'title = "tiny, second run"'))
    assert _run(proj, out, "--overwrite") == 0
    assert "second run" in (out / "protocol.toml").read_text()
    assert not (out / ".DS_Store").exists()
    prov = json.loads((out / "provenance.json").read_text())
    assert set(prov["files"]) == set(_tree(out)) - {"provenance.json"}
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("change", ["added", "edited", "symlink"])
def test_an_earlier_run_the_user_changed_is_refused(proj, tmp_path, capsys, change):
    out = tmp_path / "results"
    assert _run(proj, out) == 0
    if change == "added":
        (out / "tables" / "my_notes.txt").write_text("mine")
    elif change == "edited":
        (out / "tables" / "table2.md").write_text("my edited table")
    else:
        (out / "tables" / "link.csv").symlink_to(proj.parent / "data" / "d.csv")
    before = _tree(out)
    capsys.readouterr()
    assert _run(proj, out, "--overwrite") == 2
    err = capsys.readouterr().err
    assert f"--out: {out} is not an earlier cohortlab output: " in err
    assert {"added": "it holds tables/my_notes.txt, which the run did not write (1 file)",
            "edited": "tables/table2.md changed after the run wrote it",
            "symlink": "it holds tables/link.csv, which the run did not write"}[change] in err
    assert _tree(out) == before and _hidden(tmp_path) == []


# ----------------------------------------------------------------------------- leftovers
class _Killed(BaseException):
    """Stands for SIGKILL: nothing in the run gets to clean up."""


def test_leftovers_of_killed_runs_are_removed_by_the_next_run(proj, tmp_path, monkeypatch,
                                                              capsys):
    from cohortlab.protocol import _outdir

    out = tmp_path / "results"
    write = outputs.write_outputs

    def killed(res, folder, **kwargs):
        write(res, folder, **kwargs)
        raise _Killed

    with monkeypatch.context() as m:  # runs killed after writing, before the swap
        m.setattr(outputs, "write_outputs", killed)
        m.setattr(_outdir, "discard_partial", lambda tmp: None)
        with pytest.raises(_Killed):
            _run(proj, out)
        first = _hidden(tmp_path)
        assert len(first) == 1 and first[0].startswith(".results.partial-")
        assert (tmp_path / first[0] / "tables" / "table2.csv").is_file()
        with pytest.raises(_Killed):  # the second removes the first's leftover
            _run(proj, out)
        second = _hidden(tmp_path)
        assert len(second) == 1 and second != first
    # a run killed while removing the previous output leaves a complete one as .old-
    assert _run(proj, tmp_path / "done") == 0
    (tmp_path / "done").rename(tmp_path / ".results.old-1a2b3c4d")
    # look-alikes that are not cohortlab's own stay
    mine = tmp_path / ".results.partial-mine"
    mine.mkdir()
    (mine / "draft.txt").write_text("mine")
    other = tmp_path / ".other.partial-0000"
    other.mkdir()
    assert _run(proj, out) == 0
    assert "protocol.toml" in os.listdir(out)
    assert _hidden(tmp_path) == [".other.partial-0000", ".results.partial-mine"]
    assert (mine / "draft.txt").read_text() == "mine"


# ----------------------------------------------------------------------------- Ctrl-C
@pytest.mark.parametrize("previous", [False, True])
def test_ctrl_c_exits_130_with_one_line(proj, tmp_path, monkeypatch, capsys, previous):
    out = tmp_path / "results"
    if previous:
        assert _run(proj, out) == 0
    before = _tree(out) if previous else None
    write = outputs.write_outputs

    def interrupted(res, folder, **kwargs):
        write(res, folder, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs, "write_outputs", interrupted)
    try:
        code = _run(proj, out, "--overwrite")
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped cohortlab.cli.main()")
    assert code == 130
    captured = capsys.readouterr()
    assert captured.err == f"cohortlab: interrupted; nothing was written to {out}\n"
    assert captured.out == ""
    assert (_tree(out) == before) if previous else not out.exists()
    assert _hidden(tmp_path) == []


# ----------------------------------------------------------------------------- modes
@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_output_modes_follow_the_umask(proj, tmp_path, umask):
    out = tmp_path / "results"
    old = os.umask(umask)
    try:
        assert _run(proj, out) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((out / "tables").stat().st_mode) == 0o777 & ~umask
    for name in ("provenance.json", "protocol.toml", "tables/table2.csv"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o666 & ~umask, name


def test_a_crafted_provenance_cannot_delete_outside_the_folder(tmp_path):
    # provenance.json is data: a 'files' list naming ../thesis.docx (with its true hash) must
    # not make --overwrite delete a file outside the output folder
    import hashlib
    import json

    from cohortlab.protocol import _outdir

    thesis = tmp_path / "thesis.docx"
    thesis.write_bytes(b"four years of work")
    out = tmp_path / "results"
    out.mkdir()
    (out / "table.csv").write_text("a\n1\n")
    digest = {p: hashlib.sha256(b).hexdigest() for p, b in
              [("table.csv", b"a\n1\n"), ("../thesis.docx", b"four years of work"),
               (str(thesis), b"four years of work")]}
    (out / "provenance.json").write_text(json.dumps(
        {"cohortlab_provenance": 1, "files": digest}), encoding="utf-8")
    assert _outdir.owned_problem(out) is None  # the folder itself holds only listed files
    assert _outdir._remove_own(out)
    assert thesis.read_bytes() == b"four years of work"
    assert not out.exists()
