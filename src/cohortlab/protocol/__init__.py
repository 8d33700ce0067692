"""The study protocol file (TOML) and its runner, behind the ``cohortlab`` command.

A protocol names the data, the eligibility criteria, the follow-up, the exposure, the
outcomes, the covariates, the analyses (cohortlab verbs) and the outputs; running it writes
every table, figure and one report into a folder. See docs/reference/protocol.md.
"""

from __future__ import annotations

from .load import Cohort, prepare_cohort
from .run import StudyResults, analyse, run_protocol, validate_protocol
from .schema import AnalysisError, Protocol, ProtocolError, parse_protocol, read_protocol
from .template import EXAMPLES, template_text, write_template

__all__ = [
    "Protocol",
    "ProtocolError",
    "AnalysisError",
    "Cohort",
    "StudyResults",
    "read_protocol",
    "parse_protocol",
    "prepare_cohort",
    "validate_protocol",
    "analyse",
    "run_protocol",
    "write_template",
    "template_text",
    "EXAMPLES",
]
