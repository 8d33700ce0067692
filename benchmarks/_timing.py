"""Shared helpers for the benchmark scripts: best-of-k wall time and a Markdown table."""

from __future__ import annotations

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
