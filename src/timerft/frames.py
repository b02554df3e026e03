"""Frame extraction with decord at Qwen2.5-VL's sampling rules, cached by (video content, sampling params).

Rules (docs/method.md): sample at `fps`; the frame count is a multiple of 2 within [min_frames, max_frames]
and never more than the frames there are; frames are spread evenly over the window; each frame is
resized to multiples of 28 within a per-frame pixel budget derived from the total budget. Every
frame's timestamp comes from the file's own timing (decord's frame pts), never from an assumed fps.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from timerft.params import Frames
from timerft.video import probe

PATCH = 28  # Qwen2.5-VL: 14-pixel patches merged 2x2


class VideoError(Exception):
    """A video that cannot give frames (missing, corrupt, truncated, empty, window outside the video)."""


@dataclass(frozen=True)
class Sampling:
    fps: float = 2.0
    min_frames: int = 4
    max_frames: int = 768
    frame_factor: int = 2
    min_pixels: int = 16 * PATCH * PATCH
    max_pixels: int = 768 * PATCH * PATCH  # per frame
    total_pixels: int = 3584 * PATCH * PATCH  # per video: about 3584 visual tokens

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_params(cls, frames: Frames) -> Sampling:
        """From params.yaml's `frames` section (its execution knob, workers, aside)."""
        return cls(**{f.name: getattr(frames, f.name) for f in fields(cls) if hasattr(frames, f.name)})


def frame_count(available: int, seconds: float, sampling: Sampling) -> int:
    """Frames to sample from a window of `available` frames lasting `seconds`."""
    factor = sampling.frame_factor
    wanted = round(seconds * sampling.fps, 6)  # rounding: 11.9999999 s must not lose two frames
    most = math.floor(min(sampling.max_frames, available) / factor) * factor
    least = math.ceil(sampling.min_frames / factor) * factor
    count = math.floor(min(max(wanted, least), most) / factor) * factor
    if count < factor:
        raise VideoError(f"only {available} frame(s) in the window; at least {factor} are needed")
    return count


def frame_size(height: int, width: int, count: int, sampling: Sampling) -> tuple[int, int]:
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    budget = max(min(sampling.max_pixels, sampling.total_pixels / count * sampling.frame_factor),
                 int(sampling.min_pixels * 1.05))
    return smart_resize(height, width, factor=PATCH, min_pixels=sampling.min_pixels, max_pixels=budget)


def extract(path: str | Path, sampling: Sampling, start: float | None = None, end: float | None = None):
    """Frames uint8 (T, H, W, 3) and timestamps float64 (T,) in seconds from the start of the file.

    `start`/`end` restrict sampling to a window of the file (a clip of a longer source).
    """
    import decord

    path = Path(path)
    if not path.is_file():
        raise VideoError("missing file")
    try:
        # Resizing inside the decoder (ffmpeg's scaler) is nearly free; resizing afterwards doubles the time.
        # The size depends on the frame count, known exactly only from decord's timestamps, so guess it
        # from the headers and reopen in the rare case the guess was wrong.
        height, width, frames_in_header, seconds = probe(path)
        size = _size_guess(height, width, frames_in_header, seconds, start, end, sampling)
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1, width=size[1], height=size[0])
        total = len(reader)
        if total == 0:
            raise VideoError("no frames")
        spans = reader.get_frame_timestamp(np.arange(total)).astype(np.float64)  # (start, end) of each frame
        times = spans[:, 0]
        first = int(np.searchsorted(times, start, "left")) if start is not None else 0
        last = int(np.searchsorted(times, end, "left")) - 1 if end is not None else total - 1
        available = last - first + 1
        if available <= 0:
            raise VideoError(f"window {start}-{end} s holds no frame (video ends at {times[-1]:.2f} s)")
        count = frame_count(available, spans[last, 1] - times[first], sampling)
        if (exact := frame_size(height, width, count, sampling)) != size:
            reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1, width=exact[1], height=exact[0])
        indices = np.linspace(first, last, count).round().astype(np.int64)
        frames = reader.get_batch(indices).asnumpy()
    except VideoError:
        raise
    except Exception as error:  # av and decord raise many types for bad streams
        raise VideoError(f"decode failed: {str(error).strip().splitlines()[0][:200]}") from None
    return frames, times[indices]


def _size_guess(height, width, frames, seconds, start, end, sampling) -> tuple[int, int]:
    window = max((min(end, seconds) if end is not None else seconds) - (start or 0.0), 0.0)
    available = max(2, round(frames * window / seconds)) if frames and seconds else 2
    try:
        return frame_size(height, width, frame_count(available, window, sampling), sampling)
    except VideoError:
        return frame_size(height, width, sampling.frame_factor, sampling)


def content_hash(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "blake2b").hexdigest()[:32]


def cache_key(video_hash: str, sampling: Sampling, start: float | None, end: float | None) -> str:
    # a window's entry holds clip-relative times (`relative` keeps entries of the absolute-time days apart)
    window = "None|None" if start is None else f"{start}|{end}|relative"
    return hashlib.blake2b(f"{video_hash}|{sampling.key()}|{window}".encode(), digest_size=16).hexdigest()


def window_mode(seconds: float, start: float | None, end: float | None, tolerance: float) -> str:
    """How a row's clip window [start, end] of a file is read: `seek` when the file holds the window (a long source),
    `whole` when there is no window or the file is the window already cut out (its length is the window's, within
    `tolerance` seconds, and it is too short to hold the window). Neither: VideoError."""
    if start is None or end is None:
        return "whole"
    if end <= seconds + tolerance:
        return "seek"
    if abs(seconds - (end - start)) <= tolerance:
        return "whole"
    raise VideoError(f"the clip window {start:.2f}-{end:.2f} s fits neither inside the file ({seconds:.2f} s) nor "
                     "as the file itself (a pre-cut clip)")


def save_npz(path: Path, frames: np.ndarray, timestamps: np.ndarray) -> None:
    """One video's frames for a person or another tool (`timerft frames --out`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, frames=frames, timestamps=timestamps)


def write_entry(cache_dir: Path, key: str, frames: np.ndarray, timestamps: np.ndarray) -> None:
    """A cache entry is two plain .npy files: loading them is 5x faster than an .npz (no zip layer)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    for suffix, array in ((".times.npy", timestamps), (".npy", frames)):  # frames last: they mark the entry done
        partial = cache_dir / f"{key}.partial{suffix}"
        np.save(partial, array)
        partial.replace(cache_dir / f"{key}{suffix}")  # atomic: a killed run never leaves half an entry


def read_entry(cache_dir: str | Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    return np.load(Path(cache_dir) / f"{key}.npy"), np.load(Path(cache_dir) / f"{key}.times.npy")


def video_windows(table) -> dict[tuple, list[str]]:
    """The distinct (video, clip_start, clip_end) of a canonical table (None for no window), each with its qids:
    each is decoded once, however many queries share it."""
    columns = table[["video", "clip_start", "clip_end"]]
    window = columns.astype(object).where(columns.notna(), None)
    groups = {}
    for qid, (video, start, end) in zip(table["qid"], window.itertuples(index=False)):
        groups.setdefault((video, start, end), []).append(qid)
    return groups


def extract_window(path: str, start: float | None, end: float | None, sampling: Sampling, out_dir: str,
                   tolerance: float) -> dict:
    """One (video, window) into the cache, its times relative to the window's start (as the annotations are): hash
    the file, reuse the cached frames or decode them. Never raises: returns the cache key, `decoded` or `cached`,
    and the window's mode (`window_mode`), or `failed` with the reason."""
    try:
        if not Path(path).is_file():
            raise VideoError("missing file")
        mode = window_mode(probe(path)[3] if start is not None else 0.0, start, end, tolerance)
        if mode == "whole":
            start = end = None
        key = cache_key(content_hash(path), sampling, start, end)
        if (Path(out_dir) / f"{key}.npy").is_file():
            return {"file": key, "status": "cached", "window": mode}
        frames, timestamps = extract(path, sampling, start, end)
        write_entry(Path(out_dir), key, frames, timestamps - (start or 0.0))
        return {"file": key, "status": "decoded", "window": mode}
    except (VideoError, OSError) as error:
        return {"file": None, "status": "failed", "reason": str(error)}


def extract_table(table, video_root: str | Path, sampling: Sampling, out_dir: str | Path, tolerance: float,
                  workers: int = 1):
    """Frames for every row of a canonical table, each (video, window) decoded once.

    Returns (index, failures): index has one row per qid that got frames (qid, frames: the cache key for
    read_entry, status: decoded or cached, window: seek or whole, see `window_mode` and its `tolerance`); failures
    one row per (video, window) that did not, with its reason and the qids it excludes. Cache entries no row uses
    any more are removed, so out_dir holds exactly what the table needs.
    """
    from concurrent.futures import ProcessPoolExecutor

    import pandas as pd
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = video_windows(table)
    jobs = [(str(Path(video_root) / video), start, end, sampling, str(out_dir), tolerance)
            for video, start, end in groups]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(tqdm(pool.map(extract_window, *zip(*jobs), chunksize=1) if jobs else [], total=len(jobs),
                            desc="frames", unit="video"))
    index, failures = [], []
    for (video, start, end), qids, result in zip(groups, groups.values(), results):
        if result["status"] == "failed":
            failures.append({"video": video, "clip_start": start, "clip_end": end, "reason": result["reason"],
                             "qids": qids})
        else:
            index += [{"qid": qid, "frames": result["file"], "status": result["status"], "window": result["window"]}
                      for qid in qids]
    used = {row["frames"] for row in index}
    for stale in out_dir.glob("*.npy"):
        if stale.name.split(".")[0] not in used:
            stale.unlink()
    return pd.DataFrame(index, columns=["qid", "frames", "status", "window"]), failures


def write_index(index, path: str | Path) -> None:
    """The frames stage's index.parquet: qid, frames, window. Not `status`: whether a video was decoded or found in
    the persisted cache depends on the run's history, and every later stage hashes this file."""
    index.drop(columns="status").to_parquet(path, index=False)


def frames_per_span(table, index, cache_dir: str | Path) -> dict[str, int]:
    """qid -> how many sampled frames fall inside its annotated span: a span that holds fewer than two asks the
    model for an event it may never see (the frames stage reports how many such rows there are)."""

    keys = dict(zip(index["qid"], index["frames"]))
    counts = {}
    for qid, start, end in table[["qid", "start", "end"]].itertuples(index=False):
        if qid in keys:
            times = np.load(Path(cache_dir) / f"{keys[qid]}.times.npy")  # clip-relative, as the annotations
            counts[qid] = int(((times >= start) & (times <= end)).sum())
    return counts
