"""Effects by subgroup and interaction (heterogeneity) tests."""

from __future__ import annotations

from .subgroups import SubgroupResult, subgroups

__all__ = ["subgroups", "SubgroupResult"]
