"""The `timerft` command line. Each subcommand is a thin shell over the library."""

from __future__ import annotations

import argparse
import sys

from timerft import __version__
from timerft.annotations import FORMAT_HELP, FORMATS

EXIT_OK, EXIT_GATE_FAILED, EXIT_UNREADABLE = 0, 1, 2


def _project(args: argparse.Namespace):
    """The project's params (`--params`), where the defaults of every option come from."""
    from timerft.params import ParamsError, load_all

    try:
        return load_all(args.params)
    except ParamsError as error:
        message = str(error).replace("pass its path", "pass it with --params")
        raise SystemExit(f"timerft {args.command}: {message}") from None


def _or_params(value, default):
    return default if value is None else value


def _validate(args: argparse.Namespace) -> int:
    from timerft.annotations import AnnotationReadError
    from timerft.quality import GatePolicy
    from timerft.validate import InputSpec, summary, validate

    inputs = [InputSpec(path, args.format, args.split, args.durations) for path in args.paths]
    if args.end_tolerance is None or args.max_quarantine_fraction is None:
        prepare = _project(args).prepare
        args.end_tolerance = _or_params(args.end_tolerance, prepare.end_tolerance_s)
        args.max_quarantine_fraction = _or_params(args.max_quarantine_fraction, prepare.max_quarantine_fraction)
    policy = GatePolicy(end_tolerance_s=args.end_tolerance, max_quarantine_fraction=args.max_quarantine_fraction)
    try:
        result = validate(inputs, args.out, policy, args.video_root)
    except AnnotationReadError as error:
        print(f"timerft validate: error: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(summary(result, args.out))
    return EXIT_OK if result.passed else EXIT_GATE_FAILED


def _synth(args: argparse.Namespace) -> int:
    from timerft.synth import SynthConfig, generate

    synth = _project(args).synth
    counts = {split: _or_params(getattr(args, split), synth.counts[split]) for split in ("pretrain", "pool", "test")}
    config = SynthConfig.from_params(synth, seed=_or_params(args.seed, synth.seed), counts=counts)
    rows = generate(config, args.out, _or_params(args.workers, synth.workers))
    print(f"{sum(config.counts.values())} videos, {len(rows)} queries: {args.out}/annotations.json, {args.out}/videos/")
    return EXIT_OK


def _frames(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from timerft.frames import Sampling, VideoError, extract, save_npz

    sampling = Sampling.from_params(_project(args).frames)
    sampling = replace(sampling, fps=_or_params(args.fps, sampling.fps),
                       max_frames=_or_params(args.max_frames, sampling.max_frames),
                       total_pixels=_or_params(args.total_pixels, sampling.total_pixels))
    try:
        frames, timestamps = extract(args.video, sampling, args.start, args.end)
    except VideoError as error:
        print(f"timerft frames: error: {args.video}: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    save_npz(Path(args.out), frames, timestamps)
    if args.strip:
        from timerft.plots import frame_strip

        frame_strip(frames, timestamps, args.strip, title=Path(args.video).name, span=args.highlight)
    print(f"{len(frames)} frames of {frames.shape[2]}x{frames.shape[1]} from {timestamps[0]:.2f} s to "
          f"{timestamps[-1]:.2f} s -> {args.out}")
    return EXIT_OK


def _pretrain_base(args: argparse.Namespace) -> int:
    from timerft.pretrain import pretrain_base

    params = _project(args)
    out = args.out or params.pretrain.out
    report = pretrain_base(params.pretrain, params.synth, params.frames, params.model.tiny, params.prompts, out,
                           args.start_phase)
    for number, phase in enumerate(report["phases"], 1):
        check = phase.get("check", {})
        print(f"phase {number}: {phase['samples']} samples, {phase['steps']} steps, loss {phase.get('train_loss')}, "
              f"{phase['minutes']} min; held-out mIoU {check.get('miou')} (control {check.get('control_miou')}, "
              f"copy ceiling {check.get('copy_ceiling_miou')})")
    print(f"tiny base -> {out}")
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from timerft.annotations import AnnotationReadError, read_annotations
    from timerft.evaluation import evaluate
    from timerft.inference import read_jsonl

    try:
        annotations = read_annotations(args.annotations, args.format)
        predictions = read_jsonl(args.predictions)
    except AnnotationReadError as error:
        print(f"timerft evaluate: error: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    except (OSError, ValueError) as error:
        print(f"timerft evaluate: error: {args.predictions}: not a readable jsonl file ({error})", file=sys.stderr)
        return EXIT_UNREADABLE
    result = evaluate(annotations, predictions)
    text = json.dumps(result, indent=1)
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(text + "\n")
    overall = result["overall"]
    print(" ".join(f"{k} {v}" for k, v in overall.items()) + f" missing_predictions {result['missing_predictions']}")
    return EXIT_OK


def _cot_template(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pandas as pd

    from timerft.inference import write_jsonl
    from timerft.training import reply_template

    split = args.split or _project(args).sft.split
    if not Path(args.clean).is_file():
        print(f"timerft cot-template: error: no {args.clean}: run `dvc repro prepare` first", file=sys.stderr)
        return EXIT_UNREADABLE
    table = pd.read_parquet(args.clean)
    rows = reply_template(table[table["split"] == split])
    if not rows:
        print(f"timerft cot-template: error: split {split!r} has no rows in {args.clean} (its splits: "
              f"{sorted(table['split'].unique())}); pass --split or set sft.split", file=sys.stderr)
        return EXIT_UNREADABLE
    write_jsonl(rows, args.out)
    print(f"{len(rows)} rows of split {split!r} -> {args.out}: fill in each `reply`, then set "
          f"sft.cot_jsonl: {args.out}")
    return EXIT_OK


def _predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    from timerft.frames import Sampling, VideoError, extract
    from timerft.grounding import parse_span
    from timerft.inference import asking, generate
    from timerft.model import Sample, load_model

    params = _project(args)
    prompts, inference = params.prompts, params.inference
    try:
        frames, timestamps = extract(args.video, Sampling.from_params(params.frames))
    except VideoError as error:
        print(f"timerft predict: error: {args.video}: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    model, processor = load_model(args.model)
    sample = Sample("cli", args.query, frames, timestamps, float(timestamps[-1]))
    cot = _or_params(args.cot, inference.cot)
    text = generate(model, processor, [sample], **asking(cot, prompts, inference))[0]
    span = parse_span(text)
    print(f"reply: {text}")
    print(f"span: {span[0]:.2f} to {span[1]:.2f} s" if span else "span: none (the reply holds no answer)")
    if args.strip:
        from timerft.plots import frame_strip

        frame_strip(frames, timestamps, args.strip, title=f'"{args.query}" -> {span}', span=span)
        print(f"strip: {Path(args.strip)}")
    return EXIT_OK


PARAMS_HELP = "the project's params file, where every default comes from (default: params.yaml)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="timerft",
        description="RL post-training for temporal video grounding (Time-R1 / TempSamp-R1). "
        "The full pipeline runs with `dvc repro`; these commands run single steps by hand.",
    )
    parser.add_argument("--version", action="version", version=f"timerft {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate",
        help="read annotations in any supported format and run the data-quality gate",
        description="Read annotation files into the canonical table and run the Great Expectations gate: "
        "repair what is unambiguous, quarantine the rest with reasons, fail when too much is quarantined. "
        f"Formats: {FORMAT_HELP}.",
        epilog="Writes OUT/clean.parquet, OUT/quarantine.parquet (with a `reasons` column), OUT/report.json and "
        "GX data docs in OUT/data_docs/index.html. Exit codes: 0 gate passed, 1 gate failed "
        "(too many rows quarantined), 2 input cannot be read. "
        "Example: timerft validate train_2k5.json --video-root videos/ --out validation/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("paths", nargs="+", metavar="PATH", help="annotation file(s); several are merged")
    validate.add_argument("--format", default="auto", choices=("auto", *FORMATS),
                          help="annotation format (default: detected from the content)")
    validate.add_argument("--video-root", default=None, metavar="DIR",
                          help="folder the video paths are relative to; when given, every video must exist inside it")
    validate.add_argument("--durations", default=None, metavar="CSV",
                          help="csv with columns id,length (the Charades csv) for formats without durations")
    validate.add_argument("--split", default=None,
                          help="split name for the rows (default: test for tvgbench, train otherwise)")
    validate.add_argument("--out", default="validation", metavar="DIR", help="output folder (default: validation)")
    validate.add_argument("--end-tolerance", type=float, default=None, metavar="SECONDS",
                          help="an end past the duration by at most this is clipped to the duration "
                               "(default: params prepare.end_tolerance_s)")
    validate.add_argument("--max-quarantine-fraction", type=float, default=None, metavar="F",
                          help="fail when more than this fraction of rows is quarantined "
                               "(default: params prepare.max_quarantine_fraction)")
    validate.add_argument("--params", default="params.yaml", help=PARAMS_HELP)
    validate.set_defaults(handler=_validate)

    synth = commands.add_parser(
        "synth", help="render the embedded SynthTVG benchmark (MP4 videos + canonical annotations)",
        description="Render SynthTVG: procedurally drawn scenes with timed events (objects appear, change colour "
        "or size, move, a figure raises its arms, the background darkens), one query per event, written as "
        "H.264 MP4 files and canonical annotations. The same seed gives the same annotations.",
        epilog="Example: timerft synth --out synth/ --pretrain 20 --pool 10 --test 5",
    )
    synth.add_argument("--out", required=True, metavar="DIR", help="writes DIR/videos/*.mp4 and DIR/annotations.json")
    synth.add_argument("--seed", type=int, default=None, help="default: params synth.seed")
    for split in ("pretrain", "pool", "test"):
        synth.add_argument(f"--{split}", type=int, default=None, metavar="N",
                           help=f"videos in the {split} split (default: params synth.counts.{split})")
    synth.add_argument("--workers", type=int, default=None, help="parallel render processes (default: params)")
    synth.add_argument("--params", default="params.yaml", help=PARAMS_HELP + "; its `synth` section sets the rest")
    synth.set_defaults(handler=_synth)

    frames = commands.add_parser(
        "frames", help="sample one video's frames at Qwen2.5-VL's rules with decord",
        description="Sample frames at --fps (the count a multiple of 2 within [4, --max-frames]), resized to "
        "multiples of 28 within the pixel budget, with each frame's timestamp from the file's own timing.",
        epilog="Writes an .npz with `frames` uint8 (T,H,W,3) and `timestamps` float64 (T,) in seconds from the "
        "start of the file. Example: timerft frames video.mp4 --start 10 --end 20 --out clip.npz",
    )
    frames.add_argument("video", metavar="VIDEO")
    frames.add_argument("--fps", type=float, default=None,
                        help="frames sampled per second (default: params frames.fps)")
    frames.add_argument("--max-frames", type=int, default=None,
                        help="most frames (default: params frames.max_frames; the paper: 768)")
    frames.add_argument("--total-pixels", type=int, default=None,
                        help="pixel budget of the whole video (default: params frames.total_pixels; the paper: "
                             "3584*28*28, about 3584 visual tokens)")
    frames.add_argument("--params", default="params.yaml", help=PARAMS_HELP + "; its `frames` section sets the rest")
    frames.add_argument("--start", type=float, default=None, metavar="S", help="window start, seconds")
    frames.add_argument("--end", type=float, default=None, metavar="E", help="window end, seconds")
    frames.add_argument("--out", required=True, metavar="FILE.npz")
    frames.add_argument("--strip", default=None, metavar="FILE.png", help="also draw the frames as a PNG strip")
    frames.add_argument("--highlight", type=float, nargs=2, default=None, metavar=("S", "E"),
                        help="mark the frames inside this span (seconds) in the strip")
    frames.set_defaults(handler=_frames)

    evaluate = commands.add_parser(
        "evaluate", help="R1@0.3/0.5/0.7 and mIoU of predictions, overall, per category and per source",
        description="Score predictions against annotations. A prediction row (jsonl) holds `qid` and either "
        "`start`/`end` or `text` (the model's reply, parsed: last <answer> block, last 'X to Y'). An unparseable "
        "or missing prediction counts as IoU 0 and stays in the denominator. R1@m counts IoU strictly above m.",
        epilog='--out writes {"overall": {R1@0.3, R1@0.5, R1@0.7, mIoU, count, unparseable}, "missing_predictions", '
        '"by_category": {...}, "by_source": {...}}. Example: timerft evaluate --annotations tvgbench.json '
        "--predictions preds.jsonl --out metrics.json",
    )
    evaluate.add_argument("--annotations", required=True, help="any format `timerft validate` reads")
    evaluate.add_argument("--format", default="auto", choices=("auto", *FORMATS))
    evaluate.add_argument("--predictions", required=True, metavar="FILE.jsonl")
    evaluate.add_argument("--out", default=None, metavar="metrics.json")
    evaluate.set_defaults(handler=_evaluate)

    pretrain = commands.add_parser(
        "pretrain-base", help="train the embedded default's tiny base model (once, outside the pipeline)",
        description="Build the tiny Qwen3-VL (params model.tiny), train its tokenizer on its own texts, and teach "
        "it plain grounding answers (no reasoning; the last phase asks half its queries with the CoT prompt) on "
        "SynthTVG videos of its own (params pretrain: seed synth_seed, split `base`; "
        "frames rendered in memory as the frames stage decodes them), in a curriculum of phases (pretrain.phases): "
        "a progress bar shows the loss of each answer digit, and after each phase a held-out check prints mIoU on "
        "the videos' own frames and on another video's. The `base` stage starts from the folder it writes, which "
        "is committed: rerun this only to change the base model, then `dvc repro`.",
        epilog="Same params, software and kind of CPU: same weights. "
        "Example: timerft pretrain-base   (about 90 min on 2 CPU cores with the committed params; "
        "docs/tiny_base.md)",
    )
    pretrain.add_argument("--out", default=None, metavar="DIR", help="output folder (default: params pretrain.out)")
    pretrain.add_argument("--params", default="params.yaml", help=PARAMS_HELP)
    pretrain.add_argument("--start-phase", type=int, default=1, metavar="N",
                          help="continue an interrupted run at phase N from the earlier phases' model in the output")
    pretrain.set_defaults(handler=_pretrain_base)

    template = commands.add_parser(
        "cot-template", help="write the cold start's training queries as a jsonl to fill in with CoT replies",
        description="Write one row per query of the cold start's split (qid, video, query, start, end, reply: '') "
        "from the prepare stage's clean table. Fill in each reply as <think>...</think><answer>S to E</answer>, "
        "keep the file in data/cot/ (a dependency of the sft stage) and set sft.cot_jsonl to it.",
        epilog="Example: timerft cot-template --out data/cot/replies.jsonl",
    )
    template.add_argument("--clean", default="data/prepared/clean.parquet", help="the prepare stage's clean table")
    template.add_argument("--split", default=None, help="default: params sft.split")
    template.add_argument("--out", default="data/cot/replies.jsonl", metavar="FILE.jsonl")
    template.add_argument("--params", default="params.yaml", help=PARAMS_HELP)
    template.set_defaults(handler=_cot_template)

    predict = commands.add_parser(
        "predict", help="answer one query on one video: the span, the reasoning, a frame strip",
        description="Sample the video as the pipeline does (params.yaml `frames`), ask the model with the "
        "pipeline's prompt (params.yaml `prompts`), print its reply and the parsed span.",
        epilog='Example: timerft predict video.mp4 "person sitting down in a chair." --model models/base --strip s.png',
    )
    predict.add_argument("video", metavar="VIDEO")
    predict.add_argument("query", metavar="QUERY")
    predict.add_argument("--model", default="models/base", help="HF model folder or hub id (default models/base)")
    predict.add_argument("--cot", dest="cot", action="store_true", default=None, help="ask for reasoning first")
    predict.add_argument("--no-cot", dest="cot", action="store_false", help="ask for the answer only")
    predict.add_argument("--strip", default=None, metavar="FILE.png", help="draw the frames, the span framed")
    predict.add_argument("--params", default="params.yaml", help=PARAMS_HELP)
    predict.set_defaults(handler=_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
