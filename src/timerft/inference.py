"""Batched generation: samples in, predictions (raw text and parsed span) out."""

from __future__ import annotations

import json
from pathlib import Path

from timerft.grounding import parse_span
from timerft.model import SampleStore, encode
from timerft.params import Inference, Prompts


def asking(cot: bool, prompts: Prompts, inference: Inference) -> dict:
    """The prompt template and token budget of one mode (params `prompts` and `inference`): CoT replies reason first,
    so they get `max_new_tokens_cot`."""
    if cot:
        return {"template": prompts.cot, "max_new_tokens": inference.max_new_tokens_cot}
    return {"template": prompts.no_cot, "max_new_tokens": inference.max_new_tokens}


def generate(model, processor, samples: list, template: str, max_new_tokens: int, do_sample: bool = False,
             temperature: float = 1.0, num_return_sequences: int = 1) -> list[str]:
    import torch

    batch = encode(processor, samples, template).to(model.device)
    with torch.inference_mode():
        output = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=do_sample,
                                temperature=temperature if do_sample else None, top_p=None, top_k=None,
                                num_return_sequences=num_return_sequences)
    return processor.batch_decode(output[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)


def predict(model, processor, store: SampleStore, template: str, batch_size: int, max_new_tokens: int,
            difficulty_fallback: bool = False, desc: str = "predict") -> list[dict]:
    """Greedy predictions for every sample: qid, text, start, end (null when unparseable)."""
    from tqdm import tqdm

    rows = []
    for first in tqdm(range(0, len(store), batch_size), desc=desc, unit="batch"):
        samples = [store[i] for i in range(first, min(first + batch_size, len(store)))]
        for sample, text in zip(samples, generate(model, processor, samples, template, max_new_tokens)):
            span = parse_span(text, difficulty_fallback)
            rows.append({"qid": sample.qid, "text": text, "start": span[0] if span else None,
                         "end": span[1] if span else None})
    return rows


def write_jsonl(rows: list[dict], path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
