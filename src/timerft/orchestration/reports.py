"""Prefect artifacts built from the pipeline's own report files: the data-quality gate after `prepare`, the
evaluation after `evaluate`, one table per RL round after `rl@<round>`, and the tail of a failed stage's log.

The row builders are plain functions of the JSON (tested without Prefect); they keep whatever keys a report has,
so a report that grows a key shows it without a change here. Artifact keys must be lowercase letters, digits
and dashes: `slug()` makes them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from prefect.artifacts import create_markdown_artifact, create_table_artifact

QUALITY_TOTALS = ("rows_in", "kept", "repaired", "quarantined")
EVAL_COLUMNS = ("R1@0.3", "R1@0.5", "R1@0.7", "mIoU", "count", "distinct_answers")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _cell(value):
    # Tables hold scalars; a nested value is shown as compact JSON rather than dropped.
    return value if value is None or isinstance(value, (str, int, float, bool)) else json.dumps(value)


def quality_rows(report: dict) -> list[dict]:
    """totals, then each quarantine reason and repair with its count, then rows kept per split."""
    rows = [{"kind": "total", "name": key, "count": report[key]} for key in QUALITY_TOTALS if key in report]
    for kind, field in (("quarantined", "reasons"), ("repaired", "repairs"), ("kept_per_split", "kept_per_split")):
        rows += [{"kind": kind, "name": name, "count": count} for name, count in (report.get(field) or {}).items()]
    return rows


def eval_rows(metrics: dict) -> list[dict]:
    """One row per checkpoint (base, sft, rl/round1, ...) with its overall R1@m and mIoU."""
    rows = []
    for checkpoint, result in metrics.items():
        overall = result.get("overall", result) if isinstance(result, dict) else {}
        rows.append({"checkpoint": checkpoint, **{c: overall.get(c) for c in EVAL_COLUMNS if c in overall}})
    return rows


def rl_rows(report: dict) -> list[dict]:
    """Every key of a round's report, whatever they are (rows_in, kept, dropped_*, mean_reward, ...)."""
    return [{"metric": key, "value": _cell(value)} for key, value in report.items()]


def publish_stage(stage: str, workspace: str | Path, metrics: list[str]) -> list[str]:
    """The artifact(s) of a stage that just succeeded (or was up to date); returns their keys."""
    kind, _, item = stage.partition("@")
    reports = [Path(workspace) / path for path in metrics if (Path(workspace) / path).is_file()]
    if not reports:
        return []
    report = reports[0]
    data = json.loads(report.read_text())
    if kind == "prepare":
        docs = (report.parent / data.get("data_docs", "data_docs/index.html")).resolve()
        passed = "passed" if data.get("passed") else "FAILED"
        fraction = data.get("quarantine_fraction")
        description = (f"Data-quality gate {passed}: {data.get('quarantined')} of {data.get('rows_in')} rows "
                       "quarantined"
                       f" ({fraction:.1%} of rows; limit {data.get('max_quarantine_fraction', float('nan')):.1%})."
                       if isinstance(fraction, (int, float)) else f"Data-quality gate {passed}.")
        description += f"\n\nGreat Expectations data docs: `{docs}` ([open](file://{docs}))"
        create_table_artifact(quality_rows(data), key="data-quality", description=description)
        return ["data-quality"]
    if kind == "evaluate":
        create_table_artifact(eval_rows(data), key="eval-metrics",
                              description=f"Test-split grounding metrics per checkpoint, from `{report}`.")
        return ["eval-metrics"]
    if kind == "rl":
        key = slug(f"rl-{item or 'round'}")
        create_table_artifact(rl_rows(data), key=key, description=f"RL round `{item}`: `{report}`.")
        return [key]
    return []


def publish_failure(stage: str, command: str, reason: str, lines: list[str], attempt: int | None) -> str:
    key = slug(f"failed-{stage}")
    body = "\n".join(lines) or "(no output)"
    create_markdown_artifact(
        f"# Stage `{stage}` failed\n\n`{command}` {reason} (attempt {attempt}).\n\n"
        f"Last {min(len(lines), 40)} lines of its output:\n\n```\n{body}\n```\n",
        key=key, description=f"DVC stage {stage} failed")
    return key
