"""benchmarks/seed_spread.py: the seed table and plot from hand-made eval.json contents."""

import importlib.util

import pytest

from conftest import REPO

spec = importlib.util.spec_from_file_location("seed_spread", REPO / "benchmarks" / "seed_spread.py")
seed_spread = importlib.util.module_from_spec(spec)
spec.loader.exec_module(seed_spread)


def _eval(sft: float, rl: float, empty: float | None = None) -> dict:
    entries = {"sft": {"overall": {"mIoU": sft, "R1@0.5": sft - 5, "R1@0.7": sft - 20}},
               "rl/round1": {"overall": {"mIoU": rl, "R1@0.5": rl - 5, "R1@0.7": rl - 20}}}
    if empty is not None:
        entries["rl/round1"]["empty_groups"] = empty
    return entries


def test_mean_min_max_per_group_and_checkpoint(tmp_path):
    found = {"a0": _eval(30.0, 31.0), "a1": _eval(30.0, 33.0), "a2": _eval(30.0, 35.5), "b0": _eval(30.0, 20.0)}
    rows = seed_spread.spread({"GRPO": ["a0", "a1", "a2"], "other": ["b0"]}, found)
    by = {(r["group"], r["checkpoint"]): r for r in rows}
    rl = by["GRPO", "rl/round1"]
    assert rl["seeds"] == 3
    assert (rl["mIoU mean"], rl["mIoU min"], rl["mIoU max"]) == (33.17, 31.0, 35.5)
    assert rl["mIoU sd"] == 2.25  # sample sd of 31, 33, 35.5
    assert (rl["R1@0.5 min"], rl["R1@0.5 max"]) == (26.0, 30.5)
    assert by["other", "rl/round1"]["mIoU sd"] == 0.0
    assert by["other", "rl/round1"]["mIoU mean"] == 20.0
    table = seed_spread.markdown(rows)
    assert "| GRPO | rl/round1 | 3 | 33.2 ± 2.2 (31.0-35.5) | 28.2 ± 2.2 (26.0-30.5) | 13.2 ± 2.2 (11.0-15.5) |" \
        in table
    seed_spread.plot(rows, tmp_path / "seeds.png")
    assert (tmp_path / "seeds.png").stat().st_size > 0


def test_only_the_checkpoints_asked_for():
    rows = seed_spread.spread({"GRPO": ["a0"]}, {"a0": _eval(30.0, 31.0)}, only=["rl/round1"])
    assert [row["checkpoint"] for row in rows] == ["rl/round1"]


def test_an_experiment_without_metrics_is_named():
    with pytest.raises(SystemExit, match="no metrics/eval.json for a9"):
        seed_spread.spread({"GRPO": ["a0", "a9"]}, {"a0": _eval(30.0, 31.0)})


def test_empty_group_rate_of_the_rounds(tmp_path):
    found = {"a0": _eval(30.0, 31.0, empty=10.0), "a1": _eval(30.0, 33.0, empty=30.0)}
    rows = seed_spread.spread({"GRPO": ["a0", "a1"]}, found)
    by = {row["checkpoint"]: row for row in rows}
    assert (by["rl/round1"]["empty groups % mean"], by["rl/round1"]["empty groups % max"]) == (20.0, 30.0)
    assert "empty groups % mean" not in by["sft"]  # sft has no rollouts
    table = seed_spread.markdown(rows)
    assert "| GRPO | rl/round1 | 2 | 32.0 ± 1.4 (31.0-33.0) | 27.0 ± 1.4 (26.0-28.0) | 12.0 ± 1.4 (11.0-13.0) | " \
           "20.0 ± 14.1 (10.0-30.0) |" in table
    assert "| GRPO | sft | 2 | 30.0 ± 0.0 (30.0-30.0) | 25.0 ± 0.0 (25.0-25.0) | 10.0 ± 0.0 (10.0-10.0) |  |" in table
    seed_spread.plot(rows, tmp_path / "seeds.png")
    assert (tmp_path / "seeds.png").stat().st_size > 0


def test_bars_of_a_checkpoint_centre_on_the_groups_that_have_it():
    has = {("GRPO", "sft"), ("hybrid", "sft"), ("hybrid", "sft (no cot)")}
    x = seed_spread.bar_positions(["sft", "sft (no cot)"], ["GRPO", "hybrid"], has, width=0.4)
    assert (x["GRPO", "sft"], x["hybrid", "sft"]) == (-0.2, 0.2)
    assert x["hybrid", "sft (no cot)"] == 1.0  # alone: on its tick, not at the second group's offset
    assert ("GRPO", "sft (no cot)") not in x
