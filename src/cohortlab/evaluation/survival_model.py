"""``evaluate_survival_model``: discrimination and calibration of a survival model, with CIs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from scipy import stats

from .._typing import CIMethod, EffectMeasure, Missing
from .._validation import (
    apply_missing,
    check_columns,
    check_numeric,
    check_time_event,
    verb,
    verb_name,
)
from ..exceptions import DataValidationError
from ..inference.wald import z_critical
from ..results._format import fmt_int, fmt_num, fmt_p
from ..results.dropped import Dropped
from ..results.estimate import Estimate, EstimateTable
from ..survival._aipw import censoring_km
from . import _plots
from . import _survival_metrics as sm
from ._levels import OVERALL, LevelledMetrics, Levels, check_by_shift, drift_rows, split_levels
from ._plots import level_name as _name
from ._plots import new_axes as _new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["evaluate_survival_model", "SurvivalModelEvaluation"]

#: The ``group`` value of the rows computed on all rows together.
_NULLS = {"harrell_c": 0.5, "uno_c": 0.5, "auc": 0.5, "oe_ratio": 1.0}
_CI: dict[str, CIMethod] = {
    "harrell_c": "infinitesimal_jackknife", "uno_c": "infinitesimal_jackknife",
    "auc": "influence_function", "brier": "influence_function",
    "brier_null": "influence_function", "ipa": "influence_function",
    "oe_ratio": "greenwood_log"}


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class SurvivalModelEvaluation(LevelledMetrics):
    """Performance of a survival model's score / predicted risks, overall and by subgroup.

    Attributes
    ----------
    metrics : EstimateTable
        One row per metric, time and group (labels ``group`` and ``time``; ``time`` is NaN for
        Harrell's C, tau for Uno's C). ``to_frame()`` returns it as a tidy frame.
    calibration : pandas.DataFrame
        ``group, time, bin, n, mean_risk, observed, observed_std_error``: Kaplan-Meier risk by
        ``time`` against the mean predicted risk in deciles of predicted risk.
    drift : EstimateTable
        With ``shift``: per metric (and time) with a standard error, the heterogeneity
        chi-square across levels, the weighted linear trend on the level rank (ordered shift
        column) and each level's difference from the first (ratio for ``oe_ratio``); labels
        ``group, time, metric, contrast, df, p_adjusted``.
    """

    metrics: EstimateTable
    calibration: pd.DataFrame
    time_col: str
    event_col: str
    score: str | None = None
    risk: Mapping[float, str] = field(default_factory=dict)
    times: tuple[float, ...] = ()
    by: str | None = None
    shift: str | None = None
    ordered: bool = False
    drift: EstimateTable = field(default_factory=lambda: EstimateTable(rows=()))
    groups: tuple[Any, ...] = ()
    conf_level: float = 0.95
    n: int = 0
    n_events: int = 0
    dropped: Dropped = field(default_factory=Dropped)
    notes: tuple[str, ...] = ()

    def _display_frame(self, digits: int = 3) -> pd.DataFrame:
        recs = []
        for r in self.metrics:
            rec = {"group": str(r.labels.get("group", ""))} if self._dim else {}
            t = r.labels.get("time", math.nan)
            rec.update(metric=r.term, time="" if not np.isfinite(t) else f"{t:g}",
                       estimate=fmt_num(r.estimate, digits), conf_low=fmt_num(r.conf_low, digits),
                       conf_high=fmt_num(r.conf_high, digits), p_value=fmt_p(r.p_value, digits))
            recs.append(rec)
        return pd.DataFrame(recs)

    def _title(self) -> str:
        what = " and ".join(x for x in (self.score and f"score {self.score}",
                                        self.risk and "predicted risks") if x)
        by = f" by {self.by}" if self.by else (f" across {self.shift}" if self.shift else "")
        return f"Survival model evaluation · {what} vs Surv({self.time_col}, {self.event_col}){by}"

    def _footer(self) -> list[str]:
        n_txt = f"n = {fmt_int(self.n)}" + (f" ({self.dropped})" if self.dropped else "")
        bits = [n_txt, f"events {fmt_int(self.n_events)}", f"{100 * self.conf_level:g}% CI"]
        return [" · ".join(bits),
                "C: infinitesimal jackknife SE; AUC(t), Brier(t): IPCW (Kaplan-Meier censoring) "
                "with influence-function SE; O/E: Greenwood SE on the log scale",
                *_trend_lines(self.drift), *self.notes]

    def _keys(self) -> list[Any]:
        return list(self.groups) if self._dim else [OVERALL]

    def plot_calibration(self, t: float | None = None, ax: Axes | None = None) -> Axes:
        """Observed (Kaplan-Meier) vs mean predicted risk by ``t`` in deciles, per level.

        One curve per subgroup or shift level (or overall); ``t`` defaults to the first time.
        """
        cal = self.calibration
        if cal.empty:
            raise DataValidationError(
                f"{verb_name()}(): no calibration to plot in risk; got risk=None. Pass risk= "
                "columns "
                "of predicted risks to evaluate_survival_model().")
        t = float(cal["time"].iloc[0]) if t is None else float(t)
        if not np.isclose(cal["time"], t).any():
            raise DataValidationError(
                f"{verb_name()}(): no calibration at time {t:g} in t; got times "
                f"{sorted(set(cal['time']))}. Pass one of them.")
        curves = []
        for g in self._keys():
            d = cal[(cal["group"] == g) & np.isclose(cal["time"], t) & (cal["n"] > 0)]
            curves.append((_name(self._dim, g), d["mean_risk"], d["observed"]))
        return _plots.calibration_plot(curves, ax, f"mean predicted risk by {t:g}",
                                       f"observed risk by {t:g} (KM)")

    def plot_auc_over_time(self, ax: Axes | None = None) -> Axes:
        """Time-dependent AUC(t) with its confidence band, per subgroup."""
        ax = _new_axes(ax)
        f = self.to_frame()
        f = f[f["term"] == "auc"]
        for g in self._keys():
            d = f[f["group"] == g].sort_values("time")
            line = ax.plot(d["time"], d["estimate"], marker="o", label=_name(self._dim, g))[0]
            ax.fill_between(d["time"], d["conf_low"], d["conf_high"], alpha=0.2,
                            color=line.get_color())
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax.set(xlabel="time", ylabel="AUC(t)", ylim=(0, 1))
        ax.legend(frameon=False, loc="lower right")
        return ax

    def plot_drift(self, metric: str = "harrell_c", t: float | None = None,
                   ax: Axes | None = None) -> Axes:
        """A metric with its CI per level of ``shift`` (or ``by``) and the overall value.

        ``t`` picks the time of AUC(t), Brier(t), IPA and O/E (default: the first). For an
        ordered shift column the inverse-variance weighted trend line is drawn too.
        """
        if self._dim is None:
            raise DataValidationError(
                f"{verb_name()}(): no levels to plot drift over in shift; got shift=None and "
                "by=None. "
                "Pass shift= (a site, device or period column) to evaluate_survival_model().")
        f = self.to_frame()
        if metric in ("harrell_c", "uno_c"):
            f = f.assign(time=np.nan)
        return _plots.drift_plot(f, self.drift.to_frame(), metric=metric, column=self._dim,
                                 keys=list(self.groups), ordered=self.ordered, time=t,
                                 func=verb_name(), ax=ax)


def _trend_lines(drift: EstimateTable) -> list[str]:
    out = []
    for r in drift:
        if r.labels.get("contrast") == "trend" and r.labels.get("metric") in (
                "harrell_c", "auc", "oe_ratio"):
            t = r.labels.get("time", math.nan)
            at = f" at {t:g}" if t is not None and np.isfinite(t) else ""
            out.append(f"{r.term}{at}: {fmt_num(r.estimate, 4)} ({fmt_num(r.conf_low, 4)} to "
                       f"{fmt_num(r.conf_high, 4)}), p {fmt_p(r.p_value)}")
    return out


def _check_times(times: Any, risk: Any) -> tuple[np.ndarray, dict[float, str]]:
    if isinstance(risk, Mapping):
        rmap = {float(k): v for k, v in risk.items()}
        if times is not None and set(np.atleast_1d(np.asarray(times, float))) != set(rmap):
            raise DataValidationError(
                f"{verb_name()}(): times must be the keys of the risk mapping in times; got "
                f"times={times!r} and risk keys {sorted(rmap)}. Leave times=None.")
        times = sorted(rmap)
    if times is None:
        if risk is not None:
            raise DataValidationError(
                f"{verb_name()}(): risk={risk!r} needs the time it predicts in times; got "
                "times=None. "
                "Pass times=[t] or risk={t: column}.")
        return np.array([]), {}
    bad = isinstance(times, (str, bytes)) or isinstance(times, bool)
    try:
        arr = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError):
        bad = True
    if bad or arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise DataValidationError(
            f"{verb_name()}(): times must be positive finite numbers in times; got {times!r}. "
            "Pass e.g. times=[180, 365].")
    arr = np.unique(arr)
    if risk is None:
        return arr, {}
    if isinstance(risk, str):
        if arr.size != 1:
            raise DataValidationError(
                f"{verb_name()}(): one risk column predicts one time in times; got {arr.size} "
                "times "
                f"for risk={risk!r}. Pass risk={{t: column, ...}} for several times.")
        return arr, {float(arr[0]): risk}
    return arr, rmap


def _check_risk(frame: pd.DataFrame, column: str, func: str | None = None) -> np.ndarray:
    func = verb_name(func)
    p = check_numeric(frame, column, "risk", func)
    lo, hi = float(p.min()), float(p.max())
    if lo < 0.0 or hi > 1.0:
        raise DataValidationError(
            f"{func}(): predicted risks must be probabilities in [0, 1] in column {column!r}; "
            f"got values in [{lo:.4g}, {hi:.4g}]. Pass the absolute risk of the event by the "
            "time (1 - predicted survival), not a linear predictor (use "
            f"{'score' if func == 'evaluate_survival_model' else 'scores'}= for that).")
    return p


def _check_followup(t: np.ndarray, d: np.ndarray, times: np.ndarray, time: str, where: str,
                    func: str | None = None) -> None:
    func = verb_name(func)
    if not d.any():
        raise DataValidationError(
            f"{func}(): {where} has no events in the event column; got {t.size:,} rows, all "
            "censored. Discrimination and calibration are undefined; check the event coding "
            "or merge the subgroup.")
    if times.size and times.max() >= t.max():
        raise DataValidationError(
            f"{func}(): times beyond follow-up in column {time!r} ({where}); got time "
            f"{times.max():g} >= the last follow-up time {t.max():g}. Evaluate at times with "
            "subjects still under follow-up (controls with T > t are needed).")


# ---------------------------------------------------------------------- the verb
@verb
def evaluate_survival_model(
    data: pd.DataFrame,
    *,
    time: str,
    event: str,
    score: str | None = None,
    risk: str | Mapping[float, str] | None = None,
    times: Sequence[float] | np.ndarray | float | None = None,
    by: str | None = None,
    shift: str | None = None,
    conf_level: float = 0.95,
    missing: Missing = "raise",
) -> SurvivalModelEvaluation:
    """Evaluate a survival model's risk score and predicted risks, with confidence intervals.

    Estimands (overall, and within each level of ``by``), for right-censored data
    ``(T, event)`` with censoring independent of the event time (and of the predictors:
    the censoring weights come from a marginal Kaplan-Meier of censoring):

    - ``harrell_c``: Harrell's concordance of ``score`` (higher = earlier event), pairs
      comparable when the shorter time is an event (R ``concordance(Surv(time, event) ~
      score, reverse = TRUE)``); its limit depends on the censoring distribution.
    - ``uno_c``: Uno's C truncated at tau = max(``times``) (all follow-up without
      ``times``), pairs weighted ``1 / G(T_i-)^2``, events after tau not counted: it
      estimates ``P(score_i > score_j | T_i < T_j, T_i <= tau)`` free of censoring (R
      ``timewt = "n/G2", ymax = tau``). Both C's have the infinitesimal-jackknife variance
      of R ``concordance()`` (time weights held fixed); ``p_value`` tests C = 0.5.
    - ``auc`` at each time t: the cumulative/dynamic AUC
      ``P(risk_i > risk_j | T_i <= t < T_j)`` by inverse probability of censoring weighting
      (cases ``1 / G(T_i-)``, controls ``1 / G(t)``), from the predicted risk by t (or from
      ``score`` when no risk is given for t), as riskRegression ``Score(metrics = "auc")``.
    - ``brier`` at t: ``E[(1{T <= t} - risk)^2]`` by IPCW; ``brier_null``: the same for the
      Kaplan-Meier risk of all rows (null model); ``ipa``: ``1 - brier / brier_null``.
      AUC, Brier and IPA SEs come from the influence function including the estimation of
      the Kaplan-Meier censoring weights (riskRegression ``conservative = FALSE``; SE =
      sd / sqrt(n)); Wald intervals (AUC clipped to [0, 1]).
    - ``oe_ratio`` at t: calibration-in-the-large, observed risk (Kaplan-Meier) over mean
      predicted risk, with a Wald interval on the log scale from the Greenwood SE (the mean
      prediction treated as fixed); ``result.calibration`` has the same by decile of
      predicted risk.

    With ``shift`` (a site, device or calendar-period column), every metric is computed
    within each level (equal to the call on that level's rows alone: censoring weights are
    re-estimated per level), and ``.drift`` holds per metric and time: the inverse-variance
    heterogeneity chi-square across levels; for an ordered column (numeric, datetime, period,
    ordered categorical) the inverse-variance weighted least-squares slope on the level rank
    0, 1, ..., L - 1 with SE ``1 / sqrt(sum_l w_l (r_l - rbar)^2)``, ``w_l = 1 / var_l``
    (independent levels, known variances; Wald CI, p-value for slope = 0); and each level's
    difference from the first (variance the sum; the O/E ratio compared as a ratio on the
    log scale; Holm-adjusted across levels in ``p_adjusted``). ``by`` and ``shift`` cannot
    be combined.

    Assumptions: independent rows; the score/risks were not fitted on these rows (otherwise
    every metric is optimistic); censoring independent of event time and predictors.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject.
    time, event : str
        Follow-up time (>= 0) and event indicator (0 = censored, 1 = event).
    score : str, optional
        A risk score (higher = higher risk, e.g. a Cox linear predictor).
    risk : str or mapping {time: str}, optional
        Predicted absolute risk of the event by each time (in [0, 1]); a single column
        needs a single value in ``times``. At least one of ``score`` and ``risk``.
    times : sequence of float, optional
        Horizons for AUC(t), Brier(t) and calibration (default: the keys of ``risk``).
    by : str, optional
        Subgroup column; every metric is also computed within each of its levels.
    shift : str, optional
        Site, device or period column (at least 2 levels): the metrics per level and their
        drift (``.drift``, ``.plot_drift()``). Not together with ``by``.
    conf_level : float
        Confidence level of every interval.
    missing : {"raise", "drop"}
        Missing values in the used columns raise, or drop and count the rows.

    Returns
    -------
    SurvivalModelEvaluation
        ``to_frame()`` gives the tidy metrics with ``group`` and ``time``;
        ``.calibration``, ``.drift``, ``.plot_calibration(t)``, ``.plot_auc_over_time()``,
        ``.plot_drift(metric, t)``.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> x = rng.normal(size=1000)
    >>> tt = rng.exponential(1 / np.exp(x))
    >>> c = rng.exponential(2.0, size=1000)
    >>> d = pd.DataFrame({"t": np.minimum(tt, c), "e": (tt <= c).astype(int), "x": x,
    ...                   "r1": 1 - np.exp(-np.exp(x))})
    >>> ev = evaluate_survival_model(d, time="t", event="e", score="x", risk={1.0: "r1"})
    >>> f = ev.to_frame().set_index("term")
    >>> round(float(f.loc["harrell_c", "estimate"]), 2), round(float(f.loc["auc", "estimate"]), 2)
    (0.74, 0.84)
    """
    if score is None and risk is None:
        raise DataValidationError(
            f"{verb_name()}(): nothing to evaluate in score/risk; got score=None and risk=None. "
            "Pass "
            "score= (a risk score) and/or risk= (predicted risks by times).")
    grid, rmap = _check_times(times, risk)
    check_by_shift(by, shift, verb_name())
    check_columns(data, time=time, event=event, score=score, risk=list(rmap.values()),
                  by=by, shift=shift)
    cols = [time, event, *([score] if score else []), *rmap.values(),
            *(c for c in (by, shift) if c is not None)]
    frame, dropped = apply_missing(data, cols, missing)
    t, d = check_time_event(frame, time, event)
    d = np.asarray(d, dtype=np.int64)
    x = None if score is None else check_numeric(frame, score, "score")
    preds = {tk: _check_risk(frame, c) for tk, c in rmap.items()}
    lev = split_levels(frame, by, shift, verb_name())
    keys: list[Any] = [OVERALL, *lev.keys]
    masks = lev.masks()
    for g, m in zip(keys, masks, strict=True):
        tg, dg = (t, d) if m is None else (t[m], d[m])
        where = "the data" if m is None else f"{lev.kind} level {lev.column} = {g!r}"
        _check_followup(tg, dg, grid, time, where.replace("by level", "subgroup"))

    notes: list[str] = []
    rows: list[Estimate] = []
    cal_frames = []
    for g, m in zip(keys, masks, strict=True):
        sel = slice(None) if m is None else m
        out, cal = _group_metrics(t[sel], d[sel], None if x is None else x[sel],
                                  {k: v[sel] for k, v in preds.items()}, grid, g, conf_level,
                                  notes)
        rows += out
        cal_frames += cal
    return _result(rows, cal_frames, lev, notes, t, d, dropped, time_col=time,
                   event_col=event, score=score, risk=rmap,
                   times=tuple(float(v) for v in grid), conf_level=conf_level)


def _result(rows: list[Estimate], cal_frames: list[pd.DataFrame], lev: Levels,
            notes: list[str], t: np.ndarray, d: np.ndarray, dropped: Dropped, **kw: Any
            ) -> SurvivalModelEvaluation:
    calibration = (pd.concat(cal_frames, ignore_index=True) if cal_frames else
                   pd.DataFrame(columns=["group", "time", "bin", "n", "mean_risk", "observed",
                                         "observed_std_error"]))
    drift = (drift_rows(rows, lev, kw["conf_level"], verb_name(), "holm", notes)
             if lev.kind == "shift" else [])
    return SurvivalModelEvaluation(
        metrics=EstimateTable(rows=tuple(rows), title="survival model metrics", dropped=dropped),
        calibration=calibration, by=lev.column if lev.kind == "by" else None,
        shift=lev.column if lev.kind == "shift" else None, ordered=lev.ordered,
        drift=EstimateTable(rows=tuple(drift), title=f"drift across {lev.column}"),
        groups=lev.keys, n=int(t.size), n_events=int(d.sum()), dropped=dropped,
        notes=tuple(dict.fromkeys(notes)), **kw)


# ---------------------------------------------------------------------- building rows
def _row(term: str, est: float, se: float, g: Any, tk: float, n: int, n_events: int,
         conf_level: float, clip: bool = False) -> Estimate:
    z = z_critical(conf_level)
    ratio = term == "oe_ratio"
    null = _NULLS.get(term)
    ok = np.isfinite(se) and se > 0
    if ratio:
        centre = math.log(est) if est > 0 else math.nan
        lo, hi = math.exp(centre - z * se), math.exp(centre + z * se)
        stat = centre / se if ok else math.nan
    else:
        lo, hi = est - z * se, est + z * se
        if clip:
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        stat = (est - null) / se if (ok and null is not None) else math.nan
    pv = float(2 * stats.norm.sf(abs(stat))) if np.isfinite(stat) else math.nan
    return Estimate(
        term=term, estimate=float(est), std_error=float(se), conf_low=float(lo),
        conf_high=float(hi), conf_level=conf_level, statistic=float(stat), p_value=pv,
        effect_measure="ratio" if ratio else cast(EffectMeasure, term), method=verb_name(),
        ci_method=_CI[term],
        ci_scale="log" if ratio else "plain", n=n, n_events=n_events,
        labels={"group": g, "time": float(tk)})


def _se(psi: np.ndarray) -> float:
    return float(np.std(psi, ddof=1) / math.sqrt(psi.size))


def _group_metrics(t: np.ndarray, d: np.ndarray, x: np.ndarray | None,
                   preds: dict[float, np.ndarray], grid: np.ndarray, g: Any, conf_level: float,
                   notes: list[str]) -> tuple[list[Estimate], list[pd.DataFrame]]:
    n, n1 = int(t.size), int(d.sum())

    def row(term: str, est: float, se: float, tk: float = math.nan, clip: bool = False
            ) -> Estimate:
        return _row(term, est, se, g, tk, n, n1, conf_level, clip)

    out: list[Estimate] = []
    if x is not None:
        tau = float(grid.max()) if grid.size else None
        h, u = sm.c_indices(t, d, x, [(None, False), (tau, True)])
        out.append(row("harrell_c", h.estimate, math.sqrt(h.variance), clip=True))
        out.append(row("uno_c", u.estimate, math.sqrt(u.variance),
                       tau if tau is not None else float(t.max()), clip=True))
        if tau is None:
            notes.append("uno_c: no times given, so not truncated (tau = the last follow-up "
                         "time); its weights 1 / G^2 can be unstable in the tail")
    gkm = censoring_km(t, d, np.ones(n))
    cal = []
    for tk in grid.tolist():
        p = preds.get(tk)
        if p is None and x is None:
            continue
        score = x if p is None else p
        assert score is not None
        a, psi = sm.ipcw_auc(t, d, score, tk, gkm)
        out.append(row("auc", a, _se(psi), tk, clip=True))
        if p is None:
            continue
        b, psi_b = sm.ipcw_brier(t, d, p, tk, gkm)
        o, o_se = sm.km_risk(t, d, tk)
        b0, psi_0 = sm.ipcw_brier(t, d, np.full(n, o), tk, gkm)
        ipa = 1.0 - b / b0
        psi_ipa = -(psi_b / b0 - b * psi_0 / b0 ** 2)
        e = float(p.mean())
        out += [row("brier", b, _se(psi_b), tk), row("brier_null", b0, _se(psi_0), tk),
                row("ipa", ipa, _se(psi_ipa), tk),
                row("oe_ratio", o / e, o_se / o if o > 0 else math.nan, tk)]
        cal.append(_calibration(t, d, p, tk, g))
    return out, cal


def _calibration(t: np.ndarray, d: np.ndarray, p: np.ndarray, tk: float, g: Any,
                 n_bins: int = 10) -> pd.DataFrame:
    """Kaplan-Meier risk vs mean predicted risk in deciles of predicted risk."""
    edges = np.quantile(p, np.linspace(0, 1, n_bins + 1)[1:-1])
    b = np.searchsorted(edges, p, side="right")
    recs = []
    for k in range(n_bins):  # loop over the 10 bins, not over rows or times
        m = b == k
        if not m.any():
            recs.append((k + 1, 0, math.nan, math.nan, math.nan))
            continue
        o, se = sm.km_risk(t[m], d[m], tk)
        recs.append((k + 1, int(m.sum()), float(p[m].mean()), o, se))
    f = pd.DataFrame(recs, columns=["bin", "n", "mean_risk", "observed", "observed_std_error"])
    f.insert(0, "time", float(tk))
    f.insert(0, "group", [g] * n_bins)
    return f

