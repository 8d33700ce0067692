"""A cohort with a covariate missing at random given the outcome and exposure, and OLS."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from cohortlab.results.estimate import Estimate, EstimateTable

TRUE_EFFECT = 1.0


def mar_cohort(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Y = 1 + A + X + 0.5 C + e; X missing with probability depending on Y and A (MAR)."""
    x = rng.normal(size=n)
    c = rng.binomial(1, 0.5, size=n)
    a = rng.binomial(1, expit(-0.3 + 0.5 * x + 0.5 * c))
    y = 1.0 + TRUE_EFFECT * a + x + 0.5 * c + rng.normal(size=n)
    miss = rng.random(n) < expit(-1.5 + 1.0 * y - 0.5 * a)
    x_obs = np.where(miss, np.nan, x)
    return pd.DataFrame({"y": y, "a": a, "x": x_obs, "c": c})


def ols(data: pd.DataFrame, *, outcome: str, covariates: list[str],
        conf_level: float = 0.95) -> EstimateTable:
    """Classical OLS (as R ``lm``) with every coefficient; complete cases only."""
    d = data[[outcome, *covariates]].dropna()
    X = np.column_stack([np.ones(len(d)), d[covariates].to_numpy(dtype=float)])
    y = d[outcome].to_numpy(dtype=float)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    n, p = X.shape
    s2 = resid @ resid / (n - p)
    se = np.sqrt(np.diag(np.linalg.inv(X.T @ X)) * s2)
    rows = tuple(Estimate.from_model_scale(t, float(b), float(s), conf_level=conf_level, n=n,
                                           method="ols")
                 for t, b, s in zip(["(Intercept)", *covariates], beta, se, strict=True))
    return EstimateTable(rows=rows, title="OLS")


def ols_effect(data: pd.DataFrame, *, outcome: str, exposure: str, covariates: list[str],
               conf_level: float = 0.95) -> Estimate:
    """The exposure's OLS coefficient as one Estimate."""
    return ols(data, outcome=outcome, covariates=[exposure, *covariates],
               conf_level=conf_level)[exposure]
