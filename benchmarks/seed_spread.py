"""Seed spread of DVC experiments: mean, sd and min-max of each checkpoint's test metrics over seeds.

Each group is a label and the DVC experiments (or revisions) that repeat one setting with different seeds:

    .venv/bin/python benchmarks/seed_spread.py --group 'GRPO=rl-s0,rl-s1,rl-s2' --out docs/rl_seeds

reads `metrics/eval.json` of every experiment from `dvc exp show --json`, prints a markdown table (per group and
checkpoint: mean, sample standard deviation, min and max of mIoU, R1@0.5 and R1@0.7 over the seeds; for an RL
round also its rollouts' empty-group rate, `empty_groups` of `data/rl/<round>/report.json`: the share of groups
whose G rollouts all miss the span) and writes it to OUT.md, with a bar chart of the means and min-max whiskers
to OUT.png. A name that is not an experiment is read as a Git revision (`main`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
EVAL = "metrics/eval.json"
METRICS = ("mIoU", "R1@0.5", "R1@0.7")
EMPTY = "empty groups %"  # of an RL round's rollouts (report.json), next to its checkpoint's test metrics


def shown_metrics(repo: Path) -> dict[str, dict]:
    """eval.json of every experiment and baseline revision, by experiment name and by revision. Each RL round's
    entry also carries its rollouts' empty-group rate (report.json) as `empty_groups` (%), and so do the entries
    of that round asked in both modes (`rl/round2 (cot)`)."""
    dvc = Path(sys.executable).with_name("dvc")
    done = subprocess.run([str(dvc), "exp", "show", "--json", "-A"], cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"`dvc exp show --json` failed:\n{done.stderr[-2000:]}")
    found = {}
    for baseline in json.loads(done.stdout):
        # a queued or running experiment shows its baseline's metrics until it finishes: only finished ones count
        entries = [baseline] + [rev for group in baseline.get("experiments") or [] for rev in group["revs"]
                                if (group.get("executor") or {}).get("state", "success") == "success"]
        for entry in entries:
            metrics = (entry.get("data") or {}).get("metrics") or {}
            data = metrics.get(EVAL, {}).get("data")
            if data and not entry.get("error"):
                for checkpoint, values in data.items():
                    round_name = checkpoint.split(" (")[0].removeprefix("rl/")
                    report = metrics.get(f"data/rl/{round_name}/report.json", {}).get("data") or {}
                    if checkpoint.startswith("rl/") and report.get("empty_groups") is not None:
                        values["empty_groups"] = round(100 * report["empty_groups"], 2)
                for key in (entry.get("name"), entry["rev"], entry["rev"][:7]):
                    if key:
                        found[key] = data
    return found


def _sd(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def spread(groups: dict[str, list[str]], found: dict[str, dict], only: list[str] | None = None) -> list[dict]:
    """One row per group and checkpoint (those in `only`, if given): the seeds' mean, standard deviation (ddof 1;
    0 for one seed), min and max of each metric."""
    rows = []
    for label, names in groups.items():
        missing = [name for name in names if name not in found]
        if missing:
            sys.exit(f"no {EVAL} for {', '.join(missing)}: run them first (`dvc exp list` shows what exists)")
        checkpoints = list(dict.fromkeys(key for name in names for key in found[name]))
        for checkpoint in [c for c in checkpoints if not only or c in only]:
            entries = [found[name][checkpoint] for name in names if checkpoint in found[name]]
            values = {m: np.array([entry["overall"][m] for entry in entries]) for m in METRICS}
            if all("empty_groups" in entry for entry in entries):
                values[EMPTY] = np.array([entry["empty_groups"] for entry in entries])
            rows.append({"group": label, "checkpoint": checkpoint, "seeds": len(entries),
                         **{f"{m} {stat}": round(float(fn(v)), 2) for m, v in values.items()
                            for stat, fn in (("mean", np.mean), ("sd", _sd), ("min", np.min), ("max", np.max))}})
    return rows


def markdown(rows: list[dict]) -> str:
    columns = METRICS + ((EMPTY,) if any(f"{EMPTY} mean" in row for row in rows) else ())
    head = ["group", "checkpoint", "seeds"] + [f"{m} mean ± sd (min-max)" for m in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["group"], row["checkpoint"], str(row["seeds"])]
        cells += [f"{row[f'{m} mean']:.1f} ± {row[f'{m} sd']:.1f} ({row[f'{m} min']:.1f}-{row[f'{m} max']:.1f})"
                  if f"{m} mean" in row else "" for m in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def bar_positions(checkpoints: list[str], groups: list[str], has: set[tuple[str, str]],
                  width: float) -> dict[tuple[str, str], float]:
    """x of each (group, checkpoint) bar: the groups that report a checkpoint sit side by side, centred on it, so a
    checkpoint only some groups have (`sft (no cot)`) is not pushed off to one side."""
    positions = {}
    for i, checkpoint in enumerate(checkpoints):
        present = [group for group in groups if (group, checkpoint) in has]
        for j, group in enumerate(present):
            positions[group, checkpoint] = i + (j - (len(present) - 1) / 2) * width
    return positions


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    groups = list(dict.fromkeys(row["group"] for row in rows))
    checkpoints = list(dict.fromkeys(row["checkpoint"] for row in rows))
    columns = METRICS + ((EMPTY,) if any(f"{EMPTY} mean" in row for row in rows) else ())
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color = {group: colors[g % len(colors)] for g, group in enumerate(groups)}
    fig, axes = plt.subplots(1, len(columns), figsize=(2 + 1.6 * len(columns) * (1 + 0.4 * len(checkpoints)) / 2, 4.2),
                             squeeze=False)
    width = 0.8 / len(groups)
    for ax, metric in zip(axes[0], columns):
        by = {(row["group"], row["checkpoint"]): row for row in rows if f"{metric} mean" in row}
        for (group, checkpoint), x in bar_positions(checkpoints, groups, set(by), width).items():
            row = by[group, checkpoint]
            mean = row[f"{metric} mean"]
            ax.bar(x, mean, width, yerr=[[mean - row[f"{metric} min"]], [row[f"{metric} max"] - mean]], capsize=2,
                   color=color[group])
        ax.set_xticks(range(len(checkpoints)), checkpoints, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{metric} (mean; whiskers: min-max over seeds)", fontsize=9)
    legend_rows = (len(groups) + 3) // 4 if len(groups) > 1 else 0  # 4 groups per row, under the panels
    if legend_rows:
        fig.legend([Patch(color=color[group]) for group in groups], groups, loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.06 * legend_rows, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", action="append", required=True, metavar="LABEL=EXP,EXP,...",
                        help="one setting and the experiments that repeat it with other seeds (repeatable)")
    parser.add_argument("--checkpoints", nargs="+", metavar="NAME",
                        help="only these eval.json entries, e.g. sft 'rl/round2' 'rl/round2 (cot)' (default: all)")
    parser.add_argument("--out", type=Path, help="write OUT.md and OUT.png (default: print the table only)")
    args = parser.parse_args()
    groups = {}
    for spec in args.group:
        label, sep, names = spec.partition("=")
        if not sep or not names:
            parser.error(f"--group {spec!r}: write LABEL=EXP,EXP,...")
        groups[label] = [name.strip() for name in names.split(",") if name.strip()]
    rows = spread(groups, shown_metrics(REPO), args.checkpoints)
    table = markdown(rows)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(table)
        plot(rows, args.out.with_suffix(".png"))
        print(f"wrote {args.out.with_suffix('.md')} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
