"""clone_censor_weight(): clones, artificial censoring, weights and risks vs known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.datasets import _dgp_long as dgp
from cohortlab.exceptions import DataValidationError

COLS = {"id": "id", "period": "period", "treatment": "A", "outcome": "Y"}


def _sim(n: int, k: int, seed: int, confounding: float = 1.0) -> pd.DataFrame:
    return cl.simulate_longitudinal(n, k, random_state=seed, censoring=False, competing=False,
                                    confounding=confounding, n_truth=200_000)


def _grace_truth(k: int, grace: int, confounding: float, n: int = 200_000) -> np.ndarray:
    """Risk by period under "start within grace (natural timing), then stay on".

    The DGP of simulate_longitudinal (defaults, no censoring, no competing event) simulated
    with treatment set by the strategy: before ``grace`` a person not yet treated follows the
    natural treatment model, at ``grace`` everybody not yet treated starts, once treated
    always treated.
    """
    p = dgp._LongParams(n_periods=k, effect_direct=-0.5, effect_on_l=-0.6, confounding=confounding,
                        threshold=0.5, censoring=False, competing=False)
    rng = np.random.default_rng(99)
    v = (rng.random(n) < dgp._P_V).astype(np.int64)
    alive = np.ones(n, dtype=bool)
    l_prev, a_prev = np.zeros(n), np.zeros(n, dtype=np.int64)
    risk = np.zeros(k)
    for t in range(k):
        l_t = dgp._L_AR * l_prev + p.effect_on_l * a_prev + dgp._L_V * v + rng.standard_normal(n)
        natural = (rng.random(n) < dgp._p_treat(p, l_t, a_prev, v)).astype(np.int64)
        a_t = np.where((a_prev == 1) | (t >= grace), 1, natural)
        y_t = rng.random(n) < dgp._p_outcome(p, l_t, a_t, v)
        risk[t] = (y_t & alive).sum() / n
        alive &= ~y_t
        l_prev, a_prev = l_t, a_t
    return np.cumsum(risk)


def _reference_clones(df: pd.DataFrame, grace: int) -> pd.DataFrame:
    """Clones built person by person (a plain loop: the reference for the vectorised code)."""
    out = []
    for pid, g in df.groupby("id", sort=False):
        a, y = g["A"].to_numpy(), g["Y"].to_numpy()
        started = False
        for t in range(len(g)):  # arm never: censored at initiation
            if a[t] == 1:
                break
            out.append((pid, 0, t, y[t]))
        for t in range(len(g)):  # arm start: by grace, then stay on
            if a[t] == 1:
                started = True
            if (t == grace and not started) or (started and a[t] == 0):
                break
            out.append((pid, 1, t, y[t]))
    return pd.DataFrame(out, columns=["id", "arm", "fu", "Y"])


def test_unweighted_risks_match_clones_built_by_hand():
    # no covariates: numerator and denominator models coincide, every weight is 1, and the
    # saturated pooled logistic model is the life table of the clones
    df = _sim(2_000, 5, seed=3)
    res = cl.clone_censor_weight(df, **COLS, grace=2, followup_terms="saturated", n_boot=2,
                                 random_state=1)
    ref = _reference_clones(df, grace=2)
    for arm in (0, 1):
        lt = ref[ref["arm"] == arm].groupby("fu")["Y"].agg(["sum", "count"])
        risk = 1 - np.cumprod(1 - lt["sum"] / lt["count"])
        got = res.curves.data.query(f"group == 'arm {arm}'")["estimate"].to_numpy()
        np.testing.assert_allclose(got, risk.to_numpy(), rtol=1e-8)
    w = res.weights.set_index("statistic")["value"]
    assert w["min"] == pytest.approx(1.0) and w["max"] == pytest.approx(1.0)
    flow = res.flow.set_index("step")["n"]
    assert flow["rows in the outcome model"] == len(ref)
    assert flow["clone-periods"] == 2 * len(df)
    removed = flow[[s for s in flow.index if s.startswith("removed")]].sum()
    assert flow["rows in the outcome model"] + removed == flow["clone-periods"]


def test_grace_zero_recovers_always_and_never():
    df = _sim(20_000, 6, seed=4)
    truth = df.attrs["truth"].query("period == 5").set_index("strategy")["risk"]
    res = cl.clone_censor_weight(df, **COLS, covariates=["L", "V"], grace=0,
                                 followup_terms="saturated", n_boot=2, random_state=1)
    r = res.curves.data.query("time == 5").set_index("group")["estimate"]
    # across seeds 4-6 at n = 20,000 (8 periods) the estimates' SD was about 0.005 (always)
    # and 0.02 (never): tolerances of about 2.5 SD
    assert r["arm 1"] == pytest.approx(truth["always"], abs=0.015)
    assert r["arm 0"] == pytest.approx(truth["never"], abs=0.05)


@pytest.mark.parametrize("confounding", [1.0, 0.0])
def test_grace_two_matches_simulated_strategy_and_naive_is_biased(confounding):
    k, grace = 6, 2
    df = _sim(20_000, k, seed=5, confounding=confounding)
    truth_start = _grace_truth(k, grace, confounding)[-1]
    truth_never = df.attrs["truth"].query(f"period == {k - 1} and strategy == 'never'")[
        "risk"].iloc[0]
    res = cl.clone_censor_weight(df, **COLS, covariates=["L", "V"], grace=grace,
                                 followup_terms="saturated", n_boot=2, random_state=1)
    r = res.curves.data.query(f"time == {k - 1}").set_index("group")["estimate"]
    assert r["arm 1"] == pytest.approx(truth_start, abs=0.02)
    rd = r["arm 1"] - r["arm 0"]
    true_rd = truth_start - truth_never
    assert rd == pytest.approx(true_rd, abs=0.03)
    # naive: groups by eventual initiation within the grace period, no artificial censoring,
    # no weights; a person with an event before initiating can only be in "never". Without
    # confounding (confounding=0) its bias is immortal time alone
    first = df[df["A"] == 1].groupby("id")["period"].min()
    started = df["id"].map(first).le(grace).groupby(df["id"]).first()
    event = df.groupby("id")["Y"].max()
    naive_rd = event[started].mean() - event[~started].mean()
    assert abs(naive_rd - true_rd) > 0.03
    assert abs(naive_rd - true_rd) > 2 * abs(rd - true_rd)
    if confounding == 0.0:
        assert naive_rd < true_rd - 0.03  # immortal time favours "start"


@pytest.mark.slow
def test_grace_zero_within_three_bootstrap_se_at_large_n():
    df = _sim(100_000, 8, seed=7)
    truth = df.attrs["truth"].query("period == 7").set_index("strategy")["risk"]
    res = cl.clone_censor_weight(df, **COLS, covariates=["L", "V"], grace=0,
                                 followup_terms="saturated", n_boot=50, random_state=1)
    c = res.curves.data.query("time == 7").set_index("group")
    for arm, s in (("arm 1", "always"), ("arm 0", "never")):
        assert abs(c.loc[arm, "estimate"] - truth[s]) < 3 * c.loc[arm, "std_error"]


def test_truncation_is_recorded_and_effects_have_bootstrap_intervals():
    df = _sim(2_000, 5, seed=6)
    res = cl.clone_censor_weight(df, **COLS, covariates=["L", "V"], grace=1, truncate=(0.01, 0.99),
                                 horizons=[2, 4], n_boot=20, random_state=2)
    assert any("truncated at the 0.01 and 0.99 quantiles" in n for n in res.notes)
    w = res.weights.set_index("statistic")["value"]
    assert w["n_truncated"] > 0
    f = res.to_frame()
    assert len(f) == 8 and (f["ci_method"] == "bootstrap_percentile").all()
    assert (f["conf_low"] < f["estimate"]).all() and (f["estimate"] < f["conf_high"]).all()
    rr = f[f["term"].str.startswith("risk ratio")]["estimate"].to_numpy()
    r = res.curves.data.set_index(["group", "time"])["estimate"]
    np.testing.assert_allclose(rr, [r["arm 1", h] / r["arm 0", h] for h in (2.0, 4.0)])


def test_loss_to_follow_up_rows_are_counted():
    df = cl.simulate_longitudinal(500, 4, random_state=1, n_truth=2_000)
    res = cl.clone_censor_weight(df, **COLS, covariates=["L", "V"], censor="C", grace=1,
                                 n_boot=2, random_state=1)
    flow = res.flow.set_index("step")["n"]
    assert flow["removed: lost to follow-up (censor = 1)"] > 0
    assert flow["removed: outcome missing"] > 0  # the competing event D: Y not observed
    removed = flow[[s for s in flow.index if s.startswith("removed")]].sum()
    assert flow["rows in the outcome model"] + removed == flow["clone-periods"]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"treatment": "missing"}, r"column\(s\) \['missing'\] not in data"),
    ({"grace": 4}, "grace=4 is not below the longest follow-up"),
    ({"grace": -1}, "grace must be an int >= 0"),
    ({"covariates": "L"}, "covariates is a list of columns"),
    ({"truncate": 0.3}, r"truncate must be a \(low, high\) pair of quantiles"),
    ({"n_boot": 1}, "n_boot must be an int >= 2"),
])
def test_bad_input_raises(kwargs, match):
    df = _sim(200, 4, seed=1)
    args = {**COLS, "grace": 1, "n_boot": 2, **kwargs}
    with pytest.raises(DataValidationError, match=match):
        cl.clone_censor_weight(df, **args)


def test_unsorted_rows_and_non_binary_treatment_raise():
    df = _sim(200, 4, seed=1)
    with pytest.raises(DataValidationError, match="sorted by"):
        cl.clone_censor_weight(df.iloc[::-1], **COLS, n_boot=2, grace=1)
    with pytest.raises(DataValidationError, match="must be 0/1"):
        cl.clone_censor_weight(df.assign(A=df["A"] * 2), **COLS, n_boot=2, grace=1)
