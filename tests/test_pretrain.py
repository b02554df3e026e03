"""The shipped tiny base: its frames are the pipeline's, its texts its own, a rerun gives the same weights."""

from dataclasses import replace

import numpy as np

from conftest import PARAMS, REPO
from timerft.frames import Sampling, extract
from timerft.params import Phase
from timerft.pretrain import SynthSamples, pretrain_base
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


def test_pretraining_twice_gives_the_same_weights_and_a_continued_run_the_same_as_a_whole_one(tmp_path):
    phases = (Phase(videos=2, max_steps=2, learning_rate=1e-3), Phase(videos=2, max_steps=1, learning_rate=5e-4))
    params = replace(PARAMS.pretrain, batch_size=2, dataloader_num_workers=0, phases=phases)
    args = (PARAMS.synth, PARAMS.frames, PARAMS.model.tiny, PARAMS.prompts)
    whole = pretrain_base(params, *args, tmp_path / "a")
    pretrain_base(params, *args, tmp_path / "b")
    pretrain_base(replace(params, phases=phases[:1]), *args, tmp_path / "c")  # interrupted after phase 1 ...
    continued = pretrain_base(params, *args, tmp_path / "c", start_phase=2)  # ... and continued
    assert [p["steps"] for p in whole["phases"]] == [2, 1] and whole["phases"][0]["samples"] == 4
    assert [p["steps"] for p in continued["phases"]] == [2, 1]
    weights = {run: (tmp_path / run / "model.safetensors").read_bytes() for run in "abc"}
    assert weights["a"] == weights["b"] == weights["c"]
    assert {"config.json", "tokenizer.json", "pretrain_report.json"} <= {p.name for p in (tmp_path / "a").iterdir()}
    assert not (tmp_path / "a" / "training_args.bin").exists()


def test_each_phase_trains_on_videos_no_earlier_phase_saw():
    config = SynthConfig(seed=PARAMS.pretrain.synth_seed)
    first, second = SynthSamples(config, "base", 3, SAMPLING), SynthSamples(config, "base", 3, SAMPLING, first=3)
    assert not set(first.videos()) & set(second.videos())
    assert first[0].qid.startswith("synth|base_")  # split `base`: none of the pipeline's splits


def test_the_shipped_base_model_is_a_complete_hf_folder():
    shipped = REPO / PARAMS.pretrain.out
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json",
            "pretrain_report.json"} <= {p.name for p in shipped.iterdir()}
