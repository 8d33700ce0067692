"""Coverage of the misclassification corrections against the simulated truth (issue 5).

``simulate_cohort`` draws a latent ``af_true`` and a wearable's ``af_flag`` whose errors
depend on bmi; the outcomes depend on ``af_true``. Each test simulates many cohorts, runs an
estimator with the flag (naive) and corrected, and checks that the naive mean is biased,
that the corrected mean is within Monte Carlo (MC) error of the truth and that the corrected
95% intervals cover it. ``tests/exposures/test_measurement_error.py`` covers multiple
imputation (MI) for the crude RD, the IPW ATE and the Cox HR, and
``tests/exposures/test_misclassification.py`` bias analysis for the crude RD; this file
covers the rest:

- MI (``cl.correct_exposure(estimator, data, validation=...)``, a random 20% validated) for ``gformula`` and ``aipw`` (ATE
  on ``mace_1y``), ``cumulative_incidence`` (Aalen-Johansen CIF of stroke at 3 years by
  AF), ``kaplan_meier`` (survival from any event at 3 years by AF) and
  ``adjusted_survival`` (IPW, difference of the stroke CIF at 3 years);
- probabilistic bias analysis (``cl.bias_analysis(estimator, data, error=...)``, sensitivity and specificity by obesity
  from a fresh simulated validation study of 2,000 per cohort) for ``ipw`` and ``cox``.

The truths:

- ATE of ``af_true`` on ``mace_1y`` given age, bmi and diabetes (gformula, aipw, ipw):
  ``TRUE_ATE = 0.04295``, the same estimand and constant as the IPW truth of
  ``test_measurement_error.py`` (closed-form risks averaged over 4,000,000 covariate draws,
  MC SE 1e-5; the total effect, through the flag-driven treatment too; re-derived there by
  ``test_ipw_truth_constant``).
- Cox log HR of ``af_true`` on stroke given age, sbp, diabetes, smoking and treated (the
  DGP's linear predictor): ``log(2.5)`` exactly.
- Crude CIF of stroke and KM survival (any event) at 3 years by ``af_true``, and the
  adjusted (interventional) CIF difference: computed once per module in the fixture
  ``curve_truth`` from one ``simulate_cohort(1_000_000, random_state=777)``: each row's
  closed-form conditional CIF / survival given its covariates and treatment (and, for the
  interventional contrast, summed over the flag and the treatment it drives) is averaged
  over the rows (a Rao-Blackwellised MC average: no event-time noise). MC SEs (SD / sqrt(n)):
  CIF 0.05718 (AF 0) and 0.17082 (AF 1), SE 4e-5 and 2.7e-4; survival 0.84475 and 0.62251,
  SE 1.3e-4 and 6.8e-4; CIF difference 0.06608, SE 3.3e-5. The Aalen-Johansen and KM
  estimates on that cohort agree (0.05695 and 0.16873, SE 2.5e-4 and 1.2e-3; 0.84503 and
  0.62431, SE 4e-4 and 1.6e-3). The tolerances add 3 truth MC SEs.

Reduced versions (CI): 12-20 cohorts of 4,000, 5 imputations or 50 bias-analysis
simulations; they check that the naive mean is off beyond its MC error, that the corrected
mean is within 3 MC SEs of the truth and that coverage is at least 0.75. The slow versions
(``-m slow``, 200 cohorts) check coverage in [0.92, 0.98] and bias within 3 MC SEs.

Measured in the slow run (200 cohorts of 4,000, 20% validated, 10 imputations or 100
bias-analysis simulations; mean over cohorts, MC SE of the corrected mean):

==========================  =======  =======  =========  =======  ==============
quantity                    truth    naive    corrected  MC SE    coverage
==========================  =======  =======  =========  =======  ==============
gformula ATE (MI)           0.04295  0.03227  0.04527    0.00173  0.960
aipw ATE (MI)               0.04295  0.03226  0.04529    0.00172  0.955
AJ CIF 3 y, AF=1 (MI)       0.17082  0.14470  0.17101    0.00177  0.965
AJ CIF 3 y, AF=0 (MI)       0.05718  0.05951  0.05746    0.00031  0.965
KM 3 y, AF=1 (MI)           0.62251  0.67271  0.62413    0.00273  0.950
KM 3 y, AF=0 (MI)           0.84475  0.84053  0.84421    0.00050  0.935
IPW CIF difference (MI)     0.06608  0.04969  0.06768    0.00169  0.980
ipw ATE (bias analysis)     0.04295  0.03213  0.04744    0.00149  0.935
cox log HR (bias analysis)  0.91629  0.75177  0.94159    0.01065  0.940
==========================  =======  =======  =========  =======  ==============

The IPW bias analysis models each record's flag prevalence (``prevalence_covariates``: the
outcome, age, bmi, diabetes and obesity); its bias, 0.00449, is 3.01 MC SEs of the corrected
mean (MC SE 0.00149), just inside the tolerance 3 x (MC SE + truth MC SE) = 0.00450: a
numerical change can tip it over. The earlier cell method (mace_1y x diabetes x obesity) gave
0.0506, 5.5 MC SEs, coverage 0.900, and was an xfail. With splines,
``"bs(age, 4) + bs(bmi, 4) + diabetes"``: 0.04611 (2.13 MC SEs), coverage 0.925.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.datasets import simulate as sim
from cohortlab.exceptions import CohortWarning
from cohortlab.exposures.misclassification import ErrorRates

TRUE_ATE = 0.04295  # see the module docstring and test_measurement_error.py
TRUE_LOG_HR = math.log(2.5)
T = 3.0  # years: the time at which curves are compared
N_TRUTH, SEED_TRUTH = 1_000_000, 777
COVARIATES = "age + bmi + diabetes"  # the true model of af_true (the ATE's confounders)
COX_COV = "af_flag + age + sbp + diabetes + C(smoking) + treated"
# the flag's errors depend on bmi: the imputation model needs bmi and its interaction with
# the flag (age and diabetes predict af_true too and are in the causal models' covariates)
IMP_CAUSAL = "af_flag:bmi"
IMP_CURVES = "age + bmi + diabetes + af_flag:bmi"


# ------------------------------------------------------------------------------ truth


@pytest.fixture(scope="module")
def curve_truth() -> dict[str, float]:
    """The curve truths, computed once per module."""
    return _curve_truth()


def _curve_truth() -> dict[str, float]:
    """Crude CIF / survival at T by af_true and the interventional CIF difference."""
    p = sim._Params(effect_sbp=-5.0, effect_sbp_diabetes=-3.0, odds_ratio=0.75,
                    hazard_ratio=0.7, hazard_ratio_death=0.9, hazard_ratio_af=2.5,
                    odds_ratio_af=2.0, flag_threshold=0.5, weibull_shape=1.2,
                    confounding=1.0)
    pop = cl.simulate_cohort(N_TRUTH, random_state=SEED_TRUTH)
    c = {k: pop[k].to_numpy() for k in ("site", "age", "female", "bmi", "diabetes", "sbp",
                                        "af_true", "af_flag")}
    c["smoking"] = pop["smoking"].cat.codes.to_numpy().astype(np.int64)
    tk = T ** p.weibull_shape

    def cif_surv(cov: dict[str, np.ndarray], treated) -> tuple[np.ndarray, np.ndarray]:
        lam1, lam2 = sim._hazards(cov, p, treated)
        surv = np.exp(-(lam1 + lam2) * tk)
        return lam1 / (lam1 + lam2) * (1.0 - surv), surv

    cif1, surv = cif_surv(c, pop["treated"].to_numpy())
    a = c["af_true"]
    out: dict[str, float] = {}
    for g in (0, 1):
        out[f"cif{g}"] = float(cif1[a == g].mean())
        out[f"se_cif{g}"] = float(cif1[a == g].std() / math.sqrt((a == g).sum()))
        out[f"surv{g}"] = float(surv[a == g].mean())
        out[f"se_surv{g}"] = float(surv[a == g].std() / math.sqrt((a == g).sum()))
    pot = []
    for arm in (0, 1):  # do(af_true = arm): the flag, then the treatment it drives
        pf1 = sim._p_flag(c["bmi"], arm, p.flag_threshold)
        acc = np.zeros(a.size)
        for f, pf in ((1, pf1), (0, 1.0 - pf1)):
            cf = dict(c, af_true=np.full(a.size, arm), af_flag=np.full(a.size, f))
            e = sim._propensity(cf, p)
            acc += pf * (e * cif_surv(cf, 1)[0] + (1.0 - e) * cif_surv(cf, 0)[0])
        pot.append(acc)
    diff = pot[1] - pot[0]
    out["cif_diff"] = float(diff.mean())
    out["se_cif_diff"] = float(diff.std() / math.sqrt(a.size))
    return out


# --------------------------------------------------------------------------- cohorts


def _cohort(n: int, seed: int, frac: float = 0.2) -> pd.DataFrame:
    df = cl.simulate_cohort(n, random_state=seed)
    df.attrs = {}
    rng = np.random.default_rng(seed + 10_000)
    df["af_valid"] = df["af_true"].where(rng.random(n) < frac)
    df["stroke"] = (df["event"] == 1).astype(int)
    df["dead"] = (df["event"] > 0).astype(int)
    df["obese"] = (df["bmi"] >= 30).astype(int)
    return df


def _device_study(seed: int, n: int = 2_000) -> ErrorRates:
    """An external validation study: the flag's Se and Sp by obesity (cf. wearable_af)."""
    v = cl.simulate_cohort(n, random_state=seed)
    obese = (v["bmi"] >= 30).to_numpy()
    flag, af = v["af_flag"].to_numpy(), v["af_true"].to_numpy()
    cells = {name: {lv: int(np.sum((obese == lv) & f)) for lv in (0, 1)} for name, f in (
        ("tp", (flag == 1) & (af == 1)), ("fn", (flag == 0) & (af == 1)),
        ("tn", (flag == 0) & (af == 0)), ("fp", (flag == 1) & (af == 0)))}
    return ErrorRates.from_counts(**cells, by="obese")


# ------------------------------------------------------------- one run per estimator
# Each returns {quantity: (naive, corrected, covered)} on the scale the truth is on.


def _mi_row(res, term: str, **labels) -> tuple[float, float, float, float]:
    def pick(which: str):
        hits = [r for r in res.rows if r.term == term and r.labels["analysis"] == which
                and all(r.labels.get(k) == v for k, v in labels.items())]
        assert len(hits) == 1, (term, labels, which)
        return hits[0]

    nv, co = pick("naive"), pick("corrected")
    return nv.estimate, co.estimate, co.conf_low, co.conf_high


def _run_causal(name: str) -> Callable[[pd.DataFrame, int, int], dict]:
    def run(df: pd.DataFrame, m: int, seed: int) -> dict:
        res = cl.correct_exposure(getattr(cl, name), df, validation="af_valid",
                                  exposure="af_flag", outcome="mace_1y",
                                  covariates=COVARIATES, imputation_covariates=IMP_CAUSAL,
                                  n_imputations=m, random_state=seed)
        return {"ate": _mi_row(res, "af_flag")}
    return run


def _run_cif(df: pd.DataFrame, m: int, seed: int) -> dict:
    res = cl.correct_exposure(cl.cumulative_incidence, df, validation="af_valid",
                              exposure="af_flag", time="time", event="event", cause=1,
                              by="af_flag", times=[T], imputation_covariates=IMP_CURVES,
                              n_imputations=m, random_state=seed)
    term = f"cumulative incidence at {T:g}"
    return {f"cif{g}": _mi_row(res, term, group=g) for g in (1, 0)}


def _run_km(df: pd.DataFrame, m: int, seed: int) -> dict:
    res = cl.correct_exposure(cl.kaplan_meier, df, validation="af_valid", exposure="af_flag",
                              time="time", event="dead", by="af_flag", times=[T],
                              imputation_covariates=IMP_CURVES, n_imputations=m,
                              random_state=seed)
    term = f"survival probability at {T:g}"
    return {f"surv{g}": _mi_row(res, term, group=g) for g in (1, 0)}


def _run_adjusted(df: pd.DataFrame, m: int, seed: int) -> dict:
    res = cl.correct_exposure(cl.adjusted_survival, df, validation="af_valid", time="time",
                              event="event", cause=1, exposure="af_flag",
                              covariates=COVARIATES, method="ipw", times=[T],
                              imputation_covariates=IMP_CAUSAL, n_imputations=m,
                              random_state=seed)
    return {"cif_diff": _mi_row(res, f"risk difference at {T:g}")}


def _pba(res, log: bool) -> tuple[float, float, float, float]:
    tr = math.log if log else float
    return (tr(res.naive.estimate), tr(res.systematic.estimate), tr(res.total.conf_low),
            tr(res.total.conf_high))


def _run_pba_ipw(df: pd.DataFrame, n_sims: int, seed: int) -> dict:
    res = cl.bias_analysis(cl.ipw, df, exposure="af_flag",
                           error=_device_study(seed + 50_000),
                           prevalence_covariates=PBA_IPW_PREVALENCE, n_sims=n_sims,
                           random_state=seed, outcome="mace_1y", covariates=COVARIATES)
    return {"ate": _pba(res, False)}


def _run_pba_cox(df: pd.DataFrame, n_sims: int, seed: int) -> dict:
    # default strata: the event indicator (stroke) crossed with obesity (the rates' by);
    # adding the discrete covariates (diabetes, smoking, treated) would split the ~370
    # strokes of a cohort into 48 cells (not tried here)
    res = cl.bias_analysis(cl.cox, df, exposure="af_flag",
                           error=_device_study(seed + 50_000), n_sims=n_sims,
                           random_state=seed, time="time", event="stroke",
                           covariates=COX_COV)
    return {"log_hr": _pba(res, True)}


# bias_analysis models the flag prevalence of each record by a logistic regression on the
# outcome (mace_1y, its default strata), these confounders and obesity (the rates' ``by``),
# so the imputed af_true keeps its association with the continuous confounders age and bmi
# (cells of mace_1y x diabetes x obesity lost it: corrected 0.0506, coverage 0.900).
PBA_IPW_PREVALENCE = ["age", "bmi", "diabetes"]


@dataclass(frozen=True)
class Case:
    run: Callable[[pd.DataFrame, int, int], dict]
    truth: Callable[[dict[str, float]], dict[str, tuple[float, float]]]  # value, MC SE


def _ate(_: dict) -> dict:
    return {"ate": (TRUE_ATE, 1e-5)}


CASES: dict[str, Case] = {
    "gformula_mi": Case(_run_causal("gformula"), _ate),
    "aipw_mi": Case(_run_causal("aipw"), _ate),
    "cumulative_incidence_mi": Case(
        _run_cif, lambda t: {f"cif{g}": (t[f"cif{g}"], t[f"se_cif{g}"]) for g in (1, 0)}),
    "kaplan_meier_mi": Case(
        _run_km, lambda t: {f"surv{g}": (t[f"surv{g}"], t[f"se_surv{g}"]) for g in (1, 0)}),
    "adjusted_survival_mi": Case(
        _run_adjusted, lambda t: {"cif_diff": (t["cif_diff"], t["se_cif_diff"])}),
    "ipw_bias_analysis": Case(_run_pba_ipw, _ate),
    "cox_bias_analysis": Case(_run_pba_cox, lambda t: {"log_hr": (TRUE_LOG_HR, 0.0)}),
}


def _simulate(case: Case, n_rep: int, n: int, size: int, seed0: int) -> dict[str, np.ndarray]:
    """Per cohort and quantity: naive, corrected, conf_low, conf_high."""
    out: dict[str, list] = {}
    for rep in range(n_rep):
        df = _cohort(n, seed0 + rep)
        with warnings.catch_warnings():  # fragile fits in a few small simulated cohorts
            warnings.simplefilter("ignore", CohortWarning)
            res = case.run(df, size, seed0 + rep)
        for k, v in res.items():
            out.setdefault(k, []).append(v)
    return {k: np.array(v) for k, v in out.items()}


def _summary(res: dict[str, np.ndarray], truth: dict[str, tuple[float, float]]
             ) -> dict[str, dict[str, float]]:
    out = {}
    for k, v in res.items():
        t, t_se = truth[k]
        naive, corr = v[:, 0], v[:, 1]
        out[k] = {
            "truth": t, "truth_se": t_se, "n": len(v),
            "naive": naive.mean(), "naive_mc_se": naive.std(ddof=1) / math.sqrt(len(v)),
            "corrected": corr.mean(), "mc_se": corr.std(ddof=1) / math.sqrt(len(v)),
            "coverage": float(np.mean((v[:, 2] <= t) & (t <= v[:, 3]))),
        }
    return out


def _show(name: str, s: dict[str, dict[str, float]]) -> None:
    for k, d in s.items():
        print(f"{name}[{k}]: truth {d['truth']:.5f} (MC SE {d['truth_se']:.1e}) naive "
              f"{d['naive']:.5f} (MC SE {d['naive_mc_se']:.5f}) corrected {d['corrected']:.5f} "
              f"(MC SE {d['mc_se']:.5f}) coverage {d['coverage']:.3f} over {d['n']} cohorts")


# --------------------------------------------------------------------------- the tests
# (cohorts, rows per cohort, imputations or bias-analysis simulations) of the reduced runs;
# the naive bias is large enough for each design to show it beyond 3 MC SEs (a ratio of
# about 4-9 in the pilot runs).
REDUCED = {
    "gformula_mi": (16, 5_000, 5),
    "aipw_mi": (16, 5_000, 5),
    "cumulative_incidence_mi": (12, 4_000, 5),
    "kaplan_meier_mi": (12, 4_000, 5),
    "adjusted_survival_mi": (20, 4_000, 5),
    "ipw_bias_analysis": (16, 5_000, 50),
    "cox_bias_analysis": (10, 4_000, 50),
}
SLOW = {name: (200, 4_000, 10 if name.endswith("_mi") else 100) for name in CASES}

# Corrections measured to be biased in the slow run (200 cohorts of 4,000): the reason.
# The reduced test cannot see these biases (MC SE too large); it checks there only that the
# correction moves the estimate away from the naive one, towards and beyond the truth.
KNOWN_BIAS: dict[str, str] = {}
# (ipw_bias_analysis was here with the cell method: corrected 0.0506 vs truth 0.04295, 5.5 MC
# SEs, coverage 0.900; the record-level prevalence model brings it to 0.0474, 3.0 MC SEs,
# coverage 0.935: inside the tolerance, at its edge; see the module docstring)


def _truth_of(name: str, request: pytest.FixtureRequest) -> dict[str, tuple[float, float]]:
    needs_curves = name.split("_")[0] in ("cumulative", "kaplan", "adjusted")
    return CASES[name].truth(request.getfixturevalue("curve_truth") if needs_curves else {})


@pytest.mark.parametrize("name", list(REDUCED))
def test_correction_reduced_simulated_truth(name: str, request: pytest.FixtureRequest
                                            ) -> None:
    """CI version: naive off beyond MC error, corrected within 3 MC SEs, coverage >= 0.75.

    The first quantity of each case (the AF group for curves) is the one whose naive bias
    is checked; the AF-free group of a curve moves less under misclassification.
    """
    n_rep, n, size = REDUCED[name]
    truth = _truth_of(name, request)
    s = _summary(_simulate(CASES[name], n_rep, n, size, 2_000), truth)
    _show(name, s)
    first = next(iter(s.values()))
    assert abs(first["naive"] - first["truth"]) > 3 * first["naive_mc_se"], (name, first)
    for k, d in s.items():
        if name in KNOWN_BIAS:  # see KNOWN_BIAS: the correction overshoots the truth
            assert d["naive"] < d["truth"] < d["corrected"] + d["mc_se"], (k, d)
        else:
            assert abs(d["corrected"] - d["truth"]) < 3 * (d["mc_se"] + d["truth_se"]), (k, d)
        assert d["coverage"] >= 0.75, (k, d)


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BIAS[name]))
    if name in KNOWN_BIAS else name for name in SLOW
])
def test_correction_unbiased_and_covering_simulated_truth(
        name: str, request: pytest.FixtureRequest) -> None:
    """200 cohorts of 4,000: coverage in [0.92, 0.98], bias within 3 MC SEs.

    Measured (OMP_NUM_THREADS=1, seeds as here): see the report in the module docstring.
    """
    n_rep, n, size = SLOW[name]
    truth = _truth_of(name, request)
    s = _summary(_simulate(CASES[name], n_rep, n, size, 100_000), truth)
    _show(name, s)
    for k, d in s.items():
        assert abs(d["naive"] - d["truth"]) > 3 * d["naive_mc_se"] or k.endswith("0"), (k, d)
        assert abs(d["corrected"] - d["truth"]) < 3 * (d["mc_se"] + d["truth_se"]), (k, d)
        assert 0.92 <= d["coverage"] <= 0.98, (k, d)
