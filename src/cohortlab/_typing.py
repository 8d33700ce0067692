"""``Literal`` option aliases shared across cohortlab.

Validation reads the allowed values from these aliases with :func:`typing.get_args`, so an
error message can never list options that drifted from the type.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np

Missing: TypeAlias = Literal["raise", "drop"]
Estimand: TypeAlias = Literal["ATE", "ATT", "ATC", "ATO", "ATM"]
#: The estimands of the outcome-model estimators (gformula, aipw, tmle).
StandardEstimand: TypeAlias = Literal["ATE", "ATT", "ATC"]
#: The contrast of two arm means (crude_effect, ipw, gformula, aipw, tmle, match, ppi_effect).
Measure: TypeAlias = Literal["difference", "ratio", "odds_ratio"]
EffectMeasure: TypeAlias = Literal[
    "difference",
    "risk_difference",
    "mean_difference",
    "ratio",
    "risk_ratio",
    "odds_ratio",
    "hazard_ratio",
    "subdistribution_hazard_ratio",
    "rmst_difference",
    "rmst_ratio",
    "rmtl_ratio",
    "chi_square",
    "survival",
    "cumulative_incidence",
    "mean",
    "risk",
    "rmst",
    "quantile",
    "coefficient",
    "evalue",
]
#: What a row of a model evaluation measures (``evaluate_*``, ``compare_*``): a performance
#: metric, or the difference of two models' metric.
EvaluationMetric: TypeAlias = Literal[
    "auroc", "auprc", "brier", "brier_null", "ipa", "ece", "calibration_intercept",
    "calibration_slope", "recalibration_intercept", "sensitivity", "specificity", "ppv", "npv",
    "prevalence", "harrell_c", "uno_c", "auc", "oe_ratio", "slope",
    "auroc_difference", "harrell_c_difference", "uno_c_difference", "auc_difference",
    "brier_difference",
]
CIMethod: TypeAlias = Literal[
    "wald",
    "wald_model",
    "wald_sandwich",
    "wald_cluster",
    "abadie_imbens",
    "sandwich_mestimation",
    "sandwich_known_weights",
    "influence_function",
    "bootstrap_percentile",
    "bootstrap_normal",
    "bootstrap_basic",
    "exact",
    "wilson",
    "curve_band",
    "greenwood",
    "infinitesimal_jackknife",
    "aalen",
    "delong",
    "logit_boyd",
    "simulation_percentile",
    "multiple_imputation_rubin",
    "empirical_calibration",
    "profile_likelihood",
    "refutation_simulations",
    "econml_inference",
    "greenwood_log",
    "none",
]
#: How a verb computes its standard errors (``variance=``), one vocabulary for every verb; each
#: verb accepts the subset below that applies to it. docs/explanation/variance.md explains each:
#: ``"model"`` model-based (inverse information); ``"robust"`` the sandwich that treats weights
#: as known; ``"mestimation"`` the sandwich of the stacked estimating equations (nuisance models
#: accounted for); ``"influence_function"`` the variance of the estimator's influence values;
#: ``"bootstrap"`` resampling rows (or clusters) and re-estimating everything; ``"greenwood"``,
#: ``"infinitesimal_jackknife"`` and ``"aalen"`` the survival-curve variances.
Variance: TypeAlias = Literal[
    "model",
    "robust",
    "mestimation",
    "influence_function",
    "bootstrap",
    "greenwood",
    "infinitesimal_jackknife",
    "aalen",
]
#: ``crude_effect``, ``gformula``, ``aipw``, ``tmle``, ``adjusted_survival``.
EffectVariance: TypeAlias = Literal["influence_function", "bootstrap"]
#: ``adjusted_survival``: ``"mestimation"`` (ipw: the estimated propensity score accounted
#: for), ``"robust"`` (ipw: weights known), ``"influence_function"`` (gformula: Cox model
#: accounted for; aipw: nuisance models known), ``"bootstrap"``.
AdjustedVariance: TypeAlias = Literal["mestimation", "robust", "influence_function", "bootstrap"]
#: ``ipw``.
IPWVariance: TypeAlias = Literal["mestimation", "robust", "bootstrap"]
#: ``dose_response``: the g-formula's influence function or the MSM's known-weights sandwich.
DoseVariance: TypeAlias = Literal["influence_function", "robust", "bootstrap"]
#: ``kaplan_meier``.
KMVariance: TypeAlias = Literal["greenwood", "infinitesimal_jackknife", "mestimation"]
#: ``cumulative_incidence``.
CIFVariance: TypeAlias = Literal["infinitesimal_jackknife", "aalen", "mestimation"]
BootstrapCI: TypeAlias = Literal["percentile", "normal", "basic"]
ConfType: TypeAlias = Literal["log", "log-log", "plain"]
SMDDenominator: TypeAlias = Literal["pooled", "treated", "control"]
PAdjust: TypeAlias = Literal["holm", "bonferroni", "fdr_bh", "none"]
RandomState: TypeAlias = int | np.random.Generator | None

#: Effect measures reported on the ratio scale (estimate and CI exponentiated from the log scale).
RATIO_MEASURES: frozenset[str] = frozenset(
    {"ratio", "risk_ratio", "odds_ratio", "hazard_ratio", "subdistribution_hazard_ratio",
     "rmst_ratio", "rmtl_ratio"}
)
