"""attrition(): a cohort flow table; counts checked by hand on NHEFS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.exceptions import DataValidationError


@pytest.fixture(scope="module")
def nhefs() -> pd.DataFrame:
    return cl.datasets.load_nhefs()


def test_counts_each_step_and_persons(nhefs):
    flow = cl.attrition(
        nhefs,
        {"weight measured in 1982": "wt82.notna()", "aged under 70": lambda d: d["age"] < 70,
         "smokes >= 1 cigarette/day": "smokeintensity >= 1"},
        id="seqn",
    )
    f = flow.to_frame()
    expect_1 = int(nhefs.wt82.notna().sum())
    expect_2 = int((nhefs.wt82.notna() & (nhefs.age < 70)).sum())
    expect_3 = int((nhefs.wt82.notna() & (nhefs.age < 70) & (nhefs.smokeintensity >= 1)).sum())
    assert f["n_after"].tolist() == [expect_1, expect_2, expect_3]
    assert f["n_before"].tolist() == [1629, expect_1, expect_2]
    assert (f["n_before"] - f["n_excluded"] == f["n_after"]).all()
    assert f["persons_after"].tolist() == f["n_after"].tolist()  # one row per person
    assert len(flow.data) == expect_3 and flow.n_initial == 1629
    assert "1,629 rows at start" in flow.summary()


def test_nullable_criterion_counts_unknown(nhefs):
    crit = nhefs["wt82"].gt(60).astype("boolean")
    crit[nhefs["wt82"].isna()] = pd.NA
    flow = cl.attrition(nhefs, [("heavier than 60 kg in 1982", lambda d: crit.loc[d.index])])
    row = flow.to_frame().iloc[0]
    assert row["n_unknown"] == 63
    assert row["n_after"] == int((nhefs["wt82"] > 60).sum())
    assert "of which criterion missing" in flow.to_markdown()


def test_input_unchanged_and_result_is_a_copy(nhefs):
    before = pd.util.hash_pandas_object(nhefs, index=True).sum()
    flow = cl.attrition(nhefs, [("men", "sex == 0")])
    flow.data.loc[flow.data.index[0], "age"] = -1
    assert pd.util.hash_pandas_object(nhefs, index=True).sum() == before


@pytest.mark.parametrize(
    ("steps", "match"),
    [
        ([], "steps is empty"),
        ([("bad column", "agee > 3")], r"step 1 \('bad column'\) could not be evaluated"),
        ([("not boolean", lambda d: d["age"])], r"step 1 \('not boolean'\) must give booleans"),
        ([("wrong length", lambda d: np.ones(3, dtype=bool))], "returned 3 values for 1,629 rows"),
        (["just a string"], "step 1 must be a \\(label, criterion\\) pair"),
    ],
)
def test_bad_steps_raise(nhefs, steps, match):
    with pytest.raises(DataValidationError, match=match):
        cl.attrition(nhefs, steps)


def test_plot_draws_flow(nhefs):
    flow = cl.attrition(nhefs, [("weight measured in 1982", "wt82.notna()")])
    ax = flow.plot()
    texts = [t.get_text() for t in ax.texts]
    assert "1,629 rows" in texts and any("excluded 63" in t for t in texts)
