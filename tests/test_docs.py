"""The documentation under docs/ is executed and kept complete.

- every ```python block of every docs/**/*.md page runs, the blocks of one page in order in
  one namespace (warnings are errors, as everywhere in the suite);
- every public function or class in ``cohortlab.__all__`` has a reference page
  (docs/reference/<name>.md) or a heading on one, so a new verb cannot ship undocumented;
- every page is in the nav of mkdocs.yml, and every reference page is listed on
  docs/reference/index.md.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import matplotlib
import pytest

import cohortlab as cl

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
PAGES = sorted(DOCS.rglob("*.md"))

_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^#{1,6}\s+(.*)$", re.MULTILINE)


def _rel(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks of a Markdown page, in order."""
    return _FENCE.findall(text)


def test_docs_exist():
    assert (DOCS / "index.md").is_file()
    assert len(PAGES) >= 10
    assert any(python_blocks(p.read_text(encoding="utf-8")) for p in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_code_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run the page's blocks in order in one namespace, in a scratch directory."""
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for i, block in enumerate(python_blocks(page.read_text(encoding="utf-8")), start=1):
        code = compile(block, f"{_rel(page)} [python block {i}]", "exec")
        try:
            exec(code, namespace)
        finally:
            plt.close("all")


def _public_callables() -> list[str]:
    names = []
    for name in cl.__all__:
        obj = getattr(cl, name)
        if inspect.ismodule(obj):
            continue
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue  # errors and warnings: documented together on reference/exceptions.md
        if inspect.isfunction(obj) or inspect.isclass(obj):
            names.append(name)
    return names


def _reference_headings() -> set[str]:
    words: set[str] = set()
    for page in REFERENCE.glob("*.md"):
        for heading in _HEADING.findall(page.read_text(encoding="utf-8")):
            words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", heading))
    return words


@pytest.mark.parametrize("name", _public_callables())
def test_public_name_has_a_reference_page(name: str):
    page = REFERENCE / f"{name}.md"
    assert page.is_file() or name in _reference_headings(), (
        f"cohortlab.{name} is public (in __all__) but undocumented: add docs/reference/{name}.md "
        "(signature, parameters, returns, conventions, an example, the matching R function), "
        "or a heading naming it on a docs/reference page, and add the page to mkdocs.yml's nav."
    )


def _nav_pages() -> set[str]:
    """The .md paths listed in mkdocs.yml's nav (a plain scan: no YAML parser needed)."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text.split("\nnav:", 1)
    assert len(nav) == 2, "mkdocs.yml has no top-level nav:"
    body = []
    for line in nav[1].splitlines():
        if line and not line[0].isspace() and not line.startswith("-"):
            break  # the next top-level key ends the nav
        body.append(line)
    return set(re.findall(r"([\w./-]+\.md)\b", "\n".join(body)))


def test_mkdocs_config():
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^site_name:\s*cohortlab\s*$", text, re.MULTILINE)


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_page_is_in_mkdocs_nav(page: Path):
    assert _rel(page) in _nav_pages(), f"add {_rel(page)} to the nav of mkdocs.yml"


def test_nav_lists_only_existing_pages():
    missing = sorted(p for p in _nav_pages() if not (DOCS / p).is_file())
    assert not missing, f"mkdocs.yml's nav lists pages that do not exist: {missing}"


def test_reference_index_links_every_reference_page():
    index = (REFERENCE / "index.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([\w.-]+\.md)(?:#[\w-]*)?\)", index))
    pages = {p.name for p in REFERENCE.glob("*.md") if p.name != "index.md"}
    assert pages - linked == set(), f"docs/reference/index.md does not link {pages - linked}"


@pytest.mark.parametrize("alias", ["CIMethod", "EffectMeasure", "Estimand"])
def test_glossary_explains_every_option_value(alias: str):
    """Every value of the option aliases recorded in results is explained in the glossary."""
    from typing import get_args

    from cohortlab import _typing

    glossary = (DOCS / "glossary.md").read_text(encoding="utf-8")
    missing = [v for v in get_args(getattr(_typing, alias)) if f"`{v}`" not in glossary
               and f'`"{v}"`' not in glossary]
    assert not missing, f"docs/glossary.md does not explain the {alias} values {missing}"
