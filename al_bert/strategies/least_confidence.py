"""Least Confidence (Lewis & Gale 1994) with the max-entropy decision rule (Ein-Dor et al. 2020, §3.3).

For a binary classifier the entropy ``H(p) = −p log₂ p − (1 − p) log₂(1 − p)`` of the predicted
positive probability ``p`` is maximal at ``p = 0.5`` and decreases monotonically with ``|p − 0.5|``,
so unweighted selection takes the examples closest to 0.5. Weighted (Fairstein et al., Algorithm 2):
top-k of ``w(x) · H(p(x))``.

For C > 2 classes least confidence is its textbook form (Settles 2009, §3.1): ``1 − max_c p_c(x)``, the
probability that the predicted class is wrong (entropy is the separate ``strategy=entropy``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import entr

from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.strategies.base import ScoreStrategy


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in bits of Bernoulli(p), elementwise; exactly 0 at p ∈ {0, 1}, 1 at p = 0.5."""
    q = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    return np.asarray((entr(q) + entr(1.0 - q)) / np.log(2.0))


class LeastConfidence(ScoreStrategy):
    """Ein-Dor et al. (2020) §3.3 "LC": the most uncertain examples under the max-entropy rule."""

    name: ClassVar[str] = "least_confidence"
    request: InferenceRequest = InferenceRequest(frozenset({Need.PROBS}))

    def score(self, outputs: PoolOutputs, rng: np.random.Generator) -> np.ndarray:
        probs = outputs.require("probs")
        if probs.ndim == 2:
            return 1.0 - np.asarray(probs, dtype=np.float64).max(axis=1)
        return binary_entropy(probs)
