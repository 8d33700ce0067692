"""sequential_trials(competing=): a competing-event hazard model and the cumulative incidence.

Within a period the competing event comes before the outcome (simulate_longitudinal's
order), so ``F(k) = sum_{j<=k} h_Y(j) (1 - h_D(j)) prod_{m<j} (1 - h_Y(m)) (1 - h_D(m))``.
The truth of simulate_longitudinal (``attrs["truth"]["risk"]``) is this cumulative incidence
with the competing event kept (not prevented): the total effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import cohortlab as cl
from cohortlab.exceptions import DataValidationError
from cohortlab.trials._standardise import standardised_risks

KW = dict(id="id", period="period", treatment="A", outcome="Y", eligible="elig",
          covariates=["L", "V"], estimand="per_protocol", trial_terms="none",
          followup_terms="linear", arm_by_followup="all", switch_covariates=["L"])


def _first_trial(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["elig"] = (df["period"] == 0).astype(int)
    return df


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return _first_trial(cl.simulate_longitudinal(n=5000, n_periods=5, random_state=21, censoring=False,
                                                 competing=True, n_truth=50_000))


@pytest.fixture(scope="module")
def fitted(cohort: pd.DataFrame):
    return cl.sequential_trials(cohort, competing="D", **KW)


def _numbers(r) -> np.ndarray:
    f = r.effects.to_frame()
    return np.concatenate([r.model.params, f[["estimate", "std_error"]].to_numpy(float).ravel(),
                           r.curves.data[["estimate", "std_error"]].to_numpy(float).ravel()])


@pytest.mark.parametrize("extra", [{}, {"estimand": "itt", "switch_covariates": []}])
def test_no_competing_events_gives_the_numbers_without_it(extra) -> None:
    df = _first_trial(cl.simulate_longitudinal(n=600, n_periods=4, random_state=3, censoring=True,
                                               competing=False, n_truth=2_000))
    df["D0"] = 0
    kw = {**KW, **extra, "censor": "C"}
    plain = cl.sequential_trials(df, **kw)
    comp = cl.sequential_trials(df, competing="D0", **kw)
    np.testing.assert_array_equal(_numbers(comp), _numbers(plain))
    assert comp.competing_model is None
    assert any("competing event: none" in n for n in comp.notes)
    flow = comp.flow.set_index("step")["n"]
    assert flow["competing events (arm 0)"] == flow["competing events (arm 1)"] == 0


def test_cumulative_incidence_recovers_the_truth(cohort, fitted) -> None:
    """Per-protocol always vs never (one trial at period 0): truth with the competing event
    kept (n = 5,000; SE of the risk difference ~0.015)."""
    truth = cohort.attrs["truth"]
    t4 = truth[truth["period"] == 4].set_index("strategy")["risk"]
    for term, true in [("risk (arm 1) at follow-up 4", t4["always"]),
                       ("risk (arm 0) at follow-up 4", t4["never"]),
                       ("risk difference (1 vs 0) at follow-up 4",
                        t4["always"] - t4["never"])]:
        e = fitted.effects[term]
        assert abs(e.estimate - true) < 3 * e.std_error, term
    assert fitted.competing_model is not None
    flow = fitted.flow.set_index("step")["n"]
    n_d = flow["competing events (arm 0)"] + flow["competing events (arm 1)"]
    assert 0 < n_d < int(cohort["D"].sum())  # per-protocol: not those after a deviation
    assert fitted.competing_model.n_events == n_d
    assert flow["removed: competing event in the period"] == n_d
    assert flow["rows in the competing-event model"] == flow["rows in the outcome model"] + n_d


def test_cumulative_incidence_by_hand_from_the_two_models(cohort, fitted) -> None:
    b, bd = fitted.model.params, fitted.competing_model.params
    names = list(fitted.model.terms)
    assert names == ["Intercept", "arm", "followup", "arm:followup", "L", "V"]
    base = cohort[cohort["period"] == 0]
    k = np.arange(5.0)
    for a in (0, 1):
        X = np.stack([np.column_stack([np.ones(5), np.full(5, a), k, a * k,
                                       np.full(5, l0), np.full(5, v0)])
                      for l0, v0 in zip(base["L"], base["V"], strict=True)])
        h, d = expit(X @ b), expit(X @ bd)
        surv = np.cumprod((1 - h) * (1 - d), axis=1)
        prev = np.column_stack([np.ones(len(base)), surv[:, :-1]])
        cif = np.cumsum(h * (1 - d) * prev, axis=1).mean(axis=0)
        curve = fitted.curves.data.query(f"group == 'arm {a}'")["estimate"].to_numpy()
        np.testing.assert_allclose(curve, cif, rtol=1e-10)
        assert fitted.effects[f"risk (arm {a}) at follow-up 4"].estimate == \
            pytest.approx(cif[4], rel=1e-10)


def test_influence_gradients_match_finite_differences() -> None:
    """The sandwich's derivative terms of the cumulative incidence, in both models."""
    rng = np.random.default_rng(4)
    K, n_e = 4, 7
    time_rows = np.stack([np.column_stack([np.ones(K), np.full(K, a), np.arange(K)])
                          for a in (0, 1)])
    entry = rng.normal(size=(n_e, 2))
    person = np.array([0, 0, 1, 2, 2, 3, 4])
    coef = np.array([-2.0, -0.4, 0.1, 0.3, -0.2])
    coef_d = np.array([-2.5, 0.2, 0.05, -0.1, 0.4])
    persons = np.unique(person)
    zero = np.zeros((persons.size, coef.size))
    _, base_if = standardised_risks(coef, 3, time_rows, entry, person, zero, persons,
                                    coef_d, zero, persons)
    for which in ("outcome", "competing"):
        delta = 1e-6 * rng.normal(size=coef.size)
        ib = zero.copy()
        ib[0] = delta
        args = (ib, persons, coef_d, zero, persons) if which == "outcome" else \
            (zero, persons, coef_d, ib, persons)
        _, IF = standardised_risks(coef, 3, time_rows, entry, person, *args)
        lin = IF[0] - base_if[0]
        c1, d1 = (coef + delta, coef_d) if which == "outcome" else (coef, coef_d + delta)
        R1, _ = standardised_risks(c1, 3, time_rows, entry, person, None, None, d1)
        R0, _ = standardised_risks(coef, 3, time_rows, entry, person, None, None, coef_d)
        np.testing.assert_allclose(lin, R1 - R0, rtol=1e-4, atol=1e-12, err_msg=which)


def test_bootstrap_refits_both_models() -> None:
    df = _first_trial(cl.simulate_longitudinal(n=800, n_periods=4, random_state=9, censoring=False,
                                               competing=True, n_truth=2_000))
    kw = {**KW, "competing": "D"}
    sw = cl.sequential_trials(df, **kw)
    bs = cl.sequential_trials(df, variance="bootstrap", n_boot=25, random_state=2, **kw)
    term = "risk difference (1 vs 0) at follow-up 3"
    assert bs.effects[term].estimate == sw.effects[term].estimate
    assert bs.effects[term].ci_method == "bootstrap_percentile"
    assert 0.5 < bs.effects[term].std_error / sw.effects[term].std_error < 2.0


def test_dask_engine_gives_the_local_numbers() -> None:
    pytest.importorskip("dask")
    df = _first_trial(cl.simulate_longitudinal(n=600, n_periods=4, random_state=5, censoring=True,
                                               competing=True, n_truth=2_000))
    kw = {**KW, "competing": "D", "censor": "C", "chunk_persons": 200}
    local = cl.sequential_trials(df, **kw)
    on_dask = cl.sequential_trials(df, engine="dask", **kw)
    np.testing.assert_allclose(_numbers(on_dask), _numbers(local), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(on_dask.competing_model.params, local.competing_model.params,
                               rtol=1e-10)


def _small() -> pd.DataFrame:
    return _first_trial(cl.simulate_longitudinal(n=300, n_periods=4, random_state=1, censoring=False,
                                                 competing=True, n_truth=2_000))


def test_competing_event_errors() -> None:
    df = _small()
    kw = {**KW, "estimand": "itt", "switch_covariates": []}
    bad = df.assign(D=df["D"].fillna(0).replace(1.0, 2.0))
    with pytest.raises(DataValidationError, match="competing column 'D' must be 0/1"):
        cl.sequential_trials(bad, competing="D", **kw)
    both = df.copy()
    row = both.index[both["Y"] == 1][0]
    both.loc[row, "D"] = 1.0
    with pytest.raises(DataValidationError, match="both the competing event"):
        cl.sequential_trials(both, competing="D", **kw)
    after = df.copy()
    first = after.index[(after["period"] == 0) & (after["D"] == 0)
                        & after["id"].duplicated(keep="last")][0]
    after.loc[first, "D"] = 1.0
    with pytest.raises(DataValidationError, match="rows after their competing event"):
        cl.sequential_trials(after, competing="D", **kw)
    with pytest.raises(DataValidationError, match="also the outcome"):
        cl.sequential_trials(df, competing="Y", **kw)
    with pytest.raises(DataValidationError, match="name of a 0/1 column"):
        cl.sequential_trials(df, competing=["D"], **kw)  # type: ignore[arg-type]
    with pytest.raises(DataValidationError, match="not in data"):
        cl.sequential_trials(df, competing="nope", **kw)


def test_a_competing_row_with_outcome_zero_is_accepted(cohort) -> None:
    """Y recorded as 0 (not NaN) in the competing-event rows: the same fit."""
    df = cohort.iloc[:4000].copy()
    df = df[df["id"].isin(df["id"].unique()[:-1])]  # whole persons only
    ref = cl.sequential_trials(df, competing="D", **KW)
    zero = df.assign(Y=df["Y"].where(df["D"] != 1, 0.0))
    np.testing.assert_array_equal(_numbers(cl.sequential_trials(zero, competing="D", **KW)),
                                  _numbers(ref))


def _coverage(reps: int, n: int) -> tuple[int, int]:
    """Per-protocol always-vs-never cumulative-incidence difference at the last period:
    95% sandwich CIs covering the truth (competing event not prevented) over ``reps``
    simulated cohorts."""
    covered = 0
    for seed in range(reps):
        df = _first_trial(cl.simulate_longitudinal(n=n, n_periods=5, random_state=500 + seed,
                                                   censoring=False, competing=True,
                                                   n_truth=50_000))
        truth = df.attrs["truth"]
        t4 = truth[truth["period"] == 4].set_index("strategy")["risk"]
        rd = t4["always"] - t4["never"]
        e = cl.sequential_trials(df, competing="D", **KW).effects[
            "risk difference (1 vs 0) at follow-up 4"]
        covered += int(e.conf_low < rd < e.conf_high)
    return covered, reps


@pytest.mark.slow
def test_cumulative_incidence_coverage_monte_carlo() -> None:
    covered, reps = _coverage(200, 2000)
    # 95% within Monte Carlo error: SE of a coverage proportion at 200 reps ~ 0.015
    assert 0.91 <= covered / reps <= 0.99
