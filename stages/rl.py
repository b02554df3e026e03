"""DVC stage `rl@<round>`: one GRPO round, then Time-R1's hard-sample refiltering for the next round.

The round trains from its predecessor's checkpoint (`--init`) on its training set (`--train`), then runs greedy
inference on that set and keeps 0 < IoU <= 0.7 (params `rl.refilter`) as the next round's training set. Each
round is its own DVC stage, so a crash resumes at the failed round and a finished round is never retrained."""

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd
from accelerate import PartialState

from timerft.backends import predictor
from timerft.evaluation import scored
from timerft.grpo import CURVES, grpo, round_report, write_curves
from timerft.inference import write_jsonl
from timerft.model import SampleStore
from timerft.params import stage_params
from timerft.plots import training_curves
from timerft.selection import refilter
from timerft.tracking import report_to


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
    every = stage_params()
    rl, prompts = every.rl, every.prompts
    qids = pd.read_parquet(args.train)["qid"]
    store = SampleStore.from_stage_outputs(args.clean, args.frames).subset(qids)
    model_out, out = Path(args.model_out), Path(args.out)
    shutil.rmtree(model_out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    if len(store) == 0:
        raise SystemExit(f"rl {args.round}: none of the rows of {args.train} has frames in {args.frames}, so there is "
                         "nothing to train on: widen the previous round's rl.refilter bounds, or give the round "
                         "another `train` in rl.rounds")
    log = grpo(args.init, model_out, store, prompts.cot, rl.grpo, rl.rewards, rl.tempsamp,
               report_to(f"rl-{args.round}", every.tracking), no_cot_template=prompts.no_cot)["log"]
    if not PartialState().is_main_process:  # under accelerate launch, one process refilters and reports
        return
    shutil.rmtree(model_out / "trainer", ignore_errors=True)
    write_curves(log, out / "curves.csv")
    training_curves(pd.read_csv(out / "curves.csv"), list(CURVES[2:8]), out / "curves.png", f"GRPO {args.round}")

    with predictor(every.inference.backend, every.inference.ray) as run:
        rows = run(model_out, {f"refilter {args.round}": store}, prompts.cot, rl.refilter_batch_size,
                   rl.grpo.max_completion_length)[f"refilter {args.round}"]
    write_jsonl(rows, out / "predictions.jsonl")
    table = scored(store.table, rows)
    kept, counts = refilter(table, rl.refilter.low, rl.refilter.high)
    kept[["qid", "iou"]].to_parquet(out / "kept.parquet", index=False)
    report = round_report(args.round, log, counts, table)
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"rl {args.round}: {report}")


if __name__ == "__main__":
    main()
