"""A multirun's running count: each job leaves its outcome in its Hydra job directory; the launching
process counts them (:class:`SweepCounter`, the Hydra callback ``conf/config.yaml`` registers)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from al_bert.console import say
from al_bert.grid import sweep_size
from al_bert.tracking.store import write_json_atomic

JOB_STATUS = "job_status.json"


def write_job_status(job_dir: Path, number: int, outcome: str, reason: str | None) -> None:
    """Leave a sweep job's outcome in its Hydra job directory (read by :class:`SweepCounter`)."""
    write_json_atomic(job_dir / JOB_STATUS, {"job": number, "status": outcome, "reason": reason})


class SweepCounter(Callback):
    """Hydra callback: a running count of a multirun's jobs (finished / skipped / failed of N, and
    busy: held by another live process, once there is one).

    The task function returns its run's status (``finished``, ``skipped``, ``busy`` or ``failed``);
    N is the product of the comma-separated sweep overrides (the basic sweeper's grid). Under a
    launcher that runs jobs in other processes (joblib workers, SLURM jobs on other hosts) each job
    holds its own copy of this callback, so there a job prints its own number and status instead of a
    count it cannot know, and when the sweep ends the launching process counts the outcomes the jobs
    left in their directories (``job_status.json``) and names every job that failed, with its reason.
    """

    def __init__(self) -> None:
        self.total = 0
        self.sweep_pid = 0
        self.counts: dict[str, int] = {"finished": 0, "skipped": 0, "busy": 0, "failed": 0}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.counts = dict.fromkeys(self.counts, 0)
        self.total = sweep_size(list(config.hydra.overrides.task))
        self.sweep_pid = os.getpid()

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if not self.total:
            return
        status = getattr(job_return, "_return_value", None)
        if status not in self.counts:
            status = "failed"
        if os.getpid() != self.sweep_pid:
            say(f"[job {int(config.hydra.job.num) + 1}/{self.total}] {status}")
            return
        self.counts[status] += 1
        say(f"[{sum(self.counts.values())}/{self.total}] {self._summary()}")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if not self.total or any(self.counts.values()):
            return  # the jobs ran in this process and were counted as they ended
        outcomes: dict[int, dict[str, Any]] = {}
        for path in Path(str(config.hydra.sweep.dir)).rglob(JOB_STATUS):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                outcome = json.loads(path.read_text(encoding="utf-8"))
                outcomes[int(outcome["job"])] = outcome
        failures: list[str] = []
        missing = {"status": "failed", "reason": "it left no outcome (killed, or never ran)"}
        for number in range(self.total):
            outcome = outcomes.get(number, missing)
            status = str(outcome.get("status"))
            status = status if status in self.counts else "failed"
            self.counts[status] += 1
            if status == "failed":
                failures.append(f"  job {number + 1}: {outcome.get('reason')}")
        say("\n".join([f"[{sum(self.counts.values())}/{self.total}] {self._summary()}", *failures]))

    def _summary(self) -> str:
        return " · ".join(f"{n} {k}" for k, n in self.counts.items() if n or k != "busy")
