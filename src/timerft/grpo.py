"""GRPO for video grounding: a transformers Trainer whose loss step rolls out, scores and updates.

Why not TRL's GRPOTrainer (1.16): its multimodal path carries images only. `_tokenize_prompts` extracts
image parts, `_generate_and_score_completions` rebuilds `forward_kwargs` from images and hands on a fixed
list of image keys, and `_get_per_token_logps_and_entropies` slices `pixel_values` by `image_grid_thw`; the
batch is then shuffled row-wise, which a flattened `pixel_values_videos` cannot follow. Carrying
`pixel_values_videos`/`video_grid_thw`/`second_per_grid_ts` would mean overriding four methods including
its 600-line rollout. The algorithm itself is short, so it lives here on top of transformers' Trainer
(optimiser, schedule, accelerate, DeepSpeed, checkpoints, logging to wandb), reusing TRL's
`selective_log_softmax`, with TRL's conventions: GRPOConfig-like names, group-normalised advantages,
k3 KL to a frozen reference, per-step metrics merged into the trainer's log. TempSamp-R1's options
(`rl.tempsamp`: ground-truth guidance, soft advantage, hybrid CoT) hook into `compute_loss`; see tempsamp.py.
"""

from __future__ import annotations

import copy
import csv
from collections import defaultdict
from pathlib import Path

import torch
from transformers import Trainer, TrainingArguments
from trl.trainer.utils import selective_log_softmax

from timerft.grounding import iou, parse_span
from timerft.group_reuse import prefill_once, repeat_features, repeat_rows, tower, video_features
from timerft.model import SampleStore, encode, load_model
from timerft.params import Grpo, Tempsamp
from timerft.rewards import score
from timerft.tempsamp import cot_modes, guidance_reply, guided_term, shaped_total
from timerft.training import freeze_vision_but_merger


def group_advantages(rewards: torch.Tensor, group_size: int, baseline: torch.Tensor | None = None) -> torch.Tensor:
    """(r - mean_g) / (std_g + 1e-4) within each prompt's group of completions (docs/method.md).

    `baseline` (a boolean mask; default every row) chooses the rows whose rewards make each group's mean and
    (unbiased) std; the other rows (TempSamp-R1's guided row, rl.tempsamp.guided_in_baseline false) are measured
    against them, capped at (G - 1) / sqrt(G): the most a row of a group of G can get, which the guided row gets
    when it is in the baseline and the others tie."""
    groups = rewards.view(-1, group_size)
    mask = torch.ones_like(groups, dtype=torch.bool) if baseline is None else baseline.to(groups.device).view_as(groups)
    count = mask.sum(1, keepdim=True)
    mean = (groups * mask).sum(1, keepdim=True) / count
    std = (((groups - mean) * mask) ** 2).sum(1, keepdim=True).div((count - 1).clamp(min=1)).sqrt()
    advantages = (groups - mean) / (std + 1e-4)
    # baseline rows of equal rewards have no signal; without this, the mean's rounding error / 1e-4 would be one
    baseline_rows = groups.masked_fill(~mask, float("nan"))
    tied = baseline_rows.nan_to_num(float("-inf")).amax(1, keepdim=True) == \
        baseline_rows.nan_to_num(float("inf")).amin(1, keepdim=True)
    advantages = torch.where(mask, advantages.masked_fill(tied, 0.0), advantages)
    cap = (group_size - 1) / group_size ** 0.5
    return torch.where(mask, advantages, advantages.clamp(-cap, cap)).view(-1)


def token_logps(model, batch, sequences, attention_mask, prompt_length: int, temperature: float = 1.0,
                video_features: dict | None = None) -> torch.Tensor:
    """Per-token log-probabilities of the completions `sequences[:, prompt_length:]` under `model`; with
    `video_features` (`mm_encoder_outputs`, timerft.group_reuse) in place of the batch's pixels.

    The multimodal token types extend over the completion (all text): without them Qwen2.5-VL silently falls back
    to 1-D positions and Qwen3-VL refuses, so the scored policy would not be the one that sampled."""
    inputs = {**batch, "input_ids": sequences, "attention_mask": attention_mask}
    if video_features is not None:
        inputs["mm_encoder_outputs"] = video_features
    if "mm_token_type_ids" in batch:
        text = torch.zeros_like(sequences[:, prompt_length:], dtype=batch["mm_token_type_ids"].dtype)
        inputs["mm_token_type_ids"] = torch.cat([batch["mm_token_type_ids"], text], dim=1)
    # logits of the completion positions only, not vocabulary x the whole video prompt
    keep = sequences.shape[1] - prompt_length + 1
    logits = model(**inputs, use_cache=False, logits_to_keep=keep).logits[:, :-1]
    return selective_log_softmax(logits / temperature, sequences[:, prompt_length:])


def completion_mask(completion_ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """1 on every completion token up to and including the first EOS, 0 after it."""
    is_eos = completion_ids == eos_id
    length = torch.where(is_eos.any(1), is_eos.int().argmax(1) + 1, completion_ids.shape[1])
    return (torch.arange(completion_ids.shape[1], device=completion_ids.device)[None] < length[:, None]).int()


def inject_ground_truth(completion_ids: torch.Tensor, samples: list, cots: list[bool], group: int, tokenizer,
                        reasoning: str = "query") -> tuple[torch.Tensor, torch.Tensor]:
    """TempSamp-R1's guidance: the last rollout of every group becomes the ground-truth reply (+ EOS).

    Rows are padded to a common width; the padding after each EOS is masked out by `completion_mask`, as for
    sampled rows that stopped early. Returns the new completion ids and a boolean mask of the guided rows.
    """
    replies = {}
    for row in range(group - 1, len(samples), group):
        text = guidance_reply(samples[row], cots[row], reasoning) + tokenizer.eos_token
        replies[row] = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
    width = max(completion_ids.shape[1], *(len(ids) for ids in replies.values()))
    padded = torch.full((len(samples), width), tokenizer.pad_token_id, dtype=completion_ids.dtype,
                        device=completion_ids.device)
    padded[:, : completion_ids.shape[1]] = completion_ids
    guided = torch.zeros(len(samples), dtype=torch.bool)
    for row, ids in replies.items():
        padded[row] = tokenizer.pad_token_id
        padded[row, : len(ids)] = ids.to(padded.device)
        guided[row] = True
    return padded, guided


class VideoGRPOTrainer(Trainer):
    """Each training batch is `per_device_train_batch_size` prompts; each prompt gets `num_generations` rollouts."""

    def __init__(self, *, model, processor, store: SampleStore, template: str, params: Grpo,
                 rewards: dict[str, float], tempsamp: Tempsamp | None, args: TrainingArguments, train_dataset,
                 no_cot_template: str | None = None):
        super().__init__(model=model, args=args, train_dataset=train_dataset, processing_class=processor,
                         data_collator=lambda rows: {"index": [row["index"] for row in rows]})
        self.processor, self.store, self.template = processor, store, template
        self.params, self.rewards, self.tempsamp = params, rewards, tempsamp
        self.no_cot_template = no_cot_template or template  # hybrid CoT's second prompt
        self.ref_model = None
        if params.beta > 0:  # the KL anchor: the round's starting weights, frozen
            self.ref_model = copy.deepcopy(model).eval().requires_grad_(False)
        self._metrics = defaultdict(list)

    def _rollout(self, model, batch, rows, features=None) -> torch.Tensor:
        """G sampled completions per prompt of `batch` (B rows with encode_once, else already B*G), each prompt's
        G in a row; `rows`: its B*G rows (`_encode`); `features`: the prompts' video embeddings (encode_once)."""
        unwrapped = self.accelerator.unwrap_model(model)
        group = self.params.num_generations
        config = unwrapped.config
        # a sampled vision placeholder would make the scoring pass expect frames that are not there
        vision_tokens = [config.image_token_id, config.video_token_id, config.vision_start_token_id,
                         config.vision_end_token_id]
        # eval mode: in train mode with gradient checkpointing, transformers drops the KV cache and every token
        # after the first would be sampled without the prompt (tests/test_arch.py shows it)
        was_training = unwrapped.training
        unwrapped.eval()
        try:
            with torch.no_grad():
                if self.params.prefill_once:
                    inputs = {"input_ids": rows["input_ids"], "attention_mask": rows["attention_mask"],
                              "past_key_values": prefill_once(unwrapped, batch, features, group)}
                elif features is not None:
                    inputs = {**rows, "mm_encoder_outputs": {"video": repeat_features(features, group)}}
                else:
                    inputs = batch
                return unwrapped.generate(**inputs, do_sample=True, temperature=self.params.temperature, top_p=1.0,
                                          top_k=0, max_new_tokens=self.params.max_completion_length,
                                          suppress_tokens=vision_tokens,
                                          pad_token_id=self.processor.tokenizer.pad_token_id)
        finally:
            unwrapped.train(was_training)

    def _token_logps(self, model, batch, sequences, attention_mask, prompt_length, features=None) -> torch.Tensor:
        return token_logps(model, batch, sequences, attention_mask, prompt_length, self.params.temperature, features)

    def _encode(self, prompts: list, templates: list[str]):
        """The step's model inputs: (batch the rollout starts from, its B*G rows for the scoring passes). With
        encode_once the batch holds each prompt once and the rows carry no pixels; else both are the B*G rows."""
        group = self.params.num_generations
        if self.params.encode_once:
            batch = encode(self.processor, prompts, templates).to(self.accelerator.device)
            return batch, repeat_rows(batch, group)
        rows = [x for x in prompts for _ in range(group)]
        batch = encode(self.processor, rows, [t for t in templates for _ in range(group)]).to(self.accelerator.device)
        return batch, batch

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        group, tempsamp = self.params.num_generations, self.tempsamp
        prompts = [self.store[i] for i in inputs["index"]]
        samples = [sample for sample in prompts for _ in range(group)]
        no_cot_fraction = tempsamp.no_cot_fraction if tempsamp else 0.0
        prompt_cots = cot_modes(inputs["index"], no_cot_fraction, self.params.seed)
        cots = [cot for cot in prompt_cots for _ in range(group)]
        batch, rows = self._encode(prompts, [self.template if cot else self.no_cot_template for cot in prompt_cots])
        features = towered = None
        if self.params.encode_once:
            # one encoding per video for all three passes: under fix_vit the frozen tower's output is shared, and
            # only each model's merger runs (the policy's with grad, the rollout using it detached)
            unwrapped = self.accelerator.unwrap_model(model)
            towered = tower(unwrapped, batch) if self.params.fix_vit else None
            features = video_features(unwrapped, batch, towered)
        prompt_length = batch["input_ids"].shape[1]
        rollout_features = repeat_features(features, 1, detach=True) if features is not None else None
        completion_ids = self._rollout(model, batch, rows, rollout_features)[:, prompt_length:]
        guided = torch.zeros(len(samples), dtype=torch.bool)
        if tempsamp and tempsamp.guidance:
            completion_ids, guided = inject_ground_truth(completion_ids, samples, cots, group, self.processor.tokenizer,
                                                         tempsamp.reasoning)
        sequences = torch.cat([rows["input_ids"], completion_ids], dim=1)
        mask = completion_mask(completion_ids, self.processor.tokenizer.eos_token_id)
        texts = self.processor.batch_decode(completion_ids * mask, skip_special_tokens=True)
        rewards = score(texts, samples, self.rewards)
        if tempsamp and tempsamp.soft_advantage:
            shaped = shaped_total(rewards, self.rewards, tempsamp.tau, tempsamp.alpha, tempsamp.slope)
            if not tempsamp.guided_soft:
                shaped = [raw if g else value for value, raw, g in zip(shaped, rewards["total"], guided.tolist())]
            rewards["total"] = shaped
        total = torch.tensor(rewards["total"], dtype=torch.float32, device=sequences.device)
        baseline = ~guided if tempsamp and tempsamp.guidance and not tempsamp.guided_in_baseline else None
        advantages = group_advantages(total, group, baseline)

        attention_mask = torch.cat([rows["attention_mask"], mask], dim=1)
        logps = self._token_logps(model, rows, sequences, attention_mask, prompt_length,
                                  {"video": repeat_features(features, group)} if features is not None else None)
        # one update per rollout: the ratio is exp(0) = 1, but its gradient is the policy gradient. The guided row
        # was sampled by no policy: its term is rl.tempsamp.off_policy's (tempsamp.guided_term; `likelihood` is
        # this same expression, the advantage-weighted log-likelihood of the ground truth)
        per_token = -torch.exp(logps - logps.detach()) * advantages[:, None]
        if guided.any():
            rows_guided = guided.to(per_token.device)[:, None]
            per_token = torch.where(rows_guided, guided_term(logps, advantages, tempsamp.off_policy, tempsamp.gamma),
                                    per_token)
        if self.ref_model is not None:
            with torch.no_grad():
                ref_features = None
                if features is not None:
                    ref_features = {"video": repeat_features(video_features(self.ref_model, batch, towered), group)}
                ref_logps = self._token_logps(self.ref_model, rows, sequences, attention_mask, prompt_length,
                                              ref_features)
            kl = torch.exp(ref_logps - logps) - (ref_logps - logps) - 1  # k3 estimator
            per_token = per_token + self.params.beta * kl
        lengths = mask.sum(1).clamp(min=1)
        loss = ((per_token * mask).sum(1) / lengths).mean()

        # the curves describe the policy's own rollouts, not the injected answers
        sampled = [not g for g in guided.tolist()]
        on_policy = torch.tensor(sampled, device=sequences.device)
        self._record({name: [v for v, keep in zip(values, sampled) if keep] for name, values in rewards.items()},
                     total[on_policy], sum(sampled[:group]), mask[on_policy],
                     [t for t, keep in zip(texts, sampled) if keep], [s for s, keep in zip(samples, sampled) if keep],
                     kl[on_policy] if self.ref_model is not None else None)
        return loss

    def _record(self, rewards, total, group, mask, texts, samples, kl) -> None:
        metrics = self._metrics
        metrics["reward"].append(total.mean().item())
        metrics["reward_std"].append(total.view(-1, group).std(1).mean().item())
        for name, values in rewards.items():
            if name != "total":
                metrics[f"rewards/{name}"].append(sum(values) / len(values))
        metrics["completion_length"].append(mask.sum(1).float().mean().item())
        ious = [iou(parse_span(t), (s.start, s.end)) for t, s in zip(texts, samples)]
        metrics["iou"].append(sum(ious) / len(ious))
        # TempSamp-R1's premise: a group whose rollouts all miss the span (IoU 0) gives GRPO no grounding signal
        groups = [ious[i: i + group] for i in range(0, len(ious), group)]
        metrics["empty_groups"].append(sum(max(g) == 0.0 for g in groups) / len(groups))
        if kl is not None:
            metrics["kl"].append(((kl * mask).sum() / mask.sum().clamp(min=1)).item())

    def log(self, logs: dict, start_time: float | None = None) -> None:
        """Merge the rollout metrics gathered since the last log into the trainer's log (and so into wandb)."""
        if "loss" in logs:
            logs.update({name: round(sum(v) / len(v), 4) for name, v in self._metrics.items() if v})
            self._metrics.clear()
        super().log(logs, start_time)


def grpo(model_dir: str | Path, out_dir: str | Path, store: SampleStore, template: str, params: Grpo,
         rewards: dict[str, float], tempsamp: Tempsamp | None = None, report_to: str = "none",
         no_cot_template: str | None = None) -> dict:
    """One GRPO round on every sample of `store`, from `model_dir`; saves an HF folder in `out_dir`.
    `rewards` weighs the reward functions (params rl.rewards); `tempsamp` None or all off is Time-R1's GRPO."""
    from datasets import Dataset

    if params.prefill_once and not params.encode_once:
        raise ValueError("rl.grpo.prefill_once needs encode_once: true (the prefill starts from each prompt's video "
                         "embeddings); set both, or prefill_once: false")
    model, processor = load_model(model_dir)
    processor.tokenizer.padding_side = "left"
    if params.fix_vit:
        freeze_vision_but_merger(model)
    gpu = torch.cuda.is_available()
    args = TrainingArguments(
        output_dir=str(Path(out_dir) / "trainer"), per_device_train_batch_size=params.batch_size,
        gradient_accumulation_steps=params.gradient_accumulation_steps, num_train_epochs=params.epochs,
        max_steps=params.max_steps or -1, learning_rate=params.learning_rate, lr_scheduler_type=params.lr_scheduler,
        warmup_steps=params.warmup_steps, max_grad_norm=params.max_grad_norm, logging_steps=params.logging_steps,
        save_strategy="no", report_to=report_to, seed=params.seed, bf16=gpu, remove_unused_columns=False,
        dataloader_num_workers=0, gradient_checkpointing=gpu and params.gradient_checkpointing, disable_tqdm=False,
    )
    trainer = VideoGRPOTrainer(model=model, processor=processor, store=store, template=template, params=params,
                               rewards=rewards, tempsamp=tempsamp, args=args,
                               train_dataset=Dataset.from_dict({"index": list(range(len(store)))}),
                               no_cot_template=no_cot_template)
    result = trainer.train()
    trainer.save_model(str(out_dir))
    processor.save_pretrained(str(out_dir))
    return {"steps": result.global_step, "log": trainer.state.log_history}


CURVES = ("step", "loss", "reward", "reward_std", "kl", "completion_length", "iou", "empty_groups", "learning_rate")


def write_curves(log: list[dict], path: Path) -> None:
    """The per-step training log of a round as a csv (DVC plots read it): one row per logged step."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CURVES, extrasaction="ignore")
        writer.writeheader()
        for entry in log:
            if "loss" in entry:
                writer.writerow({"step": entry["step"], **{k: entry.get(k, "") for k in CURVES[1:]}})


def round_report(name: str, log: list[dict], counts: dict, table) -> dict:
    """A round's metrics: the refiltering counts, the steps, the mean rollout reward and share of groups with no
    rollout overlapping the span (empty_groups), the greedy mean IoU after it."""
    rewards = [entry["reward"] for entry in log if "reward" in entry]
    empty = [entry["empty_groups"] for entry in log if "empty_groups" in entry]
    return {"round": name, **counts, "steps": len(rewards),
            "mean_reward": round(sum(rewards) / len(rewards), 4) if rewards else None,
            "empty_groups": round(sum(empty) / len(empty), 4) if empty else None,
            "mean_iou": round(float(table["iou"].mean()), 4) if len(table) else None}
