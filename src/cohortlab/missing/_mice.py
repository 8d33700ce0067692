"""Multiple imputation by chained equations: the numbers (arrays only, no pandas).

One chain per imputation (as R's ``mice``: the ``m`` chains are independent), each with its
own :class:`numpy.random.SeedSequence`, so the imputations do not depend on ``n_jobs``.

The working matrix ``Z`` (n x P) holds every variable's current values: numeric variables
standardised by their observed mean and SD (draws and matches are invariant to that linear
map; it keeps the normal equations well conditioned), binary ones as 0/1 and unordered
categorical ones as K - 1 dummy columns (level 0 the reference). A variable's imputation
model regresses it on an intercept and the blocks of its predictors.

Methods (van Buuren 2018, *Flexible Imputation of Missing Data*, 2nd ed., §3.2-3.4):

- ``"pmm"``: predictive mean matching, type-1 matching as ``mice.impute.pmm``: draw
  ``sigma*`` and ``beta*`` from the posterior of the Bayesian linear regression
  (``.norm.draw``), predict the missing rows with ``beta*`` and the observed rows with the
  least-squares ``beta_hat``, and take the observed value of one of the ``donors`` nearest
  observed predictions, chosen at random (ties broken at random). Vectorised: the observed
  predictions are sorted once and each missing prediction's ``2 * donors`` window is found
  with :func:`numpy.searchsorted`.
- ``"norm"``: the Bayesian linear regression draw ``x beta* + sigma* z``
  (``mice.impute.norm``).
- ``"logreg"``: logistic regression on data augmented as White, Daniel & Royston (2010)
  (``mice``'s ``augment``, which removes separation), ``beta*`` drawn from the normal
  approximation of its posterior, Bernoulli draws (``mice.impute.logreg``).
- ``"polyreg"``: multinomial logistic regression, same augmentation, ``beta*`` drawn from the
  normal approximation, categorical draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from .._glm import fit_logistic
from ..exceptions import CohortError, ConvergenceError

__all__ = ["VarSpec", "ChainResult", "run_chain", "norm_draw", "pmm_match"]


@dataclass(frozen=True, eq=False)
class VarSpec:
    """One variable of the chained equations.

    ``kind`` is ``"num"``, ``"bin"`` or ``"cat"``; ``cols`` its columns in ``Z``;
    ``values`` its numeric values (float, original scale) or integer codes, with anything at
    the missing rows; ``mis`` the row indices to impute (empty for a complete predictor);
    ``method`` how (``None`` for a predictor only); ``predictors`` the indices of the
    variables its model uses; ``center``/``scale`` the standardisation of a numeric one.
    """

    name: str
    kind: str
    cols: tuple[int, ...]
    values: np.ndarray
    mis: np.ndarray
    method: str | None
    predictors: tuple[int, ...]
    n_levels: int = 2
    center: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True, eq=False)
class ChainResult:
    """One chain's final imputations and its trace."""

    imputed: list[np.ndarray]  # per target: values at its missing rows
    trace_mean: np.ndarray  # (n_iter, n_targets)
    trace_sd: np.ndarray  # (n_iter, n_targets)
    n_unconverged: int  # multinomial fits that hit the iteration limit


# ------------------------------------------------------------------ regression draws


def _solve_normal(xtx: np.ndarray, xty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares from the normal equations: ``beta_hat`` and ``(X'X)^-1``.

    A (near) collinear design gets mice's ridge ``1e-5 * diag(X'X)`` (``estimice``'s
    fallback); it changes nothing when ``X'X`` is well conditioned.
    """
    try:
        chol = np.linalg.cholesky(xtx)
        if np.min(np.diag(chol)) ** 2 < 1e-10 * np.max(np.diag(xtx)):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        xtx = xtx + np.diag(np.maximum(np.diag(xtx), 1e-12)) * 1e-5
        chol = np.linalg.cholesky(xtx)
    inv_chol = np.linalg.solve(chol, np.eye(xtx.shape[0]))
    v = inv_chol.T @ inv_chol
    return v @ xty, v


def norm_draw(rng: np.random.Generator, xo: np.ndarray, yo: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, float]:
    """One posterior draw of the Bayesian linear regression (mice's ``.norm.draw``).

    Returns ``beta_hat``, ``beta*`` and ``sigma*``: ``sigma*^2 = RSS / chi2(df)`` with
    ``df = max(n - p, 1)`` and ``beta* = beta_hat + sigma* chol((X'X)^-1) z``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = np.column_stack([np.ones(200), rng.normal(size=200)])
    >>> y = 1 + 2 * x[:, 1] + rng.normal(size=200)
    >>> hat, star, sigma = norm_draw(np.random.default_rng(2), x, y)
    >>> np.round(hat, 1).tolist(), bool(0.7 < sigma < 1.3)
    ([1.0, 2.0], True)
    """
    n, p = xo.shape
    coef, v = _solve_normal(xo.T @ xo, xo.T @ yo)
    resid = yo - xo @ coef
    df = max(n - p, 1)
    sigma = float(np.sqrt(resid @ resid / rng.chisquare(df)))
    lv = np.linalg.cholesky((v + v.T) / 2.0)
    beta = coef + (lv @ rng.standard_normal(p)) * sigma
    return coef, beta, sigma


def pmm_match(rng: np.random.Generator, yhat_obs: np.ndarray, yhat_mis: np.ndarray,
              donors: int) -> np.ndarray:
    """Indices (into the observed rows) of the donors of the missing rows.

    For each missing prediction, one of the ``donors`` observed predictions nearest to it is
    taken at random (mice's ``matchindex``; ties among observed predictions are broken at
    random by a random permutation before the stable sort). No loop over rows: the ``donors``
    nearest lie in the window of ``2 * donors`` sorted predictions around the insertion point.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pmm_match(rng, np.array([0.0, 10.0, 20.0, 30.0]), np.array([11.0, 29.0]), 1).tolist()
    [1, 3]
    """
    n_obs = yhat_obs.size
    k = max(1, min(int(donors), n_obs))
    perm = rng.permutation(n_obs)
    order = perm[np.argsort(yhat_obs[perm], kind="stable")]
    s = yhat_obs[order]
    n_mis = yhat_mis.size
    width = min(2 * k, n_obs)
    pos = np.searchsorted(s, yhat_mis)
    start = np.clip(pos - k, 0, n_obs - width)
    cand = start[:, None] + np.arange(width)[None, :]
    dist = np.abs(s[cand] - yhat_mis[:, None])
    if width > k:
        near = np.argpartition(dist, k - 1, axis=1)[:, :k]
    else:
        near = np.broadcast_to(np.arange(width), (n_mis, width))
    pick = near[np.arange(n_mis), rng.integers(0, k, size=n_mis)]
    return order[cand[np.arange(n_mis), pick]]


def _augment(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """White, Daniel & Royston (2010) augmentation, as mice's ``augment``.

    ``x`` holds the predictors without the intercept; for each predictor and each of the
    ``k`` outcome levels two pseudo-rows at its mean +/- SD/2 (clipped to its range, the other
    predictors at their means), each with weight ``(p + 1) / (2 p k)``. Returns the pseudo
    rows (with an intercept column), their outcome codes and weights.
    """
    n, p = x.shape
    if p == 0:
        return np.empty((0, 1)), np.empty(0, dtype=np.int64), np.empty(0)
    mean = x.mean(axis=0)
    sd = x.std(axis=0, ddof=1) if n > 1 else np.zeros(p)
    nr = 2 * p * k
    d = np.tile(mean, (nr, 1))
    shift = np.tile(np.tile([0.5, -0.5], k), p)  # 2k rows per predictor
    which = np.repeat(np.arange(p), 2 * k)
    d[np.arange(nr), which] += shift * sd[which]
    d = np.clip(d, x.min(axis=0), x.max(axis=0))
    e = np.tile(np.repeat(np.arange(k), 2), p)
    w = np.full(nr, (p + 1) / nr)
    return np.column_stack([np.ones(nr), d]), e, w


def logreg_draw(rng: np.random.Generator, xo: np.ndarray, yo: np.ndarray, xm: np.ndarray,
                name: str, func: str, start: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Bernoulli imputations from a logistic model with a posterior coefficient draw.

    Returns the imputations and the maximum-likelihood coefficients (to warm-start the next
    iteration's fit).
    """
    xa, ya, wa = _augment(xo[:, 1:], 2)
    X = np.vstack([xo, xa])
    y = np.concatenate([yo, ya.astype(float)])
    w = np.concatenate([np.ones(yo.size), wa])
    names = ["Intercept", *(f"x{j}" for j in range(1, xo.shape[1]))]
    try:
        fit = fit_logistic(X, y, w, names=names, func=func, response=repr(name), start=start)
    except ConvergenceError as exc:
        raise CohortError(
            f"{func}(): the logistic imputation model of {name!r} did not converge ({exc}). "
            f"Drop or coarsen the predictor that separates {name!r} (predictors=), or impute "
            "it with method='pmm'."
        ) from None
    info = fit.information * X.shape[0]
    v = np.linalg.inv((info + info.T) / 2.0)
    beta = fit.coef + np.linalg.cholesky((v + v.T) / 2.0) @ rng.standard_normal(fit.coef.size)
    p = expit(xm @ beta)
    return (rng.random(p.size) <= p).astype(np.int64), fit.coef


def _gram(u: np.ndarray) -> np.ndarray:
    """``u' u`` by BLAS ``syrk`` (half the flops of a general product)."""
    from scipy.linalg.blas import dsyrk

    # u is C-contiguous, so u.T is Fortran-contiguous: syrk(u.T) = u' u without a copy
    c = dsyrk(1.0, u.T, trans=0)  # upper triangle
    return np.triu(c) + np.triu(c, 1).T


def _softmax(eta: np.ndarray) -> np.ndarray:
    full = np.column_stack([np.zeros(eta.shape[0]), eta])
    full -= full.max(axis=1, keepdims=True)
    e = np.exp(full)
    return e / e.sum(axis=1, keepdims=True)


def fit_multinomial(X: np.ndarray, y: np.ndarray, w: np.ndarray, k: int,
                    max_iter: int = 50, tol: float = 1e-8, start: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Weighted multinomial logistic regression (level 0 the reference) by Newton-Raphson.

    Returns the (p, k - 1) coefficients, their (p (k-1))^2 covariance (inverse observed
    information, parameters ordered level by level) and whether Newton converged. ``start``
    warm-starts Newton (the chain passes the previous iteration's fit); the maximum is the
    same.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.column_stack([np.ones(3000), rng.normal(size=3000)])
    >>> eta = np.column_stack([0.5 + x[:, 1], -0.5 - x[:, 1]])
    >>> p = _softmax(eta)
    >>> y = (rng.random(3000)[:, None] > p.cumsum(axis=1)).sum(axis=1)
    >>> b, v, ok = fit_multinomial(x, y, np.ones(3000), 3)
    >>> np.round(b, 1).T.tolist(), ok
    ([[0.5, 1.0], [-0.5, -1.0]], True)
    """
    n, p = X.shape
    q = k - 1
    Y = (y[:, None] == np.arange(1, k)[None, :]).astype(float)
    beta = np.zeros((p, q))
    sw = w.sum()
    freq = np.array([(w * (y == j)).sum() for j in range(k)]) / sw
    if start is not None:
        beta = np.array(start, dtype=float)
    elif np.all(freq > 0):
        beta[0] = np.log(freq[1:] / freq[0])

    def loglik(b: np.ndarray) -> float:
        eta = X @ b
        top = np.maximum(eta.max(axis=1), 0.0)  # log-sum-exp with the reference level's 0
        lse = top + np.log(np.exp(-top) + np.exp(eta - top[:, None]).sum(axis=1))
        return float(np.sum(w * ((Y * eta).sum(axis=1) - lse)))

    def hessian(prob: np.ndarray) -> np.ndarray:
        # sum_i w_i (diag(p_i) - p_i p_i') (x) x_i x_i': block-diagonal part plus one gemm
        u = ((prob * np.sqrt(w)[:, None])[:, :, None] * X[:, None, :]).reshape(n, q * p)
        h = -_gram(u)
        for a in range(q):
            h[a * p:(a + 1) * p, a * p:(a + 1) * p] += (X * (w * prob[:, a])[:, None]).T @ X
        return h

    ll = loglik(beta)
    converged = False
    # Newton from a cold start; from a warm start (the previous iteration's fit, near the new
    # maximum) the chord method: the Hessian of the start is kept while the steps shrink
    # (the gradient is cheap, the Hessian is not), refreshed when a step had to be halved
    h = None
    prev = np.inf
    for _ in range(max_iter):
        prob = _softmax(X @ beta)[:, 1:]
        grad = (X.T @ ((Y - prob) * w[:, None])).T.ravel()  # level by level
        if h is None or start is None:
            h = hessian(prob)
        try:
            step = np.linalg.solve(h, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(h, grad, rcond=None)[0]
        step = step.reshape(q, p).T
        halved = False
        for _half in range(30):
            ll_new = loglik(beta + step)
            if ll_new >= ll - 1e-10 * (1.0 + abs(ll)):
                break
            step = step / 2.0
            halved = True
        beta = beta + step
        ll = ll_new
        size = float(np.max(np.abs(step)))
        if size < tol * (1.0 + np.max(np.abs(beta))):
            converged = True
            break
        if halved or size > 0.5 * prev:  # chord steps not contracting fast: refresh
            h = None
        prev = size
    h = hessian(_softmax(X @ beta)[:, 1:])
    try:
        v = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        v = np.linalg.pinv(h)
    return beta, (v + v.T) / 2.0, converged


def polyreg_draw(rng: np.random.Generator, xo: np.ndarray, yo: np.ndarray, xm: np.ndarray,
                 k: int, start: np.ndarray | None = None
                 ) -> tuple[np.ndarray, bool, np.ndarray]:
    """Categorical imputations (codes 0..k-1) from a multinomial model with a draw.

    Also returns whether Newton converged and the fit (to warm-start the next iteration).
    """
    xa, ya, wa = _augment(xo[:, 1:], k)
    X = np.vstack([xo, xa])
    y = np.concatenate([yo, ya])
    w = np.concatenate([np.ones(yo.size), wa])
    beta, v, ok = fit_multinomial(X, y, w, k, start=start)
    p, q = beta.shape
    try:
        lv = np.linalg.cholesky(v)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(v)
        lv = vecs * np.sqrt(np.clip(vals, 0.0, None))
    draw = beta + (lv @ rng.standard_normal(p * q)).reshape(q, p).T
    prob = _softmax(xm @ draw)
    u = rng.random(int(xm.shape[0]))
    codes = (u[:, None] > np.cumsum(prob, axis=1)[:, :-1]).sum(axis=1)
    return codes.astype(np.int64), ok, beta


# ------------------------------------------------------------------------ the chain


def _set_block(Z: np.ndarray, var: VarSpec, rows: np.ndarray, vals: np.ndarray) -> None:
    if var.kind == "num":
        Z[rows, var.cols[0]] = (vals - var.center) / var.scale
    elif var.kind == "bin":
        Z[rows, var.cols[0]] = vals
    else:
        block = np.zeros((rows.size, len(var.cols)))
        nz = vals > 0
        block[np.flatnonzero(nz), vals[nz] - 1] = 1.0
        Z[np.ix_(rows, np.asarray(var.cols))] = block


def _pred_cols(variables: Sequence[VarSpec], var: VarSpec) -> np.ndarray:
    return np.array([c for j in var.predictors for c in variables[j].cols], dtype=np.int64)


def run_chain(seed: np.random.SeedSequence, Z0: np.ndarray, variables: Sequence[VarSpec],
              targets: Sequence[int], n_iter: int, donors: int, func: str) -> ChainResult:
    """One chain of chained equations: initial random draws, then ``n_iter`` sweeps.

    The start values are random draws from each target's observed values (mice's default);
    each sweep visits the targets in order and imputes each from its current predictors.
    """
    rng = np.random.default_rng(seed)
    Z = Z0.copy()
    n = Z.shape[0]
    current: list[np.ndarray] = []
    obs_masks = []
    for t in targets:
        var = variables[t]
        obs = np.ones(n, dtype=bool)
        obs[var.mis] = False
        obs_masks.append(obs)
        vo = var.values[obs]
        start = vo[rng.integers(0, vo.size, size=var.mis.size)]
        _set_block(Z, var, var.mis, start)
        current.append(start)
    pred_cols = [_pred_cols(variables, variables[t]) for t in targets]
    bufs = []  # one design buffer per target: intercept + its predictors' columns
    for cols in pred_cols:
        buf = np.empty((n, cols.size + 1))
        buf[:, 0] = 1.0
        bufs.append(buf)
    tm = np.full((n_iter, len(targets)), np.nan)
    ts = np.full((n_iter, len(targets)), np.nan)
    unconverged = 0
    starts: list[np.ndarray | None] = [None] * len(targets)
    for it in range(n_iter):
        for i, t in enumerate(targets):
            var, obs = variables[t], obs_masks[i]
            X = bufs[i]
            np.take(Z, pred_cols[i], axis=1, out=X[:, 1:])
            xo, xm = X[obs], X[var.mis]
            if var.method in ("pmm", "norm"):
                yo = (var.values[obs] - var.center) / var.scale
                coef, beta, sigma = norm_draw(rng, xo, yo)
                if var.method == "pmm":
                    idx = pmm_match(rng, xo @ coef, xm @ beta, donors)
                    vals = var.values[obs][idx]
                else:
                    z = xm @ beta + sigma * rng.standard_normal(var.mis.size)
                    vals = z * var.scale + var.center
            elif var.method == "logreg":
                vals, starts[i] = logreg_draw(rng, xo, var.values[obs].astype(float), xm,
                                              var.name, func, starts[i])
            else:
                vals, ok, starts[i] = polyreg_draw(rng, xo, var.values[obs].astype(np.int64),
                                                   xm, var.n_levels, starts[i])
                unconverged += not ok
            _set_block(Z, var, var.mis, vals)
            current[i] = vals
            tm[it, i] = float(np.mean(vals))
            ts[it, i] = float(np.std(vals, ddof=1)) if vals.size > 1 else np.nan
    return ChainResult(imputed=current, trace_mean=tm, trace_sd=ts, n_unconverged=unconverged)


def run_batch(seeds: list, Z0: np.ndarray, variables: Sequence[VarSpec],
              targets: Sequence[int], n_iter: int, donors: int, func: str
              ) -> list[ChainResult]:
    """Chains for a batch of seeds (one joblib task), single-threaded BLAS.

    The matrices are tall and thin (n x ~25): threaded BLAS gains little and, on a loaded
    machine or inside joblib workers, oversubscribes the cores (10x slower measured);
    parallelism comes from running chains in parallel (``n_jobs``).
    """
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    with threadpool_limits(limits=1, user_api="blas"):
        return [run_chain(s, Z0, variables, targets, n_iter, donors, func) for s in seeds]
