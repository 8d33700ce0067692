"""``Literal`` option aliases shared across cohortlab.

Validation reads the allowed values from these aliases with :func:`typing.get_args`, so an
error message can never list options that drifted from the type.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np

Missing: TypeAlias = Literal["raise", "drop"]
Estimand: TypeAlias = Literal["ATE", "ATT", "ATC", "ATO", "ATM"]
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
    "none",
]
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
