"""AIPW at scale: cohortlab vs EconML's LinearDRLearner vs a hand-written statsmodels AIPW.

Every call runs in a fresh subprocess with one BLAS thread (see ``_harness.py``): the data are
read and a warm-up call is made on 2,000 rows outside the timed region; rounds are
interleaved across tools; the table shows the best of k, the median of the per-round ratios
to the reference and each child's own peak resident memory (``VmHWM``: the interpreter, the
imports and the data read included) next to what the timed call added to it (``VmHWM`` after
the call minus ``VmRSS`` before it); a tool over the time budget is shown as not run, never
extrapolated.

Data (the generator of ``bench_ipw.py``, covariates standardised): 10 standard-normal
covariates, a logistic exposure, a linear outcome with a constant effect of 2.0, so every
nuisance model below is correctly specified.

Table 1, the ATE with 5-fold cross-fitting, at 1,000,000 and 100,000 rows; what each tool fits:

- ``cl.aipw(cross_fit=5)`` (the reference): its default models, cross-fitted: a logistic
  regression of the exposure on the 10 covariates (maximum likelihood, unpenalised) and a
  linear regression of the outcome on the exposure + the 10 covariates (least squares), each
  fitted 5 times on 4 folds and predicting the 5th (folds stratified by exposure); AIPW ATE with
  the influence-function SE.
- EconML ``LinearDRLearner(cv=5)``: scikit-learn ``LogisticRegression(C=inf)`` (unpenalised,
  lbfgs) for the propensity and ``LinearRegression`` of the outcome on the covariates and the
  exposure (EconML appends it) as nuisances, cross-fitted on its own 5 stratified folds; the
  ATE and its SE from ``ate_inference()`` (the final stage is an OLS of the doubly robust
  pseudo-outcomes on a constant). The same models as the reference.
- ``cl.aipw(ps_model=LogisticRegression(C=inf), outcome_model=LinearRegression(),
  cross_fit=5)``: the same scikit-learn estimators as EconML, which cohortlab then fits (5
  times each), on the reference's folds.
- statsmodels by hand, no cross-fitting: ``Logit`` PS and ``OLS`` of the outcome per arm on all
  rows, the AIPW formula and ``sd(psi) / sqrt(n)``: what a user would write. Shown next to
  ``cl.aipw`` without cross-fitting (its default models on all rows).

Table 2, at 100,000 rows: the cost of a bootstrap next to the influence-function SE
(``cl.aipw`` default vs ``cl.ipw(variance="bootstrap", n_boot=200, n_jobs=2)``, whose child may
use 2 threads, vs a statsmodels loop of 200 propensity refits + WLS).

Checks (exit 1 if one fails): every tool's ATE within 0.1 SE (the reference's) of the
reference's and its SE within 1% (relative) of it (different fold draws and optimiser
tolerances move the ATE by far less than an SE; the bootstrap SEs of Table 2 are not
compared), and every ATE within 3 SEs of the truth (2.0).

Run: ``python benchmarks/bench_aipw.py [--quick] [--rounds K] [--budget S]`` (``--quick``:
rows / 10). Needs econml (``pip install econml``); without it the EconML rows read
"not installed".
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from _harness import (
    TIMING_HEAD,
    Outcome,
    Session,
    Tool,
    machine_header,
    show,
    timing_rows,
)

SEED = 20261125
TRUTH = 2.0
P = 10
COV = [f"x{i}" for i in range(P)]
N_BOOT = 200
REL = ("se",)


def make(n: int, p: int = P) -> pd.DataFrame:
    """``bench_ipw.py``'s generator; the covariate columns are then standardised."""
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(n, p))
    lin = X @ np.linspace(0.3, -0.3, p)
    a = rng.binomial(1, 1 / (1 + np.exp(-lin)))
    y = 2 * a + X.sum(axis=1) + rng.normal(size=n)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)  # linear in X: the models stay correct
    d = pd.DataFrame(Z, columns=[f"x{i}" for i in range(p)])
    return d.assign(a=a, y=y)


def logistic():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=np.inf, max_iter=2000)  # C = inf: unpenalised


def linear():
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


# ---- the timed calls (run inside the child by _runner.py) -------------------------------------


def _quiet():
    """ConvergenceWarnings of lbfgs are counted by nobody here; keep the child's log short."""
    warnings.simplefilter("ignore")


def cohortlab_aipw(d: pd.DataFrame, cross_fit: int | None = 5, sklearn: bool = False):
    import cohortlab as cl

    _quiet()
    kw = dict(ps_model=logistic(), outcome_model=linear()) if sklearn else {}
    est = cl.aipw(d, exposure="a", outcome="y", covariates=COV, cross_fit=cross_fit,
                  random_state=1 if cross_fit else None, **kw)
    return {"ate": est.estimate, "se": est.std_error}


def econml_dr(d: pd.DataFrame):
    from econml.dr import LinearDRLearner

    _quiet()
    est = LinearDRLearner(model_propensity=logistic(), model_regression=linear(), cv=5,
                          random_state=1)
    est.fit(d["y"].to_numpy(), d["a"].to_numpy(), X=None, W=d[COV].to_numpy())
    inf = est.ate_inference()
    return {"ate": float(np.squeeze(inf.mean_point)), "se": float(np.squeeze(inf.stderr_mean))}


def statsmodels_aipw(d: pd.DataFrame):
    """Logit PS, OLS of y per arm, AIPW with the influence-function SE (no cross-fitting)."""
    import statsmodels.api as sm

    X = sm.add_constant(d[COV].to_numpy())
    a, y = d["a"].to_numpy(), d["y"].to_numpy()
    e = sm.Logit(a, X).fit(disp=0).predict(X)
    q1 = sm.OLS(y[a == 1], X[a == 1]).fit().predict(X)
    q0 = sm.OLS(y[a == 0], X[a == 0]).fit().predict(X)
    psi = q1 - q0 + a / e * (y - q1) - (1 - a) / (1 - e) * (y - q0)
    ate = float(psi.mean())
    return {"ate": ate, "se": float(np.std(psi - ate, ddof=1) / np.sqrt(y.size))}


def cohortlab_ipw_boot(d: pd.DataFrame):
    import cohortlab as cl

    est = cl.ipw(d, exposure="a", outcome="y", covariates=COV, variance="bootstrap",
                 n_boot=N_BOOT, n_jobs=2, random_state=1)
    return {"ate": est.estimate, "se": est.std_error}


def statsmodels_ipw_boot(d: pd.DataFrame):
    """The loop a user would write: resample, refit the Logit PS, weighted OLS of y on a."""
    import statsmodels.api as sm

    X = sm.add_constant(d[COV].to_numpy())
    a, y = d["a"].to_numpy(), d["y"].to_numpy()

    def ate(idx: np.ndarray) -> float:
        Xb, ab, yb = X[idx], a[idx], y[idx]
        e = sm.Logit(ab, Xb).fit(disp=0).predict(Xb)
        w = np.where(ab == 1, 1 / e, 1 / (1 - e))
        return float(sm.WLS(yb, sm.add_constant(ab), weights=w).fit().params[1])

    rng = np.random.default_rng(1)
    reps = [ate(rng.integers(0, y.size, y.size)) for _ in range(N_BOOT)]
    return {"ate": ate(np.arange(y.size)), "se": float(np.std(reps, ddof=1))}


# ---- driver -----------------------------------------------------------------------------------

CL = ["cohortlab"]
HEAD = [*TIMING_HEAD[:-1], "added by the call MB", "ATE", "SE", TIMING_HEAD[-1]]


def rows_with_estimates(outs: Sequence[Outcome], agree: dict[str, str]) -> list[list[str]]:
    """:func:`timing_rows` plus the call's own memory, the ATE and the SE."""
    rows = timing_rows(outs, agree)
    for row, o in zip(rows, outs, strict=True):
        run = o.last_ok
        added = ate = se = "-"
        if run is not None:
            peaks = [r.info["vmhwm_mb"] - r.info["rss_before_mb"] for r in o.runs
                     if r.status == "ok" and "rss_before_mb" in r.info]
            added = f"{max(peaks):,.0f}" if peaks else "-"
            ate, se = f"{run.estimates['ate'][0]:.5f}", f"{run.estimates['se'][0]:.5f}"
        row[-1:-1] = [added, ate, se]
    return rows


def check_truth(s: Session, outs: Sequence[Outcome], label: str) -> None:
    for o in outs:
        run = o.last_ok
        if run is not None:
            z = abs(run.estimates["ate"][0] - TRUTH) / run.estimates["se"][0]
            s.checks.append((f"{label} {o.tool.name}: |ATE - {TRUTH}| / SE", z, 3.0, z < 3))


def tolerances(outs: Sequence[Outcome]) -> dict[str, float]:
    ref = outs[0].last_ok
    se = float(ref.estimates["se"][0]) if ref is not None else 0.0
    return {"ate": 0.1 * se, "se": 0.01}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="rows / 10")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None, help="seconds per call")
    parser.add_argument("--no-bootstrap", action="store_true", help="skip Table 2")
    args = parser.parse_args()
    sizes = (100_000, 10_000) if args.quick else (1_000_000, 100_000)
    print(machine_header(args.budget))
    print()
    with Session(rounds=args.rounds, budget=args.budget) as s:
        print(f"this run: budget {s.budget:g} s per call, {s.rounds} interleaved rounds")
        print()
        tools = [
            Tool("cohortlab aipw(cross_fit=5), its logistic + linear GLMs",
                 "bench_aipw:cohortlab_aipw", imports=CL),
            Tool("EconML LinearDRLearner(cv=5), sklearn LogisticRegression(C=inf) + "
                 "LinearRegression", "bench_aipw:econml_dr",
                 imports=["econml.dr", "sklearn.linear_model"]),
            Tool("cohortlab aipw(cross_fit=5), the same sklearn estimators",
                 "bench_aipw:cohortlab_aipw", {"sklearn": True},
                 imports=[*CL, "sklearn.linear_model"]),
            Tool("cohortlab aipw, GLMs on all rows (no cross-fitting)",
                 "bench_aipw:cohortlab_aipw", {"cross_fit": None}, imports=CL),
            Tool("statsmodels Logit + OLS per arm, IF SE (no cross-fitting)",
                 "bench_aipw:statsmodels_aipw", imports=["statsmodels.api"]),
        ]
        rows = []
        for n in sizes:
            outs = s.compare(tools, make(n), name=f"aipw{n}")
            rows += rows_with_estimates(outs, s.agreement(outs, tolerances(outs), REL,
                                                          f"{n:,} rows"))
            check_truth(s, outs, f"{n:,} rows")
        show("Table 1. AIPW ATE (truth 2.0), 10 covariates, 5-fold cross-fitting unless "
             "stated", HEAD, rows)
        if not args.no_bootstrap:
            n_b = sizes[1]
            boot = [
                Tool("cohortlab aipw, default GLMs (influence-function SE)",
                     "bench_aipw:cohortlab_aipw", {"cross_fit": None}, imports=CL),
                Tool(f'cohortlab ipw(variance="bootstrap", n_boot={N_BOOT}, n_jobs=2)',
                     "bench_aipw:cohortlab_ipw_boot", imports=CL, threads=2,
                     skip_check=("se",)),
                Tool(f"statsmodels loop: {N_BOOT} Logit refits + WLS (bootstrap SE)",
                     "bench_aipw:statsmodels_ipw_boot", imports=["statsmodels.api"],
                     skip_check=("se",)),
            ]
            outs = s.compare(boot, make(n_b), name="boot")
            tol = {"ate": 3 * float(outs[0].last_ok.estimates["se"][0])
                   if outs[0].last_ok else 0.0, "se": 0.01}
            rows2 = rows_with_estimates(outs, s.agreement(outs, tol, REL, "bootstrap"))
            check_truth(s, outs, "bootstrap")
            show(f"Table 2. The cost of a bootstrap SE, {n_b:,} rows (IPW vs AIPW estimates "
                 "agree within 3 SEs; bootstrap SEs not compared)", HEAD, rows2)
        print(s.thread_report())
        print("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(s.versions.items())))
        text, ok = s.check_report()
        print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
