"""Readers: every annotation format met in the wild -> the canonical table (schema.py).

A reader never drops a record. A record it cannot make sense of still becomes a row, with the
reason in `issues`, so the quality gate can quarantine it and the accounting stays exact.
Input it cannot read at all (missing, binary, not JSON, wrong shape) raises AnnotationReadError.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from timerft.schema import CANONICAL_COLUMNS, REQUIRED_COLUMNS, as_float, canonical_frame, content_qid, to_json

FORMATS = ("timerft", "tvgbench", "charades", "activitynet", "canonical")
FORMAT_HELP = (
    "timerft (TimeRFT json list: video, duration, timestamp, sentence, qid), "
    "tvgbench (json list: path, question, answer 's-e', duration, qsemtype), "
    "charades (Charades-STA txt: 'VID START END##sentence'), "
    "activitynet (ActivityNet Captions json: {video_id: {duration, timestamps, sentences}}), "
    "canonical (timerft's own parquet or json list)"
)
DEFAULT_SPLIT = {"tvgbench": "test"}  # every other format defaults to "train"
CHARADES_LINE = re.compile(r"^(\S+)\s+(\S+)\s+(\S+?)\s*##(.*)$")
TVGBENCH_ANSWER = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*-\s*(\d+(?:\.\d*)?)\s*$")


class AnnotationReadError(Exception):
    """The input cannot be read at all; the message says what is wrong and what would work."""


def read_annotations(
    path: str | Path,
    fmt: str = "auto",
    split: str | None = None,
    durations_csv: str | Path | None = None,
    video_root: str | Path | None = None,
) -> pd.DataFrame:
    """Read one annotation file into the canonical table, plus an `issues` column (list of reasons)."""
    path = Path(path)
    if fmt not in ("auto", *FORMATS):
        raise AnnotationReadError(f"unknown format {fmt!r}; use auto or one of: {', '.join(FORMATS)}")
    if not path.is_file():
        raise AnnotationReadError(f"{path}: no such file")
    if path.suffix == ".parquet":
        if fmt not in ("auto", "canonical"):
            raise AnnotationReadError(f"{path}: a parquet file can only be read as the canonical format")
        return _finish(_read_canonical_parquet(path), split or "train")
    payload = _load_text_or_json(path)
    if fmt == "auto":
        fmt = detect_format(payload, path)
    durations = read_durations(durations_csv) if durations_csv else {}
    reader: Callable[..., list[dict]] = {
        "timerft": _timerft_rows,
        "tvgbench": _tvgbench_rows,
        "charades": lambda p: _charades_rows(p, durations, video_root),
        "activitynet": _activitynet_rows,
        "canonical": _canonical_rows,
    }[fmt]
    try:
        rows = reader(payload)
    except _WrongShape as error:
        raise AnnotationReadError(f"{path}: not in the {fmt} format: {error}. Formats: {FORMAT_HELP}") from None
    return _finish(rows, split or DEFAULT_SPLIT.get(fmt, "train"))


def detect_format(payload: Any, path: Path) -> str:
    if isinstance(payload, str):
        lines = [line for line in payload.splitlines() if line.strip()]
        if lines and CHARADES_LINE.match(lines[0]):
            return "charades"
    elif isinstance(payload, list):
        first = next((record for record in payload if isinstance(record, dict)), None)
        keys = set(first or ())
        if {"timestamp", "sentence"} <= keys:
            return "timerft"
        if {"answer", "question"} <= keys:
            return "tvgbench"
        if {"video", "start", "end", "query"} <= keys:
            return "canonical"
    elif isinstance(payload, dict):
        first = next(iter(payload.values()), None)
        if isinstance(first, dict) and {"timestamps", "sentences"} & set(first):
            return "activitynet"
    raise AnnotationReadError(
        f"{path}: cannot tell the annotation format; pass --format. Formats: {FORMAT_HELP}"
    )


def read_durations(path: str | Path) -> dict[str, float]:
    """Video durations from a Charades-style csv (columns `id` and `length`)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not {"id", "length"} <= set(reader.fieldnames or ()):
                raise AnnotationReadError(f"{path}: a durations csv needs columns 'id' and 'length'")
            return {row["id"]: value for row in reader if (value := as_float(row["length"])) is not None}
    except (OSError, UnicodeDecodeError) as error:
        raise AnnotationReadError(f"{path}: cannot read the durations csv ({error})") from None


class _WrongShape(ValueError):
    pass


def _load_text_or_json(path: Path) -> Any:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise AnnotationReadError(f"{path}: binary file, not an annotation file. Formats: {FORMAT_HELP}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AnnotationReadError(f"{path}: not UTF-8 text. Formats: {FORMAT_HELP}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if path.suffix.lower() == ".json":
            raise AnnotationReadError(f"{path}: not valid JSON ({error})") from None
        return text


def _clean_path(value: Any) -> Any:
    """'./a/b.mp4' and 'a//b.mp4' name the same file as 'a/b.mp4'."""
    if not isinstance(value, str) or not value.strip():
        return value
    return Path(value.strip()).as_posix().removeprefix("./")


def _not_object(record: Any, prefix: str, index: int) -> dict:
    return {"qid": content_qid(prefix, index, record), "meta": to_json(record), "issues": ["record_not_object"]}


def _pair(value: Any) -> tuple[Any, Any] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return value[0], value[1]
    return None


def _timerft_rows(records: Any) -> list[dict]:
    if not isinstance(records, list):
        raise _WrongShape("expected a JSON list of records")
    rows = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            rows.append(_not_object(record, "timerft", index))
            continue
        issues = []
        span = _pair(record.get("timestamp"))
        if span is None:
            issues.append("unparseable_timestamp")
        qid = record.get("qid")
        if not isinstance(qid, str) or not qid.strip():
            qid = content_qid("timerft", record.get("video"), record.get("timestamp"), record.get("sentence"))
        parts = qid.split("|")
        rows.append({
            "qid": qid,
            "video": _clean_path(record.get("video")),
            "duration": record.get("duration"),
            "start": span[0] if span else None,
            "end": span[1] if span else None,
            "query": record.get("sentence"),
            "source": parts[1] if len(parts) > 2 and parts[1] else "timerft",
            "clip_start": record.get("video_start"),
            "clip_end": record.get("video_end"),
            "meta": to_json(record),
            "issues": issues,
        })
    return rows


def _tvgbench_rows(records: Any) -> list[dict]:
    if not isinstance(records, list):
        raise _WrongShape("expected a JSON list of records")
    rows = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            rows.append(_not_object(record, "tvgbench", index))
            continue
        answer = record.get("answer")
        match = TVGBENCH_ANSWER.match(answer) if isinstance(answer, str) else None
        bins = record.get("bins") if isinstance(record.get("bins"), dict) else {}
        source = bins.get("dataset") or record.get("dataset_name")
        rows.append({
            "qid": content_qid("tvgbench", record.get("path"), record.get("question"), answer),
            "video": _clean_path(record.get("path")),
            "duration": record.get("duration"),
            "start": match[1] if match else None,
            "end": match[2] if match else None,
            "query": record.get("question"),
            "source": source if isinstance(source, str) and source else "tvgbench",
            "category": record.get("qsemtype"),
            # TVGBench's own start/end locate the clip in its source video; the answer is clip-relative.
            "clip_start": record.get("start"),
            "clip_end": record.get("end"),
            "meta": to_json(record),
            "issues": [] if match else ["unparseable_answer"],
        })
    return rows


def _charades_rows(text: Any, durations: dict[str, float], video_root: str | Path | None) -> list[dict]:
    if not isinstance(text, str):
        raise _WrongShape("expected text lines 'VIDEO_ID START END##sentence'")
    from timerft.video import probe_duration  # av is only needed when durations must be probed

    rows = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        meta = to_json({"line": line, "line_no": line_no})
        match = CHARADES_LINE.match(line.strip())
        if not match:
            rows.append({"qid": content_qid("charades", line), "meta": meta, "issues": ["unparseable_line"]})
            continue
        video_id, start, end, sentence = match.groups()
        video = f"{video_id}.mp4"
        duration = durations.get(video_id)
        if duration is None and video_root is not None:
            duration = probe_duration(Path(video_root) / video)
        rows.append({
            "qid": content_qid("charades", video_id, start, end, sentence),
            "video": video, "duration": duration, "start": start, "end": end, "query": sentence,
            "source": "charades", "meta": meta, "issues": [],
        })
    return rows


def _activitynet_rows(videos: Any) -> list[dict]:
    if not isinstance(videos, dict):
        raise _WrongShape("expected a JSON object {video_id: {duration, timestamps, sentences}}")
    rows = []
    for video_id, record in videos.items():
        if not isinstance(record, dict):
            rows.append(_not_object({video_id: record}, "activitynet", len(rows)))
            continue
        spans = record.get("timestamps") if isinstance(record.get("timestamps"), list) else []
        sentences = record.get("sentences") if isinstance(record.get("sentences"), list) else []
        issues = [] if len(spans) == len(sentences) else ["timestamps_sentences_mismatch"]
        for index in range(max(len(spans), len(sentences), 1)):
            span = _pair(spans[index]) if index < len(spans) else None
            sentence = sentences[index] if index < len(sentences) else None
            item = {"video_id": video_id, "index": index, "duration": record.get("duration"),
                    "timestamp": spans[index] if index < len(spans) else None, "sentence": sentence}
            rows.append({
                "qid": content_qid("activitynet", video_id, item["timestamp"], sentence),
                "video": f"{video_id}.mp4", "duration": record.get("duration"),
                "start": span[0] if span else None, "end": span[1] if span else None,
                "query": sentence, "source": "activitynet", "meta": to_json(item),
                "issues": issues + ([] if span else ["unparseable_timestamp"]),
            })
    return rows


def _canonical_rows(records: Any) -> list[dict]:
    if not isinstance(records, list):
        raise _WrongShape("expected a JSON list of canonical records")
    rows = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            rows.append(_not_object(record, "canonical", index))
            continue
        row = {column: record.get(column) for column in CANONICAL_COLUMNS}
        if not isinstance(row["meta"], str):
            row["meta"] = to_json({k: v for k, v in record.items() if k not in CANONICAL_COLUMNS})
        row["issues"] = []
        rows.append(row)
    return rows


def _read_canonical_parquet(path: Path) -> list[dict]:
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for unreadable files
        raise AnnotationReadError(f"{path}: cannot read parquet ({error})") from None
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise AnnotationReadError(f"{path}: canonical table lacks columns {missing}")
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return _canonical_rows(records)


def _finish(rows: list[dict], split: str) -> pd.DataFrame:
    for row in rows:
        row["split"] = row.get("split") or split
    frame = canonical_frame(rows)
    frame["issues"] = [list(row.get("issues", [])) for row in rows]
    return frame
