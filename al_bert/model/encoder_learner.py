"""The :class:`~al_bert.learner.Learner` for Hugging Face encoders (BERT, MiniLM, …).

It owns the datamodule, fine-tunes a fresh :class:`ALClassifier` from the pretrained weights for every
iteration (:func:`al_bert.model.training.fit_model`), answers an :class:`InferenceRequest` with one pool
pass (:func:`al_bert.model.inference.pool_outputs`), and computes ALPS' surprisal embeddings once per
(pool, seed) from the pretrained masked LM (they do not depend on the fine-tuned model).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import torch

from al_bert.data.datamodule import ALDataModule
from al_bert.data.task import Task
from al_bert.devices import release_memory
from al_bert.model.backbones import BackboneConfig, load_tokenizer, tokenizer_id
from al_bert.model.inference import pool_outputs, predict_rows
from al_bert.model.module import ALClassifier
from al_bert.model.training import TrainingConfig, fit_model
from al_bert.outputs import InferenceRequest, Need, PoolOutputs

log = logging.getLogger(__name__)


def build_datamodule(
    task: Task,
    backbone: BackboneConfig,
    training: TrainingConfig,
    *,
    cache_dir: Path | None = None,
    seed: int = 0,
) -> ALDataModule:
    """The datamodule a run trains and infers with (the backbone's tokenizer, the trainer's sizes)."""
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


class EncoderLearner:
    """Fine-tunes and queries one encoder classifier per AL iteration (a :class:`CheckpointLearner`).

    ``seed`` is the run's seed: fine-tuning M_t and its MC-dropout passes draw from ``seed·1000 + t``.
    ``cache_dir`` holds tokenized splits and surprisal embeddings (None: nothing is cached on disk).
    """

    def __init__(
        self,
        task: Task,
        backbone: BackboneConfig,
        training: TrainingConfig,
        *,
        seed: int,
        cache_dir: Path | None = None,
    ) -> None:
        self.backbone, self.training, self.seed = backbone, training, int(seed)
        self.cache_dir = cache_dir
        self.device = training.device()
        self.infer_bf16 = training.use_bf16(self.device, inference=True)
        if training.select_best_on_dev and task.dev is None:
            log.warning(
                "trainer %s keeps the best dev epoch but task %s has no dev split: using the "
                "last epoch",
                training.name,
                task.name,
            )
        tokenized = cache_dir / "tokenized" if cache_dir is not None else None
        self.datamodule = build_datamodule(
            task, backbone, training, cache_dir=tokenized, seed=self.seed
        )
        self.datamodule.setup()
        self.model: ALClassifier | None = None
        self._surprisal: np.ndarray | None = None

    # ------------------------------------------------------------------ Learner
    def fit(self, rows: np.ndarray, labels: np.ndarray, iteration: int) -> None:
        self.release()
        self.model = fit_model(
            self.backbone,
            self.training,
            self.datamodule,
            rows,
            labels,
            self.seed * 1000 + iteration,
        )

    def infer(
        self,
        request: InferenceRequest,
        pool: np.ndarray,
        labelled: np.ndarray,
        labels: np.ndarray,
        iteration: int,
    ) -> PoolOutputs:
        model_needs = request.needs - {Need.SURPRISAL}
        if model_needs:
            outputs = pool_outputs(
                self._current(),
                self.datamodule,
                pool,
                labelled,
                labels,
                model_needs,
                device=self.device,
                bf16=self.infer_bf16,
                mc_passes=request.mc_passes,
                mc_seed=self.seed * 1000 + iteration,
            )
        else:
            outputs = PoolOutputs(
                pool_positions=np.asarray(pool), num_classes=self.datamodule.task.num_classes
            )
        if Need.SURPRISAL in request.needs:
            outputs.surprisal = self.surprisal()[pool]
        return outputs

    def predict_test(self) -> np.ndarray:
        predicted = predict_rows(
            self._current(),
            self.datamodule,
            "test",
            device=self.device,
            bf16=self.infer_bf16,
            embeddings=False,
        )
        return predicted["probs"]

    def release(self) -> None:
        if self.model is None:
            return
        self.model = None
        release_memory(self.device)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self._current().state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.release()
        module = ALClassifier(
            self.backbone,
            self.training.optim(self.backbone),
            total_steps=1,
            num_classes=self.datamodule.task.num_classes,
        )
        module.load_state_dict(state)
        module.eval()
        self.model = module

    # ------------------------------------------------------------------ helpers
    def _current(self) -> ALClassifier:
        if self.model is None:
            raise RuntimeError("the learner has no model: call fit() first")
        return self.model

    def surprisal(self) -> np.ndarray:
        """ALPS surprisal embeddings of every train-split row from the *pretrained* masked LM.

        Computed once per (pool, seed) and cached on disk (Yuan et al. 2020): they do not depend on the
        fine-tuned model. The random 15 % token sample follows the run's seed, as the rest of a run does.
        """
        if self._surprisal is None:
            self._surprisal = self._load_or_compute_surprisal()
        return self._surprisal

    def _load_or_compute_surprisal(self) -> np.ndarray:
        from al_bert.model.surprisal import load_masked_lm, surprisal_embeddings

        encoded = self.datamodule.splits["train"]
        path = None
        if self.cache_dir is not None:
            blob = encoded.flat.tobytes() + encoded.offsets.tobytes()
            digest = hashlib.sha256(blob).hexdigest()[:16]
            name = tokenizer_id(self.backbone).replace("/", "_")
            path = self.cache_dir / "surprisal" / f"{name}-{digest}-seed{self.seed}.npy"
            if path.exists():
                return np.load(path)
        mlm = load_masked_lm(self.backbone.name_or_path)
        width = int(encoded.lengths.max())
        ids = np.full((len(encoded), width), self.datamodule.collate.pad_id, dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        for row in range(len(encoded)):
            tokens = encoded.ids(row)
            ids[row, : tokens.size] = tokens
            mask[row, : tokens.size] = 1
        values = surprisal_embeddings(
            mlm,
            ids,
            mask,
            special_token_ids=self.datamodule.tokenizer.all_special_ids,
            seed=self.seed,
        )
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, values)
        return values
