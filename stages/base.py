"""DVC stage `base`: the starting model. Embedded default: build the tiny Qwen2.5-VL and give it weak
grounding skill by supervised answers on the pretrain split. Real runs: record the named checkpoint."""

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd

from timerft.model import POINTER, SampleStore
from timerft.params import load_params
from timerft.prompts import clean_query, synthetic_cot, target_text
from timerft.tiny import build_tiny
from timerft.training import supervised


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clean", required=True, help="prepare's clean.parquet")
    parser.add_argument("--frames", required=True, help="the frames stage's folder")
    parser.add_argument("--out", required=True, help="model folder to write")
    args = parser.parse_args()
    model, prompts, params = load_params("model"), load_params("prompts"), load_params("base")
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if model["name"] != "tiny":
        (out / POINTER).write_text(json.dumps({"checkpoint": model["name"]}) + "\n")
        print(f"base: {model['name']}")
        return
    table = pd.read_parquet(args.clean)
    # the tokenizer learns the words the pipeline will write: queries, prompts, CoT replies
    traces = [target_text(s, e, synthetic_cot(m, "scene"))
              for s, e, m in zip(table["start"], table["end"], table["meta"])]
    texts = [clean_query(q) for q in table["query"]] + list(prompts.values()) + traces
    build_tiny(model["tiny"], texts, out / "init", seed=params["seed"])
    store = SampleStore.from_stage_outputs(args.clean, args.frames, params["split"])
    result = supervised(out / "init", out, store, lambda s: target_text(s.start, s.end), prompts["no_cot"], params)
    shutil.rmtree(out / "init")
    shutil.rmtree(out / "trainer", ignore_errors=True)
    print(f"base: tiny model trained on {len(store)} {params['split']} samples, {result['steps']} steps, "
          f"final loss {result['train_loss']:.3f}")


if __name__ == "__main__":
    main()
