"""Predicted survival curves from a fitted Cox model (R ``survfit.coxph`` for new data)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._typing import ConfType
from ..exceptions import DataValidationError
from ..results.curve import Curve
from ._cox import time_terms
from ._km import km_conf_int

if TYPE_CHECKING:
    from .cox import CoxResult

__all__ = ["predict_survival", "predict_risk", "linear_predictor", "baseline_hazard"]


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


def _new_design(res: CoxResult, newdata: pd.DataFrame, func: str) -> np.ndarray:
    """Centred covariate rows of ``newdata`` (the fit's centring)."""
    st_all = res._state()
    try:
        return st_all.design.matrix(newdata) - st_all.cd.center
    except Exception as exc:  # formulaic raises on a missing column or unseen level
        raise DataValidationError(
            f"{func}(): could not build the covariates of newdata; got "
            f"{type(exc).__name__}: {exc}. newdata needs the model's covariate columns.") from exc


def _strata_of(res: CoxResult, newdata: pd.DataFrame, base: dict[Any, Any], func: str
               ) -> np.ndarray:
    """Each newdata row's stratum label (object array; None when unstratified)."""
    st_all = res._state()
    if st_all.strata_col is None:
        return np.full(len(newdata), None, dtype=object)
    if st_all.strata_col not in newdata.columns:
        raise DataValidationError(
            f"{func}(): the model is stratified by {st_all.strata_col!r}; newdata needs that "
            "column to pick each row's baseline hazard.")
    labels = newdata[st_all.strata_col].to_numpy(dtype=object)
    unknown = [lab for lab in dict.fromkeys(labels.tolist()) if lab not in base]
    if unknown:
        raise DataValidationError(
            f"{func}(): stratum {unknown[0]!r} of newdata is not in the fitted model; got "
            f"strata {list(base)}. Predict only for strata the model was fitted on.")
    return labels


def linear_predictor(res: CoxResult, newdata: pd.DataFrame, centered: bool) -> np.ndarray:
    """``x'beta`` of each newdata row (centred at the fit's covariate means if asked)."""
    st_all = res._state()
    x = _new_design(res, newdata, "predict_lp")
    if not centered:
        x = x + st_all.cd.center
    return x @ st_all.fit.beta


def _cumulative(b: dict[str, np.ndarray], x: np.ndarray, beta: np.ndarray, vcov: np.ndarray | None,
                with_var: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Cumulative hazards (rows x event times) and, optionally, Tsiatis' variances.

    ``var Lambda_i(t) = r_i^2 [sum dvar + q_i(t)' V q_i(t)]`` with ``q_i(t) = x_i H(t) -
    Hx(t)``, expanded into matrix products (no loop over rows or times).
    """
    r = np.exp(x @ beta)
    cum_h = np.cumsum(b["dh"])
    lam = r[:, None] * cum_h[None, :]
    if not with_var:
        return lam, None
    assert vcov is not None  # a fitted Cox model keeps its model-based covariance
    hx = np.cumsum(b["hx"], axis=0)  # times x p
    xv = x @ vcov
    quad = (np.einsum("ij,ij->i", xv, x)[:, None] * cum_h[None, :] ** 2
            - 2.0 * cum_h[None, :] * (xv @ hx.T)
            + np.einsum("tj,jk,tk->t", hx, vcov, hx)[None, :])
    var = r[:, None] ** 2 * (np.cumsum(b["dvar"])[None, :] + quad)
    return lam, np.maximum(var, 0.0)


def predict_risk(res: CoxResult, newdata: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """``1 - S(t | x)`` for each newdata row (rows) at each of ``times`` (columns)."""
    st_all = res._state()
    x = _new_design(res, newdata, "predict_risk")
    base = baseline_hazard(res)
    labels = _strata_of(res, newdata, base, "predict_risk")
    out = np.empty((len(newdata), times.size))
    for lab, b in base.items():
        rows = np.flatnonzero(labels == lab) if st_all.strata_col else np.arange(len(newdata))
        if rows.size == 0:
            continue
        lam, _ = _cumulative(b, x[rows], st_all.fit.beta, res.vcov_model, False)
        pos = np.searchsorted(b["time"], times, side="right") - 1
        at = np.where(pos[None, :] >= 0, lam[:, np.maximum(pos, 0)], 0.0)
        out[rows] = -np.expm1(-at)
    return out


def predict_survival(res: CoxResult, newdata: pd.DataFrame, conf_type: ConfType) -> Curve:
    """One survival curve per row of ``newdata`` with Tsiatis' variance (see CoxResult).

    Curves are labelled by the newdata index (``"row i"`` when the index has duplicates) and
    kept in newdata order (the group column is categorical in that order).
    """
    st_all = res._state()
    x = _new_design(res, newdata, "predict_survival")
    base = baseline_hazard(res)
    labels = _strata_of(res, newdata, base, "predict_survival")
    names = ([str(i) for i in newdata.index] if newdata.index.is_unique
             else [f"row {i}" for i in range(len(newdata))])
    parts: list[tuple[np.ndarray, pd.DataFrame]] = []
    for lab, b in base.items():
        rows = np.flatnonzero(labels == lab) if st_all.strata_col else np.arange(len(newdata))
        if rows.size == 0:
            continue
        lam, var = _cumulative(b, x[rows], st_all.fit.beta, res.vcov_model, True)
        surv = np.exp(-lam)
        se_l = np.sqrt(var)  # type: ignore[arg-type]
        lo, hi = km_conf_int(surv.ravel(), se_l.ravel(), conf_type, res.conf_level, log_se=True)
        k, n_t = rows.size, b["time"].size
        parts.append((rows, pd.DataFrame({
            "time": np.tile(b["time"], k), "group": np.repeat(np.asarray(names)[rows], n_t),
            "cause": None, "n_risk": np.tile(b["n_risk"], k),
            "n_event": np.tile(b["n_event"], k), "n_censor": 0, "estimate": surv.ravel(),
            "std_error": (surv * se_l).ravel(), "conf_low": lo, "conf_high": hi,
            "conf_level": res.conf_level, "cumulative_hazard": lam.ravel(),
        })))
    if len(parts) > 1:  # strata: back to newdata order
        order = np.argsort(np.concatenate([np.repeat(r, len(f) // r.size) for r, f in parts]),
                           kind="stable")
        data = pd.concat([f for _, f in parts], ignore_index=True).iloc[order]
    else:
        data = parts[0][1]
    data["group"] = pd.Categorical(data["group"], categories=names)
    return Curve(data=data.reset_index(drop=True), measure="survival", method="cox_predicted",
                 conf_type=conf_type, conf_level=res.conf_level, ci_method="wald_model",
                 n=res.n, n_events=res.n_events,
                 notes=("Tsiatis variance: baseline hazard and coefficient uncertainty.",))
