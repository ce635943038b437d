"""The results store survives broken files, full disks and two processes on one run."""

from __future__ import annotations

import errno
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from al_bert.app import run_experiment
from al_bert.errors import RunBusyError
from al_bert.tracking.runkey import results_dir
from al_bert.tracking.store import CorruptStoreError, ResultsStore, write_json_atomic
from tests.test_e2e import SMALL, cfg_for

TINY = [*SMALL, "model=tiny", "trainer=fast", "strategy=random"]
STRIP = ("train_seconds", "eval_seconds", "infer_seconds", "select_seconds")


def _strip(records):
    return [{k: v for k, v in r.items() if k not in STRIP} for r in records]


def test_torn_last_line_is_reported_and_a_broken_middle_line_is_an_error(tmp_path, caplog):
    store = ResultsStore(tmp_path / "run")
    store.append({"iteration": 0, "f1": 0.5})
    store.append({"iteration": 1, "f1": 0.6})
    with open(store.results_path, "a") as handle:
        handle.write('{"iteration": 2, "f1"')  # killed mid-write
    with caplog.at_level(logging.WARNING):
        assert [r["iteration"] for r in store.records()] == [0, 1]
    assert "torn" in caplog.text and str(store.results_path) in caplog.text
    store.append({"iteration": 2, "f1": 0.7})  # the torn tail is replaced, not kept
    assert [r["iteration"] for r in store.records()] == [0, 1, 2]
    lines = store.results_path.read_text().splitlines()
    store.results_path.write_text("\n".join([lines[0], "garbage", lines[2]]) + "\n")
    with pytest.raises(CorruptStoreError, match="line 2"):
        store.records()


def test_corrupt_status_and_state_are_reported_not_raised(tmp_path, caplog):
    store = ResultsStore(tmp_path / "run")
    store.run_path.write_text('{"status": "runn')
    store.state_path.write_text("{")
    with caplog.at_level(logging.WARNING):
        assert store.status() is None and store.load_state() is None
    assert str(store.run_path) in caplog.text and str(store.state_path) in caplog.text
    store.set_status("running", pid=1)
    assert store.status() == {"status": "running", "pid": 1}


def test_a_full_disk_leaves_no_temp_file(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(json, "dump", full)
    with pytest.raises(OSError):
        write_json_atomic(tmp_path / "state.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []


def test_truncated_state_is_rebuilt_from_the_results(tmp_path):
    cfg = cfg_for(tmp_path, TINY)
    complete = run_experiment(cfg)
    store = ResultsStore(results_dir(cfg))
    # A kill after iteration 1: the last record is gone, state.json torn, run.json still running.
    lines = store.results_path.read_text().splitlines()
    store.results_path.write_text("\n".join(lines[:2]) + "\n")
    store.state_path.write_text('{"iteration": 1, "labelled": {"rows": [1, 2')
    store.set_status("running")
    resumed = run_experiment(cfg)
    assert _strip(resumed) == _strip(complete)
    assert store.status()["status"] == "finished"
    assert json.loads(store.state_path.read_text())["iteration"] == 2


def test_second_process_on_a_held_run_is_skipped_and_writes_nothing(tmp_path):
    cfg = cfg_for(tmp_path, TINY)
    store = ResultsStore(results_dir(cfg))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; "
            "lock = FileLock(sys.argv[1]); lock.acquire(); print('held', flush=True); time.sleep(120)",
            str(store.run_dir / ".run.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        store.set_status("running", pid=holder.pid)
        before = store.run_path.read_bytes()
        with pytest.raises(RunBusyError, match=f"another process \\(pid {holder.pid}\\)"):
            run_experiment(cfg)
        assert store.run_path.read_bytes() == before
        assert not store.results_path.exists()
        # A second sweep over the same grid counts the held run as busy, not failed, and goes on.
        sweep = subprocess.run(
            [sys.executable, "-m", "al_bert", "-m", f"paths.output_root={tmp_path}", *TINY],
            cwd=Path(__file__).parents[1],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert sweep.returncode == 0, sweep.stderr[-2000:]
        assert "[1/1] 0 finished · 0 skipped · 1 busy · 0 failed" in sweep.stdout
        assert f"another process (pid {holder.pid})" in sweep.stderr
        assert "run failed" not in sweep.stderr
        assert store.run_path.read_bytes() == before
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    # The holder died without releasing anything: its lock is gone with it, the run goes on.
    records = run_experiment(cfg)
    assert [r["iteration"] for r in records] == [0, 1, 2]
    status = store.status()
    assert status["status"] == "finished" and status["reason"] is None
