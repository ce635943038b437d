"""What one pool inference pass produces, shared by strategies, weightings and batch analyses.

The loop asks the learner once per iteration for the union of the :class:`InferenceRequest` the active
strategy, the weighting and the batch analyses declare (docs/architecture.md: "predict once over U →
PoolOutputs"). Gold labels of the pool are never part of it: only the :class:`~al_bert.oracle.Oracle`
holds them. This module is a leaf of the package graph (it imports nothing from al_bert).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np


class Need(str, Enum):
    """A model output over the pool that a consumer can ask for."""

    PROBS = "probs"
    """P(y = 1 | x) under the fine-tuned model, shape (n,); P(y = c | x) of C > 2 classes, shape (n, C)."""
    EMBEDDINGS = "embeddings"
    """The sentence vector that enters the classification layer (paper 1's "[CLS] embedding"; the
    backbone's ``model.pooling``: BERT's pooler, [CLS] or the masked mean), shape (n, d)."""
    MC_PROBS = "mc_probs"
    """P(y = 1 | x) from T stochastic passes with dropout on in the whole model, shape (T, n); shape
    (T, n, C) for C > 2 classes."""
    LABELLED_EMBEDDINGS = "labelled_embeddings"
    """The sentence vectors of the labelled set L (with ``labelled_labels``), shape (|L|, d)."""
    EXPECTED_GRAD_NORMS = "expected_grad_norms"
    """Full-model expected gradient length Σ_c p(c|x)·‖∇_θ CE(x, c)‖ over every trainable parameter,
    shape (n,) (:mod:`al_bert.model.gradients`)."""
    SURPRISAL = "surprisal"
    """ALPS surprisal embeddings from the pretrained masked-LM head, shape (n, max tokens)."""


@dataclass(frozen=True)
class InferenceRequest:
    """What one pool inference must produce: the outputs (``needs``) and how to compute them.

    Strategies, weightings and batch analyses declare theirs as the ``request`` attribute; the loop asks the
    learner once per iteration for the union (:meth:`__or__`).
    """

    needs: frozenset[Need] = frozenset()
    mc_passes: int = 0
    """T stochastic passes with dropout on for :attr:`Need.MC_PROBS` (0: none asked)."""

    def __post_init__(self) -> None:
        if Need.MC_PROBS in self.needs and self.mc_passes < 1:
            raise ValueError("a request for MC-dropout probabilities needs mc_passes ≥ 1")

    def __or__(self, other: InferenceRequest) -> InferenceRequest:
        return InferenceRequest(self.needs | other.needs, max(self.mc_passes, other.mc_passes))

    def only(self, needs: frozenset[Need]) -> InferenceRequest:
        """The same request restricted to ``needs`` (MC passes kept only if MC samples remain asked)."""
        return InferenceRequest(needs, self.mc_passes if Need.MC_PROBS in needs else 0)


@dataclass
class PoolOutputs:
    """Model outputs over the unlabelled pool U (and, when asked, the labelled set L).

    Row ``i`` of every pool array describes the train-split example at position ``pool_positions[i]``.
    """

    pool_positions: np.ndarray
    probs: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    mc_probs: np.ndarray | None = None
    expected_grad_norms: np.ndarray | None = None
    surprisal: np.ndarray | None = None
    labelled_positions: np.ndarray | None = None
    labelled_embeddings: np.ndarray | None = None
    labelled_labels: np.ndarray | None = None
    num_classes: int = 2
    """C, the classes the model predicts (``probs`` is (n,) for 2, (n, C) otherwise)."""

    def __len__(self) -> int:
        return int(len(self.pool_positions))

    def require(self, name: str) -> np.ndarray:
        """Return the output ``name`` or fail with a message naming the consumer's missing declaration."""
        value = getattr(self, name, None)
        if value is None:
            raise KeyError(
                f"PoolOutputs has no '{name}': the strategy, weighting or analysis that reads it must "
                f"declare it in its `needs`."
            )
        return np.asarray(value)


def class_probs(probs: np.ndarray) -> np.ndarray:
    """``[n, C]`` class probabilities from ``(n,)`` positive-class probabilities or ``(n, C)``."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 1:
        return np.stack([1.0 - p, p], axis=1)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probabilities must have shape (n,) or (n, C ≥ 2), got {p.shape}")
    return p


def mc_class_probs(mc_probs: np.ndarray) -> np.ndarray:
    """``[n, C, T]`` from MC-dropout passes stored as ``(T, n)`` (binary: the positive class) or
    ``(T, n, C)``."""
    mc = np.asarray(mc_probs, dtype=np.float64)
    if mc.ndim == 2:
        return np.stack([1.0 - mc.T, mc.T], axis=1)
    if mc.ndim != 3 or mc.shape[2] < 2:
        raise ValueError(
            f"MC probabilities must have shape (T, n) or (T, n, C ≥ 2), got {mc.shape}"
        )
    return np.transpose(mc, (1, 2, 0))
