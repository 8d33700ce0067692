"""Dose-response curves of a continuous exposure: the numbers (arrays only, no pandas).

Both methods of :func:`~cohortlab.causal.dose_response.dose_response` end with one GLM whose
design is ``X = [B(a) | C]``: the dose terms ``B(a)`` of the exposure (linear, quadratic or a
natural cubic spline) and a part ``C`` that does not depend on the exposure (intercept and
covariates for the g-formula; intercept and numerator covariates for the marginal structural
model). The curve at a dose ``g`` is the standardised mean

    mu(g) = sum_i s_i h(B(g)' beta_B + C_i' beta_C) / sum_i s_i

(``h`` the identity or the inverse logit; ``s`` sampling weights), one matrix product per
dose and no loop over rows. Its influence function is the M-estimation chain rule of
:mod:`cohortlab.causal.gformula`,

    phi_i(g) = s_i (q_i(g) - mu(g)) / mean(s) + D(g)' IF_beta,i,   D(g) = d mu(g) / d beta,

with ``IF_beta,i = I^-1 w_i x_i (y_i - m_i)`` (``I`` the GLM's information, ``w`` the fit
weights: sampling weights, times the GPS weights for the MSM, which are treated as known).
Only the covariance ``sum_i phi_i phi_i' / n^2`` of the doses' means is formed, accumulated
over row chunks so memory stays bounded for millions of rows.

The generalised propensity score (GPS) is a normal linear model ``A ~ Z``; stabilised
weights are ``f(A) / f(A | Z)`` with normal densities whose SD is the residual standard error
``sqrt(sum w r^2 / (n - p))`` (R's ``summary(lm)$sigma``).

The module also holds the boundary checks and notes that need only arrays (outcome type,
grid and reference, slope step, exposure and weight summaries) and the bootstrap replicate.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from .._design import natural_spline
from .._glm import GLMFit, fit_linear, fit_logistic
from .._validation import verb_name
from ..exceptions import DataValidationError, ExtremeWeightWarning, LowEffectiveSampleSizeWarning
from ._propensity import MAX_WEIGHT_SHARE, MIN_ESS_FRACTION, truncate_weights
from ._weights import ess, warn_weights

__all__ = ["DoseBasis", "make_basis", "gps_weights", "curve_means", "curve_stats",
           "contrast_rows", "fit_curve_glm", "dose_design", "outcome_binary", "dose_grid",
           "slope_step", "exposure_summary", "summary_note", "weight_notes", "variance_note",
           "bootstrap_statistic", "curve_contrasts", "scaled_design"]

GRID_POINTS = 20
GRID_QUANTILES = (0.05, 0.95)
CHUNK = 1 << 16  # rows per block when an n x (number of doses) matrix would be formed


@dataclass(frozen=True, eq=False)
class DoseBasis:
    """The dose terms ``B(a)``: their kind, knots (spline) and column names."""

    kind: str
    names: tuple[str, ...]
    knots: np.ndarray | None = None  # all knots, boundary ones included (spline)

    def matrix(self, a: np.ndarray) -> np.ndarray:
        """``B(a)``, shape (len(a), k); the spline is linear beyond its boundary knots."""
        a = np.asarray(a, dtype=float)
        if self.kind == "linear":
            return a[:, None]
        if self.kind == "quadratic":
            return np.column_stack([a, a * a])
        assert self.knots is not None
        return natural_spline(a, self.knots)

    def describe(self) -> str:
        """Human description of the dose terms."""
        if self.kind == "spline":
            assert self.knots is not None
            inner = ", ".join(f"{k:.4g}" for k in self.knots[1:-1])
            where = f"interior knots [{inner}], " if inner else ""
            return (f"natural cubic spline of the exposure with {len(self.names)} df "
                    f"({where}boundary knots [{self.knots[0]:.4g}, {self.knots[-1]:.4g}])")
        return " + ".join(self.names)


def make_basis(a: np.ndarray, kind: str, df: int, exposure: str) -> DoseBasis:
    """Build the dose basis on the analysed exposure values.

    Spline knots are placed as R's ``splines::ns(a, df=df)`` places them (boundary knots at
    the range, ``df - 1`` interior knots at the quantiles ``1/df, ..., (df-1)/df``, type 7);
    the basis spans the same functions, so fitted values and curves equal R's. Raises
    ``ValueError`` when knots coincide (the caller turns it into a message naming the column).

    Examples
    --------
    >>> b = make_basis(np.arange(10.0), "spline", 3, "dose")
    >>> b.names, b.knots.round(2).tolist()
    (('ns(dose, df=3)[1]', 'ns(dose, df=3)[2]', 'ns(dose, df=3)[3]'), [0.0, 3.0, 6.0, 9.0])
    >>> make_basis(np.arange(3.0), "quadratic", 3, "dose").matrix(np.array([2.0])).tolist()
    [[2.0, 4.0]]
    """
    if kind == "linear":
        return DoseBasis("linear", (exposure,))
    if kind == "quadratic":
        return DoseBasis("quadratic", (exposure, f"{exposure}^2"))
    knots = np.quantile(a, np.linspace(0.0, 1.0, df + 1))
    if np.any(np.diff(knots) <= 0):
        raise ValueError(f"duplicate knots {knots.tolist()}")
    names = tuple(f"ns({exposure}, df={df})[{j}]" for j in range(1, df + 1))
    return DoseBasis("spline", names, knots)


# ---------------------------------------------------------------------- GPS weights
def _normal_fit(a: np.ndarray, Z: np.ndarray, w: np.ndarray,
                freq: np.ndarray) -> tuple[np.ndarray, float]:
    """Weighted least squares ``a ~ Z``: fitted means and the residual standard error."""
    fit = fit_linear(Z, a, w)
    n_obs = float(freq[w > 0].sum())
    dof = n_obs - Z.shape[1]
    if dof <= 0:
        raise ValueError("no residual degrees of freedom in the exposure model")
    sigma = float(np.sqrt(np.sum(w * (a - fit.fitted) ** 2) / dof))
    return fit.fitted, sigma


def gps_weights(a: np.ndarray, Z: np.ndarray, Zn: np.ndarray, w: np.ndarray,
                freq: np.ndarray) -> tuple[np.ndarray, float, float, np.ndarray]:
    """Stabilised GPS weights ``f(A | Zn) / f(A | Z)`` with normal densities.

    ``w`` are the fit weights (sampling weights, times the bootstrap counts in a replicate),
    ``freq`` the row multiplicities (1, or the bootstrap counts) that count the residual
    degrees of freedom. Returns the weights, both residual SDs and the denominator's fitted
    means.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> z = rng.normal(size=200)
    >>> a = z + rng.normal(size=200)
    >>> Z = np.column_stack([np.ones(200), z])
    >>> sw, s_den, s_num, _ = gps_weights(a, Z, np.ones((200, 1)), np.ones(200), np.ones(200))
    >>> round(float(sw.mean()), 1), s_den < s_num
    (1.0, True)
    """
    m_den, s_den = _normal_fit(a, Z, w, freq)
    m_num, s_num = _normal_fit(a, Zn, w, freq)
    log_sw = (-0.5 * ((a - m_num) / s_num) ** 2 - np.log(s_num)
              + 0.5 * ((a - m_den) / s_den) ** 2 + np.log(s_den))
    return np.exp(log_sw), s_den, s_num, m_den


# ---------------------------------------------------------------------- curve
def fit_curve_glm(X: np.ndarray, y: np.ndarray, w: np.ndarray, binary: bool,
                  names: tuple[str, ...], func: str, outcome: str,
                  start: np.ndarray | None = None, information: bool = True) -> GLMFit:
    """Logistic (binary outcome) or linear regression of the outcome on ``X``."""
    if binary:
        return fit_logistic(X, y, w, names=names, func=func, start=start,
                            response=f"the outcome {outcome!r}", information=information)
    return fit_linear(X, y, w)


def _chunks(n: int) -> list[slice]:
    return [slice(i, min(i + CHUNK, n)) for i in range(0, n, CHUNK)]


def dose_design(Bs: np.ndarray, Zm: np.ndarray) -> np.ndarray:
    """The dose columns ``B(a) x Zm`` block by block: ``[B * Zm_0, B * Zm_1, ...]``.

    ``Zm`` is the column of ones followed by the effect modifiers (g-formula interactions).
    """
    return np.hstack([Bs * Zm[:, [j]] for j in range(Zm.shape[1])])


def scaled_design(B: np.ndarray, Zm: np.ndarray,
                  C: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The curve GLM's design with dose columns of unit size, their scale and every column's.

    ``B`` (the dose basis) is divided by its columns' largest absolute values ``b_scale``
    (the fit, curve and SEs are invariant; Newton is well scaled), crossed with ``Zm``
    (:func:`dose_design`) and followed by ``C``. Returns the design, ``b_scale`` and the
    scale of every design column (to put the coefficients back on the dose scale).
    """
    b_scale = np.abs(B).max(axis=0)
    X = np.hstack([dose_design(B / b_scale, Zm), C])
    scale = np.r_[np.tile(b_scale, Zm.shape[1]), np.ones(C.shape[1])]
    return X, b_scale, scale


def _linear_parts(beta: np.ndarray, Bg: np.ndarray, Zm: np.ndarray,
                  C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``off = C beta_C`` (n,) and ``H`` (m, G) with ``eta_ig = off_i + (Zm H)_ig``."""
    k, m = Bg.shape[1], Zm.shape[1]
    blocks = beta[:k * m].reshape(m, k)
    return C @ beta[k * m:], blocks @ Bg.T


def curve_means(beta: np.ndarray, Bg: np.ndarray, Zm: np.ndarray, C: np.ndarray,
                s: np.ndarray, binary: bool) -> np.ndarray:
    """Standardised means ``mu(g)`` at the doses (rows of ``Bg``), shape (G,).

    The linear predictor at dose ``g`` is ``C_i beta_C + sum_j Zm_ij B(g)' beta_j``.

    Examples
    --------
    >>> beta = np.array([2.0, 1.0])  # y = 2 a + 1
    >>> one = np.ones((3, 1))
    >>> curve_means(beta, np.array([[0.0], [1.0]]), one, one, np.ones(3), False).tolist()
    [1.0, 3.0]
    """
    off, H = _linear_parts(beta, Bg, Zm, C)
    total = s.sum()
    if not binary:
        return (s @ off) / total + ((s @ Zm) / total) @ H
    mu = np.zeros(H.shape[1])
    for sl in _chunks(off.size):
        mu += s[sl] @ expit(off[sl, None] + Zm[sl] @ H)
    return mu / total


def curve_stats(fit: GLMFit, X: np.ndarray, y: np.ndarray, w: np.ndarray, Bg: np.ndarray,
                Zm: np.ndarray, C: np.ndarray, s: np.ndarray,
                binary: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardised means at the doses, their covariance, and the coefficients' covariance.

    One pass over row blocks. ``phi = A + S M`` with ``A_ig = s_i (q_i(g) - mu(g)) / mean(s)``,
    ``S`` the score contributions ``w_i x_i (y_i - m_i)`` and ``M = I^-1 D``; returns ``mu``
    (G,), ``phi' phi / n^2`` (G, G) and the HC0 sandwich ``I^-1 (S'S) I^-1 / n^2`` (p, p).
    ``A' A`` and ``A' S`` are accumulated from sums of ``q - c`` (``c`` the first block's
    means), so no second pass is needed and no precision is lost to large means.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=500)
    >>> y = 1 + 2 * a + rng.normal(size=500)
    >>> X = np.column_stack([a, np.ones(500)])
    >>> fit = fit_linear(X, y)
    >>> one = np.ones((500, 1))
    >>> mu, V, Vb = curve_stats(fit, X, y, np.ones(500), np.array([[0.0], [1.0]]), one, one,
    ...                         np.ones(500), False)
    >>> bool(np.allclose(mu, [fit.coef[1], fit.coef.sum()])), bool(np.isclose(V[0, 0], Vb[1, 1]))
    (True, True)
    """
    n = y.size
    off, H = _linear_parts(fit.coef, Bg, Zm, C)
    G, p, mz, mc = H.shape[1], X.shape[1], Zm.shape[1], C.shape[1]
    total = float(s.sum())
    resid = w * (y - fit.fitted)
    shift = None
    sq, zv, cv = np.zeros(G), np.zeros((mz, G)), np.zeros((mc, G))
    s2q, s2qq, sqS = np.zeros(G), np.zeros((G, G)), np.zeros((G, p))
    sS, SS = np.zeros(p), np.zeros((p, p))
    for sl in _chunks(n):  # blocks of rows, one (rows x doses) product each
        eta = off[sl, None] + Zm[sl] @ H
        q = expit(eta) if binary else eta
        ss = s[sl]
        if shift is None:
            shift = (ss @ q) / max(float(ss.sum()), 1e-300)
        if binary:
            v = ss[:, None] * q * (1 - q)
            zv += Zm[sl].T @ v
            cv += C[sl].T @ v
        qs = (q - shift[None, :]) * ss[:, None]
        S = X[sl] * resid[sl, None]
        sq += qs.sum(axis=0)
        s2q += ss @ qs
        s2qq += qs.T @ qs
        sqS += qs.T @ S
        sS += ss @ S
        SS += S.T @ S
    assert shift is not None
    dmu = sq / total  # mu - shift
    mu = shift + dmu
    if not binary:  # d mu / d eta = 1: weighted means of the modifiers and covariates
        zv = np.repeat((s @ Zm)[:, None], G, axis=1)
        cv = np.repeat((s @ C)[:, None], G, axis=1)
    D = np.vstack([Bg.T * (zv[j] / total)[None, :] for j in range(mz)] + [cv / total])
    sbar = total / n
    s2 = float(s @ s)
    AA = (s2qq - np.outer(dmu, s2q) - np.outer(s2q, dmu) + s2 * np.outer(dmu, dmu)) / sbar**2
    AS = (sqS - np.outer(dmu, sS)) / sbar
    M = np.linalg.solve(fit.information, D)
    ASM = AS @ M
    V = (AA + ASM + ASM.T + M.T @ SS @ M) / n**2
    binv = np.linalg.inv(fit.information)
    return mu, (V + V.T) / 2, binv @ SS @ binv / n**2


def contrast_rows(mu: np.ndarray, idx: np.ndarray, ref: int,
                  measure: str) -> tuple[np.ndarray, np.ndarray]:
    """Contrasts of ``mu[idx]`` vs ``mu[ref]`` on the model scale and their gradients.

    ``difference``: ``mu_g - mu_r``; ``ratio``: ``log(mu_g / mu_r)``. Returns the estimates
    and the gradient matrix (len(idx), G), so ``SE = sqrt(diag(grad V grad'))``; works on a
    (B, G) matrix of bootstrap means too (estimates only are meaningful then).

    Examples
    --------
    >>> est, grad = contrast_rows(np.array([2.0, 4.0]), np.array([1]), 0, "ratio")
    >>> round(float(est[0]), 4), grad.tolist()
    (0.6931, [[-0.5, 0.25]])
    """
    G = mu.shape[-1]
    grad = np.zeros((idx.size, G))
    if measure == "difference":
        est = mu[..., idx] - mu[..., ref, None]
        grad[np.arange(idx.size), idx] = 1.0
        grad[:, ref] -= 1.0
        return est, grad
    est = np.log(mu[..., idx] / mu[..., ref, None])
    if mu.ndim == 1:
        grad[np.arange(idx.size), idx] = 1.0 / mu[idx]
        grad[:, ref] -= 1.0 / mu[ref]
    return est, grad


def curve_contrasts(mu: np.ndarray, V: np.ndarray, reps: np.ndarray | None, n_doses: int,
                    ref_idx: int, slope: bool, measure: str
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The curve's SEs and its contrasts with the reference dose, with SEs and replicates.

    ``mu`` holds the ``n_doses`` grid means (then, with ``slope``, the mean at reference +
    step) and ``V`` their covariance; ``reps`` the (B, G) bootstrap means or None. Returns
    the grid means' SEs, the indices contrasted with ``ref_idx`` (every other grid dose, then
    the slope point), the contrasts (:func:`contrast_rows`), their delta-method SEs
    ``sqrt(diag(grad V grad'))`` and the replicates' contrasts (None without ``reps``).
    """
    se_mu = np.sqrt(np.clip(np.diag(V), 0, None))
    others = np.array([j for j in range(n_doses) if j != ref_idx] +
                      ([n_doses] if slope else []), dtype=int)
    est, grad = contrast_rows(mu, others, ref_idx, measure)
    se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", grad, V, grad), 0, None))
    rep_c = contrast_rows(reps, others, ref_idx, measure)[0] if reps is not None else None
    return se_mu, others, est, se, rep_c


# ---------------------------------------------------------------------- checks and notes
def outcome_binary(y: np.ndarray, outcome: str, outcome_type: str, measure: str) -> bool:
    is01 = bool(np.isin(np.unique(y), [0.0, 1.0]).all())
    if outcome_type == "binary" and not is01:
        raise DataValidationError(
            f"{verb_name()}(): outcome_type=\"binary\" needs a 0/1 outcome; column {outcome!r} "
            f"(outcome) has other values (e.g. {np.unique(y)[:3].tolist()}). Recode it or pass "
            "outcome_type=\"continuous\".")
    binary = is01 and outcome_type != "continuous"
    if measure == "ratio" and not binary:
        raise DataValidationError(
            f"{verb_name()}(): effect_measure=\"ratio\" needs a binary 0/1 outcome (risk ratio); "
            f"column {outcome!r} (outcome) is modelled as continuous. Use "
            "effect_measure=\"difference\".")
    if binary and (y.sum() == 0 or y.sum() == y.size):
        what = "no events" if y.sum() == 0 else "only events"
        raise DataValidationError(
            f"{verb_name()}(): column {outcome!r} (outcome) has {what} among the analysed rows; "
            "risks are not estimable. Check the outcome coding.")
    return binary


def _as_doses(values: Any, argument: str) -> np.ndarray:
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        raise DataValidationError(
            f"{verb_name()}(): {argument} must be numeric exposure values; got {values!r}."
        ) from None
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all():
        raise DataValidationError(
            f"{verb_name()}(): {argument} must be a non-empty list of finite exposure values; got "
            f"{values!r}.")
    return arr


def dose_grid(a: np.ndarray, grid: Any, reference: Any,
          exposure: str) -> tuple[np.ndarray, float, int]:
    lo, hi = float(a.min()), float(a.max())
    if grid is None:
        q = np.quantile(a, GRID_QUANTILES)
        doses = np.linspace(q[0], q[1], GRID_POINTS)
    else:
        doses = _as_doses(grid, "grid")
        out = doses[(doses < lo) | (doses > hi)]
        if out.size:
            raise DataValidationError(
                f"{verb_name()}(): grid has {out.size} value(s) outside the observed range "
                f"[{lo:g}, {hi:g}] of column {exposure!r} (exposure); got "
                f"{np.round(out, 6).tolist()[:6]}. The curve there would be extrapolation "
                "(no positivity); restrict the grid to the observed range.")
    if reference is None:
        ref = float(np.median(a))
    else:
        r = _as_doses(reference, "reference")
        if r.size != 1:
            raise DataValidationError(
                f"{verb_name()}(): reference must be one exposure value; got {reference!r}.")
        ref = float(r[0])
        if not lo <= ref <= hi:
            raise DataValidationError(
                f"{verb_name()}(): reference={ref:g} is outside the observed range [{lo:g}, "
                f"{hi:g}] "
                f"of column {exposure!r} (exposure). Pick a dose within it (default: the "
                "median).")
    doses = np.unique(np.r_[doses, ref])
    return doses, ref, int(np.searchsorted(doses, ref))


def slope_step(per: Any, a: np.ndarray, dose_terms: str) -> float | None:
    if dose_terms != "linear":
        if per is not None:
            raise DataValidationError(
                f"{verb_name()}(): per sets the slope row, which needs dose_terms=\"linear\"; got "
                f"per={per!r} with dose_terms={dose_terms!r}. Remove per or use linear terms.")
        return None
    if per is None:
        return 1.0
    if isinstance(per, str):
        if per != "sd":
            raise DataValidationError(
                f"{verb_name()}(): per must be a positive number or \"sd\"; got {per!r}.")
        return float(np.std(a, ddof=1))
    if isinstance(per, bool) or not isinstance(per, numbers.Real) or not float(per) > 0:
        raise DataValidationError(f"{verb_name()}(): per must be a positive number or \"sd\"; got "
                                  f"{per!r}.")
    return float(per)


# ---------------------------------------------------------------------- notes
def exposure_summary(a: np.ndarray) -> dict[str, float]:
    q = np.quantile(a, [0.05, 0.5, 0.95])
    return {"n": float(a.size), "mean": float(a.mean()), "sd": float(np.std(a, ddof=1)),
            "min": float(a.min()), "q05": float(q[0]), "median": float(q[1]),
            "q95": float(q[2]), "max": float(a.max())}


def summary_note(exposure: str, s: dict[str, float]) -> str:
    return (f"exposure {exposure}: mean {s['mean']:.4g}, SD {s['sd']:.4g}, min {s['min']:.4g}, "
            f"5th percentile {s['q05']:.4g}, median {s['median']:.4g}, 95th percentile "
            f"{s['q95']:.4g}, max {s['max']:.4g} (n = {int(s['n']):,})")


def weight_notes(sw: np.ndarray, s: np.ndarray, trunc_note: str | None) -> list[str]:
    w = sw * s
    n_eff = ess(w[w > 0])
    notes = [f"stabilised GPS weights: mean {sw.mean():.4g}, SD {sw.std(ddof=1):.4g}, min "
             f"{sw.min():.4g}, max {sw.max():.4g}; effective sample size {n_eff:,.1f} of "
             f"{int((w > 0).sum()):,}"]
    if trunc_note:
        notes.append(trunc_note)
    share = float(w.max() / w.sum())
    if share > MAX_WEIGHT_SHARE:
        msg = (f"{verb_name()}(): one subject carries {share:.0%} of the total weight (max "
               "stabilised "
               f"weight {sw.max():.3g}). The curve leans on a few subjects; consider "
               "truncate=(0.01, 0.99) or check the exposure model.")
        warn_weights(notes, msg, ExtremeWeightWarning)
    if n_eff < MIN_ESS_FRACTION * (w > 0).sum():
        msg = (f"{verb_name()}(): the effective sample size is {n_eff:.1f} of "
               f"{int((w > 0).sum()):,} "
               f"subjects, under {MIN_ESS_FRACTION:.0%}. The GPS weights discard most of the "
               "information; check the exposure model or use truncate=(0.01, 0.99).")
        warn_weights(notes, msg, LowEffectiveSampleSizeWarning)
    return notes


def variance_note(method: str, variance: str, n_boot: int) -> str:
    if variance == "bootstrap":
        what = "the GPS and the MSM" if method == "ipw" else "the outcome model"
        return (f"bootstrap: {n_boot:,} resamples refitting {what} (spline knots fixed); "
                "percentile intervals")
    if method == "ipw":
        return ("robust sandwich (HC0) SEs treating the GPS weights as known (as geeglm); "
                "the GPS estimation is not accounted for (variance=\"bootstrap\" includes it)")
    return ("influence-function SEs including the outcome model's estimation (M-estimation "
            "chain rule)")


# ---------------------------------------------------------------------- bootstrap
def bootstrap_statistic(a: np.ndarray, y: np.ndarray, s: np.ndarray, X: np.ndarray,
                         Zm: np.ndarray, C: np.ndarray, Bg: np.ndarray, Z: np.ndarray | None,
                         Zn: np.ndarray | None, binary: bool, truncate: Any,
                         start: np.ndarray, names: tuple[str, ...], outcome: str) -> Any:
    """A replicate: refit the GPS (IPW) and the GLM on the resample, standardise."""
    every = np.ones(a.size, dtype=bool)

    def stat(idx: np.ndarray) -> np.ndarray:
        # A resample equals the full data with frequency weights: no row gather needed.
        cnt = np.bincount(idx, minlength=a.size).astype(float)
        sb = s * cnt
        w = sb
        if Z is not None and Zn is not None:
            sw = gps_weights(a, Z, Zn, sb, cnt)[0]
            sw, _ = truncate_weights(sw, every, truncate, verb_name(), freq=cnt)
            w = sb * sw
        fit = fit_curve_glm(X, y, w, binary, names, verb_name(), outcome, start=start,
                            information=False)
        return curve_means(fit.coef, Bg, Zm, C, sb, binary)

    return stat
