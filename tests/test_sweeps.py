"""Sweeps that survive: SIGKILL + resume, the joblib launcher, and one test per failure.

The CLI tests run ``python -m al_bert -m ...`` in a subprocess with ``AL_BERT_OUTPUT_DIR`` set to a
temporary folder; the failure tests run :func:`al_bert.app.run_experiment` in-process next to a finished
run and check that it is left untouched. Everything uses the tiny random BERT on a 300-example TREC pool.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from omegaconf import DictConfig

import al_bert.model.encoder_learner
from al_bert.app import run_experiment
from al_bert.errors import RunFailure
from tests.conftest import compose_config

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
ITERATIONS = 3
QUICK = [
    "model=tiny",
    "trainer=fast",
    "trainer.max_epochs=1",
    "logger=none",
    "scenario=imbalanced",
    "seed_builder.positives=30",
    "seed_builder.weak_negatives=30",
    "limit.train=300",
    "limit.eval=100",
    f"al.iterations={ITERATIONS}",
    "al.batch_size=10",
    "print_table=false",
]


# ---------------------------------------------------------------------------------------- helpers
def cli_env(root: Path) -> dict[str, str]:
    """The environment of a CLI run: results under ``root``, offline, no shared cache folder."""
    env = {**os.environ, "AL_BERT_OUTPUT_DIR": str(root), "AL_BERT_OFFLINE": "1"}
    env.pop("AL_BERT_CACHE_DIR", None)  # caches go under root/.cache: no sharing between tests
    env["PYTHONUNBUFFERED"] = "1"
    return env


def sweep_cmd(*overrides: str) -> list[str]:
    """``python -m al_bert -m <quick settings> <overrides>`` (``-m`` must precede the overrides)."""
    return [sys.executable, "-m", "al_bert", "-m", *QUICK, *overrides]


def run_cli(cmd: list[str], root: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cmd, cwd=REPO, env=cli_env(root), capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def runs(root: Path) -> dict[str, Path]:
    """Run key → run directory."""
    base = root / "runs"
    return {p.name: p for p in sorted(base.iterdir())} if base.is_dir() else {}


def status(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    return json.loads(path.read_text()) if path.exists() else {}


def records(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "results.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def without_timings(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in rows]


def line_count(run_dir: Path) -> int:
    path = run_dir / "results.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def assert_finished(run_dir: Path, iterations: int = ITERATIONS) -> list[dict[str, Any]]:
    """The run is finished with exactly one record per iteration 0..T."""
    assert status(run_dir)["status"] == "finished", status(run_dir)
    rows = records(run_dir)
    assert [r["iteration"] for r in rows] == list(range(iterations + 1))
    return rows


# ------------------------------------------------------------------------------ kill and resume
def test_sigkill_mid_iteration_then_rerun_equals_an_uninterrupted_sweep(tmp_path: Path) -> None:
    cmd = sweep_cmd("seed=0,1")
    reference_root, killed_root = tmp_path / "reference", tmp_path / "killed"

    # The uninterrupted reference sweep runs alongside (the tiny model leaves cores idle).
    reference_log = tmp_path / "reference.log"
    with open(reference_log, "wb") as log:
        reference_proc = subprocess.Popen(
            cmd, cwd=REPO, env=cli_env(reference_root), stdout=log, stderr=subprocess.STDOUT
        )
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=cli_env(killed_root),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    interrupted: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 300
        while not interrupted:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no run reached iteration 1 in time"
            for key, run_dir in runs(killed_root).items():
                if line_count(run_dir) >= 2 and status(run_dir).get("status") == "running":
                    interrupted[key] = line_count(run_dir)
                    break
            else:
                time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # Popen(start_new_session) → pgid == pid
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        if not interrupted:
            reference_proc.kill()
            reference_proc.wait(timeout=60)

    ((key, lines_at_kill),) = interrupted.items()
    assert status(runs(killed_root)[key])["status"] == "running"  # killed, not finished
    assert lines_at_kill <= ITERATIONS

    run_cli(cmd, killed_root)  # the same command again: resumes the killed run, runs the rest
    try:
        reference_proc.wait(timeout=600)
    finally:
        if reference_proc.poll() is None:
            reference_proc.kill()
    assert reference_proc.returncode == 0, reference_log.read_text()[-4000:]

    resumed, reference = runs(killed_root), runs(reference_root)
    assert resumed.keys() == reference.keys() and len(resumed) == 2
    for name in reference:
        got = assert_finished(resumed[name])  # also: no duplicate or missing iteration rows
        want = assert_finished(reference[name])
        assert without_timings(got) == without_timings(want)


# ------------------------------------------------------------------------------------- launchers
def test_joblib_launcher_runs_two_jobs_that_share_iteration0(tmp_path: Path) -> None:
    result = run_cli(
        sweep_cmd(
            "+launcher=joblib", "hydra.launcher.n_jobs=2", "strategy=random,least_confidence"
        ),
        tmp_path,
    )
    # Each worker holds its own callback: jobs report their own number, not a running count. The two
    # workers print at about the same moment: each line arrives whole (al_bert.console.say), so the
    # job lines are exactly these two and no line holds a second line's start.
    lines = result.stdout.splitlines()
    assert sorted(line for line in lines if "[job " in line) == [
        "[job 1/2] finished",
        "[job 2/2] finished",
    ]
    headers = [line for line in lines if re.match(r"^\[[0-9a-f]{16}\] ", line)]
    assert len(headers) == 2
    assert all(re.fullmatch(r"\[[0-9a-f]{16}\] \w+ × uniform, seed 0", h) for h in headers), headers
    found = runs(tmp_path)
    assert len(found) == 2
    rows = {name: assert_finished(run_dir) for name, run_dir in found.items()}
    assert {r[0]["strategy"] for r in rows.values()} == {"random", "least_confidence"}
    # Two worker processes, one M0: the second job waited on the lock and reused the first's.
    assert len({status(d)["pid"] for d in found.values()}) == 2
    first, second = (without_timings(r[:1])[0] for r in rows.values())
    metrics = ("accuracy", "f1", "roc_auc", "train_size", "positives_labelled")
    assert {m: first[m] for m in metrics} == {m: second[m] for m in metrics}
    (cache,) = (tmp_path / ".cache" / "iteration0").iterdir()
    assert len((cache / "trained.jsonl").read_text().splitlines()) == 1  # M0 trained once
    # torch threads per job = cores / n_jobs, set inside each job (conf/launcher/joblib.yaml).
    assert {status(d)["torch_threads"] for d in found.values()} == {1}


def test_run_key_ignores_launcher_settings() -> None:
    from al_bert.tracking.runkey import run_key

    def key(*overrides: str) -> str:
        return run_key(compose_config([*QUICK, *overrides]))

    plain = key()
    assert key("+launcher=joblib") == plain
    assert key("+launcher=slurm", "threads=3") == plain
    assert key("+launcher=slurm_cpu", "allow_environment_change=true") == plain
    assert key("+launcher=slurm_gpu") == plain
    assert key("share_iteration0=false", "paths.output_root=/elsewhere") == plain
    assert key("seed=1") != plain


# -------------------------------------------------------------------------------------- failures
def test_cli_sweep_goes_on_after_a_failed_run(tmp_path: Path) -> None:
    """AG News is not in the mirror and downloads are off: that job fails, the TREC job finishes."""
    result = run_cli(
        sweep_cmd("dataset=ag_news,trec", f"paths.data.cache_dir={tmp_path / 'data-cache'}"),
        tmp_path,
    )
    failed = [line for line in result.stderr.splitlines() if line.startswith("al-bert: run failed")]
    assert len(failed) == 1 and "ag_news/train.csv is not available" in failed[0]
    assert "downloads are disabled" in failed[0]
    by_status = {status(d)["status"]: d for d in runs(tmp_path).values()}
    assert by_status.keys() == {"failed", "finished"}
    assert "ag_news/train.csv is not available" in status(by_status["failed"])["reason"]
    assert records(by_status["failed"]) == []
    assert assert_finished(by_status["finished"])[0]["dataset"] == "trec"


def compose_in(root: Path, overrides: list[str]) -> DictConfig:
    return compose_config([*QUICK, *overrides], root=root)


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, bytes]:
    """An output root holding one finished run: (root, its run dir, its results bytes)."""
    root = tmp_path_factory.mktemp("sweep")
    run_experiment(compose_in(root, []))
    ((run_dir),) = runs(root).values()
    assert_finished(run_dir)
    return root, run_dir, (run_dir / "results.jsonl").read_bytes()


def failed_run(root: Path, before: set[str]) -> Path:
    (new,) = set(runs(root)) - before
    return runs(root)[new]


def assert_other_run_intact(finished_sweep: tuple[Path, Path, bytes]) -> None:
    _, run_dir, results = finished_sweep
    assert (run_dir / "results.jsonl").read_bytes() == results
    assert status(run_dir)["status"] == "finished"


FAILURES = {
    "nan_loss": (["trainer.lr=1e30", "trainer.precision=32"], "non-finite training loss"),
    "data_unavailable": (
        ["dataset=ag_news", "paths.data.download=false"],
        "ag_news/train.csv is not available",
    ),
    "impossible_budget": (["al.iterations=100", "al.batch_size=50"], "impossible budget"),
    "empty_keyword_query": (
        ["scenario=imbalanced_practical", "dataset.query.terms=[zzzqqq]"],
        "keyword query of task 'trec' matches no pool example",
    ),
    "single_class_seed": (
        ["scenario=balanced", "seed_builder.size=1"],
        "has only positive examples",
    ),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_failure_stops_the_run_with_a_one_line_reason(
    name: str,
    finished_sweep: tuple[Path, Path, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    overrides, message = FAILURES[name]
    root = finished_sweep[0]
    if name == "data_unavailable":
        monkeypatch.setenv("AL_BERT_OFFLINE", "1")
        overrides = [*overrides, f"paths.data.cache_dir={tmp_path}"]
    if name.endswith("_seed") or name.endswith("_query"):
        # These scenarios need the other seed builders: drop the imbalanced seed's settings.
        cfg_overrides = [o for o in QUICK if not o.startswith(("scenario", "seed_builder"))]
        cfg = compose_config([*cfg_overrides, *overrides], root=root)
    else:
        cfg = compose_in(root, overrides)
    before = set(runs(root))
    with pytest.raises(RunFailure, match=re.escape(message)):
        run_experiment(cfg)
    run = status(failed_run(root, before))
    assert run["status"] == "failed"
    assert message in run["reason"] and "\n" not in run["reason"]
    assert_other_run_intact(finished_sweep)


def test_out_of_memory_keeps_finished_iterations_and_hints(
    finished_sweep: tuple[Path, Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Iteration 1 runs out of memory: the run fails with the hint, iteration 0's record stays."""
    real_fit = al_bert.model.encoder_learner.fit_model

    def fit_then_oom(*args: Any) -> Any:
        fit_seed = args[-1]
        if fit_seed % 1000 == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_fit(*args)

    monkeypatch.setattr(al_bert.model.encoder_learner, "fit_model", fit_then_oom)
    root = finished_sweep[0]
    before = set(runs(root))
    with pytest.raises(RunFailure, match=re.escape("out of memory: lower trainer.batch_size")):
        run_experiment(compose_in(root, ["seed=7"]))
    run_dir = failed_run(root, before)
    assert status(run_dir)["status"] == "failed"
    assert "OutOfMemoryError: out of memory" in status(run_dir)["reason"]
    assert [r["iteration"] for r in records(run_dir)] == [0]  # finished results are never lost
    assert_other_run_intact(finished_sweep)


def test_failed_run_is_retried_and_finishes_on_rerun(
    finished_sweep: tuple[Path, Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an OOM at iteration 2 a re-run (with the memory back) resumes and finishes."""
    real_fit = al_bert.model.encoder_learner.fit_model
    calls: list[int] = []

    def fit_once_oom(*args: Any) -> Any:
        calls.append(args[-1] % 1000)
        if calls.count(2) == 1 and args[-1] % 1000 == 2:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return real_fit(*args)

    monkeypatch.setattr(al_bert.model.encoder_learner, "fit_model", fit_once_oom)
    root = finished_sweep[0]
    cfg = compose_in(root, ["seed=8"])
    before = set(runs(root))
    with pytest.raises(RunFailure):
        run_experiment(cfg)
    run_dir = failed_run(root, before)
    assert len(records(run_dir)) == 2
    rows = run_experiment(cfg)
    assert [r["iteration"] for r in rows] == list(range(ITERATIONS + 1))
    assert_finished(run_dir)
    assert np.all(np.diff([r["train_size"] for r in rows]) == 10)
