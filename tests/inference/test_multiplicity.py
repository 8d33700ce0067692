"""Tests of ``adjust_pvalues`` (inference/multiplicity.py).

Reference: R's ``stats::p.adjust``. The expected vectors are worked out by hand below with the
p.adjust formulas (Holm: cummax((m - i + 1) * p_(i)); Bonferroni: m * p; BH: cummin from the
largest of m / i * p_(i); all capped at 1; NA not counted in m), and cross-checked against
statsmodels' ``multipletests`` (an independent implementation).
"""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from cohortlab.exceptions import CohortError
from cohortlab.inference.multiplicity import adjust_pvalues

P = np.array([0.04, 0.001, 0.03, 0.02, 0.5, 0.012])
# sorted: 0.001, 0.012, 0.02, 0.03, 0.04, 0.5   (m = 6)

# Holm, (m - i + 1) * p_(i): 0.006, 0.060, 0.080, 0.090, 0.080, 0.500
#   cummax:                  0.006, 0.060, 0.080, 0.090, 0.090, 0.500
HOLM = np.array([0.09, 0.006, 0.09, 0.08, 0.5, 0.06])
# Bonferroni: 6 * p, capped at 1
BONF = np.array([0.24, 0.006, 0.18, 0.12, 1.0, 0.072])
# BH, m / i * p_(i): 0.006, 0.036, 0.040, 0.045, 0.048, 0.500
#   cummin from the top:  0.006, 0.036, 0.040, 0.045, 0.048, 0.500  (already increasing)
BH = np.array([0.048, 0.006, 0.045, 0.04, 0.5, 0.036])


@pytest.mark.parametrize(("method", "expected"), [
    ("holm", HOLM), ("bonferroni", BONF), ("fdr_bh", BH), ("none", P),
])
def test_matches_p_adjust_by_hand(method, expected):
    np.testing.assert_allclose(adjust_pvalues(P, method), expected, rtol=1e-12)


def test_bh_step_up_takes_the_running_minimum():
    """p = (0.01, 0.02, 0.025, 0.5); m/i*p = 0.04, 0.04, 0.0333, 0.5 -> cummin from the top.

    R: p.adjust(c(0.01, 0.02, 0.025, 0.5), "BH") = 0.03333333 0.03333333 0.03333333 0.5
    """
    out = adjust_pvalues([0.02, 0.5, 0.01, 0.025], "fdr_bh")
    np.testing.assert_allclose(out, [0.1 / 3, 0.5, 0.1 / 3, 0.1 / 3], rtol=1e-12)


def test_holm_caps_at_one_and_keeps_monotone():
    """R: p.adjust(c(0.3, 0.4, 0.6), "holm") = 0.9 0.9 0.9; bonferroni = 0.9 1 1."""
    np.testing.assert_allclose(adjust_pvalues([0.3, 0.4, 0.6], "holm"), [0.9, 0.9, 0.9])
    np.testing.assert_allclose(adjust_pvalues([0.3, 0.4, 0.6], "bonferroni"), [0.9, 1.0, 1.0])
    np.testing.assert_allclose(adjust_pvalues([0.5, 0.6], "holm"), [1.0, 1.0])


def test_ties():
    np.testing.assert_allclose(adjust_pvalues([0.01, 0.01, 0.04], "holm"), [0.03, 0.03, 0.04])
    np.testing.assert_allclose(adjust_pvalues([0.01, 0.01, 0.04], "fdr_bh"), [0.015, 0.015, 0.04])


def test_default_is_holm():
    np.testing.assert_array_equal(adjust_pvalues(P), adjust_pvalues(P, "holm"))


@pytest.mark.parametrize(("ours", "theirs"), [
    ("holm", "holm"), ("bonferroni", "bonferroni"), ("fdr_bh", "fdr_bh"),
])
def test_matches_statsmodels_multipletests(ours, theirs):
    p = np.random.default_rng(7).uniform(0, 0.2, size=40) ** 2
    expected = multipletests(p, method=theirs)[1]
    np.testing.assert_allclose(adjust_pvalues(p, ours), expected, rtol=1e-12)


def test_nan_stays_nan_and_is_not_counted():
    """R: p.adjust(c(0.01, NA, 0.04), "holm") = 0.02 NA 0.04 (n = number of non-NA)."""
    p = [0.01, np.nan, 0.04]
    out = adjust_pvalues(p, "holm")
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.02, 0.04])
    np.testing.assert_allclose(adjust_pvalues(p, "bonferroni")[[0, 2]], [0.02, 0.08])
    np.testing.assert_allclose(adjust_pvalues(p, "fdr_bh")[[0, 2]], [0.02, 0.04])
    assert np.isnan(adjust_pvalues([np.nan, np.nan], "fdr_bh")).all()


def test_shape_and_input_untouched():
    p = np.array([0.03, 0.01, 0.2])
    copy = p.copy()
    out = adjust_pvalues(p, "fdr_bh")
    np.testing.assert_array_equal(p, copy)
    assert out.shape == (3,) and out.dtype == float
    assert adjust_pvalues([], "holm").shape == (0,)
    assert adjust_pvalues([0.2], "holm").tolist() == [0.2]


def test_adjusted_never_below_raw():
    p = np.random.default_rng(3).uniform(size=25)
    for method in ("holm", "bonferroni", "fdr_bh"):
        assert (adjust_pvalues(p, method) >= p - 1e-15).all()
        assert (adjust_pvalues(p, method) <= 1.0).all()


def test_invalid_method_lists_the_options():
    with pytest.raises(CohortError, match=r"^adjust_pvalues\(\): method must be one of") as exc:
        adjust_pvalues([0.1, 0.2], "BH")  # type: ignore[arg-type]
    msg = str(exc.value)
    for option in ("holm", "bonferroni", "fdr_bh", "none"):
        assert f'"{option}"' in msg
    assert "got 'BH'" in msg
    assert isinstance(exc.value, ValueError)
