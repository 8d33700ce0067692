"""mkdocs hook: render the Sphinx roles of the docstrings as inline code.

The docstrings are numpy style and also read in a terminal (``help(cl.ipw)``), where
``:func:`propensity_score``` is the convention; mkdocstrings renders such a role as the literal
``:func:`` followed by inline code. This hook drops the role and a leading ``~`` so that the
reference pages read ``propensity_score``.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:func|class|meth|attr|data|mod|exc|obj):<code>(~?)([^<]*)</code>")


def _code(m: re.Match[str]) -> str:
    tilde, target = m.group(1), m.group(2)
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    """Replace ``:role:<code>x</code>`` by ``<code>x</code>`` (``~a.b.c`` by ``c``)."""
    return _ROLE.sub(_code, html)
