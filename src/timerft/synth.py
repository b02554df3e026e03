"""SynthTVG: the embedded grounding benchmark, rendered procedurally to real H.264 MP4 files.

Each video is a scene (a background and a few objects in a grid of slots) with timed events; each
event is one query whose span is its annotation, the other events of the video being its distractors.
Everything follows from (seed, split, index), so a split's videos do not depend on the other splits'
counts, and the same seed gives the same annotations and the same MP4 bytes.

Balance (as TVGBench balances its queries): every block of `position_bins x length_bins` consecutive queries
of a split holds one span in each (position bin, length bin) cell, so span positions are uniform over the
video and span lengths log-uniform over `span_fraction`; no fixed span fits many queries (the `prior` row).
Encoding: lossless RGB H.264 (libx264rgb, qp 0) at the frames stage's own size, so every decoder on every
machine returns exactly the rendered pixels.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from pathlib import Path

import numpy as np

from timerft.params import Synth

COLORS = {
    "red": (230, 40, 40), "green": (40, 200, 60), "blue": (50, 90, 240), "yellow": (240, 220, 40),
    "white": (245, 245, 245), "magenta": (230, 50, 220), "cyan": (40, 220, 230), "orange": (250, 140, 20),
}
BACKGROUNDS = [(70, 70, 80), (60, 80, 70), (90, 70, 60), (70, 60, 95)]
DARKEN = 0.3  # background brightness factor while the scene is dark
SHAPES = ("square", "circle")
GRID = (3, 2)  # slot columns x rows; every object owns one slot, so nothing overlaps
SPLIT_IDS = {"pretrain": 0, "pool": 1, "test": 2, "base": 3}  # stable rng streams: a new split shifts no other

# event kind -> (TVGBench-style category, query template)
EVENT_KINDS = {
    "appear": ("Object Existence (Simple)", "the {color} {shape} appears"),
    "recolor": ("Object Attribute", "the {color} {shape} turns {color2}"),
    "grow": ("Object Attribute", "the {color} {shape} grows bigger"),
    "move": ("Object Transition", "the {color} {shape} moves to the {direction}"),
    "count": ("Object Counting", "there are three {color} {shape}s"),
    "arms": ("Human Pose", "the figure raises its arms"),
    "jump": ("Human Action (Simple)", "the figure jumps"),
    "darken": ("Environment Change", "the background turns dark"),
}
FIGURE_KINDS = ("arms", "jump")


@dataclass(frozen=True)
class SynthConfig:
    seed: int = 0
    counts: dict = field(default_factory=lambda: {"pretrain": 8, "pool": 8, "test": 4})
    duration_range: tuple = (20.0, 50.0)
    fps: int = 8
    size: tuple = (84, 56)  # width, height: 3 x 2 slots of 28 pixels, one merged Qwen2.5-VL vision token each
    events_per_video: tuple = (2, 2)
    span_fraction: tuple = (0.08, 0.18)  # shortest and longest span, as fractions of the video
    position_bins: int = 5
    length_bins: int = 3
    distractor_objects: tuple = (1, 2)
    event_kinds: tuple = tuple(EVENT_KINDS)  # the kinds of event drawn (at least events_per_video of them)

    @classmethod
    def from_params(cls, synth: Synth, **overrides) -> SynthConfig:
        """From params.yaml's `synth` section (its execution knob, workers, aside)."""
        knobs = {f.name: getattr(synth, f.name) for f in fields(cls) if hasattr(synth, f.name)}
        return cls(**{**knobs, **overrides})


@dataclass
class Obj:
    shape: str
    color: str
    slot: int


@dataclass
class Event:
    kind: str
    start: float
    end: float
    obj: Obj | None = None
    color2: str | None = None
    direction: str | None = None

    @property
    def query(self) -> str:
        template = EVENT_KINDS[self.kind][1]
        obj = self.obj or Obj("", "", -1)
        return template.format(color=obj.color, shape=obj.shape, color2=self.color2, direction=self.direction)

    def active(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass
class Scene:
    video_id: str
    duration: float
    fps: int
    width: int
    height: int
    background: tuple
    events: list[Event]
    statics: list[Obj]

    @property
    def n_frames(self) -> int:
        return int(round(self.duration * self.fps))


def split_id(split: str) -> int:
    return SPLIT_IDS.get(split, int.from_bytes(split.encode()[:6].ljust(6, b"\0"), "little"))


def balanced_span(config: SynthConfig, split: str, query: int, duration: float) -> tuple[float, float]:
    """(start, end) of a split's query number `query`: its (position bin, length bin) cell comes from a seeded
    permutation of the cells of its block, the exact place inside the cell from a uniform draw."""
    cells = config.position_bins * config.length_bins
    block, slot = divmod(query, cells)
    rng = np.random.default_rng([config.seed, split_id(split), block, 1])
    cell = int(rng.permutation(cells)[slot])
    rng = np.random.default_rng([config.seed, split_id(split), block, 2, slot])
    position_bin, length_bin = divmod(cell, config.length_bins)
    low, high = np.log(config.span_fraction[0]), np.log(config.span_fraction[1])
    fraction = np.exp(low + (high - low) * (length_bin + rng.uniform()) / config.length_bins)
    length = fraction * duration
    start = (duration - length) * (position_bin + rng.uniform()) / config.position_bins
    return round(float(start), 2), round(float(min(start + length, duration)), 2)


def make_scene(config: SynthConfig, split: str, index: int) -> Scene:
    rng = np.random.default_rng([config.seed, split_id(split), index])
    width, height = config.size
    n_frames = int(round(rng.uniform(*config.duration_range) * config.fps))
    duration = n_frames / config.fps
    n_events = int(rng.integers(config.events_per_video[0], config.events_per_video[1] + 1))
    kinds = [str(k) for k in rng.permutation(list(config.event_kinds))]
    # one figure per scene keeps "the figure" unambiguous
    first_figure = next((k for k in kinds if k in FIGURE_KINDS), None)
    kinds = [k for k in kinds if k not in FIGURE_KINDS or k == first_figure]
    # fewer kinds than events: object kinds repeat (each event has its own object, so queries stay distinct)
    objects = [k for k in kinds if k not in FIGURE_KINDS and k != "darken"]
    kinds += [objects[i % len(objects)] for i in range(max(0, n_events - len(kinds)))] if objects else []
    slots = [int(s) for s in rng.permutation(GRID[0] * GRID[1])]
    colors = [str(c) for c in rng.permutation(list(COLORS))]
    events = []
    for number, kind in enumerate(kinds[:n_events]):
        # query numbers of a split: each video reserves room for its most events
        start, end = balanced_span(config, split, index * config.events_per_video[1] + number, duration)
        event = Event(kind, start, end)
        if kind != "darken":
            event.obj = Obj("figure" if kind in FIGURE_KINDS else str(rng.choice(SHAPES)), colors.pop(), slots.pop())
        if kind == "recolor":
            event.color2 = colors.pop()
        if kind == "move":
            event.direction = str(rng.choice(["left", "right"]))
        events.append(event)
    n_statics = int(rng.integers(config.distractor_objects[0], config.distractor_objects[1] + 1))
    statics = [Obj(str(rng.choice(SHAPES)), colors.pop(), slots.pop()) for _ in range(min(n_statics, len(slots)))]
    background = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    return Scene(f"{split}_{index:05d}", duration, config.fps, int(width), int(height), background, events, statics)


def slot_box(scene: Scene, slot: int) -> tuple[int, int, int, int]:
    """(x0, y0, width, height) of a slot in pixels."""
    slot_w, slot_h = scene.width // GRID[0], scene.height // GRID[1]
    return (slot % GRID[0]) * slot_w, (slot // GRID[0]) * slot_h, slot_w, slot_h


def object_center(scene: Scene, obj: Obj) -> tuple[int, int]:
    x0, y0, w, h = slot_box(scene, obj.slot)
    return x0 + w // 2, y0 + h // 2


def render_frame(scene: Scene, t: float) -> np.ndarray:
    dark = any(e.kind == "darken" and e.active(t) for e in scene.events)
    frame = np.empty((scene.height, scene.width, 3), np.uint8)
    frame[:] = np.array(scene.background) * (DARKEN if dark else 1.0)
    for obj in scene.statics:
        _draw_shape(frame, scene, obj, COLORS[obj.color], 1.0, 0)
    for event in scene.events:
        if event.obj is not None:
            _draw_event(frame, scene, event, t)
    return frame


def _draw_event(frame, scene, event: Event, t: float) -> None:
    obj, active = event.obj, event.active(t)
    color = COLORS[obj.color]
    if event.kind == "appear":
        if active:
            _draw_shape(frame, scene, obj, color, 1.0, 0)
    elif event.kind == "recolor":
        _draw_shape(frame, scene, obj, COLORS[event.color2] if active else color, 1.0, 0)
    elif event.kind == "grow":
        _draw_shape(frame, scene, obj, color, 1.7 if active else 1.0, 0)
    elif event.kind == "move":
        _, _, w, _ = slot_box(scene, obj.slot)
        progress = min(max((t - event.start) / max(event.end - event.start, 1e-6), 0.0), 1.0)
        sign = 1 if event.direction == "right" else -1
        _draw_shape(frame, scene, obj, color, 1.0, int(sign * (progress - 0.5) * w * 0.6))
    elif event.kind == "count":
        for dx in (-1, 0, 1) if active else (-1, 1):
            _draw_shape(frame, scene, obj, color, 0.45, int(dx * slot_box(scene, obj.slot)[2] * 0.3))
    elif event.kind in FIGURE_KINDS:
        _draw_figure(frame, scene, obj, color, arms_up=active and event.kind == "arms",
                     lift=active and event.kind == "jump" and int(t * 4) % 2 == 0)


def _draw_shape(frame, scene, obj: Obj, color, scale: float, dx: int) -> None:
    cx, cy = object_center(scene, obj)
    _, _, w, h = slot_box(scene, obj.slot)
    radius = max(2, int(min(w, h) * 0.22 * scale))
    cx += dx
    ys, xs = np.ogrid[: scene.height, : scene.width]
    if obj.shape == "circle":
        mask = (xs - cx) ** 2 + (ys - cy) ** 2 <= radius**2
    else:
        mask = (abs(xs - cx) <= radius) & (abs(ys - cy) <= radius)
    frame[mask] = color


def _draw_figure(frame, scene, obj: Obj, color, arms_up: bool, lift: bool) -> None:
    cx, cy = object_center(scene, obj)
    _, _, w, h = slot_box(scene, obj.slot)
    unit = max(2, min(w, h) // 10)
    cy -= 2 * unit if lift else 0

    def box(x0, y0, x1, y1):
        frame[max(0, y0): max(0, y1), max(0, x0): max(0, x1)] = color

    box(cx - unit, cy - 4 * unit, cx + unit, cy - 2 * unit)  # head
    box(cx - unit, cy - 2 * unit, cx + unit, cy + 2 * unit)  # body
    box(cx - unit, cy + 2 * unit, cx - unit // 2, cy + 4 * unit)  # legs
    box(cx + unit // 2, cy + 2 * unit, cx + unit, cy + 4 * unit)
    if arms_up:
        box(cx - 2 * unit, cy - 5 * unit, cx - unit, cy - unit)
        box(cx + unit, cy - 5 * unit, cx + 2 * unit, cy - unit)
    else:
        box(cx - 2 * unit, cy - 2 * unit, cx - unit, cy + unit)
        box(cx + unit, cy - 2 * unit, cx + 2 * unit, cy + unit)


def write_video(scene: Scene, path: Path) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        # lossless RGB: no colour conversion or quantisation, so decoded pixels are the rendered ones everywhere
        stream = container.add_stream("libx264rgb", rate=Fraction(scene.fps), options={"qp": "0", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = scene.width, scene.height, "rgb24"
        stream.codec_context.thread_count = 1  # one thread: identical bytes from run to run
        for i in range(scene.n_frames):
            frame = av.VideoFrame.from_ndarray(render_frame(scene, i / scene.fps), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, scene.fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def annotation_rows(scene: Scene, split: str, video: str) -> list[dict]:
    """Canonical rows, one per event; meta keeps the whole scene so CoT traces can be written from it."""
    scene_meta = {k: v for k, v in asdict(scene).items() if k != "video_id"}
    rows = []
    for i, event in enumerate(scene.events):
        rows.append({
            "qid": f"synth|{scene.video_id}|{i}", "video": video, "duration": round(scene.duration, 4),
            "start": event.start, "end": event.end, "query": event.query, "source": "synth",
            "category": EVENT_KINDS[event.kind][0], "clip_start": None, "clip_end": None, "split": split,
            "meta": json.dumps({"event": i, "kind": event.kind, "scene": scene_meta}, sort_keys=True),
        })
    return rows


def _render_one(args: tuple) -> list[dict]:
    config, split, index, out_dir = args
    scene = make_scene(config, split, index)
    video = f"videos/{scene.video_id}.mp4"
    write_video(scene, Path(out_dir) / video)
    return annotation_rows(scene, split, video)


def generate(config: SynthConfig, out_dir: str | Path, workers: int = 1) -> list[dict]:
    """Render every split into out_dir/videos and write out_dir/annotations.json (canonical records)."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    out_dir = Path(out_dir)
    jobs = [(config, split, i, str(out_dir)) for split, n in config.counts.items() for i in range(n)]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        rendered = pool.map(_render_one, jobs, chunksize=4)
        results = list(tqdm(rendered, total=len(jobs), desc="synth videos", unit="video"))
    rows = [row for result in results for row in result]
    (out_dir / "annotations.json").write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
    return rows
