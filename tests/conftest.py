"""Shared fixtures and the hygiene guards of STYLE.md §3.5."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")  # headless; figures are drawn, never shown


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator; tests never use numpy's global state."""
    return np.random.default_rng(20260101)


@pytest.fixture(autouse=True)
def _no_global_rng():
    """Fail any test (or the code it calls) that draws from numpy's global RNG."""
    before = np.random.get_state()[1].copy()
    yield
    after = np.random.get_state()[1]
    assert np.array_equal(before, after), "numpy's global RNG state changed during this test"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")

