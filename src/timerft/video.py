"""Video files: probing (frame extraction lands here with the frames stage)."""

from __future__ import annotations

from pathlib import Path


def probe_duration(path: str | Path) -> float | None:
    """Duration in seconds of the video stream (PyAV), or None when the file is missing or unreadable.

    The video stream's own duration comes first: the container's includes audio, which often runs longer.
    """
    import av

    try:
        with av.open(str(path)) as container:
            streams = container.streams.video
            if streams and streams[0].duration is not None and streams[0].time_base is not None:
                return float(streams[0].duration * streams[0].time_base)
            if container.duration is not None:
                return container.duration / 1_000_000  # container times are in microseconds
    except (OSError, av.error.FFmpegError):
        return None
    return None
