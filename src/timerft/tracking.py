"""wandb set-up from params.yaml `tracking`: offline by default (runs land in ./wandb for `wandb sync`),
online when the user is logged in and asks for it, disabled in tests."""

from __future__ import annotations

import os

from timerft.params import Tracking

MODES = ("offline", "online", "disabled")


def report_to(run_name: str, tracking: Tracking) -> str:
    """What to pass as TrainingArguments.report_to, after pointing wandb at the right mode and project."""
    mode = os.environ.get("WANDB_MODE") or tracking.wandb  # the environment wins, as wandb's own convention
    if mode not in MODES:
        raise ValueError(f"tracking.wandb is {mode!r}; use one of {MODES}")
    if mode == "disabled":
        return "none"
    os.environ["WANDB_MODE"] = mode
    os.environ.setdefault("WANDB_PROJECT", tracking.project)
    os.environ.setdefault("WANDB_NAME", run_name)
    os.environ.setdefault("WANDB_SILENT", "true")
    return "wandb"
