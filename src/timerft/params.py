"""params.yaml access for stage scripts: every knob lives there, grouped by stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def load_params(section: str, path: str | Path = "params.yaml") -> dict[str, Any]:
    with Path(path).open(encoding="utf-8") as handle:
        params = yaml.safe_load(handle) or {}
    if section not in params:
        raise KeyError(f"{path} has no `{section}` section")
    return params[section]
