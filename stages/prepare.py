"""DVC stage `prepare`: the annotation files named in params.yaml -> clean table, quarantine, GX report."""

import argparse
import sys
from pathlib import Path

from timerft.annotations import AnnotationReadError
from timerft.params import stage_params
from timerft.quality import GatePolicy
from timerft.validate import InputSpec, summary, validate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="output folder (clean.parquet, quarantine.parquet, report.json)")
    args = parser.parse_args()
    params = stage_params().prepare
    root = Path(params.input_root)
    inputs = [InputSpec(str(root / item.path), item.format, item.split,
                        str(root / item.durations) if item.durations else None) for item in params.inputs]
    try:
        result = validate(inputs, args.out, GatePolicy(params.end_tolerance_s, params.max_quarantine_fraction),
                          params.video_root)
    except AnnotationReadError as error:
        print(f"prepare: error: {error}", file=sys.stderr)
        return 2
    print(summary(result, args.out))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
