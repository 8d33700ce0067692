"""K-fold cross-fitted logistic and linear regressions on one design (arrays only).

``aipw(cross_fit=K)`` with its default models fits each nuisance GLM K times, each time on
all rows but one fold, and predicts the held-out fold. Refitting K times from scratch costs
K - 1 passes over the data per Newton iteration; instead:

- the rows are put in fold order **once** (one gather of the design, standardised in place),
  so every fold is a contiguous slice and no per-fold copy is made;
- a linear model needs each fold's ``X'WX`` and ``X'Wy`` once: the training sums are the
  total minus the held-out fold's (one pass over the data for all K fits);
- a logistic model is first fitted by Newton's method (:func:`~cohortlab._glm.fit_logistic`)
  on all rows, or on every m-th row (about ``START_ROWS``) of a large data set; then the K
  fold models are iterated **together** from that fit with the fixed Hessians
  ``H_k = sum_{j != k} G_j`` (``G_j``: fold j's ``X'WVX`` at the starting fit): one
  ``n x K`` matrix product per iteration gives every model's linear predictor on every row.
  The fold estimates are within ``O(n^-1/2)`` of the start, so each iteration gains about
  as many digits as that distance has (2 at 10^6 rows: 5 iterations), and it stops at
  Newton's relative step tolerance (the same maximum: the score equations are solved to
  that tolerance; tests/causal/test_aipw_crossfit.py checks against K separate Newton fits).
  If it does not converge (small folds, separation) every fold is refitted by Newton's
  method, with its separation diagnostics.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from .._design import Design, build_design, covariate_columns, numeric_design, quote_name
from .._glm import fit_logistic
from ..exceptions import ConvergenceError, DataValidationError

__all__ = ["FoldLayout", "fold_layout", "fold_linear", "fold_logistic", "held_out",
           "CrossFitted", "crossfit_glms", "OutcomeDesign"]

#: relative step tolerance of the joint fold iteration (as :func:`fit_logistic`'s Newton)
TOL = 1e-10
MAX_ITER = 30
#: rows of the subsample whose Newton fit starts the fold iteration
START_ROWS = 100_000


@dataclass(frozen=True, eq=False)
class FoldLayout:
    """Rows in fold order: ``order[bounds[k]:bounds[k + 1]]`` are fold k's original rows."""

    order: np.ndarray
    bounds: np.ndarray

    @property
    def k(self) -> int:
        return int(self.bounds.size - 1)

    def slices(self) -> list[slice]:
        return [slice(int(lo), int(hi)) for lo, hi in zip(self.bounds[:-1], self.bounds[1:],
                                                         strict=True)]

    def unpermute(self, v: np.ndarray) -> np.ndarray:
        """Values given in fold order, back in the original row order."""
        out = np.empty_like(v)
        out[self.order] = v
        return out


def fold_layout(tests: list[np.ndarray]) -> FoldLayout:
    """The layout of K held-out index arrays (a partition of the rows)."""
    sizes = np.array([t.size for t in tests])
    return FoldLayout(order=np.concatenate(tests), bounds=np.concatenate([[0], np.cumsum(sizes)]))


@dataclass(frozen=True, eq=False)
class Scaling:
    """The affine map ``(X - centre) / scale`` of :func:`standardised`."""

    centre: np.ndarray
    scale: np.ndarray

    def apply(self, X: np.ndarray, layout: FoldLayout) -> np.ndarray:
        Z = X[layout.order]
        Z -= self.centre
        Z /= self.scale
        return Z


def standardised(X: np.ndarray, layout: FoldLayout, w: np.ndarray,
                 extra: np.ndarray | None = None) -> tuple[np.ndarray, Scaling]:
    """``X`` in fold order, non-constant columns centred and scaled, ``extra`` appended raw.

    The one copy of the design: ``Z[:, :p]`` is the standardised ``X`` and, with ``extra``
    (a 0/1 exposure), ``Z[:, p]`` is ``extra`` in fold order. The fits below only return
    predictions, which do not depend on this affine reparametrisation; it keeps ``X'X`` well
    conditioned (a calendar year near 1988).
    """
    n, p = X.shape
    pos = w > 0
    centre, scale = np.zeros(p), np.ones(p)
    stats = []
    for c in range(p):  # columns, not rows: no n x p temporaries
        col = X[:, c] if pos.all() else X[pos, c]
        stats.append((col.min(), col.max(), col.mean(), col.std()))
    lo, hi, mean, sd = (np.array(v) for v in zip(*stats, strict=True))
    const = lo == hi
    if (const & (lo != 0)).any():  # an intercept: centre the other columns
        centre = np.where(const, 0.0, mean)
    scale = np.where(const | ~(sd > 0), 1.0, sd)
    Z = np.empty((n, p + (extra is not None)))  # row-major: the BLAS calls below want it
    Z[:, :p] = X
    Z[:, :p] -= centre
    Z[:, :p] /= scale
    if extra is not None:
        Z[:, p] = extra
    Z = Z[layout.order]  # fold order: every fold a contiguous block of rows
    return Z, Scaling(centre, scale)


def _fold_grams(Z: np.ndarray, v: np.ndarray, layout: FoldLayout) -> np.ndarray:
    """``G_j = Z_j' diag(v_j) Z_j`` of every fold j, shape (K, p, p)."""
    out = np.empty((layout.k, Z.shape[1], Z.shape[1]))
    for j, sl in enumerate(layout.slices()):  # K folds, not rows
        Zj = Z[sl]
        out[j] = (Zj * v[sl, None]).T @ Zj
    return out


def _train(per_fold: np.ndarray) -> np.ndarray:
    """Training-set sums: the total minus each held-out fold's part."""
    return per_fold.sum(axis=0)[None] - per_fold


def fold_linear(Z: np.ndarray, y: np.ndarray, w: np.ndarray, layout: FoldLayout) -> np.ndarray:
    """Weighted least-squares coefficients of the K training sets, shape (p, K).

    ``Z``, ``y``, ``w`` are in fold order. One pass: each fold's ``Z'WZ`` and ``Z'Wy``.
    """
    grams = _fold_grams(Z, w, layout)
    wy = w * y
    xy = np.stack([Z[sl].T @ wy[sl] for sl in layout.slices()])  # K folds, not rows
    G, b = _train(grams), _train(xy)
    return np.stack([np.linalg.solve(G[k], b[k]) for k in range(layout.k)], axis=1)


def fold_logistic(Z: np.ndarray, y: np.ndarray, w: np.ndarray, layout: FoldLayout, *,
                  func: str, response: str, names: Sequence[str] | None = None) -> np.ndarray:
    """Maximum-likelihood logistic coefficients of the K training sets, shape (p, K).

    ``Z``, ``y``, ``w`` in fold order; the iteration is described in the module docstring.
    """
    coef = _start(Z, y, w, func=func, response=response, names=names)
    mu = expit(Z @ coef)
    grams = _fold_grams(Z, w * mu * (1 - mu), layout)
    del mu
    H = _train(grams)
    B = np.repeat(coef[:, None], layout.k, axis=1)
    slices = layout.slices()
    wy = w * y
    unit = bool(np.all(w == 1))
    R = np.empty((Z.shape[0], layout.k))
    last = np.inf
    for _ in range(MAX_ITER):  # iterations, not rows
        np.matmul(Z, B, out=R)
        expit(R, out=R)
        if not unit:
            np.multiply(R, w[:, None], out=R)
        np.subtract(wy[:, None], R, out=R)  # w (y - mu), every model on every row
        for k, sl in enumerate(slices):  # K folds, not rows
            R[sl, k] = 0.0  # the held-out fold does not enter model k
        grad = Z.T @ R
        try:
            step = np.stack([np.linalg.solve(H[k], grad[:, k]) for k in range(layout.k)],
                            axis=1)
        except np.linalg.LinAlgError:  # a covariate constant in a training set
            break
        size = float(np.max(np.abs(step)))
        if not size < last:  # diverging (or NaN): leave it to Newton's method
            break
        B += step
        last = size
        if size < TOL * (1 + np.max(np.abs(B))):
            return B
    # no convergence: refit each training set by Newton's method (separation diagnostics)
    cols = []
    for sl in slices:  # K folds, not rows
        keep = np.ones(Z.shape[0], dtype=bool)
        keep[sl] = False
        cols.append(fit_logistic(Z[keep], y[keep], w[keep], func=func, response=response,
                                 names=names, information=False).coef)
    return np.stack(cols, axis=1)


def _start(Z: np.ndarray, y: np.ndarray, w: np.ndarray, *, func: str, response: str,
           names: Sequence[str] | None) -> np.ndarray:
    """Newton's fit on every ``step``-th row (about ``START_ROWS``), or on all rows.

    Only the starting point (and the point where the fixed Hessians are taken) of the joint
    fold iteration: it converges to each fold's maximum from any start this close. A
    subsample that Newton's method cannot fit (a rare covariate level separating it) falls
    back to all rows, whose failure is then the data's.
    """
    step = Z.shape[0] // START_ROWS
    if step >= 2:
        try:
            return fit_logistic(Z[::step], y[::step], w[::step], func=func, response=response,
                                names=names, information=False).coef
        except ConvergenceError:
            pass
    return fit_logistic(Z, y, w, func=func, response=response, names=names,
                        information=False).coef


def held_out(Z: np.ndarray, B: np.ndarray, layout: FoldLayout,
             offset: np.ndarray | None = None) -> np.ndarray:
    """Each row's linear predictor under the model that did not see its fold (fold order).

    ``offset`` (K,) is added per fold model (the exposure's coefficient times its value).
    """
    eta = np.empty(Z.shape[0])
    for k, sl in enumerate(layout.slices()):  # K folds, not rows
        np.matmul(Z[sl], B[:, k], out=eta[sl])
        if offset is not None:
            eta[sl] += offset[k]
    return eta


@dataclass(frozen=True, eq=False)
class OutcomeDesign:
    """The outcome design on all rows under the observed exposure, under 1 and under 0.

    With ``exposure_col`` (the exposure is a column of its own and nothing else), ``X1`` and
    ``X0`` are ``X`` with that column set to 1 and 0, made on first use; :meth:`arms` gives
    them on a subset of rows without making them for all rows.
    """

    design: Design
    X: np.ndarray
    exposure_added: bool
    exposure_col: int | None = None
    given: tuple[np.ndarray, np.ndarray] | None = None  # X1, X0 when built otherwise

    def _set(self, value: float, rows: Any = slice(None)) -> np.ndarray:
        if self.exposure_col is None:
            assert self.given is not None
            return self.given[0 if value == 1 else 1][rows]
        out = self.X[rows].copy()
        out[:, self.exposure_col] = value
        return out

    @functools.cached_property
    def X1(self) -> np.ndarray:
        return self._set(1.0)

    @functools.cached_property
    def X0(self) -> np.ndarray:
        return self._set(0.0)

    def linear_arms(self, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``X1 @ coef``, ``X0 @ coef``; with ``exposure_col`` one product, no X1 / X0."""
        if self.exposure_col is None:
            return self.X1 @ coef, self.X0 @ coef
        c = coef.copy()
        c[self.exposure_col] = 0.0
        eta0 = self.X @ c
        return eta0 + coef[self.exposure_col], eta0

    def arms(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``X1[rows]``, ``X0[rows]``."""
        return self._set(1.0, rows), self._set(0.0, rows)


@dataclass(frozen=True, eq=False)
class CrossFitted:
    """Out-of-fold ``e``, ``Q(1, L)``, ``Q(0, L)`` (original row order) and the PS design."""

    e: np.ndarray
    q1: np.ndarray
    q0: np.ndarray
    ps_design: Design
    outcome_formula: str


def crossfit_glms(frame: pd.DataFrame, a: np.ndarray, y: np.ndarray, s: np.ndarray,
                  covariates: Any, out_cov: Any, tests: list[np.ndarray], *, exposure: str,
                  binary: bool, func: str, outcome: str,
                  general: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray, Design]]
                  ) -> CrossFitted:
    """Both default GLMs (logistic PS; linear or logistic outcome) cross-fitted on ``tests``.

    The propensity design is built once. When the outcome formula does not use the exposure
    (it then enters as a main effect) the outcome design is that design (or the outcome
    formula's) with the 0/1 exposure as one more column, and ``Q(a, L)`` is the fold model's
    covariate part plus ``a`` times its exposure coefficient; otherwise ``general()`` gives
    the outcome design under the observed exposure, under 1 and under 0 (and the Design).
    A covariate column that takes one value on the rows outside a fold is refused
    (:func:`_check_training_sets`).
    """
    layout = fold_layout(tests)
    design = _with_intercept(frame, covariates, func)
    sp, yp = s[layout.order], y[layout.order]

    def fit_out(Z: np.ndarray, names: Sequence[str]) -> np.ndarray:
        _check_training_sets(Z, names, layout, func, "outcome model")
        if binary:
            return fold_logistic(Z, yp, sp, layout, func=func, names=names,
                                 response=f"the outcome {outcome!r}")
        return fold_linear(Z, yp, sp, layout)

    link = expit if binary else (lambda x: x)
    if exposure not in covariate_columns(out_cov, frame, func, check_text=False):
        same = _same(out_cov, covariates)
        Xc = design if same else _with_intercept(frame, out_cov, func)
        formula = f"{quote_name(exposure)} + {Xc.formula}"
        p = Xc.X.shape[1]
        Zo, _ = standardised(Xc.X, layout, s, extra=a.astype(float))
        B = fit_out(Zo, (*Xc.names, exposure))
        q1p = link(held_out(Zo[:, :p], B[:p], layout, offset=B[p]))
        q0p = link(held_out(Zo[:, :p], B[:p], layout))
        Zps = Zo[:, :p] if same else standardised(design.X, layout, s)[0]
        shared = same
    else:
        X, X1, X0, od = general()
        formula = od.formula
        Zo, scaling = standardised(X, layout, s)
        B = fit_out(Zo, od.names)
        del Zo
        q1p = link(held_out(scaling.apply(X1, layout), B, layout))
        q0p = link(held_out(scaling.apply(X0, layout), B, layout))
        Zps = standardised(design.X, layout, s)[0]
        shared = False
    ap = a[layout.order].astype(float)
    if not shared:  # else its columns were checked with the outcome model's
        _check_training_sets(Zps, design.names, layout, func, "propensity model")
    Bps = fold_logistic(Zps, ap, sp, layout, func=func, names=design.names,
                        response=f"the exposure {exposure!r}")
    ep = expit(held_out(Zps, Bps, layout))
    return CrossFitted(e=layout.unpermute(ep), q1=layout.unpermute(q1p),
                       q0=layout.unpermute(q0p), ps_design=design, outcome_formula=formula)


def _check_training_sets(Z: np.ndarray, names: Sequence[str], layout: FoldLayout, func: str,
                         model: str) -> None:
    """Refuse a column that is constant on the rows outside a fold but not everywhere.

    That fold's model cannot estimate the column's coefficient (a rare category level whose
    rows all fell in one fold), and the fold it predicts holds the only other values.
    """
    slices = layout.slices()
    lo = np.stack([Z[sl].min(axis=0) for sl in slices])  # K folds, not rows
    hi = np.stack([Z[sl].max(axis=0) for sl in slices])
    varies = lo.min(axis=0) < hi.max(axis=0)
    for k in range(layout.k):  # K folds, not rows
        rest = np.arange(layout.k) != k
        bad = varies & (lo[rest].min(axis=0) == hi[rest].max(axis=0))
        if bad.any():
            cols = [names[int(j)] for j in np.flatnonzero(bad)]
            raise DataValidationError(
                f"{func}(): cross_fit={layout.k}: covariate column(s) {cols} of the {model} "
                f"take a single value outside fold {k + 1} (all their other values fell in "
                "that fold), so the model fitted without that fold cannot estimate them. Use "
                "fewer folds, or merge or drop the rare level."
            )


def _with_intercept(frame: pd.DataFrame, covariates: Any, func: str) -> Design:
    """The design with an intercept: plain numeric columns without formulaic's data frame."""
    return (numeric_design(frame, covariates)
            or build_design(frame, covariates, func, intercept=True))


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, str) or isinstance(y, str):
        return isinstance(x, str) and isinstance(y, str) and x == y
    return list(x) == list(y)
