"""``evaluate_classifier``: discrimination, calibration and clinical utility of a risk score."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd
from scipy import special, stats

from .._typing import CIMethod, EffectMeasure, Missing, PAdjust
from .._validation import (
    apply_missing,
    check_columns,
    verb,
    verb_name,
)
from ..exceptions import DataValidationError
from ..inference.multiplicity import adjust_pvalues
from ..inference.wald import inverse_variance_q, z_critical
from ..results._format import ci_label, fmt_int, fmt_num, fmt_p
from ..results.dropped import Dropped
from ..results.estimate import Estimate, EstimateTable
from ..results.testresult import TestResult, TestTable
from . import _classifier_checks as ck
from . import _metrics as km
from . import _plots
from ._levels import OVERALL, LevelledMetrics, Levels, check_by_shift, drift_rows, split_levels

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["evaluate_classifier", "ClassifierEvaluation"]

#: ``metrics=``: everything (the score is a probability) or the order-only metrics.
ClassifierMetrics = Literal["all", "discrimination"]
#: Null values of the metrics that carry a Wald test.
_NULLS = {"auroc": 0.5, "calibration_intercept": 0.0, "calibration_slope": 1.0,
          "recalibration_intercept": 0.0}
_THRESHOLD_TERMS = ("sensitivity", "specificity", "ppv", "npv")


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class ClassifierEvaluation(LevelledMetrics):
    """Performance of a probability score against a 0/1 label, overall and by subgroup/shift.

    Attributes
    ----------
    metrics : EstimateTable
        One row per metric and group (label ``group``: ``"(overall)"`` or a level of ``by`` /
        ``shift``; ``p_adjusted`` holds the p-value adjusted across levels). ``to_frame()``
        returns it as a tidy frame.
    heterogeneity : TestTable
        With ``by`` or ``shift``: chi-square tests of heterogeneity of the AUROC and the
        calibration slope across levels (labels ``group, pooled, p_adjusted``; empty
        otherwise).
    vs_pooled : EstimateTable
        Each level's deviation from the pooled value, per metric tested (empty otherwise).
    drift : EstimateTable
        With ``shift``: for every metric with a standard error, the heterogeneity chi-square
        (``contrast == "heterogeneity"``), the weighted linear trend on the level rank when
        the shift column is ordered (``"trend"``) and each level's difference from the first
        (``"vs_first"``); labels ``group, metric, contrast, df, p_adjusted``.
    net_benefit : pandas.DataFrame
        Decision curve: ``group, threshold, net_benefit, treat_all, treat_none, tp, fp, n``.
    calibration_bins : pandas.DataFrame
        ``group, bin, bin_mid, n, mean_score, observed`` of the ``n_bins`` equal-width bins.
    """

    metrics: EstimateTable
    heterogeneity: TestTable
    net_benefit: pd.DataFrame
    calibration_bins: pd.DataFrame
    score: str
    label: str
    by: str | None = None
    shift: str | None = None
    ordered: bool = False
    drift: EstimateTable = field(default_factory=lambda: EstimateTable(rows=()))
    vs_pooled: EstimateTable = field(default_factory=lambda: EstimateTable(rows=()))
    groups: tuple[Any, ...] = ()
    threshold: float | None = None
    n_bins: int = 10
    conf_level: float = 0.95
    p_adjust: str = "holm"
    metrics_kind: str = "all"
    n: int = 0
    n_events: int = 0
    dropped: Dropped = field(default_factory=Dropped)
    notes: tuple[str, ...] = ()
    counts: Mapping[Any, km.ScoreCounts] = field(default_factory=dict, repr=False)

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        recs = []
        for r in self.metrics:
            rec = {"group": str(r.labels.get("group", ""))} if self._dim else {}
            rec.update(
                metric=r.term,
                estimate=fmt_num(r.estimate, digits),
                conf_low=fmt_num(r.conf_low, digits),
                conf_high=fmt_num(r.conf_high, digits),
                p_value=fmt_p(r.p_value, digits),
                CI=ci_label(r.ci_method),
            )
            if self._dim:
                rec["p_adjusted"] = fmt_p(r.labels.get("p_adjusted", math.nan), digits)
            recs.append(rec)
        return pd.DataFrame(recs)

    def _title(self) -> str:
        by = f" by {self.by}" if self.by else (f" across {self.shift}" if self.shift else "")
        return f"Classifier evaluation · score {self.score} vs label {self.label}{by}"

    def _footer(self) -> list[str]:
        n_txt = f"n = {fmt_int(self.n)}" + (f" ({self.dropped})" if self.dropped else "")
        bits = [n_txt, f"positives {fmt_int(self.n_events)}",
                f"{100 * self.conf_level:g}% CI"]
        if self.threshold is not None:
            bits.append(f"threshold {self.threshold:g} (score >= threshold is positive)")
        lines = [" · ".join(bits)]
        for t in self.heterogeneity:
            lines.append(f"{t.term}: chi-square {fmt_num(t.statistic, 3)}, df {int(t.df)}, "
                         f"p {fmt_p(t.p_value)}")
        lines += _trend_lines(self.drift, ("auroc", "calibration_slope", "brier"))
        if self._dim:
            lines.append(f"p_adjusted: across the levels of {self._dim} ({self.p_adjust})")
        if self.metrics_kind == "discrimination":
            lines.append("discrimination only (metrics='discrimination'): the score is not "
                         "read as a probability; no calibration, Brier score, ECE or net benefit")
        return [*lines, *self.notes]

    def _need_probability(self, what: str) -> None:
        if self.metrics_kind == "discrimination":
            raise DataValidationError(
                f"{verb_name()}(): no {what} for a discrimination-only evaluation in metrics; got "
                "metrics='discrimination'. Pass a probability score with metrics='all'.")

    # ------------------------------------------------------------------ figures
    def _keys(self) -> list[Any]:
        return list(self.groups) if self._dim else [OVERALL]

    def plot_roc(self, ax: Axes | None = None) -> Axes:
        """ROC curves, one per subgroup or shift level (or overall), AUROC in the legend."""
        curves = _plots.roc_curves(self.counts, self._keys(), self._dim,
                                   lambda sc: km.delong_auc(sc)[0])
        return _plots.roc_plot(curves, ax)

    def plot_calibration(self, ax: Axes | None = None) -> Axes:
        """Observed proportion vs mean score in the ``n_bins`` bins, one curve per level."""
        self._need_probability("calibration plot")
        cb = self.calibration_bins
        curves = []
        for g in self._keys():
            d = cb[(cb["group"] == g) & (cb["n"] > 0)]
            curves.append((_plots.level_name(self._dim, g), d["mean_score"], d["observed"]))
        return _plots.calibration_plot(curves, ax, "mean predicted probability",
                                       "observed proportion")

    def plot_decision_curve(self, ax: Axes | None = None) -> Axes:
        """Net benefit against the threshold, with treat-all (overall) and treat-none."""
        self._need_probability("decision curve")
        ax = _plots.new_axes(ax)
        nb = self.net_benefit
        for g in self._keys():
            d = nb[nb["group"] == g]
            ax.plot(d["threshold"], d["net_benefit"],
                    label=f"model, {_plots.level_name(self._dim, g)}")
        d = nb[nb["group"] == OVERALL]
        ax.plot(d["threshold"], d["treat_all"], color="grey", lw=1, label="treat all")
        ax.axhline(0.0, color="black", lw=0.8, label="treat none")
        top = float(np.nanmax(nb[["net_benefit", "treat_all"]].to_numpy()))
        ax.set(xlabel="threshold probability", ylabel="net benefit",
               ylim=(-0.05 * max(top, 0.01), 1.1 * max(top, 0.01)))
        ax.legend(frameon=False, loc="upper right", fontsize=8)
        return ax

    def plot_drift(self, metric: str = "auroc", ax: Axes | None = None) -> Axes:
        """A metric with its CI per level of ``shift`` (or ``by``) and the overall value.

        For an ordered shift column the inverse-variance weighted trend line is drawn too
        (its p-value in the legend).
        """
        if self._dim is None:
            raise DataValidationError(
                f"{verb_name()}(): no levels to plot drift over in shift; got shift=None and "
                "by=None. "
                "Pass shift= (a site, device or period column) to evaluate_classifier().")
        return _plots.drift_plot(self.to_frame(), self.drift.to_frame(), metric=metric,
                                 column=self._dim, keys=list(self.groups),
                                 ordered=self.ordered, time=None, func=verb_name(), ax=ax)


def _trend_lines(drift: EstimateTable, metrics: Sequence[str]) -> list[str]:
    out = []
    for r in drift:
        if r.labels.get("contrast") == "trend" and r.labels.get("metric") in metrics:
            out.append(f"{r.term}: {fmt_num(r.estimate, 4)} ({fmt_num(r.conf_low, 4)} to "
                       f"{fmt_num(r.conf_high, 4)}), p {fmt_p(r.p_value)}")
    return out


# ---------------------------------------------------------------------- the verb
@verb
def evaluate_classifier(
    data: pd.DataFrame,
    *,
    score: str,
    label: str,
    by: str | None = None,
    shift: str | None = None,
    threshold: float | None = None,
    thresholds: Sequence[float] | np.ndarray | None = None,
    n_bins: int = 10,
    conf_level: float = 0.95,
    p_adjust: PAdjust = "holm",
    missing: Missing = "raise",
    metrics: ClassifierMetrics = "all",
) -> ClassifierEvaluation:
    """Evaluate a predicted probability against a binary label, with confidence intervals.

    Estimands (overall, and within each level of ``by``), all of the finite population the
    rows are a random sample of:

    - ``auroc``: P(score of a random positive > score of a random negative), ties counted
      half. Variance: DeLong, DeLong & Clarke-Pearson (1988) from the structural components
      (placements) computed from midranks in O(n log n) (Sun & Xu 2014), as R pROC
      ``ci.auc(method = "delong")``; Wald interval on the AUC scale clipped to [0, 1];
      ``p_value`` tests AUROC = 0.5.
    - ``auprc``: average precision (step-wise area under the precision-recall curve, ties
      as one threshold). Interval: the bootstrap-free logit interval of Boyd, Eng & Page
      (2013), ``expit(logit(AP) +- z / sqrt(n_pos AP (1 - AP)))``; ``std_error`` is its
      delta-method SE on the AP scale. No p-value.
    - ``brier``: mean squared error of the score; SE = sd / sqrt(n); Wald interval.
    - ``calibration_intercept``: calibration-in-the-large, the intercept ``a`` of
      ``logit P(y) = a + logit(score)`` (offset logistic regression); 0 when the mean
      predicted and observed risks agree.
    - ``calibration_slope`` and ``recalibration_intercept``: ``b`` and ``a`` of the
      recalibration model ``logit P(y) = a + b logit(score)``, which are what R rms
      ``val.prob`` reports as "Slope" and "Intercept". Slope 1 is ideal; < 1 means
      predictions too extreme (overfitting).
      The three calibration parameters have model-based (inverse-information) Wald
      intervals; p-values test intercepts = 0 and slope = 1. Rows with scores of exactly 0
      or 1 (infinite logit) are left out of these fits, as rms does, and counted in a note.
    - ``ece``: expected calibration error over ``n_bins`` equal-width bins of [0, 1],
      ``sum_b n_b / n |observed_b - mean score_b|``; no interval.
    - with ``threshold``: ``prevalence``, ``sensitivity``, ``specificity``, ``ppv``, ``npv``
      (a score >= threshold is a predicted positive), each with a Wilson score interval (R
      ``prop.test(correct = FALSE)``); ``std_error`` is the binomial SE ``sqrt(p(1-p)/n)``.
      A PPV (NPV) with no predicted positives (negatives) is undefined: it is NaN, and a
      note says so (the other metrics are still valid).

    Net benefit at each of ``thresholds`` (decision-curve analysis, Vickers & Elkin 2006):
    ``TP/n - FP/n * pt / (1 - pt)``, with the treat-all (``prev - (1 - prev) pt / (1 - pt)``)
    and treat-none (0) references, in ``result.net_benefit`` (no intervals).

    With ``by``, heterogeneity across subgroups (independent groups) is tested by the
    inverse-variance chi-square ``sum_g (theta_g - pooled)^2 / var_g``, ``df = G - 1``, with
    the inverse-variance pooled value, for the AUROC (DeLong variances) and for the
    calibration slope (model-based variances; with group-specific intercepts and slopes this
    is exactly the Wald test of the slope x group interaction), in ``.heterogeneity`` (a
    ``TestTable``). Each subgroup's deviation from the pooled value (``.vs_pooled``; SE
    ``sqrt(var_g - var_pooled)``) has a Wald p-value adjusted
    across subgroups by ``p_adjust``. Per-subgroup p-values of the metrics are adjusted
    across subgroups too (column ``p_adjusted``; ``p_value`` stays unadjusted).

    With ``shift`` (a site, device or calendar-period column), the metrics are computed within
    each level (every number equals the call on that level's rows alone), ``.heterogeneity``
    is as with ``by``, and ``.drift`` holds, for every metric with a standard error: the
    heterogeneity chi-square across levels; when the column is ordered (numeric, datetime,
    period or an ordered categorical) the inverse-variance weighted least-squares slope of the
    metric on the level rank 0, 1, ..., L - 1 (SE ``1 / sqrt(sum_l w_l (r_l - rbar)^2)`` with
    ``w_l = 1 / var_l``: the levels are independent with known variances; Wald CI and p-value
    for slope = 0); and each level's difference from the first level (variance the sum of the
    two variances; p-values adjusted across levels by ``p_adjust``). ``by`` and ``shift``
    cannot be combined.

    Assumptions: rows are independent (no clustering of patients); the score was not fitted
    on these rows (otherwise every metric is optimistic: in-sample, a logistic model's
    calibration intercept is 0 and slope 1 by construction).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject.
    score : str
        Column of predicted probabilities in [0, 1] (any real score with
        ``metrics="discrimination"``; higher = more likely positive).
    label : str
        Column of observed outcomes coded 0/1 (or bool).
    by : str, optional
        Subgroup column; the metrics are also computed within each of its levels.
    shift : str, optional
        Site, device or period column (at least 2 levels): the metrics per level and their
        drift (``.drift``, ``.plot_drift()``). Not together with ``by``.
    threshold : float, optional
        Decision threshold for sensitivity, specificity, PPV and NPV; none when omitted. A
        probability, or on the score's own scale with ``metrics="discrimination"``.
    thresholds : sequence of float, optional
        Threshold probabilities for net benefit, each in (0, 1); default 0.01, 0.02, ...,
        0.99.
    n_bins : int
        Number of equal-width bins for the ECE and the calibration plot.
    conf_level : float
        Confidence level of every interval.
    p_adjust : {"holm", "bonferroni", "fdr_bh", "none"}
        Multiplicity adjustment across subgroups (:func:`cohortlab.inference.adjust_pvalues`).
    missing : {"raise", "drop"}
        Missing values in ``score``, ``label``, ``by`` or ``shift`` raise, or drop and count
        the rows.
    metrics : {"all", "discrimination"}
        ``"all"`` needs a probability score in [0, 1]. ``"discrimination"`` accepts any
        real score (a logit, a 1-5 grade): only the metrics that depend on the score's order
        are computed (``auroc``, ``auprc`` and, with ``threshold`` on the score's scale, the
        threshold metrics); no calibration, Brier, ECE or net benefit (``.net_benefit`` and
        ``.calibration_bins`` are empty).

    Returns
    -------
    ClassifierEvaluation
        ``to_frame()`` gives the tidy metrics (``group`` is ``"(overall)"`` for all rows);
        ``.heterogeneity``, ``.vs_pooled``, ``.drift``, ``.net_benefit``,
        ``.calibration_bins``, ``.plot_roc()``, ``.plot_calibration()``, ``.plot_decision_curve()``,
        ``.plot_drift(metric)``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=2000)
    >>> d = pd.DataFrame({"p": special.expit(x - 1), "y": rng.binomial(1, special.expit(x - 1)),
    ...                   "sex": rng.integers(0, 2, 2000)})
    >>> ev = evaluate_classifier(d, score="p", label="y", by="sex", threshold=0.3)
    >>> f = ev.to_frame().set_index(["term", "group"])
    >>> round(float(f.loc[("auroc", "(overall)"), "estimate"]), 3)
    0.726
    >>> round(float(f.loc[("calibration_slope", "(overall)"), "estimate"]), 2)
    0.92
    >>> ev.heterogeneity.to_frame()["term"].tolist()[0]
    'auroc: heterogeneity'
    >>> d["year"] = rng.integers(2019, 2022, 2000)
    >>> dr = evaluate_classifier(d, score="p", label="y", shift="year").drift.to_frame()
    >>> dr[dr["metric"] == "auroc"]["contrast"].tolist()
    ['heterogeneity', 'trend', 'vs_first', 'vs_first']
    """
    check_by_shift(by, shift, verb_name())
    check_columns(data, score=score, label=label, by=by, shift=shift)
    probability = metrics == "all"
    threshold, grid = ck.check_thresholds(threshold, thresholds, n_bins, probability)
    cols = [score, label, *(c for c in (by, shift) if c is not None)]
    frame, dropped = apply_missing(data, cols, missing)
    y = ck.check_label(frame, label)
    p = ck.check_score(frame, score, probability)
    lev = split_levels(frame, by, shift, verb_name())
    keys: list[Any] = [OVERALL, *lev.keys]
    masks = lev.masks()
    counts: dict[Any, km.ScoreCounts] = {}
    for g, m in zip(keys, masks, strict=True):
        counts[g] = km.score_counts(p if m is None else p[m], y if m is None else y[m])
        ck.check_classes(counts[g], lev.column, g, label)

    notes: list[str] = []
    rows: list[Estimate] = []
    nb_frames, bin_frames = [], []
    for g, m in zip(keys, masks, strict=True):
        pg, yg = (p, y) if m is None else (p[m], y[m])
        out = _group_metrics(pg, yg, counts[g], g, lev.column, threshold, grid, n_bins,
                             conf_level, notes, probability)
        rows += out[0]
        nb_frames.append(out[1])
        bin_frames.append(out[2])
    return _result(rows, nb_frames, bin_frames, lev, counts, notes, y, dropped, score=score,
                   label=label, threshold=threshold, n_bins=int(n_bins),
                   conf_level=conf_level, p_adjust=p_adjust, metrics_kind=metrics)


def _result(rows: list[Estimate], nb_frames: list[pd.DataFrame],
            bin_frames: list[pd.DataFrame], lev: Levels, counts: dict[Any, km.ScoreCounts],
            notes: list[str], y: np.ndarray, dropped: Dropped, **kw: Any
            ) -> ClassifierEvaluation:
    conf_level, p_adjust = kw["conf_level"], kw["p_adjust"]
    rows = _adjust_rows(rows, p_adjust, lev.column is not None)
    het, dev = (_heterogeneity(rows, list(lev.keys), lev.column, conf_level, p_adjust, notes)
                if lev.column else ([], []))
    drift = (drift_rows(rows, lev, conf_level, verb_name(), p_adjust, notes)
             if lev.kind == "shift" else [])
    across = "subgroups" if lev.kind == "by" else "shift levels"
    return ClassifierEvaluation(
        metrics=EstimateTable(rows=tuple(rows), title="classifier metrics", dropped=dropped),
        heterogeneity=TestTable(rows=tuple(het), title=f"heterogeneity across {across}"),
        vs_pooled=EstimateTable(rows=tuple(dev), title=f"levels vs pooled across {across}"),
        drift=EstimateTable(rows=tuple(drift), title=f"drift across {lev.column}"),
        net_benefit=pd.concat(nb_frames, ignore_index=True),
        calibration_bins=pd.concat(bin_frames, ignore_index=True),
        by=lev.column if lev.kind == "by" else None,
        shift=lev.column if lev.kind == "shift" else None, ordered=lev.ordered,
        groups=lev.keys, n=int(y.size), n_events=int(y.sum()), dropped=dropped,
        notes=tuple(dict.fromkeys(notes)), counts=counts, **kw,
    )


# ---------------------------------------------------------------------- building rows
def _where(by: str | None, g: Any) -> str:
    return "" if g is OVERALL else f" in {by} = {g}"


def _row(term: str, est: float, se: float, lo: float, hi: float, ci_method: CIMethod, g: Any,
         n: int, n_events: int, conf_level: float) -> Estimate:
    null = _NULLS.get(term)
    stat = pv = math.nan
    if null is not None and np.isfinite(se) and se > 0:
        stat = (est - null) / se
        pv = float(2 * stats.norm.sf(abs(stat)))
    return Estimate(
        term=term, estimate=float(est), std_error=float(se), conf_low=float(lo),
        conf_high=float(hi), conf_level=conf_level, statistic=float(stat), p_value=pv,
        effect_measure=cast(EffectMeasure, term), method="evaluate_classifier",
        ci_method=ci_method, n=n,
        n_events=n_events, labels={"group": g},
    )


def _group_metrics(
    p: np.ndarray, y: np.ndarray, sc: km.ScoreCounts, g: Any, by: str | None,
    threshold: float | None, grid: np.ndarray, n_bins: int, conf_level: float,
    notes: list[str], probability: bool = True,
) -> tuple[list[Estimate], pd.DataFrame, pd.DataFrame]:
    z = z_critical(conf_level)
    n, n1 = int(y.size), sc.n_pos
    where = _where(by, g)

    def row(term: str, est: float, se: float, lo: float, hi: float, ci: CIMethod) -> Estimate:
        return _row(term, est, se, lo, hi, ci, g, n, n1, conf_level)

    auc, var = km.delong_auc(sc)
    se = math.sqrt(var) if np.isfinite(var) else math.nan
    if not np.isfinite(var):
        notes.append(f"AUROC{where}: fewer than 2 positives or negatives, no DeLong variance")
    out = [row("auroc", auc, se, max(auc - z * se, 0.0), min(auc + z * se, 1.0), "delong")]
    ap = km.average_precision(sc)
    if 0.0 < ap < 1.0:
        tau = 1.0 / math.sqrt(n1 * ap * (1.0 - ap))
        lo, hi = special.expit(special.logit(ap) + np.array([-z, z]) * tau)
        ap_se = math.sqrt(ap * (1.0 - ap) / n1)
    else:
        lo = hi = ap_se = math.nan
    out.append(row("auprc", ap, ap_se, float(lo), float(hi), "logit_boyd"))
    if not probability:  # metrics="discrimination": order-only metrics of a raw score
        if threshold is not None:
            out += _threshold_rows(sc, threshold, conf_level, row, where, notes)
        return out, _NB_EMPTY.copy(), _BINS_EMPTY.copy()
    b, b_se = km.brier(p, y)
    out.append(row("brier", b, b_se, b - z * b_se, b + z * b_se, "wald"))
    out += _calibration_rows(p, y, row, z, where, notes)
    ece, bins = km.expected_calibration_error(p, y, n_bins)
    out.append(row("ece", ece, math.nan, math.nan, math.nan, "none"))
    if threshold is not None:
        out += _threshold_rows(sc, threshold, conf_level, row, where, notes)
    nb, all_, tp, fp = km.net_benefit(sc, grid)
    nb_frame = pd.DataFrame({"group": [g] * grid.size, "threshold": grid, "net_benefit": nb,
                             "treat_all": all_, "treat_none": 0.0, "tp": tp, "fp": fp, "n": n})
    bin_frame = pd.DataFrame({"group": [g] * n_bins, "bin": np.arange(1, n_bins + 1),
                              "bin_mid": bins[:, 3], "n": bins[:, 0].astype(np.int64),
                              "mean_score": bins[:, 1], "observed": bins[:, 2]})
    return out, nb_frame, bin_frame


_NB_EMPTY = pd.DataFrame({"group": pd.Series(dtype=object), "threshold": pd.Series(dtype=float),
                          "net_benefit": pd.Series(dtype=float),
                          "treat_all": pd.Series(dtype=float),
                          "treat_none": pd.Series(dtype=float), "tp": pd.Series(dtype=np.int64),
                          "fp": pd.Series(dtype=np.int64), "n": pd.Series(dtype=np.int64)})
_BINS_EMPTY = pd.DataFrame({"group": pd.Series(dtype=object), "bin": pd.Series(dtype=np.int64),
                            "bin_mid": pd.Series(dtype=float), "n": pd.Series(dtype=np.int64),
                            "mean_score": pd.Series(dtype=float),
                            "observed": pd.Series(dtype=float)})


def _calibration_rows(p: np.ndarray, y: np.ndarray, row: Any, z: float, where: str,
                      notes: list[str]) -> list[Estimate]:
    finite = (p > 0.0) & (p < 1.0)
    n_out = int((~finite).sum())
    if n_out:
        notes.append(f"calibration{where}: {n_out:,} rows with score exactly 0 or 1 (infinite "
                     "logit) left out of the logistic calibration fits, as rms val.prob")
    lg, yy = (special.logit(p), y) if not n_out else (special.logit(p[finite]), y[finite])
    nan4 = (math.nan,) * 4
    ok_data = yy.size > 2 and 0 < yy.sum() < yy.size
    a0, a0_se, ok0 = km.citl(lg, yy) if ok_data else (math.nan, math.nan, False)
    coef, cov, ok1 = (km.logistic_calibration(lg, yy) if ok_data
                      else (np.full(2, np.nan), np.full((2, 2), np.nan), False))
    if not (ok0 and ok1):
        notes.append(f"calibration{where}: the logistic calibration fit did not converge "
                     "(separation or too few rows); intercept and slope are NaN")
    out = []
    for term, est, se in (("calibration_intercept", a0, a0_se),
                          ("calibration_slope", coef[1], math.sqrt(cov[1, 1])),
                          ("recalibration_intercept", coef[0], math.sqrt(cov[0, 0]))):
        good = (ok0 if term == "calibration_intercept" else ok1) and np.isfinite(se)
        vals = (est, se, est - z * se, est + z * se) if good else nan4
        out.append(row(term, *vals, "wald_model"))
    return out


def _threshold_rows(sc: km.ScoreCounts, threshold: float, conf_level: float, row: Any,
                    where: str, notes: list[str]) -> list[Estimate]:
    tp, fp = (int(v[0]) for v in km.confusion_at(sc, np.array([threshold])))
    fn, tn = sc.n_pos - tp, sc.n_neg - fp
    n = sc.n_pos + sc.n_neg
    xs = np.array([sc.n_pos, tp, tn, tp, tn])
    ns = np.array([n, sc.n_pos, sc.n_neg, tp + fp, tn + fn])
    est, lo, hi = km.wilson(xs, ns, conf_level)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(est * (1 - est) / ns)
    if tp + fp == 0:
        notes.append(f"PPV{where} is undefined (NaN): no score >= threshold {threshold:g}")
    if tn + fn == 0:
        notes.append(f"NPV{where} is undefined (NaN): no score < threshold {threshold:g}")
    terms = ("prevalence", *_THRESHOLD_TERMS)
    return [row(t, est[i], se[i], lo[i], hi[i], "wilson") for i, t in enumerate(terms)]


def _adjust_rows(rows: list[Estimate], method: str, has_by: bool) -> list[Estimate]:
    """Add ``p_adjusted``: each term's subgroup p-values adjusted across subgroups."""
    from dataclasses import replace

    adjusted: dict[int, float] = {}
    if has_by:
        for term in dict.fromkeys(r.term for r in rows):
            idx = [i for i, r in enumerate(rows)
                   if r.term == term and r.labels["group"] is not OVERALL]
            adj = adjust_pvalues([rows[i].p_value for i in idx], method)  # type: ignore[arg-type]
            adjusted.update(zip(idx, adj.tolist(), strict=True))
    return [replace(r, labels={"group": r.labels["group"],
                               "p_adjusted": adjusted.get(i, r.p_value)})
            for i, r in enumerate(rows)]


def _heterogeneity(rows: list[Estimate], groups: list[Any], by: str | None, conf_level: float,
                   method: str, notes: list[str]) -> tuple[list[TestResult], list[Estimate]]:
    z = z_critical(conf_level)
    tests: list[TestResult] = []
    out: list[Estimate] = []
    for term in ("auroc", "calibration_slope"):
        sub = [r for r in rows if r.term == term and r.labels["group"] is not OVERALL]
        use = [r for r in sub if np.isfinite(r.std_error) and r.std_error > 0]
        if len(use) < len(sub):
            left = [str(r.labels["group"]) for r in sub if r not in use]
            notes.append(f"{term} heterogeneity: subgroups {by} = {', '.join(left)} have no "
                         "variance and are left out")
        if len(use) < 2:
            continue
        est = np.array([r.estimate for r in use])
        var = np.array([r.std_error ** 2 for r in use])
        pooled, v_pooled, q, df, pv = inverse_variance_q(est, var)
        tests.append(TestResult(
            term=f"{term}: heterogeneity", statistic=q, df=df, p_value=pv,
            method="inverse_variance_chi_square",
            n=int(sum(r.n or 0 for r in use)), n_events=int(sum(r.n_events or 0 for r in use)),
            labels={"group": OVERALL, "pooled": pooled, "p_adjusted": pv}))
        dev = est - pooled
        se = np.sqrt(np.maximum(var - v_pooled, 0.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            p_raw = 2 * stats.norm.sf(np.abs(dev / se))
        p_adj = adjust_pvalues(p_raw, method)  # type: ignore[arg-type]
        for i, r in enumerate(use):
            out.append(Estimate(
                term=f"{term}: {by} = {r.labels['group']} vs pooled", estimate=float(dev[i]),
                std_error=float(se[i]), conf_low=float(dev[i] - z * se[i]),
                conf_high=float(dev[i] + z * se[i]), conf_level=conf_level,
                statistic=float(dev[i] / se[i]) if se[i] > 0 else math.nan,
                p_value=float(p_raw[i]), effect_measure="difference",
                method="inverse_variance_chi_square", ci_method="wald", n=r.n,
                n_events=r.n_events,
                labels={"group": r.labels["group"], "pooled": pooled,
                        "p_adjusted": float(p_adj[i])}))
    return tests, out
