"""Class-balancing weights w(x) over the pool (Fairstein et al., §4 and §5.3).

The loop computes the weights once per iteration and hands the same vector to every strategy, so the
weighting is applied in exactly one place (:func:`al_bert.strategies.base.top_k_weighted`,
:func:`~al_bert.strategies.base.sample_weighted`, or the weighted clustering of :mod:`al_bert.index`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from al_bert.outputs import InferenceRequest, PoolOutputs


class Weighting(ABC):
    """Map pool outputs to one non-negative weight per pool row."""

    name: ClassVar[str] = "weighting"
    request: InferenceRequest = InferenceRequest()

    @abstractmethod
    def __call__(self, outputs: PoolOutputs) -> np.ndarray:
        """Weights, shape (len(outputs),), finite and ≥ 0."""


class Uniform(Weighting):
    """w(x) = 1: every strategy behaves as originally published."""

    name: ClassVar[str] = "uniform"

    def __call__(self, outputs: PoolOutputs) -> np.ndarray:
        return np.ones(len(outputs), dtype=np.float64)
