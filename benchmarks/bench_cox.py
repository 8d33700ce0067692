"""Cox regression at scale: cohortlab vs lifelines, statsmodels, scikit-survival and R, same data.

Prints three Markdown tables on one simulated cohort (11 standard-normal covariates, true
log-HRs ``linspace(-0.3, 0.3, 11)``, exponential event times, uniform censoring, ~56% events,
times rounded up to 3 decimals so there are many ties):

1. Efron Cox fit (coefficients and model SE) at 1,000,000 rows: ``cl.cox``, lifelines
   ``CoxPHFitter``, statsmodels ``PHReg(ties="efron")``, R ``coxph``; scikit-survival
   ``CoxPHSurvivalAnalysis(ties="efron")`` is skipped above 200,000 rows and run at 100,000
   instead (it gives no SE). Then the peak memory of the cohortlab fit, in a fresh subprocess.
2. The robust (dfbeta sandwich) variance: ``cl.cox(robust=True)`` at 1,000,000 rows; lifelines
   and R ``coxph(robust=TRUE)`` only at 10,000 and 20,000 rows, with their 1,000,000-row time
   extrapolated as ``t(20,000) * (n / 20,000)^2`` (labelled; not measured).
3. Fine-Gray (a competing cause, event codes 0/1/2): ``cl.fine_gray`` at 1,000,000 and 10,000
   rows; R ``cmprsk::crr`` (Breslow ties, compared with cohortlab's Breslow fit) and
   ``finegray`` + ``coxph`` (Efron) at 10,000 rows.

R runs through ``Rscript`` on a CSV written once per data set; only the fitting call is timed,
inside R with ``system.time``. Times are wall clock, best of 3, or a single run when the first
run takes over 60 s (``runs`` says which). Differences are max absolute differences over the 11
coefficients / SEs against cohortlab on the same rows. Self-check (exit 1 if it fails): the Efron
coefficients of lifelines, statsmodels and R agree with cohortlab's to 1e-4.

Run: ``python benchmarks/bench_cox.py [--quick]`` (``--quick``: every size / 10).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from _timing import (  # noqa: E402
    RSCRIPT,
    print_table,
    r_runs_label,
    run_r,
    timed_runs,
)

import cohortlab as cl  # noqa: E402

SEED = 20261125
P = 11
BETA = np.linspace(-0.3, 0.3, P)
COV = [f"x{i}" for i in range(P)]
SLOW_S = 60.0  # a first run slower than this is not repeated
SKSURV_MAX, SKSURV_N = 200_000, 100_000
TOL = 1e-4
HEAD = ["tool", "rows", "seconds", "runs", "coef x0", "SE x0", "max abs dcoef", "max abs dSE"]

R_HEAD = r"""
suppressMessages({library(survival); library(data.table)})
d <- as.data.frame(fread(commandArgs(TRUE)[1]))
xs <- grep("^x", names(d), value = TRUE)
rhs <- paste(xs, collapse = " + ")
best <- function(f) {
  ts <- c()
  for (i in 1:3) {
    ts <- c(ts, system.time(res <- f())[["elapsed"]])
    if (ts[i] > 60) break
  }
  cat("TIME", min(ts), length(ts), "\n")
  res
}
report <- function(b, v) cat("COEF", sprintf("%.17g", b), "\nSE", sprintf("%.17g", sqrt(diag(v))),
                             "\n")
"""
R_TASKS = {
    "efron": """f <- as.formula(paste("Surv(time, event) ~", rhs))
fit <- best(function() coxph(f, data = d, ties = "efron")); report(coef(fit), fit$var)""",
    "robust": """f <- as.formula(paste("Surv(time, event) ~", rhs))
fit <- best(function() coxph(f, data = d, ties = "efron", robust = TRUE))
report(coef(fit), fit$var)""",
    "crr": """suppressMessages(library(cmprsk))
fit <- best(function() crr(d$time, d$event, as.matrix(d[xs]), failcode = 1, cencode = 0))
report(fit$coef, fit$var)""",
    "finegray": """d$id <- seq_len(nrow(d)); d$ev <- factor(d$event, 0:2)
f <- as.formula(paste("Surv(fgstart, fgstop, fgstatus) ~", rhs))
fit <- best(function() {
  fg <- finegray(Surv(time, ev) ~ ., data = d[c("time", "ev", "id", xs)], etype = "1", id = id)
  coxph(f, data = fg, weights = fgwt, cluster = id, ties = "efron")
})
report(coef(fit), fit$var)""",
}

MEMORY = """
import resource, sys, tracemalloc
sys.path.insert(0, {here!r})
from bench_cox import COV, make
import cohortlab as cl
d = make({n})
tracemalloc.start()
cl.cox(d, time="time", event="event", covariates=COV)
peak = tracemalloc.get_traced_memory()[1]
print(d.memory_usage(deep=True).sum(), peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


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
    return d.assign(time=np.ceil(np.minimum(t, c) * 1000) / 1000, event=np.where(t <= c, code, 0))


def timed(fn):
    """Best of 3 wall-clock runs, or 1 run when the first takes over SLOW_S seconds."""
    t, runs, res = timed_runs(fn, SLOW_S)
    return (t, runs, *res)


def cohortlab_cox(d: pd.DataFrame, **kw):
    f = cl.cox(d, time="time", event="event", covariates=COV, **kw)
    return f.params, f.std_errors


def cohortlab_fg(d: pd.DataFrame, ties: str = "efron"):
    f = cl.fine_gray(d, time="time", event="event", cause=1, covariates=COV, ties=ties)
    return f.params, f.std_errors


def lifelines_cox(d: pd.DataFrame, robust: bool = False):
    from lifelines import CoxPHFitter

    f = CoxPHFitter().fit(d, "time", "event", robust=robust)  # Efron ties
    return f.params_.to_numpy(), f.standard_errors_.to_numpy()


def statsmodels_cox(d: pd.DataFrame):
    from statsmodels.duration.hazard_regression import PHReg

    f = PHReg(d["time"].to_numpy(), d[COV].to_numpy(), status=d["event"].to_numpy(),
              ties="efron").fit()
    return f.params, f.bse


def sksurv_cox(d: pd.DataFrame):
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.util import Surv

    y = Surv.from_arrays(d["event"].to_numpy() == 1, d["time"].to_numpy())
    return CoxPHSurvivalAnalysis(ties="efron").fit(d[COV].to_numpy(), y).coef_, None


def r_fit(task: str, csv: str, tmp: str):
    """Run one R task on ``csv``; (seconds, runs, coef, SE), or None if Rscript is missing."""
    val = run_r(R_HEAD + R_TASKS[task], csv, tmp, task)
    if val is None:
        return None
    secs, runs = r_runs_label(val)
    return secs, runs, np.array(val["COEF"], float), np.array(val["SE"], float)


def row(tool: str, n: int, res, ref) -> list[str]:
    """A table row; ``res`` is (seconds, runs, coef, SE) or a text for the seconds cell."""
    if res is None or isinstance(res, str):
        return [tool, f"{n:,}", res or "not installed", "-", "-", "-", "-", "-"]
    secs, runs, b, se = res
    return [tool, f"{n:,}", f"{secs:.2f}", runs, f"{b[0]:.5f}",
            "n/a" if se is None else f"{se[0]:.5f}", f"{np.abs(b - ref[0]).max():.1e}",
            "n/a" if se is None else f"{np.abs(se - ref[1]).max():.1e}"]


def write_csv(d: pd.DataFrame, tmp: str, name: str) -> str:
    path = os.path.join(tmp, f"{name}.csv")
    if RSCRIPT is not None:
        d.to_csv(path, index=False)
    return path


def memory_rows(n: int) -> list[list[str]]:
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, "-c", MEMORY.format(here=here, n=n)],
                         capture_output=True, text=True, check=True)
    data_b, peak_b, rss_kb = (float(v) for v in out.stdout.split())
    return [[f"data frame, {n:,} rows x {P + 2} columns", f"{data_b / 1e6:,.0f}"],
            ["cohortlab cl.cox Efron: peak traced allocations during the fit (tracemalloc)",
             f"{peak_b / 1e6:,.0f}"],
            ["whole subprocess: peak RSS (ru_maxrss; interpreter, libraries, data, fit)",
             f"{rss_kb / 1e3:,.0f}"]]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    div = 10 if args.quick else 1
    n_big, n_small = 1_000_000 // div, (10_000 // div, 20_000 // div)
    with tempfile.TemporaryDirectory() as tmp:
        big = make(n_big)
        print(f"data: {n_big:,} rows, {P} covariates, events {big['event'].mean():.1%}, "
              f"{big['time'].nunique():,} distinct times; Rscript: {RSCRIPT or 'not installed'}")
        print()
        # --- Table 1: Efron fit -------------------------------------------------------------
        ours = timed(lambda: cohortlab_cox(big))
        ref = ours[2:]
        res = {"lifelines": timed(lambda: lifelines_cox(big)),
               "statsmodels": timed(lambda: statsmodels_cox(big)),
               "R": r_fit("efron", write_csv(big, tmp, "big"), tmp)}
        rows = [row("cohortlab cl.cox", n_big, ours, ref),
                row("lifelines CoxPHFitter", n_big, res["lifelines"], ref),
                row('statsmodels PHReg(ties="efron")', n_big, res["statsmodels"], ref),
                row("R survival::coxph", n_big, res["R"], ref)]
        if n_big > SKSURV_MAX:
            rows.append(row('scikit-survival CoxPHSurvivalAnalysis(ties="efron")', n_big,
                            "skipped (too slow)", ref))
            mid = make(SKSURV_N)
            ours_mid = timed(lambda: cohortlab_cox(mid))
            rows += [row("cohortlab cl.cox", SKSURV_N, ours_mid, ours_mid[2:]),
                     row('scikit-survival CoxPHSurvivalAnalysis(ties="efron")', SKSURV_N,
                         timed(lambda: sksurv_cox(mid)), ours_mid[2:])]
        else:
            rows.append(row('scikit-survival CoxPHSurvivalAnalysis(ties="efron")', n_big,
                            timed(lambda: sksurv_cox(big)), ref))
        print("Table 1. Efron Cox fit, coefficients and model SE (diffs vs cohortlab, same rows)")
        print()
        print_table(HEAD, rows)
        print("Memory of the cohortlab Efron fit (fresh subprocess)")
        print()
        print_table(["what", "MB"], memory_rows(n_big))
        # --- Table 2: robust (dfbeta sandwich) variance --------------------------------------
        rob = timed(lambda: cohortlab_cox(big, robust=True))
        rows, growth = [row("cohortlab cl.cox(robust=True)", n_big, rob, rob[2:])], {}
        for n in n_small:
            small = make(n)
            ref_n = timed(lambda small=small: cohortlab_cox(small, robust=True))
            lf = timed(lambda small=small: lifelines_cox(small, robust=True))
            rr = r_fit("robust", write_csv(small, tmp, f"small{n}"), tmp)
            rows += [row("cohortlab cl.cox(robust=True)", n, ref_n, ref_n[2:]),
                     row("lifelines CoxPHFitter(robust=True)", n, lf, ref_n[2:]),
                     row("R coxph(robust=TRUE)", n, rr, ref_n[2:])]
            for tool, r in (("lifelines", lf), ("R coxph", rr)):
                if r is not None:
                    growth.setdefault(tool, []).append(r[0])
        for tool, (_, t2) in growth.items():
            est = t2 * (n_big / n_small[1]) ** 2
            rows.append([f"{tool} robust: EXTRAPOLATED, t ~ n^2, not run", f"{n_big:,}",
                         f"~{est:,.0f} (~{est / 3600:.1f} h)", "-", "-", "-", "-", "-"])
        print("Table 2. Robust (dfbeta sandwich) variance; SE columns are the robust SEs "
              "(diffs vs cohortlab, same rows)")
        print()
        print_table(HEAD, rows)
        for tool, (t1, t2) in growth.items():
            print(f"{tool}: {n_small[0]:,} -> {n_small[1]:,} rows took x{t2 / t1:.2f} the time "
                  f"(n^{np.log2(t2 / t1):.2f}); the {n_big:,}-row figure above is "
                  f"t({n_small[1]:,}) * ({n_big:,} / {n_small[1]:,})^2, an extrapolation.")
        print()
        # --- Table 3: Fine-Gray --------------------------------------------------------------
        cr_big, cr_small = make(n_big, competing=True), make(n_small[0], competing=True)
        fg_big = timed(lambda: cohortlab_fg(cr_big))
        fg_e = timed(lambda: cohortlab_fg(cr_small))
        fg_b = timed(lambda: cohortlab_fg(cr_small, ties="breslow"))
        csv = write_csv(cr_small, tmp, "competing")
        n0 = n_small[0]
        rows = [row("cohortlab cl.fine_gray (Efron)", n_big, fg_big, fg_big[2:]),
                row("cohortlab cl.fine_gray (Efron)", n0, fg_e, fg_e[2:]),
                row('cohortlab cl.fine_gray(ties="breslow")', n0, fg_b, fg_b[2:]),
                row("R cmprsk::crr (Breslow; vs cohortlab Breslow)", n0,
                    r_fit("crr", csv, tmp), fg_b[2:]),
                row("R finegray + coxph(cluster=id) (Efron; vs cohortlab Efron)", n0,
                    r_fit("finegray", csv, tmp), fg_e[2:])]
        counts = cr_big["event"].value_counts(normalize=True).sort_index()
        print(f"Table 3. Fine-Gray, cause 1 (event codes 0/1/2: {counts[0]:.0%} censored, "
              f"{counts[1]:.0%} cause 1, {counts[2]:.0%} cause 2); robust SEs (crr's SE also "
              "accounts for estimating the censoring curve)")
        print()
        print_table(HEAD, rows)
    # --- self-check ----------------------------------------------------------------------------
    diffs = {k: float(np.abs(v[2] - ref[0]).max()) for k, v in res.items() if v is not None}
    ok = all(v < TOL for v in diffs.values())
    print(f"Efron coefficients, max |difference| vs cohortlab at {n_big:,} rows: "
          + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()) + f" (tolerance {TOL:g}): "
          + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
