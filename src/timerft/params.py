"""params.yaml, typed: one frozen dataclass per section, read once, every key checked.

params.yaml is the only place a knob has a value: these classes name the keys and their types, with no defaults
(an optional key of a list item excepted), so a misspelt or missing key stops the stage with the key's name instead
of falling back silently, and the CLI's defaults are read from the same file.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import MISSING, dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

# YAML 1.1, which PyYAML reads, wants a dot in a float: `3e-5` (as `dvc exp run -S rl.grpo.learning_rate=3e-5`
# writes it) would load as the string "3e-5" and fail deep inside the optimizer.
EXPONENT_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")


class ParamsError(ValueError):
    """params.yaml has an unknown, missing or mistyped key."""


@dataclass(frozen=True)
class Synth:
    """The embedded SynthTVG benchmark (stage `data`): timerft.synth.SynthConfig.from_params."""
    seed: int
    counts: dict[str, int]
    duration_range: tuple[float, float]
    fps: int
    size: tuple[int, int]
    events_per_video: tuple[int, int]
    span_fraction: tuple[float, float]
    position_bins: int
    length_bins: int
    distractor_objects: tuple[int, int]
    workers: int  # execution only: the same videos with any number


@dataclass(frozen=True)
class PrepareInput:
    path: str
    format: str = "auto"
    split: str | None = None
    durations: str | None = None


@dataclass(frozen=True)
class Prepare:
    input_root: str
    inputs: tuple[PrepareInput, ...]
    video_root: str
    end_tolerance_s: float
    max_quarantine_fraction: float


@dataclass(frozen=True)
class Frames:
    fps: float
    min_frames: int
    max_frames: int
    min_pixels: int
    max_pixels: int
    total_pixels: int
    clip_tolerance_s: float
    workers: int  # execution only


@dataclass(frozen=True)
class Tiny:
    arch: str
    vocab_size: int
    tokens_per_second: int
    min_pixels: int
    max_pixels: int
    text: dict[str, Any]  # keyword arguments of the HF text config
    vision: dict[str, Any]  # and of the vision config


@dataclass(frozen=True)
class Model:
    name: str
    tiny: Tiny


@dataclass(frozen=True)
class Phase:
    """One step of the pretraining curriculum; a null world key keeps synth's (frames') value."""
    max_steps: int
    learning_rate: float
    target: str  # copy: the prompt's frame-group times around the span | exact: the annotation's span
    event_kinds: tuple[str, ...] | None
    events_per_video: tuple[int, int] | None
    duration_range: tuple[float, float] | None
    max_frames: int | None
    cot_fraction: float = 0.0  # the share of its queries asked with the CoT prompt (same reply: no reasoning)


@dataclass(frozen=True)
class Pretrain:
    out: str
    synth_seed: int
    batch_size: int
    warmup_steps: int
    seed: int
    dataloader_num_workers: int
    tokenizer_texts: int
    check_videos: int
    phases: tuple[Phase, ...]


@dataclass(frozen=True)
class Prompts:
    cot: str
    no_cot: str


@dataclass(frozen=True)
class Ray:
    """Where `inference.backend: ray` runs (execution only): a cluster's address, or a local cluster when null."""
    address: str | None
    actors: int  # one model per actor
    gpus_per_actor: float  # 0: CPU actors


@dataclass(frozen=True)
class Inference:
    batch_size: int
    max_new_tokens: int
    max_new_tokens_cot: int
    cot: bool
    backend: str  # execution only: local | ray (the same predictions either way)
    ray: Ray  # execution only


@dataclass(frozen=True)
class Score:
    split: str
    use_existing_difficulty: bool


@dataclass(frozen=True)
class Select:
    strategy: str
    k: int
    center: float
    sd: float
    band: tuple[float, float]
    seed: int


@dataclass(frozen=True)
class Training:
    """What timerft.training.supervised needs: the cold start's knobs (an Sft is one), or a pretraining phase's."""
    epochs: int
    max_steps: int | None
    batch_size: int
    learning_rate: float
    lr_scheduler: str
    warmup_steps: int
    weight_decay: float
    logging_steps: int
    fix_vit: bool
    gradient_checkpointing: bool
    seed: int


@dataclass(frozen=True)
class Sft(Training):
    launcher: str  # execution only
    split: str
    samples: int
    cot_jsonl: str | None
    cot_scope: str
    cot_times: typing.Literal["exact", "frames"]  # embedded traces' times: the annotation's | as the frames show it


@dataclass(frozen=True)
class Round:
    init: str
    train: str


@dataclass(frozen=True)
class Tempsamp:
    guidance: bool
    reasoning: str
    soft_advantage: bool
    tau: float
    alpha: float
    slope: float
    no_cot_fraction: float
    off_policy: typing.Literal["likelihood", "ratio", "shaped"]  # the guided row's term (tempsamp.guided_term)
    gamma: float  # `shaped`: f(p) = p / (p + gamma)
    guided_soft: bool  # with soft_advantage: the guided row's reward is reshaped too (else it stays raw)
    guided_in_baseline: bool  # the guided row counts in its group's mean and std (else on-policy rows only)


@dataclass(frozen=True)
class Grpo:
    num_generations: int
    batch_size: int
    gradient_accumulation_steps: int
    epochs: int
    max_steps: int | None
    learning_rate: float
    lr_scheduler: str
    warmup_steps: int
    max_grad_norm: float
    beta: float
    temperature: float
    max_completion_length: int
    fix_vit: bool
    gradient_checkpointing: bool
    logging_steps: int
    seed: int
    encode_once: bool  # each distinct video through the vision tower once per step (timerft.group_reuse)
    prefill_once: bool  # each prompt prefilled once, its KV cache repeated for the G rollouts


@dataclass(frozen=True)
class Refilter:
    low: float
    high: float


@dataclass(frozen=True)
class Rl:
    launcher: str  # execution only
    rounds: dict[str, Round]
    grpo: Grpo
    rewards: dict[str, float]
    tempsamp: Tempsamp
    refilter: Refilter
    refilter_batch_size: int


@dataclass(frozen=True)
class Tracking:
    wandb: str
    project: str


@dataclass(frozen=True)
class Evaluate:
    split: str
    cot: dict[str, bool]
    control_seed: int
    both_modes: tuple[str, ...]


@dataclass(frozen=True)
class Orchestration:
    retries: int
    retry_delay_seconds: float
    timeout_seconds: float | None
    task_runner: str  # sequential | ray: the frames decoded on Ray (inference.ray's cluster) before `frames`


@dataclass(frozen=True)
class Params:
    synth: Synth
    prepare: Prepare
    frames: Frames
    model: Model
    pretrain: Pretrain
    prompts: Prompts
    inference: Inference
    score: Score
    select: Select
    sft: Sft
    rl: Rl
    tracking: Tracking
    evaluate: Evaluate
    orchestration: Orchestration


def _number(value: Any) -> Any:
    if isinstance(value, str) and EXPONENT_FLOAT.fullmatch(value.strip()):
        return float(value)
    return value


def _typed(value: Any, hint: Any, where: str) -> Any:
    """`value` as `hint` says, or ParamsError naming `where` (the key's dotted path)."""
    value = _number(value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _typed(value, next(a for a in args if a is not type(None)), where)
    if origin is typing.Literal:
        if value in args:
            return value
        raise ParamsError(f"params.yaml: {where} must be one of {', '.join(map(str, args))}, not {value!r}")
    if is_dataclass(hint):
        return _section(hint, value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ParamsError(f"params.yaml: {where} must be a list, not {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_typed(item, args[0], f"{where}[{i}]") for i, item in enumerate(value))
        if len(value) != len(args):
            raise ParamsError(f"params.yaml: {where} must be a list of {len(args)} values, not {value!r}")
        return tuple(_typed(item, arg, f"{where}[{i}]") for i, (item, arg) in enumerate(zip(value, args)))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"params.yaml: {where} must be a mapping, not {value!r}")
        item_hint = args[1] if args else Any
        return {key: _typed(item, item_hint, f"{where}.{key}") for key, item in value.items()}
    if hint is Any:
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ParamsError(f"params.yaml: {where} must be {hint.__name__}, not {value!r}")


def _key(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _section(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ParamsError(f"params.yaml: {where or 'the file'} must be a mapping of keys, not {data!r}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ParamsError(f"params.yaml: unknown key {_key(where, unknown[0])}: section {where or 'top level'} "
                          f"has {', '.join(known)}; check its spelling")
    missing = [name for name, f in known.items()
               if name not in data and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise ParamsError(f"params.yaml: section {where or 'top level'} lacks the key {_key(where, missing[0])}")
    hints = typing.get_type_hints(cls)
    return cls(**{name: _typed(value, hints[name], _key(where, name)) for name, value in data.items()})


def load_all(path: str | Path = "params.yaml") -> Params:
    """Every section of the params file, each key checked against the classes above."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"no params file at {path.resolve()}: run in the project folder, or pass its path")
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    try:
        return _section(Params, data, "")
    except ParamsError as error:
        raise ParamsError(str(error).replace("params.yaml", str(path), 1)) from None


def load_params(section: str, path: str | Path = "params.yaml") -> Any:
    """One section of the params file (the whole file is checked)."""
    return getattr(load_all(path), section)


def stage_params(path: str | Path = "params.yaml") -> Params:
    """load_all for a stage script: a bad params file stops it with the error alone, no traceback."""
    import sys

    try:
        return load_all(path)
    except ParamsError as error:
        raise SystemExit(f"{Path(sys.argv[0]).stem}: {error}") from None
