"""Bundled real data (with provenance) and simulated cohorts with known true effects."""

from .loaders import (
    labels,
    load_gbsg,
    load_lalonde,
    load_lung,
    load_mgus2,
    load_nhefs,
    load_rotterdam,
)
from .simulate import simulate_cohort
from .simulate_longitudinal import simulate_longitudinal

__all__ = [
    "load_nhefs",
    "load_lalonde",
    "load_lung",
    "load_mgus2",
    "load_rotterdam",
    "load_gbsg",
    "simulate_cohort",
    "simulate_longitudinal",
    "labels",
]
