"""Inference engine: Wald intervals, influence-function SEs, the seeded bootstrap, multiplicity."""

from .bootstrap import BootstrapResult, bootstrap, bootstrap_interval
from .influence import se_from_influence, vcov_from_influence
from .multiplicity import adjust_pvalues
from .wald import WaldResult, wald, z_critical

__all__ = [
    "wald",
    "z_critical",
    "WaldResult",
    "se_from_influence",
    "vcov_from_influence",
    "bootstrap",
    "bootstrap_interval",
    "BootstrapResult",
    "adjust_pvalues",
]
