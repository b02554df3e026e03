"""Readers: each format into the canonical table, detection, and input that cannot be read at all."""

import json

import pandas as pd
import pytest

from conftest import timerft_record, tvgbench_record
from timerft.annotations import AnnotationReadError, read_annotations
from timerft.schema import CANONICAL_COLUMNS


def test_timerft_reader_maps_fields_and_keeps_the_original_record(write):
    clip = timerft_record(qid="my|internvid-vtime|x|q", video_start=39.0, video_end=84.7, duration=45.7,
                          timestamp=[34.9, 41.9])
    frame = read_annotations(write("train.json", [timerft_record(), clip]))
    assert list(frame.columns) == [*CANONICAL_COLUMNS, "issues"]
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["qid"] == "my|cosmo|abc|a person opens a door."
    assert first["video"] == "videos/abc.mp4"
    assert (first["duration"], first["start"], first["end"]) == (30.0, 2.0, 8.5)
    assert first["query"] == "a person opens a door."
    assert first["source"] == "cosmo" and first["split"] == "train"
    assert pd.isna(first["category"]) and pd.isna(first["clip_start"])
    assert json.loads(first["meta"])["difficulty"] == 40.0
    assert (second["source"], second["clip_start"], second["clip_end"]) == ("internvid-vtime", 39.0, 84.7)


def test_tvgbench_reader_parses_the_answer_and_keeps_category_and_clip(write):
    hirest = tvgbench_record(answer="9.94-45.94", start=53.06, end=152.43, duration=99.37,
                             dataset_name="hirest", bins={"dataset": "hirest"}, qsemtype="Object Transition")
    no_name = tvgbench_record(dataset_name=None, bins={"dataset": "egonlq"}, question="where is the cup?")
    frame = read_annotations(write("tvg.json", [tvgbench_record(), hirest, no_name]))
    assert frame["start"].tolist() == [13.4, 9.94, 13.4]
    assert frame["end"].tolist() == [28.1, 45.94, 28.1]
    assert frame["source"].tolist() == ["charades", "hirest", "egonlq"]
    assert frame["category"].tolist() == ["Human Pose", "Object Transition", "Human Pose"]
    assert frame["clip_start"].tolist()[1] == 53.06
    assert set(frame["split"]) == {"test"}
    assert frame["qid"].is_unique and frame["qid"].str.startswith("tvgbench|").all()


def test_tvgbench_unparseable_answer_is_a_row_with_an_issue(write):
    frame = read_annotations(write("tvg.json", [tvgbench_record(answer="soon")]))
    assert len(frame) == 1 and frame["issues"][0] == ["unparseable_answer"]
    assert pd.isna(frame["start"][0])


def test_charades_reader_takes_durations_from_the_csv(write):
    text = ("AO8RW 0.0 6.9##a person is putting a book on a shelf.\n\n"
            "3MSZA 24.3 30.4##person turn a light on.\nnonsense line\n")
    durations = write("Charades_v1_test.csv", "id,subject,length\nAO8RW,x,33.67\n3MSZA,y,30.0\n")
    frame = read_annotations(write("charades_sta_test.txt", text), durations_csv=durations)
    assert len(frame) == 3  # the blank line is no record; the nonsense line is
    assert frame["video"].tolist()[:2] == ["AO8RW.mp4", "3MSZA.mp4"]
    assert frame["duration"].tolist()[:2] == [33.67, 30.0]
    assert frame["query"].tolist()[1] == "person turn a light on."
    assert frame["issues"].tolist() == [[], [], ["unparseable_line"]]
    assert json.loads(frame["meta"][2]) == {"line": "nonsense line", "line_no": 4}


def test_charades_without_durations_probes_the_video(write, tmp_path):
    import av
    import numpy as np

    video = tmp_path / "videos" / "AO8RW.mp4"
    video.parent.mkdir()
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(12):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    frame = read_annotations(write("sta.txt", "AO8RW 0.0 1.5##a dark room.\n"), video_root=video.parent)
    assert frame["duration"][0] == pytest.approx(3.0, abs=0.3)


def test_activitynet_reader_expands_each_sentence(write):
    data = {
        "v_abc": {"duration": 82.7, "timestamps": [[0.0, 10.5], [9.0, 40.2]], "sentences": ["One.", " Two."]},
        "v_def": {"duration": 20.0, "timestamps": [[1.0, 2.0]], "sentences": ["A.", "B."]},
    }
    frame = read_annotations(write("val_1.json", data))
    assert len(frame) == 4
    assert frame["video"].tolist() == ["v_abc.mp4", "v_abc.mp4", "v_def.mp4", "v_def.mp4"]
    assert frame["end"].tolist()[:2] == [10.5, 40.2]
    assert frame["issues"].tolist()[2:] == [["timestamps_sentences_mismatch"],
                                            ["timestamps_sentences_mismatch", "unparseable_timestamp"]]
    assert set(frame["source"]) == {"activitynet"}


def test_canonical_round_trip_through_parquet(write, tmp_path):
    frame = read_annotations(write("train.json", [timerft_record()]))
    path = tmp_path / "canonical.parquet"
    frame.drop(columns="issues").to_parquet(path)
    again = read_annotations(path)
    pd.testing.assert_frame_equal(again.drop(columns="issues"), frame.drop(columns="issues"))
    records = json.loads(frame.drop(columns="issues").to_json(orient="records"))
    as_json = read_annotations(write("canonical.json", records))
    assert as_json["qid"].tolist() == frame["qid"].tolist()


def test_qids_are_stable_across_runs_and_orderings(write):
    records = [tvgbench_record(question=f"query {i}") for i in range(5)]
    one = read_annotations(write("a.json", records))
    two = read_annotations(write("b.json", records[::-1]))
    assert sorted(one["qid"]) == sorted(two["qid"])


def test_explicit_split_overrides_the_default(write):
    frame = read_annotations(write("tvg.json", [tvgbench_record()]), split="val")
    assert frame["split"].tolist() == ["val"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.json", None, "no such file"),
        ("blob.bin", b"\x00\x01\x02binary", "binary"),
        ("latin.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
        ("broken.json", '{"a": [1, 2', "not valid JSON"),
        ("number.json", "42", "cannot tell the annotation format"),
        ("empty_list.json", "[]", "cannot tell the annotation format"),
        ("words.txt", "hello world\n", "cannot tell the annotation format"),
    ],
)
def test_unreadable_input_raises_a_clear_error(write, tmp_path, name, content, message):
    path = tmp_path / name if content is None else write(name, content)
    with pytest.raises(AnnotationReadError, match=message):
        read_annotations(path)


def test_forcing_a_format_on_the_wrong_shape_names_the_formats(write):
    path = write("anet.json", [timerft_record()])
    with pytest.raises(AnnotationReadError, match="not in the activitynet format.*tvgbench"):
        read_annotations(path, fmt="activitynet")


def test_parquet_without_canonical_columns_is_refused(tmp_path):
    path = tmp_path / "x.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    with pytest.raises(AnnotationReadError, match="lacks columns"):
        read_annotations(path)
