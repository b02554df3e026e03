"""The shipped tiny base: its frames are the pipeline's, its texts its own, a rerun gives the same weights."""

from dataclasses import replace

import numpy as np
import pytest

from conftest import PARAMS, REPO
from timerft.frames import Sampling, extract
from timerft.params import Phase
from timerft.pretrain import SynthSamples, copy_span, phase_world, pretrain_base
from timerft.synth import SynthConfig, generate

SAMPLING = Sampling.from_params(PARAMS.frames)


def test_rendered_samples_are_the_frames_the_frames_stage_decodes(tmp_path):
    config = SynthConfig(seed=7, counts={"test": 2})
    generate(config, tmp_path, workers=1)
    samples = SynthSamples(config, "test", 2, SAMPLING)
    assert len(samples) == 4 and samples.videos() == ["0", "0", "1", "1"]
    for i in (0, 2):
        sample = samples[i]
        frames, times = extract(tmp_path / "videos" / f"test_{i // 2:05d}.mp4", SAMPLING)
        assert np.array_equal(sample.frames, frames)
        assert np.allclose(sample.timestamps, times, atol=1e-3)


def test_pretraining_twice_gives_the_same_weights_and_a_continued_run_the_same_as_a_whole_one(tmp_path, monkeypatch):
    narrow = dict(event_kinds=("darken",), events_per_video=(1, 1), duration_range=(32.0, 32.0), max_frames=8)
    wide = dict(event_kinds=None, events_per_video=None, duration_range=None, max_frames=None)
    phases = (Phase(max_steps=2, learning_rate=1e-3, target="copy", **narrow),
              Phase(max_steps=1, learning_rate=5e-4, target="exact", **wide, cot_fraction=0.5))
    params = replace(PARAMS.pretrain, batch_size=2, dataloader_num_workers=0, check_videos=2, phases=phases)
    args = (PARAMS.synth, PARAMS.frames, PARAMS.model.tiny, PARAMS.prompts)
    whole = pretrain_base(params, *args, tmp_path / "a")
    pretrain_base(params, *args, tmp_path / "b")
    import timerft.pretrain

    train_phase, calls = timerft.pretrain.train_phase, []

    def killed_in_phase_2(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the node dies during phase 2 ...
        return train_phase(*a, **k)

    monkeypatch.setattr(timerft.pretrain, "train_phase", killed_in_phase_2)
    with pytest.raises(KeyboardInterrupt):
        pretrain_base(params, *args, tmp_path / "c")
    monkeypatch.undo()
    continued = pretrain_base(params, *args, tmp_path / "c", start_phase=2)  # ... and continued
    assert [p["steps"] for p in whole["phases"]] == [2, 1]
    assert [p["samples"] for p in whole["phases"]] == [2 * 2 + 1, (2 // PARAMS.synth.events_per_video[0] + 1) * 2]
    assert [p["steps"] for p in continued["phases"]] == [2, 1]
    check = whole["phases"][1]["check"]  # the held-out check after each phase
    assert set(check) == {"miou", "control_miou", "copy_ceiling_miou", "distinct_answers"}
    assert 0 <= check["miou"] <= 100 and check["copy_ceiling_miou"] > 0
    assert "check_cot" not in whole["phases"][0] and set(whole["phases"][1]["check_cot"]) == set(check)
    weights = {run: (tmp_path / run / "model.safetensors").read_bytes() for run in "abc"}
    assert weights["a"] == weights["b"] == weights["c"]
    assert {"config.json", "tokenizer.json", "pretrain_report.json"} <= {p.name for p in (tmp_path / "a").iterdir()}
    assert not (tmp_path / "a" / "init").exists()
    import re

    from timerft.model import load_model
    from timerft.pretrain import phase_samples

    wide_world = phase_samples(phases[1], SynthConfig.from_params(PARAMS.synth, seed=params.synth_seed), SAMPLING, 2)
    words = {word for text in wide_world.texts() for word in re.findall(r"[a-z]{4,}", re.sub(r"<[^>]*>", " ", text))}
    tokens = set(load_model(tmp_path / "a")[1].tokenizer.tokenize(" " + " ".join(sorted(words))))
    assert words and words <= {token.lstrip("Ġ") for token in tokens}, "the last phase's words are whole tokens"
    assert len(whole["phases"][0]["answer_digit_loss"]) == 18  # the loss of each answer token


def test_a_phase_asks_its_share_of_queries_with_the_cot_prompt_the_same_ones_every_run():
    from timerft.pretrain import asked_with_cot

    samples = SynthSamples(SynthConfig(seed=PARAMS.pretrain.synth_seed), "base", 1000, SAMPLING)
    phase = PARAMS.pretrain.phases[-1]
    assert phase.cot_fraction == 0.5 and not any(p.cot_fraction for p in PARAMS.pretrain.phases[:-1])
    cot = asked_with_cot(phase, samples, seed=0)
    assert 0.45 < cot.mean() < 0.55 and np.array_equal(cot, asked_with_cot(phase, samples, seed=0))
    assert not asked_with_cot(replace(phase, cot_fraction=0.0), samples, seed=0).any()


def test_each_phase_trains_on_videos_no_earlier_phase_saw():
    config = SynthConfig(seed=PARAMS.pretrain.synth_seed)
    first, second = SynthSamples(config, "base", 3, SAMPLING), SynthSamples(config, "base", 3, SAMPLING, first=3)
    assert not set(first.videos()) & set(second.videos())
    assert first[0].qid.startswith("synth|base_")  # split `base`: none of the pipeline's splits


def test_the_shipped_base_model_is_a_complete_hf_folder():
    shipped = REPO / PARAMS.pretrain.out
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json",
            "pretrain_report.json"} <= {p.name for p in shipped.iterdir()}


def test_a_phase_narrows_the_world_and_the_copy_target_is_the_prompts_group_times():
    phase = PARAMS.pretrain.phases[0]
    config, sampling = phase_world(phase, SynthConfig.from_params(PARAMS.synth, seed=1000), SAMPLING)
    assert sampling.max_frames == phase.max_frames and config.event_kinds == phase.event_kinds
    samples = SynthSamples(config, "base", 20, sampling)
    assert len(samples) == 20 and all("dark" in samples[i].query for i in range(3))
    for i in range(20):
        sample = samples[i]
        start, end = copy_span(sample)
        group_times = {round((a + b) / 2, 1) for a, b in zip(sample.timestamps[::2], sample.timestamps[1::2])}
        assert {start, end} <= group_times and (start < end or start == max(group_times))  # no group after the last
        # the first group that shows the event, to the group after its last: within a group of the span
        group = sample.timestamps[2] - sample.timestamps[0]
        assert start <= sample.start + group and end >= sample.end - group / 2
    wide = replace(phase, event_kinds=None, events_per_video=None, duration_range=None, max_frames=None)
    assert phase_world(wide, SynthConfig(seed=1), SAMPLING) == (SynthConfig(seed=1), SAMPLING)
