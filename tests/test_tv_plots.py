"""TimeVaryingWeights.plot(): the weights figure draws the by-period diagnostics."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.exceptions import CohortError

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def weights() -> cl.TimeVaryingWeights:
    df = cl.simulate_longitudinal(n=600, n_periods=5, random_state=3, n_truth=2_000)
    return cl.tv_weights(df, id="id", period="period", treatment="A", covariates="L + V",
                         numerator="V", censor="C")


@pytest.fixture(autouse=True)
def _close():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def test_ribbon_draws_the_percentiles_of_by_period(weights):
    ax = weights.plot()
    by = weights.by_period
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    np.testing.assert_allclose(lines["median"].get_ydata(), by["p50"])
    np.testing.assert_allclose(lines["mean"].get_ydata(), by["mean"])
    np.testing.assert_allclose(lines["median"].get_xdata(), by["period"])
    # the two bands: 1st-99th and 25th-75th percentiles
    bands = {c.get_label(): c for c in ax.collections}
    outer = bands["1st-99th percentile"].get_paths()[0].vertices[:, 1]
    inner = bands["25th-75th percentile"].get_paths()[0].vertices[:, 1]
    assert np.isclose(outer.min(), by["p1"].min()) and np.isclose(outer.max(), by["p99"].max())
    assert np.isclose(inner.min(), by["p25"].min()) and np.isclose(inner.max(), by["p75"].max())
    assert ax.get_yscale() == "log"
    assert any(np.allclose(ln.get_ydata(), 1.0) for ln in ax.get_lines())  # reference line


def test_box_has_one_box_per_period(weights):
    ax = weights.plot("box", log=False)
    by = weights.by_period
    assert ax.get_yscale() == "linear"
    means = [ln for ln in ax.get_lines() if ln.get_label() == "mean"][0]
    np.testing.assert_allclose(means.get_ydata(), by["mean"])
    medians = [ln for ln in ax.get_lines() if ln.get_label() == "_nolegend_"
               and len(ln.get_ydata()) == 2 and ln.get_ydata()[0] == ln.get_ydata()[1]]
    got = sorted({float(ln.get_ydata()[0]) for ln in medians})
    for v in by["p50"]:
        assert min(abs(g - v) for g in got) < 1e-12  # every period's median is drawn
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(p) for p in by["period"]]


def test_draws_on_a_given_axes_and_saves(weights, tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert weights.plot(ax=ax) is ax
    fig.savefig(tmp_path / "w.png")
    assert (tmp_path / "w.png").stat().st_size > 1_000


def test_bad_kind_and_table_raise(weights):
    from cohortlab.longitudinal._plots import plot_weights

    with pytest.raises(CohortError, match="kind must be"):
        weights.plot("violin")  # type: ignore[arg-type]
    with pytest.raises(CohortError, match="lacks the columns"):
        plot_weights(pd.DataFrame({"period": [0, 1]}))
