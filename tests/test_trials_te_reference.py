"""sequential_trials() against TrialEmulation 0.0.4.9 (R) on its bundled trial_example and data_censored.

Reference: tests/reference/trials_te/te_reference.R (run outside CI; R, TrialEmulation from
source, a stub for R's duckdb which is never called) wrote te_reference.json and the two data
sets (trial_example.csv.gz, data_censored.csv).

A second script, te_postexpansion.R, recomputes cohortlab's own (post-expansion) per-protocol
weighting with R's glm and sandwich on TrialEmulation's expansion of trial_example
(te_postexpansion.json): the weighted path checked against independent code.

Conventions cohortlab shares with TrialEmulation (read in its R/data_extension.R, modelling.R,
te_stats_glm_logit.R):

- one trial per eligible period, arm (``assigned_treatment``) = treatment in that period,
  follow-up = periods since the trial start, covariates frozen at the trial start (TrialEmulation's
  ``expand()`` joins ``outcome_cov`` on ``trial_period = period``), every later row of the person
  in the trial; the expanded sizes agree exactly;
- outcome model ``assigned_treatment + followup_time + followup_time^2 + trial_period +
  trial_period^2 + covariates``, no arm x follow-up term (``arm_by_followup="none"``);
- per-protocol: follow-up stops at the first period whose treatment differs from the arm and that
  row is dropped (``expand_until_switch``; its ``case`` is NA); with no switch covariates both
  programs' weights are exactly 1, so the unweighted per-protocol model is reproduced.

Where they differ, and which convention cohortlab follows:

- robust SE: TrialEmulation's ``sandwich::vcovCL(cluster = id, type = NULL)`` is HC0 for a glm
  with the cluster adjustment G/(G-1) (``cadjust = TRUE``); cohortlab reports CR0 (no small-sample
  factor, as pySEQTarget's statsmodels reference and R's ``vcovCL(type = "HC0", cadjust = FALSE)``)
  because its standardised risks add an empirical influence term on the same CR0 scale; the test
  multiplies cohortlab's SEs by sqrt(G/(G-1)), G the persons in the outcome model.
- weights: TrialEmulation fits the switch and censoring models on the person-period rows before
  expansion (each row once, by previous treatment, with the analyst's formulas of the current
  values, no follow-up or trial terms) and multiplies them from the trial start; cohortlab fits
  them after expansion by arm, the numerator on follow-up, trial period and the baseline
  covariates of the outcome model (pySEQTarget's ``weight_preexpansion=False``), so that the
  stabilising numerator conditions on what the outcome model conditions on. The weighted
  per-protocol (``te_pp``, ``dc_pp``) and censoring-weighted ITT (``dc_itt``) fits are in the JSON
  for the record; only their row counts are compared. cohortlab's own weighting is checked
  against te_postexpansion.json (below).
- censoring: in data_censored, ``censored = 1`` marks a person's last row, whose outcome IS observed
  (TrialEmulation's ``data_gen_censored`` keeps the row where dropout first occurs); cohortlab's
  ``censor = 1`` means the row's outcome is not observed (the row leaves the outcome model). The
  unweighted ITT is therefore fitted without ``censor=``: every row's outcome is observed, as
  TrialEmulation uses them.
- separation: on data_censored the vignette's quadratic trial-period term (events only in early
  trials) and both per-protocol outcome models separate the outcome; R's glm returns
  coefficients of 7 to 20 with model SEs of 600 to 13,000, cohortlab raises ``ConvergenceError``
  naming the term. So the data_censored ITT reference uses a linear trial period, and the
  trial_example references merge catvarA = 3 (no event) into the reference level.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.exceptions import ConvergenceError
from cohortlab.trials._input import Columns, frame_source, to_arrays
from cohortlab.trials._model import Spec, flow_counts

REF = Path(__file__).parent / "reference" / "trials_te"
# TrialEmulation's coefficient names -> cohortlab's
_NAMES = {"(Intercept)": "Intercept", "assigned_treatment": "arm", "followup_time": "followup",
          "I(followup_time^2)": "followup^2", "trial_period": "trial",
          "I(trial_period^2)": "trial^2"}
_DUMMIES = ["catvarA1", "catvarA2", "catvarA7", "catvarB1", "catvarB2", "catvarB3", "catvarB7"]


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((REF / "te_reference.json").read_text())


@pytest.fixture(scope="module")
def trial_example() -> pd.DataFrame:
    d = pd.read_csv(REF / "trial_example.csv.gz")
    # TrialEmulation reads rows in any order; cohortlab wants them sorted by (id, period)
    d = d.sort_values(["id", "period"], kind="stable").reset_index(drop=True)
    for v in ("catvarA", "catvarB"):
        for lev in (1, 2, 3, 7):
            d[f"{v}{lev}"] = (d[v] == lev).astype(float)
    return d


@pytest.fixture(scope="module")
def data_censored() -> pd.DataFrame:
    return pd.read_csv(REF / "data_censored.csv")


def _compare(res: cl.TrialsResult, r: dict, rtol: float = 1e-6, se_rtol: float = 1e-5) -> None:
    """Coefficients and robust SEs by name; cohortlab's CR0 scaled to vcovCL's G/(G-1)."""
    ours = pd.DataFrame({"coef": res.model.params, "se": np.sqrt(np.diag(res.model.vcov))},
                        index=list(res.model.terms))
    names = [_NAMES.get(t, t) for t in r["terms"]]
    assert sorted(names) == sorted(ours.index)
    ours = ours.loc[names]
    g = r["n_clusters"]
    se_ref = np.asarray(r["std_error_robust"])
    # glm stops at a relative deviance change of 1e-8: compare on the scale of the SEs
    diff = np.abs(ours["coef"].to_numpy() - np.asarray(r["coef"]))
    assert np.all(diff <= rtol * np.abs(r["coef"]) + 1e-5 * se_ref), dict(zip(names, diff, strict=True))
    np.testing.assert_allclose(ours["se"] * np.sqrt(g / (g - 1)), se_ref, rtol=se_rtol)
    flow = res.flow.set_index("step")["n"]
    assert flow["rows in the outcome model"] == r["nobs"]
    assert int(flow["events (arm 0)"] + flow["events (arm 1)"]) == r["n_events"]


def _fit(df: pd.DataFrame, covariates: list[str], estimand: str = "itt",
         **kw: object) -> cl.TrialsResult:
    return cl.sequential_trials(df, id="id", period="period", treatment="treatment",
                                outcome="outcome", eligible="eligible", covariates=covariates,
                                arm_by_followup="none", estimand=estimand, **kw)


# ---- data_censored (725 person-periods): fast -------------------------------------------------

def test_data_censored_itt_matches_trialemulation(data_censored: pd.DataFrame,
                                                   ref: dict) -> None:
    r = ref["dc_itt_unw"]
    res = _fit(data_censored, ["x2"], trial_terms="linear")
    # glm's sandwich uses the IRLS working weights of its last iteration (one step before
    # the returned coefficients): with few events its robust SEs are ~2e-5 off the exact ones
    _compare(res, r, se_rtol=1e-4)
    flow = res.flow.set_index("step")["n"]
    assert flow["expanded person-trial-periods"] == r["n_expanded"] == 1558
    assert flow["persons"] == r["n_clusters"] == 89


def test_data_censored_censor_column_means_outcome_not_observed(
        data_censored: pd.DataFrame, ref: dict) -> None:
    # passing TrialEmulation's `censored` as cohortlab's censor= removes the last observed row
    # of each censored person from every trial it belongs to (TrialEmulation keeps it)
    res = _fit(data_censored, ["x2"], trial_terms="linear", censor="censored")
    flow = res.flow.set_index("step")["n"]
    assert flow["removed: censored (outcome not observed)"] > 0
    assert flow["rows in the outcome model"] + flow[
        "removed: censored (outcome not observed)"] == ref["dc_itt_unw"]["nobs"]


def test_data_censored_censoring_weighted_itt_uses_the_same_rows(
        data_censored: pd.DataFrame, ref: dict) -> None:
    # TrialEmulation's censoring weights (models before expansion, by previous treatment) are
    # not cohortlab's (after expansion, by arm) and its censored rows keep their outcome: the
    # weighted coefficients differ, the expanded data are the same
    r = ref["dc_itt"]
    assert r["n_expanded"] == r["nobs"] == ref["dc_itt_unw"]["nobs"]
    assert r["weights"]["sd"] > 0.1


def test_data_censored_per_protocol_rows_and_separation(data_censored: pd.DataFrame,
                                                        ref: dict) -> None:
    r = ref["dc_pp_unw"]
    # glm "converges" to a separated fit: arm coefficient 20, model SE 12,943
    assert r["coef"][r["terms"].index("assigned_treatment")] > 15
    assert r["std_error_model"][r["terms"].index("assigned_treatment")] > 1000
    with pytest.raises(ConvergenceError, match="did not converge"):
        _fit(data_censored, ["age", "x2"], "per_protocol")
    # the artificially censored data are the same (500 rows, each switch row dropped); counted
    # by the private flow of the fit that raised
    cols = Columns(id="id", period="period", treatment="treatment", outcome="outcome",
                   eligible="eligible", censor=None, baseline=("age", "x2"), varying=())
    source = frame_source(to_arrays(data_censored, cols, "test"), 1000)
    c = flow_counts(Spec(per_protocol=True, baseline_names=("age", "x2")), source, None)
    assert c["counts"]["expanded_rows"] == ref["dc_itt_unw"]["n_expanded"] == 1558
    assert c["counts"]["outcome_rows"] == r["nobs"] == ref["dc_pp"]["nobs"] == 500
    assert c["counts"]["events_arm0"] + c["counts"]["events_arm1"] == r["n_events"]


def test_data_censored_quadratic_trial_term_separates(data_censored: pd.DataFrame,
                                                      ref: dict) -> None:
    r = ref["dc_itt_unw_quadratic"]
    assert r["std_error_model"][r["terms"].index("trial_period")] > 100
    with pytest.raises(ConvergenceError, match="trial"):
        _fit(data_censored, ["x2"])


# ---- trial_example (48,400 person-periods, 1.9 million person-trial-periods) ------------------

def test_trial_example_subset_matches_trialemulation(trial_example: pd.DataFrame,
                                                     ref: dict) -> None:
    """The CI version: the 50 smallest ids, covariates nvarA, nvarB, nvarC."""
    sub = trial_example[trial_example["id"].isin(np.sort(trial_example["id"].unique())[:50])]
    covs = ["nvarA", "nvarB", "nvarC"]
    itt = _fit(sub, covs)
    # coefficients agree to 1e-7; glm's last-iteration working weights move its SEs by <= 6e-5
    _compare(itt, ref["te_sub_itt"], se_rtol=1e-4)
    assert itt.flow.set_index("step")["n"]["expanded person-trial-periods"] == \
        ref["te_sub_itt"]["n_expanded"]
    pp = _fit(sub, covs, "per_protocol")
    _compare(pp, ref["te_sub_pp_unw"])
    # no switch covariates: the weights are 1, as TrialEmulation's ~1 / ~1 switch models give
    assert any("every weight is 1" in n for n in pp.notes)
    w = pp.weights.set_index("statistic")["value"]
    assert w["min"] == w["max"] == 1.0 and w["n"] == ref["te_sub_pp_unw"]["nobs"]


@pytest.mark.slow
def test_trial_example_itt_matches_trialemulation(trial_example: pd.DataFrame,
                                                  ref: dict) -> None:
    r = ref["te_itt"]
    res = _fit(trial_example, [*_DUMMIES, "nvarA", "nvarB", "nvarC"])
    _compare(res, r)
    flow = res.flow.set_index("step")["n"]
    assert flow["expanded person-trial-periods"] == r["n_expanded"] == 1_939_053
    assert flow["persons"] == r["n_clusters"] == 503


@pytest.mark.slow
def test_trial_example_per_protocol_matches_trialemulation(trial_example: pd.DataFrame,
                                                           ref: dict) -> None:
    r = ref["te_pp_unw"]
    res = _fit(trial_example, [*_DUMMIES, "nvarA", "nvarB", "nvarC"], "per_protocol")
    _compare(res, r)
    flow = res.flow.set_index("step")["n"]
    assert flow["rows in the outcome model"] == r["n_expanded"] == 963_883
    # TrialEmulation's weighted PP (switch models before expansion) keeps the same rows
    assert ref["te_pp"]["nobs"] == r["nobs"]


def test_trial_example_factor_coding_separates(ref: dict) -> None:
    """The vignette's factor catvarA has a level (3) without events: glm returns -11 (SE 35)."""
    r = ref["te_itt_factor"]
    k = r["terms"].index("catvarA3")
    assert r["coef"][k] < -10 and r["std_error_model"][k] > 30
    assert r["nobs"] == ref["te_itt"]["nobs"]


# ---- cohortlab's own weighting convention, recomputed in R on TrialEmulation's expansion ------
# te_postexpansion.R: TrialEmulation's ITT expansion of trial_example, then (independent R code,
# glm + sandwich) the post-expansion adherence models by arm, the cumulative stabilised weights,
# the weighted outcome model and its CR0 sandwich: a check of the weighted path (weights, weighted
# fit and weighted clustered SEs), not a TrialEmulation estimator.

def _check_post(res: cl.TrialsResult, r: dict) -> None:
    ours = pd.DataFrame({"coef": res.model.params, "se": np.sqrt(np.diag(res.model.vcov))},
                        index=list(res.model.terms)).loc[[_NAMES.get(t, t) for t in r["terms"]]]
    np.testing.assert_allclose(ours["coef"], r["coef"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours["se"], r["std_error_cr0"], rtol=1e-5)
    flow = res.flow.set_index("step")["n"]
    assert flow["expanded person-trial-periods"] == r["n_expanded"]
    assert flow["rows in the outcome model"] == r["nobs"]
    w = res.weights.set_index("statistic")["value"]
    for k in ("mean", "min", "max", "sd"):
        assert w[k] == pytest.approx(r["weights"][k], rel=1e-6)
    sm = res.switch_models
    assert sm is not None
    for a in (0, 1):
        m = r["switch_models"][f"arm{a}"]
        np.testing.assert_allclose(sm[f"arm {a} numerator"].dropna(), m["numerator"],
                                   rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(sm[f"arm {a} denominator"], m["denominator"],
                                   rtol=1e-5, atol=1e-8)


def _post(df: pd.DataFrame) -> cl.TrialsResult:
    return _fit(df, ["nvarA", "nvarB", "nvarC"], "per_protocol",
                switch_covariates=["nvarA", "nvarB"])


def test_weighted_per_protocol_matches_r_on_trialemulation_expansion(
        trial_example: pd.DataFrame) -> None:
    r = json.loads((REF / "te_postexpansion.json").read_text())["every_10th"]
    ids = np.sort(trial_example["id"].unique())[::10]
    assert ids.size == r["n_persons"] == 51
    _check_post(_post(trial_example[trial_example["id"].isin(ids)]), r)


@pytest.mark.slow
def test_weighted_per_protocol_matches_r_on_trialemulation_expansion_all(
        trial_example: pd.DataFrame) -> None:
    r = json.loads((REF / "te_postexpansion.json").read_text())["all"]
    _check_post(_post(trial_example), r)
