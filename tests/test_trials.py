"""sequential_trials(): expansion, chunked fit, sandwich, standardisation and known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import cohortlab as cl
from cohortlab._glm import fit_logistic
from cohortlab.exceptions import DataValidationError
from cohortlab.trials._expand import PersonPeriod, deviation, expand


def _toy(n: int = 60, n_periods: int = 6, seed: int = 0) -> pd.DataFrame:
    """Small person-period data with irregular eligibility, switching, events and censoring."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        x = rng.normal()
        a_prev = 0
        for t in range(n_periods):
            z = x + rng.normal()
            a = int(rng.random() < expit(-1 + 0.5 * z + 3 * a_prev))
            elig = int(a_prev == 0 and rng.random() < 0.8)
            c = int(rng.random() < 0.05)
            y = np.nan if c else float(rng.random() < expit(-2.5 + 0.4 * z - 0.5 * a))
            rows.append((i + 100, t, a, y, elig, c, x, z))
            a_prev = a
            if c or y == 1:
                break
    return pd.DataFrame(rows, columns=["pid", "t", "a", "y", "elig", "c", "x", "z"])


def _brute_expand(df: pd.DataFrame) -> pd.DataFrame:
    """The nested trials by explicit loops (the definition)."""
    out = []
    for pid, g in df.groupby("pid", sort=True):
        g = g.reset_index(drop=True)
        for s in np.flatnonzero(g["elig"].to_numpy() == 1):
            for r in range(s, len(g)):
                out.append((pid, g.loc[s, "t"], r - s, g.loc[s, "a"], g.loc[r, "a"],
                            g.loc[r, "y"], g.loc[r, "c"], g.loc[s, "x"], g.loc[s, "z"]))
    return pd.DataFrame(out, columns=["pid", "trial", "fu", "arm", "a", "y", "c", "x0", "z0"])


def _arrays(df: pd.DataFrame) -> PersonPeriod:
    codes = pd.factorize(df["pid"])[0]
    return PersonPeriod(person=codes, period=df["t"].to_numpy(), treatment=df["a"].to_numpy(),
                        outcome=df["y"].to_numpy(dtype=float),
                        eligible=df["elig"].to_numpy().astype(bool),
                        censor=df["c"].to_numpy(), baseline=df[["x", "z"]].to_numpy(float),
                        varying=df[["z"]].to_numpy(float))


def test_expansion_matches_the_definition() -> None:
    df = _toy()
    pp = _arrays(df)
    ex = expand(pp)
    ref = _brute_expand(df)
    assert ex.n_rows == len(ref)
    np.testing.assert_array_equal(ex.trial, ref["trial"])
    np.testing.assert_array_equal(ex.followup, ref["fu"])
    np.testing.assert_array_equal(ex.arm, ref["arm"])
    np.testing.assert_array_equal(pp.baseline[ex.start, 1], ref["z0"])
    # per-protocol: adherent rows are those before the first a != arm within the trial
    adherent, deviates = deviation(pp, ex)
    ref["dev"] = (ref["a"] != ref["arm"]).astype(int)
    cum = ref.groupby(["pid", "trial"])["dev"].cumsum()
    np.testing.assert_array_equal(adherent, cum == 0)
    np.testing.assert_array_equal(deviates, (cum == 1) & (ref["dev"] == 1))


def _materialised(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ITT outcome design (quadratic follow-up/trial, arm x followup) built by hand."""
    e = _brute_expand(df)
    e = e[(e["c"] == 0)]
    fu, tr, arm = e["fu"].to_numpy(float), e["trial"].to_numpy(float), e["arm"].to_numpy(float)
    X = np.column_stack([np.ones(len(e)), arm, fu, fu**2, arm * fu, tr, tr**2, e["x0"], e["z0"]])
    return X, e["y"].to_numpy(float), e["pid"].to_numpy()


def _fit_toy(df: pd.DataFrame, **kw: object) -> cl.TrialsResult:
    return cl.sequential_trials(df, id="pid", period="t", treatment="a", outcome="y",
                                eligible="elig", censor="c", covariates=["x", "z"], **kw)


def test_chunked_fit_equals_in_memory_fit_and_cr0_sandwich() -> None:
    df = _toy(n=150, seed=3)
    X, y, pid = _materialised(df)
    ref = fit_logistic(X, y)
    one = _fit_toy(df)
    many = _fit_toy(df, chunk_persons=7)
    np.testing.assert_allclose(one.model.params, ref.coef, rtol=0, atol=1e-10)
    np.testing.assert_allclose(many.model.params, one.model.params, rtol=0, atol=1e-10)
    # CR0 sandwich by hand: bread (X'VX)^-1, meat = sum over persons of U_i U_i'
    mu = expit(X @ ref.coef)
    bread = np.linalg.inv((X * (mu * (1 - mu))[:, None]).T @ X)
    u = pd.DataFrame(X * (y - mu)[:, None]).groupby(pid).sum().to_numpy()
    np.testing.assert_allclose(one.model.vcov, bread @ u.T @ u @ bread, rtol=1e-7)
    np.testing.assert_allclose(many.model.vcov, one.model.vcov, rtol=1e-8)


def test_standardised_risk_and_its_delta_method_se() -> None:
    df = _toy(n=150, seed=4)
    res = _fit_toy(df, horizons=[2, 5])
    beta = res.model.params
    e = _brute_expand(df)
    ent = e[e["fu"] == 0]

    def risks(b: np.ndarray) -> np.ndarray:
        out = []
        for a in (0, 1):
            k = np.arange(6.0)
            eta = (b[0] + b[1] * a + b[2] * k + b[3] * k**2 + b[4] * a * k)[None, :] + (
                b[5] * ent["trial"].to_numpy(float) + b[6] * ent["trial"].to_numpy(float) ** 2
                + b[7] * ent["x0"].to_numpy() + b[8] * ent["z0"].to_numpy())[:, None]
            out.append(1 - np.cumprod(1 - expit(eta), axis=1))
        return np.stack(out)  # arm x entry x k

    r = risks(beta)
    tab = res.effects.to_frame().set_index("term")
    assert tab.loc["risk (arm 1) at follow-up 5", "estimate"] == pytest.approx(
        r[1, :, 5].mean(), rel=1e-10)
    rd = r[1, :, 2].mean() - r[0, :, 2].mean()
    assert tab.loc["risk difference (1 vs 0) at follow-up 2", "estimate"] == pytest.approx(rd)
    # delta method by finite differences + the empirical term, clustered by person
    eps = 1e-6
    grad = np.array([(risks(beta + eps * np.eye(9)[j])[:, :, 2].mean(axis=1)
                      - risks(beta - eps * np.eye(9)[j])[:, :, 2].mean(axis=1)) / (2 * eps)
                     for j in range(9)])  # 9 x arm
    g = grad[:, 1] - grad[:, 0]
    X, y, pid = _materialised(df)
    mu = expit(X @ beta)
    bread = np.linalg.inv((X * (mu * (1 - mu))[:, None]).T @ X)
    u = pd.DataFrame(X * (y - mu)[:, None]).groupby(pid).sum()
    if_beta = u.to_numpy() @ bread
    emp = pd.Series((r[1, :, 2] - r[0, :, 2]) - rd).groupby(ent["pid"].to_numpy()).sum() / len(ent)
    inf = emp.reindex(u.index, fill_value=0.0).to_numpy() + if_beta @ g
    se = np.sqrt(np.sum(inf**2))
    assert tab.loc["risk difference (1 vs 0) at follow-up 2", "std_error"] == pytest.approx(
        se, rel=1e-5)


def test_flow_counts() -> None:
    df = _toy(n=80, seed=5)
    res = _fit_toy(df, estimand="per_protocol", switch_covariates=["z"])
    e = _brute_expand(df)
    flow = res.flow.set_index("step")["n"]
    assert flow["persons"] == df["pid"].nunique()
    assert flow["eligible person-periods (trials)"] == df["elig"].sum()
    assert flow["expanded person-trial-periods"] == len(e)
    e["dev"] = (e["a"] != e["arm"]).astype(int)
    cum = e.groupby(["pid", "trial"])["dev"].cumsum()
    kept = (cum == 0) & (e["c"] == 0)
    assert flow["rows in the outcome model"] == kept.sum() == res.model.n
    removed = flow[[s for s in flow.index if s.startswith("removed")]].sum()
    assert flow["expanded person-trial-periods"] - removed == flow["rows in the outcome model"]
    assert flow["events (arm 1)"] == e.loc[kept & (e["arm"] == 1), "y"].sum()


def test_validation_errors() -> None:
    df = _toy(n=20)
    bad = df.copy()
    bad.loc[3, "a"] = 2
    with pytest.raises(DataValidationError, match="'a'"):
        _fit_toy(bad)
    with pytest.raises(DataValidationError, match="sorted"):
        _fit_toy(df.iloc[::-1])
    with pytest.raises(DataValidationError, match="not in data"):
        cl.sequential_trials(df, id="pid", period="t", treatment="a", outcome="y",
                             eligible="nope")
    with pytest.raises(DataValidationError, match="'x' must be numeric"):
        _fit_toy(df.assign(x=df["x"].astype(str)))
    with pytest.raises(DataValidationError, match="missing or infinite"):
        _fit_toy(df.assign(z=np.where(df.index == 5, np.nan, df["z"])))
    none = df.assign(elig=0)
    with pytest.raises(DataValidationError, match="no eligible"):
        _fit_toy(none)
    big = _toy(n=300, seed=12)
    late = big.assign(t=big["t"] + 3, elig=(big["t"] >= 2).astype(int) * big["elig"])
    res = _fit_toy(late, trial_terms="none")  # periods 3..8, trials start at 5 or later
    assert res.effects[0].term == "risk (arm 1) at follow-up 3"  # longest follow-up, no more
    nan_y = df.copy()
    nan_y.loc[nan_y["c"] == 1, "c"] = 0  # a missing outcome in an uncensored row
    if nan_y["y"].isna().any():
        with pytest.raises(DataValidationError, match="censor"):
            _fit_toy(nan_y)



def test_errors_raised_in_private_helpers_name_the_verb_called() -> None:
    """A check inside a private helper names the public verb the user called (issue 13)."""
    df = _toy(n=20)
    # trials._input.to_arrays (a private module) and sequential._check_columns
    with pytest.raises(DataValidationError, match=r"^sequential_trials\(\): rows must be sorted"):
        _fit_toy(df.iloc[::-1])
    with pytest.raises(DataValidationError,
                       match=r"^sequential_trials\(\): column\(s\) \['nope'\] not in data"):
        cl.sequential_trials(df, id="pid", period="t", treatment="a", outcome="y",
                             eligible="nope")
    # the same helpers run by emulate_target_trial name that verb, not sequential_trials
    spec = cl.TargetTrial(id="pid", period="t", treatment="a", outcome="y", censor="c",
                          covariates=("x", "z"), followup=4)
    with pytest.raises(DataValidationError,
                       match=r"^emulate_target_trial\(\): rows must be sorted"):
        cl.emulate_target_trial(spec, df.iloc[::-1])


# --------------------------------------------------------------- known truth
def _first_trial(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["elig"] = (df["period"] == 0).astype(int)
    return df


def test_per_protocol_recovers_always_vs_never_and_naive_is_biased() -> None:
    """A single trial at period 0 (everyone untreated before): per-protocol = always vs never.

    The truth is ``simulate_longitudinal``'s ``attrs["truth"]`` (no censoring, no competing
    event). Adherence depends on the time-varying confounder L: weights with L in the
    denominator recover the truth, the unweighted (naive) per-protocol analysis does not.
    """
    df = _first_trial(cl.simulate_longitudinal(n=8000, n_periods=6, random_state=11, censoring=False,
                                               competing=False, n_truth=50_000))
    truth = df.attrs["truth"]
    t5 = truth[truth["period"] == 5].set_index("strategy")["risk"]
    rd_true = t5["always"] - t5["never"]
    kw = dict(id="id", period="period", treatment="A", outcome="Y", eligible="elig",
              covariates=["L", "V"], estimand="per_protocol", trial_terms="none",
              followup_terms="linear", arm_by_followup="all")
    w = cl.sequential_trials(df, switch_covariates=["L"], **kw).effects[
        "risk difference (1 vs 0) at follow-up 5"]
    naive = cl.sequential_trials(df, switch_covariates=[], **kw).effects[
        "risk difference (1 vs 0) at follow-up 5"]
    assert abs(w.estimate - rd_true) < 3 * w.std_error
    assert w.conf_low < rd_true < w.conf_high
    assert abs(naive.estimate - rd_true) > 3 * naive.std_error  # ~0.05 bias, SE ~0.01


def _itt_truth(n_periods: int) -> tuple[float, float]:
    """ITT truth by simulation: with confounding=0, A_0 depends on V only, so the risk under
    "initiate at period 0" is sum_v P(V=v) P(Y by the end | A_0 = a, V = v), estimated
    nonparametrically on a large simulated cohort (no censoring, no competing event)."""
    big = cl.simulate_longitudinal(n=200_000, n_periods=n_periods, random_state=99, confounding=0.0,
                                   censoring=False, competing=False, n_truth=2_000)
    per = big.groupby("id").agg(a0=("A", "first"), v=("V", "first"), y=("Y", "max"))
    pv = per["v"].value_counts(normalize=True)
    strat = per.groupby(["a0", "v"])["y"].mean()
    return tuple(float(sum(pv[v] * strat[(a, v)] for v in pv.index)) for a in (1, 0))


def test_itt_covers_the_simulated_truth() -> None:
    r1, r0 = _itt_truth(5)
    df = _first_trial(cl.simulate_longitudinal(n=6000, n_periods=5, random_state=5, confounding=0.0,
                                               censoring=False, competing=False,
                                               n_truth=2_000))
    res = cl.sequential_trials(df, id="id", period="period", treatment="A", outcome="Y",
                               eligible="elig", covariates=["V"], trial_terms="none",
                               arm_by_followup="all")
    rd = res.effects["risk difference (1 vs 0) at follow-up 4"]
    assert rd.conf_low < r1 - r0 < rd.conf_high
    # MC error of the truth (n = 200,000) is ~0.002, far below the SE here
    assert rd.std_error > 0.005


def test_bootstrap_matches_sandwich_roughly() -> None:
    df = _toy(n=80, seed=8)
    sw = _fit_toy(df, trial_terms="linear")
    bs = _fit_toy(df, trial_terms="linear", variance="bootstrap", n_boot=30, random_state=1)
    term = "risk difference (1 vs 0) at follow-up 5"
    assert bs.effects[term].estimate == sw.effects[term].estimate
    assert 0.5 < bs.effects[term].std_error / sw.effects[term].std_error < 2.0
    assert bs.effects[term].ci_method == "bootstrap_percentile"


def test_parquet_input_gives_the_same_fit(tmp_path: pytest.TempPathFactory) -> None:
    duckdb = pytest.importorskip("duckdb")
    df = _toy(n=90, seed=6)
    path = tmp_path / "pp.parquet"
    shuffled = df.sample(frac=1.0, random_state=0)  # unsorted on disk  # noqa: F841
    duckdb.sql(f"COPY (SELECT * FROM shuffled) TO '{path}' (FORMAT parquet)")
    a = _fit_toy(df)
    b = _fit_toy(str(path), chunk_persons=13)
    np.testing.assert_allclose(b.model.params, a.model.params, rtol=0, atol=1e-10)
    pd.testing.assert_frame_equal(a.flow, b.flow)
    assert b.effects[0].estimate == pytest.approx(a.effects[0].estimate, rel=1e-10)


def _coverage(reps: int, n: int) -> tuple[int, int, float]:
    """Per-protocol (one trial at period 0) RD at the last period: 95% CI coverage of the
    truth (always vs never) over ``reps`` simulated cohorts, and the mean naive bias."""
    covered, naive_bias = 0, 0.0
    for seed in range(reps):
        df = _first_trial(cl.simulate_longitudinal(n=n, n_periods=5, random_state=1000 + seed,
                                                   censoring=False, competing=False,
                                                   n_truth=50_000))
        truth = df.attrs["truth"]
        t4 = truth[truth["period"] == 4].set_index("strategy")["risk"]
        rd_true = t4["always"] - t4["never"]
        kw = dict(id="id", period="period", treatment="A", outcome="Y", eligible="elig",
                  covariates=["L", "V"], estimand="per_protocol", trial_terms="none",
                  followup_terms="linear", arm_by_followup="all")
        term = "risk difference (1 vs 0) at follow-up 4"
        est = cl.sequential_trials(df, switch_covariates=["L"], **kw).effects[term]
        covered += int(est.conf_low < rd_true < est.conf_high)
        naive = cl.sequential_trials(df, switch_covariates=[], **kw).effects[term]
        naive_bias += (naive.estimate - rd_true) / reps
    return covered, reps, naive_bias


def test_per_protocol_coverage_reduced() -> None:
    covered, reps, naive_bias = _coverage(6, 1500)
    assert covered >= 4  # P(<= 3 of 6 | 95% coverage) < 0.003
    assert naive_bias > 0.02  # the unweighted analysis is biased towards the null


@pytest.mark.slow
def test_per_protocol_coverage_monte_carlo() -> None:
    covered, reps, naive_bias = _coverage(200, 2000)
    # 95% within Monte Carlo error: SE of a coverage proportion at 200 reps ~ 0.015
    assert 0.91 <= covered / reps <= 0.99
    assert naive_bias > 0.02


def test_spline_terms_and_weight_truncation_are_recorded() -> None:
    df = _toy(n=120, seed=9)
    res = _fit_toy(df, estimand="per_protocol", switch_covariates=["z"],
                   followup_terms="spline", trial_terms="linear", truncate=(0.05, 0.95))
    assert any(t.startswith("ns(followup)") for t in res.model.terms)
    w = res.weights.set_index("statistic")["value"]
    assert w["n_truncated"] > 0
    assert any("truncated at the 0.05 and 0.95 quantiles" in n for n in res.notes)
    assert np.isfinite(res.to_frame()["estimate"]).all()
    assert "Flow:" in res.summary()


def test_standardisation_blocks_do_not_change_the_numbers(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    from cohortlab.trials import _standardise

    df = _toy(n=100, seed=13)
    a = _fit_toy(df, horizons=[1, 5]).to_frame()
    monkeypatch.setattr(_standardise, "_BLOCK", 7)
    b = _fit_toy(df, horizons=[1, 5]).to_frame()
    np.testing.assert_allclose(b["estimate"], a["estimate"], rtol=1e-12)
    np.testing.assert_allclose(b["std_error"], a["std_error"], rtol=1e-10)


def test_censoring_weights_correct_informative_loss_to_follow_up() -> None:
    """Loss to follow-up depends on L (simulate_longitudinal): censoring weights move both
    arms' risks towards the truth (censoring abolished) and the RD interval covers it."""
    df = _first_trial(cl.simulate_longitudinal(n=20_000, n_periods=6, random_state=3, censoring=True,
                                               competing=False, n_truth=50_000))
    truth = df.attrs["truth"]
    t5 = truth[truth["period"] == 5].set_index("strategy")["risk"]
    kw = dict(id="id", period="period", treatment="A", outcome="Y", eligible="elig",
              censor="C", covariates=["L", "V"], estimand="per_protocol",
              switch_covariates=["L"], trial_terms="none", followup_terms="linear",
              arm_by_followup="all")
    w = cl.sequential_trials(df, censor_weights=True, **kw)
    u = cl.sequential_trials(df, censor_weights=False, **kw)
    for arm, strategy in ((1, "always"), (0, "never")):
        term = f"risk (arm {arm}) at follow-up 5"
        assert abs(w.effects[term].estimate - t5[strategy]) < abs(
            u.effects[term].estimate - t5[strategy])
    rd = w.effects["risk difference (1 vs 0) at follow-up 5"]
    assert rd.conf_low < t5["always"] - t5["never"] < rd.conf_high
    assert any("remaining uncensored" in n for n in w.notes)
    assert {"censoring arm 0 numerator", "arm 1 denominator"} <= set(w.switch_models.columns)
    itt = cl.sequential_trials(df, censor_weights=True, **{**kw, "estimand": "itt"})
    assert itt.weights is not None and list(itt.switch_models.columns)[0].startswith("censoring")
    with pytest.raises(DataValidationError, match="censor="):
        cl.sequential_trials(df, **{**kw, "censor": None}, censor_weights=True)
