"""Weighted logistic and linear regression for nuisance models (arrays only).

Vectorised Newton-Raphson (IRLS) on ``X' diag(v) X``: no Python loop over rows, a few
iterations over parameters. Each fit returns what M-estimation needs: the coefficients, the
fitted values, and the (weighted) information matrix ``X' diag(w v) X / n`` whose inverse
maps score contributions to the coefficients' influence values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from .exceptions import ConvergenceError

__all__ = ["GLMFit", "fit_logistic", "fit_linear"]


@dataclass(frozen=True, eq=False)
class GLMFit:
    """Coefficients, fitted means and the information matrix of a weighted GLM fit."""

    coef: np.ndarray
    fitted: np.ndarray
    information: np.ndarray  # X' diag(w * var) X / n
    n_iter: int
    family: str

    def vcov(self) -> np.ndarray:
        """Model-based covariance of ``coef``: ``(n * information)^-1`` (weights as frequency).

        Examples
        --------
        >>> fit = GLMFit(coef=np.zeros(1), fitted=np.full(4, 0.5), information=np.eye(1) * 0.25,
        ...              n_iter=1, family="binomial")
        >>> fit.vcov().tolist()
        [[1.0]]
        """
        return np.linalg.pinv(self.information) / self.fitted.size

    def influence(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Per-row influence values of the coefficients, ``I^-1 w_i x_i (y_i - mu_i)``."""
        score = X * (w * (y - self.fitted))[:, None]
        return np.linalg.solve(self.information, score.T).T

    def influence_dot(self, X: np.ndarray, y: np.ndarray, w: np.ndarray,
                      d: np.ndarray) -> np.ndarray:
        """``influence(X, y, w) @ d`` in O(n p), without forming the n x p matrix."""
        return X @ np.linalg.solve(self.information, d) * (w * (y - self.fitted))


def fit_logistic(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None = None,
    *,
    names: Sequence[str] | None = None,
    func: str = "fit_logistic",
    response: str = "the outcome",
    max_iter: int = 50,
    tol: float = 1e-10,
    start: np.ndarray | None = None,
    information: bool = True,
) -> GLMFit:
    """Weighted maximum-likelihood logistic regression by Newton-Raphson.

    ``start`` warm-starts Newton's method (e.g. at the full-sample estimate in a bootstrap
    replicate); the maximum is the same. Newton runs on an internally standardised design
    (non-constant columns centred and divided by their SD, the intercept kept); coefficients
    are mapped back exactly, so the result does not depend on the covariates' units or
    origin (a calendar year near 1988 fits as well as years since 1988). Raises
    :class:`ConvergenceError` on complete or quasi-complete separation (fitted probabilities
    of exactly 0 or 1, no convergence, or a coefficient above 25 per SD of its covariate),
    naming the covariate that separates the response on its own, else the one with the
    largest coefficient per SD.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(500), rng.normal(size=500)])
    >>> y = rng.binomial(1, expit(0.5 + X[:, 1]))
    >>> fit_logistic(X, y).coef.round(1).tolist()
    [0.5, 1.3]
    """
    n, p = X.shape
    w = np.ones(n) if w is None else w
    sw = w.sum()
    ybar = float((w * y).sum() / sw)
    # Newton on an internally standardised design Z = (X - centre) / scale: the same model
    # (an affine reparametrisation), so the same maximum, but well conditioned when a
    # covariate is far from 0 (calendar year near 1988) or on a tiny or huge scale
    std = _Standardiser.of(X, w)
    Z = std.transform(X)
    # one n x p work buffer for the sqrt-weighted design, reused by every iteration: at
    # millions of rows a fresh n x p temporary per iteration costs more (page faults) than
    # the X'WX product itself, which is one BLAS call on the C-contiguous buffer
    buf = np.empty((n, p))
    gamma = np.zeros(p) if start is None else std.to_standard(np.array(start, dtype=float))
    if start is None and std.intercept is not None and 0 < ybar < 1:
        gamma[std.intercept] = np.log(ybar / (1 - ybar)) / std.intercept_value
    it, converged = 0, False
    eta = Z @ gamma
    ll = _binomial_loglik(eta, y, w)
    while it < max_iter and not converged:
        it += 1
        mu = expit(eta)
        info = _weighted_gram(Z, np.sqrt(w * mu * (1 - mu)), buf)
        grad = Z.T @ (w * (y - mu))
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
        # step halving (as R's glm.fit): a full Newton step that lowers the likelihood, which
        # happens far from the maximum (a strongly predictive covariate from a null start),
        # is halved until it does not; near the maximum the full step is always taken
        for _ in range(30):
            eta_new = Z @ (gamma + step)
            ll_new = _binomial_loglik(eta_new, y, w)
            if ll_new >= ll - 1e-10 * (1.0 + abs(ll)):
                break
            step = step / 2.0
        gamma, eta, ll = gamma + step, eta_new, ll_new
        converged = bool(np.max(np.abs(step)) < tol * (1 + np.max(np.abs(gamma))))
    del Z
    mu = expit(eta)
    beta = std.to_original(gamma)
    _check_separation(gamma, beta, mu, X, y, w, names, func, it, converged, response)
    if information:
        info = _weighted_gram(X, np.sqrt(w * mu * (1 - mu)), buf) / n
    else:  # callers that only need the fit (bootstrap replicates) skip the last product
        info = np.full((p, p), np.nan)
    return GLMFit(coef=beta, fitted=mu, information=info, n_iter=it, family="binomial")


def _weighted_gram(X: np.ndarray, s: np.ndarray, buf: np.ndarray) -> np.ndarray:
    """``X' diag(s^2) X`` as ``(s X)'(s X)``, ``s X`` written into the C-contiguous ``buf``."""
    np.multiply(X, s[:, None], out=buf)
    return buf.T @ buf


def _binomial_loglik(eta: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted Bernoulli log-likelihood at linear predictor ``eta`` (stable for large |eta|)."""
    return float(np.sum(w * (y * eta - np.logaddexp(0.0, eta))))


@dataclass(frozen=True, eq=False)
class _Standardiser:
    """``Z = (X - centre) / scale`` and the exact map of coefficients between the two scales.

    Non-constant columns are scaled by their standard deviation (among rows with positive
    weight) and, when the design has an intercept (a constant non-zero column), centred at
    their mean; constant columns are left alone. ``X @ to_original(g) == Z @ g``.
    """

    centre: np.ndarray
    scale: np.ndarray
    intercept: int | None
    intercept_value: float

    @classmethod
    def of(cls, X: np.ndarray, w: np.ndarray) -> _Standardiser:
        pos = w > 0
        Xp = X if pos.all() else X[pos]
        if Xp.shape[0] == 0:
            Xp = X
        lo, hi = Xp.min(axis=0), Xp.max(axis=0)
        const = lo == hi
        icpt = np.flatnonzero(const & (lo != 0))
        intercept = int(icpt[0]) if icpt.size else None
        centre = (np.where(const, 0.0, Xp.mean(axis=0)) if intercept is not None
                  else np.zeros(X.shape[1]))
        sd = Xp.std(axis=0)
        scale = np.where(const | ~(sd > 0), 1.0, sd)
        value = float(lo[intercept]) if intercept is not None else 1.0
        return cls(centre=centre, scale=scale, intercept=intercept, intercept_value=value)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``(X - centre) / scale`` as a C-contiguous array (row-major for the BLAS calls)."""
        Z = np.empty(X.shape)
        np.subtract(X, self.centre, out=Z)
        Z /= self.scale
        return Z

    def to_original(self, gamma: np.ndarray) -> np.ndarray:
        beta = gamma / self.scale
        if self.intercept is not None:
            beta[self.intercept] -= float(beta @ self.centre) / self.intercept_value
        return beta

    def to_standard(self, beta: np.ndarray) -> np.ndarray:
        gamma = beta * self.scale
        if self.intercept is not None:
            gamma[self.intercept] += float(beta @ self.centre) / self.intercept_value
        return gamma


def _check_separation(gamma: np.ndarray, beta: np.ndarray, mu: np.ndarray, X: np.ndarray,
                      y: np.ndarray, w: np.ndarray, names: Sequence[str] | None, func: str,
                      it: int, converged: bool, response: str) -> None:
    """Raise on (quasi-)separation: fitted 0/1, no convergence, or a huge standardised coef.

    ``gamma`` are the coefficients on the standardised design (per standard deviation of each
    covariate), so the threshold of 25 means the same for every covariate whatever its units.
    """
    pos = w > 0
    extreme = int(((mu[pos] < 1e-10) | (mu[pos] > 1 - 1e-10)).sum())
    big = np.max(np.abs(gamma)) > 25
    if extreme == 0 and not big and converged:
        return
    names = list(names) if names is not None else [f"x{i}" for i in range(beta.size)]
    alone, j = _separating_columns(X[pos], y[pos], gamma, names)
    if alone:
        more = f" (so do {[names[k] for k in alone[1:]]})" if len(alone) > 1 else ""
        why = f"{names[j]!r} on its own separates the two groups{more}"
    else:
        why = f"{names[j]!r} has the largest coefficient per SD of its covariate"
    raise ConvergenceError(
        f"{func}(): the logistic model did not converge ({it} iterations; {extreme:,} fitted "
        f"probabilities of 0 or 1; coefficient of {names[j]} = {beta[j]:.3g}, "
        f"{gamma[j]:.3g} per SD). A covariate (likely {names[j]!r}) perfectly predicts "
        f"{response} (complete or quasi-complete separation): {why}. Drop or coarsen it, or "
        "restrict the cohort to where both groups occur."
    )


def _separates(x: np.ndarray, y: np.ndarray) -> bool:
    """True when a threshold on ``x`` alone splits ``y`` (complete or quasi-complete)."""
    x1, x0 = x[y > 0.5], x[y <= 0.5]
    if x1.size == 0 or x0.size == 0:
        return False
    return bool(x1.max() <= x0.min() or x0.max() <= x1.min())


def _separating_columns(X: np.ndarray, y: np.ndarray, gamma: np.ndarray,
                        names: Sequence[str]) -> tuple[list[int], int]:
    """The covariates to blame for separation.

    Returns the non-constant columns that separate ``y`` on their own (largest standardised
    coefficient first) and the one to name: the first of those, else the column with the
    largest standardised coefficient (a separation by a combination of covariates).
    """
    if X.shape[0] == 0:
        return [], int(np.argmax(np.abs(gamma)))
    varying = X.min(axis=0) < X.max(axis=0)
    cand = [k for k in range(X.shape[1]) if varying[k] and names[k] != "Intercept"]
    if not cand:
        return [], int(np.argmax(np.abs(gamma)))
    alone = sorted((k for k in cand if _separates(X[:, k], y)), key=lambda k: -abs(gamma[k]))
    return alone, alone[0] if alone else max(cand, key=lambda k: abs(gamma[k]))


def fit_linear(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> GLMFit:
    """Weighted least squares.

    Examples
    --------
    >>> X = np.column_stack([np.ones(4), [0.0, 1, 2, 3]])
    >>> fit_linear(X, np.array([1.0, 3, 5, 7])).coef.round(6).tolist()
    [1.0, 2.0]
    """
    n = X.shape[0]
    w = np.ones(n) if w is None else w
    xtw = (X * w[:, None]).T
    info = xtw @ X
    beta = np.linalg.solve(info, xtw @ y)
    return GLMFit(coef=beta, fitted=X @ beta, information=info / n, n_iter=1, family="gaussian")
