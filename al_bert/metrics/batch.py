"""Batch analyses of paper 1 §5, computed each iteration from the pool inference the strategy used.

Distances are Euclidean in the [CLS] embedding space of the model that selected the batch; all
neighbour search goes through :mod:`al_bert.index`.
"""

from __future__ import annotations

import numpy as np

from al_bert import index
from al_bert.outputs import InferenceRequest, Need, PoolOutputs


def diversity(pool: np.ndarray, batch: np.ndarray, neighbour: int = 1) -> float:
    """D(B) = (mean over x ∈ U of its distance to the ``neighbour``-th nearest b ∈ B)⁻¹.

    ``neighbour=1`` is paper 1's equation (1) (min over B; Zhdanov 2019). ``neighbour=2`` is what paper
    1's released code computes (``DiversityCalculator``: the second-nearest batch member, so a batch
    member counts its nearest other member). Infinite when every distance is 0; nan when B has fewer
    than ``neighbour`` members.
    """
    return _diversities(pool, batch, neighbour)[neighbour - 1]


def _diversities(pool: np.ndarray, batch: np.ndarray, neighbours: int) -> list[float]:
    """:func:`diversity` for ``neighbour`` = 1 … ``neighbours`` from one nearest-neighbour search."""
    k = min(neighbours, batch.shape[0])
    distances, _ = index.knn(pool, batch, k)
    values = []
    for column in range(neighbours):
        if column >= k:
            values.append(float("nan"))
            continue
        mean = float(np.mean(distances[:, column], dtype=np.float64))
        values.append(float("inf") if mean == 0.0 else 1.0 / mean)
    return values


def representativeness(pool: np.ndarray, batch_rows: np.ndarray, k: int = 10) -> float:
    """1 / (mean over b ∈ B of its K-NN density), density = mean distance to its K nearest pool points.

    ``batch_rows`` index ``pool`` (the batch is part of U); a point is not its own neighbour.
    """
    k = min(k, pool.shape[0] - 1)
    distances, neighbours = index.knn(pool[batch_rows], pool, k + 1)
    density = np.empty(batch_rows.size, dtype=np.float64)
    for i, row in enumerate(batch_rows):
        others = neighbours[i] != row
        density[i] = float(np.mean(distances[i][others][:k]))
    mean = float(density.mean())
    return float("inf") if mean == 0.0 else 1.0 / mean


def batch_overlap(a: np.ndarray | list[str], b: np.ndarray | list[str]) -> float:
    """|A ∩ B| / |A| for two batches of equal size selected from the same model and pool."""
    set_a, set_b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    return len(set_a & set_b) / max(1, len(set_a))


class Diversity:
    """Per-iteration diversity of the selected batch: paper 1's equation (1) as ``diversity``, its
    released code's second-nearest variant as ``diversity_second_nearest``."""

    request: InferenceRequest = InferenceRequest(frozenset({Need.EMBEDDINGS}))

    def __call__(self, outputs: PoolOutputs, selected: np.ndarray) -> dict[str, float]:
        embeddings = outputs.require("embeddings")
        nearest, second = _diversities(embeddings, embeddings[selected], 2)
        return {"diversity": nearest, "diversity_second_nearest": second}


class Representativeness:
    """Per-iteration representativeness (inverse mean K-NN density) of the selected batch."""

    request: InferenceRequest = InferenceRequest(frozenset({Need.EMBEDDINGS}))

    def __init__(self, k: int = 10) -> None:
        self.k = k

    def __call__(self, outputs: PoolOutputs, selected: np.ndarray) -> dict[str, float]:
        embeddings = outputs.require("embeddings")
        return {"representativeness": representativeness(embeddings, selected, self.k)}
