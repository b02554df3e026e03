"""The data-quality gate: repair what is unambiguous, validate with Great Expectations, quarantine the rest.

Accounting invariant: rows_in == kept + quarantined; repaired rows are kept and counted apart.
Every expectation carries the quarantine reason it stands for in its `meta`, so the rows GX reports
as unexpected become per-row reasons, and the GX data docs show the same checks a person can read.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from timerft.schema import CANONICAL_COLUMNS, REQUIRED_COLUMNS

# Identical content under one qid is a copy: the first is kept, the others are quarantined as copies.
CONTENT_COLUMNS = ["qid", "video", "duration", "start", "end", "query", "clip_start", "clip_end", "split"]


@dataclass(frozen=True)
class GatePolicy:
    """params prepare.end_tolerance_s and prepare.max_quarantine_fraction."""
    end_tolerance_s: float
    max_quarantine_fraction: float


@dataclass
class GateResult:
    clean: pd.DataFrame
    quarantine: pd.DataFrame
    report: dict

    @property
    def passed(self) -> bool:
        return self.report["passed"]


def repair(frame: pd.DataFrame, policy: GatePolicy, video_root: Path | None) -> pd.DataFrame:
    """Unambiguous repairs, each recorded in the row's `repairs` list."""
    frame = frame.copy()
    repairs: list[list[str]] = [[] for _ in range(len(frame))]
    for i, query in enumerate(frame["query"]):
        if isinstance(query, str) and (tidy := " ".join(query.split())) != query:
            frame.at[i, "query"] = tidy
            repairs[i].append("query_whitespace")
    overshoot = frame["end"] - frame["duration"]
    clip = (overshoot > 0) & (overshoot <= policy.end_tolerance_s) & (frame["start"] < frame["duration"])
    for i in frame.index[clip.fillna(False)]:
        frame.at[i, "end"] = frame.at[i, "duration"]
        repairs[i].append("end_clipped_to_duration")
    if video_root is not None:
        for i, video in enumerate(frame["video"]):
            # A path written for someone else's folder layout whose file name sits right in the root.
            if (isinstance(video, str) and not (video_root / video).exists()
                    and (video_root / Path(video).name).is_file()):
                frame.at[i, "video"] = Path(video).name
                repairs[i].append("video_path_rebased")
    frame["repairs"] = repairs
    return frame


def video_status(videos: pd.Series, video_root: Path) -> list[str]:
    """'ok', 'missing' or 'outside_root' for each video path (None for a missing path: not-null reports it)."""
    root = video_root.resolve()
    status = []
    for video in videos:
        if not isinstance(video, str):
            status.append(None)
            continue
        path = (root / video).resolve()
        if not path.is_relative_to(root):
            status.append("outside_root")
        else:
            status.append("ok" if path.is_file() else "missing")
    return status


def build_suite(with_videos: bool):
    """The annotation ExpectationSuite; `meta.reason` names the quarantine reason of each expectation."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name="annotations")
    for column in REQUIRED_COLUMNS:
        suite.add_expectation(gxe.ExpectColumnToExist(column=column, meta={"reason": f"missing_column_{column}"}))
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column, meta={"reason": f"missing_{column}"}))
    checks = [
        gxe.ExpectColumnValueLengthsToBeBetween(column="query", min_value=1, meta={"reason": "empty_query"}),
        gxe.ExpectColumnValuesToBeBetween(column="duration", min_value=0, strict_min=True,
                                          meta={"reason": "nonpositive_duration"}),
        gxe.ExpectColumnValuesToBeBetween(column="start", min_value=0, meta={"reason": "negative_start"}),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="end", column_B="start", or_equal=False,
                                                    ignore_row_if="either_value_is_missing",
                                                    meta={"reason": "start_not_before_end"}),
        # Overshoots within the tolerance were clipped by repair(); what is left is beyond it.
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="duration", column_B="end", or_equal=True,
                                                    ignore_row_if="either_value_is_missing",
                                                    meta={"reason": "end_after_duration"}),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="clip_end", column_B="clip_start", or_equal=False,
                                                    ignore_row_if="either_value_is_missing",
                                                    meta={"reason": "invalid_clip_window"}),
        gxe.ExpectColumnValuesToBeUnique(column="qid", meta={"reason": "duplicate_qid"}),
    ]
    if with_videos:
        checks.append(gxe.ExpectColumnValuesToBeInSet(column="video_status", value_set=["ok"],
                                                      meta={"reason": "video_{value}"}))
    for check in checks:
        suite.add_expectation(check)
    return suite


def run_gate(frame: pd.DataFrame, policy: GatePolicy, report_dir: Path, video_root: Path | None = None) -> GateResult:
    """Repair, validate with a GX Checkpoint (data docs under report_dir/data_docs), split clean/quarantine."""
    video_root = Path(video_root) if video_root is not None else None
    table = repair(frame.reset_index(drop=True), policy, video_root)
    reasons: list[list[str]] = [list(issues) for issues in table.get("issues", [[]] * len(table))]
    copies = table.duplicated(subset=CONTENT_COLUMNS, keep="first") & table["qid"].notna()
    for i in table.index[copies]:
        reasons[i].append("duplicate_record")

    checked = table.loc[~copies, [*CANONICAL_COLUMNS]].copy()
    checked["row"] = checked.index
    if video_root is not None:
        checked["video_status"] = video_status(checked["video"], video_root)
    validation = _validate(checked, video_root is not None, Path(report_dir) / "data_docs")
    failed_table_checks = []
    for result in validation.results:
        reason = result.expectation_config.meta["reason"]
        if result.success:
            continue
        unexpected = result.result.get("unexpected_index_list")
        if unexpected is None:  # a table-level check (a missing column) fails the whole table
            failed_table_checks.append(reason)
            continue
        for item in unexpected:
            row = int(item["row"])
            value = item.get("video_status")
            reasons[row].append(reason.format(value=value))

    table["reasons"] = [sorted(set(r)) for r in reasons]
    bad = table["reasons"].map(bool)
    clean = table.loc[~bad, [*CANONICAL_COLUMNS, "repairs"]].reset_index(drop=True)
    quarantine = table.loc[bad, [*CANONICAL_COLUMNS, "repairs", "reasons"]].reset_index(drop=True)
    report = _report(table, clean, quarantine, policy, failed_table_checks)
    return GateResult(clean, quarantine, report)


def _validate(table: pd.DataFrame, with_videos: bool, docs_dir: Path):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(site_name="report", site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir.resolve())},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    batch = context.data_sources.add_pandas("annotations").add_dataframe_asset("canonical")
    definition = context.validation_definitions.add(gx.ValidationDefinition(
        name="annotations", data=batch.add_batch_definition_whole_dataframe("table"),
        suite=context.suites.add(build_suite(with_videos)),
    ))
    index_columns = ["row", "video_status"] if with_videos else ["row"]
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name="annotation_gate", validation_definitions=[definition],
        actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": index_columns},
    ))
    result = checkpoint.run(batch_parameters={"dataframe": table})
    return next(iter(result.run_results.values()))


def _report(table, clean, quarantine, policy: GatePolicy, failed_table_checks: list[str]) -> dict:
    rows_in = len(table)
    assert rows_in == len(clean) + len(quarantine), "accounting invariant broken"
    fraction = len(quarantine) / rows_in if rows_in else 0.0
    return {
        "rows_in": rows_in,
        "kept": len(clean),
        "repaired": int(clean["repairs"].map(bool).sum()),
        "quarantined": len(quarantine),
        "quarantine_fraction": round(fraction, 6),
        "max_quarantine_fraction": policy.max_quarantine_fraction,
        "passed": rows_in > 0 and fraction <= policy.max_quarantine_fraction and not failed_table_checks,
        "reasons": dict(sorted(Counter(r for rs in quarantine["reasons"] for r in rs).items())),
        "repairs": dict(sorted(Counter(r for rs in clean["repairs"] for r in rs).items())),
        "failed_table_checks": failed_table_checks,
        "kept_per_split": {k: int(v) for k, v in clean["split"].value_counts().sort_index().items()},
    }
