"""GRPO rewards (docs/method.md), as a registry: each takes the completions and their samples, returns one float each.

Weights live in params.yaml (`rl.rewards`); Time-R1 sums tIoU and format unweighted.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from timerft.grounding import iou, parse_span, tiou

FORMAT = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)


def iou_reward(completions: list[str], samples: list) -> list[float]:
    return [iou(parse_span(text), (s.start, s.end)) for text, s in zip(completions, samples)]


def tiou_reward(completions: list[str], samples: list) -> list[float]:
    return [tiou(parse_span(text), (s.start, s.end), s.duration) for text, s in zip(completions, samples)]


def format_reward(completions: list[str], samples: list) -> list[float]:
    """1 when the whole stripped reply is think-then-answer, else 0."""
    return [1.0 if FORMAT.fullmatch(text.strip()) else 0.0 for text in completions]


REWARDS: dict[str, Callable[[list[str], list], list[float]]] = {
    "iou": iou_reward, "tiou": tiou_reward, "format": format_reward,
}


def score(completions: list[str], samples: list, weights: dict[str, float]) -> dict[str, list[float]]:
    """Each weighted reward's values and their sum under `total`."""
    unknown = set(weights) - set(REWARDS)
    if unknown:
        raise ValueError(f"unknown rewards {sorted(unknown)}; choose from {sorted(REWARDS)}")
    values = {name: REWARDS[name](completions, samples) for name in weights}
    values["total"] = weighted_sum(values, weights)
    return values


def weighted_sum(values: dict[str, list[float]], weights: dict[str, float]) -> list[float]:
    """Per completion, the sum of each weighted reward's value."""
    count = len(next(iter(values.values())))
    return [sum(weights[name] * values[name][i] for name in weights) for i in range(count)]
