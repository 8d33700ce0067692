"""sequential_trials() against pySEQTarget 0.14.3 on its bundled SEQdata.

Reference: tests/reference/trials/pyseqtarget_seqdata.py (run outside CI) wrote
pyseqtarget_seqdata.json. Conventions cohortlab shares with pySEQTarget here: one trial per
eligible period, arm = treatment in that period, covariates frozen at the trial start
(pySEQTarget's ``*_bas`` columns), quadratic follow-up and trial-period terms, no arm x
follow-up interaction (pySEQTarget adds ``tx_init_bas*followup`` only with ``km_curves``).
Per-protocol: pySEQTarget's post-expansion weights (``weight_preexpansion=False``): numerator
``fixed + tv_bas + followup + trial`` (quadratic), denominator adds the current time-varying
covariates, fitted by arm on the expanded rows up to the first deviation; the deviation row
is dropped from the outcome model. pySEQTarget's default (``weight_preexpansion=True``) fits
the weights on the unexpanded data and leaves time-varying baseline covariates out of the
outcome model: a different estimator, not reproduced (its coefficients are in the JSON).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl

REF = Path(__file__).parent / "reference" / "trials"


@pytest.fixture(scope="module")
def seqdata() -> pd.DataFrame:
    return pd.read_csv(REF / "SEQdata.csv")


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((REF / "pyseqtarget_seqdata.json").read_text())


def _fit(df: pd.DataFrame, estimand: str, **kw: object) -> cl.TrialsResult:
    return cl.sequential_trials(
        df, id="ID", period="time", treatment="tx_init", outcome="outcome",
        eligible="eligible", covariates=["sex", "N", "L", "P"], arm_by_followup="none",
        estimand=estimand, switch_covariates=["N", "L", "P"], **kw)


def test_itt_coefficients_match_pyseqtarget(seqdata: pd.DataFrame, ref: dict) -> None:
    res = _fit(seqdata, "itt")
    r = ref["itt"]
    # pySEQTarget orders fixed columns before the *_bas columns, as does cohortlab here
    np.testing.assert_allclose(res.model.params, r["coef"], rtol=1e-6, atol=1e-9)
    # person-clustered sandwich (CR0) vs statsmodels' cluster SEs (use_correction=False) of
    # the same model on pySEQTarget's expanded data
    np.testing.assert_allclose(np.sqrt(np.diag(res.model.vcov)), r["std_error_cluster_cr0"],
                               rtol=1e-6)
    flow = res.flow.set_index("step")["n"]
    assert flow["expanded person-trial-periods"] == r["n_expanded"] == 248_485
    assert flow["rows in the outcome model"] == r["nobs"]


def test_per_protocol_coefficients_match_pyseqtarget_post_expansion(
        seqdata: pd.DataFrame, ref: dict) -> None:
    res = _fit(seqdata, "per_protocol")
    r = ref["per_protocol_post"]
    np.testing.assert_allclose(res.model.params, r["coef"], rtol=1e-5, atol=1e-8)
    assert res.flow.set_index("step")["n"]["rows in the outcome model"] == r["nobs"]
    w = res.weights.set_index("statistic")["value"]
    assert w["n"] == r["nobs"] and 0.9 < w["mean"] < 1.1
