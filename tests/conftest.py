"""Shared fixtures and the hygiene guards of STYLE.md §3.5."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")  # headless; figures are drawn, never shown

#: The scripts that made the reference values run the anchors (R, pygformula, pySEQTarget) that
#: CI does not install; they are records, not tests (their outputs are what the tests read).
collect_ignore_glob = ["reference/*/*.py", "reference/*.py"]


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_blas():
    """One BLAS thread: the suite's arrays are small, and on a 2-core CI machine threaded
    BLAS inside joblib workers oversubscribes the cores (5-10x slower when loaded)."""
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    with threadpool_limits(limits=1, user_api="blas"):
        yield


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

