"""The benchmark harness: every timed call in a fresh, BLAS-pinned subprocess.

How one comparison runs (:func:`compare`):

- the data set is written **once** to a temporary file (Parquet if pyarrow is installed, else a
  pickle; a CSV as well when an R tool takes part), and every child reads it **outside** the
  timed region;
- every tool's call runs in a **fresh child process** (``python benchmarks/_runner.py`` or
  ``Rscript benchmarks/_runner.R``) whose environment pins ``OPENBLAS_NUM_THREADS``,
  ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` (and friends) to 1; the Python child reports what
  threadpoolctl sees (thread count and BLAS kernel), so a pin that did not hold is visible;
- before the timed call each child makes one warm-up call on the first ``WARMUP_ROWS`` rows
  (imports, lazy imports and JIT compilation are paid there, not in the timing);
- rounds are **interleaved** across tools (round 1: A, B, C; round 2: A, B, C; ...) so a burst
  of load hits every tool alike; the table shows the best of k and the **median of the
  per-round ratios** to the reference tool;
- the peak memory of each child (its own ``VmHWM`` from ``/proc/self/status``, read in the
  child after the call) is shown next to the time;
- the estimates of every tool are compared with the reference tool's on the keys both return
  (max abs diff, or max relative diff for keys named so); a difference over its tolerance is
  flagged and makes the script exit non-zero;
- a tool whose call exceeds the time budget is killed and shown as ``not run (> budget)``, and
  is not started at larger sizes: **nothing is extrapolated**.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
#: Rscript, if R is installed (R rows read "R not installed" otherwise).
RSCRIPT = shutil.which("Rscript") or ("/usr/bin/Rscript" if os.path.exists("/usr/bin/Rscript")
                                      else None)
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
               "NUMBA_NUM_THREADS")
WARMUP_ROWS = 2_000
#: default per-call budget in seconds; a call over it is killed and reported as not run
#: (BENCH_BUDGET_S in the environment, or --budget on a script)
BUDGET_S = float(os.environ.get("BENCH_BUDGET_S", "60"))
#: a first run slower than this is not repeated
SLOW_S = 30.0


def child_env(threads: int = 1) -> dict[str, str]:
    """The parent's environment with every BLAS / OpenMP thread variable set to ``threads``."""
    env = dict(os.environ)
    env.update({v: str(threads) for v in THREAD_VARS})
    env.setdefault("PYTHONHASHSEED", "0")
    return env


# --------------------------------------------------------------------------------------------
# tasks and results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    """One contender in a comparison.

    Python: ``fn`` names a function ``module:function`` in ``benchmarks/`` called as
    ``fn(data, **kwargs)``; it returns a mapping of estimate name -> array-like. ``imports``
    are imported before the timed call. R: ``r`` is R code evaluated with the data frame ``d``
    in scope (read with ``data.table::fread``); it must end in a named list of numeric vectors
    (the estimates); ``r_setup`` runs before the timer starts (``library`` calls, formulas).
    """

    name: str
    fn: str | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    imports: Sequence[str] = ()
    r: str | None = None
    r_setup: str = ""
    #: estimate keys that are not compared with the reference (e.g. a different SE by design)
    skip_check: Sequence[str] = ()
    #: sizes above this are not run (shown as not run, with the reason ``max_n_reason``)
    max_n: int | None = None
    max_n_reason: str = ""
    #: threads the child may use (1 unless the tool's own parallelism is the point: n_jobs)
    threads: int = 1

    @property
    def is_r(self) -> bool:
        return self.r is not None


@dataclass
class Run:
    """One child's outcome."""

    seconds: float | None  # None: not run / failed
    status: str  # "ok", "timeout", "error", "skipped"
    estimates: dict[str, np.ndarray] = field(default_factory=dict)
    maxrss_mb: float = float("nan")
    info: dict[str, Any] = field(default_factory=dict)
    message: str = ""


class DataFiles:
    """A data set written once: a Parquet (or pickle) file for Python, a CSV on demand for R."""

    def __init__(self, data: pd.DataFrame, tmp: str, name: str):
        self.data, self.tmp, self.name = data, tmp, name
        try:
            import pyarrow  # noqa: F401

            self.py_path = os.path.join(tmp, f"{name}.parquet")
            data.to_parquet(self.py_path, index=False)
        except ImportError:
            self.py_path = os.path.join(tmp, f"{name}.pkl")
            data.to_pickle(self.py_path)
        self._csv: str | None = None

    @property
    def csv_path(self) -> str:
        if self._csv is None:
            self._csv = os.path.join(self.tmp, f"{self.name}.csv")
            self.data.to_csv(self._csv, index=False)
        return self._csv


def _wait(proc: subprocess.Popen, timeout: float) -> tuple[int | None, float]:
    """Wait for ``proc`` up to ``timeout`` s; (exit status or None on timeout, maxrss MB)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, ru.ru_maxrss / 1024.0  # kB on Linux
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            _, status, ru = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return None, ru.ru_maxrss / 1024.0
        time.sleep(0.02)


def run_child(tool: Tool, files: DataFiles, budget: float = BUDGET_S) -> Run:
    """Run ``tool`` once on ``files`` in a fresh subprocess (see the module docstring)."""
    with tempfile.TemporaryDirectory(dir=files.tmp) as tmp:
        out = os.path.join(tmp, "result.json")
        spec = {"out": out, "warmup_rows": WARMUP_ROWS}
        if tool.is_r:
            if RSCRIPT is None:
                return Run(None, "skipped", message="R not installed")
            spec.update(data=files.csv_path, code=tool.r, setup=tool.r_setup)
            cmd = [RSCRIPT, os.path.join(HERE, "_runner.R")]
        else:
            module, function = (tool.fn or "").split(":")
            spec.update(data=files.py_path, module=module, function=function,
                        kwargs=dict(tool.kwargs), imports=list(tool.imports), path=HERE)
            cmd = [sys.executable, os.path.join(HERE, "_runner.py")]
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w") as fh:
            json.dump(spec, fh)
        with open(os.path.join(tmp, "log"), "w+") as log:
            proc = subprocess.Popen([*cmd, spec_path], stdout=log, stderr=subprocess.STDOUT,
                                    env=child_env(tool.threads), start_new_session=True)
            code, rss = _wait(proc, budget)
            log.seek(0)
            text = log.read()
        if code is None:
            return Run(None, "timeout", maxrss_mb=rss, message=f"> {budget:g} s budget")
        if code != 0 or not os.path.exists(out):
            last = [ln.strip() for ln in text.strip().splitlines() if ln.strip()][-1:]
            return Run(None, "error", maxrss_mb=rss, message=" ".join(last)[:200] or
                       f"exit status {code}")
        with open(out) as fh:
            res = json.load(fh)
    est = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in res["estimates"].items()}
    info = res.get("info", {})
    # The child's own high-water mark (VmHWM, read in the child): ru_maxrss from wait4 would
    # start from the parent's RSS at fork (Linux keeps it across exec), so it only serves as a
    # fallback; worker processes of the child (n_jobs=2) are not included in VmHWM.
    hwm = info.get("vmhwm_mb")
    return Run(float(res["seconds"]), "ok", est, float(hwm) if hwm else rss, info)


# --------------------------------------------------------------------------------------------
# comparisons
# --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """All rounds of one tool at one size."""

    tool: Tool
    n: int
    runs: list[Run] = field(default_factory=list)
    note: str = ""

    @property
    def times(self) -> list[float]:
        return [r.seconds for r in self.runs if r.seconds is not None]

    @property
    def best(self) -> float | None:
        return min(self.times) if self.times else None

    @property
    def last_ok(self) -> Run | None:
        ok = [r for r in self.runs if r.status == "ok"]
        return ok[-1] if ok else None

    @property
    def maxrss_mb(self) -> float:
        v = [r.maxrss_mb for r in self.runs if r.status == "ok"]
        return max(v) if v else float("nan")


class Session:
    """The state one benchmark script carries across its comparisons.

    It remembers which tools went over budget (so they are not started at larger sizes),
    collects the agreement checks and the thread / BLAS reports of the children.
    """

    def __init__(self, rounds: int = 3, budget: float | None = None, slow_s: float = SLOW_S):
        self.rounds, self.slow_s = rounds, slow_s
        self.budget = BUDGET_S if budget is None else budget
        self.over_budget: dict[str, int] = {}  # tool name -> smallest n where it went over
        self.checks: list[tuple[str, float, float, bool]] = []  # what, diff, tol, ok
        self.blas: dict[str, str] = {}  # tool -> threadpool report
        self.versions: dict[str, str] = {}
        self.tmp = tempfile.mkdtemp(prefix="cohortlab-bench-")

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def files(self, data: pd.DataFrame, name: str) -> DataFiles:
        return DataFiles(data, self.tmp, name)

    def compare(self, tools: Sequence[Tool], data: pd.DataFrame | DataFiles, n: int | None = None,
                name: str = "data", rounds: int | None = None) -> list[Outcome]:
        """Time ``tools`` (the first is the reference) on ``data`` in interleaved rounds."""
        files = data if isinstance(data, DataFiles) else self.files(data, name)
        n = len(files.data) if n is None else n
        outs = [Outcome(t, n) for t in tools]
        for o in outs:
            t = o.tool
            if t.max_n is not None and n > t.max_n:
                o.note = f"not run (> budget: {t.max_n_reason or f'capped at {t.max_n:,} rows'})"
            elif t.name in self.over_budget:
                o.note = (f"not run (> {self.budget:g} s budget already at "
                          f"{self.over_budget[t.name]:,} rows)")
            elif t.is_r and RSCRIPT is None:
                o.note = "not run (R not installed)"
        active = [o for o in outs if not o.note]
        for r in range(rounds or self.rounds):
            for o in active:
                if o.note:
                    continue
                if r > 0 and o.best is not None and o.best > self.slow_s:
                    continue  # one run only when the first took over slow_s
                run = run_child(o.tool, files, self.budget)
                o.runs.append(run)
                if run.status == "timeout":
                    self.over_budget.setdefault(o.tool.name, n)
                    o.note = (f"round {r + 1} over the {self.budget:g} s budget" if o.times
                              else f"not run (> {self.budget:g} s budget at {n:,} rows)")
                elif run.status != "ok":
                    missing = "ModuleNotFoundError" in run.message
                    o.note = ("not installed: " if missing else "failed: ") + run.message
                    if o is outs[0] or not missing:  # a peer that is not installed is no error
                        self.checks.append((f"{o.tool.name} at {n:,} rows: {o.note}",
                                            float("nan"), 0.0, False))
                elif run.info:
                    self.blas.setdefault(o.tool.name, describe_threads(run.info))
                    self.versions.update(run.info.get("versions", {}))
        return outs

    # ---- agreement ---------------------------------------------------------------------------

    def agreement(self, outs: Sequence[Outcome], tol: Mapping[str, float],
                  relative: Sequence[str] = (), label: str = "") -> dict[str, str]:
        """Max differences of every tool's estimates against the first tool's.

        ``tol`` maps an estimate key to its tolerance (keys not in it are not compared);
        keys in ``relative`` are compared as max |a - b| / |b|. Returns tool name -> text for
        the table (e.g. ``"coef 3.1e-09, se 2.0e-07"``, ``"coef 2.1e-02 (over 1e-04!)"``).
        """
        ref = outs[0].last_ok
        texts: dict[str, str] = {}
        for o in outs[1:]:
            run = o.last_ok
            if ref is None or run is None:
                texts[o.tool.name] = "-"
                continue
            parts = []
            for key, t in tol.items():
                if key not in run.estimates or key not in ref.estimates:
                    continue
                a, b = run.estimates[key], ref.estimates[key]
                if a.shape != b.shape:
                    parts.append(f"{key}: shape {a.shape} vs {b.shape}")
                    continue
                d = np.abs(a - b)
                if key in relative:
                    d = d / np.abs(b)
                diff = float(np.max(d)) if d.size else 0.0
                if key in o.tool.skip_check:
                    parts.append(f"{key} {diff:.1e} (not checked)")
                    continue
                ok = bool(diff <= t)
                self.checks.append((f"{label} {o.tool.name}: {key}", diff, t, ok))
                parts.append(f"{key} {diff:.1e}" + ("" if ok else f" (OVER {t:g}!)"))
            texts[o.tool.name] = ", ".join(parts) or "-"
        return texts

    def check_report(self) -> tuple[str, bool]:
        bad = [c for c in self.checks if not c[3]]
        lines = [f"agreement: {len(self.checks) - len(bad)} of {len(self.checks)} comparisons "
                 f"within tolerance: " + ("ok" if not bad else "FAILED")]
        lines += [f"  {w}: {d:.2e} > {t:g}" for w, d, t, _ in bad]
        return "\n".join(lines), not bad

    def thread_report(self) -> str:
        if not self.blas:
            return "threads: no child reported"
        groups: dict[str, list[str]] = {}
        for tool, rep in sorted(self.blas.items()):
            groups.setdefault(rep, []).append(tool)
        lines = ["threads seen inside the children (threadpoolctl in Python, env in R):"]
        lines += [f"- {rep}: {len(tools)} tool(s) ({'; '.join(tools)})"
                  for rep, tools in groups.items()]
        return "\n".join(lines)


def describe_threads(info: Mapping[str, Any]) -> str:
    pools = info.get("threadpools", [])
    if not pools:
        return "no BLAS / OpenMP pool loaded"
    parts = [f"{p.get('internal_api')} {p.get('version') or ''} "
             f"{p.get('threading_layer') or ''} x{p.get('num_threads')}".replace("  ", " ")
             for p in pools]
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------
# formatting
# --------------------------------------------------------------------------------------------


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 1 else f"{x:.2f}"


def timing_rows(outs: Sequence[Outcome], agree: Mapping[str, str] | None = None,
                show_n: bool = True) -> list[list[str]]:
    """Table rows: tool, [rows], best s, runs, median per-round ratio to the reference, MB,
    agreement."""
    ref = outs[0]
    rows = []
    for o in outs:
        cells = [o.tool.name] + ([f"{o.n:,}"] if show_n else [])
        if o.best is None:
            cells += [o.note or "not run", "-", "-", "-"]
        else:
            ratio = "-"
            if o is not ref and ref.times:
                rs = [a.seconds / b.seconds for a, b in zip(o.runs, ref.runs, strict=False)
                      if a.seconds and b.seconds]
                if rs:
                    ratio = f"{statistics.median(rs):.2f}x"
            runs = str(len(o.times)) + (f" (first > {SLOW_S:g} s)" if len(o.times) == 1
                                        and o.best > SLOW_S else "")
            cells += [fmt_s(o.best), runs, ratio, f"{o.maxrss_mb:,.0f}"]
            if o.note:
                cells[-4] += f" ({o.note})"
        cells.append("(reference)" if o is ref else (agree or {}).get(o.tool.name, "-"))
        rows.append(cells)
    return rows


TIMING_HEAD = ["tool", "rows", "best s", "runs", "time / reference (median of rounds)",
               "peak RSS MB", "max diff vs reference"]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table; numbers are right-aligned, text left-aligned."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [all(_is_number(r[i]) for r in cells) and bool(cells) for i in range(len(headers))]

    def line(vals: Sequence[str]) -> str:
        out = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(vals, widths, numeric,
                                                                      strict=True)]
        return "| " + " | ".join(out) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2))
                          for w, num in zip(widths, numeric, strict=True)) + "|"
    return "\n".join([line(list(headers)), rule, *(line(r) for r in cells)])


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print :func:`markdown_table` followed by a blank line."""
    print(markdown_table(headers, rows))
    print()


def show(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    print(title)
    print()
    print_table(headers, rows)


def _is_number(s: str) -> bool:
    try:
        float(s.replace(",", "").rstrip("x%"))
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# the machine
# --------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for ln in fh:
                if ln.startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def machine_header(budget: float | None = None) -> str:
    """nproc, CPU model, memory, load average, thread settings, the budget and R availability.

    ``budget`` is the script's ``--budget`` (None: the default ``BUDGET_S``).
    """
    mem = "n/a"
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
            mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    budget = BUDGET_S if budget is None else budget
    return (f"machine: {os.cpu_count()} CPUs ({cpu_model()}), {mem}, {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}; load average "
            f"(1/5/15 min) {load_average()}; children pinned to 1 BLAS/OpenMP thread "
            f"({', '.join(THREAD_VARS[:3])}=1 ...); budget {budget:g} s per call; "
            f"Rscript: {RSCRIPT or 'not installed'}")


# --------------------------------------------------------------------------------------------
# in-process helpers (kept for the scripts not yet on the subprocess harness)
# --------------------------------------------------------------------------------------------


def best_of(fn: Callable[[], Any], k: int = 3) -> tuple[float, Any]:
    """Run ``fn()`` ``k`` times in this process; the smallest wall time and the last result."""
    best, result = float("inf"), None
    for _ in range(k):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def timed_runs(fn: Callable[[], Any], slow_s: float = 60.0) -> tuple[float, str, Any]:
    """(seconds, runs label, result): best of 3 in-process runs, or 1 when the first exceeds
    ``slow_s`` seconds."""
    t, res = best_of(fn, 1)
    if t > slow_s:
        return t, "1 (>60 s)", res
    t2, res = best_of(fn, 2)
    return min(t, t2), "3", res


def run_r(code: str, csv: str, tmp: str, name: str) -> dict[str, list[str]] | None:
    """Run R ``code`` (which reads ``commandArgs(TRUE)[1]``, the CSV) with BLAS pinned and parse
    its output lines ``KEY v1 v2 ...``; None when R is not installed."""
    if RSCRIPT is None:
        return None
    script = os.path.join(tmp, f"{name}.R")
    with open(script, "w") as fh:
        fh.write(code + "\n")
    out = subprocess.run([RSCRIPT, script, csv], capture_output=True, text=True, check=True,
                         env=child_env())
    return {ln.split()[0]: ln.split()[1:] for ln in out.stdout.splitlines() if ln.strip()}


def r_runs_label(val: dict[str, list[str]]) -> tuple[float, str]:
    """Seconds and the runs label from an R task's ``TIME seconds runs`` line."""
    secs, runs = float(val["TIME"][0]), int(val["TIME"][1])
    return secs, "3" if runs == 3 else f"{runs} (>60 s)"


def peak_rss_self_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------------------------
# self-test: python benchmarks/_harness.py
# --------------------------------------------------------------------------------------------


def _selftest_mean(d: pd.DataFrame, shift: float = 0.0, sleep: float = 0.0):
    """A toy tool: the column means (plus ``shift``), after sleeping ``sleep`` seconds."""
    time.sleep(sleep if len(d) > WARMUP_ROWS else 0.0)
    return {"mean": d.mean().to_numpy() + shift}


def _selftest() -> int:
    """Check the harness's own promises on a toy comparison; exit 1 if one does not hold."""
    rng = np.random.default_rng(1)
    data = pd.DataFrame(rng.normal(size=(10_000, 3)), columns=["a", "b", "c"])
    tools = [Tool("reference", "_harness:_selftest_mean"),
             Tool("same", "_harness:_selftest_mean"),
             Tool("off by 1e-3", "_harness:_selftest_mean", {"shift": 1e-3}),
             Tool("too slow", "_harness:_selftest_mean", {"sleep": 5.0})]
    with Session(rounds=2, budget=2.0) as s:
        outs = s.compare(tools, data, name="selftest")
        agree = s.agreement(outs, {"mean": 1e-8}, label="selftest")
        big = s.compare(tools[:1] + tools[3:], pd.concat([data, data]), name="selftest2")
        show("harness self-test", TIMING_HEAD, timing_rows(outs, agree) + timing_rows(big))
        print(s.thread_report())
        pools = [p for o in outs if o.last_ok for p in o.last_ok.info.get("threadpools", [])]
        checks = {
            "every child ran 2 interleaved rounds": all(len(o.runs) == 2 for o in outs[:3]),
            "identical tool agrees": "OVER" not in agree["same"],
            "shifted tool is flagged": "OVER" in agree["off by 1e-3"],
            "slow tool shown as not run, no time": outs[3].best is None
            and outs[3].note.startswith("not run (> 2 s budget"),
            "slow tool not started at a larger size": big[1].runs == []
            and "already at 10,000 rows" in big[1].note,
            "BLAS pools pinned to 1 thread": bool(pools)
            and all(p.get("num_threads") == 1 for p in pools),
            "peak memory reported": all(o.maxrss_mb > 0 for o in outs[:3]),
        }
    for what, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(_selftest())
