"""``python -m cohortlab``: the ``cohortlab`` command (see :mod:`cohortlab.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
