"""InvProp weighting: inverse propensity of the model's positive probability (Fairstein et al., §4).

The interval [0, 1] is cut into ``m`` equal-width bins ``[0, 1/m), [1/m, 2/m), …, [(m−1)/m, 1]``
and every pool example ``x`` whose score M(x) falls in bin ``i`` gets a weight proportional to ``1
/ b_i``, where ``b_i`` is the number of pool examples in that bin. Sampling with probability ∝ w
therefore draws every non-empty bin equally often, i.e. M(x) of the sample is (approximately)
uniform on [0, 1].

Choices (also in ``docs/reproducibility.md``):

* **Bin edges** are the float64 values ``j / m`` (``j = 0 … m``). Bins are closed on the left and
  open on the right, except the last one, which is closed: ``[(m−1)/m, 1]``; M(x) = 1 falls in bin
  m−1.
* **Score exactly on an edge**: a value equal to the float64 ``j / m`` goes to bin ``j`` (the bin
  it opens). Scores are compared in float64 after casting, so a float32 score near an edge lands on
  whichever side its float32 value lies (float32(0.7) < 0.7 goes to bin 6 for m = 10).
* **Clipping**: scores are clipped to [0, 1] first (this only removes floating-point overshoot of a
  softmax); NaN/inf raise.
* **Empty bins** hold no example and so contribute no weight; the weight is normalised over the
  non-empty bins only (``w(x) = 1 / (b_i · #non-empty bins)``), so the weights sum to 1 and are the
  sampling probabilities of §4. The overall scale is irrelevant to every consumer (top-k of w·s,
  sampling ∝ w, weighted clustering), so this only makes the numbers interpretable.
* Every pool example gets a positive weight (its own bin is non-empty), so InvProp never excludes
  one.

C > 2 classes (al-bert's extension; docs/reproducibility.md): a cell is (predicted class ĉ = argmax p,
bin of p_ĉ among the same ``m`` equal-width bins of [0, 1]), and ``w(x) = 1 / (b_cell · #non-empty
cells)``: sampling ∝ w draws every predicted class, and every confidence level within it, equally often.
For C = 2 the cells of ĉ = 1 are the bins of M(x) above 0.5 and those of ĉ = 0 the bins below it (p₀ = 1 −
M(x)), so the rule is the binary one up to how a bin straddling 0.5 is split; binary tasks keep the
binary rule exactly.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.validation import whole_number
from al_bert.weighting.base import Weighting
from al_bert.weighting.posprob import positive_probs


def bin_edges(bins: int) -> np.ndarray:
    """The ``bins + 1`` equal-width edges ``j / bins`` of [0, 1] (float64)."""
    return np.arange(bins + 1, dtype=np.float64) / bins


def assign_bins(scores: np.ndarray, bins: int) -> np.ndarray:
    """Bin index in ``0 … bins − 1`` of each score in [0, 1] (left-closed bins, last bin closed)."""
    scores = np.asarray(scores, dtype=np.float64)
    # side="right": a score equal to edge j/m is counted in bin j, the bin that edge opens.
    index = np.searchsorted(bin_edges(bins), scores, side="right") - 1
    # Only scores equal to 1.0 land on index `bins`; the last bin is closed on the right.
    return np.clip(index, 0, bins - 1)


def invprop_weights(scores: np.ndarray, bins: int = 10) -> np.ndarray:
    """InvProp weights ``w(x) = 1 / (b_{bin(x)} · #non-empty bins)`` for scores in [0, 1] (§4)."""
    check_bins(bins)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    return inverse_cell_frequency(assign_bins(np.clip(scores, 0.0, 1.0), bins))


def check_bins(bins: int) -> None:
    if bins < 1:
        raise ValueError(f"InvProp needs at least one bin, got bins={bins}")


def inverse_cell_frequency(cells: np.ndarray) -> np.ndarray:
    """``w(x) = 1 / (b_{cell(x)} · #non-empty cells)`` for integer cell labels: every non-empty cell
    carries the same total weight, and the weights sum to 1 (empty input: no weights)."""
    _, index, counts = np.unique(cells, return_inverse=True, return_counts=True)
    return 1.0 / (counts[index].astype(np.float64) * counts.size)


def predicted_class_invprop_weights(probs: np.ndarray, bins: int = 10) -> np.ndarray:
    """Multi-class InvProp: inverse frequency of each (predicted class, confidence bin) cell of (n, C)
    class probabilities, normalised over the non-empty cells (the weights sum to 1)."""
    check_bins(bins)
    probs = np.asarray(probs, dtype=np.float64)
    predicted = probs.argmax(axis=1) if probs.shape[0] else np.zeros(0, dtype=np.int64)
    confidence = np.clip(probs[np.arange(probs.shape[0]), predicted], 0.0, 1.0)
    return inverse_cell_frequency(predicted * bins + assign_bins(confidence, bins))


class InvProp(Weighting):
    """Inverse-propensity weights over ``bins`` equal-width bins of M(x) (Fairstein et al., §4)."""

    name: ClassVar[str] = "invprop"
    request: InferenceRequest = InferenceRequest(frozenset({Need.PROBS}))

    def __init__(self, bins: int = 10) -> None:
        self.bins = whole_number("weighting.bins", bins, low=1)

    def __call__(self, outputs: PoolOutputs) -> np.ndarray:
        probs = positive_probs(outputs)
        if probs.ndim == 2:
            return predicted_class_invprop_weights(probs, self.bins)
        return invprop_weights(probs, self.bins)

    def __repr__(self) -> str:
        return f"InvProp(bins={self.bins})"
