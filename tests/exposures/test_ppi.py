"""Prediction-powered inference (PPI++): ppi_mean and ppi_effect.

No external reference: the ``ppi_py`` package is not installed, so the numbers are checked
(1) against the PPI++ formulas of Angelopoulos, Duchi & Zrnic (2023, arXiv 2311.01453)
computed by hand in the tests, (2) against cohortlab's own ipw/aipw where PPI reduces to them
(predictions taken as the truth; every row labelled), and (3) against simulated truth
(coverage and interval width, ``..._simulated_truth``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import norm

import cohortlab as cl
from cohortlab._glm import fit_logistic
from cohortlab.causal.aipw import aipw
from cohortlab.causal.ipw import ipw
from cohortlab.exceptions import DataValidationError, MissingDataError
from cohortlab.exposures.ppi import ppi_effect, ppi_mean
from cohortlab.results._schema import check_schema

RTOL_EXACT = 1e-10  # closed-form estimators: same formula, floating point only
RTOL_ASYMPTOTIC = 0.05  # our all-rows IF variance vs the paper's two-sample formula (n=400)


# ---------------------------------------------------------------------- data
def simulate(n: int, rng: np.random.Generator, *, stratified: bool = True,
             continuous: bool = False) -> pd.DataFrame:
    """Probit outcome (closed-form truth), a biased but informative prediction.

    ``L`` confounds ``A`` and ``Y``; ``U`` is prognostic, seen by the prediction model only.
    Labelled with probability 0.3 where ``L > 0`` and 0.1 elsewhere (``stratified``) or 0.2.
    """
    L, U = rng.normal(size=n), rng.normal(size=n)
    A = rng.binomial(1, expit(0.4 + 0.8 * L))
    lin = -0.3 + 0.7 * A + L + 0.8 * U
    if continuous:
        Y = lin + rng.normal(size=n)
        f = 0.8 * lin + 0.5 + 0.3 * rng.normal(size=n)
    else:
        Y = (lin + rng.normal(size=n) > 0).astype(float)
        f = expit(1.2 * lin + 0.6 + 0.3 * rng.normal(size=n))
    s = (L > 0).astype(int)
    p_lab = np.where(s == 1, 0.3, 0.1) if stratified else np.full(n, 0.2)
    lab = rng.random(n) < p_lab
    return pd.DataFrame({"L": L, "A": A, "pred": f, "y": np.where(lab, Y, np.nan), "s": s,
                         "p_lab": p_lab, "y_full": Y})


def _truth() -> dict[str, float]:
    """E[Y^a] = Phi((-0.3 + 0.7 a) / sqrt(1 + 1 + 0.64)); E[Y] and E[Y | A] by quadrature."""
    s_all = np.sqrt(1 + 1 + 0.64)
    ey = {a: norm.cdf((-0.3 + 0.7 * a) / s_all) for a in (1, 0)}
    x, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    e = expit(0.4 + 0.8 * x)
    s_u = np.sqrt(1 + 0.64)
    p1, p0 = norm.cdf((0.4 + x) / s_u), norm.cdf((-0.3 + x) / s_u)
    mean = float(np.sum(w * (e * p1 + (1 - e) * p0)))
    m1 = float(np.sum(w * e * p1) / np.sum(w * e))
    m0 = float(np.sum(w * (1 - e) * p0) / np.sum(w * (1 - e)))
    return {"mean": mean, "rd": m1 - m0, "ate": ey[1] - ey[0]}


TRUTH = _truth()


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return simulate(2000, np.random.default_rng(11))


@pytest.fixture(scope="module")
def plain() -> pd.DataFrame:
    return simulate(2000, np.random.default_rng(12), stratified=False)


# ---------------------------------------------------------------------- hand computations
def test_mean_matches_ppi_formulas_by_hand(plain: pd.DataFrame):
    """Unstratified mean: theta = lam mean_N(f) + mean_n(y - lam f), lam = cov(a,b)/var(b).

    Equivalent to the paper's form with the unlabelled mean and lam' = lam (N - n) / N.
    """
    tab = ppi_mean(plain, outcome="pred", outcome_validation="y")
    y, f = plain["y"].to_numpy(), plain["pred"].to_numpy()
    r = ~np.isnan(y)
    N, n = y.size, int(r.sum())
    p = n / N
    a = np.where(r, (y - y[r].mean()) / p, 0.0)
    b = np.where(r, (f - f[r].mean()) / p, 0.0) - (f - f.mean())
    lam = np.clip(np.cov(a, b)[0, 1] / np.var(b, ddof=1), 0, 1)
    est = lam * f.mean() + np.mean(y[r] - lam * f[r])
    se = np.sqrt(np.sum((a - lam * b) ** 2)) / N
    row = tab["ppi"]
    assert row.extra["lam"] == pytest.approx(lam, rel=RTOL_EXACT)
    assert row.estimate == pytest.approx(est, rel=RTOL_EXACT)
    assert row.std_error == pytest.approx(se, rel=RTOL_EXACT)
    # the paper's parametrisation: unlabelled mean of f
    lam_p = lam * (N - n) / N
    est_p = lam_p * f[~r].mean() + np.mean(y[r] - lam_p * f[r])
    var_p = lam_p**2 * np.var(f[~r], ddof=1) / (N - n) + np.var(y[r] - lam_p * f[r],
                                                                 ddof=1) / n
    assert row.estimate == pytest.approx(est_p, rel=RTOL_EXACT)
    assert row.std_error == pytest.approx(np.sqrt(var_p), rel=RTOL_ASYMPTOTIC)
    # the paper's tuned lambda: cov_n(y, f) / ((1 + n / N_u) var(f)) (unclipped; ours is
    # clipped on our scale, lambda <= 1 i.e. lambda' <= (N - n) / N)
    lam_paper = np.cov(y[r], f[r])[0, 1] / ((1 + n / (N - n)) * np.var(f, ddof=1))
    free = ppi_mean(plain, outcome="pred", outcome_validation="y", clip_lam=False)
    assert free["ppi"].extra["lam"] * (N - n) / N == pytest.approx(lam_paper, rel=0.1)
    lab, naive = tab["labelled_only"], tab["naive"]
    assert lab.estimate == pytest.approx(y[r].mean(), rel=RTOL_EXACT)
    assert lab.std_error == pytest.approx(np.sqrt(np.sum(a**2)) / N, rel=RTOL_EXACT)
    assert naive.estimate == pytest.approx(f.mean(), rel=RTOL_EXACT)
    assert naive.std_error == pytest.approx(np.std(f) / np.sqrt(N), rel=RTOL_EXACT)
    assert row.std_error < lab.std_error


def test_fixed_lambda_classical_ppi_and_labelled_only(plain: pd.DataFrame):
    y, f = plain["y"].to_numpy(), plain["pred"].to_numpy()
    r = ~np.isnan(y)
    one = ppi_mean(plain, outcome="pred", outcome_validation="y", lam=1)
    assert one["ppi"].estimate == pytest.approx(f.mean() + np.mean(y[r] - f[r]), rel=RTOL_EXACT)
    zero = ppi_mean(plain, outcome="pred", outcome_validation="y", lam=0.0)
    assert zero["ppi"].estimate == pytest.approx(zero["labelled_only"].estimate, rel=RTOL_EXACT)
    assert zero["ppi"].std_error == pytest.approx(zero["labelled_only"].std_error,
                                                  rel=RTOL_EXACT)
    unclipped = ppi_mean(plain, outcome="pred", outcome_validation="y", clip_lam=False)
    assert unclipped["ppi"].std_error <= one["ppi"].std_error + 1e-12


def test_stratified_mean_post_stratified_by_hand(cohort: pd.DataFrame):
    """Labelling share estimated per stratum: theta_w = sum_s (N_s / N) ybar_lab,s, with the
    influence function ybar_s - theta + (r / pi_s)(y - ybar_s)."""
    tab = ppi_mean(cohort, outcome="pred", outcome_validation="y", strata="s")
    y, f, s = cohort["y"].to_numpy(), cohort["pred"].to_numpy(), cohort["s"].to_numpy()
    r = ~np.isnan(y)
    N = y.size

    def post(g):
        mu_s = {k: g[r & (s == k)].mean() for k in (0, 1)}
        pi = {k: (r & (s == k)).sum() / (s == k).sum() for k in (0, 1)}
        theta = sum((s == k).mean() * mu_s[k] for k in (0, 1))
        ms, ps = np.vectorize(mu_s.get)(s), np.vectorize(pi.get)(s)
        return theta, ms - theta + np.where(r, (g - ms) / ps, 0.0)

    ty, a = post(y)
    tf, c = post(f)
    b = c - (f - f.mean())
    lam = np.clip(np.cov(a, b)[0, 1] / np.var(b, ddof=1), 0, 1)
    assert tab["labelled_only"].estimate == pytest.approx(ty, rel=RTOL_EXACT)
    assert tab["labelled_only"].std_error == pytest.approx(np.sqrt(np.sum(a**2)) / N,
                                                           rel=RTOL_EXACT)
    assert tab["ppi"].estimate == pytest.approx(ty - lam * (tf - f.mean()), rel=RTOL_EXACT)
    assert tab["ppi"].std_error == pytest.approx(np.sqrt(np.sum((a - lam * b) ** 2)) / N,
                                                 rel=RTOL_EXACT)
    # the unweighted labelled mean is biased here (labelling depends on L): weights matter
    assert abs(np.nanmean(y) - ty) > 0.02


def test_known_labelled_fraction_column_mapping_and_number(cohort: pd.DataFrame):
    by_col = ppi_mean(cohort, outcome="pred", outcome_validation="y",
                      labelled_fraction="p_lab")
    by_map = ppi_mean(cohort, outcome="pred", outcome_validation="y", strata="s",
                      labelled_fraction={0: 0.1, 1: 0.3})
    y, p = cohort["y"].to_numpy(), cohort["p_lab"].to_numpy()
    r = ~np.isnan(y)
    w = np.where(r, 1 / p, 0.0)
    hajek = np.sum(w * np.nan_to_num(y)) / w.sum()
    phi = w * (np.nan_to_num(y) - hajek) / w.mean()
    for tab in (by_col, by_map):
        assert tab["labelled_only"].estimate == pytest.approx(hajek, rel=RTOL_EXACT)
        assert tab["labelled_only"].std_error == pytest.approx(
            np.sqrt(np.sum(phi**2)) / y.size, rel=RTOL_EXACT)
    assert by_col["ppi"].estimate == pytest.approx(by_map["ppi"].estimate, rel=RTOL_EXACT)
    num = ppi_mean(cohort, outcome="pred", outcome_validation="y", labelled_fraction=0.2)
    assert num["labelled_only"].estimate == pytest.approx(np.nanmean(y), rel=RTOL_EXACT)


def test_risk_difference_by_hand(plain: pd.DataFrame):
    tab = ppi_mean(plain, outcome="pred", outcome_validation="y", exposure="A")
    y, f, A = (plain[c].to_numpy() for c in ("y", "pred", "A"))
    r = ~np.isnan(y)
    p = r.mean()

    def arm_if(g, k, labelled):
        m = A == k
        if labelled:
            mu = g[r & m].mean()
            w = np.where(r & m, 1 / p, 0.0)
            return mu, w * (np.nan_to_num(g) - mu) / w.mean()
        mu = g[m].mean()
        return mu, m * (g - mu) / m.mean()

    (y1, a1), (y0, a0) = arm_if(y, 1, True), arm_if(y, 0, True)
    (fw1, c1), (fw0, c0) = arm_if(f, 1, True), arm_if(f, 0, True)
    (f1, d1), (f0, d0) = arm_if(f, 1, False), arm_if(f, 0, False)
    a, b = a1 - a0, (c1 - d1) - (c0 - d0)
    lam = np.clip(np.cov(a, b)[0, 1] / np.var(b, ddof=1), 0, 1)
    est = (y1 - y0) - lam * ((fw1 - fw0) - (f1 - f0))
    row = tab["ppi"]
    assert row.effect_measure == "risk_difference"
    assert row.estimate == pytest.approx(est, rel=RTOL_EXACT)
    assert row.std_error == pytest.approx(np.sqrt(np.sum((a - lam * b) ** 2)) / y.size,
                                          rel=RTOL_EXACT)
    assert tab["naive"].estimate == pytest.approx(f1 - f0, rel=RTOL_EXACT)
    assert row.extra["mean_1"] - row.extra["mean_0"] == pytest.approx(est, rel=RTOL_EXACT)


def test_by_levels(cohort: pd.DataFrame):
    tab = ppi_mean(cohort, outcome="pred", outcome_validation="y", by="A", strata="s")
    frame = tab.to_frame()
    check_schema(frame)
    assert frame["A"].tolist() == [0, 0, 0, 1, 1, 1]
    assert frame["term"].tolist() == ["naive", "labelled_only", "ppi"] * 2
    # within a level, the labelled rows are weighted by 1 / (the whole stratum's share)
    share = cohort["y"].notna().groupby(cohort["s"]).mean()
    one = cohort[cohort["A"] == 1]
    y = one["y"].to_numpy()
    w = np.where(~np.isnan(y), 1 / one["s"].map(share).to_numpy(), 0.0)
    hajek = np.sum(w * np.nan_to_num(y)) / w.sum()
    assert frame.loc[4, "estimate"] == pytest.approx(hajek, rel=RTOL_EXACT)


# ---------------------------------------------------------------------- reductions to ipw/aipw
def test_ipw_naive_row_is_ipw_on_the_predictions(cohort: pd.DataFrame):
    tab = ppi_effect(ipw, cohort, exposure="A", outcome="pred", outcome_validation="y",
                     covariates=["L"], strata="s")
    ref = ipw(cohort, exposure="A", outcome="pred", covariates=["L"])
    assert tab["naive"].estimate == pytest.approx(ref.estimate, rel=RTOL_EXACT)
    assert tab["naive"].std_error == pytest.approx(ref.std_error, rel=1e-8)
    assert tab["ppi"].ci_method == "sandwich_mestimation"
    assert tab["ppi"].std_error < tab["labelled_only"].std_error
    check_schema(tab.to_frame())


def test_ipw_all_labelled_is_ipw_on_the_labels(cohort: pd.DataFrame):
    full = cohort.assign(y=cohort["y_full"])
    tab = ppi_effect(ipw, full, exposure="A", outcome="pred", outcome_validation="y",
                     covariates=["L"], estimand="ATT", effect_measure="ratio")
    ref = ipw(full, exposure="A", outcome="y", covariates=["L"], estimand="ATT",
              effect_measure="ratio")
    for term in ("labelled_only", "ppi"):
        assert tab[term].estimate == pytest.approx(ref.estimate, rel=1e-10)
        assert tab[term].std_error == pytest.approx(ref.std_error, rel=1e-8)
    assert tab["ppi"].extra["lam"] == 0.0


def test_ipw_variance_matches_numerical_stacked_sandwich():
    """The PPI IPW standard error (fixed lambda) equals the sandwich A^-1 B A^-T / n of the
    stacked estimating equations (propensity score, labelled share per stratum, six Hajek
    means), with A by central finite differences: an independent check of the M-estimation
    and labelling-share terms."""
    d = simulate(600, np.random.default_rng(8))
    lam = 0.7
    tab = ppi_effect(ipw, d, exposure="A", outcome="pred", outcome_validation="y",
                     covariates=["L"], strata="s", lam=lam)
    A, S = d["A"].to_numpy(), d["s"].to_numpy()
    X = np.column_stack([np.ones(len(d)), d["L"].to_numpy()])
    y, f = d["y"].to_numpy(), d["pred"].to_numpy()
    R = ~np.isnan(y)
    y0 = np.nan_to_num(y)

    def ee(theta):
        beta, pis, mus = theta[:2], theta[2:4], theta[4:]
        e = expit(X @ beta)
        pi = pis[S]
        cols = [X * (A - e)[:, None], np.column_stack([(S == k) * (R - pis[k]) for k in (0, 1)])]
        k = 0
        for g, lab in ((y0, True), (f, True), (f, False)):
            for arm in (1, 0):
                w = (A == arm) / np.where(arm == 1, e, 1 - e) * (R / pi if lab else 1.0)
                cols.append((w * (g - mus[k]))[:, None])
                k += 1
        return np.column_stack(cols)

    beta = fit_logistic(X, A.astype(float)).coef
    pis = np.array([R[S == k].mean() for k in (0, 1)])
    e = expit(X @ beta)
    mus = []
    for g, lab in ((y0, True), (f, True), (f, False)):
        for arm in (1, 0):
            w = (A == arm) / np.where(arm == 1, e, 1 - e) * (R / pis[S] if lab else 1.0)
            mus.append(np.sum(w * g) / np.sum(w))
    theta = np.concatenate([beta, pis, mus])
    assert np.abs(ee(theta).mean(axis=0)).max() < 1e-8
    n, p = len(d), theta.size
    jac = np.empty((p, p))
    for j in range(p):  # parameters, not rows
        h = np.zeros(p)
        h[j] = 1e-6
        jac[:, j] = (ee(theta + h).mean(axis=0) - ee(theta - h).mean(axis=0)) / 2e-6
    psi = ee(theta)
    a_inv = np.linalg.inv(-jac)
    V = a_inv @ (psi.T @ psi / n) @ a_inv.T / n
    g = np.zeros(p)
    g[4:] = [1, -1, -lam, lam, lam, -lam]
    assert tab["ppi"].estimate == pytest.approx(g @ theta, rel=RTOL_EXACT)
    assert tab["ppi"].std_error == pytest.approx(np.sqrt(g @ V @ g), rel=1e-6)
    g_lab = np.zeros(p)
    g_lab[4:6] = [1, -1]
    assert tab["labelled_only"].std_error == pytest.approx(np.sqrt(g_lab @ V @ g_lab), rel=1e-6)


def test_ipw_labelled_only_by_hand(plain: pd.DataFrame):
    """Hajek means over the labelled rows with the propensity score fitted on everyone."""
    tab = ppi_effect(ipw, plain, exposure="A", outcome="pred", outcome_validation="y",
                     covariates=["L"])
    e = ipw(plain, exposure="A", outcome="pred", covariates=["L"]).diagnostics.scores
    y, A, e = plain["y"].to_numpy(), plain["A"].to_numpy(), e.to_numpy()
    r = ~np.isnan(y)
    m1 = np.sum((r & (A == 1)) / e * np.nan_to_num(y)) / np.sum((r & (A == 1)) / e)
    m0 = np.sum((r & (A == 0)) / (1 - e) * np.nan_to_num(y)) / np.sum((r & (A == 0)) / (1 - e))
    assert tab["labelled_only"].estimate == pytest.approx(m1 - m0, rel=RTOL_EXACT)


def test_aipw_naive_row_is_aipw_on_the_predictions():
    d = simulate(1500, np.random.default_rng(5), continuous=True)
    tab = ppi_effect(aipw, d, exposure="A", outcome="pred", outcome_validation="y",
                     covariates=["L"], strata="s")
    ref = aipw(d, exposure="A", outcome="pred", covariates=["L"])
    assert tab["naive"].estimate == pytest.approx(ref.estimate, rel=RTOL_EXACT)
    assert tab["naive"].std_error == pytest.approx(ref.std_error, rel=1e-8)
    assert tab["ppi"].effect_measure == "mean_difference"
    assert tab["ppi"].std_error < tab["labelled_only"].std_error
    full = d.assign(y=d["y_full"])
    tab = ppi_effect(aipw, full, exposure="A", outcome="pred", outcome_validation="y",
                     covariates=["L"], estimand="ATT")
    ref = aipw(full, exposure="A", outcome="y", covariates=["L"], estimand="ATT")
    assert tab["labelled_only"].estimate == pytest.approx(ref.estimate, rel=1e-10)
    assert tab["labelled_only"].std_error == pytest.approx(ref.std_error, rel=1e-8)


def test_result_shape_and_drop_counts(cohort: pd.DataFrame):
    d = cohort.copy()
    d.loc[d["y"].isna().to_numpy().nonzero()[0][:7], "pred"] = np.nan
    before = d.copy()
    with pytest.raises(MissingDataError, match="pred"):
        ppi_mean(d, outcome="pred", outcome_validation="y")
    tab = ppi_mean(d, outcome="pred", outcome_validation="y", missing="drop",
                   conf_level=0.9)
    pd.testing.assert_frame_equal(d, before)
    assert tab.dropped.n_rows == 7 and tab.dropped.by_column == {"pred": 7}
    frame = tab.to_frame()
    check_schema(frame)
    assert frame["conf_level"].eq(0.9).all()
    assert frame["n"].tolist() == [1993, int(d["y"].notna().sum()), 1993]
    assert "ppi" in str(tab) and "lambda" in str(tab)


def test_string_exposure_categorical_strata_and_conf_level(plain: pd.DataFrame):
    base = ppi_mean(plain, outcome="pred", outcome_validation="y", exposure="A")
    d = plain.assign(A=plain["A"].map({1: "treated", 0: "control"}),
                     s=pd.Categorical(plain["s"].map({1: "high", 0: "low"})))
    tab = ppi_mean(d, outcome="pred", outcome_validation="y", exposure="A",
                   reference="control", conf_level=0.9)
    assert tab["ppi"].estimate == pytest.approx(base["ppi"].estimate, rel=RTOL_EXACT)
    assert (tab["ppi"].conf_high - tab["ppi"].conf_low
            < base["ppi"].conf_high - base["ppi"].conf_low)
    strat = ppi_mean(d, outcome="pred", outcome_validation="y", strata="s")
    ref = ppi_mean(plain, outcome="pred", outcome_validation="y", strata="s")
    assert strat["ppi"].estimate == pytest.approx(ref["ppi"].estimate, rel=RTOL_EXACT)


def test_ppi_effect_takes_the_verb_and_refuses_the_rest(cohort: pd.DataFrame):
    """``ppi_effect(cl.ipw | cl.aipw, data, ...)``; unsupported arguments and verbs refused."""
    kw = dict(exposure="A", outcome="pred", covariates=["L"], estimand="ATE")
    for est in (ipw, aipw):
        got = ppi_effect(est, cohort, outcome_validation="y", strata="s", **kw)
        assert got["ppi"].method == est.__name__
    with pytest.raises(DataValidationError, match="trim= of ipw\\(\\) cannot be combined"):
        ppi_effect(ipw, cohort, outcome_validation="y", trim=(0.01, 0.99), **kw)
    with pytest.raises(DataValidationError, match="estimators ipw and aipw; got tmle"):
        ppi_effect(cl.tmle, cohort, outcome_validation="y", **kw)
    with pytest.raises(DataValidationError, match="Pass cl.ipw"):
        ppi_effect("ipw", cohort, outcome_validation="y", **kw)


def test_validation_never_observed(cohort: pd.DataFrame):
    with pytest.raises(DataValidationError, match="never observed"):
        ppi_mean(cohort.assign(y=np.nan), outcome="pred", outcome_validation="y")


def test_labels_not_zero_one(cohort: pd.DataFrame):
    with pytest.raises(DataValidationError, match="coded 0/1"):
        ppi_mean(cohort.assign(y=cohort["y"] + 1), outcome="pred", outcome_validation="y")


def test_predictions_outside_unit_interval_for_binary_label(cohort: pd.DataFrame):
    with pytest.raises(DataValidationError, match=r"predict_proba\(\)"):
        ppi_mean(cohort.assign(pred=cohort["pred"] * 3 - 1), outcome="pred",
                 outcome_validation="y")


def test_no_labelled_rows_in_an_exposure_arm(cohort: pd.DataFrame):
    d = cohort.assign(y=cohort["y"].where(cohort["A"] == 0))
    with pytest.raises(DataValidationError, match="no labelled rows in exposure group 'A' = 1"):
        ppi_mean(d, outcome="pred", outcome_validation="y", exposure="A")
    with pytest.raises(DataValidationError, match="no labelled rows in exposure group"):
        ppi_effect(ipw, d, exposure="A", outcome="pred", outcome_validation="y",
                   covariates=["L"])


def test_labelled_rows_with_missing_prediction(cohort: pd.DataFrame):
    d = cohort.copy()
    d.loc[d["y"].notna().to_numpy().nonzero()[0][:3], "pred"] = np.nan
    for missing in ("raise", "drop"):
        with pytest.raises(DataValidationError, match="3 labelled rows have a missing prediction"):
            ppi_mean(d, outcome="pred", outcome_validation="y", missing=missing)


def test_stratum_without_labels(cohort: pd.DataFrame):
    d = cohort.assign(y=cohort["y"].where(cohort["s"] == 1))
    with pytest.raises(DataValidationError, match="has no labelled rows"):
        ppi_mean(d, outcome="pred", outcome_validation="y", strata="s")


def test_labelled_fraction_errors(cohort: pd.DataFrame):
    with pytest.raises(DataValidationError, match="strata is None"):
        ppi_mean(cohort, outcome="pred", outcome_validation="y", labelled_fraction={0: 0.1})
    with pytest.raises(DataValidationError, match="no probability for strata"):
        ppi_mean(cohort, outcome="pred", outcome_validation="y", strata="s",
                 labelled_fraction={0: 0.1})
    with pytest.raises(DataValidationError, match=r"probability in \(0, 1\]"):
        ppi_mean(cohort, outcome="pred", outcome_validation="y", labelled_fraction=1.5)
    with pytest.raises(DataValidationError, match="labelled_fraction must be None"):
        ppi_mean(cohort, outcome="pred", outcome_validation="y", labelled_fraction=[0.2])


def test_argument_errors(cohort: pd.DataFrame):
    kw = dict(outcome="pred", outcome_validation="y")
    with pytest.raises(DataValidationError, match="lam must be"):
        ppi_mean(cohort, **kw, lam="auto")
    with pytest.raises(DataValidationError, match="by or exposure, not both"):
        ppi_mean(cohort, **kw, by="s", exposure="A")
    with pytest.raises(DataValidationError, match="same column"):
        ppi_mean(cohort, outcome="y", outcome_validation="y")
    with pytest.raises(DataValidationError, match="not found"):
        ppi_mean(cohort, outcome="pred", outcome_validation="y_true")
    with pytest.raises(DataValidationError, match="available for the estimators ipw and aipw"):
        ppi_effect(cl.tmle, cohort, exposure="A", covariates=["L"], **kw)
    with pytest.raises(DataValidationError, match="estimand must be one of"):
        ppi_effect(aipw, cohort, exposure="A", covariates=["L"], estimand="ATO", **kw)
    with pytest.raises(DataValidationError, match="conf_level"):
        ppi_mean(cohort, **kw, conf_level=95)


def test_odds_ratio_needs_binary_label():
    d = simulate(500, np.random.default_rng(2), continuous=True)
    with pytest.raises(DataValidationError, match="odds_ratio"):
        ppi_effect(ipw, d, exposure="A", outcome="pred", outcome_validation="y",
                   covariates=["L"], effect_measure="odds_ratio")


# ---------------------------------------------------------------------- simulated truth
def _coverage(n_rep: int, n: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, list]] = {}
    for _ in range(n_rep):
        d = simulate(n, rng)
        kw = dict(outcome="pred", outcome_validation="y", strata="s")
        res = {
            "mean": ppi_mean(d, **kw),
            "rd": ppi_mean(d, **kw, exposure="A"),
            "ipw": ppi_effect(ipw, d, exposure="A", covariates=["L"], **kw),
            "aipw": ppi_effect(aipw, d, exposure="A", covariates=["L"], **kw),
        }
        for name, tab in res.items():
            truth = TRUTH["mean" if name == "mean" else "rd" if name == "rd" else "ate"]
            for row in tab:
                key = out.setdefault(name, {}).setdefault(row.term, [])
                key.append((row.estimate, row.conf_low <= truth <= row.conf_high,
                            row.conf_high - row.conf_low))
    return {k: {t: np.array(v) for t, v in rows.items()} for k, rows in out.items()}


def _check_coverage(res, tol: float) -> None:
    for name, rows in res.items():
        for term in ("labelled_only", "ppi"):
            cov = rows[term][:, 1].mean()
            assert abs(cov - 0.95) <= tol, (name, term, cov)
        assert rows["ppi"][:, 2].mean() < rows["labelled_only"][:, 2].mean(), name
    # the naive estimate (predictions as the truth) is visibly biased
    truth = TRUTH["mean"]
    assert abs(res["mean"]["naive"][:, 0].mean() - truth) > 0.03


def test_ppi_coverage_and_width_simulated_truth_reduced():
    """CI version: 40 cohorts of 800 (coverage within 0.95 +- 0.1)."""
    _check_coverage(_coverage(40, 800, 2024), tol=0.1)


@pytest.mark.slow
def test_ppi_coverage_and_width_simulated_truth():
    """600 cohorts of 2,000: coverage within 0.95 +- 0.025 (MC SE 0.009)."""
    _check_coverage(_coverage(600, 2000, 7), tol=0.025)
