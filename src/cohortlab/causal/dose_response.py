"""``dose_response``: the dose-response curve of a continuous exposure.

Two estimators of the curve ``a -> E[Y(a)]`` over a grid of exposure values: the parametric
g-formula (an outcome model on dose terms and covariates, standardised over the sample) and
inverse probability weighting with a generalised propensity score (a marginal structural
model on the dose terms, weighted by stabilised normal-density weights). The result is a
:class:`DoseResponse`, an :class:`~cohortlab.results.EstimateTable` whose rows carry ``dose``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, cast

import numpy as np
import pandas as pd

from .._design import _check_rank, build_design, covariate_columns
from .._typing import CIMethod, DoseVariance, EffectMeasure, Missing, RandomState
from .._validation import (
    apply_missing,
    check_columns,
    check_int,
    check_numeric,
    check_option,
    check_weights,
    verb,
    verb_name,
)
from ..exceptions import DataValidationError
from ..inference.bootstrap import bootstrap
from ..results.estimate import Estimate, EstimateTable
from ._dose import (
    bootstrap_statistic,
    curve_contrasts,
    curve_stats,
    dose_grid,
    exposure_summary,
    fit_curve_glm,
    gps_weights,
    make_basis,
    outcome_binary,
    scaled_design,
    slope_step,
    summary_note,
    variance_note,
    weight_notes,
)
from ._propensity import truncate_weights

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["dose_response", "DoseResponse"]

DoseMethod: TypeAlias = Literal["gformula", "ipw"]
DoseTerms: TypeAlias = Literal["spline", "linear", "quadratic"]
OutcomeType: TypeAlias = Literal["auto", "continuous", "binary"]
DoseMeasure: TypeAlias = Literal["difference", "ratio"]
Quantity: TypeAlias = Literal["mean", "contrast"]

#: Extra columns of :meth:`DoseResponse.to_frame`, after the tidy schema.
DOSE_COLUMNS = ("quantity", "dose", "reference")


# ---------------------------------------------------------------------- result
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class DoseResponse(EstimateTable):
    """A dose-response curve: an :class:`EstimateTable` whose rows carry the dose.

    ``to_frame()`` has the tidy schema and then the columns ``quantity`` (``"mean"``: the
    mean potential outcome ``E[Y(a)]`` at ``dose``; ``"contrast"``: ``E[Y(dose)]`` vs
    ``E[Y(reference)]``; ``"slope"``: the per-unit or per-SD contrast
    ``E[Y(reference + per)]`` vs ``E[Y(reference)]``, linear dose terms only), ``dose`` and
    ``reference``.

    Attributes
    ----------
    exposure, outcome : str
    method : {"gformula", "ipw"}
    reference : float
        The reference dose of the contrasts.
    grid : tuple of float
        The doses of the curve (the requested grid plus the reference).
    dose_terms : {"spline", "linear", "quadratic"}
    per : float or None
        The slope row's step in exposure units (None without a slope row).
    coefficients : EstimateTable
        The outcome model (g-formula) or marginal structural model (IPW) coefficients with
        HC0 sandwich standard errors (GPS weights treated as known).
    exposure_values : numpy.ndarray
        The analysed exposure values (the plot's rug).
    exposure_summary : dict
        ``n, mean, sd, min, q05, median, q95, max`` of the analysed exposure.
    gps_weights : pandas.Series or None
        The stabilised GPS weights (after truncation) with ``method="ipw"``.
    """

    exposure: str = ""
    outcome: str = ""
    method: str = ""
    reference: float = math.nan
    grid: tuple[float, ...] = ()
    dose_terms: str = "spline"
    per: float | None = None
    coefficients: EstimateTable | None = field(default=None, repr=False)
    exposure_values: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    exposure_summary: dict[str, float] = field(default_factory=dict)
    gps_weights: pd.Series | None = field(default=None, repr=False)

    def _select(self, quantity: str) -> tuple[Estimate, ...]:
        return tuple(r for r in self.rows if r.labels.get("quantity") == quantity)

    @property
    def means(self) -> EstimateTable:
        """The mean potential outcome ``E[Y(a)]`` at each dose of the grid."""
        return EstimateTable(rows=self._select("mean"), title=f"{self._title()}: means",
                             dropped=self.dropped, notes=self.notes)

    @property
    def contrasts(self) -> EstimateTable:
        """``E[Y(a)]`` vs ``E[Y(reference)]`` at each dose other than the reference."""
        return EstimateTable(rows=self._select("contrast"), title=f"{self._title()}: contrasts",
                             dropped=self.dropped, notes=self.notes)

    @property
    def slope(self) -> Estimate | None:
        """The per-unit (or per-SD) contrast row, with ``dose_terms="linear"`` only."""
        rows = self._select("slope")
        return rows[0] if rows else None

    def plot(self, ax: Axes | None = None, *, quantity: Quantity = "mean",
             rug: bool = True) -> Axes:
        """The curve with its confidence band, the reference dose marked and a rug.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        quantity : {"mean", "contrast"}
            The mean potential outcome, or the contrast with the reference (log axis for
            ratios; the reference is drawn at the null value).
        rug : bool
            Tick marks at the observed exposure values (at most 2,000 quantiles).
        """
        from ..report.style import COLORS, axes, style

        check_option(quantity, Quantity, "quantity", "DoseResponse.plot")
        ax = axes(ax, (6.0, 4.0))
        rows = self._select(quantity)
        x = np.array([r.labels["dose"] for r in rows], dtype=float)
        y = np.array([r.estimate for r in rows])
        lo = np.array([r.conf_low for r in rows])
        hi = np.array([r.conf_high for r in rows])
        first = rows[0]
        if quantity == "contrast":  # the reference: no contrast, drawn at the null value
            x, y = np.r_[x, self.reference], np.r_[y, first.null_value]
            lo, hi = np.r_[lo, first.null_value], np.r_[hi, first.null_value]
            order = np.argsort(x)
            x, y, lo, hi = x[order], y[order], lo[order], hi[order]
            ax.axhline(first.null_value, color="#888", lw=0.8, ls="--")
            if first.is_ratio:
                from matplotlib.ticker import FuncFormatter

                ax.set_yscale("log")
                plain = FuncFormatter(lambda v, _: f"{v:.3g}")
                ax.yaxis.set_major_formatter(plain)
                ax.yaxis.set_minor_formatter(plain)
        ax.fill_between(x, lo, hi, color=COLORS[0], alpha=0.2, lw=0,
                        label=f"{100 * first.conf_level:g}% CI")
        ax.plot(x, y, color=COLORS[0], lw=1.8, label="estimate")
        ax.axvline(self.reference, color=COLORS[1], lw=0.9, ls=":")
        y_ref = y[np.argmin(np.abs(x - self.reference))]
        ax.plot([self.reference], [y_ref], "o", color=COLORS[1], ms=5,
                label=f"reference ({self.reference:.4g})")
        if rug and self.exposure_values.size:
            vals = np.unique(self.exposure_values)
            if vals.size > 2000:
                vals = np.quantile(self.exposure_values, np.linspace(0, 1, 2000))
            ax.plot(vals, np.zeros(vals.size), "|", color="#444", ms=8, alpha=0.5,
                    transform=ax.get_xaxis_transform(), clip_on=False)
        ax.set_xlabel(self.exposure)
        if quantity == "mean":
            ax.set_ylabel(f"E[{self.outcome}({self.exposure} = a)]")
        else:
            ax.set_ylabel(f"{first.effect_measure.replace('_', ' ')} vs "
                          f"{self.exposure} = {self.reference:.4g}")
        ax.legend(frameon=False, fontsize=8)
        style(ax)
        return ax


# ---------------------------------------------------------------------- the verb
@verb
def dose_response(
    data: pd.DataFrame,
    *,
    exposure: str,
    outcome: str,
    covariates: str | Sequence[str],
    method: DoseMethod = "gformula",
    grid: Sequence[float] | np.ndarray | None = None,
    reference: float | None = None,
    dose_terms: DoseTerms = "spline",
    df: int = 3,
    outcome_type: OutcomeType = "auto",
    effect_measure: DoseMeasure = "difference",
    per: float | Literal["sd"] | None = None,
    interactions: Sequence[str] | None = None,
    numerator_covariates: str | Sequence[str] | None = None,
    weights: str | None = None,
    truncate: tuple[float, float] | None = None,
    variance: DoseVariance | None = None,
    n_boot: int = 1000,
    n_jobs: int = 1,
    conf_level: float = 0.95,
    random_state: RandomState = None,
    missing: Missing = "raise",
) -> DoseResponse:
    """Dose-response curve ``a -> E[Y(a)]`` of a continuous exposure, with contrasts.

    Estimand: the mean potential outcome ``E[Y(a)]`` had everyone received dose ``a``, at
    each dose of ``grid``, and its contrast with ``E[Y(reference)]`` (difference; or ratio for
    a binary outcome). With ``dose_terms="linear"`` a slope row adds the contrast
    ``E[Y(reference + u)]`` vs ``E[Y(reference)]`` for a step ``u`` of one unit (``per=None``),
    one SD of the exposure (``per="sd"``) or ``per`` units; for a continuous outcome this is
    the linear coefficient times ``u``, the same at every reference.

    Methods (``method=``):

    - ``"gformula"``: outcome regression (linear, or logistic for a binary outcome) on the
      dose terms of the exposure and ``covariates``, standardised over the analysed sample
      at each dose (one matrix product per dose; Robins 1986; *What If* ch. 13).
    - ``"ipw"``: generalised propensity score weighting (Robins, Hernán & Brumback 2000;
      *What If* §12.4). The exposure model is a normal linear regression ``A ~ covariates``;
      the stabilised weights are ``f(A) / f(A | L)`` with normal densities (residual SD as R's
      ``summary(lm)$sigma``), the numerator marginal or given ``numerator_covariates``. The
      marginal structural model is a weighted GLM of the outcome on the dose terms (plus the
      numerator covariates, whose MSM predictions are then averaged over the sample).

    Dose terms: a natural cubic spline with ``df`` degrees of freedom, knots as R's
    ``splines::ns(A, df)`` (fitted curves equal R's), or ``A``, or ``A + A^2``; the spline is
    linear beyond its boundary knots. Spline knots are kept fixed in bootstrap replicates.

    Identifying assumptions: conditional exchangeability given ``covariates`` at every dose,
    positivity (every dose of the grid possible at every covariate level; the grid must lie
    within the observed exposure range), consistency, and a correctly specified outcome model
    (g-formula) or exposure density and MSM (IPW).

    Variance (``variance=``):

    - ``"influence_function"`` (default with ``method="gformula"``): the influence function
      of the standardised means including the outcome-model coefficients' estimation
      (M-estimation chain rule, as :func:`gformula`).
    - ``"robust"`` (default with ``method="ipw"``): the robust HC0 sandwich of the weighted
      MSM treating the GPS weights as known (as R's ``geeglm`` or ``lm`` +
      ``sandwich::vcovHC(type="HC0")``), through the sample mean when the MSM has numerator
      covariates; it ignores the estimation of the GPS (use the bootstrap to include it).
      Contrasts by the delta method (ratios on the log scale).
    - ``"bootstrap"``: ``n_boot`` resamples refitting every model (the GPS too); percentile
      intervals, the same numbers whatever ``n_jobs``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per subject; never modified.
    exposure : str
        A numeric exposure with at least 3 distinct values (a binary exposure belongs to
        ``gformula()`` or ``ipw()``).
    outcome : str
        Numeric outcome; a 0/1 outcome gives risks (logistic model) unless
        ``outcome_type="continuous"``.
    covariates : list of str or str
        The confounders: the outcome model's right-hand side (``"gformula"``) or the exposure
        model's (``"ipw"``). They must not contain the exposure: its dose terms are added by
        ``dose_terms``.
    method : {"gformula", "ipw"}
        Outcome regression standardised over the sample, or a GPS-weighted marginal structural
        model.
    grid : sequence of float, optional
        The doses of the curve. Default: 20 equally spaced values from the 5th to the 95th
        percentile of the exposure. A dose outside the observed range raises an error (the curve
        there would be extrapolation). The reference is added when it is not on the grid.
    reference : float, optional
        Reference dose of the contrasts, within the observed range; default the median.
    dose_terms : {"spline", "linear", "quadratic"}
        How the exposure enters the model: a natural cubic spline with ``df`` degrees of
        freedom (knots placed as R's ``splines::ns(A, df)``: boundary knots at the range,
        interior knots at quantiles; linear beyond the boundary knots), ``A``, or ``A + A^2``.
    df : int
        Spline degrees of freedom (``df=1`` is linear).
    outcome_type : {"auto", "continuous", "binary"}
        ``"auto"`` treats a 0/1 outcome as binary; ``"continuous"`` fits a linear (probability)
        model to it.
    effect_measure : {"difference", "ratio"}
        Ratio needs a binary outcome (risk ratio; CI from the log scale).
    per : float or "sd", optional
        With ``dose_terms="linear"``: the step of the slope row, one unit by default, one SD of
        the exposure with ``"sd"``, or ``per`` units.
    interactions : list of str, optional
        g-formula only: numeric covariate columns whose products with every dose term enter
        the outcome model (effect modification; the curve averages over their distribution).
        Put them in ``covariates`` too, for their main effects.
    numerator_covariates : list of str or str, optional
        ``"ipw"`` only: covariates of the weights' numerator density; they are also put in the
        MSM, whose predictions are then averaged over the sample.
    weights : str, optional
        Sampling weights (in every fit and in the standardisation).
    truncate : (float, float), optional
        IPW only: truncate the stabilised weights at these quantiles; recorded in ``notes``.
    variance : {"influence_function", "robust", "bootstrap"}, optional
        Default: ``"influence_function"`` for the g-formula, ``"robust"`` for IPW.
    n_boot, n_jobs, random_state
        Bootstrap settings; the same seed gives the same numbers whatever ``n_jobs``.
    conf_level : float
    missing : {"raise", "drop"}

    Returns
    -------
    DoseResponse
        Rows: ``E[Y(a)]`` at each dose (``quantity="mean"``), the contrasts with the
        reference (``"contrast"``) and, for linear dose terms, the slope (``"slope"``).
        ``notes`` hold the exposure distribution, the models and the weights' summary and
        truncation; ``coefficients`` the fitted model.

    Examples
    --------
    *What If* Program 12.4: weight gain by change in smoking intensity, quadratic MSM.

    >>> import cohortlab as cl
    >>> d = cl.datasets.load_nhefs().query("wt82 == wt82 and smokeintensity <= 25")
    >>> L = ("C(sex) + C(race) + age + I(age**2) + C(education) + smokeintensity"
    ...      " + I(smokeintensity**2) + smokeyrs + I(smokeyrs**2) + C(exercise) + C(active)"
    ...      " + wt71 + I(wt71**2)")
    >>> dr = dose_response(d, exposure="smkintensity82_71", outcome="wt82_71", covariates=L,
    ...                    method="ipw", dose_terms="quadratic", grid=[0, 20], reference=0)
    >>> m = dr.means.to_frame()
    >>> m[["dose", "estimate", "conf_low", "conf_high"]].round(2).to_numpy().tolist()
    [[0.0, 2.0, 1.43, 2.58], [20.0, 0.9, -1.66, 3.47]]
    """
    check_columns(data, exposure=exposure, outcome=outcome, weights=weights)
    analytic: DoseVariance = "influence_function" if method == "gformula" else "robust"
    if variance is None:
        variance = analytic
    elif variance not in (analytic, "bootstrap"):
        raise DataValidationError(
            f"{verb_name()}(): variance={variance!r} does not apply to method={method!r}; use "
            f"variance={analytic!r} (the default) or variance=\"bootstrap\".")
    if method == "gformula":
        for arg, val in (("numerator_covariates", numerator_covariates),
                         ("truncate", truncate)):
            if val is not None:
                raise DataValidationError(
                    f"{verb_name()}(): {arg} applies to method=\"ipw\" only; got {arg}={val!r} "
                    "with "
                    "method=\"gformula\". Remove it or use method=\"ipw\".")
    elif interactions:
        raise DataValidationError(
            f"{verb_name()}(): interactions applies to method=\"gformula\" only (the MSM is "
            "marginal); "
            f"got interactions={interactions!r} with method=\"ipw\". Remove it.")
    mods = _check_interactions(data, interactions, exposure)
    df = check_int(df, "df", 1, hint="Pass e.g. df=3 (spline degrees of freedom).")
    cov_cols = covariate_columns(covariates, data, verb_name())
    num_cols = (covariate_columns(numerator_covariates, data, verb_name())
                if numerator_covariates is not None else [])
    if exposure in cov_cols + num_cols:
        raise DataValidationError(
            f"{verb_name()}(): column {exposure!r} (exposure) is also among the covariates; its "
            "dose "
            "terms are added by dose_terms=. Remove it from covariates.")
    used = [exposure, outcome, *cov_cols, *num_cols, *mods] + ([weights] if weights else [])
    frame, dropped = apply_missing(data, used, missing)
    a = _check_exposure(frame, exposure)
    y = check_numeric(frame, outcome, "outcome")
    binary = outcome_binary(y, outcome, outcome_type, effect_measure)
    s = check_weights(frame, weights) if weights else np.ones(a.size)
    try:
        basis = make_basis(a, dose_terms, df, exposure)
    except ValueError:
        knots = np.quantile(a, np.linspace(0.0, 1.0, df + 1))
        raise DataValidationError(
            f"{verb_name()}(): dose_terms=\"spline\" with df={df} gives duplicate knots in column "
            f"{exposure!r} (exposure); got knots {np.round(knots, 4).tolist()} "
            f"({np.unique(a).size:,} distinct values). Use a smaller df.") from None
    doses, ref, ref_idx = dose_grid(a, grid, reference, exposure)
    step = slope_step(per, a, dose_terms)
    points = doses if step is None else np.r_[doses, ref + step]
    summary = exposure_summary(a)

    # ------------------------------------------------------------------ the GLM's design
    notes: list[str] = [summary_note(exposure, summary)]
    Z = Zn = None
    sw = None
    if method == "gformula":
        cd = build_design(frame, covariates, verb_name())
        C, c_names = cd.X, cd.names
        w_fit = s
        kind = "logistic" if binary else "linear"
        inter = f" + its products with {', '.join(mods)}" if mods else ""
        notes.append(f"outcome model: {kind} regression of {outcome} on {basis.describe()}"
                     f"{inter} + {cd.formula}")
    else:
        zd = build_design(frame, covariates, verb_name())
        Z = zd.X
        if numerator_covariates is not None:
            nd = build_design(frame, numerator_covariates, verb_name())
            Zn, c_names, num_txt = nd.X, nd.names, f"normal linear regression on {nd.formula}"
        else:
            Zn, c_names, num_txt = np.ones((a.size, 1)), ("Intercept",), "marginal normal"
        C = Zn
        sw_raw, s_den, s_num, _ = gps_weights(a, Z, Zn, s, np.ones(a.size))
        sw, trunc_note = truncate_weights(sw_raw, np.ones(a.size, dtype=bool), truncate,
                                          verb_name())
        w_fit = s * sw
        notes.append(f"exposure model (GPS): normal linear regression of {exposure} on "
                     f"{zd.formula}, residual SD {s_den:.4g}; numerator: {num_txt}, "
                     f"residual SD {s_num:.4g}")
        notes += weight_notes(sw, s, trunc_note)
        kind = "logistic" if binary else "linear"
        extra = "" if numerator_covariates is None else " + numerator covariates"
        notes.append(f"marginal structural model: weighted {kind} regression of {outcome} on "
                     f"{basis.describe()}{extra}")
    Zm = np.column_stack([np.ones(a.size)] + [check_numeric(frame, c, "interactions")
                                              for c in mods])
    X, b_scale, scale = scaled_design(basis.matrix(a), Zm, C)  # dose columns of unit size
    names = (basis.names + tuple(f"{b}:{z}" for z in mods for b in basis.names)
             + tuple(c_names))
    _check_rank(X, names, verb_name())
    Bg = basis.matrix(points) / b_scale
    fit = fit_curve_glm(X, y, w_fit, binary, names, verb_name(), outcome)
    mu, V, V_beta = curve_stats(fit, X, y, w_fit, Bg, Zm, C, s, binary)
    if binary and effect_measure == "ratio" and not (mu > 0).all():  # pragma: no cover
        raise DataValidationError(f"{verb_name()}(): a standardised risk is 0; the ratio is "
                                  "undefined.")

    common: dict[str, Any] = dict(
        method=method, n=int(a.size), n_events=int(y.sum()) if binary else None,
        dropped=dropped, conf_level=conf_level)
    boot = None
    if variance == "bootstrap":
        stat = bootstrap_statistic(a, y, s, X, Zm, C, Bg, Z, Zn, binary, truncate, fit.coef,
                                   names, outcome)
        boot = bootstrap(stat, int(a.size), n_boot=n_boot, random_state=random_state,
                         n_jobs=n_jobs)
        if boot.n_failed:
            notes.append(f"{boot.n_failed:,} of {n_boot:,} bootstrap replicates failed and were "
                         "excluded")
    rows = _rows(mu, V, boot.valid if boot else None, doses, ref, ref_idx, step, per,
                 exposure, binary, effect_measure, method, common)
    notes.append(variance_note(method, variance, n_boot))
    coefs = _coefficients(fit.coef / scale, V_beta / np.outer(scale, scale), names, common,
                          method)
    title = (f"{'g-formula' if method == 'gformula' else 'IPW (GPS-weighted MSM)'} "
             f"dose-response of {outcome} on {exposure}")
    idx = frame.index
    return DoseResponse(
        rows=tuple(rows), title=title, dropped=dropped, notes=tuple(notes), exposure=exposure,
        outcome=outcome, method=method, reference=ref, grid=tuple(float(g) for g in doses),
        dose_terms=dose_terms, per=step, coefficients=coefs, exposure_values=a,
        exposure_summary=summary,
        gps_weights=pd.Series(sw, index=idx, name="gps_weight") if sw is not None else None)


# ---------------------------------------------------------------------- validation
def _check_interactions(data: pd.DataFrame, interactions: Any, exposure: str) -> list[str]:
    if interactions is None:
        return []
    cols = [interactions] if isinstance(interactions, str) else list(interactions)
    check_columns(data, interactions=cols)
    if exposure in cols:
        raise DataValidationError(
            f"{verb_name()}(): column {exposure!r} (exposure) cannot be in interactions; the dose "
            "terms "
            "already model it. Remove it.")
    return list(dict.fromkeys(cols))


def _check_exposure(frame: pd.DataFrame, exposure: str) -> np.ndarray:
    a = check_numeric(frame, exposure, "exposure")
    values = np.unique(a)
    if values.size < 3:
        what = "constant" if values.size == 1 else "binary"
        hint = ("it carries no contrast; check the column or the filters that produced it"
                if values.size == 1 else
                "for a binary exposure use gformula() or ipw()")
        raise DataValidationError(
            f"{verb_name()}(): column {exposure!r} (exposure) is {what}; got {values.size} "
            "distinct "
            f"value(s) {values[:2].tolist()}. A dose-response curve needs a continuous "
            f"exposure; {hint}.")
    return a


# ---------------------------------------------------------------------- rows
def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _rows(mu: np.ndarray, V: np.ndarray, reps: np.ndarray | None, doses: np.ndarray,
          ref: float, ref_idx: int, step: float | None, per: Any, exposure: str, binary: bool,
          measure: str, method: str, common: dict[str, Any]) -> list[Estimate]:
    ci: CIMethod = "influence_function" if method == "gformula" else "sandwich_known_weights"
    mean_measure = "risk" if binary else "mean"
    contrast_measure = {("difference", True): "risk_difference",
                        ("difference", False): "mean_difference",
                        ("ratio", True): "risk_ratio"}[(measure, binary)]
    specs: list[tuple[str, str, float, float, float, np.ndarray | None]] = []
    se_mu, others, est, se, rep_c = curve_contrasts(mu, V, reps, doses.size, ref_idx,
                                                    step is not None, measure)
    for j, g in enumerate(doses):
        specs.append((f"{exposure}={_fmt(g)}", "mean", g, math.nan, se_mu[j],
                      reps[:, j] if reps is not None else None))
    rows: list[Estimate] = []
    for (term, qty, g, r, sej, rj), m in zip(specs, mu[: doses.size], strict=True):
        rows.append(_estimate(term, m, sej, rj, cast(EffectMeasure, mean_measure), ci, common,
                              {"quantity": qty, "dose": float(g), "reference": r}))
    for k, j in enumerate(others):
        if j == doses.size:  # the slope: reference + step vs reference
            assert step is not None  # a slope row exists only with a step
            unit = "per SD" if per == "sd" else "per unit" if per is None else f"per {_fmt(step)}"
            term = f"{exposure} ({unit}{f' = {step:.4g}' if per == 'sd' else ''})"
            labels = {"quantity": "slope", "dose": float(ref + step), "reference": ref}
        else:
            term = f"{exposure}={_fmt(doses[j])} vs {_fmt(ref)}"
            labels = {"quantity": "contrast", "dose": float(doses[j]), "reference": ref}
        rows.append(_estimate(term, float(est[k]), float(se[k]),
                              rep_c[:, k] if rep_c is not None else None,
                              cast(EffectMeasure, contrast_measure),
                              ci, common, labels))
    return rows


def _estimate(term: str, est: float, se: float, reps: np.ndarray | None, measure: EffectMeasure,
              ci: CIMethod, common: dict[str, Any], labels: dict[str, Any]) -> Estimate:
    if reps is not None:
        return Estimate.from_bootstrap(term, float(est), reps, effect_measure=measure,
                                       labels=labels, **common)
    return Estimate.from_model_scale(term, float(est), float(se), effect_measure=measure,
                                     ci_method=ci, labels=labels, **common)


def _coefficients(beta: np.ndarray, V: np.ndarray, names: Sequence[str],
                  common: dict[str, Any], method: str) -> EstimateTable:
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    what = "outcome model" if method == "gformula" else "marginal structural model"
    rows = tuple(Estimate.from_model_scale(
        str(nm), float(b), float(e), effect_measure="coefficient", ci_method="wald_sandwich",
        **common) for nm, b, e in zip(names, beta, se, strict=True))
    return EstimateTable(rows=rows, title=f"{what} coefficients (HC0 sandwich SE)",
                         dropped=common["dropped"])
