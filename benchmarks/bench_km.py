"""Kaplan-Meier, log-rank, Aalen-Johansen: cohortlab vs lifelines, scikit-survival, statsmodels, R.

Every call runs in a fresh subprocess with one BLAS thread (see ``_harness.py``); rounds are
interleaved across tools; a tool over the time budget is shown as not run, never extrapolated.
One simulated cohort: two groups, exponential times of cause 1 (hazard 1 in group 0, 0.8 in
group 1) and of a competing cause 2 (hazard 0.5), uniform censoring on (0, 2), times rounded up
to 3 decimals (2,000 distinct times, many ties), event codes 0/1/2, case weights ``w`` ~ U(0.5, 3).

1. Kaplan-Meier of any event by group: ``cl.kaplan_meier`` (Greenwood SE, log-log interval),
   lifelines ``KaplanMeierFitter`` (per group), scikit-survival ``kaplan_meier_estimator``
   (log-log), statsmodels ``SurvfuncRight``, R ``survfit``; weighted: ``cl.kaplan_meier(weights=)``
   (IJ SE) vs R ``survfit(weights = w, robust = TRUE)``.
2. Log-rank, 2 groups: ``cl.logrank``, lifelines ``logrank_test``, statsmodels ``survdiff``,
   R ``survdiff``.
3. Aalen-Johansen CIF of cause 1 by group: ``cl.cumulative_incidence`` (IJ SE), scikit-survival
   ``cumulative_incidence_competing_risks`` (log-log interval, Aalen variance; per group), R
   multi-state ``survfit`` (IJ SE), R ``cmprsk::cuminc`` (incl. Gray's test), lifelines
   ``AalenJohansenFitter`` (jitters tied times at random, so its curve is not checked).

Curves are compared at 5 fixed times between the grid points (estimates: max abs diff; SEs and
limits: max rel diff). Run: ``python benchmarks/bench_km.py [--quick] [--rounds K]``.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np
import pandas as pd
from _harness import TIMING_HEAD, Session, Tool, machine_header, show, timing_rows

SEED = 20261125
TIMES = np.array([0.1005, 0.3005, 0.6005, 1.0005, 1.5005])  # between grid points: no ties
TOL = {"est": 1e-8, "se": 1e-6, "lower": 1e-6, "chi": 1e-6}
REL = ("se", "lower", "chi")
R_TT = "tt <- c(" + ", ".join(f"{t:.17g}" for t in TIMES) + ")\n"


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


def at(t, y) -> np.ndarray:
    """A right-continuous step function (values ``y`` from times ``t``) at TIMES."""
    return np.asarray(y, dtype=float)[np.searchsorted(np.asarray(t), TIMES, side="right") - 1]


def split(d: pd.DataFrame) -> list[pd.DataFrame]:
    return [d[d["group"] == g] for g in sorted(d["group"].unique())]


def curve_at(f: pd.DataFrame, cols=("estimate", "std_error", "conf_low")) -> dict:
    keys = {"estimate": "est", "std_error": "se", "conf_low": "lower"}
    return {keys[c]: np.concatenate([at(g["time"], g[c]) for _, g in
                                     f.groupby("group", sort=True)]) for c in cols}


# ---- the timed calls ----------------------------------------------------------------------


def cohortlab_km(d, weights=None):
    import cohortlab as cl

    return curve_at(cl.kaplan_meier(d, time="time", event="status", by="group",
                                    weights=weights).to_frame())


def lifelines_km(d):
    from lifelines import KaplanMeierFitter

    fs = [KaplanMeierFitter().fit(s["time"], s["status"]) for s in split(d)]
    return {"est": np.concatenate([at(f.timeline, f.survival_function_.iloc[:, 0]) for f in fs]),
            "lower": np.concatenate([at(f.timeline, f.confidence_interval_.iloc[:, 0])
                                     for f in fs])}


def sksurv_km(d):
    from sksurv.nonparametric import kaplan_meier_estimator

    res = [kaplan_meier_estimator(s["status"].to_numpy() == 1, s["time"].to_numpy(),
                                  conf_type="log-log") for s in split(d)]
    return {"est": np.concatenate([at(t, p) for t, p, _ in res]),
            "lower": np.concatenate([at(t, ci[0]) for t, _, ci in res])}


def statsmodels_km(d):
    from statsmodels.duration.survfunc import SurvfuncRight

    fs = [SurvfuncRight(s["time"].to_numpy(), s["status"].to_numpy()) for s in split(d)]
    return {"est": np.concatenate([at(f.surv_times, f.surv_prob) for f in fs]),
            "se": np.concatenate([at(f.surv_times, f.surv_prob_se) for f in fs])}


def cohortlab_logrank(d):
    import cohortlab as cl

    return {"chi": cl.logrank(d, time="time", event="status", by="group").statistic}


def lifelines_logrank(d):
    from lifelines.statistics import logrank_test

    a, b = split(d)
    return {"chi": logrank_test(a["time"], b["time"], a["status"], b["status"]).test_statistic}


def statsmodels_logrank(d):
    from statsmodels.duration.survfunc import survdiff

    return {"chi": survdiff(d["time"].to_numpy(), d["status"].to_numpy(),
                            d["group"].to_numpy())[0]}


def cohortlab_aj(d, variance=None):
    import cohortlab as cl

    return curve_at(cl.cumulative_incidence(d, time="time", event="event", cause=1, by="group",
                                            variance=variance).to_frame(),
                    ("estimate", "std_error"))


def sksurv_aj(d):
    from sksurv.nonparametric import cumulative_incidence_competing_risks

    res = [cumulative_incidence_competing_risks(s["event"].to_numpy(), s["time"].to_numpy(),
                                                conf_type="log-log") for s in split(d)]
    return {"est": np.concatenate([at(t, ci[1]) for t, ci, _ in res]),
            "lower": np.concatenate([at(t, cf[1][0]) for t, _, cf in res])}


def lifelines_aj(d):
    from lifelines import AalenJohansenFitter

    with warnings.catch_warnings():  # its warning that tied times are jittered
        warnings.simplefilter("ignore")
        fs = [AalenJohansenFitter(seed=SEED, calculate_variance=True).fit(
            s["time"], s["event"], event_of_interest=1) for s in split(d)]
    return {"est": np.concatenate([at(f.variance_.index, f.cumulative_density_.iloc[:, 0])
                                   for f in fs]),
            "se": np.concatenate([at(f.variance_.index, np.sqrt(f.variance_)) for f in fs])}


def cohortlab_gray(d):
    import cohortlab as cl

    return {"chi": cl.gray_test(d, time="time", event="event", by="group",
                                cause=1).rows[0].statistic}


SURV = "suppressMessages(library(survival))\n" + R_TT
R_KM = ("fit <- survfit(Surv(time, status) ~ group, data = d{})\n"
        "s <- summary(fit, times = tt); list(est = s$surv, se = s$std.err)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="100,000 -> 20,000 rows")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None, help="seconds per call")
    args = parser.parse_args()
    n = args.rows or (20_000 if args.quick else 1_000_000)
    print(machine_header(args.budget))
    print()
    d = make(n)
    shares = d["event"].value_counts(normalize=True).sort_index()
    print(f"data: {n:,} rows, 2 groups, {d['time'].nunique():,} distinct times; events: "
          f"{shares[0]:.0%} censored, {shares[1]:.0%} cause 1, {shares[2]:.0%} cause 2")
    print()
    li, sk, sm = ["lifelines"], ["sksurv.nonparametric"], ["statsmodels.duration.survfunc"]
    with Session(rounds=args.rounds, budget=args.budget) as s:
        files = s.files(d, "km")
        km = [Tool("cohortlab kaplan_meier (Greenwood)", "bench_km:cohortlab_km",
                   imports=["cohortlab"]),
              Tool("lifelines KaplanMeierFitter (per group)", "bench_km:lifelines_km",
                   imports=li),
              Tool('scikit-survival kaplan_meier_estimator(conf_type="log-log") (per group)',
                   "bench_km:sksurv_km", imports=sk),
              Tool("statsmodels SurvfuncRight (per group)", "bench_km:statsmodels_km",
                   imports=sm),
              Tool("R survfit", r=R_KM.format(""), r_setup=SURV)]
        outs = s.compare(km, files)
        rows = timing_rows(outs, s.agreement(outs, TOL, REL, "KM"))
        kmw = [Tool("cohortlab kaplan_meier(weights=) (IJ)", "bench_km:cohortlab_km",
                    {"weights": "w"}, imports=["cohortlab"]),
               Tool("R survfit(weights = w, robust = TRUE)",
                    r=R_KM.format(", weights = w, robust = TRUE"), r_setup=SURV)]
        outs = s.compare(kmw, files)
        rows += timing_rows(outs, s.agreement(outs, TOL, REL, "weighted KM"))
        show("Table 1. Kaplan-Meier S(t) by group, SE (or log-log lower limit where no SE is "
             "given) at 5 times", TIMING_HEAD, rows)
        lr = [Tool("cohortlab logrank", "bench_km:cohortlab_logrank", imports=["cohortlab"]),
              Tool("lifelines logrank_test", "bench_km:lifelines_logrank",
                   imports=["lifelines.statistics"]),
              Tool("statsmodels survdiff", "bench_km:statsmodels_logrank", imports=sm),
              Tool("R survdiff", r="list(chi = survdiff(Surv(time, status) ~ group, data = d)"
                                   "$chisq)", r_setup=SURV)]
        outs = s.compare(lr, files)
        show("Table 2. Log-rank test, 2 groups", TIMING_HEAD,
             timing_rows(outs, s.agreement(outs, TOL, REL, "log-rank")))
        aj = [Tool("cohortlab cumulative_incidence (IJ SE)", "bench_km:cohortlab_aj",
                   imports=["cohortlab"]),
              Tool("scikit-survival cumulative_incidence_competing_risks (log-log CI; per group)",
                   "bench_km:sksurv_aj", imports=sk, skip_check=("lower",)),
              Tool("R survfit(Surv(time, factor(event)) ~ group) (IJ SE)",
                   r="fit <- survfit(Surv(time, factor(event)) ~ group, data = d)\n"
                     "s <- summary(fit, times = tt); k <- which(s$states == '1')\n"
                     "list(est = s$pstate[, k], se = s$std.err[, k])", r_setup=SURV),
              Tool("lifelines AalenJohansenFitter (jittered ties; per group)",
                   "bench_km:lifelines_aj", imports=li, skip_check=("est", "se"))]
        outs = s.compare(aj, files)
        rows = timing_rows(outs, s.agreement(outs, TOL, REL, "AJ"))
        cmp = [Tool('cohortlab cumulative_incidence(variance="aalen") + gray_test',
                    "bench_km:cohortlab_aj_gray", imports=["cohortlab"]),
               Tool("R cmprsk::cuminc (Aalen-type SE, incl. Gray's test)",
                    r="fit <- cuminc(d$time, d$event, d$group, cencode = 0)\n"
                      "tp <- timepoints(fit, tt)\n"
                      "list(est = c(tp$est['0 1', ], tp$est['1 1', ]), "
                      "se = sqrt(c(tp$var['0 1', ], tp$var['1 1', ])), "
                      "chi = fit$Tests['1', 'stat'])",
                    r_setup="suppressMessages(library(cmprsk))\n" + R_TT)]
        outs = s.compare(cmp, files)
        rows += timing_rows(outs, s.agreement(outs, TOL, REL, "cuminc"))
        show("Table 3. Aalen-Johansen CIF of cause 1 by group and its SE at 5 times (cuminc is "
             "compared with cohortlab's Aalen-type variance plus Gray's test, timed together). "
             "scikit-survival's log-log limit uses another variance and is not checked",
             TIMING_HEAD, rows)
        print(s.thread_report())
        print("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(s.versions.items())))
        text, ok = s.check_report()
        print(text)
    return 0 if ok else 1


def cohortlab_aj_gray(d):
    out = cohortlab_aj(d, "aalen")
    return {**out, **{"chi": cohortlab_gray(d)["chi"]}}


if __name__ == "__main__":
    sys.exit(main())
