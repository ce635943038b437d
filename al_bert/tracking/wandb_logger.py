"""Weights & Biases logging: one W&B run per AL run, every iteration logged against its train size.

Offline by default (``logger.mode=offline``; ``wandb sync <dir>`` uploads later); ``logger.mode=online``
with a W&B account. Runs are grouped by experiment/dataset/scenario and tagged with strategy and
weighting, so W&B charts compare strategies per dataset and scenario without hand configuration.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CURVE_COLUMNS = (
    "iteration",
    "train_size",
    "positives_labelled",
    "positives_selected",
    "accuracy",
    "f1",
    "macro_f1",
    "precision",
    "recall",
    "balanced_accuracy",
    "roc_auc",
    "positives_ratio",
)


class NullTracker:
    """``logger=none``."""

    def start(self, **_: Any) -> None:
        return None

    def log_iteration(self, record: dict[str, Any]) -> None:
        return None

    def finish(self, records: list[dict[str, Any]], status: str) -> None:
        return None


class WandbTracker:
    """``logger=wandb``."""

    def __init__(
        self,
        project: str = "al-bert",
        entity: str | None = None,
        mode: str = "offline",
        dir: str | None = None,
        group: str | None = None,
        tags: list[str] | None = None,
    ) -> None:
        if mode not in ("offline", "online", "disabled"):
            raise ValueError(f"logger.mode={mode!r}: choose offline, online or disabled")
        self.project, self.entity, self.mode = project, entity, mode
        self.dir, self.group, self.tags = dir, group, list(tags or [])
        self.run: Any = None

    def start(
        self, *, run_id: str, name: str, config: dict[str, Any], group: str, tags: list[str]
    ) -> None:
        """Open (or resume) the W&B run ``run_id`` (the run key), shown as ``name``."""
        import wandb

        if self.dir:
            Path(self.dir).mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=self.project,
            entity=self.entity,
            mode=self.mode,  # type: ignore[arg-type]
            dir=self.dir,
            name=name,
            id=run_id,
            resume="allow",
            group=self.group or group,
            tags=sorted(set(self.tags + tags)),
            config=config,
            reinit="finish_previous",
            settings=wandb.Settings(silent=True, console="off"),
        )
        self.run.define_metric("train_size")
        self.run.define_metric("*", step_metric="train_size")

    def log_iteration(self, record: dict[str, Any]) -> None:
        if self.run is None:
            return
        numeric = {
            k: v
            for k, v in record.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        }
        self.run.log(numeric)

    def finish(self, records: list[dict[str, Any]], status: str) -> None:
        if self.run is None:
            return
        import wandb

        if records:
            # the task's own columns: binary runs have no macro_f1, multi-class runs no f1
            columns = [c for c in CURVE_COLUMNS if any(c in r for r in records)]
            table = wandb.Table(columns=list[str | int](columns))
            for r in records:
                table.add_data(*[r.get(c) for c in columns])
            self.run.log({"learning_curve": table})
            final = records[-1]
            for key in columns:
                if final.get(key) is not None:
                    self.run.summary[f"final/{key}"] = final[key]
        self.run.summary["status"] = status
        self.run.finish(exit_code=0 if status == "finished" else 1)
        self.run = None


def run_name(info: dict[str, Any]) -> str:
    """A name readable at a glance in the W&B run list: ``<strategy>-<weighting>-s<seed>``."""
    return f"{info['strategy']}-{info['weighting']}-s{info['seed']}"


def make_tracker(
    node: Any, info: dict[str, Any], key: str, config: dict[str, Any]
) -> NullTracker | WandbTracker:
    """The ``logger`` config group's tracker, started for one run (W&B id = the run key)."""
    from hydra.utils import instantiate

    tracker = instantiate(node) if node else NullTracker()
    if isinstance(tracker, WandbTracker):
        group = f"{info['experiment']}/{info['dataset']}/{info['scenario']}"
        tags = [f"{k}={info[k]}" for k in ("dataset", "scenario", "strategy", "weighting", "model")]
        tracker.start(run_id=key, name=run_name(info), config=config, group=group, tags=tags)
    return tracker
