"""Competing-risks event codes: 0 censored, causes 1..K without gaps, or declared (causes=).

Before this check a stray code (7 in {0, 1, 2, 7}: a special value, a typo) was silently
taken as a third cause by cumulative_incidence, gray_test, fine_gray and cause_specific_cox.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.exceptions import CohortError

VERBS = {
    "cumulative_incidence": lambda d, **kw: cl.cumulative_incidence(
        d, time="etime", event="code", **kw),
    "gray_test": lambda d, **kw: cl.gray_test(d, time="etime", event="code", by="sex", **kw),
    "fine_gray": lambda d, **kw: cl.fine_gray(d, time="etime", event="code", cause=1,
                                              covariates=["age"], **kw),
    "cause_specific_cox": lambda d, **kw: cl.cause_specific_cox(
        d, time="etime", event="code", covariates=["age"], **kw),
}


@pytest.fixture(scope="module")
def mgus() -> pd.DataFrame:
    d = cl.datasets.load_mgus2()[["etime", "event", "sex", "age"]].dropna()
    return d.assign(code=d["event"].astype(int)).reset_index(drop=True)


def _with_code7(d: pd.DataFrame, k: int = 12) -> pd.DataFrame:
    code = d["code"].to_numpy().copy()
    code[np.flatnonzero(code == 2)[:k]] = 7  # 12 deaths recoded to a stray 7
    return d.assign(code=code)


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_undeclared_code_raises_naming_column_code_count_and_fix(mgus, verb):
    with pytest.raises(CohortError) as err:
        VERBS[verb](_with_code7(mgus))
    msg = str(err.value)
    assert f"{verb}(): column 'code' (event)" in msg
    assert "event code 7 (12 rows) outside the causes 1..2" in msg
    assert "causes=[1, 2, 7]" in msg


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_declared_code_is_analysed_as_a_cause(mgus, verb):
    res = VERBS[verb](_with_code7(mgus), causes=[1, 2, 7])
    assert res is not None


def test_declared_code_gets_its_own_curve(mgus):
    cif = cl.cumulative_incidence(_with_code7(mgus), time="etime", event="code",
                                  causes=[1, 2, 7])
    assert sorted(cif.to_frame()["cause"].unique().tolist()) == [1, 2, 7]
    assert cif.n_events == int((mgus["code"] > 0).sum())


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_consecutive_codes_need_no_declaration(mgus, verb):
    """mgus2's 0/1/2 coding keeps working, with and without declaring the causes."""
    plain = VERBS[verb](mgus)
    declared = VERBS[verb](mgus, causes=[1, 2])
    assert plain.to_frame().equals(declared.to_frame())


def test_gap_without_code_1_raises(mgus):
    d = mgus.assign(code=mgus["code"].replace({1: 3}))  # codes 0, 2, 3
    with pytest.raises(CohortError, match=r"event codes 2 \(\d+ rows\), 3 \(\d+ rows\) outside "
                                          r"the causes 1..K \(there is no code 1\)"):
        cl.cumulative_incidence(d, time="etime", event="code")
    cif = cl.cumulative_incidence(d, time="etime", event="code", causes=[2, 3])
    assert sorted(cif.to_frame()["cause"].unique().tolist()) == [2, 3]


def test_cause_specific_cox_fitted_subset_still_allowed(mgus):
    """causes=[1] fits cause 1 only; code 2 is a consecutive cause, censored in that fit."""
    cs = cl.cause_specific_cox(mgus, time="etime", event="code", covariates=["age"],
                               causes=[1])
    assert [t for t in cs.terms] == ["age [cause 1]"]


@pytest.mark.parametrize("bad", [[0, 1], ["1"], [1.5], [], True, "1"])
def test_causes_must_be_positive_integer_codes(mgus, bad):
    with pytest.raises(CohortError, match="causes must be a list of positive integer"):
        cl.cumulative_incidence(mgus, time="etime", event="code", causes=bad)


# ---------------------------------------------------------------------- zero weights and n
@pytest.mark.parametrize("verb", ["cumulative_incidence", "fine_gray", "cause_specific_cox"])
def test_rows_with_zero_weight_are_not_counted_in_n(mgus, verb):
    w = np.where(np.arange(len(mgus)) < 50, 0.0, 1.0)
    d = mgus.assign(w=w)
    res = VERBS[verb](d, weights="w")
    assert res.n == len(d) - 50
    events = d["code"].to_numpy() > 0
    if verb == "fine_gray":
        events = d["code"].to_numpy() == 1
    assert res.n_events == int(events[w > 0].sum())
    assert "50 rows with weight 0 in 'w' do not enter the estimate" in " ".join(res.notes)
