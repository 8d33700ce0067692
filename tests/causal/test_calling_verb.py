"""Errors from the shared propensity fit name the verb the analyst called (issue 13)."""

import warnings

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.exceptions import ConvergenceError, DataValidationError


@pytest.fixture()
def separated():
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "a": (x > 0).astype(int), "y": rng.normal(size=n),
                         "time": rng.exponential(size=n) + 0.1,
                         "event": rng.integers(0, 2, n)})


PUBLIC_VERBS = ("propensity_score", "kaplan_meier", "cumulative_incidence", "cox")

CALLS = {
    "ipw": lambda d, **kw: cl.ipw(d, exposure="a", outcome="y", covariates=["x"], **kw),
    "match": lambda d, **kw: cl.match(d, exposure="a", covariates=["x"], **kw),
    "adjusted_survival": lambda d, **kw: cl.adjusted_survival(
        d, time="time", event="event", exposure="a", covariates=["x"], method="ipw", **kw),
}


@pytest.mark.parametrize("verb", list(CALLS))
def test_separation_error_names_the_calling_verb(separated, verb):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConvergenceError) as err:
            CALLS[verb](separated)
    assert str(err.value).startswith(f"{verb}():"), str(err.value)
    assert "propensity_score()" not in str(err.value)


@pytest.mark.parametrize("verb", ["ipw", "adjusted_survival"])
def test_bad_estimand_names_the_calling_verb(separated, verb):
    with pytest.raises(DataValidationError, match=rf"^{verb}\(\): estimand must be one of"):
        CALLS[verb](separated, estimand="XYZ")


def test_propensity_score_still_names_itself(separated):
    with pytest.raises(ConvergenceError, match=r"^propensity_score\(\):"):
        cl.propensity_score(separated, exposure="a", covariates=["x"])


def test_no_verb_calls_a_public_verb():
    """Verbs share private fitters; none calls propensity_score(), kaplan_meier() etc."""
    import importlib
    import inspect
    import re

    calls = re.compile(r"(?<![\w.])(" + "|".join(PUBLIC_VERBS) + r")\(")
    for name in ("causal.aipw", "causal.tmle", "causal.ipw", "causal.matching",
                 "survival.adjusted"):
        mod = importlib.import_module(f"cohortlab.{name}")  # the module, not the verb
        code = [ln for ln in inspect.getsource(mod).splitlines()
                if calls.search(ln) and not ln.lstrip().startswith((">>>", "...", "#"))
                and "`" not in ln and '"' not in ln.split("(")[0]]
        assert not code, (mod.__name__, code)


def test_ipw_cif_variance_equals_weighted_aalen_johansen():
    """adjusted_survival(method="ipw", cause=k) uses the AJ kernels, not the public verb.

    variance="robust" (weights known) is the weighted AJ's IJ variance.
    """
    d = cl.simulate_cohort(600, random_state=4)
    kw = dict(exposure="treated", covariates=["age", "bmi"])
    curves = cl.adjusted_survival(d, time="time", event="event", cause=1, method="ipw",
                                  variance="robust", **kw)
    ps = cl.propensity_score(d, **kw)
    cif = cl.cumulative_incidence(d.assign(w=ps.weights), time="time", event="event",
                                  by="treated", weights="w", cause=1)
    times = [1.0, 2.0, 3.0]
    ours, theirs = curves.at(times).to_frame(), cif.at(times).to_frame()
    for arm in (0, 1):
        o = ours[ours["group"] == f"treated={arm}"]
        t = theirs[theirs["group"] == arm]
        assert o["estimate"].to_numpy() == pytest.approx(t["estimate"].to_numpy(), abs=1e-12)
        assert o["std_error"].to_numpy() == pytest.approx(t["std_error"].to_numpy(), rel=1e-9)
