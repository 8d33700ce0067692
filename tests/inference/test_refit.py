"""_refit.LogisticRefit: bootstrap refits equal fit_logistic's, in any process or thread."""

from __future__ import annotations

import importlib
import pickle

import joblib
import numpy as np
import pandas as pd
from scipy.special import expit

import cohortlab as cl
from cohortlab._glm import fit_logistic
from cohortlab._refit import LogisticRefit

bootstrap_module = importlib.import_module("cohortlab.inference.bootstrap")


def _data(n: int = 2_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 3)), rng.integers(1985, 1995, n)])
    y = rng.binomial(1, expit(0.2 + 0.5 * X[:, 1] - 0.3 * X[:, 2])).astype(float)
    return X, y


def test_refits_match_fit_logistic_and_survive_pickling() -> None:
    X, y = _data()
    full = fit_logistic(X, y)
    refit = pickle.loads(pickle.dumps(LogisticRefit(X, y, full.coef)))
    rng = np.random.default_rng(2)
    for _ in range(5):
        w = np.bincount(rng.integers(0, y.size, y.size), minlength=y.size).astype(float)
        np.testing.assert_allclose(refit.fitted(w), fit_logistic(X, y, w).fitted,
                                   rtol=0, atol=1e-12)


def test_separation_falls_back_to_fit_logistic_and_raises() -> None:
    X, y = _data(200)
    refit = LogisticRefit(X, y, fit_logistic(X, y).coef)
    w = np.where(X[:, 1] > 0, 1.0, 0.0) * (y == 1) + np.where(X[:, 1] <= 0, 1.0, 0.0) * (y == 0)
    try:
        refit.fitted(w)  # x1 separates y among the kept rows
    except ValueError as err:
        assert "separat" in str(err).lower() or "converge" in str(err).lower()
    else:
        raise AssertionError("a separated resample must raise as fit_logistic does")


def test_ipw_bootstrap_same_replicates_in_threads_and_processes(monkeypatch) -> None:
    X, y = _data(1_500)
    d = pd.DataFrame(X[:, 1:4], columns=["x1", "x2", "x3"]).assign(
        a=y, out=X[:, 1] + y + np.random.default_rng(4).normal(size=y.size))
    monkeypatch.setattr(bootstrap_module, "MIN_PARALLEL_S", 0.0)
    kw = dict(exposure="a", outcome="out", covariates=["x1", "x2", "x3"],
              variance="bootstrap", n_boot=40, random_state=5)
    serial = cl.ipw(d, n_jobs=1, **kw)
    with joblib.parallel_backend("threading"):
        threads = cl.ipw(d, n_jobs=2, **kw)
    assert serial.std_error == threads.std_error
    assert serial.conf_low == threads.conf_low


def test_fitted_at_equals_fitted_on_the_kept_rows_and_far_resamples_converge() -> None:
    """fitted_at() is fitted()[rows]; a resample far from the full data (slow chord steps)
    switches to Newton steps and still lands on fit_logistic's maximum."""
    X, y = _data()
    refit = LogisticRefit(X, y, fit_logistic(X, y).coef)
    rng = np.random.default_rng(8)
    w = np.bincount(rng.integers(0, y.size, y.size), minlength=y.size).astype(float)
    rows = np.flatnonzero(w > 0)
    np.testing.assert_array_equal(refit.fitted_at(rows, w[rows]), refit.fitted(w)[rows])
    np.testing.assert_array_equal(refit.fitted_at(rows, w[rows], y[rows]),
                                  refit.fitted(w)[rows])
    far = np.where(X[:, 1] > 0.5, 4.0, 0.0) + (X[:, 2] > 0)  # a third of the rows, reweighted
    np.testing.assert_allclose(refit.fitted(far), fit_logistic(X, y, far).fitted,
                               rtol=0, atol=1e-12)
