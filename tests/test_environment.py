"""Run provenance: every launch's environment in run.json, and a resume under other numerics refused."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import al_bert.model.training
from al_bert.app import run_experiment
from al_bert.errors import RunFailure
from al_bert.tracking.environment import check_resume
from tests.conftest import compose_config
from tests.test_sweeps import QUICK as SWEEP_QUICK

QUICK = [*SWEEP_QUICK, "strategy=random"]  # 3 iterations of the tiny random BERT


def run_json(root: Path) -> tuple[Path, dict]:
    (run_dir,) = (root / "runs").iterdir()
    return run_dir, json.loads((run_dir / "run.json").read_text())


def interrupt_after_iteration_0(run_dir: Path) -> None:
    """Make a finished run look like one killed after iteration 0 (the state a requeued job finds)."""
    lines = (run_dir / "results.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "results.jsonl").write_text(lines[0])
    (run_dir / "state.json").unlink()
    run = json.loads((run_dir / "run.json").read_text())
    run["status"] = "running"
    (run_dir / "run.json").write_text(json.dumps(run))


def test_a_new_run_records_its_environment(tmp_path: Path) -> None:
    run_experiment(compose_config(QUICK, root=tmp_path))
    _, run = run_json(tmp_path)
    (environment,) = run["environments"]
    assert environment["from_iteration"] == 0
    assert environment["device_kind"] == "cpu" and environment["device"]
    assert isinstance(environment["cpu_flags"], list)
    assert environment["train_precision"] in ("32", "bf16-mixed")
    assert environment["inference_precision"] in ("32", "bf16-autocast")
    for package in ("torch", "transformers", "lightning", "faiss", "al_bert"):
        assert environment[package], package
    assert environment["torch_threads"] >= 1
    assert "git_revision" in environment


def test_resuming_under_another_precision_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(al_bert.model.training, "bf16_supported", lambda device: False)
    run_experiment(compose_config(QUICK, root=tmp_path))
    run_dir, finished = run_json(tmp_path)
    first = json.loads((run_dir / "results.jsonl").read_text().splitlines()[0])
    interrupt_after_iteration_0(run_dir)
    kept = (run_dir / "results.jsonl").read_bytes()

    # The same key on a node where `auto` resolves to bf16 (a requeued job on another GPU generation).
    monkeypatch.setattr(al_bert.model.training, "bf16_supported", lambda device: True)
    with pytest.raises(RunFailure) as refused:
        run_experiment(compose_config(QUICK, root=tmp_path))
    message = str(refused.value)
    assert "\n" not in message
    assert "train_precision 32 → bf16-mixed" in message
    assert "inference_precision 32 → bf16-autocast" in message
    assert "allow_environment_change=true" in message
    assert (run_dir / "results.jsonl").read_bytes() == kept  # nothing lost, nothing computed
    assert len(run_json(tmp_path)[1]["environments"]) == 1

    # Continuing anyway is explicit and recorded, from the iteration the second launch computed.
    run_experiment(compose_config([*QUICK, "allow_environment_change=true"], root=tmp_path))
    _, resumed = run_json(tmp_path)
    assert resumed["status"] == "finished"
    assert resumed["run_key"] == finished["run_key"]  # the flag is not part of the run's identity
    before, after = resumed["environments"]
    assert (before["from_iteration"], after["from_iteration"]) == (0, 1)
    assert (before["train_precision"], after["train_precision"]) == ("32", "bf16-mixed")
    assert after["allow_environment_change"] is True
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [0, 1, 2, 3]
    assert records[0] == first


def test_runs_recorded_before_environments_are_never_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_experiment(compose_config(QUICK, root=tmp_path))
    run_dir, _ = run_json(tmp_path)
    interrupt_after_iteration_0(run_dir)
    legacy = json.loads((run_dir / "run.json").read_text())
    del legacy["environments"]  # as the committed reproduction runs: environment unknown
    (run_dir / "run.json").write_text(json.dumps(legacy))
    monkeypatch.setattr(al_bert.model.training, "bf16_supported", lambda device: True)
    run_experiment(compose_config(QUICK, root=tmp_path))
    _, resumed = run_json(tmp_path)
    assert resumed["status"] == "finished"
    assert [e["from_iteration"] for e in resumed["environments"]] == [1]


def test_other_differences_only_warn(caplog: pytest.LogCaptureFixture) -> None:
    recorded = {"device_kind": "cpu", "train_precision": "32", "inference_precision": "32"}
    current = {**recorded, "torch": "9.9", "device": "another CPU"}
    with caplog.at_level(logging.WARNING, logger="al_bert"):
        check_resume([{**recorded, "torch": "2.13.0", "device": "a CPU"}], current,
                     allow_change=False, run="k")  # fmt: skip
    assert "torch 2.13.0 → 9.9" in caplog.text and "device a CPU → another CPU" in caplog.text
    with pytest.raises(Exception, match="device_kind cpu → cuda"):
        check_resume([recorded], {**recorded, "device_kind": "cuda"}, allow_change=False, run="k")
