# %% [markdown]
# # MGUS2 competing risks: the survival package's "compete" vignette with cohortlab
#
# Therneau, Crowson & Atkinson, *Multi-state models and competing risks* (the "compete"
# vignette of R's survival package) follow 1,384 people with monoclonal gammopathy (MGUS)
# for progression to a plasma-cell malignancy (PCM), with death before PCM as a competing
# event. This script reproduces the vignette's Aalen-Johansen curves, Gray's test, the
# cause-specific Cox and Fine-Gray models, and its warning that 1 - Kaplan-Meier (deaths
# censored) overstates the risk of PCM; each number is printed beside R's. Run:
# `python analyses/mgus2_compete/run.py [--out DIR]` (figures go to DIR, default
# out/analyses/mgus2_compete/).
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
CAUSES = {1: "pcm", 2: "death"}
TIMES = [60.0, 120.0, 240.0]  # months
TAU = 240.0  # restricted mean horizon of the vignette (20 years)
HR_ROWS = {"pcm sexM", "pcm mspike", "death sexM"}  # hazard ratios the vignette prints


def analyse(out: Path) -> list[tuple[str, float, str]]:
    """(key in expected.json, our number, the vignette's text) for every reproduced number."""
    mgus = cl.datasets.load_mgus2()  # etime, event: 0 censored, 1 PCM, 2 death before PCM
    rows: list[tuple[str, float, str]] = []
    # %% Aalen-Johansen cumulative incidence by sex (survfit(Surv(etime, factor(event)) ~ sex))
    cif = cl.cumulative_incidence(mgus, time="etime", event="event", by="sex", conf_type="log")
    at = cif.at(TIMES).to_frame().set_index(["group", "cause", "time"])
    for (sex, k, t), r in at.iterrows():
        tag = f"{CAUSES[k]} {sex} {t:g}"
        rows += [(f"AJ CIF {tag}", r.estimate, ""), (f"AJ SE (IJ) {tag}", r.std_error, "")]
        if k == 1:
            rows += [(f"AJ log CI low {tag}", r.conf_low, ""),
                     (f"AJ log CI high {tag}", r.conf_high, "")]
    frame = cif.to_frame()
    for (sex, k), d in frame.groupby(["group", "cause"]):  # years in state up to 20 years
        rows.append((f"rmean years {CAUSES[k]} {sex}", _area(d, TAU) / 12, ""))
    any_event = mgus.assign(any_event=(mgus["event"] > 0).astype(int))
    rm = cl.rmst(any_event, time="etime", event="any_event", tau=TAU, by="sex").to_frame()
    rm = rm.set_index("term")["estimate"]
    rows += [(f"rmean years event-free {sex}", rm[f"RMST sex={sex}"] / 12, "") for sex in "FM"]
    ax = cif.plot(risk_table=True, times=np.arange(0, 421, 60), censor_marks=False,
                  xlabel="months", ylabel="cumulative incidence",
                  title="MGUS2: Aalen-Johansen cumulative incidence by sex (95% CI, log)")
    _relabel(ax)
    ax.figure.savefig(out / "cif_by_sex.png", dpi=120, bbox_inches="tight")
    plt.close(ax.figure)
    # %% Gray's test (cmprsk::cuminc)
    for r in cl.gray_test(mgus, time="etime", event="event", by="sex").to_frame().itertuples():
        rows += [(f"Gray chisq {CAUSES[r.cause]}", r.statistic, ""),
                 (f"Gray p {CAUSES[r.cause]}", r.p_value, "")]
    # %% cause-specific Cox (vignette cfit1; 11 rows with missing mspike dropped, counted)
    cov = ["age", "sex", "mspike"]
    for robust, what in ((False, "SE"), (True, "robust SE")):
        cs = cl.cause_specific_cox(mgus, time="etime", event="event", covariates=cov,
                                   robust=robust, missing="drop")
        tab = cs.to_frame(exponentiate=False).set_index("term")
        hr = cs.to_frame(exponentiate=True).set_index("term")
        for k in (1, 2):
            for name, term in (("age", "age"), ("sexM", "sex[T.M]"), ("mspike", "mspike")):
                r = tab.loc[f"{term} [cause {k}]"]
                key = f"CS Cox {CAUSES[k]} {name}"
                if not robust:
                    rows.append((f"{key} coef", r.estimate, ""))
                rows.append((f"{key} {what}", r.std_error, ""))
                if not robust and f"{CAUSES[k]} {name}" in HR_ROWS:  # CI from the model SE
                    h = hr.loc[f"{term} [cause {k}]"]
                    rows += [(f"{key} HR", h.estimate, ""), (f"{key} HR CI low", h.conf_low, ""),
                             (f"{key} HR CI high", h.conf_high, "")]
    lr = cs.fit_stats["cause_1_lr_statistic"] + cs.fit_stats["cause_2_lr_statistic"]
    rows += [("CS Cox LR test (6 df)", lr, ""),
             ("CS Cox n (complete cases)", float(cs.n), str(cs.dropped))]
    one = cl.cause_specific_cox(mgus, time="etime", event="event", covariates=["sex"], causes=[1])
    rows += [("CS Cox pcm sex only coef", one.params[0], ""),
             ("CS Cox pcm sex only SE", one.std_errors[0], "")]
    # %% Fine-Gray (vignette fgfit1/fgfit2: finegray() + coxph(weights = fgwt))
    for k in (1, 2):
        fg = cl.fine_gray(mgus, time="etime", event="event", cause=k, covariates=["sex"])
        key = f"FG {CAUSES[k]} sexM"
        rows += [(f"{key} coef", fg.params[0], ""),
                 (f"{key} model SE", float(np.sqrt(fg.vcov_model[0, 0])), "")]
        if k == 1:
            rows += [(f"{key} SHR", float(np.exp(fg.params[0])), ""),
                     (f"{key} robust SE (cluster = id)", fg.std_errors[0], "")]
    fg = cl.fine_gray(mgus, time="etime", event="event", cause=1, covariates=cov,
                      missing="drop")  # complete cases: censoring KM on the 1,373 rows
    for name, b, se, v in zip(("age", "sexM", "mspike"), fg.params, fg.std_errors,
                              np.sqrt(np.diag(fg.vcov_model)), strict=True):
        key = f"FG pcm complete cases {name}"
        rows += [(f"{key} coef", b, ""), (f"{key} model SE", v, ""),
                 (f"{key} robust SE", se, "")]
    rows.append(("FG pcm complete cases n", float(fg.n), str(fg.dropped)))
    # %% 1 - KM with deaths censored (the vignette's "incorrect curve") vs Aalen-Johansen
    pcm = mgus.assign(pcm=(mgus["event"] == 1).astype(int))
    naive = cl.kaplan_meier(pcm, time="etime", event="pcm", by="sex")
    naive_all = cl.kaplan_meier(pcm, time="etime", event="pcm")
    aj_all = cl.cumulative_incidence(mgus, time="etime", event="event", cause=1)
    for sex, r in naive.at([TAU]).to_frame().set_index("group").iterrows():
        rows.append((f"naive 1-KM pcm {sex} 240", 1 - r.estimate, ""))
    rows += [("naive 1-KM pcm all 240", 1 - naive_all.at([TAU]).rows[0].estimate, ""),
             ("AJ CIF pcm all 240", aj_all.at([TAU]).rows[0].estimate, "")]
    _plot_naive(naive, cl.cumulative_incidence(mgus, time="etime", event="event", cause=1,
                                               by="sex"), out / "pcm_naive_km_vs_aj.png")
    return rows


def _area(d: pd.DataFrame, tau: float) -> float:
    """Area under a step curve (starting at 0) from 0 to tau: the months spent in that state."""
    t = np.minimum(np.concatenate([[0.0], d["time"].to_numpy()]), tau)
    f = np.concatenate([[0.0], d["estimate"].to_numpy()])
    return float(np.sum(np.diff(t) * f[:-1]) + (tau - t[-1]) * f[-1])


def _relabel(ax: plt.Axes) -> None:
    """Legend labels 'F, cause 1' -> 'F, PCM' (cohortlab labels curves by the event code)."""
    for line in ax.get_lines():
        label = line.get_label()
        for k, name in CAUSES.items():
            label = label.replace(f"cause {k}", name.upper() if k == 1 else name)
        line.set_label(label)
    ax.legend(frameon=False, fontsize=8, loc="upper left")


def _plot_naive(naive: cl.Curve, aj: cl.Curve, path: Path) -> None:
    ax = aj.plot(ci=False, censor_marks=False, xlabel="months", ylabel="fraction with PCM",
                 ylim=(0, 0.5), title="MGUS2: 1 - Kaplan-Meier with deaths censored (dashed)\n"
                 "overstates the risk of PCM (Aalen-Johansen, solid)")
    colors = {line.get_label().split(",")[0]: line.get_color() for line in ax.get_lines()}
    for sex, d in naive.to_frame().groupby("group"):
        t = np.concatenate([[0.0], d["time"].to_numpy()])
        ax.step(t, 1 - np.concatenate([[1.0], d["estimate"].to_numpy()]), where="post",
                ls="--", color=colors.get(sex), label=f"{sex}, 1 - KM (incorrect)")
    _relabel(ax)
    ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(ax.figure)




def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("out/analyses/mgus2_compete"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    expected = load_expected(HERE)
    table = compare(analyse(args.out), expected, text="vignette")
    report(table)
    value = table.drop_duplicates("quantity").set_index("quantity")["cohortlab"]
    print("\nPCM by 240 months (20 years): 1 - Kaplan-Meier with deaths censored vs "
          "Aalen-Johansen")
    for who in ("F", "M", "all"):
        km, aj = value[f"naive 1-KM pcm {who} 240"], value[f"AJ CIF pcm {who} 240"]
        print(f"  {who:>3}: 1 - KM {km:.3f}, AJ {aj:.3f}: overstated {km / aj:.1f}-fold "
              "(people who died are treated as if they could still develop PCM)")
    print(f"\nall {len(table)} numbers match expected.json within tolerance; "
          f"figures in {args.out}")
    return table


if __name__ == "__main__":
    main()
