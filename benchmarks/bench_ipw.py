"""IPW at scale: cohortlab vs statsmodels (logistic PS + weighted OLS with HC0), same data.

Prints one Markdown table: an ATE with its SE at 1,000,000 rows x 10 covariates, and a
1,000-replicate bootstrap that refits the propensity model in every replicate at 100,000 rows
(cohortlab only: no other Python tool offers it without a hand-written loop). The SEs differ
by design: cohortlab's default is the M-estimation sandwich that accounts for the estimated
propensity score; statsmodels' HC0 treats the weights as known (``variance="robust"`` in
cohortlab gives that one, and the table checks they agree).

Run: ``python benchmarks/bench_ipw.py [--quick]`` (``--quick``: rows / 10, 200 replicates).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_of, print_table  # noqa: E402

import cohortlab as cl  # noqa: E402

SEED = 20261125


def make(n: int, p: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(n, p))
    lin = X @ np.linspace(0.3, -0.3, p)
    a = rng.binomial(1, 1 / (1 + np.exp(-lin)))
    y = 2 * a + X.sum(axis=1) + rng.normal(size=n)
    d = pd.DataFrame(X, columns=[f"x{i}" for i in range(p)])
    return d.assign(a=a, y=y)


def statsmodels_ipw(d: pd.DataFrame, cov: list[str]) -> tuple[float, float]:
    import statsmodels.api as sm

    X = sm.add_constant(d[cov].to_numpy())
    ps = sm.Logit(d["a"].to_numpy(), X).fit(disp=0).predict(X)
    w = np.where(d["a"] == 1, 1 / ps, 1 / (1 - ps))
    fit = sm.WLS(d["y"].to_numpy(), sm.add_constant(d["a"].to_numpy()), weights=w).fit(
        cov_type="HC0")
    return float(fit.params[1]), float(fit.bse[1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = (100_000, 10_000, 200) if args.quick else (1_000_000, 100_000, 1000)
    n_big, n_boot_rows, n_boot = sizes
    cov = [f"x{i}" for i in range(10)]
    big = make(n_big)
    t_cl, est = best_of(lambda: cl.ipw(big, exposure="a", outcome="y", covariates=cov), 3)
    t_rob, rob = best_of(lambda: cl.ipw(big, exposure="a", outcome="y", covariates=cov,
                                        variance="robust"), 3)
    t_sm, (sm_est, sm_se) = best_of(lambda: statsmodels_ipw(big, cov), 3)
    small = make(n_boot_rows)
    t_boot, boot = best_of(lambda: cl.ipw(small, exposure="a", outcome="y", covariates=cov,
                                          variance="bootstrap", n_boot=n_boot, n_jobs=2,
                                          random_state=1), 1)
    rows = [
        ["ipw ATE, M-estimation SE", f"{n_big:,}", f"{t_cl:.2f}", f"{est.estimate:.4f}",
         f"{est.std_error:.5f}"],
        ["ipw ATE, robust SE (weights known)", f"{n_big:,}", f"{t_rob:.2f}",
         f"{rob.estimate:.4f}", f"{rob.std_error:.5f}"],
        ["statsmodels Logit + WLS HC0", f"{n_big:,}", f"{t_sm:.2f}", f"{sm_est:.4f}",
         f"{sm_se:.5f}"],
        [f"ipw bootstrap, {n_boot:,} PS refits, n_jobs=2", f"{n_boot_rows:,}", f"{t_boot:.2f}",
         f"{boot.estimate:.4f}", f"{boot.std_error:.5f}"],
    ]
    print_table(["task", "rows", "seconds", "estimate", "SE"], rows)
    ok = abs(rob.estimate - sm_est) < 1e-8 and abs(rob.std_error - sm_se) / sm_se < 1e-6
    print(f"robust SE equals statsmodels HC0: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
