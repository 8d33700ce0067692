"""The ``cohortlab`` command: ``init``, ``validate`` and ``run`` a study protocol.

``python -m cohortlab`` is the same command. Exit codes: 0 success; 1 an analysis failed
while running (nothing written); 2 a usage error, or a protocol or its data is invalid, or
the output folder is refused (the message names the field or folder and how to fix it;
nothing written); 130 interrupted by Ctrl-C (nothing written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser"]


_DATA_HELP = ("a folder outside the protocol's folder that the protocol may read data "
              "from (repeatable; the person running it grants it, never the file); "
              "without it a protocol reads only files inside its own folder")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cohortlab`` command."""
    from . import __version__
    from .protocol.template import EXAMPLES

    parser = argparse.ArgumentParser(
        prog="cohortlab",
        description="Run observational cohort studies described in a protocol file (TOML).")
    parser.add_argument("--version", action="version", version=f"cohortlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p_init = sub.add_parser("init", help="write a commented protocol template",
                            description="Write a commented protocol template that validates.")
    p_init.add_argument("path", nargs="?", default="study.toml",
                        help="file to write (default: study.toml)")
    p_init.add_argument("--example", choices=EXAMPLES,
                        help="write a bundled example protocol instead of the skeleton")
    p_init.add_argument("--force", action="store_true", help="overwrite an existing file")

    p_val = sub.add_parser("validate", help="check a protocol and its data",
                           description="Check a protocol's fields and its data (columns, "
                                       "follow-up window, files) without running anything.")
    p_val.add_argument("protocol", help="the protocol file (study.toml)")
    p_val.add_argument("--data-dir", action="append", default=[], metavar="DIR",
                       help=_DATA_HELP)

    p_run = sub.add_parser("run", help="run a protocol and write its outputs",
                           description="Run every analysis of a protocol and write the "
                                       "tables, figures and report into --out. --out must "
                                       "not exist or be empty, or, with --overwrite, be an "
                                       "earlier run's output; never the current, home or "
                                       "root folder (or their parents), nor a folder holding "
                                       "the protocol or its data.")
    p_run.add_argument("protocol", help="the protocol file (study.toml)")
    p_run.add_argument("--out", "-o", required=True, help="output folder")
    p_run.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p_run.add_argument("--data-dir", action="append", default=[], metavar="DIR",
                       help=_DATA_HELP)
    p_run.add_argument("--overwrite", action="store_true",
                       help="replace the output folder of an earlier cohortlab run (one "
                            "whose provenance.json lists every file in it), once the new "
                            "outputs are complete; any other non-empty folder is refused")
    return parser


def _error(msg: str) -> None:
    print(f"cohortlab: error: {msg}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cohortlab`` command; return its exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 when an analysis fails while running, 2 for an invalid protocol,
        invalid data, a refused output folder or a usage error, 130 when interrupted
        (Ctrl-C) during ``run``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> main(["init", str(tmp / "study.toml")])
    wrote ...study.toml
    0
    >>> main(["validate", str(tmp / "study.toml")])
    valid: ...study.toml (1,629 rows loaded, 1,566 eligible, 2 analyses x 1 outcome)
    0
    """
    from .exceptions import CohortError
    from .protocol.schema import AnalysisError

    args = build_parser().parse_args(argv)
    try:
        if args.command == "init":
            return _init(args)
        if args.command == "validate":
            return _validate(args)
        return _run(args)
    except AnalysisError as exc:
        _error(f"{exc}\nNo output was written.")
        return 1
    except CohortError as exc:
        _error(str(exc))
        return 2


def _init(args: argparse.Namespace) -> int:
    from .protocol.template import write_template

    path = write_template(args.path, example=args.example, overwrite=args.force)
    print(f"wrote {path}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .protocol.run import validate_protocol
    from .protocol.targettrial import is_target_trial, validate_target_trial_protocol

    if is_target_trial(args.protocol):
        tt, frame = validate_target_trial_protocol(args.protocol, data_dirs=args.data_dir)
        print(f"valid: {args.protocol} (target trial; {len(frame):,} person-periods, "
              f"{frame[tt.spec.id].nunique():,} persons, {tt.spec.estimator}, "
              f"{tt.spec.contrast})")
        return 0
    protocol, cohort = validate_protocol(args.protocol, data_dirs=args.data_dir)
    if protocol.longitudinal is not None:
        n_a = len(protocol.longitudinal.analyses)
        print(f"valid: {args.protocol} ({cohort.n_persons:,} persons, "  # type: ignore[attr-defined]
              f"{len(cohort.data):,} person-periods, {n_a} longitudinal "
              f"analys{'i' if n_a == 1 else 'e'}s)")
        return 0
    n_out = len({o for a in protocol.analyses for o in a.outcomes})
    print(f"valid: {args.protocol} ({cohort.n_loaded:,} rows loaded, "
          f"{len(cohort.data):,} eligible, {len(protocol.analyses)} analyses x {n_out} "
          f"outcome{'s' if n_out != 1 else ''})")
    return 0


def _run(args: argparse.Namespace) -> int:
    import matplotlib

    from .protocol.run import run_protocol

    matplotlib.use("Agg")
    try:
        out = run_protocol(args.protocol, args.out, quiet=args.quiet,
                           overwrite=args.overwrite, data_dirs=args.data_dir)
    except KeyboardInterrupt as exc:
        detail = str(exc) or f"nothing was written to {args.out}"
        print(f"cohortlab: interrupted; {detail}", file=sys.stderr, flush=True)
        return 130
    if not args.quiet:
        print(f"{out / 'report.html'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
