"""Models and their inputs: loading a checkpoint, turning samples (frames + query) into model batches.

The time axis: Qwen2.5-VL places each video token at a temporal position derived from the sampling
rate the processor is told (second_per_grid_ts). Frames here are sampled by our own rules, so the
processor gets the real rate measured from the frames' timestamps, never a default fps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from timerft.frames import read_entry
from timerft.prompts import messages


@dataclass
class Sample:
    qid: str
    query: str
    frames: np.ndarray  # uint8 (T, H, W, 3)
    timestamps: np.ndarray  # seconds, relative to the start of the (clip) video the annotation refers to
    duration: float
    start: float | None = None
    end: float | None = None
    meta: str | None = None


class EmptySplitError(ValueError):
    """A stage was pointed at a split with no usable rows: a wrong split name, or videos that gave no frames."""


class SampleStore:
    """Samples of a canonical table whose frames are in the frames cache, read when asked for."""

    def __init__(self, table: pd.DataFrame, frames_index: pd.DataFrame, cache_dir: str | Path):
        keys = dict(zip(frames_index["qid"], frames_index["frames"]))
        self.table = table[table["qid"].isin(keys)].reset_index(drop=True)
        self.missing = sorted(set(table["qid"]) - set(keys))  # rows whose video gave no frames
        self.keys, self.cache_dir = keys, Path(cache_dir)

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int) -> Sample:
        row = self.table.iloc[i]
        frames, timestamps = read_entry(self.cache_dir, self.keys[row["qid"]])
        # the cache holds clip-relative times, as the annotations (timerft.frames.extract_window)
        return Sample(row["qid"], row["query"], frames, timestamps, float(row["duration"]),
                      float(row["start"]), float(row["end"]), row.get("meta"))

    @classmethod
    def from_stage_outputs(cls, clean: str | Path, frames_dir: str | Path, split: str | None = None,
                           param: str = "the split") -> SampleStore:
        """The samples of one split from the `prepare` and `frames` stages' outputs. An empty split raises
        EmptySplitError naming `param`, the params.yaml key that chose the split."""
        table = pd.read_parquet(clean)
        if split is not None:
            counts = table["split"].value_counts()
            table = table[table["split"] == split]
            if table.empty:
                have = ", ".join(f"{name} ({count} rows)" for name, count in counts.items()) or "none"
                raise EmptySplitError(f"split {split!r} has no rows in {clean} (its splits: {have}); "
                                      f"set {param} in params.yaml to one of them")
        store = cls(table, pd.read_parquet(Path(frames_dir) / "index.parquet"), Path(frames_dir) / "cache")
        if len(table) and not len(store):
            raise EmptySplitError(f"none of the {len(table)} rows of split {split!r} has frames: see "
                                  f"{Path(frames_dir) / 'failures.json'} for why their videos gave none")
        return store

    @classmethod
    def for_stage(cls, stage: str, clean: str | Path, frames_dir: str | Path, split: str) -> SampleStore:
        """from_stage_outputs for a stage script whose params `<stage>.split` chose the split: an empty split stops
        the stage with the error alone."""
        try:
            return cls.from_stage_outputs(clean, frames_dir, split, f"{stage}.split")
        except EmptySplitError as error:
            raise SystemExit(f"{stage}: {error}") from None

    def subset(self, qids) -> SampleStore:
        chosen = self.table[self.table["qid"].isin(set(qids))]
        return SampleStore(chosen, pd.DataFrame({"qid": list(self.keys), "frames": list(self.keys.values())}),
                           self.cache_dir)


POINTER = "checkpoint.json"  # a stage folder that names a checkpoint kept elsewhere (a real run's base model)


def resolve_checkpoint(path: str | Path) -> str:
    pointer = Path(path) / POINTER
    return json.loads(pointer.read_text())["checkpoint"] if pointer.is_file() else str(path)


def load_model(path: str | Path, device: str | None = None, dtype: str | None = None):
    """(model, processor) from an HF folder, a stage folder pointing at one, or a hub id already in the local cache."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    path = resolve_checkpoint(path)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = dtype or ("bfloat16" if device == "cuda" else "float32")
    processor = AutoProcessor.from_pretrained(str(path))
    processor.tokenizer.padding_side = "left"  # generation appends on the right
    model = AutoModelForImageTextToText.from_pretrained(str(path), dtype=getattr(torch, dtype)).to(device)
    return model, processor


def video_metadata(timestamps: np.ndarray):
    """What the processor needs to place the frames on the time axis: their real sampling rate."""
    from transformers.video_utils import VideoMetadata

    count = len(timestamps)
    span = float(timestamps[-1] - timestamps[0]) if count > 1 else 0.0
    fps = (count - 1) / span if span > 0 else 2.0
    return VideoMetadata(total_num_frames=count, fps=fps, frames_indices=list(range(count)))


def encode(processor, samples: list[Sample], template: str | list[str], targets: list[str] | None = None):
    """A model batch: prompts (and, for training, target replies with `labels` on the reply tokens only).

    `template` is one prompt template for all samples, or one per sample."""
    templates = template if isinstance(template, list) else [template] * len(samples)
    prompts = [processor.apply_chat_template(messages(s.query, t), add_generation_prompt=True, tokenize=False)
               for s, t in zip(samples, templates)]
    eos = processor.tokenizer.eos_token
    texts = prompts if targets is None else [p + t + eos for p, t in zip(prompts, targets)]
    batch = processor(text=texts, videos=[s.frames for s in samples], return_tensors="pt", padding=True,
                      video_metadata=[video_metadata(s.timestamps) for s in samples], do_sample_frames=False)
    if targets is not None:
        # Left padding puts every reply at the end of its row: label exactly its last tokens.
        labels = batch["input_ids"].clone()
        for row, target in enumerate(targets):
            reply = len(processor.tokenizer(target + eos, add_special_tokens=False)["input_ids"])
            labels[row, : labels.shape[1] - reply] = -100
        batch["labels"] = labels
    return batch


def control_partners(videos: list[str], seed: int = 0) -> list[int]:
    """For each sample, a sample of another video: the videos form one seeded cycle, and every query of a video is
    paired with the first query of the next video in it. Fixed by the seed, so every checkpoint gets the same pairs."""
    distinct = sorted(set(videos))
    if len(distinct) < 2:
        raise ValueError("the control needs at least two videos")
    order = [distinct[i] for i in np.random.default_rng(seed).permutation(len(distinct))]
    following = {video: order[(i + 1) % len(order)] for i, video in enumerate(order)}
    first = {}
    for i, video in enumerate(videos):
        first.setdefault(video, i)
    return [first[following[video]] for video in videos]


class ControlStore:
    """The samples of `store`, each shown the frames of another video (`control_partners`): a model that grounds by
    looking loses its score here, one that answers from the query and a length prior does not."""

    def __init__(self, store, partners: list[int]):
        self.store, self.partners = store, partners
        self.table = getattr(store, "table", None)

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i: int) -> Sample:
        sample, other = self.store[i], self.store[self.partners[i]]
        return Sample(sample.qid, sample.query, other.frames, other.timestamps, sample.duration, sample.start,
                      sample.end, sample.meta)
