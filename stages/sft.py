"""DVC stage `sft`: the cold start. TRL's SFTTrainer teaches the base model to reason, then answer, on a few CoT
examples: for the embedded default, traces written from SynthTVG's ground truth; for real runs, `sft.cot_jsonl`
(rows of `qid` and `reply`, the whole `<think>...</think><answer>S to E</answer>` reply)."""

import argparse
import json
import shutil
from pathlib import Path

from timerft.model import SampleStore
from timerft.params import stage_params
from timerft.tracking import report_to
from timerft.training import cold_start_replies, cold_start_rows, supervised, synthetic_reply

COT_DIR = "data/cot"  # a dependency of the stage in dvc.yaml
TIMINGS = ("train_runtime", "train_samples_per_second", "train_steps_per_second")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clean", required=True, help="prepare's clean.parquet")
    parser.add_argument("--frames", required=True, help="the frames stage's folder")
    parser.add_argument("--model", required=True, help="the base model folder")
    parser.add_argument("--out", required=True, help="model folder to write")
    args = parser.parse_args()
    every = stage_params()
    params = every.sft
    store = SampleStore.for_stage("sft", args.clean, args.frames, params.split)
    if params.cot_jsonl and Path(COT_DIR).resolve() not in Path(params.cot_jsonl).resolve().parents:
        raise SystemExit(f"sft: sft.cot_jsonl is {params.cot_jsonl}: put the file in {COT_DIR}/, which this stage "
                         "depends on, so that DVC re-runs it when the replies change")
    replies = cold_start_replies(store.table, params.cot_jsonl, params.cot_scope)
    rows, store = len(store), store.subset(cold_start_rows(store.table, replies, params.samples, params.seed))
    if len(store) == 0 and params.cot_jsonl:
        raise SystemExit(f"sft: none of the {rows} rows of split {params.split!r} has a reply in "
                         f"{params.cot_jsonl} ({len(replies)} replies with <think>): its qids must be those of "
                         "the split in data/prepared/clean.parquet (`timerft cot-template` writes them)")
    if len(store) == 0:
        raise SystemExit(f"sft: no CoT examples for split {params.split!r}: the embedded default writes them "
                         "from SynthTVG; for real data set sft.cot_jsonl")
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    def target(sample):
        return replies[sample.qid] if params.cot_jsonl else synthetic_reply(sample, params.cot_scope, params.cot_times)

    result = supervised(args.model, out, store, target, every.prompts.cot, params, report_to("sft", every.tracking))
    shutil.rmtree(out / "trainer", ignore_errors=True)
    # wall-clock figures stay out of the cached folder: they would change its hash, and so re-run every RL round,
    # on each re-run of an otherwise identical cold start
    log = [{k: v for k, v in entry.items() if k not in TIMINGS} for entry in result["log"]]
    (out / "sft_log.json").write_text(json.dumps(log, indent=1) + "\n")
    print(f"sft: {len(store)} CoT examples, {result['steps']} steps, final loss {result['train_loss']:.3f}")


if __name__ == "__main__":
    main()
