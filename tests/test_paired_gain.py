"""benchmarks/paired_gain.py: query-blind videos and distractor answers on a hand-made two-query table."""

import importlib.util

import pandas as pd

from conftest import REPO

spec = importlib.util.spec_from_file_location("paired_gain", REPO / "benchmarks" / "paired_gain.py")
paired_gain = importlib.util.module_from_spec(spec)
spec.loader.exec_module(paired_gain)


def _table(spans: list) -> pd.DataFrame:
    """Two videos with events (2-4 s, 10-12 s) and (0-5 s, 20-25 s); `spans` answers their four queries."""
    events = [("a", 2.0, 4.0), ("a", 10.0, 12.0), ("b", 0.0, 5.0), ("b", 20.0, 25.0)]
    rows = []
    for (video, start, end), span in zip(events, spans):
        overlap = 0.0 if span is None else max(0.0, min(end, span[1]) - max(start, span[0]))
        union = 1.0 if span is None else max(end, span[1]) - min(start, span[0])
        rows.append({"video": video, "start": start, "end": end, "span": span, "iou": overlap / union})
    return pd.DataFrame(rows)


def test_query_blind_videos_and_distractor_answers():
    # video a: both queries answered with the second event's span (blind; the first query hit the distractor);
    # video b: each query its own event
    table = _table([(10.0, 12.0), (10.0, 12.0), (0.0, 5.0), (20.0, 25.0)])
    assert paired_gain.query_blind_share(table) == 0.5
    assert paired_gain.distractor_share(table) == 0.25
    # a miss that overlaps neither event, and an unparsed answer, are not distractor answers
    table = _table([(6.0, 8.0), (10.0, 12.0), None, (20.0, 25.0)])
    assert paired_gain.distractor_share(table) == 0.0
    assert paired_gain.query_blind_share(table) == 0.0
