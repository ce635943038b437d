"""The composition root: compose → instantiate and validate every group → run the loop → record status."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from al_bert.config_groups import check_settings, instantiate_group, settings_object
from al_bert.console import RunConsole, format_table, quiet_frameworks, say
from al_bert.data.catalog import declares_multiclass
from al_bert.data.fetch import FetchSettings
from al_bert.devices import configure_threads
from al_bert.errors import AlBertError, ConfigError, RunBusyError, RunFailure, one_line
from al_bert.learner import Learner
from al_bert.loop import ActiveLearningLoop, ALConfig
from al_bert.model.backbones import BackboneConfig
from al_bert.model.encoder_learner import EncoderLearner
from al_bert.model.training import TrainingConfig
from al_bert.seeding.builders import SeedBuilder, check_scenario, query_scenario_is_binary
from al_bert.strategies.base import Strategy
from al_bert.sweep_counter import write_job_status
from al_bert.tracking.environment import check_resume, describe_environment, numerics_tag
from al_bert.tracking.iteration0 import Iteration0Cache, SharedIteration0
from al_bert.tracking.runkey import RunIdentity
from al_bert.tracking.store import ResultsStore, link_job_dir
from al_bert.tracking.wandb_logger import make_tracker
from al_bert.weighting.base import Weighting

log = logging.getLogger("al_bert")
GROUPS = {"strategy": Strategy, "weighting": Weighting, "seed_builder": SeedBuilder}


def build_components(cfg: DictConfig) -> dict[str, Any]:
    """Check the run-level values and instantiate and validate every config group; a typo or bad value
    fails here, before any data is read."""
    check_settings(cfg)
    parts = {group: instantiate_group(cfg[group], group) for group in GROUPS}
    for group, kind in GROUPS.items():
        if not isinstance(parts[group], kind):
            raise ConfigError(
                f"{group} config builds {type(parts[group]).__name__}, not a {kind.__name__}"
            )
    check_scenario(parts["seed_builder"], str(cfg.scenario.name))
    if parts["seed_builder"].scenario == "imbalanced_practical" and declares_multiclass(
        cfg.dataset
    ):
        raise ConfigError(query_scenario_is_binary(f"dataset={cfg.dataset.get('name')}"))
    parts["training"] = instantiate_group(cfg.trainer, "trainer")
    parts["backbone"] = settings_object(BackboneConfig, cfg.model, "model")
    parts["al"] = settings_object(ALConfig, cfg.al, "al")
    parts["analyses"] = [instantiate_group(a, "analyses") for a in cfg.get("analyses", [])]
    stopping = cfg.get("stopping") or {}
    parts["stopping"] = [instantiate_group(c, "stopping") for c in stopping.get("criteria") or []]
    return parts


def run_experiment(cfg: DictConfig, identity: RunIdentity | None = None) -> list[dict[str, Any]]:
    """Run (or resume, or skip when finished) the experiment that ``cfg`` describes (``identity``: its
    :class:`RunIdentity`, when the caller computed it already).

    Every group is validated first; any :class:`AlBertError` stops the run with a one-line
    :class:`RunFailure` (recorded in ``run.json`` once the run has started) and never loses finished
    iterations."""
    try:
        parts = build_components(cfg)
        identity = identity or RunIdentity.of(cfg)
        store = ResultsStore(identity.results_dir)
        with store.exclusive():
            return _run_held(identity, parts, store)
    except (RunFailure, RunBusyError):
        raise
    except AlBertError as error:
        raise RunFailure(one_line(error)) from None


def _run_held(
    identity: RunIdentity, parts: dict[str, Any], store: ResultsStore
) -> list[dict[str, Any]]:
    """:func:`run_experiment` while this process holds the run's lock."""
    key, config = identity.key, identity.config
    resume = config.get("resume", True)
    link_job_dir(store.run_dir)
    if resume and store.is_finished():
        log.info("run %s already finished: %s", key, store.run_dir)
        return store.records()
    if not resume and store.results_path.exists():
        raise ConfigError(
            f"{store.run_dir} already holds results and resume=false; delete it or set resume=true"
        )
    environment = launch_environment(parts["training"])
    allow_change = bool(config.get("allow_environment_change", False))
    # Only a launch that computed iterations binds the run to its environment.
    recorded = store.environments() if store.records() else []
    check_resume(recorded, environment, allow_change=allow_change, run=key)
    info = identity.columns(parts["strategy"].name, parts["weighting"].name)
    store.set_status(
        "running",
        run_key=key,
        iteration0_key=identity.iteration0_key,
        config=dict(config),
        data_digest=dict(identity.data_digest),
        pid=os.getpid(),
        torch_threads=torch.get_num_threads(),
        reason=None,
    )
    store.add_environment(
        environment, **({"allow_environment_change": True} if allow_change else {})
    )
    console = RunConsole(
        f"[{key}] {info['strategy']} × {info['weighting']}, seed {info['seed']}",
        parts["al"].iterations,
    )
    trackers: list[Any] = []
    paths = config.get("paths") or {}
    try:
        task = instantiate_group(
            config["dataset"], "dataset", fetch=FetchSettings(**(paths.get("data") or {}))
        )
        limits = config.get("limit") or {}
        if limits.get("train") or limits.get("eval"):
            task = task.subsample(limits.get("train"), limits.get("eval"), seed=0)
        trackers = [make_tracker(config.get("logger"), info, key, dict(config)), console]
        cache_dir = Path(paths["cache_dir"]) if paths.get("cache_dir") else None
        encoder = EncoderLearner(
            task,
            parts["backbone"],
            parts["training"],
            seed=int(config["seed"]),
            cache_dir=cache_dir,
        )
        learner: Learner = encoder
        if config.get("share_iteration0", True) and cache_dir is not None:
            learner = SharedIteration0(
                encoder,
                Iteration0Cache(
                    cache_dir / "iteration0",
                    f"{identity.iteration0_key}-{numerics_tag(environment)}",
                ),
            )
        loop = ActiveLearningLoop(
            task=task, learner=learner, strategy=parts["strategy"], weighting=parts["weighting"],
            seed_builder=parts["seed_builder"], al=parts["al"], seed=int(config["seed"]), store=store,
            trackers=trackers, analyses=parts["analyses"], progress=console, run_info=info,
            scenario=str(config["scenario"]["name"]), stopping=parts["stopping"],
        )  # fmt: skip
        records = loop.run()
    except (SystemExit, KeyboardInterrupt) as error:
        # Stopped from outside (Ctrl-C; a SLURM requeue: submitit exits the job after requeueing
        # it): not a failure. Finished iterations stay; the next launch resumes after them.
        with contextlib.suppress(OSError):
            store.set_status("interrupted", reason=f"{type(error).__name__}: {error}".strip())
        for tracker in trackers or [console]:
            tracker.finish(store.records(), "interrupted")
        raise
    except BaseException as error:
        reason, actionable = store.fail(error)
        for tracker in trackers or [console]:
            tracker.finish(store.records(), "failed")
        if actionable:
            log.error("run failed: %s", reason)
            raise RunFailure(reason) from error
        raise
    store.set_status("finished", iterations=len(records))
    for tracker in trackers:
        tracker.finish(records, "finished")
    if config.get("print_table", True):
        say(f"{format_table(records)}\nresults: {store.results_path}")
    return records


def launch_environment(training: TrainingConfig) -> dict[str, Any]:
    """The environment this launch computes in: device, resolved precisions, versions (run.json)."""
    device = training.device()
    return describe_environment(
        device,
        train_bf16=training.use_bf16(device, inference=False),
        inference_bf16=training.use_bf16(device, inference=True),
    )


def _finished(identity: RunIdentity) -> bool:
    """Whether the run was already finished before this launch (a resumed sweep skips it)."""
    run_dir = identity.results_dir
    if not identity.config.get("resume", True) or not run_dir.is_dir():
        return False  # (never create the folder of a run that may not validate)
    try:
        return ResultsStore(run_dir).is_finished()
    except AlBertError:
        return False


def main_entry(cfg: DictConfig) -> str:
    """Hydra task function; returns ``finished``, ``skipped``, ``busy`` (another live process runs it:
    two sweeps over one grid share its runs) or ``failed`` (a failed run of a sweep is recorded and the
    sweep goes on; a single run exits non-zero with the one-line reason). In a sweep the outcome is also
    left in the job's directory (``job_status.json``) for the launching process, which may be on
    another host (SLURM), to count."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not cfg.get("verbose", False):
        quiet_frameworks()
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    reason = None
    try:
        try:
            check_settings(cfg)  # threads among them, before they configure torch
        except AlBertError as error:
            raise RunFailure(one_line(error)) from None
        configure_threads(int(cfg.get("threads") or 0), bool(cfg.get("deterministic", True)))
        try:
            identity = RunIdentity.of(cfg)
        except AlBertError as error:
            raise RunFailure(one_line(error)) from None
        finished_before = _finished(identity)
        run_experiment(cfg, identity)
        outcome = "skipped" if finished_before else "finished"
    except (RunFailure, RunBusyError) as failure:
        busy = isinstance(failure, RunBusyError)
        say(f"al-bert: {'' if busy else 'run failed: '}{failure}", sys.stderr)
        if not multirun:
            raise SystemExit(1) from None
        outcome, reason = ("busy" if busy else "failed"), one_line(failure)
    if multirun:
        job = HydraConfig.get()
        write_job_status(Path(job.runtime.output_dir), int(job.job.num), outcome, reason)
    return outcome
