"""Can the tiny Qwen3-VL learn to read a time off the frames? A sanity task for the embedded base model.

Trains a fresh tiny model (params `model.tiny`) on SynthTVG videos of its own with a *copy* target: the answer is
the one-decimal time that Qwen3-VL's processor writes before the first frame group showing the event, to the
group after the last one (`<12.3 seconds>` in the prompt), so the answer is a function of the prompt and the frames
alone. Reports per-position loss of the answer's tokens while training, then greedy mIoU on 100 held-out queries,
on their own frames and on another video's (control). A model that reads the frames scores far above the control.

    python benchmarks/copy_task.py --steps 600 --lr 2e-3 --kinds darken --events 1   # docs/tiny_base.md
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np
import torch

from timerft.frames import Sampling
from timerft.grounding import iou
from timerft.inference import predict
from timerft.model import ControlStore, control_partners, encode, load_model
from timerft.params import load_all
from timerft.pretrain import SynthSamples, copy_span
from timerft.prompts import target_text
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
    overrides = {"seed": 1000, "events_per_video": (args.events, args.events)}
    if args.kinds:
        overrides["event_kinds"] = tuple(args.kinds.split(","))
    if args.duration:
        overrides["duration_range"] = tuple(args.duration)
    config = SynthConfig.from_params(params.synth, **overrides)
    sampling = Sampling.from_params(params.frames)
    if args.max_frames:
        sampling = replace(sampling, max_frames=args.max_frames)
    train = SynthSamples(config, "base", args.steps * args.batch_size // args.events + 1, sampling)
    test = SynthSamples(replace(config, seed=2000), "test", 100 // args.events, sampling)
    if args.init is None:
        args.init = f"{args.out}/init"
        build_tiny(params.model.tiny, train.texts()[:4000] + [params.prompts.cot, params.prompts.no_cot], args.init,
                   seed=0)
    model, processor = load_model(args.init)
    template = params.prompts.no_cot

    def target(sample) -> str:
        return target_text(*copy_span(sample)) if args.target == "copy" else target_text(sample.start, sample.end)

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    order = np.random.default_rng(0).permutation(len(train))[: args.steps * args.batch_size]
    loader = torch.utils.data.DataLoader(
        [int(i) for i in order], batch_size=args.batch_size, num_workers=1,
        collate_fn=lambda rows: encode(processor, [train[i] for i in rows], template,
                                       [target(train[i]) for i in rows]))
    began, recent = time.time(), []
    model.train()
    for step, batch in enumerate(loader, 1):
        for group in optimizer.param_groups:
            group["lr"] = args.lr * min(1.0, step / 20)  # a short warm-up, then constant
        logits, labels = model(**batch).logits[:, :-1], batch["labels"][:, 1:]
        per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100,
                                                      reduction="none")
        mask = labels != -100
        loss = per_token[mask].mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        # the reply's last 18 tokens: "<answer>AB.CD to EF.GH</answer><|im_end|>", one per digit
        recent.append((per_token * mask).sum(0)[-18:].detach() / mask.sum(0)[-18:].clamp(min=1))
        if step % 25 == 0:
            mean = torch.stack(recent[-25:]).mean(0)
            print(f"step {step} loss {loss.item():.3f} per position {' '.join(f'{v:.2f}' for v in mean)} "
                  f"{time.time() - began:.0f}s", flush=True)
    model.eval()
    rows = predict(model, processor, test, template, 25, 24)
    control = predict(model, processor, ControlStore(test, control_partners(test.videos(), 0)), template, 25, 24)

    def miou(answers) -> float:
        return 100 * float(np.mean([iou((r["start"], r["end"]) if r["start"] is not None else None,
                                        (s.start, s.end)) for r, s in zip(answers, test)]))

    summary = {"args": vars(args),
               "copy_span_miou": 100 * float(np.mean([iou(copy_span(s), (s.start, s.end)) for s in test])),
               "miou": miou(rows), "control_miou": miou(control),
               "distinct_answers": len({r["text"] for r in rows}), "minutes": round((time.time() - began) / 60, 1)}
    print(json.dumps(summary))
    model.save_pretrained(args.out)
    processor.save_pretrained(args.out)
    with open(f"{args.out}/summary.json", "w") as handle:
        handle.write(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
