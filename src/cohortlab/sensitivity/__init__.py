"""Sensitivity analyses for unmeasured confounding: E-values."""

from .evalue import evalue

__all__ = ["evalue"]
