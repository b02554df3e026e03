"""The `timerft` command line. Each subcommand is a thin shell over the library."""

from __future__ import annotations

import argparse
import sys

from timerft import __version__
from timerft.annotations import FORMAT_HELP, FORMATS

EXIT_OK, EXIT_GATE_FAILED, EXIT_UNREADABLE = 0, 1, 2


def _validate(args: argparse.Namespace) -> int:
    from timerft.annotations import AnnotationReadError
    from timerft.quality import GatePolicy
    from timerft.validate import InputSpec, summary, validate

    inputs = [InputSpec(path, args.format, args.split, args.durations) for path in args.paths]
    policy = GatePolicy(end_tolerance_s=args.end_tolerance, max_quarantine_fraction=args.max_quarantine_fraction)
    try:
        result = validate(inputs, args.out, policy, args.video_root)
    except AnnotationReadError as error:
        print(f"timerft validate: error: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(summary(result, args.out))
    return EXIT_OK if result.passed else EXIT_GATE_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="timerft",
        description="RL post-training for temporal video grounding (Time-R1 / TempSamp-R1). "
        "The full pipeline runs with `dvc repro`; these commands run single steps by hand.",
    )
    parser.add_argument("--version", action="version", version=f"timerft {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate",
        help="read annotations in any supported format and run the data-quality gate",
        description="Read annotation files into the canonical table and run the Great Expectations gate: "
        "repair what is unambiguous, quarantine the rest with reasons, fail when too much is quarantined. "
        f"Formats: {FORMAT_HELP}.",
        epilog="Writes OUT/clean.parquet, OUT/quarantine.parquet (with a `reasons` column), OUT/report.json and "
        "GX data docs in OUT/data_docs/index.html. Exit codes: 0 gate passed, 1 gate failed "
        "(too many rows quarantined), 2 input cannot be read. "
        "Example: timerft validate train_2k5.json --video-root videos/ --out validation/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("paths", nargs="+", metavar="PATH", help="annotation file(s); several are merged")
    validate.add_argument("--format", default="auto", choices=("auto", *FORMATS),
                          help="annotation format (default: detected from the content)")
    validate.add_argument("--video-root", default=None, metavar="DIR",
                          help="folder the video paths are relative to; when given, every video must exist inside it")
    validate.add_argument("--durations", default=None, metavar="CSV",
                          help="csv with columns id,length (the Charades csv) for formats without durations")
    validate.add_argument("--split", default=None,
                          help="split name for the rows (default: test for tvgbench, train otherwise)")
    validate.add_argument("--out", default="validation", metavar="DIR", help="output folder (default: validation)")
    validate.add_argument("--end-tolerance", type=float, default=1.5, metavar="SECONDS",
                          help="an end past the duration by at most this is clipped to the duration (default 1.5)")
    validate.add_argument("--max-quarantine-fraction", type=float, default=0.05, metavar="F",
                          help="fail when more than this fraction of rows is quarantined (default 0.05)")
    validate.set_defaults(handler=_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
