"""The append-only results store of one run: the source of truth for every table and figure.

``results.jsonl`` — one JSON record per (run, iteration), appended with flush + fsync, never rewritten.
``state.json``   — what resuming needs after the last finished iteration (labelled set, RNG), written
                   atomically (temporary file + ``os.replace``).
``run.json``     — the run's key, config and status (``running`` / ``finished`` / ``failed`` + reason).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

RESULTS_FILE = "results.jsonl"
STATE_FILE = "state.json"
RUN_FILE = "run.json"


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON so that a reader (or a crash) sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(_jsonable(payload), handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


class ResultsStore:
    """Results, resume state and status of one run directory."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.results_path = self.run_dir / RESULTS_FILE
        self.state_path = self.run_dir / STATE_FILE
        self.run_path = self.run_dir / RUN_FILE

    def records(self) -> list[dict[str, Any]]:
        """Finished iteration records; a torn last line (killed mid-write) is ignored."""
        if not self.results_path.exists():
            return []
        out = []
        with open(self.results_path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    break
        return out

    def append(self, record: dict[str, Any]) -> None:
        done = {r["iteration"] for r in self.records()}
        if record["iteration"] in done:
            raise AssertionError(
                f"iteration {record['iteration']} is already in {self.results_path}"
            )
        self._drop_torn_tail()
        with open(self.results_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(_jsonable(record), sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _drop_torn_tail(self) -> None:
        if not self.results_path.exists():
            return
        data = self.results_path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data[: data.rfind(b"\n") + 1]
            with open(self.results_path, "wb") as handle:
                handle.write(keep)
                handle.flush()
                os.fsync(handle.fileno())

    def save_state(self, state: dict[str, Any]) -> None:
        write_json_atomic(self.state_path, state)

    def load_state(self) -> dict[str, Any] | None:
        return read_json(self.state_path) if self.state_path.exists() else None

    def status(self) -> dict[str, Any] | None:
        return read_json(self.run_path) if self.run_path.exists() else None

    def set_status(self, status: str, **extra: Any) -> None:
        current = self.status() or {}
        current.update(extra)
        current["status"] = status
        write_json_atomic(self.run_path, current)
