"""Run every benchmark script and write one Markdown summary (``make bench``).

Each script runs as its own process with BLAS / OpenMP threads pinned to 1 (the harness
scripts also pin every timed child themselves). The summary starts with the machine (nproc,
CPU model, memory, load average before and after), the thread settings and the package
versions, then each script's output verbatim with its wall time and exit status.

The harness's self-test (``python benchmarks/_harness.py``) runs first.

Run: ``python benchmarks/run_all.py [--quick] [--large] [--out out/bench/summary.md]
[--only NAME ...]``.
Exit status: non-zero if any script failed (an agreement check over its tolerance, or an error).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from importlib import metadata

from _harness import HERE, RSCRIPT, THREAD_VARS, child_env, cpu_model, load_average

#: the scripts on the subprocess harness (they take --rounds / --budget)
HARNESS = ["bench_cox", "bench_km", "bench_ipw", "bench_bootstrap", "bench_aipw", "bench_scaling"]
#: the scripts still timed in-process (run with BLAS pinned through the environment)
IN_PROCESS = ["bench_table1", "bench_match", "bench_match_variance", "bench_evaluation"]
PACKAGES = ["cohortlab", "numpy", "scipy", "pandas", "statsmodels", "scikit-learn", "lifelines",
            "scikit-survival", "comprisk", "tableone", "econml", "pyarrow", "threadpoolctl",
            "joblib"]


def versions() -> str:
    out = []
    for p in PACKAGES:
        try:
            out.append(f"{p} {metadata.version(p)}")
        except metadata.PackageNotFoundError:
            out.append(f"{p} (not installed)")
    if RSCRIPT:
        r = subprocess.run([RSCRIPT, "-e", 'cat(R.version.string, "; survival",'
                            ' format(packageVersion("survival")), "; cmprsk",'
                            ' tryCatch(format(packageVersion("cmprsk")),'
                            ' error = function(e) "none"))'],
                           capture_output=True, text=True)
        out.append(r.stdout.strip() or "R: " + r.stderr.strip()[:80])
    else:
        out.append("R not installed (R rows read 'not run (R not installed)')")
    return ", ".join(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--out", default="out/bench/summary.md")
    parser.add_argument("--only", nargs="*", default=None, help="script names, e.g. bench_cox")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None)
    parser.add_argument("--large", action="store_true",
                        help="bench_scaling.py adds 3,000,000 rows")
    args = parser.parse_args()
    names = ["_harness"] + [n for n in HARNESS + IN_PROCESS
                            if args.only is None or n in args.only]
    env = child_env(1)
    head = [
        f"# cohortlab benchmarks ({'--quick' if args.quick else 'full size'})",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}",
        f"- load average at start (1/5/15 min): {load_average()}",
        f"- threads: {', '.join(f'{v}=1' for v in THREAD_VARS)} in every benchmark process "
        "and timed child",
        f"- versions: {versions()}",
        "",
    ]
    body, failed = [], []
    for name in names:
        cmd = [sys.executable, os.path.join(HERE, f"{name}.py")]
        cmd += ["--quick"] if args.quick and name != "_harness" else []
        if name in HARNESS:
            cmd += ["--rounds", str(args.rounds)]
            if args.budget and name != "bench_bootstrap":  # it keeps its own 300 s budget
                cmd += ["--budget", str(args.budget)]
            if args.large and name == "bench_scaling":
                cmd += ["--large"]
        load0, t0 = load_average(), time.monotonic()
        print(f"running {name} ...", flush=True)
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        secs = time.monotonic() - t0
        if res.returncode != 0:
            failed.append(name)
        how = ("self-test of the harness" if name == "_harness" else "subprocess harness"
               if name in HARNESS else "in-process timing, BLAS pinned")
        body += [f"## {name}.py ({how})", "",
                 f"wall {secs:.0f} s, exit {res.returncode}, load average {load0} -> "
                 f"{load_average()}", "", res.stdout.rstrip(), ""]
        if res.returncode != 0 and res.stderr.strip():
            body += ["```", res.stderr.strip()[-2000:], "```", ""]
        print(f"  {name}: exit {res.returncode}, {secs:.0f} s", flush=True)
    head.insert(5, f"- load average at end: {load_average()}")
    text = "\n".join(head + body) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write(text)
    print(f"summary: {args.out}" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
