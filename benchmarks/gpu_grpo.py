"""One GRPO step of timerft at real scale on one GPU, timed by phase and compared with the hardware.

What it runs: timerft.grpo's VideoGRPOTrainer (the code the `rl` stage runs) on a random-init Qwen2.5-VL-3B or
-7B of the published configuration (timerft.arch), with the paper's settings: bf16, gradient checkpointing,
SDPA attention (or flash-attention 2 if installed), the ViT frozen but its merger, G = 8 rollouts per prompt,
synthetic frames sized to 3584 video tokens per sample (32 frames of 392 x 448 at 2 fps: 16 temporal groups of
14 x 16 merged patches), completions of 256 tokens, k3 KL to a frozen reference (beta 0.04).
A random model never emits EOS, so every rollout runs to the full completion length: the worst case.

What it times (torch.cuda.synchronize around each phase; medians over the steps after the first, a warm-up):
  encode        the processor turning 8 x 32 frames + prompt into the model batch (CPU)
  rollout       HF `generate` of G completions (prefill of prompt + vision, then one decode step per token)
  reward        decoding the completions and scoring them (tIoU + format)
  policy_logps  the policy's forward over prompt + completion (with gradient)
  ref_logps     the reference model's forward (no gradient)
  backward      loss.backward through the checkpointed LLM
  optimizer     clipping and the AdamW step
  step          the whole trainer step (everything above)
and reports generated tokens/s, samples/s (completions per second of step), peak GPU memory
(torch.cuda.max_memory_allocated).

Against the hardware (both ceilings are measured here, not taken from a datasheet):
  bandwidth     a large device-to-device copy, counting bytes read + written
  matmul        an 8192^3 bf16 matrix product, TFLOP/s
  decode bound  each decode step must read every LLM weight once (bf16) and the KV cache of all G sequences:
                t_min = (2 * N_llm + kv_bytes) / bandwidth; ratio = t_min / measured decode step time
  train ratio   FLOPs of the training phase (policy forward + backward with one recompute for checkpointing,
                reference forward; 2*N*T per forward, 4*N*T backward, plus causal attention, plus the frozen
                ViT's forward) over its time, divided by the matmul rate. `model_flops_utilisation` counts the
                conventional 6*N*T + ref 2*N*T without the recompute.

Rollouts run in eval mode (timerft.grpo does it): in train mode with gradient checkpointing on, transformers
drops the KV cache, and every decode step after the first would see no context (tests/test_arch.py).

vLLM: tried when importable (`--vllm`); on the measured machine it was not (see docs/gpu.md).

Examples:
  python benchmarks/gpu_grpo.py --size 3b --out benchmarks/results/h100_3b.json
  accelerate launch --config_file configs/accelerate/single_gpu.yaml benchmarks/gpu_grpo.py --size 3b
  accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 1 benchmarks/gpu_grpo.py --steps 2
  python benchmarks/gpu_grpo.py --size 3b --compare --out benchmarks/results/h100_3b_reuse.json
                                                # before (--reuse off) and after, one JSON, with the ratios
  python benchmarks/gpu_grpo.py --tiny          # CPU smoke run of the same code path, seconds
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import timerft.grpo as grpo_module  # noqa: E402
from timerft.arch import build, parameter_counts  # noqa: E402
from timerft.grpo import VideoGRPOTrainer  # noqa: E402
from timerft.model import Sample  # noqa: E402
from timerft.training import freeze_vision_but_merger  # noqa: E402

TEMPLATE = ('Watch the video and find when this event happens: "{query}". Think it through inside <think> </think> '
            'tags, marking the time ranges you consider inside <timestep> </timestep> tags. Then give the start and '
            'end of the event in seconds, with two decimals, as "start to end" inside <answer> </answer> tags, for '
            'example <answer>12.54 to 17.83</answer>.')


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class Timer:
    """Phase times of the current step; `steps` keeps one dict per finished step."""

    def __init__(self):
        self.current, self.steps, self.extra = defaultdict(float), [], defaultdict(list)

    def add(self, name: str, seconds: float) -> None:
        self.current[name] += seconds

    def timed(self, name: str, fn, *args, **kwargs):
        sync()
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        sync()
        self.add(name, time.perf_counter() - start)
        return result


def measure_bandwidth(device: str, gib: float = 2.0, repeats: int = 10) -> float:
    """Bytes read + written per second by a device-to-device copy of `gib` GiB (median of `repeats`)."""
    n = int(gib * 2**30)
    a = torch.empty(n, dtype=torch.uint8, device=device)
    a.random_(0, 255) if device != "cpu" else a.fill_(7)
    b = torch.empty_like(a)
    times = []
    for i in range(repeats + 2):
        sync()
        start = time.perf_counter()
        b.copy_(a)
        sync()
        if i >= 2:
            times.append(time.perf_counter() - start)
    del a, b
    return 2 * n / statistics.median(times)


def measure_matmul(device: str, n: int = 8192, repeats: int = 10) -> float:
    """FLOP/s of an n^3 bf16 matrix product on random data (median of `repeats` after warm-ups)."""
    dtype = torch.bfloat16 if device != "cpu" else torch.float32
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    times = []
    for i in range(repeats + 3):
        sync()
        start = time.perf_counter()
        a @ b
        sync()
        if i >= 3:
            times.append(time.perf_counter() - start)
    del a, b
    return 2 * n**3 / statistics.median(times)


def synthetic_samples(count: int, frames: int, height: int, width: int, seed: int = 0) -> list[Sample]:
    """Noise videos at 2 fps with a ground-truth span each (the rewards need one)."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        video = rng.integers(0, 256, (frames, height, width, 3), dtype=np.uint8)
        duration = frames / 2.0
        samples.append(Sample(f"s{i}", "the red square appears", video, np.arange(frames) / 2.0, duration,
                              0.25 * duration, 0.5 * duration))
    return samples


class TimedGRPOTrainer(VideoGRPOTrainer):
    """VideoGRPOTrainer with synchronised timers around its phases; the algorithm is untouched."""

    def __init__(self, *args, timer: Timer, **kwargs):
        super().__init__(*args, **kwargs)
        self.timer = timer

    def _rollout(self, model, batch, rows, features=None):
        unwrapped = self.accelerator.unwrap_model(model)
        calls = []

        def pre(*_):
            sync()
            calls.append([time.perf_counter(), None])

        def post(*_):
            sync()
            calls[-1][1] = time.perf_counter()

        hooks = [unwrapped.register_forward_pre_hook(pre), unwrapped.register_forward_hook(post)]
        try:
            sync()
            start = time.perf_counter()
            sequences = super()._rollout(model, batch, rows, features)
            sync()
            total = time.perf_counter() - start
        finally:
            for hook in hooks:
                hook.remove()
        prompt = batch["input_ids"].shape[1]
        new = sequences.shape[1] - prompt
        prefill = calls[0][1] - start if calls else 0.0
        self.timer.add("rollout", total)
        self.timer.add("rollout_prefill", prefill)
        self.timer.add("rollout_decode", total - prefill)
        self.timer.extra["generated_tokens"].append(int(new * sequences.shape[0]))
        self.timer.extra["new_tokens_per_sequence"].append(int(new))
        self.timer.extra["sequences"].append(int(sequences.shape[0]))
        self.timer.extra["prompt_tokens"].append(int(prompt))
        self.timer.extra["forward_calls"].append(len(calls))
        if "video_grid_thw" in batch:
            grid = batch["video_grid_thw"]
            self.timer.extra["video_patches"].append(int(grid.prod(-1).sum()))
            merge = unwrapped.config.vision_config.spatial_merge_size ** 2
            self.timer.extra["video_tokens_per_sample"].append(int(grid[0].prod()) // merge)
        return sequences

    def _token_logps(self, model, batch, sequences, attention_mask, prompt_length, features=None):
        name = "ref_logps" if model is self.ref_model else "policy_logps"
        return self.timer.timed(name, super()._token_logps, model, batch, sequences, attention_mask, prompt_length,
                                features)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        return self.timer.timed("compute_loss", super().compute_loss, model, inputs, return_outputs,
                                num_items_in_batch)

    def training_step(self, model, inputs, num_items_in_batch=None):
        return self.timer.timed("training_step", super().training_step, model, inputs, num_items_in_batch)


def phase_callback(timer: Timer):
    from transformers import TrainerCallback

    class Phases(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
            sync()
            self.step_start = time.perf_counter()

        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            sync()
            self.opt_start = time.perf_counter()

        def on_optimizer_step(self, args, state, control, **kwargs):
            sync()
            timer.add("optimizer", time.perf_counter() - self.opt_start)

        def on_step_end(self, args, state, control, **kwargs):
            sync()
            timer.add("step", time.perf_counter() - self.step_start)
            if torch.cuda.is_available():
                timer.add("peak_memory_gib", torch.cuda.max_memory_allocated() / 2**30)
            timer.steps.append(dict(timer.current))
            timer.current.clear()

    return Phases()


def profiler_callback(profiler):
    from transformers import TrainerCallback

    class Step(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            sync()
            profiler.step()

    return Step()


def time_vision_tower(model, processor, sample: Sample, copies: int, repeats: int = 2) -> float:
    """Seconds of one no-grad ViT forward over the G copies of a prompt's video (what each scoring pass pays)."""
    batch = grpo_module.encode(processor, [sample] * copies, TEMPLATE).to(model.device)
    visual = model.model.visual
    pixels = batch["pixel_values_videos"].to(visual.dtype if hasattr(visual, "dtype") else model.dtype)
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            sync()
            start = time.perf_counter()
            visual(pixels, grid_thw=batch["video_grid_thw"])
            sync()
            times.append(time.perf_counter() - start)
    return min(times)


def wrap_module_functions(timer: Timer):
    """Time the processor (encode) and the rewards (score) where grpo.py looks them up."""
    encode, score = grpo_module.encode, grpo_module.score
    grpo_module.encode = lambda *a, **k: timer.timed("encode", encode, *a, **k)
    grpo_module.score = lambda *a, **k: timer.timed("reward", score, *a, **k)
    return lambda: (setattr(grpo_module, "encode", encode), setattr(grpo_module, "score", score))


def flops(counts: dict, config, tokens_per_seq: int, sequences: int, patches: int, trainable_llm: int) -> dict:
    """Approximate FLOPs of the phases of one step (matmuls and causal attention)."""
    text = config.text_config
    n_llm = counts["llm"] - counts["embeddings"] + (counts["embeddings"] if counts["lm_head"] == 0 else 0)
    # per token, each LLM weight but the input embedding lookup is one multiply-add; tied: lm_head = embeddings
    tokens = tokens_per_seq * sequences
    attn = 2 * 2 * text.num_hidden_layers * tokens_per_seq**2 * text.num_attention_heads * HEAD_DIM_OF(text) / 2
    forward = 2 * n_llm * tokens + attn * sequences
    vision = 2 * (counts["vision"] + counts["merger"]) * patches  # window attention in the ViT: small, left out
    return {"llm_forward": forward, "vision_forward": vision,
            "train_phase": 2 * forward + 2 * forward + forward + 2 * vision,  # policy fwd + recompute + bwd, ref fwd
            "model_flops": 3 * forward + forward + 2 * vision, "n_llm_matmul": n_llm, "tokens": tokens,
            "trainable_llm": trainable_llm}


def HEAD_DIM_OF(text) -> int:  # noqa: N802
    return getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads


def try_vllm() -> dict:
    try:
        import vllm  # noqa: F401
    except Exception as error:  # noqa: BLE001
        return {"available": False, "reason": f"import vllm failed: {type(error).__name__}: {error}"[:300]}
    return {"available": True, "version": vllm.__version__,
            "note": "importable, but the comparison run is not implemented in this script yet"}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["3b", "7b"], default="3b", help="published configuration to build")
    parser.add_argument("--tiny", action="store_true",
                        help="CPU smoke run: shrunk 3b (1 layer, 2 vision blocks, 1/8 width), 4 small frames, G=2")
    parser.add_argument("--layers", type=int, default=None, help="shrink: LLM layers (default: published)")
    parser.add_argument("--vision-depth", type=int, default=None, help="shrink: vision blocks (default: 32)")
    parser.add_argument("--frames", type=int, default=32, help="frames per video (2 frames = 1 temporal token group)")
    parser.add_argument("--height", type=int, default=392, help="frame height in pixels (multiple of 28)")
    parser.add_argument("--width", type=int, default=448, help="frame width in pixels (multiple of 28)")
    parser.add_argument("--prompts", type=int, default=1, help="prompts per step (per GPU); each gets G rollouts")
    parser.add_argument("--num-generations", type=int, default=8, help="G")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="completion length")
    parser.add_argument("--steps", type=int, default=3, help="trainer steps; the first is a warm-up")
    parser.add_argument("--beta", type=float, default=0.04, help="KL weight; 0 drops the reference model")
    parser.add_argument("--learning-rate", type=float, default=1e-6)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--optim", default="adamw_torch", help="TrainingArguments.optim (e.g. adafactor)")
    parser.add_argument("--grad-accum", type=int, default=1, help="gradient accumulation steps (zero3.yaml says 2)")
    parser.add_argument("--attn", default="sdpa", help="sdpa | flash_attention_2 | eager")
    parser.add_argument("--no-gradient-checkpointing", action="store_true")
    parser.add_argument("--skip-hardware", action="store_true", help="skip the bandwidth and matmul measurements")
    parser.add_argument("--vllm", action="store_true", help="also report whether vLLM can be used")
    parser.add_argument("--profile", action="store_true",
                        help="torch.profiler over the second step: top kernels by GPU time into <out>.profile.txt")
    parser.add_argument("--reuse", choices=list(REUSE), default="encode+prefill",
                        help="what a group's G rows share (rl.grpo.encode_once / prefill_once; timerft.group_reuse):"
                             " off = each row encodes its video and prefills its prompt (the path before them)")
    parser.add_argument("--compare", action="store_true",
                        help="run --reuse off, then --reuse as given; one JSON with before, after and the ratios")
    parser.add_argument("--out", default=None, help="JSON file for the figures (default: print only)")
    args = parser.parse_args(argv)
    if args.compare:
        before = measure(argparse.Namespace(**{**vars(args), "reuse": "off", "profile": False}))
        after = measure(args)
        figures = {"device": after["device"], "before": before, "after": after, "ratios": ratios(before, after)}
        print(json.dumps(figures["ratios"], indent=1))
    else:
        figures = measure(args)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(figures, indent=1, default=str) + "\n")
        print(f"wrote {args.out}")
    return figures


REUSE = {"off": (False, False), "encode": (True, False), "encode+prefill": (True, True)}


def ratios(before: dict, after: dict) -> dict:
    """after / before for each phase's median time, peak memory and, where measured, the decode ratio."""
    out = {f"{phase}_s": after["phases_s"][phase] / before["phases_s"][phase]
           for phase in before["phases_s"] if before["phases_s"][phase] and phase in after["phases_s"]}
    if before.get("peak_memory_gib") and after.get("peak_memory_gib"):
        out["peak_memory"] = after["peak_memory_gib"] / before["peak_memory_gib"]
    if "vs_hardware" in before and "vs_hardware" in after:
        out["decode_ratio_before"] = before["vs_hardware"]["decode_ratio"]
        out["decode_ratio_after"] = after["vs_hardware"]["decode_ratio"]
    return out


def measure(args) -> dict:
    """Build the model, run the timed trainer steps, return the figures (printed as a table)."""

    from datasets import Dataset
    from transformers import TrainingArguments

    gpu = torch.cuda.is_available()
    device = "cuda" if gpu else "cpu"
    shrink = {"layers": args.layers, "vision_depth": args.vision_depth}
    if args.tiny:
        shrink = {"layers": 1, "vision_depth": 2, "width_divisor": 8, "vocab_size": 2048}
        args.frames, args.height, args.width = 4, 56, 56
        args.num_generations, args.max_new_tokens, args.steps = 2, 6, 2
        args.skip_hardware = args.skip_hardware or not gpu
    shrink = {k: v for k, v in shrink.items() if v is not None}

    hardware = {}
    if not args.skip_hardware:
        hardware = {"bandwidth_bytes_per_s": measure_bandwidth(device), "matmul_flop_per_s": measure_matmul(device)}
        print(f"measured: copy {hardware['bandwidth_bytes_per_s'] / 1e12:.2f} TB/s (read + write), "
              f"bf16 matmul {hardware['matmul_flop_per_s'] / 1e12:.0f} TFLOP/s", flush=True)

    start = time.perf_counter()
    model, processor = build(args.size, device=device, dtype="bfloat16" if gpu else "float32",
                             attn_implementation=args.attn, pixels={"min_pixels": 3136, "max_pixels": 768 * 28 * 28},
                             **shrink)
    sync()
    build_s = time.perf_counter() - start
    freeze_vision_but_merger(model)
    counts = parameter_counts(model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"built Qwen2.5-VL-{args.size}{' (shrunk)' if shrink else ''}: {counts['total'] / 1e9:.3f} B parameters, "
          f"{trainable / 1e9:.3f} B trained, in {build_s:.1f} s on {device}", flush=True)

    samples = synthetic_samples(max(args.prompts, 1), args.frames, args.height, args.width)
    from dataclasses import replace

    from timerft.params import load_params

    # the project's rl.grpo params with this run's settings (the trainer reads these; TrainingArguments the rest)
    rl = replace(load_params("rl", Path(__file__).resolve().parents[1] / "params.yaml").grpo, seed=0,
                 num_generations=args.num_generations, batch_size=args.prompts, beta=args.beta,
                 temperature=args.temperature, max_completion_length=args.max_new_tokens,
                 encode_once=REUSE[args.reuse][0], prefill_once=REUSE[args.reuse][1])
    timer = Timer()
    out_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "gpu_grpo_trainer"
    training_args = TrainingArguments(
        output_dir=str(out_dir), per_device_train_batch_size=args.prompts, gradient_accumulation_steps=args.grad_accum,
        max_steps=args.steps, learning_rate=args.learning_rate, lr_scheduler_type="constant", max_grad_norm=1.0,
        logging_steps=1, save_strategy="no", report_to="none", seed=0, bf16=gpu, remove_unused_columns=False,
        dataloader_num_workers=0, gradient_checkpointing=gpu and not args.no_gradient_checkpointing,
        optim=args.optim, disable_tqdm=True,
    )
    rows = args.prompts * args.steps * args.grad_accum
    dataset = Dataset.from_dict({"index": [i % len(samples) for i in range(rows)]})
    trainer = TimedGRPOTrainer(model=model, processor=processor, store=samples, template=TEMPLATE, params=rl,
                               rewards={"tiou": 1.0, "format": 1.0}, tempsamp=None, args=training_args,
                               train_dataset=dataset, timer=timer)
    trainer.add_callback(phase_callback(timer))
    restore = wrap_module_functions(timer)
    profiler = None
    if args.profile:
        activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if gpu else [])
        profiler = torch.profiler.profile(activities=activities,
                                          schedule=torch.profiler.schedule(wait=1, warmup=0, active=1))
        trainer.add_callback(profiler_callback(profiler))
        profiler.start()
    try:
        trainer.train()
    finally:
        restore()
        if profiler is not None:
            profiler.stop()
    vision_s = time_vision_tower(model, processor, samples[0], args.num_generations)

    timed = timer.steps[1:] or timer.steps  # the first step is the warm-up
    phases = sorted({k for step in timed for k in step})
    median = {k: statistics.median(step.get(k, 0.0) for step in timed) for k in phases}
    median["backward"] = median.get("training_step", 0.0) - median.get("compute_loss", 0.0)
    extra = {k: v[-1] for k, v in timer.extra.items()}
    sequences = extra.get("sequences", args.prompts * args.num_generations) * args.grad_accum
    new_tokens = extra.get("new_tokens_per_sequence", args.max_new_tokens)
    decode_steps = max(new_tokens - 1, 1)
    figures = {
        "device": torch.cuda.get_device_name() if gpu else platform.processor() or "cpu",
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                     "python": platform.python_version()},
        "launcher": {k: os.environ.get(k) for k in ("ACCELERATE_MIXED_PRECISION", "ACCELERATE_USE_DEEPSPEED",
                                                     "WORLD_SIZE", "ACCELERATE_DYNAMO_BACKEND") if os.environ.get(k)},
        "distributed_type": str(trainer.accelerator.distributed_type),
        "settings": {**vars(args), "shrink": shrink, "gradient_checkpointing": training_args.gradient_checkpointing},
        "parameters": {**counts, "trainable": trainable},
        "build_s": build_s,
        "vision_tower_forward_s": vision_s,
        "steps_timed": len(timed),
        "phases_s": median,
        "per_step_phases_s": timer.steps,
        "rollout": extra,
        "generated_tokens_per_s": sequences * new_tokens / median["rollout"],
        "decode_tokens_per_s": (sequences * decode_steps / median["rollout_decode"]
                                if median["rollout_decode"] else None),
        "decode_step_ms": 1e3 * median["rollout_decode"] / decode_steps,
        "samples_per_s": sequences / median["step"],
        "peak_memory_gib": max((step.get("peak_memory_gib", 0.0) for step in timer.steps), default=None),
        "hardware": hardware,
        "log": [entry for entry in trainer.state.log_history if "loss" in entry],
    }
    if args.vllm:
        figures["vllm"] = try_vllm()

    # against the hardware
    config = model.config
    text = config.text_config
    tokens_per_seq = extra.get("prompt_tokens", 0) + new_tokens
    f = flops(counts, config, tokens_per_seq, sequences, extra.get("video_patches", 0), trainable)
    figures["flops"] = f
    if hardware:
        bw, rate = hardware["bandwidth_bytes_per_s"], hardware["matmul_flop_per_s"]
        weight_bytes = 2 * f["n_llm_matmul"]  # bf16, every LLM matrix once per decode step
        kv_per_token = 2 * text.num_hidden_layers * text.num_key_value_heads * HEAD_DIM_OF(text) * 2
        mean_context = extra.get("prompt_tokens", 0) + new_tokens / 2
        kv_bytes = kv_per_token * mean_context * sequences
        t_min = (weight_bytes + kv_bytes) / bw
        measured_step = median["rollout_decode"] / decode_steps
        train_time = median["policy_logps"] + median.get("ref_logps", 0.0) + median["backward"]
        figures["vs_hardware"] = {
            "decode_bytes_per_step": weight_bytes + kv_bytes, "decode_weight_bytes": weight_bytes,
            "decode_kv_bytes": kv_bytes, "decode_step_bound_ms": 1e3 * t_min,
            "decode_step_measured_ms": 1e3 * measured_step,
            "decode_tokens_per_s_bound": sequences / t_min,
            "decode_ratio": t_min / measured_step,
            "prefill_tflop_per_s": (f["llm_forward"] + f["vision_forward"]) / median["rollout_prefill"] / 1e12
            if median["rollout_prefill"] else None,
            "train_phase_s": train_time,
            "train_tflop_per_s": f["train_phase"] / train_time / 1e12,
            "train_ratio": f["train_phase"] / train_time / rate,
            "model_flops_utilisation": f["model_flops"] / train_time / rate,
            "step_model_flops_utilisation": f["model_flops"] / median["step"] / rate,
        }
    if profiler is not None:
        sort = "self_cuda_time_total" if gpu else "self_cpu_time_total"
        table = profiler.key_averages().table(sort_by=sort, row_limit=30, max_name_column_width=70)
        figures["profile_file"] = f"{args.out}.profile.txt" if args.out else None
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(f"{args.out}.profile.txt").write_text(table)
        print(table[-6000:])
    print_table(figures)
    del trainer, model
    gc.collect()
    if gpu:
        torch.cuda.empty_cache()  # the next measurement starts from an empty GPU
    return figures


def print_table(figures: dict) -> None:
    p = figures["phases_s"]
    print(f"\n== {figures['device']} | {figures['settings']['size']} {figures['settings']['shrink'] or ''} | "
          f"reuse {figures['settings']['reuse']} | "
          f"{figures['distributed_type']} | steps timed {figures['steps_timed']}")
    for name in ("encode", "rollout", "rollout_prefill", "rollout_decode", "reward", "policy_logps", "ref_logps",
                 "backward", "optimizer", "step"):
        if name in p:
            print(f"  {name:16s} {p[name]:8.3f} s")
    r = figures["rollout"]
    print(f"  prompt tokens {r.get('prompt_tokens')}, video tokens/sample {r.get('video_tokens_per_sample')}, "
          f"sequences {r.get('sequences')}, new tokens/seq {r.get('new_tokens_per_sequence')}")
    print(f"  ViT forward over the G videos alone: {figures['vision_tower_forward_s']:.3f} s")
    print(f"  generated tokens/s {figures['generated_tokens_per_s']:.1f}, "
          f"decode step {figures['decode_step_ms']:.2f} ms,"
          f" samples/s {figures['samples_per_s']:.3f}, peak memory {figures['peak_memory_gib']} GiB")
    h = figures.get("vs_hardware")
    if h:
        print(f"  decode: bound {h['decode_step_bound_ms']:.2f} ms/step vs measured {h['decode_step_measured_ms']:.2f}"
              f" -> ratio {h['decode_ratio']:.3f}")
        print(f"  train phase: {h['train_tflop_per_s']:.0f} TFLOP/s -> ratio {h['train_ratio']:.3f} of matmul rate "
              f"(MFU {h['model_flops_utilisation']:.3f}; whole step MFU {h['step_model_flops_utilisation']:.3f})")


if __name__ == "__main__":
    main()
