"""Rewards, advantages, masks, refiltering and CoT traces: hand-computed cases."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import PARAMS, TEMPLATE
from timerft.grpo import completion_mask, group_advantages, round_report, token_logps, write_curves
from timerft.model import Sample
from timerft.prompts import synthetic_cot, target_text
from timerft.rewards import format_reward, iou_reward, score, tiou_reward
from timerft.selection import refilter


def truth(start=10.0, end=20.0, duration=100.0):
    return Sample("q", "x", None, None, duration, start, end)


def test_iou_and_tiou_rewards_by_hand():
    replies = ["<think></think><answer>10.00 to 20.00</answer>", "<answer>15 to 25</answer>", "no idea"]
    samples = [truth()] * 3
    assert iou_reward(replies, samples) == pytest.approx([1.0, 5 / 15, 0.0])
    # tIoU = IoU * (1 - |10-15|/100) * (1 - |20-25|/100) = (1/3) * 0.95 * 0.95
    assert tiou_reward(replies, samples) == pytest.approx([1.0, (5 / 15) * 0.95 * 0.95, 0.0])


@pytest.mark.parametrize("reply, expected", [
    ("<think>a</think><answer>1 to 2</answer>", 1.0),
    ("  <think>a\nb</think>\n <answer>1 to 2</answer>\n", 1.0),
    ("<answer>1 to 2</answer>", 0.0),
    ("<think>a</think><answer>1 to 2</answer> trailing words", 0.0),
    ("prefix <think>a</think><answer>1 to 2</answer>", 0.0),
])
def test_format_reward_wants_the_whole_reply_in_shape(reply, expected):
    assert format_reward([reply], [truth()]) == [expected]


def test_weighted_sum_and_unknown_rewards():
    values = score(["<think></think><answer>10 to 20</answer>"], [truth()], {"tiou": 1.0, "format": 0.5})
    assert values["total"] == [pytest.approx(1.5)]
    with pytest.raises(ValueError, match="unknown rewards"):
        score(["x"], [truth()], {"bleu": 1.0})


def test_group_advantages_normalise_within_each_group():
    rewards = torch.tensor([1.0, 0.0, 2.0, 5.0, 5.0, 5.0])
    advantages = group_advantages(rewards, 3)
    assert advantages[:3].tolist() == pytest.approx([0.0, -1 / (1 + 1e-4), 1 / (1 + 1e-4)])
    assert advantages[3:].tolist() == [0.0, 0.0, 0.0]  # a group that agrees teaches nothing
    # even where the float32 mean of equal rewards is off by a rounding error (that / 1e-4 was a fake signal)
    assert group_advantages(torch.full((3,), 0.08676372468471527), 3).tolist() == [0.0, 0.0, 0.0]


def test_completion_mask_stops_after_the_first_eos():
    ids = torch.tensor([[5, 6, 9, 9], [5, 9, 7, 9], [5, 6, 7, 8]])
    assert completion_mask(ids, eos_id=9).tolist() == [[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]]


def test_refilter_keeps_the_middle_band_and_accounts_for_every_row():
    table = pd.DataFrame({"qid": list("abcde"), "iou": [0.0, 0.05, 0.7, 0.71, 1.0]})
    kept, counts = refilter(table, 0.0, 0.7)
    assert kept["qid"].tolist() == ["b", "c"]
    assert counts == {"rows_in": 5, "kept": 2, "dropped_solved": 2, "dropped_hopeless": 1}


def test_synthetic_cot_names_the_queried_event_or_every_event_in_time_order():
    events = [{"kind": "jump", "start": 30.0, "end": 32.5, "obj": None},
              {"kind": "recolor", "start": 3.0, "end": 8.25, "obj": {"shape": "circle", "color": "red", "slot": 0},
               "color2": "blue"}]
    meta = json.dumps({"event": 0, "scene": {"events": events}})
    assert synthetic_cot(meta) == "<timestep>30.00 to 32.50</timestep> the figure jumps."
    trace = synthetic_cot(meta, "scene")
    assert trace == ("<timestep>3.00 to 8.25</timestep> the red circle turns blue. "
                     "<timestep>30.00 to 32.50</timestep> the figure jumps.")
    assert format_reward([target_text(30, 32.5, trace)], [truth()]) == [1.0]
    assert synthetic_cot(None) is None and synthetic_cot('{"source": "real"}') is None


def test_cold_start_replies_with_exact_or_visible_times():
    from timerft.grounding import visible_span
    from timerft.training import synthetic_reply

    events = [{"kind": "jump", "start": 3.3, "end": 5.2, "obj": None}]
    times = np.arange(16) / 2.0  # 16 frames at 2 fps: 8 groups of 2, the prompt writes 0.2, 1.2, ..., 7.2 s
    meta = json.dumps({"event": 0, "scene": {"events": events}})
    sample = Sample("q", "the figure jumps", None, times, 8.0, 3.3, 5.2, meta)
    # frames at 3.5, 4.0, 4.5, 5.0 s lie inside: groups 3 (3.0, 3.5) and 4 (4.0, 4.5) and 5 (5.0, 5.5) show it,
    # so the span starts at group 3's time and ends at the next group's (6)
    assert visible_span(times, 3.3, 5.2) == (3.2, 6.2)
    assert synthetic_reply(sample, "query", "frames") == \
        "<think><timestep>3.20 to 6.20</timestep> the figure jumps.</think><answer>3.20 to 6.20</answer>"
    assert synthetic_reply(sample, "query", "exact") == target_text(3.3, 5.2, synthetic_cot(sample.meta))
    assert visible_span(times, 7.6, 7.8) == (7.2, 7.2)  # no frame inside, at the end: the nearest, last group


def test_a_grpo_step_on_a_real_video_updates_the_llm_and_merger_only(tiny, sample, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from timerft.grpo import grpo
    from timerft.rewards import REWARDS

    # an untrained model never answers, so every grounding reward is 0 and there is no signal: reward length
    monkeypatch.setitem(REWARDS, "chars", lambda completions, samples: [float(len(c)) for c in completions])
    rl = replace(PARAMS.rl.grpo, num_generations=4, batch_size=1, gradient_accumulation_steps=1, max_steps=2,
                 learning_rate=1e-2, temperature=1.0, max_completion_length=12)
    result = grpo(tiny, tmp_path / "out", [sample, sample], TEMPLATE, rl, {"tiou": 1.0, "format": 1.0, "chars": 0.1})
    steps = [entry for entry in result["log"] if "loss" in entry]
    assert result["steps"] == 2 and len(steps) == 2
    assert {"reward", "reward_std", "kl", "completion_length", "iou", "empty_groups", "rewards/tiou",
            "rewards/format"} <= set(steps[0])
    assert steps[0]["empty_groups"] == 1.0  # an untrained model never names a span: no group has a rollout with IoU > 0
    before, after = load_file(tiny / "model.safetensors"), load_file(tmp_path / "out" / "model.safetensors")
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert any(".layers." in f".{name}" and "visual" not in name for name in changed)
    assert any(".merger." in name for name in changed)
    assert not any(".visual." in f".{name}" and ".merger." not in name for name in changed)


def test_the_scoring_pass_gives_the_log_probs_the_sampler_drew_from(tiny, sample):  # noqa: F811
    """GRPO's loss must score the policy that sampled: same multimodal positions in both passes."""
    from timerft.model import encode, load_model

    model, processor = load_model(tiny)
    batch = encode(processor, [sample, sample], TEMPLATE)
    prompt_length = batch["input_ids"].shape[1]
    torch.manual_seed(0)
    out = model.generate(**batch, do_sample=True, top_k=0, top_p=1.0, max_new_tokens=6, output_logits=True,
                         return_dict_in_generate=True, pad_token_id=processor.tokenizer.pad_token_id)
    completions = out.sequences[:, prompt_length:]
    drawn = torch.stack(out.logits, 1).log_softmax(-1).gather(-1, completions[..., None])[..., 0]
    mask = torch.cat([batch["attention_mask"], torch.ones_like(completions)], 1)
    with torch.no_grad():
        scored = token_logps(model, batch, out.sequences, mask, prompt_length)
    assert torch.allclose(scored, drawn, atol=1e-4)


def test_a_rounds_curves_and_report_come_from_its_log(tmp_path):
    log = [{"step": 1, "loss": 0.5, "reward": 1.0, "kl": 0.0, "iou": 0.1, "empty_groups": 0.5, "other": 3},
           {"step": 2, "loss": 0.4, "reward": 2.0, "kl": 0.1, "iou": 0.2, "empty_groups": 0.0}, {"train_runtime": 9.0}]
    write_curves(log, tmp_path / "curves.csv")
    curves = pd.read_csv(tmp_path / "curves.csv")
    assert curves["step"].tolist() == [1, 2] and curves["reward"].tolist() == [1.0, 2.0] and "other" not in curves
    table = pd.DataFrame({"iou": [0.0, 0.5, 0.9]})
    report = round_report("round1", log, {"rows_in": 3, "kept": 1}, table)
    assert report == {"round": "round1", "rows_in": 3, "kept": 1, "steps": 2, "mean_reward": 1.5,
                      "empty_groups": 0.25, "mean_iou": round(1.4 / 3, 4)}
