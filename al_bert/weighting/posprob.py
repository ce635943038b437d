"""PosProb weighting: w(x) = M(x), the model's positive probability (Fairstein et al., §5.3).

The paper's strawman: it promotes likely positives but, unlike InvProp, does not adapt to the
imbalance ratio. An example with M(x) = 0 gets weight 0 and is therefore never selected.

C > 2 classes (al-bert's extension; docs/reproducibility.md): the papers' positive class is the rare one,
so the weight is the probability of the class the model believes rarest in the pool,
``w(x) = p_r(x)`` with ``r = argmin_c Σ_{x∈U} p_c(x)`` (the first on a tie). For C = 2 this is the paper's
M(x) whenever the model predicts fewer positives than negatives; binary tasks keep M(x) exactly.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.weighting.base import Weighting


def positive_probs(outputs: PoolOutputs) -> np.ndarray:
    """P(y = 1 | x) over the pool as float64 (binary), or the (n, C) class probabilities, validated
    and clipped to [0, 1].

    Clipping only removes floating-point overshoot (e.g. 1 + 1e-7 from a float32 softmax); NaN or
    infinite probabilities are an upstream bug and raise.
    """
    probs = np.asarray(outputs.require("probs"), dtype=np.float64)
    probs = probs if probs.ndim == 2 else probs.reshape(-1)
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
        probs = positive_probs(outputs)
        if probs.ndim == 2:
            return probs[:, rarest_predicted_class(probs)]
        return probs


def rarest_predicted_class(probs: np.ndarray) -> int:
    """The class of least expected count ``Σ_x p_c(x)`` over the pool (the multi-class "positive")."""
    return int(np.argmin(probs.sum(axis=0)))
