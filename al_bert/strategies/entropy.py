"""Entropy sampling (Settles 2009, §3.1; Lewis & Gale 1994): the examples whose predicted class
distribution has the highest Shannon entropy −Σ_c p_c log p_c. For two classes it ranks as least
confidence. Weighted: top-k of ``w · H`` (Fairstein et al., Algorithm 2).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from al_bert.outputs import InferenceRequest, Need, PoolOutputs, class_probs
from al_bert.strategies.base import ScoreStrategy
from al_bert.strategies.uncertainty import entropy


class Entropy(ScoreStrategy):
    """Max-entropy of the predicted class distribution, any number of classes."""

    name: ClassVar[str] = "entropy"
    request = InferenceRequest(frozenset({Need.PROBS}))

    def score(self, outputs: PoolOutputs, rng: np.random.Generator) -> np.ndarray:
        return entropy(class_probs(outputs.require("probs")))
