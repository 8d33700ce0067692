"""The Dask engine of ``sequential_trials()``: person-period partitions on a Dask cluster.

The person-period data are validated and held on the workers as :class:`PersonPeriod`
arrays, one per partition of whole persons, with global person codes (``dask.persist``).
Every pass of the chunked fit (``_chunked.map_chunks``) becomes one ``dask.compute`` of a
task per partition that expands the partition ``chunk_persons`` persons at a time and returns
the per-chunk results (``X'WX``, ``X'W(y - mu)``, scores, counts: a few ``p x p`` matrices
and per-person vectors, never expanded rows); the client reduces them in chunk order. The
bootstrap runs its replicates through joblib's Dask backend. dask and distributed are
imported here only (the ``dask`` extra).

Partitions: a pandas DataFrame or a Parquet file is cut into blocks of ``chunk_persons``
persons, the chunks of the local engine, so both engines sum the same numbers in the same
order; a ``dask.dataframe.DataFrame`` keeps its own partitions, each of which must hold
whole persons (chunks within a partition are then cut at its own first person, and the sums
agree with the local engine to rounding).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import CohortError, DataValidationError
from ._chunked import parquet_chunks, parquet_ids
from ._expand import PersonPeriod
from ._input import Columns, _slices, _take, frame_source, to_arrays

__all__ = ["DaskSource", "import_dask", "is_dask_frame", "dask_source", "check_client",
           "bootstrap_backend"]


def import_dask(func: str) -> Any:
    """``dask``, or a CohortError saying how to install it.

    ``dask.dataframe`` (a slow import) is not needed unless the caller passes a dask
    DataFrame, which has imported it.
    """
    try:
        import dask
    except ImportError as exc:
        raise CohortError(
            f"{func}(): engine='dask' needs dask and distributed, which are not installed; "
            "install them with pip install \"cohortlab[dask]\" (or use engine='local')."
        ) from exc
    return dask


def is_dask_frame(data: Any) -> bool:
    """Whether ``data`` is a dask DataFrame (without importing dask if it is not loaded)."""
    mod = type(data).__module__
    return mod.startswith("dask") and hasattr(data, "to_delayed") and hasattr(data, "columns")


def _shift(pp: PersonPeriod, offset: int) -> PersonPeriod:
    return PersonPeriod(person=pp.person + offset, period=pp.period, treatment=pp.treatment,
                        outcome=pp.outcome, eligible=pp.eligible, censor=pp.censor,
                        baseline=pp.baseline, varying=pp.varying, competing=pp.competing)


def _map_partition(pp: PersonPeriod, fn: Callable[[Any], Any], chunk_persons: int
                   ) -> list[Any]:
    """``fn`` of each chunk of ``chunk_persons`` persons of one partition, in order."""
    return [fn(c) for c in frame_source(pp, chunk_persons)()]


@dataclass(frozen=True, eq=False)
class DaskSource:
    """Person chunks held on a Dask cluster, one persisted partition of whole persons each.

    ``map(fn)`` runs ``fn`` on every chunk where it lives and returns the results in chunk
    order; calling the source yields the chunks here, fetching one partition at a time (the
    chunked fit does so only for its warm start, on the first chunk).
    """

    parts: tuple[Any, ...]  # persisted dask.delayed PersonPeriod, non-empty, in person order
    chunk_persons: int
    n_persons: int

    def __call__(self) -> Iterator[PersonPeriod]:
        for part in self.parts:
            yield from frame_source(part.compute(), self.chunk_persons)()

    def map(self, fn: Callable[[Any], Any]) -> list[Any]:
        dask = import_dask("sequential_trials")
        tasks = [dask.delayed(_map_partition, pure=False)(part, fn, self.chunk_persons)
                 for part in self.parts]
        return [r for lst in dask.compute(*tasks) for r in lst]

    def gather(self) -> PersonPeriod:
        """All partitions' arrays on the client (for the bootstrap's resampling)."""
        dask = import_dask("sequential_trials")
        parts = dask.compute(*self.parts)
        comp = [p.competing for p in parts]
        return PersonPeriod(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in (
            "person", "period", "treatment", "outcome", "eligible", "censor", "baseline",
            "varying")}, competing=None if any(c is None for c in comp)
            else np.concatenate(comp))


def _persist(dask: Any, delayeds: list[Any]) -> tuple[Any, ...]:
    return tuple(dask.persist(*delayeds)) if delayeds else ()


def _client() -> Any:
    """The active ``distributed.Client``, or None (dask's local scheduler then runs)."""
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - dask without distributed
        return None
    try:
        return default_client()
    except ValueError:
        return None


def _from_arrays(dask: Any, pp: PersonPeriod, chunk_persons: int) -> DaskSource:
    """Blocks of ``chunk_persons`` persons (the local engine's chunks) as partitions.

    On a distributed cluster the blocks are scattered to the workers once (not embedded in
    every task graph).
    """
    blocks = [_take(pp, s) for s in _slices(pp, chunk_persons)] if pp.n_rows else []
    client = _client()
    if client is not None and blocks:
        parts = tuple(dask.delayed(f) for f in client.scatter(blocks))
    else:
        parts = _persist(dask, [dask.delayed(b) for b in blocks])
    n = int(pp.person[-1]) + 1 if pp.n_rows else 0
    return DaskSource(parts=parts, chunk_persons=chunk_persons, n_persons=n)


def _read_block(path: str, cols: Columns, lo: Any, hi: Any, offset: int, func: str
                ) -> PersonPeriod:
    ids = np.array([lo, hi])
    (df,) = list(parquet_chunks(path, cols.used(), cols.id, cols.period, 2, ids))
    return to_arrays(df, cols, func, person_offset=offset)


def _from_parquet(dask: Any, path: str, cols: Columns, chunk_persons: int, func: str
                  ) -> DaskSource:
    """Blocks of ``chunk_persons`` persons read by DuckDB on the workers (a shared path)."""
    ids = parquet_ids(path, cols.id)
    parts = []
    for k in range(0, ids.shape[0], chunk_persons):
        lo, hi = ids[k], ids[min(k + chunk_persons, ids.shape[0]) - 1]
        parts.append(dask.delayed(_read_block, pure=False)(
            path, cols, lo.item() if hasattr(lo, "item") else lo,
            hi.item() if hasattr(hi, "item") else hi, k, func))
    return DaskSource(parts=_persist(dask, parts), chunk_persons=chunk_persons,
                      n_persons=int(ids.shape[0]))


def _prepare(df: pd.DataFrame, cols: Columns, func: str) -> tuple[PersonPeriod | None,
                                                                   np.ndarray]:
    """One partition validated (local person codes) and its ids in order of appearance."""
    if cols.id not in df.columns and df.index.name == cols.id:
        df = df.reset_index()
    df = df[cols.used()]
    if len(df) == 0:
        return None, np.zeros(0, dtype=object)
    return to_arrays(df, cols, func), pd.unique(df[cols.id].to_numpy())


def _first(t: tuple) -> Any:
    return t[0]


def _ids(t: tuple) -> np.ndarray:
    return t[1]


def _from_dask_frame(dask: Any, ddf: Any, cols: Columns, chunk_persons: int, func: str
                     ) -> DaskSource:
    """A dask DataFrame's partitions, each checked to hold whole persons."""
    names = set(ddf.columns) | ({ddf.index.name} if ddf.index.name else set())
    missing = [c for c in cols.used() if c not in names]
    if missing:
        raise DataValidationError(
            f"{func}(): column(s) {missing} not in data; available: {list(ddf.columns)[:20]}."
        )
    prep = _persist(dask, [dask.delayed(_prepare, pure=False)(part, cols, func)
                           for part in ddf.to_delayed()])
    ids = dask.compute(*[dask.delayed(_ids)(p) for p in prep])
    keep = [j for j, i in enumerate(ids) if len(i)]
    if not keep:
        raise DataValidationError(f"{func}(): data has no rows (every partition is empty).")
    every = pd.Index(np.concatenate([ids[j] for j in keep]))
    if not every.is_unique:
        dup = every[every.duplicated()].unique()[:5].tolist()
        raise DataValidationError(
            f"{func}(): the rows of some persons (e.g. {cols.id!r} = {dup}) are in more than "
            "one partition or not contiguous; each partition must hold whole persons, sorted "
            f"by ({cols.id!r}, {cols.period!r}). Partition by person, e.g. "
            f"ddf = ddf.set_index({cols.id!r}, sorted=True) on data sorted by id and period, "
            "or dd.from_pandas(df.set_index(id), npartitions=k)."
        )
    offsets = np.r_[0, np.cumsum([len(ids[j]) for j in keep])]
    parts = [dask.delayed(_shift)(dask.delayed(_first)(prep[j]), int(offsets[i]))
             for i, j in enumerate(keep)]
    return DaskSource(parts=_persist(dask, parts), chunk_persons=chunk_persons,
                      n_persons=int(offsets[-1]))


def dask_source(data: Any, cols: Columns, chunk_persons: int, func: str,
                pp: PersonPeriod | None = None) -> DaskSource:
    """The person-period data as persisted partitions on the current Dask scheduler.

    ``pp`` (the validated arrays of an in-memory DataFrame), a dask DataFrame or a Parquet
    path read on the workers.
    """
    dask = import_dask(func)
    if pp is not None:
        return _from_arrays(dask, pp, chunk_persons)
    if is_dask_frame(data):
        return _from_dask_frame(dask, data, cols, chunk_persons, func)
    return _from_parquet(dask, str(data), cols, chunk_persons, func)


def check_client(func: str) -> Any:
    """The active ``distributed.Client`` the bootstrap needs, or a CohortError."""
    import_dask(func)
    client = _client()
    if client is None:
        raise CohortError(
            f"{func}(): engine='dask' with variance='bootstrap' runs the replicates on a "
            "dask.distributed cluster, and no Client is active; start one first, e.g. "
            "from distributed import Client; client = Client() (or Client(address))."
        )
    return client


@contextlib.contextmanager
def bootstrap_backend(func: str, scatter: Sequence[Any] = ()) -> Iterator[None]:
    """Run joblib on the current ``distributed.Client`` (its Dask backend; CohortError if none).

    ``scatter``: objects the replicates share (the statistic and the data it holds), sent to
    every worker once instead of with every batch.
    """
    from joblib import parallel_config

    client = check_client(func)
    with parallel_config(backend="dask", client=client, scatter=list(scatter) or None):
        yield
