"""Benchmark: the cost of Abadie-Imbens standard errors for matching with replacement.

Run from the repository root::

    python benchmarks/bench_match_variance.py           # 1,000,000 and 100,000 rows
    python benchmarks/bench_match_variance.py --quick   # rows / 10, a smoke run

1:1 matching with replacement on the logit of a logistic propensity score (5 covariates,
about 10% exposed), no caliper, continuous outcome. Times (best of 3):

- *match()*: the verb without an outcome (propensity model, matching, the matched cohort);
- *effect(cluster)*: the pair-clustered SE (influence function summed within matched sets);
- *effect(AI, score known)*: Abadie-Imbens (2006) SE (control reuse, within-arm matching for
  the conditional variance) without the estimated-score term (scores given as a column);
- *effect(AI)*: the default with replacement, plus the Abadie-Imbens (2016) term for the
  estimated propensity score (local covariances, the other arm matched for the imputations);
- *effect(AI, bias_adjust)*: plus the Abadie-Imbens (2011) regression bias correction.

The last column divides each effect() time by match()'s, one pass of matching. Check (exit
code 1 if it fails): the AI SE with the estimated-score term is finite and positive.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
import pandas as pd
from _harness import best_of, print_table

import cohortlab as cl
from cohortlab.causal.matching import match

SEED = 20261207
COVS = [f"x{i}" for i in range(1, 6)]


def make_data(n: int, seed: int = SEED) -> pd.DataFrame:
    """Five normal covariates, a logistic exposure (about 10%), an outcome with effect 1."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, len(COVS)))
    eta = -2.45 + x @ np.array([0.6, -0.4, 0.3, 0.2, -0.1])
    ps = 1.0 / (1.0 + np.exp(-eta))
    df = pd.DataFrame(x, columns=COVS)
    df["a"] = (rng.random(n) < ps).astype(np.int64)
    df["ps"] = ps
    df["y"] = x @ np.array([1.0, 0.5, -0.5, 0.2, 0.0]) + df["a"] + rng.standard_normal(n)
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="rows / 10 (a smoke run)")
    args = ap.parse_args(argv)
    scale = 10 if args.quick else 1
    print(f"# match variance benchmark ({time.strftime('%Y-%m-%d')}, {platform.machine()}, "
          f"Python {platform.python_version()}, cohortlab {cl.__version__}, "
          f"numpy {np.__version__})")
    print()
    rows, ok = [], True
    for n in (1_000_000 // scale, 100_000 // scale):
        df = make_data(n)
        t_m, m = best_of(lambda df=df: match(df, exposure="a", covariates=COVS, replace=True,
                                             caliper=None), 3)
        _, mk = best_of(lambda df=df: match(df, exposure="a", ps="ps", replace=True,
                                            caliper=None), 1)
        cases = [
            ("effect(cluster)", lambda m=m: m.effect("y", variance="cluster")),
            ("effect(AI, score known)", lambda mk=mk: mk.effect("y")),
            ("effect(AI)", lambda m=m: m.effect("y")),
            ("effect(AI, bias_adjust)", lambda m=m: m.effect("y", bias_adjust=True)),
        ]
        rows.append(["match()", f"{n:,}", f"{t_m:.3f}", "-", "1.00"])
        for name, fn in cases:
            t, e = best_of(fn, 3)
            ok &= bool(np.isfinite(e.std_error) and e.std_error > 0)
            rows.append([name, f"{n:,}", f"{t:.3f}", f"{e.std_error:.5f}", f"{t / t_m:.2f}"])
    print_table(["task", "rows", "seconds", "SE", "x match()"], rows)
    print("1:1 with replacement, no caliper, logit of the propensity score. Best of 3 "
          "wall-clock runs each.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
