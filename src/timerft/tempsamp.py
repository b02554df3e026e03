"""TempSamp-R1 (docs/method.md): off-policy ground-truth guidance, the soft advantage, hybrid CoT prompts.

Each piece is switched by its own key of params `rl.tempsamp`; all off is plain Time-R1 GRPO. Where each part of
the method lives (the paper's description in docs/method.md; its method section's printed equations were not
accessible to check against, so the forms follow that description, its public re-implementation and LUFFY,
arXiv 2504.14945, whose mixed-policy update TempSamp-R1's off-policy term builds on):
- G - 1 sampled rows + 1 ground-truth row per group: grpo.inject_ground_truth, reply from `guidance_reply`.
- The soft advantage r' = tau + slope ln(r - tau + 1) (r >= tau), tau - (e^(alpha (tau - r)) - 1) / (e^alpha - 1)
  (r < tau), on IoU-like rewards before the group normalisation: `soft_reward`, `shaped_total`; `guided_soft`
  false keeps the guided row's reward raw.
- The group normalisation A = (r - mean) / (std + eps), over the whole mixed group (LUFFY's union group) or, with
  `guided_in_baseline` false, over the on-policy rows only: grpo.group_advantages with its `baseline` mask.
- The guided row's per-token objective with pi_off = 1: `guided_term` (`off_policy`).
- Hybrid CoT: `cot_modes` chooses each training prompt's template.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from timerft.prompts import answer_text, clean_query, synthetic_cot, target_text
from timerft.rewards import weighted_sum


def soft_reward(accuracy: float, tau: float, alpha: float, slope: float) -> float:
    """The asymmetric reshaping of an IoU-like reward in [0, 1], applied before group normalisation.

    At and above tau the reward is compressed logarithmically (tau + slope * ln(r - tau + 1)), so a group's
    near-perfect rows, the ground-truth row above all, sit close together instead of swamping the others;
    below tau a convex exponential (tau - (e^(alpha (tau - r)) - 1) / (e^alpha - 1)) spreads the on-policy
    rows. Both branches equal tau at tau, and both increase with r.
    """
    if accuracy >= tau:
        return tau + slope * math.log(accuracy - tau + 1.0)
    return tau - math.expm1(alpha * (tau - accuracy)) / math.expm1(alpha)


def shaped_total(rewards: dict[str, list[float]], weights: dict[str, float], tau: float, alpha: float,
                 slope: float) -> list[float]:
    """The weighted reward sum with every accuracy reward (iou, tiou) passed through `soft_reward`."""
    shaped = {name: [soft_reward(v, tau, alpha, slope) for v in values]
              if name in ("iou", "tiou") else values
              for name, values in rewards.items() if name in weights}
    return weighted_sum(shaped, weights)


def guidance_reply(sample, cot: bool, reasoning: str = "query") -> str:
    """The ground-truth completion in the model's answer format.

    CoT prompts get a reasoning built from the annotation (`reasoning: query` or `scene`: SynthTVG's trace of
    that scope when the row has one, else one <timestep> naming the queried span) or an empty one
    (`reasoning: answer`); no-CoT prompts get the answer alone, as the no-CoT targets are written.
    """
    if not cot or reasoning == "answer":
        return target_text(sample.start, sample.end)
    trace = synthetic_cot(sample.meta, reasoning)
    if trace is None:
        trace = f"<timestep>{answer_text(sample.start, sample.end)}</timestep> {clean_query(sample.query)}."
    return target_text(sample.start, sample.end, trace)


def cot_modes(indices: list[int], no_cot_fraction: float, seed: int) -> list[bool]:
    """Hybrid CoT: whether each training prompt is asked with the CoT template (True) or without (False).

    Drawn per dataset row from (seed, row), so a row keeps its mode across epochs and resumed runs, and the
    fraction of no-CoT rows converges on `no_cot_fraction`.
    """
    return [bool(np.random.default_rng([seed, index]).random() >= no_cot_fraction) for index in indices]


def guided_term(logps: torch.Tensor, advantages: torch.Tensor, mode: str, gamma: float) -> torch.Tensor:
    """Per-token loss (the objective's negative) of guided rows, whose tokens no policy sampled (pi_off = 1).

    With p = pi_theta(token), every mode's gradient is A * w(p) * grad log p, and they differ in w:
    - likelihood: the objective A * p / sg(p), ratio 1 and w = 1: advantage-weighted log-likelihood; a token the
      policy finds unlikely gets the full push, however unlikely (as the on-policy rows' one-update GRPO term).
    - ratio: the importance weight pi_theta / pi_off = p itself, w = p: bounded, but it vanishes on exactly the
      tokens the policy has not learned.
    - shaped: LUFFY's policy shaping f(p) = p / (p + gamma), w = gamma p / (p + gamma)^2: at most 1/4 (at
      p = gamma), about p / gamma for rare tokens (1 / gamma times `ratio`'s push) and small for tokens the policy
      already gives (gamma / (1 + gamma)^2 at p = 1). No clipping, as LUFFY's off-policy term.
    """
    weight = advantages[:, None]
    if mode == "likelihood":
        return -torch.exp(logps - logps.detach()) * weight
    p = logps.exp()
    if mode == "ratio":
        return -p * weight
    if mode == "shaped":
        return -(p / (p + gamma)) * weight
    raise ValueError(f"rl.tempsamp.off_policy must be likelihood, ratio or shaped, not {mode!r}")
