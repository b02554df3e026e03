"""The README's "Running it on real data", followed as a new user would: real-format Charades-STA, TimeRFT and
TVGBench files around real MP4 files, a shrunk real-architecture checkpoint from `timerft.arch` on disk, CoT
replies written into `timerft cot-template`'s file, then `dvc repro` to the end."""

import json
import sys

import pandas as pd
import pytest

from conftest import run, scratch_project, set_params
from timerft.inference import read_jsonl, write_jsonl
from timerft.synth import SynthConfig, make_scene, write_video

pytestmark = pytest.mark.slow  # a whole dvc repro on a shrunk Qwen2.5-VL-3B: minutes


def real_format_files(root) -> None:
    """Three videos named like Charades ids and a pre-cut clip, all in one folder, and one annotation file per format
    around them (the json formats name `./videos/<file>`, Charades-STA the bare `<id>.mp4`)."""
    videos, durations = root, {}
    videos.mkdir(parents=True)
    for i, name in enumerate(["AB12C", "DE34F", "GH56I"]):
        scene = make_scene(SynthConfig(seed=11, duration_range=(10.0, 14.0)), "test", i)
        write_video(scene, videos / f"{name}.mp4")
        durations[name] = scene.duration
    clip = make_scene(SynthConfig(seed=12, duration_range=(5.0, 6.0)), "test", 0)  # a pre-cut clip of a source:
    write_video(clip, videos / "Zx9_00:00:40:000.mp4")  # its window, 40 s on, is the whole file
    annotations = root / "annotations"
    annotations.mkdir()
    (annotations / "charades_sta_train.txt").write_text(
        "AB12C 1.0 4.5##a person opens a door.\nDE34F 2.0 6.0##person sitting down in a chair.\n")
    (annotations / "Charades_v1_train.csv").write_text(
        "id,subject,length\n" + "".join(f"{name},s,{length:.2f}\n" for name, length in durations.items()))
    (annotations / "train_2k5.json").write_text(json.dumps([
        {"video": f"./videos/{name}.mp4", "duration": durations[name], "timestamp": [1.5, 5.0],
         "sentence": sentence, "qid": f"cosmo|{name}|{sentence}", "video_start": None, "video_end": None,
         "difficulty": 30.0, "pred": [1.0, 4.0]}
        for name, sentence in [("GH56I", "a person is laughing."), ("AB12C", "a person holds a cup.")]]
        + [{"video": "./videos/AB12C.mp4", "duration": 6.0, "timestamp": [1.0, 4.0], "sentence": "a door opens.",
            "qid": "cosmo|AB12C|window", "video_start": 2.0, "video_end": 8.0, "difficulty": 20.0, "pred": [0, 1]},
           {"video": "./videos/Zx9_00:00:40:000.mp4", "duration": clip.duration, "timestamp": [0.5, 2.5],
            "sentence": "a person waves.", "qid": "cosmo|Zx9|precut", "video_start": 40.0,
            "video_end": 40.0 + clip.duration, "difficulty": 20.0, "pred": [0, 1]}]))
    (annotations / "tvgbench.json").write_text(json.dumps([
        {"path": f"./videos/{name}.mp4", "question": sentence, "answer": "2.0-6.5", "start": None, "end": None,
         "duration": durations[name], "question_type": "video temporal grounding", "source": "charades",
         "dataset_name": "charades", "qsemtype": "Human Pose", "bins": {"videolen": 1}}
        for name, sentence in [("DE34F", "a person stands up."), ("GH56I", "a person sits down."),
                               ("AB12C", "a person walks away.")]]))


def test_the_real_data_steps_of_the_readme_reach_a_finished_dvc_repro(tmp_path):
    workspace = scratch_project(tmp_path / "project")
    real_format_files(tmp_path / "timer1")
    # the checkpoint on disk (here a random-init, shrunk Qwen2.5-VL-3B: the real architecture)
    run([sys.executable, "-m", "timerft.arch", "--size", "3b", "--layers", "1", "--vision-depth", "2",
         "--width-divisor", "8", "--vocab-size", "2048", "--dtype", "float32", "--out", "models/qwen-shrunk"],
        workspace)
    # README steps 1 and 4 ...
    files = {
        "prepare.input_root": str(tmp_path / "timer1" / "annotations"),
        "prepare.inputs": [{"path": "charades_sta_train.txt", "format": "charades",
                            "durations": "Charades_v1_train.csv"},
                           {"path": "train_2k5.json", "format": "timerft"},
                           {"path": "tvgbench.json", "format": "tvgbench"}],
        "prepare.video_root": str(tmp_path / "timer1"), "model.name": "models/qwen-shrunk"}
    set_params(workspace, files)
    # ... without step 3, the embedded default's splits: the first stage that reads one stops, naming it
    done = run(["dvc", "repro"], workspace, check=False)
    assert done.returncode != 0 and "split 'pool' has no rows" in done.stdout + done.stderr
    assert "set score.split in params.yaml" in done.stdout + done.stderr
    # step 3
    set_params(workspace, {
        "score.split": "train", "sft.split": "train", "evaluate.split": "test",
        "select.strategy": "random"})  # an untrained checkpoint scores IoU 0 everywhere
    # step 2: the same gate by hand
    gate = run(["timerft", "validate", str(tmp_path / "timer1/annotations/tvgbench.json"), "--video-root",
                str(tmp_path / "timer1"), "--out", "validation"], workspace)
    assert gate.returncode == 0 and "3 kept" in gate.stdout
    # step 5: the replies, written into the template of the training queries
    run(["dvc", "repro", "prepare"], workspace)
    report = json.loads((workspace / "data/prepared/report.json").read_text())
    assert report["quarantined"] == 0 and report["repairs"]["video_path_rebased"] == 7  # ./videos/<file> -> <file>
    run(["timerft", "cot-template", "--out", "data/cot/replies.jsonl"], workspace)
    rows = read_jsonl(workspace / "data/cot/replies.jsonl")
    assert len(rows) == 6 and {row["reply"] for row in rows} == {""}
    for row in rows:
        row["reply"] = f"<think>the event.</think><answer>{row['start']:.2f} to {row['end']:.2f}</answer>"
    write_jsonl(rows, workspace / "data/cot/replies.jsonl")
    set_params(workspace, {"sft.cot_jsonl": "data/cot/replies.jsonl"})
    # step 7
    run(["dvc", "repro"], workspace)
    assert (workspace / "data/synth/NOT_RENDERED.txt").is_file()  # the embedded benchmark is not rendered
    metrics = json.loads((workspace / "metrics/eval.json").read_text())
    assert list(metrics) == ["prior", "base", "sft", "rl/round1", "rl/round2"]
    assert metrics["sft"]["overall"]["count"] == 3
    assert (workspace / "models/base/config.json").is_file()  # a checkpoint this small is copied
    assert len(pd.read_parquet(workspace / "data/selected/train.parquet")) == 3  # select.k of the smoke profile
    windows = pd.read_parquet(workspace / "data/frames/index.parquet").set_index("qid")["window"]
    assert windows["cosmo|AB12C|window"] == "seek" and windows["cosmo|Zx9|precut"] == "whole"
    # the replies and the checkpoint are dependencies: editing them re-runs sft (and base)
    (workspace / "data/cot/replies.jsonl").write_text((workspace / "data/cot/replies.jsonl").read_text()
                                                      .replace("the event.", "the moment."))
    status = run(["dvc", "status", "sft"], workspace).stdout
    assert "data/cot" in status
    (workspace / "models/qwen-shrunk/generation_config.json").write_text("{}")
    assert "models/qwen-shrunk" in run(["dvc", "status", "base"], workspace).stdout
