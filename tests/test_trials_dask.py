"""sequential_trials(engine="dask") on a LocalCluster: the same numbers as the local engine.

One in-process cluster (2 workers, 1 thread each) for the module: ``processes=False`` starts in
a fraction of a second; serialisation of every task the engine ships is checked separately
(cloudpickle round trip), and a slow test and the benchmark run worker processes.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from helpers import trials_cohort

import cohortlab as cl
from cohortlab.exceptions import CohortError, DataValidationError

distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")

KW = dict(id="id", period="period", treatment="A", outcome="Y", eligible="E",
          covariates=["L", "V"], censor="C", trial_terms="linear")
PP = dict(estimand="per_protocol", switch_covariates=["L"], censor_weights=True,
          truncate=(0.01, 0.99))


@pytest.fixture(scope="module")
def client():
    # dashboard on any free port: the default 8787 may be taken by another cluster on the
    # machine, and distributed's "port in use" warning is an error in this suite
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=":0")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture
def dask_sizeof_rng():
    """dask's ``sizeof`` of a pandas frame samples its object column index with numpy's
    global RNG (``dask/sizeof.py``, ``object_size``), and in-process workers share this
    process's state: restore it after tests that compute dask DataFrame partitions (before the
    suite's global-RNG guard checks it). cohortlab itself never draws from it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = trials_cohort()
    d.attrs = {}
    return d


def _numbers(r) -> dict[str, np.ndarray]:
    f = r.effects.to_frame()
    out = {"coef": r.model.params, "vcov": r.model.vcov,
           "effects": f[["estimate", "std_error", "conf_low", "conf_high"]].to_numpy(float),
           "curves": r.curves.data[["estimate", "std_error"]].to_numpy(float),
           "flow": r.flow["n"].to_numpy(float)}
    if r.weights is not None:
        out["weights"] = r.weights["value"].to_numpy(float)
    if r.switch_models is not None:
        out["switch"] = r.switch_models.to_numpy(float)
    return out


def _same(a, b, rtol: float = 1e-10) -> None:
    na, nb = _numbers(a), _numbers(b)
    assert na.keys() == nb.keys()
    for k in na:
        np.testing.assert_allclose(nb[k], na[k], rtol=rtol, atol=1e-14, err_msg=k)


@pytest.mark.parametrize("extra", [{}, PP], ids=["itt", "per_protocol"])
def test_dataframe_input_is_identical_to_the_local_engine(client, data, extra) -> None:
    local = cl.sequential_trials(data, chunk_persons=70, **KW, **extra)
    on_dask = cl.sequential_trials(data, chunk_persons=70, engine="dask", **KW, **extra)
    # a DataFrame is cut into the local engine's chunks: the same sums in the same order
    for k, v in _numbers(local).items():
        np.testing.assert_array_equal(_numbers(on_dask)[k], v, err_msg=k)
    assert on_dask.notes[0].startswith("engine: Dask, 5 partitions")
    assert on_dask.notes[1:] == local.notes


@pytest.mark.parametrize(("extra", "npart", "chunk"), [({}, 1, 20_000), (PP, 4, 25)],
                         ids=["itt-1-partition", "per_protocol-4-partitions"])
def test_dask_dataframe_partitions_give_the_same_numbers(client, data, extra, npart, chunk,
                                                        dask_sizeof_rng) -> None:
    local = cl.sequential_trials(data, **KW, **extra)
    ddf = dd.from_pandas(data.set_index("id"), npartitions=npart)
    _same(local, cl.sequential_trials(ddf, chunk_persons=chunk, engine="dask", **KW, **extra))


def test_parquet_input_on_the_workers(client, data, tmp_path) -> None:
    path = tmp_path / "pp.parquet"
    data.sample(frac=1.0, random_state=0).to_parquet(path)  # unsorted on disk
    local = cl.sequential_trials(data, **KW, **PP)
    _same(local, cl.sequential_trials(str(path), chunk_persons=40, engine="dask", **KW, **PP))


def test_bootstrap_is_identical_for_the_same_seed(client, data, dask_sizeof_rng) -> None:
    kw = dict(variance="bootstrap", n_boot=12, random_state=7, chunk_persons=100, **KW)
    local = cl.sequential_trials(data, n_jobs=1, **kw)
    on_dask = cl.sequential_trials(data, engine="dask", **kw)
    for k, v in _numbers(local).items():
        np.testing.assert_array_equal(_numbers(on_dask)[k], v, err_msg=k)
    assert "joblib's Dask backend" in on_dask.notes[-1]
    # a dask DataFrame is gathered for the resampling: the same replicates
    ddf = dd.from_pandas(data.set_index("id"), npartitions=3)
    _same(local, cl.sequential_trials(ddf, engine="dask", **kw))


def test_every_shipped_task_pickles(data) -> None:
    """The map functions (designs, weights, statistics) survive a cloudpickle round trip."""
    import cloudpickle

    from cohortlab.trials import _dask
    from cohortlab.trials._input import Columns, frame_source, to_arrays

    cols = Columns(id="id", period="period", treatment="A", outcome="Y", eligible="E",
                   censor="C", baseline=("L", "V"), varying=("L",))
    pp = to_arrays(data, cols, "sequential_trials")

    class PickledSource(_dask.DaskSource):
        def __call__(self):
            return iter(frame_source(self.parts[0], self.chunk_persons)())

        def map(self, fn):
            fn = cloudpickle.loads(cloudpickle.dumps(fn))
            return [r for p in self.parts for r in _dask._map_partition(
                cloudpickle.loads(cloudpickle.dumps(p)), fn, self.chunk_persons)]

    src = PickledSource(parts=(pp,), chunk_persons=90, n_persons=int(pp.person[-1]) + 1)
    from cohortlab.trials import sequential

    real = _dask.dask_source
    try:
        sequential.dask_source = lambda *a, **k: src  # type: ignore[attr-defined]
        r = cl.sequential_trials(data, chunk_persons=90, engine="dask", **KW, **PP)
    finally:
        sequential.dask_source = real  # type: ignore[attr-defined]
    _same(cl.sequential_trials(data, chunk_persons=90, **KW, **PP), r)


def test_partitions_must_hold_whole_persons(client, data, dask_sizeof_rng) -> None:
    ddf = dd.from_pandas(data.reset_index(drop=True), npartitions=4, sort=False)
    with pytest.raises(DataValidationError, match="more than one partition.*set_index"):
        cl.sequential_trials(ddf, engine="dask", **KW)
    with pytest.raises(DataValidationError, match="pass engine='dask'"):
        cl.sequential_trials(ddf, **KW)
    with pytest.raises(DataValidationError, match=r"column\(s\) \['Q'\]"):
        cl.sequential_trials(dd.from_pandas(data, npartitions=2), engine="dask",
                             **{**KW, "censor": "Q"})
    bad = data.assign(A=data["A"].replace(1, 2)).set_index("id")  # checked on the workers
    with pytest.raises(DataValidationError, match="treatment column 'A' must be 0/1"):
        cl.sequential_trials(dd.from_pandas(bad, npartitions=2), engine="dask", **KW)
    with pytest.raises(DataValidationError, match="engine must be one of"):
        cl.sequential_trials(data, engine="spark", **KW)


def test_bootstrap_needs_a_client(data, monkeypatch) -> None:
    from cohortlab.trials import _dask

    monkeypatch.setattr(_dask, "_client", lambda: None)
    with pytest.raises(CohortError, match="no Client is active"):
        cl.sequential_trials(data, engine="dask", variance="bootstrap", n_boot=5, **KW)


def test_missing_dask_is_a_clear_error(data, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(CohortError, match=r"pip install \"cohortlab\[dask\]\""):
        cl.sequential_trials(data, engine="dask", **KW)


def test_without_a_distributed_client_dask_runs_locally(data, monkeypatch) -> None:
    """No Client: the partitions run on dask's own local scheduler (here synchronous)."""
    import dask

    from cohortlab.trials import _dask

    monkeypatch.setattr(_dask, "_client", lambda: None)
    with dask.config.set(scheduler="sync"):
        on_dask = cl.sequential_trials(data, chunk_persons=70, engine="dask", **KW)
    local = cl.sequential_trials(data, chunk_persons=70, **KW)
    np.testing.assert_array_equal(on_dask.model.params, local.model.params)


@pytest.mark.slow
def test_worker_processes_give_the_same_numbers(data, dask_sizeof_rng) -> None:
    """Worker processes (every task and result pickled): the same numbers as locally."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster):
        for extra in ({}, PP):
            local = cl.sequential_trials(data, chunk_persons=70, **KW, **extra)
            on_dask = cl.sequential_trials(data, chunk_persons=70, engine="dask", **KW,
                                           **extra)
            for k, v in _numbers(local).items():
                np.testing.assert_array_equal(_numbers(on_dask)[k], v, err_msg=k)
            ddf = dd.from_pandas(data.set_index("id"), npartitions=3)
            _same(local, cl.sequential_trials(ddf, engine="dask", **KW, **extra))
        kw = dict(variance="bootstrap", n_boot=8, random_state=3, **KW)
        _same(cl.sequential_trials(data, **kw), cl.sequential_trials(data, engine="dask", **kw),
              rtol=0)
