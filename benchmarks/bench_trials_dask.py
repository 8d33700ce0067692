"""Sequential trials on Dask: the overhead of ``engine="dask"`` on one machine.

Data as in bench_trials.py: ``simulate_longitudinal(n, n_periods, random_state=1, censoring=False,
competing=False)``, eligible = untreated in the previous period, covariates V and L (frozen
at the trial start), the pooled logistic model ``arm + followup + followup^2 + trial +
trial^2 + V + L_start`` (no arm x follow-up interaction); ITT by default (``--estimands
itt per_protocol`` adds the per-protocol fit, weights with the current L).

Engines, each in a fresh child process with one BLAS thread, the same ``chunk_persons``
(so the Dask engine fits the same chunks and its coefficients must equal the local ones:
``max_abs_coef_diff``):

- ``local``: ``engine="local"`` (the default);
- ``dask threads``: ``LocalCluster(n_workers=2, threads_per_worker=1, processes=False)``,
  scheduler and workers in the child (peak memory = the child's VmHWM);
- ``dask processes``: ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``;
  peak memory = the client process's VmHWM plus each worker process's VmHWM (nannies not
  counted).

Timed: the ``sequential_trials()`` call only (it includes sending the person-period data to
the workers), after a warm-up call on the first 1,000 persons with the same engine; the
cluster's start-up and the workers' import of cohortlab are reported separately
(``startup_s``). The data are
written once to Parquet and read by the child into pandas outside the timed region.

Run: ``python benchmarks/bench_trials_dask.py [--sizes 10000x24 100000x24]
[--chunk-persons 5000] [--estimands itt]``.

Measured 2026-12-07 on the shared 2-core / 24 GiB machine: see benchmarks/README.md
(Sequential trials on Dask).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time

from _runner import _vm

HERE = os.path.dirname(os.path.abspath(__file__))
ENGINES = ("local", "dask threads", "dask processes")


def make_parquet(n: int, n_periods: int, path: str) -> None:
    import cohortlab as cl

    df = cl.simulate_longitudinal(n=n, n_periods=n_periods, random_state=1, censoring=False,
                                  competing=False, n_truth=1_000)
    df.attrs = {}
    prev = df.groupby("id")["A"].shift(1, fill_value=0)
    df["elig"] = (prev == 0).astype(int)
    df["Y"] = df["Y"].astype(int)
    df[["id", "period", "A", "Y", "elig", "V", "L"]].to_parquet(path, index=False)


def child(path: str, engine: str, estimand: str, chunk_persons: int) -> dict:
    import pandas as pd

    import cohortlab as cl

    data = pd.read_parquet(path)
    client = cluster = None
    startup = 0.0
    if engine != "local":
        from distributed import Client, LocalCluster

        t = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1,
                               processes=engine == "dask processes", dashboard_address=":0")
        client = Client(cluster)
        client.run(importlib.import_module, "cohortlab.trials._dask")  # workers' imports
        startup = time.perf_counter() - t
    kw = dict(id="id", period="period", treatment="A", outcome="Y", eligible="elig",
              covariates=["V", "L"], estimand=estimand, switch_covariates=["L"],
              arm_by_followup="none", engine="local" if engine == "local" else "dask")
    # warm-up on the first 1,000 persons (every engine): first-call costs out of the timing
    cl.sequential_trials(data[data["id"] <= data["id"].unique()[999]], chunk_persons=500, **kw)
    t = time.perf_counter()
    r = cl.sequential_trials(data, chunk_persons=chunk_persons, **kw)
    sec = time.perf_counter() - t
    peak = _vm("VmHWM")
    workers_mb = 0.0
    if client is not None and engine == "dask processes":
        workers_mb = float(sum(client.run(_vm, "VmHWM").values()))
    if client is not None:
        client.close()
        cluster.close()
    flow = r.flow.set_index("step")["n"]
    return {"seconds": sec, "startup_s": startup, "peak_MB": peak + workers_mb,
            "client_MB": peak, "coef": r.model.params.tolist(),
            "expanded": int(flow["expanded person-trial-periods"])}


def run_child(path: str, engine: str, estimand: str, chunk_persons: int,
              budget: float) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(HERE, "..", "src"), HERE])
    cmd = [sys.executable, os.path.abspath(__file__), "--child", path, engine, estimand,
           str(chunk_persons)]
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=budget)
    except subprocess.TimeoutExpired:
        return {"error": f"not run to completion (> {budget:.0f} s)"}
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"failed (exit {p.returncode}): {tail[:120]}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    head = ("size", "estimand", "engine", "seconds", "overhead", "startup_s", "peak_MB",
            "max_abs_coef_diff")
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        cells = [r["size"], r["estimand"], r["engine"], _fmt(r.get("seconds"), ".1f"),
                 _fmt(r.get("overhead"), "+.0%"), _fmt(r.get("startup_s"), ".1f"),
                 _fmt(r.get("peak_MB"), ",.0f"), _fmt(r.get("max_abs_coef_diff"), ".1e")]
        lines.append(" | ".join(cells) + (f" ({r['error']})" if r.get("error") else ""))
    return "\n".join(lines)


def _fmt(v: object, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="*", default=["10000x24", "100000x24"])
    ap.add_argument("--estimands", nargs="*", default=["itt"])
    ap.add_argument("--engines", nargs="*", default=list(ENGINES))
    ap.add_argument("--chunk-persons", type=int, default=5_000)
    ap.add_argument("--budget", type=float, default=900.0)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            n, t = (int(x) for x in size.split("x"))
            path = os.path.join(tmp, f"pp_{size}.parquet")
            make_parquet(n, t, path)
            for est in args.estimands:
                res = {e: run_child(path, e, est, args.chunk_persons, args.budget)
                       for e in args.engines}
                ref = res.get("local", {})
                for engine, r in res.items():
                    diff = (max(abs(a - b) for a, b in zip(r["coef"], ref["coef"], strict=True))
                            if "coef" in ref and "coef" in r else None)
                    over = (r["seconds"] / ref["seconds"] - 1.0
                            if "seconds" in ref and "seconds" in r else None)
                    rows.append({"size": size, "estimand": est, "engine": engine,
                                 "seconds": r.get("seconds"), "overhead": over,
                                 "startup_s": r.get("startup_s"), "peak_MB": r.get("peak_MB"),
                                 "expanded": r.get("expanded"), "max_abs_coef_diff": diff,
                                 "error": r.get("error")})
                    print(json.dumps(rows[-1]), flush=True)
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        path, engine, estimand, chunk = sys.argv[2:6]
        print(json.dumps(child(path, engine, estimand, int(chunk))))
        sys.exit(0)
    sys.exit(main())
