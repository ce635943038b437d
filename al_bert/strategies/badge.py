"""BADGE: Batch Active learning by Diverse Gradient Embeddings (Ash et al., ICLR 2020).

Each pool example is embedded by the gradient of the cross-entropy loss with respect to the
classification layer's weight, taking the model's own prediction ŷ as the label (Ash et al., §3):

    g_x = (p(x) − onehot(ŷ(x))) ⊗ h(x),      p = softmax = [1 − P(y=1|x), P(y=1|x)],

where ``h`` is the pooled [CLS] vector that enters the classifier. The batch is the k seeds of
k-means++ on the g_x (Arthur & Vassilvitskii 2007). The first seed is, by default
(``first="max_norm"``), the example of largest w(x)·‖g_x‖, as in BADGE's released code
(``first="sample"``: drawn ∝ w, textbook k-means++); every further seed is exactly one draw with
probability ∝ D(x)² · w(x), D = distance to the nearest seed so far (not scikit-learn's greedy
multi-candidate variant). The weights w make this Fairstein et al.'s weighted embedding-based
algorithm (Algorithm 3).

Binary factorisation (exact). With two classes, ``p − onehot(ŷ) = a · [1, −1]`` where ``a = (1 − P)
− [ŷ = 0]`` (``a = 1 − P`` if ŷ = 1, ``a = −P`` if ŷ = 0), so ``g_x = [a·h, −a·h]`` and

    ‖g_x − g_z‖² = 2 ‖a_x h_x − a_z h_z‖².

D² sampling is invariant to a global scale of the distances, so seeding on the d-dimensional ``u_x
= a_x · h_x`` selects exactly what seeding on the 2d-dimensional g_x would, at half the memory (70k
× 768 float32 = 215 MB instead of 430 MB). :func:`gradient_embedding` still gives the full g.

C > 2 classes: no such factorisation; the k-means++ seeding runs on the full (n, C·d) embeddings.

Prediction on a tie (P = 0.5): ŷ = 0, as ``argmax([1 − P, P])`` returns the first maximum. The
classifier's bias gradient (= p − onehot(ŷ)) is not part of the embedding, as in Ash et al. Rows of
weight 0 are removed before seeding, so they are never selected.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from al_bert.index import kmeans_pp_seeding
from al_bert.outputs import InferenceRequest, Need, PoolOutputs, class_probs
from al_bert.strategies.base import Strategy, check_selectable, index_backend
from al_bert.validation import choice


def predicted_labels(probs: np.ndarray) -> np.ndarray:
    """ŷ = argmax([1 − P, P]); ties (P = 0.5) go to class 0."""
    return (np.asarray(probs, dtype=np.float64) > 0.5).astype(np.int64)


def gradient_scale(probs: np.ndarray) -> np.ndarray:
    """``a`` with ``p − onehot(ŷ) = a · [1, −1]`` for binary softmax probabilities."""
    probs = np.asarray(probs, dtype=np.float64)
    return (1.0 - probs) - (predicted_labels(probs) == 0)


def gradient_embedding(probs: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Full last-layer gradient embedding ``(p − onehot(ŷ)) ⊗ h``, shape (n, C·d), float32.

    ``probs``: P(y = 1 | x) (n,) or the C class probabilities (n, C); ŷ = argmax (first on a tie). Row
    layout: the gradient wrt the class-0 weight row, then class 1's, …
    """
    residual = class_probs(probs).copy()
    h = np.asarray(embeddings, dtype=np.float64)
    n = residual.shape[0]
    residual[np.arange(n), residual.argmax(axis=1)] -= 1.0
    return (residual[:, :, None] * h[:, None, :]).reshape(n, -1).astype(np.float32)


def badge_embedding(probs: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """``u = a · h`` (n, d) float32: the gradient embedding's geometry up to a factor √2."""
    scale = gradient_scale(np.asarray(probs).reshape(-1))
    return (scale[:, None] * np.asarray(embeddings, dtype=np.float64)).astype(np.float32)


class BadgeStrategy(Strategy):
    """BADGE with weighted k-means++ seeding (Ash et al. 2020; Fairstein et al., Algorithm 3).

    Args:
        first: ``"max_norm"`` (BADGE's code: first seed = argmax w·‖g‖) or ``"sample"`` (∝ w).
        backend: :mod:`al_bert.index` backend (``auto``, ``faiss-gpu``, ``faiss-cpu``, ``torch``).
    """

    name: ClassVar[str] = "badge"
    request: InferenceRequest = InferenceRequest(frozenset({Need.PROBS, Need.EMBEDDINGS}))

    def __init__(
        self, first: Literal["max_norm", "sample"] = "max_norm", backend: str = "auto"
    ) -> None:
        self.first: Literal["max_norm", "sample"] = choice(
            "strategy.first", first, ("max_norm", "sample")
        )
        self.backend = index_backend(backend)

    def select(
        self, outputs: PoolOutputs, weights: np.ndarray, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        weights = check_selectable(weights, k)
        probs = outputs.require("probs")
        embeddings = outputs.require("embeddings")
        if probs.shape[0] != weights.shape[0] or embeddings.shape[0] != weights.shape[0]:
            raise ValueError("probs, embeddings and weights must have one row per pool example")
        rows = np.flatnonzero(weights > 0)
        points = (
            gradient_embedding(probs[rows], embeddings[rows])  # C > 2: the C·d embedding
            if probs.ndim == 2
            else badge_embedding(probs[rows], embeddings[rows])
        )
        seeds = kmeans_pp_seeding(
            points, k, rng, weights=weights[rows], backend=self.backend, first=self.first
        )
        return np.sort(rows[np.asarray(seeds, dtype=np.int64)])
