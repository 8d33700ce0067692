"""Rubin's rules (``pool_rubin``) against a hand calculation and R ``mice::pool``.

Reference: ``tests/reference/rubin.json``, written by ``tests/reference/r/rubin.R`` (R 4.2.2,
mice 3.15.0): the per-imputation estimates and variances of ``lm(chl ~ age + bmi)`` on
``mice(nhanes, m = 5, seed = 1)`` and of a logistic model on ``mice(nhanes2, m = 10, seed =
7)`` with ``pool()``'s output (dfcom = n - k, Barnard-Rubin df), and ``pool.scalar`` on fixed
numbers with ``n = Inf`` and ``n = 25, k = 2``::

    pl <- pool(with(mice(nhanes, m = 5, seed = 1, print = FALSE), lm(chl ~ age + bmi)))
    summary(pl, conf.int = TRUE)
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import load_reference

from cohortlab.exceptions import DataValidationError
from cohortlab.inference.rubin import pool_rubin, rubin_interval

REF = load_reference("rubin")
RTOL = REF["tolerance"]["rtol"]  # closed-form arithmetic on numbers exported to 15 digits


def test_hand_calculation() -> None:
    """Three imputations worked by hand (Rubin 1987, eqs. 3.1.2-3.1.10)."""
    q, u = np.array([1.0, 1.2, 0.9]), np.array([0.04, 0.05, 0.045])
    r = pool_rubin(q, u)
    qbar = 3.1 / 3
    b = ((1.0 - qbar) ** 2 + (1.2 - qbar) ** 2 + (0.9 - qbar) ** 2) / 2
    ubar = 0.045
    t = ubar + (1 + 1 / 3) * b
    lam = (1 + 1 / 3) * b / t
    riv = (1 + 1 / 3) * b / ubar
    df = 2 / lam**2
    assert float(r.pooled) == pytest.approx(qbar, rel=1e-14)
    assert float(r.within) == pytest.approx(ubar, rel=1e-14)
    assert float(r.between) == pytest.approx(b, rel=1e-14)
    assert float(r.total_var) == pytest.approx(t, rel=1e-14)
    assert float(r.df) == pytest.approx(df, rel=1e-12)
    assert float(r.fmi) == pytest.approx((riv + 2 / (df + 3)) / (riv + 1), rel=1e-12)
    assert r.m == 3


def test_hand_calculation_barnard_rubin() -> None:
    q, u = np.array([1.0, 1.2, 0.9]), np.array([0.04, 0.05, 0.045])
    dfcom = 30.0
    r = pool_rubin(q, u, dfcom)
    lam = float(r.lambda_)
    dfold = 2 / lam**2
    dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    assert float(r.df) == pytest.approx(dfold * dfobs / (dfold + dfobs), rel=1e-12)


@pytest.mark.parametrize("case", ["large_sample", "small_sample"])
def test_pool_scalar_matches_mice(case: str) -> None:
    sc = REF["scalar"]
    dfcom = math.inf if case == "large_sample" else sc["small_sample_dfcom"]
    r = pool_rubin(sc["Q"], sc["U"], dfcom)
    ref = sc[case]
    for ours, key in ((r.pooled, "qbar"), (r.within, "ubar"), (r.between, "b"),
                      (r.total_var, "t"), (r.df, "df"), (r.riv, "r"), (r.fmi, "fmi")):
        assert float(ours) == pytest.approx(ref[key], rel=RTOL), key


@pytest.mark.parametrize("case", ["lm_nhanes", "logistic_nhanes2"])
def test_pool_matches_mice(case: str) -> None:
    c = REF[case]
    p = c["pooled"]
    r = pool_rubin(np.array(c["estimates"]), np.array(c["variances"]), np.array(p["dfcom"]))
    np.testing.assert_allclose(r.pooled, p["estimate"], rtol=RTOL)
    np.testing.assert_allclose(r.within, p["ubar"], rtol=RTOL)
    np.testing.assert_allclose(r.between, p["b"], rtol=RTOL)
    np.testing.assert_allclose(r.total_var, p["t"], rtol=RTOL)
    np.testing.assert_allclose(r.df, p["df"], rtol=RTOL)
    np.testing.assert_allclose(r.riv, p["riv"], rtol=RTOL)
    np.testing.assert_allclose(r.lambda_, p["lambda"], rtol=RTOL)
    np.testing.assert_allclose(r.fmi, p["fmi"], rtol=RTOL)
    stat, pv, lo, hi = rubin_interval(r.pooled, r.total_var, r.df, 0.95)
    np.testing.assert_allclose(np.sqrt(r.total_var), p["std_error"], rtol=RTOL)
    np.testing.assert_allclose(stat, p["statistic"], rtol=RTOL)
    np.testing.assert_allclose(pv, p["p_value"], rtol=1e-7)
    np.testing.assert_allclose(lo, p["conf_low"], rtol=1e-7)
    np.testing.assert_allclose(hi, p["conf_high"], rtol=1e-7)


def test_no_between_variance() -> None:
    """Identical imputations: no missing information, df at mice's lambda floor."""
    r = pool_rubin([0.5, 0.5, 0.5], [0.01, 0.01, 0.01])
    assert float(r.total_var) == pytest.approx(0.01)
    assert float(r.fmi) < 1e-6
    assert float(r.df) == pytest.approx(2 / 1e-8)


def test_vectorised_over_parameters() -> None:
    rng = np.random.default_rng(4)
    q, u = rng.normal(size=(6, 3)), rng.uniform(0.1, 0.2, size=(6, 3))
    r = pool_rubin(q, u)
    for j in range(3):
        rj = pool_rubin(q[:, j], u[:, j])
        assert float(r.df[j]) == pytest.approx(float(rj.df))
        assert float(r.fmi[j]) == pytest.approx(float(rj.fmi))


def test_bad_shapes() -> None:
    with pytest.raises(DataValidationError, match="same shape"):
        pool_rubin([1.0, 2.0], [0.1])


def test_one_imputation() -> None:
    with pytest.raises(DataValidationError, match="at least 2 imputations"):
        pool_rubin([1.0], [0.1])


def test_non_finite() -> None:
    with pytest.raises(DataValidationError, match="must be finite"):
        pool_rubin([1.0, np.nan], [0.1, 0.1])
