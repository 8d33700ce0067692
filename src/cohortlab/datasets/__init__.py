"""Bundled real data (with provenance) and simulated cohorts with known true effects."""

from .loaders import load_lalonde, load_lung, load_mgus2, load_nhefs
from .simulate import simulate_cohort

__all__ = ["load_nhefs", "load_lalonde", "load_lung", "load_mgus2", "simulate_cohort"]
