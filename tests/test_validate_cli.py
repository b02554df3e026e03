"""`timerft validate`: outputs, exit codes 0/1/2, one-line errors, and rows never lost on malformed input."""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import timerft_record, tvgbench_record
from timerft.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "timerft.cli", "validate", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_validate_writes_clean_quarantine_and_report(write, tmp_path):
    records = [timerft_record(qid=str(i)) for i in range(30)] + [timerft_record(qid="bad", sentence="")]
    path = write("train.json", records)
    out = tmp_path / "out"
    done = run_cli(path, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "31 rows in: 30 kept (0 repaired), 1 quarantined" in done.stdout
    report = json.loads((out / "report.json").read_text())
    assert {k: report[k] for k in ("rows_in", "kept", "repaired", "quarantined")} == \
        {"rows_in": 31, "kept": 30, "repaired": 0, "quarantined": 1}
    assert report["reasons"] == {"empty_query": 1}
    quarantine = pd.read_parquet(out / "quarantine.parquet")
    assert quarantine["qid"].tolist() == ["bad"] and list(quarantine["reasons"][0]) == ["empty_query"]
    assert len(pd.read_parquet(out / "clean.parquet")) == 30
    assert (out / "data_docs" / "index.html").is_file()


def test_gate_failure_exits_1_naming_counts_and_report(write, tmp_path):
    path = write("tvg.json", [tvgbench_record(), tvgbench_record(question="x", answer="5.0-5.0")])
    done = run_cli(path, "--out", tmp_path / "out")
    assert done.returncode == 1
    assert "GATE FAILED: 1 of 2 rows quarantined" in done.stdout
    assert str(tmp_path / "out" / "quarantine.parquet") in done.stdout
    assert (tmp_path / "out" / "report.json").is_file()


def test_unreadable_input_exits_2_with_one_line_and_no_traceback(write, tmp_path):
    for path in [tmp_path / "missing.json", write("blob.json", b"\x00\x01"), write("bad.json", "{nope")]:
        done = run_cli(path, "--out", tmp_path / "out")
        assert done.returncode == 2
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert done.stderr.startswith("timerft validate: error:")


def test_help_teaches_formats_and_exit_codes():
    done = subprocess.run([sys.executable, "-m", "timerft.cli", "validate", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for word in ("tvgbench", "charades", "activitynet", "Exit codes", "--video-root"):
        assert word in done.stdout


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)
KEYS = ["video", "duration", "timestamp", "sentence", "qid", "video_start", "video_end",
        "path", "question", "answer", "start", "end", "qsemtype", "query", "split"]
record = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=len(KEYS)) | json_values


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(record, max_size=6), fmt=st.sampled_from(["auto", "timerft", "tvgbench", "canonical"]))
def test_malformed_records_never_crash_and_never_lose_rows(records, fmt):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.json"
        path.write_text(json.dumps(records))
        code = main(["validate", str(path), "--format", fmt, "--out", f"{tmp}/out"])
        assert code in (0, 1, 2)
        if code != 2:
            report = json.loads(Path(f"{tmp}/out/report.json").read_text())
            assert report["rows_in"] == len(records) == report["kept"] + report["quarantined"]
            assert len(pd.read_parquet(f"{tmp}/out/quarantine.parquet")) == report["quarantined"]


@settings(max_examples=20, deadline=None)
@given(videos=st.dictionaries(st.text(min_size=1, max_size=5), json_values | st.fixed_dictionaries(
    {"duration": json_values, "timestamps": json_values, "sentences": json_values}), min_size=1, max_size=4))
def test_malformed_activitynet_never_crashes_and_accounts_for_every_row(videos):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "anet.json"
        path.write_text(json.dumps(videos))
        code = main(["validate", str(path), "--format", "activitynet", "--out", f"{tmp}/out"])
        assert code in (0, 1)
        report = json.loads(Path(f"{tmp}/out/report.json").read_text())
        assert report["rows_in"] >= len(videos) and report["rows_in"] == report["kept"] + report["quarantined"]
