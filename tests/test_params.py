"""params.yaml loading: what `dvc exp run -S` writes must reach the stages with the right types."""

import pytest

from timerft.params import load_params


def test_exponent_floats_written_without_a_dot_load_as_floats(tmp_path):
    path = tmp_path / "params.yaml"
    # as `dvc exp run -S rl.grpo.learning_rate=3e-5` leaves it; PyYAML alone reads "3e-5" as a string
    path.write_text("rl:\n  grpo: {learning_rate: 3e-5, beta: 4E+2, lrs: [1e-3, 0.5], name: e5, note: '3e-5 run'}\n")
    grpo = load_params("rl", path)["grpo"]
    assert grpo["learning_rate"] == pytest.approx(3e-5) and isinstance(grpo["learning_rate"], float)
    assert grpo["beta"] == 400.0 and grpo["lrs"] == [0.001, 0.5]
    assert grpo["name"] == "e5" and grpo["note"] == "3e-5 run"  # other strings stay strings


def test_a_missing_section_is_named(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("sft: {epochs: 1}\n")
    with pytest.raises(KeyError, match="no `rl` section"):
        load_params("rl", path)
