"""Evaluation: per-sample IoU, missing and unparseable predictions, groups, and the CLI."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from timerft.evaluation import asked_modes, duration_prior, evaluate, prior_predictions

ANNOTATIONS = pd.DataFrame([
    {"qid": "a", "start": 0.0, "end": 10.0, "category": "Human Pose", "source": "charades"},
    {"qid": "b", "start": 5.0, "end": 15.0, "category": "Human Pose", "source": "anet"},
    {"qid": "c", "start": 2.0, "end": 4.0, "category": None, "source": "anet"},
    {"qid": "d", "start": 1.0, "end": 2.0, "category": None, "source": "anet"},
])


def test_evaluate_overall_and_groups():
    predictions = [
        {"qid": "a", "start": 0.0, "end": 10.0},  # IoU 1
        {"qid": "b", "text": "<think>x</think><answer>0.00 to 10.00</answer>"},  # IoU 1/3, parsed from text
        {"qid": "c", "text": "I do not know"},  # unparseable: IoU 0
        # d: no prediction at all
    ]
    result = evaluate(ANNOTATIONS, predictions)
    overall = result["overall"]
    assert overall["count"] == 4 and overall["unparseable"] == 2 and result["missing_predictions"] == 1
    assert overall["mIoU"] == pytest.approx(100 * (1 + 1 / 3) / 4, abs=0.01)
    assert overall["R1@0.3"] == 50.0 and overall["R1@0.5"] == 25.0
    assert overall["distinct_answers"] == 1  # a and b answer the same span, c and d none
    assert result["by_category"]["unknown"]["distinct_answers"] == 0
    assert result["by_category"]["Human Pose"]["mIoU"] == pytest.approx(100 * (1 + 1 / 3) / 2, abs=0.01)
    assert result["by_category"]["unknown"]["count"] == 2
    assert set(result["by_source"]) == {"charades", "anet"}


def test_cli_evaluate(tmp_path):
    annotations = tmp_path / "a.json"
    rows = [{"qid": r.qid, "video": "v.mp4", "duration": 20.0, "start": r.start, "end": r.end, "query": "q",
             "source": r.source, "split": "test"} for r in ANNOTATIONS.itertuples()]
    annotations.write_text(json.dumps(rows))
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("\n".join(json.dumps({"qid": q, "start": 0.0, "end": 10.0}) for q in "abcd") + "\n")
    out = tmp_path / "m.json"
    done = subprocess.run([sys.executable, "-m", "timerft.cli", "evaluate", "--annotations", str(annotations),
                           "--predictions", str(predictions), "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["overall"]["count"] == 4
    assert "R1@0.5" in done.stdout
    predictions.write_text("not json\n")
    bad = subprocess.run([sys.executable, "-m", "timerft.cli", "evaluate", "--annotations", str(annotations),
                          "--predictions", str(predictions)], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_duration_prior_finds_the_best_fixed_fraction_and_scores_it():
    # every event covers 20%-80% of its video: the prior learns exactly that span
    train = pd.DataFrame({"duration": [10.0, 40.0, 80.0], "start": [2.0, 8.0, 16.0], "end": [8.0, 32.0, 64.0]})
    assert duration_prior(train) == pytest.approx((0.2, 0.8))
    test = pd.DataFrame({"qid": ["a", "b"], "duration": [20.0, 20.0], "start": [5.0, 0.0], "end": [15.0, 5.0],
                         "category": None, "source": "s"})
    rows = prior_predictions(test, (0.25, 0.75))
    assert rows[0] == {"qid": "a", "start": 5.0, "end": 15.0}
    assert evaluate(test, rows)["overall"]["mIoU"] == 50.0  # IoU 1 and 0


def test_control_pairs_every_query_with_another_video_fixed_by_the_seed():
    from timerft.model import control_partners

    videos = ["a", "a", "b", "c", "c", "d"]
    partners = control_partners(videos, seed=0)
    assert partners == control_partners(videos, seed=0)
    assert all(videos[p] != v for p, v in zip(partners, videos))
    assert partners[0] == partners[1] and partners[3] == partners[4]  # one partner video per video
    assert sorted({videos[p] for p in partners}) == ["a", "b", "c", "d"]  # a cycle: every video is shown once
    assert any(control_partners(videos, seed=s) != partners for s in range(1, 5))
    with pytest.raises(ValueError, match="two videos"):
        control_partners(["a", "a"])


def test_each_checkpoint_is_asked_in_its_kinds_mode_or_both():
    cot = {"base": False, "sft": True}
    assert asked_modes("base", "base", cot, True, ()) == {"base": False}
    assert asked_modes("rl/round1", "rl", cot, True, ()) == {"rl/round1": True}  # no entry: inference.cot
    assert asked_modes("rl/round1", "rl", cot, False, ("rl",)) == {"rl/round1 (cot)": True, "rl/round1 (no cot)": False}
