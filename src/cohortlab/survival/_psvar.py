"""Estimated propensity score in the variance of IPT-weighted survival estimators (private).

A survival verb given ``weights=<PropensityScore>`` solves its own estimating equation with
weights ``w_i(theta)`` that depend on the propensity model's parameters ``theta`` (the logistic
coefficients ``alpha``, plus the marginal exposure probability ``p1`` when the weights are
stabilised). Stacking the logistic score equations ``sum_i s_i x_i (a_i - e_i) = 0`` under the
verb's equation gives the M-estimation (sandwich) influence values of the verb's estimate

    phi_i = psi_i + D @ IF_theta_i

with ``psi_i`` the weights-known influence values (the dfbeta rows of a Cox model, the
infinitesimal-jackknife values ``w_i U_i(t)`` of a curve), ``IF_theta_i`` the influence values
of ``theta`` and ``D = d(estimate) / d theta = sum_k (d estimate / d w_k) (d w_k / d theta)``.
Every estimator here has a closed-form ``d estimate / d w_k``: the (inverse information times
the) unweighted score residual ``L_k`` of a Cox-type model, the per-unit-weight influence
``U_k(t)`` of a curve. So ``D`` is one more sum over rows of a quantity the weights-known
variance computes anyway, and ``d w_k / d theta = s_k W'(e_k) e_k (1 - e_k) x_k`` (times the
stabilisation factor). Trimmed rows (weight 0) and truncated weights have ``d w / d theta = 0``:
the trimming bounds and truncation points are treated as fixed, as :func:`cohortlab.ipw` does.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from ..causal._ipw import realized_weights
from ..causal._propensity import PropensityScore
from ..exceptions import DataValidationError

#: ``variance=`` of cox, fine_gray and cause_specific_cox.
CoxVariance: TypeAlias = Literal["model", "robust", "mestimation"]
#: ``variance=`` of fine_gray (its model-based variance is not a valid Fine-Gray variance).
FineGrayVariance: TypeAlias = Literal["robust", "mestimation"]

__all__ = ["CoxVariance", "FineGrayVariance", "PSNuisance", "ps_weights", "stacked_model_vcov",
           "resolve_variance", "cluster_codes", "check_curve_variance", "CURVE_NOTE"]


@dataclass(frozen=True, eq=False)
class PSNuisance:
    """The propensity model's rows: weights, their gradient in ``theta``, ``theta``'s IF.

    ``weights`` are the total (balancing x sampling) weights of the propensity-score rows,
    ``grad`` (N x q) ``d w_i / d theta`` and ``infl`` (N x q) the influence values of
    ``theta`` on the sum scale (``theta_hat - theta ~ sum_i infl_i``).
    """

    weights: np.ndarray
    grad: np.ndarray
    infl: np.ndarray
    index: pd.Index
    stabilized: bool
    estimand: str
    logistic: bool
    cluster_source: pd.DataFrame
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def positions(self, index: pd.Index, func: str) -> np.ndarray:
        """Positions of the analysed rows (``index``) among the propensity-score rows."""
        if not self.index.is_unique:
            raise DataValidationError(
                f"{func}(): weights is a PropensityScore whose rows have duplicated index labels,"
                " so they cannot be matched to data's rows. Reset the index "
                "(data.reset_index(drop=True)) before fitting the propensity score.")
        pos = self.index.get_indexer(index)
        if (pos < 0).any():
            bad, n_bad = list(index[pos < 0][:3]), int((pos < 0).sum())
            raise DataValidationError(
                f"{func}(): weights is a PropensityScore fitted on other rows: {n_bad:,}"
                f" analysed rows (index {bad}...) are not among its rows. Fit the propensity "
                "score on the same data frame (same index) as the survival analysis.")
        return pos

    def gathered(self, pos: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``[G, w * IF_theta]`` of the rows at ``pos`` (n x 2q): one gather for both."""
        if "_both" not in self._cache:
            self._cache["_both"] = np.concatenate([self.grad, self.infl], axis=1)
        out = self._cache["_both"][pos]
        out[:, self.grad.shape[1]:] *= w[:, None]
        return out

    def sigma(self) -> np.ndarray:
        """``sum_i IF_theta_i IF_theta_i'`` (q x q)."""
        if "_sigma" not in self._cache:
            self._cache["_sigma"] = self.infl.T @ self.infl
        return self._cache["_sigma"]


def ps_weights(data: pd.DataFrame, weights: Any, func: str
               ) -> tuple[pd.DataFrame, str | None, PSNuisance | None]:
    """Turn ``weights=<PropensityScore>`` into a weights column of ``data`` and the nuisance.

    A column name (or None) passes through unchanged. The PropensityScore's rows are matched to
    ``data``'s by index; rows of ``data`` it does not score raise.
    """
    if not isinstance(weights, PropensityScore):
        return data, weights, None
    nuis = _CACHE.get(weights)
    if nuis is None:  # one PropensityScore is often passed to several verbs
        nuis = _CACHE[weights] = _nuisance(weights)
    if not data.index.is_unique:
        raise DataValidationError(
            f"{func}(): weights is a PropensityScore, matched to the rows of data by index, but "
            "data's index has duplicated labels. Reset the index (data.reset_index(drop=True)) "
            "before fitting the propensity score and the survival model.")
    pos = nuis.positions(data.index, func)
    name = str(weights.weights.name or "ps_weight")
    while name in data.columns:
        name = "_" + name
    out = data.copy(deep=False)  # the caller's frame is never modified, nor copied whole
    out[name] = nuis.weights[pos]
    return out, name, nuis


#: The nuisance of each PropensityScore passed as weights (the result is immutable).
_CACHE: weakref.WeakKeyDictionary[PropensityScore, PSNuisance] = weakref.WeakKeyDictionary()


def _nuisance(ps: PropensityScore) -> PSNuisance:
    e = np.clip(ps.scores.to_numpy(dtype=float), 1e-12, 1 - 1e-12)
    a = ps.exposure.to_numpy()
    keep = ps.kept.to_numpy(dtype=bool)
    s = (np.ones(e.size) if ps.sampling_weights is None
         else ps.sampling_weights.to_numpy(dtype=float))
    w = ps.weights.to_numpy(dtype=float)
    n = e.size
    big_w, dw = realized_weights(e, a, ps.estimand)
    p1 = float(np.dot(s, a) / s.sum())
    stab = np.where(a == 1, p1, 1.0 - p1)
    cand_u = np.where(keep, big_w, 0.0)
    cand_s = cand_u * stab
    match_u = np.abs(w - cand_u) <= 1e-10 * cand_u
    match_s = np.abs(w - cand_s) <= 1e-10 * cand_s
    stabilized = bool(match_s.sum() > match_u.sum())
    factor = stab if stabilized else np.ones(n)
    free = keep & (match_s if stabilized else match_u)  # not trimmed, not truncated
    fit, design = ps._fit, ps._design
    if fit is None or design is None:
        return PSNuisance(weights=w * s, grad=np.zeros((n, 0)), infl=np.zeros((n, 0)),
                          index=ps.scores.index, stabilized=stabilized, estimand=ps.estimand,
                          logistic=False, cluster_source=ps.data)
    X = design.X
    g_alpha = X * (s * free * dw * e * (1.0 - e) * factor)[:, None]
    # the influence values I^-1 s_i x_i (a_i - e_i): one q x q inverse, not a solve with n
    # right-hand sides
    i_alpha = (X * (s * (a - fit.fitted))[:, None]) @ (np.linalg.pinv(fit.information).T / n)
    grads, infls = [g_alpha], [i_alpha]
    if stabilized:
        grads.append((s * free * big_w * np.where(a == 1, 1.0, -1.0))[:, None])
        infls.append((s * (a - p1) / s.sum())[:, None])
    return PSNuisance(weights=w * s, grad=np.column_stack(grads), infl=np.column_stack(infls),
                      index=ps.scores.index, stabilized=stabilized, estimand=ps.estimand,
                      logistic=True, cluster_source=ps.data)


def resolve_variance(variance: CoxVariance | None, robust: bool, cluster: str | None,
                     nuis: PSNuisance | None, func: str) -> CoxVariance:
    """``variance=`` of the Cox-type verbs: default mestimation with a PropensityScore."""
    if variance is None:
        if nuis is not None and nuis.logistic:
            return "mestimation"
        return "robust" if (robust or cluster or nuis is not None) else "model"
    if variance == "mestimation":
        if nuis is None:
            raise DataValidationError(
                f"{func}(): variance=\"mestimation\" accounts for an estimated propensity score "
                "and needs weights=<PropensityScore> (from cl.propensity_score); with a weights "
                "column the weights are known: use variance=\"robust\".")
        if not nuis.logistic:
            raise DataValidationError(
                f"{func}(): variance=\"mestimation\" needs the logistic propensity model; the "
                "PropensityScore was fitted with a machine-learning model. Use "
                "variance=\"robust\" (weights treated as known).")
    if variance == "model" and (cluster or robust):
        got = f"cluster={cluster!r}" if cluster else "robust=True"
        raise DataValidationError(
            f"{func}(): variance=\"model\" contradicts {got}; use variance=\"robust\" (the "
            "dfbeta sandwich) or leave variance unset.")
    return variance


def cluster_codes(nuis: PSNuisance, cluster: str | None, func: str) -> np.ndarray | None:
    """Cluster labels of the propensity-score rows (the column read from its data)."""
    if cluster is None:
        return None
    if cluster not in nuis.cluster_source.columns:
        raise DataValidationError(
            f"{func}(): cluster={cluster!r} with variance=\"mestimation\" sums the stacked "
            "influence values within clusters over the propensity score's rows, but its data "
            f"has no column {cluster!r}. Fit the propensity score on the frame holding it.")
    return nuis.cluster_source[cluster].to_numpy()


def stacked_model_vcov(resid: np.ndarray, w: np.ndarray, vcov: np.ndarray, pos: np.ndarray,
                       nuis: PSNuisance, cluster: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Stacked sandwich of a Cox-type model fitted with weights from ``nuis``.

    ``resid`` are the unweighted score residuals ``L`` of the analysed rows (their weighted sum
    is the score ``U``), ``w`` their weights, ``vcov`` the inverse information ``V`` and
    ``pos`` the rows' positions among the propensity-score rows. Since ``dU / dw_k = L_k``,
    ``d beta / d theta = V L' G`` with ``G = d w / d theta``, and the influence value of
    ``beta`` on row ``i`` is ``V w_i L_i + (V L' G) IF_theta_i`` (rows the model does not use
    contribute the second term only). Returns ``(vcov, influence rows)``.
    """
    dfb = (resid * w[:, None]) @ vcov
    d_theta = vcov @ (resid.T @ nuis.grad[pos])  # p x q
    phi = nuis.infl @ d_theta.T
    phi[pos] += dfb  # positions are distinct (the data's index is unique)
    if cluster is not None:
        _, inv = np.unique(cluster, return_inverse=True)
        phi = np.column_stack([np.bincount(inv, weights=phi[:, k]) for k in range(phi.shape[1])])
    return phi.T @ phi, phi


def check_curve_variance(variance: str, nuis: PSNuisance | None, func: str) -> None:
    """``variance="mestimation"`` of a curve needs a logistic PropensityScore as weights."""
    if variance != "mestimation":
        return
    if nuis is None:
        raise DataValidationError(
            f"{func}(): variance=\"mestimation\" accounts for an estimated propensity score and "
            "needs weights=<PropensityScore> (from cl.propensity_score); with a weights column "
            "the weights are known: use variance=\"infinitesimal_jackknife\".")
    if not nuis.logistic:
        raise DataValidationError(
            f"{func}(): variance=\"mestimation\" needs the logistic propensity model; the "
            "PropensityScore was fitted with a machine-learning model. Use "
            "variance=\"infinitesimal_jackknife\" (weights treated as known).")


#: The note a curve fitted with the stacked variance carries.
CURVE_NOTE = ("variance: stacked M-estimation (infinitesimal jackknife + the logistic propensity "
              "score equations), accounting for the estimated propensity score")
