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
