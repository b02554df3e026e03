"""Frame extraction speed: timerft's extractor vs raw decord vs decoding everything with PyAV; cold vs warm cache.

All contenders read the same videos and return the same sampled frame indices. Frames/s counts the
sampled frames delivered. Run from the repo root after `dvc repro frames` (or pass --videos):

    .venv/bin/python benchmarks/frames.py --videos 'data/synth/videos/*.mp4' --limit 60
"""

import argparse
import glob
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import av
import decord
import numpy as np
import pandas as pd

from timerft.frames import Sampling, extract, extract_table, frame_count, read_entry


def sampled_indices(path: str, sampling: Sampling) -> np.ndarray:
    reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)
    spans = reader.get_frame_timestamp(np.arange(len(reader)))
    count = frame_count(len(reader), spans[-1, 1] - spans[0, 0], sampling)
    return np.linspace(0, len(reader) - 1, count).round().astype(np.int64)


def raw_decord(path: str, indices: np.ndarray, size: tuple[int, int] = (-1, -1)) -> int:
    reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1, width=size[1], height=size[0])
    return len(reader.get_batch(indices).asnumpy())


def naive_pyav(path: str, indices: np.ndarray) -> int:
    """What many public scripts do: decode every frame to RGB, then index the sampled ones."""
    with av.open(path) as container:
        every = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return len(np.stack(every)[indices])


def timed(function, videos, *args) -> tuple[float, int]:
    start, frames = time.perf_counter(), 0
    for video in videos:
        frames += function(video, *args)
    return time.perf_counter() - start, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", nargs="+", default=["data/synth/videos/*.mp4"], help="globs of videos")
    parser.add_argument("--limit", type=int, default=60, help="at most this many videos")
    parser.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    videos = sorted({p for pattern in args.videos for p in glob.glob(pattern)})[: args.limit]
    if not videos:
        raise SystemExit("no videos matched: run `dvc repro frames` first or pass --videos")
    sampling = Sampling()
    indices = {v: sampled_indices(v, sampling) for v in videos}
    extract(videos[0], sampling)  # one-time imports (transformers' smart_resize) stay out of the timings
    sizes = {v: extract(v, sampling)[0].shape[1:3] for v in videos}

    results = {}
    results["raw decord get_batch"] = timed(lambda v: raw_decord(v, indices[v]), videos)
    results["raw decord get_batch, same size"] = timed(lambda v: raw_decord(v, indices[v], sizes[v]), videos)
    results["timerft extract"] = timed(lambda v: len(extract(v, sampling)[0]), videos)
    results["PyAV decode all + subsample"] = timed(lambda v: naive_pyav(v, indices[v]), videos)

    table = pd.DataFrame({"video": [Path(v).name for v in videos], "clip_start": None, "clip_end": None,
                          "qid": [str(i) for i in range(len(videos))]})
    cache = Path(tempfile.mkdtemp())
    try:
        table["video"] = [str(Path(v).resolve()) for v in videos]
        start = time.perf_counter()
        index, _ = extract_table(table, "/", sampling, cache, 0.5, workers=1)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        index, _ = extract_table(table, "/", sampling, cache, 0.5, workers=1)
        frames = sum(len(read_entry(cache, key)[0]) for key in index["frames"])
        warm = time.perf_counter() - start
    finally:
        shutil.rmtree(cache)
    results["stage, cold cache"] = (cold, frames)
    results["stage, warm cache (hash + load)"] = (warm, frames)

    print(f"{len(videos)} videos, {frames} sampled frames; {platform.processor() or platform.machine()}, "
          f"{__import__('os').cpu_count()} cores")
    figures = {}
    for name, (seconds, count) in results.items():
        figures[name] = {"seconds": round(seconds, 3), "frames_per_s": round(count / seconds, 1)}
        print(f"  {name:34s} {seconds:8.2f} s  {count / seconds:9.1f} frames/s")
    ours, raw = figures["timerft extract"]["frames_per_s"], figures["raw decord get_batch"]["frames_per_s"]
    same = figures["raw decord get_batch, same size"]["frames_per_s"]
    naive = figures["PyAV decode all + subsample"]["frames_per_s"]
    figures["ratios"] = {"extract_vs_raw_decord": round(ours / raw, 2), "extract_vs_raw_decord_same_size":
                         round(ours / same, 2), "extract_vs_naive": round(ours / naive, 2),
                         "warm_vs_cold": round(cold / warm, 1)}
    print(f"  extract / raw decord = {ours / raw:.2f}x native size, {ours / same:.2f}x same output size (goal >= 0.9);"
          f" extract / naive = {ours / naive:.2f}x (goal >= 3); warm / cold = {cold / warm:.1f}x (goal >= 20)")
    if args.out:
        Path(args.out).write_text(json.dumps({"videos": len(videos), "frames": frames, **figures}, indent=1) + "\n")


if __name__ == "__main__":
    main()
