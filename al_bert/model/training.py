"""Fine-tuning one model from the pretrained weights on the labelled set (the trainer config group)."""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from lightning.pytorch.plugins.environments import LightningEnvironment

from al_bert.data.datamodule import ALDataModule
from al_bert.devices import bf16_supported, release_memory
from al_bert.errors import ConfigError
from al_bert.model.backbones import BackboneConfig
from al_bert.model.module import ALClassifier, OptimConfig
from al_bert.validation import choice, finite_number, flag, text, whole_number

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "bf16", "32")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda")


@dataclass(frozen=True)
class TrainingConfig:
    """The ``trainer`` config group (``ein_dor``, ``fairstein``, ``fast``)."""

    name: str = "custom"
    max_epochs: int = 5
    lr: float = 5e-5
    batch_size: int = 50
    eval_batch_size: int = 256
    max_length: int = 100
    select_best_on_dev: bool = True
    """Keep the epoch with the best dev score (paper 1 §3.5); needs a dev split."""
    oversample_positives_to: float | None = None
    """Repeat positives until they are at least this fraction of each epoch (paper 2 §5.4)."""
    weight_decay: float = 0.0
    """AdamW's decoupled weight decay (not on biases and LayerNorm weights)."""
    warmup_ratio: float = 0.0
    """Fraction of the optimiser steps with a linear warm-up; then linear decay to 0."""
    adam_epsilon: float = 1e-8
    max_grad_norm: float | None = None
    """Clip the global gradient norm to this value (None: no clipping)."""
    fused_adamw: bool = False
    """torch's fused AdamW kernel (one pass over all parameters; ~5x faster on CPU than the default
    per-tensor loop, and rounds differently in the last bit). ``False`` (the default here, and the
    value the committed reproduction was made with) is left out of run keys; the shipped trainers set
    ``true`` (docs/reproducibility.md)."""
    precision: str = "auto"
    """Training precision: ``auto`` (bf16 mixed where the device supports it), ``bf16`` or ``32``."""
    inference_precision: str = "auto"
    accelerator: str = "auto"
    """``auto`` takes one GPU when present, else the CPU."""

    def __post_init__(self) -> None:
        text("trainer.name", self.name)
        whole_number("trainer.max_epochs", self.max_epochs, low=1)
        finite_number("trainer.lr", self.lr, low=0, open_low=True)
        whole_number("trainer.batch_size", self.batch_size, low=1)
        whole_number("trainer.eval_batch_size", self.eval_batch_size, low=1)
        whole_number("trainer.max_length", self.max_length, low=8)
        flag("trainer.select_best_on_dev", self.select_best_on_dev)
        finite_number(
            "trainer.oversample_positives_to",
            self.oversample_positives_to,
            low=0,
            high=1,
            open_low=True,
            open_high=True,
            nullable=True,
        )
        finite_number("trainer.weight_decay", self.weight_decay, low=0)
        finite_number("trainer.warmup_ratio", self.warmup_ratio, low=0, high=1, open_high=True)
        finite_number("trainer.adam_epsilon", self.adam_epsilon, low=0, open_low=True)
        finite_number(
            "trainer.max_grad_norm", self.max_grad_norm, low=0, open_low=True, nullable=True
        )
        flag("trainer.fused_adamw", self.fused_adamw)
        for field_name in ("precision", "inference_precision"):
            value = getattr(self, field_name)
            # ``precision=32`` arrives as the integer 32 from an override or YAML.
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            choice(f"trainer.{field_name}", value, PRECISIONS)
        choice("trainer.accelerator", self.accelerator, ACCELERATORS)

    def optim(self, backbone: BackboneConfig) -> OptimConfig:
        """The optimiser settings of this trainer, with the backbone's head learning rate."""
        return OptimConfig(
            lr=self.lr,
            weight_decay=self.weight_decay,
            warmup_ratio=self.warmup_ratio,
            adam_epsilon=self.adam_epsilon,
            head_lr=backbone.head_lr,
            fused=self.fused_adamw,
        )

    def device(self) -> torch.device:
        if self.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
            return torch.device("cuda")
        if self.accelerator in ("gpu", "cuda"):
            raise ConfigError(
                f"trainer.accelerator={self.accelerator}: no CUDA GPU is visible here; "
                "use trainer.accelerator=auto or cpu"
            )
        return torch.device("cpu")

    def use_bf16(self, device: torch.device, *, inference: bool) -> bool:
        setting = str(self.inference_precision if inference else self.precision)
        if setting == "32":
            return False
        return bf16_supported(device) if setting == "auto" else True


class _KeepBestEpoch(L.Callback):
    """Remember the weights of the epoch with the highest ``dev_score`` and restore them at the end."""

    def __init__(self) -> None:
        self.best_score = -float("inf")
        self.best_epoch = -1
        self.best_state: dict[str, torch.Tensor] | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        score = float(trainer.callback_metrics.get("dev_score", torch.tensor(-1.0)))
        if score > self.best_score:
            self.best_score, self.best_epoch = score, trainer.current_epoch
            self.best_state = copy.deepcopy(
                {k: v.detach().cpu() for k, v in pl_module.state_dict().items()}
            )

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.best_state is not None:
            pl_module.load_state_dict(self.best_state)


def ignore_slurm_environment() -> None:
    """Silence Lightning's "The `srun` command is available on your system but is not used" where it is
    emitted (every Trainer and every fit on a host with ``srun`` on PATH: each SLURM login and compute
    node). al-bert runs one process per job and never uses Lightning's SLURM integration, so the hint
    does not apply; call inside ``warnings.catch_warnings()``."""
    warnings.filterwarnings("ignore", message=r"The `srun` command is available on your system")


def fit_model(
    backbone: BackboneConfig,
    training: TrainingConfig,
    datamodule: ALDataModule,
    rows: np.ndarray,
    labels: np.ndarray,
    seed: int,
    callbacks: Sequence[L.Callback] = (),
) -> ALClassifier:
    """Fine-tune a fresh pretrained backbone on ``rows`` with ``labels`` (never the last round's model);
    ``callbacks`` join the Trainer's (``make bench-train`` times each step with one)."""
    device = training.device()
    L.seed_everything(seed, workers=True, verbose=False)
    datamodule.setup()
    datamodule.set_labelled(rows, labels, seed)
    train_rows, _ = datamodule.train_rows()
    steps_per_epoch = int(np.ceil(train_rows.size / training.batch_size))
    module = ALClassifier(
        backbone,
        training.optim(backbone),
        total_steps=steps_per_epoch * training.max_epochs,
        num_classes=datamodule.task.num_classes,
    )
    # transformers ≥ 5 loads models in eval mode and Lightning keeps the mode it finds: without this,
    # dropout would be silently off during fine-tuning.
    module.train()
    use_dev = training.select_best_on_dev and "dev" in datamodule.splits
    _run_trainer(module, datamodule, training, device, use_dev, callbacks)
    # The Trainer, its optimiser state (2× the weights for AdamW) and loaders form reference cycles
    # that are garbage once _run_trainer returns: free them now, not at Python's occasional full
    # collection (an in-process sweep otherwise grows by a model + optimiser per fit).
    release_memory(device)
    module.eval()
    return module


def _run_trainer(
    module: ALClassifier,
    datamodule: ALDataModule,
    training: TrainingConfig,
    device: torch.device,
    use_dev: bool,
    callbacks: Sequence[L.Callback] = (),
) -> None:
    """Fit ``module`` with a Lightning Trainer that nothing references afterwards."""
    keeper = _KeepBestEpoch()
    with warnings.catch_warnings():
        ignore_slurm_environment()
        trainer = L.Trainer(
            max_epochs=training.max_epochs,
            accelerator="gpu" if device.type == "cuda" else "cpu",
            devices=1,
            precision="bf16-mixed" if training.use_bf16(device, inference=False) else "32-true",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            gradient_clip_val=training.max_grad_norm,
            gradient_clip_algorithm="norm",
            limit_val_batches=1.0 if use_dev else 0,
            callbacks=[*([keeper] if use_dev else []), *callbacks],
            deterministic="warn",
            # One process per job: never Lightning's SLURM integration (rank mapping, its SIGUSR1
            # requeue handler); a SLURM job is requeued by the launcher and resumes from run.json.
            plugins=[LightningEnvironment()],
        )
    with warnings.catch_warnings():
        ignore_slurm_environment()
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*deterministic.*")
        trainer.fit(module, datamodule=datamodule)
    if use_dev:
        log.debug("best dev epoch %d (score %.4f)", keeper.best_epoch, keeper.best_score)
    module.trainer = None
    datamodule.trainer = None
