"""The demo study behind ``make demo``: NHEFS (What If), smoking cessation and weight gain.

Writes into ``--out`` (default ``out/demo``): the cohort flow, Table 1 before and after
inverse probability weighting, Table 2 (the effect of quitting smoking on weight gain by
crude, IPW, g-formula, AIPW and TMLE estimators with their confidence intervals), a love plot,
an overlap plot, a forest plot and one self-contained ``report.html``. Run
``python -m cohortlab.demo``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .causal import aipw, crude_effect, gformula, ipw, propensity_score, tmle
from .datasets import load_nhefs
from .describe import attrition, table1
from .results import EstimateTable, tidy

SEED = 20260101
#: Confounders of What If Program 12.2.
L = ("sex + race + age + I(age**2) + C(education) + smokeintensity + I(smokeintensity**2)"
     " + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active) + wt71 + I(wt71**2)")
COLUMNS = ["age", "sex", "race", "education", "smokeintensity", "smokeyrs", "exercise",
           "active", "wt71"]
CATEGORICAL = ["education", "exercise", "active"]
LABELS = {"age": "Age, years", "sex": "Sex (1 = female)", "race": "Race (1 = non-white)",
          "education": "Education", "smokeintensity": "Cigarettes per day",
          "smokeyrs": "Years of smoking", "exercise": "Exercise", "active": "Daily activity",
          "wt71": "Weight in 1971, kg"}


def _effects(cohort, n_boot: int) -> EstimateTable:
    """Table 2: the same question answered by each estimator."""
    common = dict(exposure="qsmk", outcome="wt82_71")
    outcome_l = "qsmk + I(qsmk*smokeintensity) + " + L  # What If Program 13.2
    rows = (
        crude_effect(cohort, **common),
        ipw(cohort, covariates=L, **common),
        ipw(cohort, covariates=L, variance="bootstrap", n_boot=n_boot, random_state=SEED,
            **common),
        gformula(cohort, covariates=L, outcome_covariates=outcome_l, **common),
        aipw(cohort, covariates=L, outcome_covariates=outcome_l, **common),
        tmle(cohort, covariates=L, outcome_covariates=outcome_l, **common),
    )
    return EstimateTable(rows=rows, title="Table 2 · effect of quitting smoking on weight "
                                          "gain (kg), 1971-1982")


def run(out: Path, n_boot: int = 1000) -> Path:
    """Run the demo study and return the path of the HTML report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .report import forest_plot
    from .report._html import figure_html, html_page

    out.mkdir(parents=True, exist_ok=True)
    nhefs = load_nhefs()
    flow = attrition(nhefs, [("weight measured in 1982", "wt82.notna()")], id="seqn")
    ps = propensity_score(flow.data, exposure="qsmk", covariates=L)
    cohort = flow.data.assign(ipw=ps.weights)
    t1 = table1(cohort, by="qsmk", columns=COLUMNS, categorical=CATEGORICAL, labels=LABELS)
    t1w = table1(cohort, by="qsmk", columns=COLUMNS, categorical=CATEGORICAL, weights="ipw",
                 labels=LABELS)
    table2 = _effects(cohort, n_boot)
    effects = tidy(table2)

    flow.to_frame().to_csv(out / "attrition.csv", index=False)
    t1.to_frame().to_csv(out / "table1.csv", index=False)
    t1w.to_frame().to_csv(out / "table1_weighted.csv", index=False)
    effects.to_csv(out / "effects.csv", index=False)
    (out / "table1.md").write_text(t1.to_markdown() + "\n" + t1w.to_markdown())
    (out / "effects.md").write_text(table2.to_markdown())

    figures = {}
    for name, ax, caption in (
        ("love_plot", t1w.plot(), "Absolute SMDs, unweighted (open) and IP-weighted (filled)."),
        ("overlap", ps.plot_overlap(), "Propensity scores of quitters (up) and non-quitters."),
        ("forest", forest_plot(effects), "Table 2 as a forest plot (95% CIs)."),
        ("attrition", flow.plot(), "Cohort flow."),
    ):
        ax.figure.savefig(out / f"{name}.png", dpi=200, bbox_inches="tight")
        figures[name] = figure_html(ax.figure, caption)
        plt.close(ax.figure)

    page = html_page(
        "cohortlab demo: smoking cessation and weight gain (NHEFS, What If ch. 12-13)",
        [("Cohort", flow.to_html() + figures["attrition"]),
         ("Table 1", t1.to_html()),
         ("Table 1 after inverse probability weighting",
          t1w.to_html() + figures["love_plot"] + figures["overlap"]),
         ("Table 2: effect estimates", table2.to_html() + figures["forest"])],
        footer=f"cohortlab {__version__} · bootstrap seed {SEED} · data: NHEFS as in Hernán & "
               "Robins, Causal Inference: What If (2020)",
    )
    report = out / "report.html"
    report.write_text(page, encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``python -m cohortlab.demo [--out DIR] [--n-boot B]``."""
    parser = argparse.ArgumentParser(prog="python -m cohortlab.demo",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args(argv)
    report = run(args.out, args.n_boot)
    print(f"cohortlab demo: wrote {len(list(args.out.iterdir()))} files to {args.out}/")
    print(f"open {report.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
