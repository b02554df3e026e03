"""The tiny model and its inputs: build, save, reload, generate from a real video; labels; the time axis."""

import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from conftest import SPEC, TEMPLATE
from timerft.model import Sample, SampleStore, encode, load_model, video_metadata
from timerft.prompts import clean_query, messages, target_text
from timerft.tiny import build_tiny
from timerft.training import freeze_vision_but_merger


def test_tiny_folder_reloads_alone_and_generates_from_a_real_video(tiny, sample):
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in tiny.iterdir()}
    assert json.loads((tiny / "config.json").read_text())["model_type"] == "qwen2_5_vl"
    model, processor = load_model(tiny)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    from timerft.inference import generate

    replies = generate(model, processor, [sample, sample], TEMPLATE, max_new_tokens=6)
    assert len(replies) == 2 and all(isinstance(r, str) for r in replies)
    assert replies[0] == replies[1]  # greedy


def test_a_tiny_qwen3_vl_writes_each_frame_groups_time_into_the_prompt_and_trains(tmp_path, sample):
    from timerft.inference import generate

    build_tiny(replace(SPEC, arch="qwen3_vl"), ["the red square appears", TEMPLATE, "<1.5 seconds>"], tmp_path)
    model, processor = load_model(tmp_path)
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"
    batch = encode(processor, [sample], TEMPLATE, [target_text(sample.start, sample.end)])
    prompt = processor.tokenizer.decode(batch["input_ids"][0])
    # two frames per temporal patch, each group stamped with its frames' mean time (within the text's 0.1 s)
    stamps = [float(t) for t in re.findall(r"<(\d+\.\d) seconds>", prompt)]
    assert np.allclose(stamps, sample.timestamps.reshape(-1, 2).mean(1), atol=0.1)
    height, width = sample.frames.shape[1:3]  # unresized: 14-pixel patches
    assert batch["pixel_values_videos"].shape[0] == len(stamps) * (height // 14) * (width // 14)
    model(**batch).loss.backward()  # the whole path trains, the vision tower included
    assert model.model.visual.patch_embed.proj.weight.grad is not None
    assert len(generate(model, processor, [sample], TEMPLATE, max_new_tokens=4)) == 1


def test_tokenizer_splits_digits_and_keeps_special_tokens_whole(tiny):
    _, processor = load_model(tiny)
    tokenizer = processor.tokenizer
    pieces = tokenizer.tokenize("12.54 to 17.83")
    assert [p for p in pieces if p.strip("Ġ").isdigit()] == list("12541783")
    for token in ("<|video_pad|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>"):
        assert tokenizer.convert_tokens_to_ids(token) != tokenizer.unk_token_id
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1
    text = "a Brand-new sentence, with ÜNICODE 3.14"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text  # byte-level: nothing is unknown


def test_prompt_puts_the_video_first_and_quotes_the_clean_query():
    turn = messages("  The Red square appears. ", TEMPLATE)[0]
    assert [item["type"] for item in turn["content"]] == ["video", "text"]
    assert '"the red square appears"' in turn["content"][1]["text"]
    assert clean_query("Person sits down.") == "person sits down"


def test_encode_labels_exactly_the_reply(tiny, sample):
    _, processor = load_model(tiny)
    targets = [target_text(1.5, 3.25), target_text(10.0, 12.0, reasoning="short")]
    batch = encode(processor, [sample, sample], TEMPLATE, targets)
    for row, target in enumerate(targets):
        labelled = batch["labels"][row][batch["labels"][row] != -100]
        assert processor.tokenizer.decode(labelled) == target + processor.tokenizer.eos_token


def test_processor_is_told_the_real_sampling_rate(tiny, sample):
    _, processor = load_model(tiny)
    slow = Sample("s", "x", sample.frames, np.arange(len(sample.frames)) * 4.0, 60.0)  # one frame per 4 s
    batch = encode(processor, [sample, slow], TEMPLATE)
    seconds_per_grid = batch["second_per_grid_ts"].tolist()
    fps = video_metadata(sample.timestamps).fps
    assert seconds_per_grid[0] == pytest.approx(2 / fps, rel=1e-3)  # 2 frames per temporal patch
    assert seconds_per_grid[1] == pytest.approx(8.0)


def test_fix_vit_freezes_the_vision_tower_but_the_merger(tiny):
    model, _ = load_model(tiny)
    freeze_vision_but_merger(model)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(".merger." in n for n in trainable)
    assert not any("visual" in n and ".merger." not in n for n in trainable)
    assert any("language_model" in n for n in trainable)


def test_sample_store_serves_the_cached_times_and_counts_rows_without_frames(tmp_path):
    from timerft.frames import write_entry

    write_entry(tmp_path, "k", np.zeros((2, 28, 28, 3), np.uint8), np.array([0.5, 1.5]))  # clip-relative already
    table = pd.DataFrame([{"qid": "a", "query": "q", "duration": 10.0, "start": 1.0, "end": 2.0,
                           "clip_start": 39.5, "clip_end": 49.5, "meta": None},
                          {"qid": "b", "query": "q", "duration": 10.0, "start": 1.0, "end": 2.0,
                           "clip_start": None, "clip_end": None, "meta": None}])
    store = SampleStore(table, pd.DataFrame({"qid": ["a"], "frames": ["k"]}), tmp_path)
    assert len(store) == 1 and store.missing == ["b"]
    assert store[0].timestamps.tolist() == [0.5, 1.5]


def test_an_empty_split_is_an_error_that_names_the_param_and_the_splits_there_are(tmp_path):
    from timerft.frames import write_entry
    from timerft.model import EmptySplitError

    (tmp_path / "cache").mkdir()
    write_entry(tmp_path / "cache", "k", np.zeros((2, 28, 28, 3), np.uint8), np.array([0.0, 1.0]))
    row = {"query": "q", "duration": 10.0, "start": 1.0, "end": 2.0, "clip_start": None, "clip_end": None,
           "meta": None}
    pd.DataFrame([{**row, "qid": "a", "split": "train"}, {**row, "qid": "b", "split": "test"}]).to_parquet(
        tmp_path / "clean.parquet")
    pd.DataFrame({"qid": ["a"], "frames": ["k"]}).to_parquet(tmp_path / "index.parquet")
    assert len(SampleStore.from_stage_outputs(tmp_path / "clean.parquet", tmp_path, "train", "score.split")) == 1
    with pytest.raises(EmptySplitError, match=r"split 'pool'.*train \(1 rows\), test \(1 rows\).*set score.split"):
        SampleStore.from_stage_outputs(tmp_path / "clean.parquet", tmp_path, "pool", "score.split")
    with pytest.raises(EmptySplitError, match=r"none of the 1 rows of split 'test' has frames.*failures.json"):
        SampleStore.from_stage_outputs(tmp_path / "clean.parquet", tmp_path, "test", "evaluate.split")


def test_the_cold_start_takes_replies_with_reasoning_from_the_file_and_a_seeded_subset(tmp_path):
    from timerft.inference import write_jsonl
    from timerft.training import cold_start_replies, cold_start_rows, reply_template

    table = pd.DataFrame({"qid": ["a", "b", "c"], "video": "v.mp4", "query": "q", "start": [1.0, 2.0, 3.0],
                          "end": [2.0, 3.0, 4.0], "meta": None})
    rows = reply_template(table)
    assert rows[0] == {"qid": "a", "video": "v.mp4", "query": "q", "start": 1.0, "end": 2.0, "reply": ""}
    rows[0]["reply"], rows[1]["reply"] = "<think>x</think><answer>1.00 to 2.00</answer>", "<answer>2 to 3</answer>"
    write_jsonl(rows, tmp_path / "replies.jsonl")
    replies = cold_start_replies(table, str(tmp_path / "replies.jsonl"), "query")
    assert list(replies) == ["a"]  # b has no reasoning, c no reply
    assert cold_start_rows(table, {"a": "r", "b": "r", "c": "r"}, 2, 0) == cold_start_rows(
        table, {"a": "r", "b": "r", "c": "r"}, 2, 0) and len(cold_start_rows(table, replies, 5, 0)) == 1
