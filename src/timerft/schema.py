"""The canonical annotation table every stage reads and writes.

One row is one (video, query, span) sample. Times are seconds; when the video is a clip of a longer
source, `clip_start`/`clip_end` locate the clip in the source and `start`/`end`/`duration` are
clip-relative. `meta` holds the original record as JSON so nothing read is ever thrown away.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pandas as pd

REQUIRED_COLUMNS = ["qid", "video", "duration", "start", "end", "query", "source", "split"]
OPTIONAL_COLUMNS = ["category", "clip_start", "clip_end", "meta"]
CANONICAL_COLUMNS = [
    "qid", "video", "duration", "start", "end", "query",
    "source", "category", "clip_start", "clip_end", "split", "meta",
]
FLOAT_COLUMNS = ["duration", "start", "end", "clip_start", "clip_end"]
STRING_COLUMNS = ["qid", "video", "query", "source", "category", "split", "meta"]


def as_float(value: Any) -> float | None:
    """A finite float, or None for anything else (None, text that is no number, inf, nan, bools)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def as_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def content_qid(prefix: str, *parts: Any) -> str:
    """A qid that depends only on the sample's content, so it is stable across runs and file orderings."""
    digest = hashlib.sha1(json.dumps(parts, default=str).encode()).hexdigest()[:16]
    return f"{prefix}|{digest}"


def to_json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)


def canonical_frame(rows: list[dict]) -> pd.DataFrame:
    """Build the canonical table from reader rows, coercing types; a value of the wrong type becomes null."""
    frame = pd.DataFrame.from_records(rows, columns=CANONICAL_COLUMNS)
    for column in FLOAT_COLUMNS:
        frame[column] = pd.Series([as_float(v) for v in frame[column]], dtype="float64")
    for column in STRING_COLUMNS:
        frame[column] = pd.Series([as_text(v) for v in frame[column]], dtype="object")
    return frame.reset_index(drop=True)
