"""MSM-IPTW at scale: cohortlab ``msm`` vs R (glm weights + glm MSM + sandwich::vcovCL).

Every call runs in a fresh subprocess with one BLAS thread (see ``_harness.py``); rounds are
interleaved. Synthetic person-period data: ``n`` persons x 24 periods (2.4 million
person-periods at the default 100,000 persons), a time-varying confounder ``L`` affected by
past treatment, treatment ``A`` (persistent), baseline ``V``, a rare outcome and rare
censoring (so nearly every person has all 24 rows). Both tools fit the same four pooled
logistic weight models (treatment and censoring, numerator and denominator), the stabilised
weights' cumulative products within person, the weighted pooled logistic MSM
``Y ~ A + cum_A + period + I(period^2) + V`` on the uncensored rows, and its cluster-robust
(by person, HC0 x G/(G-1)) standard errors. cohortlab also returns the standardised
always/never risk curves with delta-method intervals (``variance="robust"``); R does not.

Run: ``python benchmarks/bench_msm.py [--quick] [--persons N] [--rounds K]``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from _harness import TIMING_HEAD, Session, Tool, machine_header, show, timing_rows

SEED = 20261207
PERIODS = 24
TERMS = "A + cum_A + period + I(period**2) + V"


def make(n: int, k: int = PERIODS) -> pd.DataFrame:
    """Person-period data, sorted by id and period (vectorised over persons)."""
    rng = np.random.default_rng(SEED)
    v = rng.binomial(1, 0.4, n).astype(float)
    alive = np.ones(n, dtype=bool)
    l_prev, a_prev, cum = np.zeros(n), np.zeros(n), np.zeros(n)
    parts = []
    for t in range(k):
        idx = np.flatnonzero(alive)
        m = idx.size
        lk = 0.6 * l_prev[idx] - 0.6 * a_prev[idx] + 0.3 * v[idx] + rng.normal(size=m)
        ak = rng.binomial(1, 1 / (1 + np.exp(-(-1.5 + 0.8 * lk + 2.0 * a_prev[idx]
                                                + 0.3 * v[idx])))).astype(float)
        ck = rng.binomial(1, 1 / (1 + np.exp(-(-6.0 + 0.5 * lk)))).astype(float)
        yk = rng.binomial(1, 1 / (1 + np.exp(-(-6.0 + 0.5 * lk - 0.5 * ak + 0.4 * v[idx]))))
        yk = np.where(ck == 1, np.nan, yk.astype(float))
        cum[idx] += ak
        parts.append(pd.DataFrame({"id": idx, "period": t, "V": v[idx], "L": lk, "A": ak,
                                   "C": ck, "Y": yk, "prev_A": a_prev[idx],
                                   "cum_A": cum[idx].copy()}))
        l_prev[idx], a_prev[idx] = lk, ak
        alive[idx[(ck == 1) | (yk == 1)]] = False
    return (pd.concat(parts, ignore_index=True).sort_values(["id", "period"], kind="stable")
            .reset_index(drop=True))


def cohortlab_msm(d: pd.DataFrame):
    from cohortlab.longitudinal import msm

    r = msm(d, id="id", period="period", treatment="A", outcome="Y", covariates=["L", "V"],
            baseline=["V"], censor="C", msm_terms=TERMS, variance="robust")
    return {"coef": r.model.params, "se": r.model.std_errors}


R_SETUP = "suppressMessages(library(sandwich))"
R_CALL = """
d <- d[order(d$id, d$period), ]
p_obs <- function(fit, y) { p <- fitted(fit); ifelse(y == 1, p, 1 - p) }
den <- glm(A ~ prev_A + period + I(period^2) + L + V, family = binomial, data = d)
num <- glm(A ~ prev_A + period + I(period^2) + V, family = binomial, data = d)
cden <- glm(C ~ A + prev_A + period + I(period^2) + L + V, family = binomial, data = d)
cnum <- glm(C ~ A + prev_A + period + I(period^2) + V, family = binomial, data = d)
f <- p_obs(num, d$A) / p_obs(den, d$A) * p_obs(cnum, 0 * d$C) / p_obs(cden, 0 * d$C)
d$sw <- ave(f, d$id, FUN = cumprod)
u <- d[d$C == 0, ]
fit <- glm(Y ~ A + cum_A + period + I(period^2) + V, family = quasibinomial, weights = sw,
           data = u)
list(coef = unname(coef(fit)),
     se = unname(sqrt(diag(vcovCL(fit, cluster = ~id, type = "HC0")))))
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10,000 persons")
    parser.add_argument("--persons", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per call")
    parser.add_argument("--no-r", action="store_true", help="cohortlab only")
    args = parser.parse_args()
    n = args.persons or (10_000 if args.quick else 100_000)
    data = make(n)
    print(machine_header(args.budget))
    print()
    tools = [Tool("cohortlab msm(ci='sandwich')", "bench_msm:cohortlab_msm",
                  imports=["cohortlab.longitudinal"])]
    if not args.no_r:
        tools.append(Tool("R glm x 5 + ave(cumprod) + sandwich::vcovCL", r=R_CALL,
                          r_setup=R_SETUP))
    with Session(rounds=args.rounds, budget=args.budget) as s:
        outs = s.compare(tools, data, name="msm")
        agree = s.agreement(outs, {"coef": 1e-6, "se": 1e-5}, relative=("se",), label="MSM")
        show(f"MSM-IPTW at {n:,} persons x {PERIODS} periods = {len(data):,} person-periods "
             "(coef: abs diff; se: rel diff vs cohortlab)", TIMING_HEAD,
             timing_rows(outs, agree))
        print()
        print(s.thread_report())
        print("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(s.versions.items())))
        text, ok = s.check_report()
        print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
