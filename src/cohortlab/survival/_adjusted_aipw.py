"""Checks and bounds of the AIPW curves of ``adjusted_survival``.

Low effective sample size, curves outside [0, 1] or not monotone, and times where censoring
leaves no one observed.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._validation import verb_name
from ..causal._weights import ess
from ..exceptions import LowEffectiveSampleSizeWarning
from ._aipw import bound_curve, censoring_km

__all__ = ["AIPW_MIN_ESS", "AIPW_MIN_ESS_FRACTION", "low_ess_arms", "bound_aipw", "warn_low_ess",
           "mask_unestimable"]

#: AIPW curves are flagged unreliable when an arm's Kish effective sample size (its ATE
#: weights) falls under this fraction of the arm, or under :data:`AIPW_MIN_ESS` subjects in
#: an arm of at least twice that size: the augmentation term ``1{A=a}/e_a (Z - m_a)`` then
#: rests on a handful of subjects and the curves leave [0, 1] or rise.
AIPW_MIN_ESS_FRACTION = 0.10
AIPW_MIN_ESS = 50


def low_ess_arms(sp: Any, w: np.ndarray) -> list[tuple[int, float, int]]:
    """Arms whose ATE weights leave too small an effective sample for the AIPW curves."""
    low = []
    for arm in (1, 0):
        wa = w[(sp.a == arm) & (w > 0)]
        n_eff = ess(wa)
        if (n_eff < AIPW_MIN_ESS_FRACTION * wa.size
                or (n_eff < AIPW_MIN_ESS and wa.size >= 2 * AIPW_MIN_ESS)):
            low.append((arm, n_eff, int(wa.size)))
    return low


def bound_aipw(sp: Any, values: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               move_intervals: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """Project each arm's AIPW curve onto monotone curves in [0, 1]; clip the CIs to [0, 1].

    With ``move_intervals`` (analytic intervals around the unbounded curve) a moved point's
    interval moves with it (same width); bootstrap percentile intervals already come from
    bounded replicate curves and stay. Then every interval is clipped to [0, 1]. Returns the
    notes that say what was corrected (none when nothing was).
    """
    increasing = sp.cause is not None
    what = "cumulative incidence" if increasing else "survival"
    way = "non-decreasing" if increasing else "non-increasing"
    new, notes = values.copy(), []
    for row, arm in enumerate((1, 0)):
        b = bound_curve(values[row], increasing)
        if not b.changed:
            continue
        new[row] = b.values
        found = [f"{b.n_out_of_range} of {b.n_points} grid times outside [0, 1] (by up to "
                 f"{b.max_out_of_range:.3g})" if b.n_out_of_range else "",
                 f"{b.n_non_monotone} of {b.n_points - 1} steps not {way} (by up to "
                 f"{b.max_non_monotone:.3g})" if b.n_non_monotone else ""]
        notes.append(
            f"AIPW {what} of {sp.exposure}={arm} bounded: "
            f"{' and '.join(f for f in found if f)}; projected onto {way} curves in [0, 1] "
            f"(isotonic regression, then clipping), moving {b.n_changed} points by up to "
            f"{b.max_change:.3g}; " + ("their intervals moved with them" if move_intervals
                                       else "the bootstrap replicates were bounded likewise"))
    shift = np.where(np.isfinite(new) & move_intervals, new - values, 0.0)
    lo, hi = lo + shift, hi + shift
    n_clip = int(np.sum((lo < 0) | (hi > 1)))
    if n_clip:
        notes.append(f"AIPW: {n_clip} confidence intervals clipped to [0, 1]")
    with np.errstate(invalid="ignore"):
        return new, np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0), tuple(notes)


def warn_low_ess(sp: Any, low_ess: list[tuple[int, float, int]],
                  bound_notes: tuple[str, ...]) -> tuple[str, ...]:
    """One strong warning (and its note) when an arm's effective sample size is too small."""
    if not low_ess:
        return ()
    arms = "; ".join(f"{sp.exposure}={arm}: {n_eff:.1f} of {n:,} subjects"
                     for arm, n_eff, n in low_ess)
    fixed = (" The curves left [0, 1] or were not monotone and were bounded (see notes)."
             if bound_notes else "")
    msg = (f"{verb_name()}(): the doubly robust (AIPW) curves are unreliable: the effective sample "
           f"size of the ATE weights is {arms} (under {AIPW_MIN_ESS_FRACTION:.0%} of the arm, "
           f"or under {AIPW_MIN_ESS}).{fixed} The propensity scores reach 0 or 1, so the "
           "estimate leans on a few subjects; restrict the cohort to where both arms occur "
           "(trim=\"crump\"), or use method=\"gformula\" (no weights) and report the overlap.")
    warnings.warn(msg, LowEffectiveSampleSizeWarning, stacklevel=4)
    return (msg.split("(): ", 1)[1],)


def mask_unestimable(sp: Any, values: np.ndarray, se: np.ndarray, lo: np.ndarray,
                      hi: np.ndarray, notes: tuple) -> tuple:
    """NaN where an arm's censoring curve has reached 0 (no one observed beyond)."""
    g = np.vstack([censoring_km(sp.t[sp.a == arm], sp.d[sp.a == arm],
                                sp.s[sp.a == arm]).after(sp.grid) for arm in (1, 0)])
    bad = np.asarray((g <= 0).any(axis=0))
    if not bad.any():
        return values, se, lo, hi, notes
    out = [np.where(bad[None, :], np.nan, x) for x in (values, se, lo, hi)]
    first = float(sp.grid[bad][0])
    return (*out, notes + (f"AIPW not estimable from t = {first:g} on: every subject still "
                           "under follow-up in an arm is censored there (G = 0)",))
