"""The quality gate: each defect class, each repair, the accounting invariant, video checks, data docs."""

import pytest

from conftest import timerft_record
from timerft.annotations import read_annotations
from timerft.quality import GatePolicy, run_gate

POLICY = GatePolicy(end_tolerance_s=1.5, max_quarantine_fraction=0.5)


def gate(write, tmp_path, records, policy=POLICY, video_root=None):
    frame = read_annotations(write("train.json", records))
    result = run_gate(frame, policy, tmp_path / "report", video_root)
    assert result.report["rows_in"] == len(records) == result.report["kept"] + result.report["quarantined"]
    return result


def reasons_by_qid(result):
    return dict(zip(result.quarantine["qid"], result.quarantine["reasons"].map(list)))


def test_a_clean_row_is_kept_unchanged(write, tmp_path):
    result = gate(write, tmp_path, [timerft_record()])
    assert result.passed and result.report["kept"] == 1 and result.report["repaired"] == 0
    assert list(result.clean["repairs"][0]) == []


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"timestamp": [8.0, 8.0]}, "start_not_before_end"),
        ({"timestamp": [9.0, 3.0]}, "start_not_before_end"),
        ({"timestamp": [-1.0, 3.0]}, "negative_start"),
        ({"duration": 0.0, "timestamp": [0.0, 0.0]}, "nonpositive_duration"),
        ({"timestamp": [2.0, 3000.0]}, "end_after_duration"),  # a lost decimal point
        ({"timestamp": [2.0, 31.6]}, "end_after_duration"),  # past the 1.5 s tolerance
        ({"sentence": "   \t "}, "empty_query"),
        ({"sentence": None}, "missing_query"),
        ({"duration": "long"}, "missing_duration"),
        ({"video": None}, "missing_video"),
        ({"timestamp": "2 to 5"}, "unparseable_timestamp"),
        ({"video_start": 50.0, "video_end": 20.0}, "invalid_clip_window"),
    ],
)
def test_each_defect_is_quarantined_with_its_reason(write, tmp_path, overrides, reason):
    good = [timerft_record(qid=f"my|cosmo|v|{i}") for i in range(3)]
    bad = timerft_record(qid="my|cosmo|v|bad", **overrides)
    result = gate(write, tmp_path, [*good, bad])
    assert result.report["quarantined"] == 1
    assert reason in reasons_by_qid(result)["my|cosmo|v|bad"]
    assert result.report["reasons"][reason] == 1


def test_a_row_can_have_several_reasons(write, tmp_path):
    bad = timerft_record(qid="bad", timestamp=[-2.0, 500.0], sentence="")
    result = gate(write, tmp_path, [timerft_record(), bad])
    assert set(reasons_by_qid(result)["bad"]) == {"negative_start", "end_after_duration", "empty_query"}


def test_small_overshoot_and_whitespace_are_repaired_and_recorded(write, tmp_path):
    records = [
        timerft_record(qid="over", timestamp=[20.0, 31.2]),
        timerft_record(qid="space", sentence="  a  person\tsits down. "),
        timerft_record(qid="float", timestamp=[24.8, 27.8], duration=27.799999999999997),
    ]
    result = gate(write, tmp_path, records)
    clean = result.clean.set_index("qid")
    assert clean.loc["over", "end"] == 30.0
    assert clean.loc["space", "query"] == "a person sits down."
    assert list(clean.loc["over", "repairs"]) == ["end_clipped_to_duration"]
    assert result.report["repaired"] == 3
    assert result.report["repairs"] == {"end_clipped_to_duration": 2, "query_whitespace": 1}
    # the original values stay in meta
    assert '"timestamp": [20.0, 31.2]' in clean.loc["over", "meta"]


def test_copies_keep_the_first_and_conflicting_qids_quarantine_all(write, tmp_path):
    copy = timerft_record(qid="copy")
    conflict = [timerft_record(qid="same", timestamp=[1.0, 2.0]), timerft_record(qid="same", timestamp=[3.0, 4.0])]
    result = gate(write, tmp_path, [copy, copy, *conflict])
    assert result.clean["qid"].tolist() == ["copy"]
    reasons = sorted(map(list, result.quarantine["reasons"]))
    assert reasons == [["duplicate_qid"], ["duplicate_qid"], ["duplicate_record"]]


def test_gate_fails_past_the_quarantine_limit(write, tmp_path):
    records = [timerft_record(qid=str(i)) for i in range(9)] + [timerft_record(qid="bad", sentence="")]
    assert gate(write, tmp_path, records, GatePolicy(1.5, 0.1)).passed  # 10% is within 10%
    assert not gate(write, tmp_path, records, GatePolicy(1.5, 0.05)).passed


def test_video_root_checks_existence_containment_and_rebases_paths(write, tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    (root / "here.mp4").write_bytes(b"x")
    (tmp_path / "secret.mp4").write_bytes(b"x")
    records = [
        timerft_record(qid="ok", video="here.mp4"),
        timerft_record(qid="rebased", video="./dataset/timer1/videos/here.mp4"),
        timerft_record(qid="missing", video="gone.mp4"),
        timerft_record(qid="escape", video="../secret.mp4"),
    ]
    result = gate(write, tmp_path, records, video_root=root)
    assert reasons_by_qid(result) == {"missing": ["video_missing"], "escape": ["video_outside_root"]}
    clean = result.clean.set_index("qid")
    assert clean.loc["rebased", "video"] == "here.mp4"
    assert list(clean.loc["rebased", "repairs"]) == ["video_path_rebased"]


def test_gx_data_docs_are_written(write, tmp_path):
    gate(write, tmp_path, [timerft_record(), timerft_record(qid="bad", sentence="")])
    index = tmp_path / "report" / "data_docs" / "index.html"
    assert index.is_file()
    pages = list((tmp_path / "report" / "data_docs" / "validations").rglob("*.html"))
    assert pages and "values must never be null" in pages[0].read_text()


def test_empty_input_fails_the_gate(tmp_path):
    frame = read_annotations.__globals__["canonical_frame"]([])
    frame["issues"] = []
    result = run_gate(frame, POLICY, tmp_path)
    assert result.report["rows_in"] == 0 and not result.passed
