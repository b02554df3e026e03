"""The embedded `tiny` model: a small Qwen2.5-VL (the transformers classes, random init) with a tokenizer
trained here, saved as an ordinary HF folder that `from_pretrained` loads alone.

The tokenizer is byte-level BPE (any text encodes) with Qwen's special tokens for chat and vision,
and digits split one per token so that times are learnable digit by digit.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

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


def build_tiny(spec: dict, texts: Iterable[str], out_dir: str | Path, seed: int = 0) -> Path:
    """Build and save the tiny model, tokenizer and processor; `spec` is params.yaml's model.tiny."""
    import torch
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
                              Qwen2VLImageProcessor, Qwen2VLVideoProcessor)

    tokenizer = train_tokenizer(texts, spec["vocab_size"])
    pixels = {"min_pixels": spec["min_pixels"], "max_pixels": spec["max_pixels"]}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**pixels), video_processor=Qwen2VLVideoProcessor(**pixels),
        tokenizer=tokenizer, chat_template=CHAT_TEMPLATE,
    )
    special = dict(zip(["image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"],
                       tokenizer.convert_tokens_to_ids(["<|image_pad|>", "<|video_pad|>", "<|vision_start|>",
                                                        "<|vision_end|>"])))
    text, vision = dict(spec["text"]), spec["vision"]
    rope_theta = float(text.pop("rope_theta", 10000.0))
    head_dim = text["hidden_size"] // text["num_attention_heads"]
    # Qwen's mrope split (16, 24, 24) of 64 rotary pairs, scaled to this head size
    time_pairs = head_dim // 2 // 4
    mrope = [time_pairs, (head_dim // 2 - time_pairs) // 2, head_dim // 2 - time_pairs - (head_dim // 2 - time_pairs) // 2]
    config = Qwen2_5_VLConfig(
        text_config={**text, "vocab_size": len(tokenizer), "max_position_embeddings": 8192,
                     "rope_parameters": {"rope_type": "default", "rope_theta": rope_theta, "mrope_section": mrope},
                     "bos_token_id": None, "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id},
        vision_config={**vision, "out_hidden_size": text["hidden_size"], "fullatt_block_indexes": [vision["depth"] - 1],
                       "tokens_per_second": spec["tokens_per_second"]},
        tie_word_embeddings=True, **special,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir
