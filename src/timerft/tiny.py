"""The embedded `tiny` model: a small Qwen3-VL or Qwen2.5-VL (the transformers classes, random init) with a tokenizer
trained here, saved as an ordinary HF folder that `from_pretrained` loads alone.

The tokenizer is byte-level BPE (any text encodes) with Qwen's special tokens for chat and vision,
and digits split one per token so that times are learnable digit by digit.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from timerft.params import Tiny

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>"]
# Qwen2.5-VL's chat layout (video before text in the user turn), reduced to what the pipeline sends.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif item['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   chat_template=CHAT_TEMPLATE, padding_side="left")


def special_token_ids(tokenizer) -> dict[str, int]:
    """The vision placeholders' ids, as Qwen's model configs name them."""
    names = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    return dict(zip(["vision_start_token_id", "vision_end_token_id", "image_token_id", "video_token_id"],
                    tokenizer.convert_tokens_to_ids(names)))


def build_processor(tokenizer, family: str, min_pixels: int, max_pixels: int, patch_size: int):
    """Qwen2.5-VL's or Qwen3-VL's processor around the pipeline's own tokenizer. The frames stage sizes every
    frame already, so the video processors cap nothing per frame (Qwen3-VL's budget is per video: max_pixels for
    each of up to its max_frames frames)."""
    import transformers
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    pixels = {"min_pixels": min_pixels, "max_pixels": max_pixels}
    image = transformers.Qwen2VLImageProcessor(patch_size=patch_size, **pixels)
    if family == "qwen2_5_vl":
        video = transformers.Qwen2VLVideoProcessor(patch_size=patch_size, cap_pixels_per_frame=False, **pixels)
        return transformers.Qwen2_5_VLProcessor(image_processor=image, video_processor=video, tokenizer=tokenizer,
                                                chat_template=CHAT_TEMPLATE)
    video = Qwen3VLVideoProcessor(patch_size=patch_size, cap_pixels_per_frame=False, size={
        "shortest_edge": min_pixels, "longest_edge": max_pixels * Qwen3VLVideoProcessor.max_frames})
    return transformers.Qwen3VLProcessor(image_processor=image, video_processor=video, tokenizer=tokenizer,
                                         chat_template=CHAT_TEMPLATE)


def build_tiny(spec: Tiny, texts: Iterable[str], out_dir: str | Path, seed: int = 0) -> Path:
    """Build and save the tiny model, tokenizer and processor; `spec` is params.yaml's model.tiny.

    `spec.arch`: `qwen2_5_vl` (time as mrope positions) or `qwen3_vl` (Qwen3-VL's processor also writes each
    frame group's time as text, `<12.3 seconds>`, before its tokens). Both use 14-pixel patches, so the frames
    stage's 28-pixel multiples pass unresized."""
    import torch
    import transformers

    arch = spec.arch
    if arch not in ("qwen2_5_vl", "qwen3_vl"):
        raise ValueError(f"model.tiny.arch is {arch!r}; use qwen2_5_vl or qwen3_vl")
    tokenizer = train_tokenizer(texts, spec.vocab_size)
    special = special_token_ids(tokenizer)
    text, vision = dict(spec.text), dict(spec.vision)
    rope_theta = float(text.pop("rope_theta", 10000.0))
    head_dim = text["hidden_size"] // text["num_attention_heads"]
    # Qwen's mrope split (16, 24, 24) of 64 rotary pairs, scaled to this head size
    time_pairs = head_dim // 2 // 4
    height_pairs = (head_dim // 2 - time_pairs) // 2
    mrope = [time_pairs, height_pairs, head_dim // 2 - time_pairs - height_pairs]
    rope = {"rope_type": "default", "rope_theta": rope_theta, "mrope_section": mrope}
    text_config = {**text, "vocab_size": len(tokenizer), "max_position_embeddings": 8192, "bos_token_id": None,
                   "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    # 14-pixel patches in both families: the frames stage's 28-pixel multiples pass unresized
    processor = build_processor(tokenizer, arch, spec.min_pixels, spec.max_pixels, patch_size=14)
    if arch == "qwen2_5_vl":
        model_class = transformers.Qwen2_5_VLForConditionalGeneration
        config = transformers.Qwen2_5_VLConfig(
            text_config={**text_config, "rope_parameters": rope},
            vision_config={**vision, "out_hidden_size": text["hidden_size"],
                           "tokens_per_second": spec.tokens_per_second,
                           "fullatt_block_indexes": [vision["depth"] - 1]},
            tie_word_embeddings=True, **special)
    else:
        model_class = transformers.Qwen3VLForConditionalGeneration
        config = transformers.Qwen3VLConfig(
            text_config={**text_config, "head_dim": head_dim, "rope_parameters": {**rope, "mrope_interleaved": True}},
            vision_config={**vision, "out_hidden_size": text["hidden_size"], "patch_size": 14,
                           "num_position_embeddings": vision.get("num_position_embeddings", 256),
                           "deepstack_visual_indexes": []},
            tie_word_embeddings=True, **special)
    torch.manual_seed(seed)
    model = model_class(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir
