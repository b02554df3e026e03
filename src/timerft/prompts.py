"""Prompts and target texts. Templates come from params.yaml (`prompts`), so a published checkpoint can be
evaluated with its own prompt; `{query}` is replaced by the event sentence."""

from __future__ import annotations

import json


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


def synthetic_cot(meta: str | None) -> str | None:
    """A reasoning trace written from SynthTVG's ground truth: every event seen, in time order, with its span.

    The answer then names the event the query asks for, so the trace teaches looking before answering.
    None when the row is not synthetic (real runs name a CoT jsonl instead).
    """
    try:
        scene = json.loads(meta)["scene"]
    except (TypeError, ValueError, KeyError):
        return None
    seen = []
    for event in sorted(scene["events"], key=lambda e: e["start"]):
        obj = event.get("obj") or {}
        what = _event_sentence(event["kind"], obj, event.get("color2"), event.get("direction"))
        seen.append(f"<timestep>{answer_text(event['start'], event['end'])}</timestep> {what}.")
    return " ".join(seen)


def _event_sentence(kind: str, obj: dict, color2: str | None, direction: str | None) -> str:
    from timerft.synth import EVENT_KINDS

    return EVENT_KINDS[kind][1].format(color=obj.get("color"), shape=obj.get("shape"), color2=color2,
                                       direction=direction)
