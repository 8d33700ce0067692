"""``sequential_trials()``: emulate a sequence of nested target trials from person-period data."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from .._typing import EffectMeasure
from .._validation import check_conf_level, check_option, check_truncate, verb, verb_name
from ..exceptions import DataValidationError
from ..results import Curve, Estimate, EstimateTable, ModelResult
from ._chunked import map_chunks
from ._dask import bootstrap_backend, check_client, dask_source, is_dask_frame
from ._expand import max_followup
from ._input import (
    Columns,
    check_horizons,
    frame_source,
    parquet_source,
    to_arrays,
)
from ._model import PPSource, Spec, entries, outcome_names
from ._sequential import bootstrap_replicates, fit_all
from ._standardise import standardised_risks
from ._weights import weight_stats
from .result import TrialsResult

__all__ = ["sequential_trials"]

Estimand = Literal["itt", "per_protocol"]
TimeTerms = Literal["linear", "quadratic", "spline"]
TrialTerms = Literal["none", "linear", "quadratic", "spline"]
Interaction = Literal["none", "linear", "all"]
TrialsVariance = Literal["robust", "bootstrap"]
Engine = Literal["local", "dask"]


@runtime_checkable
class DaskDataFrame(Protocol):
    """What ``engine="dask"`` needs of a dask DataFrame (dask is an optional dependency)."""

    npartitions: int

    def to_delayed(self) -> Any: ...



@verb
def sequential_trials(
    data: pd.DataFrame | str | os.PathLike[str] | DaskDataFrame,
    *,
    id: str,  # noqa: A002 - the shared long-format contract names it id=
    period: str,
    treatment: str,
    outcome: str,
    eligible: str,
    covariates: Sequence[str] = (),
    censor: str | None = None,
    censor_weights: bool = False,
    competing: str | None = None,
    estimand: Estimand = "itt",
    switch_covariates: Sequence[str] = (),
    followup_terms: TimeTerms = "quadratic",
    trial_terms: TrialTerms = "quadratic",
    arm_by_followup: Interaction = "linear",
    horizons: Sequence[int] | int | None = None,
    truncate: tuple[float, float] | None = None,
    variance: TrialsVariance = "robust",
    n_boot: int = 200,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int = 1,
    conf_level: float = 0.95,
    chunk_persons: int = 20_000,
    engine: Engine = "local",
) -> TrialsResult:
    """Sequential target trials: intention-to-treat or per-protocol risks by standardisation.

    Each eligible person-period starts a trial (eligibility is re-assessed per period from
    ``eligible``); the arm is the treatment in that period, follow-up counts periods since
    the trial start and ``covariates`` are frozen at the start. One pooled logistic model
    of the outcome hazard is fitted on all trials::

        logit P(Y_k = 1 | ...) = b0 + b1 arm + f(followup) [+ arm x f] + g(trial) + b' x_start

    and the cumulative incidence under each arm is standardised over the trial entries
    (all eligible person-trials, both arms).

    **Estimands.** ``"itt"``: the effect of initiating vs not initiating treatment at an
    eligible period, whatever happens afterwards, averaged over the eligible person-trials
    (the observational analogue of an intention-to-treat effect in a sequence of trials).
    ``"per_protocol"``: the effect of initiating and always staying on vs never initiating
    (staying off) treatment, by artificially censoring follow-up at the first period whose
    treatment differs from the arm (that row is dropped) and weighting the remaining rows by
    stabilised inverse probability of censoring (adherence) weights.

    **Competing event** (``competing=``). A second pooled logistic model, of the
    competing-event hazard ``d_k``, with the outcome model's terms and weights, is fitted on
    the uncensored rows (adherent rows for per-protocol; the competing event is not
    censoring, so the weights are unchanged); the outcome model keeps the rows without the
    competing event, and follow-up ends after either event. Within a period the competing
    event comes first (as in :func:`cohortlab.simulate_longitudinal`), so the risk under arm
    ``a`` is the cumulative incidence of the outcome
    ``F_a(k) = sum_{j<=k} h_aj (1 - d_aj) prod_{m<j} (1 - h_am)(1 - d_am)``, standardised
    over the trial entries. The estimand is the **total effect**: the competing event is not
    prevented, so an arm that changes it changes the outcome's risk through it too (not the
    risk in a world without the competing event, which needs it treated as censoring and
    weighted). The risk ratio and difference contrast these cumulative incidences.

    **Identifying assumptions.** No unmeasured confounding of the initiation decision given
    ``covariates`` at trial start (and, for per-protocol, of adherence given
    ``switch_covariates`` and the baseline covariates); positivity; correct pooled logistic
    models; loss to follow-up (``censor``) independent of the outcome given the outcome-model
    terms, or, with ``censor_weights=True``, given the censoring-model terms.

    **Weights** (per-protocol), per arm ``a`` and follow-up ``s >= 1``:
    ``w_t = prod_{s<=t} P(A_s = a | arm, followup, trial, x_start) /
    P(A_s = a | arm, followup, trial, x_start, z_s)`` with ``z_s`` the current
    ``switch_covariates``; both pooled logistic models are fitted by arm on the expanded rows
    up to and including the first deviation. ``truncate=(low, high)`` truncates at those
    quantiles (recorded in the notes).

    **Variance.** ``"sandwich"``: the person-clustered sandwich (CR0, as
    ``sandwich::vcovCL(type = "HC0", cadjust = FALSE)``) of the outcome model plus the
    empirical term of the standardisation, both clustered by person; the weight models are
    treated as known (as TrialEmulation). With a competing event the influence values of
    both hazard models (separate estimating equations) are added through the derivatives of
    the cumulative incidence in each. ``"bootstrap"``: persons are resampled with their
    rows across all trials (cohortlab.inference.bootstrap, percentile intervals), refitting
    the weight and outcome models; DataFrame input only with ``engine="local"``.

    **Scale.** The expanded data are never built whole: each Newton step of each pooled
    logistic model re-expands ``chunk_persons`` persons at a time and sums ``X'WX`` and
    ``X'W(y - mu)`` over the chunks. ``data`` may be a path to a Parquet file, read through
    DuckDB one block of persons at a time (the ``trials`` extra).

    **Engines.** ``engine="local"`` runs every pass in this process. ``engine="dask"`` runs
    it on the current Dask scheduler (the active ``distributed.Client``, else dask's local
    threads; the ``dask`` extra): the person-period rows are validated and kept on the
    workers as partitions of whole persons (a DataFrame or a Parquet file is cut into
    blocks of ``chunk_persons`` persons, the Parquet blocks read by DuckDB on the workers,
    which must see the path; a ``dask.dataframe`` keeps its partitions, each of which must
    hold whole persons, e.g. ``ddf.set_index(id, sorted=True)``); each pass of every model
    fit (weights, outcome, flow, standardisation entries) is one task per partition that
    expands it chunk by chunk and returns per-chunk ``X'WX``, ``X'W(y - mu)``, scores or
    counts, summed on the client in chunk order. Expanded rows never leave a worker. The
    bootstrap gathers the person-period arrays to the client and runs the replicates on
    the cluster through joblib's Dask backend (a ``distributed.Client`` is required;
    ``n_jobs`` is then the whole cluster), each replicate with its own seed as locally. The
    numbers are those of ``engine="local"``: identical for a DataFrame or Parquet input
    (the same chunks, summed in the same order), equal to rounding (~1e-12 relative) for a
    dask DataFrame with other partitions; bootstrap replicates are identical.

    Parameters
    ----------
    data : pandas.DataFrame or str or os.PathLike or dask.dataframe.DataFrame
        Person-period rows sorted by ``(id, period)``, periods consecutive; or a Parquet path;
        or (``engine="dask"``) a dask DataFrame partitioned by person.
    id, period, treatment, outcome, eligible : str
        Column names: person, period (0, 1, ...), treatment in the period (0/1), outcome at the
        end of the period (0/1; NaN allowed in censored rows), eligibility for a trial starting
        in that period (0/1).
    covariates : sequence of str
        Numeric covariates, frozen at the trial start (baseline and time-varying columns).
    censor : str, optional
        Loss to follow-up in the period (0/1); rows with ``censor = 1`` leave the outcome model
        (their outcome is not observed).
    competing : str, optional
        The competing event in the period (0/1; NaN allowed in censored rows): a second
        hazard model, and risks are cumulative incidences with the competing event not
        prevented (see Competing event). A row with the competing event has no outcome (NaN
        or 0); no rows may follow it. Without it, a competing event can only be handled as
        censoring (``censor``).
    censor_weights : bool
        Weight by the inverse probability of remaining uncensored (stabilised; pooled logistic
        models by arm of ``censor == 0`` on the rows at risk, numerator ``followup, trial,
        covariates``, denominator adding the current ``switch_covariates``), multiplied
        into the per-protocol weights. Needs ``censor``.
    estimand : {"itt", "per_protocol"}
    switch_covariates : sequence of str
        Current (time-varying) covariates of the weight denominator models (adherence for
        per-protocol; censoring with ``censor_weights``). Without them the numerator and
        denominator models coincide: every weight is 1 and no weight model is fitted
        (per-protocol by artificial censoring alone, as TrialEmulation with ``~1`` switch
        models).
    followup_terms : {"linear", "quadratic", "spline"}
        Follow-up time in the outcome and weight models ("spline": natural cubic spline with
        5 knots evenly spaced over the follow-up range).
    trial_terms : {"none", "linear", "quadratic", "spline"}
        Trial start period.
    arm_by_followup : {"none", "linear", "all"}
        Interaction of arm with the follow-up terms (none, the first term, all terms).
        With ``"none"`` the ``arm`` row of ``result.model`` is the one-number summary some
        reports ask for: the odds ratio of the per-period hazard (person-clustered sandwich
        interval), close to the hazard ratio when the per-period hazards are small and
        meaningful only if the effect is constant over follow-up; the risks and their
        contrasts at ``horizons`` need neither assumption.
    horizons : int or sequence of int, optional
        Follow-up periods (0 = the trial's first period) at which the risks are contrasted;
        default the longest follow-up of any trial (risks are never extrapolated beyond it).
    truncate : (float, float), optional
        Quantiles ``(low, high)`` at which the weights (per-protocol and/or censoring) are
        truncated, e.g. ``(0.01, 0.99)`` (as in :func:`propensity_score`).
    variance : {"robust", "bootstrap"}
        ``"robust"``: the person-clustered sandwich (CR0) of the outcome model plus the
        empirical term of the standardisation, the weight models treated as known;
        ``"bootstrap"``: persons resampled with all their trials, every model refitted
        (DataFrame input only with ``engine="local"``).
    n_boot, random_state, n_jobs : int, int or Generator, int
        Bootstrap replicates, seed and joblib jobs (results do not depend on ``n_jobs``).
    conf_level : float
    chunk_persons : int
        Persons per chunk of the streamed expansion (with ``engine="dask"`` and a DataFrame or
        Parquet input, also the persons per partition).
    engine : {"local", "dask"}
        Where the passes run: in this process, or on the current Dask scheduler (see
        Engines); ``data`` may then also be a ``dask.dataframe.DataFrame``.

    Returns
    -------
    TrialsResult
        ``effects`` (risks, risk difference and ratio at each horizon), ``curves``,
        ``model``, ``flow``, ``weights`` diagnostics and ``notes`` (and
        ``competing_model`` with ``competing=``).

    Examples
    --------
    >>> import cohortlab as cl
    >>> df = cl.simulate_longitudinal(n=400, n_periods=4, random_state=2, censoring=False,
    ...                               competing=False, n_truth=2_000)
    >>> df["elig"] = (df.groupby("id")["A"].cumsum() - df["A"] == 0).astype(int)
    >>> res = cl.sequential_trials(df, id="id", period="period", treatment="A", outcome="Y",
    ...                            eligible="elig", covariates=["L", "V"], trial_terms="linear")
    >>> res.effects.to_frame()["term"].tolist()[2]
    'risk difference (1 vs 0) at follow-up 3'
    >>> int(res.flow.set_index("step").loc["trials (arm 1)", "n"]) > 0
    True

    With a competing event (``D``, drawn before ``Y`` in a period):

    >>> dc = cl.simulate_longitudinal(n=400, n_periods=4, random_state=2, censoring=False,
    ...                               n_truth=2_000)
    >>> dc["elig"] = (dc.groupby("id")["A"].cumsum() - dc["A"] == 0).astype(int)
    >>> rc = cl.sequential_trials(dc, id="id", period="period", treatment="A", outcome="Y",
    ...                           eligible="elig", covariates=["L", "V"], competing="D",
    ...                           trial_terms="linear")
    >>> rc.competing_model.terms[:2]
    ('Intercept', 'arm')
    """
    return _run_sequential(data, id=id, period=period, treatment=treatment, outcome=outcome,
                           eligible=eligible, covariates=covariates, censor=censor,
                           censor_weights=censor_weights, competing=competing,
                           estimand=estimand,
                           switch_covariates=switch_covariates, followup_terms=followup_terms,
                           trial_terms=trial_terms, arm_by_followup=arm_by_followup,
                           horizons=horizons, truncate=truncate, variance=variance,
                           n_boot=n_boot, random_state=random_state, n_jobs=n_jobs,
                           conf_level=conf_level, chunk_persons=chunk_persons, engine=engine)


def _run_sequential(
    data: pd.DataFrame | str | os.PathLike[str], *, id: str,  # noqa: A002
    period: str, treatment: str, outcome: str, eligible: str, covariates: Sequence[str],
    censor: str | None, censor_weights: bool, estimand: Estimand,
    switch_covariates: Sequence[str], followup_terms: TimeTerms, trial_terms: TrialTerms,
    arm_by_followup: Interaction, horizons: Sequence[int] | int | None,
    truncate: tuple[float, float] | None, variance: TrialsVariance, n_boot: int,
    random_state: int | np.random.Generator | None, n_jobs: int, conf_level: float,
    chunk_persons: int, engine: Engine = "local", competing: str | None = None,
) -> TrialsResult:
    """The body of :func:`sequential_trials` (also run by ``emulate_target_trial``)."""
    check_option(estimand, Estimand, "estimand")
    check_option(followup_terms, TimeTerms, "followup_terms")
    check_option(trial_terms, TrialTerms, "trial_terms")
    check_option(arm_by_followup, Interaction, "arm_by_followup")
    check_conf_level(conf_level)
    if isinstance(covariates, str) or isinstance(switch_covariates, str):
        raise DataValidationError(
            f"{verb_name()}(): covariates and switch_covariates are lists of numeric columns; "
            f"got a string {covariates if isinstance(covariates, str) else switch_covariates!r}."
        )
    truncate = check_truncate(truncate)
    if not (isinstance(chunk_persons, int) and chunk_persons >= 1):
        raise DataValidationError(f"{verb_name()}(): chunk_persons must be an int >= 1.")
    per_protocol = estimand == "per_protocol"
    if censor_weights and censor is None:
        raise DataValidationError(
            f"{verb_name()}(): censor_weights=True needs the censoring column: pass censor=."
        )
    weighted = per_protocol or bool(censor_weights)
    if competing is not None and not isinstance(competing, str):
        raise DataValidationError(
            f"{verb_name()}(): competing is the name of a 0/1 column (the competing event in the "
            f"period); got {competing!r}.")
    if competing is not None and competing in (outcome, censor, treatment, eligible):
        raise DataValidationError(
            f"{verb_name()}(): competing={competing!r} is also the outcome, censoring, treatment "
            "or eligibility column; pass the column of the competing event.")
    cols = Columns(id=id, period=period, treatment=treatment, outcome=outcome,
                   eligible=eligible, censor=censor, baseline=tuple(covariates),
                   varying=tuple(switch_covariates) if weighted else (),
                   competing=competing)
    notes: list[str] = []
    pp_all = None
    if isinstance(data, pd.DataFrame):
        _check_columns(data.columns, cols)
        pp_all = to_arrays(data, cols, verb_name())
    elif is_dask_frame(data) and engine != "dask":
        raise DataValidationError(
            f"{verb_name()}(): data is a dask DataFrame; pass engine='dask' to fit it on its "
            "partitions (or data.compute() for the local engine)."
        )
    elif engine == "local" and variance == "bootstrap":
        raise DataValidationError(
            f"{verb_name()}(): variance='bootstrap' needs a DataFrame; with a Parquet path use "
            "variance='robust' (or engine='dask')."
        )
    if engine == "dask":
        if variance == "bootstrap":
            check_client(verb_name())
        source: Any = dask_source(data, cols, chunk_persons, verb_name(), pp_all)
        notes.append(f"engine: Dask, {len(source.parts)} partitions of whole persons; each "
                     "pass sums per-chunk statistics on the client in chunk order")
        if variance == "bootstrap" and pp_all is None:
            pp_all = source.gather()
    elif pp_all is not None:
        source = frame_source(pp_all, chunk_persons)
    else:
        source = parquet_source(os.fspath(data), cols, chunk_persons, verb_name())
    n_fu = max(map_chunks(source, max_followup), default=-1) + 1
    if n_fu == 0:
        raise DataValidationError(
            f"{verb_name()}(): no eligible person-periods ({eligible!r} is 0 in every row): no "
            "trial can start. Check the eligibility column."
        )
    spec = replace(_spec(followup_terms, trial_terms, arm_by_followup, per_protocol, cols,
                         n_fu), censor_weights=bool(censor_weights),
                   competing=competing is not None)
    hz = check_horizons(horizons, n_fu)
    fit, wts, flow, wdiag, spec, cfit = _fit_all(spec, source, truncate, notes)
    names, n_time = outcome_names(spec)
    E, _, persons = entries(spec, source)
    time_rows = spec.cells().reshape(2, n_fu, -1)
    R, IF = standardised_risks(fit.coef, n_time, time_rows, E, persons, fit.influence(),
                               fit.clusters, *_competing_args(cfit))
    model = ModelResult(terms=names, params=fit.coef, vcov=fit.vcov_cluster(),
                        effect_measure="odds_ratio", method="pooled_logistic",
                        ci_method="wald_cluster", conf_level=conf_level, n=fit.n_rows,
                        n_events=int(fit.n_events), estimand=estimand)
    reps = None
    if variance == "bootstrap" and pp_all is not None:
        on_dask = engine == "dask"
        func = verb_name()
        reps = bootstrap_replicates(pp_all, spec, truncate, hz, n_fu, chunk_persons, n_boot,
                                    random_state, -1 if on_dask else n_jobs,
                                    (lambda stat: bootstrap_backend(func, scatter=[stat]))
                                    if on_dask else None)
        notes.append(f"bootstrap: {n_boot} person-level replicates (same persons across "
                     "trials), weight and outcome models refitted in each"
                     + ("; replicates run on the Dask cluster (joblib's Dask backend)"
                        if on_dask else ""))
    effects = _effects(R, IF, reps, hz, conf_level, estimand, int(fit.n_rows),
                       int(fit.n_events), tuple(notes))
    curves = _curves(R, IF, conf_level, estimand, int(flow.loc[0, "n"]), tuple(notes))
    cmodel = None if cfit is None else ModelResult(
        terms=names, params=cfit.coef, vcov=cfit.vcov_cluster(), effect_measure="odds_ratio",
        method="pooled_logistic", ci_method="wald_cluster", conf_level=conf_level,
        n=cfit.n_rows, n_events=int(cfit.n_events), estimand=estimand)
    return TrialsResult(effects=effects, curves=curves, model=model, flow=flow,
                        weights=wdiag, notes=tuple(notes),
                        switch_models=_switch_table(wts, spec), competing_model=cmodel)


def _competing_args(cfit) -> tuple:
    """``standardised_risks``'s competing-event arguments (empty without that model)."""
    if cfit is None:
        return ()
    return cfit.coef, cfit.influence(), cfit.clusters


def _check_columns(columns: pd.Index, cols: Columns) -> None:
    missing = [c for c in cols.used() if c not in columns]
    if missing:
        raise DataValidationError(
            f"{verb_name()}(): column(s) {missing} not in data; available: {list(columns)[:20]}."
        )


def _spec(followup: str, trial: str, interaction: str, per_protocol: bool, cols: Columns,
          n_fu: int) -> Spec:
    top = max(n_fu - 1, 1)
    knots = tuple(np.linspace(0.0, top, 5)) if top >= 4 else (0.0, float(top))
    return Spec(followup=followup, trial=trial, interaction=interaction,
                followup_knots=knots if followup == "spline" else None,
                trial_knots=knots if trial == "spline" else None, per_protocol=per_protocol,
                baseline_names=cols.baseline, varying_names=cols.varying, n_fu=n_fu)



def _fit_all(spec: Spec, source: PPSource, truncate: tuple[float, float] | None,
             notes: list[str]) -> tuple[Any, Any, pd.DataFrame, pd.DataFrame | None, Spec,
                                        Any]:
    """:func:`fit_all`, with its notes (appended to ``notes``), flow and weight tables."""
    f = fit_all(spec, source, truncate)
    spec = f.spec
    wdiag = None
    if spec.censor_weights:
        notes.append("loss to follow-up: stabilised inverse probability of remaining "
                     "uncensored weights from pooled logistic models, by arm")
    if f.weights is not None:
        if spec.truncate is not None and truncate is not None:
            lo, hi = spec.truncate
            notes.append(f"weights truncated at the {truncate[0]:g} and "
                         f"{truncate[1]:g} quantiles ({lo:.4g}, {hi:.4g}): {f.n_trunc:,} of "
                         f"{f.weights.size:,} outcome-model rows changed")
        stats = weight_stats(f.weights, f.n_trunc)
        wdiag = pd.DataFrame({"statistic": list(stats), "value": list(stats.values())})
    if spec.weighted and not spec.varying_names:
        notes.append("no switch_covariates: the numerator and denominator weight models "
                     "coincide, so every weight is 1 (models not fitted)")
    if spec.per_protocol:
        notes.append("per-protocol: follow-up artificially censored at the first period whose "
                     "treatment differs from the arm (that row dropped); stabilised weights "
                     "from pooled logistic models of staying on the arm, by arm")
    flow = _flow_table(f.counts, spec.per_protocol, spec.competing)
    if spec.competing and not f.n_competing:
        notes.append("competing event: none in the rows at risk, so its hazard is 0 and no "
                     "model is fitted (risks as without competing=)")
    elif spec.competing:
        notes.append("competing event: a second pooled logistic hazard model (the outcome "
                     "model's terms and weights) on the uncensored rows; within a period the "
                     "competing event comes first; risks are cumulative incidences with the "
                     "competing event not prevented (total effect)")
    notes.append("variance: person-clustered sandwich (CR0) for the outcome model"
                 + (" and the competing-event model (influence values added)"
                    if spec.competing else "")
                 + ("; weight models treated as known" if spec.weighted else ""))
    return f.fit, f.wts, flow, wdiag, spec, f.cfit


def _switch_table(wts, spec: Spec) -> pd.DataFrame | None:
    """Coefficients of the weight models (adherence, censoring), one column per model."""
    if wts is None or (wts.num is None and wts.cnum is None):
        return None  # unweighted, or no switch covariates (every weight is 1)
    pairs = [("", wts.num, wts.den), ("censoring ", wts.cnum, wts.cden)]
    f = ["Intercept", *_names_of(spec.f_terms(np.zeros(1)).shape[1], spec.followup, "followup"),
         *_names_of(spec.t_terms(np.zeros(1)).shape[1], spec.trial, "trial"),
         *spec.baseline_names]
    den = [*f, *[f"{v} (current)" for v in spec.varying_names]]
    cols = {}
    for label, num, dn in pairs:
        if num is None or dn is None:
            continue
        for a in (0, 1):
            cols[f"{label}arm {a} numerator"] = pd.Series(num[a], index=f)
            cols[f"{label}arm {a} denominator"] = pd.Series(dn[a], index=den)
    return pd.DataFrame(cols).reindex(den)


def _names_of(n: int, kind: str, base: str) -> list[str]:
    if n == 0:
        return []
    return {"linear": [base], "quadratic": [base, f"{base}^2"]}.get(
        kind, [f"ns({base})[{j + 1}]" for j in range(n)])


def _flow_table(c: dict, per_protocol: bool, competing: bool = False) -> pd.DataFrame:
    rows = [("persons", c["persons"]), ("person-periods", c["person_periods"]),
            ("eligible person-periods (trials)", c["eligible_periods"]),
            ("persons with at least one trial", c["persons_with_trial"]),
            ("trials (arm 0)", c["trials_arm0"]), ("trials (arm 1)", c["trials_arm1"]),
            ("expanded person-trial-periods", c["expanded_rows"])]
    if per_protocol:
        rows += [("removed: deviation period (artificial censoring)", c["deviation_rows"]),
                 ("removed: after deviation", c["after_deviation_rows"])]
    rows += [("removed: censored (outcome not observed)", c["censored_rows"])]
    if competing:
        rows += [("removed: competing event in the period",
                  c["competing_arm0"] + c["competing_arm1"])]
    rows += [("rows in the outcome model", c["outcome_rows"]),
             ("events (arm 0)", c["events_arm0"]), ("events (arm 1)", c["events_arm1"])]
    if competing:
        rows += [("rows in the competing-event model", c["competing_rows"]),
                 ("competing events (arm 0)", c["competing_arm0"]),
                 ("competing events (arm 1)", c["competing_arm1"])]
    return pd.DataFrame(rows, columns=["step", "n"])


def _effects(R: np.ndarray, IF: np.ndarray | None, reps: np.ndarray | None, hz: list[int],
             conf_level: float, estimand: str, n: int, n_events: int,
             notes: tuple[str, ...]) -> EstimateTable:
    rows: list[Estimate] = []
    common: dict[str, Any] = {"estimand": estimand, "method": "sequential_trials", "n": n,
              "n_events": n_events, "conf_level": conf_level}
    for j, h in enumerate(hz):
        r1, r0 = float(R[1, h]), float(R[0, h])
        pts: list[tuple[str, float, EffectMeasure]] = [
            (f"risk (arm 1) at follow-up {h}", r1, "risk"),
            (f"risk (arm 0) at follow-up {h}", r0, "risk"),
            (f"risk difference (1 vs 0) at follow-up {h}", r1 - r0, "risk_difference"),
            (f"risk ratio (1 vs 0) at follow-up {h}", math.log(r1 / r0), "risk_ratio")]
        for m, (term, est, measure) in enumerate(pts):
            if reps is not None:
                rows.append(Estimate.from_bootstrap(term, est, reps[:, 4 * j + m],
                                                    effect_measure=measure, **common))
                continue
            if IF is None:  # pragma: no cover - the sandwich path always has influence values
                raise RuntimeError(f"{verb_name()}(): influence values are missing.")
            i1, i0 = IF[:, 1, h], IF[:, 0, h]
            infl = [i1, i0, i1 - i0, i1 / r1 - i0 / r0][m]
            se = float(np.sqrt(np.sum(infl * infl)))
            rows.append(Estimate.from_model_scale(term, est, se, effect_measure=measure,
                                                  ci_method="wald_cluster", **common))
    return EstimateTable(rows=tuple(rows), title=f"Sequential trials ({estimand})",
                         notes=notes)


def _curves(R: np.ndarray, IF: np.ndarray | None, conf_level: float, estimand: str,
            n: int, notes: tuple[str, ...]) -> Curve:
    from ..inference.wald import z_critical

    z = z_critical(conf_level)
    frames = []
    for a in (1, 0):
        se = np.sqrt((IF[:, a, :] ** 2).sum(axis=0)) if IF is not None else np.full(
            R.shape[1], np.nan)
        frames.append(pd.DataFrame({
            "time": np.arange(R.shape[1], dtype=float), "group": f"arm {a}", "cause": None,
            "n_risk": np.nan, "n_event": np.nan, "n_censor": np.nan, "estimate": R[a],
            "std_error": se, "conf_low": R[a] - z * se, "conf_high": R[a] + z * se,
            "conf_level": conf_level}))
    return Curve(data=pd.concat(frames, ignore_index=True), measure="cumulative_incidence",
                 method="sequential_trials", conf_type="plain", conf_level=conf_level,
                 n=n, estimand=estimand, notes=notes)
