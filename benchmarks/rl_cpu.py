"""The embedded `rl@round1` stage's GRPO training on this machine, with and without the group's shared work.

Runs timerft.grpo.grpo (what the stage runs before refiltering) from the cold start on round 1's training set with
the params' rl.grpo, once per setting of rl.grpo.encode_once / prefill_once (off; encode; encode + prefill), in
that order, and prints (with --out writes) each run's wall time, steps and mean rollout reward as JSON. The
refiltering inference after it does not change with these switches. Run from the repo root after `dvc repro sft`;
one thread, as `make pipeline` runs:

    OMP_NUM_THREADS=1 python benchmarks/rl_cpu.py --out benchmarks/results/rl_cpu_2cpu.json
"""

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import replace

import pandas as pd

from timerft.grpo import grpo
from timerft.model import SampleStore
from timerft.params import load_all

SETTINGS = {"off": (False, False), "encode": (True, False), "encode+prefill": (True, True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--clean", default="data/prepared/clean.parquet")
    parser.add_argument("--frames", default="data/frames")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default: the whole round)")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    params = load_all(args.params)
    round1 = params.rl.rounds["round1"]
    store = SampleStore.from_stage_outputs(args.clean, args.frames).subset(pd.read_parquet(round1.train)["qid"])
    figures = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
               "threads": os.environ.get("OMP_NUM_THREADS"), "rows": len(store), "runs": {}}
    for name in args.settings:
        encode_once, prefill_once = SETTINGS[name]
        grpo_params = replace(params.rl.grpo, encode_once=encode_once, prefill_once=prefill_once,
                              max_steps=args.steps or params.rl.grpo.max_steps)
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            log = grpo(round1.init, out, store, params.prompts.cot, grpo_params, params.rl.rewards,
                       params.rl.tempsamp, no_cot_template=params.prompts.no_cot)["log"]
            seconds = time.perf_counter() - start
        rewards = [entry["reward"] for entry in log if "reward" in entry]
        figures["runs"][name] = {"seconds": round(seconds, 1), "steps": len(rewards),
                                 "mean_reward": round(sum(rewards) / len(rewards), 4)}
        print(name, figures["runs"][name], flush=True)
    base = figures["runs"].get("off")
    if base:
        figures["speedup"] = {name: round(base["seconds"] / run["seconds"], 2) for name, run in figures["runs"].items()}
    print(json.dumps(figures, indent=1))
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
