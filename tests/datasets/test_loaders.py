"""Tests of the bundled real datasets against their published descriptions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from cohortlab.datasets import load_lalonde, load_nhefs

NHEFS_CODES = ["sex", "race", "education", "active", "exercise"]


@pytest.fixture(scope="module")
def nhefs() -> pd.DataFrame:
    return load_nhefs()


def test_nhefs_shape_and_columns(nhefs):
    """What If's nhefs.csv has 1,629 rows and 64 columns; causaldata adds id, censored, older."""
    assert nhefs.shape == (1629, 67)
    assert list(nhefs.columns[:3]) == ["seqn", "qsmk", "death"]
    assert list(nhefs.columns[-3:]) == ["id", "censored", "older"]
    for col in ["qsmk", "wt82_71", "death", "age", "wt71", "smokeintensity", "smokeyrs"]:
        assert col in nhefs.columns
    assert nhefs["id"].tolist() == list(range(1, 1630))


def test_nhefs_category_codes_are_int(nhefs):
    """The categorical codes of chapter 12 are integers with What If's code sets."""
    for col in NHEFS_CODES:
        assert nhefs[col].dtype == np.int64, col
    assert sorted(nhefs["sex"].unique()) == [0, 1]
    assert sorted(nhefs["race"].unique()) == [0, 1]
    assert sorted(nhefs["education"].unique()) == [1, 2, 3, 4, 5]
    assert sorted(nhefs["active"].unique()) == [0, 1, 2]
    assert sorted(nhefs["exercise"].unique()) == [0, 1, 2]


def test_nhefs_missing_wt82(nhefs):
    """What If ch. 12: wt82 is missing for 63 people, leaving 1,566; `censored` flags them."""
    assert int(nhefs["wt82"].isna().sum()) == 63
    assert int(nhefs["wt82_71"].isna().sum()) == 63
    assert int(nhefs["wt82"].notna().sum()) == 1566
    assert (nhefs["censored"] == nhefs["wt82"].isna()).all()
    assert int(nhefs["qsmk"].sum()) == 428  # What If: 428 quitters among the 1,629


def test_nhefs_table_12_1(nhefs):
    """Means by quitting status among the 1,566 uncensored match What If Table 12.1."""
    c = nhefs[nhefs["wt82"].notna()]
    means = c.groupby("qsmk")[["age", "wt71", "smokeintensity", "smokeyrs"]].mean().round(1)
    assert means.loc[0.0].tolist() == [42.8, 70.3, 21.2, 24.1]
    assert means.loc[1.0].tolist() == [46.2, 72.4, 18.6, 26.0]
    pct = (
        pd.DataFrame(
            {
                "men": c["sex"].eq(0),
                "white": c["race"].eq(0),
                "university": c["education"].eq(5),
                "little_exercise": c["exercise"].eq(2),
                "inactive": c["active"].eq(2),
            }
        )
        .groupby(c["qsmk"])
        .mean()
        .mul(100)
        .round(1)
    )
    assert pct.loc[0.0].tolist() == [46.6, 85.4, 9.9, 37.9, 8.9]
    assert pct.loc[1.0].tolist() == [54.6, 91.1, 15.4, 40.7, 11.2]


def test_nhefs_program_12_2_coefficients(nhefs):
    """The PS model of What If Program 12.2 reproduces the book's coefficients (4 decimals)."""
    c = nhefs[nhefs["wt82"].notna()]
    fit = smf.logit(
        "qsmk ~ sex + race + age + I(age**2) + C(education) + smokeintensity"
        " + I(smokeintensity**2) + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active)"
        " + wt71 + I(wt71**2)",
        data=c,
    ).fit(disp=0)
    expected = {"Intercept": -2.2425, "sex": -0.5275, "race": -0.8393, "age": 0.1212,
                "C(exercise)[T.2]": 0.3957, "C(active)[T.2]": 0.1768, "wt71": -0.0152}
    for term, value in expected.items():
        assert round(float(fit.params[term]), 4) == value, term


def test_nhefs_returns_fresh_copy():
    """Mutating a loaded frame does not change the next load."""
    first = load_nhefs()
    reference = first.copy()
    first.loc[:, "age"] = -1.0
    first.drop(columns="qsmk", inplace=True)
    second = load_nhefs()
    assert second is not first
    pd.testing.assert_frame_equal(second, reference)


def test_lalonde_shape_and_dtypes():
    """MatchIt's lalonde: 614 rows, 185 NSW treated and 429 PSID controls; race is a string."""
    df = load_lalonde()
    assert df.shape == (614, 10)
    assert list(df.columns) == [
        "id", "treat", "age", "educ", "race", "married", "nodegree", "re74", "re75", "re78",
    ]
    assert df["treat"].value_counts().to_dict() == {0: 429, 1: 185}
    assert df["race"].map(type).eq(str).all()
    assert sorted(df["race"].unique()) == ["black", "hispan", "white"]
    for col in ["treat", "age", "educ", "married", "nodegree"]:
        assert df[col].dtype == np.int64, col
    assert df["id"].is_unique
    assert not df.isna().any().any()


def test_lalonde_matchit_means():
    """MatchIt summary(matchit(treat ~ ..., lalonde)) 'All data' means of treated/controls."""
    df = load_lalonde()
    m = df.groupby("treat")[["age", "educ", "re74", "re78"]].mean()
    assert m.loc[1, "age"] == pytest.approx(25.8162, abs=1e-4)
    assert m.loc[0, "age"] == pytest.approx(28.0303, abs=1e-4)
    assert m.loc[1, "educ"] == pytest.approx(10.3459, abs=1e-4)
    assert m.loc[1, "re74"] == pytest.approx(2095.5737, abs=1e-3)
    assert m.loc[0, "re74"] == pytest.approx(5619.2365, abs=1e-3)


def test_lalonde_returns_fresh_copy():
    """Mutating a loaded lalonde frame does not change the next load."""
    first = load_lalonde()
    reference = first.copy()
    first.loc[:, "re78"] = 0.0
    pd.testing.assert_frame_equal(load_lalonde(), reference)
