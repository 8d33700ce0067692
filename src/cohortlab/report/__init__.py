"""Publication outputs: figures (and, later, tables and the HTML report)."""

from .figures import attrition_plot, curve_plot, forest_plot, smd_plot

__all__ = ["forest_plot", "curve_plot", "smd_plot", "attrition_plot"]
