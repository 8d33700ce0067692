"""Benchmark: ``cl.impute`` (MICE, m = 20) against scikit-learn and statsmodels.

Data: 100,000 rows x 20 columns generated once with ``np.random.default_rng(20261207)``:
12 correlated continuous columns, 4 binary 0/1, 2 categorical (4 levels), a binary exposure
and a continuous outcome; 8 columns (5 continuous, 2 binary, 1 categorical) get 10-25%
missing values at random given the exposure and the outcome.

- cohortlab: ``cl.impute(d, m=20, n_iter=10, n_jobs=2)`` (pmm / logreg / polyreg), one run.
- scikit-learn: ``IterativeImputer(sample_posterior=True, max_iter=ITER)`` (Bayesian ridge,
  normal draws; categoricals as numeric codes, so imputed codes are not levels): one
  imputation is timed; m = 20 proper imputations need 20 fits with different seeds, so the
  m = 20 figure is 20 x (10 / ITER) x that time. ITER = 10 with ``--quick``, else 2 (the
  full 10 iterations x 20 fits take tens of minutes on a loaded 2-core machine).
- statsmodels: ``MICEData`` (pmm for every column, codes as numeric): one imputation with
  ITER ``update_all`` cycles is timed, extrapolated the same way.

All runs use single-threaded BLAS (``threadpoolctl``), as cohortlab's chains do.

Also checked: the mean of the imputed values of one continuous column agrees between
cohortlab and scikit-learn within 0.05 SD (both MAR-valid models), and the cohortlab run
gives the same imputations with n_jobs = 1 and 2 on a 10,000-row slice.

``--quick`` uses 10,000 rows. No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
from _timing import print_table
from scipy.special import expit

import cohortlab as cl


def make_data(n: int, seed: int = 20261207) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    k = 12
    cov = 0.4 ** np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
    x = rng.multivariate_normal(np.zeros(k), cov, size=n)
    d = pd.DataFrame(x, columns=[f"x{j}" for j in range(k)])
    for j in range(4):
        d[f"b{j}"] = rng.binomial(1, expit(0.5 * x[:, j] - 0.2 * j))
    for j in range(2):
        lin = x[:, 4 + j][:, None] * np.array([0.0, 0.5, 1.0, 1.5])
        p = np.exp(lin) / np.exp(lin).sum(axis=1, keepdims=True)
        d[f"c{j}"] = pd.Categorical((rng.random(n)[:, None] > p.cumsum(axis=1)).sum(axis=1)
                                    .clip(0, 3).astype(str))
    d["a"] = rng.binomial(1, expit(-0.5 + 0.4 * x[:, 0] + 0.3 * d["b0"]))
    d["y"] = x[:, :4].sum(axis=1) + d["a"] + rng.normal(size=n)
    for j, col in enumerate(["x0", "x1", "x2", "x3", "x4", "b0", "b1", "c0"]):
        p_miss = expit(-2.0 + 0.15 * j + 0.5 * d["y"] / d["y"].std() - 0.3 * d["a"])
        d.loc[rng.random(n) < p_miss, col] = np.nan
    return d


def run_cohortlab(d: pd.DataFrame, m: int, n_jobs: int) -> tuple[float, cl.ImputedData]:
    t0 = time.perf_counter()
    imp = cl.impute(d, m=m, n_iter=10, n_jobs=n_jobs, random_state=1)
    return time.perf_counter() - t0, imp


def numeric_codes(d: pd.DataFrame) -> pd.DataFrame:
    out = d.copy()
    for c in ("c0", "c1"):
        out[c] = out[c].cat.codes.astype(float).where(out[c].notna())
    return out


def run_sklearn(d: pd.DataFrame, n_fits: int, n_iter: int) -> tuple[float, np.ndarray]:
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    x = numeric_codes(d).to_numpy(dtype=float)
    t0 = time.perf_counter()
    for s in range(n_fits):
        filled = IterativeImputer(sample_posterior=True, max_iter=n_iter,
                                  random_state=s).fit_transform(x)
    return (time.perf_counter() - t0) / n_fits, filled


def run_statsmodels(d: pd.DataFrame, n_iter: int) -> float:
    from statsmodels.imputation.mice import MICEData

    x = numeric_codes(d)
    t0 = time.perf_counter()
    md = MICEData(x)
    for _ in range(n_iter):
        md.update_all()
    return time.perf_counter() - t0


def main() -> int:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _main()


def _main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--full", action="store_true", help="run sklearn's 20 fits")
    ap.add_argument("--no-statsmodels", action="store_true")
    args = ap.parse_args()
    n = 10_000 if args.quick else 100_000
    d = make_data(n)
    print(f"{n:,} rows x {d.shape[1]} columns; {int(d.isna().any(axis=1).sum()):,} incomplete "
          f"rows; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}\n")
    rows = []
    t_cl, imp = run_cohortlab(d, 20, 2)
    rows.append(["cohortlab impute (pmm/logreg/polyreg), n_jobs=2", f"{t_cl:.1f}", "20",
                 f"{t_cl:.1f}"])
    t_cl1, _ = run_cohortlab(d, 2, 1)
    rows.append(["cohortlab impute, m=2, n_jobs=1", f"{t_cl1:.1f}", "2",
                 f"{t_cl1 * 10:.1f}"])
    it = 10 if args.quick else 2
    t_sk, filled = run_sklearn(d, 20 if args.full else 1, it)
    rows.append([f"sklearn IterativeImputer(sample_posterior=True), {it} iterations",
                 f"{t_sk:.1f}", "1", f"{20 * t_sk * 10 / it:.1f}"])
    if not args.no_statsmodels:
        t_sm = run_statsmodels(d, it)
        rows.append([f"statsmodels MICEData ({it} update_all)", f"{t_sm:.1f}",
                     "1", f"{20 * t_sm * 10 / it:.1f}"])
    print_table(["method", "seconds", "imputations", "seconds for m = 20 (est.)"], rows)
    # checks
    col = list(d.columns).index("x0")
    miss = d["x0"].isna().to_numpy()
    ours = imp.imputations["x0"].mean()
    theirs = filled[miss, col].mean()
    sd = d["x0"].std()
    print(f"mean imputed x0: cohortlab {ours:.4f}, sklearn {theirs:.4f} (SD {sd:.3f})")
    ok = abs(ours - theirs) < 0.05 * sd
    small = d.iloc[:10_000]
    a = cl.impute(small, m=4, n_iter=3, n_jobs=1, random_state=3)
    b = cl.impute(small, m=4, n_iter=3, n_jobs=2, random_state=3)
    same = all(np.array_equal(a.imputations[c], b.imputations[c]) for c in a.imputations)
    print(f"same imputations with n_jobs=1 and 2: {same}")
    return 0 if ok and same else 1


if __name__ == "__main__":
    sys.exit(main())
