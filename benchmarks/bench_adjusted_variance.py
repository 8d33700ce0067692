"""Benchmark: the cost of adjusted_survival's variances with the nuisance models estimated.

Run from the repository root::

    python benchmarks/bench_adjusted_variance.py           # 1,000,000 and 100,000 rows
    python benchmarks/bench_adjusted_variance.py --quick   # rows / 10, a smoke run

Survival data with a logistic exposure (3 covariates), a proportional-hazards outcome and
uniform censoring; curves on a grid of 50 times (``times=``) and on the default grid (every
distinct event time, at most 500). Times (one run each; the machine is shared):

- *ipw, robust*: weighted Kaplan-Meier per arm with the known-weights IJ variance (O(n log n));
- *ipw, mestimation*: the default, the estimated propensity score accounted for: one pass over
  subjects x grid times (the curves' influence values), plus the propensity model's;
- *gformula, influence_function*: the standardised Cox model with its influence-function SE
  (two passes over subjects x grid times);
- *rmst(tau)*: the RMST of the mestimation curves: one more pass.

Check (exit code 1 if it fails): every SE is finite and positive.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings

import numpy as np
import pandas as pd
from _harness import print_table

import cohortlab as cl

SEED = 20261207


def make_data(n: int, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    a = (rng.random(n) < 1 / (1 + np.exp(-(-0.3 + x @ np.array([0.6, -0.4, 0.3]))))).astype(int)
    rate = 0.1 * np.exp(-0.5 * a + x @ np.array([0.5, 0.3, -0.2]))
    t = rng.exponential(1 / rate)
    c = rng.uniform(0, 15, n)
    df = pd.DataFrame(x, columns=["x1", "x2", "x3"])
    df["a"], df["time"], df["dead"] = a, np.round(np.minimum(t, c), 3), (t <= c).astype(int)
    return df


def _timed(fn):  # noqa: ANN001, ANN202
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="rows / 10 (a smoke run)")
    args = ap.parse_args(argv)
    scale = 10 if args.quick else 1
    print(f"# adjusted_survival variance benchmark ({time.strftime('%Y-%m-%d')}, "
          f"{platform.machine()}, Python {platform.python_version()}, cohortlab "
          f"{cl.__version__}, numpy {np.__version__})")
    print()
    rows, ok = [], True
    for n in (1_000_000 // scale, 100_000 // scale):
        df = make_data(n)
        for grid_name, times in (("50 times", list(np.linspace(0.2, 10, 50))),
                                 ("default", None)):
            kw = dict(time="time", event="dead", exposure="a", covariates=["x1", "x2", "x3"],
                      times=times)
            base = None
            for name, method, variance in (("ipw, robust", "ipw", "robust"),
                                           ("ipw, mestimation", "ipw", "mestimation"),
                                           ("gformula, influence_function", "gformula",
                                            "influence_function")):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    sec, curves = _timed(lambda m=method, v=variance, df=df, kw=kw:
                                         cl.adjusted_survival(df, **kw, method=m, variance=v))
                base = sec if base is None else base
                se = curves.to_frame()["std_error"].to_numpy()
                ok &= bool(np.all(np.isfinite(se)) and np.nanmax(se) > 0)
                rows.append([name, f"{n:,}", grid_name, f"{sec:.2f}", f"{sec / base:.2f}"])
                if variance == "mestimation":
                    sec_r, _ = _timed(lambda c=curves: c.rmst(5.0))
                    rows.append(["  + rmst(5)", f"{n:,}", grid_name, f"{sec_r:.2f}", "-"])
    print_table(["task", "rows", "grid", "seconds", "x ipw robust"], rows)
    print("One wall-clock run each (propensity / Cox fits included).")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
