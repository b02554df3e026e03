"""The embedded default's base model: a tiny Qwen3-VL (`model.tiny`) pretrained once, outside the pipeline, and shipped.

A real run starts from a pretrained video LLM that nobody trains inside the recipe; the embedded default does
the same. `timerft pretrain-base` (params.yaml `pretrain`) builds the tiny model, trains its tokenizer on its own
texts, and teaches it plain grounding answers (no reasoning, asked with the no-CoT prompt or, in a phase's
`cot_fraction` of its queries, the CoT one) on SynthTVG videos of its own (split `base` of seed
`pretrain.synth_seed`: no video and no text of any pipeline split, so none of the test split), in a curriculum of
phases that grows a copy circuit from a small world to the pipeline's (docs/tiny_base.md). The folder it
writes (a few MB) is committed, and the `base` stage starts from it. Frames are rendered in memory exactly as the
frames stage decodes them from the lossless MP4 files, so no videos are written. Same params, same software and
same kind of device: same weights.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from timerft.frames import Sampling, frame_count, frame_size
from timerft.grounding import visible_span
from timerft.model import Sample
from timerft.params import Frames, Phase, Pretrain, Prompts, Synth, Tiny
from timerft.synth import SynthConfig, annotation_rows, make_scene, render_frame


def sampled_times(n_frames: int, fps: float, sampling: Sampling) -> np.ndarray:
    """The timestamps the frames stage samples from a constant-rate video of `n_frames` frames (frames.extract)."""
    count = frame_count(n_frames, n_frames / fps, sampling)
    return np.linspace(0, n_frames - 1, count).round() / fps


class SynthSamples:
    """SynthTVG queries rendered on demand, one Sample per event: the frames the pipeline would decode."""

    def __init__(self, config: SynthConfig, split: str, videos: int, sampling: Sampling, first: int = 0):
        self.config, self.split, self.sampling = config, split, sampling
        self.items = [(v, e) for v in range(first, first + videos)
                      for e in range(len(make_scene(config, split, v).events))]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Sample:
        video, event = self.items[i]
        scene = make_scene(self.config, self.split, video)
        times = sampled_times(scene.n_frames, scene.fps, self.sampling)
        size = frame_size(scene.height, scene.width, len(times), self.sampling)
        if size != (scene.height, scene.width):
            raise ValueError(f"frames would be resized from {scene.height}x{scene.width} to {size[0]}x{size[1]}: "
                             "render SynthTVG at the frames stage's size (synth.size, frames pixels)")
        frames = np.stack([render_frame(scene, t) for t in times])
        row = annotation_rows(scene, self.split, f"{scene.video_id}.mp4")[event]
        return Sample(row["qid"], row["query"], frames, times, scene.duration, row["start"], row["end"], row["meta"])

    def videos(self) -> list[str]:
        return [str(video) for video, _ in self.items]

    def texts(self) -> list[str]:
        """Every query and synthetic reasoning trace of these samples (for the tokenizer), without rendering."""
        from timerft.prompts import clean_query, synthetic_cot, target_text

        out = []
        for video, event in self.items:
            scene = make_scene(self.config, self.split, video)
            row = annotation_rows(scene, self.split, "v.mp4")[event]
            trace = synthetic_cot(row["meta"], "scene")
            out += [clean_query(row["query"]), target_text(row["start"], row["end"], trace)]
        return out


def copy_span(sample: Sample) -> tuple[float, float]:
    """The copy target: the sample's span as its sampled frames show it (grounding.visible_span), an answer that is
    a function of the prompt and the frames alone, learnt long before exact spans."""
    return visible_span(sample.timestamps, sample.start, sample.end)


def phase_world(phase: Phase, config: SynthConfig, sampling: Sampling) -> tuple[SynthConfig, Sampling]:
    """The phase's videos and frame sampling: synth's and frames' but where the phase narrows them."""
    world = {key: getattr(phase, key) for key in ("event_kinds", "events_per_video", "duration_range")
             if getattr(phase, key) is not None}
    if phase.max_frames is not None:
        sampling = replace(sampling, max_frames=phase.max_frames)
    return replace(config, **world), sampling


def check(model_dir: str | Path, samples: SynthSamples, template: str, batch_size: int = 25) -> dict:
    """Greedy mIoU (%) of a phase's model on held-out queries of its world: on their own frames, on another video's
    (`control`: a model that reads the frames loses its score there), and of the copy target itself (`ceiling`)."""
    from timerft.evaluation import prediction_span
    from timerft.grounding import iou
    from timerft.inference import predict
    from timerft.model import ControlStore, control_partners, load_model

    model, processor = load_model(model_dir)
    model.eval()
    rendered = [samples[i] for i in range(len(samples))]  # once, for the answers, the control and the ceiling

    def miou(spans) -> float:
        return round(100 * float(np.mean([iou(span, (s.start, s.end)) for span, s in zip(spans, rendered)])), 1)

    answers = predict(model, processor, rendered, template, batch_size, 24, desc="check")
    control = predict(model, processor, ControlStore(rendered, control_partners(samples.videos(), 0)), template,
                      batch_size, 24, desc="check control")
    return {"miou": miou(map(prediction_span, answers)), "control_miou": miou(map(prediction_span, control)),
            "copy_ceiling_miou": miou(map(copy_span, rendered)),
            "distinct_answers": len({row["text"] for row in answers})}


def phase_samples(phase: Phase, config: SynthConfig, sampling: Sampling, batch_size: int) -> SynthSamples:
    """The phase's training queries: videos 0.. of split `base` in its world, enough for `max_steps` batches."""
    world, phase_sampling = phase_world(phase, config, sampling)
    videos = phase.max_steps * batch_size // world.events_per_video[0] + 1
    return SynthSamples(world, "base", videos, phase_sampling)


def asked_with_cot(phase: Phase, samples: SynthSamples, seed: int) -> np.ndarray:
    """Which of the phase's queries are asked with the CoT prompt (`phase.cot_fraction` of them, seeded apart from
    the order): the reply stays the plain answer, so the base follows either instruction but has never seen the
    recipe's reasoning, which the cold start teaches."""
    return np.random.default_rng([seed, 1]).random(len(samples)) < phase.cot_fraction


def train_phase(model_dir: str | Path, out_dir: str | Path, samples: SynthSamples, phase: Phase, params: Pretrain,
                prompts: Prompts) -> dict:
    """`phase.max_steps` AdamW steps (linear warm-up, then constant) on a seeded order of `samples`; saves an HF folder.

    A plain loop rather than the Trainer, to log what tells a copy circuit forming: the loss of each answer digit
    (it sits at the entropy of the choice for hundreds of steps, then drops at once)."""
    import torch
    from tqdm import tqdm

    from timerft.model import encode, load_model
    from timerft.prompts import target_text

    def target(sample: Sample) -> str:
        return target_text(*copy_span(sample)) if phase.target == "copy" else target_text(sample.start, sample.end)

    torch.manual_seed(params.seed)
    model, processor = load_model(model_dir)
    optimizer = torch.optim.AdamW(model.parameters(), lr=phase.learning_rate, weight_decay=0.0)
    order = np.random.default_rng(params.seed).permutation(len(samples))[: phase.max_steps * params.batch_size]
    cot = asked_with_cot(phase, samples, params.seed)
    loader = torch.utils.data.DataLoader(
        [int(i) for i in order], batch_size=params.batch_size, num_workers=params.dataloader_num_workers,
        collate_fn=lambda rows: encode(processor, [samples[i] for i in rows],
                                       [prompts.cot if cot[i] else prompts.no_cot for i in rows],
                                       [target(samples[i]) for i in rows]))
    losses, digits = [], []
    model.train()
    bar = tqdm(loader, desc="pretrain", unit="step")
    for step, batch in enumerate(bar, 1):
        for group in optimizer.param_groups:
            group["lr"] = phase.learning_rate * min(1.0, step / params.warmup_steps)
        logits, labels = model(**batch).logits[:, :-1], batch["labels"][:, 1:]
        per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100,
                                                      reduction="none")
        mask = labels != -100
        loss = per_token[mask].mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        # the reply's last 18 tokens, "<answer>AB.CD to EF.GH</answer><|im_end|>": one per digit
        digits.append((per_token * mask).sum(0)[-18:].detach() / mask.sum(0)[-18:].clamp(min=1))
        if step % 25 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-25:]):.3f}",
                            digits=" ".join(f"{v:.2f}" for v in torch.stack(digits[-25:]).mean(0)[2:13]))
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return {"steps": len(losses), "train_loss": round(float(np.mean(losses[-100:])), 4),
            "answer_digit_loss": [round(float(v), 3) for v in torch.stack(digits[-100:]).mean(0)]}


def pretrain_base(params: Pretrain, synth: Synth, frames: Frames, tiny: Tiny, prompts: Prompts, out_dir: str | Path,
                  start_phase: int = 1) -> dict:
    """Build, train and save the tiny base model; returns (and writes as pretrain_report.json) what it did.

    `params.phases` run in order, a curriculum (docs/tiny_base.md: a copy circuit forms where the choice is small,
    then carries over as the world widens): each continues from the previous phase's weights on its own world's
    videos. `start_phase` > 1 continues from the phases already in `out_dir` (an interrupted run)."""
    import shutil

    from timerft.tiny import build_tiny

    config, sampling = SynthConfig.from_params(synth, seed=params.synth_seed), Sampling.from_params(frames)
    out = Path(out_dir)
    report_path = out / "pretrain_report.json"
    phases = json.loads(report_path.read_text())["phases"][: start_phase - 1] if start_phase > 1 else []
    for number, phase in enumerate(params.phases[start_phase - 1:], start_phase):
        samples = phase_samples(phase, config, sampling, params.batch_size)
        began = time.time()
        init = out / "init"
        if number == 1:
            shutil.rmtree(out, ignore_errors=True)
            # the narrowest world's texts and the widest's (the last phase: the pipeline's), so that every word the
            # pipeline asks about is a whole token; with phase 1's words alone "circle" was spelt letter by letter
            widest = phase_samples(params.phases[-1], config, sampling, params.batch_size)
            texts = [text for world in (samples, widest) for text in world.texts()[: params.tokenizer_texts]]
            build_tiny(tiny, texts + [prompts.cot, prompts.no_cot], init, seed=params.seed)
        else:
            shutil.rmtree(init, ignore_errors=True)
            shutil.copytree(out, init)
        result = train_phase(init, out, samples, phase, params, prompts)
        shutil.rmtree(init)
        world, phase_sampling = phase_world(phase, config, sampling)
        held_out = SynthSamples(world, "check", params.check_videos, phase_sampling)  # split `check`: never trained
        phases.append({**asdict(phase), "samples": len(samples), **result,
                       "minutes": round((time.time() - began) / 60, 1), "check": check(out, held_out, prompts.no_cot)})
        if phase.cot_fraction:  # and asked with the CoT prompt
            phases[-1]["check_cot"] = check(out, held_out, prompts.cot)
        report = {"phases": phases, "params": asdict(params)}
        report_path.write_text(json.dumps(report, indent=1) + "\n")
    return report
