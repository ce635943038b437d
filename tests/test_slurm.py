"""Sweeps on a real one-host SLURM cluster (``make test-slurm``; marker ``slurm``, not in ``make test``).

``scripts/slurm_cluster.sh`` starts munged, slurmctld and slurmd from Debian's packages in a temporary
folder; every sweep goes through ``+launcher=slurm_cpu`` (hydra-submitit-launcher → ``sbatch --array``)
with the preset as it is, except what this one small node cannot give: ``cpus_per_task=1`` (the node has
2 CPUs: two jobs at once) and, for the time-limit test, ``timeout_min=2`` with ``signal_delay_s=10`` and
``max_num_timeout=20`` (a test cannot wait hours for a limit; see ``TIME_LIMIT``); that job is frozen
after its first finished iteration until SLURM's warning signal is pending, so no host is fast enough to
finish before its limit (``hold_until_time_limit_signal``). Each SLURM sweep is
checked against the same sweep run locally at the same time (``threads=1`` in both, so the arithmetic
matches), records compared with timings aside.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from al_bert.tracking.runkey import run_key
from tests.conftest import compose_config
from tests.test_sweeps import QUICK as SWEEP_QUICK
from tests.test_sweeps import (
    assert_finished,
    cli_env,
    records,
    runs,
    status,
    without_timings,
)

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "scripts" / "slurm_cluster.sh"
ITERATIONS = 8
# tests/test_sweeps.py's tiny runs with one torch thread (as the SLURM jobs get), long enough (8 iterations
# of 3 epochs, a few seconds each) that a run requeued after its first iteration is still mid-run when
# SLURM's SIGKILL follows its SIGTERM (KillWait, 5 s): shorter runs could finish in between.
QUICK = [
    *(o for o in SWEEP_QUICK if not o.startswith(("al.iterations=", "trainer.max_epochs="))),
    f"al.iterations={ITERATIONS}",
    "trainer.max_epochs=3",
    "threads=1",
]
# seed varies slowest: jobs 1-2 (seed 0, both strategies) start together and race for one M0.
GRID = ["seed=0,1,-1", "strategy=random,least_confidence"]
ON_THIS_NODE = ["hydra.launcher.cpus_per_task=1"]
# SLURM sends the warning signal "up to 60 seconds earlier than specified" (its controller acts every ~30 s):
# with a 1-minute limit it can land during Python's start-up, before submitit's handler exists, and kill
# the job. A 2-minute limit with a 10 s delay signals 50-110 s into each attempt, long after start-up; the
# job is held (SIGSTOP) from its first finished iteration until then, so the signal always finds it mid-run.
TIME_LIMIT = [
    "hydra.launcher.timeout_min=2",
    "hydra.launcher.signal_delay_s=10",
    "hydra.launcher.max_num_timeout=20",
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A running one-host cluster; the environment its client commands need. Stopped at the end,
    leaving no daemon."""
    state = tmp_path_factory.mktemp("slurm")
    env = {**os.environ, "SLURM_CLUSTER_DIR": str(state)}
    start = subprocess.run(
        ["bash", str(CLUSTER), "start"], env=env, capture_output=True, text=True, timeout=120
    )
    assert start.returncode == 0, f"the SLURM cluster did not start:\n{start.stderr[-3000:]}"
    for line in start.stdout.splitlines():  # export PATH=…, export SLURM_CONF=…
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value.split(" #")[0].replace("$PATH", os.environ["PATH"])
    try:
        yield env
    finally:
        stop = subprocess.run(
            ["bash", str(CLUSTER), "stop"], env=env, capture_output=True, text=True, timeout=120
        )
        assert stop.returncode == 0, stop.stderr
        left = subprocess.run(
            ["pgrep", "-f", str(state)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert left == [], f"daemons left running: {left}"


def al_bert(root: Path, env: dict[str, str], *overrides: str, log: Path) -> subprocess.Popen:
    """Start ``al-bert -m <QUICK> <overrides>`` with results under ``root``; output into ``log``."""
    with open(log, "w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "al_bert", "-m", *overrides],
            cwd=REPO,
            env={**cli_env(root), "PATH": env["PATH"], "SLURM_CONF": env["SLURM_CONF"]},
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )


def finish(process: subprocess.Popen, log: Path, timeout: float) -> str:
    process.wait(timeout=timeout)
    output = log.read_text()
    assert process.returncode == 0, output[-4000:]
    return output


def key_of(overrides: list[str]) -> str:
    return run_key(compose_config(overrides))


def table_rows(output: str, title: str) -> list[str]:
    """The rows of the markdown table printed under the heading that starts with ``# <title>``."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"# {title}")), len(lines))
    rows: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    return [row for row in rows if row.startswith("| ")]  # without the |---| line


def comparison_rows(output: str) -> list[str]:
    """The comparison table's rows without the seconds column (compute time differs by host)."""
    return [row.rsplit("|", 2)[0] for row in table_rows(output, "Comparison")]


def slurm_logs(sweep_root: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(sweep_root.rglob(".submitit/*/*_log.*")))


def running_after_an_iteration(run_dir: Path, deadline: float) -> tuple[dict[str, Any], int]:
    """Wait until the run has a finished iteration and is still running in a SLURM job: its ``run.json``
    (the job in ``environments``, the process in ``pid``) and how many iterations it has finished."""
    while True:
        assert time.monotonic() < deadline, "the run never reached iteration 1 under SLURM"
        run = status(run_dir)
        done = len(records(run_dir))
        if done >= 1 and run.get("status") == "running" and run.get("environments"):
            return run, done
        time.sleep(0.05)


def requeue_when_running(
    run_dir: Path, env: dict[str, str], timeout: float = 300
) -> dict[str, Any]:
    """Wait until the run has a finished iteration and is still running in a SLURM job, then
    ``scontrol requeue`` that job; wait until the requeued job appends its next iteration."""
    deadline = time.monotonic() + timeout
    run, done = running_after_an_iteration(run_dir, deadline)
    job = run["environments"][-1]["slurm"]["job_id"]
    requeued_at = time.monotonic()
    subprocess.run(["scontrol", "requeue", job], env=env, check=True, timeout=30)
    while True:
        run = status(run_dir)
        environments = run.get("environments") or []
        queue = subprocess.run(
            ["squeue", "-h", "-o", "%i %T %r"], env=env, capture_output=True, text=True, check=False
        ).stdout
        assert time.monotonic() < deadline + 180, f"never resumed: {run}\n{queue}"
        resumed = (
            len(environments) == 2 and len(records(run_dir)) > environments[1]["from_iteration"]
        )
        if resumed:
            return {
                "job": job,
                "iterations_before": done,
                "seconds_to_resumed_iteration": round(time.monotonic() - requeued_at, 1),
            }
        time.sleep(0.2)


def pending_signals(pid: int) -> int:
    """The mask of signals pending for ``pid`` (thread and process-wide), from ``/proc/<pid>/status``."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)


def _usr2_pending_or_gone(pid: int) -> bool:
    try:
        return bool(pending_signals(pid) & (1 << (signal.SIGUSR2 - 1)))
    except FileNotFoundError:  # killed (SLURM's SIGKILL reaches a stopped process too)
        return True


def hold_until_time_limit_signal(run_dir: Path, timeout: float = 300) -> dict[str, Any]:
    """Freeze the job's process (SIGSTOP) once its run has a finished iteration, until SLURM's
    time-limit warning (``--signal=USR2@…``, what ``signal_delay_s`` asks for) is pending on it, then
    let it go on (SIGCONT): submitit's handler then requeues it mid-run, however fast the host. (On a
    host so slow that the signal comes before the first iteration ends, the requeued attempt is the one
    frozen.)"""
    deadline = time.monotonic() + timeout
    run, done = running_after_an_iteration(run_dir, deadline)
    pid = int(run["pid"])
    os.kill(pid, signal.SIGSTOP)
    held_at = time.monotonic()
    try:
        while not _usr2_pending_or_gone(pid):
            assert time.monotonic() < deadline, f"SLURM never signalled job process {pid}"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    return {"iterations_before": done, "seconds_held": round(time.monotonic() - held_at, 1)}


def test_a_second_start_is_refused_in_one_line(cluster: dict[str, str]) -> None:
    again = subprocess.run(
        ["bash", str(CLUSTER), "start"], env=cluster, capture_output=True, text=True, timeout=60
    )
    assert again.returncode != 0
    assert again.stderr.strip().count("\n") == 0 and "already running" in again.stderr


def test_slurm_sweep_matches_the_local_sweep(cluster: dict[str, str], tmp_path: Path) -> None:
    """6 jobs (2 strategies × seeds 0, 1 and an invalid -1) as one SLURM array: the 4 valid runs end
    with the records and comparison of the local sweep, the 2 invalid ones are reported failed, each
    shared M0 is trained once though its two jobs start together, and a job requeued mid-run
    (`scontrol requeue`) resumes from its last finished iteration."""
    slurm_root, local_root = tmp_path / "slurm", tmp_path / "local"
    slurm = al_bert(
        slurm_root, cluster, *QUICK, "+launcher=slurm_cpu", *ON_THIS_NODE, *GRID,
        log=tmp_path / "slurm.log",
    )  # fmt: skip
    local = al_bert(local_root, cluster, *QUICK, *GRID, log=tmp_path / "local.log")
    requeued = requeue_when_running(
        slurm_root / "runs" / key_of([*QUICK, "seed=1", "strategy=random"]), cluster
    )
    slurm_out = finish(slurm, tmp_path / "slurm.log", timeout=600)
    local_out = finish(local, tmp_path / "local.log", timeout=600)
    print(f"requeue → resumed iteration: {json.dumps(requeued)}")

    # Counts: in-process locally; from the jobs' outcome files in the SLURM launcher.
    assert "[6/6] 4 finished · 0 skipped · 2 failed" in local_out
    assert "[6/6] 4 finished · 0 skipped · 2 failed" in slurm_out
    failed = [line.strip() for line in slurm_out.splitlines() if line.startswith("  job ")]
    assert [line.split(": must")[0] for line in failed] == ["job 5: seed=-1", "job 6: seed=-1"]
    assert set(runs(slurm_root)) == set(runs(local_root))  # invalid runs leave no run folder
    assert len(runs(slurm_root)) == 4
    for name, run_dir in runs(slurm_root).items():
        got = assert_finished(run_dir, ITERATIONS)  # every iteration exactly once
        want = assert_finished(runs(local_root)[name], ITERATIONS)
        assert without_timings(got) == without_timings(want)
    assert comparison_rows(slurm_out) == comparison_rows(local_out)
    assert len(comparison_rows(slurm_out)) == 3  # header and two strategies
    # when each could have stopped: the same criteria on the same records, wherever the jobs ran
    stopping = table_rows(slurm_out, "When each configuration could have stopped")
    assert stopping == table_rows(local_out, "When each configuration could have stopped")
    assert len(stopping) == 1 + 2 * 8  # header, two strategies × the eight default criteria

    # One M0 per seed, trained by one job while the other waited on the lock and reused it.
    caches = sorted((slurm_root / ".cache" / "iteration0").iterdir())
    assert len(caches) == 2
    for cache in caches:
        (trainer,) = [json.loads(x) for x in (cache / "trained.jsonl").read_text().splitlines()]
        assert trainer["slurm_job"]

    run = status(runs(slurm_root)[key_of([*QUICK, "seed=1", "strategy=random"])])
    assert run["requeues"] == 1
    first, second = run["environments"]
    # Killed mid-run (SLURM's SIGTERM, then SIGKILL after KillWait: a few more iterations may finish),
    # resumed from the first missing iteration.
    assert 1 <= requeued["iterations_before"] <= second["from_iteration"] <= ITERATIONS
    assert (first["slurm"].get("restart_count"), second["slurm"]["restart_count"]) in {
        (None, "1"),
        ("0", "1"),
    }
    # Quiet consoles: no SLURM hint from Lightning in the launcher or in any job (the requeued job's
    # log holds srun's own "got SIGCONT" / "forcing job termination" notices: those are SLURM's).
    for console in (slurm_out, slurm_logs(slurm_root)):
        assert (
            "The `srun` command is available" not in console and "SLURMEnvironment" not in console
        )
        assert "PossibleUserWarning" not in console and "Traceback" not in console


def test_a_job_past_its_time_limit_is_requeued_and_resumes(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    """SLURM signals the job before its time limit, submitit requeues it, and the run resumes from
    its last finished iteration, ending with the records of an uninterrupted run."""
    slurm_root, local_root = tmp_path / "slurm", tmp_path / "local"
    job = [*QUICK, "strategy=random", "seed=0"]
    slurm = al_bert(
        slurm_root, cluster, *job, "+launcher=slurm_cpu", *ON_THIS_NODE, *TIME_LIMIT,
        log=tmp_path / "slurm.log",
    )  # fmt: skip
    local = al_bert(local_root, cluster, *job, log=tmp_path / "local.log")
    held = hold_until_time_limit_signal(slurm_root / "runs" / key_of(job))
    slurm_out = finish(slurm, tmp_path / "slurm.log", timeout=600)
    finish(local, tmp_path / "local.log", timeout=600)
    print(f"held until the time-limit signal: {json.dumps(held)}")

    ((name, run_dir),) = runs(slurm_root).items()
    got = assert_finished(run_dir, ITERATIONS)
    want = assert_finished(runs(local_root)[name], ITERATIONS)
    assert without_timings(got) == without_timings(want)
    run = status(run_dir)
    starts = [e["from_iteration"] for e in run["environments"]]
    print(f"time-limit requeues: {run['requeues']}, launches started at iterations {starts}")
    assert run["requeues"] >= 1 and len(starts) == run["requeues"] + 1
    assert starts == sorted(starts) and starts[-1] >= held["iterations_before"] >= 1
    logs = slurm_logs(slurm_root)
    assert re.search(r"Requeued job \S+ \(\d+ remaining timeouts\)", logs), logs[-3000:]
    assert "[1/1] 1 finished · 0 skipped · 0 failed" in slurm_out
