"""The demo study behind ``make demo``: NHEFS (What If), smoking cessation and weight gain.

Writes into ``--out`` (default ``out/demo``): the cohort flow, Table 1 before and after
inverse probability weighting, a crude effect estimate with Wald and bootstrap intervals, a
love plot, and one self-contained ``report.html``. Run ``python -m cohortlab.demo``.

The effect shown is the crude (unadjusted) difference in mean weight change, with an
influence-function and a bootstrap interval: confounding-adjusted estimators (IPW, g-formula,
AIPW, TMLE) come with cohortlab's causal module.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .causal import crude_effect
from .datasets import load_nhefs
from .describe import attrition, table1
from .results import tidy

SEED = 20260101
PS_FORMULA = (
    "qsmk ~ C(sex) + C(race) + age + I(age**2) + C(education) + smokeintensity"
    " + I(smokeintensity**2) + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active) + wt71"
    " + I(wt71**2)"
)
COLUMNS = ["age", "sex", "race", "education", "smokeintensity", "smokeyrs", "exercise",
           "active", "wt71"]
LABELS = {"age": "Age, years", "sex": "Sex (1 = female)", "race": "Race (1 = non-white)",
          "education": "Education", "smokeintensity": "Cigarettes per day",
          "smokeyrs": "Years of smoking", "exercise": "Exercise", "active": "Daily activity",
          "wt71": "Weight in 1971, kg"}


def _ipw(cohort: pd.DataFrame) -> np.ndarray:
    """Unstabilised ATE weights from a logistic propensity model (What If Program 12.2)."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    ps = smf.glm(PS_FORMULA, cohort, family=sm.families.Binomial()).fit().fittedvalues
    return np.where(cohort["qsmk"] == 1, 1.0 / ps, 1.0 / (1.0 - ps))


def run(out: Path, n_boot: int = 1000) -> Path:
    """Run the demo study and return the path of the HTML report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .report._html import figure_html, html_page

    out.mkdir(parents=True, exist_ok=True)
    nhefs = load_nhefs()
    flow = attrition(nhefs, [("weight measured in 1982", "wt82.notna()")], id="seqn")
    cohort = flow.data.assign(ipw=lambda d: _ipw(d))
    t1 = table1(cohort, by="qsmk", columns=COLUMNS, categorical=["education", "exercise",
                                                                  "active"],
                labels=LABELS)
    t1w = table1(cohort, by="qsmk", columns=COLUMNS,
                 categorical=["education", "exercise", "active"], weights="ipw", labels=LABELS)
    wald = crude_effect(cohort, exposure="qsmk", outcome="wt82_71")
    boot = crude_effect(cohort, exposure="qsmk", outcome="wt82_71", ci_method="bootstrap",
                        n_boot=n_boot, random_state=SEED)
    effects = tidy(wald, boot)

    flow.to_frame().to_csv(out / "attrition.csv", index=False)
    t1.to_frame().to_csv(out / "table1.csv", index=False)
    t1w.to_frame().to_csv(out / "table1_weighted.csv", index=False)
    effects.to_csv(out / "effects.csv", index=False)
    (out / "table1.md").write_text(t1.to_markdown() + "\n" + t1w.to_markdown())
    (out / "effects.md").write_text(wald.to_markdown() + "\n" + boot.to_markdown())

    ax = t1w.plot()
    ax.set_title("Covariate balance before and after IP weighting", fontsize=10)
    ax.figure.savefig(out / "love_plot.png", dpi=200, bbox_inches="tight")
    love = figure_html(ax.figure, "Absolute SMDs, unweighted (open) and IP-weighted (filled).")
    plt.close(ax.figure)
    fax = flow.plot()
    fax.figure.savefig(out / "attrition.png", dpi=200, bbox_inches="tight")
    flow_fig = figure_html(fax.figure, "Cohort flow.")
    plt.close(fax.figure)

    page = html_page(
        "cohortlab demo: smoking cessation and weight gain (NHEFS, What If ch. 12)",
        [("Cohort", flow.to_html() + flow_fig),
         ("Table 1", t1.to_html()),
         ("Table 1 after inverse probability weighting", t1w.to_html() + love),
         ("Effect estimate", wald.to_html() + boot.to_html())],
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
