"""Where does the video's event get lost? A linear probe on a model's hidden states at each frame group.

For SynthTVG queries of a held-out seed, each frame group (2 frames, one `<t seconds>` text) is labelled 1 when a
sampled frame of it falls inside the queried span. A logistic regression on the group's visual tokens' hidden state
(all tokens of the group, concatenated), fitted on 70 % of the groups, is scored on the rest, layer by layer: layer
0 is what the vision tower and merger hand the LLM. Accuracy near the majority rate means the layer does not carry
the event; the drop from layer to layer shows where the LLM stops carrying it at the video positions.

    python benchmarks/grounding_probe.py assets/tiny-base --kinds darken      # docs/tiny_base.md
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from timerft.frames import Sampling
from timerft.model import encode, load_model
from timerft.params import load_all
from timerft.pretrain import SynthSamples
from timerft.synth import SynthConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="an HF model folder (the tiny base: assets/tiny-base)")
    parser.add_argument("--kinds", default=None, help="event kinds, comma-separated (default: all, 2 per video)")
    parser.add_argument("--videos", type=int, default=200)
    args = parser.parse_args()
    params = load_all()
    overrides = {"seed": 2000}
    if args.kinds:
        overrides.update(event_kinds=tuple(args.kinds.split(",")), events_per_video=(1, 1))
    samples = SynthSamples(SynthConfig.from_params(params.synth, **overrides), "test", args.videos,
                           Sampling.from_params(params.frames))
    model, processor = load_model(args.model)
    model.eval()
    features, labels = {}, []
    for sample in samples:
        batch = encode(processor, [sample], params.prompts.no_cot)
        with torch.no_grad():
            states = model(**batch, output_hidden_states=True).hidden_states
        positions = (batch["input_ids"][0] == model.config.video_token_id).nonzero().flatten()
        groups = int(batch["video_grid_thw"][0][0])
        for layer, state in enumerate(states):
            features.setdefault(layer, []).append(state[0, positions].reshape(groups, -1).numpy())
        times = sample.timestamps
        labels += [float(any(sample.start <= t < sample.end for t in times[2 * g: 2 * g + 2])) for g in range(groups)]
    y = torch.tensor(labels)
    fit = int(0.7 * len(y))
    majority = max(y[fit:].mean().item(), 1 - y[fit:].mean().item())
    print(f"{len(y)} frame groups, {y.mean().item():.1%} inside the span; majority rate on held-out {majority:.3f}")
    for layer, chunks in features.items():
        x = torch.tensor(np.concatenate(chunks))
        x = (x - x[:fit].mean(0)) / (x[:fit].std(0) + 1e-6)
        torch.manual_seed(0)
        weight, bias = torch.zeros(x.shape[1], requires_grad=True), torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.Adam([weight, bias], lr=1e-2)
        for _ in range(500):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(x[:fit] @ weight + bias, y[:fit])
            optimizer.zero_grad()
            (loss + 1e-3 * weight.pow(2).sum()).backward()
            optimizer.step()
        with torch.no_grad():
            predicted = (x[fit:] @ weight + bias) > 0
        truth = y[fit:] > 0
        recall = (predicted & truth).sum().item() / max(1, truth.sum().item())
        print(f"layer {layer}: held-out accuracy {(predicted == truth).float().mean().item():.3f}, recall {recall:.2f}")


if __name__ == "__main__":
    main()
