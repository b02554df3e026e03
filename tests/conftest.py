import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TIMERFT_SHARED_DATA", REPO.parent / "shared" / "data" / "timer1"))

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("WANDB_MODE", "disabled")


@pytest.fixture
def write(tmp_path):
    """write(name, content): a file in tmp_path; dicts and lists are written as JSON."""

    def _write(name: str, content) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, (bytes, bytearray)):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else json.dumps(content))
        return path

    return _write


def timerft_record(**overrides):
    record = {
        "video": "./videos/abc.mp4", "duration": 30.0, "timestamp": [2.0, 8.5],
        "sentence": "a person opens a door.", "qid": "my|cosmo|abc|a person opens a door.",
        "video_start": None, "video_end": None, "difficulty": 40.0, "pred": [1.0, 7.0],
    }
    record.update(overrides)
    return record


def tvgbench_record(**overrides):
    record = {
        "path": "./videos/KWZSA.mp4", "question": "a person was sitting at a table.", "answer": "13.4-28.1",
        "start": None, "end": None, "duration": 30.12, "question_type": "video temporal grounding",
        "source": "raw/Charades_sta_test.json", "dataset_name": "charades", "qsemtype": "Human Pose",
        "bins": {"videolen": 1, "dataset": "charades", "qsemtype": "HP"},
    }
    record.update(overrides)
    return record
