"""The IPW bootstrap: cohortlab (n_jobs=1 and 2) against a plain numpy IRLS loop.

Every call runs in a fresh subprocess with one BLAS thread per process (see ``_harness.py``);
rounds are interleaved. The task: B bootstrap replicates of the IPW ATE (difference in
normalised inverse-probability-weighted means) on the ``bench_ipw`` cohort, refitting the
logistic propensity model in every replicate, plus the full-data estimate:

- ``cl.ipw(variance="bootstrap", n_boot=B, n_jobs=1)`` and ``n_jobs=2`` (two worker processes,
  each pinned to one BLAS thread);
- a plain numpy loop: for each replicate draw ``rng.integers(0, n, n)``, turn it into resample
  counts with ``np.bincount`` (the same frequency-weight trick cohortlab uses, so memory stays
  flat), and fit the logistic model by Newton-Raphson / IRLS on the count-weighted rows.

The two use different random streams, so the bootstrap SEs agree only up to Monte Carlo error
(tolerance 15% relative for B = 1000); the point estimates agree to 1e-8. The time ratio column
of the n_jobs=2 row is the measured parallel speed-up (a ratio below 1 is a speed-up).

Run: ``python benchmarks/bench_bootstrap.py [--quick] [--rows N] [--boot B] [--rounds K]``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from _harness import TIMING_HEAD, Session, Tool, machine_header, show, timing_rows
from bench_ipw import COV, make

SEED = 20261125


def cohortlab_boot(d: pd.DataFrame, n_boot: int, n_jobs: int):
    import cohortlab as cl

    e = cl.ipw(d, exposure="a", outcome="y", covariates=COV, variance="bootstrap",
               n_boot=n_boot, n_jobs=n_jobs, random_state=1)
    return {"est": e.estimate, "se": e.std_error}


def _ipw_ate(X: np.ndarray, a: np.ndarray, y: np.ndarray, f: np.ndarray) -> float:
    """Count-weighted logistic fit by Newton-Raphson, then the Hajek difference in means."""
    b = np.zeros(X.shape[1])
    for _ in range(25):
        mu = 1.0 / (1.0 + np.exp(-(X @ b)))
        step = np.linalg.solve((X * (f * mu * (1.0 - mu))[:, None]).T @ X, X.T @ (f * (a - mu)))
        b += step
        if np.max(np.abs(step)) < 1e-10:
            break
    ps = 1.0 / (1.0 + np.exp(-(X @ b)))
    w1, w0 = f * a / ps, f * (1 - a) / (1 - ps)
    return float(w1 @ y / w1.sum() - w0 @ y / w0.sum())


def numpy_boot(d: pd.DataFrame, n_boot: int):
    n = len(d)
    X = np.column_stack([np.ones(n), d[COV].to_numpy()])
    a, y = d["a"].to_numpy(dtype=float), d["y"].to_numpy(dtype=float)
    est = _ipw_ate(X, a, y, np.ones(n))
    rng = np.random.default_rng(SEED)
    reps = np.array([_ipw_ate(X, a, y, np.bincount(rng.integers(0, n, n), minlength=n)
                              .astype(float)) for _ in range(n_boot)])
    return {"est": est, "se": reps.std(ddof=1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10,000 rows, B = 100")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--boot", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=300.0,
                        help="seconds per call (default 300: B refits are a long task)")
    args = parser.parse_args()
    n = args.rows or (10_000 if args.quick else 100_000)
    b = args.boot or (100 if args.quick else 1000)
    print(machine_header(args.budget))
    print()
    tools = [Tool('cohortlab ipw(variance="bootstrap", n_jobs=1)', "bench_bootstrap:cohortlab_boot",
                  {"n_boot": b, "n_jobs": 1}, imports=["cohortlab"]),
             Tool('cohortlab ipw(variance="bootstrap", n_jobs=2)', "bench_bootstrap:cohortlab_boot",
                  {"n_boot": b, "n_jobs": 2}, imports=["cohortlab"]),
             Tool("numpy IRLS loop (count weights)", "bench_bootstrap:numpy_boot",
                  {"n_boot": b})]
    tol_se = 0.15 if b >= 1000 else 0.35
    with Session(rounds=args.rounds, budget=args.budget) as s:
        outs = s.compare(tools, make(n), name="boot")
        agree = s.agreement(outs, {"est": 1e-8, "se": tol_se}, relative=("se",),
                            label="bootstrap")
        show(f"IPW bootstrap, B = {b:,} propensity refits, {n:,} rows (se: rel diff, Monte "
             f"Carlo tolerance {tol_se:g})", TIMING_HEAD, timing_rows(outs, agree))
        print("bootstrap SEs: " + "; ".join(
            f"{o.tool.name} {o.last_ok.estimates['se'][0]:.5f}" for o in outs
            if o.last_ok is not None))
        print()
        print(s.thread_report())
        print("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(s.versions.items())))
        text, ok = s.check_report()
        print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
