"""The large-n shortcuts of msm / tv_weights give the numbers of the plain computations.

Each shortcut (risks per distinct baseline row, positions by one sort, collapsing a design
whose first rows are already fairly varied) is compared with the direct computation on the
same inputs; the R agreement of the results is in test_msm.py.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from cohortlab._glm import fit_logistic
from cohortlab.longitudinal import _weights
from cohortlab.longitudinal._msm import risk_influence, standardised_risks
from cohortlab.longitudinal._weights import cumprod_within, position_rows, positions


def _grid(v: np.ndarray, k: int) -> np.ndarray:
    """Intercept, period, baseline v on the persons x periods grid (person-major)."""
    per = np.tile(np.arange(k, dtype=float), v.size)
    return np.column_stack([np.ones(v.size * k), per, np.repeat(v, k)])


def test_risks_per_baseline_group_equal_the_per_person_risks():
    rng = np.random.default_rng(5)
    n, k = 300, 6
    v = rng.integers(0, 3, n).astype(float)
    groups = v.astype(int)  # v = 0, 1, 2 are the groups, the representative of g has v = g
    beta, beta_d = np.array([-3.0, 0.1, 0.4]), np.array([-4.0, 0.05, 0.2])
    ifl = rng.normal(size=(n, 6))
    counts = rng.integers(0, 3, n).astype(float)
    full, rep = _grid(v, k), _grid(np.arange(3.0), k)
    for bd in (None, beta_d):
        r_a, i_a = risk_influence(beta, full, n, k, ifl[:, :3 if bd is None else 6], bd)
        r_b, i_b = risk_influence(beta, rep, n, k, ifl[:, :3 if bd is None else 6], bd,
                                  groups=groups)
        np.testing.assert_allclose(r_b, r_a, rtol=1e-13)
        np.testing.assert_allclose(i_b, i_a, rtol=1e-11, atol=1e-16)
        s_a = standardised_risks(beta, full, n, k, counts, beta_d=bd)[0]
        s_b = standardised_risks(beta, rep, n, k, counts, beta_d=bd, groups=groups)[0]
        np.testing.assert_allclose(s_b, s_a, rtol=1e-13)


def test_position_rows_and_cumprod_match_the_per_period_scan():
    rng = np.random.default_rng(2)
    codes = np.repeat(np.arange(400), rng.integers(1, 30, 400))
    pos = positions(codes)
    rows = position_rows(pos)
    assert len(rows) == pos.max()
    for k, r in enumerate(rows, start=1):
        np.testing.assert_array_equal(r, np.flatnonzero(pos == k))
    f = rng.uniform(0.5, 1.5, pos.size)
    direct = np.array(f)
    for k in range(1, pos.max() + 1):
        i = np.flatnonzero(pos == k)
        direct[i] = direct[i - 1] * f[i]
    np.testing.assert_array_equal(cumprod_within(f, pos), direct)
    assert position_rows(np.zeros(0, dtype=np.int64)) == []


def test_a_design_with_ten_percent_distinct_head_rows_is_collapsed(monkeypatch):
    """An MSM-like design (period x cumulative treatment) is collapsed: same MLE."""
    monkeypatch.setattr(_weights, "COLLAPSE_MIN_ROWS", 1000)
    rng = np.random.default_rng(4)
    n = 60_000
    per = rng.integers(0, 40, n).astype(float)
    cum = np.floor(per * rng.uniform(0, 1, n))
    X = np.column_stack([np.ones(n), per, cum, rng.integers(0, 2, n)])
    # 40 periods x up to 40 cumulative counts x 2: ~1,600 distinct rows, ~8% of the first
    # 20,000 (over COLLAPSE_MAX_SHARE, under COLLAPSE_HEAD_SHARE), ~3% of all rows
    assert _weights._distinct_rows(X) is not None
    y = rng.binomial(1, expit(-3 + 0.02 * per - 0.03 * cum)).astype(float)
    a = _weights.fit_logistic_rows(X, y)
    b = fit_logistic(X, y)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.information, b.information, rtol=1e-9)
    np.testing.assert_allclose(a.fitted, b.fitted, rtol=1e-9)
