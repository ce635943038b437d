"""The one interface every query strategy implements (small-text style: one small module per strategy).

A strategy never runs the encoder and never sees pool labels: it reads what the loop computed once into
:class:`~al_bert.outputs.PoolOutputs` (declared in its ``request``) and the per-example weights that the
weighting group produced, and returns the rows of the pool to label.

Two families (Fairstein et al., §4.1):

* :class:`ScoreStrategy` — a score ``s(x)`` per example; the batch is the top-k of ``w(x) · s(x)``
  (Algorithm 2).
* embedding-based strategies — override :meth:`Strategy.select` and pass ``weights`` to the weighted
  clustering / covering routine of :mod:`al_bert.index` (Algorithm 3).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from al_bert.errors import ConfigError
from al_bert.index import BACKENDS, resolve_backend
from al_bert.outputs import InferenceRequest, PoolOutputs
from al_bert.validation import choice


class Strategy(ABC):
    """Select ``k`` rows of the pool from model outputs and per-example weights."""

    name: ClassVar[str] = "strategy"
    request: InferenceRequest = InferenceRequest()

    @abstractmethod
    def select(
        self, outputs: PoolOutputs, weights: np.ndarray, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Return ``k`` distinct row indices into ``outputs`` (0 … len(outputs) − 1)."""


class ScoreStrategy(Strategy):
    """Score-based selection: top-k of ``w · s`` (Fairstein et al., Algorithm 2)."""

    @abstractmethod
    def score(self, outputs: PoolOutputs, rng: np.random.Generator) -> np.ndarray:
        """Informativeness per pool row; higher is selected first."""

    def select(
        self, outputs: PoolOutputs, weights: np.ndarray, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        scores = np.asarray(self.score(outputs, rng), dtype=np.float64)
        return top_k_weighted(scores, weights, k, rng)


def index_backend(value: object) -> str:
    """``strategy.backend``: ``auto`` or one of :data:`al_bert.index.BACKENDS`, usable on this machine
    (checked when the strategy is built, before any data is read)."""
    backend = choice("strategy.backend", value, ("auto", *BACKENDS))
    try:
        resolve_backend(backend)
    except RuntimeError as error:
        raise ConfigError(
            f"strategy.backend={backend}: {error}; use strategy.backend=auto"
        ) from None
    return backend


def check_selectable(weights: np.ndarray, k: int) -> np.ndarray:
    """Validate a weight vector for selecting ``k`` rows; examples of weight 0 are never selectable."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 1:
        raise ValueError(f"weights must be one value per pool row, got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("weights must be finite and non-negative")
    selectable = int(np.count_nonzero(weights > 0))
    if k > selectable:
        raise ValueError(
            f"cannot select {k} examples: only {selectable} pool examples have a positive weight "
            f"(pool size {weights.size}); lower al.batch_size or use weighting=uniform"
        )
    return weights


def top_k_weighted(
    scores: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Top-k rows of ``weights · scores``; ties are broken uniformly at random with ``rng``.

    Rows of zero weight are excluded even when their score would rank them (a zero weight means
    "never select").
    """
    weights = check_selectable(weights, k)
    weighted = weights * scores
    weighted = np.where(weights > 0, weighted, -np.inf)
    tie_break = rng.permutation(weighted.size)
    order = tie_break[np.argsort(-weighted[tie_break], kind="stable")]
    return np.sort(order[:k])


def sample_weighted(weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``k`` rows without replacement with probability proportional to ``weights``."""
    weights = check_selectable(weights, k)
    chosen = rng.choice(weights.size, size=k, replace=False, p=weights / weights.sum())
    return np.sort(chosen)
