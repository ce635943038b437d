"""The append-only results store of one run: the source of truth for every table and figure.

``results.jsonl`` — one JSON record per (run, iteration), appended with flush + fsync, never rewritten.
``state.json``   — what resuming needs after the last finished iteration (labelled set, RNG), written
                   atomically (temporary file + ``os.replace``).
``run.json``     — the run's key, config and status (``running`` / ``finished`` / ``failed`` + reason).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from al_bert.errors import AlBertError, CorruptStoreError, RunBusyError

log = logging.getLogger(__name__)

RESULTS_FILE = "results.jsonl"
STATE_FILE = "state.json"
RUN_FILE = "run.json"
LOCK_FILE = ".run.lock"


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
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(_jsonable(payload), handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk or a crash leaves no partial temp file


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporary files a killed writer left in ``folder`` (``.<name>.<pid>.tmp…``: an atomic
    write that SIGKILL stopped before its ``os.replace``). Call only while holding the folder's lock,
    when no live process can be writing one."""
    for leftover in folder.glob(".*.tmp*"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def read_json(path: Path) -> Any:
    """A JSON file; one that does not parse raises :class:`CorruptStoreError` naming it."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise CorruptStoreError(f"{path} is corrupt ({error.msg} at byte {error.pos})") from None


class ResultsStore:
    """Results, resume state and status of one run directory."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.results_path = self.run_dir / RESULTS_FILE
        self.state_path = self.run_dir / STATE_FILE
        self.run_path = self.run_dir / RUN_FILE

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold this run for the life of the block; another live process gets :class:`RunBusyError`.

        An OS file lock (``flock``): it is released on any exit, including ``kill -9``, so a dead
        holder never leaves a stale lock behind."""
        lock = FileLock(str(self.run_dir / LOCK_FILE), is_singleton=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            holder = (self.status() or {}).get("pid", "?") if self.run_path.exists() else "?"
            raise RunBusyError(
                f"run {self.run_dir.name} is being run by another process (pid {holder}): skipped; "
                "re-run the command once it ends to resume or reuse it"
            ) from None
        try:
            remove_stale_temporaries(self.run_dir)
            yield
        finally:
            lock.release()

    def records(self) -> list[dict[str, Any]]:
        """Finished iteration records. A torn last line (a run killed mid-write) is not a record: it is
        reported and left out (the next append removes it and recomputes that iteration); a
        malformed line before the last one raises :class:`CorruptStoreError`."""
        if not self.results_path.exists():
            return []
        lines = self.results_path.read_text(encoding="utf-8").splitlines()
        out = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                if number < len(lines):
                    raise CorruptStoreError(
                        f"{self.results_path} line {number} is not a JSON record; the lines after "
                        "it cannot be trusted: move the file away to rerun the run"
                    ) from None
                log.warning(
                    "%s: the last line is torn (the run was killed while writing it); its iteration "
                    "will be computed again",
                    self.results_path,
                )
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
        """The resume state, or None when missing or corrupt (the loop then rebuilds it from
        ``results.jsonl``, the source of truth)."""
        if not self.state_path.exists():
            return None
        try:
            state: dict[str, Any] = read_json(self.state_path)
        except CorruptStoreError as error:
            log.warning("%s; rebuilding the resume state from %s", error, RESULTS_FILE)
            return None
        return state

    def status(self) -> dict[str, Any] | None:
        """``run.json``, or None when missing; a corrupt one is reported and treated as missing (it
        holds no results: they are in ``results.jsonl``)."""
        if not self.run_path.exists():
            return None
        try:
            status: dict[str, Any] = read_json(self.run_path)
        except CorruptStoreError as error:
            log.warning("%s; it is rewritten from this run's config", error)
            return None
        return status

    def set_status(self, status: str, **extra: Any) -> None:
        current = self.status() or {}
        current.update(extra)
        current["status"] = status
        write_json_atomic(self.run_path, current)

    def environments(self) -> list[dict[str, Any]]:
        """The environment of every launch that computed iterations of this run (oldest first; empty
        for a new run or one recorded before environments were): :mod:`al_bert.tracking.environment`."""
        return list((self.status() or {}).get("environments") or [])

    def add_environment(self, environment: dict[str, Any], **extra: Any) -> None:
        """Record the environment of this launch, which computes iterations from the next missing one."""
        entry = {"from_iteration": len(self.records()), **environment, **extra}
        current = self.status() or {}
        current["environments"] = [*(current.get("environments") or []), entry]
        # Launches that were SLURM requeues of a job (SLURM_RESTART_COUNT > 0): time limit, preemption,
        # `scontrol requeue`.
        current["requeues"] = sum(
            int((e.get("slurm") or {}).get("restart_count") or 0) > 0
            for e in current["environments"]
        )
        write_json_atomic(self.run_path, current)

    def is_finished(self) -> bool:
        return (self.status() or {}).get("status") == "finished"

    def fail(self, error: BaseException) -> tuple[str, bool]:
        """Mark the run failed with a one-line reason; returns (reason, whether the user can act on it:
        a config or data problem, out of memory, a full disk). Finished iterations are never touched."""
        import torch

        hint = ""
        if isinstance(error, torch.OutOfMemoryError):
            hint = "out of memory: lower trainer.batch_size, trainer.eval_batch_size or trainer.max_length"
        elif isinstance(error, OSError) and error.errno == errno.ENOSPC:
            hint = (
                f"disk full: free space under {self.run_dir.parent} (finished iterations are kept; "
                "re-run to resume)"
            )
        reason = " ".join(f"{type(error).__name__}: {hint or error}".split())
        with contextlib.suppress(OSError):  # on a full disk the reason still reaches the console
            self.set_status("failed", reason=reason)
        return reason, bool(hint) or isinstance(error, AlBertError)


def link_job_dir(run_dir: Path) -> None:
    """Leave a pointer from Hydra's job directory to the keyed results directory (``results_dir.txt``)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        job_dir = Path(HydraConfig.get().runtime.output_dir)
        (job_dir / "results_dir.txt").write_text(str(run_dir.resolve()) + "\n")
