"""Shared helpers for the benchmark scripts: best-of-k wall time, a Markdown table, R runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any


def best_of(fn: Callable[[], Any], k: int = 3) -> tuple[float, Any]:
    """Run ``fn()`` ``k`` times; return the smallest wall time (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(k):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table; numbers are right-aligned, text left-aligned."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [all(_is_number(r[i]) for r in cells) and bool(cells) for i in range(len(headers))]

    def line(vals: Sequence[str]) -> str:
        out = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(vals, widths, numeric,
                                                                      strict=True)]
        return "| " + " | ".join(out) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2))
                          for w, num in zip(widths, numeric, strict=True)) + "|"
    return "\n".join([line(list(headers)), rule, *(line(r) for r in cells)])


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print :func:`markdown_table` followed by a blank line."""
    print(markdown_table(headers, rows))
    print()


def _is_number(s: str) -> bool:
    try:
        float(s.replace(",", "").rstrip("x%"))
    except ValueError:
        return False
    return True


#: Rscript, if R is installed (the R rows of the benchmarks read "not installed" otherwise).
RSCRIPT = shutil.which("Rscript") or ("/usr/bin/Rscript" if os.path.exists("/usr/bin/Rscript")
                                      else None)


def timed_runs(fn: Callable[[], Any], slow_s: float = 60.0) -> tuple[float, str, Any]:
    """(seconds, runs label, result): best of 3 wall-clock runs, or 1 when the first exceeds
    ``slow_s`` seconds (labelled so in the table)."""
    t, res = best_of(fn, 1)
    if t > slow_s:
        return t, "1 (>60 s)", res
    t2, res = best_of(fn, 2)
    return min(t, t2), "3", res


def run_r(code: str, csv: str, tmp: str, name: str) -> dict[str, list[str]] | None:
    """Run R ``code`` (which reads ``commandArgs(TRUE)[1]``, the CSV) and parse its output
    lines ``KEY v1 v2 ...`` into a dict; None when R is not installed."""
    if RSCRIPT is None:
        return None
    script = os.path.join(tmp, f"{name}.R")
    with open(script, "w") as fh:
        fh.write(code + "\n")
    out = subprocess.run([RSCRIPT, script, csv], capture_output=True, text=True, check=True)
    return {ln.split()[0]: ln.split()[1:] for ln in out.stdout.splitlines() if ln.strip()}


def r_runs_label(val: dict[str, list[str]]) -> tuple[float, str]:
    """Seconds and the runs label from an R task's ``TIME seconds runs`` line."""
    secs, runs = float(val["TIME"][0]), int(val["TIME"][1])
    return secs, "3" if runs == 3 else f"{runs} (>60 s)"
