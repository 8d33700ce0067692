"""Static typing: mypy passes on src/, and the public signatures do not gain ``Any``.

- ``python -m mypy src/cohortlab`` with the ``[tool.mypy]`` configuration of pyproject.toml
  (python 3.11, check_untyped_defs, warn_unused_ignores; untyped third-party libraries are
  ignored there by name) must exit 0. Its cache goes to tmp_path, so the run is clean.
- Every ``Any`` in the signature of a public function (``cohortlab.__all__``) is counted;
  the count is pinned as a ceiling that may only go down: a new verb or parameter should say
  what it takes (a Literal, a Protocol, a concrete class), not ``Any``.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import cohortlab as cl

ROOT = Path(__file__).resolve().parents[1]

#: The number of ``Any`` in the public functions' signatures when this test was written.
#: Lower it when you remove one; never raise it.
ANY_CEILING = 44


def test_mypy_passes(tmp_path: Path):
    pytest.importorskip("mypy", reason="mypy (dev extra) is not installed")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "src/cohortlab", "--cache-dir", str(tmp_path / "mypy"),
         "--no-error-summary", "--hide-error-context"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, f"mypy found errors:\n{proc.stdout}\n{proc.stderr}"


def _count_any(hint: object) -> int:
    if hint is typing.Any:
        return 1
    return sum(_count_any(a) for a in typing.get_args(hint))


def _any_in_signature(func: typing.Callable[..., object]) -> int:
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # an annotation only importable under TYPE_CHECKING: read the text
        sig = inspect.signature(func)
        texts = [str(p.annotation) for p in sig.parameters.values()
                 if p.annotation is not inspect.Parameter.empty]
        if sig.return_annotation is not inspect.Signature.empty:
            texts.append(str(sig.return_annotation))
        return sum(len(re.findall(r"\bAny\b", t)) for t in texts)
    return sum(_count_any(h) for h in hints.values())


def public_functions() -> dict[str, typing.Callable[..., object]]:
    return {name: getattr(cl, name) for name in cl.__all__
            if inspect.isfunction(getattr(cl, name))}


def test_public_functions_are_annotated():
    missing = []
    for name, func in public_functions().items():
        sig = inspect.signature(func)
        missing += [f"{name}({p.name})" for p in sig.parameters.values()
                    if p.annotation is inspect.Parameter.empty]
        if sig.return_annotation is inspect.Signature.empty:
            missing.append(f"{name} -> ?")
    assert not missing, f"public functions without type hints: {missing}"


def test_public_signatures_do_not_gain_any():
    counts = {name: _any_in_signature(f) for name, f in public_functions().items()}
    total = sum(counts.values())
    worst = sorted(((c, n) for n, c in counts.items() if c), reverse=True)
    assert total <= ANY_CEILING, (
        f"{total} Any in the public signatures (ceiling {ANY_CEILING}): a new public parameter "
        f"is typed Any. Give it a real type. Counts per function: {worst}")
