"""Array-only kernels of classifier evaluation (numpy, no pandas).

Every kernel sorts the scores once (``np.unique``) and works on the distinct values with
counts and cumulative sums, so it is O(n log n) in the number of rows and has no Python loop
over rows or thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..inference.wald import z_critical

__all__ = [
    "ScoreCounts",
    "score_counts",
    "placements",
    "delong_auc",
    "average_precision",
    "brier",
    "expected_calibration_error",
    "logistic_calibration",
    "citl",
    "confusion_at",
    "wilson",
    "net_benefit",
]


@dataclass(frozen=True)
class ScoreCounts:
    """Distinct scores (ascending) with the number of positives and negatives at each."""

    values: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    n_pos: int = field(init=False)
    n_neg: int = field(init=False)

    def __post_init__(self) -> None:  # the totals once, not a pass over ``pos`` per use
        object.__setattr__(self, "n_pos", int(self.pos.sum()))
        object.__setattr__(self, "n_neg", int(self.neg.sum()))


def score_counts(score: np.ndarray, label: np.ndarray) -> ScoreCounts:
    """Sort once: distinct scores and the positives/negatives tied at each.

    The label rides in the lowest bit of one int64 sort key: for non-negative floats the
    IEEE-754 bit pattern sorts as the number does, so ``bits << 1 | label`` sorted gives the
    scores in order with each row's label, without an argsort and two gathers (scores are
    probabilities in [0, 1]; any float in [0, 2) has ``bits < 2^62``, so ``bits << 1`` cannot
    overflow; ``+ 0.0`` turns -0.0 into 0.0). Other scores take one argsort.
    """
    score = np.ascontiguousarray(score, dtype=np.float64)
    if score.size and not (float(score.min()) >= 0.0 and float(score.max()) < 2.0):
        # outside [0, 2) (not a probability): the bit trick does not apply, plain argsort
        order = np.argsort(score)
        key_val, lab = score[order], label[order] == 1
    else:
        key = (score + 0.0).view(np.int64) << 1
        key |= label == 1
        key.sort()
        lab = (key & 1).astype(bool)
        key >>= 1
        key_val = key.view(np.float64)
    new_value = np.empty(key_val.size, dtype=bool)
    new_value[:1] = True
    np.not_equal(key_val[1:], key_val[:-1], out=new_value[1:])
    starts = np.flatnonzero(new_value)
    ends = np.append(starts[1:], key_val.size)
    cum_pos = np.concatenate([[0], np.cumsum(lab, dtype=np.int64)])
    pos = cum_pos[ends] - cum_pos[starts]
    return ScoreCounts(values=key_val[new_value], pos=pos, neg=(ends - starts) - pos)


def delong_auc(sc: ScoreCounts) -> tuple[float, float]:
    """AUROC and its DeLong variance from the structural components (Sun & Xu 2014).

    The placement of a positive is the share of negatives scored below it (ties count half);
    that of a negative is the share of positives scored above it. The AUROC is the mean
    placement of the positives; the variance is ``S10 / n1 + S01 / n0`` with ``S10``, ``S01``
    the sample variances (denominator ``n - 1``) of the placements, as pROC's
    ``var(roc, method = "delong")``. Placements depend only on the distinct score, so the
    sums run over distinct scores weighted by their counts. The variance is NaN with fewer
    than two positives or negatives (as pROC).
    """
    n1, n0 = sc.n_pos, sc.n_neg
    v10, v01 = placements(sc)
    auc = float(np.dot(sc.pos, v10) / n1)
    if n1 < 2 or n0 < 2:
        return auc, math.nan
    s10 = float(np.dot(sc.pos, (v10 - auc) ** 2) / (n1 - 1))
    s01 = float(np.dot(sc.neg, (v01 - auc) ** 2) / (n0 - 1))
    return auc, s10 / n1 + s01 / n0


def placements(sc: ScoreCounts) -> tuple[np.ndarray, np.ndarray]:
    """DeLong placements at each distinct score: of a positive (``V10``), of a negative (``V01``).

    ``V10`` is the share of negatives scored below (ties half), ``V01`` the share of
    positives scored above (ties half).
    """
    neg_below = np.cumsum(sc.neg) - sc.neg
    pos_above = sc.n_pos - np.cumsum(sc.pos)
    v10 = (neg_below + 0.5 * sc.neg) / sc.n_neg  # placement of a positive at each distinct score
    v01 = (pos_above + 0.5 * sc.pos) / sc.n_pos  # placement of a negative
    return v10, v01


def average_precision(sc: ScoreCounts) -> float:
    """Average precision: sum over distinct thresholds of (recall step) x precision.

    Tied scores form one threshold (as scikit-learn's ``average_precision_score``).
    """
    tp = np.cumsum(sc.pos[::-1])  # predicted positive: score >= threshold, descending
    fp = np.cumsum(sc.neg[::-1])
    precision = tp / (tp + fp)
    return float(np.dot(sc.pos[::-1], precision) / sc.n_pos)


def brier(score: np.ndarray, label: np.ndarray) -> tuple[float, float]:
    """Brier score (mean squared error) and its SE ``sd / sqrt(n)`` (sd with ``n - 1``)."""
    sq = (score - label) ** 2
    n = sq.size
    se = float(sq.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return float(sq.mean()), se


def expected_calibration_error(
    score: np.ndarray, label: np.ndarray, n_bins: int
) -> tuple[float, np.ndarray]:
    """ECE over ``n_bins`` equal-width bins of [0, 1] (the last bin includes 1).

    Returns the ECE ``sum_b n_b / n |mean(label_b) - mean(score_b)|`` and a ``(n_bins, 4)``
    array of bin count, mean score, observed proportion and bin midpoint.
    """
    b = np.minimum((score * n_bins).astype(np.int64), n_bins - 1)
    cnt = np.bincount(b, minlength=n_bins).astype(float)
    s_sum = np.bincount(b, weights=score, minlength=n_bins)
    y_sum = np.bincount(b, weights=label, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_s, obs = s_sum / cnt, y_sum / cnt
    ece = float(np.abs(y_sum - s_sum).sum() / score.size)
    mid = (np.arange(n_bins) + 0.5) / n_bins
    return ece, np.column_stack([cnt, mean_s, obs, mid])


def _newton_logistic(
    x: np.ndarray, y: np.ndarray, offset: np.ndarray, slope: bool, max_iter: int = 50,
    tol: float = 1e-9,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Logistic regression of ``y`` on ``1 (+ x)`` with ``offset``, by Newton-Raphson.

    Returns the coefficients, their model-based covariance (inverse information) and whether
    it converged. No design matrix is formed: with ``mu = 1 / (1 + exp(-eta))`` and
    ``w = mu - mu^2``, the score and the 2 x 2 information are dot products of ``mu`` and
    ``mu^2`` with ``1, x, x^2`` (``sum y``, ``y'x`` and ``x^2`` computed once), so an iteration
    is one ``exp`` and a few BLAS passes. The intercept-only offset model needs no ``exp`` per
    iteration: ``exp(-offset - a) = exp(-offset) exp(-a)``.
    """
    k = 2 if slope else 1
    beta = np.zeros(k)
    if slope:
        beta[1] = 1.0  # start at the identity recalibration, as rms val.prob
    info = np.eye(k)
    mu, mu2 = np.empty(y.size), np.empty(y.size)
    sy = float(y.sum())
    with np.errstate(over="ignore"):
        if slope:
            x2, sxy = x * x, float(np.dot(y, x))
        else:
            e_off = np.exp(-offset)
        for _ in range(max_iter):
            if slope:
                np.multiply(x, -beta[1], out=mu)
                mu -= beta[0]
                np.exp(mu, out=mu)
            else:
                np.multiply(e_off, np.exp(-beta[0]), out=mu)
            mu += 1.0
            np.reciprocal(mu, out=mu)
            np.multiply(mu, mu, out=mu2)
            s_mu = float(mu.sum())
            sw = s_mu - float(mu2.sum())
            if slope:
                mx = float(np.dot(mu, x))
                score = np.array([sy - s_mu, sxy - mx])
                swx = mx - float(np.dot(mu2, x))
                swxx = float(np.dot(mu, x2)) - float(np.dot(mu2, x2))
                info = np.array([[sw, swx], [swx, swxx]])
            else:
                score = np.array([sy - s_mu])
                info = np.array([[sw]])
            try:
                step = np.linalg.solve(info, score)
            except np.linalg.LinAlgError:
                return np.full(k, np.nan), np.full((k, k), np.nan), False
            beta = beta + step
            if not np.all(np.isfinite(beta)) or np.max(np.abs(beta)) > 1e6:
                return np.full(k, np.nan), np.full((k, k), np.nan), False
            if np.max(np.abs(step)) < tol:
                # information at the previous iterate: the step is < tol, so it differs from
                # the information at the maximum by O(tol) relative; no extra pass over rows
                return beta, np.linalg.inv(info), True
    return beta, np.linalg.inv(info), False


def logistic_calibration(
    logit: np.ndarray, label: np.ndarray
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Logistic recalibration ``logit P(y = 1) = a + b logit(score)`` (rms ``val.prob``).

    Returns ``(a, b)``, their covariance and convergence. ``a`` is rms' "Intercept" (the
    intercept of the joint recalibration model), ``b`` the calibration slope.
    """
    return _newton_logistic(logit, label, np.zeros_like(logit), slope=True)


def citl(logit: np.ndarray, label: np.ndarray) -> tuple[float, float, bool]:
    """Calibration-in-the-large: intercept of ``logit P(y = 1) = a + offset(logit(score))``.

    Returns the intercept, its model-based SE and convergence.
    """
    beta, cov, ok = _newton_logistic(logit, label, logit, slope=False)
    return float(beta[0]), float(math.sqrt(cov[0, 0])) if ok else math.nan, ok


def confusion_at(sc: ScoreCounts, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives at each threshold (predicted positive: score >= threshold)."""
    cum_pos = np.concatenate([[0], np.cumsum(sc.pos)])
    cum_neg = np.concatenate([[0], np.cumsum(sc.neg)])
    idx = np.searchsorted(sc.values, thresholds, side="left")  # distinct scores < threshold
    return sc.n_pos - cum_pos[idx], sc.n_neg - cum_neg[idx]


def wilson(
    x: np.ndarray, n: np.ndarray, conf_level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Proportion ``x / n`` with the Wilson score interval (R ``prop.test(correct = FALSE)``).

    ``n = 0`` gives NaN throughout.
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    z = z_critical(conf_level)
    z2 = z * z
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        centre = (x + z2 / 2) / (n + z2)
        half = z * np.sqrt(x * (n - x) / n + z2 / 4) / (n + z2)
    lo = np.clip(centre - half, 0.0, 1.0)
    hi = np.clip(centre + half, 0.0, 1.0)
    return p, lo, hi


def net_benefit(
    sc: ScoreCounts, thresholds: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Net benefit ``TP/n - FP/n * pt/(1 - pt)`` of the model and of treating everyone.

    Returns model net benefit, treat-all net benefit, TP and FP at each threshold ``pt``.
    """
    n = sc.n_pos + sc.n_neg
    tp, fp = confusion_at(sc, thresholds)
    odds = thresholds / (1.0 - thresholds)
    prev = sc.n_pos / n
    return tp / n - fp / n * odds, prev - (1.0 - prev) * odds, tp, fp


