"""Sequential trials at scale: cohortlab vs pySEQTarget and TrialEmulation (R), same data.

Data: ``simulate_longitudinal(n, n_periods, random_state=1, censoring=False, competing=False)``;
eligible = untreated in the previous period; covariates V (fixed) and L (time-varying,
frozen at the trial start), per-protocol weights with the current L in the denominator.
All tools fit the same pooled logistic model (``arm + followup + followup^2 + trial +
trial^2 + V + L_start``, no arm x follow-up interaction) and, for per-protocol, pySEQTarget
the same post-expansion weight models (``weight_preexpansion=False``), so the coefficients
are compared (max abs diff; by name for TrialEmulation).

TrialEmulation 0.0.4.9 (R) runs in an ``Rscript benchmarks/_trials_te.R`` child on the SAME
CSV (``data_preparation()`` + ``trial_msm()`` with ``glm``, as
tests/reference/trials_te/te_reference.R calls them; the timed region includes its
``sandwich::vcovCL`` robust variance). Its ITT model is cohortlab's, so the coefficients agree
to glm's convergence tolerance (~1e-8). Its per-protocol switch weights are fitted BEFORE
expansion by previous treatment (numerator ~ V, denominator ~ V + L): a different weight
convention, so only the outcome-model rows are expected to agree, not the coefficients (its
``expanded`` is the expansion already cut at the switch). The R rows are skipped with a
message when ``Rscript`` or the package (in ``--rlib``, default /tmp/Rlib, passed as
R_LIBS_USER) is missing, or with ``--no-te``.

Every call runs in a fresh child process with one BLAS thread; the data are written once to
CSV and read by the child outside the timed region; peak memory is the child's VmHWM.
pySEQTarget runs from a separate venv (``--peer-python``, default
/work/venvs/trials/bin/python) under an address-space limit (``--peer-gb``) and a time budget;
TrialEmulation under ``--te-gb`` and the same budget; a run that exceeds either is reported as
such (nothing extrapolated).

Run: ``python benchmarks/bench_trials.py [--sizes 100000x24 ...] [--peer-sizes 5000x24]
[--te-sizes 10000x24] [--no-te] [--estimands itt per_protocol] [--parquet]``.

Measured 2026-12-07 on the shared 2-core / 24 GiB machine (load average 5-13 from other
jobs; seconds, peak MB): 10,000 x 24 (1.05 M expanded rows) ITT cohortlab 3.6 s / 285 MB,
pySEQTarget 12.8 s / 1,679 MB; per-protocol cohortlab 5.4 s / 284 MB, pySEQTarget 9.8 s /
1,342 MB; coefficients agree to 2e-14. 100,000 x 24 (10.55 M expanded rows), cohortlab only:
ITT 17.3 s / 687 MB (Parquet 25.2 s / 648 MB); per-protocol 36.0 s / 651 MB (Parquet 51.3 s
/ 615 MB); re-run at load average ~3: ITT 12.2 s / 687 MB, per-protocol 24.6 s / 668 MB.

TrialEmulation 0.0.4.9 (R 4.2.2), measured once 2026-12-07 16:55 UTC, 10,000 x 24, on a
quiet machine (load average 0.2 at the start, 0.7 at the end), same run as cohortlab:
ITT cohortlab 1.5 s / 334 MB, TrialEmulation 19.6 s / 1,339 MB, 1,054,931 expanded rows in
both, coefficients agree to 9e-9 (max abs diff; glm's default convergence tolerance);
per-protocol cohortlab 2.6 s / 328 MB, TrialEmulation 15.3 s / 951 MB, 454,562 rows in the
outcome model in both (coefficients differ by up to 0.055: pre- vs post-expansion switch
weights, see above). pySEQTarget was not in that run (its venv was absent). TrialEmulation at
100,000 x 24 was NOT run here (issue 15 reports 6.5 min / 17 GB ITT, 5.3 min / 11.8 GB
per-protocol on this machine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from _runner import _vm

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = "/work/venvs/trials/bin/python"
RLIB = "/tmp/Rlib"
#: TrialEmulation's coefficient names -> cohortlab's
TE_NAMES = {"(Intercept)": "Intercept", "assigned_treatment": "arm", "followup_time": "followup",
            "I(followup_time^2)": "followup^2", "trial_period": "trial",
            "I(trial_period^2)": "trial^2"}


def make_csv(n: int, n_periods: int, path: str) -> None:
    import cohortlab as cl

    df = cl.simulate_longitudinal(n=n, n_periods=n_periods, random_state=1, censoring=False,
                                  competing=False, n_truth=1_000)
    df.attrs = {}
    prev = df.groupby("id")["A"].shift(1, fill_value=0)
    df["elig"] = (prev == 0).astype(int)
    df["Y"] = df["Y"].astype(int)
    # pySEQTarget uses "period" internally: the time column is called "time"
    df.rename(columns={"period": "time"})[["id", "time", "A", "Y", "elig", "V", "L"]].to_csv(
        path, index=False)



def child_cohortlab(path: str, estimand: str, source: str) -> dict:
    import pandas as pd

    import cohortlab as cl

    data: object = path if source == "parquet" else pd.read_csv(path)
    t = time.perf_counter()
    r = cl.sequential_trials(data, id="id", period="time", treatment="A", outcome="Y",
                             eligible="elig", covariates=["V", "L"], estimand=estimand,
                             switch_covariates=["L"], arm_by_followup="none")
    sec = time.perf_counter() - t
    flow = r.flow.set_index("step")["n"]
    return {"seconds": sec, "coef": r.model.params.tolist(), "terms": list(r.model.terms),
            "expanded": int(flow["expanded person-trial-periods"]),
            "outcome_rows": int(flow["rows in the outcome model"])}


def child_pyseqtarget(path: str, estimand: str) -> dict:
    import polars as pl
    from pySEQTarget import SEQopts, SEQuential

    data = pl.read_csv(path)
    opts = SEQopts() if estimand == "itt" else SEQopts(weighted=True,
                                                        weight_preexpansion=False)
    t = time.perf_counter()
    s = SEQuential(data, id_col="id", time_col="time", eligible_col="elig",
                   treatment_col="A", outcome_col="Y", time_varying_cols=["L"],
                   fixed_cols=["V"], method="ITT" if estimand == "itt" else "censoring",
                   parameters=opts)
    s.expand()
    s.fit()
    sec = time.perf_counter() - t
    m = s.outcome_model[0]["outcome"]
    return {"seconds": sec, "coef": [float(c) for c in m.params], "outcome_rows": int(m.nobs)}


def run_child(python: str, tool: str, path: str, estimand: str, budget: float,
              gb: float | None, source: str = "frame") -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", POLARS_MAX_THREADS="1")
    env["PYTHONPATH"] = os.path.join(HERE, "..", "src")

    def limit() -> None:
        os.nice(10)
        if gb:
            resource.setrlimit(resource.RLIMIT_AS, (int(gb * 2**30), int(gb * 2**30)))

    cmd = [python, os.path.abspath(__file__), "--child", tool, path, estimand, source]
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=budget,
                           preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return {"error": f"not run to completion (> {budget:.0f} s)"}
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"failed (exit {p.returncode}): {tail[:120]}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def te_available(rlib: str) -> str | None:
    """None if Rscript and TrialEmulation (in ``rlib``) load, else why the R rows are skipped."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "skipped: Rscript not found"
    p = subprocess.run([rscript, "-e", "suppressPackageStartupMessages(library(TrialEmulation))"],
                       env=dict(os.environ, R_LIBS_USER=rlib), capture_output=True, text=True)
    if p.returncode != 0:
        return f"skipped: R package TrialEmulation not loadable (R_LIBS_USER={rlib})"
    return None


def run_te(path: str, estimand: str, budget: float, gb: float | None, rlib: str) -> dict:
    """TrialEmulation in a fresh Rscript child (benchmarks/_trials_te.R), one BLAS thread."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", R_LIBS_USER=rlib)

    def limit() -> None:
        os.nice(10)
        if gb:
            resource.setrlimit(resource.RLIMIT_AS, (int(gb * 2**30), int(gb * 2**30)))

    cmd = [shutil.which("Rscript") or "Rscript", os.path.join(HERE, "_trials_te.R"), path,
           estimand]
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=budget,
                           preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return {"error": f"not run to completion (> {budget:.0f} s)"}
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"failed (exit {p.returncode}): {tail[:120]}"}
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["terms"] = [TE_NAMES.get(t, t) for t in out["terms"]]
    return out


def coef_diff(r: dict, ref: dict) -> float:
    """Max abs difference of the coefficients, by name when both name them, else by position."""
    if "coef" not in r or "coef" not in ref:
        return float("nan")
    if "terms" in r and "terms" in ref:
        a = dict(zip(r["terms"], r["coef"], strict=True))
        b = dict(zip(ref["terms"], ref["coef"], strict=True))
        if sorted(a) != sorted(b):
            return float("nan")
        return max(abs(a[k] - b[k]) for k in b)
    return max(abs(a - b) for a, b in zip(r["coef"], ref["coef"], strict=True))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="*", default=["10000x24", "100000x24"])
    ap.add_argument("--peer-sizes", nargs="*", default=["5000x24"])
    ap.add_argument("--peer-python", default=PEER)
    ap.add_argument("--peer-gb", type=float, default=8.0)
    ap.add_argument("--budget", type=float, default=900.0)
    ap.add_argument("--parquet", action="store_true", help="also time the Parquet path")
    ap.add_argument("--te-sizes", nargs="*", default=["10000x24"],
                    help="sizes at which TrialEmulation (R) runs (auto-skipped if unavailable)")
    ap.add_argument("--no-te", action="store_true", help="skip TrialEmulation")
    ap.add_argument("--rlib", default=RLIB, help="R_LIBS_USER holding TrialEmulation")
    ap.add_argument("--te-gb", type=float, default=20.0)
    ap.add_argument("--estimands", nargs="*", default=["itt", "per_protocol"])
    ap.add_argument("--no-cohortlab", action="store_true",
                    help="skip the cohortlab rows (TrialEmulation compared with nothing)")
    args = ap.parse_args()
    te_skip = "skipped: --no-te" if args.no_te else (
        te_available(args.rlib) if args.te_sizes else "skipped")
    if args.te_sizes and te_skip:
        print(f"TrialEmulation rows {te_skip}", file=sys.stderr, flush=True)
    sizes = list(dict.fromkeys(args.sizes + args.peer_sizes + args.te_sizes))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            n, t = (int(x) for x in size.split("x"))
            path = os.path.join(tmp, f"pp_{size}.csv")
            make_csv(n, t, path)
            pq = None
            if args.parquet:
                import duckdb

                pq = os.path.join(tmp, f"pp_{size}.parquet")
                duckdb.sql(f"COPY (SELECT * FROM read_csv_auto('{path}')) TO '{pq}' "
                           "(FORMAT parquet)")
            for est in args.estimands:
                res: dict[str, dict] = {}
                if not args.no_cohortlab:
                    res["cohortlab"] = run_child(sys.executable, "cohortlab", path, est,
                                                 args.budget, None)
                if pq:
                    res["cohortlab (Parquet)"] = run_child(sys.executable, "cohortlab", pq,
                                                           est, args.budget, None, "parquet")
                if size in args.peer_sizes and os.path.exists(args.peer_python):
                    res["pySEQTarget"] = run_child(args.peer_python, "pyseqtarget", path, est,
                                                   args.budget, args.peer_gb)
                if size in args.te_sizes:
                    res["TrialEmulation (R)"] = ({"error": te_skip} if te_skip else
                                                 run_te(path, est, args.budget, args.te_gb,
                                                        args.rlib))
                ref = res.get("cohortlab", {})
                for tool, r in res.items():
                    diff = coef_diff(r, ref)
                    rows.append({"size": size, "estimand": est, "tool": tool,
                                 "seconds": r.get("seconds"), "peak_MB": r.get("peak_MB"),
                                 "expanded": r.get("expanded"),
                                 "outcome_rows": r.get("outcome_rows"),
                                 "max_abs_coef_diff": diff, "error": r.get("error"),
                                 "load_avg_1min": round(os.getloadavg()[0], 2)})
                    if tool.startswith("TrialEmulation") and est != "itt" and "coef" in r:
                        rows[-1]["note"] = ("switch weights fitted before expansion "
                                            "(TrialEmulation's convention): coefficients not "
                                            "expected to agree; outcome rows should")
                    print(json.dumps(rows[-1]), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        tool, path, estimand, source = sys.argv[2:6]
        out = (child_cohortlab(path, estimand, source) if tool == "cohortlab"
               else child_pyseqtarget(path, estimand))
        out["peak_MB"] = _vm("VmHWM")
        print(json.dumps(out))
        sys.exit(0)
    sys.exit(main())
