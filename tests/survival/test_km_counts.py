"""Unweighted KM / log-rank counting kernels and quick input checks against plain formulations.

The fast paths (packed-key sort, per-group value sorts, ``quick_inputs``) must give exactly
what ``np.unique`` + ``np.bincount`` and the full ``prepare`` give: counts are integers, so
equality is exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cohortlab.survival import _km_counts
from cohortlab.survival._km_inputs import quick_inputs
from cohortlab.survival._prepare import factorize
from cohortlab.survival.kaplan_meier import kaplan_meier, logrank

CURVE = ["time", "group", "n_risk", "n_event", "n_censor", "estimate", "std_error",
         "conf_low", "conf_high"]


def _plain_counts(time: np.ndarray, event: np.ndarray, codes: np.ndarray,
                  n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    grid, pos = np.unique(time, return_inverse=True)
    m = grid.size
    exits = np.bincount(codes * m + pos, minlength=m * n_groups).reshape(n_groups, m)
    ev = event > 0
    events = np.bincount(codes[ev] * m + pos[ev], minlength=m * n_groups).reshape(n_groups, m)
    return grid, exits, events


def _times(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    base = np.ceil(rng.exponential(1.0, n) * 100) / 100
    if kind == "ties":
        return base
    if kind == "continuous":
        return rng.exponential(3.0, n)
    if kind == "zero":  # time 0 next to times >= 2: the packed keys do not fit
        return np.where(rng.random(n) < 0.05, 0.0, base * 3)
    if kind == "wide":  # 1e-200 .. 1e100: the packed keys do not fit
        return np.where(rng.random(n) < 0.3, base * 1e-200, base * 1e100)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["ties", "continuous", "zero", "wide"])
@pytest.mark.parametrize("n_groups", [1, 2, 5, 11])
def test_time_group_counts_match_unique_and_bincount(kind: str, n_groups: int) -> None:
    rng = np.random.default_rng(n_groups)
    n = 3_000
    time = _times(kind, rng, n)
    event = rng.integers(0, 2, n)
    codes = rng.integers(0, n_groups, n)
    got = _km_counts.time_group_counts(time, event, codes if n_groups > 1 else None, n_groups)
    want = _plain_counts(time, event, codes if n_groups > 1 else np.zeros(n, np.intp),
                         n_groups)
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w)
    packed = _km_counts._packed_counts(time, event > 0, codes, n_groups)
    if kind in ("ties", "continuous"):
        assert packed is not None
    elif kind == "zero":
        assert packed is None


def test_packed_keys_refuse_negative_zero_and_many_groups() -> None:
    t = np.array([-0.0, 1.0, 2.0])
    assert _km_counts._packed_counts(t, np.array([True, False, True]), None, 1) is None
    codes = np.arange(3) % 3
    assert _km_counts._packed_counts(np.array([1.0, 2.0, 3.0]), np.ones(3, bool), codes,
                                     2**17) is None


def test_exit_counts_on_a_wider_grid() -> None:
    grid, y, d, c = _km_counts.exit_counts(np.array([2.0, 4.0]), np.array([3.0]),
                                           np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert y.tolist() == [3, 3, 2, 1, 0]
    assert d.tolist() == [0, 1, 0, 1, 0]
    assert c.tolist() == [0, 0, 1, 0, 0]


def _frame(n: int = 500, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"t": np.ceil(rng.exponential(1.0, n) * 20) / 20 + 0.05,
                         "e": rng.integers(0, 2, n), "g": rng.integers(0, 3, n)})


@pytest.mark.parametrize("by", [
    np.array([3, 7, 3, 9]), np.array([-5, 5, -5, 0], dtype=np.int8),
    np.array([True, False, True, True]), np.array(["b", "a", "b", "c"], dtype=object),
    np.array([2.5, 1.0, 2.5, 1.0]),
])
def test_quick_group_codes_are_factorize(by: np.ndarray) -> None:
    d = pd.DataFrame({"t": [1.0, 2.0, 3.0, 4.0], "e": [1, 0, 1, 1], "g": by})
    q = quick_inputs(d, "t", "e", "g", "f")
    assert q is not None and q.codes is not None
    codes, levels = factorize(d["g"], "g", "f")
    assert np.array_equal(q.codes, codes)
    assert q.levels == levels
    assert [type(v) for v in q.levels] == [type(v) for v in levels]


@pytest.mark.parametrize("change", [
    {"t": [np.nan, 2.0, 3.0, 4.0]}, {"t": [0.0, 2.0, 3.0, 4.0]}, {"t": [np.inf, 2, 3, 4]},
    {"t": [-1.0, 2.0, 3.0, 4.0]}, {"e": [2, 0, 1, 1]}, {"e": [-1, 0, 1, 1]},
    {"e": [0.5, 0, 1, 1]}, {"e": pd.array([1, 0, None, 1], dtype="Int64")},
    {"g": [1.0, np.nan, 2.0, 1.0]}, {"g": [1.0, np.inf, 2.0, 1.0]},
    {"g": ["a", None, "b", "a"]}, {"t": ["1", "2", "3", "4"]},
])
def test_quick_inputs_leave_dirty_inputs_to_prepare(change: dict) -> None:
    d = pd.DataFrame({"t": [1.0, 2.0, 3.0, 4.0], "e": [1, 0, 1, 1], "g": [0, 1, 0, 1]})
    assert quick_inputs(d.assign(**change), "t", "e", "g", "f") is None
    assert quick_inputs(d, "t", "e", "missing", "f") is None


def test_kaplan_meier_fast_path_equals_the_general_path() -> None:
    d = _frame().assign(one=1.0)
    fast = kaplan_meier(d, time="t", event="e", by="g").to_frame()
    general = kaplan_meier(d, time="t", event="e", by="g", weights="one",
                           variance="greenwood").to_frame()
    pd.testing.assert_frame_equal(fast[CURVE], general[CURVE], check_exact=True)


def test_logrank_fast_path_equals_the_weighted_path_with_unit_weights() -> None:
    d = _frame(seed=2).assign(one=1.0)
    fast = logrank(d, time="t", event="e", by="g")
    general = logrank(d, time="t", event="e", by="g", weights="one")
    assert fast.statistic == pytest.approx(general.statistic, rel=1e-13)
    assert fast.df == general.df
    cols = ["group", "n", "observed", "expected", "o_minus_e", "variance"]
    pd.testing.assert_frame_equal(fast.diagnostics[cols], general.diagnostics[cols],
                                  check_exact=False, rtol=1e-13)


@pytest.mark.parametrize("n_groups", [1, 2, 3, 7, 8, 11])
def test_logrank_sums_are_numpy_sums_bit_for_bit(n_groups: int) -> None:
    from cohortlab.survival._logrank import _column_sums, _row_sums

    rng = np.random.default_rng(n_groups)
    for n in (0, 1, 777, 20_000):
        x = rng.random((n, n_groups)) * 10.0 ** rng.integers(-3, 3, (n, n_groups))
        assert np.array_equal(_row_sums(x), x.sum(axis=1))
        assert np.array_equal(_column_sums(x), x.sum(axis=0))
