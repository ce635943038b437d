"""ALPS: Active Learning by Processing Surprisal (Yuan, Lin & Boyd-Graber, EMNLP 2020).

The pool is embedded by surprisal embeddings from the *pretrained* masked-LM head
(:func:`al_bert.model.surprisal.surprisal_embeddings`, computed once per pool and cached by the
loop); ALPS clusters them with k-means into k clusters and labels the pool example nearest each
centre. Fairstein et al.'s weighted version (Algorithm 3) runs weighted k-means (each point's pull
on its centroid ∝ w) and picks, per centre, the nearest example of positive weight; both steps come
from :mod:`al_bert.index`. Rows of weight 0 are removed before clustering, so they are never
selected.

The surprisal matrix may be dense (``layout="position"``, Yuan et al.) or a ``scipy.sparse`` matrix
(``layout="vocab"``). A sparse one is reduced to its columns that are non-zero somewhere among the
selectable rows and densified: dropping all-zero columns leaves every Euclidean distance unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from al_bert.index import nearest_to_centers, weighted_kmeans
from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.strategies.base import Strategy, check_selectable, index_backend
from al_bert.validation import whole_number


def surprisal_points(surprisal: Any, rows: np.ndarray) -> np.ndarray:
    """Dense float32 surprisal embeddings of ``rows``, dropping all-zero columns of sparse input."""
    if sp.issparse(surprisal):
        sub = sp.csr_matrix(surprisal)[rows]
        used = np.unique(sub.indices)
        if used.size == 0:
            return np.zeros((rows.size, 1), dtype=np.float32)
        return np.asarray(sub[:, used].toarray(), dtype=np.float32)
    return np.ascontiguousarray(np.asarray(surprisal)[rows], dtype=np.float32)


class AlpsStrategy(Strategy):
    """ALPS: weighted k-means, then the nearest pool example per centre (Fairstein et al., Alg. 3).

    Args:
        n_iter: at most this many Lloyd iterations per k-means run (scikit-learn's ``max_iter``, 300).
        n_init: k-means runs from independent k-means++ starts, the lowest weighted inertia kept
            (Yuan et al.'s code calls scikit-learn's ``KMeans`` with its defaults: 10 at the time).
        backend: :mod:`al_bert.index` backend (``auto``, ``faiss-gpu``, ``faiss-cpu``, ``torch``).
    """

    name: ClassVar[str] = "alps"
    request: InferenceRequest = InferenceRequest(frozenset({Need.SURPRISAL}))

    def __init__(self, n_iter: int = 300, n_init: int = 10, backend: str = "auto") -> None:
        self.n_iter = whole_number("strategy.n_iter", n_iter, low=1)
        self.n_init = whole_number("strategy.n_init", n_init, low=1)
        self.backend = index_backend(backend)

    def select(
        self, outputs: PoolOutputs, weights: np.ndarray, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        weights = check_selectable(weights, k)
        surprisal = outputs.surprisal
        if surprisal is None:
            surprisal = outputs.require("surprisal")  # raises the standard "declare it" message
        if surprisal.shape[0] != weights.shape[0]:
            raise ValueError(
                f"surprisal has {surprisal.shape[0]} rows but there are {weights.shape[0]} weights"
            )
        rows = np.flatnonzero(weights > 0)
        points = surprisal_points(surprisal, rows)
        w = weights[rows]
        centers, _ = weighted_kmeans(
            points, k, rng, weights=w, n_iter=self.n_iter, n_init=self.n_init, backend=self.backend
        )
        chosen = nearest_to_centers(points, centers, weights=w, backend=self.backend)
        return np.sort(rows[np.asarray(chosen, dtype=np.int64)])
