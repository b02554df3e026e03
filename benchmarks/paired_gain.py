"""How precisely one test split measures the gain of one checkpoint over another, and how query-blind each is.

    .venv/bin/python benchmarks/paired_gain.py metrics/predictions/sft.jsonl metrics/predictions/rl_round2.jsonl

scores both prediction files (as `evaluate` writes them) against the test rows of data/prepared/clean.parquet and
prints, in mIoU points: each file's mIoU, the paired gain (B - A), the standard deviation of the per-query
difference, the gain's standard error over the split's queries (sd / sqrt(n): the spread one would see between
test splits of this size, with the checkpoints fixed), the share of queries whose IoU changed, the test queries a
gain of this size would need to reach 3 standard errors; and for each file the share of test videos whose
queries all got one and the same span (the model found "an event" but did not read which), and the share of
queries whose span misses its own event and overlaps another queried event of the same video (it answered the
distractor: on SynthTVG most IoU-0 answers are of this kind).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

from timerft.evaluation import scored


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def query_blind_share(table: pd.DataFrame) -> float:
    """Share of the videos with at least two queries whose queries all got the same (parsed) span."""
    videos = table.groupby("video")["span"].agg(lambda spans: len(spans) > 1 and spans.nunique(dropna=False) == 1)
    multi = table.groupby("video").size() > 1
    return float(videos[multi].mean())


def distractor_share(table: pd.DataFrame) -> float:
    """Share of the queries whose span has IoU 0 with their own event and overlaps another query's event of the
    same video (on SynthTVG each video's queried events are each other's distractors)."""
    hits = []
    for _, video in table.groupby("video"):
        events = list(zip(video["start"], video["end"]))
        for row, own in zip(video.itertuples(), events):
            span = row.span
            others = [event for event in events if event != own]
            hits.append(span is not None and row.iou == 0
                        and any(min(span[1], end) > max(span[0], start) for start, end in others))
    return float(pd.Series(hits, dtype=bool).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="predictions of the reference checkpoint (e.g. sft.jsonl)")
    parser.add_argument("b", type=Path, help="predictions of the checkpoint whose gain is measured")
    parser.add_argument("--table", type=Path, default=Path("data/prepared/clean.parquet"))
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    rows = pd.read_parquet(args.table)
    rows = rows[rows["split"] == args.split]
    a, b = scored(rows, read_jsonl(args.a)), scored(rows, read_jsonl(args.b))
    diff = 100 * (b["iou"].to_numpy() - a["iou"].to_numpy())
    n, gain, sd = len(diff), float(diff.mean()), float(diff.std(ddof=1))
    error = sd / math.sqrt(n)
    report = {"queries": n, "mIoU a": round(100 * a["iou"].mean(), 2), "mIoU b": round(100 * b["iou"].mean(), 2),
              "gain": round(gain, 2), "per-query sd": round(sd, 2), "standard error": round(error, 2),
              "queries changed %": round(100 * float((diff != 0).mean()), 1),
              "queries for 3 standard errors": math.ceil((3 * sd / gain) ** 2) if gain else None,
              "query-blind videos % a": round(100 * query_blind_share(a), 1),
              "query-blind videos % b": round(100 * query_blind_share(b), 1),
              "distractor answers % a": round(100 * distractor_share(a), 1),
              "distractor answers % b": round(100 * distractor_share(b), 1)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
