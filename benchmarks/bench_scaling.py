"""How cohortlab's verbs scale with rows: 10k, 100k, 1M (and 3M with ``--large``).

Every call runs in a fresh subprocess with one BLAS thread (see ``_harness.py``); at each size
the six verbs run in interleaved rounds on one data set (10 normal covariates, a logistic
exposure ``a``, a linear outcome ``y``, exponential event times of cause 1 and a competing
cause 2, uniform censoring, times rounded up to 3 decimals):
``cl.cox`` (Efron), ``cl.fine_gray`` (cause 1), ``cl.kaplan_meier`` (by exposure),
``cl.cumulative_incidence`` (cause 1, by exposure), ``cl.ipw`` and ``cl.aipw`` (ATE).

The table shows the best time at each size, the exponent of each step
``log(t2 / t1) / log(n2 / n1)`` and the least-squares slope of log t on log n over the sizes
from 100k up (10k is mostly fixed overhead). A linear-time verb has exponents near 1; a step
well above 1 (say > 1.3) is a superlinear step worth a look. A verb over the time budget at one
size is not started at larger ones.

Run: ``python benchmarks/bench_scaling.py [--quick | --large] [--rounds K]``
(``--quick``: 2k, 20k, 200k; ``--large``: adds 3,000,000 rows, about 2.5 GB per child).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from _harness import Session, Tool, fmt_s, machine_header, show

SEED = 20261125
P = 10
COV = [f"x{i}" for i in range(P)]
VERBS = ("cox", "fine_gray", "kaplan_meier", "cumulative_incidence", "ipw", "aipw")


def make(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(n, P))
    beta = np.linspace(-0.3, 0.3, P)
    a = rng.binomial(1, 1 / (1 + np.exp(-(X @ beta[::-1]))))
    t1 = rng.exponential(np.exp(-(X @ beta) - 0.3 * a))
    t2 = rng.exponential(2 * np.exp(-(X @ beta[::-1])))
    t, c = np.minimum(t1, t2), rng.uniform(0, 2.0, n)
    event = np.where(t <= c, np.where(t2 < t1, 2, 1), 0)
    d = pd.DataFrame(X, columns=COV)
    return d.assign(a=a, y=2 * a + X.sum(axis=1) + rng.normal(size=n),
                    time=np.ceil(np.minimum(t, c) * 1000) / 1000, event=event,
                    status=(event > 0).astype(np.int64))


def run_verb(d: pd.DataFrame, verb: str):
    import cohortlab as cl

    if verb == "cox":
        f = cl.cox(d, time="time", event="status", covariates=COV + ["a"])
        return {"coef": f.params}
    if verb == "fine_gray":
        f = cl.fine_gray(d, time="time", event="event", cause=1, covariates=COV + ["a"])
        return {"coef": f.params}
    if verb == "kaplan_meier":
        return {"last": cl.kaplan_meier(d, time="time", event="status", by="a")
                .to_frame()["estimate"].iloc[-1]}
    if verb == "cumulative_incidence":
        return {"last": cl.cumulative_incidence(d, time="time", event="event", cause=1, by="a")
                .to_frame()["estimate"].iloc[-1]}
    e = getattr(cl, verb)(d, exposure="a", outcome="y", covariates=COV)
    return {"est": e.estimate, "se": e.std_error}


def _k(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n // 1000:,}k"


def slope(ns: list[int], ts: list[float]) -> float:
    return float(np.polyfit(np.log(ns), np.log(ts), 1)[0])


def main() -> int:
    parser = argparse.ArgumentParser()
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="2k, 20k, 200k rows")
    size.add_argument("--large", action="store_true", help="add 3,000,000 rows")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=None, help="seconds per call")
    args = parser.parse_args()
    sizes = [2_000, 20_000, 200_000] if args.quick else [10_000, 100_000, 1_000_000]
    if args.large:
        sizes.append(3_000_000)
    print(machine_header(args.budget))
    print()
    tools = [Tool(f"cl.{v}", "bench_scaling:run_verb", {"verb": v}, imports=["cohortlab"])
             for v in VERBS]
    times: dict[str, dict[int, float | None]] = {t.name: {} for t in tools}
    notes: dict[str, str] = {}
    rss: dict[str, float] = {}
    with Session(rounds=args.rounds, budget=args.budget) as s:
        for n in sizes:
            for o in s.compare(tools, make(n), name=f"scale{n}"):
                times[o.tool.name][n] = o.best
                if o.best is None:
                    notes.setdefault(o.tool.name, o.note)
                else:
                    rss[o.tool.name] = o.maxrss_mb
        steps = [f"exponent {_k(a)}->{_k(b)}" for a, b in zip(sizes, sizes[1:], strict=False)]
        head = ["verb", *(f"{n:,} rows s" for n in sizes), *steps,
                f"fitted exponent ({_k(sizes[1])}+)", "peak RSS MB, largest run"]
        rows = []
        for name, by_n in times.items():
            cells = [name] + [fmt_s(by_n.get(n)) if by_n.get(n) is not None
                              else notes.get(name, "-") for n in sizes]
            for a, b in zip(sizes, sizes[1:], strict=False):
                ta, tb = by_n.get(a), by_n.get(b)
                cells.append(f"{np.log(tb / ta) / np.log(b / a):.2f}" if ta and tb else "-")
            ok = [n for n in sizes[1:] if by_n.get(n)]
            cells.append(f"{slope(ok, [by_n[n] for n in ok]):.2f}" if len(ok) >= 2 else "-")
            cells.append(f"{rss.get(name, float('nan')):,.0f}")
            rows.append(cells)
        show("Scaling of cohortlab's verbs (best of the rounds; exponent ~1 = linear)", head,
             rows)
        print(s.thread_report())
        print("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(s.versions.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
