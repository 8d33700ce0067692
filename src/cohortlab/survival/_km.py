"""Array kernels behind ``kaplan_meier`` and ``rmst`` (numpy only, no pandas).

Every kernel works on the distinct-time grid of :func:`~cohortlab.survival._counts.risk_counts`
and on per-subject positions in that grid (``np.searchsorted``): sort once, cumulative sums,
``np.bincount``; no loop over rows or over event times.

Notation: at the distinct times ``t_j`` the weighted number at risk is ``Y_j`` and the weighted
number of events ``d_j``; ``S`` is the product-limit estimate. A subject ``i`` with weight
``w_i``, entry ``E_i`` (``-inf`` without left truncation), exit ``T_i`` and event indicator
``delta_i`` is at risk at ``t_j`` when ``E_i < t_j <= T_i``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..inference.wald import z_critical

__all__ = [
    "product_limit",
    "greenwood_log_var",
    "km_ij_variance",
    "greenwood_se",
    "greenwood_curve",
    "km_conf_int",
    "rmst_from_curve",
    "rmst_greenwood_var",
    "rmst_ij_variance",
    "censoring_survival",
]


def _jump_terms(n_risk: np.ndarray, n_event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a_j = d_j / (Y_j (Y_j - d_j))`` and ``b_j = 1 / (Y_j - d_j)`` at times with events.

    Where everyone at risk has the event (``Y_j = d_j``, the curve drops to 0) both are set to
    0: from then on ``S = 0`` and the terms never matter (the caller sets the variance to 0 or
    NaN there explicitly).
    """
    jump = (n_event > 0) & (n_risk > 0)
    left = n_risk - n_event
    ok = jump & (left > 0)
    safe = np.where(ok, left, 1.0)
    a = np.where(ok, n_event / (np.where(ok, n_risk, 1.0) * safe), 0.0)
    b = np.where(ok, 1.0 / safe, 0.0)
    return a, b


def product_limit(n_risk: np.ndarray, n_event: np.ndarray) -> np.ndarray:
    """Kaplan-Meier ``S(t_j) = prod_{k <= j} (1 - d_k / Y_k)`` on the distinct-time grid.

    Examples
    --------
    >>> product_limit(np.array([4.0, 3.0, 1.0]), np.array([0.0, 2.0, 0.0])).tolist()
    [1.0, 0.3333333333333333, 0.3333333333333333]
    """
    jump = (n_event > 0) & (n_risk > 0)
    factor = np.where(jump, 1.0 - n_event / np.where(jump, n_risk, 1.0), 1.0)
    return np.cumprod(factor)


def greenwood_log_var(n_risk: np.ndarray, n_event: np.ndarray) -> np.ndarray:
    """Greenwood's variance of ``log S(t_j)``: ``sum_{k <= j} d_k / (Y_k (Y_k - d_k))``.

    The sum is ``inf`` from a time where everyone at risk has the event (as in R).

    Examples
    --------
    >>> greenwood_log_var(np.array([4.0, 3.0]), np.array([1.0, 1.0])).round(4).tolist()
    [0.0833, 0.25]
    """
    a, _ = _jump_terms(n_risk, n_event)
    dead_end = (n_event > 0) & (n_risk > 0) & (n_risk - n_event <= 0)
    return np.where(np.cumsum(dead_end) > 0, np.inf, np.cumsum(a))


def greenwood_se(surv: np.ndarray, n_risk: np.ndarray, n_event: np.ndarray) -> np.ndarray:
    """Greenwood SE of ``S`` (``S sqrt(greenwood_log_var)``); NaN where the curve is 0 (as R).

    Examples
    --------
    >>> y, d = np.array([4.0, 3.0]), np.array([1.0, 1.0])
    >>> greenwood_se(product_limit(y, d), y, d).round(4).tolist()
    [0.2165, 0.25]
    """
    with np.errstate(invalid="ignore"):
        se = np.where(surv > 0, surv * np.sqrt(greenwood_log_var(n_risk, n_event)), np.nan)
    return np.where(np.isfinite(se), se, np.nan)


def _grid_positions(
    grid: np.ndarray, time: np.ndarray, entry: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each subject's exit index in ``grid`` and its number of grid times ``<= entry``.

    ``grid`` holds the distinct exit times; for rows sorted by time (as the public functions
    pass them) the exit index is a running count of new values, otherwise a binary search.
    """
    if time.size and grid.size == np.count_nonzero(np.diff(time)) + 1 and (
            time.size < 2 or bool(np.all(time[1:] >= time[:-1]))):
        exit_idx = np.concatenate([[0], np.cumsum(time[1:] != time[:-1])])
    else:
        exit_idx = np.searchsorted(grid, time, side="left")
    if entry is None:
        return exit_idx, np.zeros(time.size, dtype=np.intp)
    if grid.size < 2**16:  # a small grid stays in cache: search directly
        return exit_idx, np.searchsorted(grid, entry, side="right")
    order = np.argsort(entry)  # sorted queries: several times faster on a large grid
    n_le_entry = np.empty(entry.size, dtype=np.intp)
    n_le_entry[order] = np.searchsorted(grid, entry[order], side="right")
    return exit_idx, n_le_entry


def _subject_terms(
    grid: np.ndarray,
    n_risk: np.ndarray,
    n_event: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    entry: np.ndarray | None,
    score: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cumulated KM influence pieces shared by the survival and the RMST IJ variances.

    With ``score`` (one value per grid time, default 1) let ``C(s) = sum_{t_j <= s} a_j
    score_j``. Returns ``(C on the grid, C(E_i), c_i, positions)`` where ``c_i = C(T_i) -
    C(E_i) - delta_i b(T_i) score(T_i)`` is subject ``i``'s whole-path value and positions are
    ``(exit_idx, entry_count)``.
    """
    a, b = _jump_terms(n_risk, n_event)
    sc = np.ones(grid.size) if score is None else score
    cum = np.concatenate([[0.0], np.cumsum(a * sc)])
    exit_idx, n_le_entry = _grid_positions(grid, time, entry)
    c_entry = cum[n_le_entry]
    c_i = cum[exit_idx + 1] - c_entry - (event > 0) * (b * sc)[exit_idx]
    return cum[1:], c_entry, c_i, np.stack([exit_idx, n_le_entry])


def km_ij_variance(
    grid: np.ndarray,
    n_risk: np.ndarray,
    n_event: np.ndarray,
    surv: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    weights: np.ndarray,
    entry: np.ndarray | None = None,
) -> np.ndarray:
    """Infinitesimal-jackknife variance of the product-limit ``S(t_j)`` (R's robust survfit).

    Subject ``i``'s influence on ``S(t)`` (per unit of its weight) is, from R's recursion
    ``U_j = U_{j-1}(1 - h_j) + S_{j-1}(Y_i(t_j) h_j - dN_i(t_j)) / Y_j`` divided by ``S_j``,

        ``U_i(t) = S(t) [ sum_{E_i < t_j <= min(t, T_i)} a_j - delta_i 1{T_i <= t} b(T_i) ]``

    with ``a_j = d_j / (Y_j (Y_j - d_j))`` and ``b_j = 1 / (Y_j - d_j)``; the variance is
    ``sum_i w_i^2 U_i(t)^2``. Subjects with ``T_i <= t`` have a fixed bracket ``c_i``: a
    cumulative sum over exit order. Subjects still at risk after ``t`` have bracket ``A(t) -
    A(E_i)``: expanded as ``A^2 W_0 - 2 A W_1 + W_2`` with ``W_k = sum w_i^2 A(E_i)^k`` over
    those entered before ``t`` and not yet out. O(n log n) overall. With weights 1, no left
    truncation and distinct subjects it equals Greenwood's variance exactly.

    Examples
    --------
    >>> t = np.array([1.0, 2.0, 2.0, 3.0]); e = np.array([1, 1, 0, 1])
    >>> y, d = np.array([4.0, 3.0, 1.0]), np.array([1.0, 1.0, 1.0])
    >>> s = product_limit(y, d)
    >>> np.sqrt(km_ij_variance(np.array([1.0, 2.0, 3.0]), y, d, s, t, e, np.ones(4))).round(4)
    array([0.2165, 0.25  , 0.    ])
    """
    m = grid.size
    a_cum, c_entry, c_i, (exit_idx, n_le_entry) = _subject_terms(
        grid, n_risk, n_event, time, event, entry)
    w2 = weights * weights
    done = np.cumsum(np.bincount(exit_idx, weights=w2 * c_i * c_i, minlength=m))
    if entry is None:
        alive_w0 = np.cumsum(np.bincount(exit_idx, weights=w2, minlength=m)[::-1])[::-1]
        alive = np.concatenate([alive_w0[1:], [0.0]]) * a_cum * a_cum
    else:
        parts = []
        for f in (w2, w2 * c_entry, w2 * c_entry * c_entry):
            entered = np.cumsum(np.bincount(n_le_entry, weights=f, minlength=m + 1)[:m])
            out = np.cumsum(np.bincount(exit_idx, weights=f, minlength=m))
            parts.append(entered - out)
        alive = a_cum * a_cum * parts[0] - 2.0 * a_cum * parts[1] + parts[2]
    var = surv * surv * np.maximum(done + alive, 0.0)
    return np.where(surv > 0, var, 0.0)


def km_conf_int(
    surv: np.ndarray,
    se: np.ndarray,
    conf_type: str,
    conf_level: float,
    *,
    log_se: bool = False,
    point_at_zero: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise interval for a probability ``S`` from its SE, as R's ``survfit_confint``.

    The one interval transform of the survival curves: Kaplan-Meier, Aalen-Johansen CIFs
    (:func:`~cohortlab.survival._aalen_johansen.cif_conf_int`) and Cox predicted survival.
    With ``s`` the SE of ``log S`` (``se / S``; ``se`` itself with ``log_se=True``, R's
    ``logse=TRUE``, where ``se`` is the SE of the cumulative hazard): ``"log"``:
    ``S exp(-/+ z s)``, upper limit capped at 1; ``"log-log"``: ``S^exp(-/+ z s / log S)``;
    ``"plain"``: ``S -/+ z se(S)`` clipped to [0, 1]. Where the SE is 0 the interval is the
    point; where ``S = 0`` (log, log-log), ``S = 1`` with a positive SE (log-log), or the SE
    is not finite, the limits are NaN (R: NA). ``point_at_zero=True`` (a CIF before the
    first event of its cause) gives the point also where ``S = 0`` with SE 0.

    Examples
    --------
    >>> lo, hi = km_conf_int(np.array([0.5]), np.array([0.1]), "log", 0.95)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.3379, 0.74)
    >>> lo, hi = km_conf_int(np.array([0.5]), np.array([0.2]), "log", 0.95, log_se=True)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.3379, 0.74)
    """
    z = z_critical(conf_level)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if log_se:
            se_log, se = se, surv * se
        else:
            se_log = np.where(se == 0, 0.0, se / surv)
        if conf_type == "plain":
            lo = np.maximum(surv - z * se, 0.0)
            hi = np.minimum(surv + z * se, 1.0)
        elif conf_type == "log":
            ok = surv > 0
            lo = np.where(ok, surv * np.exp(-z * se_log), np.nan)
            hi = np.where(ok, np.minimum(surv * np.exp(z * se_log), 1.0), np.nan)
        elif conf_type == "log-log":
            ok = (surv > 0) & (surv < 1)
            lg = np.where(ok, np.log(surv), -1.0)
            half = z * se_log / lg
            theta = np.log(-lg)
            lo = np.where(ok, np.exp(-np.exp(theta - half)), np.nan)
            hi = np.where(ok, np.exp(-np.exp(theta + half)), np.nan)
        else:  # pragma: no cover - validated by the caller
            raise ValueError(f"km_conf_int(): unknown conf_type {conf_type!r}.")
    # SE 0: the point itself, except where S = 0 on the log scales (R 3.5: NA there too)
    zero = (se == 0) & ((surv > 0) | (conf_type == "plain") | point_at_zero)
    bad = ~np.isfinite(se)
    lo = np.where(zero, surv, np.where(bad, np.nan, lo))
    hi = np.where(zero, surv, np.where(bad, np.nan, hi))
    return lo, hi


def greenwood_curve(n_risk: np.ndarray, n_event: np.ndarray, conf_type: str, conf_level: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unweighted Kaplan-Meier ``(S, se, lower, upper)`` with the Greenwood SE, from the counts.

    Examples
    --------
    >>> s, se, lo, hi = greenwood_curve(np.array([4.0, 3.0]), np.array([1.0, 1.0]), "log", 0.95)
    >>> s.tolist(), round(float(lo[1]), 4)
    ([0.75, 0.5], 0.1877)
    """
    surv = product_limit(n_risk, n_event)
    se = greenwood_se(surv, n_risk, n_event)
    lo, hi = km_conf_int(surv, se, conf_type, conf_level)
    return surv, se, lo, hi


def rmst_from_curve(grid: np.ndarray, surv: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
    """Area under the KM step function on ``[0, tau]``, and the area from each time to tau.

    The second value, ``A_j``, is the area from ``t_j`` to ``tau`` (0 for ``t_j > tau``).
    The curve is 1 before the first grid time; times before 0 do not occur (checked upstream).

    Examples
    --------
    >>> area, tail = rmst_from_curve(np.array([1.0, 2.0]), np.array([0.5, 0.25]), 3.0)
    >>> area, tail.tolist()
    (1.75, [0.75, 0.25])
    """
    knots = np.concatenate([[0.0], np.minimum(grid, tau), [tau]])
    level = np.concatenate([[1.0], surv])
    pieces = np.diff(knots) * level  # area of each step, zero beyond tau
    total = float(pieces.sum())
    # area from t_j to tau = sum of the pieces at and after step j (step j starts at t_j)
    tail = np.cumsum(pieces[::-1])[::-1][1:]
    return total, np.where(grid <= tau, tail, 0.0)


def rmst_greenwood_var(
    grid: np.ndarray, n_risk: np.ndarray, n_event: np.ndarray, tail: np.ndarray, tau: float
) -> float:
    """``sum_{t_j <= tau} A_j^2 d_j / (Y_j (Y_j - d_j))`` (survRM2; 0 where ``Y_j = d_j``).

    Examples
    --------
    >>> rmst_greenwood_var(np.array([1.0]), np.array([2.0]), np.array([1.0]),
    ...                    np.array([0.5]), 2.0)
    0.125
    """
    a, _ = _jump_terms(n_risk, n_event)
    inside = grid <= tau
    return float(np.sum((tail * tail * a)[inside]))


def rmst_ij_variance(
    grid: np.ndarray,
    n_risk: np.ndarray,
    n_event: np.ndarray,
    tail: np.ndarray,
    tau: float,
    time: np.ndarray,
    event: np.ndarray,
    weights: np.ndarray,
    entry: np.ndarray | None = None,
) -> float:
    """Infinitesimal-jackknife variance of the RMST: ``sum_i w_i^2 psi_i^2``.

    Integrating the KM influence (see :func:`km_ij_variance`) over ``[0, tau]`` gives
    ``psi_i = sum_{E_i < t_j <= min(T_i, tau)} a_j A_j - delta_i 1{T_i <= tau} b(T_i) A(T_i)``
    with ``A_j`` the area under ``S`` from ``t_j`` to ``tau``: one cumulative sum.

    Examples
    --------
    >>> t = np.array([1.0, 2.0, 3.0]); e = np.array([1, 1, 0])
    >>> y, d = np.array([3.0, 2.0, 1.0]), np.array([1.0, 1.0, 0.0])
    >>> area, tail = rmst_from_curve(t, product_limit(y, d), 2.5)
    >>> v_ij = rmst_ij_variance(t, y, d, tail, 2.5, t, e, np.ones(3))
    >>> bool(np.isclose(v_ij, rmst_greenwood_var(t, y, d, tail, 2.5)))
    True
    """
    score = np.where(grid <= tau, tail, 0.0)
    _, _, c_i, _ = _subject_terms(grid, n_risk, n_event, np.minimum(time, tau),
                                  np.where(time <= tau, event, 0), entry, score=score)
    # subjects entering at or after tau have no influence (empty sums)
    if entry is not None:
        c_i = np.where(entry < tau, c_i, 0.0)
    return float(np.sum(weights * weights * c_i * c_i))


def censoring_survival(t: np.ndarray, codes: np.ndarray, w: np.ndarray | None = None
                        ) -> Callable[[np.ndarray], np.ndarray]:
    """``t -> G(t-)``: Kaplan-Meier of the censoring times, events before censorings at ties.

    ``codes`` are the event codes (0 = censored, any other code an event); ``w`` optional case
    weights. The Fine-Gray weight of a subject with a competing event at ``T`` is
    ``G(t-) / G(T-)`` (:func:`~cohortlab.survival._cox_data.prepare`).

    Examples
    --------
    >>> g = censoring_survival(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 1, 0, 2]))
    >>> g(np.array([1.0, 2.0, 4.0])).tolist()
    [1.0, 0.75, 0.375]
    """
    # one pass of counts (as risk_counts' for the censoring and the any-event indicators)
    times, inv = np.unique(t, return_inverse=True)
    m = times.size
    ww = np.ones(t.size) if w is None else np.asarray(w, dtype=float)
    cens = codes == 0
    n_cens = np.bincount(inv[cens], weights=ww[cens], minlength=m)
    n_events_any = np.bincount(inv[~cens], weights=ww[~cens], minlength=m)
    at_risk = np.cumsum(np.bincount(inv, weights=ww, minlength=m)[::-1])[::-1] - n_events_any
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, n_cens / at_risk, 0.0)
    g = np.cumprod(1 - hazard)

    def g_minus(x: np.ndarray) -> np.ndarray:
        return np.concatenate([[1.0], g])[np.searchsorted(times, x, side="left")]

    return g_minus
