"""``MatchResult``: a matched cohort, its balance and the effect estimated on it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from .._typing import Measure
from .._validation import check_columns, check_conf_level, check_numeric, check_option
from ..exceptions import DataValidationError, MissingDataError
from ..results._format import Renderable, fmt_int, fmt_num
from ..results.dropped import Dropped
from ..results.estimate import Estimate, EstimateTable
from ._abadie_imbens import ai_effect, pairs_from_rows
from ._contrast import MEASURE_NAMES, contrast
from ._crude import arm_means
from ._propensity import PropensityScore

__all__ = ["MatchResult"]

MatchVariance: TypeAlias = Literal["abadie_imbens", "cluster"]
DISTANCE_LABEL = {"logit": "logit of the propensity score", "ps": "propensity score"}

@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class MatchResult(Renderable):
    """A matched cohort, how it was formed, its balance and (optionally) the effect.

    Attributes
    ----------
    data : pandas.DataFrame
        The matched cohort, a copy of the matched rows of the input with three added columns:
        ``match_id`` (the matched set, 1..number of sets), ``match_weight`` (1 for the focal
        unit, ``1 / k`` for each of the ``k`` controls of its set) and ``distance`` (the
        matching distance). Rows are ordered by ``match_id``, focal unit first, then its
        controls nearest first; the index labels are the input's. With replacement a control
        has one row per set it joins, so its ``match_weight`` summed over its rows is
        MatchIt's (unnormalised) matching weight.
    counts : Mapping[str, int]
        ``n``, ``n_exposed``, ``n_unexposed``; ``exposed_matched``, ``exposed_unmatched``,
        ``unexposed_matched``, ``unexposed_unmatched`` (distinct units); ``discarded_exposed``,
        ``discarded_unexposed`` (excluded before matching, e.g. trimmed by the
        :class:`PropensityScore` passed as ``ps``); ``unmatched_caliper`` (focal units whose
        nearest available control was outside the caliper), ``unmatched_no_control`` (no
        control left); ``incomplete_sets`` (fewer than ``ratio`` controls); ``n_sets``,
        ``n_rows``; ``controls_reused`` and ``max_reuse`` (with replacement).
    estimate : Estimate or None
        The effect on ``outcome`` when ``match(outcome=...)`` was given.
    caliper, caliper_width : float or None
        The caliper in SDs of the distance, and in distance units.
    variance : {"abadie_imbens", "cluster"}
        The variance :meth:`effect` uses by default (see :func:`match`).
    bias_adjust, ties : bool
        Whether :meth:`effect` applies the Abadie-Imbens (2011) bias correction, and whether
        controls tied with the ``ratio``-th nearest were kept (with replacement).
    """

    data: pd.DataFrame = field(repr=False)
    exposure_name: str
    estimand: str
    ratio: int
    replace: bool
    caliper: float | None
    caliper_width: float | None
    distance: str
    order: str
    counts: Mapping[str, int]
    covariate_columns: tuple[str, ...]
    categorical: tuple[str, ...]
    model_description: str
    conf_level: float = 0.95
    estimate: Estimate | None = None
    propensity: PropensityScore | None = field(default=None, repr=False)
    dropped: Dropped = field(default_factory=Dropped)
    notes: tuple[str, ...] = ()
    variance: str = "cluster"
    bias_adjust: bool = False
    ties: bool = False
    _variance_auto: bool = field(default=True, repr=False)
    _row_pos: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64), repr=False)
    _eligible: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool), repr=False)
    _units: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    _a: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    _dist: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    _unit_weight: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    _row_a: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    _row_s: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    # ------------------------------------------------------------------ effect
    def effect(self, outcome: str, *, effect_measure: Measure = "difference",
               conf_level: float | None = None, variance: MatchVariance | None = None,
               bias_adjust: bool | None = None) -> Estimate:
        """The effect in the matched cohort, with Abadie-Imbens or match-clustered SEs.

        ``variance="abadie_imbens"`` (the default with replacement or with ``bias_adjust``):
        the matching estimator of the effect in the focal arm, its Abadie & Imbens (2006)
        standard error, which counts how often each control is reused, with the conditional
        outcome variance estimated by matching within arm (one match, all ties: R Matching's
        ``Match(..., Var.calc = 1)``, population variance), plus, when the logistic
        propensity model was fitted by cohortlab, the Abadie & Imbens (2016) term for the
        estimated score; ``bias_adjust`` subtracts the regression prediction of the
        remaining covariate differences in each matched set (Abadie & Imbens 2011; linear
        regression on the propensity model's covariates among the controls, weighted by
        how often they are used, as ``Match(..., BiasAdjust = TRUE, Z = covariates)``; for
        a 0/1 outcome a logistic regression, whose predictions stay risks).
        Mean differences only; without sampling weights. The matches themselves are taken
        as given (nearest-neighbour matching makes the estimator non-smooth, so a bootstrap
        is not valid for it; Abadie & Imbens 2008).

        ``variance="cluster"``: the arm means are ``match_weight``-weighted (times the
        sampling weights) means of ``outcome`` in the matched cohort; the contrast is their
        difference, ratio or odds ratio (CIs for ratios on the log scale). The standard error
        comes from the influence function of the two weighted means summed within matched
        sets with the ``G / (G - 1)`` correction: R's ``sandwich::vcovCL(lm(y ~ a,
        weights = weights), cluster = ~subclass, type = "HC0")``, the variance MatchIt
        recommends (its default ``type = "HC1"`` multiplies the variance by a further
        ``(n - 1) / (n - 2)``). The matching and the propensity score are treated as fixed.

        Parameters
        ----------
        outcome : str
            Numeric column of the matched cohort (binary 0/1 outcomes give risks).
        effect_measure : {"difference", "ratio", "odds_ratio"}
        conf_level : float, optional
            Default: the ``conf_level`` given to :func:`match`.
        variance : {"abadie_imbens", "cluster"}, optional
            Default: the result's ``variance`` (as chosen in :func:`match`).
        bias_adjust : bool, optional
            Default: as given to :func:`match`.

        Returns
        -------
        Estimate
            ``method="matching"``, ``estimand`` ATT, ATC or ATE, ``ci_method`` ``"abadie_imbens"``
            or ``"wald_cluster"``; ``extra`` holds the arm means, the number of sets and of
            rows (and, for Abadie-Imbens, ``std_error_ps_known``: the SE without the
            estimated-score term); ``diagnostics`` this result.
        """
        fn = "MatchResult.effect"
        check_columns(self.data, fn, outcome=outcome)
        check_option(effect_measure, Measure, "effect_measure", fn)
        level = self.conf_level if conf_level is None else check_conf_level(conf_level, fn)
        y = check_numeric(self.data, outcome, "outcome", fn)
        n_na = int(np.isnan(y).sum())
        if n_na:
            raise MissingDataError(
                f"{fn}(): column {outcome!r} (outcome) has {n_na:,} missing values among the "
                f"{y.size:,} rows of the matched cohort. Pass outcome={outcome!r} to match() "
                "with missing=\"drop\" so incomplete rows are removed before matching."
            )
        a, w = self._row_a, self.data["match_weight"].to_numpy() * self._row_s
        binary = bool(np.isin(np.unique(y), [0.0, 1.0]).all())
        _check_outcome(y, a, w, binary, effect_measure, self.exposure_name, outcome, fn)
        var, bias, fallback = self._variance_choice(variance, bias_adjust, effect_measure, fn)
        if var == "abadie_imbens":
            return self._ai_effect(outcome, bias, level, binary, fn,
                                   int(y.sum()) if binary else None)
        mu1, mu0, phi1, phi0 = arm_means(y, a, w)
        est, phi = contrast(mu1, mu0, phi1, phi0, effect_measure)
        ids = self.data["match_id"].to_numpy()
        notes = self.notes + ((fallback,) if fallback else ()) + (_variance_note(self.replace),)
        res = Estimate.from_influence(
            self.exposure_name, est, phi, cluster=ids, conf_level=level,
            effect_measure=MEASURE_NAMES[(effect_measure, binary)], estimand=self.estimand,
            method="matching", n=self.counts["exposed_matched"] + self.counts["unexposed_matched"],
            n_events=int(y.sum()) if binary else None, dropped=self.dropped, notes=notes,
            extra={"mean_1": mu1, "mean_0": mu0, "n_sets": float(self.counts["n_sets"]),
                   "n_rows": float(y.size)},
            diagnostics=self,
        )
        return dataclasses.replace(res, ci_method="wald_cluster")

    def _variance_choice(self, variance: Any, bias_adjust: Any, measure: str,
                         fn: str) -> tuple[str, bool, str | None]:
        """The variance and bias correction to use, and a note when the default fell back."""
        if variance is not None:
            check_option(variance, MatchVariance, "variance", fn)
        if bias_adjust is not None and not isinstance(bias_adjust, (bool, np.bool_)):
            raise DataValidationError(
                f"{fn}(): bias_adjust must be True or False; got {bias_adjust!r}.")
        bias = self.bias_adjust if bias_adjust is None else bool(bias_adjust)
        auto = variance is None and self._variance_auto
        var = variance or ("abadie_imbens" if bias and auto else self.variance)
        weighted = bool(np.any(self._row_s != 1.0))
        why = ("sampling weights" if weighted else
               f"effect_measure={measure!r}" if measure != "difference" else None)
        if var == "abadie_imbens" and why:
            if bias or not auto:
                raise DataValidationError(
                    f"{fn}(): the Abadie-Imbens variance and bias correction are available "
                    f"for mean differences without sampling weights; got {why}. Use "
                    "variance=\"cluster\" (and bias_adjust=False), or drop the weights.")
            return "cluster", False, (f"Abadie-Imbens SE not available with {why}: SE "
                                      "clustered on match_id instead")
        if bias and var != "abadie_imbens":
            raise DataValidationError(
                f"{fn}(): bias_adjust=True needs variance=\"abadie_imbens\" (the cluster SE "
                "does not account for the regression adjustment); got variance=\"cluster\".")
        return var, bias, None

    def _ai_effect(self, outcome: str, bias: bool, level: float, binary: bool,
                   fn: str, n_events: int | None) -> Estimate:
        units = self._units
        y_all = check_numeric(units, outcome, "outcome", fn)
        elig = self._eligible
        n_na = int(np.isnan(y_all[elig]).sum())
        if n_na:
            raise MissingDataError(
                f"{fn}(): column {outcome!r} (outcome) has {n_na:,} missing values among the "
                "analysed subjects; the Abadie-Imbens variance matches every subject within "
                f"its arm and needs them all. Pass outcome={outcome!r} to match() with "
                "missing=\"drop\", or use variance=\"cluster\".")
        focal_arm = {"ATT": 1, "ATC": 0}.get(self.estimand, -1)  # -1: both (ATE)
        ids = self.data["match_id"].to_numpy()
        first = np.r_[True, ids[1:] != ids[:-1]]  # rows are by set, focal subject first
        pairs = pairs_from_rows(self._row_pos, ids, first,
                                self.data["match_weight"].to_numpy())
        X, z, p, v = _ps_design(self.propensity, units)
        res = ai_effect(y_all, self._a, focal_arm, elig, self._dist, pairs,
                        z=(z if z is not None else self._dist[:, None]) if bias else None,
                        X=X, p=p, v_theta=v, ratio=self.ratio, ties=self.ties,
                        logistic=binary)
        notes = self.notes + (_ai_note(res, bias, z is not None, self.counts,
                                       self.estimand, binary),)
        mu_f = res.mean_focal  # the ATE's: the mean of the imputed Y(1)
        mu1, mu0 = (mu_f + res.estimate, mu_f) if focal_arm == 0 else \
            (mu_f, mu_f - res.estimate)
        return Estimate.from_model_scale(
            self.exposure_name, res.estimate, res.std_error, conf_level=level,
            effect_measure=MEASURE_NAMES[("difference", binary)], ci_method="abadie_imbens",
            estimand=self.estimand, method="matching",
            n=self.counts["exposed_matched"] + self.counts["unexposed_matched"],
            n_events=n_events, dropped=self.dropped, notes=notes,
            extra={"mean_1": mu1, "mean_0": mu0, "n_sets": float(self.counts["n_sets"]),
                   "n_rows": float(len(self.data)),
                   "std_error_ps_known": res.std_error_ps_known},
            diagnostics=self,
        )

    # ------------------------------------------------------------------ balance
    def _tables(self, columns: Sequence[str] | None) -> tuple[Any, Any]:
        from ..describe.table1 import table1

        cols = list(self.covariate_columns if columns is None else columns)
        check_columns(self._units, "MatchResult.balance", columns=cols)
        dist_name = "distance" if "distance" not in cols else "distance (matching)"
        frame = self._units[cols].assign(**{dist_name: self._dist, "__a__": self._a,
                                            "__w__": self._unit_weight})
        den = {"ATT": "treated", "ATC": "control"}.get(self.estimand, "pooled")
        cats = [c for c in self.categorical if c in cols]
        kw = dict(by="__a__", columns=[dist_name, *cols], smd_denominator=den, overall=False,
                  categorical=cats)
        before = table1(frame, **kw)  # type: ignore[arg-type]
        after = table1(frame, weights="__w__", smd_weighted_sd=False, **kw)  # type: ignore[arg-type]
        return before, after

    def balance(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Covariate balance before and after matching (MatchIt's ``summary()`` conventions).

        One row per variable (the matching ``distance`` first, then the covariates; one row
        per level of categorical ones): ``smd_before`` on all analysed units, ``smd_after``
        weighted by the matching weights (summed over a control's sets, times any sampling
        weights), and the variance ratios exposed / unexposed (continuous variables). The
        SMD denominator is the unweighted SD of the focal arm in the full sample (the exposed
        for the ATT, the unexposed for the ATC; binary: ``sqrt(p (1 - p))``), so only the
        mean difference changes with matching, as MatchIt and cobalt report it.

        Parameters
        ----------
        columns : list of str, optional
            Default: the columns of the propensity score model.
        """
        b0, b1 = (t.balance.set_index(["variable", "level"]) for t in self._tables(columns))
        return pd.DataFrame({
            "kind": b0["kind"], "smd_before": b0["smd"], "smd_after": b1["smd"],
            "var_ratio_before": b0["var_ratio"], "var_ratio_after": b1["var_ratio"],
        }).reset_index()

    def table1(self, columns: Sequence[str] | None = None) -> Any:
        """Table 1 of the matched cohort (matching-weighted), SMDs before matching beside it.

        Units outside the matched cohort have weight 0; the SMD denominators are the full
        sample's, as in :meth:`balance`.
        """
        return self._tables(columns)[1]

    def plot_balance(self, ax: Any = None) -> Any:
        """Love plot: absolute SMDs before and after matching."""
        from ..report.figures import smd_plot

        ax = smd_plot(self.table1(), ax=ax)
        legend = ax.get_legend()
        if legend is not None:
            names = {"unweighted": "before matching", "weighted": "after matching"}
            for text in legend.get_texts():
                text.set_text(names.get(text.get_text(), text.get_text()))
        return ax

    # ------------------------------------------------------------------ output
    @property
    def table(self) -> EstimateTable:
        """The matched effect (when ``outcome=`` was given) as an :class:`EstimateTable`.

        Without an outcome the table is empty (a note says so); the matching counts are in
        :meth:`to_frame` and the effect of any outcome in :meth:`effect`.
        """
        if self.estimate is None:
            return EstimateTable(rows=(), title=self._title(), dropped=self.dropped,
                                 notes=("no outcome was given: use .effect(outcome)",))
        return EstimateTable(rows=(self.estimate,), title=self._title(), dropped=self.dropped,
                             notes=self.notes)

    def to_frame(self) -> pd.DataFrame:
        """One row per arm: analysed, discarded, matched and unmatched units, rows, weights."""
        c = self.counts
        rows = []
        w = self.data["match_weight"].to_numpy()
        focal_arm = {"ATT": 1, "ATC": 0}.get(self.estimand, -1)
        for arm, name in ((1, "exposed"), (0, "unexposed")):
            m = self._row_a == arm
            rows.append(dict(arm=arm, focal=focal_arm in (arm, -1), n=c[f"n_{name}"],
                             n_discarded=c[f"discarded_{name}"], n_matched=c[f"{name}_matched"],
                             n_unmatched=c[f"{name}_unmatched"], n_rows=int(m.sum()),
                             sum_weights=float(w[m].sum())))
        return pd.DataFrame(rows)

    def pairs(self) -> pd.DataFrame:
        """One row per (focal unit, control) pair: ``match_id``, index labels, rank, distance."""
        d = self.data
        ids, idx = d["match_id"].to_numpy(), d.index.to_numpy()
        focal = d["match_weight"].to_numpy() == 1.0
        focal &= np.r_[True, ids[1:] != ids[:-1]]  # the first row of each set is its focal unit
        set_focal = pd.Series(idx[focal], index=ids[focal])
        dist = d["distance"].to_numpy()
        set_dist = pd.Series(dist[focal], index=ids[focal])
        ctrl = ~focal
        rank = pd.Series(ids[ctrl]).groupby(ids[ctrl]).cumcount().to_numpy() + 1
        return pd.DataFrame({
            "match_id": ids[ctrl], "focal": set_focal.loc[ids[ctrl]].to_numpy(),
            "control": idx[ctrl], "rank": rank,
            "abs_distance": np.abs(dist[ctrl] - set_dist.loc[ids[ctrl]].to_numpy()),
        })

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        d = self.to_frame()
        return pd.DataFrame({
            "arm": [f"{self.exposure_name} = {a}" + (" (focal)" if f else "")
                    for a, f in zip(d["arm"], d["focal"], strict=True)],
            "n": [fmt_int(v) for v in d["n"]],
            "discarded": [fmt_int(v) for v in d["n_discarded"]],
            "matched": [fmt_int(v) for v in d["n_matched"]],
            "unmatched": [fmt_int(v) for v in d["n_unmatched"]],
            "rows": [fmt_int(v) for v in d["n_rows"]],
            "sum of weights": [fmt_num(v, 1) for v in d["sum_weights"]],
        })

    def _title(self) -> str:
        how = "with" if self.replace else "without"
        return (f"Nearest-neighbour matching · {self.estimand} · {self.ratio}:1 {how} "
                "replacement")

    def _footer(self) -> list[str]:
        n = self.counts["n"]
        m = self.counts["exposed_matched"] + self.counts["unexposed_matched"]
        lines = [f"n = {n:,}" + (f" ({self.dropped})" if self.dropped else "")
                 + f" · {m:,} matched and analysed, {n - m:,} unmatched or discarded"]
        cal = ("no caliper" if self.caliper is None else
               f"caliper {self.caliper:g} SD = {self.caliper_width:.4g}")
        order = "" if self.replace else f", order {self.order!r}"
        lines.append(f"distance: {DISTANCE_LABEL[self.distance]} ({self.model_description})"
                     f"; {cal}{order}")
        if self.estimate is not None:
            e = self.estimate
            lines.append(
                f"effect ({e.effect_measure.replace('_', ' ')}): {fmt_num(e.estimate)} "
                f"({100 * e.conf_level:g}% CI {fmt_num(e.conf_low)} to {fmt_num(e.conf_high)}),"
                + (" Abadie-Imbens SE" if e.ci_method == "abadie_imbens" else
                   " SE clustered on match_id"))
        return [*lines, *self.notes]


# ---------------------------------------------------------------------- the verb


def _variance_note(with_replacement: bool) -> str:
    base = ("SE clustered on match_id (matched sets), matching and propensity score "
            "treated as fixed")
    if with_replacement:
        return (base + "; with replacement a reused control appears in several clusters and "
                "this SE ignores the dependence from that reuse (it may be too small)")
    return base


def _ps_design(ps: PropensityScore | None, units: pd.DataFrame) -> tuple[Any, Any, Any, Any]:
    """Logistic design (with intercept), covariates, scores and coefficient covariance.

    ``(None, None, None, None)`` unless cohortlab fitted the default logistic model on
    exactly these rows without weights (then the estimated-PS term applies).
    """
    if ps is None or ps._design is None:
        return None, None, None, None
    X = ps._design.X
    aligned = ps.scores.index.equals(units.index) and X.shape[0] == len(units)
    if not aligned:
        return None, None, None, None
    has_icpt = X.shape[1] > 0 and bool(np.all(X[:, 0] == 1.0))
    z = X[:, 1:] if has_icpt else X
    fit = ps._fit
    if (fit is None or getattr(fit, "family", "") != "binomial" or not has_icpt
            or ps.sampling_weights is not None or not bool(ps.kept.all())):
        return None, (z if z.shape[1] else None), None, None
    v = np.linalg.pinv(fit.information) / X.shape[0]
    return X, (z if z.shape[1] else None), ps.scores.to_numpy(), v


def _ai_note(res: Any, bias: bool, cov_z: bool, counts: Mapping[str, int],
             estimand: str, binary: bool) -> str:
    parts = ["SE by Abadie & Imbens (2006): reuse of controls counted, conditional variance "
             "by matching within arm (1 match)"]
    if res.ps_adjusted:
        parts.append("with the Abadie & Imbens (2016) term for the estimated propensity score "
                     f"(SE {res.std_error_ps_known:.4g} if the score were known)")
    elif res.adjustment_dropped:
        parts.append("the estimated-propensity-score term made the variance negative and was "
                     "left out (score treated as known)")
    else:
        parts.append("propensity score treated as known (not fitted here by logistic "
                     "regression on these rows)")
    if bias:
        on = "the propensity model's covariates" if cov_z else "the matching distance"
        model = ("linear (the logistic model failed to fit)" if res.linear_fallback else
                 "logistic" if binary else "linear")
        parts.append(f"bias-corrected (Abadie & Imbens 2011) by {model} regression on {on} "
                     "among the matched controls")
    focal = {"ATT": ["exposed"], "ATC": ["unexposed"]}.get(estimand,
                                                         ["exposed", "unexposed"])
    if sum(counts[f"{f}_unmatched"] - counts[f"discarded_{f}"] for f in focal) > 0:
        parts.append("the variance formula assumes every focal subject is matched; here the "
                     "caliper excluded some (the estimand is the effect in the matched ones)")
    return "; ".join(parts)


def _check_outcome(y: np.ndarray, a: np.ndarray, w: np.ndarray, binary: bool, measure: str,
                   exposure: str, outcome: str, fn: str) -> None:
    if measure == "odds_ratio" and not binary:
        raise DataValidationError(
            f"{fn}(): effect_measure=\"odds_ratio\" needs a binary 0/1 outcome; column "
            f"{outcome!r} (outcome) has non-binary values. Use \"difference\" or \"ratio\".")
    if measure == "difference":
        return
    for arm in (0, 1):
        m = a == arm
        mu = float(np.dot(w[m], y[m]) / w[m].sum())
        if mu <= 0 or (measure == "odds_ratio" and mu >= 1):
            raise DataValidationError(
                f"{fn}(): the {measure.replace('_', ' ')} is undefined: the matched mean of "
                f"{outcome!r} (outcome) is {mu:g} when {exposure!r} = {arm}. Use "
                "effect_measure=\"difference\".")
