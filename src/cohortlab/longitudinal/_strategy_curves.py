"""Risk curves under "always" / "never" treated (arrays only).

Two estimators of the cumulative risk by the end of each period under a static strategy:

* :func:`weighted_strategy_risk`: inverse probability weighted Kaplan-Meier (or
  Aalen-Johansen with a competing event) on the person-periods that follow the strategy so
  far (artificial censoring at the first deviation), each person-period ``(k, k + 1]`` an
  interval with delayed entry and its own time-varying weight; the survival package's
  :func:`~cohortlab.survival._counts.risk_counts`, :func:`~cohortlab.survival._km.product_limit`
  and :func:`~cohortlab.survival._aalen_johansen.aalen_johansen` do the counting.
* :func:`cox_standardised_risks`: from a weighted Cox MSM on ``(k, k + 1]`` intervals, the
  Breslow-type (Efron-adjusted, as R ``survfit.coxph``) baseline hazard and the standardised
  ``1 - mean_i exp(-sum_{j<=k} dH0_j exp(x_ij beta))`` on the strategy's grid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..survival import _cox
from ..survival._aalen_johansen import aalen_johansen
from ..survival._counts import risk_counts
from ..survival._km import product_limit
from ._weights import Prepared, compute, truncate_weights

__all__ = ["adherent_rows", "weighted_strategy_risk", "cox_baseline", "cox_standardised_risks",
           "risk_statistic", "strategy_period_counts", "strategy_risks"]


def adherent_rows(a: np.ndarray, pos: np.ndarray, value: float) -> np.ndarray:
    """Rows whose person has had treatment ``value`` in every period so far (this one included).

    Rows of a person are contiguous and in period order (``pos`` 0 on each person's first
    row). The first row with another treatment and every later row of the person are
    "artificially censored".

    Examples
    --------
    >>> a = np.array([1.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    >>> pos = np.array([0, 1, 2, 3, 0, 1])
    >>> adherent_rows(a, pos, 1.0).tolist()
    [True, True, False, False, False, False]
    """
    dev = (a != value).astype(np.int64)
    cs = np.cumsum(dev)
    person = np.cumsum(pos == 0) - 1
    first = np.flatnonzero(pos == 0)
    offset = (cs - dev)[first][person]
    return np.asarray(cs - offset == 0)


def weighted_strategy_risk(k: np.ndarray, w: np.ndarray, event: np.ndarray, n_periods: int,
                           n_causes: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Weighted KM risk (or AJ cumulative incidences) by the end of each period.

    ``k`` (0-based period index), ``w`` (weights, > 0), ``event`` (0, 1 = outcome, 2 =
    competing event) of the person-periods that follow the strategy; each is the interval
    ``(k, k + 1]``, at risk at ``k + 1`` with weight ``w``. Returns the cumulative incidence
    of each cause (``n_periods x n_causes``; ``1 - KM`` for one cause) and the weighted
    number at risk per period. A period nobody is at risk in makes the curve NaN from there.

    Examples
    --------
    >>> k = np.array([0, 1, 0, 0])
    >>> r, y = weighted_strategy_risk(k, np.array([1.0, 1.0, 2.0, 1.0]),
    ...                               np.array([0, 1, 1, 0]), 2)
    >>> r[:, 0].tolist(), y.tolist()
    ([0.5, 1.0], [4.0, 1.0])
    """
    kf = k.astype(float)
    rc = risk_counts(kf + 1.0, event, weights=w, entry=kf, n_causes=n_causes)
    if n_causes == 1:
        inc = (1.0 - product_limit(rc.n_risk, rc.n_event[:, 0]))[:, None]
    else:
        inc = aalen_johansen(rc).cif
    out = np.full((n_periods, n_causes), np.nan)
    n_risk = np.zeros(n_periods)
    at = rc.time.astype(np.int64) - 1
    out[at] = inc
    n_risk[at] = rc.n_risk
    gap = np.flatnonzero(n_risk <= 0)
    if gap.size:
        out[gap[0]:] = np.nan
    return out, n_risk


def cox_baseline(cd: _cox.CoxData, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Event times and baseline hazard increments (at the centred covariates, Efron ties).

    The increments are R ``survfit.coxph``'s with ``ctype = 2`` (Efron) at ``x = center``:
    ``sum_{l<d} wbar / (S0 - l/d E0)`` over the ``d`` tied events of each time, with
    ``wbar`` their mean weight and ``E0`` their weighted risk.
    """
    st = cd.strata[0]
    xs = cd.x[st.sl]
    tt = _cox.time_terms(st, xs, st.weight * np.exp(xs @ beta), True)
    return st.event_times, tt.q01


def cox_standardised_risks(beta: np.ndarray, center: np.ndarray, times: np.ndarray,
                           dh: np.ndarray, xs: np.ndarray, counts: np.ndarray, p0: int,
                           n_periods: int) -> np.ndarray:
    """Standardised risk by the end of each period under one strategy from a Cox MSM.

    ``xs`` is the MSM design on the grid (``m`` rows of baseline covariates x ``n_periods``,
    row-major), ``counts`` the number of persons of each of the ``m`` rows; the event at the
    end of period ``p0 + j`` is at time ``p0 + j + 1``. Per grid row ``S_i(k) = exp(-sum_{j<=k}
    dH0_j exp((x_ij - center) beta))`` (R ``survfit(coxph, newdata)``); the risk is the
    ``counts``-weighted mean of ``1 - S_i(k)``.

    Examples
    --------
    >>> xs = np.array([[0.0], [0.0], [1.0], [1.0]])  # two rows, two periods
    >>> r = cox_standardised_risks(np.array([np.log(2.0)]), np.array([0.0]),
    ...                            np.array([1.0, 2.0]), np.array([0.1, 0.1]), xs,
    ...                            np.array([1.0, 1.0]), 0, 2)
    >>> np.round(r, 4).tolist()
    [0.1382, 0.2555]
    """
    m = xs.shape[0] // n_periods
    inc = np.zeros(n_periods)
    j = times.astype(np.int64) - 1 - p0
    ok = (j >= 0) & (j < n_periods)
    np.add.at(inc, j[ok], dh[ok])
    eta = ((xs - center) @ beta).reshape(m, n_periods)
    cum = np.cumsum(inc[None, :] * np.exp(eta), axis=1)
    risk = -np.expm1(-cum)
    return np.asarray(counts @ risk / counts.sum())


# ---------------------------------------------------------------------- strategy_curves
def strategy_risks(k: np.ndarray, w: np.ndarray, code: np.ndarray,
                   masks: Sequence[np.ndarray], n_per: int,
                   n_causes: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Outcome risk per period of each strategy (concatenated) and the weighted at-risk.

    ``k`` is each row's period index (0-based), ``code`` its event (1 outcome, 2 competing,
    0 none) and ``masks`` the rows following each strategy; rows with weight 0 are left out.
    """
    out, at_risk = [], []
    for m in masks:
        r = m & (w > 0)
        inc, y = weighted_strategy_risk(k[r], w[r], code[r], n_per, n_causes)
        out.append(inc[:, 0])
        at_risk.append(y)
    return np.concatenate(out), at_risk


def strategy_period_counts(pos: np.ndarray, k: np.ndarray, w: np.ndarray, code: np.ndarray,
                           masks: Sequence[np.ndarray],
                           n_per: int) -> list[dict[str, np.ndarray]]:
    """Per strategy (one dict each) and period: counts of the rows following it.

    ``n_risk`` (rows following it), ``weighted_n_risk``, ``n_event``, ``n_competing``,
    ``n_deviate`` (artificially censored: treatment differs from the strategy) and ``ess``.
    """
    out = []
    prev_ok = np.ones(k.size, dtype=bool)
    for m in masks:
        prev_ok[:] = True
        prev_ok[1:] = np.where(pos[1:] > 0, m[:-1], True)
        r = m & (w > 0)
        dev = prev_ok & ~m

        def count(sel: np.ndarray, wt: np.ndarray | None = None) -> np.ndarray:
            return np.bincount(k[sel], weights=None if wt is None else wt[sel],
                               minlength=n_per)
        sw, sw2 = count(r, w), count(r, w * w)
        out.append({
            "n_risk": count(r), "weighted_n_risk": sw, "n_event": count(r & (code == 1)),
            "n_competing": count(r & (code == 2)), "n_deviate": count(dev),
            "ess": np.divide(sw * sw, sw2, out=np.zeros(n_per), where=sw2 > 0)})
    return out


def risk_statistic(prep: Prepared, k: np.ndarray, code: np.ndarray,
                   masks: Sequence[np.ndarray], n_per: int, n_causes: int,
                   truncate: tuple[float, float] | None,
                   func: str) -> Callable[[np.ndarray], np.ndarray]:
    """Both strategies' risks on a person-bootstrap resample (weights re-estimated).

    ``func``: the verb's name, taken in the calling process (a replicate may run in a worker
    process).
    """
    def stat(idx: np.ndarray) -> np.ndarray:
        wf = compute(prep, idx, information=False, func=func)
        w = wf.weights
        if truncate is not None:
            w = truncate_weights(w, wf.used, truncate)[0]
        return strategy_risks(k[idx], w, code[idx], [m[idx] for m in masks], n_per,
                              n_causes)[0]
    return stat
