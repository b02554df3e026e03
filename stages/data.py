"""DVC stage `data`: render the embedded SynthTVG benchmark (videos + canonical annotations)."""

import argparse
import shutil
from pathlib import Path

from timerft.params import stage_params
from timerft.synth import SynthConfig, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="output folder (videos/ and annotations.json)")
    args = parser.parse_args()
    synth = stage_params().synth
    config = SynthConfig.from_params(synth)
    shutil.rmtree(args.out, ignore_errors=True)
    rows = generate(config, Path(args.out), synth.workers)
    print(f"data: {sum(config.counts.values())} videos, {len(rows)} queries in {args.out}")


if __name__ == "__main__":
    main()
