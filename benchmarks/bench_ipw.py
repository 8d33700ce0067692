"""IPW at scale: cohortlab vs statsmodels (logistic PS + weighted OLS with HC0), same data.

Every call runs in a fresh subprocess with one BLAS thread (see ``_harness.py``); rounds are
interleaved. Synthetic cohort: 10 normal covariates, logistic exposure, linear outcome, true
ATE 2. Tools: ``cl.ipw(variance="robust")`` (weights treated as known: the like-for-like peer
of statsmodels' HC0), statsmodels ``Logit`` then ``WLS(cov_type="HC0")``, and cohortlab's
default ``cl.ipw`` with the M-estimation sandwich that accounts for the estimated propensity
score (a different SE by design, so only its estimate is checked). The bootstrap comparison is
in ``bench_bootstrap.py``.

Run: ``python benchmarks/bench_ipw.py [--quick] [--rows N] [--rounds K]``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from _harness import TIMING_HEAD, Session, Tool, machine_header, show, timing_rows

SEED = 20261125
P = 10
COV = [f"x{i}" for i in range(P)]


def make(n: int, p: int = P) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(n, p))
    lin = X @ np.linspace(0.3, -0.3, p)
    a = rng.binomial(1, 1 / (1 + np.exp(-lin)))
    y = 2 * a + X.sum(axis=1) + rng.normal(size=n)
    d = pd.DataFrame(X, columns=[f"x{i}" for i in range(p)])
    return d.assign(a=a, y=y)


def cohortlab_ipw(d: pd.DataFrame, variance: str | None = None):
    import cohortlab as cl

    e = cl.ipw(d, exposure="a", outcome="y", covariates=COV, variance=variance)
    return {"est": e.estimate, "se": e.std_error}


def statsmodels_ipw(d: pd.DataFrame):
    import statsmodels.api as sm

    X = sm.add_constant(d[COV].to_numpy())
    ps = sm.Logit(d["a"].to_numpy(), X).fit(disp=0).predict(X)
    w = np.where(d["a"] == 1, 1 / ps, 1 / (1 - ps))
    fit = sm.WLS(d["y"].to_numpy(), sm.add_constant(d["a"].to_numpy()), weights=w).fit(
        cov_type="HC0")
    return {"est": fit.params[1], "se": fit.bse[1]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="50,000 rows")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None, help="seconds per call")
    args = parser.parse_args()
    n = args.rows or (50_000 if args.quick else 1_000_000)
    print(machine_header(args.budget))
    print()
    tools = [Tool('cohortlab ipw(variance="robust")', "bench_ipw:cohortlab_ipw",
                  {"variance": "robust"}, imports=["cohortlab"]),
             Tool("statsmodels Logit + WLS(cov_type='HC0')", "bench_ipw:statsmodels_ipw",
                  imports=["statsmodels.api"]),
             Tool("cohortlab ipw (M-estimation SE, default)", "bench_ipw:cohortlab_ipw",
                  imports=["cohortlab"], skip_check=("se",))]
    with Session(rounds=args.rounds, budget=args.budget) as s:
        outs = s.compare(tools, make(n), name="ipw")
        agree = s.agreement(outs, {"est": 1e-8, "se": 1e-6}, relative=("se",), label="IPW")
        show(f"IPW ATE at {n:,} rows x {P} covariates (est: abs diff; se: rel diff vs "
             "cohortlab robust)", TIMING_HEAD, timing_rows(outs, agree))
        print("SEs: " + "; ".join(f"{o.tool.name} {o.last_ok.estimates['se'][0]:.5f}"
                                  for o in outs if o.last_ok is not None))
        print()
        print(s.thread_report())
        print("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(s.versions.items())))
        text, ok = s.check_report()
        print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
