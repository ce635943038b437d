"""The BERT-style sequence classifier as a LightningModule.

Head as in ``BertForSequenceClassification`` (Devlin et al. 2019): sentence vector (BERT's pooler by default,
or [CLS], or the masked mean of the last hidden states: ``model.pooling``) → dropout → linear
layer over the C classes (2 for the papers' binary tasks). We own the head so that inference returns, in
the same forward pass, the class probabilities (binary: the positive class's alone) and the pooled vector
that enters the classification layer (the [CLS]
embedding used by Core-Set, DAL, PE, EGL and BADGE).
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import torch
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.utilities import GradClipAlgorithmType
from torch import nn
from torchmetrics.functional.classification import binary_f1_score, multiclass_f1_score
from transformers import PreTrainedModel, get_linear_schedule_with_warmup

from al_bert.errors import NonFiniteLossError
from al_bert.model.backbones import BackboneConfig, hidden_size, load_encoder


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warm-up and linear decay to 0 (BERT's fine-tuning optimiser)."""

    lr: float = 5e-5
    weight_decay: float = 0.0
    """Decoupled weight decay, never on biases and LayerNorm weights (as BERT's optimiser)."""
    warmup_ratio: float = 0.0
    adam_epsilon: float = 1e-8
    head_lr: float | None = None
    """Learning rate of the classification layer (None: ``lr``)."""
    fused: bool = False
    """torch's fused AdamW (one kernel over all parameters) instead of its per-tensor loop."""


class SequenceClassifier(nn.Module):
    """Encoder + sentence vector (``pooling``) + dropout + linear (``num_classes`` classes)."""

    def __init__(
        self,
        encoder: PreTrainedModel,
        dropout: float,
        pooling: str = "pooler",
        num_classes: int = 2,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size(encoder), num_classes)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (logits (B, C), pooled (B, d))."""
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        pooled = getattr(out, "pooler_output", None) if self.pooling == "pooler" else None
        if self.pooling == "mean":
            mask = attention_mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
            pooled = (out.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        elif pooled is None:
            pooled = out.last_hidden_state[:, 0]
        return self.classifier(self.dropout(pooled)), pooled


class ALClassifier(L.LightningModule):
    """Fine-tunes a fresh copy of the pretrained backbone on the labelled set L."""

    def __init__(
        self, backbone: BackboneConfig, optim: OptimConfig, total_steps: int, num_classes: int = 2
    ) -> None:
        super().__init__()
        self.num_classes = int(num_classes)
        self.net = SequenceClassifier(
            load_encoder(backbone), backbone.dropout, backbone.pooling, self.num_classes
        )
        self.optim = optim
        self.total_steps = max(1, total_steps)
        self.loss = nn.CrossEntropyLoss()
        self._val_probs: list[torch.Tensor] = []
        self._val_labels: list[torch.Tensor] = []

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(input_ids, attention_mask)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        logits, _ = self(batch["input_ids"], batch["attention_mask"])
        loss = self.loss(logits.float(), batch["labels"])
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"non-finite training loss ({loss.item()}) at epoch {self.current_epoch}, step "
                f"{batch_idx}: lower trainer.lr or use trainer.precision=32"
            )
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["labels"]))
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        logits, _ = self(batch["input_ids"], batch["attention_mask"])
        self._val_probs.append(self.class_probabilities(logits))
        self._val_labels.append(batch["labels"])

    def on_validation_epoch_end(self) -> None:
        if not self._val_probs:
            return
        probs = torch.cat(self._val_probs)
        labels = torch.cat(self._val_labels)
        self._val_probs.clear()
        self._val_labels.clear()
        self.log("dev_score", dev_selection_score(probs, labels), prog_bar=True)

    def class_probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Softmax probabilities: the positive class's alone ``(B,)`` for a binary head (the papers'
        layout everywhere downstream), all of them ``(B, C)`` for C > 2."""
        probs = torch.softmax(logits.float(), dim=-1)
        return probs[:, 1] if self.num_classes == 2 else probs

    def predict_step(
        self, batch: dict[str, torch.Tensor], batch_idx: int
    ) -> dict[str, torch.Tensor]:
        """Per-example class probabilities and the sentence vector that enters the classifier."""
        logits, pooled = self(batch["input_ids"], batch["attention_mask"])
        return {"probs": self.class_probabilities(logits), "embeddings": pooled.float()}

    def configure_gradient_clipping(
        self,
        optimizer: torch.optim.Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Lightning's clipping. Its mixed-precision plugin refuses to clip for a fused optimiser because
        fp16's GradScaler would leave the gradients scaled (a fused step unscales inside); bf16-mixed has
        no scaler, so there the gradients are clipped exactly as the plugin's base class clips them."""
        plugin = self.trainer.precision_plugin
        if isinstance(plugin, MixedPrecision) and plugin.scaler is None and gradient_clip_val:
            algorithm = GradClipAlgorithmType(gradient_clip_algorithm or "norm")
            Precision.clip_gradients(plugin, optimizer, gradient_clip_val, algorithm)
            return
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def configure_optimizers(self):
        """AdamW in four groups: (encoder | head) × (decayed | biases and LayerNorm weights)."""
        no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
        head_lr = self.optim.head_lr or self.optim.lr
        groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
        for name, param in self.named_parameters():
            key = (name.startswith("net.classifier."), not name.endswith(no_decay))
            groups.setdefault(key, []).append(param)
        params = [
            {
                "params": group,
                "lr": head_lr if is_head else self.optim.lr,
                "weight_decay": self.optim.weight_decay if decayed else 0.0,
            }
            for (is_head, decayed), group in groups.items()
        ]
        optimizer = torch.optim.AdamW(
            params,
            lr=self.optim.lr,
            eps=self.optim.adam_epsilon,
            # None, not False: torch's own default (its per-tensor loop on CPU, foreach on CUDA).
            fused=True if self.optim.fused else None,
        )
        warmup = int(self.optim.warmup_ratio * self.total_steps)
        schedule = get_linear_schedule_with_warmup(optimizer, warmup, self.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def dev_selection_score(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The dev-set score that picks the best epoch (trainer ``ein_dor``): positive-class F1 (binary
    ``probs`` (n,)), macro-F1 over the C classes (``probs`` (n, C)).

    Paper 1 §3.5 keeps "the best model based on its performance on the dev set" without naming the
    measure; F1 of the positive class is the paper's headline metric for its imbalanced tasks and equals
    accuracy's ordering on the balanced ones often enough (docs/reproducibility.md).
    """
    if probs.ndim == 2:
        return multiclass_f1_score(
            probs.float(), labels.long(), num_classes=probs.shape[1], average="macro"
        )
    return binary_f1_score(probs.float(), labels.long(), threshold=0.5)
