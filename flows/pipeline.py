"""Prefect flow `timerft-pipeline`: the DVC pipeline, one Prefect task per DVC stage, in DVC's own order.

Each task runs `dvc repro --single-item <stage>`: the flow already walks the DAG in DVC's order (read from DVC,
see dvcflow.plan), so each task does exactly its stage, and its logs, retries, timing and failure belong to that
stage alone (`dvc repro <stage>` would re-check every upstream stage inside each task). A retry is safe: DVC
skips a stage whose inputs are unchanged. Tasks run one after another and the whole run holds a lock on the
workspace, because two `dvc repro` in one workspace must never overlap.

After `prepare`, `evaluate` and each `rl@<round>` the flow publishes table artifacts (see reports.py); a failed
stage publishes a markdown artifact and fails the flow with a message that names it and ends with its log.

    python flows/pipeline.py                      # the whole pipeline (a temporary Prefect server if none is set)
    python flows/pipeline.py --targets frames     # only what `dvc repro frames` would run
    python flows/pipeline.py --task-runner ray    # the frames decoded on Ray first (params inference.ray)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import task_run

from timerft.orchestration.dvcflow import (
    StageFailed,
    dvc_command,
    orchestration_params,
    plan,
    run_logged,
    tail,
    workspace_lock,
)
from timerft.orchestration.reports import publish_failure, publish_stage

REPO = Path(__file__).resolve().parents[1]  # the default workspace: the project this file belongs to


@task
def run_stage(workspace: str, stage: str, metrics: list[str], timeout_seconds: float | None) -> dict:
    """`dvc repro --single-item STAGE`; raises StageFailed (stage name + last 40 lines) when it fails."""
    logger = get_run_logger()
    command = dvc_command("repro", "--single-item", stage)
    started = time.monotonic()
    code, lines, timed_out = run_logged(command, workspace, logger, timeout_seconds)
    if code != 0 or timed_out:
        reason = f"timed out after {timeout_seconds} s" if timed_out else f"exited with code {code}"
        shown = " ".join(command[1:])
        publish_failure(stage, f"dvc {shown}", reason, lines[-40:], task_run.run_count)
        raise StageFailed(f"DVC stage '{stage}' failed: `dvc {shown}` {reason}. Last lines of its output:\n"
                          + tail(lines))
    try:
        keys = publish_stage(stage, workspace, metrics)
    except Exception as error:  # a report we cannot read must not fail a stage that succeeded
        logger.warning("no artifact for stage %s: %r", stage, error)
        keys = []
    ran = any(line.startswith(f"Running stage '{stage}'") for line in lines)
    return {"stage": stage, "ran": ran, "seconds": round(time.monotonic() - started, 1), "artifacts": keys}


@flow(name="timerft-pipeline")
def pipeline(targets: list[str] | None = None, retries: int | None = None, retry_delay_seconds: float | None = None,
             timeout_seconds: float | None = None, task_runner: str | None = None,
             workspace: str | None = None) -> list[dict]:
    """Run the DVC pipeline stage by stage.

    Args:
        targets: stages (or foreach groups such as `rl`) to reproduce with what they depend on; empty: all.
        retries: retries per stage; default: params.yaml `orchestration.retries`.
        retry_delay_seconds: wait before a retry; default: `orchestration.retry_delay_seconds`.
        timeout_seconds: limit for one attempt of one stage (null: none); default: `orchestration.timeout_seconds`.
        task_runner: `sequential` or `ray` (before `frames`, its videos are decoded into its cache by Ray tasks
            on the `inference.ray` cluster); default: `orchestration.task_runner`.
        workspace: the DVC project folder; default: the repository this file belongs to.
    """
    logger = get_run_logger()
    workspace = str(Path(workspace or REPO).resolve())
    config = orchestration_params(workspace)
    retries = config.retries if retries is None else retries
    delay = config.retry_delay_seconds if retry_delay_seconds is None else retry_delay_seconds
    timeout = config.timeout_seconds if timeout_seconds is None else timeout_seconds
    runner = (task_runner or config.task_runner).lower()
    if runner not in ("sequential", "ray"):
        raise ValueError(f"task_runner must be sequential or ray, not {runner!r}")
    results = []
    with workspace_lock(workspace, logger):
        steps = plan(workspace, targets)
        logger.info("DVC plan: %s", " -> ".join(step["stage"] for step in steps))
        for step in steps:
            if step["stage"] == "frames" and runner == "ray":
                from timerft.orchestration.scale import prewarm_frames  # optional: needs the `ray` extra

                prewarm_frames(workspace)
            stage_task = run_stage.with_options(name=f"stage-{step['stage']}", task_run_name=step["stage"],
                                                retries=retries, retry_delay_seconds=delay)
            results.append(stage_task(workspace, step["stage"], step["metrics"], timeout))
    summary = "\n".join(f"| `{r['stage']}` | {'ran' if r['ran'] else 'up to date'} | {r['seconds']} |" for r in results)
    create_markdown_artifact(f"| stage | result | seconds |\n|---|---|---|\n{summary}\n", key="pipeline-summary",
                             description=f"DVC stages run by this flow in {workspace}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="*", help="stages to reproduce (with their upstream); default: all")
    parser.add_argument("--retries", type=int, help="retries per stage (default: params.yaml orchestration.retries)")
    parser.add_argument("--retry-delay", type=float, help="seconds before a retry (default: orchestration)")
    parser.add_argument("--timeout", type=float, help="seconds per stage attempt (default: orchestration)")
    parser.add_argument("--task-runner", choices=["sequential", "ray"],
                        help="ray: decode the frames on the inference.ray cluster before the frames stage "
                             "(default: orchestration.task_runner)")
    parser.add_argument("--workspace", help="DVC project folder (default: this repository)")
    args = parser.parse_args()
    pipeline(targets=args.targets, retries=args.retries, retry_delay_seconds=args.retry_delay,
             timeout_seconds=args.timeout, task_runner=args.task_runner, workspace=args.workspace)


if __name__ == "__main__":
    main()
