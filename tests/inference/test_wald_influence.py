"""Tests of ``wald``/``z_critical`` (inference/wald.py) and influence-function SEs (influence.py).

References: scipy.stats.norm for the normal quantiles and tail areas; statsmodels OLS with
``cov_type="HC0"`` / ``"cluster"`` for the SE of a mean (its influence function is y - ybar).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from cohortlab.exceptions import CohortError
from cohortlab.inference.influence import se_from_influence, vcov_from_influence
from cohortlab.inference.wald import WaldResult, wald, z_critical


# ------------------------------------------------------------------ z_critical
def test_z_critical_reference_values():
    """Reference: qnorm(0.975) = 1.959964, qnorm(0.95) = 1.644854, qnorm(0.995) = 2.575829."""
    assert round(z_critical(0.95), 6) == 1.959964
    assert round(z_critical(0.90), 6) == 1.644854
    assert round(z_critical(0.99), 6) == 2.575829
    assert z_critical(0.95) == pytest.approx(stats.norm.ppf(0.975), rel=1e-15)


@pytest.mark.parametrize("bad", [95, 1.0, 0.0, -0.5, float("nan"), "0.95", True])
def test_z_critical_rejects_bad_levels(bad):
    with pytest.raises(CohortError, match=r"^z_critical\(\): conf_level must be a float in \(0, 1\)"):
        z_critical(bad)


def test_z_critical_percent_hint():
    with pytest.raises(ValueError, match=r"Did you mean 0\.95\?"):
        z_critical(95)


# ------------------------------------------------------------------ wald
def test_wald_scalar_matches_scipy():
    r = wald(0.5, 0.2)
    assert isinstance(r, WaldResult)
    assert float(r.statistic) == pytest.approx(2.5)
    assert float(r.p_value) == pytest.approx(2 * stats.norm.sf(2.5), rel=1e-12)
    assert float(r.p_value) == pytest.approx(2 * (1 - stats.norm.cdf(2.5)), rel=1e-10)
    assert float(r.conf_low) == pytest.approx(0.5 - stats.norm.ppf(0.975) * 0.2, rel=1e-12)
    assert float(r.conf_high) == pytest.approx(0.5 + stats.norm.ppf(0.975) * 0.2, rel=1e-12)


def test_wald_is_vectorised_and_keeps_shape():
    est = np.array([[0.1, -0.3, 2.0], [0.0, 1.0, -1.0]])
    se = np.array([[0.05, 0.1, 1.0], [0.3, 0.5, 0.25]])
    r = wald(est, se, 0.90)
    z = est / se
    for arr in r:
        assert arr.shape == (2, 3)
    np.testing.assert_allclose(r.statistic, z, rtol=1e-14)
    np.testing.assert_allclose(r.p_value, 2 * stats.norm.sf(np.abs(z)), rtol=1e-12)
    q = stats.norm.ppf(0.95)
    np.testing.assert_allclose(r.conf_low, est - q * se, rtol=1e-14)
    np.testing.assert_allclose(r.conf_high, est + q * se, rtol=1e-14)


def test_wald_broadcasts_a_scalar_se():
    r = wald([1.0, 2.0, 3.0], 0.5)
    np.testing.assert_allclose(r.statistic, [2.0, 4.0, 6.0])


def test_wald_nan_where_se_is_zero_nan_or_inf_without_warnings():
    # pytest turns warnings into errors: a divide-by-zero RuntimeWarning would fail here
    est = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    se = np.array([0.0, np.nan, np.inf, -1.0, 0.5])
    r = wald(est, se)
    for arr in r:
        assert np.isnan(arr[:4]).all()
        assert np.isfinite(arr[4])


def test_wald_null_value():
    r = wald(1.2, 0.1, null=1.0)
    assert float(r.statistic) == pytest.approx(2.0)
    assert float(r.conf_low) == pytest.approx(1.2 - stats.norm.ppf(0.975) * 0.1)


def test_wald_extreme_z_keeps_a_positive_p_value():
    """2 * pnorm(-12) = 3.55e-33 in R; 1 - cdf would underflow to 0."""
    r = wald(12.0, 1.0)
    assert float(r.p_value) == pytest.approx(2 * stats.norm.sf(12.0), rel=1e-10)
    assert float(r.p_value) > 0


def test_wald_rejects_bad_level():
    with pytest.raises(ValueError, match="conf_level"):
        wald(1.0, 0.1, conf_level=95)


# ------------------------------------------------------------------ influence
def test_se_from_influence_by_hand():
    phi = np.array([1.0, -1.0, 2.0, -2.0])
    assert se_from_influence(phi) == pytest.approx(math.sqrt(10) / 4, rel=1e-15)
    assert isinstance(se_from_influence(phi), float)
    np.testing.assert_allclose(vcov_from_influence(phi), [[10 / 16]])


def test_vcov_from_influence_matrix():
    rng = np.random.default_rng(1)
    phi = rng.normal(size=(50, 3))
    v = vcov_from_influence(phi)
    np.testing.assert_allclose(v, phi.T @ phi / 50**2, rtol=1e-14)
    np.testing.assert_allclose(v, v.T)
    se = se_from_influence(phi)
    assert isinstance(se, np.ndarray) and se.shape == (3,)
    np.testing.assert_allclose(se, np.sqrt(np.diag(v)))


def _clustered(seed=5):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, size=12)
    g = np.repeat(np.array([f"site{i:02d}" for i in range(12)]), sizes)  # string labels
    y = rng.normal(size=g.size) + np.repeat(rng.normal(size=12), sizes)
    return y, g


def test_mean_se_matches_statsmodels_hc0():
    """Reference: statsmodels OLS(y, ones).fit(cov_type='HC0').bse."""
    y, _ = _clustered()
    fit = sm.OLS(y, np.ones((y.size, 1))).fit(cov_type="HC0")
    assert se_from_influence(y - y.mean()) == pytest.approx(float(fit.bse[0]), rel=1e-10)


def test_cluster_se_matches_statsmodels_cluster():
    """Reference: statsmodels OLS(y, ones).fit(cov_type='cluster', groups=g).bse.

    statsmodels' correction is G/(G-1) * (n-1)/(n-k); with k = 1 (intercept only) the second
    factor is 1, so it equals our G/(G-1) (sandwich::vcovCL's cadjust) exactly.
    """
    y, g = _clustered()
    _, codes = np.unique(g, return_inverse=True)
    fit = sm.OLS(y, np.ones((y.size, 1))).fit(cov_type="cluster", cov_kwds={"groups": codes})
    assert se_from_influence(y - y.mean(), g) == pytest.approx(float(fit.bse[0]), rel=1e-10)


def test_cluster_se_by_hand_and_small_sample_switch():
    phi = np.array([1.0, 2.0, -1.0, -3.0, 0.5, 0.5])
    g = np.array([1, 1, 2, 2, 3, 3])
    sums = np.array([3.0, -4.0, 1.0])
    meat = (sums**2).sum()
    assert se_from_influence(phi, g) == pytest.approx(math.sqrt(1.5 * meat) / 6, rel=1e-15)
    assert se_from_influence(phi, g, small_sample=False) == pytest.approx(math.sqrt(meat) / 6)
    # one subject per cluster: the cluster SE is the plain SE times sqrt(n / (n - 1))
    n = phi.size
    assert se_from_influence(phi, np.arange(n)) == pytest.approx(
        se_from_influence(phi) * math.sqrt(n / (n - 1)), rel=1e-14
    )


def test_cluster_order_does_not_matter():
    y, g = _clustered()
    phi = y - y.mean()
    perm = np.random.default_rng(0).permutation(y.size)
    assert se_from_influence(phi[perm], g[perm]) == pytest.approx(se_from_influence(phi, g))


def test_cluster_of_wrong_length_is_a_clear_error():
    with pytest.raises(ValueError, match="cluster has 2 labels for 3 influence values"):
        vcov_from_influence(np.array([1.0, -1.0, 0.0]), cluster=[1, 2])
