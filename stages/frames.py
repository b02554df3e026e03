"""DVC stage `frames`: decode every video of the clean table once, at the sampling params in params.yaml."""

import argparse
import json
from pathlib import Path

import pandas as pd

from timerft.frames import Sampling, extract_table, frames_per_span, write_index
from timerft.params import stage_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--annotations", required=True, help="canonical table (parquet)")
    parser.add_argument("--out", required=True, help="output folder: cache/, index.parquet, failures.json, report.json")
    args = parser.parse_args()
    params = stage_params()
    out = Path(args.out)
    table = pd.read_parquet(args.annotations)
    sampling = Sampling.from_params(params.frames)
    index, failures = extract_table(table, params.prepare.video_root, sampling, out / "cache",
                                     params.frames.clip_tolerance_s, params.frames.workers)
    write_index(index, out / "index.parquet")
    (out / "failures.json").write_text(json.dumps(failures, indent=1) + "\n")
    status = index.drop_duplicates("frames")["status"].value_counts()
    report = {
        "rows_in": len(table), "rows_with_frames": len(index),
        "rows_excluded": sum(len(f["qids"]) for f in failures),
        "videos_decoded": int(status.get("decoded", 0)), "videos_cached": int(status.get("cached", 0)),
        "videos_failed": len(failures),
    }
    inside = frames_per_span(table, index, out / "cache")
    if inside:
        report["min_frames_in_a_span"] = min(inside.values())
        report["spans_with_fewer_than_2_frames"] = sum(count < 2 for count in inside.values())
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"frames: {report}")
    for failure in failures:
        print(f"  FAILED {failure['video']}: {failure['reason']} ({len(failure['qids'])} rows excluded)")


if __name__ == "__main__":
    main()
