"""Benchmark: cohortlab's ``table1`` against the ``tableone`` package, on the same data.

Run from the repository root::

    python benchmarks/bench_table1.py           # 1,000,000 and 100,000 rows
    python benchmarks/bench_table1.py --quick   # rows / 10, a smoke run

Prints a Markdown table of wall times (best of 3 for cohortlab, best of 1-2 for tableone)
and checks that both tools give the same SMDs on the unweighted data.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings

import numpy as np
import pandas as pd
import tableone
from _harness import best_of, print_table

import cohortlab as cl

SEED = 20261125
CONTINUOUS = [f"x{i:02d}" for i in range(1, 11)]  # 10 normal
NONNORMAL = ["nn1", "nn2"]  # skewed, summarised by median [Q1, Q3]
BINARY = ["b1", "b2", "b3", "b4"]  # 0/1
CATEGORICAL = ["c1", "c2", "c3", "c4"]  # integer codes with 3, 4, 5, 3 levels
COLUMNS = CONTINUOUS + NONNORMAL + BINARY + CATEGORICAL
BY, WEIGHTS = "treat", "w"
TABLEONE_SLOW = 180.0  # seconds: above this, tableone runs once instead of twice


def make_data(n: int, seed: int = SEED) -> pd.DataFrame:
    """A synthetic cohort: 20 covariates, a binary exposure and inverse-probability weights."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 3))  # confounders that drive treatment
    ps = 1.0 / (1.0 + np.exp(-(-0.3 + 0.5 * z[:, 0] - 0.4 * z[:, 1] + 0.3 * z[:, 2])))
    treat = (rng.random(n) < ps).astype(np.int64)
    cols: dict[str, np.ndarray] = {}
    for i, name in enumerate(CONTINUOUS):
        x = 50.0 + 10.0 * (0.6 * z[:, i % 3] + 0.8 * rng.standard_normal(n)) + 0.2 * i * treat
        cols[name] = x
    cols["nn1"] = np.exp(1.0 + 0.4 * z[:, 0] + 0.6 * rng.standard_normal(n))
    cols["nn2"] = rng.exponential(2.0 + 0.5 * treat)
    for i, name in enumerate(BINARY):
        p = 1.0 / (1.0 + np.exp(-(-1.0 + 0.3 * i + 0.5 * z[:, i % 3])))
        cols[name] = (rng.random(n) < p).astype(np.int64)
    for name, k in zip(CATEGORICAL, [3, 4, 5, 3], strict=True):
        u = rng.random(n) ** (1.0 + 0.3 * treat)  # treated skew towards the low codes
        cols[name] = np.minimum((u * k).astype(np.int64), k - 1)
    for name in ["x01", "x02", "nn1"]:  # 1% missing in three continuous columns
        cols[name][rng.random(n) < 0.01] = np.nan
    df = pd.DataFrame(cols)[COLUMNS]
    df[BY] = treat
    df[WEIGHTS] = np.where(treat == 1, 1.0 / ps, 1.0 / (1.0 - ps))
    return df


def run_cohortlab(df: pd.DataFrame, weighted: bool) -> cl.Table1:
    t1 = cl.table1(df, by=BY, columns=COLUMNS, categorical=CATEGORICAL, nonnormal=NONNORMAL,
                   weights=WEIGHTS if weighted else None)
    t1.table()  # the formatted table too: tableone formats on construction
    return t1


def run_tableone(df: pd.DataFrame) -> tableone.TableOne:
    # Binary 0/1 columns are declared categorical in tableone (n (%) per level, SMD from
    # the level proportions), as cohortlab treats 0/1 columns.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tableone.TableOne(df, columns=COLUMNS, categorical=BINARY + CATEGORICAL,
                                 nonnormal=NONNORMAL, groupby=BY, smd=True, overall=True)


def time_tableone(df: pd.DataFrame) -> tuple[float, int, tableone.TableOne]:
    t, res = best_of(lambda: run_tableone(df), 1)
    if t > TABLEONE_SLOW:
        return t, 1, res
    t2, res = best_of(lambda: run_tableone(df), 1)
    return min(t, t2), 2, res


def compare_smd(t1: cl.Table1, to: tableone.TableOne) -> list[list[str]]:
    """Largest |difference| between the two tools' SMDs, by kind of variable."""
    ours = t1.smd()
    col = [c for c in to.smd_table.columns if str(c).startswith("SMD")][0]
    theirs = to.smd_table[col].astype(float)
    rows = []
    for kind, names, note in [
        ("continuous (mean/SD)", CONTINUOUS, "signed, as is"),
        ("nonnormal", NONNORMAL, "signed; both use mean/SD for the SMD"),
        ("binary 0/1", BINARY, "abs(SMD): tableone's categorical SMD is unsigned"),
        ("categorical (Yang-Dalton)", CATEGORICAL, "unsigned in both"),
    ]:
        a = ours[names].to_numpy(dtype=float)
        b = theirs[names].to_numpy(dtype=float)
        if kind.startswith("binary"):
            a = np.abs(a)
        diff = float(np.max(np.abs(a - b)))
        rows.append([kind, len(names), f"{diff:.1e}", "yes" if diff < 1e-6 else "NO", note])
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="rows / 10 (a smoke run)")
    args = ap.parse_args(argv)
    scale = 10 if args.quick else 1
    sizes = [1_000_000 // scale, 100_000 // scale]
    print(f"# table1 benchmark ({time.strftime('%Y-%m-%d')}, {platform.machine()}, "
          f"Python {platform.python_version()}, cohortlab {cl.__version__}, "
          f"tableone {tableone.__version__}, numpy {np.__version__}, pandas {pd.__version__})")
    print()

    rows, smd_rows, repeats = [], None, set()
    for n in sizes:
        df = make_data(n)
        t_cl, t1 = best_of(lambda df=df: run_cohortlab(df, weighted=False), 3)
        t_to, k, to = time_tableone(df)
        repeats.add(k)
        rows.append(["unweighted", f"{n:,}", len(COLUMNS), f"{t_cl:.2f}", f"{t_to:.2f}",
                     f"{t_to / t_cl:.1f}x"])
        if smd_rows is None:  # the largest size
            smd_rows = compare_smd(t1, to)
        t_clw, _ = best_of(lambda df=df: run_cohortlab(df, weighted=True), 3)
        rows.append(["weighted (IPW)", f"{n:,}", len(COLUMNS), f"{t_clw:.2f}",
                     "not supported", "-"])
        del df, t1, to

    print_table(["task", "rows", "variables", "cohortlab s", "tableone s", "speed-up"], rows)
    print(f"cohortlab: best of 3 runs of cl.table1(...) plus .table() (formatting); tableone: "
          f"best of {'/'.join(str(k) for k in sorted(repeats))} run(s) of TableOne(..., smd=True) "
          f"(it formats on construction). tableone has no case weights, so the weighted task "
          f"is cohortlab only. Variables: {len(CONTINUOUS)} normal + {len(NONNORMAL)} nonnormal "
          f"continuous, {len(BINARY)} binary, {len(CATEGORICAL)} categorical (3-5 levels, "
          f"integer codes); by = {BY} (two groups); overall column on.")
    print()
    print(f"## SMD agreement, unweighted, {sizes[0]:,} rows (tolerance 1e-6)")
    print()
    print_table(["variables", "count", "max abs diff", "agree", "compared as"], smd_rows)
    ok = all(r[3] == "yes" for r in smd_rows)
    print("SMDs agree." if ok else "SMDs DIFFER beyond 1e-6.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
