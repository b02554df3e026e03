"""DVC stage `base`: the starting model, from the local HF folder `model.name` (a DVC dependency, so editing its
files re-runs the stage). Embedded default: `assets/tiny-base`, the tiny Qwen3-VL that `timerft pretrain-base`
trained once and the repository ships, as a real run starts from a published checkpoint.

A small folder is copied, so `models/base` is a complete HF folder; a large one (real weights) is named by a
pointer (`checkpoint.json`) that also holds each file's sha256, so a changed checkpoint changes `models/base` and
re-runs what depends on it, without a second copy of the weights in DVC's cache."""

import argparse
import hashlib
import json
import shutil
from pathlib import Path

from timerft.model import POINTER
from timerft.params import stage_params

COPY_UP_TO_BYTES = 256 * 2**20


def fingerprint(folder: Path) -> dict[str, str]:
    digests = {}
    for path in sorted(path for path in folder.rglob("*") if path.is_file()):
        with path.open("rb") as handle:
            digests[str(path.relative_to(folder))] = hashlib.file_digest(handle, "sha256").hexdigest()
    return digests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="model folder to write")
    args = parser.parse_args()
    name = stage_params().model.name
    folder, out = Path(name), Path(args.out)
    if not (folder / "config.json").is_file():
        raise SystemExit(f"base: model.name is {name!r}, which is no HF model folder (no config.json there): "
                         "download the checkpoint into a folder first (e.g. `hf download Qwen/Qwen2.5-VL-7B-Instruct "
                         "--local-dir models/qwen2.5-vl-7b`) and name that folder; for the embedded default run "
                         "`timerft pretrain-base`")
    shutil.rmtree(out, ignore_errors=True)
    if sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) <= COPY_UP_TO_BYTES:
        shutil.copytree(folder, out)
        print(f"base: {folder} (copied)")
        return
    out.mkdir(parents=True)
    pointer = {"checkpoint": name, "sha256": fingerprint(folder)}  # as params name it: the same on every machine
    (out / POINTER).write_text(json.dumps(pointer, indent=1) + "\n")
    print(f"base: {folder} (pointer, {len(pointer['sha256'])} files fingerprinted)")


if __name__ == "__main__":
    main()
