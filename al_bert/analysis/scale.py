"""What the reproduction's runs cost, and what the papers' full grids would: the report's Scale table and
its Full-scale section (:mod:`al_bert.analysis.reproduction`).

Run counts come from :mod:`al_bert.grid`, the one place that counts a sweep's runs. Seconds are the
phases the runs record (``train_seconds`` … ``eval_seconds``); GPU timings are read from what
``make gpu-check`` (``scripts/gpu_check.sh``) wrote under ``benchmarks/gpu/``, when it is there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from al_bert.analysis.aggregate import final_iteration
from al_bert.analysis.tables import markdown_table
from al_bert.grid import block_runs, block_sweep, blocks_size, sweep_size

REPO = Path(__file__).resolve().parents[2]
# `make gpu-check`'s --out: summary.json (every step's status), sweep_gpu.json (bench-sweep on the GPU).
GPU_RESULTS = REPO / "benchmarks" / "gpu"


def seconds_per_run(frame: pd.DataFrame) -> pd.Series:
    """Seconds of train + inference + selection + evaluation of each run, indexed by run key."""
    return _phase_seconds(
        frame, ("train_seconds", "infer_seconds", "select_seconds", "eval_seconds")
    )


def runs_seconds(frame: pd.DataFrame) -> float:
    """Median of :func:`seconds_per_run` (the median: runs that shared the machine with other jobs
    are slower, and a few of them must not set the estimate)."""
    per_run = seconds_per_run(frame)
    return float(per_run.median()) if len(per_run) else float("nan")


def _phase_seconds(frame: pd.DataFrame, phases: Sequence[str]) -> pd.Series:
    """Seconds of the given phases summed over each run's iterations, indexed by run key."""
    present = [phase for phase in phases if phase in frame]
    return frame.groupby("run_key")[present].sum().sum(axis=1)


def sweep_blocks(sweep: Path, scale: str) -> list[dict[str, Any]]:
    """The ``scale`` blocks (``cpu:``, ``paper:``) of a sweep file."""
    blocks = yaml.safe_load(sweep.read_text(encoding="utf-8")).get(scale, [])
    return list(blocks or [])


def grid_runs(sweep: Path, scale: str) -> int:
    """How many runs the ``scale`` blocks of a sweep file launch (:func:`al_bert.grid.blocks_size`)."""
    return blocks_size(sweep_blocks(sweep, scale))


def grid_run_hours(frame: pd.DataFrame, sweep: Path, scale: str = "cpu") -> tuple[float, int]:
    """Estimated run time of a sweep's ``scale`` blocks in hours, and how many of its runs have no
    measured (experiment, strategy) yet.

    Each run (:func:`al_bert.grid.block_runs`) counts two medians. Training + evaluation do not depend
    on the strategy (same trainer, same |L| each iteration), so they take the median over every
    finished run of the experiment (else over all runs): a run slowed by another job on the same cores
    moves it little. Inference + selection take the median of the experiment × strategy's runs, else
    of the strategy on any experiment, else of all runs.
    """
    shared = _phase_seconds(frame, ("train_seconds", "eval_seconds"))
    own = _phase_seconds(frame, ("infer_seconds", "select_seconds"))
    runs = frame.groupby("run_key").agg(
        experiment=("experiment", "first"), strategy=("strategy", "first")
    )
    runs["shared"], runs["own"] = shared, own
    shared_by_experiment = runs.groupby("experiment")["shared"].median().to_dict()
    own_by_pair = runs.groupby(["experiment", "strategy"])["own"].median().to_dict()
    own_by_strategy = runs.groupby("strategy")["own"].median().to_dict()
    total, unmeasured = 0.0, 0
    for block in sweep_blocks(sweep, scale):
        for run in block_runs(block):
            overrides = dict(o.split("=", 1) for o in run if "=" in o)
            experiment = overrides.get("+experiment")
            strategy = overrides.get("strategy", "random")
            seconds = shared_by_experiment.get(experiment, float(runs["shared"].median()))
            if (experiment, strategy) in own_by_pair:
                seconds += own_by_pair[(experiment, strategy)]
            else:
                unmeasured += 1
                seconds += own_by_strategy.get(strategy, float(runs["own"].median()))
            total += seconds
    return total / 3600, unmeasured


def block_text(block: dict[str, Any]) -> str:
    """A sweep block's size in words: ``fairstein_sst2: 5 seed × 3 strategy = 15`` (the grid's lists
    and :func:`al_bert.grid.sweep_size`)."""
    fixed = dict(str(o).split("=", 1) for o in block.get("fixed", []) if "=" in str(o))
    grid = block.get("grid", {})
    factors = " × ".join(f"{len(values)} `{key}`" for key, values in grid.items())
    name = f"`{fixed['+experiment']}`: " if "+experiment" in fixed else ""
    return f"{name}{factors} = {sweep_size(block_sweep(block)):,}"


def _ratio_text(runs: pd.DataFrame) -> str:
    value = runs["imbalance_ratio"].iloc[0]
    return "" if value is None or value != value else f" 1:{int(float(value))}"


def scale_section(frame: pd.DataFrame) -> str:
    """The finished runs per experiment, task, scenario, strategy and weighting, with their seeds and
    median seconds per run."""
    final = final_iteration(frame)
    groups = final.groupby(
        ["experiment", "dataset", "imbalance_ratio", "scenario", "strategy", "weighting"],
        dropna=False,
    )
    cells = []
    for (experiment, dataset, _, scenario, strategy, weighting), runs in groups:
        seconds = runs_seconds(frame[frame["run_key"].isin(runs["run_key"])])
        cells.append(
            [
                str(experiment),
                f"{dataset}{_ratio_text(runs)}",
                str(scenario),
                str(strategy),
                str(weighting),
                ", ".join(str(s) for s in sorted(runs["seed"])),
                f"{seconds:.0f}",
            ]
        )
    models = ", ".join(sorted(set(final["model"])))
    trainers = ", ".join(sorted(set(final["trainer"])))
    return "\n".join(
        [
            f"{len(final)} finished runs; model: {models}; trainers: {trainers}; "
            f"{int(final['iteration'].max())} iterations of {int(final['batch_size'].max())} labels.",
            "",
            markdown_table(
                [
                    "experiment",
                    "task",
                    "scenario",
                    "strategy",
                    "weighting",
                    "seeds",
                    "median s / run",
                ],
                cells,
            ),
        ]
    )


def _slowest_strategy(frame: pd.DataFrame) -> str:
    """The strategy whose median run is slowest, against the median of all runs."""
    per_run = seconds_per_run(frame)
    strategies = frame.groupby("run_key")["strategy"].first()
    by_strategy = per_run.groupby(strategies).median()
    overall = float(per_run.median())
    if by_strategy.empty or not overall > 0:
        return ""
    slowest = str(by_strategy.idxmax())
    return (
        f"The slowest strategy, {slowest}, takes a median of {by_strategy[slowest] / overall:.1f}× "
        "the median run. "
    )


def full_scale_section(frame: pd.DataFrame, sweep: Path, gpu_results: Path = GPU_RESULTS) -> str:
    """The ``cpu:`` grid's run count and estimated hours, the ``paper:`` grid's run count block by
    block, and what is measured of GPU-hours (:func:`gpu_hours_note`)."""
    cpu_runs, paper_blocks = grid_runs(sweep, "cpu"), sweep_blocks(sweep, "paper")
    paper_runs = blocks_size(paper_blocks)
    seconds = runs_seconds(frame)
    hours, unmeasured = grid_run_hours(frame, sweep)
    not_measured = (
        f"; {unmeasured} run{'' if unmeasured == 1 else 's'} not measured yet, counted at their "
        "strategy's median on the other experiments, else the overall median"
        if unmeasured
        else ""
    )
    return (
        f"This grid (`sweeps/{sweep.name}`, `cpu:`) has {cpu_runs} runs, of which "
        f"{final_iteration(frame)['run_key'].nunique()} are finished and reported above; "
        "`make reproduce` runs the missing ones, `JOBS` at a time (default 2), each with the cores ÷ "
        f"`JOBS` torch threads. A run took a median of {seconds / 60:.0f} minutes; summed over the "
        f"grid (each run's training and evaluation at the median of its experiment, its inference "
        f"and selection at the median of its experiment and strategy{not_measured}) that is "
        f"{hours:.1f} hours of run time, about {hours / 2:.1f} hours of wall-clock with two runs at "
        f"once. {_slowest_strategy(frame)}The papers' grids are its `paper:` blocks: "
        f"{paper_runs:,} runs ({'; '.join(block_text(b) for b in paper_blocks)}). Run them on GPUs "
        "with the papers' backbone and a launcher, e.g.\n\n"
        "```bash\n"
        "python sweeps/run_sweep.py reproduce --scale paper --skip-analysis --override model=bert_base "
        "+launcher=slurm hydra.launcher.partition=gpu\n"
        "python -m al_bert.analysis.reproduction --runs reproduction/runs --out docs\n"
        "```\n\n" + gpu_hours_note(gpu_results, paper_runs)
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


def gpu_hours_note(results: Path = GPU_RESULTS, paper_runs: int = 0) -> str:
    """What is measured of GPU-hours, from ``make gpu-check``'s files under ``results``:
    ``summary.json`` (the steps' status, torch) and ``sweep_gpu.json`` (the GPU's name and the
    bench-sweep's wall seconds per run), or that nothing (or only a dry run) is there."""
    summary = _read_json(results / "summary.json")
    if summary is None or summary.get("dry_run"):
        what = "No GPU measurement" if summary is None else "Only a dry run of the GPU check"
        return (
            f"{what} is committed (`{_shown(results)}/summary.json`, written by `make gpu-check` on "
            "a CUDA machine), so GPU-hours are not measured: `scripts/bench_sweep.py` and "
            "`scripts/bench_select.py` report per-run phase times on any device; multiply by the run "
            "count for an estimate (paper 1 Table 2, on a K80 with BERT-base, reports 84–1,106 s of "
            "inference + selection per iteration alone)."
        )
    sweep = _read_json(results / "sweep_gpu.json") or {}
    device = (sweep.get("machine") or {}).get("cuda") or "a GPU whose name it does not record"
    steps = ", ".join(f"{s.get('step')} {s.get('status')}" for s in summary.get("steps", []))
    text = (
        f"The GPU check in `{_shown(results)}/` ran on {device} (torch {summary.get('torch')}; "
        f"steps: {steps or 'none recorded'})."
    )
    measured = sweep.get("sweep") or {}
    if not measured.get("strategies") or "shared_wall_seconds" not in measured:
        return text + (
            " It holds no bench-sweep (`sweep_gpu.json`), so GPU seconds per run are not measured."
        )
    per_run = float(measured["shared_wall_seconds"]) / int(measured["strategies"])
    settings = ", ".join((sweep.get("config") or {}).get("overrides", []))
    return text + (
        f" Its bench-sweep took {per_run:.0f} s per run ({settings}): {paper_runs:,} runs of the "
        f"`paper:` grid at that rate are {paper_runs * per_run / 3600:.1f} GPU-hours, at those "
        "settings, not the papers' (BERT-base, their pool sizes)."
    )
