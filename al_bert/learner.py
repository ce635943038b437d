"""The one thing the AL loop drives: a :class:`Learner` (baal's ``ModelWrapper`` / ``FrameworkAdapter`` idea).

A learner holds at most one fine-tuned model, M_t. The loop asks it to fit M_t on the labelled set L_t
(always from the pretrained weights, never from M_{t-1}), to run the one pool inference an iteration needs,
and for its class probabilities on the test split. :class:`al_bert.model.encoder_learner.EncoderLearner` implements
it for Hugging Face encoders; :class:`al_bert.tracking.iteration0.SharedIteration0` wraps any
:class:`CheckpointLearner` so that runs differing only in strategy or weighting train M0 once.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch

from al_bert.outputs import InferenceRequest, PoolOutputs


@runtime_checkable
class Learner(Protocol):
    """Fit on L, infer what a request asks over U (and L), predict on test."""

    def fit(self, rows: np.ndarray, labels: np.ndarray, iteration: int) -> None:
        """Fine-tune M_``iteration`` from the pretrained weights on train-split ``rows`` / ``labels``."""

    def infer(
        self,
        request: InferenceRequest,
        pool: np.ndarray,
        labelled: np.ndarray,
        labels: np.ndarray,
        iteration: int,
    ) -> PoolOutputs:
        """What ``request`` asks of the current model over the pool rows (and the labelled rows)."""

    def predict_test(self) -> np.ndarray:
        """P(y = 1 | x) of the current model on every test-split row, shape (n_test,)."""

    def release(self) -> None:
        """Drop the current model, its trainer and optimizer state (memory stays flat over a sweep)."""


@runtime_checkable
class CheckpointLearner(Learner, Protocol):
    """A learner whose current model can be saved and restored (what sharing M0 needs)."""

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The current model's weights."""

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Make a model with these weights the current model (as if :meth:`fit` had produced it)."""
