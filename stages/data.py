"""DVC stage `data`: render the embedded SynthTVG benchmark (videos + canonical annotations). It renders only when
`prepare.input_root` reads them; a real run (prepare pointed at real files) leaves the folder empty but for a note."""

import argparse
import shutil
from pathlib import Path

from timerft.params import stage_params
from timerft.synth import SynthConfig, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="output folder (videos/ and annotations.json)")
    args = parser.parse_args()
    params = stage_params()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    if Path(params.prepare.input_root).resolve() != out.resolve():
        out.mkdir(parents=True)
        (out / "NOT_RENDERED.txt").write_text(f"prepare.input_root is {params.prepare.input_root}: SynthTVG is not "
                                              f"read, so it was not rendered\n")
        print(f"data: prepare reads {params.prepare.input_root}, so SynthTVG is not rendered")
        return
    config = SynthConfig.from_params(params.synth)
    rows = generate(config, out, params.synth.workers)
    print(f"data: {sum(config.counts.values())} videos, {len(rows)} queries in {out}")


if __name__ == "__main__":
    main()
