"""params.yaml, typed: what `dvc exp run -S` writes reaches the stages with the right types, and a misspelt,
missing or mistyped key stops everything with its name."""

import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from timerft.params import ParamsError, load_all, load_params


def params_with(tmp_path, change) -> str:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    change(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_the_project_params_load_typed():
    params = load_all(REPO / "params.yaml")
    assert params.rl.grpo.learning_rate == pytest.approx(1e-4) and params.rl.rounds["round2"].init == "models/rl/round1"
    assert params.select.band == (0.0, 0.7) and params.prepare.inputs[0].format == "auto"


def test_exponent_floats_written_without_a_dot_load_as_floats(tmp_path):
    # as `dvc exp run -S rl.grpo.learning_rate=3e-5` leaves it; PyYAML alone reads "3e-5" as a string
    path = tmp_path / "params.yaml"
    text = (REPO / "params.yaml").read_text().replace("learning_rate: 1.0e-4", "learning_rate: 3e-5")
    path.write_text(text.replace("beta: 0.04", "beta: 4E-2"))
    grpo = load_params("rl", path).grpo
    assert grpo.learning_rate == pytest.approx(3e-5) and isinstance(grpo.learning_rate, float)
    assert grpo.beta == pytest.approx(0.04)
    assert load_params("prompts", path).cot.startswith("Watch")  # other strings stay strings


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p["sft"].update(epocs=p["sft"].pop("epochs")), r"unknown key sft\.epocs: section sft has .*epochs"),
    (lambda p: p["rl"]["grpo"].pop("beta"), r"section rl\.grpo lacks the key rl\.grpo\.beta"),
    (lambda p: p["select"].update(k="many"), r"select\.k must be int, not 'many'"),
    (lambda p: p["select"].update(band=[0.1]), r"select\.band must be a list of 2 values"),
    (lambda p: p["rl"]["rounds"]["round1"].update(iinit="x"), r"unknown key rl\.rounds\.round1\.iinit"),
    (lambda p: p.update(evalute=p.pop("evaluate")), r"unknown key evalute"),
    (lambda p: p["rl"]["tempsamp"].update(off_policy="clip"),
     r"rl\.tempsamp\.off_policy must be one of likelihood, ratio, shaped, not 'clip'"),
])
def test_a_bad_key_is_named(tmp_path, change, message):
    with pytest.raises(ParamsError, match=message):
        load_all(params_with(tmp_path, change))


def test_a_stage_stops_on_a_misspelt_key_naming_it(tmp_path):
    params_with(tmp_path, lambda p: p["select"].update(strategie=p["select"].pop("strategy")))
    run = subprocess.run([sys.executable, str(REPO / "stages" / "select_subset.py"), "--scores", "none.parquet",
                          "--out", "out"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip() == ("select_subset: params.yaml: unknown key select.strategie: section select has "
                                  "strategy, k, center, sd, band, seed; check its spelling")
