"""Clone-censor-weight numbers (arrays only): clones, artificial censoring, weights, risks.

Input arrays are person-period rows sorted by ``(person, period)``; follow-up ``fu`` counts
periods since each person's first row (time zero). Arm 1 is "start treatment within
``grace`` periods" (and, when ``sustained``, stay on it), arm 0 is "never start".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._glm import fit_logistic
from ._weights import quantile_bounds

__all__ = ["CCWFit", "CloneData", "clone_rows", "fit_risks", "fit_sample", "histories",
           "time_terms", "weight_models"]

_BIG = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class CloneData:
    """The clones' kept rows (indices into the person-period rows) and their weights."""

    row: np.ndarray  # index into the person-period arrays
    arm: np.ndarray  # 0 / 1
    fu: np.ndarray
    weight: np.ndarray  # unit-level stabilised weight (before truncation)
    counts: dict[str, int]


def _groups(person: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First row of each person and each row's person number (rows sorted by person)."""
    new = np.ones(person.size, dtype=bool)
    new[1:] = person[1:] != person[:-1]
    return np.flatnonzero(new), np.cumsum(new) - 1


def cumsum_by(x: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``x`` within runs that begin at ``start`` (per-row first index)."""
    c = np.cumsum(x)
    return c - c[start] + x[start]


def histories(person: np.ndarray, a: np.ndarray) -> dict[str, np.ndarray]:
    """Follow-up, first-initiation and first-stop periods, per row (vectorised)."""
    first, gid = _groups(person)
    start = first[gid]
    fu = np.arange(person.size) - start
    a = a.astype(np.int64)
    started_before = (cumsum_by(a, start) - a) > 0
    s0_row = np.where((a == 1) & ~started_before, fu, _BIG)
    s0 = np.minimum.reduceat(s0_row, first)[gid]
    off_after = (fu > s0) & (a == 0)
    off_i = off_after.astype(np.int64)
    stopped_before = (cumsum_by(off_i, start) - off_i) > 0
    s1_row = np.where(off_after & ~stopped_before, fu, _BIG)
    s1 = np.minimum.reduceat(s1_row, first)[gid]
    return {"start": start, "fu": fu, "s0": s0, "s1": s1,
            "naive": ~started_before,  # at risk of a first initiation
            "on": started_before & (fu <= s1)}  # continuously on since initiation


def time_terms(fu: np.ndarray, kind: str, n_fu: int) -> np.ndarray:
    """Follow-up columns (no intercept): linear, quadratic, cubic or saturated."""
    x = fu.astype(float)
    if kind == "saturated":
        return (x[:, None] == np.arange(1, n_fu)[None, :]).astype(float)
    k = {"linear": 1, "quadratic": 2, "cubic": 3}[kind]
    return np.column_stack([x ** j for j in range(1, k + 1)])


def _design(fu: np.ndarray, Z: np.ndarray | None) -> np.ndarray:
    cols = [np.ones(fu.size), fu.astype(float)]
    if Z is not None and Z.shape[1]:
        cols += list(Z.T)
    return np.column_stack(cols)


def weight_models(h: dict[str, np.ndarray], a: np.ndarray, Z: np.ndarray,
                  sustained: bool, cov_names: list[str]) -> dict[str, np.ndarray]:
    """Per-row probabilities of initiating / stopping: numerator (time) and denominator.

    Initiation models are fitted on the rows at risk of a first initiation, stopping models
    on the rows continuously on treatment since initiation (both on the person-period rows,
    not the clones); the denominators on ``followup + Z``, the numerators on ``followup``.
    A risk set with no event (or only events) gets the ML probability 0 (or 1). Returns
    ``p_init_num, p_init_den, p_stop_num, p_stop_den`` (NaN where the row is not in the
    model's risk set) and the coefficients ``coef_init_num``, ... of the fitted models.
    """
    fu = h["fu"]
    out: dict[str, np.ndarray] = {}
    sets = [("init", h["naive"], a == 1)]
    if sustained:
        sets.append(("stop", h["on"] & (fu > h["s0"]), a == 0))
    for name, rs, event in sets:
        idx = np.flatnonzero(rs)
        for kind, Zk in (("num", None), ("den", Z[idx])):
            p = np.full(fu.size, np.nan)
            ev = event[idx].astype(float)
            if idx.size and 0 < ev.sum() < idx.size:
                X = _design(fu[idx], Zk)
                names = ["Intercept", "followup", *cov_names[: X.shape[1] - 2]]
                fit = fit_logistic(X, ev, names=names, response=f"{name} of treatment")
                p[idx] = fit.fitted
                out[f"coef_{name}_{kind}"] = fit.coef
            elif idx.size:  # nobody / everybody in the risk set: the ML probability is 0 / 1
                p[idx] = ev.mean()
            out[f"p_{name}_{kind}"] = p
    return out


def clone_rows(h: dict[str, np.ndarray], a: np.ndarray, grace: int, sustained: bool,
               probs: dict[str, np.ndarray]) -> CloneData:
    """Both clones of every person, artificially censored, with stabilised weights.

    Arm 0 (never start): rows before the first initiation are kept (the initiation row is
    the deviation and is dropped); each kept row's factor is ``(1 - p_init_num) /
    (1 - p_init_den)``. Arm 1 (start within ``grace``): a person not started by follow-up
    ``grace`` deviates there (that row dropped); rows before it have factor 1 (either choice
    follows the strategy), and the only informative period of the grace window is the last
    one: a person initiating exactly at ``grace`` gets ``p_init_num / p_init_den``. With
    ``sustained``, a person who stops after initiating deviates at the first stop (dropped),
    and each row on treatment after the initiation gets ``(1 - p_stop_num) /
    (1 - p_stop_den)``. Weights are cumulative products of the factors within each clone.
    """
    fu, s0, s1, start = h["fu"], h["s0"], h["s1"], h["start"]
    n = fu.size
    # arm 0
    keep0 = fu < s0
    dev0 = fu == s0
    f0 = np.where(keep0, (1 - probs["p_init_num"]) / (1 - probs["p_init_den"]), 1.0)
    # arm 1
    late = s0 > grace
    keep1 = np.where(late, fu < grace, True)
    dev1 = late & (fu == grace)
    f1 = np.ones(n)
    at_g = (s0 == grace) & (fu == grace)
    f1[at_g] = probs["p_init_num"][at_g] / probs["p_init_den"][at_g]
    if sustained:
        keep1 &= fu < s1
        dev1 |= (fu == s1) & ~late
        on_after = keep1 & (fu > s0)
        f1[on_after] = (1 - probs["p_stop_num"][on_after]) / (1 - probs["p_stop_den"][on_after])
    counts = {"deviation_arm0": int(dev0.sum()), "deviation_arm1": int(dev1.sum()),
              "after_deviation_arm0": int((~keep0 & ~dev0).sum()),
              "after_deviation_arm1": int((~keep1 & ~dev1).sum())}
    rows, arms, ws = [], [], []
    for arm, keep, f in ((0, keep0, f0), (1, keep1, f1)):
        logf = np.where(keep, np.log(f), 0.0)
        w = np.exp(cumsum_by(logf, start))
        idx = np.flatnonzero(keep)
        rows.append(idx)
        arms.append(np.full(idx.size, arm, dtype=np.int64))
        ws.append(w[idx])
    row = np.concatenate(rows)
    return CloneData(row=row, arm=np.concatenate(arms), fu=fu[row], weight=np.concatenate(ws),
                     counts=counts)


def fit_risks(fu: np.ndarray, arm: np.ndarray, y: np.ndarray, w: np.ndarray, kind: str,
              n_fu: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Weighted pooled logistic hazard by arm (arm x time terms); risks ``R[arm, fu]``."""
    R = np.zeros((2, n_fu))
    coefs = []
    grid = np.arange(n_fu)
    G = np.column_stack([np.ones(n_fu), time_terms(grid, kind, n_fu)])
    for a in (0, 1):
        m = arm == a
        X = np.column_stack([np.ones(int(m.sum())), time_terms(fu[m], kind, n_fu)])
        names = [f"arm {a}: Intercept", *[f"arm {a}: followup term {j}"
                                          for j in range(1, X.shape[1])]]
        fit = fit_logistic(X, y[m], w[m], names=names, response="the outcome")
        haz = 1.0 / (1.0 + np.exp(-(G @ fit.coef)))
        R[a] = 1.0 - np.cumprod(1.0 - haz)
        coefs.append(fit.coef)
    return R, coefs


@dataclass(frozen=True, eq=False)
class CCWFit:
    """Every model of clone-censor-weight on one (re)sample of persons.

    ``R[arm, fu]`` the risks, ``coef`` the outcome models' coefficients (arm 0 then arm 1,
    ``n_terms`` each), ``probs`` the treatment-decision models (:func:`weight_models`),
    ``use`` the clone rows in the outcome model (not lost, outcome observed) and ``w`` their
    weights after truncation at ``bounds`` (``None``: not truncated), of which ``n_trunc``
    changed; ``counts`` the flow of persons and rows.
    """

    R: np.ndarray
    coef: np.ndarray
    n_terms: int
    probs: dict[str, np.ndarray]
    y: np.ndarray  # outcome of the clone rows
    use: np.ndarray
    w: np.ndarray
    bounds: tuple[float, float] | None
    n_trunc: int
    counts: dict[str, int]


def fit_sample(person: np.ndarray, a: np.ndarray, y: np.ndarray, Z: np.ndarray,
               lost: np.ndarray, *, grace: int, sustained: bool, kind: str, n_fu: int,
               truncate: tuple[float, float] | None, cov_names: list[str]) -> CCWFit:
    """Weight models, clones, truncation and the outcome model on one (re)sample."""
    h = histories(person, a)
    probs = weight_models(h, a, Z, sustained, cov_names)
    cl = clone_rows(h, a, grace, sustained, probs)
    y, lost = y[cl.row], lost[cl.row]
    use = ~lost & ~np.isnan(y)
    w = cl.weight[use]
    bounds = None
    n_trunc = 0
    if truncate is not None and w.size:
        lo, hi, n_trunc = quantile_bounds(w, truncate)
        w = np.clip(w, lo, hi)
        bounds = (lo, hi)
    R, coefs = fit_risks(cl.fu[use], cl.arm[use], y[use], w, kind, n_fu)
    arm_u = cl.arm[use]
    counts = {"persons": int(person.max()) + 1 if person.size else 0,
              "person_periods": int(person.size),
              "clone_rows": int(cl.row.size + sum(cl.counts.values())), **cl.counts,
              "lost": int(lost.sum()),
              "missing_outcome": int((~lost & np.isnan(y)).sum()),
              "outcome_rows": int(use.sum()),
              "events_arm0": int(y[use][arm_u == 0].sum()),
              "events_arm1": int(y[use][arm_u == 1].sum())}
    return CCWFit(R=R, coef=np.concatenate(coefs), n_terms=coefs[0].size, probs=probs, y=y,
                  use=use, w=w, bounds=bounds, n_trunc=n_trunc, counts=counts)
