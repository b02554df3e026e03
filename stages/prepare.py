"""DVC stage `prepare`: the annotation files named in params.yaml -> clean table, quarantine, GX report."""

import argparse
import sys
from pathlib import Path

from timerft.annotations import AnnotationReadError
from timerft.params import load_params
from timerft.quality import GatePolicy
from timerft.validate import InputSpec, summary, validate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="output folder (clean.parquet, quarantine.parquet, report.json)")
    args = parser.parse_args()
    params = load_params("prepare")
    root = Path(params["input_root"])
    inputs = [
        InputSpec(
            path=str(root / item["path"]),
            format=item.get("format", "auto"),
            split=item.get("split"),
            durations=str(root / item["durations"]) if item.get("durations") else None,
        )
        for item in params["inputs"]
    ]
    policy = GatePolicy(params["end_tolerance_s"], params["max_quarantine_fraction"])
    try:
        result = validate(inputs, args.out, policy, params.get("video_root"))
    except AnnotationReadError as error:
        print(f"prepare: error: {error}", file=sys.stderr)
        return 2
    print(summary(result, args.out))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
