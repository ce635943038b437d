"""Hydra callback: when a ``-m`` sweep ends, compare the runs it made (conf/config.yaml registers it).

:class:`CompareOnMultirunEnd` finds the runs of the sweep that just ended under ``hydra.sweep.dir``
(each job directory holds ``results_dir.txt``, the path of its run's results; a job without it, such as
a run that had already finished and was skipped, is found from its ``.hydra/config.yaml`` and the run
key), builds :func:`al_bert.analysis.compare.compare_table`, prints it, writes ``compare.md`` and
``compare.csv`` into the sweep directory and, when the sweep logs to W&B (``logger=wandb``), logs the
table once to W&B. It never fails a sweep: unfinished or missing runs are skipped with a note, any
error becomes one printed line, and with fewer than two finished runs it prints one line.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from al_bert.console import say

POINTER = "results_dir.txt"
JOB_CONFIG = Path(".hydra") / "config.yaml"
PREFIX = "al-bert compare:"


def _natural(path: Path) -> list[Any]:
    """Sort key: job directories 0, 1, 2, …, 10 in numeric order."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Every Hydra job directory under ``sweep_dir``: those with ``results_dir.txt`` or ``.hydra/``."""
    found = {p.parent for p in sweep_dir.rglob(POINTER)}
    found |= {p.parent for p in sweep_dir.rglob(JOB_CONFIG.parent.name) if p.is_dir()}
    return sorted(found, key=_natural)


def run_dir_from_job_config(job_dir: Path) -> Path | None:
    """The results directory a job's saved config names (the run's :class:`RunIdentity`), if it
    exists; None when the job has no config or it cannot be resolved outside the job."""
    config_file = job_dir / JOB_CONFIG
    if not config_file.is_file():
        return None
    from al_bert.tracking.runkey import RunIdentity

    try:
        cfg = OmegaConf.load(config_file)
        assert isinstance(cfg, DictConfig)
        run_dir = RunIdentity.of(cfg).results_dir
    except Exception:  # an interpolation only Hydra's job context resolves, a partial file, …
        return None
    return run_dir if run_dir.is_dir() else None


def sweep_runs(sweep_dir: Path) -> tuple[list[Path], list[str]]:
    """The results directories of the sweep's jobs (in job order, without repeats), and a note for
    each job whose run cannot be found."""
    runs: list[Path] = []
    notes: list[str] = []
    for job in job_dirs(sweep_dir):
        pointer = job / POINTER
        run_dir: Path | None = None
        if pointer.is_file():
            text = pointer.read_text(encoding="utf-8").strip()
            run_dir = Path(text) if text else None
        if run_dir is None:
            run_dir = run_dir_from_job_config(job)
        if run_dir is None:
            notes.append(
                f"job {job.relative_to(sweep_dir)}: no run found (it failed before starting)"
            )
            continue
        runs.append(run_dir)
    return list(dict.fromkeys(runs)), notes


def uses_wandb(config: DictConfig) -> bool:
    """Whether the sweep's logger is the W&B tracker (``logger._target_`` ends in WandbTracker)."""
    target = OmegaConf.select(config, "logger._target_", default=None)
    return str(target or "").endswith("WandbTracker")


class CompareOnMultirunEnd(Callback):
    """Print and write the comparison of a sweep's runs when the sweep ends.

    ``metric``, ``baseline``: as ``python -m al_bert.analysis compare``; ``figures``: also write
    ``compare_curves.png`` and ``compare_compute.png``; ``wandb``: log to W&B (default: when the
    sweep's logger is W&B). Set with ``hydra.callbacks.compare.metric=balanced_accuracy`` etc.
    """

    def __init__(
        self,
        metric: str = "auto",
        baseline: str = "random",
        figures: bool = False,
        wandb: bool | None = None,
        name: str = "compare",
    ) -> None:
        self.metric, self.baseline, self.figures = metric, baseline, figures
        self.wandb, self.name = wandb, name

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            self.compare(config)
        except Exception as error:  # never fail a sweep that has already run
            say(f"{PREFIX} not made ({type(error).__name__}: {error})", sys.stderr)

    def compare(self, config: DictConfig) -> Path | None:
        """Build, print and write the comparison; the path of ``compare.md``, or None."""
        from al_bert.analysis.compare import compare_table, load_runs

        sweep_dir = Path(str(OmegaConf.select(config, "hydra.sweep.dir")))
        if not sweep_dir.is_dir():
            say(f"{PREFIX} no sweep directory {sweep_dir}")
            return None
        run_dirs, notes = sweep_runs(sweep_dir)
        frame, skipped = load_runs(run_dirs)
        notes += skipped
        finished = 0 if frame.empty else int(frame["run_key"].nunique())
        if finished < 2:
            left = f" ({len(notes)} skipped: see run.json)" if notes else ""
            say(f"{PREFIX} {finished} finished run(s) in {sweep_dir}, nothing to compare{left}")
            return None
        table = compare_table(
            frame,
            metric=self.metric,
            baseline=self.baseline,
            name=self.name,
            extra_notes=[f"Skipped: {note}" for note in notes],
        )
        paths = table.write(sweep_dir)
        images: dict[str, Path] = {}
        if self.figures:
            try:
                from al_bert.analysis.compare import write_figures

                images = write_figures(frame, table, sweep_dir, self.baseline)
            except Exception as error:
                say(f"{PREFIX} figures not made ({type(error).__name__}: {error})")
        say(f"\n# {table.title}\n\n{table.markdown}\n")
        for note in table.data.attrs.get("notes", []):
            say(f"{PREFIX} {note}")
        for note in notes:
            say(f"{PREFIX} skipped {note}")
        paths += self._stopping(config, frame, table.data.attrs.get("metric", "f1"), sweep_dir)
        say(f"{PREFIX} wrote {', '.join(str(p) for p in [*paths, *images.values()])}")
        if self.wandb if self.wandb is not None else uses_wandb(config):
            log_to_wandb(table, images, config, sweep_dir)
        return paths[0]

    def _stopping(self, config: DictConfig, frame: Any, metric: str, sweep_dir: Path) -> list[Path]:
        """Print and write when each configuration could have stopped (the sweep's ``stopping``
        criteria on its records); nothing when it has none. A failure is one printed line."""
        try:
            from hydra.utils import instantiate

            from al_bert.analysis.stopping import stopping_table

            nodes = OmegaConf.select(config, "stopping.criteria", default=None) or []
            criteria = [instantiate(node) for node in nodes]
            if not criteria:
                return []
            table = stopping_table(frame, criteria, metric)
            say(f"\n# {table.title}\n\n{table.markdown}\n")
            for note in table.notes:
                say(f"{PREFIX} {note}")
            return table.write(sweep_dir)
        except Exception as error:
            say(f"{PREFIX} stopping criteria not compared ({type(error).__name__}: {error})")
            return []


def log_to_wandb(table: Any, images: dict[str, Path], config: DictConfig, sweep_dir: Path) -> None:
    """Log the comparison once, as one W&B table (and the figures), in a run of job type ``compare``
    with the sweep logger's project, entity, mode and directory. A failure is one printed line."""
    try:
        import wandb

        from al_bert.analysis.compare import display_rows

        def setting(key: str, default: Any) -> Any:
            value = OmegaConf.select(config, f"logger.{key}", default=None)
            return default if value is None else value

        root = Path(str(setting("dir", "outputs")))
        root.mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project=str(setting("project", "al-bert")),
            entity=setting("entity", None),
            mode=str(setting("mode", "offline")),  # type: ignore[arg-type]
            dir=str(root),
            job_type="compare",
            name=f"compare-{sweep_dir.parent.name}-{sweep_dir.name}",
            config={"sweep_dir": str(sweep_dir), "title": table.title},
            reinit="finish_previous",
            settings=wandb.Settings(silent=True, console="off"),
        )
        header, rows = display_rows(table.data)
        columns: list[str | int] = [*header]
        data: list[Iterable[Any]] = [*rows]
        logged: dict[str, Any] = {table.name: wandb.Table(columns=columns, data=data)}
        for name, path in images.items():
            logged[name] = wandb.Image(str(path))
        run.log(logged)
        run.finish()
        say(f"{PREFIX} logged to W&B ({setting('mode', 'offline')}): {run.dir}")
    except Exception as error:
        say(f"{PREFIX} not logged to W&B ({type(error).__name__}: {error})", sys.stderr)


__all__ = ["CompareOnMultirunEnd", "job_dirs", "sweep_runs"]
