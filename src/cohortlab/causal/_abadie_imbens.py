"""Abadie-Imbens variance and bias correction for nearest-neighbour matching (arrays only).

Matching estimator of the effect in the focal arm (the exposed for the ATT; the ATC is the
ATT with the arms swapped): for each matched focal unit ``i`` with matched set ``J(i)``
(weights ``w_ij = 1 / #J(i)``)

    tau_hat = (1 / N1) sum_i [Y_i - sum_j w_ij Y_j].

- Abadie & Imbens (2006), Theorem 7 / Matching's ``Var.calc``: with ``K_j = sum_i w_ij``
  (how often control ``j`` is used) and ``KK_j = sum_i w_ij^2``,

      V = (1 / N1^2) [ sum_i (Y_i - sum_j w_ij Y_j - tau_hat)^2
                       + sum_j (K_j^2 - KK_j) sigma^2(X_j) ],

  ``sigma^2(X_j)`` estimated by matching ``j`` to its ``J`` nearest units of the same arm
  (all ties kept): the sample variance of ``Y`` over ``j`` and those units (``J = 1``:
  ``(Y_j - Y_l)^2 / 2``). Without replacement ``K_j = KK_j`` and the second term vanishes.
- Abadie & Imbens (2011) bias correction (as Matching's ``BiasAdjust = TRUE``): a linear
  regression of ``Y`` on ``Z`` among the controls, weighted by ``K_j``, gives slopes
  ``beta``; each matched control's outcome becomes ``Y_j + (Z_i - Z_j)' beta``, so
  ``tau_hat`` is the mean of ``Y_i - sum_j w_ij Y_j - (Z_i - sum_j w_ij Z_j)' beta`` and
  the first variance term uses these adjusted differences. For 0/1 outcomes the regression
  may be logistic: ``m(Z_i) - sum_j w_ij m(Z_j)`` with ``m`` its fitted risks.
- Abadie & Imbens (2016), matching on a propensity score ``F(X' theta)`` estimated by
  logistic maximum likelihood (``V_theta`` its covariance): for the effect in the exposed

      V_adj = V - c' V_theta c + d' V_theta d,
      c = (1 / N1) sum_i [cov_1(i) + p_i / (1 - p_i) cov_0(i)] f_i,
      d = (1 / N1) sum_i X_i f_i (Y_hat_i(1) - Y_hat_i(0) - tau_hat),

  over all units ``i``, with ``f_i = p_i (1 - p_i)`` the logistic density at ``X_i' theta``,
  ``cov_w(i)`` the sample covariance of ``X`` and ``Y`` over the ``L = 2`` units of arm
  ``w`` nearest to ``i`` on the matching distance (``i`` itself when it is in arm ``w``), and
  ``Y_hat`` the matching imputations (focal units matched as in the estimator, the other
  arm's units matched the same way to the focal arm).
- The ATE (every unit matched to the other arm, :func:`abadie_imbens_ate`): ``V = (1 / N^2)
  [sum_i (Yhat_i(1) - Yhat_i(0) - tau_hat)^2 + sum_j (K_j^2 + 2 K_j - KK_j) sigma^2(X_j)]``
  and, for the estimated score (AI 2016, Theorem 1), ``V_adj = V - c' V_theta c`` with
  ``c = (1 / N) sum_i [cov_1(i) / p_i + cov_0(i) / (1 - p_i)] f_i``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._glm import fit_logistic
from ..exceptions import CohortError
from ._nn import merge_nearest, nearest_same_arm, pool_insertion

__all__ = ["MatchedPairs", "AIResult", "AIEffect", "abadie_imbens", "abadie_imbens_ate",
           "ai_effect", "conditional_variance", "pairs_from_rows", "ps_adjustment"]


@dataclass(frozen=True, eq=False)
class MatchedPairs:
    """One row per (focal unit, control) pair: positions in the unit arrays and ``w_ij``."""

    focal: np.ndarray
    control: np.ndarray
    weight: np.ndarray

    @classmethod
    def from_sets(cls, focal: np.ndarray, controls: np.ndarray) -> MatchedPairs:
        """From focal positions and a ``-1``-padded matrix of their controls (``w = 1/k``).

        Examples
        --------
        >>> p = MatchedPairs.from_sets(np.array([0, 3]), np.array([[1, 2], [2, -1]]))
        >>> p.control.tolist(), p.weight.tolist()
        ([1, 2, 2], [0.5, 0.5, 1.0])
        """
        has = controls >= 0
        k = has.sum(axis=1)
        return cls(focal=np.repeat(focal, k), control=controls[has],
                   weight=1.0 / np.repeat(k, k).astype(float))

    def focal_units(self) -> np.ndarray:
        """Positions of the focal units, sorted (O(n), no sort)."""
        if self.focal.size == 0:
            return self.focal
        return np.flatnonzero(np.bincount(self.focal) > 0)

    def sums(self, v: np.ndarray, n: int) -> np.ndarray:
        """``sum_j w_ij v_j`` for every unit ``i`` (0 for units that are not focal)."""
        if v.ndim == 1:
            return np.bincount(self.focal, weights=self.weight * v[self.control], minlength=n)
        return np.column_stack([self.sums(v[:, c], n) for c in range(v.shape[1])])


@dataclass(frozen=True, eq=False)
class AIResult:
    estimate: float
    variance: float
    n_focal: int
    slopes: np.ndarray | None
    imputed_diff: np.ndarray  # per focal unit: Y_i - sum_j w_ij Y_j (bias-adjusted)


def conditional_variance(distance: np.ndarray, a: np.ndarray, y: np.ndarray,
                         j: int = 1, order: np.ndarray | None = None) -> np.ndarray:
    """``sigma^2(X_i)`` of every unit by matching within its arm (``j`` matches, all ties).

    The sample variance (``n - 1`` denominator) of ``Y`` over the unit and its matches, as
    Matching's ``Var.calc = j`` (Abadie & Imbens 2006, eq. 14, for ``j = 1``).

    Examples
    --------
    >>> conditional_variance(np.array([0.0, 1.0, 0.1, 2.0]), np.array([1, 1, 1, 0]),
    ...                      np.array([1.0, 5.0, 3.0, 2.0])).tolist()
    [2.0, 2.0, 2.0, nan]
    """
    out = np.full(y.size, np.nan)
    order = np.argsort(distance, kind="stable") if order is None else order
    for arm in (0, 1):
        m = a == arm
        nb = nearest_same_arm(distance, m, j, ties=True, order=order)
        if nb.shape[1] == 0:
            continue
        vals = np.where(nb >= 0, y[np.clip(nb, 0, None)], np.nan)
        grp = np.column_stack([y[m], vals])
        out[m] = np.nanvar(grp, axis=1, ddof=1)
    return out


def _wls_slopes(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Slopes of the weighted least-squares regression of ``y`` on ``[1, z]`` (rows w > 0)."""
    keep = w > 0
    X = np.column_stack([np.ones(int(keep.sum())), z[keep]])
    sw = np.sqrt(w[keep])
    coef, *_ = np.linalg.lstsq(X * sw[:, None], y[keep] * sw, rcond=None)
    return coef[1:]


def _outcome_fit(z: np.ndarray, y: np.ndarray, w: np.ndarray, logistic: bool) -> np.ndarray:
    """Outcome regression on ``[1, z]`` among rows with ``w > 0``, predicted for every row.

    Weighted by ``w``: linear least squares, or logistic for a 0/1 outcome.
    """
    keep = w > 0
    X = np.column_stack([np.ones(y.size), z])
    if logistic:
        fit = fit_logistic(X[keep], y[keep], w[keep], func="match",
                           response="the outcome (bias correction)")
        return 1.0 / (1.0 + np.exp(-(X @ fit.coef)))
    return z @ _wls_slopes(z, y, w)


def abadie_imbens(y: np.ndarray, pairs: MatchedPairs, sigma2: np.ndarray,
                  z: np.ndarray | None = None, *, sign: float = 1.0,
                  logistic: bool = False) -> AIResult:
    """Matching estimate of the focal-arm effect, its AI (2006) variance, optional bias fix.

    ``y`` and ``sigma2`` (from :func:`conditional_variance`) are per unit; ``pairs`` links
    focal units to their controls; ``z`` (units x covariates) turns on the Abadie-Imbens
    (2011) regression bias correction (``logistic``: a logistic instead of a linear outcome
    regression, for 0/1 outcomes). The effect is ``sign * (Y_i - sum_j w_ij Y_j)`` averaged
    (``sign = -1`` for the effect in the unexposed). Population variance (Matching's
    ``sample = FALSE``).

    Examples
    --------
    >>> y = np.array([3.0, 1.0, 2.0, 0.0])
    >>> pairs = MatchedPairs.from_sets(np.array([0, 1]), np.array([[2], [2]]))
    >>> r = abadie_imbens(y, pairs, np.array([0.0, 0.0, 0.5, 0.5]))
    >>> r.estimate, r.variance
    (0.0, 0.75)
    """
    n = y.size
    focal = pairs.focal_units()
    n1 = focal.size
    diff = sign * (y - pairs.sums(y, n))[focal]
    slopes = None
    if z is not None:
        z = z.reshape(n, -1)
        k = np.bincount(pairs.control, weights=pairs.weight, minlength=n)
        mu = _outcome_fit(z, y, k, logistic)
        diff = diff - sign * (mu - pairs.sums(mu, n))[focal]
    est = float(diff.mean())
    k = np.bincount(pairs.control, weights=pairs.weight, minlength=n)
    kk = np.bincount(pairs.control, weights=pairs.weight ** 2, minlength=n)
    used = k > 0
    reuse = float(np.sum(sigma2[used] * (k[used] ** 2 - kk[used])))
    var = (float(np.sum((diff - est) ** 2)) + reuse) / n1 ** 2
    return AIResult(estimate=est, variance=var, n_focal=int(n1), slopes=slopes,
                    imputed_diff=diff)


def abadie_imbens_ate(y: np.ndarray, a: np.ndarray, pairs: MatchedPairs, sigma2: np.ndarray,
                      z: np.ndarray | None = None, *, logistic: bool = False) -> AIResult:
    """Matching estimate of the average effect (every unit matched to the other arm).

    ``pairs`` holds both directions (exposed units to their unexposed matches and the
    reverse). Variance (Abadie & Imbens 2006, population): ``[sum_i (Yhat_i(1) - Yhat_i(0)
    - tau)^2 + sum_j (K_j^2 + 2 K_j - K'_j) sigma^2(X_j)] / N^2``. Bias correction: each
    arm's imputations are adjusted with the slopes of the other arm's regression (weighted
    by ``K_j``), as Matching's ``BiasAdjust = TRUE`` with ``estimand = "ATE"``.
    """
    n = y.size
    sgn = np.where(a == 1, 1.0, -1.0)
    diff = sgn * (y - pairs.sums(y, n))
    k = np.bincount(pairs.control, weights=pairs.weight, minlength=n)
    kk = np.bincount(pairs.control, weights=pairs.weight ** 2, minlength=n)
    if z is not None:
        z = z.reshape(n, -1)
        m0 = _outcome_fit(z, y, np.where(a == 0, k, 0.0), logistic)
        m1 = _outcome_fit(z, y, np.where(a == 1, k, 0.0), logistic)
        corr = np.where(a == 1, m0 - pairs.sums(m0, n), m1 - pairs.sums(m1, n))
        diff = diff - sgn * corr
    est = float(diff.mean())
    var = (float(np.sum((diff - est) ** 2))
           + float(np.sum(sigma2 * (k ** 2 + 2 * k - kk)))) / n ** 2
    return AIResult(estimate=est, variance=var, n_focal=n, slopes=None, imputed_diff=diff)


def _local_cov_weights(distance: np.ndarray, pool: np.ndarray, y: np.ndarray,
                       w: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``v`` such that ``X' v = sum_i w_i cov_i(X, y)``.

    ``cov_i`` is the covariance over the 2 pool units nearest unit ``i`` (for two points
    ``(x_a - x_b)(y_a - y_b) / 2``); O(n), no n x p array.
    """
    n = y.size
    idx = np.flatnonzero(pool)
    if idx.size < 2:
        return np.zeros(n)
    srt, ins = pool_insertion(distance, pool, order)
    # a pool unit finds itself (distance 0) first: start both walks at its own position
    nb, _ = merge_nearest(distance, distance[srt], ins - 1, ins, 2)
    i, j = srt[nb[:, 0]], srt[nb[:, 1]]
    h = w * (y[i] - y[j]) / 2.0
    return np.bincount(i, weights=h, minlength=n) - np.bincount(j, weights=h, minlength=n)


def ps_adjustment(y: np.ndarray, a: np.ndarray, distance: np.ndarray, X: np.ndarray,
                  p: np.ndarray, v_theta: np.ndarray, pairs: MatchedPairs, tau: float,
                  ratio: int, ties: bool, keep: np.ndarray,
                  order: np.ndarray | None = None) -> float:
    """``- c' V c + d' V d``, Abadie & Imbens (2016) for the effect in the arm ``a == 1``.

    ``X`` is the logistic propensity model's design (with intercept), ``p`` its fitted
    scores, ``v_theta`` the covariance of its coefficients; ``keep`` marks the units that
    count (unmatched focal units are left out). ``a`` is 1 for the focal arm and ``p`` the
    probability of being in it.
    """
    n = y.size
    f = p * (1 - p)
    n1 = float(np.sum(keep & (a == 1)))
    fk = np.where(keep, f, 0.0)
    order = np.argsort(distance, kind="stable") if order is None else order
    v = (_local_cov_weights(distance, a == 1, y, fk, order)
         + _local_cov_weights(distance, a == 0, y, fk * p / (1 - p), order))
    c = X.T @ v / n1
    # imputed potential outcomes: focal units from their matched sets, the others matched
    # to the focal arm the same way (ratio nearest, ties as in the estimator)
    y1, y0 = y.astype(float).copy(), y.astype(float).copy()
    y0[a == 1] = pairs.sums(y, n)[a == 1]
    other = np.flatnonzero(a == 0)
    srt, ins_all = pool_insertion(distance, a == 1, order)
    cd = distance[srt]
    ins = ins_all[other]
    nb, _ = merge_nearest(distance[other], cd, ins - 1, ins, ratio, ties=ties)
    has = nb >= 0
    vals = np.where(has, y[srt[np.clip(nb, 0, None)]], 0.0)
    y1[other] = vals.sum(axis=1) / has.sum(axis=1)
    d = X.T @ (fk * (y1 - y0 - tau)) / n1
    return float(-c @ v_theta @ c + d @ v_theta @ d)


@dataclass(frozen=True, eq=False)
class AIEffect:
    """The matching effect with its Abadie-Imbens standard errors (see :func:`ai_effect`)."""

    estimate: float
    std_error: float
    std_error_ps_known: float
    ps_adjusted: bool
    adjustment_dropped: bool  # the estimated-PS term made the variance <= 0
    mean_focal: float
    n_focal: int
    linear_fallback: bool = False  # the logistic bias-correction model failed


def pairs_from_rows(row_pos: np.ndarray, set_id: np.ndarray, is_focal_row: np.ndarray,
                    weight: np.ndarray) -> MatchedPairs:
    """Pairs from a matched cohort's rows (one focal row per set, its controls after).

    Examples
    --------
    >>> p = pairs_from_rows(np.array([4, 1, 2, 0, 1]), np.array([1, 1, 1, 2, 2]),
    ...                     np.array([True, False, False, True, False]),
    ...                     np.array([1.0, 0.5, 0.5, 1.0, 1.0]))
    >>> p.focal.tolist(), p.control.tolist(), p.weight.tolist()
    ([4, 4, 0], [1, 2, 1], [0.5, 0.5, 1.0])
    """
    focal_of_set = np.zeros(int(set_id.max()) + 1, dtype=np.int64)
    focal_of_set[set_id[is_focal_row]] = row_pos[is_focal_row]
    c = ~is_focal_row
    return MatchedPairs(focal=focal_of_set[set_id[c]], control=row_pos[c], weight=weight[c])


def ai_effect(y: np.ndarray, a: np.ndarray, focal_arm: int, eligible: np.ndarray,
              distance: np.ndarray, pairs: MatchedPairs, *, z: np.ndarray | None = None,
              X: np.ndarray | None = None, p: np.ndarray | None = None,
              v_theta: np.ndarray | None = None, ratio: int = 1,
              ties: bool = False, logistic: bool = False) -> AIEffect:
    """Effect in the focal arm, AI (2006) SE, optional AI (2011) bias fix and AI (2016) term.

    Units outside ``eligible`` (trimmed beforehand) take no part. The effect in the unexposed
    (``focal_arm = 0``) is computed as the effect in the exposed with the arms swapped and
    the outcome negated. ``X``, ``p`` (probability of exposure) and ``v_theta`` (covariance
    of the logistic coefficients) turn on the estimated-propensity-score term.
    """
    if focal_arm not in (0, 1):
        return _ai_effect_ate(y, a, eligible, distance, pairs, z, X, p, v_theta, logistic)
    sign = 1.0 if focal_arm == 1 else -1.0
    idx = np.flatnonzero(eligible)
    new = np.full(a.size, -1, dtype=np.int64)
    new[idx] = np.arange(idx.size)
    pr = MatchedPairs(focal=new[pairs.focal], control=new[pairs.control], weight=pairs.weight)
    ys, af, d = sign * y[idx], (a[idx] == focal_arm).astype(np.int64), distance[idx]
    order = np.argsort(d, kind="stable")
    s2 = conditional_variance(d, af, ys, order=order)
    zz = None if z is None else z[idx]
    linear_fallback = False
    try:
        r = abadie_imbens(y[idx], pr, s2, zz, sign=sign, logistic=logistic and zz is not None)
    except CohortError:  # e.g. separation in the logistic outcome model: linear instead
        r = abadie_imbens(y[idx], pr, s2, zz, sign=sign)
        linear_fallback = True
    var, adjusted, dropped = r.variance, False, False
    if X is not None and p is not None and v_theta is not None:
        pf = p[idx] if focal_arm == 1 else 1.0 - p[idx]
        keep = np.ones(idx.size, dtype=bool)
        keep[np.flatnonzero(af)] = False
        keep[pr.focal_units()] = True
        extra = ps_adjustment(ys, af, d, X[idx], pf, v_theta, pr, r.estimate, ratio, ties,
                              keep, order)
        if r.variance + extra > 0:
            var, adjusted = r.variance + extra, True
        else:
            dropped = True
    focal = pr.focal_units()
    return AIEffect(estimate=r.estimate, std_error=float(np.sqrt(var)),
                    std_error_ps_known=float(np.sqrt(r.variance)), ps_adjusted=adjusted,
                    adjustment_dropped=dropped, mean_focal=float(y[idx][focal].mean()),
                    n_focal=r.n_focal, linear_fallback=linear_fallback)


def _ai_effect_ate(y: np.ndarray, a: np.ndarray, eligible: np.ndarray, distance: np.ndarray,
                   pairs: MatchedPairs, z: np.ndarray | None, X: np.ndarray | None,
                   p: np.ndarray | None, v_theta: np.ndarray | None,
                   logistic: bool) -> AIEffect:
    """:func:`ai_effect` for the ATE: every matched unit is focal.

    Estimated-score term (Abadie & Imbens 2016, Theorem 1): ``- c' V_theta c`` with
    ``c = (1 / N) sum_i [cov_1(i) / p_i + cov_0(i) / (1 - p_i)] f_i``.
    """
    idx = np.flatnonzero(eligible)
    new = np.full(a.size, -1, dtype=np.int64)
    new[idx] = np.arange(idx.size)
    pr = MatchedPairs(focal=new[pairs.focal], control=new[pairs.control], weight=pairs.weight)
    yy, aa, d = y[idx], a[idx], distance[idx]
    focal = pr.focal_units()
    n = idx.size
    keep = np.zeros(n, dtype=bool)
    keep[focal] = True
    order = np.argsort(d, kind="stable")
    s2 = conditional_variance(d, aa, yy, order=order)
    linear_fallback = False
    zz = None if z is None else z[idx]
    sub = MatchedPairs(focal=pr.focal, control=pr.control, weight=pr.weight)
    try:
        r = abadie_imbens_ate(yy, aa, sub, s2, zz, logistic=logistic and zz is not None)
    except CohortError:
        r = abadie_imbens_ate(yy, aa, sub, s2, zz)
        linear_fallback = True
    diff = r.imputed_diff[keep]
    est = float(diff.mean())
    k = np.bincount(pr.control, weights=pr.weight, minlength=n)
    kk = np.bincount(pr.control, weights=pr.weight ** 2, minlength=n)
    nk = float(keep.sum())
    var = (float(np.sum((diff - est) ** 2))
           + float(np.sum(s2 * (k ** 2 + 2 * k * keep - kk)))) / nk ** 2
    var_known, adjusted, dropped = var, False, False
    if X is not None and p is not None and v_theta is not None:
        pp = p[idx]
        fk = np.where(keep, pp * (1 - pp), 0.0)
        v = (_local_cov_weights(d, aa == 1, yy, fk / pp, order)
             + _local_cov_weights(d, aa == 0, yy, fk / (1 - pp), order))
        c = X[idx].T @ v / nk
        adj = var - float(c @ v_theta @ c)
        if adj > 0:
            var, adjusted = adj, True
        else:
            dropped = True
    y1 = np.where(aa == 1, yy, pr.sums(yy, n))
    return AIEffect(estimate=est, std_error=float(np.sqrt(var)),
                    std_error_ps_known=float(np.sqrt(var_known)), ps_adjusted=adjusted,
                    adjustment_dropped=dropped, mean_focal=float(y1[keep].mean()),
                    n_focal=int(nk), linear_fallback=linear_fallback)
