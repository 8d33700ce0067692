"""The parametric g-formula (time-varying treatment): cohortlab against pygformula.

Same data (N persons x T periods, default 10,000 x 24, pygformula's column layout: binary L1,
normal L2, baseline L3, treatment A, competing event D, outcome Y; made by ``make`` below),
same models (pygformula's running example for competing events, with L2 normal), natural
course, "never" and "always". Every call runs in a fresh subprocess with one BLAS thread
(``_harness.child_env``); the data are written once to CSV and read outside the timed region;
each child reports its seconds, its peak resident memory (VmHWM) and the risks at the last
period. pygformula runs from its own venv (``PYGFORMULA_PYTHON``, default
``/work/venvs/pygformula/bin/python``; not a cohortlab dependency).

Rows:
- pygformula ``ParametricGformula(...).fit()``, no bootstrap (n_simul = N);
- cohortlab ``gformula_tv(n_boot=0)``;
- cohortlab ``gformula_tv(n_boot=B)`` (default B = 200), n_jobs = 1 (and 2 with ``--jobs 2``).

The issue's target: B = 200 bootstrap replicates in less time than 20 pygformula fits.
The risks of the tools agree within Monte Carlo error (different random streams), so the
check is loose: |difference| < 0.01 at the last period.

Run: ``python benchmarks/bench_gformula_tv.py [--quick] [--persons N] [--periods T]
[--boot B] [--jobs J]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from _harness import child_env, machine_header, markdown_table
from _runner import _vm

HERE = os.path.dirname(os.path.abspath(__file__))
PYGF = os.environ.get("PYGFORMULA_PYTHON", "/work/venvs/pygformula/bin/python")
SEED = 20261207
COVMODELS = {
    "L1": "lag1_A + lag2_A + lag_cumavg1_L1 + lag_cumavg1_L2 + L3 + t0",
    "L2": "lag1_A + L1 + lag_cumavg1_L1 + lag_cumavg1_L2 + L3 + t0",
    "A": "lag1_A + L1 + L2 + lag_cumavg1_L1 + lag_cumavg1_L2 + L3 + t0",
}
YMODEL = "A + L1 + L2 + L3 + lag1_A + lag1_L1 + lag1_L2"
DMODEL = "A + L1 + L2 + L3 + t0"


def make(n: int, n_periods: int, seed: int = SEED) -> pd.DataFrame:
    """Long data with treatment-confounder feedback, a competing event; rows stop at events."""
    rng = np.random.default_rng(seed)
    expit = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    l3 = rng.integers(0, 10, n).astype(float)
    l1, l2, a = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    out = []
    for t in range(n_periods):
        l1 = rng.binomial(1, expit(-1 + 1.5 * l1 - 0.5 * a + 0.05 * l3)).astype(float)
        l2 = 0.6 * l2 - 0.4 * a + 0.3 * l1 + rng.normal(0, 0.5, n)
        a = rng.binomial(1, expit(-0.5 + 2.0 * a + 0.6 * l1 + 0.4 * l2)).astype(float)
        d = rng.binomial(1, expit(-5.0 + 0.3 * l1 - 0.2 * a)).astype(float)
        y = rng.binomial(1, expit(-4.2 + 0.5 * l1 + 0.4 * l2 - 0.5 * a + 0.03 * l3)).astype(float)
        y = np.where(d == 1, np.nan, y)
        idx = np.flatnonzero(alive)
        out.append(pd.DataFrame({"id": idx, "t0": t, "L1": l1[idx], "L2": l2[idx],
                                 "L3": l3[idx], "A": a[idx], "D": d[idx], "Y": y[idx]}))
        alive &= (d == 0) & (y != 1)
    return pd.concat(out).sort_values(["id", "t0"], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------ children

def child_cohortlab(path: str, n_boot: int, n_jobs: int) -> dict:
    import cohortlab as cl

    d = pd.read_csv(path)
    t0 = time.perf_counter()
    res = cl.gformula_tv(d, id="id", period="t0", treatment="A", outcome="Y", competing="D",
                         covariates={"L1": "binary", "L2": "normal"}, baseline=["L3"],
                         models={**COVMODELS, "Y": YMODEL, "D": DMODEL}, n_boot=n_boot,
                         n_jobs=n_jobs, random_state=1)
    sec = time.perf_counter() - t0
    r = res.risks.data
    last = r[r["time"] == r["time"].max()].set_index("group")
    return {"seconds": sec, "vmhwm_mb": _vm("VmHWM"),
            "risk": {g: float(last.loc[g, "estimate"]) for g in ("natural_course", "never",
                                                               "always")},
            "rd_se": float(res.contrasts[f"RD always vs never, period {int(r['time'].max())}"]
                           .std_error)}


def child_pygformula(path: str) -> dict:
    import contextlib
    import io

    from pygformula import ParametricGformula
    from pygformula.interventions import static

    d = pd.read_csv(path)
    tp = int(d["t0"].max()) + 1
    t0 = time.perf_counter()
    g = ParametricGformula(
        obs_data=d, id="id", time_name="t0", time_points=tp,
        int_descript=["Never treat", "Always treat"],
        Intervention1_A=[static, np.zeros(tp)], Intervention2_A=[static, np.ones(tp)],
        basecovs=["L3"], covnames=list(COVMODELS), covtypes=["binary", "normal", "binary"],
        covmodels=[f"{k} ~ {v}" for k, v in COVMODELS.items()],
        compevent_name="D", compevent_model=f"D ~ {DMODEL}", outcome_name="Y",
        outcome_type="survival", ymodel=f"Y ~ {YMODEL}", seed=1)
    with contextlib.redirect_stdout(io.StringIO()):
        g.fit()
    sec = time.perf_counter() - t0
    names = {"Natural course": "natural_course", "Never treat": "never",
             "Always treat": "always"}
    return {"seconds": sec, "vmhwm_mb": _vm("VmHWM"),
            "risk": {names[k]: float(v[-1]) for k, v in zip(g.int_descript, g.g_results,
                                                           strict=True)}}


def _run(cmd: list[str], threads: int, budget: float) -> dict | None:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        proc = subprocess.run([*cmd, out], env=child_env(threads), capture_output=True,
                              text=True, timeout=budget, check=False)
        if proc.returncode != 0 or not os.path.exists(out):
            print(proc.stderr[-2000:])
            return None
        with open(out) as fh:
            return json.load(fh)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, path, out = sys.argv[2], sys.argv[3], sys.argv[-1]
        if kind == "cohortlab":
            res = child_cohortlab(path, int(sys.argv[4]), int(sys.argv[5]))
        else:
            res = child_pygformula(path)
        with open(out, "w") as fh:
            json.dump(res, fh)
        return 0
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="2,000 persons x 12 periods, B = 50")
    p.add_argument("--persons", type=int, default=None)
    p.add_argument("--periods", type=int, default=None)
    p.add_argument("--boot", type=int, default=None)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--budget", type=float, default=1800.0)
    a = p.parse_args()
    n = a.persons or (2_000 if a.quick else 10_000)
    t = a.periods or (12 if a.quick else 24)
    b = a.boot or (50 if a.quick else 200)
    print(machine_header())
    d = make(n, t)
    print(f"\ndata: {n:,} persons x {t} periods = {len(d):,} person-periods, "
          f"{int(d['Y'].sum()):,} outcome events, {int(d['D'].sum()):,} competing events\n")
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.csv")
        d.to_csv(path, index=False)
        me = [sys.executable, os.path.abspath(__file__), "--child"]
        runs = [("pygformula fit (no bootstrap)", [PYGF, os.path.abspath(__file__), "--child",
                                                   "pygformula", path], 1),
                ("cohortlab gformula_tv (n_boot=0)", [*me, "cohortlab", path, "0", "1"], 1),
                (f"cohortlab gformula_tv (n_boot={b}, n_jobs=1)",
                 [*me, "cohortlab", path, str(b), "1"], 1)]
        if a.jobs > 1:
            runs.append((f"cohortlab gformula_tv (n_boot={b}, n_jobs={a.jobs})",
                         [*me, "cohortlab", path, str(b), str(a.jobs)], 1))
        for name, cmd, threads in runs:
            if cmd[0] == PYGF and not os.path.exists(PYGF):
                rows.append([name, "not run (pygformula venv missing)", "", "", "", ""])
                continue
            res = _run(cmd, threads, a.budget)
            results[name] = res
            if res is None:
                rows.append([name, "failed", "", "", "", ""])
                continue
            r = res["risk"]
            rows.append([name, f"{res['seconds']:.2f}", f"{res['vmhwm_mb']:.0f}",
                         f"{r['natural_course']:.4f}", f"{r['never']:.4f}", f"{r['always']:.4f}"])
    print(markdown_table(["tool", "seconds", "peak MB", f"risk NC (t={t - 1})", "risk never",
                          "risk always"], rows))
    py = results.get("pygformula fit (no bootstrap)")
    boot = results.get(f"cohortlab gformula_tv (n_boot={b}, n_jobs=1)")
    ok = True
    if py and boot:
        print(f"\n{b} cohortlab bootstrap replicates: {boot['seconds']:.1f} s; 20 pygformula fits: "
              f"{20 * py['seconds']:.1f} s (target: the former smaller) -> "
              f"{'met' if boot['seconds'] < 20 * py['seconds'] else 'NOT met'}")
        diff = max(abs(boot["risk"][k] - py["risk"][k]) for k in py["risk"])
        ok = diff < 0.01
        print(f"max |risk difference| cohortlab vs pygformula at the last period: {diff:.4f} "
              f"({'ok' if ok else 'OVER'} the 0.01 Monte Carlo tolerance)")
        print(f"bootstrap SE of the always-vs-never risk difference: {boot['rd_se']:.4f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
