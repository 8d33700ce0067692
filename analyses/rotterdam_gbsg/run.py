# %% [markdown]
# # External validation of a Cox prognostic model: Rotterdam -> GBSG
#
# Royston & Altman (2013, *BMC Med Res Methodol* 13:33) develop a Cox model of
# recurrence-free survival (RFS) on the Rotterdam tumour bank (node-positive women) and
# validate it on the German Breast Cancer Study Group trial. This script follows the survival
# package's "Recreating a Royston and Altman paper" vignette (Therneau) for the data and the
# model, then reports the model's discrimination (Harrell's and Uno's C, AUC at 5 years),
# overall accuracy (Brier score, IPA), calibration (O/E, calibration slope, deciles plot) and
# clinical usefulness (decision curve: Kaplan-Meier net benefit, Vickers et al. 2008) on GBSG,
# each number beside R's (survival, riskRegression). Run:
# `python analyses/rotterdam_gbsg/run.py [--out DIR] [--n-boot B]` (figures go to DIR,
# default out/analyses/rotterdam_gbsg/).
# %%
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import cohortlab as cl  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent.parent))  # analyses/_compare.py
from _compare import compare, load_expected, report  # noqa: E402

HERE = Path(__file__).parent
Y7 = 2557  # round(7 * 365.25) days: the administrative censoring of the development data
T5 = 5 * 365.25  # the validation horizon, days
COVARIATES = ["age3", "age3_log", "meno", "size_group", "nodes_isqrt", "er1000", "hormon"]
THRESHOLDS = np.round(np.arange(0.05, 0.801, 0.05), 2)
METRICS = ["harrell_c", "uno_c", "auc", "brier", "brier_null", "oe_ratio"]


def development_data() -> pd.DataFrame:
    """The vignette's r7: node-positive Rotterdam women, RFS censored at 7 years."""
    d = cl.datasets.load_rotterdam()
    d = d[d["nodes"] > 0].reset_index(drop=True)
    recur = np.where(d["rtime"] > Y7, 0, d["recur"])
    death = np.where(d["dtime"] > Y7, 0, d["death"])
    rtime, dtime = np.minimum(d["rtime"], Y7), np.minimum(d["dtime"], Y7)
    # RFS: recurrence, or death when there was none (also for the 43 women who died after
    # their recurrence follow-up ended: the vignette's choice, which gives the paper's 965)
    d["rfstime"] = np.where(recur == 1, rtime, dtime)
    d["rfs"] = np.maximum(recur, death)
    return add_covariates(d)


def add_covariates(d: pd.DataFrame) -> pd.DataFrame:
    """The vignette's transformations: agefun(age), 1/sqrt(nodes), er/1000."""
    a = d["age"] / 100
    return d.assign(age3=a**3, age3_log=a**3 * np.log(a), nodes_isqrt=1 / np.sqrt(d["nodes"]),
                    er1000=d["er"] / 1000)


def design(fit: cl.CoxResult, data: pd.DataFrame) -> np.ndarray:
    """The model's covariate columns for ``data`` (dummies of size_group spelled out)."""
    cols = {"size_group[T.20-50]": data["size_group"] == "20-50",
            "size_group[T.>50]": data["size_group"] == ">50"}
    return np.column_stack([np.asarray(cols.get(t, data.get(t)), dtype=float)
                            for t in fit.terms])


def linear_predictor(fit: cl.CoxResult, data: pd.DataFrame, dev: pd.DataFrame) -> np.ndarray:
    """x'beta centred as R's predict.coxph: at the development means, except 0/1 columns."""
    xd = design(fit, dev)
    centre = np.where(np.isin(xd, (0.0, 1.0)).all(axis=0), 0.0, xd.mean(axis=0))
    return (design(fit, data) - centre) @ fit.params


def km_risk_at(data: pd.DataFrame, t: float) -> float:
    """1 - Kaplan-Meier RFS at t (the last value if follow-up ends earlier, as R extend=TRUE)."""
    km = cl.kaplan_meier(data, time="rfstime", event="rfs").to_frame()
    s = km.loc[km["time"] <= t, "estimate"]
    return 1.0 - (float(s.iloc[-1]) if len(s) else 1.0)


def net_benefit(data: pd.DataFrame, risk: str, thresholds: np.ndarray, t: float
                ) -> pd.DataFrame:
    """Kaplan-Meier net benefit at t (Vickers et al. 2008) of treating when risk >= threshold.

    NB(pt) = P(risk >= pt) [R_pos - (1 - R_pos) pt / (1 - pt)], R_pos the KM risk by t among
    the positives; treat all: R - (1 - R) pt / (1 - pt). A loop over thresholds, not rows.
    """
    overall = km_risk_at(data, t)
    rows = []
    for pt in thresholds:
        pos = data[risk].to_numpy() >= pt
        w = pt / (1 - pt)
        nb = 0.0
        if pos.any():
            r = km_risk_at(data[pos], t)
            nb = pos.mean() * (r - (1 - r) * w)
        rows.append(dict(threshold=pt, net_benefit=nb, treat_all=overall - (1 - overall) * w,
                         treat_none=0.0, n_positive=int(pos.sum())))
    return pd.DataFrame(rows)


def bootstrap_net_benefit(data: pd.DataFrame, risk: str, thresholds: np.ndarray, t: float,
                          n_boot: int, seed: int) -> pd.DataFrame:
    """Percentile 95% intervals of the net benefit over bootstrap resamples of the rows."""
    rng = np.random.default_rng(seed)
    draws = np.empty((n_boot, thresholds.size))
    for b in range(n_boot):  # replicates, not rows
        idx = rng.integers(0, len(data), len(data))
        draws[b] = net_benefit(data.iloc[idx], risk, thresholds, t)["net_benefit"]
    lo, hi = np.nanquantile(draws, [0.025, 0.975], axis=0)
    return pd.DataFrame({"threshold": thresholds, "conf_low": lo, "conf_high": hi})


def analyse(out: Path, n_boot: int) -> list[tuple[str, float, str]]:
    """(key in expected.json, our number, note) for every reproduced number."""
    rows: list[tuple[str, float, str]] = []
    # %% development: the vignette's Cox model on Rotterdam (Breslow ties, as the vignette)
    dev = development_data()
    fit = cl.cox(dev, time="rfstime", event="rfs", covariates=COVARIATES, ties="breslow")
    rows += [("development n", float(fit.n), ""),
             ("development events (vignette: 965)", float(fit.n_events), "")]
    for term, b, se in zip(fit.terms, fit.params, fit.std_errors, strict=True):
        name = term.replace("size_group", "size")
        rows += [(f"coef {name}", b, ""), (f"SE {name}", se, "")]  # + "vs paper" entries
    rows.append(("development Harrell C (apparent)", fit.fit_stats["concordance"], ""))
    # %% validation: linear predictor (centred as R's predict) and 5-year risk on GBSG
    val = add_covariates(cl.datasets.load_gbsg())
    val["PI"] = linear_predictor(fit, val, dev)  # the prognostic index
    pred = fit.predict_survival(val).at([T5]).to_frame()  # one curve per row, labelled by
    surv5 = pred.set_index("group")["estimate"]           # the row's index (as a string)
    val["risk5"] = 1.0 - surv5.loc[val.index.astype(str)].to_numpy()
    rows += [("validation n", float(len(val)), ""),
             ("validation events", float(val["rfs"].sum()), ""),
             ("mean 5-year risk (E)", float(val["risk5"].mean()), "")]
    # %% discrimination, accuracy and calibration-in-the-large (cl.evaluate_survival_model)
    ev = cl.evaluate_survival_model(val, time="rfstime", event="rfs", score="PI",
                                    risk={T5: "risk5"})
    res = ev.to_frame().set_index("term")
    for m in METRICS:
        r = res.loc[m]
        rows += [(f"{m} {f}", float(r[f]), "")
                 for f in ("estimate", "std_error", "conf_low", "conf_high")]
    rows.append(("ipa estimate", float(res.loc["ipa", "estimate"]), ""))
    rows.append(("observed 5-year risk (KM)", km_risk_at(val, T5), ""))
    # %% calibration slope: a Cox model of GBSG's RFS on the linear predictor (1 = ideal)
    slope = cl.cox(val, time="rfstime", event="rfs", covariates=["PI"]).to_frame(
        exponentiate=False).iloc[0]
    rows += [(f"calibration_slope {f}", float(slope[f]), "")
             for f in ("estimate", "std_error", "conf_low", "conf_high")]
    # %% calibration by decile of predicted risk (observed = Kaplan-Meier) and its plot
    cal = ev.calibration
    for r in cal.itertuples():
        rows += [(f"calibration decile {r.bin} mean risk", r.mean_risk, ""),
                 (f"calibration decile {r.bin} observed", r.observed, "")]
    _plot_calibration(ev, out / "calibration_5y.png")
    # %% clinical usefulness: decision curve at 5 years
    nb = net_benefit(val, "risk5", THRESHOLDS, T5)
    for r in nb.itertuples():
        rows += [(f"net benefit {r.threshold:.2f}", r.net_benefit, ""),
                 (f"net benefit treat all {r.threshold:.2f}", r.treat_all, "")]
    ci = bootstrap_net_benefit(val, "risk5", THRESHOLDS, T5, n_boot, seed=20130331)
    _plot_decision_curve(nb.merge(ci, on="threshold"), n_boot, out / "decision_curve_5y.png")
    nb.merge(ci, on="threshold").to_csv(out / "net_benefit_5y.csv", index=False)
    return rows


def _plot_calibration(ev: cl.SurvivalModelEvaluation, path: Path) -> None:
    ax = ev.plot_calibration(T5)
    cal = ev.calibration
    half = 1.96 * cal["observed_std_error"]
    ax.errorbar(cal["mean_risk"], cal["observed"], yerr=half, fmt="none", ecolor="grey",
                lw=0.8)
    ax.set(xlabel="mean predicted 5-year risk of recurrence or death (Rotterdam model)",
           ylabel="observed 5-year risk in GBSG (Kaplan-Meier, 95% CI)",
           title="Calibration at 5 years, deciles of predicted risk")
    ax.get_legend().remove()
    ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(ax.figure)


def _plot_decision_curve(nb: pd.DataFrame, n_boot: int, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(nb["threshold"], nb["net_benefit"], marker="o", ms=3, label="Rotterdam model")
    ax.fill_between(nb["threshold"], nb["conf_low"], nb["conf_high"], alpha=0.2,
                    label=f"95% bootstrap interval ({n_boot} resamples)")
    ax.plot(nb["threshold"], nb["treat_all"], color="grey", label="treat all")
    ax.axhline(0, color="black", lw=0.8, label="treat none")
    ax.set(xlabel="threshold 5-year risk", ylabel="net benefit (Kaplan-Meier)",
           ylim=(-0.05, max(0.55, float(nb["net_benefit"].max()) + 0.05)),
           title="Decision curve at 5 years, GBSG (Vickers et al. 2008)")
    ax.legend(frameon=False, fontsize=8)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def _runs(values: pd.Series, step: float = 0.05) -> str:
    """0.2, 0.35, 0.4, 0.45 -> '0.20, 0.35-0.45' (runs of consecutive grid thresholds)."""
    out: list[list[float]] = []
    for x in values:
        if out and abs(x - out[-1][-1] - step) < 1e-9:
            out[-1].append(x)
        else:
            out.append([x])
    return ", ".join(f"{r[0]:.2f}" if len(r) == 1 else f"{r[0]:.2f}-{r[-1]:.2f}" for r in out)




def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("out/analyses/rotterdam_gbsg"))
    parser.add_argument("--n-boot", type=int, default=200,
                        help="bootstrap resamples for the net-benefit intervals")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    expected = load_expected(HERE)
    table = compare(analyse(args.out, args.n_boot), expected, text="paper")
    report(table)
    v = table.set_index("quantity")["cohortlab"]

    def ci(m: str, d: int = 3) -> str:
        return (f"{v[f'{m} estimate']:.{d}f} ({v[f'{m} conf_low']:.{d}f} to "
                f"{v[f'{m} conf_high']:.{d}f})")

    nb = pd.read_csv(args.out / "net_benefit_5y.csv")
    useful = nb.loc[(nb["net_benefit"] > nb["treat_all"] + 1e-12) & (nb["net_benefit"] > 0),
                    "threshold"]
    print("\nThe Rotterdam model on GBSG (686 women, 299 recurrences or deaths), 5 years:")
    print(f"  discrimination: Harrell's C {ci('harrell_c')}, Uno's C {ci('uno_c')}, "
          f"AUC(5y) {ci('auc')}")
    print(f"  accuracy: Brier(5y) {ci('brier')} vs {v['brier_null estimate']:.3f} without "
          f"the model (IPA {v['ipa estimate']:.3f})")
    print(f"  calibration: O/E {ci('oe_ratio')} (observed {v['observed 5-year risk (KM)']:.3f}"
          f", predicted {v['mean 5-year risk (E)']:.3f}); slope {ci('calibration_slope')}")
    if len(useful):
        print(f"  net benefit above treat-all and treat-none at thresholds {_runs(useful)} "
              "(see decision_curve_5y.png)")
    print(f"\nall {len(table)} numbers match expected.json within tolerance; "
          f"figures in {args.out}")
    return table


if __name__ == "__main__":
    main()
