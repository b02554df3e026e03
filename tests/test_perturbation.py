"""benchmarks/perturbation.py: the data seed x GRPO seed table from hand-made eval.json contents."""

import importlib.util
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
spec = importlib.util.spec_from_file_location("perturbation", REPO / "benchmarks" / "perturbation.py")
perturbation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(perturbation)


def _eval(sft: float, rl: float) -> dict:
    block = lambda v: {"overall": {"mIoU": v, "R1@0.5": v - 5}, "control": {"mIoU": v / 3, "R1@0.5": 1.0}}  # noqa: E731
    return {"prior": block(13.0), "base": block(20.0), "sft": block(sft), "rl/round1": block(rl - 1),
            "rl/round2": block(rl)}


def test_cells_gains_and_the_gain_in_standard_deviations(tmp_path):
    found = {f"proof-d{d}-r{r}": _eval(30.0, 34.0 + d + 0.5 * r) for d in range(2) for r in range(2)}
    found["other-d0-r0"] = _eval(0.0, 0.0)
    by_cell = perturbation.cells(found, "proof")
    assert list(by_cell) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    columns, values = perturbation.rows(by_cell, "mIoU")
    assert columns == ["prior", "base", "sft", "rl/round1", "rl/round2", "rl/round2 control", "rl/round2 - sft"]
    assert [row[-1] for row in values] == [4.0, 4.5, 5.0, 5.5]
    text = perturbation.markdown(by_cell, "mIoU")
    assert "beats sft in 4 of 4 cells; mean gain 4.8, sd 0.6 over the cells, so the mean gain is 7.4 sd" in text
    assert "sft beats base in 4 of 4 cells, the final round beats base in 4. The final round reaches twice the " \
           "prior and the prior + 10 in 4." in text
    below = perturbation.cells({"proof-d0-r0": _eval(22.0, 25.0), "proof-d0-r1": _eval(18.0, 27.0)}, "proof")
    assert "sft beats base in 1 of 2 cells, the final round beats base in 2. The final round reaches twice the " \
           "prior and the prior + 10 in 1." in perturbation.markdown(below, "mIoU")  # 25 < 2 x 13
    assert "prior + 10" not in perturbation.markdown(by_cell, "R1@0.5")
    perturbation.plot(by_cell, "mIoU", tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
