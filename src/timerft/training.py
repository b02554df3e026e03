"""Supervised training through TRL's SFTTrainer: the tiny base model's pretraining and the cold-start SFT.

TRL's SFT data preparation handles images, not videos, so the dataset is a list of row indices and a
collator builds each batch (frames from the cache, prompt, target reply, labels) with model.encode.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from timerft.model import Sample, SampleStore, encode, load_model
from timerft.params import Training


def freeze_vision_but_merger(model) -> None:
    """Time-R1's fix_vit: the vision tower stays as it is, except the merger that projects into the LLM."""
    for name, parameter in model.named_parameters():
        if ".visual." in f".{name}" and ".merger." not in name:
            parameter.requires_grad_(False)


def cold_start_replies(table, cot_jsonl: str | None, cot_scope: str) -> dict[str, str]:
    """The cold start's reply for each qid of `table` that has one with reasoning: from `cot_jsonl` (rows of `qid` and
    `reply`) when given, else written from the synthetic annotations' ground truth (`synthetic_cot`)."""
    from timerft.inference import read_jsonl
    from timerft.prompts import synthetic_cot, target_text

    if cot_jsonl:
        replies = {row["qid"]: row.get("reply") for row in read_jsonl(cot_jsonl)}
    else:
        replies = {qid: target_text(s, e, synthetic_cot(m, cot_scope))
                   for qid, s, e, m in table[["qid", "start", "end", "meta"]].itertuples(index=False)}
    return {qid: reply for qid, reply in replies.items() if reply is not None and "<think>" in reply}


def synthetic_reply(sample: Sample, cot_scope: str, cot_times: str) -> str | None:
    """The embedded cold start's reply for a SynthTVG sample: the trace of `cot_scope`, then the answer, with the
    annotation's times (`cot_times: exact`) or the times its sampled frames show (`frames`: grounding.visible_span,
    what the model can read off its prompt, as a teacher that watched those frames would write)."""
    from timerft.grounding import visible_span
    from timerft.prompts import synthetic_cot, target_text

    span = (lambda start, end: visible_span(sample.timestamps, start, end)) if cot_times == "frames" else None
    trace = synthetic_cot(sample.meta, cot_scope, span)
    start, end = span(sample.start, sample.end) if span else (sample.start, sample.end)
    return target_text(start, end, trace)


def reply_template(table) -> list[dict]:
    """One row per query of `table` to write the cold start's reply into (`timerft cot-template`)."""
    columns = ["qid", "video", "query", "start", "end"]
    return [{**row, "reply": ""} for row in table[columns].to_dict("records")]


def cold_start_rows(table, replies: dict[str, str], samples: int, seed: int) -> list[str]:
    """The qids the cold start trains on: `samples` rows of `table` with a reply, in a seeded order."""
    chosen = table[table["qid"].isin(replies)].sample(frac=1.0, random_state=seed)
    return chosen["qid"].head(samples).tolist()


def supervised(model_dir: str | Path, out_dir: str | Path, store: SampleStore, target: Callable[[Sample], str],
               template: str, params: Training, report_to: str = "none", callbacks: list | None = None,
               dataloader_num_workers: int = 0, full_determinism: bool = False) -> dict:
    """Train on every sample of `store` (any sequence of Samples) to answer `target(sample)`; save an HF folder."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model, processor = load_model(model_dir)
    if params.fix_vit:
        freeze_vision_but_merger(model)

    def collate(rows: list[dict]):
        samples = [store[row["index"]] for row in rows]
        return encode(processor, samples, template, [target(s) for s in samples])

    gpu = torch.cuda.is_available()
    args = SFTConfig(
        output_dir=str(Path(out_dir) / "trainer"), per_device_train_batch_size=params.batch_size,
        num_train_epochs=params.epochs, max_steps=params.max_steps or -1, learning_rate=params.learning_rate,
        lr_scheduler_type=params.lr_scheduler, warmup_steps=params.warmup_steps, weight_decay=params.weight_decay,
        logging_steps=params.logging_steps, save_strategy="no", report_to=report_to, seed=params.seed,
        bf16=gpu, gradient_checkpointing=gpu and params.gradient_checkpointing,
        dataset_kwargs={"skip_prepare_dataset": True}, remove_unused_columns=False,
        dataloader_num_workers=dataloader_num_workers, full_determinism=full_determinism,
        disable_tqdm=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_dict({"index": list(range(len(store)))}),
                         data_collator=collate, processing_class=processor, callbacks=callbacks)
    result = trainer.train()
    trainer.save_model(str(out_dir))
    processor.save_pretrained(str(out_dir))
    return {"train_loss": result.training_loss, "steps": result.global_step, "log": trainer.state.log_history}
