"""TimeRFT data selection: choose the training subset from base-model difficulty (IoU of its prediction)."""

from __future__ import annotations

import numpy as np
import pandas as pd

STRATEGIES = ("gaussian", "band", "random")


def gaussian_weights(iou: np.ndarray, center: float = 0.3, sd: float = 0.2) -> np.ndarray:
    """exp(-(IoU - center)^2 / (2 sd^2)): medium difficulty weighs most."""
    return np.exp(-((np.asarray(iou, dtype=float) - center) ** 2) / (2 * sd**2))


def select(pool: pd.DataFrame, strategy: str, k: int, seed: int, center: float = 0.3, sd: float = 0.2,
           band: tuple[float, float] = (0.0, 0.7)) -> pd.DataFrame:
    """Rows of `pool` (which has an `iou` column in [0, 1]) chosen by `strategy`, reproducibly from `seed`.

    gaussian: IoU > 0, then k draws without replacement weighted by gaussian_weights (Time-R1);
    band: every row with band[0] < IoU <= band[1], then at most k of them uniformly;
    random: k rows uniformly, ignoring difficulty (the baseline).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown selection strategy {strategy!r}; use one of {STRATEGIES}")
    rng = np.random.default_rng(seed)
    pool = pool.reset_index(drop=True)
    if strategy == "gaussian":
        candidates = pool[pool["iou"] > 0]
        weights = gaussian_weights(candidates["iou"].to_numpy(), center, sd)
        probabilities = weights / weights.sum() if len(candidates) else None
    elif strategy == "band":
        candidates = pool[(pool["iou"] > band[0]) & (pool["iou"] <= band[1])]
        probabilities = None
    else:
        candidates, probabilities = pool, None
    take = min(k, len(candidates))
    if take == 0:
        return candidates.reset_index(drop=True)
    chosen = rng.choice(len(candidates), size=take, replace=False, p=probabilities)
    return candidates.iloc[np.sort(chosen)].reset_index(drop=True)


def refilter(scored: pd.DataFrame, low: float = 0.0, high: float = 0.7) -> tuple[pd.DataFrame, dict]:
    """Time-R1's sample filtering between rounds: keep low < IoU <= high, drop the solved and the hopeless.

    Returns the kept rows and the accounting (rows_in = kept + dropped_solved + dropped_hopeless).
    """
    kept = scored[(scored["iou"] > low) & (scored["iou"] <= high)]
    counts = {"rows_in": len(scored), "kept": len(kept), "dropped_solved": int((scored["iou"] > high).sum()),
              "dropped_hopeless": int((scored["iou"] <= low).sum())}
    return kept.reset_index(drop=True), counts
