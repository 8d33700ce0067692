"""Helpers the tests import (``pythonpath = ["tests"]`` in pyproject)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).parent / "reference"


def load_reference(name: str) -> dict:
    """A reference JSON from tests/reference/ (copied from shared/reference with its R script)."""
    return json.loads((REFERENCE / f"{name}.json").read_text())


# Statistics for the bootstrap tests. They live here, in a module importable by name, so that
# joblib's worker processes can unpickle them whatever way pytest was started (a function defined
# in a test module imported with --import-mode=importlib is not importable in a worker).
BOOT_X = np.random.default_rng(42).normal(10.0, 2.0, size=60)


def mean_stat(idx):
    """Mean of BOOT_X over the resampled indices."""
    return float(BOOT_X[idx].mean())


def two_stats(idx):
    """Mean and SD of BOOT_X over the resampled indices."""
    return np.array([BOOT_X[idx].mean(), BOOT_X[idx].std()])


def trials_cohort():
    """A small long cohort for the trials verbs: no competing event, eligible (``E``) until the
    first treated period."""
    import cohortlab as cl

    d = cl.simulate_longitudinal(300, 4, random_state=1, n_truth=2_000, competing=False)
    before = d.groupby("id")["A"].cumsum() - d["A"]
    return d.assign(E=(before == 0).astype(int))
