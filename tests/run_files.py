"""One writer for synthetic run directories, shaped like the results store writes them
(``runs/<key>/results.jsonl`` + ``run.json``), shared by the analysis, compare and reproduction tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_run_files(
    root: Path,
    info: dict[str, Any],
    per_iteration: list[dict[str, Any]],
    *,
    config: dict[str, Any],
    common: dict[str, Any] | None = None,
    status: str = "finished",
    reason: str | None = None,
) -> Path:
    """Write one run keyed by ``info``'s values: record ``i`` is ``common | info | per_iteration[i]`` on top
    of the fields every record carries (iteration, train size, per-phase seconds; none at iteration 0)."""
    key = "-".join(str(value) for value in info.values()).replace("/", "_")
    run_dir = root / "runs" / key
    run_dir.mkdir(parents=True)
    with open(run_dir / "results.jsonl", "w") as handle:
        for iteration, values in enumerate(per_iteration):
            record = {
                "run_key": key,
                "model": "packaged:minilm",
                "trainer": "fast",
                "iteration": iteration,
                "train_size": 100 + 50 * iteration,
                "infer_seconds": None if iteration == 0 else 1.0,
                "select_seconds": None if iteration == 0 else 0.5,
                **(common or {}),
                **info,
                **values,
            }
            handle.write(json.dumps(record) + "\n")
    run = {"status": status, "config": config} | ({"reason": reason} if reason else {})
    (run_dir / "run.json").write_text(json.dumps(run))
    return run_dir
