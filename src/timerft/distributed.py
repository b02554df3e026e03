"""Batch inference sharded over a Ray cluster (`inference.backend: ray`; `pip install -e '.[ray]'`).

Ray Data runs `map_batches` over the batches `timerft.inference.chunks` cuts (one row per batch of sample indices,
so every batch holds exactly the samples the local backend batches together, and the padding, and so every greedy
answer, is the same) on a fixed pool of actors, each holding one model. An actor loads the model once and reads
its samples from the stores it was given (put once in the object store), runs `predict_chunk`, the local backend's
own code, and sends the rows back as JSON; the driver puts them back in store order. An actor that dies is restarted
and its batch retried (`RETRIES` times each); a sample whose frames cannot be read gets a row with its `error`.

With no `inference.ray.address` a local cluster of `actors` CPU slots (or the machine's cores, if more) is started
for the `with` block and shut down after it; an address joins a running cluster, whose nodes must see the project
folder (models, frames cache) at the same path as the driver: the actors work in the driver's folder.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

from timerft.inference import chunks, predict_chunk, report_failures
from timerft.params import Ray

RETRIES = 3  # restarts of a dead actor, and retries of the batch it held


class PredictWorker:
    """One actor of the pool: a model, the stores, and greedy rows for the batches it is handed."""

    def __init__(self, model_dir: str, stores, cwd: str, template: str, max_new_tokens: int,
                 difficulty_fallback: bool):
        import ray

        from timerft.model import load_model

        if not Path(cwd).is_dir():
            raise RuntimeError(f"{cwd} does not exist on this Ray node: the ray backend needs the project folder at "
                               "the same path on every node (a shared filesystem)")
        os.chdir(cwd)  # the stores' and the model's relative paths are the driver's
        self.stores = ray.get(stores) if isinstance(stores, ray.ObjectRef) else stores
        self.model, self.processor = load_model(model_dir)
        self.ask = {"template": template, "max_new_tokens": max_new_tokens, "difficulty_fallback": difficulty_fallback}

    def __call__(self, batch: dict) -> dict:
        out = {"chunk": [], "rows": []}
        for chunk, name, first, last in zip(batch["chunk"], batch["store"], batch["first"], batch["last"]):
            rows = predict_chunk(self.model, self.processor, self.stores[str(name)], int(first), int(last), **self.ask)
            out["chunk"].append(int(chunk))
            out["rows"].append(json.dumps(rows))
        return out


class RayBackend:
    """`inference.backend: ray`, as a context: the cluster is joined (or started) on entry, left on exit; each call
    predicts its stores on a fresh actor pool (backends.LocalBackend's call, same arguments, same rows)."""

    def __init__(self, params: Ray, worker: type = PredictWorker):
        self.params, self.worker = params, worker
        self.started, self.startup_s, self.first_batch_s = False, 0.0, 0.0

    def __enter__(self) -> RayBackend:
        try:
            import ray
        except ImportError:
            raise SystemExit("inference.backend ray needs Ray: pip install -c constraints.txt -e '.[ray]'") from None
        began = time.perf_counter()
        if not ray.is_initialized():
            if self.params.address:
                ray.init(address=self.params.address)
            else:
                ray.init(address="local", num_cpus=max(self.params.actors, os.cpu_count() or 1),
                         include_dashboard=False)
                self.started = True
        self.startup_s = time.perf_counter() - began
        return self

    def __exit__(self, *exc) -> None:
        if self.started:
            import ray

            ray.shutdown()
            self.started = False

    def __call__(self, model_dir: str | Path, stores: dict, template: str, batch_size: int, max_new_tokens: int,
                 difficulty_fallback: bool = False) -> dict[str, list[dict]]:
        import ray
        from tqdm import tqdm

        items = [{"store": name, "first": first, "last": last}
                 for name, store in stores.items() for first, last in chunks(len(store), batch_size)]
        for number, item in enumerate(items):
            item["chunk"] = number
        if not items:
            return {name: [] for name in stores}
        names = ", ".join(stores)
        pool = max(1, min(self.params.actors, len(items)))  # no actor loads a model it has no batch for
        ray.data.DataContext.get_current().enable_progress_bars = False  # the bar below is the driver's one
        stores_ref = ray.put(stores)  # once for every actor; held here while they may restart and need it
        with warnings.catch_warnings():  # ray 2.60 deprecates passing actor options so; it has no other way yet
            warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated", DeprecationWarning)
            dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
                self.worker, batch_size=1, compute=ray.data.ActorPoolStrategy(size=pool), num_cpus=1,
                num_gpus=self.params.gpus_per_actor or None, max_restarts=RETRIES, max_task_retries=RETRIES,
                fn_constructor_kwargs={"model_dir": str(model_dir), "stores": stores_ref, "cwd": os.getcwd(),
                                       "template": template, "max_new_tokens": max_new_tokens,
                                       "difficulty_fallback": difficulty_fallback})
        done, began = {}, time.perf_counter()
        with tqdm(total=len(items), desc=f"{names} (ray, {pool} actors)", unit="batch") as bar:
            for row in dataset.iter_rows():
                done[int(row["chunk"])] = json.loads(row["rows"])
                if len(done) == 1:  # the actors started, loaded the model and answered a batch
                    self.first_batch_s = time.perf_counter() - began
                bar.update(1)
        results = {name: [] for name in stores}
        for item in items:
            results[item["store"]] += done[item["chunk"]]
        for name, rows in results.items():
            report_failures(rows, name)
        return results
