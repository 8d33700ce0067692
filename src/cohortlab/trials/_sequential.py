"""Sequential trials' model fits and bootstrap replicates (arrays and chunk sources only).

:func:`fit_all` fits the weight models, truncates the weights, and fits the outcome (and
competing-event) hazard models on one source of person chunks; :func:`bootstrap_replicates`
refits them on person-bootstrap resamples and standardises the risks. ``sequential.py``
validates, writes the notes and builds the result.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..inference.bootstrap import bootstrap
from ._chunked import ChunkFit
from ._expand import PersonPeriod
from ._input import frame_source, resample
from ._model import (
    PPSource,
    Spec,
    Weights,
    entries,
    fit_competing,
    fit_outcome,
    fit_switch,
    flow_counts,
    outcome_names,
)
from ._standardise import standardised_risks
from ._weights import quantile_bounds

__all__ = ["SequentialFit", "bootstrap_replicates", "fit_all"]


@dataclass(frozen=True, eq=False)
class SequentialFit:
    """The models of one source: outcome, weights, competing event and the flow counts.

    ``spec`` carries the truncation bounds (when truncated), ``weights`` the untruncated
    weights of the outcome-model rows (``None`` unweighted) of which ``n_trunc`` lie outside
    the bounds; ``cfit`` is ``None`` without a competing event in the rows at risk.
    """

    fit: ChunkFit
    wts: Weights | None
    counts: dict[str, int]
    weights: np.ndarray | None
    spec: Spec
    cfit: ChunkFit | None
    n_trunc: int
    n_competing: int


def fit_all(spec: Spec, source: PPSource, truncate: tuple[float, float] | None
            ) -> SequentialFit:
    """Weight models, truncation, flow counts and the outcome (and competing) models."""
    wts = fit_switch(spec, source) if spec.weighted else None
    fc = flow_counts(spec, source, wts)
    w = None
    n_trunc = 0
    if spec.weighted:
        w = fc["weights"]
        if truncate is not None and w.size:
            lo, hi, n_trunc = quantile_bounds(w, truncate)
            spec = replace(spec, truncate=(lo, hi))
    fit = fit_outcome(spec, source, wts)
    n_comp = fc["counts"]["competing_arm0"] + fc["counts"]["competing_arm1"]
    cfit = fit_competing(spec, source, wts) if spec.competing and n_comp else None
    return SequentialFit(fit=fit, wts=wts, counts=fc["counts"], weights=w, spec=spec,
                         cfit=cfit, n_trunc=n_trunc, n_competing=int(n_comp))


def bootstrap_replicates(pp_all: PersonPeriod, spec: Spec, truncate: tuple[float, float] | None,
                         hz: list[int], n_fu: int, chunk_persons: int, n_boot: int,
                         random_state: int | np.random.Generator | None, n_jobs: int,
                         backend: Callable[[Any], Any] | None = None) -> np.ndarray:
    """Replicates of ``[R1(h), R0(h), RD(h), log RR(h)]`` per horizon (persons resampled).

    ``backend(stat)``, if given, is the joblib context the replicates run in (the Dask
    engine's, which sends ``stat`` and the data it holds to the workers once).
    """
    base_spec = replace(spec, truncate=None)
    time_rows = spec.cells().reshape(2, n_fu, -1)

    def stat(idx: np.ndarray) -> np.ndarray:
        src = frame_source(resample(pp_all, idx), chunk_persons)
        f = fit_all(base_spec, src, truncate)
        E, _, persons = entries(f.spec, src)
        R, _ = standardised_risks(f.fit.coef, outcome_names(f.spec)[1], time_rows, E, persons,
                                  None, None, None if f.cfit is None else f.cfit.coef)
        return np.concatenate([[R[1, h], R[0, h], R[1, h] - R[0, h],
                                math.log(R[1, h] / R[0, h])] for h in hz])

    with backend(stat) if backend is not None else contextlib.nullcontext():
        res = bootstrap(stat, pp_all.n_rows, n_boot=n_boot, random_state=random_state,
                        n_jobs=n_jobs, cluster=pp_all.person)
    return res.replicates
