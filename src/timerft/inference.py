"""Batched generation: samples in, predictions (raw text and parsed span) out."""

from __future__ import annotations

import json
from pathlib import Path

from timerft.grounding import parse_span
from timerft.model import encode
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


def chunks(length: int, batch_size: int) -> list[tuple[int, int]]:
    """The [first, last) index ranges `predict` generates together: every backend batches exactly so, so padding, and
    so every greedy answer, is the same whichever runs them."""
    return [(first, min(first + batch_size, length)) for first in range(0, length, batch_size)]


def predict_chunk(model, processor, store, first: int, last: int, template: str, max_new_tokens: int,
                  difficulty_fallback: bool = False) -> list[dict]:
    """Greedy rows for samples first..last-1 of `store`, in order. A sample that cannot be read (its frames are missing
    or broken) gets a row with no text and its `error`, instead of stopping the run; the others are generated."""
    samples, rows = [], []
    for i in range(first, last):
        try:
            samples.append(store[i])
            rows.append(None)
        except Exception as error:  # any reader error: reported on its row
            table = getattr(store, "table", None)
            qid = str(table["qid"].iloc[i]) if table is not None else str(i)
            rows.append({"qid": qid, "text": None, "start": None, "end": None,
                         "error": f"{type(error).__name__}: {error}"})
    texts = iter(generate(model, processor, samples, template, max_new_tokens) if samples else [])
    read = iter(samples)
    for position, row in enumerate(rows):
        if row is None:
            sample, text = next(read), next(texts)
            span = parse_span(text, difficulty_fallback)
            rows[position] = {"qid": sample.qid, "text": text, "start": span[0] if span else None,
                              "end": span[1] if span else None}
    return rows


def report_failures(rows: list[dict], desc: str) -> None:
    """Rows whose sample could not be read, on stderr: counted as unparseable by the metrics, named here."""
    import sys

    failed = [row for row in rows if row.get("error")]
    if failed:
        named = "; ".join(f"{row['qid']} ({row['error']})" for row in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        print(f"{desc}: {len(failed)} of {len(rows)} samples could not be read, so have no answer: {named}{more}",
              file=sys.stderr)


def predict(model, processor, store, template: str, batch_size: int, max_new_tokens: int,
            difficulty_fallback: bool = False, desc: str = "predict") -> list[dict]:
    """Greedy predictions for every sample, in order: qid, text, start, end (null when unparseable); a sample that
    cannot be read gets a row with its `error` (predict_chunk)."""
    from tqdm import tqdm

    rows = []
    for first, last in tqdm(chunks(len(store), batch_size), desc=desc, unit="batch"):
        rows += predict_chunk(model, processor, store, first, last, template, max_new_tokens, difficulty_fallback)
    report_failures(rows, desc)
    return rows


def write_jsonl(rows: list[dict], path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
