"""Protocol templates written by ``cohortlab init``: a commented skeleton and the examples."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .schema import ProtocolError, close_matches

__all__ = ["EXAMPLES", "template_text", "write_template"]

#: The bundled example protocols (``src/cohortlab/protocol/examples/<name>.toml``).
EXAMPLES = ("nhefs", "wearable", "wearable_longitudinal", "target_trial")

_SKELETON = '''\
# A cohortlab study protocol. Fill in each section, then check it and run it:
#   cohortlab validate study.toml
#   cohortlab run study.toml --out results/
# Every field is described in docs/reference/protocol.md. This skeleton runs as it is on
# the bundled NHEFS data: replace the names with your own.

[study]
title = "My study"
question = "In <population>, what is the effect of <exposure> vs <comparator> on <outcome>?"
description = "The target trial this cohort emulates: eligibility, time zero, follow-up."
seed = 2024                      # seed of every random draw (bootstrap, cross-fitting)

[data]
# Exactly one of:
#   path = "cohort.csv"          # CSV or Parquet, relative to this file
#   query = "SELECT * FROM 'cohort.parquet' WHERE year >= 2015"   # DuckDB SQL: one
#                                # read-only SELECT over the data files it names
#   dataset = "nhefs"            # bundled: nhefs, lung, mgus2, lalonde, simulated
dataset = "nhefs"
id = "seqn"                      # optional person identifier
missing = "raise"                # "drop": complete cases, with counts in the outputs

# Eligibility criteria, applied in order; each one's exclusions are counted in the attrition
# table. A criterion is a small expression language checked by cohortlab, not Python code:
# columns, literals, comparisons, & | ~, arithmetic and the methods notna(), isna(),
# isin([...]), between(a, b), abs() (e.g. "age.between(18, 70) & sex.isin([0, 1])").
# Formulas may use C(), I(), bs() ... and log/exp; see docs/explanation/security.md.
[[eligibility]]
name = "outcome measured"
keep = "wt82.notna()"

# [followup]                     # for time-to-event outcomes
# time = "futime"                # a follow-up time column, or:
# start = "entry_date"           # dates: time = end - start in `unit`
# end = "exit_date"
# unit = "days"                  # days, weeks, months, years
# horizon = 365                  # administrative censoring at the horizon
# time_zero = "date of the first prescription"

[exposure]
column = "qsmk"                  # 0/1 (or two labels with reference = ...)
# from_score = { score = "af_score", threshold = 0.5 }   # or quantiles = 4, cutpoints = [..]

[[outcomes]]
name = "weight_change"
type = "continuous"              # binary, continuous, time_to_event, competing
column = "wt82_71"               # time_to_event/competing: event = "...", cause = 1

[covariates]
columns = ["sex", "race", "age", "education", "smokeintensity", "smokeyrs", "wt71"]
# formula = "age + I(age**2) + C(education)"

[[analyses]]
name = "crude"
method = "crude_effect"

[[analyses]]
name = "ipw"
method = "ipw"                   # crude_effect, ipw, aipw, tmle, gformula, match,
estimand = "ATE"                 # kaplan_meier, cumulative_incidence, cox, fine_gray,
options = { variance = "robust" }  # cause_specific_cox, adjusted_survival, rmst

# [[subgroups]]
# analysis = "ipw"
# by = ["sex"]

[sensitivity]
evalue = true
# bias_analysis = { analysis = "crude", sensitivity = [0.8, 0.92], specificity = [0.95, 0.99] }

[outputs]
tables = ["csv", "md", "html"]   # also "docx", "xlsx"
figures = ["png"]                # also "svg"
report = true
'''


def template_text(example: str | None = None) -> str:
    """The text of the skeleton protocol, or of a bundled example.

    Examples
    --------
    >>> "[study]" in template_text() and "[study]" in template_text("wearable")
    True
    """
    if example is None:
        return _SKELETON
    if example not in EXAMPLES:
        raise ProtocolError("--example", f"unknown example {example!r}.",
                            close_matches(example, EXAMPLES))
    return (files("cohortlab.protocol") / "examples" / f"{example}.toml").read_text(
        encoding="utf-8")


def write_template(path: str | Path = "study.toml", *, example: str | None = None,
                   overwrite: bool = False) -> Path:
    """Write a protocol template (or a bundled example) to ``path``.

    Parameters
    ----------
    path : str or Path
        The file to write (``study.toml`` by default); a folder gets ``study.toml`` inside.
    example : {"nhefs", "wearable", "wearable_longitudinal", "target_trial"}, optional
        Write this bundled example instead of the skeleton.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    Path
        The file written.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "study.toml"
    if p.exists() and not overwrite:
        raise ProtocolError(str(p), "already exists.", "Choose another name or pass --force.")
    text = template_text(example)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p
