"""What the Prefect flows share: DVC's own plan of a repro, one DVC command run with a timeout and a log tail,
the workspace lock and the `orchestration` defaults from params.yaml.

The DAG is never written down here: `plan()` asks DVC, with the same functions `dvc repro` calls
(`dvc.repo.reproduce.collect_stages`, `plan_repro` over `Repo.index.graph`), so foreach stages (`rl@round1`),
frozen stages and new stages come out in exactly the order `dvc repro` would run them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

TAIL_LINES = 40


class StageFailed(RuntimeError):
    """A DVC stage (or experiment) failed; the message names it and carries the tail of its output."""


def orchestration_params(workspace: str | Path):
    """The workspace's params `orchestration` section (typed, checked as the stages check theirs)."""
    from timerft.params import load_params

    return load_params("orchestration", Path(workspace) / "params.yaml")


def plan(workspace: str | Path, targets: list[str] | None = None) -> list[dict]:
    """The stages `dvc repro TARGETS` would visit, in its order: [{stage, metrics: [metric files]}]."""
    from dvc.repo import Repo
    from dvc.repo.reproduce import collect_stages, get_active_graph, plan_repro

    # DVC resolves targets against the working directory, as `dvc repro` run inside the workspace would
    with contextlib.chdir(workspace), Repo(str(workspace)) as repo:
        stages = collect_stages(repo, targets or ["dvc.yaml"])
        steps = plan_repro(get_active_graph(repo.index.graph), stages)
        return [{"stage": s.addressing, "metrics": [str(o.def_path) for o in s.outs if o.metric]} for s in steps]


def dvc_command(*args: str) -> list[str]:
    # The dvc next to this interpreter: a deployment's runner may not have .venv/bin on PATH.
    local = Path(sys.executable).with_name("dvc")
    return [str(local) if local.exists() else "dvc", *args]


def _env() -> dict:
    # Stage commands say `python ...`: make it this venv's python, and stream output as it comes.
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1"}


def _kill_group(proc: subprocess.Popen) -> None:
    """dvc runs the stage in a child shell: end the whole process group, politely first."""
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=grace)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def run_logged(cmd: list[str], cwd: str | Path, logger, timeout: float | None = None) -> tuple[int, list[str], bool]:
    """Run cmd, log every output line, return (exit code, output lines, timed out).

    The timeout is enforced here rather than with Prefect's task `timeout_seconds`: in Prefect 3.8 a sync task's
    timeout cannot interrupt a blocking wait outside the main thread, and it would not end dvc's children.
    """
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)
    timed_out = threading.Event()

    def expire():
        timed_out.set()
        _kill_group(proc)

    timer = threading.Timer(timeout, expire) if timeout else None
    lines = []
    try:
        if timer:
            timer.start()
        for line in proc.stdout:
            line = line.rstrip("\n").split("\r")[-1]  # a progress bar: keep its last state
            if line.strip():
                lines.append(line)
                logger.info(line)
        proc.wait()
    finally:
        if timer:
            timer.cancel()
        if proc.poll() is None:  # cancelled or interrupted: never leave a stage running behind
            _kill_group(proc)
    return proc.returncode, lines, timed_out.is_set()


def tail(lines: list[str], count: int = TAIL_LINES) -> str:
    return "\n".join(lines[-count:])


@contextlib.contextmanager
def workspace_lock(workspace: str | Path, logger):
    """One flow run at a time per workspace (two `dvc repro` in one workspace would fight over its outputs).

    DVC's own lock (.dvc/tmp/lock) makes a second dvc command fail at once; this one makes a second flow run
    wait instead. The OS releases it when the process dies, so a killed run never leaves it behind.
    """
    path = Path(workspace) / ".dvc" / "tmp" / "prefect-flow.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("another flow run holds %s: waiting for it", path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
