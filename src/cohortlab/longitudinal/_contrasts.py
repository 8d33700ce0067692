"""The headline table of a longitudinal result that contrasts strategies: its ``contrasts``."""

from __future__ import annotations

import pandas as pd

from ..results._format import Renderable
from ..results.estimate import EstimateTable

__all__ = ["ContrastsView"]


class ContrastsView(Renderable):
    """Mixin: ``table`` and ``to_frame()`` give the result's ``contrasts`` table."""

    __slots__ = ()
    contrasts: EstimateTable

    @property
    def table(self) -> EstimateTable:
        """The contrasts of the strategies (``contrasts``)."""
        return self.contrasts

    def to_frame(self) -> pd.DataFrame:
        """The contrasts in the tidy schema (labels as extra columns)."""
        return self.contrasts.to_frame()
