"""Designs of the pooled logistic outcome and switching models of sequential trials (arrays).

Every design is built per chunk of persons from the person-period arrays and the expansion
indices, so the caller can stream chunks (``_chunked.fit_chunked``) and the expanded data
are never held whole. Column layout of the outcome model: the *time block*
``[Intercept, arm, F(followup), arm x F(followup)]`` that depends only on the arm and the
follow-up time, then the *entry block* ``[T(trial period), baseline covariates]`` that is
fixed within a person-trial; standardisation uses that split (``_standardise.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import numpy as np

from ._chunked import Block, ChunkFit, Mapped, fit_chunked, fit_many, map_chunks
from ._expand import Expanded, PersonPeriod, deviation, expand, group_cumsum, time_terms

__all__ = ["Spec", "PPSource", "Weights", "outcome_names", "fit_outcome", "fit_competing",
           "fit_switch",
           "entries", "flow_counts", "weight_values", "switch_block"]

PPSource = Callable[[], Iterable[PersonPeriod]]


@dataclass(frozen=True)
class Spec:
    """What the models contain (time terms, interaction, estimand, truncation)."""

    followup: str = "quadratic"
    trial: str = "quadratic"
    interaction: str = "linear"  # arm x follow-up: "none", "linear" (first term) or "all"
    followup_knots: tuple[float, ...] | None = None
    trial_knots: tuple[float, ...] | None = None
    per_protocol: bool = False
    baseline_names: tuple[str, ...] = ()
    varying_names: tuple[str, ...] = ()
    truncate: tuple[float, float] | None = None  # absolute bounds, after quantiles resolved
    n_fu: int = 1  # follow-up periods 0..n_fu-1 (cells of the time block)
    censor_weights: bool = False  # inverse probability of remaining uncensored weights
    competing: bool = False  # a competing event: its own hazard model, same design

    @property
    def weighted(self) -> bool:
        return self.per_protocol or self.censor_weights

    def f_terms(self, x: np.ndarray) -> np.ndarray:
        k = None if self.followup_knots is None else np.asarray(self.followup_knots)
        return time_terms(x, self.followup, k)

    def t_terms(self, x: np.ndarray) -> np.ndarray:
        k = None if self.trial_knots is None else np.asarray(self.trial_knots)
        return time_terms(x, self.trial, k)

    def n_interaction(self, n_f: int) -> int:
        return {"none": 0, "linear": min(1, n_f), "all": n_f}[self.interaction]

    def time_block(self, arm: np.ndarray, followup: np.ndarray) -> np.ndarray:
        F = self.f_terms(followup)
        k = self.n_interaction(F.shape[1])
        a = arm.astype(float)
        return np.column_stack([np.ones(a.shape[0]), a, F, F[:, :k] * a[:, None]])

    def cells(self) -> np.ndarray:
        """The time block at every (arm, follow-up) cell: row ``arm * n_fu + followup``."""
        k = np.arange(self.n_fu)
        return np.vstack([self.time_block(np.full(self.n_fu, a), k) for a in (0, 1)])


def _term_names(kind: str, base: str, n: int) -> list[str]:
    if kind == "linear":
        return [base]
    if kind == "quadratic":
        return [base, f"{base}^2"]
    return [f"ns({base})[{j + 1}]" for j in range(n)]


def outcome_names(spec: Spec) -> tuple[tuple[str, ...], int]:
    """Column names of the outcome design and the size of its time block."""
    nf = spec.f_terms(np.zeros(1)).shape[1]
    nt = spec.t_terms(np.zeros(1)).shape[1]
    f = _term_names(spec.followup, "followup", nf)
    k = spec.n_interaction(nf)
    time = ["Intercept", "arm", *f, *[f"arm:{t}" for t in f[:k]]]
    entry = [*_term_names(spec.trial, "trial", nt), *spec.baseline_names] if nt else \
        list(spec.baseline_names)
    return tuple(time + entry), len(time)


def _entry_block(spec: Spec, pp: PersonPeriod, ex: Expanded) -> np.ndarray:
    """One row per trial of the chunk: ``[T(trial period), baseline at the start]``."""
    return np.column_stack([spec.t_terms(pp.period[ex.starts]), pp.baseline[ex.starts]])


def _switch_cells(spec: Spec) -> np.ndarray:
    k = np.arange(spec.n_fu)
    return np.column_stack([np.ones(spec.n_fu), spec.f_terms(k)])


def switch_block(spec: Spec, pp: PersonPeriod, ex: Expanded, idx: np.ndarray,
                 denominator: bool, y: np.ndarray, E: np.ndarray) -> Block:
    """``[1, F(followup) | T(trial), baseline | current time-varying]`` of rows ``idx``."""
    src = ex.src[idx]
    Z = pp.varying[src] if denominator else np.zeros((idx.size, 0))
    return Block(T=_switch_cells(spec), cell=ex.followup[idx], E=E, entry=ex.entry[idx], Z=Z,
                 y=y, w=np.ones(idx.size), person=pp.person[src])


@dataclass(frozen=True, eq=False)
class Weights:
    """Fitted weight models by arm (numerator and denominator coefficients).

    Staying on the arm (per-protocol) and remaining uncensored (``censor_weights``).
    """

    num: tuple[np.ndarray, np.ndarray] | None = None
    den: tuple[np.ndarray, np.ndarray] | None = None
    cnum: tuple[np.ndarray, np.ndarray] | None = None
    cden: tuple[np.ndarray, np.ndarray] | None = None


def _log_ratio(spec: Spec, pp: PersonPeriod, ex: Expanded, idx: np.ndarray, E: np.ndarray,
               bn: np.ndarray, bd: np.ndarray) -> np.ndarray:
    """``log P_num / P_den`` of rows ``idx`` (probabilities of the modelled response 1)."""
    cells = _switch_cells(spec)
    nt = cells.shape[1]
    fu, en_ = ex.followup[idx], ex.entry[idx]
    en = (cells @ bn[:nt])[fu] + (E @ bn[nt:])[en_]
    ed = ((cells @ bd[:nt])[fu] + (E @ bd[nt:nt + E.shape[1]])[en_]
          + pp.varying[ex.src[idx]] @ bd[nt + E.shape[1]:])
    return np.logaddexp(0.0, -ed) - np.logaddexp(0.0, -en)  # log expit(en) / expit(ed)


def _censor_rows(pp: PersonPeriod, ex: Expanded, adherent: np.ndarray) -> np.ndarray:
    """Rows at risk of loss to follow-up (adherent rows; all rows for intention-to-treat)."""
    return adherent


def weight_values(spec: Spec, wts: Weights, pp: PersonPeriod, ex: Expanded,
                  adherent: np.ndarray, E: np.ndarray | None = None) -> np.ndarray:
    """Stabilised weights of the adherent rows, before truncation.

    Per-protocol: ``prod_{s=1..t} P(A_s = arm | arm, baseline, followup, trial) /
    P(A_s = arm | ..., current time-varying)``; with ``censor_weights``, times
    ``prod_{s=0..t} P(C_s = 0 | arm, baseline, followup, trial) / P(C_s = 0 | ..., current
    time-varying)`` (row t's outcome is observed only if uncensored in period t).
    """
    logr = np.zeros(ex.n_rows)
    E = _entry_block(spec, pp, ex) if E is None else E
    for a in (0, 1):
        if wts.num is not None and wts.den is not None:
            idx = np.flatnonzero(adherent & (ex.followup > 0) & (ex.arm == a))
            if idx.size:
                logr[idx] += _log_ratio(spec, pp, ex, idx, E, wts.num[a], wts.den[a])
        if wts.cnum is not None and wts.cden is not None:
            idx = np.flatnonzero(adherent & (ex.arm == a))
            if idx.size:
                logr[idx] += _log_ratio(spec, pp, ex, idx, E, wts.cnum[a], wts.cden[a])
    w = np.exp(group_cumsum(logr, ex))
    return w[adherent]


def _outcome_rows(pp: PersonPeriod, ex: Expanded, spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the outcome model (observed outcome; adherent for per-protocol), adherence."""
    observed = ((pp.censor == 0) & np.isfinite(pp.outcome))[ex.src]
    if not spec.per_protocol:
        return observed, np.ones(ex.n_rows, dtype=bool)
    adherent, _ = deviation(pp, ex)
    return observed & adherent, adherent


def _competing_rows(pp: PersonPeriod, ex: Expanded, spec: Spec
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the competing-event model (uncensored; adherent for per-protocol), adherence.

    The competing event comes before the outcome within a period, so every uncensored row is
    at risk of it (the rows of the outcome model plus the rows with the competing event).
    """
    observed = (pp.censor == 0)[ex.src]
    if not spec.per_protocol:
        return observed, np.ones(ex.n_rows, dtype=bool)
    adherent, _ = deviation(pp, ex)
    return observed & adherent, adherent


def _outcome_chunk(spec: Spec, pp: PersonPeriod, wts: Weights | None,
                   competing: bool = False) -> Block:
    """One chunk's outcome-model block (or, ``competing=True``, competing-event block)."""
    ex = expand(pp)
    rows, adherent = (_competing_rows if competing else _outcome_rows)(pp, ex, spec)
    idx = np.flatnonzero(rows)
    src = ex.src[idx]
    if competing:
        d = pp.competing if pp.competing is not None else np.zeros(pp.n_rows)
        y = d[src].astype(float)
    else:
        y = pp.outcome[src]
    E = _entry_block(spec, pp, ex)
    if spec.weighted and wts is not None:
        w_adh = weight_values(spec, wts, pp, ex, adherent, E)
        w_full = np.zeros(ex.n_rows)
        w_full[adherent] = w_adh
        w = w_full[idx]
        if spec.truncate is not None:
            w = np.clip(w, *spec.truncate)
    else:
        w = np.ones(idx.size)
    entry = ex.entry[idx]
    arm_e = pp.treatment[ex.starts].astype(np.int64)
    return Block(T=spec.cells(), cell=arm_e[entry] * spec.n_fu + ex.followup[idx],
                 E=E, entry=entry,
                 Z=np.zeros((idx.size, 0)), y=y, w=w, person=pp.person[src])


def fit_outcome(spec: Spec, source: PPSource, wts: Weights | None) -> ChunkFit:
    """The pooled logistic outcome model, streamed over person chunks."""
    names, _ = outcome_names(spec)
    chunks = Mapped(source, partial(_outcome_chunk, spec, wts=wts))
    return fit_chunked(chunks, len(names), names=names, response="the outcome")


def fit_competing(spec: Spec, source: PPSource, wts: Weights | None) -> ChunkFit:
    """The pooled logistic competing-event model (the outcome model's design and weights)."""
    names, _ = outcome_names(spec)
    chunks = Mapped(source, partial(_outcome_chunk, spec, wts=wts, competing=True))
    return fit_chunked(chunks, len(names), names=names, response="the competing event")


def _switch_chunk(spec: Spec, kinds: tuple[str, ...], pp: PersonPeriod) -> tuple[Block, ...]:
    """One chunk's blocks of the weight models, by kind, arm, numerator then denominator."""
    ex = expand(pp)
    if spec.per_protocol:
        adherent, deviates = deviation(pp, ex)
    else:
        adherent = deviates = np.ones(ex.n_rows, dtype=bool)
    E = _entry_block(spec, pp, ex)
    out = []
    for kind in kinds:
        base = ((adherent | deviates) & (ex.followup > 0) if kind == "switch"
                else _censor_rows(pp, ex, adherent))
        for a in (0, 1):
            idx = np.flatnonzero(base & (ex.arm == a))
            y = ((pp.treatment[ex.src[idx]] == a) if kind == "switch"
                 else (pp.censor[ex.src[idx]] == 0)).astype(float)
            out += [switch_block(spec, pp, ex, idx, False, y, E),
                    switch_block(spec, pp, ex, idx, True, y, E)]
    return tuple(out)


def fit_switch(spec: Spec, source: PPSource) -> Weights:
    """Weight models by arm, numerator and denominator, all fitted in lockstep.

    Staying on the assigned arm (per-protocol) and remaining uncensored (``censor_weights``).
    Adherence models: the expanded rows at follow-up >= 1 up to and including the first
    deviation (response: treatment equals the arm). Censoring models: the adherent rows (all
    rows for intention-to-treat), response ``censor == 0``. Rows are person-trial-periods, so
    a person-period enters once per trial it belongs to (as pySEQTarget's post-expansion
    weights). Without time-varying (``switch_covariates``) terms the numerator and denominator
    models are the same model, every weight is 1, and no model is fitted.
    """
    if not spec.varying_names:
        # numerator and denominator designs coincide: every weight is exactly 1, nothing to fit
        return Weights()
    kinds = (["switch"] if spec.per_protocol else []) + (
        ["censor"] if spec.censor_weights else [])
    chunks = Mapped(source, partial(_switch_chunk, spec, tuple(kinds)))
    nb = 1 + spec.f_terms(np.zeros(1)).shape[1] + spec.t_terms(np.zeros(1)).shape[1]
    pn = nb + len(spec.baseline_names)
    pd_ = pn + len(spec.varying_names)
    what = {"switch": "staying on arm {a}", "censor": "remaining uncensored on arm {a}"}
    responses = [f"{what[kind].format(a=a)} ({k} model)" for kind in kinds for a in (0, 1)
                 for k in ("numerator", "denominator")]
    b = fit_many(chunks, [pn, pd_] * (2 * len(kinds)), responses=responses)
    fitted: dict[str, tuple] = {}
    for i, kind in enumerate(kinds):
        q = b[4 * i: 4 * i + 4]
        fitted[kind] = ((q[0], q[2]), (q[1], q[3]))
    sw = fitted.get("switch", (None, None))
    cw = fitted.get("censor", (None, None))
    return Weights(num=sw[0], den=sw[1], cnum=cw[0], cden=cw[1])


def entries(spec: Spec, source: PPSource) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entry block, arm and person of every trial entry (follow-up 0 rows)."""
    blocks, arms, persons = [], [], []
    for E, arm, person in map_chunks(source, partial(_entry_chunk, spec)):
        blocks.append(E)
        arms.append(arm)
        persons.append(person)
    return np.vstack(blocks), np.concatenate(arms), np.concatenate(persons)


def _entry_chunk(spec: Spec, pp: PersonPeriod) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ex = expand(pp)
    return _entry_block(spec, pp, ex), pp.treatment[ex.starts], pp.person[ex.starts]


def flow_counts(spec: Spec, source: PPSource, wts: Weights | None) -> dict:
    """Counts of the flow table and the (untruncated) weights of the outcome-model rows."""
    c = dict.fromkeys(_COUNTS, 0)
    weights = []
    for counts, w in map_chunks(source, partial(_flow_chunk, spec, wts)):
        for k, v in counts.items():
            c[k] += v
        if w is not None:
            weights.append(w)
    w = np.concatenate(weights) if weights else np.zeros(0)
    return {"counts": c, "weights": w}


_COUNTS = ("persons", "person_periods", "eligible_periods", "persons_with_trial", "trials_arm0",
           "trials_arm1", "expanded_rows", "censored_rows", "deviation_rows",
           "after_deviation_rows", "outcome_rows", "events_arm0", "events_arm1",
           "competing_rows", "competing_arm0", "competing_arm1")


def _flow_chunk(spec: Spec, wts: Weights | None, pp: PersonPeriod
                ) -> tuple[dict[str, int], np.ndarray | None]:
    """One chunk's flow counts and the (untruncated) weights of its outcome-model rows."""
    c = dict.fromkeys(_COUNTS, 0)
    ex = expand(pp)
    c["persons"] += int(np.unique(pp.person).size)
    c["person_periods"] += pp.n_rows
    c["eligible_periods"] += int(pp.eligible.sum())
    c["persons_with_trial"] += int(np.unique(pp.person[pp.eligible.astype(bool)]).size)
    c["trials_arm0"] += int((ex.first & (ex.arm == 0)).sum())
    c["trials_arm1"] += int((ex.first & (ex.arm == 1)).sum())
    c["expanded_rows"] += ex.n_rows
    rows, adherent = _outcome_rows(pp, ex, spec)
    c["censored_rows"] += int(((pp.censor[ex.src] != 0) & adherent).sum())
    if spec.per_protocol:
        _, deviates = deviation(pp, ex)
        c["deviation_rows"] += int(deviates.sum())
        c["after_deviation_rows"] += int((~adherent & ~deviates).sum())
    w = None
    if spec.weighted and wts is not None:
        w_full = np.zeros(ex.n_rows)
        w_full[adherent] = weight_values(spec, wts, pp, ex, adherent)
        w = w_full[rows]
    c["outcome_rows"] += int(rows.sum())
    y = pp.outcome[ex.src[rows]]
    c["events_arm0"] += int(y[ex.arm[rows] == 0].sum())
    c["events_arm1"] += int(y[ex.arm[rows] == 1].sum())
    if spec.competing and pp.competing is not None:
        crow, _ = _competing_rows(pp, ex, spec)
        d = pp.competing[ex.src[crow]]
        c["competing_rows"] += int(crow.sum())
        c["competing_arm0"] += int(d[ex.arm[crow] == 0].sum())
        c["competing_arm1"] += int(d[ex.arm[crow] == 1].sum())
    return c, w
