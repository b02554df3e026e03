"""Prompts and target texts. Templates come from params.yaml (`prompts`), so a published checkpoint can be
evaluated with its own prompt; `{query}` is replaced by the event sentence."""

from __future__ import annotations


def clean_query(query: str) -> str:
    """The sentence as the reference prompt quotes it: lower case, no trailing period, single spaces."""
    return " ".join(query.split()).lower().rstrip(".").strip()


def messages(query: str, template: str) -> list[dict]:
    """One user turn: the video first (as Qwen2.5-VL expects), then the instruction."""
    return [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": template.format(query=clean_query(query))}]}]


def answer_text(start: float, end: float) -> str:
    return f"{start:.2f} to {end:.2f}"


def target_text(start: float, end: float, reasoning: str | None = None) -> str:
    """The assistant reply: reasoning in think tags (empty for the no-CoT mode), then the answer."""
    return f"<think>{reasoning or ''}</think><answer>{answer_text(start, end)}</answer>"
