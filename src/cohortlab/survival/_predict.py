"""Predicted survival curves from a fitted Cox model (R ``survfit.coxph`` for new data)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError
from ..results.curve import Curve
from ._cox import time_terms
from ._km import km_conf_int

if TYPE_CHECKING:
    from .cox import CoxResult

__all__ = ["predict_survival", "baseline_hazard"]


def baseline_hazard(res: CoxResult) -> dict[Any, dict[str, np.ndarray]]:
    """Per stratum: event times and the baseline hazard increments at x = centre.

    Also the variance increments ``sum wt/den^2`` and the hazard-weighted covariate means.
    """
    st_all = res._state()
    beta = st_all.fit.beta
    out: dict[Any, dict[str, np.ndarray]] = {}
    for k, st in enumerate(st_all.cd.strata):
        xs = st_all.cd.x[st.sl]
        tt = time_terms(st, xs, st.weight * np.exp(xs @ beta), st_all.efron)
        label = st_all.strata_levels[k] if st_all.strata_levels else None
        n_risk = st.time.size - np.searchsorted(st.time, st.event_times, side="left")
        if st.entry is not None:
            n_risk -= st.entry.size - np.searchsorted(np.sort(st.entry), st.event_times,
                                                      side="left")
        out[label] = dict(time=st.event_times, dh=tt.q01, dvar=tt.q02,
                          hx=tt.hazard_xbar()[0], n_risk=n_risk, n_event=st.d_count)
    return out


def predict_survival(res: CoxResult, newdata: pd.DataFrame, conf_type: str) -> Curve:
    """One survival curve per row of ``newdata`` with Tsiatis' variance (see CoxResult)."""
    st_all = res._state()
    try:
        x_new = st_all.design.matrix(newdata) - st_all.cd.center
    except Exception as exc:  # formulaic raises on a missing column or unseen level
        raise DataValidationError(
            f"predict_survival(): could not build the covariates of newdata; got "
            f"{type(exc).__name__}: {exc}. newdata needs the model's covariate columns.") from exc
    base = baseline_hazard(res)
    if st_all.strata_col is not None:
        if st_all.strata_col not in newdata.columns:
            raise DataValidationError(
                f"predict_survival(): the model is stratified by {st_all.strata_col!r}; newdata "
                "needs that column to pick each row's baseline hazard.")
        labels = newdata[st_all.strata_col].tolist()
    else:
        labels = [None] * len(newdata)
    frames = []
    for i, (idx, lab) in enumerate(zip(newdata.index, labels, strict=True)):
        if lab not in base:
            raise DataValidationError(
                f"predict_survival(): stratum {lab!r} of newdata row {idx!r} is not in the "
                f"fitted model (strata: {list(base)}).")
        b = base[lab]
        r = float(np.exp(x_new[i] @ st_all.fit.beta))
        cum_h = np.cumsum(b["dh"])
        cum_var = np.cumsum(b["dvar"])
        q = x_new[i][None, :] * cum_h[:, None] - np.cumsum(b["hx"], axis=0)
        var_l = r**2 * (cum_var + np.einsum("ij,jk,ik->i", q, res.vcov_model, q))
        lam = r * cum_h
        surv = np.exp(-lam)
        se_l = np.sqrt(var_l)
        lo, hi = km_conf_int(surv, se_l, conf_type, res.conf_level, log_se=True)
        frames.append(pd.DataFrame({
            "time": b["time"], "group": str(idx), "cause": None, "n_risk": b["n_risk"],
            "n_event": b["n_event"], "n_censor": 0, "estimate": surv,
            "std_error": surv * se_l, "conf_low": lo, "conf_high": hi,
            "conf_level": res.conf_level, "cumulative_hazard": lam,
        }))
    data = pd.concat(frames, ignore_index=True)
    return Curve(data=data, measure="survival", method="cox_predicted", conf_type=conf_type,
                 conf_level=res.conf_level, ci_method="wald_model", n=res.n,
                 n_events=res.n_events,
                 notes=("Tsiatis variance: baseline hazard and coefficient uncertainty.",))

