"""Helpers the tests import (``pythonpath = ["tests"]`` in pyproject)."""

from __future__ import annotations

import json
from pathlib import Path

REFERENCE = Path(__file__).parent / "reference"


def load_reference(name: str) -> dict:
    """A reference JSON from tests/reference/ (copied from shared/reference with its R script)."""
    return json.loads((REFERENCE / f"{name}.json").read_text())
