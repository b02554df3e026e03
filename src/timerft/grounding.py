"""Temporal grounding arithmetic (docs/method.md): answer parsing, IoU, tIoU, and the R1@m / mIoU metrics."""

from __future__ import annotations

import re
from collections.abc import Iterable

NUMBER = r"(\d+(?:\.\d+)?)"
SPAN = re.compile(NUMBER + r"\s*(?:to|and)\s*" + NUMBER)
ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
ANY_NUMBER = re.compile(NUMBER)
THRESHOLDS = (0.3, 0.5, 0.7)


def parse_span(text: str, difficulty_fallback: bool = False) -> tuple[float, float] | None:
    """The predicted (start, end) in seconds, or None when there is no answer to read.

    The last <answer> block's last "X to Y" (or "X and Y") pair; else the last such pair anywhere; for
    difficulty scoring only, else the first two numbers anywhere. Reversed pairs stay reversed: IoU scores them 0.
    """
    if not isinstance(text, str):
        return None
    blocks = ANSWER_BLOCK.findall(text)
    for haystack in ([blocks[-1]] if blocks else []) + [text]:
        pairs = SPAN.findall(haystack)
        if pairs:
            return float(pairs[-1][0]), float(pairs[-1][1])
    if difficulty_fallback:
        numbers = ANY_NUMBER.findall(text)
        if len(numbers) >= 2:
            return float(numbers[0]), float(numbers[1])
    return None


def iou(pred: tuple[float, float] | None, gt: tuple[float, float]) -> float:
    """Temporal IoU; 0 for no prediction, a reversed span, or an empty union (the reference code divides by 0)."""
    if pred is None:
        return 0.0
    (ps, pe), (gs, ge) = pred, gt
    if pe < ps:
        return 0.0
    inter = max(0.0, min(pe, ge) - max(ps, gs))
    union = max(pe, ge) - min(ps, gs)
    return inter / union if union > 0 else 0.0


def tiou(pred: tuple[float, float] | None, gt: tuple[float, float], duration: float) -> float:
    """Time-R1's r_tIoU: IoU scaled down by how far each boundary is off, relative to the video's duration."""
    if pred is None or duration <= 0:
        return 0.0
    (ps, pe), (gs, ge) = pred, gt
    start_penalty = max(0.0, 1 - abs(gs - ps) / duration)
    end_penalty = max(0.0, 1 - abs(ge - pe) / duration)
    return iou(pred, gt) * start_penalty * end_penalty


def summarize(ious: Iterable[float], unparseable: int = 0) -> dict:
    """R1@{0.3,0.5,0.7} (% with IoU strictly above m), mIoU (x100), count and unparseable count."""
    values = [float(v) for v in ious]
    count = len(values)
    result = {f"R1@{m}": round(100 * sum(v > m for v in values) / count, 2) if count else 0.0 for m in THRESHOLDS}
    result["mIoU"] = round(100 * sum(values) / count, 2) if count else 0.0
    result["count"] = count
    result["unparseable"] = unparseable
    return result


def visible_span(timestamps, start: float, end: float) -> tuple[float, float]:
    """A span as the sampled frames show it: the prompt's time (one decimal) of the first frame group (2 frames)
    holding a frame inside [start, end), and of the group after its last (the last group itself at the video's
    end); the group nearest the span's middle when no sampled frame falls inside. A function of what the model is
    shown alone: the tiny base is pretrained to answer it, and `sft.cot_times: frames` writes it."""
    centres = [(timestamps[i] + timestamps[i + 1]) / 2 for i in range(0, len(timestamps) - 1, 2)]
    shows = [g for g in range(len(centres)) if any(start <= t < end for t in timestamps[2 * g: 2 * g + 2])]
    if not shows:
        middle = (start + end) / 2
        shows = [min(range(len(centres)), key=lambda g: abs(centres[g] - middle))]
    after = min(shows[-1] + 1, len(centres) - 1)
    return round(float(centres[shows[0]]), 1), round(float(centres[after]), 1)
