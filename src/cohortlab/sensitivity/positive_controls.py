"""Synthetic positive controls: negative-control outcomes with injected exposed outcomes.

:func:`synthetic_positive_controls` adds outcomes with known true risk ratios for
:func:`~cohortlab.sensitivity.calibration.systematic_error_model`; importable from
:mod:`cohortlab.sensitivity.calibration` too. The injection probability is computed in
:mod:`cohortlab.sensitivity._calibration` (arrays only).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._typing import Missing, RandomState
from .._validation import (
    apply_missing,
    check_columns,
    check_random_state,
    verb,
    verb_name,
)
from ..exceptions import CohortWarning, DataValidationError
from ._calibration import _injection_probability

__all__ = ["synthetic_positive_controls", "InjectionClippedWarning"]


class InjectionClippedWarning(CohortWarning):
    """Some exposed subjects' target risk exceeds 1: the synthetic effect is below target."""


@verb
def synthetic_positive_controls(
    data: pd.DataFrame,
    *,
    exposure: str,
    outcomes: str | Sequence[str],
    effect_sizes: Sequence[float] = (1.5, 2.0, 4.0),
    covariates: str | Sequence[str] | None = None,
    reference: Any = None,
    random_state: RandomState = None,
    missing: Missing = "raise",
) -> pd.DataFrame:
    """Synthetic positive controls: negative-control outcomes with injected exposed outcomes.

    For each binary negative-control outcome and each target risk ratio ``k > 1``, extra
    outcomes are drawn among the exposed non-cases so that every exposed subject's risk ``r``
    becomes ``k r``: a non-case gets an outcome with probability ``(k - 1) r / (1 - r)``.
    ``r`` is the fitted risk of a logistic model of the outcome on ``covariates`` among the
    exposed (their mean risk without ``covariates``). The unexposed are untouched.

    Estimand: a new outcome column whose true causal risk ratio for the exposure is ``k``.
    With ``covariates`` the conditional risk ratio is ``k`` at every covariate value, so ``k``
    is the true ratio for every estimand (ATE, ATT, ...); without them, only among the exposed
    (ATT). In the spirit of OHDSI's MethodEvaluation (Schuemie et al. 2018), which injects
    outcomes into the exposed with a fitted outcome model so that the positive controls keep
    the negative controls' confounding.

    Assumptions: the negative control has no effect (risk under exposure = risk without);
    the outcome model among the exposed is correctly specified; ``k r <= 1`` (subjects where
    ``k r > 1`` get probability 1; an :class:`InjectionClippedWarning` says when this lowers
    the expected ratio among the exposed by more than 0.1%). The
    injected outcomes are random draws, so the realised ratio differs from ``k`` by sampling
    error.

    Variance: not applicable (a data-generating step); draws come from ``random_state``.

    Parameters
    ----------
    data : pandas.DataFrame
    exposure : str
        Binary exposure.
    outcomes : str or list of str
        Binary (0/1) negative-control outcome columns.
    effect_sizes : sequence of float
        Target risk ratios, each > 1.
    covariates : list of str or str, optional
        Covariates of the outcome model (the study's confounders).
    reference : optional
        Exposure label of the unexposed group.
    random_state : int, numpy.random.Generator or None
        Seed of the injected draws.
    missing : {"raise", "drop"}
        Missing values in the used columns raise, or the rows are dropped.

    Returns
    -------
    pandas.DataFrame
        A copy of ``data`` (rows with missing values removed under ``missing="drop"``) with a
        new column ``<outcome>_rr<k>`` per outcome and size; ``attrs["true_effects"]`` maps
        each new column to ``k`` (pass these to :func:`systematic_error_model` as
        ``true_effects``), ``attrs["expected_effects"]`` to the expected risk ratio among
        the exposed under the outcome model (``k`` unless probabilities were clipped),
        ``attrs["source"]`` to its negative control, and ``attrs["notes"]`` to the
        warnings.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"a": rng.integers(0, 2, 4000), "age": rng.normal(size=4000)})
    >>> d["nc"] = rng.binomial(1, 1 / (1 + np.exp(2 - 0.5 * d.age)))
    >>> pc = synthetic_positive_controls(d, exposure="a", outcomes="nc", effect_sizes=[2.0],
    ...                                  covariates=["age"], random_state=1)
    >>> pc.attrs["true_effects"]
    {'nc_rr2': 2.0}
    >>> risk = pc.groupby("a")[["nc", "nc_rr2"]].mean()
    >>> round(float(risk.loc[1, "nc_rr2"] / risk.loc[1, "nc"]), 2)
    1.95
    """
    from .._design import build_design, covariate_columns
    from .._glm import fit_logistic
    from .._validation import check_binary

    func = verb_name()
    outs = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    check_columns(data, func, exposure=exposure, outcomes=outs)
    cov = covariate_columns(covariates, data, func) if covariates is not None else []
    sizes = [float(k) for k in effect_sizes]
    if not sizes or not all(math.isfinite(k) and k > 1 for k in sizes):
        raise DataValidationError(
            f"{func}(): effect_sizes must be risk ratios > 1; got {list(effect_sizes)!r}. "
            "Outcomes can only be added, so target ratios above 1 (e.g. 1.5, 2, 4).")
    frame, _ = apply_missing(data, [exposure, *outs, *cov], missing, func)
    rng = check_random_state(random_state, func)
    a = check_binary(frame, exposure, "exposure", func, reference=reference).astype(bool)
    design = (build_design(frame.loc[a], covariates, func)
              if covariates is not None and cov else None)
    out = frame.copy()
    true_effects: dict[str, float] = {}
    source: dict[str, str] = {}
    expected: dict[str, float] = {}
    notes: list[str] = []
    for oc in outs:  # loop over outcomes and sizes (a handful), not rows
        y = check_binary(frame, oc, "outcomes", func).astype(bool) if frame[oc].nunique() > 1 \
            else _single_level(frame, oc, func)
        ya = y[a]
        if ya.sum() == 0:
            raise DataValidationError(
                f"{func}(): column {oc!r} (outcomes) has no events among the exposed; got 0 of "
                f"{int(a.sum()):,}. A zero risk cannot be multiplied; drop this control.")
        risk = (fit_logistic(design.X, ya.astype(float), func=func,
                             response=f"{oc!r}").fitted if design is not None
                else np.full(ya.size, ya.mean()))
        for k in sizes:
            q, n_clip = _injection_probability(risk, k)
            new = y.copy()
            new[a] = ya | (~ya & (rng.random(ya.size) < q))
            name = f"{oc}_rr{k:g}"
            out[name] = new.astype(int)
            true_effects[name], source[name] = k, oc
            expected[name] = float(np.mean(risk + (1 - risk) * q) / np.mean(risk))
            if n_clip:
                msg = (f"{func}(): {n_clip:,} exposed subjects have {k:g} x their fitted risk of "
                       f"{oc!r} above 1; their injection probability was clipped to 1, so the "
                       f"expected risk ratio among the exposed is {expected[name]:.4g}, not "
                       f"{k:g}. Use smaller effect_sizes or a rarer negative control.")
                if expected[name] < k * (1 - 1e-3):  # negligible clipping: a note only
                    warnings.warn(msg, InjectionClippedWarning, stacklevel=2)
                notes.append(msg)
    out.attrs.update(true_effects=true_effects, expected_effects=expected, source=source,
                     notes=notes)
    return out


def _single_level(frame: pd.DataFrame, column: str, func: str) -> np.ndarray:
    raise DataValidationError(
        f"{func}(): column {column!r} (outcomes) must be binary 0/1 with events; got the "
        f"single value {frame[column].iloc[0]!r}. Drop this control.")
