"""Shared by the analyses' run.py scripts: our numbers beside expected.json, printed and checked.

expected.json maps a key to ``{"value": v, "abs": tol}`` or ``{"value": v, "rel": tol}`` (and
optional text such as ``"book"`` or ``"vignette"``); a key may have extra ``"<key> vs <source>"``
entries (the same quantity against a second source, e.g. a book's rounded number).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def load_expected(here: Path) -> dict:
    """The analysis folder's expected.json."""
    return json.loads((here / "expected.json").read_text())


def compare(rows: list[tuple[str, float, str]], expected: dict, *,
            text: str = "source") -> pd.DataFrame:
    """One row per (key, reference): reference, ours, |difference|, tolerance and ``ok``.

    ``rows`` are ``(key, our value, text)``; ``text`` names the column that shows the text (the
    row's own, else the reference's entry of that name). Raises SystemExit if an expected key was
    not computed.
    """
    out = []
    for key, value, note in rows:
        for k in [key] + [x for x in expected if x.startswith(f"{key} vs ")]:
            ref = expected[k]
            kind = "abs" if "abs" in ref else "rel"
            limit = ref["abs"] if kind == "abs" else ref["rel"] * abs(ref["value"])
            diff = abs(value - ref["value"])
            shown = (note or ref.get(text, "")) if k == key else ref.get(text, "")
            out.append({"quantity": k, text: shown, "reference": ref["value"],
                        "cohortlab": value, "abs_diff": diff,
                        "tolerance": f"{kind} {ref[kind]:g}", "ok": bool(diff <= limit)})
    missing = sorted(set(expected) - {r["quantity"] for r in out} - {"_about"})
    if missing:
        raise SystemExit(f"expected.json entries not computed: {missing}")
    return pd.DataFrame(out)


def report(table: pd.DataFrame) -> None:
    """Print the comparison; exit with the failing rows if any number is outside tolerance."""
    with pd.option_context("display.width", 220, "display.max_colwidth", 60,
                           "display.float_format", "{:.6g}".format):
        print(table.to_string(index=False))
    bad = table[~table["ok"]]
    if len(bad):
        raise SystemExit(f"{len(bad)} number(s) outside tolerance:\n{bad.to_string(index=False)}")
