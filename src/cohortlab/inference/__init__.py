"""Inference: Wald intervals, influence-function SEs, seeded bootstrap, multiplicity, Rubin."""

from .bootstrap import BootstrapResult, bootstrap, bootstrap_interval
from .influence import se_from_influence, vcov_from_influence
from .multiplicity import adjust_pvalues
from .rubin import RubinResult, pool_rubin, rubin_interval
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
    "pool_rubin",
    "rubin_interval",
    "RubinResult",
]
