"""PosProb weighting: w(x) = M(x), the model's positive probability (Fairstein et al., §5.3).

The paper's strawman: it promotes likely positives but, unlike InvProp, does not adapt to the
imbalance ratio. An example with M(x) = 0 gets weight 0 and is therefore never selected.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.weighting.base import Weighting


def positive_probs(outputs: PoolOutputs) -> np.ndarray:
    """P(y = 1 | x) over the pool as float64, validated and clipped to [0, 1].

    Clipping only removes floating-point overshoot (e.g. 1 + 1e-7 from a float32 softmax); NaN or
    infinite probabilities are an upstream bug and raise.
    """
    probs = np.asarray(outputs.require("probs"), dtype=np.float64).reshape(-1)
    if probs.shape[0] != len(outputs):
        raise ValueError(f"probs has {probs.shape[0]} rows but the pool has {len(outputs)}")
    if not np.all(np.isfinite(probs)):
        raise ValueError("probs must be finite")
    return np.clip(probs, 0.0, 1.0)


class PosProb(Weighting):
    """w(x) = M(x) (Fairstein et al., §5.3 "PosProb")."""

    name: ClassVar[str] = "posprob"
    request: InferenceRequest = InferenceRequest(frozenset({Need.PROBS}))

    def __call__(self, outputs: PoolOutputs) -> np.ndarray:
        return positive_probs(outputs)
