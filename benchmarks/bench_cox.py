"""Cox and Fine-Gray at scale: cohortlab vs lifelines, statsmodels, scikit-survival, comprisk, R.

Every call runs in a fresh subprocess with one BLAS thread (see ``_harness.py``); rounds are
interleaved across tools; a tool over the time budget is shown as not run, never extrapolated.
One simulated cohort per size: 11 standard-normal covariates, log-HRs ``linspace(-0.3, 0.3,
11)``, exponential event times, uniform censoring (~56% events), times rounded up to 3 decimals
(many ties, so Efron's correction matters); for Fine-Gray a competing cause (codes 0/1/2).

1. Efron Cox fit, coefficients + model SE: ``cl.cox``, lifelines ``CoxPHFitter``, statsmodels
   ``PHReg(ties="efron")``, scikit-survival ``CoxPHSurvivalAnalysis(ties="efron")`` (no SE),
   R ``survival::coxph``.
2. Robust (dfbeta sandwich) SE, at increasing sizes: ``cl.cox(robust=True)``, lifelines
   ``CoxPHFitter.fit(robust=True)``, R ``coxph(robust = TRUE)``.
3. Fine-Gray for cause 1 with robust SE, at increasing sizes: ``cl.fine_gray`` (Breslow and
   Efron ties), comprisk ``FineGrayRegression(robust_se=True)`` (Breslow, cmprsk parity),
   R ``cmprsk::crr`` (Breslow) and R ``finegray`` + ``coxph(cluster = id)`` (Efron). Breslow
   tools are compared with cohortlab's Breslow fit, Efron ones with its Efron fit. A last row
   times ``cl.fine_gray`` with case weights ``w`` ~ U(0.5, 3) (comprisk and crr take none), and
   the comprisk / weighted-cohortlab per-round ratio is printed under the table.

Run: ``python benchmarks/bench_cox.py [--quick] [--rounds K] [--tables 1,2,3]``; exit 1 if an
agreement check fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np
import pandas as pd
from _harness import TIMING_HEAD, Session, Tool, machine_header, show, timing_rows

SEED = 20261125
P = 11
BETA = np.linspace(-0.3, 0.3, P)
COV = [f"x{i}" for i in range(P)]
TOL = {"coef": 1e-4, "se": 1e-4}
RHS = 'rhs <- paste(grep("^x", names(d), value = TRUE), collapse = " + ")\n'


def make(n: int, competing: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(n, P))
    t = rng.exponential(np.exp(-X @ BETA))
    code = np.ones(n, dtype=np.int64)
    if competing:  # cause 2: half the baseline hazard, the effects reversed
        t2 = rng.exponential(2 * np.exp(-X @ BETA[::-1]))
        code, t = np.where(t2 < t, 2, 1), np.minimum(t, t2)
    c = rng.uniform(0, 2.0, n)
    d = pd.DataFrame(X, columns=COV)
    d = d.assign(time=np.ceil(np.minimum(t, c) * 1000) / 1000, event=np.where(t <= c, code, 0))
    if competing:  # case weights for the weighted Fine-Gray row (drawn last: nothing else moves)
        d["w"] = rng.uniform(0.5, 3.0, n)
    return d


# ---- the timed calls (run inside the child by _runner.py) -------------------------------------


def cohortlab_cox(d: pd.DataFrame, robust: bool = False):
    import cohortlab as cl

    f = cl.cox(d, time="time", event="event", covariates=COV, robust=robust)
    return {"coef": f.params, "se": f.std_errors}


def cohortlab_fg(d: pd.DataFrame, ties: str = "efron", weighted: bool = False):
    import cohortlab as cl

    f = cl.fine_gray(d, time="time", event="event", cause=1, covariates=COV, ties=ties,
                     weights="w" if weighted else None)
    return {"coef": f.params, "se": f.std_errors}


def lifelines_cox(d: pd.DataFrame, robust: bool = False):
    from lifelines import CoxPHFitter

    f = CoxPHFitter().fit(d, "time", "event", robust=robust)  # Efron ties
    return {"coef": f.params_.to_numpy(), "se": f.standard_errors_.to_numpy()}


def statsmodels_cox(d: pd.DataFrame):
    from statsmodels.duration.hazard_regression import PHReg

    f = PHReg(d["time"].to_numpy(), d[COV].to_numpy(), status=d["event"].to_numpy(),
              ties="efron").fit()
    return {"coef": f.params, "se": f.bse}


def sksurv_cox(d: pd.DataFrame):
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.util import Surv

    y = Surv.from_arrays(d["event"].to_numpy() == 1, d["time"].to_numpy())
    return {"coef": CoxPHSurvivalAnalysis(ties="efron").fit(d[COV].to_numpy(), y).coef_}


def comprisk_fg(d: pd.DataFrame):
    from comprisk import FineGrayRegression, Surv

    y = Surv.from_arrays(event=d["event"].to_numpy(), time=d["time"].to_numpy())
    f = FineGrayRegression(cause=1, robust_se=True).fit(d[COV].to_numpy(), y)
    return {"coef": f.coef_, "se": f.se_}


R_LIST = "list(coef = coef(fit), se = sqrt(diag(fit$var)))"


def tools_efron() -> list[Tool]:
    return [
        Tool("cohortlab cl.cox", "bench_cox:cohortlab_cox", imports=["cohortlab"]),
        Tool("lifelines CoxPHFitter", "bench_cox:lifelines_cox", imports=["lifelines"]),
        Tool('statsmodels PHReg(ties="efron")', "bench_cox:statsmodels_cox",
             imports=["statsmodels.duration.hazard_regression"]),
        Tool('scikit-survival CoxPHSurvivalAnalysis(ties="efron") (no SE)',
             "bench_cox:sksurv_cox", imports=["sksurv.linear_model"]),
        Tool("R survival::coxph", r=f"fit <- coxph(f, data = d, ties = 'efron'); {R_LIST}",
             r_setup="suppressMessages(library(survival))\n" + RHS
             + 'f <- as.formula(paste("Surv(time, event) ~", rhs))'),
    ]


def tools_robust() -> list[Tool]:
    return [
        Tool("cohortlab cl.cox(robust=True)", "bench_cox:cohortlab_cox", {"robust": True},
             imports=["cohortlab"]),
        Tool("lifelines CoxPHFitter(robust=True)", "bench_cox:lifelines_cox", {"robust": True},
             imports=["lifelines"], skip_check=("se",)),
        Tool("R coxph(robust = TRUE)",
             r=f"fit <- coxph(f, data = d, ties = 'efron', robust = TRUE); {R_LIST}",
             r_setup="suppressMessages(library(survival))\n" + RHS
             + 'f <- as.formula(paste("Surv(time, event) ~", rhs))'),
    ]


def tools_fg() -> list[Tool]:
    return [
        Tool('cohortlab cl.fine_gray(ties="breslow")', "bench_cox:cohortlab_fg",
             {"ties": "breslow"}, imports=["cohortlab"]),
        Tool("comprisk FineGrayRegression(robust_se=True) (Breslow)", "bench_cox:comprisk_fg",
             imports=["comprisk"]),
        Tool("R cmprsk::crr (Breslow)",
             r="fit <- crr(d$time, d$event, as.matrix(d[xs]), failcode = 1, cencode = 0)\n"
               "list(coef = fit$coef, se = sqrt(diag(fit$var)))",
             r_setup="suppressMessages(library(cmprsk))\n"
                     'xs <- grep("^x", names(d), value = TRUE)'),
        Tool("cohortlab cl.fine_gray (Efron)", "bench_cox:cohortlab_fg", imports=["cohortlab"]),
        Tool("R finegray + coxph(cluster = id) (Efron)",
             r="fg <- finegray(Surv(time, ev) ~ ., data = data.frame(d[c('time', 'id', xs)], "
               "ev = factor(d$event, 0:2)), etype = '1', id = id)\n"
               "fit <- coxph(f, data = fg, weights = fgwt, cluster = id, ties = 'efron')\n"
               + R_LIST, max_n=10_000,
             max_n_reason="finegray expands the data (1.6M rows at 10,000; ~25M at 100,000)",
             r_setup="suppressMessages(library(survival))\n" + RHS
             + 'xs <- grep("^x", names(d), value = TRUE); d$id <- seq_len(nrow(d))\n'
             'f <- as.formula(paste("Surv(fgstart, fgstop, fgstatus) ~", rhs))'),
        # comprisk and crr take no case weights: this row is timed against them, not compared
        Tool('cohortlab cl.fine_gray(ties="breslow", weights="w")', "bench_cox:cohortlab_fg",
             {"ties": "breslow", "weighted": True}, imports=["cohortlab"]),
    ]


def _per_round(n: int, peer, ours) -> str:
    """``n: peer / ours`` as the median of the per-round time ratios ("-" if either did not run)."""
    rs = [a.seconds / b.seconds for a, b in zip(peer.runs, ours.runs, strict=False)
          if a.seconds and b.seconds]
    return f"{n:,} rows {statistics.median(rs):.2f}x" if rs else f"{n:,} rows -"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None, help="seconds per call")
    parser.add_argument("--tables", default="1,2,3",
                        help="which tables to run, e.g. 3 (Fine-Gray only)")
    args = parser.parse_args()
    tables = {int(t) for t in args.tables.split(",")}
    if args.quick:
        n_efron, robust_sizes, fg_sizes = 20_000, (2_000, 5_000), (2_000, 5_000)
    else:
        n_efron, robust_sizes, fg_sizes = 1_000_000, (10_000, 30_000, 100_000, 1_000_000), \
            (10_000, 100_000, 1_000_000)
    print(machine_header(args.budget))
    print()
    head = TIMING_HEAD
    with Session(rounds=args.rounds, budget=args.budget) as s:
        if tables & {1, 2}:
            big = make(n_efron)
            print(f"data: {n_efron:,} rows x {P} covariates, events {big['event'].mean():.1%}, "
                  f"{big['time'].nunique():,} distinct times")
            print()
        if 1 in tables:
            outs = s.compare(tools_efron(), big, name="cox")
            agree = s.agreement(outs, TOL, relative=("se",), label=f"Efron n={n_efron}")
            show("Table 1. Efron Cox fit, coefficients and model SE (coef: max abs diff; se: "
                 "max rel diff; vs cohortlab on the same rows)", head, timing_rows(outs, agree))
        if 2 in tables:
            rows = []
            for n in robust_sizes:
                d = big.iloc[:n].reset_index(drop=True) if n <= n_efron else make(n)
                outs = s.compare(tools_robust(), d, name=f"cox{n}")
                agree = s.agreement(outs, TOL, relative=("se",), label=f"robust n={n}")
                rows += timing_rows(outs, agree)
            show("Table 2. Cox with robust (dfbeta sandwich) SE; a tool over the budget at one "
                 "size is not started at larger ones. lifelines' robust SE is not checked: it "
                 "differs from R's and cohortlab's by ~3e-4 relative", head, rows)
        if 3 in tables:
            rows, weighted = [], []
            for n in fg_sizes:
                d = make(n, competing=True)
                d.insert(0, "id", np.arange(1, n + 1))
                outs = s.compare(tools_fg(), d, name=f"fg{n}")
                breslow = s.agreement(outs[:3], {"coef": 1e-4, "se": 5e-3}, relative=("se",),
                                      label=f"Fine-Gray Breslow n={n}")
                efron = s.agreement([outs[3], outs[4]], TOL, relative=("se",),
                                    label=f"Fine-Gray Efron n={n}")
                r = timing_rows(outs, {**breslow, **efron})
                r[3][-1] = "(reference for the Efron row)"
                r[5][-1] = "(weighted: not compared, comprisk and crr take no weights)"
                rows += r
                weighted.append(_per_round(n, outs[1], outs[5]))
            show("Table 3. Fine-Gray, cause 1, robust SE (Breslow rows vs cohortlab Breslow, "
                 "Efron rows vs cohortlab Efron; time ratios vs cohortlab Breslow; crr's and "
                 "comprisk's SE also account for estimating the censoring curve, tolerance "
                 "5e-3 rel)", head, rows)
            print("comprisk (no weights) / cohortlab Breslow with case weights, median of "
                  "per-round ratios: " + "; ".join(weighted))
            print()
        print(s.thread_report())
        print("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(s.versions.items())))
        text, ok = s.check_report()
        print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
