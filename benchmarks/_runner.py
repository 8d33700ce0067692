"""Child process of the benchmark harness: one timed call, reported as JSON.

``python benchmarks/_runner.py spec.json``. The spec names the data file, a function
``module:function`` in ``benchmarks/``, its keyword arguments, modules to import first and the
output path. Outside the timed region: imports, reading the data, one warm-up call on the first
``warmup_rows`` rows. Timed: ``function(data, **kwargs)`` once, with ``time.perf_counter``.
Reported: the seconds, the estimates (a mapping of name -> numbers), the BLAS / OpenMP pools
threadpoolctl sees (thread counts and kernel), the versions of the imported packages and the
peak resident memory (VmHWM) before and after the call.
"""

from __future__ import annotations

import importlib
import json
import sys
import time


def _vm(key: str) -> float:
    with open("/proc/self/status") as fh:
        for ln in fh:
            if ln.startswith(key + ":"):
                return float(ln.split()[1]) / 1024.0  # MB
    return float("nan")


def _versions(names):
    out = {}
    for name in names:
        top = name.split(".")[0]
        mod = sys.modules.get(top)
        v = getattr(mod, "__version__", None) if mod is not None else None
        if v is not None:
            out[{"sksurv": "scikit-survival"}.get(top, top)] = str(v)
    return out


def main(spec_path: str) -> int:
    with open(spec_path) as fh:
        spec = json.load(fh)
    sys.path.insert(0, spec["path"])
    import numpy as np
    import pandas as pd

    for name in spec.get("imports", []):
        importlib.import_module(name)
    fn = getattr(importlib.import_module(spec["module"]), spec["function"])
    path = spec["data"]
    data = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_pickle(path)
    kwargs = spec.get("kwargs", {})
    warm = spec.get("warmup_rows", 0)
    warm_note = ""
    if warm:  # on the first rows (all of them for a small data set)
        try:
            fn(data.iloc[:warm].reset_index(drop=True), **kwargs)
        except Exception as exc:  # a warm-up failure must not hide the timed call
            warm_note = f"warm-up failed: {type(exc).__name__}: {exc}"[:200]
    rss_before = _vm("VmRSS")
    t0 = time.perf_counter()
    res = fn(data, **kwargs)
    seconds = time.perf_counter() - t0
    try:
        from threadpoolctl import threadpool_info

        pools = [{k: p.get(k) for k in ("internal_api", "version", "num_threads",
                                        "threading_layer", "user_api")}
                 for p in threadpool_info()]
    except ImportError:
        pools = [{"internal_api": "threadpoolctl not installed"}]
    est = {k: np.atleast_1d(np.asarray(v, dtype=float)).ravel().tolist()
           for k, v in (res or {}).items()}
    info = {"threadpools": pools, "rss_before_mb": rss_before, "vmhwm_mb": _vm("VmHWM"),
            "versions": _versions([*spec.get("imports", []), "numpy", "pandas", "cohortlab"]),
            "warmup": warm_note}
    with open(spec["out"], "w") as fh:
        json.dump({"seconds": seconds, "estimates": est, "info": info}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
