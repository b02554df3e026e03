"""Optional scale-out (`orchestration.task_runner: dask`; `pip install -e '.[dask]'`): decode the frames of every
video on a Dask cluster before the `frames` stage runs.

What this parallelises, and what it does not: DVC stages still run one at a time in one workspace (the flow's
lock and DVC's own lock see to it); Dask only spreads the decoding that `frames` would otherwise do on one
machine's `frames.workers` processes. Each Dask task decodes a batch of (video, window) pairs straight into the
stage's persisted cache (data/frames/cache, keyed by content hash and sampling params, with the library's own
functions), so `dvc repro frames` that follows finds them cached and only writes its index. On a multi-machine
cluster the workers need the workspace on a shared filesystem. Scoring is not parallelised: it is model inference
inside the `score` stage, which would need a shard option in stages/score.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from prefect import flow, get_run_logger, task, unmapped


@task
def decode_batch(jobs: list[tuple], cache: str) -> dict:
    """Decode a batch of (video path, start, end, sampling) into the cache, as the frames stage would; failures are
    left to the stage, which retries them and records the reason in failures.json."""
    from timerft.frames import extract_window

    counts = {"decoded": 0, "cached": 0, "failed": 0}
    for path, start, end, sampling, tolerance in jobs:
        counts[extract_window(path, start, end, sampling, cache, tolerance)["status"]] += 1
    return counts


@flow(name="frames-on-dask")
def _prewarm(workspace: str, batches: int) -> dict:
    import pandas as pd

    from timerft.frames import Sampling, video_windows
    from timerft.params import load_all

    params = load_all(Path(workspace) / "params.yaml")
    sampling = Sampling.from_params(params.frames)
    video_root = Path(workspace) / params.prepare.video_root
    table = pd.read_parquet(Path(workspace) / "data/prepared/clean.parquet")
    # the frames stage's own (video, window) groups, so it finds every one of them cached
    jobs = [(str(video_root / video), start, end, sampling, params.frames.clip_tolerance_s)
            for video, start, end in video_windows(table)]
    cache = str(Path(workspace) / "data/frames/cache")
    futures = decode_batch.map([jobs[i::batches] for i in range(batches)], cache=unmapped(cache))
    totals = {"decoded": 0, "cached": 0, "failed": 0}
    for future in futures:
        for name, count in future.result().items():
            totals[name] += count
    get_run_logger().info("frames on Dask: %s videos %s", len(jobs), totals)
    return totals


def prewarm_frames(workspace: str, dask) -> dict:
    """Decode every video on a Dask cluster (`dask`: params orchestration.dask: an address, or a local cluster)."""
    from prefect import get_client
    from prefect_dask import DaskTaskRunner

    # Without PREFECT_API_URL this run talks to a temporary server; point the local workers at it too, or each
    # worker process would start (and report to) a temporary server of its own.
    if not os.environ.get("PREFECT_API_URL"):
        with get_client(sync_client=True) as client:
            os.environ["PREFECT_API_URL"] = str(client.api_url)
    address, workers = dask.address, dask.n_workers
    runner = (DaskTaskRunner(address=address) if address else
              DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True}))
    return _prewarm.with_options(task_runner=runner)(workspace, batches=4 * workers)
