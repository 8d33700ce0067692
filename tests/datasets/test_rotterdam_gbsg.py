"""Rotterdam and GBSG loaders, and the Rotterdam -> GBSG external validation against R.

Reference: tests/reference/rotterdam_gbsg.json, written by tests/reference/r/rotterdam_gbsg.R
(R 4.2.2, survival 3.5.3, riskRegression 2022.11.28): the survival package's "Recreating a
Royston and Altman paper" vignette model on Rotterdam (nodes > 0, RFS censored at 7 years,
Breslow ties), validated on GBSG at 5 years.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import load_reference

import cohortlab as cl
from cohortlab.datasets import load_gbsg, load_rotterdam
from cohortlab.datasets.loaders import SIZE_GROUPS

Y7 = 2557  # round(7 * 365.25)
T5 = 5 * 365.25


@pytest.fixture(scope="module")
def rott() -> pd.DataFrame:
    return load_rotterdam()


@pytest.fixture(scope="module")
def gbsg() -> pd.DataFrame:
    return load_gbsg()


@pytest.fixture(scope="module")
def ref() -> dict:
    return load_reference("rotterdam_gbsg")


# ---------------------------------------------------------------------- loaders
def test_rotterdam_shape_columns_and_counts(rott):
    """R: nrow(rotterdam) 2982; 1546 with nodes > 0; table(size) 1387 / 1291 / 304."""
    assert rott.shape == (2982, 18)
    assert list(rott.columns[:15]) == ["pid", "year", "age", "meno", "size", "grade", "nodes",
                                       "pgr", "er", "hormon", "chemo", "rtime", "recur",
                                       "dtime", "death"]
    assert list(rott.columns[15:]) == ["rfstime", "rfs", "size_group"]
    assert rott["pid"].is_unique and rott["pid"].iloc[0] == 1
    assert int((rott["nodes"] > 0).sum()) == 1546
    assert list(rott["size"].cat.categories) == list(SIZE_GROUPS)
    assert rott["size"].value_counts(sort=False).tolist() == [1387, 1291, 304]
    assert not rott.isna().any().any()


def test_rotterdam_rfs_definition(rott):
    """rfstime = ifelse(recur == 1, rtime, dtime), rfs = pmax(recur, death) (R: 1713 events);
    43 women died without recurrence after their recurrence follow-up ended."""
    assert int(rott["rfs"].sum()) == 1713
    rec = rott["recur"] == 1
    assert (rott.loc[rec, "rfstime"] == rott.loc[rec, "rtime"]).all()
    assert (rott.loc[~rec, "rfstime"] == rott.loc[~rec, "dtime"]).all()
    assert (rott["rfs"] == np.maximum(rott["recur"], rott["death"])).all()
    gap = (rott["recur"] == 0) & (rott["death"] == 1) & (rott["dtime"] > rott["rtime"])
    assert int(gap.sum()) == 43
    assert (rott["size_group"] == rott["size"]).all()


def test_rotterdam_royston_altman_table1(rott):
    """Node-positive women: mean (SD) age 56.0 (13.0), nodes 5.2 (4.9), PgR 156.2 (299.4);
    size 501 / 783 / 262 (the vignette's check of the paper's Table 1)."""
    r2 = rott[rott["nodes"] > 0]
    for col, (m, s) in {"age": (56.0, 13.0), "nodes": (5.2, 4.9), "pgr": (156.2, 299.4)}.items():
        assert (round(r2[col].mean(), 1), round(r2[col].std(), 1)) == (m, s), col
    assert r2["size"].value_counts(sort=False).tolist() == [501, 783, 262]


def test_gbsg_shape_columns_and_counts(gbsg):
    """R: 686 rows, 299 events; size cut at 20/50 mm 180 / 453 / 53; Table 1 means (SD)."""
    assert gbsg.shape == (686, 13)
    assert list(gbsg.columns) == ["pid", "age", "meno", "size", "grade", "nodes", "pgr", "er",
                                  "hormon", "rfstime", "status", "rfs", "size_group"]
    assert (gbsg["rfs"] == gbsg["status"]).all() and int(gbsg["rfs"].sum()) == 299
    assert (gbsg["nodes"] >= 1).all()
    assert list(gbsg["size_group"].cat.categories) == list(SIZE_GROUPS)
    assert gbsg["size_group"].value_counts(sort=False).tolist() == [180, 453, 53]
    small = gbsg["size"] <= 20
    assert (gbsg.loc[small, "size_group"] == "<=20").all()
    assert (gbsg.loc[gbsg["size"] > 50, "size_group"] == ">50").all()
    for col, (m, s) in {"age": (53.1, 10.1), "nodes": (5.0, 5.5), "pgr": (110.0, 202.3),
                        "er": (96.3, 153.1)}.items():
        assert (round(gbsg[col].mean(), 1), round(gbsg[col].std(), 1)) == (m, s), col
    assert gbsg["meno"].value_counts().sort_index().tolist() == [290, 396]
    assert gbsg["hormon"].value_counts().sort_index().tolist() == [440, 246]
    assert not gbsg.isna().any().any()


@pytest.mark.parametrize("loader", [load_rotterdam, load_gbsg])
def test_loaders_return_a_new_frame_each_call(loader):
    a = loader()
    a.loc[:, "age"] = -1
    assert (loader()["age"] > 0).all()


def test_loaders_are_exported():
    assert cl.datasets.load_rotterdam is load_rotterdam
    assert cl.datasets.load_gbsg is load_gbsg
    assert {"load_rotterdam", "load_gbsg"} <= set(cl.datasets.__all__)


# ---------------------------------------------------------------------- validation vs R
def _development(rott: pd.DataFrame) -> pd.DataFrame:
    d = rott[rott["nodes"] > 0].reset_index(drop=True)
    recur = np.where(d["rtime"] > Y7, 0, d["recur"])
    death = np.where(d["dtime"] > Y7, 0, d["death"])
    d["rfstime"] = np.where(recur == 1, np.minimum(d["rtime"], Y7), np.minimum(d["dtime"], Y7))
    d["rfs"] = np.maximum(recur, death)
    return _covariates(d)


def _covariates(d: pd.DataFrame) -> pd.DataFrame:
    a = d["age"] / 100
    return d.assign(age3=a**3, age3_log=a**3 * np.log(a), nodes_isqrt=1 / np.sqrt(d["nodes"]),
                    er1000=d["er"] / 1000)


def _x(fit: cl.CoxResult, d: pd.DataFrame) -> np.ndarray:
    dummies = {"size_group[T.20-50]": d["size_group"] == "20-50",
               "size_group[T.>50]": d["size_group"] == ">50"}
    return np.column_stack([np.asarray(dummies.get(t, d.get(t)), float) for t in fit.terms])


@pytest.fixture(scope="module")
def validation(rott, gbsg):
    dev = _development(rott)
    fit = cl.cox(dev, time="rfstime", event="rfs", ties="breslow",
                 covariates=["age3", "age3_log", "meno", "size_group", "nodes_isqrt", "er1000",
                             "hormon"])
    val = _covariates(gbsg)
    # centred as R's predict.coxph: development means, except 0/1 columns (survival >= 3)
    xd = _x(fit, dev)
    centre = np.where(np.isin(xd, (0.0, 1.0)).all(axis=0), 0.0, xd.mean(axis=0))
    val["PI"] = (_x(fit, val) - centre) @ fit.params
    surv = fit.predict_survival(val).at([T5]).to_frame().set_index("group")["estimate"]
    val["risk5"] = 1.0 - surv.loc[val.index.astype(str)].to_numpy()
    return fit, val


def test_development_cox_matches_r(validation, ref):
    """coxph(Surv(rfstime, rfs) ~ agefun(age) + meno + size + I(1/sqrt(nodes)) + I(er/1000)
    + hormon, ties = "breslow"): 1546 women, 965 events; coef and SE within 1e-6."""
    fit, _ = validation
    dev = ref["estimates"]["development"]
    assert (fit.n, fit.n_events) == (dev["n"], dev["n_events"]) == (1546, 965)
    assert [t.replace("size_group", "size") for t in fit.terms] == dev["terms"]
    np.testing.assert_allclose(fit.params, dev["coef"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.std_errors, dev["std_error"], rtol=0, atol=1e-6)
    assert fit.fit_stats["concordance"] == pytest.approx(dev["concordance"], abs=1e-6)
    # Royston & Altman's Table 2 (2 decimals); their size contrasts are >20 and >50 vs 20-50
    paper = np.array(dev["paper_table2"])
    paper[4] = paper[3] + paper[4]
    np.testing.assert_allclose(fit.params, paper, rtol=0, atol=0.006)


def test_validation_predictions_match_r(validation, ref):
    """Linear predictor (centred as predict.coxph) and 1 - S(5 years | x) for all 686 rows."""
    _, val = validation
    v = ref["estimates"]["validation"]
    np.testing.assert_allclose(val["PI"], v["PI"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(val["risk5"], v["risk5"], rtol=0, atol=1e-8)


def test_validation_metrics_match_r(validation, ref):
    """concordance() (Harrell, Uno n/G2 ymax = 5y), Score() AUC/Brier/IPA, KM O/E, deciles."""
    _, val = validation
    ev = cl.evaluate_survival_model(val, time="rfstime", event="rfs", score="PI",
                                    risk={T5: "risk5"})
    got = ev.to_frame().set_index("term")
    e = ref["estimates"]
    for m in ("harrell_c", "uno_c", "auc", "brier", "brier_null", "oe_ratio"):
        for f in ("estimate", "std_error", "conf_low", "conf_high"):
            assert got.loc[m, f] == pytest.approx(e[m][f], abs=1e-6), (m, f)
    assert got.loc["ipa", "estimate"] == pytest.approx(e["ipa"]["estimate"], abs=1e-6)
    cal = pd.DataFrame(e["calibration"])
    np.testing.assert_array_equal(ev.calibration["n"], cal["n"])
    for col in ("mean_risk", "observed", "observed_std_error"):
        np.testing.assert_allclose(ev.calibration[col], cal[col], rtol=0, atol=1e-8)


def test_calibration_slope_matches_r(validation, ref):
    """coxph(Surv(rfstime, rfs) ~ PI, data = gbsg2): slope 0.972 (SE 0.111)."""
    _, val = validation
    row = cl.cox(val, time="rfstime", event="rfs", covariates=["PI"]).to_frame(
        exponentiate=False).iloc[0]
    for f in ("estimate", "std_error", "conf_low", "conf_high"):
        assert row[f] == pytest.approx(ref["estimates"]["calibration_slope"][f], abs=1e-6)
