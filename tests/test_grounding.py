"""Parsing, IoU, tIoU, R1@m and mIoU on hand-computed cases; selection weights and determinism."""

import math

import numpy as np
import pandas as pd
import pytest

from timerft.grounding import iou, parse_span, summarize, tiou
from timerft.selection import STRATEGIES, gaussian_weights, select


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<think>a</think><answer>12.54 to 17.83</answer>", (12.54, 17.83)),
        ("<answer>1 to 2</answer> then <answer>3.5 to 4.25</answer>", (3.5, 4.25)),  # the LAST block
        ("<answer>from 1 to 2, no: 5 to 6</answer>", (5.0, 6.0)),  # the last pair in it
        ("<answer>between 2.0 and 3.0</answer>", (2.0, 3.0)),
        ("<answer>soon</answer> it is 7 to 9", (7.0, 9.0)),  # fallback: last pair anywhere
        ("it happens 3 to 1", (3.0, 1.0)),  # reversed stays reversed
        ("no numbers here", None),
        ("<answer>12.54 - 17.83</answer>", None),  # no 'to'/'and': not an answer
        ("", None),
    ],
)
def test_parse_span(text, expected):
    assert parse_span(text) == expected


def test_difficulty_fallback_takes_the_first_two_numbers():
    assert parse_span("start 4.5 end 9 (maybe 10)") is None
    assert parse_span("start 4.5 end 9 (maybe 10)", difficulty_fallback=True) == (4.5, 9.0)
    assert parse_span("only 4.5", difficulty_fallback=True) is None


@pytest.mark.parametrize(
    "pred, gt, expected",
    [
        ((0, 10), (0, 10), 1.0),
        ((0, 10), (5, 15), 5 / 15),
        ((0, 5), (5, 10), 0.0),  # touching
        ((0, 2), (5, 10), 0.0),
        ((6, 4), (0, 10), 0.0),  # reversed
        ((3, 3), (3, 3), 0.0),  # empty union: the reference code divides by zero
        (None, (0, 10), 0.0),
    ],
)
def test_iou(pred, gt, expected):
    assert iou(pred, gt) == pytest.approx(expected)


def test_tiou_penalises_boundary_distance_relative_to_duration():
    # IoU 5/15; start off by 5 of 100 s, end off by 5: (1/3) * 0.95 * 0.95
    assert tiou((0, 10), (5, 15), 100.0) == pytest.approx((5 / 15) * 0.95 * 0.95)
    assert tiou((5, 15), (5, 15), 30.0) == pytest.approx(1.0)
    assert tiou(None, (5, 15), 30.0) == 0.0
    assert tiou((0, 10), (5, 15), 20.0) < iou((0, 10), (5, 15))


def test_r1_is_strict_and_miou_averages():
    result = summarize([0.5, 0.7, 0.3, 0.0, 1.0], unparseable=1)
    assert result["R1@0.3"] == 60.0  # 0.5, 0.7, 1.0: exactly 0.3 does not count
    assert result["R1@0.5"] == 40.0  # 0.7, 1.0: exactly 0.5 does not count
    assert result["R1@0.7"] == 20.0
    assert result["mIoU"] == 50.0 and result["count"] == 5 and result["unparseable"] == 1
    assert summarize([])["count"] == 0


def test_gaussian_weights():
    assert gaussian_weights(np.array([0.3]))[0] == 1.0
    assert gaussian_weights(np.array([0.5]))[0] == pytest.approx(math.exp(-0.5))
    assert gaussian_weights(np.array([0.1]))[0] == pytest.approx(gaussian_weights(np.array([0.5]))[0])


@pytest.fixture
def pool():
    rng = np.random.default_rng(1)
    return pd.DataFrame({"qid": [f"q{i}" for i in range(500)], "iou": np.clip(rng.uniform(-0.3, 1.0, 500), 0, 1)})


def test_selection_is_seeded(pool):
    one = select(pool, "gaussian", 100, seed=7)
    assert one["qid"].tolist() == select(pool, "gaussian", 100, seed=7)["qid"].tolist()
    assert one["qid"].tolist() != select(pool, "gaussian", 100, seed=8)["qid"].tolist()
    assert one["qid"].is_unique and len(one) == 100 and (one["iou"] > 0).all()


def test_gaussian_prefers_medium_difficulty(pool):
    chosen = select(pool, "gaussian", 150, seed=0)
    assert abs(chosen["iou"].mean() - 0.3) < abs(pool.loc[pool["iou"] > 0, "iou"].mean() - 0.3)


def test_band_and_random(pool):
    band = select(pool, "band", 10_000, seed=0)
    assert ((band["iou"] > 0) & (band["iou"] <= 0.7)).all()
    assert len(band) == ((pool["iou"] > 0) & (pool["iou"] <= 0.7)).sum()
    assert len(select(pool, "random", 50, seed=0)) == 50
    with pytest.raises(ValueError, match="unknown selection strategy"):
        select(pool, "best", 5, seed=0)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_pool_the_base_model_never_hit_selects_nothing_without_crashing(strategy):
    unsolved = pd.DataFrame({"qid": ["a", "b"], "iou": [0.0, 0.0]})
    chosen = select(unsolved, strategy, k=5, seed=0)
    assert len(chosen) == (2 if strategy == "random" else 0)
