"""DVC stage `base`: the starting model. Embedded default (`model.name: tiny`): the tiny Qwen3-VL that
`timerft pretrain-base` trained once and the repository ships (params `pretrain.out`), as a real run starts from a
published checkpoint. Real runs: a pointer to the named checkpoint."""

import argparse
import json
import shutil
from pathlib import Path

from timerft.model import POINTER
from timerft.params import stage_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="model folder to write")
    args = parser.parse_args()
    params = stage_params()
    name, shipped = params.model.name, Path(params.pretrain.out)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    if name != "tiny":
        out.mkdir(parents=True)
        (out / POINTER).write_text(json.dumps({"checkpoint": name}) + "\n")
        print(f"base: {name}")
        return
    if not (shipped / "model.safetensors").is_file():
        raise SystemExit(f"base: no tiny base model in {shipped}: run `timerft pretrain-base` (params `pretrain`)")
    shutil.copytree(shipped, out)
    print(f"base: the shipped tiny base model {shipped}")


if __name__ == "__main__":
    main()
