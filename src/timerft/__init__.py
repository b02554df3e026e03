"""timerft: RL post-training for temporal video grounding as a DVC + Prefect pipeline."""

__version__ = "0.1.0"
