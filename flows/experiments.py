"""Prefect flow `timerft-experiments`: run a list of param-override sets as DVC experiments and publish a
comparison table (artifact `experiments`) built from `dvc exp show --json`.

Each set is queued with `dvc exp run --queue -n NAME -S k=v ...`, then `dvc exp run --run-all` runs the queue and
waits for it. Why the queue rather than `dvc exp run -S` one after another in the workspace: a workspace run
leaves its overrides in params.yaml, so the next set would silently inherit them, and it replaces the
workspace's outputs; a queued experiment starts from the same baseline (HEAD plus the workspace's uncommitted
changes) in a temporary copy, restores unchanged stages from the DVC cache and leaves the workspace as it was.
`--run-all` blocks until the queue is empty (plain `dvc queue start` returns at once). It needs a Git repository
with a commit, runs anything else already queued too, and exits 0 even when an experiment fails, so the flow
reads each experiment's state from `dvc exp show --json` and fails when one did.

    python flows/experiments.py -S select.k=60 -S select.k=120 -S 'select.strategy=band select.k=80'
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact

from timerft.orchestration.dvcflow import StageFailed, dvc_command, run_logged, tail, workspace_lock

REPO = Path(__file__).resolve().parents[1]  # the default workspace: the project this file belongs to

MAX_DEPTH = 3  # metric leaves at most this deep: headline numbers; per-category breakdowns stay in `dvc exp show`


def _dvc(workspace: str, *args: str) -> list[str]:
    code, lines, _ = run_logged(dvc_command(*args), workspace, get_run_logger())
    if code != 0:
        raise StageFailed(f"`dvc {' '.join(args)}` exited with code {code}:\n{tail(lines)}")
    return lines


@task
def queue_experiment(workspace: str, name: str, overrides: list[str], targets: list[str]) -> None:
    _dvc(workspace, "exp", "run", "--queue", "-n", name, *[arg for o in overrides for arg in ("-S", o)], *targets)


@task
def run_queue(workspace: str, jobs: int) -> None:
    _dvc(workspace, "exp", "run", "--run-all", "-j", str(jobs))


@task
def show(workspace: str) -> list[dict]:
    import subprocess

    done = subprocess.run(dvc_command("exp", "show", "--json"), cwd=workspace, capture_output=True, text=True)
    if done.returncode != 0:
        raise StageFailed(f"`dvc exp show --json` failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def _flatten(tree, prefix: str = "", depth: int = 0) -> dict:
    if isinstance(tree, dict) and depth < MAX_DEPTH:
        out = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key), depth + 1))
        return out
    return {} if isinstance(tree, (dict, list)) else {prefix: tree}


def _param(params: dict, override: str):
    """The value of an override's key (`[file:]a.b.c=value`) in an experiment's params."""
    key = override.split("=", 1)[0]
    file, _, dotted = key.rpartition(":")
    node = (params.get(file or "params.yaml") or {}).get("data") or {}
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def comparison(shown: list[dict], names: list[str], override_sets: list[list[str]]) -> list[dict]:
    """Rows: the baseline and each named experiment; columns: status, the overridden params, the metrics that
    differ between rows."""
    baseline = next(entry for entry in shown if entry["rev"] != "workspace")
    found = {}
    for group in baseline.get("experiments") or []:
        for rev in group["revs"]:
            found[rev["name"]] = (rev, (group.get("executor") or {}).get("state"))
    entries = [(f"baseline {baseline['rev'][:7]}", baseline, "success")]
    entries += [(name, *found.get(name, ({"data": {}}, "missing"))) for name in names]
    keys = list(dict.fromkeys(o.split("=", 1)[0] for overrides in override_sets for o in overrides))
    rows, metrics = [], []
    for name, entry, state in entries:
        data = entry.get("data") or {}
        status = "failed" if entry.get("error") else (state or "success")
        rows.append({"experiment": name, "status": status,
                     **{key: _param(data.get("params") or {}, f"{key}=") for key in keys}})
        metrics.append({f"{file}:{leaf}": value for file, content in (data.get("metrics") or {}).items()
                        for leaf, value in _flatten(content.get("data") or {}).items()})
    # a failed experiment's metrics are its baseline's: compare only the runs that succeeded
    succeeded = [values for row, values in zip(rows, metrics) if row["status"] == "success"]
    for column in dict.fromkeys(column for values in succeeded for column in values):
        if len({json.dumps(values.get(column)) for values in succeeded}) > 1:  # only what changed
            for row, values in zip(rows, metrics):
                row[column] = values.get(column) if row["status"] == "success" else None
    return rows


def _log_tail(shown: list[dict], name: str) -> str:
    for entry in shown:
        for group in entry.get("experiments") or []:
            if group.get("name") == name:
                log = ((group.get("executor") or {}).get("local") or {}).get("log")
                if log and Path(log).is_file():
                    return tail(Path(log).read_text(errors="replace").splitlines())
    return "(no log)"


@flow(name="timerft-experiments")
def experiments(override_sets: list[list[str]], targets: list[str] | None = None, name_prefix: str | None = None,
                jobs: int = 1, workspace: str | None = None) -> list[dict]:
    """Run each override set as one DVC experiment and compare them.

    Args:
        override_sets: one list of `section.key=value` overrides per experiment,
            e.g. [["select.k=60"], ["select.k=120"]].
        targets: stages to reproduce in each experiment (with their upstream); empty: the whole pipeline.
        name_prefix: experiments are named PREFIX-1, PREFIX-2, ...; default: exp-<date>-<time>.
        jobs: experiments run at once (each in its own temporary copy); 1 on a small machine.
        workspace: the DVC project folder (a Git repository with a commit); default: this repository.
    """
    workspace = str(Path(workspace or REPO).resolve())
    prefix = name_prefix or time.strftime("exp-%Y%m%d-%H%M%S")
    names = [f"{prefix}-{i}" for i in range(1, len(override_sets) + 1)]
    with workspace_lock(workspace, get_run_logger()):
        for name, overrides in zip(names, override_sets):
            queue_experiment.with_options(task_run_name=f"queue-{name}")(workspace, name, overrides, targets or [])
        run_queue(workspace, jobs)
        shown = show(workspace)
    rows = comparison(shown, names, override_sets)
    sets = "; ".join(f"`{n}`: {' '.join(o)}" for n, o in zip(names, override_sets))
    create_table_artifact(rows, key="experiments", description=f"DVC experiments in {workspace}: {sets}")
    failed = [row["experiment"] for row in rows if row["status"] != "success"]
    if failed:
        raise StageFailed(f"experiment(s) {', '.join(failed)} did not succeed. Last lines of {failed[0]}'s log:\n"
                          + _log_tail(shown, failed[0]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-S", "--set", dest="sets", action="append", required=True,
                        help="one experiment: space-separated key=value overrides (repeat for more experiments)")
    parser.add_argument("--targets", nargs="*", help="stages to reproduce in each experiment; default: all")
    parser.add_argument("--name-prefix", help="experiment names PREFIX-1, PREFIX-2, ... (default: exp-DATE-TIME)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="experiments at once (default 1)")
    parser.add_argument("--workspace", help="DVC project folder (default: this repository)")
    args = parser.parse_args()
    experiments([shlex.split(s) for s in args.sets], targets=args.targets, name_prefix=args.name_prefix,
                jobs=args.jobs, workspace=args.workspace)


if __name__ == "__main__":
    main()
