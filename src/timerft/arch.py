"""The real Qwen2.5-VL (3B, 7B) and Qwen3-VL (2B, 4B, 8B) architectures with random weights: stand-ins for the
published checkpoints.

Nothing can be downloaded here, but compute, memory and speed depend only on the architecture, so a
random-init model with the published configuration measures what the real one would cost. The numbers below
are those of `config.json` of Qwen/Qwen2.5-VL-3B-Instruct and Qwen/Qwen2.5-VL-7B-Instruct:

| | 3B | 7B |
| --- | --- | --- |
| LLM hidden / intermediate | 2048 / 11008 | 3584 / 18944 |
| layers / heads / kv heads (head dim 128) | 36 / 16 / 2 | 28 / 28 / 4 |
| vocab (embedding rows) | 151936 | 152064 |
| tied input / output embeddings | yes | no |
| vision tower | 32 blocks x 1280, MLP 3420, 16 heads, window 112 px, full attention in blocks 7, 15, 23, 31 | same |
| merger out (= LLM hidden) | 2048 | 3584 |
| rope | theta 1e6, mrope_section [16, 24, 24] | same |

(The 7B embedding has 152064 rows, not 151936: both are padded vocabularies over the same 151,665 tokens.)

`family="qwen3_vl"` (`qwen3_vl_config`) builds Qwen3-VL, with the numbers of `config.json` of
Qwen/Qwen3-VL-2B-Instruct, -4B-Instruct and -8B-Instruct:

| | 2B | 4B | 8B |
| --- | --- | --- | --- |
| LLM hidden / intermediate | 2048 / 6144 | 2560 / 9728 | 4096 / 12288 |
| layers / heads / kv heads (head dim 128) | 28 / 16 / 8 | 36 / 32 / 8 | 36 / 32 / 8 |
| vocab (embedding rows) | 151936 | 151936 | 151936 |
| tied input / output embeddings | yes | yes | no |
| vision tower | 24 blocks x 1024, MLP 4096, 16 heads | same | 27 blocks x 1152, MLP 4304, 16 heads |
| vision patches / position embeddings | 16 px / 2304 | same | same |
| deepstack blocks (their features enter LLM layers 0, 1, 2) | 5, 11, 17 | 5, 11, 17 | 8, 16, 24 |
| merger out (= LLM hidden) | 2048 | 2560 | 4096 |
| rope | theta 5e6, interleaved mrope_section [24, 20, 20] | same | same |

Qwen3-VL's processor also writes each frame group's time into the prompt as text (`<12.3 seconds>`). Its
16-pixel patches merge to 32-pixel units, so frames sized to 28-pixel multiples (the frames stage's Qwen2.5-VL
rule) are resized by the processor to the nearest 32-pixel multiples.

The tokenizer is the pipeline's own (timerft.tiny's byte-level BPE with Qwen's special tokens, trained on the
texts given); the embedding keeps its published size, so rows past the tokenizer are never produced by
encoding, and sampled ids past it decode to nothing. `build_arch` saves an ordinary HF folder, so
`timerft.model.load_model` and every stage load it with `model.name` pointing at it:

    python -m timerft.arch --size 3b --out models/qwen25vl-3b-random     # ~7.5 GB in bf16
    python -m timerft.arch --family qwen3_vl --size 4b --out models/qwen3vl-4b-random     # ~8.9 GB in bf16

`qwen25_vl_config(size, layers=..., vision_depth=..., width_divisor=...)` shrinks a configuration along the
same code path (fewer layers, fewer heads of the same head size, same rope sections and window attention),
which is what the CPU tests run; `qwen3_vl_config` shrinks alike (the deepstack blocks move with the depth);
`parameter_counts` counts on the meta device without allocating.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

SIZES = {
    "3b": {"hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36, "num_attention_heads": 16,
           "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": True, "max_window_layers": 70},
    "7b": {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
           "num_key_value_heads": 4, "vocab_size": 152064, "tie_word_embeddings": False, "max_window_layers": 28},
}
# published parameter counts (safetensors totals of the Instruct checkpoints)
PUBLISHED_PARAMETERS = {"3b": 3_754_622_976, "7b": 8_292_166_656}
VISION = {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "in_channels": 3,
          "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 112,
          "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2, "hidden_act": "silu"}
TEXT = {"hidden_act": "silu", "rms_norm_eps": 1e-6, "max_position_embeddings": 128000, "attention_dropout": 0.0,
        "initializer_range": 0.02, "sliding_window": 32768, "use_sliding_window": False,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}}
HEAD_DIM, VISION_HEAD_DIM = 128, 80
# Qwen3-VL: config.json of Qwen/Qwen3-VL-{2B,4B,8B}-Instruct (the 2B's also as in torchtitan's qwen3_vl "2B")
QWEN3_SIZES = {
    "2b": {"hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 28, "num_attention_heads": 16,
           "num_key_value_heads": 8, "vocab_size": 151936, "tie_word_embeddings": True},
    "4b": {"hidden_size": 2560, "intermediate_size": 9728, "num_hidden_layers": 36, "num_attention_heads": 32,
           "num_key_value_heads": 8, "vocab_size": 151936, "tie_word_embeddings": True},
    "8b": {"hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36, "num_attention_heads": 32,
           "num_key_value_heads": 8, "vocab_size": 151936, "tie_word_embeddings": False},
}
# published parameter counts: the hub's safetensors totals (2B, 8B) and the loaded 4B checkpoint's count
QWEN3_PUBLISHED_PARAMETERS = {"2b": 2_127_532_032, "4b": 4_437_815_808, "8b": 8_767_123_696}
_QWEN3_SMALL_VISION = {"depth": 24, "hidden_size": 1024, "intermediate_size": 4096, "num_heads": 16,
                       "deepstack_visual_indexes": [5, 11, 17]}
QWEN3_VISION = {"2b": _QWEN3_SMALL_VISION, "4b": _QWEN3_SMALL_VISION,
                "8b": {"depth": 27, "hidden_size": 1152, "intermediate_size": 4304, "num_heads": 16,
                       "deepstack_visual_indexes": [8, 16, 24]}}
QWEN3_VISION_COMMON = {"in_channels": 3, "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
                       "num_position_embeddings": 2304, "hidden_act": "gelu_pytorch_tanh", "initializer_range": 0.02}
QWEN3_TEXT = {"hidden_act": "silu", "rms_norm_eps": 1e-6, "max_position_embeddings": 262144, "attention_bias": False,
              "attention_dropout": 0.0, "initializer_range": 0.02, "head_dim": 128,
              "rope_parameters": {"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [24, 20, 20],
                                  "mrope_interleaved": True}}
# Qwen's special-token ids in the published configs (both families)
QWEN_TOKEN_IDS = {"bos_token_id": 151643, "eos_token_id": 151645, "pad_token_id": None,
                  "vision_start_token_id": 151652, "vision_end_token_id": 151653, "image_token_id": 151655,
                  "video_token_id": 151656}
# the paper's pixel budget per frame (Time-R1: max 768 * 28 * 28); the frames stage decides the real sizes
PIXELS = {"min_pixels": 4 * 28 * 28, "max_pixels": 768 * 28 * 28}
DEFAULT_TEXTS = [
    "Watch the video and find when this event happens. Think it through inside <think> </think> tags, marking the "
    "time ranges you consider inside <timestep> </timestep> tags. Then give the start and end of the event in "
    "seconds, with two decimals, as start to end inside <answer> </answer> tags, for example "
    "<answer>12.54 to 17.83</answer>.",
    "a person opens a door. the red square appears. someone walks into the room and sits down at a table.",
    "0 1 2 3 4 5 6 7 8 9 . , : ; ! ? the a an and of to in is was it on at by with from",
]


def qwen25_vl_config(size: str = "3b", *, layers: int | None = None, vision_depth: int | None = None,
                     width_divisor: int = 1, vocab_size: int | None = None, token_ids: dict | None = None):
    """The published Qwen2.5-VL configuration of `size`, optionally shrunk along the same code path.

    layers / vision_depth: fewer LLM layers / vision blocks (full-attention blocks stay every 8th, or the last);
    width_divisor: fewer attention heads of the same head size (so mrope [16, 24, 24] still fits), MLPs divided alike;
    vocab_size: smaller embedding (default the published one); token_ids: the special-token ids of the tokenizer.
    """
    from transformers import Qwen2_5_VLConfig

    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, not {size!r}")
    text = dict(SIZES[size])
    tie = text.pop("tie_word_embeddings")
    vision = dict(VISION)
    if width_divisor > 1:
        heads = max(1, text["num_attention_heads"] // width_divisor)
        kv = max(1, text["num_key_value_heads"] // width_divisor)
        while heads % kv:
            kv -= 1
        text.update(num_attention_heads=heads, num_key_value_heads=kv, hidden_size=heads * HEAD_DIM,
                    intermediate_size=max(8, text["intermediate_size"] // width_divisor))
        vheads = max(1, vision["num_heads"] // width_divisor)
        vision.update(num_heads=vheads, hidden_size=vheads * VISION_HEAD_DIM,
                      intermediate_size=max(8, vision["intermediate_size"] // width_divisor))
    if layers is not None:
        text["num_hidden_layers"] = layers
    if vision_depth is not None:
        vision["depth"] = vision_depth
        vision["fullatt_block_indexes"] = [i for i in range(vision_depth) if i % 8 == 7] or [vision_depth - 1]
    if vocab_size is not None:
        text["vocab_size"] = vocab_size
    ids = {**QWEN_TOKEN_IDS, **(token_ids or {})}
    vision["out_hidden_size"] = text["hidden_size"]
    special = {k: ids[k] for k in ("vision_start_token_id", "vision_end_token_id", "image_token_id", "video_token_id")}
    return Qwen2_5_VLConfig(
        text_config={**TEXT, **text, "bos_token_id": ids["bos_token_id"], "eos_token_id": ids["eos_token_id"],
                     "pad_token_id": ids["pad_token_id"], "tie_word_embeddings": tie},
        vision_config=vision, tie_word_embeddings=tie, **special,
    )


def qwen3_vl_config(size: str = "4b", *, layers: int | None = None, vision_depth: int | None = None,
                    width_divisor: int = 1, vocab_size: int | None = None, token_ids: dict | None = None):
    """The published Qwen3-VL configuration of `size`, optionally shrunk like qwen25_vl_config.

    width_divisor: fewer heads of the same head size (head_dim 128 is set apart from hidden_size, so mrope
    [24, 20, 20] still fits), hidden sizes and MLPs divided alike; vision_depth: the deepstack blocks move in
    proportion and stay distinct (every deepstack merger keeps feeding an LLM layer).
    """
    from transformers import Qwen3VLConfig

    if size not in QWEN3_SIZES:
        raise ValueError(f"size must be one of {sorted(QWEN3_SIZES)}, not {size!r}")
    text = dict(QWEN3_SIZES[size])
    tie = text.pop("tie_word_embeddings")
    vision = {**QWEN3_VISION_COMMON, **QWEN3_VISION[size]}
    if width_divisor > 1:
        heads = max(1, text["num_attention_heads"] // width_divisor)
        kv = max(1, text["num_key_value_heads"] // width_divisor)
        while heads % kv:
            kv -= 1
        text.update(num_attention_heads=heads, num_key_value_heads=kv,
                    hidden_size=max(8, text["hidden_size"] // width_divisor),
                    intermediate_size=max(8, text["intermediate_size"] // width_divisor))
        vheads = max(1, vision["num_heads"] // width_divisor)
        vision.update(num_heads=vheads, hidden_size=vheads * (vision["hidden_size"] // vision["num_heads"]),
                      intermediate_size=max(8, vision["intermediate_size"] // width_divisor))
    if layers is not None:
        text["num_hidden_layers"] = layers
    depth = vision_depth or vision["depth"]
    indexes = {i * depth // vision["depth"] for i in vision["deepstack_visual_indexes"]}  # as published at full depth
    vision.update(depth=depth, deepstack_visual_indexes=sorted(indexes))
    if vocab_size is not None:
        text["vocab_size"] = vocab_size
    ids = {**QWEN_TOKEN_IDS, **(token_ids or {})}
    vision["out_hidden_size"] = text["hidden_size"]
    special = {k: ids[k] for k in ("vision_start_token_id", "vision_end_token_id", "image_token_id", "video_token_id")}
    # a copy: the config keeps the very dict it is given
    rope = {**QWEN3_TEXT["rope_parameters"], "mrope_section": list(QWEN3_TEXT["rope_parameters"]["mrope_section"])}
    return Qwen3VLConfig(
        text_config={**QWEN3_TEXT, **text, "rope_parameters": rope, "bos_token_id": ids["bos_token_id"],
                     "eos_token_id": ids["eos_token_id"], "pad_token_id": ids["pad_token_id"],
                     "tie_word_embeddings": tie},
        vision_config=vision, tie_word_embeddings=tie, **special,
    )


FAMILIES = {"qwen2_5_vl": (qwen25_vl_config, SIZES, "3b"), "qwen3_vl": (qwen3_vl_config, QWEN3_SIZES, "4b")}
MODEL_CLASSES = {"qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration", "qwen3_vl": "Qwen3VLForConditionalGeneration"}


def family_config(family: str):
    """(config function, sizes, default size) of a model family."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, not {family!r}")
    return FAMILIES[family]


def instantiate(config, device: str = "meta", dtype: str = "bfloat16", attn_implementation: str | None = None,
                family: str | None = None):
    """The model of `config` with random weights, built directly on `device` (meta: shapes only, no memory).

    family: qwen2_5_vl or qwen3_vl; by default the config's own model_type."""
    import torch
    import transformers

    family = family or config.model_type
    if family != config.model_type or family not in MODEL_CLASSES:
        raise ValueError(f"a {config.model_type} config cannot build a {family} model")
    kwargs = {"dtype": getattr(torch, dtype)}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    with torch.device(device):
        return getattr(transformers, MODEL_CLASSES[family])._from_config(config, **kwargs)


def parameter_counts(model_or_config) -> dict[str, int]:
    """Parameters by part (shared tensors once); a config is instantiated on the meta device, allocating nothing."""
    model = model_or_config if hasattr(model_or_config, "named_parameters") else instantiate(model_or_config)
    counts = {"total": 0, "vision": 0, "merger": 0, "llm": 0, "embeddings": 0, "lm_head": 0}
    # Qwen3-VL's deepstack mergers count as vision, as fix_vit (training.freeze_vision_but_merger) freezes them
    for name, parameter in model.named_parameters():  # named_parameters skips tied duplicates
        n = parameter.numel()
        counts["total"] += n
        if ".visual." in f".{name}":
            counts["merger" if ".merger." in name else "vision"] += n
        else:
            counts["llm"] += n
            if "embed_tokens" in name:
                counts["embeddings"] += n
            elif "lm_head" in name:
                counts["lm_head"] += n
    return counts


def build_processor(texts: Iterable[str] | None = None, vocab_size: int = 1000, pixels: dict | None = None,
                    family: str = "qwen2_5_vl"):
    """A Qwen2.5-VL (or Qwen3-VL) processor with the pipeline's own tokenizer (timerft.tiny), trained on `texts`,
    with the family's published patch size (14 pixels; Qwen3-VL 16)."""
    from timerft.tiny import build_processor as processor_for
    from timerft.tiny import train_tokenizer

    family_config(family)
    tokenizer = train_tokenizer(list(texts or DEFAULT_TEXTS), vocab_size)
    pixels = pixels or PIXELS
    return processor_for(tokenizer, family, pixels["min_pixels"], pixels["max_pixels"],
                         patch_size=14 if family == "qwen2_5_vl" else 16)


def tokenizer_ids(tokenizer) -> dict[str, int]:
    from timerft.tiny import special_token_ids

    ids = special_token_ids(tokenizer)
    return {**ids, "bos_token_id": None, "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}


def build(size: str | None = None, *, family: str = "qwen2_5_vl", device: str = "cpu", dtype: str = "bfloat16",
          texts: Iterable[str] | None = None, tokenizer_vocab: int = 1000, pixels: dict | None = None,
          attn_implementation: str | None = None, seed: int = 0, **shrink):
    """(model, processor): a random-init model of `family` (qwen2_5_vl: 3b by default; qwen3_vl: 4b) and `size`
    (shrunk by `shrink`, see qwen25_vl_config / qwen3_vl_config) on `device`."""
    import torch

    make_config, _, default_size = family_config(family)
    processor = build_processor(texts, tokenizer_vocab, pixels, family)
    processor.tokenizer.padding_side = "left"
    config = make_config(size or default_size, token_ids=tokenizer_ids(processor.tokenizer), **shrink)
    if config.text_config.vocab_size < len(processor.tokenizer):
        raise ValueError(f"vocab_size {config.text_config.vocab_size} < tokenizer length {len(processor.tokenizer)}")
    torch.manual_seed(seed)
    model = instantiate(config, device, dtype, attn_implementation, family)
    model.generation_config.eos_token_id = processor.tokenizer.eos_token_id
    model.generation_config.pad_token_id = processor.tokenizer.pad_token_id
    model.generation_config.bos_token_id = None
    return model, processor


def build_arch(size: str | None, out_dir: str | Path, family: str = "qwen2_5_vl", **kwargs) -> Path:
    """Build and save the folder (model, tokenizer, processor) that `timerft.model.load_model` loads."""
    model, processor = build(size, family=family, **kwargs)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def overrides(profile: str | Path) -> list[str]:
    """A params profile (params/gpu_3b.yaml) as `dvc exp run` arguments: `-S key.path=value` per leaf, shell-quoted."""
    import shlex

    import yaml

    def leaves(node, prefix=""):
        for key, value in node.items():
            if isinstance(value, dict):
                yield from leaves(value, f"{prefix}{key}.")
            else:
                text = value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True).strip()
                yield f"{prefix}{key}={text.removesuffix(chr(10) + '...')}"

    data = yaml.safe_load(Path(profile).read_text(encoding="utf-8")) or {}
    return [part for leaf in leaves(data) for part in ("-S", shlex.quote(leaf))]


def main(argv: list[str] | None = None) -> None:
    import torch

    parser = argparse.ArgumentParser(
        description="Save a random-init Qwen2.5-VL-3B/7B or Qwen3-VL-2B/4B/8B (published configuration) as an HF "
                    "folder; point params.yaml's model.name at it (see params/gpu_3b.yaml).")
    parser.add_argument("--family", choices=sorted(FAMILIES), default="qwen2_5_vl")
    parser.add_argument("--size", choices=sorted({*SIZES, *QWEN3_SIZES}), default=None,
                        help="3b or 7b (qwen2_5_vl, default 3b); 2b, 4b or 8b (qwen3_vl, default 4b)")
    parser.add_argument("--out", help="folder to write (bf16: about 7.5 GB for 3b, 16.6 GB for 7b; 4.3, 8.9 and "
                                      "17.5 GB for Qwen3-VL 2b, 4b and 8b)")
    parser.add_argument("--print-overrides", metavar="PROFILE",
                        help="print a params profile as `dvc exp run` -S arguments and exit: "
                             "eval dvc exp run $(python -m timerft.arch --print-overrides params/gpu_3b.yaml)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="where to initialise (cuda is much faster)")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--layers", type=int, default=None, help="shrink: LLM layers")
    parser.add_argument("--vision-depth", type=int, default=None, help="shrink: vision blocks")
    parser.add_argument("--width-divisor", type=int, default=1, help="shrink: divide heads and MLP widths")
    parser.add_argument("--vocab-size", type=int, default=None,
                        help="shrink: the embedding's rows (default the published 151936; at least the tokenizer's)")
    parser.add_argument("--texts", default=None, help="a text file (one text a line) to train the tokenizer on")
    args = parser.parse_args(argv)
    if args.print_overrides:
        print(" ".join(overrides(args.print_overrides)))
        return
    if not args.out:
        parser.error("--out is required to build a model")
    _, sizes, default_size = family_config(args.family)
    size = args.size or default_size
    if size not in sizes:
        parser.error(f"--size {size} is not a {args.family} size: {', '.join(sorted(sizes))}")
    texts = Path(args.texts).read_text(encoding="utf-8").splitlines() if args.texts else None
    out = build_arch(size, args.out, family=args.family, device=args.device, dtype=args.dtype, texts=texts,
                     layers=args.layers, vision_depth=args.vision_depth, width_divisor=args.width_divisor,
                     vocab_size=args.vocab_size)
    name = {"qwen2_5_vl": "Qwen2.5-VL", "qwen3_vl": "Qwen3-VL"}[args.family]
    print(f"saved a random-init {name}-{size.upper()} in {out}")


if __name__ == "__main__":
    main()
