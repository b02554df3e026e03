"""The `base` stage: a small checkpoint folder is copied, a large one named with its files' sha256."""

import json
import subprocess
import sys

from conftest import REPO


def run_base(workspace, name):
    params = (REPO / "params.yaml").read_text().replace("name: assets/tiny-base", f"name: {name}")
    (workspace / "params.yaml").write_text(params)
    return subprocess.run([sys.executable, str(REPO / "stages" / "base.py"), "--out", "models/base"], cwd=workspace,
                          capture_output=True, text=True)


def test_a_large_checkpoint_is_named_with_the_sha256_of_each_file(tmp_path):
    folder = tmp_path / "models" / "big"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    with (folder / "model.safetensors").open("wb") as handle:
        handle.truncate(257 * 2**20)  # sparse: past the copy limit without writing it
    assert run_base(tmp_path, "models/big").returncode == 0
    pointer = json.loads((tmp_path / "models/base/checkpoint.json").read_text())
    assert pointer["checkpoint"] == "models/big" and set(pointer["sha256"]) == {"config.json", "model.safetensors"}
    before = pointer["sha256"]["model.safetensors"]
    with (folder / "model.safetensors").open("r+b") as handle:
        handle.write(b"x")  # changed weights of the same size ...
    run_base(tmp_path, "models/big")
    after = json.loads((tmp_path / "models/base/checkpoint.json").read_text())["sha256"]["model.safetensors"]
    assert after != before  # ... change models/base, so what depends on it re-runs


def test_a_name_that_is_no_model_folder_stops_the_stage_saying_what_to_do(tmp_path):
    done = run_base(tmp_path, "Qwen/Qwen2.5-VL-7B-Instruct")
    assert done.returncode == 1 and "no HF model folder" in done.stderr and "hf download" in done.stderr
