"""Time-varying inverse probability weights (arrays only).

Rows are person-periods sorted by person and period; ``pos`` is each row's position within
its person (0, 1, 2, ...), which is all the bookkeeping the cumulative products need: a
person's rows are contiguous, so row ``i`` with ``pos[i] > 0`` follows row ``i - 1`` of the
same person. Cumulative products loop over positions (periods), never over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from .._design import Design
from .._glm import GLMFit, fit_logistic
from .._validation import verb_name

__all__ = ["Prepared", "WeightFit", "compute", "cumprod_within", "fit_logistic_rows",
           "fit_weights", "lag_within", "position_rows", "positions", "truncate_weights",
           "weight_summary"]


def positions(codes: np.ndarray) -> np.ndarray:
    """Position of each row within its run of equal ``codes`` (rows sorted by person).

    Examples
    --------
    >>> positions(np.array([0, 0, 0, 1, 2, 2])).tolist()
    [0, 1, 2, 0, 0, 1]
    """
    n = codes.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.ones(n, dtype=bool)
    start[1:] = codes[1:] != codes[:-1]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return np.arange(n) - first


def lag_within(x: np.ndarray, pos: np.ndarray, fill: float = 0.0) -> np.ndarray:
    """``x`` of the previous row of the same person (``fill`` at each person's first row)."""
    out = np.empty(x.size, dtype=float)
    out[1:] = x[:-1]
    out[pos == 0] = fill
    return out


def position_rows(pos: np.ndarray) -> list[np.ndarray]:
    """The rows at position 1, 2, ... (item ``k - 1``), each in row order.

    One stable counting sort of ``pos`` instead of a pass over every row per position.

    Examples
    --------
    >>> [r.tolist() for r in position_rows(np.array([0, 1, 2, 0, 1, 0]))]
    [[1, 4], [2]]
    """
    if pos.size == 0:
        return []
    small = pos.astype(np.int16) if pos.max() < np.iinfo(np.int16).max else pos
    order = np.argsort(small, kind="stable")  # a radix sort for 16-bit keys
    return np.split(order, np.cumsum(np.bincount(pos))[:-1])[1:]


def cumprod_within(f: np.ndarray, pos: np.ndarray,
                   rows: list[np.ndarray] | None = None) -> np.ndarray:
    """Cumulative product of ``f`` within person (exact; one vectorised step per period).

    ``rows`` is :func:`position_rows` of ``pos`` when the caller already has it.

    Examples
    --------
    >>> cumprod_within(np.array([2.0, 3.0, 0.5, 4.0]), np.array([0, 1, 2, 0])).tolist()
    [2.0, 6.0, 3.0, 4.0]
    """
    out = np.array(f, dtype=float)
    if out.size == 0:
        return out
    for r in position_rows(pos) if rows is None else rows:
        out[r] = out[r - 1] * f[r]
    return out


@dataclass(frozen=True, eq=False)
class WeightFit:
    """Per-row weights and the fitted numerator / denominator models behind them."""

    weights: np.ndarray            # treatment x censoring, 0 on censored rows (before_outcome)
    treatment: np.ndarray          # cumulative stabilised treatment weights
    censoring: np.ndarray          # cumulative stabilised censoring weights (1 without censor)
    fits: dict[str, GLMFit]        # "treatment_numerator", "treatment_denominator", ...
    masks: dict[str, np.ndarray]   # rows each model was fitted on
    used: np.ndarray               # rows of the pseudo-population (weight > 0)


def _prob_observed(fit: GLMFit, y: np.ndarray) -> np.ndarray:
    """Fitted probability of the observed ``y`` on the rows the model was fitted on."""
    return np.where(y > 0.5, fit.fitted, 1.0 - fit.fitted)


#: above this many rows a model is first fitted on every 10th row, and Newton's method on
#: all rows starts there (2-3 full-data iterations instead of 5-7; the same maximum)
WARM_START_ROWS = 200_000


def warm_start(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray | None:
    """Coefficients of a fit on every 10th row, to start the full fit (None if small/failed)."""
    if X.shape[0] < WARM_START_ROWS:
        return None
    sub = slice(None, None, 10)
    try:
        return fit_logistic(X[sub], y[sub], None if w is None else w[sub],
                            information=False).coef
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):
        return None


#: designs with at least this many rows are collapsed to their distinct rows when those are
#: few (period, previous treatment and baseline factors: the numerator models and the MSM)
COLLAPSE_MIN_ROWS = 50_000
#: ... and collapsed only when the distinct rows are at most this share of the rows
COLLAPSE_MAX_SHARE = 0.05
#: ... tried only when the first 20,000 rows have at most this share of distinct rows (a
#: continuous covariate: nearly all distinct). Not COLLAPSE_MAX_SHARE: the first rows of a
#: design with period x cumulative-treatment terms already hold most of its few thousand
#: distinct rows (an MSM at 24 periods: ~1,200 in 20,000 rows, ~2,000 in a million)
COLLAPSE_HEAD_SHARE = 0.25


def _distinct_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """First row index of each distinct row of ``X`` and each row's group, if few (else None).

    Rows are keyed by a fixed random projection, and the grouping is verified exactly (a
    projection collision, or more than ``COLLAPSE_MAX_SHARE`` of n distinct rows, gives None).
    """
    n = X.shape[0]
    r = np.random.default_rng(20261207).uniform(0.5, 1.5, X.shape[1])
    head = X[: min(n, 20_000)] @ r
    share = max(COLLAPSE_HEAD_SHARE, COLLAPSE_MAX_SHARE)
    if np.unique(head).size > share * head.size:  # continuous: do not try
        return None
    # hash-based grouping, O(n) (a sort-based np.unique costs seconds at millions of rows)
    inv, uniq = pd.factorize(X @ r)
    if uniq.size > COLLAPSE_MAX_SHARE * n:
        return None
    first = np.empty(uniq.size, dtype=np.int64)
    first[inv[::-1]] = np.arange(n - 1, -1, -1)  # the last write per group is its first row
    if not np.array_equal(X[first][inv], X):
        return None
    return first, inv


def fit_logistic_rows(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, *,
                      start: np.ndarray | None = None, min_rows: int | None = None,
                      **kw: object) -> GLMFit:
    """``fit_logistic`` on a large design, collapsed to its distinct rows when they are few.

    The weighted likelihood of the distinct (row, response) pairs with summed weights is the
    likelihood of the rows, so the maximum and the information ``X' diag(w mu (1 - mu)) X``
    are the same (the returned ``information`` is divided by the original row count and
    ``fitted`` is per original row). Otherwise a plain fit, warm-started on every 10th row.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(3000), rng.integers(0, 3, 3000)])
    >>> y = rng.binomial(1, 0.3 + 0.1 * X[:, 1]).astype(float)
    >>> a = fit_logistic_rows(X, y, min_rows=1000)
    >>> b = fit_logistic(X, y)
    >>> bool(np.allclose(a.coef, b.coef, atol=1e-10)), a.fitted.shape
    (True, (3000,))
    """
    n = X.shape[0]
    min_rows = COLLAPSE_MIN_ROWS if min_rows is None else min_rows
    groups = _distinct_rows(X) if n >= min_rows else None
    if groups is None:
        return fit_logistic(X, y, w, start=start if start is not None else warm_start(X, y, w),
                            **kw)  # type: ignore[arg-type]
    first, inv = groups
    m = first.size
    code = 2 * inv + (y > 0.5)
    cw = np.bincount(code, weights=w, minlength=2 * m)
    keep = cw > 0
    Xc = np.repeat(X[first], 2, axis=0)[keep]
    yc = np.tile([0.0, 1.0], m)[keep]
    fit = fit_logistic(Xc, yc, cw[keep], start=start, **kw)  # type: ignore[arg-type]
    return GLMFit(coef=fit.coef, fitted=expit(X @ fit.coef),
                  information=fit.information * (Xc.shape[0] / n), n_iter=fit.n_iter,
                  family=fit.family)


def _fit(X: np.ndarray, y: np.ndarray, mask: np.ndarray, names: tuple[str, ...] | None,
         func: str, response: str, information: bool) -> GLMFit:
    Xm, ym = (X, y) if mask.all() else (X[mask], y[mask])
    return fit_logistic_rows(Xm, ym, names=names, func=func, response=response,
                             information=information)


def fit_weights(
    a: np.ndarray,
    pos: np.ndarray,
    x_den: np.ndarray,
    x_num: np.ndarray,
    *,
    treat_mask: np.ndarray,
    c: np.ndarray | None = None,
    xc_den: np.ndarray | None = None,
    xc_num: np.ndarray | None = None,
    censor_after_outcome: bool = False,
    names: dict[str, tuple[str, ...]] | None = None,
    func: str = "tv_weights",
    information: bool = True,
) -> WeightFit:
    """Stabilised time-varying treatment (and censoring) weights from pooled logistic models.

    Treatment: on the rows in ``treat_mask`` the factor is ``P(A_k = a_k | numerator) /
    P(A_k = a_k | denominator)``; rows outside it (e.g. already treated under the initiation
    convention) get factor 1. Censoring: the factor is ``P(C_k = 0 | numerator) / P(C_k = 0
    | denominator)`` on uncensored rows; with ``censor_after_outcome=False`` a censored row's
    outcome is unobserved and its weight is 0; with ``True`` the censoring factor of period
    ``k`` applies from period ``k + 1`` on (the censored row keeps its outcome). Each factor
    is multiplied cumulatively within person.
    """
    names = names or {}
    fits: dict[str, GLMFit] = {}
    masks: dict[str, np.ndarray] = {"treatment": treat_mask}
    fd = _fit(x_den, a, treat_mask, names.get("treatment_denominator", ()) or None, func,
              "the treatment (denominator model)", information)
    fn = _fit(x_num, a, treat_mask, names.get("treatment_numerator", ()) or None, func,
              "the treatment (numerator model)", information)
    fits["treatment_denominator"], fits["treatment_numerator"] = fd, fn
    f_a = np.ones(a.size)
    a_m = a[treat_mask]
    f_a[treat_mask] = _prob_observed(fn, a_m) / _prob_observed(fd, a_m)
    rows = position_rows(pos)
    w_a = cumprod_within(f_a, pos, rows)
    w_c = np.ones(a.size)
    used = np.ones(a.size, dtype=bool)
    if c is not None and xc_den is not None and xc_num is not None:
        all_rows = np.ones(a.size, dtype=bool)
        masks["censoring"] = all_rows
        gd = _fit(xc_den, c, all_rows, names.get("censoring_denominator", ()) or None, func,
                  "censoring (denominator model)", information)
        gn = _fit(xc_num, c, all_rows, names.get("censoring_numerator", ()) or None, func,
                  "censoring (numerator model)", information)
        fits["censoring_denominator"], fits["censoring_numerator"] = gd, gn
        f_c = (1.0 - gn.fitted) / (1.0 - gd.fitted)  # P(C = 0) num / den, on every row
        cum = cumprod_within(f_c, pos, rows)
        if censor_after_outcome:
            w_c = cum / f_c  # through the previous period
        else:
            used = c < 0.5
            w_c = np.where(used, cum, 0.0)
    return WeightFit(weights=w_a * w_c, treatment=w_a, censoring=w_c, fits=fits, masks=masks,
                     used=used)


def truncate_weights(w: np.ndarray, used: np.ndarray,
                     quantiles: tuple[float, float]) -> tuple[np.ndarray, float, float, int]:
    """Clip the weights of ``used`` rows at their ``quantiles``; return the count clipped.

    Examples
    --------
    >>> w, lo, hi, k = truncate_weights(np.arange(1.0, 102.0), np.ones(101, bool), (0.01, 0.99))
    >>> lo, hi, k
    (2.0, 100.0, 2)
    """
    lo, hi = np.quantile(w[used], quantiles)
    out = np.where(used, np.clip(w, lo, hi), w)
    return out, float(lo), float(hi), int(((w < lo) | (w > hi))[used].sum())


def weight_summary(w: np.ndarray, period: np.ndarray,
                   used: np.ndarray) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Overall (mean, SD, min, max, Kish ESS) and by-period diagnostics of the weights.

    The by-period table has, per distinct period: rows, mean, SD, min, 1st/25th/50th/75th/99th
    percentiles, max and the ESS ``(sum w)^2 / sum w^2``.

    Examples
    --------
    >>> tot, by = weight_summary(np.array([1.0, 1, 2, 2]), np.array([0, 0, 1, 1]),
    ...                          np.ones(4, bool))
    >>> tot["mean"], by["mean"].tolist(), by["ess"].tolist()
    (1.5, [1.0, 2.0], [2.0, 2.0])
    """
    wu, pu = w[used], period[used]
    total = {"mean": float(wu.mean()), "sd": float(wu.std(ddof=1)) if wu.size > 1 else np.nan,
             "min": float(wu.min()), "max": float(wu.max()),
             "ess": float(wu.sum() ** 2 / (wu ** 2).sum()), "n": float(wu.size)}
    levels, inv, count = np.unique(pu, return_inverse=True, return_counts=True)
    s1 = np.bincount(inv, weights=wu, minlength=levels.size)
    s2 = np.bincount(inv, weights=wu * wu, minlength=levels.size)
    mean = s1 / count
    var = np.where(count > 1, (s2 - count * mean ** 2) / np.maximum(count - 1, 1), np.nan)
    qs = (0, 1, 25, 50, 75, 99, 100)
    # one O(n) partition per period (a loop over periods, not rows); R type-7 quantiles
    pct = np.array([np.percentile(wu[inv == j], qs) for j in range(levels.size)])
    by: dict[str, np.ndarray] = {"period": levels, "n": count, "mean": mean,
                                 "sd": np.sqrt(np.maximum(var, 0.0)), "min": pct[:, 0]}
    for i, q in enumerate(qs[1:-1], start=1):
        by[f"p{q}"] = pct[:, i]
    by["max"] = pct[:, -1]
    by["ess"] = s1 ** 2 / s2
    return total, by


@dataclass(frozen=True, eq=False)
class Prepared:
    """Validated arrays and design matrices of a person-period frame (shared with ``msm``)."""

    frame: pd.DataFrame
    codes: np.ndarray
    pos: np.ndarray
    period: np.ndarray
    a: np.ndarray
    c: np.ndarray | None
    prev: str
    designs: dict[str, Design]
    treat_mask: np.ndarray
    censor_after_outcome: bool
    treatment_rows: str
    n_persons: int


def compute(prep: Prepared, idx: np.ndarray | None = None, *, information: bool = True,
            func: str | None = None) -> WeightFit:
    """The weights of ``prep`` (or of the rows ``idx`` of a cluster-bootstrap resample).

    ``func``: the verb's name, taken in the calling process (a bootstrap replicate may run
    in a worker, where :func:`verb_name` does not know the verb); default the current verb.
    """
    d = prep.designs
    sel = (lambda x: x) if idx is None else (lambda x: x[idx])  # noqa: E731
    pos = prep.pos if idx is None else prep.pos[idx]
    cen = "censoring_denominator" in d
    return fit_weights(
        sel(prep.a), pos, sel(d["treatment_denominator"].X), sel(d["treatment_numerator"].X),
        treat_mask=sel(prep.treat_mask),
        c=sel(prep.c) if cen and prep.c is not None else None,
        xc_den=sel(d["censoring_denominator"].X) if cen else None,
        xc_num=sel(d["censoring_numerator"].X) if cen else None,
        censor_after_outcome=prep.censor_after_outcome,
        names={k: v.names for k, v in d.items()}, func=verb_name(func),
        information=information)
