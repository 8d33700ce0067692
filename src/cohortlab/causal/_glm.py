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

from ..exceptions import ConvergenceError

__all__ = ["GLMFit", "fit_logistic", "fit_linear"]


@dataclass(frozen=True, eq=False)
class GLMFit:
    """Coefficients, fitted means and the information matrix of a weighted GLM fit."""

    coef: np.ndarray
    fitted: np.ndarray
    information: np.ndarray  # X' diag(w * var) X / n
    n_iter: int
    family: str

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
    replicate); the maximum is the same. Raises :class:`ConvergenceError` on complete or
    quasi-complete separation (fitted
    probabilities of exactly 0 or 1, or diverging coefficients), naming the covariate with the
    largest coefficient.

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
    beta = np.zeros(p) if start is None else np.array(start, dtype=float)
    if start is None and names is not None and "Intercept" in names and 0 < ybar < 1:
        beta[list(names).index("Intercept")] = np.log(ybar / (1 - ybar))
    it, converged = 0, False
    eta = X @ beta
    ll = _binomial_loglik(eta, y, w)
    while it < max_iter and not converged:
        it += 1
        mu = expit(eta)
        xs = X * np.sqrt(w * mu * (1 - mu))[:, None]
        info = xs.T @ xs
        grad = X.T @ (w * (y - mu))
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
        # step halving (as R's glm.fit): a full Newton step that lowers the likelihood, which
        # happens far from the maximum (a strongly predictive covariate from a null start),
        # is halved until it does not; near the maximum the full step is always taken
        for _ in range(30):
            eta_new = X @ (beta + step)
            ll_new = _binomial_loglik(eta_new, y, w)
            if ll_new >= ll - 1e-10 * (1.0 + abs(ll)):
                break
            step = step / 2.0
        beta, eta, ll = beta + step, eta_new, ll_new
        converged = bool(np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))))
    mu = expit(X @ beta)
    _check_separation(beta, mu, w, names, func, it, converged, response)
    if information:
        xs = X * np.sqrt(w * mu * (1 - mu))[:, None]
        info = xs.T @ xs / n
    else:  # callers that only need the fit (bootstrap replicates) skip the last product
        info = np.full((p, p), np.nan)
    return GLMFit(coef=beta, fitted=mu, information=info, n_iter=it, family="binomial")


def _binomial_loglik(eta: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted Bernoulli log-likelihood at linear predictor ``eta`` (stable for large |eta|)."""
    return float(np.sum(w * (y * eta - np.logaddexp(0.0, eta))))


def _check_separation(beta: np.ndarray, mu: np.ndarray, w: np.ndarray,
                      names: Sequence[str] | None, func: str, it: int, converged: bool,
                      response: str) -> None:
    pos = w > 0
    extreme = int(((mu[pos] < 1e-10) | (mu[pos] > 1 - 1e-10)).sum())
    big = np.max(np.abs(beta)) > 25
    if extreme == 0 and not big and converged:
        return
    names = list(names) if names is not None else [f"x{i}" for i in range(beta.size)]
    j = int(np.argmax(np.abs(beta) * (np.array(names) != "Intercept")))
    raise ConvergenceError(
        f"{func}(): the logistic model did not converge ({it} iterations; {extreme:,} fitted "
        f"probabilities of 0 or 1; largest coefficient {names[j]} = {beta[j]:.3g}). A covariate "
        f"(likely {names[j]!r}) perfectly predicts {response} (complete or quasi-complete "
        "separation). Drop or coarsen it, or restrict the cohort to where both groups occur."
    )


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
