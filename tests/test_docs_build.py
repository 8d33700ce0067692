"""The documentation site builds with ``mkdocs build --strict``.

The reference pages render each verb's signature, parameters, returns and examples from its
docstring with mkdocstrings (numpy style), so a docstring that griffe cannot parse (a
parameter that is not in the signature, a malformed section), a broken link or a missing
anchor fails this test, as it fails ``make docs``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs", reason="the docs extra (mkdocs) is not installed")
pytest.importorskip("mkdocstrings_handlers.python",
                    reason="the docs extra (mkdocstrings[python]) is not installed")


def test_mkdocs_build_strict(tmp_path: Path):
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    page = (site / "reference" / "ipw" / "index.html").read_text(encoding="utf-8")
    # the signature and the parameters come from the docstring
    assert "censoring_covariates" in page and "Parameters" in page
