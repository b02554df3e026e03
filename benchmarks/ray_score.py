"""The `score` stage's inference, local backend vs a local Ray cluster (`inference.backend: ray`), one run each.

Both answer the same pool (params `score.split`, the first --limit rows) with the same model and the params'
question and batch size; the script checks their rows are identical and prints (and with --out writes) the wall
times as JSON: `local_s` (model load + predict in this process), `ray_s` (cluster start + actors loading the model
+ predict + shutdown), split into `ray_startup_s`, `ray_predict_s` and `ray_shutdown_s`. `ray_first_batch_s` (the
actors start, load the model and answer one batch) against `local_first_batch_s` (the same in this process) gives
the actors' start-up; `ray_overhead_s` is Ray's whole start-up cost: cluster start + that + shutdown. Run from the repo
root after `dvc repro frames base` (or pass the paths):

    python benchmarks/ray_score.py --limit 200 --actors 2
"""

import argparse
import json
import os
import platform
import time

from timerft.backends import LocalBackend
from timerft.distributed import RayBackend
from timerft.inference import asking
from timerft.model import SampleStore
from timerft.params import Ray, load_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clean", default="data/prepared/clean.parquet")
    parser.add_argument("--frames", default="data/frames")
    parser.add_argument("--model", default="models/base")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--limit", type=int, default=None, help="the first this many rows of the pool (default: all)")
    parser.add_argument("--actors", type=int, default=2, help="CPU actors of the local Ray cluster")
    parser.add_argument("--gpus-per-actor", type=float, default=0.0)
    parser.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    params = load_all(args.params)
    store = SampleStore.for_stage("score", args.clean, args.frames, params.score.split)
    if args.limit is not None:
        store = store.subset(store.table["qid"].iloc[: args.limit])
    inference = params.inference
    ask = {**asking(inference.cot, params.prompts, inference), "batch_size": inference.batch_size,
           "difficulty_fallback": True}

    began = time.perf_counter()
    first = store.subset(store.table["qid"].iloc[: inference.batch_size])  # model load + one batch, for comparison
    LocalBackend()(args.model, {"score (first batch)": first}, **ask)
    local_first_s = time.perf_counter() - began
    began = time.perf_counter()
    local = LocalBackend()(args.model, {"score": store}, **ask)["score"]
    local_s = time.perf_counter() - began

    began = time.perf_counter()
    with RayBackend(Ray(address=None, actors=args.actors, gpus_per_actor=args.gpus_per_actor)) as run:
        startup_s = run.startup_s
        predicting = time.perf_counter()
        remote = run(args.model, {"score": store}, **ask)["score"]
        predict_s = time.perf_counter() - predicting
        closing = time.perf_counter()
    shutdown_s, ray_s = time.perf_counter() - closing, time.perf_counter() - began
    import torch

    figures = {
        "samples": len(store), "batch_size": inference.batch_size, "batches": -(-len(store) // inference.batch_size),
        "max_new_tokens": ask["max_new_tokens"], "actors": args.actors, "gpus_per_actor": args.gpus_per_actor,
        "identical_rows": remote == local,
        "local_s": round(local_s, 2), "ray_s": round(ray_s, 2), "ray_startup_s": round(startup_s, 2),
        "ray_predict_s": round(predict_s, 2), "ray_shutdown_s": round(shutdown_s, 2),
        "ray_first_batch_s": round(run.first_batch_s, 2), "local_first_batch_s": round(local_first_s, 2),
        "ray_overhead_s": round(startup_s + run.first_batch_s - local_first_s + shutdown_s, 2),
        "local_over_ray": round(local_s / ray_s, 2),
        "local_samples_per_s": round(len(store) / local_s, 2), "ray_samples_per_s": round(len(store) / ray_s, 2),
        "cpu_count": os.cpu_count(), "torch_threads_local": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "platform": platform.platform(),
    }
    print(json.dumps(figures, indent=1))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(figures, indent=1) + "\n")
    if not figures["identical_rows"]:
        raise SystemExit("the ray backend's rows differ from the local backend's")


if __name__ == "__main__":
    main()
