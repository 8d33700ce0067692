"""A minimal self-contained HTML page: sections of tables and embedded figures."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.5rem;border-bottom:2px solid #1b6ca8;padding-bottom:.3rem}
h2{font-size:1.15rem;margin-top:2rem;color:#1b6ca8}
table.cohortlab-table tr:nth-child(even){background:#f7f9fb}
figure{margin:1rem 0}figcaption{font-size:.85rem;color:#555}
.note{font-size:.85rem;color:#555}
"""


def figure_html(fig: Any, caption: str = "", dpi: int = 150) -> str:
    """A matplotlib Figure as an ``<img>`` with the PNG embedded (base64)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{html.escape(caption)}" style="max-width:100%" ' \
           f'src="data:image/png;base64,{data}">{cap}</figure>'


def html_page(title: str, sections: Sequence[tuple[str, str]], footer: str = "") -> str:
    """A complete HTML document; ``sections`` are (heading, HTML body) pairs."""
    body = "\n".join(f"<h2>{html.escape(h)}</h2>\n{b}" for h, b in sections)
    foot = f'<p class="note">{html.escape(footer)}</p>' if footer else ""
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            f"<h1>{html.escape(title)}</h1>\n{body}\n{foot}\n</body></html>\n")
