"""SynthTVG: determinism (bytes and pixels), balance, split hygiene, and each event visible where annotated."""

import json

import numpy as np
import pytest

from timerft.synth import (
    COLORS,
    DARKEN,
    EVENT_KINDS,
    Event,
    Obj,
    Scene,
    SynthConfig,
    balanced_span,
    generate,
    make_scene,
    object_center,
    render_frame,
)

SMALL = SynthConfig(seed=3, counts={"pretrain": 4, "pool": 3, "test": 3})


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(SMALL, out, workers=2)
    return out


def test_same_seed_same_annotation_bytes_other_seed_other_world(synth_dir, tmp_path):
    again = generate(SMALL, tmp_path / "again", workers=1)
    assert (tmp_path / "again" / "annotations.json").read_bytes() == (synth_dir / "annotations.json").read_bytes()
    other = SynthConfig(seed=4, counts=SMALL.counts)
    events = [make_scene(SMALL, "pool", i).events for i in range(3)]
    assert [make_scene(other, "pool", i).events for i in range(3)] != events
    assert len(again) >= sum(SMALL.counts.values())


def test_annotations_are_canonical_valid_and_splits_share_no_video(synth_dir):
    rows = json.loads((synth_dir / "annotations.json").read_text())
    videos_by_split = {}
    for row in rows:
        assert 0 <= row["start"] < row["end"] <= row["duration"]
        assert SMALL.duration_range[0] <= row["duration"] <= SMALL.duration_range[1] + 1
        assert (synth_dir / row["video"]).is_file()
        videos_by_split.setdefault(row["split"], set()).add(row["video"])
    assert set(videos_by_split) == {"pretrain", "pool", "test"}
    assert not (videos_by_split["test"] & (videos_by_split["pool"] | videos_by_split["pretrain"]))
    assert len({row["qid"] for row in rows}) == len(rows)


def test_same_params_give_the_same_mp4_bytes_and_decoders_return_the_rendered_pixels(synth_dir, tmp_path):
    import decord

    generate(SMALL, tmp_path / "again", workers=1)  # another process layout than the fixture's 2 workers
    videos = sorted((synth_dir / "videos").glob("*.mp4"))
    assert len(videos) == sum(SMALL.counts.values())
    for video in videos:
        assert (tmp_path / "again" / "videos" / video.name).read_bytes() == video.read_bytes(), video.name
    scene = make_scene(SMALL, "test", 0)
    reader = decord.VideoReader(str(synth_dir / "videos" / f"{scene.video_id}.mp4"), num_threads=1)
    assert len(reader) == scene.n_frames
    for i in (0, scene.n_frames // 3, scene.n_frames - 1):  # lossless RGB: exactly the drawn pixels
        assert np.array_equal(reader[i].asnumpy(), render_frame(scene, i / scene.fps))


def test_spans_are_balanced_over_positions_and_lengths():
    config = SynthConfig(seed=5, span_fraction=(0.08, 0.18), position_bins=5, length_bins=3)
    duration, cells = 30.0, 15
    spans = [balanced_span(config, "pool", q, duration) for q in range(cells * 20)]
    starts = np.array([s for s, _ in spans])
    fractions = np.array([(e - s) / duration for s, e in spans])
    # position as a fraction of where the span may start; bins of equal width hold equal counts
    position_bins = np.minimum((starts / (duration - fractions * duration) * 5).astype(int), 4)
    low, high = np.log(0.08), np.log(0.18)
    length_bins = np.clip(((np.log(fractions) - low) / (high - low) * 3).astype(int), 0, 2)
    assert np.bincount(position_bins, minlength=5).tolist() == [60] * 5
    assert np.bincount(length_bins, minlength=3).tolist() == [100] * 3
    assert np.bincount(position_bins * 3 + length_bins, minlength=15).tolist() == [20] * 15
    assert fractions.min() >= 0.08 - 0.01 / duration and fractions.max() <= 0.18 + 0.01 / duration
    other_seed = [balanced_span(SynthConfig(seed=6), "pool", q, duration) for q in range(cells)]
    assert other_seed != spans[:cells]


def test_a_split_does_not_depend_on_the_other_splits_counts():
    bigger = SynthConfig(seed=3, counts={"pretrain": 40, "pool": 3, "test": 3})
    assert make_scene(bigger, "test", 1) == make_scene(SMALL, "test", 1)


def test_many_scenes_cover_every_event_kind_with_unambiguous_queries():
    scenes = [make_scene(SynthConfig(seed=0), "pool", i) for i in range(60)]
    assert {e.kind for s in scenes for e in s.events} == set(EVENT_KINDS)
    for scene in scenes:
        queries = [e.query for e in scene.events]
        assert len(set(queries)) == len(queries)


def test_a_world_of_fewer_kinds_than_events_repeats_object_kinds_with_distinct_queries():
    scenes = [make_scene(SynthConfig(seed=2, event_kinds=("appear",)), "pool", i) for i in range(20)]
    for scene in scenes:
        assert [e.kind for e in scene.events] == ["appear", "appear"]
        assert len({e.query for e in scene.events}) == 2


def scene_with(event: Event) -> Scene:
    return Scene("t", 20.0, 10, 120, 80, (70, 70, 80), [event], [Obj("square", "white", 5)])


def pixel(scene, obj, t):
    x, y = object_center(scene, obj)
    return tuple(render_frame(scene, t)[y, x])


def test_render_shows_each_event_only_inside_its_span():
    obj = Obj("square", "red", 0)
    appear = scene_with(Event("appear", 5.0, 9.0, obj))
    assert pixel(appear, obj, 6.0) == COLORS["red"] and pixel(appear, obj, 4.0) == (70, 70, 80)
    recolor = scene_with(Event("recolor", 5.0, 9.0, obj, color2="blue"))
    assert pixel(recolor, obj, 6.0) == COLORS["blue"] and pixel(recolor, obj, 9.5) == COLORS["red"]
    dark = scene_with(Event("darken", 5.0, 9.0))
    assert render_frame(dark, 6.0)[0, 0, 0] == int(70 * DARKEN) and render_frame(dark, 2.0)[0, 0, 0] == 70

    def area(scene, t, color):
        return int((render_frame(scene, t) == COLORS[color]).all(-1).sum())

    grow = scene_with(Event("grow", 5.0, 9.0, obj))
    assert area(grow, 6.0, "red") > 2 * area(grow, 2.0, "red")
    count = scene_with(Event("count", 5.0, 9.0, obj))
    assert area(count, 6.0, "red") == pytest.approx(1.5 * area(count, 2.0, "red"), rel=0.05)
    arms = scene_with(Event("arms", 5.0, 9.0, Obj("figure", "yellow", 0)))
    assert not np.array_equal(render_frame(arms, 6.0), render_frame(arms, 2.0))
    assert np.array_equal(render_frame(arms, 2.0), render_frame(arms, 12.0))
    move = scene_with(Event("move", 5.0, 9.0, obj, direction="right"))
    xs = lambda t: np.nonzero((render_frame(move, t) == COLORS["red"]).all(-1))[1].mean()  # noqa: E731
    assert xs(2.0) < xs(7.0) < xs(12.0) and xs(2.0) == xs(4.9)


def test_decoded_frames_at_their_timestamps_match_the_rendered_scene(synth_dir):
    """The time axis is right: the frame decord returns for timestamp t is the scene drawn at t, not at t +- 0.5 s."""
    import torch

    from timerft.frames import Sampling, extract

    def truth(scene, t, size):
        image = torch.tensor(render_frame(scene, t), dtype=torch.float32).permute(2, 0, 1)[None]
        return torch.nn.functional.interpolate(image, size=size, mode="bilinear")[0].permute(1, 2, 0).numpy()

    big = Sampling(fps=4.0, max_frames=768, min_pixels=28 * 28, max_pixels=10**7, total_pixels=10**9)
    checked = 0
    for index in range(SMALL.counts["test"]):
        scene = make_scene(SMALL, "test", index)
        frames, timestamps = extract(synth_dir / "videos" / f"{scene.video_id}.mp4", big)
        for frame, t in zip(frames.astype(np.float32), timestamps):
            now = truth(scene, t, frame.shape[:2])
            assert np.abs(frame - now).mean() < 6, f"frame at {t:.2f} s does not show the scene at {t:.2f} s"
            for other in (t - 0.5, t + 0.5):
                then = truth(scene, other, frame.shape[:2])
                changed = np.abs(now - then).max(-1) > 60  # where the scene changed within half a second
                if changed.sum() > 20:
                    assert np.abs(frame - now)[changed].mean() < np.abs(frame - then)[changed].mean()
                    checked += 1
    assert checked > 5  # event boundaries were actually crossed
