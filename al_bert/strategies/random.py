"""Random sampling: k rows without replacement, with probability proportional to the weights.

With ``weighting=uniform`` this is the papers' Random baseline; with ``weighting=invprop`` it is
Fairstein et al.'s InvProp sampling (§4).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from al_bert.outputs import InferenceRequest, PoolOutputs
from al_bert.strategies.base import Strategy, sample_weighted


class RandomStrategy(Strategy):
    name: ClassVar[str] = "random"
    request: InferenceRequest = InferenceRequest()

    def select(
        self, outputs: PoolOutputs, weights: np.ndarray, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        return sample_weighted(weights, k, rng)
