"""Video files' headers (PyAV), read without decoding: what annotation readers and frame extraction need."""

from __future__ import annotations

from pathlib import Path


def probe(path: str | Path) -> tuple[int, int, int, float]:
    """(height, width, frames, seconds) of the first video stream. Seconds: the stream's own duration first, as
    the container's includes audio, which often runs longer. Raises OSError or av.error.FFmpegError."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        else:
            seconds = (container.duration or 0) / 1_000_000  # container times are in microseconds
        return stream.codec_context.height, stream.codec_context.width, stream.frames, seconds


def probe_duration(path: str | Path) -> float | None:
    """Duration in seconds of the video stream, or None when the file is missing, unreadable or has no duration."""
    import av

    try:
        seconds = probe(path)[3]
    except (OSError, IndexError, av.error.FFmpegError):
        return None
    return seconds or None
