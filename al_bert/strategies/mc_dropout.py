"""Monte Carlo Dropout (Gal & Ghahramani 2016; Gal, Islam & Ghahramani 2017), as in Ein-Dor et al.
(2020) §3.3: dropout stays active in the whole fine-tuned model for ``mc_passes`` = 10 stochastic
inference passes, and the acquisition is the max-entropy rule on the mean prediction.

With ``p̄(x) = (1/T) Σ_t p_t(x)`` the mean positive probability over the T passes:

* ``acquisition="entropy"`` (paper 1): ``H[p̄(x)]`` (predictive entropy);
* ``acquisition="bald"`` (Houlsby et al. 2011): ``H[p̄(x)] − (1/T) Σ_t H[p_t(x)]``, the mutual
  information between the label and the model parameters.

Entropies are in bits. Weighted: top-k of ``w · score`` (Fairstein et al., Algorithm 2). For C > 2
classes the same two scores over the class-probability vectors (``mc_probs`` of shape (T, n, C)).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from al_bert.outputs import InferenceRequest, Need, PoolOutputs, mc_class_probs
from al_bert.strategies.base import ScoreStrategy
from al_bert.strategies.least_confidence import binary_entropy
from al_bert.strategies.uncertainty import bald, entropy
from al_bert.validation import choice, whole_number


class MCDropout(ScoreStrategy):
    """Ein-Dor et al. (2020) §3.3 "Dropout": max-entropy over T MC-dropout passes (or BALD)."""

    name: ClassVar[str] = "mc_dropout"

    def __init__(
        self, mc_passes: int = 10, acquisition: Literal["entropy", "bald"] = "entropy"
    ) -> None:
        self.mc_passes = whole_number("strategy.mc_passes", mc_passes, low=1)
        """T, the number of stochastic passes the learner runs to fill ``PoolOutputs.mc_probs``."""
        self.request = InferenceRequest(frozenset({Need.MC_PROBS}), mc_passes=self.mc_passes)
        self.acquisition: Literal["entropy", "bald"] = choice(
            "strategy.acquisition", acquisition, ("entropy", "bald")
        )

    def score(self, outputs: PoolOutputs, rng: np.random.Generator) -> np.ndarray:
        mc = np.asarray(outputs.require("mc_probs"), dtype=np.float64)
        if mc.ndim == 3 and mc.shape[1] == len(outputs):
            samples = mc_class_probs(mc)  # [n, C, T]
            if self.acquisition == "bald":
                return bald(samples) / np.log(2.0)
            return entropy(samples.mean(axis=2)) / np.log(2.0)
        if mc.ndim != 2 or mc.shape[1] != len(outputs):
            raise ValueError(f"mc_probs must have shape (T, {len(outputs)}), got {mc.shape}")
        predictive = binary_entropy(mc.mean(axis=0))
        if self.acquisition == "entropy":
            return predictive
        expected = binary_entropy(mc).mean(axis=0)
        return np.maximum(predictive - expected, 0.0)
