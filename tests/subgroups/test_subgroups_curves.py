"""subgroups() over adjusted_survival: effect modification of a risk difference at t (issue 12)."""

import numpy as np
import pytest

import cohortlab as cl


@pytest.fixture(scope="module")
def cohort():
    d = cl.simulate_cohort(3000, random_state=7)
    return d.assign(any_event=(d["event"] > 0).astype(int))


def _kwargs(survival=False):
    # cause 1 of the competing events (CIF contrast), or survival from any event (1 - S)
    outcome = dict(event="any_event") if survival else dict(event="event", cause=1)
    return dict(time="time", exposure="treated", covariates=["age", "diabetes", "bmi"],
                method="ipw", times=[1.0], **outcome)


@pytest.mark.parametrize("survival", [False, True])
def test_risk_difference_at_t_by_subgroup_equals_the_curves_in_each_level(cohort, survival):
    res = cl.subgroups(cl.adjusted_survival, cohort, by="female", at=1.0, scale="risk",
                       **_kwargs(survival))
    f = res.to_frame().set_index(["subgroup", "level"])
    # each level's row is adjusted_survival's own 1-year risk difference in that level
    for lvl in (0, 1):
        d = cohort[cohort["female"] == lvl]
        ref = cl.adjusted_survival(d, **_kwargs(survival)).contrast([1.0], scale="risk").rows[0]
        row = f.loc[("female", lvl)]
        assert row["estimate"] == pytest.approx(ref.estimate, rel=1e-12)
        assert row["std_error"] == pytest.approx(ref.std_error, rel=1e-12)
        assert row["effect_measure"] == "risk_difference"
    overall = cl.adjusted_survival(cohort, **_kwargs(survival)).contrast(
        [1.0], scale="risk").rows[0]
    assert f.loc[("overall", "all"), "estimate"] == pytest.approx(overall.estimate, rel=1e-12)
    inter = res.interaction.to_frame().set_index("variable")
    assert inter.loc["female", "df"] == 1 and np.isfinite(inter.loc["female", "p_value"])


def test_curves_without_at_are_refused(cohort):
    with pytest.raises(cl.exceptions.CohortError, match="at= must name the time"):
        cl.subgroups(cl.adjusted_survival, cohort, by="female", **_kwargs())
