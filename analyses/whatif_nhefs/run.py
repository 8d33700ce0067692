# %% [markdown]
# # What If, chapters 12, 13 and 15 with cohortlab
#
# Hernán & Robins, *Causal Inference: What If* (2020), estimate the effect of quitting smoking
# (`qsmk`) on weight gain 1971-1982 (`wt82_71`, kg) in NHEFS. This script reproduces the
# book's numbers with cohortlab's public API and prints them side by side. Run:
# `python analyses/whatif_nhefs/run.py [--n-boot 1000]`.
# %%
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

import cohortlab as cl

HERE = Path(__file__).parent
L = ("sex + race + age + I(age**2) + C(education) + smokeintensity + I(smokeintensity**2)"
     " + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active) + wt71 + I(wt71**2)")
SEED = 20240501


def analyse(n_boot: int) -> pd.DataFrame:
    nhefs = cl.datasets.load_nhefs()
    flow = cl.attrition(nhefs, [("weight measured in 1982", "wt82.notna()")], id="seqn")
    d = flow.data  # 1,566 uncensored
    rows = []

    def add(chapter: str, method: str, book: str, est: cl.Estimate) -> None:
        rows.append(dict(chapter=chapter, method=method, book=book, estimate=est.estimate,
                         conf_low=est.conf_low, conf_high=est.conf_high,
                         ci_method=est.ci_method))

    # %% Chapter 12: IP weighting (Programs 12.2-12.4, 12.7)
    add("12.2", "IPW, nonstabilised, robust SE", "3.4 (2.4, 4.5)",
        cl.ipw(d, exposure="qsmk", outcome="wt82_71", covariates=L, variance="robust"))
    add("12.2", "IPW, M-estimation SE (PS estimated)", "(not in the book)",
        cl.ipw(d, exposure="qsmk", outcome="wt82_71", covariates=L))
    add("12.7", "IPW with censoring weights (n = 1,629)", "3.5 (2.5, 4.5)",
        cl.ipw(nhefs, exposure="qsmk", outcome="wt82_71", covariates=L,
               censoring_covariates=L, variance="robust"))
    # %% Chapter 13: standardisation (Programs 13.1-13.4)
    outcome_l = "qsmk + I(qsmk*smokeintensity) + " + L
    add("13.3", "g-formula standardised over 1,629, bootstrap", "3.5 (2.6, 4.5)",
        cl.gformula(nhefs, exposure="qsmk", outcome="wt82_71", covariates=L,
                    outcome_covariates=outcome_l, standardize_over="all",
                    variance="bootstrap", n_boot=n_boot, random_state=SEED))
    # %% Chapter 15: outcome regression and propensity scores (Programs 15.1-15.4)
    add("15.1", "outcome regression, no product term", "3.5 (2.6, 4.3)",
        cl.gformula(d, exposure="qsmk", outcome="wt82_71", covariates=L))
    ps = cl.propensity_score(nhefs, exposure="qsmk", covariates=L).scores  # fit on all 1,629
    d15 = d.assign(ps=ps.loc[d.index],
                   decile=pd.qcut(ps, 10, labels=False).loc[d.index])
    add("15.3", "PS deciles as covariate", "3.5 (2.6, 4.4)",
        cl.gformula(d15, exposure="qsmk", outcome="wt82_71", covariates="C(decile)"))
    add("15.3", "PS as a linear covariate", "3.6 (2.7, 4.5)",
        cl.gformula(d15, exposure="qsmk", outcome="wt82_71", covariates="ps"))
    all15 = nhefs.assign(ps=ps)
    add("15.3", "PS standardisation over 1,629, bootstrap", "3.6 (2.7, 4.6)",
        cl.gformula(all15, exposure="qsmk", outcome="wt82_71", covariates="ps",
                    outcome_covariates="qsmk + ps + qsmk:ps", standardize_over="all",
                    variance="bootstrap", n_boot=n_boot, random_state=SEED))
    # %% Doubly robust (Technical Point 13.2; the book prints no number)
    add("TP 13.2", "AIPW (influence function)", "(not in the book)",
        cl.aipw(d, exposure="qsmk", outcome="wt82_71", covariates=L, outcome_covariates=outcome_l))
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args(argv)
    table = analyse(args.n_boot)
    shown = table.assign(cohortlab=[f"{e:.2f} ({lo:.2f}, {hi:.2f})" for e, lo, hi in
                                    zip(table.estimate, table.conf_low, table.conf_high,
                                        strict=True)])
    print(shown[["chapter", "method", "book", "cohortlab", "ci_method"]].to_string(index=False))
    expected = json.loads((HERE / "expected.json").read_text())
    for row in table.itertuples():
        want = expected[f"{row.chapter} {row.method}"]
        if abs(row.estimate - want) > 1e-4:
            raise SystemExit(f"{row.chapter} {row.method}: got {row.estimate:.6f}, expected {want}")
    print(f"\nall {len(table)} point estimates match expected.json (abs 1e-4)")
    return table


if __name__ == "__main__":
    main()
