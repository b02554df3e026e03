"""The work a GRPO group's G rows share, done once: the video's encoding and the prompt's prefill.

The G rollouts of a prompt see one video and one prompt. Without this, the rollout, the policy's and the
reference's log-prob passes each run the vision tower on G copies of the video, and generate prefills the
prompt G times. Here each distinct video goes through the tower once per step (under fix_vit the tower is
frozen: its output serves all three passes, and only the merger, which trains, runs per model, with grad for
the policy), and the prompt is prefilled once with its KV cache repeated G times. Both go through transformers'
own hooks (`mm_encoder_outputs`, `Cache.batch_repeat_interleave`); tests/test_group_reuse.py shows the
log-probs, rewards, advantages and loss of a step equal with and without (params rl.grpo.encode_once,
prefill_once).
"""

from __future__ import annotations

import copy

import torch
from transformers import DynamicCache
from transformers.vision_utils import get_vision_window_index

PIXELS = "pixel_values_videos"


def repeat_rows(batch, group: int) -> dict:
    """The B-prompt batch as B*G rows, each prompt G times in a row (as generate's num_return_sequences), without
    the pixels: every other tensor of a one-video-per-prompt batch has one row per prompt."""
    return {key: value.repeat_interleave(group, 0) for key, value in batch.items()
            if key != PIXELS and torch.is_tensor(value)}


def tower(model, batch):
    """The vision tower's output for each video of `batch`, without grad (fix_vit: the tower does not train)."""
    visual = model.model.visual
    with torch.no_grad():
        return visual(batch[PIXELS].type(visual.dtype), grid_thw=batch["video_grid_thw"])


def video_features(model, batch, towered=None):
    """`model`'s video embeddings per video of `batch` (its get_video_features' output). With `towered` (the frozen
    tower's output, shared between models) only `model`'s merger runs, with grad where it trains; else the whole
    encoder runs."""
    if towered is None:
        return model.model.get_video_features(batch[PIXELS], batch["video_grid_thw"], return_dict=True)
    visual, grid = model.model.visual, batch["video_grid_thw"]
    merged = visual.merger(towered.last_hidden_state)
    if hasattr(visual, "window_size"):  # Qwen2.5-VL: the tower works in window order, its merged output does not
        window_index, _ = get_vision_window_index(grid, spatial_merge_size=visual.spatial_merge_size,
                                                  window_size=visual.window_size, patch_size=visual.patch_size)
        merged = merged[torch.argsort(window_index)]
    sizes = (grid.prod(-1) // visual.spatial_merge_size**2).tolist()
    features = copy.copy(towered)
    features.pooler_output = torch.split(merged, sizes)
    if getattr(towered, "deepstack_features", None) is not None:  # Qwen3-VL: its deepstack mergers are frozen too
        features.deepstack_features = [torch.split(f, sizes) for f in towered.deepstack_features]
    return features


def repeat_features(features, group: int, detach: bool = False):
    """Per-video embeddings for B*G rows (each video G times in a row), for `mm_encoder_outputs={"video": ...}`."""
    def each(parts):
        return tuple(p.detach() if detach else p for p in parts for _ in range(group))

    repeated = copy.copy(features)
    repeated.pooler_output = each(features.pooler_output)
    if getattr(features, "deepstack_features", None) is not None:
        repeated.deepstack_features = [each(parts) for parts in features.deepstack_features]
    return repeated


def prefill_once(model, batch, features, group: int) -> DynamicCache:
    """Prefill each prompt of `batch` but its last token once and repeat the cache G times: generate, given the
    B*G rows' whole prompts, runs that last token, the only one not cached, and samples."""
    cache = DynamicCache(config=model.config)
    head = {key: batch[key][:, :-1] for key in ("input_ids", "attention_mask", "mm_token_type_ids") if key in batch}
    grids = {key: batch[key] for key in ("video_grid_thw", "second_per_grid_ts") if key in batch}
    with torch.no_grad():
        model(**head, **grids, mm_encoder_outputs={"video": features}, past_key_values=cache, use_cache=True,
              logits_to_keep=1)
    cache.batch_repeat_interleave(group)
    # generate continues from the cache with the mrope offsets its prefill stored, one per row
    model.model.rope_deltas = model.model.rope_deltas.repeat_interleave(group, 0)
    return cache
