"""The parametric g-formula for time-varying treatments: model terms and fits (arrays only).

The non-iterative conditional expectation (NICE) estimator of pygformula, R gfoRmula and the
SAS GFORMULA macro. This module holds the model terms (history functions of the time-varying
variables: current value, lags, cumulative averages and their lags, products) evaluated on
the observed long data, and the fits of every model; ``_gformula_sim.py`` runs the Monte
Carlo simulation. Nothing here touches pandas.

History conventions are pygformula's (``baselags=False``): ``lag{k}_X`` at period ``t`` is
``X`` at ``t - k`` (0 when ``t < k``), ``cumavg_X`` the mean of ``X`` over periods ``0..t``,
``lag_cumavg{k}_X`` the cumulative average at ``t - k`` (0 when ``t < k``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from .._glm import fit_linear, fit_logistic

__all__ = ["Term", "ModelSpec", "FittedModel", "GFormulaData", "history_columns",
           "observed_design", "fit_models"]

#: kinds of factor: the period, a baseline covariate, and four histories of a time-varying one
KINDS = ("period", "base", "cur", "lag", "cumavg", "lagavg")


@dataclass(frozen=True)
class Term:
    """One factor of a model term: ``kind`` of history of variable ``var`` (lag ``k``)."""

    kind: str
    var: str = ""
    k: int = 0


@dataclass(frozen=True)
class ModelSpec:
    """A pooled model: response ``name``, ``family`` and its terms (each a product of factors).

    The intercept is implicit (first column). ``fit_rows`` marks the person-period rows the
    model is fitted on.
    """

    name: str
    family: str  # "binomial" or "gaussian"
    terms: tuple[tuple[Term, ...], ...]
    labels: tuple[str, ...]
    fit_rows: np.ndarray


@dataclass(frozen=True, eq=False)
class FittedModel:
    """Coefficients of one model; for a gaussian model the residual SD and the bounds."""

    spec: ModelSpec
    coef: np.ndarray
    sd: float = float("nan")
    bounds: tuple[float, float] = (-np.inf, np.inf)


@dataclass(frozen=True, eq=False)
class GFormulaData:
    """The validated long data of ``gformula_tv`` as model designs and per-person arrays."""

    specs: tuple[ModelSpec, ...]
    designs: tuple[np.ndarray, ...]
    responses: tuple[np.ndarray, ...]
    start: dict[str, np.ndarray]  # period-0 values per person
    base: dict[str, np.ndarray]  # baseline covariates per person
    person: np.ndarray  # person index of each row
    first_rows: np.ndarray
    last_period: np.ndarray
    code: np.ndarray  # 1 outcome, 2 competing, -1 censored, 0 administratively censored
    n_periods: int
    varying: tuple[str, ...]
    n_events: int
    rhs: dict[str, str]


def _within(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` within each person (rows sorted, ``first`` = person's row 0)."""
    cs = np.cumsum(values)
    return cs - (cs[first] - values[first])


def history_columns(
    factors: Sequence[Term],
    values: Mapping[str, np.ndarray],
    base: Mapping[str, np.ndarray],
    period: np.ndarray,
    first: np.ndarray,
) -> dict[Term, np.ndarray]:
    """Every factor evaluated on the observed long rows (sorted by person, then period).

    Periods run 0, 1, 2, ... within each person, so the row ``k`` above a row with
    ``period >= k`` is the same person ``k`` periods earlier: lags are index shifts.

    Examples
    --------
    >>> x = np.array([1.0, 0.0, 1.0, 5.0, 7.0])
    >>> period, first = np.array([0, 1, 2, 0, 1]), np.array([0, 0, 0, 3, 3])
    >>> cols = history_columns([Term("lag", "x", 1), Term("cumavg", "x")], {"x": x}, {},
    ...                        period, first)
    >>> cols[Term("lag", "x", 1)].tolist(), cols[Term("cumavg", "x")].round(3).tolist()
    ([0.0, 1.0, 0.0, 0.0, 5.0], [1.0, 0.5, 0.667, 5.0, 6.0])
    """
    rows = np.arange(period.size)
    out: dict[Term, np.ndarray] = {}
    cumavg: dict[str, np.ndarray] = {}
    for f in dict.fromkeys(factors):
        if f.kind == "period":
            col = period.astype(float)
        elif f.kind == "base":
            col = np.asarray(base[f.var], dtype=float)
        elif f.kind == "cur":
            col = np.asarray(values[f.var], dtype=float)
        elif f.kind == "lag":
            col = np.where(period >= f.k, values[f.var][np.maximum(rows - f.k, 0)], 0.0)
        else:
            if f.var not in cumavg:
                v = np.asarray(values[f.var], dtype=float)
                cumavg[f.var] = _within(v, first) / (period + 1.0)
            ca = cumavg[f.var]
            col = ca if f.kind == "cumavg" else np.where(
                period >= f.k, ca[np.maximum(rows - f.k, 0)], 0.0)
        out[f] = col.astype(float)
    return out


def observed_design(spec: ModelSpec, cols: Mapping[Term, np.ndarray]) -> np.ndarray:
    """The model's design matrix (intercept first) on every observed row."""
    n = next(iter(cols.values())).size if cols else spec.fit_rows.size
    X = np.ones((n, 1 + len(spec.terms)))
    for j, term in enumerate(spec.terms, start=1):
        for f in term:
            X[:, j] *= cols[f]
    return X


def fit_models(
    specs: Sequence[ModelSpec],
    designs: Sequence[np.ndarray],
    responses: Sequence[np.ndarray],
    weights: np.ndarray | None = None,
    start: Sequence[FittedModel] | None = None,
    bounded: bool = True,
    *,
    func: str,
) -> list[FittedModel]:
    """Fit every model on its rows, with frequency ``weights`` (bootstrap counts) if given.

    ``func`` is the verb's name for the messages of a model that cannot be fitted.

    Gaussian models get the residual SD ``sqrt(sum w r^2 / sum w)`` (pygformula's RMSE, the
    maximum-likelihood SD) and, when ``bounded``, the observed range of the response on the
    rows used, within which simulated values are kept.
    """
    fits = []
    for i, (spec, X, y) in enumerate(zip(specs, designs, responses, strict=True)):
        rows = spec.fit_rows if weights is None else spec.fit_rows & (weights > 0)
        Xr, yr = X[rows], y[rows]
        w = None if weights is None else weights[rows].astype(float)
        if spec.family == "binomial":
            coef = None if start is None else _newton(Xr, yr, w, start[i].coef)
            if coef is None:  # the full fit, or a replicate's Newton did not converge
                s = None if start is None else start[i].coef
                coef = fit_logistic(Xr, yr, w, names=("(Intercept)", *spec.labels),
                                    func=func, response=f"the {spec.name} model",
                                    start=s, information=False).coef
            fits.append(FittedModel(spec=spec, coef=coef))
        else:
            g = fit_linear(Xr, yr, w)
            r2 = (yr - g.fitted) ** 2
            sd = float(np.sqrt(r2.mean() if w is None else (w * r2).sum() / w.sum()))
            lim = (float(yr.min()), float(yr.max())) if bounded else (-np.inf, np.inf)
            fits.append(FittedModel(spec=spec, coef=g.coef, sd=sd, bounds=lim))
    return fits


def _newton(X: np.ndarray, y: np.ndarray, w: np.ndarray | None, start: np.ndarray,
            tol: float = 1e-10, max_iter: int = 8) -> np.ndarray | None:
    """Weighted logistic MLE by plain Newton steps from ``start`` (a bootstrap warm start).

    Near the maximum Newton converges quadratically, so a replicate needs 3-4 steps; without
    the step halving and separation checks of :func:`cohortlab._glm.fit_logistic`, which
    takes over (returns None here) when the steps do not converge.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(500), rng.normal(size=500)])
    >>> y = rng.binomial(1, expit(0.5 + X[:, 1])).astype(float)
    >>> full = fit_logistic(X, y).coef
    >>> np.allclose(_newton(X, y, None, np.zeros(2)), full, atol=1e-8)
    True
    """
    b = start.astype(float).copy()
    for _ in range(max_iter):
        mu = expit(X @ b)
        v = mu * (1.0 - mu)
        r = y - mu
        if w is not None:
            v, r = v * w, r * w
        try:
            step = np.linalg.solve((X * v[:, None]).T @ X, X.T @ r)
        except np.linalg.LinAlgError:
            return None
        b += step
        if not np.all(np.isfinite(b)):
            return None
        if np.max(np.abs(step)) < tol * (1.0 + np.max(np.abs(b))):
            return b
    return None
