"""BALD, Bayesian active learning by disagreement (Houlsby et al. 2011), with MC dropout as the
approximate posterior (Gal, Islam & Ghahramani 2017): the mutual information between an example's label
and the model weights, ``H[p̄] − (1/T) Σ_t H[p_t]`` over T dropout passes (``[n, C, T]``). It reads the
MC-dropout passes the learner computes once per iteration (shared with ``mc_dropout`` and ``batchbald``),
no extra pool pass. Weighted: top-k of ``w · BALD`` (Fairstein et al., Algorithm 2).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from al_bert.outputs import InferenceRequest, Need, PoolOutputs, mc_class_probs
from al_bert.strategies.base import ScoreStrategy
from al_bert.strategies.uncertainty import bald
from al_bert.validation import whole_number


class BALD(ScoreStrategy):
    """Top-k mutual information between label and weights, each example on its own."""

    name: ClassVar[str] = "bald"

    def __init__(self, mc_passes: int = 10) -> None:
        self.mc_passes = whole_number("strategy.mc_passes", mc_passes, low=2)
        self.request = InferenceRequest(frozenset({Need.MC_PROBS}), mc_passes=self.mc_passes)

    def score(self, outputs: PoolOutputs, rng: np.random.Generator) -> np.ndarray:
        mc = mc_class_probs(outputs.require("mc_probs"))
        if mc.shape[0] != len(outputs):
            raise ValueError(f"MC probabilities cover {mc.shape[0]} rows, the pool {len(outputs)}")
        return bald(mc)
