"""Survival figures: ``curve_plot`` / ``Curve.plot`` and the numbers-at-risk table.

The curves are built by hand (small long-format frames, as in curve.py's doctest), so the
expected numbers at risk are computed here from the ``n_risk`` column: at time ``t`` the
table shows ``n_risk`` of the first row with time >= t, and 0 after the last time. No external
reference exists for a figure; these are the rules of R's ``summary(survfit, times=,
extend=TRUE)$n.risk`` written out by hand, and one small case is checked against R's
own output (test_numbers_at_risk_match_r_summary_survfit).
"""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection

from cohortlab.exceptions import DataValidationError
from cohortlab.report.figures import curve_plot, numbers_at_risk
from cohortlab.results.curve import Curve

matplotlib.use("Agg")

CURVE_ROWS = dict(std_error=0.1, conf_level=0.95)


def _km() -> Curve:
    """Two groups: 'a' with rows at 1, 2, 4 (a censoring at 4), 'b' at 1.5, 3, 6, 8."""
    data = pd.DataFrame({
        "time": [1.0, 2.0, 4.0, 1.5, 3.0, 6.0, 8.0],
        "group": ["a"] * 3 + ["b"] * 4,
        "cause": None,
        "n_risk": [10, 8, 5, 12, 9, 6, 2],
        "n_event": [2, 2, 1, 3, 2, 1, 1],
        "n_censor": [0, 1, 4, 0, 1, 3, 1],
        "estimate": [0.8, 0.6, 0.48, 0.75, 0.583, 0.486, 0.243],
        "conf_low": [0.5, 0.3, 0.2, 0.45, 0.3, 0.2, 0.05],
        "conf_high": [0.95, 0.85, 0.75, 0.9, 0.8, 0.75, 0.6],
        **CURVE_ROWS,
    })
    return Curve(data=data, measure="survival", method="kaplan_meier", n=22, n_events=12)


def _cif() -> Curve:
    """One group, two causes sharing the risk set (rows at 1, 2, 5 for each cause)."""
    base = dict(time=[1.0, 2.0, 5.0], group="all", n_risk=[20, 15, 7], n_event=[1, 2, 1],
                n_censor=[2, 6, 3], **CURVE_ROWS)
    c1 = pd.DataFrame({**base, "cause": 1, "estimate": [0.05, 0.15, 0.25],
                       "conf_low": [0.0, 0.05, 0.1], "conf_high": [0.2, 0.35, 0.5]})
    c2 = pd.DataFrame({**base, "cause": 2, "estimate": [0.0, 0.05, 0.1],
                       "conf_low": [0.0, 0.0, 0.02], "conf_high": [0.0, 0.2, 0.3]})
    return Curve(data=pd.concat([c1, c2]), measure="cumulative_incidence",
                 method="aalen_johansen", n=20, n_events=8)


def _step_lines(ax: Axes) -> list:
    return [ln for ln in ax.get_lines() if ln.get_drawstyle() == "steps-post"]


def _table_cells(ax: Axes) -> dict[tuple[int, float], str]:
    """The texts of the risk table keyed by (row, column time)."""
    return {(int(round(t.get_position()[1])), float(t.get_position()[0])): t.get_text()
            for t in ax.risk_table_ax.texts}


# ---------------------------------------------------------------------- numbers at risk
def test_risk_table_numbers_equal_hand_computed_n_risk():
    km = _km()
    times = [0.0, 1.0, 2.5, 4.0, 5.0, 8.0, 9.0]
    # first row with time >= t: a: 0->10, 1->10, 2.5->5 (row 4), 4->5, 5->0 (after the last
    # time 4), 8->0, 9->0; b: 0->12, 1->12, 2.5->9 (row 3), 4->6 (row 6), 5->6, 8->2, 9->0
    expected = {"a": [10, 10, 5, 5, 0, 0, 0], "b": [12, 12, 9, 6, 6, 2, 0]}
    table = numbers_at_risk(km, times)
    assert table.index.tolist() == ["a", "b"] and table.columns.tolist() == times
    assert table.loc["a"].tolist() == expected["a"]
    assert table.loc["b"].tolist() == expected["b"]

    ax = curve_plot(km, risk_table=True, times=times)
    cells = _table_cells(ax)
    assert len(cells) == 2 * len(times)
    for row, group in enumerate(("a", "b")):
        assert [cells[(row, t)] for t in times] == [str(v) for v in expected[group]]
    assert ax.risk_table_ax.get_title(loc="left") == "Number at risk"
    assert [lab.get_text() for lab in ax.risk_table_ax.get_yticklabels()] == ["a", "b"]


def test_numbers_at_risk_match_r_summary_survfit():
    """R 4.2.2, survival 3.5.3 (run for this test)::

        fit <- survfit(Surv(time, status) ~ 1,
                       data = data.frame(time = c(1, 2, 2, 4, 5, 7), status = c(1, 0, 1, 1, 0, 1)))
        summary(fit, times = c(0, 1.5, 2, 3, 5, 6, 8), extend = TRUE)$n.risk
        # 6 5 5 3 2 1 0
    """
    data = pd.DataFrame({"time": [1.0, 2.0, 4.0, 5.0, 7.0], "group": "all", "cause": None,
                         "n_risk": [6, 5, 3, 2, 1], "n_event": [1, 1, 1, 0, 1],
                         "n_censor": [0, 1, 0, 1, 0],
                         "estimate": [5 / 6, 2 / 3, 4 / 9, 4 / 9, 0.0], "conf_low": 0.0,
                         "conf_high": 1.0, **CURVE_ROWS})
    times = [0, 1.5, 2, 3, 5, 6, 8]
    r_n_risk = [6, 5, 5, 3, 2, 1, 0]
    assert numbers_at_risk(Curve(data=data), times).loc["all"].tolist() == r_n_risk
    ax = curve_plot(Curve(data=data), risk_table=True, times=times)
    assert [_table_cells(ax)[(0, float(t))] for t in times] == [str(v) for v in r_n_risk]


def test_risk_table_text_is_coloured_like_the_group_line():
    ax = curve_plot(_km(), risk_table=True, times=[0, 2, 4])
    colours = {ln.get_label(): ln.get_color() for ln in _step_lines(ax)}
    for text in ax.risk_table_ax.texts:
        group = "a" if round(text.get_position()[1]) == 0 else "b"
        assert text.get_color() == colours[group]
    for label in ax.risk_table_ax.get_yticklabels():
        assert label.get_color() == colours[label.get_text()]


def test_default_table_times_are_the_major_ticks_within_the_data_range():
    ax = curve_plot(_km(), risk_table=True)
    xs = sorted({t for (_, t) in _table_cells(ax)})
    assert xs == [float(t) for t in ax.get_xticks()]
    assert xs[0] == 0.0 and xs[-1] <= 8.0 and len(xs) >= 3
    expected = numbers_at_risk(_km(), xs)
    cells = _table_cells(ax)
    assert [cells[(1, t)] for t in xs] == [str(int(v)) for v in expected.loc["b"]]


def test_risk_table_counts_are_the_unweighted_n_risk():
    data = _km().data.assign(n_risk_weighted=lambda d: d["n_risk"] * 2.5)
    weighted = Curve(data=data, measure="survival", weighted=True)
    ax = curve_plot(weighted, risk_table=True, times=[0, 2])
    assert _table_cells(ax) == {(0, 0.0): "10", (0, 2.0): "8", (1, 0.0): "12", (1, 2.0): "9"}


def test_competing_causes_share_one_risk_table_row_per_group():
    ax = curve_plot(_cif(), risk_table=True, times=[0, 2, 3, 6])
    assert _table_cells(ax) == {(0, 0.0): "20", (0, 2.0): "15", (0, 3.0): "7", (0, 6.0): "0"}


def test_unknown_n_risk_shows_na():
    data = _km().data.copy()
    data["n_risk"] = pd.array([10, None, 5, 12, 9, 6, 2], dtype="Int64")
    ax = curve_plot(Curve(data=data), risk_table=True, times=[1.5, 3])
    assert _table_cells(ax)[(0, 1.5)] == "NA" and _table_cells(ax)[(1, 1.5)] == "12"


def test_numbers_at_risk_is_vectorised_for_a_million_rows():
    n = 1_000_000
    t = np.arange(1.0, n + 1)
    data = pd.DataFrame({"time": t, "group": "all", "cause": None, "n_risk": n - t + 1,
                         "n_event": 1, "n_censor": 0, "estimate": 1 - t / n, "std_error": 0.0,
                         "conf_low": 1 - t / n, "conf_high": 1 - t / n, "conf_level": 0.95})
    curve = Curve(data=data)
    table = numbers_at_risk(curve, [0, 10.5, 500_000, n, n + 1])
    assert table.loc["all"].tolist() == [n, n - 10, 500_001, 1, 0]


# ---------------------------------------------------------------------- the curves
def test_survival_starts_at_one_and_cif_at_zero():
    for curve, start in ((_km(), 1.0), (_cif(), 0.0)):
        ax = curve_plot(curve)
        for line in _step_lines(ax):
            x, y = line.get_data()
            assert (x[0], y[0]) == (0.0, start)
        plt.close(ax.figure)


def test_each_group_gets_a_line_of_its_own_colour():
    ax = curve_plot(_km())
    lines = _step_lines(ax)
    assert [ln.get_label() for ln in lines] == ["a", "b"]
    assert lines[0].get_color() != lines[1].get_color()
    x, y = lines[1].get_data()
    assert x.tolist() == [0.0, 1.5, 3.0, 6.0, 8.0]
    assert y.tolist() == [1.0, 0.75, 0.583, 0.486, 0.243]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_causes_get_line_styles_and_the_group_colour():
    ax = curve_plot(_cif())
    lines = _step_lines(ax)
    assert [ln.get_label() for ln in lines] == ["all, cause 1", "all, cause 2"]
    assert lines[0].get_color() == lines[1].get_color()
    assert lines[0].get_linestyle() != lines[1].get_linestyle()


def test_ci_bands_are_drawn_only_when_asked():
    with_ci = curve_plot(_km())
    assert sum(isinstance(c, PolyCollection) for c in with_ci.collections) == 2
    without = curve_plot(_km(), ci=False)
    assert not any(isinstance(c, PolyCollection) for c in without.collections)


def test_censor_marks_sit_on_the_curve_at_censoring_times():
    ax = curve_plot(_km())
    marks = [ln for ln in ax.get_lines() if ln.get_marker() == "|"]
    assert len(marks) == 2
    got = sorted(zip(*np.concatenate([np.array(m.get_data()) for m in marks], axis=1),
                     strict=True))
    # n_censor > 0 at a: 2 (0.6), 4 (0.48); b: 3 (0.583), 6 (0.486), 8 (0.243)
    assert got == [(2.0, 0.6), (3.0, 0.583), (4.0, 0.48), (6.0, 0.486), (8.0, 0.243)]
    none = curve_plot(_km(), censor_marks=False)
    assert not [ln for ln in none.get_lines() if ln.get_marker() == "|"]


def test_labels_limits_and_title():
    ax = curve_plot(_cif(), ylim=(0, 0.6), xlabel="years", ylabel="risk", title="CIF")
    assert ax.get_ylim() == (0.0, 0.6)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("years", "risk", "CIF")
    default = curve_plot(_km())
    assert default.get_ylim() == (0.0, 1.02)
    assert (default.get_xlabel(), default.get_ylabel()) == ("time", "survival")


def test_single_unlabelled_curve_has_no_legend():
    data = _km().data.query("group == 'a'").assign(group=None)
    ax = curve_plot(Curve(data=data), risk_table=True, times=[0, 3])
    assert ax.get_legend() is None
    assert [lab.get_text() for lab in ax.risk_table_ax.get_yticklabels()] == ["all"]


# ---------------------------------------------------------------------- axes and files
def test_returns_axes_with_the_table_axes_attached():
    ax = curve_plot(_km())
    assert isinstance(ax, Axes) and ax.risk_table_ax is None
    ax = curve_plot(_km(), risk_table=True)
    assert isinstance(ax.risk_table_ax, Axes)
    assert ax.risk_table_ax.figure is ax.figure
    assert ax.risk_table_ax.get_xlim() == ax.get_xlim()  # shared x axis
    assert ax.risk_table_ax.get_position().y1 <= ax.get_position().y0  # below the plot


def test_given_axes_are_used_and_the_table_is_carved_below():
    fig, ax = plt.subplots(figsize=(6, 5))
    out = curve_plot(_km(), ax, risk_table=True, times=[0, 4, 8])
    assert out is ax and len(fig.axes) == 2
    fig.canvas.draw()
    assert ax.risk_table_ax.get_position().y1 < ax.get_position().y0
    assert ax.get_xticks().tolist() == [0.0, 4.0, 8.0]


def test_table_times_beyond_the_curves_widen_the_x_axis():
    ax = curve_plot(_km(), risk_table=True, times=[0, 5, 10])
    assert ax.get_xlim()[1] >= 10
    assert _table_cells(ax)[(1, 10.0)] == "0"


def test_curve_plot_method_forwards_keywords():
    ax = _km().plot(risk_table=True, times=[0, 2], title="KM", censor_marks=False)
    assert ax.get_title() == "KM" and ax.risk_table_ax is not None
    assert not [ln for ln in ax.get_lines() if ln.get_marker() == "|"]
    assert _cif().plot(ci=False).get_ylabel() == "cumulative incidence"


@pytest.mark.parametrize("risk_table", [False, True])
@pytest.mark.parametrize("given_ax", [False, True])
def test_saves_to_png(tmp_path, risk_table, given_ax):
    ax = plt.subplots(layout="constrained")[1] if given_ax else None
    ax = _cif().plot(ax=ax, risk_table=risk_table)
    path = tmp_path / "curve.png"
    ax.figure.savefig(path, dpi=60)
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("times", [[-1, 2], [0, np.nan], [], [[1, 2]]])
def test_bad_times_raise(times):
    with pytest.raises(DataValidationError, match=r"curve_plot\(\): times must be a non-empty"):
        curve_plot(_km(), risk_table=True, times=times)


@pytest.mark.parametrize("times", [["one year"], "12"])
def test_non_numeric_times_raise(times):
    with pytest.raises(DataValidationError, match=r"curve_plot\(\): times must be numbers"):
        curve_plot(_km(), risk_table=True, times=times)


@pytest.mark.parametrize("ylim", [(1, 0), (0,), "01", (0, np.inf)])
def test_bad_ylim_raises(ylim):
    with pytest.raises(DataValidationError, match=r"curve_plot\(\): ylim must be a \(low, high\)"):
        curve_plot(_km(), ylim=ylim)


def test_empty_curve_raises():
    with pytest.raises(DataValidationError, match=r"curve_plot\(\): the curve has no rows"):
        curve_plot(Curve(data=_km().data.iloc[:0]))


def test_numbers_at_risk_needs_times():
    with pytest.raises(DataValidationError, match=r"numbers_at_risk\(\): times must be given"):
        numbers_at_risk(_km(), None)
