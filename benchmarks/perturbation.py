"""Gains that survive perturbation: the embedded pipeline over data seeds x GRPO seeds, as DVC experiments.

Queue and run the cells with the commands at the end of `--help` (also written into OUT.md); then this script
reads `metrics/eval.json` of every experiment named PREFIX-d<synth seed>-r<GRPO seed>, and writes OUT.md (one row
per cell: prior, base, sft, each RL round and its control, the final round's gain over sft; then the mean, sd and
min of every column, and the mean gain in standard deviations of the cells) and OUT.png (each cell's checkpoints).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed_spread import REPO, shown_metrics  # noqa: E402

COMMANDS = """for d in 0 1 2; do for r in 0 1 2; do
  .venv/bin/dvc exp run --queue -n proof-d$d-r$r -S synth.seed=$d -S rl.grpo.seed=$r
done; done
OMP_NUM_THREADS=1 .venv/bin/dvc exp run --run-all --jobs 2   # two at a time, one thread each
.venv/bin/python benchmarks/perturbation.py --prefix proof --out docs/embedded_proof
"""


def cells(found: dict[str, dict], prefix: str) -> dict[tuple[int, int], dict]:
    pattern = re.compile(rf"{re.escape(prefix)}-d(\d+)-r(\d+)$")
    out = {}
    for name, metrics in found.items():
        match = pattern.match(str(name))
        if match:
            out[(int(match[1]), int(match[2]))] = metrics
    return dict(sorted(out.items()))


def rows(by_cell: dict[tuple[int, int], dict], metric: str) -> tuple[list[str], list[list[float]]]:
    """Columns (checkpoints, the final round's control, its gain over sft) and one row of values per cell."""
    first = next(iter(by_cell.values()))
    names = [name for name in first if name in ("prior", "base", "sft") or name.startswith("rl/")]
    last = [name for name in names if name.startswith("rl/")][-1]
    columns = names + [f"{last} control", f"{last} - sft"]
    values = []
    for metrics in by_cell.values():
        row = [metrics[name]["overall"][metric] for name in names]
        row += [metrics[last]["control"][metric], metrics[last]["overall"][metric] - metrics["sft"]["overall"][metric]]
        values.append(row)
    return columns, values


def markdown(by_cell: dict, metric: str) -> str:
    columns, values = rows(by_cell, metric)
    table = np.array(values)
    lines = [f"| synth.seed, rl.grpo.seed | {' | '.join(columns)} |", "|---" * (len(columns) + 1) + "|"]
    for (data, rl), row in zip(by_cell, values):
        lines.append(f"| {data}, {rl} | " + " | ".join(f"{v:.1f}" for v in row) + " |")
    for label, stat in (("mean", table.mean(0)), ("sd", table.std(0, ddof=1) if len(table) > 1 else table[0] * 0),
                        ("min", table.min(0))):
        lines.append(f"| **{label}** | " + " | ".join(f"{v:.1f}" for v in stat) + " |")
    gains = table[:, -1]
    sd = gains.std(ddof=1) if len(gains) > 1 else float("nan")
    lines.append("")
    lines.append(f"{metric}: the final round beats sft in {int((gains > 0).sum())} of {len(gains)} cells; mean gain "
                 f"{gains.mean():.1f}, sd {sd:.1f} over the cells, so the mean gain is {gains.mean() / sd:.1f} sd.")
    column = {name: table[:, i] for i, name in enumerate(columns)}
    final = column[columns[-3]]
    lines.append(f"sft beats base in {int((column['sft'] > column['base']).sum())} of {len(gains)} cells, the final "
                 f"round beats base in {int((final > column['base']).sum())}.")
    if metric == "mIoU":  # the prior's own R1@0.5 is about 0
        reached = (final >= 2 * column["prior"]) & (final >= column["prior"] + 10)
        lines[-1] += f" The final round reaches twice the prior and the prior + 10 in {int(reached.sum())}."
    return "\n".join(lines)


def plot(by_cell: dict, metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns, values = rows(by_cell, metric)
    shown = columns[:-1]  # checkpoints and the final round's control
    table = np.array(values)[:, :-1]
    fig, ax = plt.subplots(figsize=(1.2 * len(shown) + 2, 4))
    x = np.arange(len(shown))
    for (data, rl), row in zip(by_cell, table):
        ax.plot(x + (rl - 1) * 0.08, row, "o", alpha=0.7, color=f"C{data}",
                label=f"synth.seed {data}" if rl == 0 else None)
    ax.bar(x, table.mean(0), color="lightgray", zorder=0, label="mean of the cells")
    ax.set_xticks(x, shown, rotation=20)
    ax.set_ylabel(f"test {metric}")
    ax.set_title(f"{len(table)} cells: synth.seed x rl.grpo.seed")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, epilog=COMMANDS,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", default="proof", help="experiments are named PREFIX-d<synth seed>-r<GRPO seed>")
    parser.add_argument("--out", type=Path, help="write OUT.md and OUT.png (default: print the tables only)")
    args = parser.parse_args()
    by_cell = cells(shown_metrics(REPO), args.prefix)
    if not by_cell:
        sys.exit(f"no experiment named {args.prefix}-d<N>-r<N>: queue them as this script's --help shows")
    text = (f"# The embedded proof over data seeds x GRPO seeds\n\nGenerated by `benchmarks/perturbation.py` "
            f"from the DVC experiments `{args.prefix}-d<synth.seed>-r<rl.grpo.seed>` (test split, final round asked "
            f"with CoT; `control`: the same queries on another test video's frames). Reproduce:\n\n"
            f"```bash\n{COMMANDS}```\n\n"
            + "\n\n".join(f"## {metric}\n\n{markdown(by_cell, metric)}" for metric in ("mIoU", "R1@0.5"))
            + f"\n\n![cells]({args.out.name if args.out else 'perturbation'}.png)")
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(text + "\n")
        plot(by_cell, "mIoU", args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
