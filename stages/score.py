"""DVC stage `score`: difficulty of every candidate = 100 x IoU of the base model's greedy answer
(or the difficulty the annotation file already carries, when params say so)."""

import argparse
import json
from pathlib import Path

from timerft.backends import predictor
from timerft.evaluation import scored
from timerft.inference import asking, write_jsonl
from timerft.model import SampleStore
from timerft.params import stage_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clean", required=True)
    parser.add_argument("--frames", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True, help="folder: scores.parquet, predictions.jsonl")
    args = parser.parse_args()
    every = stage_params()
    params, inference = every.score, every.inference
    store = SampleStore.for_stage("score", args.clean, args.frames, params.split)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if params.use_existing_difficulty:
        table = store.table.copy()
        table["iou"] = [json.loads(meta).get("difficulty", 0.0) / 100 for meta in table["meta"]]
        predictions = []
    else:
        with predictor(inference.backend, inference.ray) as run:
            predictions = run(args.model, {"score": store}, batch_size=inference.batch_size, difficulty_fallback=True,
                              **asking(inference.cot, every.prompts, inference))["score"]
        table = scored(store.table, predictions)
    table["difficulty"] = 100 * table["iou"]
    table.to_parquet(out / "scores.parquet", index=False)
    write_jsonl(predictions, out / "predictions.jsonl")
    print(f"score: {len(table)} {params.split} samples, mean IoU {table['iou'].mean():.3f}, "
          f"IoU > 0 for {(table['iou'] > 0).mean():.1%}; {len(store.missing)} rows had no frames")


if __name__ == "__main__":
    main()
