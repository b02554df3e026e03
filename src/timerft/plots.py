"""Pictures a person reads faster than a table."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def frame_strip(frames: np.ndarray, timestamps: np.ndarray, path: str | Path, title: str = "",
                span: tuple[float, float] | None = None, columns: int = 8) -> Path:
    """A grid of frames labelled with their timestamps; frames inside `span` get a green frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = -(-len(frames) // columns)
    aspect = frames.shape[1] / frames.shape[2]
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.6, rows * 1.6 * aspect + 0.6), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, frame, time in zip(axes.flat, frames, timestamps):
        axis.imshow(frame)
        inside = span is not None and span[0] <= time <= span[1]
        axis.set_title(f"{time:.1f} s", fontsize=8, color="green" if inside else "black")
        if inside:
            axis.axis("on")
            axis.set_xticks([]), axis.set_yticks([])
            for side in axis.spines.values():
                side.set_edgecolor("green"), side.set_linewidth(3)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def iou_histogram(series: dict[str, np.ndarray], path: str | Path, title: str) -> Path:
    """Overlaid IoU histograms (0..1 in 20 bins), one per label."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for label, values in series.items():
        axis.hist(np.asarray(values, dtype=float), bins=np.linspace(0, 1, 21), alpha=0.55,
                  label=f"{label} (n={len(values)})")
    axis.set_xlabel("IoU"), axis.set_ylabel("samples"), axis.set_title(title), axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def metric_bars(results: dict[str, dict], path: str | Path, title: str) -> Path:
    """Grouped bars: R1@0.3, R1@0.5, R1@0.7 and mIoU for each model."""
    plt = _pyplot()
    metrics = ["R1@0.3", "R1@0.5", "R1@0.7", "mIoU"]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    width = 0.8 / max(1, len(results))
    for i, (model, values) in enumerate(results.items()):
        bars = axis.bar(np.arange(len(metrics)) + i * width, [values[m] for m in metrics], width, label=model)
        axis.bar_label(bars, fmt="%.1f", fontsize=7)
    axis.set_xticks(np.arange(len(metrics)) + width * (len(results) - 1) / 2, metrics)
    axis.set_ylabel("%"), axis.set_title(title), axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def control_bars(results: dict[str, dict], controls: dict[str, dict], path: str | Path, title: str,
                 metric: str = "mIoU") -> Path:
    """Per checkpoint, `metric` on the query's own video beside the same queries on another video's frames."""
    plt = _pyplot()
    names = list(results)
    x = np.arange(len(names))
    figure, axis = plt.subplots(figsize=(1.1 * len(names) + 2, 3.5))
    for offset, (label, source) in ((-0.2, ("own video", results)), (0.2, ("another video's frames", controls))):
        bars = axis.bar(x + offset, [source[name][metric] for name in names], 0.4, label=label)
        axis.bar_label(bars, fmt="%.1f", fontsize=7)
    axis.set_xticks(x, names, rotation=15)
    axis.set_ylabel(metric), axis.set_title(title), axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def training_curves(table, columns: list[str], path: str | Path, title: str) -> Path:
    """One small panel per column of `table` (a DataFrame with a `step` column) against the step."""
    plt = _pyplot()
    columns = [c for c in columns if c in table and table[c].notna().any()]
    figure, axes = plt.subplots(1, max(1, len(columns)), figsize=(3 * max(1, len(columns)), 2.6), squeeze=False)
    for axis, column in zip(axes[0], columns):
        axis.plot(table["step"], table[column], marker=".", linewidth=1)
        axis.set_title(column, fontsize=9), axis.set_xlabel("step", fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)
