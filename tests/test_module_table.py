"""The README's module table: from any estimator to the private modules holding its numbers.

Issue 13 asks that a newcomer can find, for any estimator, its public verb and the private
function holding its numbers from the README's table "public verb | private module(s) holding
its numbers". This test reads that table and checks that

- every verb it names is a public function of ``cohortlab``;
- every module it names exists and is private (its file name starts with ``_``), except the
  shared inference layer ``inference/`` (its modules are public API, used by every estimator);
- every public function of the estimator packages is in the table or in ``NOT_ESTIMATORS``
  with the reason, so a new estimator must be added to the table.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import cohortlab as cl

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "cohortlab"
HEADER = "| public verb | private module(s) holding its numbers |"

#: Packages whose public functions are estimators (or produce the numbers of one).
ESTIMATOR_PACKAGES = {"causal", "survival", "exposures", "evaluation", "sensitivity",
                      "subgroups", "missing", "longitudinal", "trials", "describe", "datasets"}

#: Public functions of those packages that are not estimators, and why.
NOT_ESTIMATORS = {
    "threshold_exposure": "defines an exposure column from a score (a data transformation)",
    "quantile_exposure": "defines an exposure column from a score (a data transformation)",
    "cutpoint_exposure": "defines an exposure column from a score (a data transformation)",
    "standardized_exposure": "defines an exposure column from a score (a data transformation)",
    "spline_basis": "defines spline exposure columns from a score (a data transformation)",
    "lag": "a person-period feature (a data transformation)",
    "cumulative_exposure": "a person-period feature (a data transformation)",
    "time_since_initiation": "a person-period feature (a data transformation)",
    "ever_treated": "a person-period feature (a data transformation)",
    "time_varying_exposure": "a person-period feature (a data transformation)",
    "attrition": "counts the rows each eligibility step removes",
    "by_period_table": "counts per period (a descriptive table of person-period data)",
}


def _table() -> list[tuple[list[str], list[str]]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert HEADER in text, "README.md has lost its module table"
    rows = []
    for line in text.split(HEADER, 1)[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        verbs_cell, modules_cell = line.strip().strip("|").split("|", 1)
        verbs = re.findall(r"`([a-z_][a-z0-9_]*)`", verbs_cell)
        modules = re.findall(r"`([a-z_/]+\.py)`", modules_cell)
        rows.append((verbs, modules))
    assert rows, "README.md's module table has no rows"
    return rows


TABLE = _table()
LISTED = {v for verbs, _ in TABLE for v in verbs}


@pytest.mark.parametrize("verbs, modules", TABLE, ids=[", ".join(v) for v, _ in TABLE])
def test_row_names_public_verbs_and_private_modules(verbs: list[str], modules: list[str]):
    assert verbs, "a row of the module table names no verb"
    for name in verbs:
        assert name in cl.__all__ and inspect.isfunction(getattr(cl, name)), (
            f"{name!r} in README's module table is not a public function of cohortlab")
    for rel in modules:
        path = SRC / rel
        assert path.is_file(), f"README's module table names {rel}, which does not exist"
        assert path.name.startswith("_") or rel.startswith("inference/"), (
            f"README's module table names {rel} as holding the numbers of {verbs}; numbers "
            "belong in a private module (its name starting with '_')")


def test_every_estimator_is_in_the_table():
    missing = []
    for name in cl.__all__:
        obj = getattr(cl, name)
        if not inspect.isfunction(obj):
            continue
        package = obj.__module__.split(".")[1]
        if package in ESTIMATOR_PACKAGES and name not in LISTED and name not in NOT_ESTIMATORS:
            missing.append(f"{name} ({obj.__module__})")
    assert not missing, (
        f"public estimators missing from README's module table: {missing}; add a row naming "
        "the private module(s) holding their numbers (or, if not an estimator, add them to "
        "NOT_ESTIMATORS here with the reason)")


def test_exemptions_are_still_public_functions():
    stale = [n for n in NOT_ESTIMATORS if n not in cl.__all__ or n in LISTED]
    assert not stale, f"NOT_ESTIMATORS entries to remove: {stale}"
