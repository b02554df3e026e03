"""Evaluation: predictions against annotations -> R1@{0.3,0.5,0.7} and mIoU, overall, per category and per source.

Layout of the result (also what `timerft evaluate --out` writes):
    {"overall": {"R1@0.3", "R1@0.5", "R1@0.7", "mIoU", "count", "unparseable", "distinct_answers"},
     "missing_predictions": n,            # annotated qids with no prediction row (counted as unparseable)
     "by_category": {category: {...same keys...}}, "by_source": {source: {...}}}
`distinct_answers` counts the different spans predicted: a model that answers every query alike (a collapse to
the benchmark's most rewarding constant span) shows as 1, whatever its mIoU.
A prediction row holds `qid` and either `start`/`end` or `text` (parsed as docs/method.md says).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from timerft.grounding import iou, parse_span, summarize


def prediction_span(row: dict | None) -> tuple[float, float] | None:
    if row is None:
        return None
    if row.get("start") is not None and row.get("end") is not None:
        return float(row["start"]), float(row["end"])
    return parse_span(row.get("text") or "")


def scored(annotations: pd.DataFrame, predictions: list[dict]) -> pd.DataFrame:
    """The annotations with `iou`, `parsed` (a span could be read) and `predicted` (a row existed) columns."""
    by_qid = {row["qid"]: row for row in predictions}
    spans = [prediction_span(by_qid.get(qid)) for qid in annotations["qid"]]
    table = annotations.copy()
    table["predicted"] = [qid in by_qid for qid in annotations["qid"]]
    table["parsed"] = [span is not None for span in spans]
    table["span"] = spans
    table["iou"] = [iou(span, (s, e)) for span, s, e in zip(spans, annotations["start"], annotations["end"])]
    return table


def evaluate(annotations: pd.DataFrame, predictions: list[dict]) -> dict:
    table = scored(annotations, predictions)

    def block(part: pd.DataFrame) -> dict:
        return {**summarize(part["iou"].tolist(), int((~part["parsed"]).sum())),
                "distinct_answers": int(part["span"].dropna().nunique())}

    def grouped(column: str) -> dict:
        return {str(key): block(part) for key, part in table.groupby(table[column].fillna("unknown"), sort=True)}

    return {"overall": block(table), "missing_predictions": int((~table["predicted"]).sum()),
            "by_category": grouped("category"), "by_source": grouped("source")}


def duration_prior(train: pd.DataFrame, step: float = 0.02) -> tuple[float, float]:
    """The span, as fractions of the video's duration, with the best mean IoU on `train`: a baseline that never
    looks at the video or the query. A model scoring below it on the test split has not learnt to ground."""
    fractions = np.arange(0.0, 1.0 + step / 2, step)
    starts, ends = (train[["start", "end"]].to_numpy() / train[["duration"]].to_numpy()).T
    best, span = -1.0, (0.0, 1.0)
    for a in fractions:
        b = fractions[fractions > a][:, None]
        if not len(b):
            continue
        inter = np.clip(np.minimum(b, ends) - np.maximum(a, starts), 0, None)
        mean = (inter / (np.maximum(b, ends) - np.minimum(a, starts))).mean(1)
        if mean.max() > best:
            best, span = float(mean.max()), (float(a), float(b[mean.argmax(), 0]))
    return span


def prior_predictions(table: pd.DataFrame, span: tuple[float, float]) -> list[dict]:
    return [{"qid": qid, "start": span[0] * d, "end": span[1] * d} for qid, d in zip(table["qid"], table["duration"])]


def asked_modes(checkpoint: str, kind: str, cot_by_kind: dict[str, bool], default_cot: bool,
                both_modes: tuple[str, ...]) -> dict[str, bool]:
    """The names a checkpoint is reported under, each with whether it is asked with CoT (params evaluate.cot, by
    kind: base, sft, rl). A hybrid-CoT model (TempSamp-R1) serves both modes: a kind in `both_modes` is asked both
    ways, as "<checkpoint> (cot)" and "<checkpoint> (no cot)"."""
    if kind in both_modes:
        return {f"{checkpoint} (cot)": True, f"{checkpoint} (no cot)": False}
    return {checkpoint: cot_by_kind.get(kind, default_cot)}
