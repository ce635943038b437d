"""Margin sampling, "breaking ties" (Scheffer, Decomain & Wrobel 2001; Luo et al. 2005): the examples
whose two most probable classes are closest, score ``1 − (p_(1) − p_(2))``. For two classes it ranks as
least confidence. Weighted: top-k of ``w · score`` (Fairstein et al., Algorithm 2).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from al_bert.outputs import InferenceRequest, Need, PoolOutputs, class_probs
from al_bert.strategies.base import ScoreStrategy
from al_bert.strategies.uncertainty import margin


class Margin(ScoreStrategy):
    """Smallest margin between the two most probable classes first."""

    name: ClassVar[str] = "margin"
    request = InferenceRequest(frozenset({Need.PROBS}))

    def score(self, outputs: PoolOutputs, rng: np.random.Generator) -> np.ndarray:
        return 1.0 - margin(class_probs(outputs.require("probs")))
