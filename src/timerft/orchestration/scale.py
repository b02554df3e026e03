"""Optional scale-out (`orchestration.task_runner: ray`; `pip install -e '.[ray]'`): decode the frames of every
video on a Ray cluster before the `frames` stage runs. Ray is the one distributed engine: the same cluster, the
same `inference.ray` section, that `inference.backend: ray` runs the model inference on.

What this parallelises, and what it does not: DVC stages still run one at a time in one workspace (the flow's
lock and DVC's own lock see to it); Ray only spreads the decoding that `frames` would otherwise do on one
machine's `frames.workers` processes. Each Ray task decodes one (video, window) pair of the stage's own job list
straight into the stage's persisted cache (data/frames/cache, keyed by content hash and sampling params, with the
library's own `extract_window`), so `dvc repro frames` that follows finds them cached and only writes its index.
At most `frames.workers` tasks run at once, one CPU each; a task whose worker dies is retried (`RETRIES` times).

The cluster is `inference.ray.address`, or with null a local one started for the decoding and shut down after it
(`timerft.distributed.RayBackend`, the inference backend's own start and stop). On a multi-machine cluster the
nodes need the workspace at the same path (a shared filesystem). A video that fails is counted, not raised: the
`frames` stage tries it again and records the reason in failures.json. Scoring is not parallelised here: it is
model inference inside the `score` stage, which `inference.backend: ray` spreads.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from prefect import flow, get_run_logger

from timerft.distributed import RETRIES, RayBackend
from timerft.params import Params, load_all


def frame_jobs(workspace: str | Path) -> tuple[list[tuple], str, Params]:
    """The frames stage's (video path, start, end, sampling, tolerance) jobs, its cache folder and the params."""
    import pandas as pd

    from timerft.frames import Sampling, video_windows

    params = load_all(Path(workspace) / "params.yaml")
    sampling = Sampling.from_params(params.frames)
    video_root = Path(workspace) / params.prepare.video_root
    table = pd.read_parquet(Path(workspace) / "data/prepared/clean.parquet")
    # the frames stage's own (video, window) groups, so it finds every one of them cached
    jobs = [(str(video_root / video), start, end, sampling, params.frames.clip_tolerance_s)
            for video, start, end in video_windows(table)]
    return jobs, str(Path(workspace) / "data/frames/cache"), params


def decode_on_ray(jobs: list[tuple], cache: str, workers: int, logger) -> dict:
    """Every job into the cache on the Ray cluster this process is connected to, at most `workers` at once."""
    import ray
    from tqdm import tqdm

    from timerft.frames import extract_window

    decode = ray.remote(num_cpus=1, max_retries=RETRIES)(extract_window)
    totals = {"decoded": 0, "cached": 0, "failed": 0}
    todo, pending = iter(jobs), {}

    def submit(count: int) -> None:
        for path, start, end, sampling, tolerance in itertools.islice(todo, count):
            pending[decode.remote(path, start, end, sampling, cache, tolerance)] = path

    submit(workers)
    with tqdm(total=len(jobs), desc=f"frames (ray, {workers} tasks)", unit="video") as bar:
        while pending:
            [done], _ = ray.wait(list(pending), num_returns=1)
            path = pending.pop(done)
            try:
                result = ray.get(done)
            except ray.exceptions.RayError as error:  # an unexpected error, or a worker that died RETRIES times
                result = {"status": "failed", "reason": f"{type(error).__name__}: {error}"}
            if result["status"] == "failed":
                logger.warning("frames on Ray: %s failed (the frames stage retries it): %s", path, result["reason"])
            totals[result["status"]] += 1
            bar.update(1)
            submit(1)
    return totals


@flow(name="frames-on-ray")
def prewarm_frames(workspace: str) -> dict:
    """Decode every (video, window) of the frames stage into its cache on Ray (params `inference.ray`: the cluster;
    `frames.workers`: tasks at once); returns the counts of decoded, cached and failed ones."""
    logger = get_run_logger()
    jobs, cache, params = frame_jobs(workspace)
    workers = max(1, params.frames.workers)
    with RayBackend(params.inference.ray):  # joins inference.ray.address, or starts a local cluster for the block
        totals = decode_on_ray(jobs, cache, workers, logger)
    logger.info("frames on Ray: %s videos %s", len(jobs), totals)
    return totals
