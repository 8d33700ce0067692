# %% [markdown]
# # A wearable's AF notification as the exposure: naive and corrected effects on stroke
#
# A smartwatch notifies its wearer of possible atrial fibrillation (AF). Does AF raise the rate
# of stroke, with death as a competing event, and by how much? The notification is not AF: the
# watch misses some AF (sensitivity about 0.85) and flags some people without it, and it errs
# more in people with a high BMI. This script runs the analysis on `cl.simulate_cohort()`, whose
# true effects are known, three ways: with the notification as if it were AF (naive), corrected
# with a 12-lead ECG on a random 15% of the cohort (internal validation: multiple imputation,
# `cl.correct_exposure(cl.cox, d, validation=...)`), and corrected with the device maker's
# validation study (external validation: probabilistic bias analysis,
# `cl.bias_analysis(cl.cox, d, error=...)`). The oracle analysis with
# the true AF status (never available in practice) is shown for reference.
# Run: `python analyses/wearable_af/run.py [--out DIR]`.
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
N, SEED = 20_000, 20261130
N_TRUTH = 400_000  # Monte Carlo population for the crude cumulative incidence by AF
TIMES = [1.0, 2.0, 3.0, 4.0]  # years (follow-up ends at 5)
# The stroke hazard of simulate_cohort depends on age, sbp, diabetes, smoking, treatment and
# AF: a Cox model with these terms is correctly specified, and its AF hazard ratio is 2.5.
COVARIATES = ["age", "sbp", "diabetes", "smoking", "treated"]


def study_cohort() -> pd.DataFrame:
    """The analysed cohort: the notification for everyone, an ECG on a random 15%."""
    d = cl.simulate_cohort(N, random_state=SEED)
    rng = np.random.default_rng(SEED + 1)
    d["af_ecg"] = d["af_true"].where(rng.random(N) < 0.15)  # NaN: no ECG
    d["obese"] = (d["bmi"] >= 30).astype(int)
    d["stroke"] = (d["event"] == 1).astype(int)  # deaths censored: cause-specific hazard
    return d


def device_study() -> cl.ErrorRates:
    """The maker's validation study (2,000 other people, ECG for all): counts by obesity."""
    v = cl.simulate_cohort(2_000, random_state=SEED + 2)
    obese = (v["bmi"] >= 30).to_numpy()
    flag, af = v["af_flag"].to_numpy(), v["af_true"].to_numpy()
    cells = {name: {lv: int(np.sum((obese == lv) & f)) for lv in (0, 1)} for name, f in (
        ("tp", (flag == 1) & (af == 1)), ("fn", (flag == 0) & (af == 1)),
        ("tn", (flag == 0) & (af == 0)), ("fp", (flag == 1) & (af == 0)))}
    return cl.ErrorRates.from_counts(**cells, by="obese")


def true_incidence() -> dict[int, np.ndarray]:
    """Crude cumulative incidence of stroke by true AF in a large population (Monte Carlo)."""
    pop = cl.simulate_cohort(N_TRUTH, random_state=SEED + 3)
    cif = cl.cumulative_incidence(pop, time="time", event="event", by="af_true", cause=1)
    at = cif.at(TIMES).to_frame()
    return {g: at.loc[at["group"] == g, "estimate"].to_numpy() for g in (0, 1)}


def hazard_ratios(d: pd.DataFrame, rates: cl.ErrorRates, n_imp: int, n_sims: int
                  ) -> pd.DataFrame:
    """AF hazard ratio for stroke: oracle, naive, MI-corrected and bias-analysed."""
    common = dict(time="time", event="stroke")
    rows = []
    oracle = cl.cox(d, covariates=["af_true", *COVARIATES], **common).coef_table()
    rows.append(("oracle (true AF)", _row(oracle, "af_true")))
    naive = cl.cox(d, covariates=["af_flag", *COVARIATES], **common).coef_table()
    rows.append(("naive (notification)", _row(naive, "af_flag")))
    mi = cl.correct_exposure(cl.cox, d, validation="af_ecg", exposure="af_flag",
                             imputation_covariates=["bmi"], n_imputations=n_imp,
                             random_state=1, covariates=["af_flag", *COVARIATES], **common)
    rows.append(("ECG subsample (multiple imputation)", _row(mi.corrected, "af_flag")))
    pba = cl.bias_analysis(cl.cox, d, exposure="af_flag", error=rates, n_sims=n_sims,
                           random_state=2, covariates=["af_flag", *COVARIATES], **common)
    rows.append(("device study (bias analysis)", pba.systematic))
    return pd.DataFrame([{"analysis": name, "hazard_ratio": e.estimate,
                          "conf_low": e.conf_low, "conf_high": e.conf_high} for name, e in rows])


def incidence(d: pd.DataFrame, n_imp: int) -> pd.DataFrame:
    """Cumulative incidence of stroke by AF at TIMES: oracle, naive and MI-corrected."""
    common = dict(time="time", event="event", cause=1)
    out = []
    for name, by in (("oracle (true AF)", "af_true"), ("naive (notification)", "af_flag")):
        at = cl.cumulative_incidence(d, by=by, **common).at(TIMES).to_frame()
        at["analysis"], at["af"] = name, at["group"].astype(int)
        out.append(at)
    mi = cl.correct_exposure(cl.cumulative_incidence, d, validation="af_ecg",
                             exposure="af_flag", imputation_covariates=["bmi", *COVARIATES],
                             n_imputations=n_imp, times=TIMES, random_state=3, by="af_flag",
                             **common)
    f = mi.to_frame()
    f = f[f["analysis"] == "corrected"].copy()
    f["analysis"], f["af"] = "ECG subsample (multiple imputation)", f["group"].astype(int)
    out.append(f)
    keep = ["analysis", "af", "time", "estimate", "conf_low", "conf_high"]
    return pd.concat([o[keep] for o in out], ignore_index=True)


def _row(table: cl.EstimateTable, term: str) -> cl.Estimate:
    hits = [r for r in table.rows if r.term == term]
    if len(hits) != 1:
        raise SystemExit(f"term {term!r} not found once in {[r.term for r in table.rows]}")
    return hits[0]


def analyse(out: Path, n_imp: int, n_sims: int) -> tuple[list[tuple[str, float, str]],
                                                          pd.DataFrame, pd.DataFrame]:
    d = study_cohort()
    truth = d.attrs["truth"]
    hr_true = truth["af"]["hazard_ratio_stroke"]
    hr = hazard_ratios(d, device_study(), n_imp, n_sims)
    cif = incidence(d, n_imp)
    f_true = true_incidence()
    rows: list[tuple[str, float, str]] = []
    for r in hr.itertuples():
        rows += [(f"HR {r.analysis}", r.hazard_ratio, ""),
                 (f"HR {r.analysis} covers truth", float(r.conf_low <= hr_true <= r.conf_high),
                  f"truth {hr_true}")]
    at4 = cif[cif["time"] == TIMES[-1]]
    for r in at4.itertuples():
        truth_f = f_true[r.af][-1]
        rows += [(f"CIF 4y AF={r.af} {r.analysis}", r.estimate, ""),
                 (f"CIF 4y AF={r.af} {r.analysis} covers truth",
                  float(r.conf_low <= truth_f <= r.conf_high), f"truth {truth_f:.4f}")]
    _plot(cif, f_true, out / "stroke_incidence_by_af.png")
    hr.to_csv(out / "hazard_ratios.csv", index=False)
    cif.to_csv(out / "cumulative_incidence.csv", index=False)
    return rows, hr, cif


def _plot(cif: pd.DataFrame, f_true: dict[int, np.ndarray], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {"oracle (true AF)": ("o", 0.0), "naive (notification)": ("s", 0.06),
              "ECG subsample (multiple imputation)": ("^", 0.12)}
    for (name, af), g in cif.groupby(["analysis", "af"], sort=False):
        marker, dx = styles[name]
        colour = "C3" if af == 1 else "C0"
        ax.errorbar(g["time"] + dx, g["estimate"],
                    yerr=[g["estimate"] - g["conf_low"], g["conf_high"] - g["estimate"]],
                    fmt=marker, color=colour, capsize=2, ms=4,
                    label=f"{name}, AF={af}")
    for af in (0, 1):
        ax.plot(TIMES, f_true[af], "k--" if af else "k:", lw=1,
                label=f"truth (Monte Carlo), AF={af}")
    ax.set(xlabel="years", ylabel="cumulative incidence of stroke",
           title="Stroke by AF: notification as AF vs corrected (95% CI)")
    ax.legend(fontsize=7, ncol=2)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("out/analyses/wearable_af"))
    parser.add_argument("--n-imputations", type=int, default=20)
    parser.add_argument("--n-sims", type=int, default=100)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows, hr, cif = analyse(args.out, args.n_imputations, args.n_sims)
    table = compare(rows, load_expected(HERE), text="truth")
    report(table)
    with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
        print("\nAF -> stroke, cause-specific hazard ratio (truth 2.5):")
        print(hr.to_string(index=False))
    print(f"\nall {len(table)} numbers match expected.json within tolerance; files in {args.out}")
    return table


if __name__ == "__main__":
    main()
