"""``Report``: one self-contained HTML file (figures embedded, nothing external, parses),
a Word document with tables and figures, an Excel workbook; and the figure style."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import docx
import matplotlib
import matplotlib.pyplot as plt
import openpyxl
import pytest

from cohortlab.describe.table1 import table1
from cohortlab.exceptions import DataValidationError
from cohortlab.report.document import Report, markdown_html
from cohortlab.report.style import PUBLICATION_RC, publication_style, save_figure
from cohortlab.report.tables import table2
from cohortlab.survival.kaplan_meier import kaplan_meier

_VOID = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "source", "wbr"}


class _Checker(HTMLParser):
    """Collects tags and checks that every non-void element is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def _parse(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    return checker


@pytest.fixture(scope="module")
def report(hazard_ratios, risk_difference, small_cohort) -> Report:
    km = kaplan_meier(small_cohort, time="time", event="event", by="treated")
    t1 = table1(small_cohort, by="treated", columns=["age", "sex", "stage"],
                categorical=["stage"])
    rep = Report("A study", subtitle="Test cohort",
                 metadata={"seed": "2026", "data sha256": "ab12"})
    out = (rep.add_heading("Methods")
              .add_text("We used **IPW** and *AIPW*:\n\n- weights `ATE`\n- 95% CIs\n\n"
                        "1. first\n2. second")
              .add_heading("Results")
              .add(t1, title="Table 1")
              .add(hazard_ratios, caption="Cox model, robust SE.")
              .add(km, title="Survival")
              .add(table2({"death": hazard_ratios["statin"], "MACE": risk_difference}))
              .add(km.plot(risk_table=True), title="Figure 1", caption="Kaplan-Meier curves")
              .add(t1.plot().figure, title="Figure 2"))
    assert out is rep
    return rep


def test_html_is_one_self_contained_file(report, tmp_path):
    path = report.save_html(tmp_path / "report.html")
    assert list(tmp_path.iterdir()) == [path]
    page = path.read_text(encoding="utf-8")
    # figures embedded as data URIs, nothing loaded from elsewhere
    imgs = re.findall(r"<img[^>]*>", page)
    assert len(imgs) == 2
    assert all('src="data:image/png;base64,' in i for i in imgs)
    assert not re.search(r"""(?:src|href)\s*=\s*(?!["']?data:)""", page, re.IGNORECASE)
    assert not re.search(r"url\(|@import|<link|<script|https?://", page, re.IGNORECASE)
    assert "<style>" in page  # CSS inline


def test_html_parses_and_has_all_blocks(report):
    page = report.to_html()
    checker = _parse(page)
    assert checker.errors == [] and checker.stack == []
    tags = [t for t, _ in checker.tags]
    assert tags.count("table") == 4 + 1  # four tables + the provenance block
    assert tags.count("figure") == 2 and tags.count("h1") == 1
    assert "<h2>Methods</h2>" in page and "<h2>Results</h2>" in page
    assert "<strong>IPW</strong>" in page and "<em>AIPW</em>" in page
    assert "<code>ATE</code>" in page and "<ol><li>first</li>" in page
    assert "data sha256" in page and "ab12" in page and "cohortlab" in page
    assert "0.82 (0.70 to 0.96)" in page and "Cox model, robust SE." in page
    assert "Kaplan-Meier curves" in page


def test_docx_report_tables_figures_and_metadata(report, hazard_ratios, tmp_path):
    path = report.save_docx(tmp_path / "report.docx")
    doc = docx.Document(str(path))
    assert len(doc.tables) == 4
    assert len(doc.inline_shapes) == 2  # the figures, embedded
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "A study" in text and "Test cohort" in text and "seed: 2026" in text
    styles = {p.style.name for p in doc.paragraphs}
    assert {"Title", "Heading 2", "List Bullet", "List Number"} <= styles
    bold = [r.text for p in doc.paragraphs for r in p.runs if r.bold]
    assert "IPW" in bold
    hr = doc.tables[1]
    assert [c.text for c in hr.rows[1].cells][:2] == ["statin", "0.82 (0.70 to 0.96)"]


def test_xlsx_report_one_sheet_per_table(report, tmp_path):
    wb = openpyxl.load_workbook(report.save_xlsx(tmp_path / "report.xlsx"))
    names = wb.sheetnames
    assert names[0] == "Table 1" and names[-1] == "Notes"
    assert "Cox model" in names and "Table 2" in names
    notes = list(wb["Notes"].values)
    assert ("report", "A study") in [r[:2] for r in notes]
    assert ("seed", "2026") in [r[:2] for r in notes]


def test_figures_are_snapshots(small_cohort):
    fig, ax = plt.subplots(figsize=(1.5, 1))
    ax.plot([0, 1], [0, 1])
    rep = Report("x").add_figure(ax)
    before = rep.to_html()
    ax.plot([0, 1], [1, 0])
    plt.close(fig)
    assert rep.to_html() == before


def test_add_text_escapes_html():
    page = Report("x").add_text("a <script>alert(1)</script> & b").to_html()
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_markdown_subset():
    assert markdown_html("# Head\ntext\n* a\n  more\n* b") == (
        "<h1>Head</h1>\n<p>text</p>\n<ul><li>a more</li><li>b</li></ul>")


def test_add_dispatch(hazard_ratios):
    fig, ax = plt.subplots(figsize=(1.5, 1))
    rep = Report("x").add(fig).add(ax).add("plain text", title="Note").add(hazard_ratios)
    assert repr(rep) == "Report('x': 1 headings, 1 texts, 1 tables, 2 figures)"
    assert len(rep.tables) == 1


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: Report(""), DataValidationError, r"Report\(\): title must be a non-empty string"),
    (lambda: Report("x", metadata=[("a", 1)]), DataValidationError, r"metadata must be a mapping"),
    (lambda: Report("x", subtitle=3), DataValidationError, r"subtitle must be a string"),
    (lambda: Report("x").add_heading("h", level=0), DataValidationError,
     r"level must be an integer from 1 to 6; got 0"),
    (lambda: Report("x").add_heading(""), DataValidationError, r"text must be a non-empty"),
    (lambda: Report("x").add_text(3), DataValidationError, r"markdown must be a string; got int"),
    (lambda: Report("x").add_figure("fig.png"), TypeError,
     r"fig must be a matplotlib Figure or Axes; got str"),
    (lambda: Report("x").add_table(object()), TypeError, r"cannot make a table of a object"),
    (lambda: Report("x").add_table(None), TypeError, r"cannot make a table of a NoneType"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------------- style
def test_publication_style_is_scoped():
    before = matplotlib.rcParams["font.size"]
    with publication_style():
        assert matplotlib.rcParams["font.size"] == PUBLICATION_RC["font.size"]
        assert matplotlib.rcParams["savefig.dpi"] == 300
        assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0] == "#1b6ca8"
    assert matplotlib.rcParams["font.size"] == before


def test_save_figure_png_svg_300_dpi(tmp_path):
    from PIL import Image

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1])
    paths = save_figure(ax, tmp_path / "fig.png", formats=("png", "svg"))
    assert [p.name for p in paths] == ["fig.png", "fig.svg"]
    with Image.open(paths[0]) as img:
        assert round(img.info["dpi"][0]) == 300
    assert paths[1].read_text().lstrip().startswith("<?xml")


def test_save_figure_bad_format(tmp_path):
    fig, _ = plt.subplots()
    with pytest.raises(DataValidationError, match=r"unknown image formats in formats; got \['gif'\]"):
        save_figure(fig, tmp_path / "f", formats=("gif",))
    with pytest.raises(TypeError, match=r"save_figure\(\): fig must be a matplotlib Figure"):
        save_figure("fig", tmp_path / "f")
