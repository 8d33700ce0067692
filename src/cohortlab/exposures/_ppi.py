"""Prediction-powered inference (PPI++) on arrays: means, contrasts, lambda tuning.

Notation: ``N`` rows, each with a model prediction ``f`` (the ``outcome`` column); a labelled
subset (``r == 1``) also has the gold-standard label ``y``, labelled with probability ``pi``
(known, or estimated as the labelled share of the row's stratum). ``T(g)`` is a full-data
estimator that is linear in its outcome ``g`` given the other data (a mean, arm means, Hajek
IPW or AIPW arm means with nuisance models fitted on everyone); ``T_w(g)`` is the same
estimator on the labelled rows, each weighted by ``1 / pi``. The power-tuned PPI++ estimator
(Angelopoulos, Duchi & Zrnic 2023) is

    theta_lambda = T_w(y) - lambda * (T_w(f) - T(f)),

consistent for any ``lambda`` because ``T_w(f)`` and ``T(f)`` converge to the same limit
(labelling is random within strata). Its influence function is ``a - lambda b`` with ``a`` the
influence function of ``T_w(y)`` and ``b`` that of ``T_w(f) - T(f)``, so the variance is
smallest at ``lambda = cov(a, b) / var(b)``; the estimated ``lambda`` does not change the
first-order variance (``b`` has mean zero).

For the mean without strata this is the estimator of the PPI++ paper written with the mean of
the predictions over all ``N`` rows: ``lambda mean_N(f) + mean_n(y - lambda f)`` equals the
paper's ``lambda' mean_unlabelled(f) + mean_n(y - lambda' f)`` with
``lambda' = lambda (N - n) / N``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..causal._contrast import contrast

__all__ = ["Pieces", "labelling_correction", "hajek_mean", "tune_lambda", "choose_lambda",
           "ppi_means", "ppi_rows", "stratum_shares"]


@dataclass(frozen=True, eq=False)
class Pieces:
    """The K means (1 for a mean, 2 for arms 1 and 0) of the three estimators, with IFs.

    ``mu_y``, ``phi_y``: labelled-only ``T_w(y)``; ``mu_fw``, ``phi_fw``: ``T_w(f)``;
    ``mu_f``, ``phi_f``: all rows ``T(f)``. Each ``phi`` has one column per mean, one row per
    subject, scaled so that ``mu - truth ~ mean(phi)``.
    """

    mu_y: np.ndarray
    mu_fw: np.ndarray
    mu_f: np.ndarray
    phi_y: np.ndarray
    phi_fw: np.ndarray
    phi_f: np.ndarray


def stratum_shares(r: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each row's labelled share within its stratum (``codes`` are 0..S-1).

    Examples
    --------
    >>> stratum_shares(np.array([1, 0, 1, 1]), np.array([0, 0, 1, 1])).tolist()
    [0.5, 0.5, 1.0, 1.0]
    """
    n_s = np.bincount(codes)
    lab = np.bincount(codes, weights=r.astype(float), minlength=n_s.size)
    return (lab / n_s)[codes]


def labelling_correction(phi_known: np.ndarray, r: np.ndarray, pi: np.ndarray,
                         codes: np.ndarray | None) -> np.ndarray:
    """Influence term of labelling probabilities estimated as stratum shares.

    For an estimating function ``psi_i = (r_i / pi_s) u_i`` with ``pi_s = n_s / N_s``, the
    stacked sandwich adds ``-(r_i - pi_s) / pi_s * mean_{j in s}(psi_j)``. ``phi_known`` are
    the influence values with the probabilities treated as known (columns: one per mean);
    ``codes`` is None when the probabilities are known (no correction).

    Examples
    --------
    >>> r, codes = np.array([1.0, 0.0, 1.0, 0.0]), np.zeros(4, dtype=int)
    >>> phi = (r / 0.5 * (np.array([1.0, 0, 3, 0]) - 2.0))[:, None]
    >>> labelling_correction(phi, r, np.full(4, 0.5), codes).ravel().tolist()
    [-0.0, 0.0, -0.0, 0.0]
    """
    if codes is None:
        return np.zeros_like(phi_known)
    phi2 = phi_known if phi_known.ndim == 2 else phi_known[:, None]
    n_s = np.bincount(codes).astype(float)
    means = np.column_stack([np.bincount(codes, weights=phi2[:, k], minlength=n_s.size) / n_s
                             for k in range(phi2.shape[1])])
    corr = -((r - pi) / pi)[:, None] * means[codes]
    return corr if phi_known.ndim == 2 else corr[:, 0]


def hajek_mean(g: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted (Hajek) mean of ``g`` and its influence values ``w (g - mu) / mean(w)``.

    ``g`` may hold anything (e.g. NaN) where ``w == 0``.

    Examples
    --------
    >>> mu, phi = hajek_mean(np.array([1.0, 3.0, np.nan]), np.array([1.0, 1.0, 0.0]))
    >>> mu, phi.tolist()
    (2.0, [-1.5, 1.5, 0.0])
    """
    g0 = np.where(w > 0, g, 0.0)
    mu = float(np.dot(w, g0) / w.sum())
    return mu, w * (g0 - mu) / w.mean()


def tune_lambda(a: np.ndarray, b: np.ndarray, clip: bool) -> float:
    """The power-tuning parameter minimising ``var(a - lambda b)``: ``cov(a, b) / var(b)``.

    Returns 0 when ``b`` has no variance (every row labelled). ``clip`` restricts it to
    ``[0, 1]`` (between the labelled-only estimator and classical PPI).

    Examples
    --------
    >>> a, b = np.array([1.0, -1.0, 2.0, -2.0]), np.array([1.0, -1.0, 1.0, -1.0])
    >>> tune_lambda(a, b, clip=False), tune_lambda(a, b, clip=True)
    (1.5, 1.0)
    """
    bc = b - b.mean()
    den = float(np.dot(bc, bc))
    if den <= 1e-300:
        return 0.0
    lam = float(np.dot(a - a.mean(), bc) / den)
    return float(np.clip(lam, 0.0, 1.0)) if clip else lam


def _apply(mu: np.ndarray, phi: np.ndarray, measure: str | None) -> tuple[float, np.ndarray]:
    if measure is None:  # a single mean
        return float(mu[0]), phi[:, 0]
    return contrast(float(mu[0]), float(mu[1]), phi[:, 0], phi[:, 1], measure)


def choose_lambda(p: Pieces, measure: str | None, lam: float | str, clip: bool) -> float:
    """The PPI parameter: ``lam`` itself, or the variance-minimising value.

    With ``lam="tuned"``, the value minimising the estimated variance of the contrast
    linearised at the labelled-only means (clipped to [0, 1] with ``clip``).
    """
    if lam != "tuned":
        return float(lam)
    a_c = _apply(p.mu_y, p.phi_y, measure)[1]
    b_c = _apply(p.mu_y, p.phi_fw - p.phi_f, measure)[1]  # the delta method is linear in phi
    return tune_lambda(a_c, b_c, clip)


def ppi_means(p: Pieces, lam: float) -> np.ndarray:
    """The PPI means ``T_w(y) - lambda (T_w(f) - T(f))``."""
    return p.mu_y - lam * (p.mu_fw - p.mu_f)


def ppi_rows(p: Pieces, measure: str | None,
             lam: float) -> dict[str, tuple[float, np.ndarray]]:
    """Naive, labelled-only and PPI estimates (model scale) with influence values.

    ``measure`` is None for a single mean, else the contrast of the two means (see
    :func:`cohortlab.causal._contrast.contrast`); ``lam`` from :func:`choose_lambda`.

    Examples
    --------
    >>> phi = np.array([[1.0], [-1.0], [0.5], [-0.5]])
    >>> p = Pieces(np.array([0.4]), np.array([0.3]), np.array([0.35]), phi, 0.8 * phi,
    ...            0.1 * phi)
    >>> rows = ppi_rows(p, None, 1.0)
    >>> round(rows["ppi"][0], 3), round(rows["labelled_only"][0], 3), round(rows["naive"][0], 3)
    (0.45, 0.4, 0.35)
    """
    return {
        "naive": _apply(p.mu_f, p.phi_f, measure),
        "labelled_only": _apply(p.mu_y, p.phi_y, measure),
        "ppi": _apply(ppi_means(p, lam), p.phi_y - lam * (p.phi_fw - p.phi_f), measure),
    }
