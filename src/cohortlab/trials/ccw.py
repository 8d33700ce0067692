"""``clone_censor_weight()``: "start within a grace period" vs "never start" by cloning."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._typing import EffectMeasure
from .._validation import check_conf_level, check_truncate, verb, verb_name
from ..exceptions import DataValidationError
from ..inference.bootstrap import bootstrap, bootstrap_interval
from ..results import Curve, Estimate, EstimateTable, ModelResult
from ._ccw import CCWFit, fit_sample, histories
from ._input import check_horizons
from ._weights import weight_stats
from .result import TrialsResult

__all__ = ["clone_censor_weight"]

FollowupTerms = Literal["linear", "quadratic", "cubic", "saturated"]


@verb
def clone_censor_weight(
    data: pd.DataFrame,
    *,
    id: str,  # noqa: A002 - the shared long-format contract names it id=
    period: str,
    treatment: str,
    outcome: str,
    covariates: Sequence[str] = (),
    grace: int = 3,
    censor: str | None = None,
    sustained: bool = True,
    followup_terms: FollowupTerms = "quadratic",
    horizons: Sequence[int] | int | None = None,
    truncate: tuple[float, float] | None = None,
    n_boot: int = 200,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int = 1,
    conf_level: float = 0.95,
) -> TrialsResult:
    """Clone-censor-weight: risks under "start within ``grace`` periods" vs "never start".

    Every person is eligible at time zero (their first row; nobody treated before it) and is
    cloned into both arms. Each clone is artificially censored at the first period its data
    deviate from its strategy (that row is dropped): arm 0 ("never start") at initiation;
    arm 1 ("start within ``grace``") at follow-up ``grace`` if not started by then and,
    with ``sustained=True``, at the first period off treatment after initiating ("start
    within ``grace`` periods and stay on"). Within the grace window either choice follows
    the strategy, so the timing of initiation is left to its natural course; ``grace=0``
    gives "always" vs "never".

    **Estimand.** The cumulative incidence of ``outcome`` at each follow-up period had
    everybody followed each strategy, their difference and ratio (per-protocol effects of
    the two strategies, from a common time zero: no immortal time).

    **Identifying assumptions.** Sequential exchangeability of initiation (and stopping)
    given follow-up time and the current ``covariates``; positivity of following each
    strategy; consistency; correct pooled logistic models for the treatment decisions and
    the outcome hazard; loss to follow-up (``censor``) and any row with a missing outcome
    independent of the outcome given follow-up time and arm (these rows leave the outcome
    model, counted in the flow).

    **Weights** (Hernán 2018; Maringe et al. 2020). Pooled logistic models on the
    person-period rows: initiation, on rows not yet started; stopping, on rows on treatment
    since initiation; denominators ``followup + covariates`` (current values), numerators
    ``followup``. Per clone and period the factor is
    ``(1 - p_init_num) / (1 - p_init_den)`` in arm 0; in arm 1 it is 1 during the grace
    window except at its last period (``grace``), where a clone initiating then gets
    ``p_init_num / p_init_den`` (only the last grace period is informative), and
    ``(1 - p_stop_num) / (1 - p_stop_den)`` on treatment afterwards (``sustained``). The
    stabilised weight is the cumulative product. ``truncate=(low, high)`` truncates the
    weights of the outcome-model rows at those quantiles (recorded in the notes).

    **Outcome model.** A weighted pooled logistic model of the outcome hazard by arm
    (``arm x followup_terms``); risks ``1 - prod(1 - hazard)``.

    **Variance.** Person-level bootstrap (:func:`cohortlab.inference.bootstrap`, clusters =
    persons, so a person's two clones are resampled together), refitting every model;
    percentile intervals. ``model.vcov`` is the bootstrap covariance of its coefficients.

    Parameters
    ----------
    data : pandas.DataFrame
        Person-period rows sorted by ``(id, period)``, periods consecutive from each person's
        time zero.
    id, period, treatment, outcome : str
        Person, period, treatment in the period (0/1), outcome at the end of the period
        (0/1; NaN where not observed).
    covariates : sequence of str
        Numeric covariates of the treatment-decision (denominator) models, current values.
    grace : int
        Grace period: arm 1 must start by follow-up ``grace`` (0 = at time zero).
    censor : str, optional
        Loss to follow-up in the period (0/1): the row leaves the outcome model.
    sustained : bool
        Arm 1 also requires staying on treatment once started.
    followup_terms : {"linear", "quadratic", "cubic", "saturated"}
        Follow-up terms of the outcome model (by arm); "saturated": one per period.
    horizons : int or sequence of int, optional
        Follow-up periods at which risks are contrasted (default: the last).
    truncate : (float, float), optional
        Quantiles ``(low, high)`` at which the weights are truncated, e.g. ``(0.01, 0.99)``
        (as in :func:`propensity_score`).
    n_boot, random_state, n_jobs : int, int or Generator, int
        Bootstrap replicates (>= 2), seed and joblib jobs.
    conf_level : float

    Returns
    -------
    TrialsResult
        ``effects`` (risk per arm, risk difference and ratio "start vs never" at each
        horizon), ``curves`` (risk by follow-up period, arm 1 = start within grace,
        arm 0 = never), ``model`` (the outcome model), ``flow``, ``weights`` diagnostics,
        ``notes``; ``switch_models`` holds the initiation/stopping model coefficients.

    Examples
    --------
    >>> import cohortlab as cl
    >>> df = cl.simulate_longitudinal(n=400, n_periods=4, random_state=2, censoring=False,
    ...                               competing=False, n_truth=2_000)
    >>> res = cl.clone_censor_weight(df, id="id", period="period", treatment="A",
    ...                              outcome="Y", covariates=["L", "V"], grace=1,
    ...                              n_boot=5, random_state=1)
    >>> res.effects.to_frame()["term"].tolist()[2]
    'risk difference (start within 1 vs never) at follow-up 3'
    """
    return _run_ccw(data, id=id, period=period, treatment=treatment, outcome=outcome,
                    covariates=covariates, grace=grace, censor=censor, sustained=sustained,
                    followup_terms=followup_terms, horizons=horizons, truncate=truncate,
                    n_boot=n_boot, random_state=random_state, n_jobs=n_jobs,
                    conf_level=conf_level)


def _run_ccw(
    data: pd.DataFrame, *, id: str, period: str, treatment: str,  # noqa: A002
    outcome: str, covariates: Sequence[str], grace: int, censor: str | None,
    sustained: bool, followup_terms: FollowupTerms, horizons: Sequence[int] | int | None,
    truncate: tuple[float, float] | None, n_boot: int,
    random_state: int | np.random.Generator | None,
    n_jobs: int, conf_level: float,
) -> TrialsResult:
    """The body of :func:`clone_censor_weight` (also run by ``emulate_target_trial``)."""
    check_conf_level(conf_level)
    truncate = check_truncate(truncate)
    covs = _check_inputs(data, id, period, treatment, outcome, covariates, grace, censor,
                         n_boot)
    df = data
    person = pd.factorize(df[id].to_numpy())[0].astype(np.int64)
    if np.any(np.diff(person) < 0) or np.any(
            (np.diff(df[period].to_numpy()) != 1) & (np.diff(person) == 0)):
        raise DataValidationError(
            f"{verb_name()}(): rows must be sorted by ({id!r}, {period!r}) with consecutive "
            "periods per person; sort with df.sort_values([id, period]) and fill gaps.")
    a = df[treatment].to_numpy()
    if not np.isin(a, (0, 1)).all():
        raise DataValidationError(
            f"{verb_name()}(): column {treatment!r} must be 0/1 in every row; found "
            f"{sorted(pd.unique(a[~np.isin(a, (0, 1))]))[:5]}. Recode it.")
    y = df[outcome].to_numpy(dtype=float)
    if not np.isin(y[~np.isnan(y)], (0.0, 1.0)).all():
        raise DataValidationError(f"{verb_name()}(): column {outcome!r} must be 0/1 or NaN.")
    Z = df[covs].to_numpy(dtype=float) if covs else np.zeros((len(df), 0))
    if not np.isfinite(Z).all():
        raise DataValidationError(
            f"{verb_name()}(): covariates {covs} have missing or infinite values; impute or drop "
            "those rows first.")
    lost = (df[censor].to_numpy(dtype=float) == 1) if censor else np.zeros(len(df), bool)
    arrays = {"person": person, "a": a.astype(np.int64), "y": y, "Z": Z, "lost": lost}
    n_fu = int(histories(person, a)["fu"].max()) + 1
    if grace >= n_fu:
        raise DataValidationError(
            f"{verb_name()}(): grace={grace} is not below the longest follow-up ({n_fu} periods).")
    hz = check_horizons(horizons, n_fu)
    opts = {"grace": grace, "sustained": sustained, "kind": followup_terms, "n_fu": n_fu,
            "truncate": truncate, "covs": covs}
    fit = _fit(arrays, opts)
    notes = list(fit["notes"])

    def stat(idx: np.ndarray) -> np.ndarray:
        # idx holds whole persons, each copy's rows contiguous and in period order (the
        # rows are sorted by person): a new copy starts where the person changes or the
        # row index does not increase (the same person drawn twice in a row)
        sub = {k: v[idx] for k, v in arrays.items()}
        new = np.r_[True, (np.diff(person[idx]) != 0) | (np.diff(idx) <= 0)]
        sub["person"] = np.cumsum(new) - 1
        f = _fit_sample(sub, opts)
        return np.concatenate([f.R.ravel(), f.coef])

    boot = bootstrap(stat, person.size, n_boot=n_boot, random_state=random_state,
                     n_jobs=n_jobs, cluster=person)
    reps = boot.replicates
    notes.append(f"variance: person-level bootstrap, {n_boot} replicates (a person's two "
                 "clones resampled together), every model refitted; percentile intervals")
    R = fit["R"]
    Rreps = reps[:, : 2 * n_fu].reshape(-1, 2, n_fu)
    effects = _effects(R, Rreps, hz, grace, conf_level, fit, tuple(notes), boot.n_failed)
    curves = _curves(R, Rreps, conf_level, int(person.max()) + 1, tuple(notes))
    creps = reps[:, 2 * n_fu:]
    model = ModelResult(terms=fit["names"], params=fit["coef"],
                        vcov=np.atleast_2d(np.cov(creps, rowvar=False)),
                        effect_measure="odds_ratio", method="pooled_logistic",
                        ci_method="bootstrap_normal", conf_level=conf_level,
                        n=fit["n_rows"], n_events=fit["n_events"], estimand="per_protocol")
    return TrialsResult(effects=effects, curves=curves, model=model,
                        flow=_flow(fit["counts"]), weights=fit["wdiag"], notes=tuple(notes),
                        switch_models=fit["switch"])


def _check_inputs(data: Any, id: str, period: str, treatment: str, outcome: str,  # noqa: A002
                  covariates: Sequence[str], grace: Any, censor: str | None,
                  n_boot: Any) -> list[str]:
    if not isinstance(data, pd.DataFrame):
        raise DataValidationError(f"{verb_name()}(): data must be a pandas DataFrame; got "
                                  f"{type(data).__name__}.")
    if isinstance(covariates, str):
        raise DataValidationError(f"{verb_name()}(): covariates is a list of columns; got the "
                                  f"string {covariates!r} (write [{covariates!r}]).")
    covs = list(covariates)
    used = [id, period, treatment, outcome, *covs] + ([censor] if censor else [])
    missing = [c for c in used if c not in data.columns]
    if missing:
        raise DataValidationError(f"{verb_name()}(): column(s) {missing} not in data; available: "
                                  f"{list(data.columns)[:20]}.")
    if not (isinstance(grace, int | np.integer) and grace >= 0):
        raise DataValidationError(f"{verb_name()}(): grace must be an int >= 0; got {grace!r}.")
    if not (isinstance(n_boot, int | np.integer) and n_boot >= 2):
        raise DataValidationError(f"{verb_name()}(): n_boot must be an int >= 2; got {n_boot!r}.")
    return covs


def _fit(arr: dict[str, np.ndarray], opts: dict[str, Any]) -> dict[str, Any]:
    """:func:`fit_sample` on the data, with its notes, term names and tables."""
    f = _fit_sample(arr, opts)
    notes = []
    if f.bounds is not None:
        ql, qh = opts["truncate"]
        lo, hi = f.bounds
        notes.append(f"weights truncated at the {ql:g} and {qh:g} quantiles ({lo:.4g}, "
                     f"{hi:.4g}): {f.n_trunc:,} of {f.w.size:,} outcome-model rows changed")
    tn = ["Intercept", *{"linear": ["followup"], "quadratic": ["followup", "followup^2"],
                         "cubic": ["followup", "followup^2", "followup^3"]}.get(
        opts["kind"], [f"followup={j}" for j in range(1, f.n_terms)])]
    den_names = ["Intercept", "followup", *opts["covs"]]
    switch = pd.DataFrame({
        f"{key.split('_')[1]} {'numerator' if key.endswith('num') else 'denominator'}":
            pd.Series(v, index=den_names[: v.size])
        for key, v in f.probs.items() if key.startswith("coef_")}).reindex(den_names)
    stats = weight_stats(f.w, f.n_trunc)
    return {"R": f.R, "coef": f.coef, "names": tuple(
        f"arm {a}: {t}" for a in (0, 1) for t in tn), "notes": notes, "counts": f.counts,
            "n_rows": int(f.use.sum()), "n_events": int(f.y[f.use].sum()),
            "wdiag": pd.DataFrame({"statistic": list(stats), "value": list(stats.values())}),
            "switch": switch}


def _fit_sample(arr: dict[str, np.ndarray], opts: dict[str, Any]) -> CCWFit:
    return fit_sample(arr["person"], arr["a"], arr["y"], arr["Z"], arr["lost"],
                      grace=opts["grace"], sustained=opts["sustained"], kind=opts["kind"],
                      n_fu=opts["n_fu"], truncate=opts["truncate"], cov_names=opts["covs"])


def _flow(c: dict[str, int]) -> pd.DataFrame:
    rows = [("persons (each cloned into both arms)", c["persons"]),
            ("person-periods", c["person_periods"]), ("clone-periods", c["clone_rows"]),
            ("removed: deviation period, arm never (artificial censoring)", c["deviation_arm0"]),
            ("removed: after deviation, arm never", c["after_deviation_arm0"]),
            ("removed: deviation period, arm start (artificial censoring)", c["deviation_arm1"]),
            ("removed: after deviation, arm start", c["after_deviation_arm1"]),
            ("removed: lost to follow-up (censor = 1)", c["lost"]),
            ("removed: outcome missing", c["missing_outcome"]),
            ("rows in the outcome model", c["outcome_rows"]),
            ("events (arm never)", c["events_arm0"]), ("events (arm start)", c["events_arm1"])]
    return pd.DataFrame(rows, columns=["step", "n"])


def _effects(R: np.ndarray, reps: np.ndarray, hz: list[int], grace: int, conf_level: float,
             fit: dict[str, Any], notes: tuple[str, ...], n_failed: int) -> EstimateTable:
    rows: list[Estimate] = []
    common: dict[str, Any] = {"estimand": "per_protocol", "method": "clone_censor_weight",
                              "n": fit["n_rows"], "n_events": fit["n_events"],
                              "conf_level": conf_level, "n_failed": n_failed}
    lab = f"start within {grace}"
    with np.errstate(divide="ignore", invalid="ignore"):
        for h in hz:
            r1, r0 = reps[:, 1, h], reps[:, 0, h]
            pts: list[tuple[str, float, np.ndarray, EffectMeasure]] = [
                (f"risk ({lab}) at follow-up {h}", R[1, h], r1, "risk"),
                (f"risk (never) at follow-up {h}", R[0, h], r0, "risk"),
                (f"risk difference ({lab} vs never) at follow-up {h}", R[1, h] - R[0, h],
                 r1 - r0, "risk_difference"),
                (f"risk ratio ({lab} vs never) at follow-up {h}",
                 math.log(R[1, h] / R[0, h]), np.log(r1 / r0), "risk_ratio")]
            for term, est, rr, measure in pts:
                rows.append(Estimate.from_bootstrap(term, float(est), rr,
                                                    effect_measure=measure, **common))
    return EstimateTable(rows=tuple(rows), title=f"Clone-censor-weight (grace {grace})",
                         notes=notes)


def _curves(R: np.ndarray, reps: np.ndarray, conf_level: float, n: int,
            notes: tuple[str, ...]) -> Curve:
    frames = []
    for a in (1, 0):
        se, lo, hi = bootstrap_interval(R[a], reps[:, a, :], conf_level, "percentile")
        frames.append(pd.DataFrame({
            "time": np.arange(R.shape[1], dtype=float), "group": f"arm {a}", "cause": None,
            "n_risk": np.nan, "n_event": np.nan, "n_censor": np.nan, "estimate": R[a],
            "std_error": se, "conf_low": lo, "conf_high": hi, "conf_level": conf_level}))
    return Curve(data=pd.concat(frames, ignore_index=True), measure="cumulative_incidence",
                 method="clone_censor_weight", conf_type="plain", conf_level=conf_level, n=n,
                 estimand="per_protocol", notes=notes)
