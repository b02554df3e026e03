"""DVC stage `rl@<round>`: one GRPO round, then Time-R1's hard-sample refiltering for the next round.

The round trains from its predecessor's checkpoint (`--init`) on its training set (`--train`), then runs greedy
inference on that set and keeps 0 < IoU <= 0.7 (params `rl.refilter`) as the next round's training set. Each
round is its own DVC stage, so a crash resumes at the failed round and a finished round is never retrained."""

import argparse
import csv
import json
import shutil
from pathlib import Path

import pandas as pd
from accelerate import PartialState

from timerft.evaluation import scored
from timerft.grpo import grpo
from timerft.inference import predict, write_jsonl
from timerft.model import SampleStore, load_model
from timerft.params import load_params
from timerft.plots import training_curves
from timerft.selection import refilter
from timerft.tracking import report_to

CURVES = ("step", "loss", "reward", "reward_std", "kl", "completion_length", "iou", "learning_rate")


def write_curves(log: list[dict], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CURVES, extrasaction="ignore")
        writer.writeheader()
        for entry in log:
            if "loss" in entry:
                writer.writerow({"step": entry["step"], **{k: entry.get(k, "") for k in CURVES[1:]}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--round", required=True, help="the round's name (a key of params rl.rounds)")
    parser.add_argument("--init", required=True, help="the checkpoint the round starts from")
    parser.add_argument("--train", required=True, help="parquet whose `qid`s are the round's training set")
    parser.add_argument("--clean", required=True, help="prepare's clean.parquet")
    parser.add_argument("--frames", required=True, help="the frames stage's folder")
    parser.add_argument("--model-out", required=True, help="checkpoint folder to write")
    parser.add_argument("--out", required=True, help="folder: kept.parquet, report.json, curves.csv, predictions")
    args = parser.parse_args()
    rl, prompts = load_params("rl"), load_params("prompts")
    grpo_params, bounds = rl["grpo"], rl["refilter"]
    qids = pd.read_parquet(args.train)["qid"]
    store = SampleStore.from_stage_outputs(args.clean, args.frames).subset(qids)
    model_out, out = Path(args.model_out), Path(args.out)
    shutil.rmtree(model_out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    if len(store) == 0:
        raise SystemExit(f"rl {args.round}: none of the rows of {args.train} has frames in {args.frames}, so there is "
                         "nothing to train on: widen the previous round's rl.refilter bounds, or give the round "
                         "another `train` in rl.rounds")
    log = grpo(args.init, model_out, store, prompts["cot"],
               {**grpo_params, "rewards": rl["rewards"], "tempsamp": rl["tempsamp"]},
               report_to(f"rl-{args.round}"), no_cot_template=prompts["no_cot"])["log"]
    if not PartialState().is_main_process:  # under accelerate launch, one process refilters and reports
        return
    shutil.rmtree(model_out / "trainer", ignore_errors=True)
    write_curves(log, out / "curves.csv")
    training_curves(pd.read_csv(out / "curves.csv"), list(CURVES[2:7]), out / "curves.png", f"GRPO {args.round}")

    model, processor = load_model(model_out)
    rows = predict(model, processor, store, prompts["cot"], rl["refilter_batch_size"],
                   grpo_params["max_completion_length"], desc=f"refilter {args.round}")
    write_jsonl(rows, out / "predictions.jsonl")
    table = scored(store.table, rows)
    kept, counts = refilter(table, bounds["low"], bounds["high"])
    kept[["qid", "iou"]].to_parquet(out / "kept.parquet", index=False)
    rewards = [entry["reward"] for entry in log if "reward" in entry]
    report = {"round": args.round, **counts, "steps": len(rewards),
              "mean_reward": round(sum(rewards) / len(rewards), 4) if rewards else None,
              "mean_iou": round(float(table["iou"].mean()), 4) if len(table) else None}
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"rl {args.round}: {report}")


if __name__ == "__main__":
    main()
