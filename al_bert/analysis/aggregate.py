"""Load the results of any set of runs into one tidy pandas table (one row per run × iteration).

Sources (``al_bert.tracking.store``): a run directory ``<root>/runs/<key>/`` holds ``results.jsonl`` (one
record per finished iteration) and ``run.json`` (status and resolved config). :func:`load_results`
accepts run directories, ``results.jsonl`` files, or any folder above them (searched recursively), and
keeps only ``finished`` runs unless told otherwise. Columns the records do not carry but the tables need
(the positive class of a paper-2 variant, the limits, k) are read from the config in ``run.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from al_bert.tracking.runkey import ITERATION0_KEYS, sub_key
from al_bert.tracking.store import ResultsStore

RESULTS_FILE = "results.jsonl"
RUN_FILE = "run.json"

# Columns taken from the resolved config in run.json: column -> dotted config path.
CONFIG_COLUMNS: dict[str, str] = {
    "positive_class": "dataset.positive_class",
    "batch_size": "al.batch_size",
    "iterations": "al.iterations",
    "limit_train": "limit.train",
    "limit_eval": "limit.eval",
    "split": "dataset.split",
    "seed_builder": "seed_builder._target_",
}

# What must be equal for two runs to have selected their first batch from the same M0 and U (paper 1 §5):
# the iteration-0 key (dataset, data, scenario, seed builder, seed, model, trainer, limits) and the batch
# size; only the strategy (and weighting) differ.
SHARED_START = ("iteration0_key", "batch_size")


def _dig(config: dict[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def find_results_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every ``results.jsonl`` named by, or found below, ``paths`` (sorted, without repeats)."""
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.add(path.resolve())
        elif (path / RESULTS_FILE).is_file():
            found.add((path / RESULTS_FILE).resolve())
        elif path.is_dir():
            found.update(p.resolve() for p in path.rglob(RESULTS_FILE))
        else:
            raise FileNotFoundError(f"{path}: no such run directory, results file or folder")
    return sorted(found)


def read_records(results_file: Path) -> list[dict[str, Any]]:
    """The records of one results file, read by the results store (a torn last line is reported and
    left out; a corrupt earlier line raises)."""
    return ResultsStore(results_file.parent).records()


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """Status and the config-derived columns of one run (status ``unknown`` without run.json)."""
    run_file = run_dir / RUN_FILE
    if not run_file.is_file():
        return {"status": "unknown"}
    with open(run_file, encoding="utf-8") as handle:
        info = json.load(handle)
    config = info.get("config") or {}
    out: dict[str, Any] = {"status": info.get("status", "unknown")}
    if config:  # records written before the key was recorded get it from the run's config
        out["iteration0_key"] = sub_key(config, ITERATION0_KEYS)
    for column, dotted in CONFIG_COLUMNS.items():
        out[column] = _dig(config, dotted)
    return out


def load_results(
    paths: Iterable[str | Path],
    statuses: Sequence[str] | None = ("finished",),
) -> pd.DataFrame:
    """A tidy DataFrame of every iteration record of the runs under ``paths``.

    ``statuses``: keep runs whose ``run.json`` status is in it (default: finished runs only);
    ``None`` keeps every run, including running, failed and those without ``run.json``.
    Adds ``status``, ``run_dir``, the :data:`CONFIG_COLUMNS` and ``variant`` (dataset plus its
    positive class: paper 2's Binary-Imbalanced variant).
    """
    rows: list[dict[str, Any]] = []
    for results_file in find_results_files(paths):
        run_dir = results_file.parent
        info = read_run_info(run_dir)
        if statuses is not None and info["status"] not in statuses:
            continue
        for record in read_records(results_file):
            row = dict(record)
            for column, value in info.items():
                row.setdefault(column, value)
            row["status"] = info["status"]
            row["run_dir"] = str(run_dir)
            rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    for column in CONFIG_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame["variant"] = [
        f"{d}:{p}" if p is not None and p == p else str(d)
        for d, p in zip(frame["dataset"], frame["positive_class"])
    ]
    frame = frame.drop_duplicates(subset=["run_key", "iteration"], keep="last")
    return frame.sort_values(["run_key", "iteration"]).reset_index(drop=True)


def final_iteration(frame: pd.DataFrame) -> pd.DataFrame:
    """The last record of every run (paper 2 reports the model after the last AL iteration)."""
    if frame.empty:
        return frame
    last = frame.groupby("run_key")["iteration"].transform("max")
    return frame[frame["iteration"] == last].reset_index(drop=True)
