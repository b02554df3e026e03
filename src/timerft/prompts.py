"""Prompts and target texts. Templates come from params.yaml (`prompts`), so a published checkpoint can be
evaluated with its own prompt; `{query}` is replaced by the event sentence."""

from __future__ import annotations

import json


def clean_query(query: str) -> str:
    """The sentence as the reference prompt quotes it: lower case, no trailing period, single spaces."""
    return " ".join(query.split()).lower().rstrip(".").strip()


def messages(query: str, template: str) -> list[dict]:
    """One user turn: the video first (as Qwen2.5-VL expects), then the instruction."""
    text = template.format(query=clean_query(query))
    return [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": text}]}]


def answer_text(start: float, end: float) -> str:
    return f"{start:.2f} to {end:.2f}"


def target_text(start: float, end: float, reasoning: str | None = None) -> str:
    """The assistant reply: reasoning in think tags (empty for the no-CoT mode), then the answer."""
    return f"<think>{reasoning or ''}</think><answer>{answer_text(start, end)}</answer>"


def synthetic_cot(meta: str | None, scope: str = "query", span=None) -> str | None:
    """A reasoning trace written from SynthTVG's ground truth: what is seen when, as <timestep> spans.

    scope `query`: the queried event alone, so the trace says where the event is seen before the answer
    repeats it; scope `scene`: every event of the video in time order, and the answer then picks the one asked
    for (a longer trace, which the tiny model copies without reading the video: see params.yaml `sft`).
    `span` maps an event's (start, end) to the times the trace writes (default: as annotated).
    None when the row is not synthetic (real runs name a CoT jsonl instead).
    """
    try:
        info = json.loads(meta)
        events = info["scene"]["events"]
        if scope == "query":
            events = [events[info["event"]]]
    except (TypeError, ValueError, KeyError, IndexError):
        return None
    seen = []
    for event in sorted(events, key=lambda e: e["start"]):
        obj = event.get("obj") or {}
        what = _event_sentence(event["kind"], obj, event.get("color2"), event.get("direction"))
        start, end = span(event["start"], event["end"]) if span else (event["start"], event["end"])
        seen.append(f"<timestep>{answer_text(start, end)}</timestep> {what}.")
    return " ".join(seen)


def _event_sentence(kind: str, obj: dict, color2: str | None, direction: str | None) -> str:
    from timerft.synth import EVENT_KINDS

    return EVENT_KINDS[kind][1].format(color=obj.get("color"), shape=obj.get("shape"), color2=color2,
                                       direction=direction)
