"""Tests of the boundary checks (_validation.py) and their message template (STYLE.md §3.4).

``<function>(): <what is wrong> ...; got <value>. <How to fix>.`` No numeric reference.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from cohortlab._typing import Missing
from cohortlab._validation import (
    apply_missing,
    check_binary,
    check_columns,
    check_conf_level,
    check_frame,
    check_numeric,
    check_option,
    check_random_state,
    check_time_event,
    check_weights,
)
from cohortlab.exceptions import CohortError, DataValidationError, MissingDataError, ZeroTimeWarning
from cohortlab.results.dropped import Dropped

FUNC = "my_verb"


def raises(match: str, exc: type[Exception] = DataValidationError):
    """Expect ``exc`` (always a CohortError and a ValueError) whose message starts my_verb():."""
    return pytest.raises(exc, match=rf"^{FUNC}\(\): .*{match}")


@pytest.fixture
def cohort() -> pd.DataFrame:
    return pd.DataFrame({
        "days": [10.0, 20.0, 5.0, 40.0, 7.0],
        "died": [1, 0, 1, 0, 1],
        "statin": [0, 1, 1, 0, 1],
        "bmi": [22.0, np.nan, 30.0, np.nan, 25.0],
        "smoking": ["yes", "no", None, "no", "yes"],
        "age": [50, 61, 70, 45, 58],
    })


def test_error_hierarchy():
    for exc in (DataValidationError, MissingDataError):
        assert issubclass(exc, CohortError) and issubclass(exc, ValueError)


# ------------------------------------------------------------------ check_frame
@pytest.mark.parametrize("bad", [[1, 2], np.zeros((2, 2)), {"a": [1]}, pd.Series([1.0]), None])
def test_check_frame_rejects_non_frames(bad):
    with raises(f"data must be a pandas DataFrame; got {type(bad).__name__}") as exc:
        check_frame(bad, FUNC)
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, CohortError)
    assert "pd.DataFrame(data)" in str(exc.value)


def test_check_frame_rejects_empty_frame():
    with raises("data has no rows; got an empty DataFrame with 2 columns"):
        check_frame(pd.DataFrame({"a": [], "b": []}), FUNC)


def test_check_frame_rejects_duplicate_columns():
    df = pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"])
    with raises(r"column names must be unique; got duplicates \['a'\]"):
        check_frame(df, FUNC)


def test_check_frame_returns_the_frame(cohort):
    assert check_frame(cohort, FUNC) is cohort


# ------------------------------------------------------------------ check_columns
def test_check_columns_suggests_close_match(cohort):
    with raises(r"column 'dyas' not found \(time\)\. Did you mean 'days'\?"):
        check_columns(cohort, FUNC, time="dyas", event="died")


def test_check_columns_lists_available_columns_when_nothing_close(cohort):
    with raises(r"column 'zzz' not found \(covariates\)\. Available columns: \['days', 'died'"):
        check_columns(cohort, FUNC, covariates=["age", "zzz"])


def test_check_columns_accepts_present_and_none(cohort):
    check_columns(cohort, FUNC, time="days", covariates=["age", "bmi"], weights=None)


def test_check_columns_rejects_non_string_names(cohort):
    with raises(r"column names must be strings in covariates; got 3 \(int\)"):
        check_columns(cohort, FUNC, covariates=["age", 3])


# ------------------------------------------------------------------ check_option
def test_check_option_lists_allowed_values():
    assert check_option("drop", Missing, "missing", FUNC) == "drop"
    with raises(r'missing must be one of \{"raise", "drop"\}; got \'skip\'\.') as exc:
        check_option("skip", Missing, "missing", FUNC)
    assert isinstance(exc.value, ValueError)


# ------------------------------------------------------------------ check_conf_level
def test_check_conf_level_accepts_floats():
    assert check_conf_level(0.9, FUNC) == 0.9
    assert check_conf_level(np.float64(0.99), FUNC) == 0.99


def test_check_conf_level_percent_hint():
    with raises(r"conf_level must be a float in \(0, 1\); got 95\. Did you mean 0\.95\?"):
        check_conf_level(95, FUNC)
    with raises(r"got 90\.0\. Did you mean 0\.9\?"):
        check_conf_level(90.0, FUNC)


@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, -0.5, 100, 250.0, float("nan"), "0.95", None, True])
def test_check_conf_level_rejects(bad):
    with raises(r"conf_level must be a float in \(0, 1\)") as exc:
        check_conf_level(bad, FUNC)
    if bad in (1, 1.0, 0, 100, 250.0) or bad is True:
        assert "Did you mean" not in str(exc.value)


# ------------------------------------------------------------------ check_random_state
def test_check_random_state():
    g = np.random.default_rng(1)
    assert check_random_state(g, FUNC) is g
    a = check_random_state(5, FUNC).integers(0, 10**9, size=3)
    b = np.random.default_rng(5).integers(0, 10**9, size=3)
    np.testing.assert_array_equal(a, b)
    assert isinstance(check_random_state(None, FUNC), np.random.Generator)
    assert isinstance(check_random_state(np.int32(3), FUNC), np.random.Generator)


@pytest.mark.parametrize("bad", [-1, 1.5, "42", True, np.random.RandomState(0)])
def test_check_random_state_rejects(bad):
    with raises(r"random_state must be None, a non-negative int or a numpy Generator"):
        check_random_state(bad, FUNC)


# ------------------------------------------------------------------ apply_missing
def test_apply_missing_raise_has_per_column_counts(cohort):
    with raises(
        r'3 of 5 rows have missing values in analysis columns: bmi \(2\), smoking \(1\)\. '
        r'Impute first, or pass missing="drop"',
        MissingDataError,
    ):
        apply_missing(cohort, ["days", "bmi", "smoking"], "raise", FUNC)


def test_apply_missing_drop_returns_new_frame_and_counts(cohort):
    before = cohort.copy(deep=True)
    out, dropped = apply_missing(cohort, ["days", "bmi", "smoking", "bmi"], "drop", FUNC)
    pd.testing.assert_frame_equal(cohort, before)  # input not mutated
    assert out is not cohort
    assert out.index.tolist() == [0, 4]
    assert isinstance(dropped, Dropped)
    assert dropped.n_rows == 3 and dropped.n_input == 5
    assert dict(dropped.by_column) == {"bmi": 2, "smoking": 1}
    assert str(dropped) == "3 dropped: bmi 2, smoking 1"
    out.loc[0, "days"] = -1.0  # the result is independent of the input
    assert cohort.loc[0, "days"] == 10.0


def test_apply_missing_counts_a_row_once(cohort):
    df = cohort.assign(bmi=[np.nan, 1.0, 1.0, 1.0, 1.0], smoking=[None, "a", "b", "a", "b"])
    _, dropped = apply_missing(df, ["bmi", "smoking"], "drop", FUNC)
    assert dropped.n_rows == 1
    assert dict(dropped.by_column) == {"bmi": 1, "smoking": 1}


def test_apply_missing_nothing_missing(cohort):
    out, dropped = apply_missing(cohort, ["days", "died"], "raise", FUNC)
    pd.testing.assert_frame_equal(out, cohort)
    assert not dropped and dropped.n_rows == 0 and dropped.n_input == 5
    assert str(dropped) == "no rows dropped"


def test_apply_missing_all_rows_missing_raises_even_with_drop():
    df = pd.DataFrame({"x": [np.nan, 1.0], "y": [1.0, np.nan]})
    for missing in ("drop", "raise"):
        with raises(r"every one of the 2 rows has a missing value", MissingDataError):
            apply_missing(df, ["x", "y"], missing, FUNC)


def test_apply_missing_invalid_option(cohort):
    with raises(r'missing must be one of \{"raise", "drop"\}; got \'ignore\''):
        apply_missing(cohort, ["bmi"], "ignore", FUNC)


# ------------------------------------------------------------------ check_numeric
def test_check_numeric(cohort):
    np.testing.assert_array_equal(check_numeric(cohort, "age", "covariate", FUNC),
                                  [50, 61, 70, 45, 58])
    with raises(r"column 'smoking' \(covariate\) must be numeric; got dtype object"):
        check_numeric(cohort, "smoking", "covariate", FUNC)
    with raises(r"column 'x' \(time\) has 1 infinite values"):
        check_numeric(pd.DataFrame({"x": [1.0, np.inf]}), "x", "time", FUNC)


# ------------------------------------------------------------------ check_binary
def test_check_binary_01_and_bool():
    df = pd.DataFrame({"a": [0, 1, 1, 0], "b": [True, False, True, True], "c": [0.0, 1.0, 1.0, 0.0]})
    for col, expected in (("a", [0, 1, 1, 0]), ("b", [1, 0, 1, 1]), ("c", [0, 1, 1, 0])):
        out = check_binary(df, col, "exposure", FUNC)
        assert out.dtype.kind == "i"
        assert out.tolist() == expected


def test_check_binary_two_labels_with_reference():
    df = pd.DataFrame({"arm": ["placebo", "drug", "drug", "placebo"]})
    assert check_binary(df, "arm", "exposure", FUNC, reference="placebo").tolist() == [0, 1, 1, 0]
    assert check_binary(df, "arm", "exposure", FUNC, reference="drug").tolist() == [1, 0, 0, 1]
    cat = pd.DataFrame({"arm": pd.Categorical(["t", "c", "t"])})
    assert check_binary(cat, "arm", "exposure", FUNC, reference="c").tolist() == [1, 0, 1]
    with raises(r"reference='other' is not a value of column 'arm' \(exposure\)"):
        check_binary(df, "arm", "exposure", FUNC, reference="other")


def test_check_binary_two_labels_without_reference_asks_for_it():
    df = pd.DataFrame({"arm": ["no", "yes", "yes"]})
    with raises(r"column 'arm' \(exposure\) must be coded 0/1 or bool; got labels .*reference="):
        check_binary(df, "arm", "exposure", FUNC)
    with raises(r"got labels \[1, 2\]"):
        check_binary(pd.DataFrame({"x": [1, 2, 2]}), "x", "exposure", FUNC)


def test_check_binary_three_values_names_column_and_values():
    df = pd.DataFrame({"statin": [0, 1, 2, 1]})
    with raises(
        r"column 'statin' \(exposure\) must be binary \(0/1 or bool\); "
        r"got 3 distinct values \[0, 1, 2\]\. Recode it"
    ):
        check_binary(df, "statin", "exposure", FUNC)


def test_check_binary_constant_column():
    with raises(r"got 1 distinct value \[1\]"):
        check_binary(pd.DataFrame({"x": [1, 1, 1]}), "x", "exposure", FUNC)


@pytest.mark.parametrize("reference", [None, "a"])
def test_check_binary_missing_values_are_not_silently_coded(reference):
    values = [0, 1, np.nan, 1] if reference is None else ["a", "b", None, "a"]
    df = pd.DataFrame({"x": values})
    with raises(r"column 'x' \(exposure\) has 1 missing values", MissingDataError):
        check_binary(df, "x", "exposure", FUNC, reference=reference)


# ------------------------------------------------------------------ check_weights
def test_check_weights_ok():
    w = check_weights(pd.DataFrame({"w": [0.5, 0, 2]}), "w", FUNC)
    assert w.dtype == float and w.tolist() == [0.5, 0.0, 2.0]


@pytest.mark.parametrize(("values", "msg"), [
    ([1.0, -0.5, 2.0], r"column 'iptw' \(weights\) has 1 negative values \(min -0\.5\)"),
    ([1.0, np.nan, np.nan], r"column 'iptw' \(weights\) has 2 missing values"),
    ([0.0, 0.0, 0.0], r"column 'iptw' \(weights\) is zero for every row"),
    ([1.0, np.inf, 1.0], r"column 'iptw' \(weights\) has 1 infinite values"),
    (["a", "b", "c"], r"column 'iptw' \(weights\) must be numeric"),
])
def test_check_weights_errors_name_the_column(values, msg):
    with raises(msg):
        check_weights(pd.DataFrame({"iptw": values}), "iptw", FUNC)


# ------------------------------------------------------------------ check_time_event
def test_check_time_event_ok(cohort):
    t, e = check_time_event(cohort, "days", "died", FUNC)
    assert t.tolist() == [10, 20, 5, 40, 7]
    assert e.dtype.kind == "i" and e.tolist() == [1, 0, 1, 0, 1]
    df = pd.DataFrame({"t": [1.0, 2.0, 0.0], "e": [True, False, True]})
    with pytest.warns(ZeroTimeWarning, match="1 rows with follow-up time 0 \\(1 of them events"):
        assert check_time_event(df, "t", "e", FUNC)[1].tolist() == [1, 0, 1]


def test_check_time_event_negative_time():
    df = pd.DataFrame({"t": [1.0, -2.0, -0.5], "e": [1, 0, 1]})
    with raises(r"column 't' \(time\) has 2 negative values \(min -2\)\. .*time zero"):
        check_time_event(df, "t", "e", FUNC)


def test_check_time_event_non_integer_codes():
    df = pd.DataFrame({"t": [1.0, 2.0], "e": [1.0, 0.5]})
    with raises(r"column 'e' \(event\) must hold integer codes"):
        check_time_event(df, "t", "e", FUNC)


def test_check_time_event_competing_codes():
    df = pd.DataFrame({"t": [1.0, 2.0, 3.0], "e": [0, 1, 2]})
    with raises(
        r"column 'e' \(event\) must be coded 0 \(censored\) and 1 \(event\); got codes "
        r"\[0, 1, 2\]\. For competing risks"
    ):
        check_time_event(df, "t", "e", FUNC)
    _, e = check_time_event(df, "t", "e", FUNC, competing=True)
    assert e.tolist() == [0, 1, 2]
    with raises(r"must be coded 0 \(censored\) and 1\.\.K \(causes\); got codes \[-1, 1\]"):
        check_time_event(pd.DataFrame({"t": [1.0, 2.0], "e": [-1, 1]}), "t", "e", FUNC,
                         competing=True)


def test_check_time_event_entry_before_exit():
    df = pd.DataFrame({"t0": [0.0, 5.0, 3.0], "t": [1.0, 5.0, 2.0], "e": [1, 0, 1]})
    with raises(r"2 rows have entry time 't0' >= exit time 't'"):
        check_time_event(df, "t", "e", FUNC, entry="t0")
    ok = df.assign(t0=[0.0, 1.0, 1.0])
    check_time_event(ok, "t", "e", FUNC, entry="t0")


def test_check_time_event_string_time():
    df = pd.DataFrame({"t": ["1", "2"], "e": [1, 0]})
    with raises(r"column 't' \(time\) must be numeric"):
        check_time_event(df, "t", "e", FUNC)


# ------------------------------------------------------------------ the template itself
def test_every_message_follows_the_template(cohort):
    """Each error is a CohortError and a ValueError, and starts with '<func>(): '."""
    calls = [
        lambda: check_frame(3, FUNC),
        lambda: check_columns(cohort, FUNC, time="tme"),
        lambda: check_option("x", Missing, "missing", FUNC),
        lambda: check_conf_level(2.0, FUNC),
        lambda: check_random_state("s", FUNC),
        lambda: apply_missing(cohort, ["bmi"], "raise", FUNC),
        lambda: check_binary(cohort, "age", "exposure", FUNC),
        lambda: check_weights(cohort.assign(w=-1.0), "w", FUNC),
        lambda: check_time_event(cohort.assign(days=-1.0), "days", "died", FUNC),
    ]
    for call in calls:
        with pytest.raises(CohortError) as exc:
            call()
        assert isinstance(exc.value, ValueError)
        msg = str(exc.value)
        assert re.match(rf"^{FUNC}\(\): \S", msg), msg
        assert msg.rstrip().endswith((".", "?")), msg


def test_check_time_event_missing_values_raise_missing_data_error():
    from cohortlab._validation import check_time_event
    from cohortlab.exceptions import MissingDataError

    d = pd.DataFrame({"t": [1.0, np.nan, 3.0], "e": [1, 0, 1]})
    with pytest.raises(MissingDataError, match=r"column 't' \(time\) has 1 missing"):
        check_time_event(d, "t", "e", "f")


# --- the @verb decorator ---------------------------------------------------------------------

from typing import Literal  # noqa: E402

from cohortlab._validation import verb, verb_name  # noqa: E402


@verb
def _toy(data: pd.DataFrame, *, how: Literal["a", "b"] = "a", level: Missing | None = None,
         free: Literal["x"] | float = "x") -> str:
    """A toy verb."""
    check_frame(data)
    return f"{how}-{level}-{verb_name()}"


@verb(name="renamed")
def _inner(value: Literal[1, 2] = 1) -> str:
    return verb_name()


def test_verb_checks_literal_options_and_names_the_verb(cohort):
    assert _toy(cohort, how="b", level="drop") == "b-drop-_toy"
    with pytest.raises(DataValidationError,
                       match=r'^_toy\(\): how must be one of \{"a", "b"\}; got \'c\'\.$'):
        _toy(cohort, how="c")
    with pytest.raises(DataValidationError, match=r"level must be one of .*Did you mean 'drop'"):
        _toy(cohort, level="dorp")
    assert _toy(cohort, free=0.5)  # a union with a non-Literal type is left to the verb


def test_verb_checks_positional_and_non_string_literals():
    assert _inner(2) == "renamed"
    with pytest.raises(DataValidationError, match=r"^renamed\(\): value must be one of"):
        _inner(True)  # True == 1 but is not the option 1
    with pytest.raises(DataValidationError, match="value must be one of"):
        _inner("1")


def test_verb_names_checks_below_it_and_resets():
    with pytest.raises(DataValidationError, match=r"^_toy\(\): data must be a pandas DataFrame"):
        _toy([1, 2])
    assert verb_name() == "cohortlab"
    assert verb_name("explicit") == "explicit"


@verb
def _outer(inner_value):
    return _inner(inner_value)


def test_a_verb_run_by_another_names_the_outer_one():
    assert _outer(1) == "_outer"
    with pytest.raises(DataValidationError, match=r"^_outer\(\): value must be one of"):
        _outer(3)


def test_verb_keeps_signature_doc_and_wrapped():
    import inspect

    assert _toy.__doc__ == "A toy verb."
    assert _toy.__name__ == "_toy"
    assert list(inspect.signature(_toy).parameters) == ["data", "how", "level", "free"]
    assert inspect.signature(_toy) == inspect.signature(_toy.__wrapped__)
    assert _toy.__cohortlab_verb__ == "_toy"


VERB_PACKAGES = ["causal", "survival", "exposures", "evaluation", "sensitivity", "subgroups",
                 "describe", "missing", "longitudinal", "trials"]


def test_every_public_verb_is_declared():
    """Each public function of the estimator packages runs under @verb with its own name."""
    import importlib
    import inspect

    undeclared = []
    for pkg in VERB_PACKAGES:
        mod = importlib.import_module(f"cohortlab.{pkg}")
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isfunction(obj) and getattr(obj, "__cohortlab_verb__", None) != name:
                undeclared.append(f"{pkg}.{name}")
    assert undeclared == []


def test_verbs_check_their_literal_options_by_name():
    import cohortlab as cl

    with pytest.raises(DataValidationError,
                       match=r'^ipw\(\): variance must be one of \{"mestimation", "robust", '
                             r'"bootstrap", None\}; got \'sandwich\'\.'):
        cl.ipw(pd.DataFrame({"a": [0, 1]}), exposure="a", outcome="a", covariates="a",
               variance="sandwich")
    with pytest.raises(DataValidationError, match=r"^kaplan_meier\(\): conf_type must be one "
                                                  r"of .*Did you mean 'log-log'"):
        cl.kaplan_meier(pd.DataFrame({"t": [1.0], "e": [1]}), time="t", event="e",
                        conf_type="log_log")


@verb
def _framed(data: pd.DataFrame, *, conf_level: float = 0.95) -> float:
    return conf_level


def test_verb_checks_data_and_conf_level():
    ok = pd.DataFrame({"a": [1]})
    assert _framed(ok, conf_level=0.9) == 0.9
    assert type(_framed(ok, conf_level=np.float32(0.5))) is float
    with pytest.raises(DataValidationError, match=r"^_framed\(\): data must be a pandas"):
        _framed({"a": [1]})
    with pytest.raises(DataValidationError, match=r"^_framed\(\): data has no rows"):
        _framed(ok.iloc[:0])
    with pytest.raises(DataValidationError, match=r"^_framed\(\): conf_level must be a float "
                                                  r"in \(0, 1\); got 95\. Did you mean 0\.95"):
        _framed(ok, conf_level=95)


# ---------------------------------------------------------------------- one truncate vocabulary
def _truncate_calls():
    import cohortlab as cl

    point = cl.simulate_cohort(300, random_state=1)
    long = cl.simulate_longitudinal(200, 3, random_state=1, n_truth=1_000)
    lp = dict(id="id", period="period", treatment="A")
    return {
        "propensity_score": lambda t: cl.propensity_score(
            point, exposure="treated", covariates=["age"], truncate=t),
        "ipw": lambda t: cl.ipw(point, exposure="treated", outcome="sbp_12m",
                                covariates=["age"], truncate=t),
        "tv_weights": lambda t: cl.tv_weights(long, **lp, covariates="L + V", truncate=t),
        "msm": lambda t: cl.msm(long, **lp, outcome="Y", covariates="L + V", truncate=t),
        "strategy_curves": lambda t: cl.strategy_curves(long, **lp, outcome="Y",
                                                        covariates="L + V", truncate=t),
        "sequential_trials": lambda t: cl.sequential_trials(
            long.assign(E=1), **lp, outcome="Y", eligible="E", covariates=["L"], truncate=t),
        "clone_censor_weight": lambda t: cl.clone_censor_weight(
            long, **lp, outcome="Y", covariates=["L"], truncate=t),
    }


TRUNCATE_VERBS = ["propensity_score", "ipw", "tv_weights", "msm", "strategy_curves",
                  "sequential_trials", "clone_censor_weight"]


@pytest.fixture(scope="module")
def truncate_calls():
    calls = _truncate_calls()
    assert list(calls) == TRUNCATE_VERBS
    return calls


@pytest.mark.parametrize("verb", TRUNCATE_VERBS)
@pytest.mark.parametrize("value, match", [
    ((1, 99), r"truncate takes quantiles in \[0, 1\], not percentiles; got \(1, 99\)\. "
              r"Write truncate=\(0\.01, 0\.99\)"),
    (0.99, r"truncate must be a \(low, high\) pair of quantiles; got 0\.99"),
    ((0.99, 0.01), r"truncate quantiles must satisfy 0 <= low < high <= 1"),
])
def test_every_weighting_verb_reads_truncate_as_quantiles(truncate_calls, verb, value, match):
    """One vocabulary: (low, high) quantiles in [0, 1]; percentiles or one number are refused."""
    with pytest.raises(DataValidationError, match=rf"^{verb}\(\): {match}"):
        truncate_calls[verb](value)
