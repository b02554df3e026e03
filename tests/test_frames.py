"""Frame extraction: Qwen2.5-VL sampling rules, clip windows, bad videos reported, cache hits."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from timerft.frames import (
    Sampling,
    VideoError,
    extract,
    extract_table,
    frame_count,
    frame_size,
    read_entry,
    window_mode,
    write_index,
)
from timerft.synth import Event, Obj, Scene, write_video

PAPER = Sampling()


@pytest.mark.parametrize(
    "available, seconds, expected",
    [
        (6, 1.0, 4),  # 1 s at 2 fps wants 2 frames: raised to min_frames
        (3, 0.5, 2),  # fewer frames than min_frames: all there are, rounded down to even
        (250, 25.0, 50),  # 25 s at 2 fps
        (255, 25.5, 50),  # 25.5 s wants 51: rounded down to a multiple of 2
        (120, 119 / 10 + 0.1, 24),  # float noise in the duration does not lose frames
        (36000, 3000.0, 768),  # 50 minutes: capped at max_frames
    ],
)
def test_frame_count_rules(available, seconds, expected):
    assert frame_count(available, seconds, PAPER) == expected


def test_a_single_frame_is_too_few():
    with pytest.raises(VideoError, match="at least 2"):
        frame_count(1, 0.1, PAPER)


@pytest.mark.parametrize("height, width, count", [(360, 640, 70), (96, 128, 4), (1080, 1920, 768), (90, 160, 32)])
def test_frame_size_is_a_multiple_of_28_within_the_budget(height, width, count):
    h, w = frame_size(height, width, count, PAPER)
    assert h % 28 == 0 and w % 28 == 0
    budget = max(min(PAPER.max_pixels, PAPER.total_pixels / count * 2), PAPER.min_pixels * 1.05)
    assert h * w <= budget
    assert abs(w / h - width / height) < 0.5 * width / height


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    scene = Scene("v", 12.0, 10, 112, 84, (70, 70, 80), [Event("appear", 3.0, 6.0, Obj("square", "red", 0))], [])
    write_video(scene, root / "good.mp4")
    write_video(Scene("w", 4.0, 8, 112, 84, (90, 70, 60), [], []), root / "other.mp4")
    data = (root / "good.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (root / "corrupt.mp4").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)))
    (root / "empty.mp4").write_bytes(b"")
    return root


def test_extract_samples_at_2_fps_with_file_timestamps(videos):
    frames, timestamps = extract(videos / "good.mp4", PAPER)
    assert frames.dtype == np.uint8 and frames.shape[0] == 24 and frames.shape[3] == 3
    assert timestamps.dtype == np.float64 and timestamps[0] == 0.0 and timestamps[-1] == pytest.approx(11.9)
    assert np.all(np.diff(timestamps) > 0)


def test_clip_window_is_honoured(videos):
    frames, timestamps = extract(videos / "good.mp4", PAPER, start=4.0, end=9.0)
    assert len(frames) == 10 and timestamps[0] >= 4.0 and timestamps[-1] < 9.0


def test_window_outside_the_video_is_an_error(videos):
    with pytest.raises(VideoError, match="holds no frame"):
        extract(videos / "good.mp4", PAPER, start=50.0, end=60.0)


@pytest.mark.parametrize(("seconds", "start", "end", "mode"), [
    (12.0, 4.0, 9.0, "seek"),  # a long source holds the window
    (12.0, 4.0, 12.3, "seek"),  # ends past the file by less than the tolerance (rounding)
    (5.0, 4.0, 9.0, "whole"),  # the file is the window, cut already (TimeRFT's pre-cut clips)
    (12.0, None, None, "whole"),
])
def test_a_clip_window_is_sought_or_the_pre_cut_file_taken_whole(seconds, start, end, mode):
    assert window_mode(seconds, start, end, 0.5) == mode


def test_a_window_that_fits_neither_way_is_an_error():
    with pytest.raises(VideoError, match="fits neither inside the file"):
        window_mode(7.0, 4.0, 9.0, 0.5)  # 7 s: too short to hold it, too long to be it


def test_clip_rows_get_clip_relative_times_whether_sought_or_pre_cut(videos, tmp_path):
    # good.mp4 is 12 s: once a 4-9 s window of it, once a pre-cut 4-16 s clip of a longer source
    rows = pd.DataFrame([{"qid": "sought", "video": "good.mp4", "clip_start": 4.0, "clip_end": 9.0},
                         {"qid": "precut", "video": "good.mp4", "clip_start": 4.0, "clip_end": 16.0},
                         {"qid": "broken", "video": "good.mp4", "clip_start": 14.0, "clip_end": 30.0}])
    index, failures = extract_table(rows, videos, PAPER, tmp_path, 0.5)
    assert dict(zip(index["qid"], index["window"])) == {"sought": "seek", "precut": "whole"}
    times = {qid: read_entry(tmp_path, key)[1] for qid, key in zip(index["qid"], index["frames"])}
    assert times["sought"][0] == pytest.approx(0.0, abs=0.1) and times["sought"][-1] < 5.0
    assert times["precut"][0] == 0.0 and times["precut"][-1] == pytest.approx(11.9)
    assert [f["qids"] for f in failures] == [["broken"]] and "fits neither" in failures[0]["reason"]


@pytest.mark.parametrize("name", ["corrupt.mp4", "empty.mp4", "missing.mp4"])
def test_bad_videos_raise_video_error(videos, name):
    with pytest.raises(VideoError):
        extract(videos / name, PAPER)


def table(*videos):
    rows = [{"qid": f"q{i}", "video": v, "clip_start": None, "clip_end": None} for i, v in enumerate(videos)]
    return pd.DataFrame(rows)


def test_failures_are_reported_and_excluded_not_fatal(videos, tmp_path):
    names = ["good.mp4", "good.mp4", "truncated.mp4", "corrupt.mp4", "empty.mp4", "missing.mp4", "other.mp4"]
    index, failures = extract_table(table(*names), videos, PAPER, tmp_path / "cache", 0.5, workers=2)
    assert set(index["qid"]) >= {"q0", "q1", "q6"}
    failed = {f["video"]: f for f in failures}
    assert {"corrupt.mp4", "empty.mp4", "missing.mp4"} <= set(failed)
    assert failed["missing.mp4"]["reason"] == "missing file" and failed["corrupt.mp4"]["qids"] == ["q3"]
    # a truncated file either decodes what it holds or is reported; its row is never silently lost
    assert ("q2" in set(index["qid"])) != ("truncated.mp4" in failed)
    assert len(index) + sum(len(f["qids"]) for f in failures) == len(names)
    # one decode for the two rows of good.mp4
    assert index.loc[index["qid"].isin(["q0", "q1"]), "frames"].nunique() == 1


def test_cache_is_hit_on_a_rerun_and_missed_when_sampling_changes(videos, tmp_path):
    cache = tmp_path / "cache"
    first, _ = extract_table(table("good.mp4", "other.mp4"), videos, PAPER, cache, 0.5)
    assert set(first["status"]) == {"decoded"}
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npy")}
    again, _ = extract_table(table("good.mp4", "other.mp4"), videos, PAPER, cache, 0.5)
    assert set(again["status"]) == {"cached"}
    assert {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npy")} == stamps
    write_index(first, tmp_path / "first.parquet")  # the stage's index: the same bytes decoded or cached
    write_index(again, tmp_path / "again.parquet")
    assert (tmp_path / "first.parquet").read_bytes() == (tmp_path / "again.parquet").read_bytes()
    changed, _ = extract_table(table("good.mp4"), videos, Sampling(fps=1.0), cache, 0.5)
    assert set(changed["status"]) == {"decoded"}
    assert {p.name.split(".")[0] for p in cache.glob("*.npy")} == set(changed["frames"])  # unused entries pruned
    frames, timestamps = read_entry(cache, changed["frames"][0])
    assert len(frames) == len(timestamps) == 12  # 12 s at 1 fps


def test_cli_frames_writes_npz(videos, tmp_path):
    out = tmp_path / "clip.npz"
    done = subprocess.run([sys.executable, "-m", "timerft.cli", "frames", str(videos / "good.mp4"), "--start", "3",
                           "--end", "6", "--out", str(out), "--strip", str(tmp_path / "strip.png")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with np.load(out) as data:
        frames, timestamps = data["frames"], data["timestamps"]
    assert frames.dtype == np.uint8 and frames.ndim == 4 and timestamps.dtype == np.float64
    assert 3.0 <= timestamps[0] and timestamps[-1] < 6.0
    assert (tmp_path / "strip.png").stat().st_size > 1000
    bad = subprocess.run([sys.executable, "-m", "timerft.cli", "frames", str(videos / "corrupt.mp4"), "--out",
                          str(out)], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
