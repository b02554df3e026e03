"""Which engine answers the stages' batch inference (params `inference.backend`): this process, or a Ray cluster.
Either way the rows are the same (timerft.inference.chunks), so no stage output depends on the choice."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from timerft.inference import predict
from timerft.params import Ray


class LocalBackend:
    """`inference.backend: local`: every prediction in this process; the last model loaded is kept for the next call."""

    def __init__(self):
        self.loaded = None

    def __call__(self, model_dir: str | Path, stores: dict, template: str, batch_size: int, max_new_tokens: int,
                 difficulty_fallback: bool = False) -> dict[str, list[dict]]:
        from timerft.model import load_model

        if self.loaded is None or self.loaded[0] != str(model_dir):
            self.loaded = (str(model_dir), *load_model(model_dir))
        _, model, processor = self.loaded
        return {desc: predict(model, processor, store, template, batch_size, max_new_tokens, difficulty_fallback,
                              desc=desc) for desc, store in stores.items()}


@contextmanager
def predictor(backend: str, ray: Ray | None = None):
    """The one entry to batch inference for the stages (params `inference.backend`, `inference.ray`):

        with predictor(inference.backend, inference.ray) as run:
            rows = run(model_dir, {"score": store}, template, batch_size, max_new_tokens)["score"]

    `run` answers every store of its mapping (keyed by the label its progress and failures are shown under) with
    the model in `model_dir`, greedily, in store order. Both backends batch samples alike (`chunks`), so their rows are
    the same; the ray backend holds its cluster open until the block ends."""
    if backend == "local":
        yield LocalBackend()
    elif backend == "ray":
        from timerft.distributed import RayBackend

        if ray is None:
            raise ValueError("inference.backend ray needs the inference.ray params")
        with RayBackend(ray) as run:
            yield run
    else:
        raise ValueError(f"inference.backend must be local or ray, not {backend!r}")
