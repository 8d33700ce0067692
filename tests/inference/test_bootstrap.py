"""Tests of the seeded (cluster) bootstrap (inference/bootstrap.py).

No external reference; the one numeric check is against the closed form: the bootstrap SE of
a mean estimates sd / sqrt(n) (with the n, not n - 1, denominator).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from helpers import BOOT_X, mean_stat, two_stats

from cohortlab.exceptions import CohortError
from cohortlab.inference.bootstrap import BootstrapResult, bootstrap, bootstrap_interval

# the package re-exports the function under the module's name; get the module itself
bootstrap_module = importlib.import_module("cohortlab.inference.bootstrap")
X = BOOT_X  # mean_stat and two_stats (in helpers.py, picklable for joblib workers) use it


# ------------------------------------------------------------------ determinism
def test_same_seed_same_replicates_whatever_n_jobs(monkeypatch):
    monkeypatch.setattr(bootstrap_module, "MIN_PARALLEL_S", 0.0)  # workers even for a toy
    a = bootstrap(two_stats, X.size, n_boot=64, random_state=7, n_jobs=1)
    b = bootstrap(two_stats, X.size, n_boot=64, random_state=7, n_jobs=2)
    assert a.replicates.shape == (64, 2)
    np.testing.assert_array_equal(a.replicates, b.replicates)


def test_same_seed_same_replicates_cluster_parallel(monkeypatch):
    monkeypatch.setattr(bootstrap_module, "MIN_PARALLEL_S", 0.0)
    g = np.repeat(np.arange(12), 5)
    a = bootstrap(mean_stat, X.size, n_boot=40, random_state=3, n_jobs=1, cluster=g)
    b = bootstrap(mean_stat, X.size, n_boot=40, random_state=3, n_jobs=2, cluster=g)
    np.testing.assert_array_equal(a.replicates, b.replicates)


def test_repeated_calls_and_generators_are_deterministic_per_type():
    a = bootstrap(mean_stat, X.size, n_boot=50, random_state=11)
    b = bootstrap(mean_stat, X.size, n_boot=50, random_state=11)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    g1 = bootstrap(mean_stat, X.size, n_boot=50, random_state=np.random.default_rng(11))
    g2 = bootstrap(mean_stat, X.size, n_boot=50, random_state=np.random.default_rng(11))
    np.testing.assert_array_equal(g1.replicates, g2.replicates)
    # numpy int-like seeds behave as ints
    c = bootstrap(mean_stat, X.size, n_boot=50, random_state=np.int64(11))
    np.testing.assert_array_equal(a.replicates, c.replicates)


def test_generator_is_advanced_so_reuse_gives_new_draws():
    rng = np.random.default_rng(5)
    a = bootstrap(mean_stat, X.size, n_boot=30, random_state=rng)
    b = bootstrap(mean_stat, X.size, n_boot=30, random_state=rng)
    assert not np.array_equal(a.replicates, b.replicates)


def test_different_seeds_differ():
    a = bootstrap(mean_stat, X.size, n_boot=50, random_state=1)
    b = bootstrap(mean_stat, X.size, n_boot=50, random_state=2)
    assert not np.array_equal(a.replicates, b.replicates)
    # and the replicates within one run differ from each other
    assert np.unique(a.replicates).size > 40


def test_no_global_rng_use():
    before = np.random.get_state()
    bootstrap(mean_stat, X.size, n_boot=50, random_state=9)
    bootstrap(mean_stat, X.size, n_boot=20, random_state=None)
    after = np.random.get_state()
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def test_parallel_run_shares_chunks_with_this_process_and_records_it(monkeypatch):
    """Workers take chunks from the front of one queue, this process from the back."""
    calls: list[int] = []

    class RecordingParallel:  # a worker that takes one chunk, then stops taking
        def __init__(self, n_jobs=None, **kwargs):
            self.n_jobs = n_jobs

        def __call__(self, tasks):
            f, a, k = next(iter(tasks))
            calls.append(a[0])
            return iter([f(*a, **k)])

    monkeypatch.setattr(bootstrap_module, "Parallel", RecordingParallel)
    monkeypatch.setattr(bootstrap_module, "MIN_PARALLEL_S", 0.0)
    res = bootstrap(mean_stat, X.size, n_boot=40, random_state=1, n_jobs=2)
    assert calls == [0]  # the worker got the first chunk; this process ran the rest
    n_chunks = 2 * bootstrap_module.CHUNKS_PER_PROCESS
    assert res.n_workers == 2
    assert res.execution == ("2 joblib workers (prefer=None, n_jobs=2) and this process "
                             f"({40 - 40 // n_chunks} of 40 replicates)")
    ref = bootstrap(mean_stat, X.size, n_boot=40, random_state=1, n_jobs=1)
    np.testing.assert_array_equal(res.replicates, ref.replicates)
    assert ref.n_workers == 0 and ref.execution == "in this process"
    # a job too small to pay for starting workers runs in this process, same replicates
    calls.clear()
    monkeypatch.setattr(bootstrap_module, "MIN_PARALLEL_S", 1e9)
    small = bootstrap(mean_stat, X.size, n_boot=40, random_state=1, n_jobs=2)
    assert not calls and small.n_workers == 0
    assert "(n_jobs=2 not used)" in small.execution
    np.testing.assert_array_equal(small.replicates, ref.replicates)


# ------------------------------------------------------------------ what is resampled
def test_row_bootstrap_draws_n_rows_with_replacement():
    seen = []

    def stat(idx):
        seen.append(idx.copy())
        return float(idx.size)

    res = bootstrap(stat, 25, n_boot=30, random_state=0)
    assert (res.replicates == 25).all()
    draws = seen[1:]  # the first call is the statistic on the full data
    np.testing.assert_array_equal(seen[0], np.arange(25))
    assert all(d.min() >= 0 and d.max() < 25 for d in draws)
    assert any(np.unique(d).size < 25 for d in draws)  # with replacement
    assert not res.clustered


def _cluster_data():
    sizes = np.array([1, 2, 3, 4, 5, 1, 2, 3, 4, 5])
    g = np.repeat(np.array(list("abcdefghij")), sizes)
    perm = np.random.default_rng(1).permutation(g.size)  # clusters not contiguous
    return g[perm], sizes


def _cluster_check(g: np.ndarray):
    labels, codes = np.unique(g, return_inverse=True)

    def stat(idx):
        mult = np.bincount(idx, minlength=g.size)
        # every row of a cluster must appear the same number of times
        together = all(np.unique(mult[codes == c]).size == 1 for c in range(labels.size))
        n_distinct = np.unique(codes[idx]).size
        return np.array([n_distinct, float(together), idx.size])

    return stat


def test_cluster_bootstrap_resamples_whole_clusters():
    g, sizes = _cluster_data()
    res = bootstrap(_cluster_check(g), g.size, n_boot=300, random_state=4, cluster=g)
    reps = res.replicates
    assert res.clustered and res.n_failed == 0
    assert (reps[:, 1] == 1.0).all()  # rows of a cluster always together, equal multiplicity
    assert reps[:, 0].max() <= 10 and reps[:, 0].min() >= 1
    # distinct clusters drawn: E = G * (1 - (1 - 1/G)^G) = 6.513 for G = 10
    assert reps[:, 0].mean() == pytest.approx(10 * (1 - 0.9**10), abs=0.25)
    # resample sizes vary with the clusters drawn (unequal sizes), mean = n
    assert np.unique(reps[:, 2]).size > 5
    assert reps[:, 2].mean() == pytest.approx(sizes.sum(), rel=0.1)


def test_row_bootstrap_breaks_clusters():
    """The check above can fail: a row bootstrap splits clusters."""
    g, _ = _cluster_data()
    res = bootstrap(_cluster_check(g), g.size, n_boot=50, random_state=4)
    assert (res.replicates[:, 1] == 0.0).any()
    assert (res.replicates[:, 2] == g.size).all()


def test_cluster_validation():
    with pytest.raises(CohortError, match=r"^bootstrap\(\): cluster has 3 labels for 5 rows"):
        bootstrap(mean_stat, 5, n_boot=10, cluster=[1, 1, 2])
    with pytest.raises(CohortError, match="single cluster"):
        bootstrap(mean_stat, 5, n_boot=10, cluster=[1] * 5)


@pytest.mark.parametrize(("kwargs", "msg"), [
    ({"n_boot": 1}, "n_boot must be an int >= 2"),
    ({"n_boot": 10.0}, "n_boot must be an int >= 2"),
    ({"random_state": -3}, "random_state must be None, a non-negative int"),
    ({"random_state": 1.5}, "random_state"),
])
def test_argument_validation(kwargs, msg):
    with pytest.raises(CohortError, match=rf"^bootstrap\(\): {msg}"):
        bootstrap(mean_stat, X.size, **kwargs)


def test_n_must_be_positive():
    with pytest.raises(ValueError, match=r"^bootstrap\(\): n must be a positive int"):
        bootstrap(mean_stat, 0, n_boot=10)


# ------------------------------------------------------------------ accuracy
def test_bootstrap_se_of_a_mean_close_to_closed_form():
    """Closed form: SE(mean) estimated by sd / sqrt(n), sd with denominator n (plug-in)."""
    res = bootstrap(mean_stat, X.size, n_boot=2000, random_state=2024)
    se_boot = res.replicates[:, 0].std(ddof=1)
    se_true = X.std(ddof=0) / np.sqrt(X.size)
    assert se_boot == pytest.approx(se_true, rel=0.10)
    assert res.replicates[:, 0].mean() == pytest.approx(X.mean(), abs=0.2 * se_true)


# ------------------------------------------------------------------ failures
def _fragile(idx: np.ndarray) -> float:
    if idx[0] == 5:  # fails on about 1 in 10 resamples of 10 rows (not on the full data)
        raise ValueError("singular")
    return float(idx[0])


def test_failed_replicates_are_counted_and_nan():
    res = bootstrap(_fragile, 10, n_boot=200, random_state=8, max_failed=1.0)
    # the same seed draws the same resamples: count the ones starting with row 0
    first = bootstrap(lambda idx: float(idx[0]), 10, n_boot=200, random_state=8)
    expected = int((first.replicates[:, 0] == 5).sum())
    assert expected > 0
    assert res.n_failed == expected
    assert np.isnan(res.replicates).all(axis=1).sum() == expected
    assert res.valid.shape == (200 - expected, 1)
    assert isinstance(res, BootstrapResult)


def test_more_than_max_failed_raises():
    res = bootstrap(_fragile, 10, n_boot=200, random_state=8, max_failed=1.0)
    f = res.n_failed
    ok = bootstrap(_fragile, 10, n_boot=200, random_state=8, max_failed=f / 200)
    assert ok.n_failed == f
    with pytest.raises(CohortError, match=rf"^bootstrap\(\): {f} of 200 bootstrap replicates failed"):
        bootstrap(_fragile, 10, n_boot=200, random_state=8, max_failed=(f - 1) / 200)
    with pytest.raises(CohortError, match="max_failed=0.05"):
        bootstrap(_fragile, 10, n_boot=200, random_state=8)  # default 5% < ~10% failing


def test_non_finite_and_wrong_shape_values_count_as_failures():
    def stat(idx):
        if idx[0] == 1:
            return np.nan
        if idx[0] == 2:
            return np.array([1.0, 2.0])  # wrong length
        if idx[0] == 3:
            raise ZeroDivisionError
        return 1.0

    res = bootstrap(stat, 10, n_boot=300, random_state=2, max_failed=1.0)
    first = bootstrap(lambda idx: float(idx[0]), 10, n_boot=300, random_state=2)
    assert res.n_failed == int(np.isin(first.replicates[:, 0], [1, 2, 3]).sum())


def test_unexpected_errors_propagate():
    def stat(idx):
        if idx.size and idx[0] == 0 and idx[1] != 1:
            raise KeyError("bug in the statistic")
        return 1.0

    with pytest.raises(KeyError):
        bootstrap(stat, 10, n_boot=100, random_state=1)


# ------------------------------------------------------------------ bootstrap_interval
def test_bootstrap_interval_methods_by_hand():
    reps = np.random.default_rng(0).gamma(2.0, 1.0, size=(500, 2))
    pt = np.array([2.1, 1.9])
    se, lo, hi = bootstrap_interval(pt, reps, 0.9, "percentile")
    # the (B + 1) p order statistics: sorted[25 - 1] and sorted[475 - 1] for B = 499
    srt = np.sort(reps[:499], axis=0)
    se499, lo499, hi499 = bootstrap_interval(pt, reps[:499], 0.9, "percentile")
    np.testing.assert_allclose(lo499, srt[24])
    np.testing.assert_allclose(hi499, srt[474])
    q = np.quantile(reps, [0.05, 0.95], axis=0, method="weibull")
    np.testing.assert_allclose(se, reps.std(axis=0, ddof=1))
    np.testing.assert_allclose(lo, q[0])
    np.testing.assert_allclose(hi, q[1])
    _, lo_b, hi_b = bootstrap_interval(pt, reps, 0.9, "basic")
    np.testing.assert_allclose(lo_b, 2 * pt - q[1])
    np.testing.assert_allclose(hi_b, 2 * pt - q[0])
    _, lo_n, hi_n = bootstrap_interval(pt, reps, 0.9, "normal")
    np.testing.assert_allclose(lo_n, pt - 1.6448536269514722 * se)
    np.testing.assert_allclose(hi_n, pt + 1.6448536269514722 * se)


def test_percentile_interval_not_pulled_inward_at_small_b():
    """Reps 1..99, 90%: the (B + 1) p = 5th and 95th order statistics (5, 95), not the
    linearly interpolated 5.9 / 94.1 that undercover (0.932 instead of 0.95 at B = 100)."""
    reps = np.arange(1.0, 100.0)[:, None]
    _, lo, hi = bootstrap_interval([50.0], reps, 0.9, "percentile")
    assert (lo[0], hi[0]) == pytest.approx((5.0, 95.0), abs=1e-9)
    _, lo_b, hi_b = bootstrap_interval([50.0], reps, 0.9, "basic")
    assert (lo_b[0], hi_b[0]) == pytest.approx((5.0, 95.0), abs=1e-9)


def test_bootstrap_interval_validates():
    reps = np.ones((10, 1))
    with pytest.raises(CohortError, match=r'^bootstrap_interval\(\): method must be one of'):
        bootstrap_interval([0.0], reps, 0.95, "bca")  # type: ignore[arg-type]
    with pytest.raises(CohortError, match=r"^bootstrap_interval\(\): conf_level"):
        bootstrap_interval([0.0], reps, 95)


def test_threads_give_the_same_replicates_and_say_so(monkeypatch):
    """prefer="threads": worker threads, a lower start-up floor than processes, same replicates."""
    ref = bootstrap(two_stats, X.size, n_boot=64, random_state=7, n_jobs=1)
    small = bootstrap(two_stats, X.size, n_boot=64, random_state=7, n_jobs=2, prefer="threads")
    assert small.n_workers == 0 and "under the 0.1 s" in small.execution  # a toy: in-process
    monkeypatch.setattr(bootstrap_module, "MIN_THREADS_S", 0.0)
    res = bootstrap(two_stats, X.size, n_boot=64, random_state=7, n_jobs=2, prefer="threads")
    assert res.n_workers == 2
    assert res.execution == "2 joblib workers (prefer='threads', n_jobs=2)"
    np.testing.assert_array_equal(res.replicates, ref.replicates)
    np.testing.assert_array_equal(small.replicates, ref.replicates)
