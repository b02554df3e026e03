"""The real Qwen2.5-VL and Qwen3-VL architectures (timerft.arch): published shapes counted on the meta device, and
shrunk variants of the same code paths through load_model, encode, a backward pass and generation (Qwen2.5-VL: one
GRPO step) on the CPU; the GPU benchmark's CPU smoke run."""

import importlib.util
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import PARAMS
from timerft.arch import (
    PUBLISHED_PARAMETERS,
    QWEN3_PUBLISHED_PARAMETERS,
    build,
    build_arch,
    main,
    parameter_counts,
    qwen3_vl_config,
    qwen25_vl_config,
)
from timerft.model import Sample, encode, load_model

REPO = Path(__file__).resolve().parents[1]
SHRINK = {"layers": 1, "vision_depth": 2, "width_divisor": 8, "vocab_size": 2048}
TEMPLATE = 'When does "{query}" happen? Answer as <think></think><answer>start to end</answer>.'


@pytest.mark.parametrize("size, billions, text, vocab, tied", [
    ("3b", 3.75, (2048, 11008, 36, 16, 2), 151936, True),
    ("7b", 8.29, (3584, 18944, 28, 28, 4), 152064, False),
])
def test_published_configs_have_the_published_shapes(size, billions, text, vocab, tied):
    config = qwen25_vl_config(size)
    t, v = config.text_config, config.vision_config
    assert (t.hidden_size, t.intermediate_size, t.num_hidden_layers, t.num_attention_heads,
            t.num_key_value_heads) == text
    assert t.vocab_size == vocab and config.tie_word_embeddings is tied
    assert t.rope_parameters["mrope_section"] == [16, 24, 24] and t.rope_parameters["rope_theta"] == 1e6
    assert (v.depth, v.hidden_size, v.intermediate_size, v.num_heads, v.window_size) == (32, 1280, 3420, 16, 112)
    assert v.fullatt_block_indexes == [7, 15, 23, 31] and v.out_hidden_size == t.hidden_size
    counts = parameter_counts(config)  # meta device: nothing allocated
    assert counts["total"] == pytest.approx(billions * 1e9, rel=0.03)
    assert counts["total"] == PUBLISHED_PARAMETERS[size]  # the safetensors totals of the Instruct checkpoints
    assert counts["vision"] + counts["merger"] == pytest.approx(0.67e9, rel=0.03)
    assert (counts["lm_head"] == 0) is tied


def test_shrinking_keeps_the_code_path():
    config = qwen25_vl_config("7b", layers=2, vision_depth=4, width_divisor=7)
    t, v = config.text_config, config.vision_config
    assert (t.num_hidden_layers, t.num_attention_heads, t.num_key_value_heads, t.hidden_size) == (2, 4, 1, 512)
    assert v.depth == 4 and v.fullatt_block_indexes == [3] and v.out_hidden_size == 512
    assert v.hidden_size // v.num_heads == 80 and t.rope_parameters["mrope_section"] == [16, 24, 24]
    assert qwen25_vl_config("3b", vision_depth=16).vision_config.fullatt_block_indexes == [7, 15]
    with pytest.raises(ValueError, match="size"):
        qwen25_vl_config("72b")


@pytest.mark.parametrize("size, billions, text, tied, vision, deepstack", [
    ("2b", 2.13, (2048, 6144, 28, 16, 8), True, (24, 1024, 4096, 16), [5, 11, 17]),
    ("4b", 4.44, (2560, 9728, 36, 32, 8), True, (24, 1024, 4096, 16), [5, 11, 17]),
    ("8b", 8.77, (4096, 12288, 36, 32, 8), False, (27, 1152, 4304, 16), [8, 16, 24]),
])
def test_published_qwen3_vl_configs_have_the_published_shapes(size, billions, text, tied, vision, deepstack):
    config = qwen3_vl_config(size)
    t, v = config.text_config, config.vision_config
    assert (t.hidden_size, t.intermediate_size, t.num_hidden_layers, t.num_attention_heads,
            t.num_key_value_heads) == text
    assert t.head_dim == 128 and t.vocab_size == 151936 and config.tie_word_embeddings is tied
    assert t.rope_parameters["mrope_section"] == [24, 20, 20] and t.rope_parameters["mrope_interleaved"] is True
    assert t.rope_parameters["rope_theta"] == 5e6
    assert (v.depth, v.hidden_size, v.intermediate_size, v.num_heads) == vision
    assert (v.patch_size, v.spatial_merge_size, v.temporal_patch_size, v.num_position_embeddings) == (16, 2, 2, 2304)
    assert list(v.deepstack_visual_indexes) == deepstack and v.out_hidden_size == t.hidden_size
    assert v.hidden_act == "gelu_pytorch_tanh"
    counts = parameter_counts(config)  # meta device: nothing allocated
    assert counts["total"] == pytest.approx(billions * 1e9, rel=0.01)
    assert counts["total"] == QWEN3_PUBLISHED_PARAMETERS[size]  # the published totals of the Instruct checkpoints
    assert (counts["lm_head"] == 0) is tied


def test_shrinking_qwen3_vl_keeps_the_code_path():
    config = qwen3_vl_config("4b", layers=2, vision_depth=4, width_divisor=8)
    t, v = config.text_config, config.vision_config
    assert (t.num_hidden_layers, t.num_attention_heads, t.num_key_value_heads, t.hidden_size) == (2, 4, 1, 320)
    assert t.head_dim == 128 and t.rope_parameters["mrope_section"] == [24, 20, 20]
    assert v.depth == 4 and v.hidden_size // v.num_heads == 64 and v.out_hidden_size == 320
    assert list(v.deepstack_visual_indexes) == [0, 1, 2]  # the published 5, 11, 17 of 24 blocks, moved in proportion
    assert list(qwen3_vl_config("8b", vision_depth=2).vision_config.deepstack_visual_indexes) == [0, 1]
    assert qwen3_vl_config("8b", width_divisor=8).vision_config.hidden_size == 2 * 72  # same vision head size
    assert qwen3_vl_config("2b").text_config.rope_parameters is not qwen3_vl_config("2b").text_config.rope_parameters
    with pytest.raises(ValueError, match="size"):
        qwen3_vl_config("3b")
    with pytest.raises(ValueError, match="family"):
        build(family="qwen3")
    with pytest.raises(SystemExit):  # a Qwen2.5-VL size is no Qwen3-VL size
        main(["--family", "qwen3_vl", "--size", "3b", "--out", "unused"])


def noise_sample(frames=4, size=56, seed=0):
    video = np.random.default_rng(seed).integers(0, 256, (frames, size, size, 3), dtype=np.uint8)
    return Sample("q0", "the red square appears", video, np.arange(frames) / 2.0, frames / 2.0, 0.5, 1.5)


@pytest.fixture(scope="module")
def shrunk(tmp_path_factory):
    return build_arch("3b", tmp_path_factory.mktemp("arch") / "qwen25vl-3b-shrunk", dtype="float32", **SHRINK)


def test_the_saved_folder_loads_with_load_model(shrunk):
    saved = json.loads((shrunk / "config.json").read_text())
    assert saved["model_type"] == "qwen2_5_vl" and saved["tie_word_embeddings"] is True
    model, processor = load_model(shrunk, device="cpu")
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert model.config.text_config.vocab_size == 2048 >= len(processor.tokenizer)
    assert model.config.video_token_id == processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")


@pytest.fixture(scope="module")
def shrunk_qwen3(tmp_path_factory):
    return build_arch("4b", tmp_path_factory.mktemp("arch") / "qwen3vl-4b-shrunk", family="qwen3_vl",
                      dtype="float32", layers=2, vision_depth=2, width_divisor=8, vocab_size=2048)


def test_a_shrunk_real_qwen3_vl_loads_encodes_trains_and_generates(shrunk_qwen3):
    from timerft.inference import generate

    saved = json.loads((shrunk_qwen3 / "config.json").read_text())
    assert saved["model_type"] == "qwen3_vl" and saved["tie_word_embeddings"] is True
    assert saved["vision_config"]["deepstack_visual_indexes"] == [0, 1]
    model, processor = load_model(shrunk_qwen3, device="cpu")
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"
    assert type(processor).__name__ == "Qwen3VLProcessor" and processor.video_processor.patch_size == 16
    assert model.config.text_config.vocab_size == 2048 >= len(processor.tokenizer)
    assert model.config.video_token_id == processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    # 8 frames of 64 x 64 (multiples of 32: 16-pixel patches merged 2 x 2), so the processor does not resize them
    sample = noise_sample(frames=8, size=64)
    batch = encode(processor, [sample], TEMPLATE, ["<answer>0.50 to 1.50</answer>"])
    prompt = processor.tokenizer.decode(batch["input_ids"][0])
    stamps = [float(t) for t in re.findall(r"<(\d+\.\d) seconds>", prompt)]  # one per 2-frame group
    assert np.allclose(stamps, sample.timestamps.reshape(-1, 2).mean(1), atol=0.1) and len(stamps) == 4
    assert batch["video_grid_thw"].tolist() == [[4, 4, 4]]
    assert batch["pixel_values_videos"].shape == (4 * 4 * 4, 3 * 2 * 16 * 16)
    assert (batch["labels"] != -100).sum() > 0
    loss = model(**batch).loss
    assert torch.isfinite(loss)
    loss.backward()  # through the LLM, the deepstack mergers and the whole vision tower
    visual = model.model.visual
    assert visual.patch_embed.proj.weight.grad is not None and visual.merger.linear_fc2.weight.grad is not None
    assert all(m.linear_fc2.weight.grad is not None for m in visual.deepstack_merger_list)
    model.zero_grad()
    replies = generate(model, processor, [sample, sample], TEMPLATE, max_new_tokens=3)
    assert len(replies) == 2 and replies[0] == replies[1]  # greedy


def test_a_grpo_step_on_the_shrunk_real_architecture(shrunk, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from timerft.grpo import grpo
    from timerft.rewards import REWARDS

    # a random model never answers: reward length so that the advantages are not all zero
    monkeypatch.setitem(REWARDS, "chars", lambda completions, samples: [float(len(c)) for c in completions])
    rl = replace(PARAMS.rl.grpo, num_generations=2, batch_size=1, gradient_accumulation_steps=1, max_steps=1,
                 learning_rate=1e-2, temperature=1.0, max_completion_length=4)
    result = grpo(shrunk, tmp_path / "out", [noise_sample()], TEMPLATE, rl, {"tiou": 1.0, "format": 1.0, "chars": 0.1})
    assert result["steps"] == 1 and "kl" in result["log"][0]
    before, after = load_file(shrunk / "model.safetensors"), load_file(tmp_path / "out" / "model.safetensors")
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert any(".merger." in name for name in changed)
    assert not any(".visual." in f".{name}" and ".merger." not in name for name in changed)


def test_generate_in_train_mode_under_gradient_checkpointing_loses_the_context():
    """Why timerft.grpo rolls out in eval mode: in train mode with gradient
    checkpointing, transformers drops the KV cache, so every token after the first is computed without context."""
    model, _ = build("3b", device="cpu", dtype="float32", **SHRINK)
    with torch.no_grad():
        for p in model.parameters():  # a sharper random model, so that the context matters to the scores
            p.mul_(20.0)
    ids = torch.randint(10, 900, (1, 24), generator=torch.Generator().manual_seed(0))
    kwargs = {"input_ids": ids, "do_sample": False, "max_new_tokens": 3, "output_scores": True,
              "return_dict_in_generate": True}
    model.eval()
    reference = model.generate(**kwargs).scores
    model.gradient_checkpointing_enable()
    model.train()
    train_mode = model.generate(**kwargs).scores
    model.eval()
    eval_mode = model.generate(**kwargs).scores
    assert torch.allclose(reference[0], train_mode[0])  # the prefill still sees the prompt
    assert not torch.allclose(reference[2], train_mode[2])  # later tokens do not
    assert all(torch.allclose(a, b) for a, b in zip(reference, eval_mode))  # eval mode: checkpointing is inert


def test_the_gpu_benchmark_runs_on_the_cpu(tmp_path):
    spec = importlib.util.spec_from_file_location("gpu_grpo", REPO / "benchmarks" / "gpu_grpo.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    compared = bench.main(["--tiny", "--steps", "2", "--compare", "--out", str(tmp_path / "tiny.json")])
    saved = json.loads((tmp_path / "tiny.json").read_text())
    assert saved["before"]["settings"]["reuse"] == "off" and saved["after"]["settings"]["reuse"] == "encode+prefill"
    for figures in (compared["before"], compared["after"]):
        assert figures["steps_timed"] == 1 and figures["rollout"]["sequences"] == 2
        for phase in ("encode", "rollout", "reward", "policy_logps", "ref_logps", "backward", "optimizer", "step"):
            assert figures["phases_s"][phase] >= 0.0
        assert figures["phases_s"]["step"] >= figures["phases_s"]["rollout"] > 0
        assert figures["generated_tokens_per_s"] > 0 and figures["samples_per_s"] > 0
        assert figures["flops"]["train_phase"] > figures["flops"]["model_flops"] > 0
    assert saved["ratios"]["step_s"] == pytest.approx(
        compared["after"]["phases_s"]["step"] / compared["before"]["phases_s"]["step"])


@pytest.mark.parametrize("profile", ["gpu_3b.yaml", "gpu_7b.yaml", "timer1.yaml", "short_events.yaml"])
def test_params_profiles_give_valid_params_when_applied(profile, tmp_path):
    import shlex

    import yaml

    from timerft.arch import overrides
    from timerft.params import load_all

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    args = shlex.split(" ".join(overrides(REPO / "params" / profile)))
    assert args[0::2] == ["-S"] * (len(args) // 2)
    for assignment in args[1::2]:  # as `dvc exp run -S` sets them: only existing keys, typed by YAML
        path, value = assignment.split("=", 1)
        *parents, key = path.split(".")
        node = params
        for name in parents:
            node = node[name]
        assert key in node, f"{profile}: {assignment} names no key of params.yaml"
        node[key] = yaml.safe_load(value)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    applied = load_all(tmp_path / "params.yaml")
    if profile.startswith("gpu"):
        assert applied.rl.grpo.num_generations == 8 and applied.rl.grpo.max_completion_length == 256
