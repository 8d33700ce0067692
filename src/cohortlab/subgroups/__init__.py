"""Effects by subgroup, interaction (heterogeneity) tests, and CATE summaries via EconML."""

from __future__ import annotations

from .cate import cate
from .subgroups import SubgroupResult, subgroups

__all__ = ["subgroups", "SubgroupResult", "cate"]
