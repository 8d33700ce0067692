"""Positivity and sample-size edges of the causal verbs (issue 11, items 9 and 10).

- gformula runs the weighting verbs' positivity diagnostics (same logistic propensity model)
  and warns with counts instead of returning an extrapolation without a word;
- the positivity advice follows what is in use (trimming, overlap weights);
- the analysed n excludes trimmed, unmatched and zero-weight rows, and says how many;
- a constant outcome raises instead of giving SE 0 and a NaN interval.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.exceptions import CohortError, PositivityWarning


def _cohort(n: int = 1000, seed: int = 1, strength: float = 2.5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    age = rng.uniform(20, 80, n)
    a = (rng.uniform(size=n) < 1 / (1 + np.exp(-strength * x))).astype(int)
    y = 1 + a + x + 0.05 * age + rng.normal(size=n)
    yb = (rng.uniform(size=n) < 0.3).astype(int)
    return pd.DataFrame({"x": x, "age": age, "a": a, "y": y, "yb": yb})


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


# ---------------------------------------------------------------------- 9: gformula positivity
def test_gformula_without_overlap_warns_and_notes():
    """Exposure = age > 50: the groups share no ages; the estimate is pure extrapolation."""
    d = _cohort()
    d = d.assign(a=(d["age"] > 50).astype(int))
    with pytest.warns(PositivityWarning, match=r"gformula\(\): no overlap between the exposure "
                      r"groups \(\d+ of 1,000 rows have 'a' = 1\)"):
        est = cl.gformula(d, exposure="a", outcome="y", covariates=["age"])
    assert np.isfinite(est.estimate)
    assert any(n.startswith("no overlap between the exposure groups") for n in est.notes)
    # the weighting verbs refuse the same data
    with pytest.raises(CohortError):
        _quiet(cl.ipw, d, exposure="a", outcome="y", covariates=["age"])


def test_gformula_three_exposed_in_1000_warns_with_counts():
    d = _cohort()
    a = np.zeros(len(d), dtype=int)
    a[:3] = 1
    d = d.assign(a=a)
    with pytest.warns(PositivityWarning) as rec:
        est = cl.gformula(d, exposure="a", outcome="y", covariates=["age"])
    msg = str(rec[0].message)
    assert "3 of 1,000 rows have 'a' = 1" in msg
    assert "1,000 rows have propensity score < 0.01 and 0 > 0.99" in msg
    assert any("3 of 1,000 rows have 'a' = 1" in n for n in est.notes)
    # the same counts as ipw's diagnostics, which use the same propensity model
    ps = _quiet(cl.propensity_score, d, exposure="a", covariates=["age"])
    assert int((ps.scores < 0.01).sum()) == 1000


def test_gformula_att_only_counts_scores_near_one():
    """For the ATT the exposed need comparable unexposed: scores near 0 do not matter."""
    d = _cohort()
    a = np.zeros(len(d), dtype=int)
    a[:3] = 1
    d = d.assign(a=a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = cl.gformula(d, exposure="a", outcome="y", covariates=["age"], estimand="ATT")
    assert not any("overlap" in n for n in est.notes)


def test_gformula_good_overlap_and_exposure_terms_do_not_warn():
    """Exposure terms in the covariates stay out of the propensity model (no false alarm)."""
    d = _cohort(strength=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = cl.gformula(d, exposure="a", outcome="y", covariates="x + age + I(a*x)")
    assert not any("overlap" in n for n in est.notes)


def test_gformula_without_exposed_rows_raises():
    d = _cohort().assign(a=0)
    with pytest.raises(CohortError, match=r"column 'a' \(exposure\)"):
        cl.gformula(d, exposure="a", outcome="y", covariates=["age"])


# ---------------------------------------------------------------------- 10b: tailored advice
def test_positivity_advice_when_crump_trimming_already_removes_them():
    d = _cohort()
    with warnings.catch_warnings():
        warnings.simplefilter("error", PositivityWarning)
        est = _quiet_except_positivity(cl.ipw, d, trim="crump")
    note = next(n for n in est.notes if "subjects have propensity score" in n)
    assert "trim='crump' removed all of them" in note
    assert "consider trim" not in note


def test_positivity_advice_with_overlap_weights():
    d = _cohort()
    for verb in (cl.ipw, cl.propensity_score):
        with warnings.catch_warnings():
            warnings.simplefilter("error", PositivityWarning)
            kw = {} if verb is cl.propensity_score else {"outcome": "y"}
            res = _quiet_except_positivity(verb, d, estimand="ATO", **kw)
        note = next(n for n in res.notes if "subjects have propensity score" in n)
        assert "overlap weights (estimand=\"ATO\")" in note and "trim" not in note


def test_positivity_advice_when_trimming_leaves_extreme_scores():
    d = _cohort()
    with pytest.warns(PositivityWarning) as rec:
        _quiet_except_positivity(cl.ipw, d, outcome="y", trim=(0.001, 0.999))
    msg = str(rec[0].message)
    assert "remain after trim=(0.001, 0.999)" in msg and "trim=\"crump\"" not in msg


def _quiet_except_positivity(verb, d, **kw):
    kw.setdefault("outcome", "y") if verb is not cl.propensity_score else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=cl.exceptions.ExtremeWeightWarning)
        warnings.filterwarnings("ignore",
                                category=cl.exceptions.LowEffectiveSampleSizeWarning)
        return verb(d, exposure="a", covariates=["x"], **kw)


# ---------------------------------------------------------------------- 10a: analysed n
def test_trimmed_and_unmatched_rows_are_shown_as_removed():
    d = _cohort()
    est = _quiet(cl.ipw, d, exposure="a", outcome="y", covariates=["x"], trim="crump")
    ps = est.diagnostics
    kept = int(ps.kept.sum())
    assert est.n == kept < len(d)
    assert f"{kept:,} analysed, {len(d) - kept:,} trimmed" in ps.summary()
    m = _quiet(cl.match, d, exposure="a", covariates=["x"], caliper=0.05)
    c = m.counts
    analysed = c["exposed_matched"] + c["unexposed_matched"]
    assert f"{analysed:,} matched and analysed, {len(d) - analysed:,} unmatched" in m.summary()
    assert m.effect(outcome="y").n == analysed


# ---------------------------------------------------------------------- 10c: zero weights
@pytest.mark.parametrize("verb", ["ipw", "aipw", "tmle", "gformula", "crude_effect"])
def test_rows_with_zero_weight_are_not_counted_in_n(verb):
    d = _cohort(strength=0.5)
    d = d.assign(w=np.where(np.arange(len(d)) < 100, 0.0, 1.0))
    kw = {} if verb == "crude_effect" else {"covariates": ["x"]}
    est = _quiet(getattr(cl, verb), d, exposure="a", outcome="yb", weights="w", **kw)
    assert est.n == 900
    assert est.n_events == int(d.loc[d.w > 0, "yb"].sum())
    assert "100 rows with weight 0 in 'w' do not enter the estimate" in " ".join(est.notes)
    # the same numbers as without those rows
    ref = _quiet(getattr(cl, verb), d[d.w > 0], exposure="a", outcome="yb", weights="w", **kw)
    assert est.estimate == pytest.approx(ref.estimate, rel=1e-6)


# ---------------------------------------------------------------------- 10d: constant outcome
@pytest.mark.parametrize("verb", ["ipw", "aipw", "tmle", "gformula", "crude_effect"])
@pytest.mark.parametrize("value, what", [
    (0, r"has no events among the 1,000 analysed rows \(all 0\)"),
    (1, r"has only events among the 1,000 analysed rows \(all 1\)"),
    (2.5, r"takes one value \(2.5 in all 1,000 analysed rows\)"),
])
def test_constant_outcome_raises_naming_the_column(verb, value, what):
    d = _cohort(strength=0.5).assign(y0=value)
    kw = {} if verb == "crude_effect" else {"covariates": ["x"]}
    with pytest.raises(CohortError, match=rf"{verb}\(\): column 'y0' \(outcome\) {what}"):
        _quiet(getattr(cl, verb), d, exposure="a", outcome="y0", **kw)
