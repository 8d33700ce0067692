"""Private survival kernels: the fast paths give what the plain formulations give."""

from __future__ import annotations

import numpy as np
import pytest

from cohortlab.survival import _cox, _cox_data


@pytest.mark.parametrize("strata", [False, True])
def test_sort_order_is_the_lexsort(strata: bool) -> None:
    rng = np.random.default_rng(3)
    n = 5_000
    time = rng.integers(0, 40, n).astype(float)
    status = rng.integers(0, 2, n)
    codes = rng.integers(0, 3, n) if strata else None
    keys = (-status, time) if codes is None else (-status, time, codes)
    assert np.array_equal(_cox.sort_order(time, status, codes), np.lexsort(keys))


def test_sort_order_other_status_codes_fall_back() -> None:
    time = np.array([1.0, 1.0, 2.0, 1.0])
    status = np.array([0, 2, 1, 1])
    assert np.array_equal(_cox.sort_order(time, status), np.lexsort((-status, time)))


def _plain_residuals(cd: _cox.CoxData, beta: np.ndarray, efron: bool) -> np.ndarray:
    """Score residuals by the direct formula of each row (no prefix-sum tables)."""
    out = np.zeros((cd.n, cd.x.shape[1]))
    for st in cd.strata:
        xs = np.asarray(cd.x[st.sl])
        ee = np.exp(xs @ beta)
        tt = _cox.time_terms(st, xs, st.weight * ee, efron)
        h, (hx, fhx) = tt.q01, tt.hazard_xbar()
        xbar_star = tt.weighted_xbar() / st.d_weight[:, None]
        for i in range(xs.shape[0]):
            lo, hi = st.lo[i], st.hi[i]
            a, b = h[lo:hi].sum(), hx[lo:hi].sum(0)
            r = np.zeros(xs.shape[1])
            if st.status[i]:
                j = hi - 1
                a, b = a - tt.q11[j], b - fhx[j]
                r += xs[i] - xbar_star[j]
            r -= ee[i] * (xs[i] * a - b)
            out[st.rows[i]] = r
    return out


@pytest.mark.parametrize("efron", [True, False])
@pytest.mark.parametrize("entry", [False, True])
def test_score_residuals_match_the_row_formula(efron: bool, entry: bool) -> None:
    rng = np.random.default_rng(5)
    n = 300
    x = rng.normal(size=(n, 2))
    t = np.ceil(rng.exponential(1.0, n) * 10) / 10 + 0.1
    s = rng.uniform(0, 0.09, n) if entry else None
    d = rng.integers(0, 2, n)
    w = rng.uniform(0.5, 2.0, n)
    cd = _cox.prepare(x, t, d, w, entry=s, strata=rng.integers(0, 2, n))
    beta = np.array([0.3, -0.2])
    got = _cox.score_residuals(cd, beta, efron)
    assert np.allclose(got, _plain_residuals(cd, beta, efron), atol=1e-12)
    # the weighted residuals sum to the score
    assert np.allclose((got * w[:, None]).sum(0), _cox.evaluate(cd, beta, efron).score,
                       atol=1e-10)


@pytest.mark.parametrize("strata", [False, True])
def test_group_order_groups_as_the_lexsort(strata: bool) -> None:
    # times one ulp apart make the (time, death) key collide: the check must catch it
    rng = np.random.default_rng(4)
    n = 3_000
    time = rng.integers(0, 40, n).astype(float)
    time[: n // 4] = np.nextafter(time[: n // 4], np.inf)
    status = rng.integers(0, 2, n)
    codes = rng.integers(0, 3, n) if strata else None
    got = _cox_data.group_order(time, status, codes)
    want = np.lexsort((-status, time) if codes is None else (-status, time, codes))
    assert np.array_equal(np.sort(got), np.arange(n))
    for v in (time, status) + ((codes,) if codes is not None else ()):
        assert np.array_equal(v[got], v[want])


@pytest.mark.parametrize("unit", [True, False])
@pytest.mark.parametrize("null", [True, False])
@pytest.mark.parametrize("efron", [True, False])
def test_cache_blocked_evaluation_is_the_plain_one(monkeypatch: pytest.MonkeyPatch,
                                                   efron: bool, null: bool, unit: bool) -> None:
    # tiny cache blocks: every block boundary case (empty blocks, a last block at the end)
    rng = np.random.default_rng(5)
    n, p = 600, 3
    x = rng.normal(size=(n, p))
    t = np.ceil(rng.exponential(size=n) * 8)
    d = rng.integers(0, 2, n)
    d[np.argmax(t)] = 1
    w = np.ones(n) if unit else rng.uniform(0.5, 2.0, n)
    beta = np.zeros(p) if null else np.array([0.3, -0.2, 0.1])
    cd = _cox.prepare(x, t, d, w)
    want = _cox.evaluate(cd, beta, efron)
    st = cd.strata[0]
    xt = np.ascontiguousarray(cd.x.T)
    risk = st.weight * np.exp(beta @ xt)
    tt = _cox._time_terms_t(st, xt, risk, efron)
    assert np.allclose(want.score, st.death_xsum - tt.weighted_xbar().sum(0), rtol=1e-12)
    c = _cox._accumulated(st, tt) * risk
    assert np.allclose(want.info, (xt * c) @ xt.T - tt.xbar_outer(), rtol=1e-12)
    assert want.loglik == pytest.approx(
        float(st.weight[st.death_rows] @ (beta @ xt)[st.death_rows]) - tt.log_term, rel=1e-13)
    for chunk in (1, 7, 64):
        monkeypatch.setattr(_cox, "_CHUNK", chunk)
        got = _cox.evaluate(cd, beta, efron)
        assert got.loglik == pytest.approx(want.loglik, rel=1e-13)
        assert np.allclose(got.score, want.score, rtol=1e-12, atol=1e-12)
        assert np.allclose(got.info, want.info, rtol=1e-12)
