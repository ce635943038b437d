"""Core-Set (Sener & Savarese 2018), as in Ein-Dor et al. (2020) §3.3: greedy k-center over the
pooled [CLS] embeddings of the fine-tuned model, with the labelled set L as the initial centres.

Each pick is ``argmax_x w(x) · min_{c ∈ L ∪ S} ‖h(x) − h(c)‖`` over the pool rows of positive weight
(Fairstein et al., Algorithm 3, applied to k-center's covering criterion); uniform weights give the
published greedy rule ("k-Center-Greedy", Sener & Savarese Algorithm 1). The arithmetic lives in
:func:`al_bert.index.greedy_k_center` (running minimum distance, exact float64 scores, ties to the
lowest row).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from al_bert.index import greedy_k_center
from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.strategies.base import Strategy, check_selectable, index_backend


class CoreSet(Strategy):
    """Ein-Dor et al. (2020) §3.3 "Core-Set": weighted greedy k-center, L as initial centres."""

    name: ClassVar[str] = "core_set"
    request: InferenceRequest = InferenceRequest(
        frozenset({Need.EMBEDDINGS, Need.LABELLED_EMBEDDINGS})
    )

    def __init__(self, backend: str = "auto") -> None:
        self.backend = index_backend(backend)
        """Index back-end: auto | faiss-gpu | faiss-cpu | torch (same selection on each)."""

    def select(
        self, outputs: PoolOutputs, weights: np.ndarray, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        weights = check_selectable(weights, k)
        embeddings = outputs.require("embeddings")
        labelled = outputs.labelled_embeddings
        initial = None if labelled is None or len(labelled) == 0 else np.asarray(labelled)
        picked = greedy_k_center(
            embeddings, k, initial_centers=initial, weights=weights, backend=self.backend
        )
        return np.sort(picked)
