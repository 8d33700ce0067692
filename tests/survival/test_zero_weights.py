"""Edges of the survival verbs (issue 11): weight-0 rows in n, g-formula curves without overlap."""

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl


@pytest.fixture
def lung0():
    d = cl.datasets.load_lung().dropna(subset=["ph.ecog"]).reset_index(drop=True)
    w = np.ones(len(d))
    w[:40] = 0.0
    return d.assign(w=w, status01=(d["status"] == 2).astype(int))


def test_kaplan_meier_n_counts_positive_weights(lung0):
    km = cl.kaplan_meier(lung0, time="time", event="status01", weights="w")
    pos = lung0["w"] > 0
    assert km.n == int(pos.sum()) == len(lung0) - 40
    assert km.n_events == int(lung0.loc[pos, "status01"].sum())
    assert any("40 rows with weight 0 in 'w'" in n for n in km.notes)
    # the estimate is that of the positive-weight rows
    ref = cl.kaplan_meier(lung0[pos], time="time", event="status01", weights="w")
    assert np.allclose(km.to_frame()["estimate"].iloc[-1], ref.to_frame()["estimate"].iloc[-1])


def test_cox_n_counts_positive_weights(lung0):
    fit = cl.cox(lung0, time="time", event="status01", covariates=["age", "sex"], weights="w")
    pos = lung0["w"] > 0
    assert fit.n == int(pos.sum())
    assert fit.n_events == int(lung0.loc[pos, "status01"].sum())
    assert any("40 rows with weight 0 in 'w'" in n for n in fit.notes)
    ref = cl.cox(lung0[pos], time="time", event="status01", covariates=["age", "sex"],
                 weights="w")
    assert fit.params == pytest.approx(ref.params, rel=1e-9)


def test_adjusted_survival_gformula_warns_without_overlap(rng):
    # exposure determined by age: no overlap; the g-formula curves are pure extrapolation
    n = 600
    age = rng.uniform(30, 80, n)
    a = (age > 55).astype(int)
    t = rng.exponential(10 / np.exp(0.02 * (age - 55) + 0.3 * a))
    d = (t < 8).astype(int)
    df = pd.DataFrame({"age": age, "a": a, "t": np.minimum(t, 8), "d": d})
    with pytest.warns(cl.exceptions.PositivityWarning, match="no overlap"):
        res = cl.adjusted_survival(df, time="t", event="d", exposure="a", covariates=["age"],
                                   method="gformula", n_boot=20, random_state=1, times=[2, 4])
    assert any("no overlap" in n for n in res.notes)
