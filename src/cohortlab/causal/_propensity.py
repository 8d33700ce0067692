"""The propensity-score fit shared by every weighting and matching verb (private).

This module holds the one fitter, its result class :class:`PropensityScore` and the weight and
positivity helpers; ``propensity_score()`` (propensity.py) is the public verb over it.

:func:`fit_propensity` takes rows that the calling verb has already validated (the exposure
coded 0/1, sampling weights as an array) and returns the :class:`PropensityScore` that the
verb keeps as its diagnostics: scores (out of fold with a cross-fitted classifier), the
positivity checks, trimming, balancing weights (optionally stabilised and truncated) and
the weight-fragility checks. Every error, warning and note names the *calling* verb
(``func``), so ``ipw()`` reports ``"ipw(): ..."``, not ``"propensity_score(): ..."``.
``propensity_score()`` is one such caller; no verb calls it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._design import Design, build_design, categorical_columns, covariate_columns
from .._glm import GLMFit, fit_logistic
from .._typing import RandomState, SMDDenominator
from .._validation import (
    check_random_state,
    check_truncate,
)
from ..exceptions import (
    DataValidationError,
    ExtremeWeightWarning,
    LowEffectiveSampleSizeWarning,
    PositivityWarning,
)
from ..results._format import Renderable, fmt_int, fmt_num
from ..results.dropped import Dropped
from ..results.estimate import Estimate, EstimateTable
from ._weights import arm_weights, crump_threshold, ess, warn_weights

__all__ = ["fit_propensity", "PropensityScore", "check_arms", "fit_scores", "positivity_notes",
           "weight_notes", "trim_mask", "truncate_weights", "number_pair", "fit_sklearn"]

POSITIVITY_BOUND = 0.01
#: Fragility thresholds: one subject holding more than this share of its arm's weight ...
MAX_WEIGHT_SHARE = 0.10
#: ... or an arm whose effective sample size is below this fraction of the smaller arm (not of
#: its own size: an ATT analysis with many more controls than exposed is not fragile).
MIN_ESS_FRACTION = 0.10
#: Arms smaller than this are not checked (a few subjects always carry large shares).
MIN_ARM_FOR_CHECKS = 50



def _smd_denominator(estimand: str) -> SMDDenominator:
    """The SD in the SMD's denominator: cobalt's convention for each estimand."""
    return "treated" if estimand == "ATT" else "control" if estimand == "ATC" else "pooled"


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class PropensityScore(Renderable):
    """Propensity scores, balancing weights and diagnostics for one exposure model.

    Attributes
    ----------
    scores, weights : pandas.Series
        Indexed like the analysed rows of the input (trimmed rows have weight 0).
    exposure : pandas.Series
        The exposure coded 0/1.
    estimand : str
        ATE, ATT, ATC, ATO or ATM.
    kept : pandas.Series
        False for rows removed by trimming.
    """

    scores: pd.Series
    weights: pd.Series
    exposure: pd.Series
    kept: pd.Series
    estimand: str
    exposure_name: str
    covariates: Any
    covariate_columns: tuple[str, ...]
    categorical: tuple[str, ...]
    model_description: str
    data: pd.DataFrame = field(repr=False)
    sampling_weights: pd.Series | None = None
    coef: pd.Series | None = None
    dropped: Dropped = field(default_factory=Dropped)
    notes: tuple[str, ...] = ()
    _fit: Any = field(default=None, repr=False)
    _design: Any = field(default=None, repr=False)

    # ------------------------------------------------------------------ diagnostics
    def ess(self) -> dict[int, float]:
        """Kish effective sample size per arm (1 = exposed, 0 = unexposed)."""
        w, a = self._total_weights(), self.exposure.to_numpy()
        return {arm: ess(w[a == arm]) for arm in (1, 0)}

    def _total_weights(self) -> np.ndarray:
        w = self.weights.to_numpy()
        if self.sampling_weights is not None:
            w = w * self.sampling_weights.to_numpy()
        return w

    @property
    def table(self) -> EstimateTable:
        """The exposure model's coefficients (log odds) as an :class:`EstimateTable`.

        For the default logistic model: Wald intervals from the model-based information
        (sampling weights as frequency weights, as R's ``glm(weights=)``). A scikit-learn
        classifier has no coefficients: the table is empty and a note says so.
        """
        n = int(self.exposure.size)
        if self._fit is None or self.coef is None:
            return EstimateTable(rows=(), title=self._title(), dropped=self.dropped,
                                 notes=(f"{self.model_description}: no coefficients to tabulate",))
        se = np.sqrt(np.clip(np.diag(self._fit.vcov()), 0.0, None))
        rows = tuple(
            Estimate.from_model_scale(
                str(t), float(b), float(v), effect_measure="coefficient",
                ci_method="wald_model", method="propensity_logistic", n=n,
                n_events=int(self.exposure.sum()), dropped=self.dropped,
            )
            for t, b, v in zip(self.coef.index, self.coef.to_numpy(), se, strict=True)
        )
        return EstimateTable(rows=rows, title=f"{self._title()}: exposure model",
                             dropped=self.dropped, notes=self.notes)

    def to_frame(self) -> pd.DataFrame:
        """One row per arm: n, weighted n, ESS, PS and weight ranges."""
        a, e, w = self.exposure.to_numpy(), self.scores.to_numpy(), self._total_weights()
        kept = self.kept.to_numpy()
        rows = []
        for arm in (1, 0):
            m = (a == arm) & kept
            rows.append(dict(arm=arm, n=int((a == arm).sum()),
                             n_trimmed=int(((a == arm) & ~kept).sum()),
                             sum_weights=float(w[m].sum()), ess=ess(w[m]),
                             ps_min=float(e[a == arm].min()), ps_max=float(e[a == arm].max()),
                             weight_min=float(w[m].min()), weight_mean=float(w[m].mean()),
                             weight_max=float(w[m].max())))
        return pd.DataFrame(rows)

    def balance(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Covariate balance before and after weighting (cobalt's conventions).

        SMDs use the unweighted SD in the denominator (pooled for ATE/ATO/ATM, the exposed
        arm's for ATT, the unexposed arm's for ATC), so only the mean difference changes with
        weighting; variance ratios are exposed / unexposed, weighted.
        """
        from ..describe.table1 import table1

        cols = list(columns) if columns is not None else list(self.covariate_columns)
        den = _smd_denominator(self.estimand)
        frame = self.data.loc[self.kept.to_numpy(), cols].assign(
            __a__=self.exposure[self.kept].to_numpy(), __w__=self._total_weights()[self.kept])
        cats = [c for c in self.categorical if c in cols]
        before = table1(frame, by="__a__", columns=cols, smd_denominator=den, overall=False,
                        categorical=cats)
        after = table1(frame, by="__a__", columns=cols, weights="__w__", smd_denominator=den,
                       smd_weighted_sd=False, overall=False, categorical=cats)
        b0 = before.balance.set_index(["variable", "level"])
        b1 = after.balance.set_index(["variable", "level"])
        out = pd.DataFrame({
            "kind": b0["kind"], "smd_unweighted": b0["smd"], "smd_weighted": b1["smd"],
            "var_ratio_unweighted": b0["var_ratio"], "var_ratio_weighted": b1["var_ratio"],
        }).reset_index()
        return out

    def table1(self, columns: Sequence[str] | None = None) -> Any:
        """Table 1 of the covariates, weighted, with unweighted SMDs beside the weighted."""
        from ..describe.table1 import table1

        cols = list(columns) if columns is not None else list(self.covariate_columns)
        den = _smd_denominator(self.estimand)
        wname = f"{self.estimand} weights"
        frame = self.data.loc[self.kept.to_numpy(), cols].assign(
            **{self.exposure_name: self.exposure[self.kept].to_numpy(),
               wname: self._total_weights()[self.kept]})
        return table1(frame, by=self.exposure_name, columns=cols, weights=wname,
                      smd_denominator=den, smd_weighted_sd=False,
                      categorical=[c for c in self.categorical if c in cols])

    def plot_balance(self, ax: Any = None) -> Any:
        """Love plot: absolute SMDs before and after weighting."""
        from ..report.figures import smd_plot

        return smd_plot(self.table1(), ax=ax)

    def plot_overlap(self, ax: Any = None, bins: int = 40) -> Any:
        """Mirrored histograms of the propensity score by arm."""
        from ..report.figures import overlap_plot

        return overlap_plot(self.scores.to_numpy(), self.exposure.to_numpy(), ax=ax, bins=bins,
                            label=self.exposure_name)

    # ------------------------------------------------------------------ rendering
    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        d = self.to_frame()
        return pd.DataFrame({
            "arm": [f"{self.exposure_name} = {a}" for a in d["arm"]],
            "n": [fmt_int(v) for v in d["n"]],
            "trimmed": [fmt_int(v) for v in d["n_trimmed"]],
            "ESS": [fmt_num(v, 1) for v in d["ess"]],
            "PS range": [f"{fmt_num(lo, digits)} to {fmt_num(hi, digits)}"
                         for lo, hi in zip(d["ps_min"], d["ps_max"], strict=True)],
            "weights min / mean / max": [
                f"{fmt_num(a, 2)} / {fmt_num(b, 2)} / {fmt_num(c, 2)}"
                for a, b, c in zip(d["weight_min"], d["weight_mean"], d["weight_max"],
                                   strict=True)],
        })

    def _title(self) -> str:
        return f"Propensity score · {self.estimand} weights · {self.model_description}"

    def _footer(self) -> list[str]:
        n, kept = len(self.scores), int(self.kept.sum())
        txt = f"n = {n:,}" + (f" ({self.dropped})" if self.dropped else "")
        if kept < n:
            txt += f" · {kept:,} analysed, {n - kept:,} trimmed"
        return [txt, *self.notes]


# ---------------------------------------------------------------------- fitting
def _model_description(model: Any, design: Design | None, cross_fit: int | None) -> str:
    cf = f", {cross_fit}-fold cross-fitted" if cross_fit else ""
    if model is None:
        return f"logistic regression on {design.formula if design else ''}".strip() + cf
    return type(model).__name__ + cf


def fit_scores(
    frame: pd.DataFrame, a: np.ndarray, covariates: Any, model: Any, s: np.ndarray,
    cross_fit: int | None, random_state: RandomState, func: str, exposure: str = "",
) -> tuple[np.ndarray, Design, GLMFit | None]:
    """Propensity scores on ``frame``: logistic GLM by default, else any sklearn classifier."""
    design = build_design(frame, covariates, func, intercept=model is None)
    if model is None:
        if cross_fit:
            raise DataValidationError(
                f"{func}(): cross_fit needs a machine-learning model (model=...); the default "
                "logistic regression is fitted on all rows."
            )
        fit = fit_logistic(design.X, a, s, names=design.names, func=func,
                           response=f"the exposure {exposure!r}")
        return fit.fitted, design, fit
    return fit_sklearn(design.X, a, s, model, cross_fit, random_state, func), design, None


def fit_sklearn(X: np.ndarray, a: np.ndarray, s: np.ndarray, model: Any, cross_fit: int | None,
                random_state: RandomState, func: str) -> np.ndarray:
    from sklearn.base import clone

    if not (hasattr(model, "fit") and hasattr(model, "predict_proba")):
        raise DataValidationError(
            f"{func}(): model must be a scikit-learn style classifier with fit() and "
            f"predict_proba(); got {type(model).__name__}."
        )
    sw = None if np.all(s == 1) else s
    if not cross_fit:
        m = clone(model).fit(X, a, sample_weight=sw) if sw is not None else clone(model).fit(X, a)
        return m.predict_proba(X)[:, 1]
    from sklearn.model_selection import StratifiedKFold

    rng = check_random_state(random_state, func)
    folds = StratifiedKFold(n_splits=int(cross_fit), shuffle=True,
                            random_state=int(rng.integers(0, 2**31 - 1)))
    e = np.empty(a.size)
    for train, test in folds.split(X, a):  # K folds, not rows
        m = clone(model)
        m = m.fit(X[train], a[train], **({"sample_weight": sw[train]} if sw is not None else {}))
        e[test] = m.predict_proba(X[test])[:, 1]
    return e


def positivity_notes(e: np.ndarray, a: np.ndarray, func: str, exposure: str, *,
                     keep: np.ndarray | None = None, trim: Any = None, estimand: str = "ATE",
                     s: np.ndarray | None = None) -> tuple[str, ...]:
    """Raise on scores of exactly 0 or 1; warn (and return a note) on scores near them.

    Only analysed rows count: rows with a positive sampling weight ``s`` (zero-weight rows
    do not enter the estimate) that trimming keeps (``keep``) for the exact 0/1 check. The
    advice follows what is already in use: with ``trim`` the note says how many extreme
    scores the trimming removed (no warning when it removed all of them, since none enters
    the estimate), and with overlap or matching weights (``estimand="ATO"``/``"ATM"``), whose
    weights stay bounded, the counts are recorded as a note without a warning.
    """
    pos = np.ones(e.size, dtype=bool) if s is None else s > 0
    kept = pos if keep is None else pos & keep
    exact = int((((e <= 0) | (e >= 1)) & kept).sum())
    if exact:
        fix = ("trim=(0.01, 0.99) removes them" if trim is None
               else f"trim={trim!r} keeps them: use narrower bounds such as (0.01, 0.99)")
        raise DataValidationError(
            f"{func}(): {exact:,} propensity scores for {exposure!r} are exactly 0 or 1 "
            "(positivity violation: some subjects could not have been in the other group). "
            "Restrict the cohort, coarsen the covariates that determine exposure, or use a "
            f"calibrated model; {fix}."
        )
    low_all, high_all = (e < POSITIVITY_BOUND) & pos, (e > 1 - POSITIVITY_BOUND) & pos
    low, high = int(low_all.sum()), int(high_all.sum())
    if not (low or high):
        return ()
    ep = e[pos]
    msg = (f"{func}(): {low:,} subjects have propensity score < {POSITIVITY_BOUND} and {high:,} "
           f"> {1 - POSITIVITY_BOUND} (min {ep.min():.3g}, max {ep.max():.3g}).")
    warn = True
    if estimand in ("ATO", "ATM"):
        name = "overlap" if estimand == "ATO" else "matching"
        msg += (f" With {name} weights (estimand=\"{estimand}\") their weights stay bounded "
                "and near 0, so the estimate is stable but describes the population with "
                "overlap, not the whole cohort.")
        warn = False
    elif trim is not None:
        remain = int(((low_all | high_all) & kept).sum())
        if remain == 0:
            msg += f" trim={trim!r} removed all of them from the analysis."
            warn = False
        else:
            msg += (f" {remain:,} of them remain after trim={trim!r}; estimates may be "
                    "unstable: narrow the trimming bounds (e.g. trim=(0.01, 0.99)) or use "
                    "estimand=\"ATO\".")
    else:
        msg += (" Estimates may be unstable; consider trim=(0.01, 0.99), trim=\"crump\", or "
                "estimand=\"ATO\".")
    if warn:
        warnings.warn(msg, PositivityWarning, stacklevel=3)
    return (msg.split("(): ", 1)[1],)


def weight_notes(w: np.ndarray, a: np.ndarray, func: str, exposure: str) -> tuple[str, ...]:
    """Warn (and return notes) when a few subjects dominate an arm's weights."""
    notes: list[str] = []
    smaller = min(int(((a == arm) & (w > 0)).sum()) for arm in (1, 0))
    for arm in (1, 0):
        wa = w[(a == arm) & (w > 0)]
        if wa.size < MIN_ARM_FOR_CHECKS:
            continue
        share = float(wa.max() / wa.sum())
        if share > MAX_WEIGHT_SHARE:
            msg = (f"{func}(): one subject with {exposure!r} = {arm} carries {share:.0%} of that "
                   f"group's total weight (max weight {wa.max():.3g}). The estimate leans on a "
                   "few subjects; consider truncate=(0.01, 0.99), trimming, or estimand=\"ATO\".")
            warn_weights(notes, msg, ExtremeWeightWarning)
        n_eff = ess(wa)
        if n_eff < MIN_ESS_FRACTION * smaller:
            msg = (f"{func}(): the effective sample size of {exposure!r} = {arm} is {n_eff:.1f} "
                   f"of {wa.size:,} subjects, under {MIN_ESS_FRACTION:.0%} of the smaller group "
                   f"({smaller:,}). Weighting discards most of the information in that group; "
                   "check overlap (plot_overlap()) and the propensity model.")
            warn_weights(notes, msg, LowEffectiveSampleSizeWarning)
    return tuple(notes)


def number_pair(value: Any, name: str, func: str, expected: str) -> tuple[float, float]:
    """``value`` as a ``(low, high)`` pair of floats, or an error saying ``expected``.

    >>> number_pair([0.1, "0.9"], "trim", "ipw", "a (low, high) pair")
    (0.1, 0.9)
    """
    try:
        lo, hi = (float(x) for x in value)
    except (TypeError, ValueError):
        raise DataValidationError(
            f"{func}(): {name} must be {expected}; got {value!r}.") from None
    return lo, hi


def trim_mask(e: np.ndarray, trim: Any, func: str) -> tuple[np.ndarray, str | None]:
    """Rows kept by trimming on the propensity score, and a note describing it."""
    if trim is None:
        return np.ones(e.size, dtype=bool), None
    if isinstance(trim, str):
        if trim != "crump":
            raise DataValidationError(
                f"{func}(): trim must be None, \"crump\" or a (low, high) pair of propensity "
                f"scores; got {trim!r}."
            )
        alpha = crump_threshold(np.clip(e, 1e-12, 1 - 1e-12))  # scores of 0/1 are trimmed
        lo, hi, how = alpha, 1 - alpha, f"Crump et al. rule (alpha = {alpha:.3f})"
    else:
        lo, hi = number_pair(trim, "trim", func, 'None, "crump" or a (low, high) pair')
        if not 0 <= lo < hi <= 1:
            raise DataValidationError(
                f"{func}(): trim bounds must satisfy 0 <= low < high <= 1; got {trim!r}."
            )
        how = "fixed bounds"
    keep = (e >= lo) & (e <= hi)
    n_out = int((~keep).sum())
    note = (f"{n_out:,} subjects trimmed with propensity score outside [{lo:.3f}, {hi:.3f}] "
            f"({how}); the estimand is redefined to the trimmed population and the scores "
            "were not re-estimated")
    return keep, note


def truncate_weights(w: np.ndarray, keep: np.ndarray, truncate: Any, func: str,
                     freq: np.ndarray | None = None) -> tuple[np.ndarray, str | None]:
    """Truncate (winsorise) weights at quantiles of the kept rows' weights.

    ``freq`` gives each row's multiplicity (a bootstrap resample as frequency weights).
    """
    pair = check_truncate(truncate, func)
    if pair is None:
        return w, None
    ql, qh = pair
    sample = w[keep] if freq is None else np.repeat(w[keep], freq[keep].astype(int))
    lo, hi = np.quantile(sample, [ql, qh])
    n_lo, n_hi = int(((w < lo) & keep).sum()), int(((w > hi) & keep).sum())
    out = np.where(keep, np.clip(w, lo, hi), w)
    note = (f"{n_lo + n_hi:,} weights truncated at the [{ql:g}, {qh:g}] quantiles "
            f"[{lo:.3g}, {hi:.3g}] ({n_lo:,} low, {n_hi:,} high)")
    return out, note


# ---------------------------------------------------------------------- the verb


def check_arms(a: np.ndarray, exposure: str, func: str, after: str | None = None) -> None:
    """Both exposure arms must have rows."""
    for arm in (1, 0):
        if not (a == arm).any():
            when = f" after {after}" if after else ""
            raise DataValidationError(
                f"{func}(): exposure group {exposure!r} = {arm} has no rows{when}; a contrast "
                "needs both groups. Check the exposure coding and the eligibility filters."
            )


def fit_propensity(
    frame: pd.DataFrame, a: np.ndarray, s: np.ndarray, covariates: Any, *, func: str,
    exposure: str, estimand: str = "ATE", model: Any = None, cross_fit: int | None = None,
    random_state: Any = None, trim: Any = None, truncate: Any = None, stabilize: bool = False,
    weighted: bool = False, dropped: Any = None, weight_checks: bool = True,
    scores: tuple[np.ndarray, Design] | None = None,
) -> PropensityScore:
    """Fit the exposure model on validated rows and derive the balancing weights.

    Parameters
    ----------
    frame : pandas.DataFrame
        The analysed rows (covariates are read from it by ``covariates``).
    a, s : numpy.ndarray
        The exposure coded 0/1 and the sampling weights (ones when unweighted).
    func : str
        The calling verb, named in every error, warning and note.
    weighted : bool
        Whether ``s`` came from a weights column (kept as ``sampling_weights``).
    weight_checks : bool
        Warn when a few subjects dominate an arm's weights (the weighting verbs).
    scores : (numpy.ndarray, Design), optional
        Scores already fitted on ``design`` (``aipw``'s cross-fitted logistic regression);
        ``model`` must then be None and ``cross_fit`` is only named in the description.
    """
    fit: GLMFit | None
    if scores is not None:
        (e, design), fit = scores, None
    else:
        e, design, fit = fit_scores(frame, a, covariates, model, s, cross_fit, random_state,
                                    func, exposure)
    keep, trim_note = trim_mask(e, trim, func)
    notes = positivity_notes(e, a, func, exposure, keep=keep, trim=trim, estimand=estimand,
                             s=s)
    if trim_note:
        check_arms(a[keep], exposure, func, after="trimming")
    w1, w0 = arm_weights(np.clip(e, 1e-12, 1 - 1e-12), estimand)
    w = np.where(a == 1, w1, w0)
    if stabilize:
        p1 = float(np.dot(s, a) / s.sum())
        w = w * np.where(a == 1, p1, 1 - p1)
    w = np.where(keep, w, 0.0)
    w, trunc_note = truncate_weights(w, keep, truncate, func)
    notes += tuple(n for n in (trim_note, trunc_note) if n)
    if weight_checks:
        notes += weight_notes(w * s, a, func, exposure)
    idx = frame.index
    extra = {} if dropped is None else {"dropped": dropped}
    return PropensityScore(
        scores=pd.Series(e, index=idx, name="propensity_score"),
        weights=pd.Series(w, index=idx, name=f"{estimand.lower()}_weight"),
        exposure=pd.Series(a, index=idx, name=exposure), kept=pd.Series(keep, index=idx),
        estimand=estimand, exposure_name=exposure, covariates=covariates,
        covariate_columns=tuple(covariate_columns(covariates, frame, func)),
        categorical=tuple(categorical_columns(covariates, frame)),
        model_description=_model_description(model, design, cross_fit), data=frame,
        sampling_weights=pd.Series(s, index=idx) if weighted else None,
        coef=pd.Series(fit.coef, index=design.names) if fit is not None else None,
        notes=notes, _fit=fit, _design=design, **extra,
    )

