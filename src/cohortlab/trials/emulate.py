"""``emulate_target_trial()``: check a :class:`TargetTrial` against the data and emulate it."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from .._validation import verb, verb_name
from ..exceptions import DataValidationError
from .ccw import _run_ccw
from .result import TrialsResult
from .sequential import _run_sequential
from .spec import ELIGIBLE, TargetTrial

__all__ = ["emulate_target_trial"]



@verb
def emulate_target_trial(spec: TargetTrial, data: pd.DataFrame, *, n_jobs: int = 1
                         ) -> TrialsResult:
    """Emulate a specified target trial on person-period data.

    The specification is checked against ``data`` first (every problem reported at once);
    the eligibility criteria are evaluated by cohortlab's expression evaluator (never
    ``eval``), and the estimator of the analysis plan is run with the arguments the
    specification implies: ``sequential_trials`` (a trial at every eligible period,
    eligibility re-assessed per period, the arm the treatment in that period) or
    ``clone_censor_weight`` (persons eligible at their first period, cloned into
    "start within the grace period" and "do not start").

    **Estimand.** The ``spec.contrast`` effect (intention-to-treat or per-protocol) of the
    treatment strategy vs the comparator: risks of the outcome under each, their difference
    and ratio at the horizons, averaged over the eligible person-trials (sequential trials)
    or persons (clone-censor-weight).

    **Identifying assumptions.** Those of the estimator: no unmeasured confounding of the
    treatment decisions given the covariates (assignment emulated by adjustment),
    positivity, consistency, correct pooled logistic models, non-informative loss to
    follow-up given the model terms or weights. A competing event: with sequential trials,
    a second hazard model and risks that are cumulative incidences with the competing event
    not prevented (the total effect; see :func:`cohortlab.sequential_trials`); with
    clone-censor-weight, treated as censoring after its period (the risk in a world without
    it; recorded in the notes).

    **Variance.** The person-clustered sandwich (``variance="robust"``, sequential trials)
    or the person-level bootstrap (``variance="bootstrap"``, seeded by ``spec.random_state``).

    Parameters
    ----------
    spec : TargetTrial
        The specification (estimator, contrast, weights, horizons, variance).
    data : pandas.DataFrame
        Person-period rows sorted by ``(spec.id, spec.period)``.
    n_jobs : int
        Joblib jobs for the bootstrap (results do not depend on it).

    Returns
    -------
    TrialsResult
        As :func:`cohortlab.sequential_trials` returns, with ``spec`` attached; a
        clone-censor-weight flow starts with the persons excluded at time zero.

    Raises
    ------
    TargetTrialError
        Listing every problem of the specification against the data.

    Examples
    --------
    >>> import cohortlab as cl
    >>> df = cl.simulate_longitudinal(n=400, n_periods=4, random_state=2, n_truth=2_000)
    >>> spec = cl.TargetTrial(treatment="A", outcome="Y", censor="C", competing="D",
    ...                       covariates=("L", "V"), followup=4)
    >>> res = cl.emulate_target_trial(spec, df)
    >>> res.effects.to_frame()["term"].tolist()[2]
    'risk difference (1 vs 0) at follow-up 3'
    >>> res.spec is spec
    True
    """
    if not isinstance(spec, TargetTrial):
        raise DataValidationError(f"{verb_name()}(): spec must be a cl.TargetTrial; got "
                                  f"{type(spec).__name__}. Build one with cl.TargetTrial(...).")
    spec.validate(data)
    notes: list[str] = []
    frame = data
    if spec.competing is not None and spec.estimator != "sequential_trials":
        d = pd.to_numeric(frame[spec.competing], errors="coerce").to_numpy() == 1
        if d.any():
            y = frame[spec.outcome].to_numpy(dtype=float, copy=True)
            y[d] = 0.0
            frame = frame.assign(**{spec.outcome: y})
        notes.append(f"competing event ({spec.competing}): {int(d.sum()):,} person-periods; "
                     "follow-up ends after it (treated as censoring: the risk had the "
                     "competing event been prevented, assuming it independent of the outcome "
                     "given the model terms)")
    horizons = list(spec.horizons) or ([spec.followup - 1] if spec.followup else None)
    if spec.estimator == "sequential_trials":
        frame = frame.assign(**{ELIGIBLE: spec.eligible(frame).astype(int).to_numpy()})
        res = _run_sequential(
            frame, id=spec.id, period=spec.period, treatment=spec.treatment,
            outcome=spec.outcome, eligible=ELIGIBLE, covariates=spec.covariates,
            censor=spec.censor, censor_weights=spec.censor_weights, estimand=spec.contrast,
            switch_covariates=spec.switch_covariates, followup_terms="quadratic",
            trial_terms="quadratic", arm_by_followup="linear", horizons=horizons,
            truncate=spec.truncate, variance=spec.variance, n_boot=spec.n_boot,
            random_state=spec.random_state, n_jobs=n_jobs, conf_level=spec.conf_level,
            chunk_persons=20_000, competing=spec.competing)
        return replace(res, spec=spec, notes=(*notes, *res.notes))
    first = ~frame[spec.id].duplicated().to_numpy()
    ok_first = spec.eligible(frame).to_numpy() & first
    keep_person = pd.Series(ok_first, index=frame.index).groupby(
        frame[spec.id], sort=False).transform("max").to_numpy(dtype=bool)
    n_out = int(first.sum() - ok_first.sum())
    if n_out:
        frame = frame.loc[keep_person]
        notes.append(f"{n_out:,} persons not eligible at their first period excluded")
    if spec.followup is not None:
        fu = frame.groupby(spec.id, sort=False).cumcount().to_numpy()
        beyond = fu >= spec.followup
        if beyond.any():
            frame = frame.loc[~beyond]
            notes.append(f"follow-up ends after {spec.followup} {spec.unit}: "
                         f"{int(beyond.sum()):,} later person-periods not used")
    res = _run_ccw(frame, id=spec.id, period=spec.period, treatment=spec.treatment,
                   outcome=spec.outcome, covariates=spec.covariates, grace=spec.grace,
                   censor=spec.censor, sustained=True, followup_terms="quadratic",
                   horizons=horizons, truncate=spec.truncate, n_boot=spec.n_boot,
                   random_state=spec.random_state, n_jobs=n_jobs, conf_level=spec.conf_level)
    flow = pd.concat([pd.DataFrame({"step": ["persons in the data",
                                             "excluded: not eligible at the first period"],
                                    "n": [int(first.sum()), n_out]}), res.flow],
                     ignore_index=True)
    return replace(res, spec=spec, flow=flow, notes=(*notes, *res.notes))
