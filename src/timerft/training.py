"""Supervised training through TRL's SFTTrainer: the tiny base model's pretraining and the cold-start SFT.

TRL's SFT data preparation handles images, not videos, so the dataset is a list of row indices and a
collator builds each batch (frames from the cache, prompt, target reply, labels) with model.encode.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from timerft.model import Sample, SampleStore, encode, load_model


def freeze_vision_but_merger(model) -> None:
    """Time-R1's fix_vit: the vision tower stays as it is, except the merger that projects into the LLM."""
    for name, parameter in model.named_parameters():
        if ".visual." in f".{name}" and ".merger." not in name:
            parameter.requires_grad_(False)


def supervised(model_dir: str | Path, out_dir: str | Path, store: SampleStore, target: Callable[[Sample], str],
               template: str, params: dict, report_to: str = "none", callbacks: list | None = None) -> dict:
    """Train on every sample of `store` (any sequence of Samples) to answer `target(sample)`; save an HF folder."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model, processor = load_model(model_dir)
    if params.get("fix_vit"):
        freeze_vision_but_merger(model)

    def collate(rows: list[dict]):
        samples = [store[row["index"]] for row in rows]
        return encode(processor, samples, template, [target(s) for s in samples])

    gpu = torch.cuda.is_available()
    args = SFTConfig(
        output_dir=str(Path(out_dir) / "trainer"), per_device_train_batch_size=params["batch_size"],
        num_train_epochs=params["epochs"], max_steps=params.get("max_steps") or -1,
        learning_rate=params["learning_rate"], lr_scheduler_type=params.get("lr_scheduler", "cosine"),
        warmup_steps=params.get("warmup_steps", 0), weight_decay=params.get("weight_decay", 0.0),
        logging_steps=params.get("logging_steps", 10), save_strategy="no", report_to=report_to, seed=params["seed"],
        bf16=gpu, gradient_checkpointing=gpu and params.get("gradient_checkpointing", False),
        dataset_kwargs={"skip_prepare_dataset": True}, remove_unused_columns=False,
        dataloader_num_workers=params.get("dataloader_num_workers", 0),
        full_determinism=params.get("full_determinism", False), disable_tqdm=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_dict({"index": list(range(len(store)))}),
                         data_collator=collate, processing_class=processor, callbacks=callbacks)
    result = trainer.train()
    trainer.save_model(str(out_dir))
    processor.save_pretrained(str(out_dir))
    return {"train_loss": result.training_loss, "steps": result.global_step, "log": trainer.state.log_history}
