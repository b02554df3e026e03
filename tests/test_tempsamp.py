"""TempSamp-R1: the soft reward transform, the injected ground-truth row, the hybrid CoT ratio, and a step with all
three."""

import json
import math
from dataclasses import replace

import pytest
import torch

from conftest import PARAMS, TEMPLATE
from timerft.grpo import completion_mask, group_advantages, inject_ground_truth
from timerft.model import Sample, load_model
from timerft.rewards import score
from timerft.tempsamp import cot_modes, guidance_reply, guided_term, shaped_total, soft_reward

PAPER = {"tau": 0.8, "alpha": 1.0, "slope": 0.01}


def truth(start=10.0, end=20.0, duration=100.0, meta=None):
    return Sample("q", "the red square appears.", None, None, duration, start, end, meta)


def test_soft_reward_at_hand_computed_points():
    assert soft_reward(0.0, **PAPER) == pytest.approx(0.8 - (math.e**0.8 - 1) / (math.e - 1))  # 0.08679
    assert soft_reward(0.5, **PAPER) == pytest.approx(0.8 - (math.e**0.3 - 1) / (math.e - 1))  # 0.59639
    assert soft_reward(0.8, **PAPER) == pytest.approx(0.8)
    assert soft_reward(1.0, **PAPER) == pytest.approx(0.8 + 0.01 * math.log(1.2))  # 0.80182
    assert soft_reward(0.0, tau=0.5, alpha=2.0, slope=0.1) == pytest.approx(0.5 - (math.e - 1) / (math.e**2 - 1))


@pytest.mark.parametrize("params", [PAPER, {"tau": 0.5, "alpha": 3.0, "slope": 0.1},
                                    {"tau": 0.3, "alpha": 0.2, "slope": 0.05}])
def test_soft_reward_is_monotone_and_continuous_at_tau(params):
    grid = [i / 1000 for i in range(1001)]
    values = [soft_reward(x, **params) for x in grid]
    assert all(b > a for a, b in zip(values, values[1:]))
    tau = params["tau"]
    assert soft_reward(tau - 1e-9, **params) == pytest.approx(soft_reward(tau, **params), abs=1e-7)
    # compressed above tau: [tau, 1] spans less than the same width just below tau (or all of [0, tau])
    below = max(0.0, 2 * tau - 1.0)
    top, at_tau, low = (soft_reward(value, **params) for value in (1.0, tau, below))
    assert top - at_tau < at_tau - low


def test_shaped_total_reshapes_accuracy_and_keeps_format():
    rewards = {"tiou": [0.0, 1.0], "format": [1.0, 0.0], "total": [1.0, 1.0]}
    total = shaped_total(rewards, {"tiou": 2.0, "format": 0.1}, **PAPER)
    assert total == pytest.approx([2 * soft_reward(0.0, **PAPER) + 0.1, 2 * soft_reward(1.0, **PAPER)])


def test_hybrid_cot_modes_follow_the_ratio_and_are_stable():
    indices = list(range(4000))
    for fraction in (0.0, 0.25, 0.5, 1.0):
        modes = cot_modes(indices, fraction, seed=0)
        assert sum(not cot for cot in modes) / len(modes) == pytest.approx(fraction, abs=0.03)
    assert cot_modes(indices, 0.3, seed=0) == cot_modes(indices, 0.3, seed=0)
    assert cot_modes([7, 3], 0.5, seed=1) == [cot_modes(indices, 0.5, seed=1)[7], cot_modes(indices, 0.5, seed=1)[3]]


def test_guidance_reply_in_each_mode():
    appear = {"kind": "appear", "start": 10.0, "end": 20.0, "obj": {"color": "red", "shape": "square"}}
    scene = {"event": 1, "scene": {"events": [{"kind": "darken", "start": 30.0, "end": 40.0}, appear]}}
    synthetic = truth(meta=json.dumps(scene))
    assert guidance_reply(synthetic, cot=True) == ("<think><timestep>10.00 to 20.00</timestep> the red square appears."
                                                    "</think><answer>10.00 to 20.00</answer>")
    assert guidance_reply(synthetic, cot=True, reasoning="scene") == (
        "<think><timestep>10.00 to 20.00</timestep> the red square appears. "
        "<timestep>30.00 to 40.00</timestep> the background turns dark.</think><answer>10.00 to 20.00</answer>")
    assert guidance_reply(truth(), cot=True) == ("<think><timestep>10.00 to 20.00</timestep> the red square appears."
                                                 "</think><answer>10.00 to 20.00</answer>")
    assert guidance_reply(synthetic, cot=True, reasoning="answer") == "<think></think><answer>10.00 to 20.00</answer>"
    assert guidance_reply(synthetic, cot=False) == "<think></think><answer>10.00 to 20.00</answer>"


def test_the_injected_row_holds_the_ground_truth_ids_mask_and_full_reward(tiny):
    _, processor = load_model(tiny)
    tokenizer, eos = processor.tokenizer, processor.tokenizer.eos_token_id
    group, width = 3, 4
    samples = [truth(), truth(), truth(), truth(30.0, 45.0), truth(30.0, 45.0), truth(30.0, 45.0)]
    rollouts = torch.tensor([[11, 12, eos, 0], [13, 14, 15, 16], [17, eos, 0, 0]] * 2)
    ids, guided = inject_ground_truth(rollouts, samples, [True] * 6, group, tokenizer)
    assert guided.tolist() == [False, False, True, False, False, True]
    reply = tokenizer("<think><timestep>30.00 to 45.00</timestep> the red square appears.</think>"
                      "<answer>30.00 to 45.00</answer>" + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    assert ids.shape[1] == max(width, len(reply)) and ids[5, : len(reply)].tolist() == reply
    mask = completion_mask(ids, eos)
    assert mask[5].sum() == len(reply) and mask[5, len(reply):].sum() == 0  # padding after the EOS is masked
    assert torch.equal(ids[:2, :width], rollouts[:2]) and (ids[:2, width:] == tokenizer.pad_token_id).all()
    assert mask[0].tolist()[:3] == [1, 1, 1] and mask[0, 3:].sum() == 0  # sampled rows keep their own mask
    texts = tokenizer.batch_decode(ids * mask, skip_special_tokens=True)
    rewards = score(texts, samples, {"tiou": 1.0, "format": 1.0})
    assert rewards["total"][2] == rewards["total"][5] == 2.0


def test_a_grpo_step_with_guidance_soft_advantage_and_hybrid_cot(tiny, sample, tmp_path):
    from timerft.grpo import grpo

    rl = replace(PARAMS.rl.grpo, num_generations=3, batch_size=2, gradient_accumulation_steps=1, max_steps=1,
                 learning_rate=1e-2, temperature=1.0, max_completion_length=8)
    tempsamp = replace(PARAMS.rl.tempsamp, guidance=True, reasoning="query", soft_advantage=True, **PAPER,
                       no_cot_fraction=0.5)
    result = grpo(tiny, tmp_path / "out", [sample, sample], TEMPLATE, rl, {"tiou": 1.0, "format": 1.0}, tempsamp,
                  no_cot_template=TEMPLATE + " ")
    step = next(entry for entry in result["log"] if "loss" in entry)
    # the logged rollout metrics describe the 2 x 2 sampled rows only: an untrained model never answers
    assert step["iou"] == 0.0 and step["rewards/tiou"] == 0.0
    # an untrained model's rollouts all score 0, so without the guided row every advantage would be 0
    assert step["grad_norm"] > 0


@pytest.mark.parametrize("mode, weight", [
    ("likelihood", lambda p, gamma: torch.ones_like(p)),
    ("ratio", lambda p, gamma: p),
    ("shaped", lambda p, gamma: gamma * p / (p + gamma) ** 2),
])
def test_each_guided_term_pushes_log_p_by_its_weight(mode, weight):
    """d loss / d log p = -A * w(p) per token, on a hand-made pair of guided rows."""
    p = torch.tensor([[0.001, 0.1, 0.9], [0.5, 0.05, 1.0]])
    logps = p.log().requires_grad_(True)
    advantages = torch.tensor([1.5, -0.5])
    guided_term(logps, advantages, mode, gamma=0.1).sum().backward()
    torch.testing.assert_close(logps.grad, -advantages[:, None] * weight(p, 0.1))


def test_the_shaped_push_is_bounded_and_largest_at_gamma():
    p = torch.logspace(-6, 0, 2001)
    logps = p.log().requires_grad_(True)
    guided_term(logps[None], torch.ones(1), "shaped", gamma=0.1).sum().backward()
    push = -logps.grad
    assert push.max() <= 0.25 + 1e-6 and abs(p[push.argmax()].item() - 0.1) < 0.01
    assert push[0] == pytest.approx(p[0].item() / 0.1, rel=1e-3)  # rare tokens: 1/gamma times the ratio's push
    with pytest.raises(ValueError, match="off_policy must be"):
        guided_term(logps[None], torch.ones(1), "clip", gamma=0.1)


def test_the_guided_row_in_or_out_of_the_group_baseline():
    # two groups of G = 4, the last row guided (reward 2: tIoU 1 + format 1)
    rewards = torch.tensor([0.0, 0.5, 1.0, 2.0, 0.0, 0.0, 0.0, 2.0])
    guided = torch.tensor([False, False, False, True] * 2)
    inside = group_advantages(rewards, 4)
    # in the baseline, the guided row pulls the mean up: the second group's on-policy rows all turn negative
    assert inside[4:].tolist() == pytest.approx([-0.5, -0.5, -0.5, 1.5], abs=1e-3)
    outside = group_advantages(rewards, 4, baseline=~guided)
    # out of it, the on-policy rows are normalised among themselves (0.5 +- 0.5) and a tied group stays at 0
    assert outside[:3].tolist() == pytest.approx([-1.0, 0.0, 1.0], abs=1e-3)
    assert outside[4:7].tolist() == [0.0, 0.0, 0.0]
    # the guided row is measured against them, capped at (G - 1) / sqrt(G) = 1.5 (its value inside, above)
    assert outside[3].item() == pytest.approx(1.5) and outside[7].item() == pytest.approx(1.5)
    assert group_advantages(rewards, 4, baseline=torch.ones(8, dtype=torch.bool)).tolist() == inside.tolist()


@pytest.mark.parametrize("guided_soft, guided_in_baseline", [(True, True), (False, False)])
def test_a_step_passes_the_guided_rows_reward_and_baseline_as_set(tiny, sample, tmp_path, monkeypatch,
                                                                  guided_soft, guided_in_baseline):
    import timerft.grpo as grpo_module

    seen = []
    real = grpo_module.group_advantages
    monkeypatch.setattr(grpo_module, "group_advantages", lambda *a: seen.append(a) or real(*a))
    rl = replace(PARAMS.rl.grpo, num_generations=3, batch_size=1, gradient_accumulation_steps=1, max_steps=1,
                 temperature=1.0, max_completion_length=6)
    tempsamp = replace(PARAMS.rl.tempsamp, guidance=True, soft_advantage=True, **PAPER, guided_soft=guided_soft,
                       guided_in_baseline=guided_in_baseline)
    grpo_module.grpo(tiny, tmp_path / "out", [sample], TEMPLATE, rl, {"tiou": 1.0, "format": 1.0}, tempsamp)
    total, group, baseline = seen[0]
    # an untrained model's rollouts score 0: soft(0) = 0.087; the ground truth: tIoU 1 (0.802 shaped) + format 1
    assert total[:2].tolist() == pytest.approx([soft_reward(0.0, **PAPER)] * 2, abs=1e-6)
    assert total[2].item() == pytest.approx(soft_reward(1.0, **PAPER) + 1 if guided_soft else 2.0, abs=1e-6)
    assert baseline is None if guided_in_baseline else baseline.tolist() == [True, True, False]


@pytest.mark.parametrize("off_policy", ["likelihood", "ratio", "shaped"])
def test_a_guided_step_trains_under_each_off_policy_term(tiny, sample, tmp_path, off_policy):
    from timerft.grpo import grpo

    rl = replace(PARAMS.rl.grpo, num_generations=3, batch_size=1, gradient_accumulation_steps=1, max_steps=1,
                 learning_rate=1e-2, temperature=1.0, max_completion_length=6)
    tempsamp = replace(PARAMS.rl.tempsamp, guidance=True, off_policy=off_policy)
    result = grpo(tiny, tmp_path / "out", [sample], TEMPLATE, rl, {"tiou": 1.0, "format": 1.0}, tempsamp)
    # the rollouts score 0, so all the signal is the guided row's: each term gives it a gradient
    assert next(entry for entry in result["log"] if "loss" in entry)["grad_norm"] > 0
