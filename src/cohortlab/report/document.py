"""``Report``: one document of headings, text, tables and figures, saved as HTML, Word, Excel.

A report collects blocks in order. Tables are snapshotted when added (as
:class:`~cohortlab.report.tables.TableParts`) and figures are rendered when added (PNG at
300 dpi in the publication style), so later changes to a figure or a frame do not alter the
report. ``save_html`` writes ONE self-contained file (CSS inline, figures as base64 data
URIs, nothing loaded from the network); ``save_docx`` writes Word tables and embedded
figures; ``save_xlsx`` writes one sheet per table and a Notes sheet with the provenance.
"""

from __future__ import annotations

import base64
import html
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import DataValidationError
from ..results._format import render_html
from ..results.labels import Labels, as_labels
from .tables import TableParts, table_parts

__all__ = ["Report"]

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:62rem;
margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;border-bottom:2px solid #1b6ca8;padding-bottom:.3rem;margin-bottom:.2rem}
.subtitle{font-size:1.1rem;color:#555;margin-top:0}
h2{font-size:1.2rem;margin-top:2rem;color:#1b6ca8}h3{font-size:1.05rem}
table.cohortlab-table{margin:.5rem 0 .3rem 0}
table.cohortlab-table tr:nth-child(even){background:#f7f9fb}
table.provenance{font-size:.8rem;color:#444;border-collapse:collapse;margin:.5rem 0 1rem 0}
table.provenance td{padding:1px 10px 1px 0;vertical-align:top}
figure{margin:1rem 0}figcaption{font-size:.85rem;color:#444}
.caption{font-size:.85rem;color:#444;margin:.2rem 0 1.2rem 0}
code{background:#f3f3f3;padding:0 .2rem}
footer{margin-top:3rem;font-size:.75rem;color:#777;border-top:1px solid #ddd;padding-top:.4rem}
"""

_INLINE = re.compile(r"(\*\*.+?\*\*|__.+?__|`[^`]+`|\*[^*\s][^*]*?\*|_[^_\s][^_]*?_)")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


# ---------------------------------------------------------------------- a small Markdown
def _inline_runs(text: str) -> list[tuple[str, str]]:
    """Split inline Markdown into (kind, text) runs: plain, bold, italic, code."""
    runs: list[tuple[str, str]] = []
    for piece in _INLINE.split(text):
        if not piece:
            continue
        if (piece.startswith("**") and piece.endswith("**") and len(piece) > 4) or (
                piece.startswith("__") and piece.endswith("__") and len(piece) > 4):
            runs.append(("bold", piece[2:-2]))
        elif piece.startswith("`") and piece.endswith("`") and len(piece) > 2:
            runs.append(("code", piece[1:-1]))
        elif piece[0] in "*_" and piece[-1] == piece[0] and len(piece) > 2:
            runs.append(("italic", piece[1:-1]))
        else:
            runs.append(("plain", piece))
    return runs


def _blocks(markdown: str) -> list[tuple[str, Any]]:
    """Paragraphs, bullet and numbered lists and ``#`` headings of a Markdown text."""
    out: list[tuple[str, Any]] = []
    para: list[str] = []
    items: list[str] = []
    kind = ""

    def flush() -> None:
        nonlocal para, items, kind
        if para:
            out.append(("p", " ".join(s.strip() for s in para)))
        if items:
            out.append((kind, list(items)))
        para, items, kind = [], [], ""

    for line in markdown.splitlines():
        b, n, h = _BULLET.match(line), _NUMBERED.match(line), _HEADING.match(line.strip())
        if not line.strip():
            flush()
        elif h:
            flush()
            out.append(("h", (len(h.group(1)), h.group(2).strip())))
        elif b or n:
            new_kind = "ul" if b else "ol"
            if para or (kind and kind != new_kind):
                flush()
            kind = new_kind
            items.append((b or n).group(1).strip())  # type: ignore[union-attr]
        elif items and line.startswith((" ", "\t")):
            items[-1] += " " + line.strip()  # continuation of a list item
        else:
            if items:
                flush()
            para.append(line)
    flush()
    return out


def _inline_html(text: str) -> str:
    tags = {"bold": "strong", "italic": "em", "code": "code"}
    return "".join(html.escape(t) if k == "plain" else f"<{tags[k]}>{html.escape(t)}</{tags[k]}>"
                   for k, t in _inline_runs(text))


def markdown_html(markdown: str, heading_offset: int = 0) -> str:
    r"""The small Markdown subset of :meth:`Report.add_text` as HTML.

    Examples
    --------
    >>> markdown_html("Some **bold** text.\n\n- one\n- two")
    '<p>Some <strong>bold</strong> text.</p>\n<ul><li>one</li><li>two</li></ul>'
    """
    parts = []
    for kind, content in _blocks(markdown):
        if kind == "p":
            parts.append(f"<p>{_inline_html(content)}</p>")
        elif kind == "h":
            level = min(content[0] + heading_offset, 6)
            parts.append(f"<h{level}>{_inline_html(content[1])}</h{level}>")
        else:
            lis = "".join(f"<li>{_inline_html(i)}</li>" for i in content)
            parts.append(f"<{kind}>{lis}</{kind}>")
    return "\n".join(parts)


# ---------------------------------------------------------------------- blocks
@dataclass(frozen=True)
class _Heading:
    text: str
    level: int
    anchor: str = ""


def _slug(text: str) -> str:
    """An HTML id from a heading: ``"Table 2: effects"`` -> ``"table-2-effects"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


@dataclass(frozen=True)
class _Text:
    markdown: str


@dataclass(frozen=True)
class _Table:
    parts: TableParts


@dataclass(frozen=True)
class _Figure:
    png: bytes
    title: str
    caption: str
    width_px: int
    dpi: int


def _png_width(png: bytes) -> int:
    """Pixel width from a PNG's IHDR chunk."""
    return int(struct.unpack(">I", png[16:20])[0])


def _is_figure(obj: Any) -> bool:
    try:
        from matplotlib.axes import Axes
        from matplotlib.figure import Figure, SubFigure
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return False
    return isinstance(obj, (Figure, SubFigure, Axes))


def _check_text(value: Any, argument: str, func: str, *, optional: bool = False) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str) or (not optional and not value.strip()):
        raise DataValidationError(
            f"{func}(): {argument} must be a {'' if optional else 'non-empty '}string; "
            f"got {value!r}. Pass text."
        )
    return value


class Report:
    """A report of headings, Markdown text, tables and figures; saved as HTML, Word or Excel.

    Every ``add_*`` method returns the report, so calls chain. Tables are anything
    :func:`cohortlab.report.tables.table_parts` accepts (``Estimate``, ``EstimateTable``,
    ``ModelResult``, ``Curve`` at chosen times, ``Table1``, ``Attrition``, ``Table2``, other
    cohortlab results with ``to_frame()``, or a DataFrame); figures are matplotlib Figures or
    Axes, rendered when added at 300 dpi in the publication style
    (:func:`cohortlab.report.style.publication_style`).

    Parameters
    ----------
    title : str
        The report's title.
    subtitle : str, optional
        A line under the title.
    metadata : mapping of str to str, optional
        Provenance: package versions, date, seed, a hash of the data, the protocol file.
        Rendered as a block under the title (HTML, Word) and at the top of the Notes sheet
        (Excel). Values are converted with ``str()``. The cohortlab version is added under the
        key ``cohortlab`` unless given.
    labels : Labels or mapping, optional
        Display labels (:class:`cohortlab.Labels`) for every table added: model terms, arm
        names, Table 1 variables and values and report times (passed as ``labels=`` to
        :func:`cohortlab.report.tables.table_parts`; a table's own labels win). Figures are
        added already drawn: pass the same labels to the plot that makes them
        (``curve.plot(labels=...)``, ``forest_plot(..., labels=...)``).

    Examples
    --------
    >>> import numpy as np
    >>> from cohortlab.results import Estimate
    >>> est = Estimate.from_model_scale("qsmk", np.log(0.82), 0.08,
    ...     effect_measure="hazard_ratio", method="cox")
    >>> rep = (Report("NHEFS", metadata={"seed": "1"})
    ...        .add_heading("Effect").add_text("Quitting and **death**.").add_table(est))
    >>> page = rep.to_html()
    >>> "<strong>death</strong>" in page and "0.82 (0.70 to 0.96)" in page
    True
    """

    def __init__(self, title: str, *, subtitle: str | None = None,
                 metadata: Mapping[str, str] | None = None,
                 labels: Labels | Mapping[str, Any] | None = None) -> None:
        from .. import __version__

        self.title = _check_text(title, "title", "Report")
        self.subtitle = _check_text(subtitle, "subtitle", "Report", optional=True)
        if metadata is not None and not isinstance(metadata, Mapping):
            raise DataValidationError(
                f"Report(): metadata must be a mapping of names to values; got "
                f"{type(metadata).__name__}. Pass e.g. {{'seed': '2026'}}."
            )
        meta = {str(k): str(v) for k, v in (metadata or {}).items()}
        meta.setdefault("cohortlab", __version__)
        self.metadata: dict[str, str] = meta
        self.labels: Labels | None = None if labels is None else as_labels(labels)
        self._blocks: list[_Heading | _Text | _Table | _Figure] = []

    def __repr__(self) -> str:
        counts = {k: sum(isinstance(b, c) for b in self._blocks)
                  for k, c in (("headings", _Heading), ("texts", _Text), ("tables", _Table),
                               ("figures", _Figure))}
        inner = ", ".join(f"{v} {k}" for k, v in counts.items())
        return f"Report({self.title!r}: {inner})"

    # ------------------------------------------------------------------ building
    def add_heading(self, text: str, level: int = 2, *, anchor: str | bool | None = None
                    ) -> Report:
        """Add a section heading (level 1 to 6; the title is above level 1, default 2).

        ``anchor`` gives the HTML heading an ``id`` (``anchor=True``: the text in lower case
        with dashes, ``"Table 2"`` -> ``"table-2"``), so ``#table-2`` links to it.
        """
        _check_text(text, "text", "Report.add_heading")
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 6:
            raise DataValidationError(
                f"Report.add_heading(): level must be an integer from 1 to 6; got {level!r}."
                " Use 2 for sections, 3 for subsections."
            )
        name = _slug(text) if anchor is True else (anchor or "")
        self._blocks.append(_Heading(text, level, name))
        return self

    def add_text(self, markdown: str) -> Report:
        """Add Markdown text: paragraphs, ``-``/``1.`` lists, ``**bold**``, ``*italic*``, code."""
        if not isinstance(markdown, str):
            raise DataValidationError(
                f"Report.add_text(): markdown must be a string; got {type(markdown).__name__}."
                " Pass Markdown text."
            )
        self._blocks.append(_Text(markdown))
        return self

    def add_table(self, obj: Any, *, title: str | None = None, caption: str | None = None,
                  digits: int | None = None, times: Any = None) -> Report:
        """Add a result (or DataFrame) as a table; ``title`` replaces the result's own."""
        _check_text(title, "title", "Report.add_table", optional=True)
        _check_text(caption, "caption", "Report.add_table", optional=True)
        if isinstance(obj, TableParts):
            parts = TableParts(title=obj.title if title is None else title,
                               display=obj.display.copy(), numbers=obj.numbers.copy(),
                               notes=obj.notes, caption=caption or obj.caption)
        else:
            parts = table_parts(obj, title=title, caption=caption, digits=digits, times=times,
                                labels=self.labels)
        self._blocks.append(_Table(parts))
        return self

    def add_figure(self, fig: Any, *, title: str | None = None,
                   caption: str | None = None) -> Report:
        """Add a matplotlib Figure (or the Figure of an Axes), rendered now at 300 dpi."""
        from .style import DPI, figure_bytes

        _check_text(title, "title", "Report.add_figure", optional=True)
        _check_text(caption, "caption", "Report.add_figure", optional=True)
        if not _is_figure(fig):
            raise TypeError(
                f"Report.add_figure(): fig must be a matplotlib Figure or Axes; got "
                f"{type(fig).__name__}. Pass the Axes a cohortlab plot returns."
            )
        png = figure_bytes(fig, "png", dpi=DPI)
        self._blocks.append(_Figure(png, title or "", caption or "", _png_width(png), DPI))
        return self

    def add(self, obj: Any, *, title: str | None = None, caption: str | None = None) -> Report:
        """Add a figure (Figure/Axes), a text (a str, as Markdown) or otherwise a table."""
        if _is_figure(obj):
            return self.add_figure(obj, title=title, caption=caption)
        if isinstance(obj, str):
            if title:
                self.add_heading(title)
            return self.add_text(obj)
        return self.add_table(obj, title=title, caption=caption)

    @property
    def tables(self) -> list[TableParts]:
        """The tables added, in order."""
        return [b.parts for b in self._blocks if isinstance(b, _Table)]

    # ------------------------------------------------------------------ HTML
    def _provenance_html(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                       for k, v in self.metadata.items())
        return f'<table class="provenance"><tbody>{rows}</tbody></table>'

    @staticmethod
    def _figure_html(b: _Figure) -> str:
        data = base64.b64encode(b.png).decode("ascii")
        width = round(b.width_px * 96 / b.dpi)  # the figure's own size on screen
        cap = " ".join(x for x in (f"<strong>{html.escape(b.title)}</strong>" if b.title else "",
                                   html.escape(b.caption)) if x)
        alt = html.escape(b.title or b.caption or "figure")
        figcap = f"<figcaption>{cap}</figcaption>" if cap else ""
        return (f'<figure><img alt="{alt}" width="{width}" style="max-width:100%;height:auto" '
                f'src="data:image/png;base64,{data}">{figcap}</figure>')

    def to_html(self) -> str:
        """The report as one self-contained HTML page (inline CSS, embedded PNG figures)."""
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        if self.subtitle:
            body.append(f'<p class="subtitle">{html.escape(self.subtitle)}</p>')
        body.append(self._provenance_html())
        for b in self._blocks:
            if isinstance(b, _Heading):
                ident = f' id="{html.escape(b.anchor)}"' if b.anchor else ""
                body.append(f"<h{b.level}{ident}>{html.escape(b.text)}</h{b.level}>")
            elif isinstance(b, _Text):
                body.append(markdown_html(b.markdown, heading_offset=1))
            elif isinstance(b, _Table):
                p = b.parts
                body.append(render_html(p.display, p.title, p.notes))
                if p.caption:
                    body.append(f'<p class="caption">{html.escape(p.caption)}</p>')
            else:
                body.append(self._figure_html(b))
        foot = f"<footer>Made with cohortlab {html.escape(self.metadata['cohortlab'])}</footer>"
        return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
                '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                f"<title>{html.escape(self.title)}</title>\n<style>{_CSS}</style></head>\n"
                "<body>\n" + "\n".join(body) + f"\n{foot}\n</body></html>\n")

    def _repr_html_(self) -> str:
        return self.to_html()

    def save_html(self, path: str | Path) -> Path:
        """Write the report as ONE self-contained HTML file; returns the path."""
        out = Path(path)
        out.write_text(self.to_html(), encoding="utf-8")
        return out

    # ------------------------------------------------------------------ Word
    def _docx_markdown(self, doc: Any, markdown: str) -> None:
        from docx.shared import Pt

        def runs(para: Any, text: str) -> None:
            for kind, t in _inline_runs(text):
                run = para.add_run(t)
                run.bold = kind == "bold" or None
                run.italic = kind == "italic" or None
                if kind == "code":
                    run.font.name = "Consolas"
                    run.font.size = Pt(9)

        for kind, content in _blocks(markdown):
            if kind == "p":
                runs(doc.add_paragraph(), content)
            elif kind == "h":
                doc.add_heading(content[1], level=min(content[0] + 1, 9))
            else:
                style = "List Bullet" if kind == "ul" else "List Number"
                for item in content:
                    runs(doc.add_paragraph(style=style), item)

    def save_docx(self, path: str | Path) -> Path:
        """Write the report as a Word document (tables as Word tables, figures embedded)."""
        import io

        from docx.shared import Inches, Pt

        from .docx import add_docx_table, new_document

        doc = new_document()
        doc.add_heading(self.title, level=0)
        if self.subtitle:
            doc.add_paragraph(self.subtitle, style="Subtitle")
        for k, v in self.metadata.items():
            para = doc.add_paragraph()
            para.paragraph_format.space_after = Pt(0)
            run = para.add_run(f"{k}: ")
            run.bold = True
            run.font.size = Pt(8)
            para.add_run(v).font.size = Pt(8)
        doc.add_paragraph()
        last = len(self._blocks) - 1
        for i, b in enumerate(self._blocks):
            if isinstance(b, _Heading):
                doc.add_heading(b.text, level=b.level)
            elif isinstance(b, _Text):
                self._docx_markdown(doc, b.markdown)
            elif isinstance(b, _Table):
                # a wide table at the very end: no portrait section (an empty last page)
                add_docx_table(doc, b.parts, portrait_after=i < last)
            else:
                if b.title:
                    para = doc.add_paragraph()
                    para.paragraph_format.keep_with_next = True
                    para.add_run(b.title).bold = True
                width = min(b.width_px / b.dpi, 6.3)
                doc.add_picture(io.BytesIO(b.png), width=Inches(width))
                if b.caption:
                    para = doc.add_paragraph()
                    para.add_run(b.caption).font.size = Pt(8)
        out = Path(path)
        doc.save(str(out))
        return out

    # ------------------------------------------------------------------ Excel
    def save_xlsx(self, path: str | Path) -> Path:
        """Write every table to one workbook (one sheet each) with a Notes sheet."""
        from .excel import write_workbook

        named = [(p.title or f"Table {i}", p) for i, p in enumerate(self.tables, start=1)]
        return write_workbook(named, path, metadata={"report": self.title, **self.metadata})
