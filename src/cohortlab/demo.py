"""The demo study behind ``make demo``: NHEFS (What If), smoking cessation and weight gain.

Writes into ``--out`` (default ``out/demo``): the cohort flow, Table 1 before and after
inverse probability weighting, Table 2 (the effect of quitting smoking on weight gain by
crude, IPW, g-formula, AIPW and TMLE estimators with their confidence intervals), a love plot,
an overlap plot, a forest plot, a survival section (What If ch. 17: Kaplan-Meier curves by
quitting with the numbers at risk, the IPW-adjusted survival difference at 1, 3 and 5 years
and an IPTW-weighted Cox hazard ratio) and one self-contained ``report.html``. Run
``python -m cohortlab.demo``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .causal import aipw, crude_effect, gformula, ipw, propensity_score, tmle
from .datasets import load_nhefs
from .describe import attrition, table1
from .results import Curve, EstimateTable, tidy
from .survival import adjusted_survival, cox, kaplan_meier

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
#: Survival section: 1, 3 and 5 years of follow-up, in months from January 1983.
SURVIVAL_MONTHS = (12, 36, 60)


def _effects(cohort, n_boot: int) -> EstimateTable:
    """Table 2: the same question answered by each estimator."""
    common: dict[str, Any] = dict(exposure="qsmk", outcome="wt82_71")
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


_SURVIVAL_NOTE = (
    "Death by 1992 among all 1,629 (What If ch. 17: the 63 without a 1982 weight are "
    "followed too). Inverse probability weighting (IPW): Kaplan-Meier curves weighted by the "
    "weights of the propensity model of Table 1, refitted on the 1,629; 95% CIs by the "
    "robust (infinitesimal jackknife) variance, treating the weights as known (conservative "
    "for the average effect). Hazard ratio: Cox model of death on quitting, weighted by the "
    "same weights, robust (sandwich) variance.")
_ARMS = "quitters vs non-quitters"


def _in_words(rows: EstimateTable, first: str) -> pd.DataFrame:
    """A table of effects in words: what, estimate (95% CI), p-value, the CI's method."""
    from .protocol._reporttext import ci_words, method_words
    from .report._cells import ci_text
    from .results._format import format_p

    out = []
    for r in rows.rows:
        what = (method_words(r.method)[:1].upper() + method_words(r.method)[1:]
                if first == "Estimator" else f"{r.term.replace(' (robust SE)', '')}, {_ARMS}")
        if first == "Estimator" and r.ci_method.startswith("bootstrap"):
            what += ", bootstrap"
        out.append({first: what, "Estimate (95% CI)": ci_text(r.estimate, r.conf_low,
                                                               r.conf_high, 3),
                    "p-value": format_p(r.p_value), "Confidence interval": ci_words(
                        r.ci_method)})
    return pd.DataFrame(out)


def _technical(*results: object) -> str:
    """The appendix: model formulas, fluctuation parameters and other identifiers."""
    from .protocol._reporttext import is_technical

    notes = dict.fromkeys(n for res in results for n in res._footer()  # type: ignore[attr-defined]
                          for n in str(n).split("\n") if n.strip() and is_technical(n))
    return "\n".join(f"- `{n}`" for n in notes) or "Nothing to add."


def _survival_cohort(nhefs: pd.DataFrame) -> pd.DataFrame:
    """All 1,629 with their survival time, as What If ch. 17.

    Death by 1992 is known for everyone, including the 63 without a 1982 weight, so the
    survival analysis keeps them. ``survtime`` is the month of death counted from January
    1983 (1..120), or 120 for those alive at the end of 1992.
    """
    death = nhefs["death"].to_numpy(dtype=np.int64)
    months = (nhefs["yrdth"].to_numpy() - 83) * 12 + nhefs["modth"].to_numpy()
    return nhefs.assign(qsmk=nhefs["qsmk"].astype(np.int64), death=death,
                        survtime=np.where(death == 0, 120.0, months))


def _survival(cohort: pd.DataFrame) -> tuple[Curve, EstimateTable]:
    """Kaplan-Meier by quitting; IPW survival differences at 1, 3, 5 years; the IPTW Cox HR."""
    arm = cohort["qsmk"].map({1: "quitters", 0: "non-quitters"})
    km = kaplan_meier(cohort.assign(arm=arm), time="survtime", event="death", by="arm")
    curves = adjusted_survival(cohort, time="survtime", event="death", exposure="qsmk",
                               covariates=L)
    diffs = tuple(
        replace(row, term=f"IPW survival difference at {m // 12} year{'s' * (m > 12)}",
                labels={"months": m})
        for m, row in zip(SURVIVAL_MONTHS, curves.contrast(list(SURVIVAL_MONTHS)), strict=True)
    )
    ps = propensity_score(cohort, exposure="qsmk", covariates=L)
    hr = cox(cohort.assign(iptw=ps.weights), time="survtime", event="death",
             covariates=["qsmk"], weights="iptw", robust=True).coef_table()["qsmk"]
    rows = (*diffs, replace(hr, term="IPTW Cox hazard ratio (robust SE)", estimand="ATE"))
    title = ("Survival · effect of quitting smoking on death by 1992 (survival difference: "
             "quitters minus non-quitters)")
    return km, EstimateTable(rows=rows, title=title, notes=curves.notes[:1])


def run(out: Path, n_boot: int = 1000) -> Path:
    """Run the demo study and return the path of the HTML report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from .report import forest_plot

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
    km, survival = _survival(_survival_cohort(nhefs))

    flow.to_frame().to_csv(out / "attrition.csv", index=False)
    t1.to_frame().to_csv(out / "table1.csv", index=False)
    t1w.to_frame().to_csv(out / "table1_weighted.csv", index=False)
    effects.to_csv(out / "effects.csv", index=False)
    (out / "table1.md").write_text(t1.to_markdown() + "\n" + t1w.to_markdown())
    (out / "effects.md").write_text(table2.to_markdown())
    survival.to_frame().to_csv(out / "survival.csv", index=False)
    (out / "survival.md").write_text(survival.to_markdown())

    from .report.document import Report

    rep = Report("cohortlab demo: smoking cessation, weight gain and survival (NHEFS, What "
                 "If ch. 12-13 and 17)", metadata={
                     "data": "NHEFS as in Hernán & Robins, Causal Inference: What If (2020)",
                     "bootstrap seed": str(SEED)})
    figures = {}
    for name, ax, caption in (
        ("love_plot", t1w.plot(), "Absolute SMDs, unweighted (open) and IP-weighted (filled)."),
        ("overlap", ps.plot_overlap(), "Propensity scores of quitters (up) and non-quitters."),
        ("forest", forest_plot(effects.assign(term=_in_words(table2, "Estimator")[
            "Estimator"].to_numpy())), "Table 2 as a forest plot (95% CIs)."),
        ("attrition", flow.plot(), "Cohort flow."),
        ("km_by_qsmk", km.plot(risk_table=True, times=[0, 24, 48, 72, 96, 120],
                               xlabel="Months since January 1983",
                               ylabel="Survival probability"),
         "Kaplan-Meier survival of quitters and non-quitters (unadjusted), all 1,629, with "
         "the numbers at risk (95% CIs, log-log)."),
    ):
        legend = ax.get_legend()
        for text in legend.get_texts() if legend is not None else ():
            text.set_text({"qsmk = 1": "quitters", "qsmk = 0": "non-quitters"}.get(
                text.get_text(), text.get_text()))
        fig = ax.figure
        assert isinstance(fig, Figure)  # every plot above draws on an Axes of a new figure
        fig.savefig(out / f"{name}.png", dpi=200, bbox_inches="tight")
        figures[name] = (fig, caption)

    def figure(name: str) -> None:
        fig, caption = figures[name]
        rep.add_figure(fig, caption=caption)
        plt.close(fig)

    rep.add_heading("Cohort", anchor=True).add_table(flow)
    figure("attrition")
    rep.add_heading("Table 1", anchor=True).add_table(t1)
    rep.add_heading("Table 1 after inverse probability weighting", anchor=True).add_table(t1w)
    figure("love_plot")
    figure("overlap")
    rep.add_heading("Table 2: effect estimates", anchor=True)
    rep.add_table(_in_words(table2, "Estimator"), title=table2.title,
                  caption="Mean difference in weight change 1971-1982 (kg), quitters minus "
                  "non-quitters; every estimator but the crude one adjusts for the "
                  "confounders of Table 1.")
    figure("forest")
    rep.add_heading("Survival", anchor=True).add_text(_SURVIVAL_NOTE)
    figure("km_by_qsmk")
    rep.add_table(_in_words(survival, "Contrast"), title=survival.title,
                  caption="Survival differences are proportions (0.01 = 1 percentage point).")
    rep.add_heading("Technical appendix", anchor=True)
    rep.add_text(_technical(table2, survival))
    page = rep.to_html()
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
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    # The demo makes thousands of small model fits (bootstrap replicates); with one BLAS
    # thread each they run several times faster than with threads competing for the cores.
    with threadpool_limits(limits=1, user_api="blas"):
        report = run(args.out, args.n_boot)
    print(f"cohortlab demo: wrote {len(list(args.out.iterdir()))} files to {args.out}/")
    print(f"open {report.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
