"""What a person sees while al-bert runs: a quiet console with progress, one line per iteration.

Framework chatter (Lightning's banners and tips, transformers' load reports and bars, faiss' loader) is
silenced at its source unless ``verbose=true``. On a terminal, :class:`RunConsole` shows one live line
per run (iteration i/T, phase, elapsed, ETA; drawn by rich); when stdout is not a terminal (CI, SLURM
logs) it prints plain lines only; :func:`say` writes every line whole, whatever else writes to the stream.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import time
import warnings
from typing import Any, TextIO

import pandas as pd

log = logging.getLogger("al_bert")

TABLE_COLUMNS = (
    "iteration",
    "train_size",
    "positives_selected",
    "accuracy",
    "f1",
    "macro_f1",
    "balanced_accuracy",
    "roc_auc",
    "positives_ratio",
    "train_seconds",
    "select_seconds",
)
# The metrics of the one line printed per finished iteration.
LINE_METRICS = (
    ("f1", "F1"),
    ("macro_f1", "macro-F1"),
    ("balanced_accuracy", "bal.acc"),
    ("roc_auc", "AUC"),
)


def say(text: str, stream: TextIO | None = None) -> None:
    """Print ``text`` so that each of its lines reaches the terminal or log whole, whichever process
    writes it.

    ``print`` issues the text and its newline as separate writes when the stream is unbuffered
    (``PYTHONUNBUFFERED``, ``python -u``, SLURM and joblib workers), so two jobs sharing one stdout could
    print ``[job 1/2] finished[job 2/2] finished``. Here the stream's buffer is flushed and the lines
    go out in single ``os.write`` calls: one call is atomic on a pipe up to ``PIPE_BUF`` bytes (4 KiB on
    Linux) and on a file opened for appending, so a block that fits goes out as one write (a table stays
    together) and a longer one goes out line by line. Streams without a file descriptor (``StringIO``,
    captured output) get an ordinary write of the whole text."""
    stream = stream if stream is not None else sys.stdout
    payload = (text if text.endswith("\n") else text + "\n").encode("utf-8", "replace")
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        stream.write(payload.decode("utf-8"))
        stream.flush()
        return
    stream.flush()
    chunks = [payload] if len(payload) <= select.PIPE_BUF else payload.splitlines(keepends=True)
    for chunk in chunks:
        view = memoryview(chunk)
        while view:  # a short write (a signal, a full pipe) continues where it stopped
            view = view[os.write(fd, view) :]


def quiet_frameworks() -> None:
    """Silence framework chatter at its source: Lightning's info banners and tips (device, precision,
    "max_epochs reached"), transformers' load reports and progress bars, and warnings known to be harmless
    here. Warnings and errors still show; ``verbose=true`` skips this."""
    from transformers.utils import logging as hf_logging

    for name in ("lightning.pytorch", "lightning.fabric", "lightning", "faiss.loader"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # submitit logs to the job's log through its own handler: not a second time through Hydra's.
    logging.getLogger("submitit").propagate = False
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")


def format_table(records: list[dict[str, Any]]) -> str:
    """The per-iteration table printed at the end of a run (``print_table=true``)."""
    if not records:
        return "(no iterations)"
    frame = pd.DataFrame(records)
    columns = [c for c in TABLE_COLUMNS if c in frame.columns]
    return frame[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def iteration_line(record: dict[str, Any], iterations: int) -> str:
    """One line per finished iteration: labels spent, positives found, key test metrics, seconds."""
    parts = [
        f"it {record['iteration']}/{iterations}",
        f"L={record.get('train_size', 0)}",
        # positives found; on a multi-class task, examples of the pool's rarest class ("ABBR=3")
        f"{record.get('rarest_class', 'pos')}={record.get('positives_selected', 0)}",
    ]
    for key, label in LINE_METRICS:
        value = record.get(key)
        if isinstance(value, (int, float)):
            parts.append(f"{label} {value:.3f}")
    seconds = sum(
        float(record.get(k) or 0.0)
        for k in ("train_seconds", "infer_seconds", "select_seconds", "eval_seconds")
    )
    parts.append(f"{seconds:.0f} s")
    return "  ".join(parts)


class RunConsole:
    """Progress of one run: a :class:`~al_bert.loop.Progress` and a :class:`~al_bert.loop.Tracker`.

    ``live`` (default: stdout is a terminal) draws one transient rich status line with the iteration,
    the phase, the elapsed time and an ETA from the mean duration of the finished iterations.
    """

    def __init__(
        self, title: str, iterations: int, *, stream: TextIO | None = None, live: bool | None = None
    ) -> None:
        self.stream = stream or sys.stdout
        self.iterations = iterations
        self.live = self.stream.isatty() if live is None else live
        self.started = time.perf_counter()
        self.finished_at: list[float] = []
        self.first_iteration: int | None = None
        self._status: Any = None
        say(title, self.stream)

    def phase(self, iteration: int, name: str) -> None:
        if self.first_iteration is None:
            self.first_iteration = iteration
        if not self.live:
            return
        text = f"it {iteration}/{self.iterations} · {name} · {_clock(self.elapsed())}"
        eta = self.eta(iteration)
        if eta is not None:
            text += f" · ETA {_clock(eta)}"
        if self._status is None:
            from rich.console import Console

            self._status = Console(file=self.stream).status(text)
            self._status.start()
        else:
            self._status.update(text)

    def log_iteration(self, record: dict[str, Any]) -> None:
        self.finished_at.append(time.perf_counter())
        self._stop()
        say("  " + iteration_line(record, self.iterations), self.stream)

    def finish(self, records: list[dict[str, Any]], status: str) -> None:
        self._stop()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def eta(self, iteration: int) -> float | None:
        """Seconds left: the mean duration of this run's finished iterations × those still to run."""
        if not self.finished_at:
            return None
        mean = (self.finished_at[-1] - self.started) / len(self.finished_at)
        return max(
            0.0,
            mean * (self.iterations - iteration + 1) - (time.perf_counter() - self.finished_at[-1]),
        )

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
