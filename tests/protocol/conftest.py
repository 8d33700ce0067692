"""Fixtures of the protocol tests: small protocols written to a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

#: A small, fast protocol on the simulated cohort touching every kind of step.
SMALL = '''
[study]
title = "Small simulated study"
question = "Does treatment lower systolic blood pressure at 12 months?"
seed = 7

[data]
dataset = "simulated"
n = 600
random_state = 3
id = "id"

[[eligibility]]
name = "adults aged 35+"
keep = "age >= 35"

[followup]
time = "time"
unit = "years"
horizon = 4
time_zero = "treatment decision"

[exposure]
column = "treated"

[[outcomes]]
name = "sbp"
type = "continuous"
column = "sbp_12m"

[[outcomes]]
name = "stroke"
type = "competing"
event = "event"
cause = 1

[covariates]
columns = ["age", "female", "bmi", "diabetes"]

[[analyses]]
name = "crude"
method = "crude_effect"
outcomes = ["sbp"]

[[analyses]]
name = "ipw"
method = "ipw"
outcomes = ["sbp"]
estimand = "ATE"

[[analyses]]
name = "cif"
method = "cumulative_incidence"
outcomes = ["stroke"]
at = [1, 2]

[[analyses]]
name = "cox"
method = "cox"
outcomes = ["stroke"]

[sensitivity]
evalue = true

[outputs]
tables = ["csv"]
figures = ["png"]
report = true
'''


@pytest.fixture
def small() -> str:
    """The small protocol's text."""
    return SMALL


@pytest.fixture
def fast() -> str:
    """The small protocol without figures or report (the quickest full run)."""
    return SMALL.replace('figures = ["png"]\nreport = true', 'figures = []\nreport = false')


@pytest.fixture
def write_protocol(tmp_path: Path):
    """Write protocol text to tmp_path/<name> and return its path."""

    def write(text: str = SMALL, name: str = "study.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
