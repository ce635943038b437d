"""A soak with faults: a sweep of many tiny runs, its workers killed at random moments, re-launched until done.

``make bench-soak`` (= ``python scripts/bench_soak.py --out benchmarks``) runs a grid of ``model=tiny`` runs
(5 strategies × 3 weightings × 7 seeds = 105) through the joblib launcher with 2 workers twice: once
undisturbed (the reference), once while a killer sends SIGKILL to a random worker process at random moments
(``--kills``, at least 3); each kill breaks the sweep, which is launched again with the same command until
it ends on its own. Then it checks, and reports in ``<out>/soak.{md,json}``:

- every run of the grid finished exactly once (one record per iteration) with records identical to the
  reference's, timings aside;
- no temporary file is left (an atomic write killed before its rename) and no run or cache lock is held;
- the resident memory of each worker of the undisturbed sweep stays flat after warm-up;
- the wall time of both sweeps.

``tests/test_soak.py`` runs the same with 12 runs and 1 kill (:func:`soak`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from al_bert.grid import sweep_size

REPO = Path(__file__).resolve().parents[1]
RUN = [
    "model=tiny",
    "trainer=fast",
    "trainer.max_epochs=1",
    "logger=none",
    "scenario=imbalanced",
    "seed_builder.positives=20",
    "seed_builder.weak_negatives=20",
    "limit.train=200",
    "limit.eval=60",
    "al.iterations=2",
    "al.batch_size=10",
    "print_table=false",
]
ITERATIONS = 2
GRID = [
    "strategy=random,least_confidence,core_set,badge,mc_dropout",
    "weighting=uniform,invprop,posprob",
    "seed=0,1,2,3,4,5,6",
]
SHORT_GRID = ["strategy=random,least_confidence", "weighting=uniform,invprop", "seed=0,1,2"]
LAUNCHER = ["+launcher=joblib", "hydra.launcher.n_jobs=2", "threads=1"]
WARM_UP = 0.25  # the first quarter of a worker's life is its warm-up
RSS_TARGET_MB = 100.0


def _children(pid: int) -> list[int]:
    """Live descendants of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current:
                found.append(child)
                frontier.append(child)
    return found


def workers(sweep_pid: int) -> list[int]:
    """The joblib (loky) worker processes of a sweep: each runs one job at a time."""
    out = []
    for pid in _children(sweep_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "loky" in cmdline and "resource_tracker" not in cmdline:
            out.append(pid)
    return out


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Sweep:
    """One launch of the sweep command, with its workers' memory sampled while it runs."""

    root: Path
    grid: list[str]
    rss: dict[int, list[float]] = field(default_factory=dict)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "al_bert", "-m", *RUN, *LAUNCHER, *self.grid]

    def start(self, log: Path) -> subprocess.Popen:
        env = {**os.environ, "AL_BERT_OUTPUT_DIR": str(self.root), "AL_BERT_OFFLINE": "1"}
        env.pop("AL_BERT_CACHE_DIR", None)
        with open(log, "ab") as handle:
            return subprocess.Popen(
                self.command(), cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def sample(self, process: subprocess.Popen, stop: threading.Event) -> None:
        while not stop.is_set() and process.poll() is None:
            for pid in workers(process.pid):
                value = rss_mb(pid)
                if value is not None:
                    self.rss.setdefault(pid, []).append(value)
            stop.wait(0.5)


def run_sweep(sweep: Sweep, log: Path, kill_after: float | None = None) -> tuple[int, bool]:
    """Launch once; with ``kill_after``, SIGKILL a random worker that many seconds after the workers
    appear (the launcher first composes every job's config), if the sweep still runs then. Returns
    (exit code, whether a worker was killed)."""
    process = sweep.start(log)
    stop = threading.Event()
    sampler = threading.Thread(target=sweep.sample, args=(process, stop), daemon=True)
    sampler.start()
    killed = False
    try:
        if kill_after is not None:
            while process.poll() is None and not workers(process.pid):
                time.sleep(0.05)
            deadline = time.monotonic() + kill_after
            while process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            alive = workers(process.pid) if process.poll() is None else []
            if alive:
                os.kill(random.choice(alive), signal.SIGKILL)
                killed = True
        code = process.wait(timeout=3600)
    finally:
        stop.set()
        sampler.join()
        # The sweep's session holds its loky workers: none may outlive a broken sweep.
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return code, killed


def records(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "results.jsonl"
    return (
        [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
    )


def without_timings(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in rows]


def held_locks(root: Path) -> list[str]:
    """Lock files some process still holds (a run's or a shared cache's)."""
    held = []
    for path in root.rglob("*.lock"):
        lock = FileLock(str(path), is_singleton=False)
        try:
            lock.acquire(timeout=0)
            lock.release()
        except Timeout:
            held.append(str(path.relative_to(root)))
    return held


def worker_memory(rss: dict[int, list[float]]) -> list[dict[str, float]]:
    """Per worker that lived through several samples: RSS after warm-up and at the end of its life."""
    rows = []
    for pid, samples in rss.items():
        if len(samples) < 8:
            continue
        warm = samples[int(len(samples) * WARM_UP) :]
        half = len(warm) // 2
        rows.append({
            "pid": pid,
            "samples": len(samples),
            "peak_after_warm_up_mb": round(max(warm[:half]), 1),
            "peak_at_end_mb": round(max(warm[half:]), 1),
            "growth_mb": round(max(warm[half:]) - max(warm[:half]), 1),
        })  # fmt: skip
    return rows


def soak(grid: list[str], kills: int, root: Path, seed: int = 0) -> dict[str, Any]:
    """Run the reference sweep and the killed one under ``root``; return every check's figures."""
    rng = random.Random(seed)
    random.seed(seed)
    root.mkdir(parents=True, exist_ok=True)
    reference = Sweep(root / "reference", grid)
    started = time.perf_counter()
    code, _ = run_sweep(reference, root / "reference.log")
    reference_seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(
            f"the reference sweep failed: {(root / 'reference.log').read_text()[-3000:]}"
        )
    soaked = Sweep(root / "soak", grid)
    launches, kills_done, started = 0, 0, time.perf_counter()
    per_run = reference_seconds / max(1, sweep_size(grid)) * 2  # a run's wall time at 2 workers
    while True:
        launches += 1
        kill_after = rng.uniform(0.5, 4 * per_run) if kills_done < kills else None
        code, killed = run_sweep(soaked, root / "soak.log", kill_after)
        kills_done += killed
        if code == 0 and not killed:
            break
        if launches > kills + 20:
            raise RuntimeError(
                f"the soak sweep never completed: {(root / 'soak.log').read_text()[-3000:]}"
            )
    soak_seconds = time.perf_counter() - started

    ref_runs = {p.name: p for p in (reference.root / "runs").iterdir()}
    soak_runs = {p.name: p for p in (soaked.root / "runs").iterdir()}
    finished_once, identical = [], []
    for key, run_dir in soak_runs.items():
        rows = records(run_dir)
        status = json.loads((run_dir / "run.json").read_text()).get("status")
        finished_once.append(
            status == "finished" and [r["iteration"] for r in rows] == list(range(ITERATIONS + 1))
        )
        identical.append(
            key in ref_runs and without_timings(rows) == without_timings(records(ref_runs[key]))
        )
    temporaries = [str(p.relative_to(root)) for p in root.rglob("*.tmp*")]
    memory = worker_memory(reference.rss)
    report = {
        "grid": grid,
        "runs": sweep_size(grid),
        "run": RUN,
        "workers": 2,
        "kills": kills_done,
        "launches": launches,
        "reference_runs": len(ref_runs),
        "soak_runs": len(soak_runs),
        "every_run_finished_exactly_once": len(soak_runs) == sweep_size(grid)
        and all(finished_once),
        "records_identical_to_reference": set(soak_runs) == set(ref_runs) and all(identical),
        "temporary_files_left": temporaries,
        "locks_held": held_locks(root),
        "worker_memory": memory,
        "max_worker_growth_mb": max((m["growth_mb"] for m in memory), default=0.0),
        "rss_target_mb": RSS_TARGET_MB,
        "reference_seconds": round(reference_seconds, 1),
        "soak_seconds": round(soak_seconds, 1),
    }
    report["memory_flat"] = report["max_worker_growth_mb"] < RSS_TARGET_MB
    report["passed"] = bool(
        report["every_run_finished_exactly_once"]
        and report["records_identical_to_reference"]
        and not temporaries
        and not report["locks_held"]
        and report["memory_flat"]
        and kills_done >= kills
    )
    return report


def render_markdown(report: dict[str, Any]) -> str:
    ok = {True: "yes", False: "**no**"}
    lines = [
        f"# Soak with faults ({report['runs']} runs, {report['kills']} worker kills)",
        "",
        f"Grid: `{' '.join(report['grid'])}`; each run `{' '.join(report['run'])}`; joblib launcher, "
        f"{report['workers']} workers, 1 thread each. The killed sweep was launched "
        f"{report['launches']} times (SIGKILL to a random worker at a random moment, then the same "
        "command again) until it ended on its own.",
        "",
        "| check | result |",
        "|---|---|",
        f"| every run finished exactly once | {ok[report['every_run_finished_exactly_once']]} "
        f"({report['soak_runs']} runs) |",
        f"| records identical to the undisturbed sweep (timings aside) | "
        f"{ok[report['records_identical_to_reference']]} |",
        f"| temporary files left | {len(report['temporary_files_left'])} |",
        f"| locks still held | {len(report['locks_held'])} |",
        f"| worker RSS growth after warm-up (max over workers) | {report['max_worker_growth_mb']:+.0f} MiB "
        f"(target < {report['rss_target_mb']:.0f}) |",
        f"| wall time, undisturbed / with kills | {report['reference_seconds']:.0f} s / "
        f"{report['soak_seconds']:.0f} s |",
        "",
        "Worker memory of the undisturbed sweep (peak RSS in the first and second half of a worker's "
        "life after its first quarter):",
        "",
        "| worker | samples | after warm-up (MiB) | at the end (MiB) | growth (MiB) |",
        "|---:|---:|---:|---:|---:|",
        *[
            f"| {m['pid']} | {m['samples']} | {m['peak_after_warm_up_mb']:.0f} | "
            f"{m['peak_at_end_mb']:.0f} | {m['growth_mb']:+.0f} |"
            for m in report["worker_memory"]
        ],
        "",
        "Regenerate with `make bench-soak`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks"))
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument(
        "--root", type=Path, help="an empty folder for the runs (default: a temporary one)"
    )
    parser.add_argument("--short", action="store_true", help="12 runs (the test's grid)")
    args = parser.parse_args(argv)
    grid = SHORT_GRID if args.short else GRID
    if args.root is not None:
        if args.root.exists() and any(args.root.iterdir()):
            parser.error(f"--root {args.root} is not empty: its runs would be skipped, not soaked")
        report = soak(grid, args.kills, args.root)
    else:
        with tempfile.TemporaryDirectory(prefix="al-bert-soak-") as tmp:
            report = soak(grid, args.kills, Path(tmp))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "soak.md").write_text(render_markdown(report))
    print(render_markdown(report))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
