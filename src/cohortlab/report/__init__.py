"""Publication outputs: figures, Word/Excel tables, Table 2 and the self-contained report."""

from .document import Report
from .docx import to_docx
from .excel import to_excel
from .figures import attrition_plot, curve_plot, forest_plot, smd_plot
from .style import publication_style, save_figure
from .tables import Table2, TableParts, table1_before_after, table2, table_parts

__all__ = [
    "Report",
    "table2",
    "Table2",
    "table1_before_after",
    "TableParts",
    "table_parts",
    "to_docx",
    "to_excel",
    "publication_style",
    "save_figure",
    "forest_plot",
    "curve_plot",
    "smd_plot",
    "attrition_plot",
]
