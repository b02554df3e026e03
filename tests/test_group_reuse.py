"""rl.grpo.encode_once / prefill_once change how a GRPO step computes, not what: on the tiny Qwen3-VL and on shrunk
real Qwen2.5-VL (window attention) and Qwen3-VL (deepstack) architectures, one step gives the same completions,
rewards, advantages, per-token log-probs (policy and reference), loss and gradients with and without each."""

from dataclasses import replace

import pytest
import torch
from datasets import Dataset
from transformers import TrainingArguments

from conftest import PARAMS, SPEC, TEMPLATE
from test_arch import SHRINK, noise_sample
from timerft.arch import build_arch
from timerft.grpo import VideoGRPOTrainer, grpo
from timerft.model import load_model
from timerft.rewards import REWARDS
from timerft.tiny import build_tiny
from timerft.training import freeze_vision_but_merger

MODES = {"each row": (False, False), "encode once": (True, False), "encode + prefill once": (True, True)}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("reuse")
    texts = ["the red square appears", "the figure raises its arms", TEMPLATE]
    return {  # folder, frame size (224 px: several attention windows per frame in Qwen2.5-VL)
        "tiny qwen3_vl": (build_tiny(replace(SPEC, arch="qwen3_vl"), texts, root / "tiny"), 56),
        "qwen2_5_vl 3b shrunk": (build_arch("3b", root / "q25", dtype="float32", **SHRINK), 224),
        "qwen3_vl 4b shrunk": (build_arch("4b", root / "q3", family="qwen3_vl", dtype="float32", layers=2,
                                          vision_depth=2, width_divisor=8, vocab_size=2048), 64),
    }


def one_step(folder, size, encode_once, prefill_once, tmp_path):
    """Everything one GRPO step computes from two prompts (different videos and query lengths), G = 3."""
    model, processor = load_model(folder, device="cpu")
    processor.tokenizer.padding_side = "left"
    freeze_vision_but_merger(model)
    params = replace(PARAMS.rl.grpo, num_generations=3, batch_size=2, max_completion_length=6, temperature=1.0,
                     encode_once=encode_once, prefill_once=prefill_once)
    samples = [noise_sample(frames=8, size=size, seed=0),
               replace(noise_sample(frames=8, size=size, seed=1), query="the figure raises its arms high")]
    towers = []  # rows of patches into the vision tower, per call (the reference model copies the hook)
    model.model.visual.register_forward_hook(lambda module, inputs, output: towers.append(inputs[0].shape[0]))
    args = TrainingArguments(output_dir=str(tmp_path / "trainer"), per_device_train_batch_size=2, report_to="none",
                             use_cpu=True)
    trainer = VideoGRPOTrainer(model=model, processor=processor, store=samples, template=TEMPLATE, params=params,
                               rewards={"tiou": 1.0, "format": 1.0, "chars": 0.1}, tempsamp=None, args=args,
                               train_dataset=Dataset.from_dict({"index": [0, 1]}))
    seen = {"logps": [], "rollout": []}
    rollout, token_logps = trainer._rollout, trainer._token_logps
    trainer._rollout = lambda *a: seen["rollout"].append(rollout(*a)) or seen["rollout"][-1]
    trainer._token_logps = lambda *a: seen["logps"].append(token_logps(*a)) or seen["logps"][-1]
    torch.manual_seed(0)
    loss = trainer.compute_loss(model, {"index": [0, 1]})
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    return {"loss": loss.detach(), "completions": seen["rollout"][0], "logps": seen["logps"],
            "reward": trainer._metrics["reward"], "grads": grads, "tower_rows": towers}


@pytest.mark.parametrize("arch", ["tiny qwen3_vl", "qwen2_5_vl 3b shrunk", "qwen3_vl 4b shrunk"])
def test_a_step_computes_the_same_with_and_without_reuse(arch, models, tmp_path, monkeypatch):
    # a random model never answers: reward length so that the advantages, and so the gradients, are not zero
    monkeypatch.setitem(REWARDS, "chars", lambda completions, samples: [float(len(c)) for c in completions])
    folder, size = models[arch]
    steps = {mode: one_step(folder, size, *switches, tmp_path) for mode, switches in MODES.items()}
    plain = steps["each row"]
    assert plain["grads"] and any(".merger." in name for name in plain["grads"])
    for mode, step in steps.items():
        assert torch.equal(step["completions"], plain["completions"]), mode
        assert step["reward"] == pytest.approx(plain["reward"]), mode
        assert len(step["logps"]) == 2  # the policy's and the reference's
        for mine, theirs in zip(step["logps"], plain["logps"]):
            torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(step["loss"], plain["loss"], atol=1e-6, rtol=1e-4)
        assert step["grads"].keys() == plain["grads"].keys(), mode
        for name, grad in step["grads"].items():
            torch.testing.assert_close(grad, plain["grads"][name], atol=1e-6, rtol=1e-3, msg=f"{mode}: {name}")
    # what the switch saves: the tower's input rows (patches) over the step's passes
    patches = plain["tower_rows"][0] // 6  # one video's patches: the plain rollout saw 2 prompts x G = 3 rows
    assert plain["tower_rows"] == [6 * patches] * 3  # rollout, policy, reference: every row's copy of its video
    assert steps["encode once"]["tower_rows"] == [2 * patches]  # each video once, shared by the three passes


def test_prefill_once_needs_encode_once(tmp_path):
    params = replace(PARAMS.rl.grpo, encode_once=False, prefill_once=True)
    with pytest.raises(ValueError, match="prefill_once needs encode_once"):
        grpo(tmp_path / "unused", tmp_path / "out", [], TEMPLATE, params, {"tiou": 1.0})
