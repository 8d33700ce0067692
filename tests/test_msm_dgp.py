"""A small discrete-time DGP with treatment-confounder feedback, for the MSM tests.

Not a test module (no tests): the MSM tests and ``tests/reference/msm/make_data.py`` import
``simulate_msm_data`` and ``true_risks`` from it. Each period ``k``: the time-varying
confounder ``L_k`` (raised by poor health, lowered by past treatment), treatment ``A_k``
(more likely when ``L_k`` is high and when treated before), censoring ``C_k`` (depends on
``L_k``; a censored row's outcome is not observed, NaN) and the outcome ``Y_k`` (event at the
end of period ``k``; depends on ``L_k``, ``A_k`` and the baseline ``V``). The true risks under
"always" / "never" are computed by simulating the same model with ``A`` set and no
censoring.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

__all__ = ["simulate_msm_data", "true_risks"]

BETA_Y = (-3.2, 0.5, -0.5, 0.4)  # intercept, L, A, V


def _simulate(n: int, n_periods: int, rng: np.random.Generator, strategy: int | None,
              censoring: bool) -> dict[str, np.ndarray]:
    v = rng.binomial(1, 0.4, n).astype(float)
    alive = np.ones(n, dtype=bool)
    l_prev = np.zeros(n)
    a_prev = np.zeros(n)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("id", "period", "V", "L", "A", "C", "Y")}
    for k in range(n_periods):
        idx = np.flatnonzero(alive)
        m = idx.size
        lk = 0.6 * l_prev[idx] - 0.6 * a_prev[idx] + 0.3 * v[idx] + rng.normal(0, 1, m)
        if strategy is None:
            pa = expit(-1.0 + 0.8 * lk + 1.5 * a_prev[idx] + 0.3 * v[idx] + 0.05 * k)
            ak = rng.binomial(1, pa).astype(float)
        else:
            ak = np.full(m, float(strategy))
        ck = (rng.binomial(1, expit(-3.0 + 0.5 * lk - 0.3 * ak)).astype(float) if censoring
              else np.zeros(m))
        b0, bl, ba, bv = BETA_Y
        yk = rng.binomial(1, expit(b0 + bl * lk + ba * ak + bv * v[idx] + 0.05 * k))
        yk = np.where(ck == 1, np.nan, yk.astype(float))
        for key, val in (("id", idx), ("period", np.full(m, k)), ("V", v[idx]), ("L", lk),
                         ("A", ak), ("C", ck), ("Y", yk)):
            rows[key].append(val)
        l_prev[idx], a_prev[idx] = lk, ak
        alive[idx[(ck == 1) | (yk == 1)]] = False
    return {key: np.concatenate(val) for key, val in rows.items()}


def simulate_msm_data(n: int = 500, n_periods: int = 8, seed: int = 0) -> pd.DataFrame:
    """Long-format person-period data (``id, period, V, L, A, C, Y``), sorted by id, period."""
    d = _simulate(n, n_periods, np.random.default_rng(seed), None, censoring=True)
    df = pd.DataFrame(d).sort_values(["id", "period"], kind="stable").reset_index(drop=True)
    df["id"] = df["id"].astype(int)
    df["period"] = df["period"].astype(int)
    return df


def true_risks(n_periods: int = 8, n: int = 400_000, seed: int = 12345) -> pd.DataFrame:
    """Cumulative risk by the end of each period under always / never treat (Monte Carlo)."""
    out = {}
    for name, s in (("always", 1), ("never", 0)):
        d = _simulate(n, n_periods, np.random.default_rng(seed), s, censoring=False)
        ev = np.bincount(d["period"][d["Y"] == 1].astype(int), minlength=n_periods)
        out[name] = np.cumsum(ev) / n
    return pd.DataFrame({"period": np.arange(n_periods), **out})
