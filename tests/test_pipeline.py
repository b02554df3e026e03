"""End to end: the real DVC pipeline on a smoke profile, in a scratch copy of the project."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, run, scratch_project, set_params

pytestmark = pytest.mark.slow  # the whole pipeline in a scratch project: minutes


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    workspace = scratch_project(tmp_path_factory.mktemp("project"))
    run(["dvc", "repro"], workspace)
    return workspace


def test_repro_runs_every_stage_and_accounts_for_every_row(workspace):
    annotations = json.loads((workspace / "data/synth/annotations.json").read_text())
    report = json.loads((workspace / "data/prepared/report.json").read_text())
    assert report["rows_in"] == len(annotations) == report["kept"] + report["quarantined"]
    assert report["passed"] and (workspace / "data/prepared/data_docs/index.html").is_file()
    frames = json.loads((workspace / "data/frames/report.json").read_text())
    assert frames["rows_with_frames"] + frames["rows_excluded"] == report["kept"]
    index = pd.read_parquet(workspace / "data/frames/index.parquet")
    assert set(index["qid"]) == set(pd.read_parquet(workspace / "data/prepared/clean.parquet")["qid"])


def test_model_stages_score_select_and_evaluate(workspace):
    assert (workspace / "models/base/config.json").is_file()
    scores = pd.read_parquet(workspace / "data/scored/scores.parquet")
    pool = pd.read_parquet(workspace / "data/prepared/clean.parquet").query("split == 'pool'")
    assert len(scores) == len(pool) and scores["iou"].between(0, 1).all()
    assert (scores["difficulty"] == 100 * scores["iou"]).all()
    selected = pd.read_parquet(workspace / "data/selected/train.parquet")
    assert len(selected) <= 3 and set(selected["qid"]) <= set(scores["qid"])
    metrics = json.loads((workspace / "metrics/eval.json").read_text())
    test_rows = pd.read_parquet(workspace / "data/prepared/clean.parquet").query("split == 'test'")
    assert metrics["base"]["overall"]["count"] == len(test_rows)
    frames = json.loads((workspace / "data/frames/report.json").read_text())
    assert frames["spans_with_fewer_than_2_frames"] == 0 and frames["min_frames_in_a_span"] >= 2
    assert (workspace / "metrics/eval_bars.png").stat().st_size > 1000
    assert (workspace / "data/selected/iou_hist.png").stat().st_size > 1000


def test_sft_and_rl_rounds_train_refilter_and_are_evaluated(workspace):
    assert (workspace / "models/sft/config.json").is_file()
    first = json.loads((workspace / "data/rl/round1/report.json").read_text())
    second = json.loads((workspace / "data/rl/round2/report.json").read_text())
    assert first["rows_in"] == len(pd.read_parquet(workspace / "data/selected/train.parquet")) == 3
    assert first["steps"] == 2 and first["mean_reward"] is not None
    for report in (first, second):
        assert report["rows_in"] == report["kept"] + report["dropped_solved"] + report["dropped_hopeless"]
    assert second["rows_in"] == first["kept"]
    assert len(pd.read_csv(workspace / "data/rl/round1/curves.csv")) == 2
    for name in ("round1", "round2"):
        assert (workspace / f"models/rl/{name}/model.safetensors").is_file()
    metrics = json.loads((workspace / "metrics/eval.json").read_text())
    assert list(metrics) == ["prior", "base", "sft", "rl/round1", "rl/round2"]
    assert not metrics["base"]["cot"] and metrics["rl/round2"]["cot"]
    for name, entry in metrics.items():  # each asked again on another test video's frames, same keys
        assert set(entry["control"]) == set(entry["overall"]), name
        assert entry["control"]["count"] == entry["overall"]["count"]
    assert metrics["prior"]["control"] == metrics["prior"]["overall"]  # the prior never looks
    control = [json.loads(line) for line in (workspace / "metrics/predictions/rl_round2.control.jsonl").open()]
    assert [row["qid"] for row in control] == [row["qid"] for row in map(json.loads,
                                                 (workspace / "metrics/predictions/rl_round2.jsonl").open())]
    start, end = metrics["prior"]["span_fraction"]  # the reference fitted on the pretrain and pool splits
    assert 0 <= start < end <= 1 and metrics["prior"]["overall"]["count"] == metrics["base"]["overall"]["count"]


def test_metrics_show_prints_the_gate_report(workspace):
    shown = run(["dvc", "metrics", "show", "--json"], workspace).stdout
    assert '"rows_in"' in shown and '"videos_decoded"' in shown and '"R1@0.5"' in shown


def test_a_second_repro_changes_nothing(workspace):
    assert "Stage 'frames' didn't change" in run(["dvc", "repro"], workspace).stdout


def test_a_forced_rerun_of_the_cold_start_leaves_the_rl_rounds_cached(workspace):
    # the cold start is deterministic; its folder must be too (no wall-clock figures), or every round re-runs
    run(["dvc", "repro", "--force", "--single-item", "sft"], workspace)
    assert "rl@round1" not in run(["dvc", "status"], workspace).stdout


def test_an_execution_knob_invalidates_nothing_and_a_forced_rerun_of_frames_decodes_nothing(workspace):
    set_params(workspace, {"frames.workers": 1, "synth.workers": 1})  # how stages run, not what they compute
    assert "Data and pipelines are up to date" in run(["dvc", "status"], workspace).stdout
    out = run(["dvc", "repro", "--force", "--single-item", "frames"], workspace).stdout
    assert "Running stage 'frames'" in out
    frames = json.loads((workspace / "data/frames/report.json").read_text())
    assert frames["videos_decoded"] == 0 and frames["videos_cached"] > 0


def test_a_pipeline_killed_in_round_2_resumes_at_round_2(workspace):
    set_params(workspace, {"rl.grpo.learning_rate": 1.0e-3})  # both rounds are out of date now
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}
    repro = subprocess.Popen(["dvc", "repro"], cwd=workspace, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []
    for line in repro.stdout:
        seen.append(line)
        if "Running stage 'rl@round2'" in line:
            os.killpg(repro.pid, signal.SIGKILL)  # the node dies mid-round
            break
    repro.wait(timeout=60)
    assert any("Running stage 'rl@round1'" in line for line in seen), "".join(seen)[-2000:]
    out = run(["dvc", "repro"], workspace).stdout
    assert "Running stage 'rl@round1'" not in out and "Stage 'rl@round1' didn't change" in out
    assert "Running stage 'rl@round2'" in out


def test_a_clone_that_pulls_from_the_remote_reproduces_nothing_and_has_the_same_metrics(workspace, tmp_path):
    # what a colleague, a GPU node or CI does with a shared DVC remote (here a local folder; S3 for a team)
    run(["dvc", "remote", "add", "-d", "shared", str(tmp_path / "remote")], workspace)
    run(["git", "add", "-A"], workspace)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "pipeline"], workspace)
    run(["dvc", "push"], workspace)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(workspace), str(clone)], tmp_path)
    run(["dvc", "pull"], clone)
    assert "Data and pipelines are up to date" in run(["dvc", "status"], clone).stdout
    assert "Running stage" not in run(["dvc", "repro"], clone).stdout
    assert (clone / "metrics/eval.json").read_text() == (workspace / "metrics/eval.json").read_text()
    assert (clone / "models/rl/round2/model.safetensors").read_bytes() == \
        (workspace / "models/rl/round2/model.safetensors").read_bytes()


def test_a_failing_gate_fails_the_stage_with_counts(workspace):
    bad = [{"qid": f"b{i}", "video": "videos/none.mp4", "duration": 10.0, "start": 5.0, "end": 1.0,
            "query": "x", "source": "s", "split": "train"} for i in range(3)]
    (workspace / "data/extra").mkdir(exist_ok=True)
    (workspace / "data/extra/bad.json").write_text(json.dumps(bad))
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["prepare"]["inputs"].append({"path": "../extra/bad.json", "format": "canonical"})
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    done = run(["dvc", "repro", "prepare"], workspace, check=False)
    assert done.returncode != 0
    assert "GATE FAILED: 3 of" in done.stdout + done.stderr


def test_an_empty_split_or_training_set_stops_the_stage_naming_the_param(workspace, tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    params = (workspace / "params.yaml").read_text()
    (workspace / "params.yaml").write_text(params.replace("split: pool", "split: train"))  # a split no row has
    try:
        score = subprocess.run([sys.executable, "stages/score.py", "--clean", "data/prepared/clean.parquet",
                                "--frames", "data/frames", "--model", "models/base", "--out", str(tmp_path / "s")],
                               cwd=workspace, env=env, capture_output=True, text=True)
    finally:
        (workspace / "params.yaml").write_text(params)
    assert score.returncode == 1
    assert "score: split 'train' has no rows" in score.stderr and "set score.split" in score.stderr
    pd.DataFrame({"qid": ["no-such-row"]}).to_parquet(tmp_path / "empty.parquet")
    rl = subprocess.run([sys.executable, "stages/rl.py", "--round", "round2", "--init", "models/rl/round1", "--train",
                         str(tmp_path / "empty.parquet"), "--clean", "data/prepared/clean.parquet", "--frames",
                         "data/frames", "--model-out", str(tmp_path / "m"), "--out", str(tmp_path / "o")],
                        cwd=workspace, env=env, capture_output=True, text=True)
    assert rl.returncode == 1 and "nothing to train on" in rl.stderr and "rl.refilter" in rl.stderr


def test_no_stage_script_shadows_a_standard_library_module():
    # `python stages/X.py` puts stages/ first on sys.path: a stages/select.py once broke concurrent.futures.
    clashes = {path.stem for path in (REPO / "stages").glob("*.py")} & sys.stdlib_module_names
    assert not clashes, f"rename stages/{sorted(clashes)}: they hide the standard library's modules"
