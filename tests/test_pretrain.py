"""The shipped tiny base: its frames are the pipeline's frames, its texts are its own, a rerun gives the same weights."""

import numpy as np
import yaml
from conftest import REPO

from timerft.frames import Sampling, extract
from timerft.pretrain import SynthSamples, pretrain_base
from timerft.synth import SynthConfig, generate

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
SAMPLING = Sampling(**{k: v for k, v in PARAMS["frames"].items() if k != "workers"})


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


def test_pretraining_twice_gives_the_same_weights_from_texts_of_its_own(tmp_path):
    params = {**PARAMS["pretrain"], "videos": 3, "max_steps": 2, "batch_size": 2, "dataloader_num_workers": 0}
    args = (PARAMS["synth"], PARAMS["frames"], PARAMS["model"]["tiny"], PARAMS["prompts"])
    first = pretrain_base(params, *args, tmp_path / "a")
    pretrain_base(params, *args, tmp_path / "b")
    assert first["steps"] == 2 and first["samples"] == 6
    weights = [(tmp_path / run / "model.safetensors").read_bytes() for run in ("a", "b")]
    assert weights[0] == weights[1]
    assert {"config.json", "tokenizer.json", "pretrain_report.json"} <= {p.name for p in (tmp_path / "a").iterdir()}
    assert not (tmp_path / "a" / "training_args.bin").exists()
    texts = SynthSamples(SynthConfig(seed=params["synth_seed"]), "base", 3, SAMPLING).items
    assert texts == [(v, e) for v in range(3) for e in range(2)]  # split `base`: no pipeline split's scene


def test_the_shipped_base_model_is_a_complete_hf_folder():
    shipped = REPO / PARAMS["pretrain"]["out"]
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json",
            "pretrain_report.json"} <= {p.name for p in shipped.iterdir()}
