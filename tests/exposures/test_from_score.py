"""Exposures from a model score: threshold, quantiles, cut points, per SD, natural spline.

Checked against: the definition of ``af_flag`` in ``simulate_cohort`` (af_score >= 0.5),
numpy / pandas binning, and R 4.2.2 ``splines::ns`` (numbers hard-coded below with the R code).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import cohortlab as cl
from cohortlab.exceptions import CohortWarning, DataValidationError, MissingDataError
from cohortlab.exposures import (
    ExposureDefinition,
    cutpoint_exposure,
    quantile_exposure,
    spline_basis,
    standardized_exposure,
    threshold_exposure,
)

ABS_R = 1e-10  # ns() fitted values: same column space, least squares on both sides


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return cl.simulate_cohort(2000, random_state=1)


@pytest.fixture(scope="module")
def new_cohort() -> pd.DataFrame:
    return cl.simulate_cohort(500, random_state=2)


# ------------------------------------------------------------------------------ threshold


def test_threshold_reproduces_simulated_af_flag_exactly(cohort):
    flag = threshold_exposure(cohort, "af_score", threshold=0.5)
    assert isinstance(flag, ExposureDefinition)
    assert flag.kind == "threshold" and flag.source == "af_score" and flag.name == "af_score_flag"
    assert flag.values.dtype == np.int64
    assert flag.values.index.equals(cohort.index)
    pd.testing.assert_series_equal(flag.values, cohort["af_flag"], check_names=False)
    assert flag.parameters["threshold"] == 0.5 and flag.parameters["operator"] == ">="
    assert flag.reference == 0 and flag.levels == (0, 1)


def test_threshold_operator_decides_ties():
    d = pd.DataFrame({"s": [0.2, 0.5, 0.5, 0.9]})
    assert threshold_exposure(d, "s", threshold=0.5).values.tolist() == [0, 1, 1, 1]
    assert threshold_exposure(d, "s", threshold=0.5, operator=">").values.tolist() == [0, 0, 0, 1]


def test_threshold_describe_and_counts(cohort):
    flag = threshold_exposure(cohort, "af_score", threshold=0.5)
    n1 = int(cohort["af_flag"].sum())
    assert n1 == 206
    assert flag.describe() == "Exposure: af_score >= 0.5 (flag), 206 of 2,000 (10.3%) exposed."
    c = flag.counts()
    assert list(c.columns) == ["level", "label", "n", "percent", "reference"]
    assert c["n"].tolist() == [2000 - n1, n1]
    assert c["label"].tolist() == ["af_score < 0.5", "af_score >= 0.5"]
    assert c["percent"].tolist() == pytest.approx([89.7, 10.3])
    assert c["reference"].tolist() == [True, False]


def test_threshold_apply_keeps_threshold_on_new_data(new_cohort):
    d = pd.DataFrame({"af_score": [0.1, 0.6]})
    flag = threshold_exposure(d, "af_score", threshold=0.5)
    applied = flag.apply(new_cohort)
    pd.testing.assert_series_equal(applied.values, new_cohort["af_flag"], check_names=False)
    assert applied.parameters["threshold"] == 0.5
    assert applied.n == 500 and applied.n_defining == 2


def test_threshold_flag_works_in_ipw(cohort):
    flag = threshold_exposure(cohort, "af_score", threshold=0.5, name="af_pos")
    d = flag.assign(cohort)
    got = cl.ipw(d, exposure="af_pos", outcome="mace_1y", covariates=["age", "female", "bmi"])
    ref = cl.ipw(cohort, exposure="af_flag", outcome="mace_1y",
                 covariates=["age", "female", "bmi"])
    assert got.term == "af_pos"
    assert got.estimate == pytest.approx(ref.estimate, abs=1e-12)
    assert got.std_error == pytest.approx(ref.std_error, abs=1e-12)


# ------------------------------------------------------------------------------ quantiles


def _reference_codes(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """[a, b) bins with the last one closed, by pandas.cut (right=False) + the maximum."""
    codes = pd.cut(x, edges, right=False, labels=False)
    return np.where(np.isnan(codes), len(edges) - 2, codes).astype(int)


def test_quantile_edges_and_groups_match_numpy_and_pandas(cohort):
    quart = quantile_exposure(cohort, "af_score")
    x = cohort["af_score"].to_numpy()
    edges = np.quantile(x, [0, 0.25, 0.5, 0.75, 1])
    assert quart.parameters["edges"] == pytest.approx(edges.tolist(), abs=0, rel=0)
    assert quart.parameters["edges"] == pytest.approx(
        cohort["af_score"].quantile([0, 0.25, 0.5, 0.75, 1]).tolist(), rel=1e-15)
    assert quart.parameters["cutpoints"] == edges[1:-1].tolist()
    np.testing.assert_array_equal(quart.values.cat.codes.to_numpy(), _reference_codes(x, edges))
    assert quart.values.cat.ordered
    assert quart.counts()["n"].tolist() == [500, 500, 500, 500]


def test_quantile_labels_are_right_open_last_closed():
    d = pd.DataFrame({"s": np.arange(1.0, 9.0)})
    quart = quantile_exposure(d, "s", q=4, name="sq")
    assert quart.levels == ("Q1 [1, 2.75)", "Q2 [2.75, 4.5)", "Q3 [4.5, 6.25)", "Q4 [6.25, 8]")
    # a value equal to an inner edge goes up; the maximum stays in the last group
    tie = quantile_exposure(pd.DataFrame({"s": [1.0, 2.0, 3.0, 4.0, 5.0]}), "s", q=2)
    assert tie.parameters["cutpoints"] == [3.0]
    assert tie.values.cat.codes.tolist() == [0, 0, 1, 1, 1]
    assert tie.levels == ("Q1 [1, 3)", "Q2 [3, 5]")


def test_quantile_labels_gain_digits_until_distinct():
    x = np.r_[np.linspace(0.12340, 0.12345, 50), np.linspace(0.12346, 0.12349, 50)]
    quant = quantile_exposure(pd.DataFrame({"s": x}), "s", q=4)
    edges = [lab.split("[")[1].split(",")[0] for lab in quant.levels]
    assert len(set(edges)) == 4


def test_quantile_probabilities_and_reference(cohort):
    q = quantile_exposure(cohort, "af_score", q=[0, 0.5, 0.9, 1], reference="Q3")
    assert q.parameters["probabilities"] == [0, 0.5, 0.9, 1]
    assert q.reference == q.levels[2] and q.reference.startswith("Q3 [")
    assert q.counts()["reference"].tolist() == [False, False, True]
    assert q.counts()["n"].tolist() == [1000, 800, 200]
    by_label = quantile_exposure(cohort, "af_score", q=[0, 0.5, 0.9, 1], reference=q.levels[1])
    assert by_label.reference == q.levels[1]
    assert quantile_exposure(cohort, "af_score").reference.startswith("Q1 [")


def test_quantile_describe(cohort):
    quart = quantile_exposure(cohort, "af_score")
    assert quart.describe() == (
        "Exposure: af_score in quartiles (sample quantiles of 2,000 rows; cut points 0.0704, "
        "0.138, 0.261; groups closed on the left, the top one on both ends), reference "
        "Q1 [0.00385, 0.0704); n = 2,000."
    )
    tert = quantile_exposure(cohort, "af_score", q=[0, 0.5, 0.9, 1])
    assert "in 3 groups at the quantiles [0, 0.5, 0.9, 1]" in tert.describe()


def test_quantile_apply_uses_original_edges(cohort, new_cohort):
    quart = quantile_exposure(cohort, "af_score")
    applied = quart.apply(new_cohort)
    x = new_cohort["af_score"].to_numpy()
    expected = np.searchsorted(quart.parameters["cutpoints"], x, side="right")
    np.testing.assert_array_equal(applied.values.cat.codes.to_numpy(), expected)
    refit = quantile_exposure(new_cohort, "af_score")
    assert applied.parameters["edges"] == quart.parameters["edges"]
    assert refit.parameters["cutpoints"] != quart.parameters["cutpoints"]
    assert applied.levels == quart.levels and applied.values.index.equals(new_cohort.index)
    assert applied.counts()["n"].sum() == 500


def test_quantile_apply_out_of_range_goes_to_extreme_groups_with_note(cohort):
    quart = quantile_exposure(cohort, "af_score")
    applied = quart.apply(pd.DataFrame({"af_score": [0.0, 0.1, 0.999, 1.0]}))
    assert applied.values.cat.codes.tolist() == [0, 1, 3, 3]
    assert applied.notes == ("1 value below the defining minimum 0.00385 put in the first "
                             "group and 2 above the defining maximum 0.991 in the last.",)


# ------------------------------------------------------------------------------ cut points


def test_cutpoints_match_pandas_cut_left_closed(cohort):
    cat = cutpoint_exposure(cohort, "bmi", cutpoints=[25, 30], name="bmi_cat")
    expected = pd.cut(cohort["bmi"], [-np.inf, 25, 30, np.inf], right=False, labels=False)
    np.testing.assert_array_equal(cat.values.cat.codes.to_numpy(), expected.to_numpy())
    assert cat.levels == ("< 25", "[25, 30)", ">= 30")
    assert cat.reference == "< 25" and cat.parameters["cutpoints"] == [25.0, 30.0]
    assert cat.describe().startswith(
        "Exposure: bmi in 3 categories at cut points 25, 30 (closed on the left; < 25: ")
    assert cat.describe().endswith("), reference < 25; n = 2,000.")


def test_cutpoints_tie_goes_up_and_reference():
    d = pd.DataFrame({"s": [0.1, 0.3, 0.5, 0.7, 0.9]})
    cat = cutpoint_exposure(d, "s", cutpoints=[0.3, 0.7], reference="[0.3, 0.7)")
    assert cat.values.astype(str).tolist() == ["< 0.3", "[0.3, 0.7)", "[0.3, 0.7)", ">= 0.7",
                                               ">= 0.7"]
    assert cat.reference == "[0.3, 0.7)"
    assert cat.counts()["n"].tolist() == [1, 2, 2]


def test_cutpoints_empty_category_warns_and_keeps_level():
    d = pd.DataFrame({"s": [0.1, 0.2, 0.9]})
    with pytest.warns(CohortWarning, match=r"1 categories of column 's' \(score\) are empty"):
        cat = cutpoint_exposure(d, "s", cutpoints=[0.3, 0.5])
    assert cat.counts()["n"].tolist() == [2, 0, 1]
    assert len(cat.notes) == 1


# ------------------------------------------------------------------------------ per SD


def test_per_sd_keeps_mean_and_sd_and_apply_does_not_refit(cohort, new_cohort):
    z = standardized_exposure(cohort, "af_score")
    x = cohort["af_score"]
    assert z.parameters["mean"] == pytest.approx(x.mean(), rel=1e-14)
    assert z.parameters["sd"] == pytest.approx(x.std(ddof=1), rel=1e-14)
    assert z.values.mean() == pytest.approx(0, abs=1e-12)
    assert z.values.std(ddof=1) == pytest.approx(1, rel=1e-12)
    applied = z.apply(new_cohort)
    expected = (new_cohort["af_score"] - x.mean()) / x.std(ddof=1)
    np.testing.assert_allclose(applied.values.to_numpy(), expected.to_numpy(), rtol=1e-13)
    assert abs(applied.values.mean()) > 1e-3  # not re-centred on the new data
    assert z.describe() == (
        "Exposure: af_score per 1 SD, i.e. (af_score - 0.2135) / 0.2153, with the mean and SD "
        "(ddof=1) of 2,000 rows; n = 2,000."
    )


# ------------------------------------------------------------------------------ spline

# R 4.2.2:
#   library(splines)
#   x <- c(0.02, 0.05, 0.07, 0.11, 0.13, 0.18, 0.21, 0.26, 0.30, 0.34, 0.41, 0.47, 0.52,
#          0.58, 0.66, 0.71, 0.79, 0.85, 0.92, 0.97)
#   y <- sin(6 * x) + x^2
#   fit <- lm(y ~ ns(x, df = 4)); b <- ns(x, df = 4)
#   attr(b, "knots"); attr(b, "Boundary.knots"); fitted(fit)
#   predict(fit, newdata = data.frame(x = c(-0.2, 0.0, 0.15, 0.5, 0.99, 1.3)))
R_X = [0.02, 0.05, 0.07, 0.11, 0.13, 0.18, 0.21, 0.26, 0.30, 0.34, 0.41, 0.47, 0.52, 0.58, 0.66,
       0.71, 0.79, 0.85, 0.92, 0.97]
R_KNOTS = [0.16750000000000001, 0.375, 0.67249999999999999]
R_BOUNDARY = [0.02, 0.96999999999999997]
R_FITTED = [
    0.13279455737223145, 0.30023456853806446, 0.4093903951898083, 0.61510072645335867,
    0.70869021411459099, 0.90379397764386193, 0.9884888472353095, 1.0706199739798861,
    1.0800085522773648, 1.0362643673650009, 0.82559644025941992, 0.53823606427040682,
    0.26718371460282003, -0.044884807363581226, -0.34167509327453316, -0.40541277259187336,
    -0.31203579240358892, -0.12405451586554263, 0.17511796499961757, 0.41438817076741213,
]
R_NEW_X = [-0.2, 0.0, 0.15, 0.5, 0.99, 1.3]
R_PREDICT = [-1.1012142053044358, 0.020611942583443545, 0.79412590516174597,
             0.37659112971148273, 0.51134995780876524, 2.0142576569497366]


def _ols(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    X1 = np.column_stack([np.ones(len(X)), X])
    return np.linalg.lstsq(X1, y, rcond=None)[0]


def test_spline_knots_and_fitted_values_match_r_ns():
    x = np.asarray(R_X)
    ns = spline_basis(pd.DataFrame({"x": x}), "x", df=4)
    assert ns.parameters["knots"] == pytest.approx(R_KNOTS, abs=1e-15)
    assert list(ns.parameters["boundary_knots"]) == pytest.approx(R_BOUNDARY, abs=1e-15)
    assert ns.columns == ["x_ns1", "x_ns2", "x_ns3", "x_ns4"]
    y = np.sin(6 * x) + x**2
    beta = _ols(ns.values.to_numpy(), y)
    fitted = beta[0] + ns.values.to_numpy() @ beta[1:]
    np.testing.assert_allclose(fitted, R_FITTED, rtol=0, atol=ABS_R)
    # predictions on new data (outside the boundary knots too) equal R's predict()
    new = ns.apply(pd.DataFrame({"x": R_NEW_X})).values.to_numpy()
    np.testing.assert_allclose(beta[0] + new @ beta[1:], R_PREDICT, rtol=0, atol=ABS_R)


def test_spline_is_linear_beyond_boundary_and_df1_is_linear():
    x = np.linspace(0.0, 1.0, 30)
    ns = spline_basis(pd.DataFrame({"s": x}), "s", df=3)
    out = ns.apply(pd.DataFrame({"s": [1.5, 2.0, 2.5, -1.0, -0.5, 0.0]})).values.to_numpy()
    np.testing.assert_allclose(out[1] - out[0], out[2] - out[1], atol=1e-12)
    np.testing.assert_allclose(out[4] - out[3], out[5] - out[4], atol=1e-12)
    lin = spline_basis(pd.DataFrame({"s": x}), "s", df=1)
    np.testing.assert_allclose(lin.values.to_numpy()[:, 0], x, atol=1e-15)
    assert lin.parameters["knots"] == []


def test_spline_describe_and_assign(cohort):
    ns = spline_basis(cohort, "af_score", df=4, name="afs")
    assert ns.describe() == (
        "Exposure: natural cubic spline of af_score with 4 degrees of freedom (interior knots "
        "0.0704, 0.138, 0.261, boundary knots 0.00385 and 0.991, at quantiles of 2,000 rows; "
        "linear beyond the boundary knots); n = 2,000."
    )
    out = ns.assign(cohort)
    assert list(out.columns[-4:]) == ["afs1", "afs2", "afs3", "afs4"]
    np.testing.assert_array_equal(out[ns.columns].to_numpy(), ns.values.to_numpy())


# ------------------------------------------------------------------------------ the object


def test_assign_returns_a_new_frame_and_leaves_input_unchanged(cohort):
    before = pd.util.hash_pandas_object(cohort).sum()
    cols = list(cohort.columns)
    for defn in (threshold_exposure(cohort, "af_score", threshold=0.5),
                 quantile_exposure(cohort, "af_score"),
                 cutpoint_exposure(cohort, "af_score", cutpoints=[0.2, 0.5]),
                 standardized_exposure(cohort, "af_score")):
        out = defn.assign(cohort)
        assert out is not cohort and list(out.columns) == [*cols, defn.name]
        assert out[defn.name].tolist() == defn.values.tolist()
    assert list(cohort.columns) == cols
    assert pd.util.hash_pandas_object(cohort).sum() == before


def test_assign_refuses_to_overwrite_unless_asked(cohort):
    flag = threshold_exposure(cohort, "af_score", threshold=0.5, name="af_flag")
    with pytest.raises(DataValidationError, match=r"assign\(\): column 'af_flag' already exists"):
        flag.assign(cohort)
    out = flag.assign(cohort, overwrite=True)
    assert out["af_flag"].tolist() == cohort["af_flag"].tolist()


def test_missing_drop_counts_rows_and_assign_leaves_them_missing():
    d = pd.DataFrame({"s": [0.1, np.nan, 0.7, 0.9, np.nan]}, index=[10, 11, 12, 13, 14])
    flag = threshold_exposure(d, "s", threshold=0.5, missing="drop")
    assert flag.dropped.n_rows == 2 and flag.dropped.by_column == {"s": 2}
    assert flag.values.index.tolist() == [10, 12, 13]
    assert flag.describe() == ("Exposure: s >= 0.5 (flag), 2 of 3 (66.7%) exposed; 2 rows "
                               "with missing s dropped.")
    out = flag.assign(d)
    assert out["s_flag"].dtype == "Int64" and out["s_flag"].isna().tolist() == [
        False, True, False, False, True]
    cat = quantile_exposure(d, "s", q=[0, 0.5, 1], missing="drop").assign(d)
    assert cat["s_q2"].isna().sum() == 2 and isinstance(cat["s_q2"].dtype, pd.CategoricalDtype)
    z = standardized_exposure(d, "s", missing="drop").assign(d)
    assert z["s_per_sd"].isna().sum() == 2


def test_definition_is_frozen(cohort):
    flag = threshold_exposure(cohort, "af_score", threshold=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        flag.kind = "quantiles"  # type: ignore[misc]
    with pytest.raises(TypeError):
        flag.parameters["threshold"] = 0.9  # type: ignore[index]
    assert repr(flag) == "<ExposureDefinition 'af_score_flag' (threshold of 'af_score', n=2000)>"


def test_a_million_rows_is_ordinary():
    rng = np.random.default_rng(7)
    d = pd.DataFrame({"s": rng.random(1_000_000)})
    dec = quantile_exposure(d, "s", q=10)
    assert dec.counts()["n"].tolist() == [100_000] * 10
    assert spline_basis(d, "s", df=5).values.shape == (1_000_000, 5)


# ------------------------------------------------------------------------------ bad input


def test_score_column_misspelt_suggests_close_match(cohort):
    with pytest.raises(DataValidationError,
                       match=r"threshold_exposure\(\): column 'af_scor' not found \(score\)\. "
                             r"Did you mean 'af_score'"):
        threshold_exposure(cohort, "af_scor", threshold=0.5)


def test_data_not_a_frame():
    with pytest.raises(DataValidationError, match=r"data must be a pandas DataFrame; got dict"):
        quantile_exposure({"s": [1, 2]}, "s")


def test_score_non_numeric():
    d = pd.DataFrame({"s": ["low", "high", "low"]})
    with pytest.raises(DataValidationError,
                       match=r"column 's' \(score\) must be numeric; got dtype object"):
        standardized_exposure(d, "s")


def test_score_missing_raises_by_default():
    d = pd.DataFrame({"s": [0.1, np.nan, 0.7]})
    with pytest.raises(MissingDataError,
                       match=r"1 of 3 rows have missing values in analysis columns: s \(1\)"):
        threshold_exposure(d, "s", threshold=0.5)


def test_missing_option_invalid():
    d = pd.DataFrame({"s": [0.1, 0.7]})
    with pytest.raises(DataValidationError, match=r'missing must be one of \{"raise", "drop"\}'):
        threshold_exposure(d, "s", threshold=0.5, missing="omit")  # type: ignore[arg-type]


def test_threshold_outside_range_names_range_and_count(cohort):
    with pytest.raises(DataValidationError,
                       match=r"threshold=1\.5 leaves a single level in column 'af_score' "
                             r"\(score\); got range \[0\.00385, 0\.991\] with 0 of 2,000 rows "
                             r">= 1\.5\. Choose a threshold inside"):
        threshold_exposure(cohort, "af_score", threshold=1.5)
    with pytest.raises(DataValidationError, match=r"with 2,000 of 2,000 rows >= 0"):
        threshold_exposure(cohort, "af_score", threshold=0)


def test_threshold_not_a_number():
    d = pd.DataFrame({"s": [0.1, 0.7]})
    with pytest.raises(DataValidationError, match=r"threshold must be a finite number; got '0.5'"):
        threshold_exposure(d, "s", threshold="0.5")  # type: ignore[arg-type]


def test_threshold_operator_invalid():
    d = pd.DataFrame({"s": [0.1, 0.7]})
    with pytest.raises(DataValidationError, match=r'operator must be one of \{">=", ">"\}'):
        threshold_exposure(d, "s", threshold=0.5, operator="=>")  # type: ignore[arg-type]


def test_duplicate_quantile_edges_raise():
    d = pd.DataFrame({"s": [0.0] * 60 + list(np.linspace(0.1, 1.0, 40))})
    with pytest.raises(DataValidationError,
                       match=r"q=4 gives duplicate bin edges in column 's' \(score\); got edges "
                             r"\[0, 0, 0, 0\.4288, 1\] \(2 of 4 groups .*\)\. Use fewer groups, or "
                             r"cutpoint_exposure\(\)"):
        quantile_exposure(d, "s", q=4)


def test_quantile_empty_groups_raise():
    with pytest.raises(DataValidationError, match=r"q=3 leaves empty groups .* 1 empty of 3"):
        quantile_exposure(pd.DataFrame({"s": [1.0, 2.0]}), "s", q=3)


@pytest.mark.parametrize("q", [1, True, [0, 0.5], [0.1, 0.5, 1], [0, 0.6, 0.4, 1], "4"])
def test_quantile_q_invalid(q):
    with pytest.raises(DataValidationError, match=r"q must be an int >= 2"):
        quantile_exposure(pd.DataFrame({"s": [1.0, 2.0, 3.0]}), "s", q=q)


def test_cutpoints_unsorted():
    with pytest.raises(DataValidationError,
                       match=r"cutpoints must be in increasing order; got \[0\.7, 0\.3\]\. Sort "
                             r"them: cutpoints=\[0\.3, 0\.7\]"):
        cutpoint_exposure(pd.DataFrame({"s": [0.1, 0.5, 0.9]}), "s", cutpoints=[0.7, 0.3])


def test_cutpoints_duplicated():
    with pytest.raises(DataValidationError,
                       match=r"cutpoints have duplicates; got \[0\.3, 0\.3, 0\.7\] \(0\.3 "
                             r"repeated\)"):
        cutpoint_exposure(pd.DataFrame({"s": [0.1, 0.5, 0.9]}), "s", cutpoints=[0.3, 0.3, 0.7])


@pytest.mark.parametrize("cuts", [[], ["a"], [np.nan], [True]])
def test_cutpoints_not_numbers(cuts):
    with pytest.raises(DataValidationError, match=r"cutpoints must be a non-empty list"):
        cutpoint_exposure(pd.DataFrame({"s": [0.1, 0.5, 0.9]}), "s", cutpoints=cuts)


def test_cutpoints_outside_range_single_level():
    with pytest.raises(DataValidationError,
                       match=r"leave a single level in column 's' \(score\); got range "
                             r"\[0\.1, 0\.9\] with all 3 rows in '< 5'"):
        cutpoint_exposure(pd.DataFrame({"s": [0.1, 0.5, 0.9]}), "s", cutpoints=[5, 10])


def test_reference_not_a_level(cohort):
    with pytest.raises(DataValidationError,
                       match=r"quantile_exposure\(\): reference='Q5' is not a level of the "
                             r"exposure; got levels \['Q1 \[.*\]\. Pass one of them \(or "
                             r"'Q1'..'Q4'\)"):
        quantile_exposure(cohort, "af_score", reference="Q5")
    with pytest.raises(DataValidationError,
                       match=r"cutpoint_exposure\(\): reference='normal' is not a level"):
        cutpoint_exposure(cohort, "bmi", cutpoints=[25, 30], reference="normal")


def test_per_sd_constant_score():
    with pytest.raises(DataValidationError, match=r"column 's' \(score\) is constant; got SD 0"):
        standardized_exposure(pd.DataFrame({"s": [0.3, 0.3, 0.3]}), "s")


@pytest.mark.parametrize("df", [0, 2.5, "4", True])
def test_spline_df_invalid(df):
    with pytest.raises(DataValidationError, match=r"df must be an int >= 1"):
        spline_basis(pd.DataFrame({"s": np.linspace(0, 1, 10)}), "s", df=df)


def test_spline_duplicate_knots():
    d = pd.DataFrame({"s": [0.0] * 50 + [1.0, 2.0]})
    with pytest.raises(DataValidationError, match=r"df=4 gives duplicate knots .* Use a smaller"):
        spline_basis(d, "s", df=4)


def test_counts_of_continuous_exposure_raises():
    z = standardized_exposure(pd.DataFrame({"s": [1.0, 2.0, 3.0]}), "s")
    with pytest.raises(DataValidationError,
                       match=r"counts\(\): not defined for a continuous exposure in 's_per_sd'"):
        z.counts()


def test_name_invalid():
    with pytest.raises(DataValidationError, match=r"threshold_exposure\(\): name must be a "
                                                  r"non-empty string; got 3"):
        threshold_exposure(pd.DataFrame({"s": [0.1, 0.7]}), "s", threshold=0.5, name=3)


def test_apply_needs_the_score_column(cohort):
    flag = threshold_exposure(cohort, "af_score", threshold=0.5)
    with pytest.raises(DataValidationError, match=r"apply\(\): column 'af_score' not found"):
        flag.apply(cohort.rename(columns={"af_score": "score"}))
