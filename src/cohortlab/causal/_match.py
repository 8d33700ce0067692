"""Matched sets as arrays: rows, weights, counts and the caliper (arrays only).

``match()`` validates the data, fits or aligns the propensity score and builds the matched
cohort and its notes; the nearest-neighbour search is in :mod:`._nn`, and the arithmetic on
its result here: :func:`both_arms` joins the two directions of ATE matching,
:func:`matched_rows` lays the sets out as rows (focal subject first, weights ``1 / k`` over
the ``k`` controls of a set), :func:`match_counts` counts who was matched, and
:func:`caliper_width` and :func:`score_logit` give the matching distance's scale.
"""

from __future__ import annotations

import math

import numpy as np

from ._nn import NNMatch

__all__ = ["both_arms", "caliper_width", "match_counts", "matched_rows", "score_logit"]


def score_logit(e: np.ndarray, X: np.ndarray | None = None,
                coef: np.ndarray | None = None) -> np.ndarray:
    """Logit of the scores ``e``: ``X @ coef`` for a logistic model (exact near 0 and 1).

    Examples
    --------
    >>> score_logit(np.array([0.5, 0.8])).round(4).tolist()
    [0.0, 1.3863]
    """
    if X is not None and coef is not None:
        return X @ coef
    return np.log(e) - np.log1p(-e)


def caliper_width(dist: np.ndarray, caliper: float | None) -> float:
    """``caliper`` standard deviations (``n - 1``) of the distance; infinite without one."""
    if caliper is None:
        return math.inf
    sd = float(np.std(dist, ddof=1)) if dist.size > 1 else 0.0
    return float(caliper) * sd


def both_arms(n0: NNMatch, n1: NNMatch) -> NNMatch:
    """One NNMatch of the unexposed (matched to the exposed) and the exposed (the reverse)."""
    w = max(n0.controls.shape[1], n1.controls.shape[1])
    pad = [np.pad(m.controls, ((0, 0), (0, w - m.controls.shape[1])), constant_values=-1)
           for m in (n0, n1)]
    return NNMatch(focal=np.concatenate([n0.focal, n1.focal]), controls=np.vstack(pad),
                   reason=np.concatenate([n0.reason, n1.reason]))


def matched_rows(nn: NNMatch, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The matched sets as rows: positions, set ids (from 1), weights, per-unit summed weights.

    Rows are ordered by set, the focal subject first and then its controls in match order;
    a control of a set with ``k`` controls weighs ``1 / k``. The last array sums the weights
    of each of the ``n`` units over the rows it appears in.
    """
    has = nn.controls >= 0
    k = has.sum(axis=1)
    matched = k > 0
    set_id = np.cumsum(matched) * matched
    f_pos, f_id = nn.focal[matched], set_id[matched]
    c_pos, c_id = nn.controls[has], np.repeat(set_id, k)
    c_rank = np.nonzero(has)[1] + 1
    c_w = 1.0 / np.repeat(k, k)
    pos = np.concatenate([f_pos, c_pos])
    ids = np.concatenate([f_id, c_id])
    rank = np.concatenate([np.zeros(f_pos.size, dtype=np.int64), c_rank])
    w = np.concatenate([np.ones(f_pos.size), c_w])
    o = np.lexsort((rank, ids))
    pos, ids, w = pos[o], ids[o], w[o]
    unit_w = np.bincount(pos, weights=w, minlength=n)
    return pos, ids, w, unit_w


def match_counts(a: np.ndarray, eligible: np.ndarray, nn: NNMatch, pos: np.ndarray,
                 ratio: int, estimand: str) -> dict[str, int]:
    """Subjects matched, unmatched (and why) and discarded per arm, sets, rows and reuse."""
    used = np.zeros(a.size, dtype=bool)
    used[pos] = True
    times = np.bincount(pos, minlength=a.size)
    ctrl_arm = 0 if estimand == "ATT" else 1
    k = (nn.controls >= 0).sum(axis=1)
    c: dict[str, int] = {"n": int(a.size)}
    for arm, name in ((1, "exposed"), (0, "unexposed")):
        m = a == arm
        c[f"n_{name}"] = int(m.sum())
        c[f"{name}_matched"] = int((used & m).sum())
        c[f"{name}_unmatched"] = int((~used & m).sum())
        c[f"discarded_{name}"] = int((~eligible & m).sum())
    c["unmatched_caliper"] = int((nn.reason == 1).sum())
    c["unmatched_no_control"] = int(((nn.reason == 2) & eligible[nn.focal]).sum())
    c["incomplete_sets"] = int(((k > 0) & (k < ratio)).sum())
    c["n_sets"] = int((k > 0).sum())
    c["n_rows"] = int(pos.size)
    if estimand == "ATE":  # times used as a match (each subject is also focal once)
        times = np.bincount(nn.controls[nn.controls >= 0], minlength=a.size)
        ctrl = np.ones(a.size, dtype=bool)
    else:
        ctrl = a == ctrl_arm
    c["controls_reused"] = int(((times > 1) & ctrl).sum())
    c["max_reuse"] = int(times[ctrl].max()) if ctrl.any() else 0
    return c
