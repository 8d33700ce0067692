"""Benchmark: the cost of the estimated-propensity-score variance of the weighted survival verbs.

Run from the repository root::

    python benchmarks/bench_ps_variance.py           # 1,000,000 rows
    python benchmarks/bench_ps_variance.py --quick   # 100,000 rows, a smoke run

A cohort with five normal covariates, a logistic exposure (about 30% exposed), two competing
causes with exponential hazards and uniform censoring; ATE weights from
``propensity_score()`` (logistic, 6 coefficients). For each verb, the time of the call with
the weights as a column and the weights-known variance (``robust=True`` / the infinitesimal
jackknife), and with ``weights=<PropensityScore>`` and the default ``"mestimation"``; for the
Cox models also the model-based variance (no pass over the residuals at all). The last column
is the extra time of ``"mestimation"`` over the weights-known call, in units of that call's
own variance step (model-based to robust for the Cox models): the claim is "at most one extra
pass over the data", i.e. a value of about 1 or less. Best of 3 wall-clock runs. The weights'
gradient and the propensity coefficients' influence values are computed once per
PropensityScore (timed on their own) and cached, so the verbs' times exclude them.
Check (exit code 1 if it fails): every SE finite and positive.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings

import numpy as np
import pandas as pd
from _harness import best_of, print_table

import cohortlab as cl

SEED = 20261207
COVS = [f"x{i}" for i in range(1, 6)]


def make_data(n: int, seed: int = SEED) -> pd.DataFrame:
    """Five covariates, a logistic exposure, two competing causes, uniform censoring."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, len(COVS)))
    a = (rng.random(n) < 1 / (1 + np.exp(0.9 - x @ np.array([0.5, -0.4, 0.3, 0.2, -0.1])))
         ).astype(np.int64)
    lp = x @ np.array([0.4, 0.3, -0.3, 0.2, 0.1])
    h1, h2 = 0.10 * np.exp(lp - 0.5 * a), 0.05 * np.exp(0.5 * lp + 0.2 * a)
    t = rng.exponential(1 / (h1 + h2))
    cause = np.where(rng.random(n) < h1 / (h1 + h2), 1, 2)
    c = rng.uniform(0, 10, n)
    df = pd.DataFrame(x, columns=COVS)
    df["a"] = a
    df["time"] = np.round(np.minimum(t, c), 3) + 0.001
    df["event"] = np.where(t <= c, cause, 0)
    df["dead"] = (df["event"] > 0).astype(np.int64)
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100,000 rows (a smoke run)")
    args = ap.parse_args(argv)
    n = 100_000 if args.quick else 1_000_000
    print(f"# estimated-PS variance benchmark ({time.strftime('%Y-%m-%d')}, "
          f"{platform.machine()}, Python {platform.python_version()}, cohortlab "
          f"{cl.__version__}, numpy {np.__version__}), {n:,} rows")
    print()
    warnings.simplefilter("ignore")
    df = make_data(n)
    t_ps, ps = best_of(lambda: cl.propensity_score(df, exposure="a", covariates=COVS), 3)
    df["w"] = ps.weights
    base = dict(time="time", covariates=["a"])
    cox_kw = dict(base, event="dead")
    cases = [
        ("cox", lambda v: cl.cox(df, **cox_kw, weights="w", robust=v == "robust")
         if v != "mestimation" else cl.cox(df, **cox_kw, weights=ps)),
        ("cause_specific_cox", lambda v: cl.cause_specific_cox(
            df, **base, event="event", weights="w", robust=v == "robust")
         if v != "mestimation" else cl.cause_specific_cox(df, **base, event="event",
                                                          weights=ps)),
        ("fine_gray", lambda v: cl.fine_gray(df, **base, event="event", cause=1, weights="w")
         if v != "mestimation" else cl.fine_gray(df, **base, event="event", cause=1,
                                                 weights=ps)),
        ("kaplan_meier", lambda v: cl.kaplan_meier(df, time="time", event="dead", by="a",
                                                   weights="w" if v != "mestimation" else ps)),
        ("cumulative_incidence", lambda v: cl.cumulative_incidence(
            df, time="time", event="event", cause=1, by="a",
            weights="w" if v != "mestimation" else ps)),
    ]
    from cohortlab.survival._psvar import _nuisance

    t_nuis = best_of(lambda: _nuisance(ps), 3)[0]
    rows, ok = [["propensity_score", "logistic fit + weights", f"{t_ps:.3f}", "-", "-"],
                ["(PropensityScore)", "dw/dalpha + alpha's influence (once, cached)",
                 f"{t_nuis:.3f}", "-", "-"]], True
    for name, call in cases:
        has_model = name in ("cox", "cause_specific_cox")
        t_model = best_of(lambda call=call: call("model"), 3)[0] if has_model else None
        t_known, known = best_of(lambda call=call: call("robust"), 3)
        t_mest, mest = best_of(lambda call=call: call("mestimation"), 3)
        se = _se(mest)
        ok &= bool(np.all(np.isfinite(se)) and np.all(se[se == se] >= 0))
        step = (t_known - t_model) if t_model is not None else t_known
        extra = (t_mest - t_known) / step if step > 0 else float("nan")
        if t_model is not None:
            rows.append([name, "model-based", f"{t_model:.3f}", "-", "-"])
        rows.append([name, "weights known", f"{t_known:.3f}", f"{_se(known)[0]:.5f}", "-"])
        rows.append([name, "mestimation (PropensityScore)", f"{t_mest:.3f}", f"{se[0]:.5f}",
                     f"{extra:.2f}"])
    print_table(["verb", "variance", "seconds", "SE (first)", "extra / variance step"], rows)
    print("ATE weights, logistic propensity score on 5 covariates. Best of 3 wall-clock runs. "
          "Curves: SE at the last time of the first group (the full curve is computed).")
    return 0 if ok else 1


def _se(res) -> np.ndarray:
    if hasattr(res, "vcov"):
        return np.sqrt(np.diag(res.vcov))
    f = res.to_frame()
    return f["std_error"].to_numpy()[-1:]


if __name__ == "__main__":
    sys.exit(main())
