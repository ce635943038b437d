"""al-bert vs the active-learning tools people use instead (small-text, baal): seconds per selection step.

One offline pool (SST-2 train sentences from the mirror, through ``conf/dataset/sst2.yaml``), one model with
one set of weights in every tool: the packaged MiniLM-L6 with BERT's pooler head (``model.pooling=pooler``,
the head ``BertForSequenceClassification`` has), fine-tuned once by al-bert on a small labelled seed, then
copied into a ``BertForSequenceClassification`` that small-text's ``TransformerBasedClassification`` and
baal's ``BaalTransformersTrainer`` run. Per strategy, each tool's step is timed as a user would run it: the
pool inference the strategy needs plus its selection (al-bert: ``pool_outputs`` + ``Strategy.select``;
small-text: ``QueryStrategy.query``; baal: ``predict_on_dataset`` + its heuristic). The tools alternate
within each repeat; the minimum over the repeats is kept. Where two tools run the same algorithm, their
selections are compared given identical probabilities / embeddings / MC samples.

On a multi-class pool (``--dataset trec6``: C = 6 classes; the model, and the peers' copy of it, get a
C-class head) the rows are the strategies defined for any number of classes: entropy, margin (breaking
ties), BALD and BatchBALD on MC dropout. They are written to ``peers_<dataset>.{md,json}``
(``--name`` overrides the file stem), so the binary results in ``peers.{md,json}`` stay.

    python scripts/bench_peers.py --out benchmarks            # writes peers.md and peers.json
    python scripts/bench_peers.py --smoke --out /tmp/peers    # tiny random model and pool: the machinery
    python scripts/bench_peers.py --render --out benchmarks   # rebuild peers.md from peers.json
                                                              # (--dataset / --name: that report)
    python scripts/bench_peers.py --dataset trec6 --out benchmarks   # peers_trec6.{md,json}: C = 6

Needs the ``bench`` extra (``pip install -e ".[bench]"``); baal is optional (its column is then empty).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.metadata
import inspect
import json
import logging
import os
import platform
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch import nn

from al_bert.data.datamodule import ALDataModule
from al_bert.devices import bf16_supported
from al_bert.model.backbones import BackboneConfig, load_tokenizer, tokenizer_id
from al_bert.model.inference import pool_outputs
from al_bert.model.module import ALClassifier, OptimConfig
from al_bert.model.training import TrainingConfig, fit_model
from al_bert.outputs import PoolOutputs, class_probs, mc_class_probs
from al_bert.strategies.base import ScoreStrategy, Strategy
from al_bert.strategies.egl import last_layer_egl
from al_bert.strategies.least_confidence import binary_entropy

REPO = Path(__file__).resolve().parents[1]
GOAL = 3.0
"""al-bert should be at least this many times faster than small-text for every strategy both offer."""
AL_BERT, SMALL_TEXT, BAAL = "al-bert", "small-text", "baal"
AL_BERT_FP32 = "al-bert fp32"
"""al-bert with fp32 inference (least confidence only): how much its precision choice matters here."""
TOOLS = (AL_BERT, AL_BERT_FP32, SMALL_TEXT, BAAL)


@dataclass(frozen=True)
class Row:
    """One strategy of the table: al-bert's config overrides and which peers offer it."""

    name: str
    title: str
    overrides: tuple[str, ...]
    peers: tuple[str, ...]
    peer_names: str
    subset: bool = False
    """Timed on the first ``--egl-subset`` pool texts only (small-text's cost is per example)."""


ROWS = (
    Row(
        "least_confidence",
        "Least confidence",
        ("strategy=least_confidence",),
        (SMALL_TEXT,),
        "small-text `LeastConfidence`",
    ),
    Row(
        "core_set",
        "Core-Set (greedy k-center)",
        ("strategy=core_set",),
        (SMALL_TEXT,),
        "small-text `GreedyCoreset`",
    ),
    Row("badge", "BADGE", ("strategy=badge",), (SMALL_TEXT,), "small-text `BADGE`"),
    Row(
        "egl",
        "EGL, full model",
        ("strategy=egl",),
        (SMALL_TEXT,),
        "small-text `ExpectedGradientLength`",
        subset=True,
    ),
    Row(
        "egl_last_layer",
        "EGL, classification layer",
        ("strategy=egl", "strategy.gradient=last_layer"),
        (SMALL_TEXT,),
        "small-text `ExpectedGradientLengthLayer`",
        subset=True,
    ),
    Row(
        "mc_dropout_bald",
        "MC-dropout BALD",
        ("strategy=mc_dropout", "strategy.acquisition=bald"),
        (SMALL_TEXT, BAAL),
        "small-text `BALD`; baal `BALD` heuristic + `BaalTransformersTrainer`",
    ),
)
ROW_NAMES = tuple(row.name for row in ROWS)
"""The binary rows (``peers.md``), the default on a binary pool."""

MULTICLASS_ROWS = (
    Row(
        "entropy",
        "Entropy",
        ("strategy=entropy",),
        (SMALL_TEXT, BAAL),
        "small-text `PredictionEntropy`; baal `Entropy` heuristic + `BaalTransformersTrainer` (one pass)",
    ),
    Row(
        "margin",
        "Margin (breaking ties)",
        ("strategy=margin",),
        (SMALL_TEXT, BAAL),
        "small-text `BreakingTies`; baal `Margin` heuristic + `BaalTransformersTrainer` (one pass)",
    ),
    Row(
        "bald",
        "BALD (MC dropout)",
        ("strategy=bald",),
        (SMALL_TEXT, BAAL),
        "small-text `BALD`; baal `BALD` heuristic + `BaalTransformersTrainer`",
    ),
    Row(
        "batchbald",
        "BatchBALD (MC dropout)",
        ("strategy=batchbald",),
        (BAAL,),
        "baal `BatchBALD` heuristic + `BaalTransformersTrainer` (small-text has none)",
    ),
)
MULTICLASS_ROW_NAMES = tuple(row.name for row in MULTICLASS_ROWS)
"""The rows for any number of classes, the default on a multi-class pool (``peers_<dataset>.md``)."""
ALL_ROWS = ROWS + MULTICLASS_ROWS


# --------------------------------------------------------------------------------------- pure helpers
def overlap_modulo_ties(
    a: np.ndarray, b: np.ndarray, scores: np.ndarray | None = None, rtol: float = 1e-5
) -> dict[str, Any]:
    """How far two selections of the same size agree.

    With ``scores`` (both selections are meant to be the top-k of these scores, higher first), they also
    agree *modulo ties* when every row that only one of them picked scores the same as the k-th best
    score (up to ``rtol``): the two tools then only broke a tie differently.
    """
    a, b = np.unique(np.asarray(a, dtype=np.int64)), np.unique(np.asarray(b, dtype=np.int64))
    result: dict[str, Any] = {"k": int(a.size), "overlap": int(np.intersect1d(a, b).size)}
    if scores is not None:
        s = np.asarray(scores, dtype=np.float64)
        kth = np.sort(s)[::-1][max(a.size, 1) - 1]
        differing = np.setxor1d(a, b)
        result["agree_modulo_ties"] = bool(
            np.all(np.isclose(s[differing], kth, rtol=rtol, atol=1e-12))
        )
        result["tied_at_kth"] = int(np.count_nonzero(np.isclose(s, kth, rtol=rtol, atol=1e-12)))
    return result


def summarise_cell(runs: list[float]) -> dict[str, Any]:
    """The minimum of a cell's timings (the figure reported) and every run."""
    return {"seconds": round(min(runs), 3), "runs": [round(r, 3) for r in runs]}


def add_ratios(result: dict[str, Any]) -> None:
    """peer seconds / al-bert seconds per peer, and whether al-bert meets the goal against small-text."""
    base = result[AL_BERT]["seconds"]
    for peer in (SMALL_TEXT, BAAL):
        cell = result.get(peer)
        if cell and cell.get("seconds") is not None and base > 0:
            cell["ratio_to_al_bert"] = round(cell["seconds"] / base, 2)
    st = result.get(SMALL_TEXT)
    if st and "ratio_to_al_bert" in st:
        result["goal_met"] = bool(st["ratio_to_al_bert"] >= GOAL)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the peers' experimental / deprecation warnings and progress logging while they run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def quietly(cls: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``cls(*args, **kwargs)`` without its warnings (small-text warns about changed defaults)."""
    with quiet():
        return cls(*args, **kwargs)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def other_processes() -> dict[str, Any] | None:
    """CPU % (100 = one core) that all other processes used over one second, and the busiest of them
    (None without psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    me = os.getpid()
    procs = [p for p in psutil.process_iter() if p.pid != me]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
    time.sleep(1.0)
    usage: list[tuple[float, str]] = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            argv = p.cmdline()
            command = " ".join([Path(argv[0]).name, *argv[1:]]) if argv else p.name()
            usage.append((p.cpu_percent(None), command[:60]))
    busiest = [
        {"command": command, "cpu_percent": round(cpu)}
        for cpu, command in sorted(usage, reverse=True)[:3]
        if cpu >= 20
    ]
    return {"cpu_percent": round(sum(cpu for cpu, _ in usage), 1), "busiest": busiest}


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("al-bert", "small-text", "baal", "torch", "transformers", "numpy", "scikit-learn"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def default_of(function: Callable[..., Any], parameter: str) -> Any:
    return inspect.signature(function).parameters[parameter].default


# --------------------------------------------------------------------------------------- al-bert side
def compose_config(overrides: list[str]) -> Any:
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def load_strategy(overrides: tuple[str, ...], mc_passes: int) -> Strategy:
    """The strategy of ``overrides``; one on MC-dropout passes runs ``mc_passes`` of them."""
    config = compose_config(list(overrides)).strategy
    if "mc_passes" in config:
        config.mc_passes = mc_passes
    strategy = instantiate(config, _convert_="all")
    assert isinstance(strategy, Strategy)
    return strategy


@dataclass
class AlBert:
    """al-bert's model, datamodule and one selection step (as the loop runs it)."""

    module: ALClassifier
    datamodule: ALDataModule
    labelled: np.ndarray
    labels: np.ndarray
    device: torch.device
    bf16: bool
    seed: int

    def outputs(
        self, strategy: Strategy, rows: np.ndarray, *, bf16: bool | None = None
    ) -> PoolOutputs:
        request = strategy.request
        if not request.needs:
            return PoolOutputs(pool_positions=rows)
        return pool_outputs(
            self.module,
            self.datamodule,
            rows,
            self.labelled,
            self.labels,
            request.needs,
            device=self.device,
            bf16=self.bf16 if bf16 is None else bf16,
            mc_passes=request.mc_passes,
            mc_seed=self.seed,
        )

    def step(
        self, strategy: Strategy, rows: np.ndarray, k: int, *, bf16: bool | None = None
    ) -> tuple[np.ndarray, PoolOutputs]:
        """Inference the strategy requests + its selection; positions into ``rows``."""
        outputs = self.outputs(strategy, rows, bf16=bf16)
        weights = np.ones(len(outputs), dtype=np.float64)  # weighting=uniform
        chosen = strategy.select(outputs, weights, k, np.random.default_rng(self.seed))
        return np.asarray(chosen, dtype=np.int64), outputs


def peer_model(module: ALClassifier, dropout: float) -> nn.Module:
    """A ``BertForSequenceClassification`` with exactly al-bert's weights (encoder, pooler, head), over
    al-bert's C classes."""
    from transformers import BertForSequenceClassification

    config: Any = copy.deepcopy(module.net.encoder.config)
    config.num_labels = module.num_classes
    config.classifier_dropout = dropout
    model = BertForSequenceClassification(config)
    model.bert.load_state_dict(module.net.encoder.state_dict())
    model.classifier.load_state_dict(module.net.classifier.state_dict())
    return model.eval()


# --------------------------------------------------------------------------------------- small-text side
class _LogitsOnly(nn.Module):
    """small-text's EGL calls ``clf.model(token_ids)`` and needs a logits tensor back: BERT's logits with
    the attention mask rebuilt from the padding (BERT's [PAD] never occurs inside a text)."""

    def __init__(self, model: nn.Module, pad_id: int) -> None:
        super().__init__()
        self.model = model
        self.pad_id = pad_id

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        mask = (input_ids != self.pad_id).long()
        return self.model(input_ids, attention_mask=mask).logits


class _FixedProba:
    """A stand-in classifier that returns given probabilities (to compare selection rules alone)."""

    def __init__(self, proba: np.ndarray, mc: np.ndarray | None = None) -> None:
        self.proba, self.mc = proba, mc

    def predict_proba(self, dataset: Any, dropout_sampling: int = 1) -> np.ndarray:
        return self.proba if dropout_sampling <= 1 else self.mc  # type: ignore[return-value]


@dataclass
class SmallText:
    """small-text's classifier (al-bert's weights) and its datasets over the same texts."""

    clf: Any
    tokenizer: Any
    max_length: int
    notes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        model: nn.Module,
        tokenizer: Any,
        model_path: str,
        max_length: int,
        batch: int,
        num_classes: int = 2,
    ) -> SmallText:
        from small_text import TransformerBasedClassification, TransformerModelArguments

        with quiet():
            clf = TransformerBasedClassification(
                TransformerModelArguments(model_path),
                num_classes=num_classes,
                mini_batch_size=batch,
                device="cpu" if not torch.cuda.is_available() else "cuda",
            )
        clf.model, clf.tokenizer = model, tokenizer  # what initialize_transformer() would set
        return cls(clf, tokenizer, max_length)

    def dataset(self, texts: list[str], labels: np.ndarray, max_length: int | None = None) -> Any:
        """A ``TransformersDataset`` as ``TransformersDataset.from_arrays`` builds it (every text padded
        to ``max_length``); built here because from_arrays calls ``tokenizer.encode_plus``, which
        transformers 5 removed."""
        from small_text import TransformersDataset

        length = max_length or self.max_length
        if "from_arrays" not in self.notes:
            try:
                with quiet():
                    TransformersDataset.from_arrays(texts[:1], labels[:1], self.tokenizer, None, 8)
                self.notes["from_arrays"] = "works"
            except Exception as error:  # the observed incompatibility, recorded in the report
                self.notes["from_arrays"] = f"{type(error).__name__}: {error}"
        data = []
        for text, label in zip(texts, labels, strict=True):
            enc = self.tokenizer(
                text,
                add_special_tokens=True,
                padding="max_length",
                max_length=length,
                return_attention_mask=True,
                return_tensors="pt",
                truncation="longest_first",
            )
            data.append((enc["input_ids"], enc["attention_mask"], int(label)))
        with quiet():
            return TransformersDataset(data, target_labels=np.arange(self.clf.num_classes))

    def egl_model(self) -> Any:
        """What small-text's EGL strategies call: the real classifier if that works, else an adapter."""
        from small_text.integrations.pytorch.query_strategies import ExpectedGradientLength

        if "egl_with_classifier" not in self.notes:
            probe = self.dataset(["a probe", "another probe"], np.array([-1, -1]), 8)
            try:
                with quiet():
                    ExpectedGradientLength(2, batch_size=2, device="cpu", pbar=None).query(
                        self.clf,
                        probe,
                        np.arange(2),
                        np.zeros(0, dtype=np.int64),
                        np.zeros(0, dtype=np.int64),
                        n=1,
                    )
                self.notes["egl_with_classifier"] = "works"
            except Exception as error:
                self.notes["egl_with_classifier"] = f"{type(error).__name__}: {error}"
        if self.notes["egl_with_classifier"] == "works":
            return self.clf
        pad = int(self.tokenizer.pad_token_id or 0)
        return SimpleNamespace(
            model=_LogitsOnly(self.clf.model, pad), _create_collate_fn=self.clf._create_collate_fn
        )


def smalltext_query(
    strategy: Any,
    clf: Any,
    dataset: Any,
    n_pool: int,
    labelled: int,
    y: np.ndarray,
    k: int,
    **kw: Any,
) -> np.ndarray:
    """``strategy.query`` over a dataset whose first ``n_pool`` rows are the pool, then ``labelled``."""
    unlabelled = np.arange(n_pool)
    labelled_idx = np.arange(n_pool, n_pool + labelled)
    with quiet():
        chosen = strategy.query(clf, dataset, unlabelled, labelled_idx, y, n=k, **kw)
    return np.sort(np.asarray(chosen, dtype=np.int64))


# --------------------------------------------------------------------------------------- baal side
@dataclass
class Baal:
    """baal's prediction (its ``BaalTransformersTrainer``) over the pool texts: MC dropout on the
    ``patch_module``d model, or (``plain``) one deterministic pass of the model as it is."""

    trainer: Any
    dataset: Any
    batch: int
    plain: Any = None

    @classmethod
    def build(
        cls,
        model: nn.Module,
        tokenizer: Any,
        texts: list[str],
        max_length: int,
        batch: int,
        tmp: str,
        plain: bool = False,
    ) -> Baal:
        import structlog
        from baal.bayesian.dropout import patch_module
        from baal.transformers_trainer_wrapper import BaalTransformersTrainer
        from transformers import DataCollatorWithPadding, TrainingArguments

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
        encoded = [dict(tokenizer(t, truncation=True, max_length=max_length)) for t in texts]
        args = TrainingArguments(
            output_dir=tmp,
            per_device_eval_batch_size=batch,
            report_to=[],
            disable_tqdm=True,
            use_cpu=not torch.cuda.is_available(),
        )
        with quiet():
            trainer = BaalTransformersTrainer(
                model=patch_module(copy.deepcopy(model)),
                args=args,
                data_collator=DataCollatorWithPadding(tokenizer),
                replicate_in_memory=True,
            )
            # predict_on_dataset calls model.eval(): without patch_module, one deterministic pass
            plain_trainer = (
                BaalTransformersTrainer(
                    model=copy.deepcopy(model),
                    args=args,
                    data_collator=DataCollatorWithPadding(tokenizer),
                    replicate_in_memory=True,
                )
                if plain
                else None
            )
        return cls(trainer, encoded, batch, plain_trainer)

    def select(self, heuristic: Any, k: int, iterations: int | None = None) -> np.ndarray:
        """``predict_on_dataset`` ([n, C, T] logits: ``iterations`` MC-dropout passes, or one
        deterministic pass when None) + the top k of ``heuristic``'s ranking, as baal's
        ``ActiveLearningLoop`` takes them."""
        trainer = self.trainer if iterations else self.plain
        with quiet():
            predictions = trainer.predict_on_dataset(self.dataset, iterations=iterations or 1)
            ranked = heuristic(predictions)
        return np.sort(np.asarray(ranked[:k], dtype=np.int64))


def baal_available() -> bool:
    try:
        import baal.transformers_trainer_wrapper  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------------------- the benchmark
def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return result, time.perf_counter() - started


def smoke_settings(args: argparse.Namespace) -> None:
    """Tiny everything: the random 2-layer BERT, a 40-text pool, two repeats."""
    args.model, args.pool, args.labelled, args.k = "tiny", 40, 10, 4
    args.repeats, args.egl_subset, args.k_subset, args.finetune_epochs = 2, 6, 2, 0
    args.defaults_subset, args.peer_batch = 8, 16


def resolve_rows(names: list[str] | None, num_classes: int) -> list[Row]:
    """The rows to time, in table order: ``names``, or by default the binary rows on a binary pool and
    the rows for any number of classes on a multi-class one (where the binary rows cannot run)."""
    if names is None:
        names = list(ROW_NAMES if num_classes == 2 else MULTICLASS_ROW_NAMES)
    rows = [row for row in ALL_ROWS if row.name in names]
    binary_only = [row.name for row in rows if row.name not in MULTICLASS_ROW_NAMES]
    if num_classes > 2 and binary_only:
        raise SystemExit(
            f"--strategies {' '.join(binary_only)}: binary pools only (this pool has {num_classes} "
            f"classes); on a multi-class pool use {' '.join(MULTICLASS_ROW_NAMES)}"
        )
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    started_run = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    machine_start: dict[str, Any] = {
        "load_average": load_average(),
        "other_processes": other_processes(),
    }
    cfg = compose_config(
        [
            f"dataset={args.dataset}",
            "dataset.imbalance_ratio=null",
            f"model={args.model}",
            "model.pooling=pooler",
        ]
    )
    task = instantiate(cfg.dataset, _convert_="all")
    num_classes = int(task.num_classes)
    binary = num_classes == 2
    rows = resolve_rows(args.strategies, num_classes)
    row_names = {row.name for row in rows}
    backbone = BackboneConfig(**cfg.model)
    tokenizer = load_tokenizer(backbone)
    texts_all = task.train["text"].astype(str).to_numpy()
    labels_all = task.train["label"].to_numpy(dtype=np.int64)
    rng = np.random.default_rng(args.seed)
    drawn = rng.choice(len(texts_all), args.labelled + args.pool, replace=False)
    labelled, pool = np.sort(drawn[: args.labelled]), np.sort(drawn[args.labelled :])
    labels = labels_all[labelled]
    lengths = np.array([len(ids) for ids in tokenizer(texts_all[drawn].tolist())["input_ids"]])
    max_length = int(min(max(lengths.max(), 8), 512))  # fitted: no text of the pool is truncated

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = bf16_supported(device)
    training = TrainingConfig(
        name="bench-peers",
        max_epochs=max(args.finetune_epochs, 1),
        lr=1e-4,
        batch_size=16,
        eval_batch_size=args.batch,
        max_length=max_length,
        select_best_on_dev=False,
    )
    datamodule = ALDataModule(
        task,
        tokenizer,
        tokenizer_id(backbone),
        max_length,
        training.batch_size,
        args.batch,
        seed=args.seed,
    )
    datamodule.setup()
    fit_started = time.perf_counter()
    if args.finetune_epochs > 0:
        module = fit_model(backbone, training, datamodule, labelled, labels, seed=args.seed)
    else:  # the pretrained encoder and a fixed, seeded random head
        torch.manual_seed(args.seed)
        module = ALClassifier(backbone, OptimConfig(), total_steps=1, num_classes=num_classes)
    module.eval()
    fit_seconds = time.perf_counter() - fit_started
    albert = AlBert(module, datamodule, labelled, labels, device, bf16, args.seed)
    model = peer_model(module, backbone.dropout)

    st = SmallText.build(
        model, tokenizer, backbone.name_or_path, max_length, args.peer_batch, num_classes
    )
    n, m = pool.size, labelled.size
    pool_texts, labelled_texts = texts_all[pool].tolist(), texts_all[labelled].tolist()
    unlabelled_y = np.full(n, -1, dtype=np.int64)
    ds_pool = st.dataset(pool_texts, unlabelled_y)
    ds_pool_lab = st.dataset(pool_texts + labelled_texts, np.concatenate([unlabelled_y, labels]))
    subset = np.arange(min(args.egl_subset, n))
    args.k_subset = min(args.k_subset, max(subset.size - 1, 1))
    ds_subset = st.dataset([pool_texts[i] for i in subset], unlabelled_y[subset])
    egl_clf = st.egl_model() if any(row.subset for row in rows) else None
    tmp = tempfile.TemporaryDirectory()
    bl = (
        Baal.build(
            model,
            tokenizer,
            pool_texts,
            max_length,
            args.peer_batch,
            tmp.name,
            plain=bool(row_names & {"entropy", "margin"}),
        )
        if baal_available()
        else None
    )

    # Same weights: al-bert in fp32 and small-text on the first rows give the same probabilities.
    from small_text import (
        BALD,
        BreakingTies,
        GreedyCoreset,
        LeastConfidence,
        PredictionEntropy,
    )
    from small_text.integrations.pytorch.query_strategies import (
        BADGE,
        ExpectedGradientLength,
        ExpectedGradientLengthLayer,
    )

    lc = load_strategy(("strategy=least_confidence",), args.mc_passes)
    check_rows = np.arange(min(64, n))
    p_albert32 = albert.outputs(lc, pool[check_rows], bf16=False).require("probs")
    with quiet(), torch.inference_mode():
        p_st = st.clf.predict_proba(
            st.dataset([pool_texts[i] for i in check_rows], unlabelled_y[check_rows])
        )
    p_st = p_st[:, 1] if binary else p_st  # al-bert: the positive class's alone when binary
    same_weights_diff = float(np.abs(p_albert32 - p_st).max())

    def egl_layer() -> Any:
        strategy = ExpectedGradientLengthLayer(
            2, "model.classifier", batch_size=args.peer_egl_batch
        )
        strategy.device = "cpu" if not torch.cuda.is_available() else "cuda"  # no `device` argument
        return strategy

    peer_steps: dict[str, dict[str, Callable[[], Any]]] = {
        "least_confidence": {
            SMALL_TEXT: lambda: smalltext_query(
                LeastConfidence(), st.clf, ds_pool, n, 0, labels[:0], args.k
            )
        },
        "core_set": {
            SMALL_TEXT: lambda: smalltext_query(
                quietly(GreedyCoreset, distance_metric="euclidean"),
                st.clf,
                ds_pool_lab,
                n,
                m,
                labels,
                args.k,
                pbar=None,
            )
        },
        "badge": {
            SMALL_TEXT: lambda: smalltext_query(
                BADGE(num_classes=2), st.clf, ds_pool, n, 0, labels[:0], args.k, pbar=None
            )
        },
        "egl": {
            SMALL_TEXT: lambda: smalltext_query(
                ExpectedGradientLength(
                    2, batch_size=args.peer_egl_batch, device=device.type, pbar=None
                ),
                egl_clf,
                ds_subset,
                subset.size,
                0,
                labels[:0],
                args.k_subset,
            )
        },
        "egl_last_layer": {
            SMALL_TEXT: lambda: _egl_layer_query(
                egl_layer(), egl_clf, ds_subset, subset.size, args.k_subset
            )
        },
        "mc_dropout_bald": {
            SMALL_TEXT: lambda: smalltext_query(
                BALD(dropout_samples=args.mc_passes), st.clf, ds_pool, n, 0, labels[:0], args.k
            )
        },
    }
    peer_steps |= {
        "entropy": {
            SMALL_TEXT: lambda: smalltext_query(
                PredictionEntropy(), st.clf, ds_pool, n, 0, labels[:0], args.k
            )
        },
        "margin": {
            SMALL_TEXT: lambda: smalltext_query(
                BreakingTies(), st.clf, ds_pool, n, 0, labels[:0], args.k
            )
        },
        "bald": {
            SMALL_TEXT: lambda: smalltext_query(
                BALD(dropout_samples=args.mc_passes), st.clf, ds_pool, n, 0, labels[:0], args.k
            )
        },
        "batchbald": {},  # small-text has no BatchBALD (see smalltext_batchbald())
    }
    if bl is not None:
        from baal.active.heuristics import BALD as BaalBALD
        from baal.active.heuristics import BatchBALD as BaalBatchBALD
        from baal.active.heuristics import Entropy as BaalEntropy
        from baal.active.heuristics import Margin as BaalMargin

        peer_steps["mc_dropout_bald"][BAAL] = lambda: bl.select(BaalBALD(), args.k, args.mc_passes)
        peer_steps["entropy"][BAAL] = lambda: bl.select(BaalEntropy(), args.k)
        peer_steps["margin"][BAAL] = lambda: bl.select(BaalMargin(), args.k)
        peer_steps["bald"][BAAL] = lambda: bl.select(BaalBALD(), args.k, args.mc_passes)
        peer_steps["batchbald"][BAAL] = lambda: bl.select(
            BaalBatchBALD(num_samples=args.k), args.k, args.mc_passes
        )

    # Warm-up (allocator, kernels) of both tools on a few rows: not timed.
    albert.step(lc, pool[check_rows], min(args.k, check_rows.size))
    with quiet():
        st.clf.predict_proba(ds_subset)

    strategies = {row.name: load_strategy(row.overrides, args.mc_passes) for row in rows}
    runs: dict[str, dict[str, list[float]]] = {row.name: {} for row in rows}
    last: dict[str, dict[str, Any]] = {row.name: {} for row in rows}
    load_samples = [load_average()]
    for repeat in range(args.repeats):
        for row in rows:
            # A row whose slowest tool took longer than --repeat-under is not repeated (for any tool,
            # so every tool of a row gets the same number of tries).
            if any(min(t) > args.repeat_under for t in runs[row.name].values()):
                continue
            strategy = strategies[row.name]
            rows_here = pool[subset] if row.subset else pool
            k_here = args.k_subset if row.subset else args.k
            steps: dict[str, Callable[[], Any]] = {
                AL_BERT: partial(albert.step, strategy, rows_here, k_here)
            }
            if row.name == "least_confidence" and bf16:
                steps[AL_BERT_FP32] = partial(albert.step, strategy, pool, args.k, bf16=False)
            steps |= peer_steps[row.name]
            order = list(steps) if repeat % 2 == 0 else list(steps)[::-1]
            for tool in order:
                result, seconds = timed(steps[tool])
                runs[row.name].setdefault(tool, []).append(seconds)
                last[row.name][tool] = result
                print(
                    f"repeat {repeat + 1}  {row.name:18s} {tool:10s} {seconds:8.2f} s", flush=True
                )
        load_samples.append(load_average())

    # ---- selections where the algorithm is the same, given the same inputs
    agreement: dict[str, dict[str, Any]] = {}
    if "least_confidence" in last:
        chosen, outputs = last["least_confidence"][AL_BERT]
        probs = outputs.require("probs")
        stub = _FixedProba(np.stack([1.0 - probs, probs], axis=1))
        same = smalltext_query(LeastConfidence(), stub, ds_pool, n, 0, labels[:0], args.k)
        scores = binary_entropy(probs)
        st_conf = np.asarray(last["least_confidence"][SMALL_TEXT])
        agreement["least_confidence"] = {
            "same_probabilities": overlap_modulo_ties(chosen, same, scores),
            "own_inference": overlap_modulo_ties(chosen, st_conf, scores),
        }
    if "core_set" in last:
        chosen, outputs = last["core_set"][AL_BERT]
        embeddings = np.vstack(
            [outputs.require("embeddings"), outputs.require("labelled_embeddings")]
        )
        same = smalltext_query(
            quietly(GreedyCoreset, distance_metric="euclidean", normalize=False),
            st.clf,
            ds_pool_lab,
            n,
            m,
            labels,
            args.k,
            pbar=None,
            embeddings=embeddings,
        )
        agreement["core_set"] = {
            "same_embeddings": overlap_modulo_ties(chosen, same),
            "own_inference": overlap_modulo_ties(chosen, np.asarray(last["core_set"][SMALL_TEXT])),
        }
    if "badge" in last:
        chosen, _ = last["badge"][AL_BERT]
        agreement["badge"] = {
            "own_inference": overlap_modulo_ties(chosen, np.asarray(last["badge"][SMALL_TEXT]))
        }
    if "egl_last_layer" in last:
        chosen, outputs = last["egl_last_layer"][AL_BERT]
        strategy = egl_layer()
        peer_chosen = _egl_layer_query(strategy, egl_clf, ds_subset, subset.size, args.k_subset)
        fp32 = albert.outputs(strategies["egl_last_layer"], pool[subset], bf16=False)
        ours = last_layer_egl(fp32.require("probs"), fp32.require("embeddings"))
        agreement["egl_last_layer"] = {
            "same_weights_fp32": overlap_modulo_ties(
                np.argsort(-ours, kind="stable")[: args.k_subset], peer_chosen, ours
            )
            | {
                "max_relative_score_difference": float(
                    np.max(np.abs(strategy.scores_ - ours) / ours)
                )
            },
        }
    if "mc_dropout_bald" in last:
        agreement["mc_dropout_bald"] = bald_agreement(
            "mc_dropout_bald", last, strategies, bl, ds_pool, args.k, args.mc_passes
        )
    agreement |= multiclass_agreement(
        last, strategies, bl, ds_pool, args.k, args.mc_passes, args.seed
    )

    # ---- small-text with its defaults (max_length, mini-batch size) vs the settings above, same rows
    d_rows = np.arange(min(args.defaults_subset, n))
    d_texts = [pool_texts[i] for i in d_rows]
    default_length = int(default_of(_from_arrays(), "max_length"))
    default_batch = int(default_of(_smalltext_classifier().__init__, "mini_batch_size"))
    best_ds = st.dataset(d_texts, unlabelled_y[d_rows])
    default_ds = st.dataset(d_texts, unlabelled_y[d_rows], max_length=default_length)
    peer_defaults: dict[str, Any] = {"rows": int(d_rows.size)}
    for label, dataset, batch in (
        ("best", best_ds, args.peer_batch),
        ("default", default_ds, default_batch),
    ):
        st.clf.mini_batch_size = batch
        _, seconds = timed(
            partial(
                smalltext_query,
                LeastConfidence(),
                st.clf,
                dataset,
                d_rows.size,
                0,
                labels[:0],
                min(args.k, d_rows.size),
            )
        )
        peer_defaults[label] = {
            "max_length": dataset.data[0][0].shape[1],
            "mini_batch_size": batch,
            "least_confidence_seconds": round(seconds, 3),
        }
    st.clf.mini_batch_size = args.peer_batch
    tmp.cleanup()

    # ---- the report
    strategies_report: dict[str, Any] = {}
    for row in rows:
        cell: dict[str, Any] = {"title": row.title, "peer": row.peer_names}
        for tool in TOOLS:
            if tool in runs[row.name]:
                cell[tool] = summarise_cell(runs[row.name][tool])
        if row.subset:
            cell["rows"] = int(subset.size)
            cell["k"] = int(args.k_subset)
        add_ratios(cell)
        if row.name in agreement:
            cell["agreement"] = agreement[row.name]
        strategies_report[row.name] = cell
    if "egl" in strategies_report and "egl" in runs:  # al-bert's full-model EGL over the whole pool
        _, seconds = timed(lambda: albert.step(strategies["egl"], pool, args.k))
        per_text = strategies_report["egl"][SMALL_TEXT]["seconds"] / subset.size
        strategies_report["egl"]["full_pool"] = {
            AL_BERT: round(seconds, 3),
            "small_text_estimate": round(per_text * n, 1),
            "estimate_basis": f"small-text's measured seconds per text on the {subset.size}-text subset × {n}",
        }
    others = [machine_start["other_processes"], other_processes()]
    report: dict[str, Any] = {
        "goal": f"al-bert ≥ {GOAL:g}× faster than small-text for every strategy both offer, on short-text pools",
        "smoke": bool(args.smoke),
        "repeat_under_s": float(args.repeat_under),
        "pool": {
            "dataset": args.dataset,
            "num_classes": num_classes,
            "classes": list(task.classes),
            "split": "train",
            "pool_size": int(n),
            "labelled_size": int(m),
            "k": int(args.k),
            "egl_subset": int(subset.size),
            "k_subset": int(args.k_subset),
            "tokens_mean": round(float(lengths.mean()), 1),
            "tokens_median": float(np.median(lengths)),
            "tokens_max": int(lengths.max()),
            "seed": int(args.seed),
        },
        "model": {
            "backbone": backbone.name_or_path,
            "config": args.model,
            "head": (
                f"BERT pooler (tanh dense over [CLS]) → dropout → linear, {num_classes} classes "
                "(= BertForSequenceClassification)"
            ),
            "weights": (
                f"fine-tuned once by al-bert (fit_model: {args.finetune_epochs} epochs, lr 1e-4, batch 16) on the "
                f"{m} labelled texts, then the same state dict loaded into every tool"
                if args.finetune_epochs > 0
                else "pretrained encoder + a fixed seeded random head, the same state dict in every tool"
            ),
            "fine_tune_seconds": round(fit_seconds, 1),
            "same_weights_max_abs_prob_diff_fp32": same_weights_diff,
        },
        "tools": {
            AL_BERT: {
                "max_length": max_length,
                "batch_size": datamodule.inference_batch_size(n),
                "precision": "bf16 autocast" if bf16 else "fp32",
                "padding": "dynamic, length-sorted batches",
                "mc_dropout": (
                    "module.train(): every dropout incl. attention probabilities; T sequential "
                    "passes per batch"
                ),
                "egl": (
                    "full model: one forward + backward per batch, per-example ghost norms "
                    "(Opacus); last layer: closed form"
                ),
                "mc_passes": int(args.mc_passes),
                **(
                    {
                        "batchbald": {
                            key: getattr(strategies["batchbald"], key)
                            for key in ("mc_passes", "max_configurations", "samples")
                        }
                    }
                    if "batchbald" in strategies
                    else {}
                ),
            },
            SMALL_TEXT: {
                "max_length": max_length,
                "batch_size": args.peer_batch,
                "precision": "fp32",
                "padding": "every text padded to max_length (TransformersDataset)",
                "egl_batch_size": args.peer_egl_batch,
                "mc_dropout": (
                    "enable_dropout(): nn.Dropout modules only (BERT's SDPA attention dropout "
                    "stays off in eval mode); the batch replicated T times in one forward"
                ),
                "defaults": {
                    "max_length": default_length,
                    "mini_batch_size": default_batch,
                    "egl_batch_size": int(
                        default_of(ExpectedGradientLength.__init__, "batch_size")
                    ),
                    "core_set": (
                        "GreedyCoreset(distance_metric='euclidean', normalize=True, "
                        "batch_size=100): defaults kept"
                    ),
                },
                "notes": dict(st.notes),
                "batchbald_classes": smalltext_batchbald(),
            },
        },
        "peer_defaults": peer_defaults,
        "versions": versions(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "load_average_start": machine_start["load_average"],
            "load_average_end": load_average(),
            "load_average_per_repeat": load_samples,
            "other_processes_start_end": others,
        },
        "strategies": strategies_report,
        "wall_seconds": round(time.perf_counter() - started_run, 1),
    }
    if bl is not None:
        report["tools"][BAAL] = {
            "max_length": max_length,
            "batch_size": bl.batch,
            "precision": "fp32 (TrainingArguments defaults)",
            "padding": "dynamic per batch (DataCollatorWithPadding), pool order",
            "mc_dropout": (
                "patch_module(): nn.Dropout modules always on (attention dropout off, as "
                "small-text); replicate_in_memory=True (T copies in one forward)"
            ),
            "defaults": {
                "per_device_eval_batch_size": _training_arguments_default(
                    "per_device_eval_batch_size"
                )
            },
        }
        if bl.plain is not None:
            report["tools"][BAAL]["single_pass"] = (
                "entropy, margin: a second BaalTransformersTrainer on the model without patch_module, "
                "predict_on_dataset(iterations=1) (model.eval(): dropout off), then the heuristic"
            )
        if "batchbald" in row_names:
            report["tools"][BAAL]["batchbald"] = {
                "num_samples": int(args.k),
                "num_draw": int(default_of(BaalBatchBALD.__init__, "num_draw")),
            }
    measured = [o["cpu_percent"] for o in others if o is not None]
    report["machine"]["shared"] = bool(measured) and max(measured) > 50.0
    return report


def _scores(strategy: Strategy, outputs: PoolOutputs) -> np.ndarray:
    assert isinstance(strategy, ScoreStrategy), strategy
    return np.asarray(strategy.score(outputs, np.random.default_rng(0)), dtype=np.float64)


def bald_agreement(
    name: str,
    last: dict[str, dict[str, Any]],
    strategies: dict[str, Strategy],
    bl: Baal | None,
    ds_pool: Any,
    k: int,
    mc_passes: int,
) -> dict[str, Any]:
    """BALD (row ``name``, binary or multi-class): small-text's and baal's rule on al-bert's MC samples,
    and each tool's own run, against al-bert's selection."""
    from small_text import BALD

    chosen, outputs = last[name][AL_BERT]
    samples = mc_class_probs(outputs.require("mc_probs"))  # [n, C, T], baal's layout
    scores = _scores(strategies[name], outputs)
    stub = _FixedProba(samples.mean(2), samples.transpose(0, 2, 1))  # small-text's (n, T, C)
    n = len(ds_pool)
    same = smalltext_query(
        BALD(dropout_samples=mc_passes), stub, ds_pool, n, 0, np.zeros(0, dtype=np.int64), k
    )
    found = {
        "small_text_same_samples": overlap_modulo_ties(chosen, same, scores),
        "small_text_own_inference": overlap_modulo_ties(chosen, np.asarray(last[name][SMALL_TEXT])),
    }
    if bl is not None:
        from baal.active.heuristics import BALD as BaalBALD

        with quiet():
            ranked = BaalBALD()(samples)
        found["baal_same_samples"] = overlap_modulo_ties(chosen, ranked[:k], scores)
        found["baal_own_inference"] = overlap_modulo_ties(chosen, np.asarray(last[name][BAAL]))
    return found


def multiclass_agreement(
    last: dict[str, dict[str, Any]],
    strategies: dict[str, Strategy],
    bl: Baal | None,
    ds_pool: Any,
    k: int,
    mc_passes: int,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """The rows for any number of classes: each peer's rule run on al-bert's probabilities (entropy,
    margin) or MC samples (BALD, BatchBALD) against al-bert's selection, and each tool's own run."""
    from small_text import BreakingTies, PredictionEntropy

    agreement: dict[str, dict[str, Any]] = {}
    n = len(ds_pool)
    no_labels = np.zeros(0, dtype=np.int64)
    single_pass = {"entropy": (PredictionEntropy, "Entropy"), "margin": (BreakingTies, "Margin")}
    for name, (st_rule, baal_rule) in single_pass.items():
        if name not in last:
            continue
        chosen, outputs = last[name][AL_BERT]
        probs = class_probs(outputs.require("probs"))  # [n, C]
        scores = _scores(strategies[name], outputs)
        same = smalltext_query(st_rule(), _FixedProba(probs), ds_pool, n, 0, no_labels, k)
        found = {
            "small_text_same_probabilities": overlap_modulo_ties(chosen, same, scores),
            "small_text_own_inference": overlap_modulo_ties(
                chosen, np.asarray(last[name][SMALL_TEXT]), scores
            ),
        }
        if bl is not None:
            heuristic = getattr(importlib.import_module("baal.active.heuristics"), baal_rule)()
            with quiet():
                ranked = heuristic(probs[:, :, None])  # baal's layout [n, C, T], one pass
            found["baal_same_probabilities"] = overlap_modulo_ties(chosen, ranked[:k], scores)
            found["baal_own_inference"] = overlap_modulo_ties(
                chosen, np.asarray(last[name][BAAL]), scores
            )
        agreement[name] = found
    if "bald" in last:
        agreement["bald"] = bald_agreement("bald", last, strategies, bl, ds_pool, k, mc_passes)
    if "batchbald" in last and bl is not None:
        from baal.active.heuristics import BALD as BaalBALD
        from baal.active.heuristics import BatchBALD as BaalBatchBALD

        chosen, outputs = last["batchbald"][AL_BERT]
        samples = mc_class_probs(outputs.require("mc_probs"))
        torch.manual_seed(seed)  # baal draws its label configurations with torch.multinomial
        with quiet():
            ranked = BaalBatchBALD(num_samples=k)(samples)
            top = int(np.argmax(BaalBALD().compute_score(samples)))
        overlap = overlap_modulo_ties(chosen, ranked[:k])
        # both greedy batches open with the pool's highest BALD score (no configuration sampled yet)
        overlap["bald_top_selected"] = {
            AL_BERT: bool(top in chosen.tolist()),
            BAAL: bool(top in ranked[:k].tolist()),
        }
        agreement["batchbald"] = {
            "baal_same_samples": overlap,
            "baal_own_inference": overlap_modulo_ties(chosen, np.asarray(last["batchbald"][BAAL])),
        }
    return agreement


def smalltext_batchbald() -> list[str]:
    """The classes of the installed small-text whose name says BatchBALD (read from its source, no module
    imported): none in 1.4.1, hence no small-text cell in the BatchBALD row."""
    import small_text

    root = Path(small_text.__file__).resolve().parent
    pattern = re.compile(r"^class\s+(\w*batch_?bald\w*)", re.IGNORECASE | re.MULTILINE)
    return sorted(
        f"{path.relative_to(root.parent).as_posix()}:{found}"
        for path in root.rglob("*.py")
        for found in pattern.findall(path.read_text(errors="replace"))
    )


def _egl_layer_query(strategy: Any, clf: Any, dataset: Any, n: int, k: int) -> np.ndarray:
    return smalltext_query(strategy, clf, dataset, n, 0, np.zeros(0, dtype=np.int64), k)


def _from_arrays() -> Callable[..., Any]:
    from small_text import TransformersDataset

    return TransformersDataset.from_arrays


def _smalltext_classifier() -> Any:
    from small_text import TransformerBasedClassification

    return TransformerBasedClassification


def _training_arguments_default(name: str) -> Any:
    from transformers import TrainingArguments

    return TrainingArguments.__dataclass_fields__[name].default


# --------------------------------------------------------------------------------------- markdown
def _seconds(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "—"
    return f"{cell['seconds']:.2f} ({len(cell['runs'])}×)"


def _ratio(cell: dict[str, Any] | None) -> str:
    return f"{cell['ratio_to_al_bert']:.2f}×" if cell and "ratio_to_al_bert" in cell else "—"


def _agreement_line(name: str, key: str, value: dict[str, Any]) -> str:
    ties = ""
    if "agree_modulo_ties" in value:
        ties = f"; same selection up to ties: {'yes' if value['agree_modulo_ties'] else 'no'}"
        ties += f" ({value['tied_at_kth']} rows tied at the k-th score)"
    extra = ""
    if "bald_top_selected" in value:
        extra = "; BALD top selected: " + ", ".join(
            f"{tool} {'yes' if chosen else 'no'}"
            for tool, chosen in value["bald_top_selected"].items()
        )
    if "max_relative_score_difference" in value:
        extra = f"; largest relative score difference {value['max_relative_score_difference']:.1e}"
    return f"| {name} | {key.replace('_', ' ')} | {value['overlap']}/{value['k']}{ties}{extra} |"


def _why(report: dict[str, Any]) -> list[str]:
    """Where the differences come from, in the report's own numbers."""
    pool, tools, strategies = report["pool"], report["tools"], report["strategies"]
    st, ours = tools[SMALL_TEXT], tools[AL_BERT]
    lines = [
        "",
        "Where the time goes:",
        "",
        f"- Padding and precision: small-text pads every text to max_length {st['max_length']}, "
        f"{st['max_length'] / pool['tokens_mean']:.1f}× the {pool['tokens_mean']} tokens of an average "
        f"text, and infers in {st['precision']}; al-bert pads each length-sorted batch to its own longest "
        f"text and infers under {ours['precision']}.",
    ]
    lc = strategies.get("least_confidence")
    seconds = {
        name: row[SMALL_TEXT]["seconds"] for name, row in strategies.items() if SMALL_TEXT in row
    }
    if lc and "core_set" in seconds and "badge" in seconds:
        lines.append(
            f"- small-text's embedding strategies cost {seconds['core_set'] / seconds['least_confidence']:.2f}× "
            f"(Core-Set) and {seconds['badge'] / seconds['least_confidence']:.2f}× (BADGE) its "
            "least-confidence step: `embed()` asks the model for every hidden state and runs without "
            "`torch.no_grad()`, so it records the autograd graph; Core-Set then recomputes the distances "
            "of the whole pool to every centre at each of the k picks."
        )
    for name in ("egl", "egl_last_layer"):
        row = strategies.get(name)
        if row:
            lines.append(
                f"- {row['title']}: small-text {row[SMALL_TEXT]['seconds'] / row['rows']:.3f} s per text "
                f"(one backward pass per text and class), al-bert {row[AL_BERT]['seconds'] / row['rows']:.4f} s "
                "per text ("
                + (
                    "one forward and one backward pass per batch, per-example norms by ghost norms)."
                    if name == "egl"
                    else "the closed form from one inference pass)."
                )
            )
    for base_name, bald_name, base_title in (
        ("least_confidence", "mc_dropout_bald", "least-confidence"),
        ("entropy", "bald", "entropy"),
    ):
        base, bald = strategies.get(base_name), strategies.get(bald_name)
        if not (base and bald and base_name in seconds and bald_name in seconds):
            continue
        lines.append(
            f"- MC dropout: al-bert's BALD step costs {bald[AL_BERT]['seconds'] / base[AL_BERT]['seconds']:.1f}× "
            f"its {base_title} step, small-text's {seconds[bald_name] / seconds[base_name]:.1f}× "
            "its own. al-bert switches on every dropout of the model (`module.train()`, Gal & Ghahramani; "
            "paper 1), BERT's attention-probability dropout included, which takes attention off the fused "
            "SDPA kernel and draws a batch × heads × length × length mask per layer and pass. small-text's "
            "`enable_dropout` and baal's `patch_module` switch on the `nn.Dropout` modules only, and Hugging "
            "Face's BERT applies attention dropout only when the attention module itself is in training "
            "mode, so the peers' passes skip that work (and sample a different, cheaper approximate "
            "posterior)."
        )
        break
    batch, bald = strategies.get("batchbald"), strategies.get("bald")
    if batch and bald:
        per_tool = [
            f"{tool} {batch[tool]['seconds']:.1f} s vs {bald[tool]['seconds']:.1f} s for its BALD step"
            for tool in (AL_BERT, BAAL)
            if tool in batch and tool in bald
        ]
        ours_bb = ours.get("batchbald", {})
        theirs_bb = tools.get(BAAL, {}).get("batchbald", {})
        lines.append(
            "- BatchBALD reads the same MC-dropout passes as BALD, so what it adds is the greedy batch: "
            + "; ".join(per_tool)
            + ". al-bert's joint entropy is exact while the batch has at most "
            f"{ours_bb.get('max_configurations', '?')} label configurations (C^n), then estimated from "
            f"{ours_bb.get('samples', '?')} configurations drawn once and extended by one label per pick"
            + (
                f"; baal's `BatchBALD` draws {theirs_bb['num_draw']} configurations per MC pass anew at "
                f"every step (num_draw × T joint probabilities for every pool text) and makes up to k + 1 picks "
                "(the top BALD text, then k more), of which the k highest-scoring are taken."
                if theirs_bb
                else "."
            )
        )
    return lines


def _regenerate(report: dict[str, Any], binary_rows: bool) -> str:
    dataset = report["pool"]["dataset"]
    if binary_rows and dataset == "sst2":
        return "make bench-peers"
    if dataset == "trec6":
        return "make bench-peers-multiclass"
    return f"python scripts/bench_peers.py --dataset {dataset} --out benchmarks"


def _albert_strategies(report: dict[str, Any], binary_rows: bool, new_rows: list[str]) -> str:
    binary = "`mc_dropout` with `acquisition=bald`"
    if not new_rows:
        return binary
    passes = report["tools"][AL_BERT].get("mc_passes")
    new = ", ".join(f"`{name}`" for name in new_rows) + (
        f"; `strategy.mc_passes={passes}` for the MC-dropout ones" if passes else ""
    )
    return f"{binary}; {new}" if binary_rows else new


def _selection_notes(report: dict[str, Any], binary_rows: bool, new_rows: list[str]) -> list[str]:
    """The text under the agreement table: what "same …" means, and why selections differ by design."""
    lines: list[str] = []
    if binary_rows:
        lines += [
            "\"same …\": small-text's (or baal's) selection rule run on al-bert's probabilities, embeddings "
            "or MC samples (a stand-in classifier returning them; `GreedyCoreset(normalize=False)` with the "
            "`embeddings=` argument), against al-bert's selection. \"own inference\": each tool's own timed "
            "run; these differ by design where noted below.",
            "",
            "- Least confidence: small-text ranks by 1 − max p, al-bert by the entropy of p; for two classes "
            "both order by |p − 0.5|. Own inference differs only through bf16 (al-bert) vs fp32 probabilities.",
            "- Core-Set: small-text embeds each text by the mean of the last hidden states over all positions "
            "but [CLS], padding included, L2-normalised; al-bert uses the vector that enters the classifier "
            "(here the pooler output). Given the same embeddings the greedy k-center rule is the same.",
            "- BADGE: for two classes small-text 1.4.1 seeds k-means++ (scikit-learn's, with local trials) on the "
            "plain embeddings (`get_badge_embeddings` only scales them when `num_classes > 2`), not on gradient "
            "embeddings as Ash et al. and al-bert do; selections are not comparable.",
            "- EGL, full model: small-text sums |g| over all parameters (`torch.sqrt(params.pow(2)).sum()`, an "
            "L1 norm), al-bert takes the L2 norm (Settles et al.); rankings differ by design. Classification "
            "layer: both take the L2 norm of the weight-and-bias gradient, so the scores agree (compared in fp32).",
            "- MC-dropout BALD: each tool draws its own dropout masks, so own-inference selections differ by chance.",
        ]
    else:
        lines += [
            "\"same …\": small-text's or baal's selection rule run on al-bert's class probabilities or MC "
            "samples (for small-text a stand-in classifier returning them, for baal the [n, C, T] array its "
            "heuristics take), against al-bert's selection. \"own inference\": each tool's own timed run.",
            "",
        ]
    tools = report["tools"]
    ours_bb = tools[AL_BERT].get("batchbald", {})
    theirs_bb = tools.get(BAAL, {}).get("batchbald", {})
    notes = {
        "entropy": "- Entropy: small-text's `PredictionEntropy` (scipy's entropy of each row), baal's "
        "`Entropy` and al-bert all rank by −Σ_c p_c log p_c, highest first. Own inference differs only "
        "through bf16 (al-bert) vs fp32 probabilities.",
        "margin": "- Margin: small-text's `BreakingTies`, baal's `Margin` and al-bert all rank by "
        "p_(1) − p_(2), smallest first (al-bert scores 1 − margin). Own inference differs only through bf16 "
        "(al-bert) vs fp32 probabilities.",
        "bald": "- BALD: all three take H[p̄] − (1/T) Σ_t H[p_t] over the T passes (small-text in bits with "
        "ε = 1e-8 inside the logarithm, so near-ties at the k-th score may swap); each tool draws its own "
        "dropout masks, so own-inference selections differ by chance.",
        "batchbald": "- BatchBALD: the same greedy objective (Kirsch et al. 2019), estimated differently, so "
        "even on the same MC samples the batches agree only in part: al-bert's joint entropy is exact up to "
        f"{ours_bb.get('max_configurations', '?')} label configurations, then estimated from "
        f"{ours_bb.get('samples', '?')} sampled ones; baal samples "
        f"{theirs_bb.get('num_draw', '?')} configurations per pass from the second pick on (with torch's "
        "generator). Both greedy runs open with the text of the highest BALD score, but baal makes up "
        "to k + 1 picks and keeps the k of highest score, and its scores (the joint entropy of batch and "
        "candidate minus the candidate's conditional entropy alone) grow with the batch, so that first "
        'pick is usually the one dropped ("BALD top selected"). Own-inference selections also differ by '
        "their dropout masks.",
    }
    lines += [notes[name] for name in new_rows]
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    """``peers.md`` from the report (``--render`` rebuilds it from a saved ``peers.json``)."""
    pool, model, tools, machine = (
        report["pool"],
        report["model"],
        report["tools"],
        report["machine"],
    )
    strategies: dict[str, dict[str, Any]] = report["strategies"]
    ver = report["versions"]
    num_classes = int(pool.get("num_classes", 2))
    binary_rows = any(name in ROW_NAMES for name in strategies)
    new_rows = [name for name in strategies if name in MULTICLASS_ROW_NAMES]
    classes = (
        f"{num_classes} classes: {', '.join(pool.get('classes') or [])}; "
        if num_classes > 2
        else ""
    )
    baal_rule = (
        "its heuristic (`Entropy`, `Margin` on one deterministic pass; `BALD`, `BatchBALD` on the MC "
        "passes)"
        if new_rows
        else "`BALD`"
    )
    lines = [
        f"# al-bert vs small-text and baal: seconds per selection step ({pool['pool_size']} "
        f"{pool['dataset'].upper()} texts{f', {num_classes} classes' if num_classes > 2 else ''})",
        "",
        f"Goal: {report['goal']}.",
        "",
        f"Pool: {pool['pool_size']} texts of {pool['dataset']}'s {pool['split']} split ({classes}mean "
        f"{pool['tokens_mean']} tokens, median {pool['tokens_median']:g}, longest {pool['tokens_max']}), "
        f"{pool['labelled_size']} labelled, k = {pool['k']} per step. Model: {model['backbone']}, head "
        f"{model['head']}; {model['weights']}. Largest probability difference between al-bert (fp32) and "
        f"small-text on the same texts: {model['same_weights_max_abs_prob_diff_fp32']:.1e}.",
        "",
        "Each cell is one selection step as the tool's user runs it: the pool inference the strategy needs "
        "plus its selection (al-bert: `pool_outputs` + `Strategy.select`; small-text: `QueryStrategy.query`; "
        f"baal: `BaalTransformersTrainer.predict_on_dataset` + {baal_rule}), the minimum over the repeats shown "
        "in brackets; the tools alternate within each repeat. Ratio = peer seconds / al-bert seconds.",
        "",
        "| strategy | peer | al-bert s | small-text s | small-text / al-bert | baal s | "
        f"baal / al-bert | goal ≥ {GOAL:g}× |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in strategies.values():
        title = row["title"] + (
            f" ({row['rows']}-text subset, k = {row['k']})" if "rows" in row else ""
        )
        goal = "—" if "goal_met" not in row else ("met" if row["goal_met"] else "**not met**")
        lines.append(
            f"| {title} | {row['peer']} | {_seconds(row.get(AL_BERT))} | {_seconds(row.get(SMALL_TEXT))} | "
            f"{_ratio(row.get(SMALL_TEXT))} | {_seconds(row.get(BAAL))} | {_ratio(row.get(BAAL))} | {goal} |"
        )
    met = [row["goal_met"] for row in strategies.values() if "goal_met" in row]
    lines += [
        "",
        f"Goal met for {sum(met)} of {len(met)} strategies both tools offer"
        + (
            "."
            if all(met)
            else f": not for {', '.join(n for n, r in strategies.items() if r.get('goal_met') is False)}."
        ),
    ]
    alone = [row["title"] for row in strategies.values() if SMALL_TEXT not in row]
    if alone:
        lines[-1] += f" No small-text counterpart, so no goal: {', '.join(alone)}."
    once = [row["title"] for row in strategies.values() if len(row[AL_BERT]["runs"]) == 1]
    if once and any(len(row[AL_BERT]["runs"]) > 1 for row in strategies.values()):
        lines[-1] += (
            f" Ran once: {', '.join(once)} (a step took longer than `--repeat-under`, "
            f"{report.get('repeat_under_s', 300):g} s), so its ratio carries one run's noise."
        )
    lc = strategies.get("least_confidence", {})
    if AL_BERT_FP32 in lc:
        lines += [
            "",
            f"al-bert's least confidence with fp32 instead of bf16-autocast inference: "
            f"{lc[AL_BERT_FP32]['seconds']:.2f} s (small-text / that: "
            f"{lc[SMALL_TEXT]['seconds'] / lc[AL_BERT_FP32]['seconds']:.2f}×).",
        ]
    egl = strategies.get("egl", {})
    if "full_pool" in egl:
        full = egl["full_pool"]
        lines += [
            "",
            f"EGL over the whole pool: al-bert {full[AL_BERT]:.1f} s measured; small-text about "
            f"{full['small_text_estimate']:.0f} s estimated ({full['estimate_basis']}: its cost is one "
            "backward pass per example and class, so it grows linearly with the pool).",
        ]
    lines += _why(report)
    defaults = report.get("peer_defaults", {})
    if "default" in defaults:
        best, default = defaults["best"], defaults["default"]
        lines += [
            "",
            f"small-text with its defaults: least confidence on the first {defaults['rows']} pool texts took "
            f"{default['least_confidence_seconds']:.2f} s with max_length {default['max_length']} and "
            f"mini_batch_size {default['mini_batch_size']} (the defaults), {best['least_confidence_seconds']:.2f} s "
            f"with max_length {best['max_length']} and mini_batch_size {best['mini_batch_size']} (used above).",
        ]
    lines += [
        "",
        "## How each tool was configured",
        "",
        "| tool | version | max length | inference batch | precision | padding | MC dropout |",
        "|---|---|---|---|---|---|---|",
    ]
    for tool, settings in tools.items():
        lines.append(
            f"| {tool} | {ver.get(tool)} | {settings['max_length']} | {settings['batch_size']} | "
            f"{settings['precision']} | {settings['padding']} | {settings['mc_dropout']} |"
        )
    st = tools.get(SMALL_TEXT, {})
    if st and not binary_rows:
        d = st["defaults"]
        found = st.get("batchbald_classes")
        lines += [
            "",
            "small-text's defaults where they differ: "
            f"`TransformersDataset.from_arrays(max_length={d['max_length']})`, "
            f"`TransformerBasedClassification(mini_batch_size={d['mini_batch_size']})` (used for inference "
            f"too); here max_length is fitted to the pool's longest text and the mini-batch is "
            f"{st['batch_size']}. small-text {ver['small-text']} has no mixed-precision inference option"
            + (
                ", and no BatchBALD (no class of that name in its source)."
                if found == []
                else f"; its BatchBALD classes: {', '.join(found)} (not benchmarked)."
                if found
                else "."
            )
            + f" `TransformerBasedClassification(num_classes={num_classes})` on the same "
            f"{num_classes}-class model; `BALD(dropout_samples=T)` replicates each batch T times in one "
            "forward pass.",
        ]
    elif st:
        d = st["defaults"]
        lines += [
            "",
            "small-text's defaults where they differ: "
            f"`TransformersDataset.from_arrays(max_length={d['max_length']})`, "
            f"`TransformerBasedClassification(mini_batch_size={d['mini_batch_size']})` (used for inference "
            f"too), `ExpectedGradientLength(batch_size={d['egl_batch_size']})`; here max_length is fitted to "
            f"the pool's longest text, the mini-batch is {st['batch_size']} and EGL's batch is "
            f"{st['egl_batch_size']} (each per-example backward pass runs through its whole batch's graph, so "
            "smaller is faster). small-text 1.4.1 has no mixed-precision inference option. Core-Set: "
            f"{d['core_set']}; the embedding strategies get `pbar=None`. Query strategies score exactly the "
            "rows al-bert scores: the pool (plus the labelled set for Core-Set, whose centres it is).",
        ]
    if BAAL in tools:
        lines += [
            "",
            f"baal: `BaalTransformersTrainer(replicate_in_memory=True)` on the same model after "
            f"`patch_module`, `per_device_eval_batch_size={tools[BAAL]['batch_size']}` (HF default "
            f"{tools[BAAL]['defaults']['per_device_eval_batch_size']}); selection = the top k of "
            "`baal.active.heuristics.BALD` (which applies the softmax to the logits)"
            + (
                "; entropy and margin: `Entropy` and `Margin` on one deterministic pass of a second "
                "trainer on the model without `patch_module` (`predict_on_dataset` puts it in eval "
                "mode), as a baal user without MC dropout runs them"
                if "single_pass" in tools[BAAL]
                else ""
            )
            + (
                f"; BatchBALD: `BatchBALD(num_samples=k)` (num_draw {tools[BAAL]['batchbald']['num_draw']}, "
                "baal's default) on the MC passes, then the top k of its ranking as `ActiveLearningLoop` "
                "takes them"
                if "batchbald" in tools[BAAL]
                else ""
            )
            + ".",
        ]
    lines += [
        "",
        f"al-bert: `model={model['config']} model.pooling=pooler` (the MiniLM preset pools with the "
        "masked mean; the pooler head is BertForSequenceClassification's, so the tools share one "
        "function; the two poolings cost about the same), inference precision "
        f"{tools[AL_BERT]['precision']}, the strategies from `conf/strategy/` "
        f"with `weighting=uniform` ({_albert_strategies(report, binary_rows, new_rows)}).",
        "",
        "## Selections where the algorithm is the same",
        "",
        "| strategy | given | overlap of the k selected |",
        "|---|---|---|",
    ]
    for name, row in strategies.items():
        for key, value in row.get("agreement", {}).items():
            lines.append(_agreement_line(name, key, value))
    lines += ["", *_selection_notes(report, binary_rows, new_rows)]
    lines += [
        "",
        "## Compatibility with the pinned stack",
        "",
        f"Installed next to torch {ver['torch']}, transformers {ver['transformers']}, numpy {ver['numpy']}, "
        f"scikit-learn {ver['scikit-learn']} (none changed): small-text {ver['small-text']}, baal {ver['baal']}.",
        "",
        "- `small-text[transformers]` pulls torchtext; its last release (0.18.0) is built for torch 2.3 and "
        "does not load with this torch (undefined symbol in libtorchtext.so). small-text never imports it, "
        "so the `bench` extra installs small-text without the `[transformers]` extra.",
        "- baal 2.1.0 requires `jupyter` (about 50 packages, none touching the pinned stack), which the "
        "`bench` extra therefore installs too, with `accelerate` from baal's `nlp` extra (its Trainer "
        "wrapper needs it); baal itself only imports structlog besides the stack, so "
        "`pip install --no-deps baal` plus structlog and accelerate also works.",
    ]
    for key, value in st.get("notes", {}).items():
        if value != "works":
            what = {
                "from_arrays": "`TransformersDataset.from_arrays`",
                "egl_with_classifier": "`ExpectedGradientLength` with `TransformerBasedClassification`",
            }.get(key, key)
            fix = {
                "from_arrays": "the dataset is built from `tokenizer(...)` tuples exactly as from_arrays pads them",
                "egl_with_classifier": "EGL runs through a 10-line adapter whose `model(ids)` returns the "
                "logits, with the attention mask rebuilt from the padding (small-text calls the model "
                "without a mask)",
            }.get(key, "")
            lines.append(f"- {what} fails here: `{value}`; {fix}.")
    others = machine["other_processes_start_end"]
    cpu = " and ".join(f"{o['cpu_percent']:.0f} %" if o else "?" for o in others)
    busiest = sorted({b["command"] for o in others if o for b in o["busiest"]})
    lines += [
        "",
        "## Machine",
        "",
        f"{machine['device']} ({machine['processor']}, {machine['cpu_count']} cores, torch threads "
        f"{machine['torch_threads']}), {machine['platform']}; Python {ver['python']}. Load average (1, 5, 15 min) "
        f"at start {machine['load_average_start']}, at the end {machine['load_average_end']}; other "
        f"processes used {cpu} CPU (100 % = one core) at start and end"
        + (f" (busiest: {'; '.join(f'`{b}`' for b in busiest)})." if busiest else ".")
        + (
            " The machine was shared with those jobs during the run: absolute seconds are inflated "
            "and noisy; the tools alternate within each repeat and the minima are compared."
            if machine.get("shared")
            else ""
        ),
        "",
        f"Whole run: {report['wall_seconds']:.0f} s. Regenerate with `{_regenerate(report, binary_rows)}` "
        '(needs `pip install -e ".[bench]"`).',
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks")
    parser.add_argument(
        "--name",
        default=None,
        help="file stem of the report in --out (default: peers for sst2, else peers_<dataset>)",
    )
    parser.add_argument(
        "--dataset",
        default="sst2",
        help="a conf/dataset name (its train split); binary, or multi-class (e.g. trec6, isear7)",
    )
    parser.add_argument(
        "--model", default="minilm", help="a conf/model name (pooling set to pooler)"
    )
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--labelled", type=int, default=200)
    parser.add_argument("--k", type=int, default=50, help="examples selected per step")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--repeat-under",
        type=float,
        default=300.0,
        help="repeat a strategy only while each tool's step takes less than this many seconds",
    )
    parser.add_argument("--egl-subset", type=int, default=40, help="pool texts for the EGL rows")
    parser.add_argument("--k-subset", type=int, default=10, help="selected per EGL step")
    parser.add_argument("--mc-passes", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=3, help="0: fixed random head")
    parser.add_argument("--batch", type=int, default=256, help="al-bert's inference batch")
    parser.add_argument(
        "--peer-batch", type=int, default=256, help="small-text / baal inference batch"
    )
    parser.add_argument("--peer-egl-batch", type=int, default=1, help="small-text EGL batch size")
    parser.add_argument("--defaults-subset", type=int, default=100)
    parser.add_argument(
        "--strategies",
        nargs="*",
        default=None,
        choices=[row.name for row in ALL_ROWS],
        help=f"default: {' '.join(ROW_NAMES)} on a binary pool, {' '.join(MULTICLASS_ROW_NAMES)} on a "
        "multi-class one (where only these run)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--smoke", action="store_true", help="tiny random model and pool")
    parser.add_argument("--render", action="store_true", help="rebuild peers.md from peers.json")
    args = parser.parse_args(argv)
    if args.smoke:
        smoke_settings(args)
    return args


def report_stem(args: argparse.Namespace) -> str:
    """``--name``, else ``peers`` for the default (binary SST-2) pool and ``peers_<dataset>`` for any
    other, so that a multi-class run never overwrites the binary report."""
    if args.name:
        return str(args.name)
    return "peers" if args.dataset == "sst2" else f"peers_{args.dataset}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    out, stem = Path(args.out), report_stem(args)
    if args.render:
        saved = json.loads((out / f"{stem}.json").read_text())
        (out / f"{stem}.md").write_text(render_markdown(saved))
        return saved
    report = run(args)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    (out / f"{stem}.md").write_text(render_markdown(report))
    return report


if __name__ == "__main__":
    main()
