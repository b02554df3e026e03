"""DVC stage `evaluate`: every model that exists (base, sft, rl) on the test split, as DVC metrics and plots,
next to the duration prior (`prior`), the score of a model that never looks at the video. Each entry also holds a
`control` block: the same queries asked on the frames of another test video (a fixed, seeded pairing), so a model
that really looks at the video scores far lower there, and one that guesses from the query does not."""

import argparse
import json
from pathlib import Path

import pandas as pd

from timerft.backends import predictor
from timerft.evaluation import asked_modes, duration_prior, evaluate, prior_predictions, scored
from timerft.inference import asking, write_jsonl
from timerft.model import ControlStore, SampleStore, control_partners
from timerft.params import stage_params
from timerft.plots import control_bars, iou_histogram, metric_bars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clean", required=True)
    parser.add_argument("--frames", required=True)
    parser.add_argument("--models", nargs="+", required=True, help="model folders; missing ones are skipped")
    parser.add_argument("--rounds", help="folder of RL round checkpoints, evaluated in params rl.rounds order")
    parser.add_argument("--out", required=True,
                        help="folder: eval.json, predictions/, eval_bars.png, control_bars.png, iou_hist.png")
    args = parser.parse_args()
    every = stage_params()
    params, inference = every.evaluate, every.inference
    store = SampleStore.for_stage("evaluate", args.clean, args.frames, params.split)
    out = Path(args.out)
    (out / "predictions").mkdir(parents=True, exist_ok=True)
    checkpoints = {Path(folder).name: (Path(folder), Path(folder).name) for folder in args.models}
    if args.rounds:  # named rl/<round>, asked like rl
        checkpoints.update({f"rl/{name}": (Path(args.rounds) / name, "rl") for name in every.rl.rounds})
    control = ControlStore(store, control_partners(store.table["video"].tolist(), params.control_seed))
    metrics, ious = {}, {}

    def record(name: str, rows: list[dict], control_rows: list[dict], **extra) -> None:
        metrics[name] = {**evaluate(store.table, rows), "control": evaluate(store.table, control_rows)["overall"],
                         **extra}
        ious[name] = scored(store.table, rows)["iou"]
        print(f"evaluate {name}: {metrics[name]['overall']}\n  control (another video's frames): "
              f"{metrics[name]['control']}")

    # the reference every model must beat: a fixed fraction of each video, fitted on the other splits
    clean = pd.read_parquet(args.clean)
    train = clean[clean["split"] != params.split]
    if len(train):
        span = duration_prior(train)
        guesses = prior_predictions(store.table, span)  # never looks at the frames: its control is itself
        record("prior", guesses, guesses, span_fraction=[round(v, 2) for v in span])
    with predictor(inference.backend, inference.ray) as run:
        for checkpoint, (folder, kind) in checkpoints.items():
            if not folder.is_dir():
                continue
            for name, cot in asked_modes(checkpoint, kind, params.cot, inference.cot, params.both_modes).items():
                asked = run(folder, {f"evaluate {name}": store, f"evaluate {name} (control)": control},
                            batch_size=inference.batch_size, **asking(cot, every.prompts, inference))
                rows, control_rows = asked.values()
                stem = name.replace("/", "_").replace(" ", "_")
                write_jsonl(rows, out / "predictions" / f"{stem}.jsonl")
                write_jsonl(control_rows, out / "predictions" / f"{stem}.control.jsonl")
                record(name, rows, control_rows, cot=cot, rows_without_frames=len(store.missing))
    (out / "eval.json").write_text(json.dumps(metrics, indent=1) + "\n")
    overall = {name: m["overall"] for name, m in metrics.items()}
    metric_bars(overall, out / "eval_bars.png", f"{params.split} split ({len(store)} queries)")
    control_bars(overall, {name: m["control"] for name, m in metrics.items()}, out / "control_bars.png",
                 "the test queries on their own video and on another test video's frames")
    iou_histogram(ious, out / "iou_hist.png", f"IoU on the {params.split} split")


if __name__ == "__main__":
    main()
