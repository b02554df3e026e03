"""Can the tiny Qwen3-VL learn to read a time off the frames? A sanity task for the embedded base model.

Trains a fresh tiny model (params `model.tiny`) on SynthTVG videos of its own with a *copy* target: the answer is
the one-decimal time that Qwen3-VL's processor writes before the first frame group showing the event, to the
group after the last one (`<12.3 seconds>` in the prompt), so the answer is a function of the prompt and the frames
alone. The training loop is `timerft pretrain-base`'s (one phase of its curriculum, `timerft.pretrain.train_phase`):
a progress bar shows the loss of the answer's digits; then greedy mIoU on 100 held-out queries (seed 2000), on
their own frames and on another video's (control). A model that reads the frames scores far above the control.

    python benchmarks/copy_task.py --steps 600 --lr 2e-3 --kinds darken --events 1   # docs/tiny_base.md
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

from timerft.frames import Sampling
from timerft.params import Phase, load_all
from timerft.pretrain import SynthSamples, check, phase_samples, phase_world, train_phase
from timerft.synth import SynthConfig
from timerft.tiny import build_tiny


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--kinds", default=None, help="event kinds, comma-separated (default: all of SynthTVG)")
    parser.add_argument("--events", type=int, default=1, help="events per video")
    parser.add_argument("--max-frames", type=int, default=None, help="default: params frames.max_frames")
    parser.add_argument("--duration", type=float, nargs=2, default=None, help="video length range, seconds")
    parser.add_argument("--target", choices=("copy", "exact"), default="copy",
                        help="copy: the prompt's group times; exact: the annotation's two-decimal span")
    parser.add_argument("--out", default="/tmp/copy_task", help="where the trained model and a JSON summary go")
    parser.add_argument("--init", default=None, help="continue from this model folder (a curriculum's earlier step) "
                                                     "instead of a fresh tiny model")
    args = parser.parse_args()
    params = load_all()
    phase = Phase(max_steps=args.steps, learning_rate=args.lr, target=args.target,
                  event_kinds=tuple(args.kinds.split(",")) if args.kinds else None,
                  events_per_video=(args.events, args.events),
                  duration_range=tuple(args.duration) if args.duration else None,
                  max_frames=args.max_frames)
    pretrain = replace(params.pretrain, batch_size=args.batch_size)
    config = SynthConfig.from_params(params.synth, seed=pretrain.synth_seed)
    sampling = Sampling.from_params(params.frames)
    train = phase_samples(phase, config, sampling, pretrain.batch_size)
    world, phase_sampling = phase_world(phase, config, sampling)
    test = SynthSamples(replace(world, seed=2000), "test", 100 // args.events, phase_sampling)
    began = time.time()
    if args.init is None:
        args.init = f"{args.out}/init"
        build_tiny(params.model.tiny, train.texts()[: pretrain.tokenizer_texts] + [params.prompts.cot,
                                                                                    params.prompts.no_cot],
                   args.init, seed=pretrain.seed)
    result = train_phase(args.init, args.out, train, phase, pretrain, params.prompts)
    summary = {"args": vars(args), **result, **check(args.out, test, params.prompts.no_cot),
               "minutes": round((time.time() - began) / 60, 1)}
    print(json.dumps(summary))
    with open(f"{args.out}/summary.json", "w") as handle:
        handle.write(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
