"""One group's Kaplan-Meier or Aalen-Johansen estimates, SEs and intervals (arrays only).

The numbers of ``kaplan_meier`` and ``cumulative_incidence`` for one group's rows (sorted by
time, :class:`~cohortlab.survival._prepare.GroupArrays`): the risk-set counts, the curve,
its variance (Greenwood, Aalen or the infinitesimal jackknife, plus the estimated propensity
score's term with ``ps``) and the pointwise interval. The verbs turn them into columns
(:func:`~cohortlab.survival._prepare.curve_columns`) and build the result.
"""

from __future__ import annotations

import numpy as np

from ._aalen_johansen import aalen_johansen, aalen_variance, cif_conf_int, ij_variance
from ._counts import RiskCounts
from ._km import greenwood_se, km_conf_int, km_ij_variance, product_limit
from ._prepare import GroupArrays, count_pair
from ._psvar import PSNuisance
from ._psvar_curves import aj_linear, km_linear, ps_curve_variance

__all__ = ["Estimates", "km_estimates", "cif_estimates"]

#: A curve's estimate, standard error and interval limits.
Estimates = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def km_estimates(g: GroupArrays, variance: str, conf_type: str, conf_level: float,
                 ps: tuple[PSNuisance, np.ndarray] | None = None
                 ) -> tuple[RiskCounts, RiskCounts, Estimates]:
    """Weighted and unweighted counts and the Kaplan-Meier curve of one group.

    ``variance`` is ``"greenwood"`` or the infinitesimal jackknife (any other value); ``ps``
    the stacked-variance nuisance and the group's rows in it.
    """
    t, e, w, t0 = g.time, g.event, g.weights, g.entry
    rc, plain = count_pair(t, e, w, t0)
    y, d = rc.n_risk, rc.n_event[:, 0]
    surv = product_limit(y, d)
    if variance == "greenwood":
        se = greenwood_se(surv, y, d)
    else:
        ww = np.ones(t.size) if w is None else w
        var = km_ij_variance(rc.time, y, d, surv, t, e, ww, t0)
        if ps is not None:
            nuis, pos = ps
            extra = ps_curve_variance(
                lambda f: km_linear(rc.time, y, d, surv, t, e, t0, f), nuis, pos, ww)
            var = np.maximum(var + extra, 0.0)
        se = np.sqrt(var)
    lo, hi = km_conf_int(surv, se, conf_type, conf_level)
    return rc, plain, (surv, se, lo, hi)


def cif_estimates(g: GroupArrays, causes: list[int], variance: str, conf_type: str,
                  conf_level: float, ps: tuple[PSNuisance, np.ndarray] | None = None
                  ) -> tuple[RiskCounts, RiskCounts, list[Estimates]]:
    """Weighted and unweighted counts and one Aalen-Johansen CIF per cause of one group.

    The rows come sorted by time, so each row's exit index is a running count of distinct
    times. ``variance`` is ``"aalen"`` or the infinitesimal jackknife (any other value).
    """
    t, e, w, t0 = g.time, g.event, g.weights, g.entry
    n_causes = max(int(e.max(initial=0)), max(causes))  # every code present gets a column
    rc, plain = count_pair(t, e, w, t0, n_causes=n_causes)
    aj = aalen_johansen(rc)
    if variance == "aalen":
        var = aalen_variance(aj)
    else:
        exit_idx = np.concatenate([[0], np.cumsum(t[1:] != t[:-1])])
        entry_idx = None if t0 is None else np.searchsorted(rc.time, t0, side="right")
        ww = np.ones(t.size) if w is None else w
        var = ij_variance(aj, exit_idx, e, ww, entry_idx)
        if ps is not None:  # the estimated propensity score (stacked M-estimation)
            nuis, pos = ps
            extra = ps_curve_variance(lambda f: aj_linear(aj, exit_idx, e, f, entry_idx),
                                      nuis, pos, ww)
            var = np.maximum(var + extra, 0.0)
    out = []
    for k in causes:
        est, se = aj.cif[:, k - 1], np.sqrt(var[:, k - 1])
        lo, hi = cif_conf_int(est, se, conf_type, conf_level)
        out.append((est, se, lo, hi))
    return rc, plain, out
