"""Lazy conversions to and from other causal-inference libraries.

Each adapter imports its library inside its functions, so ``import cohortlab`` never imports
dowhy or econml; a missing library raises an ``ImportError`` naming the pip extra.
"""

from .dowhy import refute_with_dowhy, to_dowhy

__all__ = ["to_dowhy", "refute_with_dowhy"]
