"""Read annotation files, run the quality gate, write clean/quarantine/report: shared by the CLI and the stage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from timerft.annotations import read_annotations
from timerft.quality import GatePolicy, GateResult, run_gate


@dataclass(frozen=True)
class InputSpec:
    path: str
    format: str = "auto"
    split: str | None = None
    durations: str | None = None  # Charades-style csv (id,length) for formats without durations


def validate(inputs: list[InputSpec], out_dir: str | Path, policy: GatePolicy,
             video_root: str | Path | None = None) -> GateResult:
    """Raises AnnotationReadError for input that cannot be read at all; otherwise writes all outputs."""
    out_dir = Path(out_dir)
    frames = [read_annotations(spec.path, spec.format, spec.split, spec.durations, video_root) for spec in inputs]
    frame = pd.concat(frames, ignore_index=True)
    result = run_gate(frame, policy, out_dir, video_root)
    out_dir.mkdir(parents=True, exist_ok=True)
    result.clean.to_parquet(out_dir / "clean.parquet", index=False)
    result.quarantine.to_parquet(out_dir / "quarantine.parquet", index=False)
    report = {**result.report, "inputs": [spec.path for spec in inputs], "data_docs": "data_docs/index.html"}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return result


def summary(result: GateResult, out_dir: str | Path) -> str:
    report = result.report
    lines = [
        f"{report['rows_in']} rows in: {report['kept']} kept ({report['repaired']} repaired), "
        f"{report['quarantined']} quarantined ({report['quarantine_fraction']:.1%}; "
        f"limit {report['max_quarantine_fraction']:.1%})",
    ]
    if report["reasons"]:
        lines.append("  quarantined: " + ", ".join(f"{k} {v}" for k, v in report["reasons"].items()))
    if report["repairs"]:
        lines.append("  repaired:    " + ", ".join(f"{k} {v}" for k, v in report["repairs"].items()))
    if report["failed_table_checks"]:
        lines.append("  table checks failed: " + ", ".join(report["failed_table_checks"]))
    out_dir = Path(out_dir)
    lines.append(f"  report: {out_dir / 'report.json'}   data docs: {out_dir / 'data_docs' / 'index.html'}")
    if report["rows_in"] == 0:
        lines.append("GATE FAILED: the input holds no annotation rows.")
    elif not result.passed:
        lines.append(
            f"GATE FAILED: {report['quarantined']} of {report['rows_in']} rows quarantined "
            f"(> max_quarantine_fraction {report['max_quarantine_fraction']}). "
            f"Read the reasons in {out_dir / 'quarantine.parquet'}, fix the source or raise the limit."
        )
    return "\n".join(lines)
