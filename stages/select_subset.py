"""DVC stage `select`: the TimeRFT training subset, k medium-difficulty samples drawn reproducibly."""

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from timerft.params import stage_params
from timerft.plots import iou_histogram
from timerft.selection import select


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scores", required=True, help="score's scores.parquet")
    parser.add_argument("--out", required=True, help="folder: train.parquet, report.json, iou_hist.png")
    args = parser.parse_args()
    params = stage_params().select
    pool = pd.read_parquet(args.scores)
    chosen = select(pool, params.strategy, params.k, params.seed, params.center, params.sd, params.band)
    if chosen.empty:
        raise SystemExit(f"select: no row of the {len(pool)} scored rows qualifies for strategy {params.strategy!r} "
                         f"({int((pool['iou'] > 0).sum())} have IoU > 0): change select.strategy (random takes any "
                         "row), select.band, or score a bigger pool (score.split)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chosen.to_parquet(out / "train.parquet", index=False)
    report = {"pool": len(pool), "pool_iou_positive": int((pool["iou"] > 0).sum()), "selected": len(chosen),
              "pool_mean_iou": round(float(pool["iou"].mean()), 4),
              "selected_mean_iou": round(float(chosen["iou"].mean()), 4) if len(chosen) else 0.0}
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    iou_histogram({"pool": pool["iou"], "selected": chosen["iou"]}, out / "iou_hist.png",
                  f"IoU of the base model before/after {params.strategy} selection")
    print(f"select: {report}")
    if len(chosen) < params.k:
        print(f"select: warning: only {len(chosen)} of k={params.k} rows qualify for {params.strategy!r}; "
              "a bigger pool or a stronger base model gives more", file=sys.stderr)


if __name__ == "__main__":
    main()
