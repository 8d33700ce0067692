"""``adjusted_survival(method="aipw", variance="bootstrap")``: the nuisance-aware variance.

The default ``variance="influence_function"`` treats the propensity, Cox outcome and
Kaplan-Meier censoring models as known (riskRegression ``ate(known.nuisance = TRUE)``); the
bootstrap resamples persons and refits all three in every replicate, so their estimation is
accounted for (the role of riskRegression's default ``known.nuisance = FALSE``).

- Melanoma (``tests/reference/adjusted_survival/melanoma_ate.json``): the bootstrap SE of the
  risk difference against riskRegression's ``known.nuisance = FALSE`` and ``TRUE`` SEs. Numbers
  are reported, not asserted equal (the bootstrap is a different variance estimator, and one
  Melanoma subject carries 22% of its arm's weight). CI: 50 replicates; slow: 500.
- Coverage of the risk difference at t = 2 and 5 on the data-generating process of
  ``test_adjusted_coverage`` (both nuisance models correct). CI: 16 data sets x 25 replicates;
  slow: 1,000 data sets x 100 replicates (about 100,000 AIPW fits: roughly an hour of one
  core; measured: coverage 0.939 and 0.957, mean SE / SD 0.98 and 1.03).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from survival.test_adjusted_coverage import TIMES, simulate, truth

import cohortlab as cl

HERE = Path(__file__).resolve().parents[1] / "reference" / "adjusted_survival"
REF = json.loads((HERE / "melanoma_ate.json").read_text())
MEL_TIMES = REF["times"]
COV = "age + male + logthick"
# one Melanoma subject has a propensity score under 0.01 (the warning is checked elsewhere)
pytestmark = pytest.mark.filterwarnings("ignore::cohortlab.exceptions.CohortWarning")


@pytest.fixture(scope="module")
def melanoma() -> pd.DataFrame:
    return pd.read_csv(HERE / "melanoma.csv")


def melanoma_ses(melanoma: pd.DataFrame, n_boot: int, seed: int = 2026
                 ) -> dict[str, Any]:
    """SEs of the risk difference: ours (IF, bootstrap) and riskRegression's, n denominator."""
    kw = dict(time="time", event="dead", exposure="ulcer", covariates=COV, method="aipw",
              times=MEL_TIMES)
    n = len(melanoma)
    known = cl.adjusted_survival(melanoma, **kw).contrast(MEL_TIMES).to_frame()
    boot = cl.adjusted_survival(melanoma, **kw, variance="bootstrap", n_boot=n_boot,
                                random_state=seed)
    fb = boot.contrast(MEL_TIMES).to_frame()
    assert boot.ci_method == "bootstrap_percentile"
    assert np.allclose(fb["estimate"], known["estimate"])
    return {"influence_function": known["std_error"].to_numpy() * np.sqrt((n - 1) / n),
            "bootstrap": fb["std_error"].to_numpy(),
            "rr_known_true": np.array(REF["aipw_known_true"]["diff_se"]),
            "rr_known_false": np.array(REF["aipw_known_false"]["diff_se"]), "curves": boot}


def test_melanoma_bootstrap_refits_every_nuisance_model(melanoma):
    ses = melanoma_ses(melanoma, n_boot=50)
    # ours with n in the denominator is riskRegression's known.nuisance = TRUE SE
    assert ses["influence_function"] == pytest.approx(ses["rr_known_true"], rel=0.02)
    # the bootstrap SE is of the same size (no equality asserted: see the module docstring)
    ratio = ses["bootstrap"] / ses["rr_known_false"]
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio
    # the unexposed curve is bounded (not monotone); the percentile intervals come from the
    # bounded replicates and are not moved with the point
    curves = ses["curves"]
    assert any("bootstrap replicates were bounded likewise" in n for n in curves.notes)
    assert any("propensity, Cox outcome and Kaplan-Meier censoring" in n for n in curves.notes)
    f = curves.to_frame()
    for row, arm in enumerate((1, 0)):
        mine = f[f["group"] == f"ulcer={arm}"]
        q = np.quantile(curves.replicates[:, row], [0.025, 0.975], axis=0, method="weibull")
        assert mine["conf_low"].to_numpy() == pytest.approx(np.clip(q[0], 0, 1))
        assert mine["conf_high"].to_numpy() == pytest.approx(np.clip(q[1], 0, 1))


@pytest.mark.slow
def test_melanoma_bootstrap_500_closer_to_known_nuisance_false(melanoma):
    ses = melanoma_ses(melanoma, n_boot=500)
    print({k: np.round(v, 4).tolist() for k, v in ses.items() if k != "curves"})
    gap_boot = np.abs(ses["bootstrap"] - ses["rr_known_false"]).mean()
    gap_if = np.abs(ses["influence_function"] - ses["rr_known_false"]).mean()
    assert gap_boot < gap_if, ses


def run_boot(n_rep: int, n: int, seed: int, n_boot: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates, bootstrap SEs and percentile-interval hits of S_1(t) - S_0(t)."""
    true = truth()
    diff = true[1] - true[0]
    rng = np.random.default_rng(seed)
    est, se, hit = (np.empty((n_rep, len(TIMES))) for _ in range(3))
    for r in range(n_rep):
        d = simulate(n, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            curves = cl.adjusted_survival(
                d, time="time", event="dead", exposure="a", covariates=["x1", "x2"],
                method="aipw", variance="bootstrap", n_boot=n_boot, times=list(TIMES),
                random_state=int(rng.integers(2**31)))
        c = curves.contrast(list(TIMES)).to_frame()
        est[r], se[r] = c["estimate"], c["std_error"]
        hit[r] = (c["conf_low"] <= diff) & (diff <= c["conf_high"])
    return est, se, hit


def test_aipw_bootstrap_coverage_reduced():
    est, se, hit = run_boot(n_rep=16, n=400, seed=11, n_boot=25)
    true = truth()
    sd = est.std(axis=0, ddof=1)
    assert np.all(np.abs(est.mean(axis=0) - (true[1] - true[0])) < 4 * sd / np.sqrt(16))
    ratio = se.mean(axis=0) / sd
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio
    assert hit.mean() > 0.8


@pytest.mark.slow
def test_aipw_bootstrap_coverage_1000_replicates():
    est, se, hit = run_boot(n_rep=1000, n=400, seed=2026, n_boot=100)
    cover = hit.mean(axis=0)
    assert np.all((cover >= 0.935) & (cover <= 0.965)), cover
