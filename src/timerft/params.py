"""params.yaml access for stage scripts: every knob lives there, grouped by stage."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

# YAML 1.1, which PyYAML reads, wants a dot in a float: `3e-5` (as `dvc exp run -S rl.grpo.learning_rate=3e-5`
# writes it) would load as the string "3e-5" and fail deep inside the optimizer.
EXPONENT_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")


def _numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers(item) for item in value]
    if isinstance(value, str) and EXPONENT_FLOAT.fullmatch(value.strip()):
        return float(value)
    return value


def load_params(section: str, path: str | Path = "params.yaml") -> dict[str, Any]:
    with Path(path).open(encoding="utf-8") as handle:
        params = yaml.safe_load(handle) or {}
    if section not in params:
        raise KeyError(f"{path} has no `{section}` section")
    return _numbers(params[section])
