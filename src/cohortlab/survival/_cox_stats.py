"""Tests and summaries of a fitted Cox model (arrays only, no pandas).

The fit statistics of ``cox`` (likelihood-ratio, Wald, score and robust score tests, Harrell's
C), and the time transforms and chi-squares of the proportional-hazards score tests
(``CoxResult.check_proportional_hazards``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from . import _cox
from ._counts import risk_counts
from ._cox import CoxData, CoxFit

__all__ = ["CONCORDANCE_MAX_N", "concordance_of", "fit_stats", "row_weights", "wald_statistic",
           "zph_chisq", "zph_times"]

#: Harrell's C is O(n log^2 n) but with a large constant; above this size it is computed only
#: on request (CoxResult.concordance()) and the result says so in its notes.
CONCORDANCE_MAX_N = 200_000


def fit_stats(cd: CoxData, fit: CoxFit, vcov: np.ndarray, efron: bool, robust: bool,
              cl_ids: np.ndarray | None, w: np.ndarray, t: np.ndarray, d: np.ndarray,
              x: np.ndarray, entry: np.ndarray | None) -> dict[str, float]:
    """Tests of ``beta = 0``, Harrell's C and the number of iterations.

    Likelihood-ratio, Wald (with ``vcov``) and score tests; with ``robust`` the robust score
    test; Harrell's C of ``x beta`` up to :data:`CONCORDANCE_MAX_N` rows.
    """
    p = fit.beta.size
    lr = 2 * (fit.loglik - fit.loglik_null)
    wald = wald_statistic(fit.beta, vcov)
    score = float(fit.score_null @ np.linalg.pinv(fit.info_null) @ fit.score_null)
    out = {
        "loglik_null": fit.loglik_null, "loglik": fit.loglik,
        "lr_statistic": lr, "lr_df": float(p), "lr_p_value": float(stats.chi2.sf(lr, p)),
        "wald_statistic": wald, "wald_p_value": float(stats.chi2.sf(wald, p)),
        "score_statistic": score, "score_p_value": float(stats.chi2.sf(score, p)),
    }
    if robust:
        _, dfb0 = _cox.robust_vcov(cd, np.zeros(p), np.eye(p), efron, cluster=cl_ids, weights=w)
        rs = float(fit.score_null @ np.linalg.pinv(dfb0.T @ dfb0) @ fit.score_null)
        out.update(robust_score_statistic=rs, robust_score_p_value=float(stats.chi2.sf(rs, p)))
    if cd.n <= CONCORDANCE_MAX_N:
        out["concordance"] = concordance_of(cd, fit.beta, w, t, d, x, entry)
    out["iterations"] = float(fit.iterations)
    return out


def wald_statistic(beta: np.ndarray, vcov: np.ndarray) -> float:
    """Wald chi-square ``beta' V^- beta`` of ``beta = 0`` (pseudo-inverse of ``vcov``).

    Examples
    --------
    >>> wald_statistic(np.array([1.0, 2.0]), np.diag([1.0, 4.0]))
    2.0
    """
    return float(beta @ np.linalg.pinv(vcov) @ beta)


def concordance_of(cd: CoxData, beta: np.ndarray, w: np.ndarray, t: np.ndarray,
                   d: np.ndarray, x: np.ndarray, entry: np.ndarray | None = None) -> float:
    """Harrell's C of the linear predictor ``x beta``, pairs formed within ``cd``'s strata."""
    from ._concordance import concordance

    strata = np.empty(cd.n, dtype=np.int64)
    for k, st in enumerate(cd.strata):
        strata[st.rows] = k
    # a row-wise sum, not a BLAS product: equal rows get bitwise-equal predictors (tied pairs
    # stay tied whatever the BLAS kernel and the row's memory alignment)
    return concordance(t, d, (x * beta).sum(axis=1), w, strata, entry)


def row_weights(cd: CoxData) -> np.ndarray:
    """Each row's case weight in the original row order (from the strata's sorted copies)."""
    w = np.empty(cd.n)
    for s in cd.strata:  # strata, never rows
        w[s.rows] = s.weight
    return w


def zph_times(cd: CoxData, time: np.ndarray, status: np.ndarray, entry: np.ndarray | None,
              transform: str) -> np.ndarray:
    """``g(t)`` at each stratum's event times, concatenated in stratum order."""
    times = np.concatenate([s.event_times for s in cd.strata])
    if transform == "identity":
        return times
    if transform == "log":
        return np.log(times)
    if transform == "rank":
        # R: rank(times) over every row's exit time (ties averaged), read at the event times
        all_times = np.sort(time)
        ranks = stats.rankdata(all_times)
        uniq, inv = np.unique(all_times, return_inverse=True)
        mean_rank = np.bincount(inv, weights=ranks) / np.bincount(inv)
        return mean_rank[np.searchsorted(uniq, times)]
    # "km": 1 - KM(t-) of the pooled, unstratified data
    rc = risk_counts(time, status, entry=entry)
    surv = np.cumprod(1 - rc.n_event[:, 0] / rc.n_risk)
    left = np.concatenate([[1.0], surv])[np.searchsorted(rc.time, times, side="left")]
    return 1 - left


def zph_chisq(u: np.ndarray, full: np.ndarray, idx: list[int]) -> float:
    """Score chi-square of the time interactions ``idx`` given every ``beta``.

    ``u`` and ``full`` are :func:`~cohortlab.survival._cox.zph_test`'s score and information;
    the statistic is ``u' [V^-1]_gg u`` over the chosen terms.
    """
    p = u.size
    cols = list(range(p)) + [p + i for i in idx]
    sub = full[np.ix_(cols, cols)]
    vinv = np.linalg.pinv(sub)
    return float(u[idx] @ vinv[p:, p:] @ u[idx])
