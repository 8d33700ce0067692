"""cl.gformula_tv covers the known truth of cl.simulate_longitudinal().

The data have treatment-confounder feedback (L lowered by past A, raising Y and driving A),
censoring that depends on L, and a competing event; ``attrs["truth"]`` holds the true
cumulative incidences under always / never / dynamic (treat when L > threshold), from a
counterfactual population of 200,000. The g-formula with the data-generating models
(correctly specified) is consistent; its person-level bootstrap percentile interval for the
always-vs-never risk difference at the last period should cover the truth in 95% of data
sets. The slow study runs ``GFTV_COVERAGE_REPS`` data sets (default 500); CI runs a reduced
version (one data set, point estimates and interval).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import cohortlab as cl

# the data-generating models of simulate_longitudinal (its docstring's equations)
MODELS = {"L": "lag1_L + lag1_A + V", "A": "L + lag1_A + V", "Y": "L + A + V", "D": "L + V"}
STRATEGIES = {"always": {"type": "static", "value": 1}, "never": {"type": "static", "value": 0},
              "dynamic": {"type": "threshold", "covariate": "L", "above": 0.5}}


def _fit(df, **kw):  # noqa: ANN001, ANN202
    return cl.gformula_tv(df, id="id", period="period", treatment="A", outcome="Y",
                          competing="D", censor="C", covariates={"L": "normal"},
                          baseline=["V"], models=MODELS, strategies=STRATEGIES, **kw)


def _truth(df, period: int) -> dict[str, float]:  # noqa: ANN001
    t = df.attrs["truth"]
    return t[t["period"] == period].set_index("strategy")["risk"].to_dict()


def test_reduced_point_estimates_and_interval() -> None:
    """One data set of 3,000 persons x 6 periods: risks near the truth, RD interval covers."""
    df = cl.simulate_longitudinal(n=3000, n_periods=6, random_state=3, n_truth=200_000)
    truth = _truth(df, 5)
    res = _fit(df, n_boot=40, n_simul=10_000, random_state=4)
    r = res.risks.data
    last = r[r["time"] == 5].set_index("group")
    for s in ("always", "never", "dynamic"):
        # sampling SD of these risks at n = 3,000 is about 0.007-0.012
        assert abs(last.loc[s, "estimate"] - truth[s]) < 0.03, (s, last.loc[s], truth[s])
        assert last.loc[s, "conf_low"] < truth[s] < last.loc[s, "conf_high"]
    rd = res.contrasts["RD always vs never, period 5"]
    assert rd.conf_low < truth["always"] - truth["never"] < rd.conf_high
    # the model check: natural course close to the observed (censoring-aware) risk
    assert np.max(np.abs(res.natural_course["difference"])) < 0.02
    assert any("elimination of censoring" in n for n in res.notes)


@pytest.mark.slow
def test_coverage_of_risk_difference() -> None:
    """Coverage of the 95% bootstrap intervals of RD(always - never) at the last period.

    Record of the runs: 1,000 persons x 6 periods per data set, 500 data sets, 200 bootstrap
    replicates (notes/gformtv.md): normal interval 0.936, percentile 0.916, bias +0.0033,
    bootstrap SE 0.0276 vs SD 0.0292. The percentile endpoints were then np.quantile's linear
    (B - 1) p interpolation, which pulls them inward at small B (notes/gfcov.md); with the
    (B + 1) p order statistics, 300 data sets (seeds 20,000 + r), 100 replicates: percentile
    0.950 (0.923 with the old endpoints on the same data sets), normal 0.950, bias +0.0019,
    bootstrap SE 0.0274 vs SD 0.0272. Re-run 2026-12-07 with this test as written (500 data
    sets, seeds 10,000 + r, GFTV_COVERAGE_BOOT=100): percentile 0.934, normal 0.928 (binomial
    SD 0.010), bias +0.0033 (MC SE 0.0013); pooled with the 300 data sets above, percentile
    0.940 over 800 (SD 0.0077). Accepted: both coverages within 3 binomial SDs of 0.95.
    """
    reps = int(os.environ.get("GFTV_COVERAGE_REPS", "500"))
    n_boot = int(os.environ.get("GFTV_COVERAGE_BOOT", "200"))
    covered, covered_normal, bias = [], [], []
    truth = None
    for r in range(reps):
        df = cl.simulate_longitudinal(n=1000, n_periods=6, random_state=10_000 + r, n_truth=200_000)
        if truth is None:
            t = _truth(df, 5)
            truth = t["always"] - t["never"]
        res = _fit(df, n_boot=n_boot, random_state=r)
        rd = res.contrasts["RD always vs never, period 5"]
        covered.append(rd.conf_low <= truth <= rd.conf_high)
        covered_normal.append(abs(rd.estimate - truth) <= 1.959963984540054 * rd.std_error)
        bias.append(rd.estimate - truth)
    cover, cover_normal = float(np.mean(covered)), float(np.mean(covered_normal))
    sd = np.sqrt(0.95 * 0.05 / reps)
    print(f"coverage: percentile {cover:.3f}, normal {cover_normal:.3f} over {reps} data "
          f"sets (MC SD {sd:.3f}); "
          f"mean bias {np.mean(bias):.4f} (MC SE {np.std(bias) / np.sqrt(reps):.4f}); "
          f"truth RD {truth:.4f}")
    assert abs(cover_normal - 0.95) < 3 * sd
    assert abs(cover - 0.95) < 3 * sd
    # a finite-sample bias small against the SD, up to the study's Monte Carlo error
    assert abs(np.mean(bias)) < np.std(bias) * (0.15 + 3 / np.sqrt(reps))
