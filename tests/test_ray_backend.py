"""The ray inference backend (`inference.backend: ray`): a local Ray cluster of CPU actors answers exactly what the
local backend answers, row for row, a sample whose frames cannot be read is reported on its row, and an actor that
dies is restarted and its batch retried."""

import os

import numpy as np
import pandas as pd
import pytest

from conftest import PARAMS, REPO
from timerft.backends import LocalBackend, predictor
from timerft.frames import Sampling, extract, write_entry
from timerft.inference import asking
from timerft.model import ControlStore, SampleStore, control_partners
from timerft.params import Ray
from timerft.synth import SynthConfig, annotation_rows, make_scene, write_video

ray = pytest.importorskip("ray")

BASE = REPO / PARAMS.model.name  # the shipped tiny base, which the `base` stage copies
RAY = Ray(address=None, actors=2, gpus_per_actor=0)


def ask() -> dict:
    """score's question (params `inference`, no CoT), in batches of 3: the 8 samples are 3 + 3 + 2, so both actors
    get work and the last batch pads differently."""
    return {**asking(False, PARAMS.prompts, PARAMS.inference), "batch_size": 3}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """A pool of the smoke profile's size (4 SynthTVG videos, 2 queries each) decoded at the pipeline's sampling into
    a frames cache, the last sample's frames then lost; and the pool's control (another video's frames)."""
    folder = tmp_path_factory.mktemp("pool")
    config = SynthConfig.from_params(PARAMS.synth, counts={"pool": 4})
    sampling, rows, keys = Sampling.from_params(PARAMS.frames), [], []
    for index in range(4):
        scene = make_scene(config, "pool", index)
        write_video(scene, folder / f"{scene.video_id}.mp4")
        frames, timestamps = extract(folder / f"{scene.video_id}.mp4", sampling)
        write_entry(folder / "cache", scene.video_id, frames, timestamps)
        scene_rows = annotation_rows(scene, "pool", f"{scene.video_id}.mp4")
        rows += scene_rows
        keys += [scene.video_id] * len(scene_rows)
    table = pd.DataFrame(rows)
    store = SampleStore(table, pd.DataFrame({"qid": table["qid"], "frames": keys}), folder / "cache")
    control = ControlStore(store, control_partners(table["video"].tolist(), 0))
    lost = folder / "lost"
    lost.mkdir()
    store.keys[table["qid"].iloc[-1]] = "../lost/gone"  # its frames "failed" after the index was written
    return {"pool": store, "control": control}


@pytest.mark.slow  # 20 s: a local Ray cluster starts (4 s), 2 actors load the model (10 s)
def test_the_ray_backend_answers_what_the_local_backend_answers_row_for_row(stores, capsys):
    local = LocalBackend()(BASE, stores, **ask())
    with predictor("ray", RAY) as run:
        assert ray.is_initialized() and run.started  # no address: a local cluster, for the block only
        remote = run(BASE, stores, **ask())
    assert not ray.is_initialized()
    assert remote == local
    pool = remote["pool"]
    assert [row["qid"] for row in pool] == stores["pool"].table["qid"].tolist()
    assert all(isinstance(row["text"], str) and "error" not in row for row in pool[:-1])
    assert pool[-1]["text"] is None and pool[-1]["error"].startswith("FileNotFoundError")
    assert "pool: 1 of 8 samples could not be read" in capsys.readouterr().err
    assert len({(row["start"], row["end"]) for row in pool[:-1]}) > 1  # answers differ: equal rows mean something


@pytest.mark.slow  # 20 s, as above
def test_an_actor_that_dies_is_restarted_and_its_batch_retried(stores, tmp_path):
    from timerft.distributed import PredictWorker, RayBackend

    marker = tmp_path / "died-once"

    class DiesOnce(PredictWorker):  # defined here, so Ray ships it by value
        def __call__(self, batch):
            if not marker.exists():
                marker.touch()
                os._exit(1)  # the actor's process dies mid-batch, as on a lost node or an OOM kill
            return super().__call__(batch)

    with RayBackend(RAY, worker=DiesOnce) as run:
        remote = run(BASE, {"pool": stores["pool"]}, **ask())
    assert marker.exists()
    assert remote == LocalBackend()(BASE, {"pool": stores["pool"]}, **ask())


def test_an_unknown_backend_is_named():
    with pytest.raises(ValueError, match="inference.backend must be local or ray, not 'spark'"):
        with predictor("spark"):
            pass


def test_batches_are_the_local_ones():
    from timerft.inference import chunks

    assert chunks(7, 3) == [(0, 3), (3, 6), (6, 7)] and chunks(0, 3) == []
    assert np.array_equal(np.concatenate([np.arange(a, b) for a, b in chunks(10, 4)]), np.arange(10))
