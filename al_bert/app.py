"""Build one experiment from a composed Hydra config and run it (the loop holds the AL logic)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from al_bert.data.datamodule import ALDataModule
from al_bert.data.errors import DataError
from al_bert.data.task import Task
from al_bert.loop import ActiveLearningLoop, ALConfig, BudgetError
from al_bert.metrics.classification import classification_metrics
from al_bert.model.backbones import BackboneConfig, load_tokenizer, tokenizer_id
from al_bert.model.inference import pool_outputs, predict_rows
from al_bert.model.module import ALClassifier, NonFiniteLossError
from al_bert.model.surprisal import MissingMaskedLMHeadError
from al_bert.model.training import TrainingConfig, fit_model
from al_bert.outputs import Need, PoolOutputs
from al_bert.seeding.builders import SeedError
from al_bert.strategies.base import Strategy
from al_bert.tracking.iteration0 import ITERATION0_KEYS, POOL_FIELDS, Iteration0Cache, rows_digest
from al_bert.tracking.runkey import data_digests, run_key, sub_key
from al_bert.tracking.store import CorruptStoreError, ResultsStore, RunBusyError
from al_bert.tracking.wandb_logger import CURVE_COLUMNS, NullTracker, WandbTracker
from al_bert.weighting.base import Weighting

log = logging.getLogger("al_bert")

TABLE_COLUMNS = [*CURVE_COLUMNS, "train_seconds", "select_seconds"]


class RunFailure(RuntimeError):
    """A run stopped for a reason the user can act on; the message says what to change."""


def results_dir(cfg: DictConfig) -> Path:
    """Where a run's results live: keyed by the run's config, not by the launch time or directory."""
    return Path(cfg.paths.output_root) / "runs" / run_key(cfg)


def run_info(cfg: DictConfig, key: str, components: dict[str, Any]) -> dict[str, Any]:
    """Identifying columns repeated in every record (tidy tables need no join)."""
    return {
        "run_key": key,
        "experiment": cfg.get("experiment_name") or "default",
        "dataset": str(cfg.dataset.name),
        "scenario": str(cfg.scenario.name),
        "strategy": components["strategy"].name,
        "weighting": components["weighting"].name,
        "model": str(cfg.model.name_or_path),
        "trainer": str(cfg.trainer.name),
        "seed": int(cfg.seed),
        "imbalance_ratio": cfg.dataset.get("imbalance_ratio"),
        "bins": cfg.weighting.get("bins"),
    }


def check_settings(cfg: DictConfig) -> None:
    """The run-level numbers (``seed``, ``limit``) are valid, before any data is read."""
    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise RunFailure(f"seed={seed!r}: must be a whole number ≥ 0")
    for name in ("train", "eval"):
        value = (cfg.get("limit") or {}).get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise RunFailure(f"limit.{name}={value!r}: must be null or a whole number ≥ 1")


def _instantiate(node: Any, group: str) -> Any:
    """Instantiate one config group; a bad value fails with one line naming the group, not a traceback."""
    try:
        return instantiate(node, _convert_="all")
    except InstantiationException as error:
        cause = error.__cause__ or error
        if isinstance(cause, DataError):
            raise cause from None
        raise RunFailure(f"{group}: {' '.join(str(cause).split())}") from None


def build_components(cfg: DictConfig) -> dict[str, Any]:
    """Instantiate every config group; a typo or bad value fails here, before any training."""
    check_settings(cfg)
    strategy = _instantiate(cfg.strategy, "strategy")
    weighting = _instantiate(cfg.weighting, "weighting")
    if not isinstance(strategy, Strategy):
        raise RunFailure(f"strategy config builds {type(strategy).__name__}, not a Strategy")
    if not isinstance(weighting, Weighting):
        raise RunFailure(f"weighting config builds {type(weighting).__name__}, not a Weighting")
    try:
        backbone = BackboneConfig(**OmegaConf.to_container(cfg.model, resolve=True))  # type: ignore[arg-type]
        al = ALConfig(**OmegaConf.to_container(cfg.al, resolve=True))  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise RunFailure(" ".join(str(error).split())) from None
    return {
        "strategy": strategy,
        "weighting": weighting,
        "seed_builder": _instantiate(cfg.seed_builder, "seed_builder"),
        "training": _instantiate(cfg.trainer, "trainer"),
        "backbone": backbone,
        "al": al,
    }


def make_trackers(cfg: DictConfig, info: dict[str, Any], key: str) -> list[Any]:
    tracker = instantiate(cfg.logger) if cfg.get("logger") else NullTracker()
    if isinstance(tracker, WandbTracker):
        group = f"{info['experiment']}/{info['dataset']}/{info['scenario']}"
        tags = [f"{k}={info[k]}" for k in ("dataset", "scenario", "strategy", "weighting", "model")]
        config = OmegaConf.to_container(cfg, resolve=True)
        assert isinstance(config, dict)
        config.pop("hydra", None)
        tracker.start(
            name=key, config={str(k): v for k, v in config.items()}, group=group, tags=tags
        )
    return [tracker]


def run_experiment(cfg: DictConfig) -> list[dict[str, Any]]:
    """Run (or resume, or skip when finished) the experiment that ``cfg`` describes.

    Every config group is instantiated and validated first: a bad value stops the run with a one-line
    :class:`RunFailure` before any data is read and before anything is written."""
    components = build_components(cfg)
    key = run_key(cfg)
    store = ResultsStore(results_dir(cfg))
    try:
        with store.exclusive():
            return _run_held(cfg, components, key, store)
    except (RunBusyError, CorruptStoreError) as error:
        raise RunFailure(" ".join(str(error).split())) from None


def _run_held(
    cfg: DictConfig, components: dict[str, Any], key: str, store: ResultsStore
) -> list[dict[str, Any]]:
    """:func:`run_experiment` while this process holds the run's lock."""
    status = store.status() or {}
    if cfg.get("resume", True) and status.get("status") == "finished":
        log.info("run %s already finished: %s", key, store.run_dir)
        return store.records()
    if not cfg.get("resume", True) and store.results_path.exists():
        raise RunFailure(
            f"{store.run_dir} already holds results and resume=false; delete it or set resume=true"
        )
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    resolved.pop("hydra", None)
    store.set_status(
        "running",
        run_key=key,
        config=resolved,
        data_digest=data_digests(cfg),
        pid=os.getpid(),
        reason=None,
    )
    _link_job_dir(store.run_dir)
    trackers: list[Any] = []
    records: list[dict[str, Any]] = []
    try:
        task: Task = _instantiate(cfg.dataset, "dataset")
        limits = cfg.get("limit") or {}
        if limits.get("train") or limits.get("eval"):
            task = task.subsample(limits.get("train"), limits.get("eval"), seed=0)
        info = run_info(cfg, key, components)
        trackers = make_trackers(cfg, info, key)
        loop = make_loop(cfg, task, components, store, trackers, info)
        records = loop.run()
    except (
        SeedError,
        BudgetError,
        NonFiniteLossError,
        RunFailure,
        DataError,
        MissingMaskedLMHeadError,
        CorruptStoreError,
    ) as error:
        _fail(store, trackers, error)
    except torch.OutOfMemoryError as error:
        _fail(
            store,
            trackers,
            error,
            hint="out of memory: lower trainer.batch_size or "
            "trainer.eval_batch_size, or trainer.max_length",
        )
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        _fail(
            store,
            trackers,
            error,
            hint=f"disk full: free space under {store.run_dir.parent} (the finished iterations "
            "are kept; re-run to resume)",
        )
    except Exception as error:
        store.set_status("failed", reason=f"{type(error).__name__}: {error}")
        for tracker in trackers:
            tracker.finish(store.records(), "failed")
        raise
    store.set_status("finished", iterations=len(records))
    for tracker in trackers:
        tracker.finish(records, "finished")
    if cfg.get("print_table", True):
        print(format_table(records))
        print(f"results: {store.results_path}")
    return records


def _fail(store: ResultsStore, trackers: list[Any], error: BaseException, hint: str = "") -> None:
    reason = " ".join(f"{type(error).__name__}: {hint or error}".split())  # one line
    with contextlib.suppress(OSError):  # on a full disk the reason still reaches the console
        store.set_status("failed", reason=reason)
    for tracker in trackers:
        tracker.finish(store.records(), "failed")
    log.error("run failed: %s", reason)
    raise RunFailure(reason) from error


def _link_job_dir(run_dir: Path) -> None:
    """Leave a pointer from Hydra's job directory to the keyed results directory."""
    try:
        from hydra.core.hydra_config import HydraConfig

        job_dir = Path(HydraConfig.get().runtime.output_dir)
    except ValueError:
        return
    (job_dir / "results_dir.txt").write_text(str(run_dir.resolve()) + "\n")


def make_loop(
    cfg: DictConfig,
    task: Task,
    components: dict[str, Any],
    store: ResultsStore,
    trackers: list[Any],
    info: dict[str, Any],
) -> ActiveLearningLoop:
    backbone: BackboneConfig = components["backbone"]
    training: TrainingConfig = components["training"]
    strategy: Strategy = components["strategy"]
    device = training.device()
    infer_bf16 = training.use_bf16(device, inference=True)
    cache_dir = Path(cfg.paths.cache_dir) / "tokenized" if cfg.paths.get("cache_dir") else None
    if training.select_best_on_dev and task.dev is None:
        log.warning(
            "trainer %s keeps the best dev epoch but task %s has no dev split: using the "
            "last epoch",
            training.name,
            task.name,
        )
    datamodule = make_datamodule(task, backbone, training, cache_dir=cache_dir, seed=int(cfg.seed))
    datamodule.setup()
    test_labels = task.test["label"].to_numpy()
    mc_passes = int(getattr(strategy, "mc_passes", 0))

    seed = int(cfg.seed)
    surprisal = (
        pool_surprisal(backbone, datamodule, cache_dir, seed=seed)
        if Need.SURPRISAL in strategy.needs
        else None
    )
    shared = (
        Iteration0Cache(Path(cfg.paths.cache_dir) / "iteration0", sub_key(cfg, ITERATION0_KEYS))
        if cfg.get("share_iteration0", True)
        else None
    )

    def train(rows: np.ndarray, labels: np.ndarray, iteration: int) -> ALClassifier:
        return fit_model(backbone, training, datamodule, rows, labels, seed * 1000 + iteration)

    def fit(rows: np.ndarray, labels: np.ndarray, iteration: int) -> ALClassifier:
        if shared is None or iteration > 0:
            return train(rows, labels, iteration)
        seed_digest = rows_digest(rows, labels)
        with shared.locked():
            state = shared.load_model(seed_digest)
            if state is None:
                model = train(rows, labels, iteration)
                shared.save_model(model.state_dict())
                return model
        return restore_model(backbone, training, state)

    def infer(
        model: ALClassifier,
        pool: np.ndarray,
        labelled: np.ndarray,
        labels: np.ndarray,
        needs: frozenset[Need],
        iteration: int,
    ) -> PoolOutputs:
        def compute(wanted: frozenset[Need]) -> PoolOutputs:
            return pool_outputs(
                model,
                datamodule,
                pool,
                labelled,
                labels,
                wanted,
                device=device,
                bf16=infer_bf16,
                mc_passes=mc_passes,
                mc_seed=seed * 1000 + iteration,
            )

        if surprisal is not None:
            needs = needs - {Need.SURPRISAL}
        if shared is None or iteration != 1:
            outputs = compute(needs)
            if surprisal is not None:
                outputs.surprisal = surprisal[pool]
            return outputs
        with shared.locked():
            outputs = shared_pool_outputs(shared, compute, pool, labelled, labels, needs, mc_passes)
        outputs.classifier_weight = model.net.classifier.weight.detach().float().cpu().numpy()
        if surprisal is not None:
            outputs.surprisal = surprisal[pool]
        return outputs

    def evaluate(model: ALClassifier, iteration: int) -> dict[str, float]:
        if shared is not None and iteration == 0:
            with shared.locked():
                cached = shared.load_metrics()
                if cached is None:
                    cached = test_metrics(model)
                    shared.save_metrics(cached)
            return cached
        return test_metrics(model)

    def test_metrics(model: ALClassifier) -> dict[str, float]:
        probs = predict_rows(
            model, datamodule, "test", device=device, bf16=infer_bf16, embeddings=False
        )
        return classification_metrics(probs["probs"], test_labels)

    analyses = [instantiate(a) for a in cfg.get("analyses", [])]
    return ActiveLearningLoop(
        task=task,
        datamodule=datamodule,
        strategy=strategy,
        weighting=components["weighting"],
        seed_builder=components["seed_builder"],
        al=components["al"],
        seed=int(cfg.seed),
        store=store,
        fit=fit,
        infer=infer,
        evaluate=evaluate,
        trackers=trackers,
        analyses=analyses,
        run_info=info,
        scenario=str(cfg.scenario.name),
    )


def make_datamodule(
    task: Task,
    backbone: BackboneConfig,
    training: TrainingConfig,
    *,
    cache_dir: Path | None = None,
    seed: int = 0,
) -> ALDataModule:
    """The datamodule a run trains and infers with (tokenizer of the backbone, trainer's sizes)."""
    return ALDataModule(
        task,
        load_tokenizer(backbone),
        tokenizer_id(backbone),
        training.max_length,
        training.batch_size,
        training.eval_batch_size,
        cache_dir=cache_dir,
        oversample_positives_to=training.oversample_positives_to,
        seed=seed,
    )


def pool_surprisal(
    backbone: BackboneConfig, datamodule: ALDataModule, cache_dir: Path | None, *, seed: int
) -> np.ndarray:
    """ALPS surprisal embeddings of every train-split row, from the *pretrained* masked LM.

    They do not depend on the fine-tuned model, so they are computed once per (pool, seed) (and
    cached on disk) and sliced to U at every iteration (Yuan et al. 2020). The random 15% token
    sample follows the run's seed, as the rest of a run does.
    """
    from al_bert.model.surprisal import load_masked_lm, surprisal_embeddings

    encoded = datamodule.splits["train"]
    path = None
    if cache_dir is not None:
        digest = hashlib.sha256(encoded.flat.tobytes() + encoded.offsets.tobytes()).hexdigest()[:16]
        path = (
            cache_dir.parent
            / "surprisal"
            / f"{tokenizer_id(backbone).replace('/', '_')}-{digest}-seed{seed}.npy"
        )
        if path.exists():
            return np.load(path)
    mlm = load_masked_lm(backbone.name_or_path)
    width = int(encoded.lengths.max())
    ids = np.full((len(encoded), width), datamodule.collate.pad_id, dtype=np.int64)
    mask = np.zeros((len(encoded), width), dtype=np.int64)
    for row in range(len(encoded)):
        seq = encoded.ids(row)
        ids[row, : seq.size] = seq
        mask[row, : seq.size] = 1
    values = surprisal_embeddings(
        mlm, ids, mask, special_token_ids=datamodule.tokenizer.all_special_ids, seed=seed
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, values)
    return values


def restore_model(
    backbone: BackboneConfig, training: TrainingConfig, state: dict[str, torch.Tensor]
) -> ALClassifier:
    """Rebuild a fine-tuned model from saved weights (the shared M0)."""
    module = ALClassifier(backbone, training.optim(backbone), total_steps=1)
    module.load_state_dict(state)
    module.eval()
    return module


def shared_pool_outputs(
    shared: Iteration0Cache,
    compute: Any,
    pool: np.ndarray,
    labelled: np.ndarray,
    labels: np.ndarray,
    needs: frozenset[Need],
    mc_passes: int,
) -> PoolOutputs:
    """M0's pool outputs: read what an earlier run stored, compute (and store) only what is missing."""
    fields: set[str] = {str(n.value) for n in needs if n.value in POOL_FIELDS}
    if Need.PROBS.value not in fields:
        fields.add(Need.PROBS.value)
    cached = shared.load_pool(fields)
    if "mc_probs" in cached and cached["mc_probs"].shape[0] != mc_passes:
        cached.pop("mc_probs")
    missing = frozenset(Need(f) for f in fields - set(cached))
    if Need.LABELLED_EMBEDDINGS in needs:
        missing = missing | (
            {Need.LABELLED_EMBEDDINGS} if "labelled_embeddings" not in cached else set()
        )
    fresh = compute(missing | {Need.PROBS}) if missing else None
    outputs = fresh if fresh is not None else PoolOutputs(pool_positions=pool)
    for name, value in cached.items():
        setattr(outputs, name, value)
    if Need.LABELLED_EMBEDDINGS in needs:
        outputs.labelled_positions = np.asarray(labelled)
        outputs.labelled_labels = np.asarray(labels)
    shared.save_pool(outputs)
    return outputs


def format_table(records: list[dict[str, Any]]) -> str:
    """The per-iteration table printed at the end of a run."""
    if not records:
        return "(no iterations)"
    frame = pd.DataFrame(records)
    columns = [c for c in TABLE_COLUMNS if c in frame.columns]
    return frame[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}")


def quiet_frameworks() -> None:
    """Silence framework chatter at its source: Lightning's info banners and tips (device, precision,
    "max_epochs reached"), transformers' load reports and progress bars, and warnings known to be harmless
    here. Warnings and errors still show; ``verbose=true`` skips this."""
    from transformers.utils import logging as hf_logging

    for name in ("lightning.pytorch", "lightning.fabric", "lightning", "faiss.loader"):
        logging.getLogger(name).setLevel(logging.WARNING)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")


def configure_threads(cfg: DictConfig) -> None:
    """Torch threads per job (``threads``; 0 = torch's default) so parallel jobs do not oversubscribe."""
    threads = int(cfg.get("threads", 0) or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    log.info("torch threads per job: %d", torch.get_num_threads())
    if cfg.get("deterministic", True):
        torch.use_deterministic_algorithms(True, warn_only=True)


def main_entry(cfg: DictConfig) -> None:
    """Hydra task function: a failed run of a sweep is recorded and the sweep goes on."""
    if not cfg.get("verbose", False):
        quiet_frameworks()
    configure_threads(cfg)
    try:
        run_experiment(cfg)
    except RunFailure as failure:
        print(f"al-bert: run failed: {failure}", file=sys.stderr)
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise SystemExit(1) from None
