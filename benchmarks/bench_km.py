"""Kaplan-Meier, log-rank, Aalen-Johansen: cohortlab vs lifelines, sksurv, statsmodels and R.

Prints three Markdown tables (and a fourth for Gray's test) on one simulated cohort: two groups,
exponential times of cause 1 (hazard 1 in group 0, 0.8 in group 1) and of a competing cause 2
(hazard 0.5), uniform censoring on (0, 2), times rounded up to 3 decimals (2,000 distinct
times, so many ties), event codes 0/1/2, non-integer case weights ``w`` ~ U(0.5, 3):

1. Kaplan-Meier of any event (``status = event > 0``) with its pointwise variance, one group and
   by group: ``cl.kaplan_meier`` (Greenwood), lifelines ``KaplanMeierFitter`` (per group),
   scikit-survival ``kaplan_meier_estimator(conf_type="log-log")``, statsmodels
   ``SurvfuncRight``, R ``survfit``; with the weights ``cl.kaplan_meier(weights=)``
   (infinitesimal jackknife), R ``survfit(weights = w, robust = TRUE)`` and lifelines
   ``fit(weights=)``, whose interval is naive Greenwood on the weighted counts (with the number
   at risk cast to an integer), shown against ``cl.kaplan_meier(variance="greenwood")``.
   lifelines and scikit-survival give no SE: their log-log lower limit is compared instead.
2. Log-rank: ``cl.logrank`` vs lifelines ``logrank_test``, statsmodels ``survdiff``, R
   ``survdiff``.
3. Aalen-Johansen CIF of cause 1 by group: ``cl.cumulative_incidence`` (IJ variance) vs R
   ``survfit(Surv(time, factor(event)) ~ group)`` (multi-state, IJ SE), ``cmprsk::cuminc``
   (its variance vs ``cl.cumulative_incidence(variance="aalen")``) and lifelines
   ``AalenJohansenFitter`` (which jitters tied event times by up to 1e-4 at random before
   fitting, so it does not reproduce the others exactly). Then ``cl.gray_test`` vs cuminc's test.

Curves are compared at 5 fixed times between the 3-decimal grid points. R runs through
``Rscript`` on a CSV written once; only the estimating call is timed, inside R with
``system.time``. Times are wall clock, best of 3, or a single run when the first run takes over
60 s (``runs`` says which). Self-check (exit 1 if it fails): S(t) and the CIF agree with
cohortlab to 1e-8, SEs / interval limits where comparable and chi-squares to 1e-6 relative.

Run: ``python benchmarks/bench_km.py [--quick]`` (``--quick``: rows / 10).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings

import numpy as np
import pandas as pd
from lifelines import AalenJohansenFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test
from sksurv.nonparametric import kaplan_meier_estimator
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

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
TIMES = np.array([0.1005, 0.3005, 0.6005, 1.0005, 1.5005])  # between grid points: no ties
SLOW_S = 60.0  # a first run slower than this is not repeated
TOL_EST, TOL_REL = 1e-8, 1e-6
HEAD_CHI = ["tool", "rows", "seconds", "runs", "chi-square", "rel diff"]

R_HEAD = r"""
suppressMessages({library(survival); library(data.table)})
d <- as.data.frame(fread(commandArgs(TRUE)[1]))
best <- function(f) {
  ts <- c()
  for (i in 1:3) {
    ts <- c(ts, system.time(res <- f())[["elapsed"]])
    if (ts[i] > 60) break
  }
  cat("TIME", min(ts), length(ts), "\n")
  res
}
out <- function(key, v) cat(key, sprintf("%.17g", v), "\n")
tt <- c(""" + ", ".join(f"{t:.17g}" for t in TIMES) + ")\n"
KM_FIT = ("fit <- best(function() survfit(Surv(time, status) ~ {}, data = d{}))\n"
          's <- summary(fit, times = tt); out("EST", s$surv); out("SE", s$std.err)')
R_TASKS = {
    **{f"km{w and 'w'}_{rhs}": KM_FIT.format(rhs, w) for rhs in ("1", "group")
       for w in ("", ", weights = w, robust = TRUE")},
    "logrank": """fit <- best(function() survdiff(Surv(time, status) ~ group, data = d))
out("CHI", fit$chisq)""",
    "aj": """fit <- best(function() survfit(Surv(time, factor(event)) ~ group, data = d))
s <- summary(fit, times = tt); k <- which(s$states == "1")
out("EST", s$pstate[, k]); out("SE", s$std.err[, k])""",
    "cuminc": """suppressMessages(library(cmprsk))
fit <- best(function() cuminc(d$time, d$event, d$group, cencode = 0))
tp <- timepoints(fit, tt); out("EST", c(tp$est["0 1", ], tp$est["1 1", ]))
out("SE", sqrt(c(tp$var["0 1", ], tp$var["1 1", ]))); out("CHI", fit$Tests["1", "stat"])""",
}


def make(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    group = rng.integers(0, 2, n)
    t1 = rng.exponential(np.where(group == 1, 1 / 0.8, 1.0))  # cause 1
    t2 = rng.exponential(2.0, n)  # cause 2, the competing one
    t, c = np.minimum(t1, t2), rng.uniform(0, 2.0, n)
    event = np.where(t <= c, np.where(t2 < t1, 2, 1), 0)
    return pd.DataFrame({"time": np.ceil(np.minimum(t, c) * 1000) / 1000, "event": event,
                         "status": (event > 0).astype(np.int64), "group": group,
                         "w": rng.uniform(0.5, 3.0, n)})


def timed(fn):
    """(seconds, runs, result): best of 3 wall-clock runs, or 1 when the first exceeds SLOW_S."""
    return timed_runs(fn, SLOW_S)


def at(t, y) -> np.ndarray:
    """A right-continuous step function (values ``y`` from times ``t``) at TIMES."""
    return np.asarray(y, dtype=float)[np.searchsorted(np.asarray(t), TIMES, side="right") - 1]


def split(d: pd.DataFrame, by: str | None) -> list[pd.DataFrame]:
    return [d] if by is None else [d[d[by] == g] for g in sorted(d[by].unique())]


def curve_at(f: pd.DataFrame, cols=("estimate", "std_error", "conf_low")):
    """Columns of a cohortlab curve frame at TIMES, groups stacked in sorted order."""
    return tuple(np.concatenate([at(g["time"], g[c]) for _, g in f.groupby("group", sort=True)])
                 for c in cols)


def cohortlab_km(d, by, weights=None, variance=None):
    return curve_at(cl.kaplan_meier(d, time="time", event="status", by=by, weights=weights,
                                    variance=variance).to_frame())


def lifelines_km(d, by, weights=None):
    with warnings.catch_warnings():  # its warning about non-integer weights
        warnings.simplefilter("ignore")
        fs = [KaplanMeierFitter().fit(s["time"], s["status"],
                                      weights=s[weights] if weights else None)
              for s in split(d, by)]
    return (np.concatenate([at(f.timeline, f.survival_function_.iloc[:, 0]) for f in fs]),
            np.concatenate([at(f.timeline, f.confidence_interval_.iloc[:, 0]) for f in fs]))


def sksurv_km(d, by):
    res = [kaplan_meier_estimator(s["status"].to_numpy() == 1, s["time"].to_numpy(),
                                  conf_type="log-log") for s in split(d, by)]
    return (np.concatenate([at(t, p) for t, p, _ in res]),
            np.concatenate([at(t, ci[0]) for t, _, ci in res]))


def statsmodels_km(d, by):
    fs = [SurvfuncRight(s["time"].to_numpy(), s["status"].to_numpy()) for s in split(d, by)]
    return (np.concatenate([at(f.surv_times, f.surv_prob) for f in fs]),
            np.concatenate([at(f.surv_times, f.surv_prob_se) for f in fs]))


def lifelines_logrank(d):
    a, b = d[d["group"] == 0], d[d["group"] == 1]
    return logrank_test(a["time"], b["time"], a["status"], b["status"]).test_statistic


def cohortlab_aj(d, variance=None):
    return curve_at(cl.cumulative_incidence(d, time="time", event="event", cause=1, by="group",
                                            variance=variance).to_frame(),
                    ("estimate", "std_error"))


def lifelines_aj(d):
    with warnings.catch_warnings():  # its warning that tied times are jittered
        warnings.simplefilter("ignore")
        fs = [AalenJohansenFitter(seed=SEED, calculate_variance=True).fit(
            s["time"], s["event"], event_of_interest=1) for s in split(d, "group")]
    return (np.concatenate([at(f.variance_.index, f.cumulative_density_.iloc[:, 0]) for f in fs]),
            np.concatenate([at(f.variance_.index, np.sqrt(f.variance_)) for f in fs]))


def r_run(task: str, csv: str, tmp: str):
    """Run one R task on ``csv``: (seconds, runs, (EST, SE, CHI present)), or None."""
    val = run_r(R_HEAD + R_TASKS[task], csv, tmp, task)
    if val is None:
        return None
    secs, runs = r_runs_label(val)
    return secs, runs, tuple(np.array(val[k], float) for k in ("EST", "SE", "CHI") if k in val)


def head(est: str) -> list[str]:
    return ["tool", "task", "rows", "seconds", "runs", f"{est}(1.0005), group 0",
            f"max abs d{est}", "max rel dSE", "SE compared as"]


def rel(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - b) / np.abs(b)))


def add(chk: list, what: str, diff: float, tol: float) -> str:
    """Record a comparison for the final self-check; return the difference as table text."""
    chk.append((what, diff, tol))
    return f"{diff:.1e}"


def curve_row(chk, tool, task, n, res, ref=None, se_ref=None, se_as="SE", check=(True, True)):
    """A row of Table 1 or 3: ``res`` is (seconds, runs, (estimate, SE-or-limit, ...)).

    ``ref`` (estimate, SE) of cohortlab, None on its own row; ``check``: whether the estimate
    and the SE (or limit) enter the self-check.
    """
    if res is None:
        return [tool, task, f"{n:,}", "not installed", "-", "-", "-", "-", "-"]
    secs, runs, (est, v, *_) = res
    d_est_s = d_v_s = "-"
    if ref is not None:
        d_est = float(np.abs(est - ref[0]).max())
        d_v = rel(v, ref[1] if se_ref is None else se_ref)
        d_est_s = (add(chk, f"{tool} {task}: estimate", d_est, TOL_EST) if check[0]
                   else f"{d_est:.1e}")
        d_v_s = add(chk, f"{tool} {task}: {se_as}", d_v, TOL_REL) if check[1] else f"{d_v:.1e}"
    return [tool, task, f"{n:,}", f"{secs:.2f}", runs, f"{est[3]:.6f}", d_est_s, d_v_s, se_as]


def chi_row(chk, tool, n, res, ref, secs_text=None):
    if res is None:
        return [tool, f"{n:,}", "not installed", "-", "-", "-"]
    secs, runs, chi = res
    chi = float(np.ravel(chi)[-1])
    d = "-" if ref is None else add(chk, f"{tool} chi-square", rel(chi, ref), TOL_REL)
    return [tool, f"{n:,}", secs_text or f"{secs:.2f}", "-" if secs_text else runs,
            f"{chi:.4f}", d]


def show(title: str, head: list[str], rows: list[list[str]]) -> None:
    print(title)
    print()
    print_table(head, rows)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    n = 1_000_000 // (10 if parser.parse_args().quick else 1)
    d, chk = make(n), []
    shares = d["event"].value_counts(normalize=True).sort_index()
    print(f"data: {n:,} rows, 2 groups, {d['time'].nunique():,} distinct times; events: "
          f"{shares[0]:.0%} censored, {shares[1]:.0%} cause 1, {shares[2]:.0%} cause 2; "
          f"Rscript: {RSCRIPT or 'not installed'}")
    print()
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "km.csv")
        if RSCRIPT is not None:
            d.to_csv(csv, index=False)
        # --- Table 1: Kaplan-Meier ------------------------------------------------------------
        rows, loglog = [], "log-log CI lower"
        for by, task in ((None, "1 group"), ("group", "2 groups")):
            ref = timed(lambda by=by: cohortlab_km(d, by))
            r, ci = ref[2][:2], ref[2][2]  # (S, SE), log-log lower limit
            rows += [curve_row(chk, "cohortlab kaplan_meier", task, n, ref, se_as="SE (Greenwood)"),
                     curve_row(chk, "lifelines KaplanMeierFitter", task, n,
                               timed(lambda by=by: lifelines_km(d, by)), r, ci, loglog),
                     curve_row(chk, 'scikit-survival kaplan_meier_estimator(conf_type="log-log")',
                               task, n, timed(lambda by=by: sksurv_km(d, by)), r, ci, loglog),
                     curve_row(chk, "statsmodels SurvfuncRight", task, n,
                               timed(lambda by=by: statsmodels_km(d, by)), r),
                     curve_row(chk, "R survfit", task, n, r_run(f"km_{by or 1}", csv, tmp), r)]
        for by, task in ((None, "1 group, weights"), ("group", "2 groups, weights")):
            ref = timed(lambda by=by: cohortlab_km(d, by, "w"))
            naive = cohortlab_km(d, by, "w", "greenwood")[2]
            rows += [curve_row(chk, "cohortlab kaplan_meier(weights=)", task, n, ref,
                               se_as="SE (IJ)"),
                     curve_row(chk, "R survfit(weights = w, robust = TRUE)", task, n,
                               r_run(f"kmw_{by or 1}", csv, tmp), ref[2][:2], se_as="SE (IJ)"),
                     curve_row(chk, "lifelines KaplanMeierFitter(weights=)", task, n,
                               timed(lambda by=by: lifelines_km(d, by, "w")), ref[2][:2], naive,
                               'CI lower vs variance="greenwood" (not checked)', (True, False))]
        show("Table 1. Kaplan-Meier S(t) and its SE at 5 times (diffs vs cohortlab, same rows)",
             head("S"), rows)
        # --- Table 2: log-rank ----------------------------------------------------------------
        ours = timed(lambda: cl.logrank(d, time="time", event="status", by="group").statistic)
        rows = [chi_row(chk, "cohortlab logrank", n, ours, None),
                chi_row(chk, "lifelines logrank_test", n, timed(lambda: lifelines_logrank(d)),
                        ours[2]),
                chi_row(chk, "statsmodels survdiff", n, timed(lambda: survdiff(
                    d["time"].to_numpy(), d["status"].to_numpy(), d["group"].to_numpy())[0]),
                        ours[2]),
                chi_row(chk, "R survdiff", n, r_run("logrank", csv, tmp), ours[2])]
        show("Table 2. Log-rank test, 2 groups, 1 df (rel diff vs cohortlab)", HEAD_CHI, rows)
        # --- Table 3: Aalen-Johansen ----------------------------------------------------------
        ref, task = timed(lambda: cohortlab_aj(d)), "cause 1, 2 groups"
        aalen, cmp = cohortlab_aj(d, "aalen")[1], r_run("cuminc", csv, tmp)
        rows = [curve_row(chk, "cohortlab cumulative_incidence", task, n, ref, se_as="SE (IJ)"),
                curve_row(chk, "R survfit(Surv(time, factor(event)) ~ group)", task, n,
                          r_run("aj", csv, tmp), ref[2], se_as="SE (IJ)"),
                curve_row(chk, "R cmprsk::cuminc (incl. Gray's test)", task, n, cmp, ref[2],
                          aalen, 'SE vs variance="aalen"'),
                curve_row(chk, "lifelines AalenJohansenFitter (jittered ties)", task, n,
                          timed(lambda: lifelines_aj(d)), ref[2],
                          se_as="SE, delta method (not checked)", check=(False, False))]
        show("Table 3. Aalen-Johansen cumulative incidence of cause 1 and its SE at 5 times "
             "(diffs vs cohortlab, same rows)", head("CIF"), rows)
        gray = timed(lambda: cl.gray_test(d, time="time", event="event", by="group",
                                          cause=1).rows[0].statistic)
        rows = [chi_row(chk, "cohortlab gray_test", n, gray, None),
                chi_row(chk, "R cmprsk::cuminc Tests", n,
                        None if cmp is None else (*cmp[:2], cmp[2][2]), gray[2], "in cuminc")]
        show("Table 3b. Gray's test of equal CIF of cause 1, 2 groups, 1 df (rel diff vs "
             "cohortlab)", HEAD_CHI, rows)
    # --- self-check ----------------------------------------------------------------------------
    bad = [(w, v, t) for w, v, t in chk if not v <= t]
    print(f"self-check: {len(chk) - len(bad)} of {len(chk)} comparisons within tolerance "
          f"(estimates {TOL_EST:g} abs; SEs, limits, chi-squares {TOL_REL:g} rel): "
          + ("ok" if not bad else "FAILED"))
    for w, v, t in bad:
        print(f"  {w}: {v:.2e} > {t:g}")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
