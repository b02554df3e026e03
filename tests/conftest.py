import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from timerft.frames import Sampling, extract
from timerft.model import Sample
from timerft.params import Tiny, load_all
from timerft.prompts import target_text
from timerft.synth import SynthConfig, make_scene, write_video
from timerft.tiny import build_tiny

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TIMERFT_SHARED_DATA", REPO.parent / "shared" / "data" / "timer1"))

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("WANDB_MODE", "disabled")

# the tiny model and one short SynthTVG video, shared by the model, RL and TempSamp tests
TEMPLATE = 'When does "{query}" happen? Answer as <answer>start to end</answer>.'
SPEC = Tiny(arch="qwen2_5_vl", vocab_size=300, tokens_per_second=2, min_pixels=3136, max_pixels=3136,
            text={"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                  "num_key_value_heads": 2},
            vision={"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2})
SMALL = Sampling(fps=2.0, max_frames=16, min_pixels=3136, max_pixels=3136, total_pixels=16 * 3136)
PARAMS = load_all(REPO / "params.yaml")  # the project's own params, which tests change with dataclasses.replace


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    texts = ["the red square appears", "the figure raises its arms", TEMPLATE, target_text(12.34, 56.78)]
    build_tiny(SPEC, texts, folder)
    return folder


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    scene = make_scene(SynthConfig(seed=1, duration_range=(8.0, 12.0)), "test", 0)
    path = tmp_path_factory.mktemp("video") / "v.mp4"
    write_video(scene, path)
    frames, timestamps = extract(path, SMALL)
    event = scene.events[0]
    return Sample("q0", event.query, frames, timestamps, scene.duration, event.start, event.end)


# the end-to-end tests' scratch project on the smoke profile (test_pipeline, test_flows)
SMOKE = {"synth.counts": {"pretrain": 4, "pool": 4, "test": 2}, "synth.duration_range": [20.0, 24.0],
         "select.strategy": "random", "select.k": 3, "inference.max_new_tokens": 8,
         "inference.max_new_tokens_cot": 16, "sft.samples": 4, "sft.epochs": 1, "sft.batch_size": 4,
         "rl.grpo.num_generations": 2, "rl.grpo.max_steps": 2, "rl.grpo.max_completion_length": 16,
         # keep every row for round 2: a smoke-sized round 1 seldom leaves one with 0 < IoU <= 0.7
         "rl.refilter": {"low": -1.0, "high": 1.0}, "tracking.wandb": "disabled"}


def run(cmd, cwd, check=True):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=900)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def set_params(workspace: Path, overrides: dict) -> None:
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    for dotted, value in overrides.items():
        *parents, key = dotted.split(".")
        node = params
        for parent in parents:
            node = node[parent]
        node[key] = value
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def scratch_project(workspace: Path) -> Path:
    """A copy of the project's code and pipeline in WORKSPACE, on the smoke profile, as a Git + DVC repository."""
    for name in ("src", "stages", "assets", "data/cot"):
        shutil.copytree(REPO / name, workspace / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, workspace / name)
    set_params(workspace, SMOKE)
    run(["git", "init", "-q"], workspace)
    run(["dvc", "init", "-q"], workspace)
    return workspace


@pytest.fixture
def write(tmp_path):
    """write(name, content): a file in tmp_path; dicts and lists are written as JSON."""

    def _write(name: str, content) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, (bytes, bytearray)):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else json.dumps(content))
        return path

    return _write


def timerft_record(**overrides):
    record = {
        "video": "./videos/abc.mp4", "duration": 30.0, "timestamp": [2.0, 8.5],
        "sentence": "a person opens a door.", "qid": "my|cosmo|abc|a person opens a door.",
        "video_start": None, "video_end": None, "difficulty": 40.0, "pred": [1.0, 7.0],
    }
    record.update(overrides)
    return record


def tvgbench_record(**overrides):
    record = {
        "path": "./videos/KWZSA.mp4", "question": "a person was sitting at a table.", "answer": "13.4-28.1",
        "start": None, "end": None, "duration": 30.12, "question_type": "video temporal grounding",
        "source": "raw/Charades_sta_test.json", "dataset_name": "charades", "qsemtype": "Human Pose",
        "bins": {"videolen": 1, "dataset": "charades", "qsemtype": "HP"},
    }
    record.update(overrides)
    return record
