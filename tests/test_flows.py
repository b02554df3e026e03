"""The Prefect flows (flows/) on the smoke profile, in a scratch copy of the project, against a temporary Prefect
server (prefect_test_harness). The scratch dvc.yaml gets three extra stages (flaky, broken, sleepy) to prove
retries, failures and timeouts; the repository's dvc.yaml is never touched."""

import json
import os
import shutil
import sys
import time

import pytest
import yaml

from conftest import REPO, run, scratch_project, set_params

pytestmark = pytest.mark.slow  # the whole pipeline in a scratch project: minutes

sys.path.insert(0, str(REPO / "flows"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from prefect import flow  # noqa: E402
from prefect.client.orchestration import get_client  # noqa: E402
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId  # noqa: E402
from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from experiments import experiments  # noqa: E402
from pipeline import pipeline  # noqa: E402
from timerft.orchestration import reports  # noqa: E402
from timerft.orchestration.dvcflow import StageFailed, plan  # noqa: E402

EXTRA_STAGES = {
    "flaky": {"cmd": "python flaky.py"},  # fails on its first call only
    "broken": {"cmd": "python -c \"print('broken: about to fail'); raise SystemExit(3)\""},
    "sleepy": {"cmd": "python sleepy.py"},
}
FLAKY = """import pathlib, sys
marker = pathlib.Path("flaky.marker")
if not marker.exists():
    marker.write_text("called")
    sys.exit("flaky: failing on the first call")
print("flaky: fine on the second call")
"""
SLEEPY = """import os, pathlib, time
pathlib.Path("sleepy.pid").write_text(str(os.getpid()))
time.sleep(120)
"""


@pytest.fixture(scope="session", autouse=True)
def prefect_server():
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    workspace = scratch_project(tmp_path_factory.mktemp("flows"))
    dvc_yaml = yaml.safe_load((workspace / "dvc.yaml").read_text())
    dvc_yaml["stages"].update(EXTRA_STAGES)
    (workspace / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml, sort_keys=False))
    (workspace / "flaky.py").write_text(FLAKY)
    (workspace / "sleepy.py").write_text(SLEEPY)
    return workspace


@pytest.fixture(scope="module")
def smoke_run(workspace):
    """The pipeline flow over the whole smoke pipeline (everything `evaluate` needs: data to the rl rounds)."""
    return pipeline(targets=["evaluate"], retries=0, workspace=str(workspace), return_state=True)


def artifacts(state) -> dict:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    return {artifact.key: artifact for artifact in found}


def table(artifact) -> list[dict]:
    return json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data


def task_runs(state) -> dict:
    with get_client(sync_client=True) as client:
        found = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(
            any_=[state.state_details.flow_run_id])))
    return {task_run.name: task_run for task_run in found}


def test_the_plan_is_dvcs_own_with_every_stage_after_its_dependencies(workspace):
    order = [step["stage"] for step in plan(workspace)]
    listed = run(["dvc", "stage", "list", "--name-only"], workspace).stdout.split()
    assert sorted(order) == sorted(listed) and "rl@round1" in order and "rl@round2" in order
    for before, after in [("data", "prepare"), ("prepare", "frames"), ("base", "score"), ("select", "rl@round1"),
                          ("sft", "rl@round1"), ("rl@round1", "rl@round2"), ("rl@round2", "evaluate")]:
        assert order.index(before) < order.index(after)
    assert [step["stage"] for step in plan(workspace, ["frames"])] == ["data", "prepare", "frames"]
    assert plan(workspace, ["rl@round1"])[-1] == {"stage": "rl@round1", "metrics": ["data/rl/round1/report.json"]}


def test_the_flow_runs_the_stages_in_order_and_their_outputs_exist(workspace, smoke_run):
    assert smoke_run.is_completed(), smoke_run.message
    results = smoke_run.result()
    order = [step["stage"] for step in plan(workspace, ["evaluate"])]
    assert [r["stage"] for r in results] == order and order[-1] == "evaluate" and all(r["ran"] for r in results)
    assert set(task_runs(smoke_run)) == set(order)
    assert (workspace / "data/prepared/clean.parquet").is_file()
    frames = json.loads((workspace / "data/frames/report.json").read_text())
    assert frames["rows_with_frames"] > 0 and frames["videos_failed"] == 0
    assert (workspace / "models/rl/round2/config.json").is_file()
    entries = set(json.loads((workspace / "metrics/eval.json").read_text()))
    assert entries == {"prior", "base", "sft", "rl/round1", "rl/round2"}
    again = pipeline(targets=["evaluate"], retries=0, workspace=str(workspace))  # a re-run skips every stage
    assert not any(r["ran"] for r in again)


def test_evaluate_and_each_rl_round_publish_their_tables(workspace, smoke_run):
    found = artifacts(smoke_run)
    assert {"eval-metrics", "rl-round1", "rl-round2"} <= set(found)
    metrics = json.loads((workspace / "metrics/eval.json").read_text())
    rows = {row["checkpoint"]: row for row in table(found["eval-metrics"])}
    assert set(rows) == set(metrics) and rows["sft"]["mIoU"] == metrics["sft"]["overall"]["mIoU"]
    report = json.loads((workspace / "data/rl/round2/report.json").read_text())
    assert {row["metric"]: row["value"] for row in table(found["rl-round2"])}["kept"] == report["kept"]


def test_the_data_quality_artifact_holds_the_gate_report(workspace, smoke_run):
    found = artifacts(smoke_run)
    assert {"data-quality", "pipeline-summary"} <= set(found)
    report = json.loads((workspace / "data/prepared/report.json").read_text())
    rows = {(row["kind"], row["name"]): row["count"] for row in table(found["data-quality"])}
    assert rows[("total", "rows_in")] == report["rows_in"] and rows[("total", "kept")] == report["kept"]
    assert all(rows[("kept_per_split", split)] == n for split, n in report["kept_per_split"].items())
    docs = workspace / "data/prepared/data_docs/index.html"
    assert docs.is_file() and str(docs.resolve()) in found["data-quality"].description
    assert "`frames` | ran" in found["pipeline-summary"].data and "`rl@round2` | ran" in found["pipeline-summary"].data


def test_eval_and_rl_artifacts_take_whatever_keys_the_reports_have(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "data/rl/round1").mkdir(parents=True)
    overall = {"R1@0.3": 40.0, "R1@0.5": 20.0, "R1@0.7": 5.0, "mIoU": 30.5, "count": 10, "unparseable": 0,
               "distinct_answers": 7}
    (tmp_path / "metrics/eval.json").write_text(json.dumps({"base": {"overall": overall, "by_category": {}},
                                                            "rl/round1": {"overall": {**overall, "mIoU": 33.0}}}))
    rl = {"round": "round1", "rows_in": 3, "kept": 2, "dropped_solved": 1, "mean_reward": 0.5, "new_key": [1, 2]}
    (tmp_path / "data/rl/round1/report.json").write_text(json.dumps(rl))

    @flow
    def publish():
        return (reports.publish_stage("evaluate", tmp_path, ["metrics/eval.json"])
                + reports.publish_stage("rl@round1", tmp_path, ["data/rl/round1/report.json"]))

    state = publish(return_state=True)
    assert state.result() == ["eval-metrics", "rl-round1"]
    found = artifacts(state)
    assert table(found["eval-metrics"]) == [{"checkpoint": "base", **{k: overall[k] for k in reports.EVAL_COLUMNS}},
                                            {"checkpoint": "rl/round1", **{k: overall[k] for k in reports.EVAL_COLUMNS},
                                             "mIoU": 33.0}]
    assert {row["metric"]: row["value"] for row in table(found["rl-round1"])} == {**rl, "new_key": "[1, 2]"}


def test_a_stage_that_fails_once_is_retried_and_the_flow_completes(workspace):
    state = pipeline(targets=["flaky"], retries=1, retry_delay_seconds=0, workspace=str(workspace), return_state=True)
    assert state.is_completed(), state.message
    assert task_runs(state)["flaky"].run_count == 2
    assert (workspace / "flaky.marker").is_file()


def test_a_stage_that_always_fails_fails_the_flow_naming_the_stage_and_its_log(workspace):
    state = pipeline(targets=["broken"], retries=1, retry_delay_seconds=0, workspace=str(workspace), return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, StageFailed)
    assert "DVC stage 'broken' failed" in str(error) and "broken: about to fail" in str(error)
    assert "'broken'" in state.message
    assert task_runs(state)["broken"].run_count == 2
    failure = artifacts(state)["failed-broken"]
    assert "broken: about to fail" in failure.data and "exited with code" in failure.data


def test_a_stage_past_its_timeout_is_killed_and_fails_the_flow(workspace):
    started = time.monotonic()
    state = pipeline(targets=["sleepy"], retries=0, timeout_seconds=3, workspace=str(workspace), return_state=True)
    assert state.is_failed() and time.monotonic() - started < 60
    assert "DVC stage 'sleepy' failed" in state.message and "timed out after 3" in state.message
    pid = int((workspace / "sleepy.pid").read_text())
    for _ in range(50):  # the stage's own process is gone, not only dvc
        if not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z":
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the stage process {pid} survived its timeout")


def test_a_second_flow_run_waits_for_the_one_holding_the_workspace(workspace, smoke_run):
    import fcntl
    import threading

    holder = open(workspace / ".dvc/tmp/prefect-flow.lock", "w")  # as another flow run in this workspace would
    fcntl.flock(holder, fcntl.LOCK_EX)
    threading.Timer(3, holder.close).start()  # closing releases the lock
    started = time.monotonic()
    state = pipeline(targets=["data"], retries=0, workspace=str(workspace), return_state=True)
    assert state.is_completed() and time.monotonic() - started >= 3


def test_ray_runner_extracts_the_frames_before_the_frames_stage(workspace):
    pytest.importorskip("ray")  # the optional `ray` extra
    shutil.rmtree(workspace / "data/frames/cache", ignore_errors=True)  # nothing decoded is left ...
    set_params(workspace, {"frames.fps": 1.0})  # ... and the frames stage is out of date
    state = pipeline(targets=["frames"], retries=0, task_runner="ray", workspace=str(workspace), return_state=True)
    assert state.is_completed(), state.message
    cached = list((workspace / "data/frames/cache").glob("*.times.npy"))
    report = json.loads((workspace / "data/frames/report.json").read_text())
    assert report["videos_decoded"] == 0 and report["videos_cached"] == len(cached) > 0  # Ray decoded them all
    assert json.loads((workspace / "data/frames/failures.json").read_text()) == []


def test_ray_frames_count_a_video_that_fails_instead_of_raising(tmp_path):
    pytest.importorskip("ray")
    import logging

    from conftest import PARAMS
    from timerft.distributed import RayBackend
    from timerft.frames import Sampling
    from timerft.orchestration.scale import decode_on_ray
    from timerft.params import Ray
    from timerft.synth import SynthConfig, make_scene, write_video

    scene = make_scene(SynthConfig.from_params(PARAMS.synth, counts={"pool": 1}), "pool", 0)
    video = tmp_path / "video.mp4"
    write_video(scene, video)
    sampling, cache, logger = Sampling.from_params(PARAMS.frames), str(tmp_path / "cache"), logging.getLogger()
    jobs = [(str(video), None, None, sampling, 0.5), (str(tmp_path / "missing.mp4"), None, None, sampling, 0.5),
            (str(video), None, None, None, 0.5)]  # no sampling: the task itself raises
    with RayBackend(Ray(address=None, actors=1, gpus_per_actor=0)):
        assert decode_on_ray(jobs, cache, 2, logger) == {"decoded": 1, "cached": 0, "failed": 2}
        assert decode_on_ray(jobs[:1], cache, 2, logger) == {"decoded": 0, "cached": 1, "failed": 0}


def test_experiments_flow_runs_each_override_set_and_compares_them(workspace, smoke_run):
    run(["git", "add", "-A"], workspace)  # experiments start from a commit
    run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", "baseline"], workspace)
    overrides = [["prepare.max_quarantine_fraction=0.1"], ["prepare.max_quarantine_fraction=0.2"]]
    state = experiments(override_sets=overrides,
                        targets=["prepare"], name_prefix="qf", workspace=str(workspace), return_state=True)
    assert state.is_completed(), state.message
    rows = table(artifacts(state)["experiments"])
    assert [row["experiment"] for row in rows][1:] == ["qf-1", "qf-2"]
    assert [row["status"] for row in rows] == ["success"] * 3
    assert [row["prepare.max_quarantine_fraction"] for row in rows] == [0.05, 0.1, 0.2]
    assert [row["data/prepared/report.json:max_quarantine_fraction"] for row in rows] == [0.05, 0.1, 0.2]
    assert "rows_in" not in " ".join(rows[0])  # only the metrics that changed
    assert "qf-1" in run(["dvc", "exp", "show", "--json"], workspace).stdout


def test_the_nightly_deployment_gets_runs_on_its_cron_schedule():
    import httpx
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    from serve import deployments

    nightly, on_demand = deployments(cron="0 3 * * *", timezone="UTC")
    deployment_id = nightly.apply()
    assert on_demand.apply()
    with get_client(sync_client=True) as client:
        # what the server's scheduler service does every minute, asked for at once
        httpx.post(f"{client.api_url}deployments/{deployment_id}/schedule", json={"min_runs": 3}).raise_for_status()
        only_this = DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        scheduled = client.read_flow_runs(deployment_filter=only_this)
    assert len(scheduled) >= 3 and all(run.state.is_scheduled() for run in scheduled)
    assert {(run.expected_start_time.hour, run.expected_start_time.minute) for run in scheduled} == {(3, 0)}


def test_prefect_yaml_deploys_the_two_flows_on_a_schedule():
    from prefect.flows import load_flow_from_entrypoint

    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    flows = {d["name"]: load_flow_from_entrypoint(str(REPO / d["entrypoint"])).name for d in config["deployments"]}
    assert flows == {"nightly": "timerft-pipeline", "on-demand": "timerft-experiments"}
    assert config["deployments"][0]["schedules"][0]["cron"] == "0 3 * * *"
