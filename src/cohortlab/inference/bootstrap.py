"""A seeded, parallel (cluster) bootstrap.

Each replicate draws its resample from its own generator, spawned up front from one
:class:`numpy.random.SeedSequence`, so the replicates are identical whatever ``n_jobs`` is and
however the work is split. Replicates run through :mod:`joblib`, so a Dask or Ray backend can
take over through ``joblib.parallel_config``.

Parallel runs share the work: the replicates are cut into chunks (a few per process) on one
queue; joblib's workers take chunks from its front while the calling process takes them
from its back, so this process works while the workers start (a fresh interpreter importing
numpy, pandas and cohortlab: about a second) and nobody waits for a slow worker's share.
Every process computes with one BLAS thread (threadpoolctl), so ``n_jobs`` processes use
``n_jobs`` cores, not ``n_jobs`` times the BLAS pool.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits

from .._typing import BootstrapCI, RandomState
from .._validation import check_conf_level, check_option, check_random_state
from ..exceptions import CohortError
from .influence import check_cluster
from .wald import z_critical

__all__ = ["BootstrapResult", "bootstrap", "bootstrap_interval"]

#: Below this estimated serial time (the full-data statistic's time x ``n_boot``, seconds)
#: the replicates run in the calling process whatever ``n_jobs`` is: starting joblib workers
#: (a fresh interpreter importing numpy, pandas and cohortlab each) takes about a second.
MIN_PARALLEL_S = 2.0
#: The same for a statistic run in threads (``prefer="threads"``): no start-up to pay for.
MIN_THREADS_S = 0.1
#: Chunks of replicates per worker process: enough to balance a late-starting worker, few
#: enough that shipping the statistic with each task stays cheap (every task pickles it
#: again: large arrays as references to joblib's memory maps, the rest by value).
CHUNKS_PER_PROCESS = 2
#: Chunks per worker thread (nothing is shipped: finer chunks only balance better).
CHUNKS_PER_THREAD = 4

Statistic = Callable[[np.ndarray], "float | ArrayLike"]


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Bootstrap replicates of a statistic.

    Attributes
    ----------
    replicates : numpy.ndarray, shape (n_boot, k)
        One row per replicate; rows where the statistic failed or was not finite are NaN.
    n_failed : int
        Replicates that raised or returned a non-finite value (excluded from intervals).
    clustered : bool
        Whether clusters, not rows, were resampled.
    n_workers : int
        joblib workers that shared the replicates with this process (0: this process only).
    execution : str
        How the replicates ran, e.g. ``"in this process: estimated 0.8 s serially, under the
        2 s that starting workers costs (n_jobs=2 not used)"``; recorded, never silent.
    """

    replicates: np.ndarray
    n_failed: int
    clustered: bool
    n_workers: int = 0
    execution: str = "in this process"

    @property
    def valid(self) -> np.ndarray:
        """Replicates with every component finite."""
        return self.replicates[np.isfinite(self.replicates).all(axis=1)]


def seed_sequence(random_state: RandomState, func: str) -> np.random.SeedSequence:
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(0, 2**63 - 1)))
    check_random_state(random_state, func)  # validates the int / None
    return np.random.SeedSequence(random_state)


def _cluster_index(cluster: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by cluster, each cluster's start in that order, and its size."""
    _, inv = np.unique(np.asarray(cluster), return_inverse=True)
    order = np.argsort(inv, kind="stable")
    sizes = np.bincount(inv)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return order, starts, sizes


def _draw(seed: np.random.SeedSequence, n: int, clusters: tuple | None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if clusters is None:
        return rng.integers(0, n, size=n)
    order, starts, sizes = clusters
    pick = rng.integers(0, sizes.size, size=sizes.size)
    lens = sizes[pick]
    # positions: for each picked cluster, starts[c] + 0..size-1, without a Python loop
    offsets = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    return order[np.repeat(starts[pick], lens) + offsets]


def _run_batch(
    statistic: Statistic, seeds: list, n: int, clusters: tuple | None, k: int
) -> tuple[np.ndarray, int]:
    out = np.full((len(seeds), k), np.nan)
    failed = 0
    for i, seed in enumerate(seeds):
        idx = _draw(seed, n, clusters)
        try:
            val = np.atleast_1d(np.asarray(statistic(idx), dtype=float))
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            failed += 1
            continue
        if val.shape != (k,) or not np.all(np.isfinite(val)):
            failed += 1
            continue
        out[i] = val
    return out, failed



def seed_batches(seeds: list, n_jobs: int, per_worker: int = 4) -> list[list]:
    """Split per-replicate seeds into contiguous batches for joblib workers.

    One batch when running serially, else ``per_worker`` per worker (load balancing without
    per-replicate dispatch overhead; each batch ships the task's data to a worker once).
    Each replicate keeps its own seed, so results do not depend on ``n_jobs``; the batches
    concatenate back to ``seeds`` in order.

    Examples
    --------
    >>> [len(b) for b in seed_batches(list(range(10)), 1)]
    [10]
    >>> sum(seed_batches(list(range(10)), 2), []) == list(range(10))
    True
    """
    n_workers = max(1, effective_n_jobs(n_jobs))
    n_batches = max(1, min(len(seeds), 1 if n_workers == 1 else per_worker * n_workers))
    bounds = np.linspace(0, len(seeds), n_batches + 1).astype(int)
    return [seeds[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _run_shared(statistic: Statistic, seeds: list, n: int, clusters: tuple | None, k: int,
                n_proc: int, prefer: str | None) -> tuple[list[tuple[np.ndarray, int]], int]:
    """Chunks of replicates shared by joblib workers and this process; results in seed order.

    The chunks sit on one queue: the workers' tasks are drawn from its front as they free up
    (``batch_size=1``, at most one task per worker dispatched ahead) and this process takes
    chunks from its back meanwhile (not with ``prefer="threads"``: threads start at once, and
    this one would be one too many for ``n_jobs`` cores), then collects the workers' results.
    Every process (and this one, for itself and its worker threads) computes with one BLAS
    thread. Returns the results and how many replicates this process ran.
    """
    threads = prefer == "threads"
    chunks = seed_batches(seeds, n_proc,
                          per_worker=CHUNKS_PER_THREAD if threads else CHUNKS_PER_PROCESS)
    todo = deque(range(len(chunks)))
    out: list[Any] = [None] * len(chunks)
    caller = os.getpid()

    def tasks() -> Iterator[Any]:  # advanced by joblib as workers free up
        while True:
            try:
                j = todo.popleft()
            except IndexError:
                return
            yield delayed(_worker_chunk)(j, caller, statistic, chunks[j], n, clusters, k)

    here = 0
    with threadpool_limits(limits=1):
        pending = Parallel(n_jobs=n_proc, prefer=prefer, batch_size=1, pre_dispatch="n_jobs",
                           return_as="generator")(tasks())
        while not threads:  # worker threads start at once: this thread only collects
            try:
                j = todo.pop()
            except IndexError:
                break
            out[j] = _run_batch(statistic, chunks[j], n, clusters, k)
            here += len(chunks[j])
        for j, res in pending:
            out[j] = res
    return out, here


def _worker_chunk(j: int, caller: int, statistic: Statistic, seeds: list, n: int,
                  clusters: tuple | None, k: int) -> tuple[int, tuple[np.ndarray, int]]:
    """A worker's chunk ``j``, with one BLAS thread in a worker process.

    (A worker thread runs under the limit its caller set: threadpoolctl's limits are
    per process, and entering them from several threads at once would race.)
    """
    if os.getpid() == caller:
        return j, _run_batch(statistic, seeds, n, clusters, k)
    with threadpool_limits(limits=1):
        return j, _run_batch(statistic, seeds, n, clusters, k)


def bootstrap(
    statistic: Statistic,
    n: int,
    *,
    n_boot: int = 1000,
    random_state: RandomState = None,
    n_jobs: int = 1,
    cluster: ArrayLike | None = None,
    max_failed: float = 0.05,
    prefer: Literal["processes", "threads"] | None = None,
) -> BootstrapResult:
    """Bootstrap a statistic computed from row indices.

    Parameters
    ----------
    statistic : callable
        ``statistic(idx) -> float or 1-d array``, where ``idx`` is an int array of row indices
        (with repeats) into the analysis data; e.g. ``lambda idx: est(df.iloc[idx])``.
    n : int
        Number of rows.
    n_boot : int
        Number of replicates.
    random_state : int, numpy.random.Generator or None
        Seed; the same seed gives the same replicates whatever ``n_jobs``.
    n_jobs : int
        Parallel jobs for joblib (-1: all cores); this process shares the work with them.
        A job estimated to take under ``MIN_PARALLEL_S`` (2) seconds serially runs in this
        process (same replicates); the result's ``execution`` records which.
    cluster : array_like, optional
        Cluster labels (length ``n``): whole clusters are resampled with replacement.
    max_failed : float
        Largest tolerated fraction of failed replicates (errors or non-finite values) before
        :class:`~cohortlab.exceptions.CohortError` is raised.
    prefer : {"processes", "threads"}, optional
        joblib's hint for its default backend. ``"threads"`` suits a statistic that spends
        its time in numpy calls which release the GIL (no worker start-up, no data shipped):
        such a job runs in parallel from ``MIN_THREADS_S`` (0.1 s) of estimated serial time.
        A backend chosen with ``joblib.parallel_config`` (Dask, Ray, ...) takes precedence.

    Returns
    -------
    BootstrapResult

    Examples
    --------
    >>> x = np.arange(10.0)
    >>> res = bootstrap(lambda idx: x[idx].mean(), 10, n_boot=200, random_state=1)
    >>> res.replicates.shape, res.n_failed
    ((200, 1), 0)
    """
    func = "bootstrap"
    if not (isinstance(n_boot, int) and n_boot >= 2):
        raise CohortError(f"{func}(): n_boot must be an int >= 2; got {n_boot!r}.")
    if not (isinstance(n, int | np.integer) and n >= 1):
        raise CohortError(f"{func}(): n must be a positive int; got {n!r}.")
    clusters = None
    if cluster is not None:
        clusters = _cluster_index(check_cluster(cluster, n, func))
        if clusters[2].size < 2:
            raise CohortError(f"{func}(): cluster has a single cluster; need at least 2.")
    seeds = seed_sequence(random_state, func).spawn(n_boot)
    start = time.perf_counter()
    k = np.atleast_1d(np.asarray(statistic(np.arange(n)), dtype=float)).shape[0]
    serial_s = (time.perf_counter() - start) * n_boot
    n_proc = effective_n_jobs(n_jobs)
    threads = prefer == "threads"
    floor = MIN_THREADS_S if threads else MIN_PARALLEL_S
    if n_proc == 1 or serial_s < floor:
        # in this process: worker start-up and shipping the data would cost more than the
        # replicates (the replicates are the same either way: one seed per replicate)
        results = [_run_batch(statistic, seeds, n, clusters, k)]
        n_used, execution = 0, "in this process"
        if n_proc > 1:
            execution += (f": estimated {serial_s:.2g} s serially, under the {floor:g} s "
                          f"that starting workers costs (n_jobs={n_jobs} not used)")
    else:
        results, here = _run_shared(statistic, seeds, n, clusters, k, n_proc, prefer)
        n_used = n_proc
        execution = (f"{n_proc} joblib workers (prefer={prefer!r}, n_jobs={n_jobs})"
                     + (f" and this process ({here:,} of {n_boot:,} replicates)" if here else ""))
    reps = np.vstack([r[0] for r in results])  # in seed order
    failed = sum(r[1] for r in results)
    if failed > max_failed * n_boot:
        raise CohortError(
            f"{func}(): {failed:,} of {n_boot:,} bootstrap replicates failed or were not finite "
            f"(more than max_failed={max_failed:g}). The estimator is unstable on resamples; "
            "check for rare events or sparse groups, or use an analytic variance."
        )
    return BootstrapResult(replicates=reps, n_failed=failed, clustered=cluster is not None,
                           n_workers=n_used, execution=execution)


def bootstrap_interval(
    point: ArrayLike,
    replicates: np.ndarray,
    conf_level: float = 0.95,
    method: BootstrapCI = "percentile",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standard error and interval from bootstrap replicates.

    Parameters
    ----------
    point : array_like, shape (k,)
        The estimate on the full data.
    replicates : numpy.ndarray, shape (B, k)
        Finite replicates.
    conf_level : float
        Interval level.
    method : {"percentile", "normal", "basic"}
        Percentile interval; normal interval ``point -/+ z * SE_boot``; or basic
        (reverse-percentile) interval ``2 * point - quantiles``. The quantiles are the
        ``(B + 1) * alpha/2`` and ``(B + 1) * (1 - alpha/2)`` order statistics (interpolated;
        numpy's ``method="weibull"``, Davison & Hinkley 1997, sec. 5.2.1): the default linear
        interpolation between ``(B - 1) * p`` order statistics pulls the endpoints inward and
        undercovers at small ``B`` (0.932 instead of 0.95 at ``B = 100`` for a normal statistic).

    Returns
    -------
    (std_error, conf_low, conf_high) : tuple of numpy.ndarray

    Examples
    --------
    >>> reps = np.linspace(-1, 1, 101)[:, None]
    >>> se, lo, hi = bootstrap_interval([0.0], reps, 0.9, "percentile")
    >>> round(float(lo[0]), 3), round(float(hi[0]), 3)
    (-0.918, 0.918)
    """
    check_option(method, BootstrapCI, "method", "bootstrap_interval")
    check_conf_level(conf_level, "bootstrap_interval")
    pt = np.atleast_1d(np.asarray(point, dtype=float))
    reps = np.asarray(replicates, dtype=float).reshape(-1, pt.shape[0])
    se = reps.std(axis=0, ddof=1)
    alpha = 1.0 - conf_level
    if method == "normal":
        q = z_critical(conf_level)
        return se, pt - q * se, pt + q * se
    lo_q, hi_q = np.quantile(reps, [alpha / 2, 1 - alpha / 2], axis=0, method="weibull")
    if method == "basic":
        return se, 2 * pt - hi_q, 2 * pt - lo_q
    return se, lo_q, hi_q
